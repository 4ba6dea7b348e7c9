//! The `trellis` binary's library: configuration, wiring the API and portal into one router with
//! the headers every response carries, and the operator commands. Tests spawn [`build_router`] on
//! a real port through `trellis-testkit`.

pub mod config;
pub mod demo;
mod demo_deals;
mod demo_leads;
mod demo_money;
mod demo_programs;
mod demo_tracking;
pub mod extensions;
pub mod jobs;
mod redirect;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use trellis_core::Clock;
use trellis_db::{Db, DbConfig};
use trellis_identity::Ctx;
use trellis_incentives::secret_box::SecretKey;
use trellis_web::{AppState, WebConfig};

/// The system grants the binary declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&trellis_db::SystemGrant] = &[&demo::DEMO_SEEDING];

/// Connects to the database, applies migrations and returns the shared state; `secret_key` is
/// the key payout methods are sealed with, when one is configured (ADR 0018).
pub async fn connect(database_url: &str, web: WebConfig, clock: Arc<dyn Clock>, secret_key: Option<SecretKey>) -> anyhow::Result<AppState> {
    let db = Db::connect(&DbConfig::new(database_url)).await?;
    db.migrate().await?;
    let redirects = trellis_tracking::redirects::Redirects::start(&db, clock.now()).await?;
    let ctx = extensions::install(Ctx::new(db, clock).with_public_url(&web.public_url).with_extension(redirects), secret_key);
    Ok(AppState { ctx, web: Arc::new(web) })
}

/// Refuses to serve when payout methods or authenticator seeds are stored and the configured key
/// cannot open them (or none is configured): every payout, or those people's sign-in, would fail
/// later, far from the cause.
pub async fn check_secret_key(ctx: &Ctx) -> anyhow::Result<()> {
    trellis_incentives::payout_methods::check_key(ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    trellis_identity::totp::check_key(ctx).await.map_err(|e| anyhow::anyhow!("{e}"))
}

/// Starts what a serving process keeps in memory beside the database following other servers'
/// writes: the deal conflict index (`trellis_deals::conflicts::follow`) and the referral link
/// table (`trellis_tracking::redirects::follow`).
pub fn start_indexes(ctx: &Ctx) {
    tokio::spawn(trellis_deals::conflicts::follow(ctx.clone()));
    tokio::spawn(trellis_tracking::redirects::follow(ctx.clone()));
}

/// Writes the clicks still queued (a graceful shutdown's last step: no answered redirect loses
/// its click).
pub async fn flush_clicks(ctx: &Ctx) {
    if let Ok(redirects) = trellis_tracking::redirects::Redirects::of(ctx) {
        redirects.recorder().flush().await;
        let figures = redirects.recorder().figures();
        tracing::info!(
            written = figures.written.load(std::sync::atomic::Ordering::Relaxed),
            dropped = figures.dropped.load(std::sync::atomic::Ordering::Relaxed),
            "clicks flushed"
        );
    }
}

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> Response {
    if state.ctx.db().ping().await {
        (StatusCode::OK, axum::Json(serde_json::json!({"status": "ok"}))).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "database unreachable"}))).into_response()
    }
}

/// Unknown paths: a problem document under `/api/`, an HTML page elsewhere.
async fn fallback(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        trellis_web::problem::ApiError::not_found().into_response()
    } else {
        trellis_portal::not_found().await
    }
}

/// The Content-Security-Policy of our pages: no inline scripts, nothing from elsewhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// Swagger UI sets inline style attributes; its scripts still come only from us.
const CSP_API_DOCS: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Security headers on every response (API.md "Pages").
async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let docs = req.uri().path().starts_with("/api/docs");
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(if docs { CSP_API_DOCS } else { CSP }));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if state.web.secure_cookies() {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    response
}

/// Refuses control characters in the request line (path segments, query parameters) and in the
/// headers the server reads, before any handler or database call (issue 6, F3): 422 naming the
/// field, a problem document under `/api/`, a page elsewhere. Bodies are checked by the
/// extractors that read them (`ApiJson`, the page forms, uploads).
async fn refuse_control_characters(req: Request, next: Next) -> Response {
    let refused = trellis_web::input::check_head(req.uri(), req.headers());
    if refused.is_empty() {
        next.run(req).await
    } else if req.uri().path().starts_with("/api/") {
        trellis_web::problem::ApiError::validation(refused).into_response()
    } else {
        trellis_portal::pages::error_page(trellis_core::Error::Validation(refused))
    }
}

/// Every 413 says why in our own shape (issue 6, F6): the body-limit layer answers plain text, so
/// its answer becomes a problem document (`payload_too_large`) — or a page for a browser outside
/// `/api/`. Answers that are already ours pass unchanged.
async fn payload_too_large(req: Request, next: Next) -> Response {
    let html = !req.uri().path().starts_with("/api/") && trellis_portal::pages::wants_html(req.headers());
    let response = next.run(req).await;
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return response;
    }
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("application/problem+json") || content_type.starts_with("text/html") {
        return response;
    }
    trellis_portal::pages::payload_too_large(html)
}

/// Swagger UI's own `index.html` has no viewport, so a phone renders `/api/docs` at desktop width
/// and shrinks it unreadably (issue 8): its index answer gains one, and Trellis's title.
async fn api_docs_for_phones(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let index = path == "/api/docs/" || path == "/api/docs/index.html";
    let response = next.run(req).await;
    let html = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    if !index || !html || response.headers().contains_key(header::CONTENT_ENCODING) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, trellis_web::limits::MAX_BODY_BYTES).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let page = String::from_utf8_lossy(&bytes)
        .replacen("<head>", "<head>\n    <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">", 1)
        .replacen("<title>Swagger UI</title>", "<title>Trellis API</title>", 1);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(page))
}

/// The whole application: API, OpenAPI document and docs, portal pages, health.
pub fn build_router(state: AppState) -> Router {
    let (api, openapi) = trellis_api::router();
    let api = api
        .layer(middleware::from_fn_with_state(state.clone(), trellis_api::middleware::idempotency))
        .layer(middleware::from_fn_with_state(state.clone(), trellis_api::middleware::authenticate));
    Router::new()
        .merge(api)
        .merge(
            Router::new()
                .merge(utoipa_swagger_ui::SwaggerUi::new("/api/docs").external_url_unchecked("/api/openapi.json", openapi))
                .layer(middleware::from_fn(api_docs_for_phones)),
        )
        .merge(trellis_api::scim::router(state.clone()))
        .merge(trellis_api::sso_logout::router())
        .merge(trellis_portal::router(state.clone()))
        .route("/healthz", get(healthz))
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(state.clone(), trellis_web::meta::record_request_meta))
        .layer(middleware::from_fn(refuse_control_characters))
        // Uploads raise their routes' limit up to the hard cap below; everything else stays small.
        .layer(axum::extract::DefaultBodyLimit::max(trellis_web::limits::MAX_BODY_BYTES))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(trellis_web::limits::MAX_UPLOAD_BODY_BYTES))
        .layer(middleware::from_fn(payload_too_large))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state.clone())
        // The referral redirect stays outside the layers above (its module says why).
        .merge(Router::new().route("/r/{code}", get(redirect::redirect)).with_state(state))
}

/// Serves `router` on `listener` until Ctrl-C / SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> anyhow::Result<()> {
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
