//! OpenID Connect Back-Channel Logout 1.0: a provider posts a signed logout token
//! (`application/x-www-form-urlencoded`, field `logout_token`) and every session begun through
//! that connection for the person (or the provider's session, `sid`) ends at once. The token is
//! the credential; the answer is 200, or 400 with `{"error": "invalid_request"}` (§2.8).

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;
use trellis_core::Error;
use trellis_identity::sso;
use trellis_web::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/sso/{connection_id}/backchannel-logout", post(backchannel_logout))
}

#[derive(Deserialize)]
struct LogoutForm {
    logout_token: String,
}

async fn backchannel_logout(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return refused("a form with logout_token is expected") };
    match sso::back_channel_logout(&state.ctx, &connection_id, &form.logout_token).await {
        Ok(_) => no_store(StatusCode::OK, String::new()),
        Err(Error::NotFound | Error::Unauthorized) => refused("the logout token was not accepted"),
        Err(err) => {
            tracing::error!(%err, "back-channel logout failed");
            no_store(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "server_error"}).to_string())
        }
    }
}

fn refused(description: &str) -> Response {
    no_store(StatusCode::BAD_REQUEST, json!({"error": "invalid_request", "error_description": description}).to_string())
}

fn no_store(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status != StatusCode::OK {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}
