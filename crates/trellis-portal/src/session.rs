//! Browser sessions and CSRF protection for pages.
//!
//! The session cookie is `HttpOnly`, `SameSite=Lax`, and over TLS `Secure` with the `__Host-`
//! prefix (ASVS 3.3). Every state-changing form carries the session's CSRF token (synchronizer
//! pattern); the sign-in form, which has no session yet, uses a double-submit cookie. Before any
//! of that, a state-changing request a browser marks `Sec-Fetch-Site: cross-site`, or whose
//! `Origin` is not the public URL's, is refused outright (ASVS 3.5.3; [`refuse_foreign_origins`]).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{COOKIE, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use trellis_identity::auth::{self, BrowserSession};
use trellis_identity::secret::same_secret;
use trellis_identity::{RequestMeta, Scope};
use trellis_web::AppState;

use crate::pages::error_page;

pub const SESSION_COOKIE: &str = "trellis_session";
pub const CSRF_COOKIE: &str = "trellis_csrf";
/// The device cookie (ADR 0023): a browser that signed in to an account before keeps signing in
/// while others' failed attempts slow that account down. It proves nothing by itself.
pub const DEVICE_COOKIE: &str = "trellis_device";
/// The device cookie lives as long as the server trusts a device after its last sign-in.
pub const DEVICE_COOKIE_SECONDS: i64 = 180 * 24 * 3600;

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

/// Whether a form posted without a session carries the token of its double-submit cookie `base`
/// (the sign-in, reset, application and lead forms): the cookie must be present and the same.
pub fn form_cookie_matches(state: &AppState, headers: &HeaderMap, base: &str, submitted: &str) -> bool {
    let cookie = read_cookie(headers, &cookie_name(state, base)).unwrap_or_default();
    !cookie.is_empty() && same_secret(&cookie, submitted)
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
        let meta = trellis_web::meta::request_meta(parts);
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

/// The origin (RFC 6454) of a URL as browsers write it in `Origin`: scheme and host in lower
/// case, without user information, path, or the scheme's default port. `None` for anything that
/// is not an `http`/`https` URL with a host.
pub fn origin_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// Refuses a request a browser marked as cross-site (`Sec-Fetch-Site`), or whose `Origin` is
/// present and is not the configured public URL's origin (`null`, sent by sandboxed frames and
/// some redirects, counts as foreign). Either header alone suffices: older browsers send only
/// `Origin`, and a request without either comes from no browser that could carry our cookies
/// across sites (OWASP CSRF cheat sheet, "Verifying origin with standard headers"). The CSRF
/// token is still checked afterwards.
pub fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let cross = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|v| v == "cross-site");
    if cross {
        return Err(error_page(trellis_core::Error::forbidden("cross-site form submissions are refused")));
    }
    let Some(origin) = headers.get(ORIGIN) else { return Ok(()) };
    let ours = origin_of(&state.web.public_url);
    // Browsers write it exactly as `origin_of` does; anything else (a path, user information,
    // `null`) is not our origin.
    let theirs = origin.to_str().ok().map(str::to_ascii_lowercase);
    if ours.is_some() && theirs == ours {
        return Ok(());
    }
    let own = ours.unwrap_or_else(|| state.web.public_url.clone());
    Err(error_page(trellis_core::Error::forbidden(format!(
        "this form was sent from another site and is refused; open Trellis at {own} and try again"
    ))))
}

/// Every page's state-changing request (POST, and any other unsafe method) passes
/// [`check_origin`] first, so no form handler can forget it.
pub async fn refuse_foreign_origins(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.method().is_safe()
        && let Err(response) = check_origin(&state, req.headers())
    {
        return response;
    }
    next.run(req).await
}

/// Checks a submitted CSRF token against the session's (after [`refuse_foreign_origins`]).
pub fn check_csrf(session: &BrowserSession, submitted: &str) -> Result<(), Response> {
    if same_secret(&session.csrf_token, submitted) {
        Ok(())
    } else {
        Err(error_page(trellis_core::Error::forbidden("the form has expired; reload the page and try again")))
    }
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins_are_written_as_browsers_write_them() {
        assert_eq!(origin_of("https://Partners.Example.com/").as_deref(), Some("https://partners.example.com"));
        assert_eq!(origin_of("https://partners.example.com:443/app?x#y").as_deref(), Some("https://partners.example.com"));
        assert_eq!(origin_of("http://127.0.0.1:8080").as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(origin_of("http://user:pw@host.example:80/").as_deref(), Some("http://host.example"));
        assert_eq!(origin_of("http://[::1]:8080/").as_deref(), Some("http://[::1]:8080"));
        assert_eq!(origin_of("https://host.example:8443").as_deref(), Some("https://host.example:8443"));
        for not_an_origin in ["null", "", "ftp://host.example", "https://", "https://:443", "host.example"] {
            assert_eq!(origin_of(not_an_origin), None, "{not_an_origin:?}");
        }
    }
}
