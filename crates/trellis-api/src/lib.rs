//! The REST API (`/api/v1`, API.md) and its OpenAPI 3.1 document, generated from the handlers.
//!
//! Handlers are thin: they parse input into domain values, call the same domain services the
//! portal calls, and map results to views. Authentication happens once per request in
//! [`middleware::authenticate`]; authorization and visibility live in the services.

pub mod extract;
pub mod handlers;
pub mod middleware;
pub mod narrow;
pub mod scim;
pub mod sso_logout;
pub mod views;

use axum::Router;
use trellis_web::AppState;
use trellis_web::problem::{Problem, ProblemField};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// The system grants this crate declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&trellis_db::SystemGrant] = &[&middleware::IDEMPOTENCY_STORE];

#[derive(OpenApi)]
#[openapi(
    info(title = "Trellis API", version = "1", description = "Partner relationship management: partners, staff, keys, audit. Authenticate with `Authorization: Bearer <API key or sign-in token>`."),
    components(schemas(Problem, ProblemField)),
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

/// The API router (without state) and the OpenAPI document of its routes, as served at
/// `/api/openapi.json`: generated from the handlers, then its input narrowed to what the server
/// accepts ([`narrow`]).
pub fn router() -> (Router<AppState>, serde_json::Value) {
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(handlers::routes()).split_for_parts();
    api.openapi = utoipa::openapi::OpenApiVersion::Version31;
    describe_responses(&mut api);
    let mut document = serde_json::to_value(&api).expect("the OpenAPI document serialises");
    narrow::narrow(&mut document);
    declare_download_types(&mut document);
    (router, document)
}

/// OpenAPI requires a `description` on every response; the routes declare only status and body,
/// so the status's reason phrase stands in where none was written. The answers every operation
/// may give, whatever its handler (the edges check them before it runs: a malformed or oversized
/// body, a bad credential, a control character in the path, query or headers), are added to each.
fn describe_responses(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content("application/problem+json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
                .build(),
        )
    };
    for item in api.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            responses.entry("401".to_owned()).or_insert_with(|| problem("A credential was sent and is not valid (`unauthorized`)"));
            responses.entry("422".to_owned()).or_insert_with(|| {
                problem("Invalid input, e.g. a control character in the path, the query or a header (`validation_failed`)")
            });
            responses.entry("400".to_owned()).or_insert_with(|| problem("The request could not be read (`malformed_request`)"));
            if operation.request_body.is_some() {
                responses.entry("413".to_owned()).or_insert_with(|| problem("The body is over the limit (`payload_too_large`)"));
            }
        }
    }
    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in &mut operation.responses.responses {
                if let utoipa::openapi::RefOr::T(response) = response {
                    declare_problems_as_problem_json(response);
                }
                if let utoipa::openapi::RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    let reason = status
                        .parse::<u16>()
                        .ok()
                        .and_then(|code| axum::http::StatusCode::from_u16(code).ok())
                        .and_then(|code| code.canonical_reason());
                    response.description = reason.unwrap_or("Response").to_owned();
                }
            }
        }
    }
}

/// A download answers with the type the server read from the file's bytes when it was uploaded
/// (`trellis_records::files`: PDF, PNG or JPEG), so those are the types the document declares.
fn declare_download_types(document: &mut serde_json::Value) {
    let types = ["application/pdf", "image/png", "image/jpeg"];
    if let Some(content) = document.pointer_mut("/paths/~1api~1v1~1files~1{id}/get/responses/200/content").and_then(|c| c.as_object_mut()) {
        content.clear();
        for content_type in types {
            content.insert(content_type.to_owned(), serde_json::json!({}));
        }
    }
}

/// A route's `body = Problem` comes out as `application/json`; the API answers every problem as
/// `application/problem+json` (RFC 9457), so that is what the document declares (a client
/// generated from it, and schemathesis's content-type check, then expect what they receive).
fn declare_problems_as_problem_json(response: &mut utoipa::openapi::Response) {
    use utoipa::openapi::RefOr;
    let is_problem = |content: &RefOr<utoipa::openapi::Content>| matches!(content, RefOr::T(c) if matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem")));
    if response.content.get("application/json").is_some_and(is_problem)
        && let Some(content) = response.content.shift_remove("application/json")
    {
        response.content.insert("application/problem+json".to_owned(), content);
    }
}
