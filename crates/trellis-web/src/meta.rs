//! Where a request came from: the client address and user agent, recorded once per request by
//! [`record_request_meta`] and read by the API's and the pages' handlers (audit events, sign-in
//! throttling).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use trellis_identity::RequestMeta;

use crate::AppState;

/// Records the client address and user agent in the request's extensions. The address is the
/// connection's peer, or with `trust_forwarded_for` the one the trusted proxies saw
/// ([`crate::client_address`]); always a parsed IP address.
pub async fn record_request_meta(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = peer.map(|peer| {
        if state.web.trust_forwarded_for {
            crate::client_address::client_address(peer, req.headers(), &state.web.trusted_proxies)
        } else {
            peer.to_canonical()
        }
    });
    let user_agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| ua.chars().take(300).collect());
    req.extensions_mut().insert(RequestMeta { ip: ip.map(|ip| ip.to_string()), user_agent });
    next.run(req).await
}

/// Where the request came from (set by [`record_request_meta`]).
pub fn request_meta(parts: &Parts) -> RequestMeta {
    parts.extensions.get::<RequestMeta>().cloned().unwrap_or_default()
}

/// The request's origin, for handlers that record it.
pub struct Meta(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Meta(request_meta(parts)))
    }
}
