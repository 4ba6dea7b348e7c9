//! `GET /r/{code}` (API.md "Referral tracking"): the referral redirect. It is served outside the
//! layers of the API and the pages (no session, no body, nothing to log per request): the link
//! comes from the server's table in memory and the click goes to the writer's queue
//! (`trellis_tracking::redirects`), so a redirect costs no database round trip.
//!
//! The answer is a `302` (a `301` would be cached by browsers and lose later clicks) with
//! `Cache-Control: no-store`, the destination with the link's UTM parameters and the click id as
//! `trellis_click`, and the first-party cookie `trellis_click` for the program's attribution
//! window. An unknown or disabled code is a plain 404.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use trellis_tracking::redirects::{Redirects, Visit};
use trellis_web::AppState;

pub async fn redirect(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(code): Path<String>,
    request: Request,
) -> Response {
    // The request's own headers, read in place (a `HeaderMap` extractor would copy them).
    let headers = request.headers();
    let Ok(redirects) = Redirects::of(&state.ctx) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let address = if state.web.trust_forwarded_for {
        trellis_web::client_address::client_address(peer.ip(), headers, &state.web.trusted_proxies)
    } else {
        peer.ip().to_canonical()
    }
    .to_string();
    let visit = Visit {
        code: &code,
        address: &address,
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
        referer: headers.get(header::REFERER).and_then(|v| v.to_str().ok()),
        at: state.ctx.now(),
    };
    let Some(answer) = redirects.visit(&visit).await else {
        return (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], "no such link\n").into_response();
    };
    let (Ok(location), Ok(cookie)) = (
        HeaderValue::from_str(&answer.location),
        HeaderValue::from_str(&format!(
            "trellis_click={}; Max-Age={}; Path=/; SameSite=Lax; HttpOnly{}",
            answer.click_id,
            answer.cookie_max_age_seconds,
            if state.web.secure_cookies() { "; Secure" } else { "" }
        )),
    ) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = StatusCode::FOUND.into_response();
    let out = response.headers_mut();
    out.insert(header::LOCATION, location);
    out.insert(header::SET_COOKIE, cookie);
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out.insert("referrer-policy", HeaderValue::from_static("no-referrer-when-downgrade"));
    response
}
