//! Browser sessions and CSRF protection for pages.
//!
//! The session cookie is `HttpOnly`, `SameSite=Lax`, and over TLS `Secure` with the `__Host-`
//! prefix (ASVS 3.3). Every state-changing form carries the session's CSRF token (synchronizer
//! pattern); the sign-in form, which has no session yet, uses a double-submit cookie. Requests a
//! browser marks `Sec-Fetch-Site: cross-site` are refused outright (ASVS 3.5.3).

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use trellis_api::AppState;
use trellis_identity::auth::{self, BrowserSession};
use trellis_identity::secret::same_secret;
use trellis_identity::{RequestMeta, Scope};

use crate::pages::error_page;

pub const SESSION_COOKIE: &str = "trellis_session";
pub const CSRF_COOKIE: &str = "trellis_csrf";

/// The cookie's name: `__Host-` prefixed when served over TLS.
pub fn cookie_name(state: &AppState, base: &str) -> String {
    if state.web.secure_cookies() { format!("__Host-{base}") } else { base.to_owned() }
}

/// A `Set-Cookie` value for `name=value` with our attributes; `max_age` 0 deletes it.
pub fn set_cookie(state: &AppState, base: &str, value: &str, max_age_seconds: i64) -> HeaderValue {
    let secure = if state.web.secure_cookies() { "; Secure" } else { "" };
    let text = format!("{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}", cookie_name(state, base));
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The value of cookie `name` in the request.
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Appends a `Set-Cookie` header to a response.
pub fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// The browser session of the request, if signed in.
pub struct MaybeSession {
    pub token: Option<String>,
    pub session: Option<BrowserSession>,
    pub meta: RequestMeta,
}

impl FromRequestParts<AppState> for MaybeSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let meta = trellis_api::extract::request_meta(parts);
        let token = read_cookie(&parts.headers, &cookie_name(state, SESSION_COOKIE));
        let session = match &token {
            Some(t) => auth::authenticate_browser(&state.ctx, t, &meta).await.map_err(error_page)?,
            None => None,
        };
        Ok(MaybeSession { token, session, meta })
    }
}

/// A signed-in session acting as one membership; otherwise a redirect to the sign-in page.
pub struct Signed {
    pub session: BrowserSession,
    pub scope: Scope,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let maybe = MaybeSession::from_request_parts(parts, state).await?;
        match (maybe.token, maybe.session) {
            (Some(_), Some(session)) => match session.scope.clone() {
                Some(scope) => Ok(Signed { session, scope }),
                None => Err(Redirect::to("/memberships").into_response()),
            },
            _ => Err(Redirect::to("/login").into_response()),
        }
    }
}

/// Refuses requests a browser marked as cross-site.
pub fn check_same_site(headers: &HeaderMap) -> Result<(), Response> {
    let cross = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|v| v == "cross-site");
    if cross { Err(error_page(trellis_core::Error::forbidden("cross-site form submissions are refused"))) } else { Ok(()) }
}

/// Checks a submitted CSRF token against the session's.
pub fn check_csrf(headers: &HeaderMap, session: &BrowserSession, submitted: &str) -> Result<(), Response> {
    check_same_site(headers)?;
    if same_secret(&session.csrf_token, submitted) {
        Ok(())
    } else {
        Err(error_page(trellis_core::Error::forbidden("the form has expired; reload the page and try again")))
    }
}
