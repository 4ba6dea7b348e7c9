//! "Sign in with a passkey" (issue 12, ADR 0027): the sign-in page's third button posts to
//! `POST /sign-in/passkey`, which begins a ceremony and answers a page whose form asks the
//! browser for a passkey of this site (`static/app.js`: `navigator.credentials.get()`), then
//! sends its answer to `POST /sign-in/passkey/finish`. No address is typed: the passkey names
//! the person.
//!
//! The start is protected like the sign-in form (its double-submit cookie). The ceremony's id
//! lives only in an HttpOnly cookie set at the start, so a page of another site cannot make a
//! browser finish a ceremony begun elsewhere (a sign-in into someone else's account).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use trellis_core::Error;
use trellis_identity::auth::{self, SessionKind};
use trellis_identity::passkeys;
use trellis_web::AppState;

use crate::forms::FormData;
use crate::pages::{Layout, after_sign_in, error_page, login_form, render, signed_in_response};
use crate::routes::{PageRouter, post};
use crate::session::{CSRF_COOKIE, DEVICE_COOKIE, MaybeSession, cookie_name, form_cookie_matches, read_cookie, set_cookie, with_cookie};

#[derive(Template)]
#[template(path = "passkey_sign_in.html")]
struct PasskeyPage {
    layout: Layout,
    /// WebAuthn's request options (JSON) for the browser.
    options: String,
    next: String,
}

/// The cookie holding the ceremony under way.
const CEREMONY_COOKIE: &str = "trellis_passkey";

const TOO_MANY: &str = "Too many attempts. Please wait a few minutes and try again.";

/// `POST /sign-in/passkey`: begins a sign-in with a passkey.
async fn start(State(state): State<AppState>, headers: HeaderMap, maybe: MaybeSession, form: FormData) -> Response {
    let next = after_sign_in(form.optional("next")).unwrap_or_default().to_owned();
    if !form_cookie_matches(&state, &headers, CSRF_COOKIE, form.csrf_token()) {
        return login_form(&state, String::new(), Some("The form expired. Please try again.".into()), next, StatusCode::FORBIDDEN).await;
    }
    match passkeys::start_sign_in(&state.ctx, &maybe.meta).await {
        Ok(started) => {
            let options = match serde_json::to_string(&started.options) {
                Ok(options) => options,
                Err(err) => return error_page(Error::Internal(err.to_string())),
            };
            let page = PasskeyPage { layout: Layout::new("Sign in with a passkey", None), options, next };
            let cookie = set_cookie(&state, CEREMONY_COOKIE, &started.ceremony_id, passkeys::CEREMONY_SECONDS);
            with_cookie(render(&page).into_response(), cookie)
        }
        Err(Error::RateLimited { .. }) => {
            login_form(&state, String::new(), Some(TOO_MANY.into()), next, StatusCode::TOO_MANY_REQUESTS).await
        }
        Err(Error::Conflict(message)) => login_form(&state, String::new(), Some(message), next, StatusCode::CONFLICT).await,
        Err(err) => error_page(err),
    }
}

/// `POST /sign-in/passkey/finish`: the browser's answer (`credential`, JSON). Signed in, the
/// person goes where the password sign-in would have sent them; refused, the sign-in page says
/// so (the same words whatever the reason).
async fn finish(State(state): State<AppState>, headers: HeaderMap, maybe: MaybeSession, form: FormData) -> Response {
    let next = after_sign_in(form.optional("next")).unwrap_or_default().to_owned();
    let ceremony = read_cookie(&headers, &cookie_name(&state, CEREMONY_COOKIE)).unwrap_or_default();
    let clear = set_cookie(&state, CEREMONY_COOKIE, "", 0);
    if ceremony.is_empty() {
        let error = "This passkey sign-in expired. Please try again.";
        return with_cookie(login_form(&state, String::new(), Some(error.into()), next, StatusCode::FORBIDDEN).await, clear);
    }
    let credential = serde_json::from_str::<serde_json::Value>(form.value("credential")).unwrap_or_default();
    let device = read_cookie(&headers, &cookie_name(&state, DEVICE_COOKIE));
    let finished = passkeys::finish_sign_in(&state.ctx, &ceremony, &credential, SessionKind::Browser, device.as_deref(), &maybe.meta).await;
    let response = match finished {
        Ok(signed_in) => {
            if let Some(old) = &maybe.token {
                let _ = auth::logout(&state.ctx, old).await;
            }
            signed_in_response(&state, &signed_in, &next).await
        }
        Err(Error::Unauthorized) => login_form(&state, String::new(), Some(passkeys::REFUSED.into()), next, StatusCode::UNAUTHORIZED).await,
        Err(Error::RateLimited { .. }) => {
            login_form(&state, String::new(), Some(TOO_MANY.into()), next, StatusCode::TOO_MANY_REQUESTS).await
        }
        Err(err) => error_page(err),
    };
    with_cookie(response, clear)
}

pub fn routes() -> PageRouter {
    PageRouter::new().route("/sign-in/passkey", post(start)).route("/sign-in/passkey/finish", post(finish))
}
