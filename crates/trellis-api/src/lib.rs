//! The REST API (`/api/v1`, API.md) and its OpenAPI 3.1 document, generated from the handlers.
//!
//! Handlers are thin: they parse input into domain values, call the same domain services the
//! portal calls, and map results to views. Authentication happens once per request in
//! [`middleware::authenticate`]; authorization and visibility live in the services.

pub mod client_address;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod input;
pub mod middleware;
pub mod views;

use std::sync::Arc;

use axum::Router;
use trellis_identity::Ctx;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Settings of the web layer.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The address users reach Trellis at, e.g. `https://partners.example.com`; invitation links
    /// are built from it and `https` turns on `Secure` cookies with the `__Host-` prefix.
    pub public_url: String,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted reverse proxy).
    pub trust_forwarded_for: bool,
    /// With `trust_forwarded_for`, which entries of `X-Forwarded-For` were written by our own
    /// proxies (counted from the right; [`client_address`]).
    pub trusted_proxies: client_address::TrustedProxies,
    /// Where uploaded files are kept (`<data_dir>/files/<sha256>`). A web setting rather than part
    /// of `Ctx`: only requests that upload or download files touch it, and the domain functions
    /// that do take it as an argument.
    pub data_dir: std::path::PathBuf,
    /// How long a claim on an `Idempotency-Key` holds before a retry may take it over (the
    /// request that claimed it died); see `middleware::idempotency`.
    pub idempotency_lease_seconds: i64,
}

impl WebConfig {
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// Shared state of every handler (API and portal).
#[derive(Clone)]
pub struct AppState {
    pub ctx: Ctx,
    pub web: Arc<WebConfig>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Trellis API", version = "1", description = "Partner relationship management: partners, staff, keys, audit. Authenticate with `Authorization: Bearer <API key or sign-in token>`."),
    components(schemas(error::Problem, error::ProblemField)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        openapi.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

/// The API router (without state) and the OpenAPI document of its routes.
pub fn router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(handlers::routes()).split_for_parts();
    api.openapi = utoipa::openapi::OpenApiVersion::Version31;
    (router, api)
}
