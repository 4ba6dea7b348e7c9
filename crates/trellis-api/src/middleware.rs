//! Per-request middleware of the API: where the request came from, who sent it, and
//! `Idempotency-Key` replay.

use std::net::SocketAddr;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use trellis_db::sql;
use trellis_identity::secret::sha256_hex;
use trellis_identity::{RequestMeta, Scope, auth};

use crate::AppState;
use crate::error::ApiError;

/// Largest request body the API reads (JSON documents are small).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Largest request body of a file upload: the largest document and room for the multipart
/// envelope. Routes that take uploads raise their body limit to this; everything else keeps
/// [`MAX_BODY_BYTES`].
pub const MAX_UPLOAD_BODY_BYTES: usize = trellis_partners::files::MAX_DOCUMENT_BYTES + 64 * 1024;

/// Records the client address and user agent in the request's extensions. The address is the
/// connection's peer, or with `trust_forwarded_for` the one the trusted proxies saw
/// ([`crate::client_address`]); always a parsed IP address.
pub async fn request_meta(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
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

/// Authenticates `Authorization: Bearer …` when present; an invalid credential is 401 at once.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return next.run(req).await };
    if crate::handlers::invitations::is_acceptance(req.uri().path()) {
        // The invitee acts for themselves, not for a membership: the handler checks the token.
        return next.run(req).await;
    }
    let Some(credential) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim) else {
        return ApiError::unauthorized().into_response();
    };
    let membership = req.headers().get("trellis-membership").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let meta = req.extensions().get::<RequestMeta>().cloned().unwrap_or_default();
    match auth::authenticate_bearer(&state.ctx, credential, membership.as_deref(), &meta).await {
        Ok(scope) => {
            req.extensions_mut().insert(scope);
            next.run(req).await
        }
        Err(err) => ApiError::from(err).into_response(),
    }
}

fn principal(scope: &Scope) -> String {
    match scope.actor() {
        trellis_identity::Actor::User { id, .. } => id.to_string(),
        trellis_identity::Actor::ApiKey { id, .. } => id.to_string(),
        trellis_identity::Actor::System => "system".to_owned(),
    }
}

/// `Idempotency-Key` on a POST: a retry with the same key and body within 24 hours gets the first
/// response again; the same key with another body is 422 `idempotency_key_reused`. Responses
/// below 500 are kept (a 500 may be retried for real).
pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned) else {
        return next.run(req).await;
    };
    let Some(scope) = req.extensions().get::<Scope>().cloned() else { return next.run(req).await };
    if key.is_empty() || key.len() > 255 {
        return ApiError::field("Idempotency-Key", "must be 1 to 255 characters").into_response();
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_UPLOAD_BODY_BYTES).await else {
        return ApiError::malformed("the body is too large").into_response();
    };
    let request_hash = sha256_hex(&format!("{} {}\n{}", parts.method, parts.uri.path(), String::from_utf8_lossy(&bytes)));
    let principal = principal(&scope);
    let now = state.ctx.now();
    // Claim the key first (status 0 = in progress): of two concurrent first uses exactly one runs
    // the request; the other is told to retry instead of running it a second time.
    let claimed = async {
        let mut tx = state.ctx.db.write(&trellis_db::RowSecurity::Unrestricted).await?;
        // Keys older than a day may be used afresh.
        tx.execute(sql!(
            "DELETE FROM idempotency_keys WHERE workspace_id = $1 AND principal = $2 AND key = $3 AND created_at <= $4",
            scope.workspace_id(), principal, key, now.plus_seconds(-24 * 3600)
        ))
        .await?;
        let inserted = tx
            .execute(sql!(
                "INSERT INTO idempotency_keys (workspace_id, principal, key, request_hash, status, response_body, created_at) VALUES ($1, $2, $3, $4, 0, '', $5) ON CONFLICT DO NOTHING",
                scope.workspace_id(), principal, key, request_hash, now
            ))
            .await?;
        let existing = if inserted == 0 {
            tx.fetch_optional(sql!(
                "SELECT request_hash, status, response_body FROM idempotency_keys WHERE workspace_id = $1 AND principal = $2 AND key = $3",
                scope.workspace_id(), principal, key
            ))
            .await?
        } else {
            None
        };
        tx.commit().await?;
        Ok::<_, trellis_db::DbError>(existing)
    }
    .await;
    match claimed {
        Ok(Some(row)) => return replay(&row, &request_hash),
        Ok(None) => {}
        Err(err) => return ApiError::from(trellis_core::Error::from(err)).into_response(),
    }
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let status = response.status();
    let (parts, body) = response.into_parts();
    let body_bytes = if status.is_server_error() { Ok(Default::default()) } else { to_bytes(body, 16 * 1024 * 1024).await };
    let stored =
        async {
            let mut tx = state.ctx.db.write(&trellis_db::RowSecurity::Unrestricted).await?;
            match &body_bytes {
                // A 500 may be retried for real: release the key.
                Ok(_) if status.is_server_error() => {
                    tx.execute(sql!(
                        "DELETE FROM idempotency_keys WHERE workspace_id = $1 AND principal = $2 AND key = $3",
                        scope.workspace_id(),
                        principal,
                        key
                    ))
                    .await?;
                }
                Ok(bytes) => {
                    tx.execute(sql!(
                    "UPDATE idempotency_keys SET status = $4, response_body = $5 WHERE workspace_id = $1 AND principal = $2 AND key = $3",
                    scope.workspace_id(), principal, key, i64::from(status.as_u16()), String::from_utf8_lossy(bytes).into_owned()
                ))
                .await?;
                }
                Err(_) => {
                    tx.execute(sql!(
                        "DELETE FROM idempotency_keys WHERE workspace_id = $1 AND principal = $2 AND key = $3",
                        scope.workspace_id(),
                        principal,
                        key
                    ))
                    .await?;
                }
            }
            tx.commit().await
        }
        .await;
    if let Err(err) = stored {
        tracing::error!(%err, "storing an idempotent response failed");
    }
    match body_bytes {
        Ok(_) if status.is_server_error() => ApiError::from(trellis_core::Error::Internal("the request failed".into())).into_response(),
        Ok(bytes) => Response::from_parts(parts, Body::from(bytes)),
        Err(_) => ApiError::from(trellis_core::Error::Internal("response too large to store".into())).into_response(),
    }
}

/// Answers a repeated key: the stored response, 409 while the first request still runs, or 422
/// when the key came with another request.
fn replay(row: &trellis_db::Row, request_hash: &str) -> Response {
    let stored_hash: String = row.get("request_hash").unwrap_or_default();
    if stored_hash != request_hash {
        return ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "Idempotency key reused",
            "this Idempotency-Key was used with a different request",
        )
        .into_response();
    }
    let status_code = row.get::<i64>("status").unwrap_or(0);
    let Some(status) = u16::try_from(status_code).ok().and_then(|s| StatusCode::from_u16(s).ok()) else {
        return ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )
        .into_response();
    };
    let body: String = row.get("response_body").unwrap_or_default();
    let content_type = if status.is_success() { "application/json" } else { "application/problem+json" };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    headers.insert("idempotent-replayed", header::HeaderValue::from_static("true"));
    (status, headers, body).into_response()
}
