//! Per-request middleware of the API: who sent the request, and `Idempotency-Key` replay (where
//! it came from is `trellis_web::meta`, shared with the pages).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use trellis_db::{SystemGrant, sql};
use trellis_identity::secret::sha256_hex;
use trellis_identity::{RequestMeta, Scope, auth};
use trellis_web::AppState;
use trellis_web::limits::MAX_UPLOAD_BODY_BYTES;
use trellis_web::problem::ApiError;

/// Stored answers of `Idempotency-Key` requests are keyed by workspace and principal, not
/// partner-owned; the claim, the takeover after the lease and the release run outside the
/// request's own (parked) transaction (ADR 0006).
pub const IDEMPOTENCY_STORE: SystemGrant = SystemGrant {
    name: "idempotency_store",
    reason: "stored answers of Idempotency-Key requests, keyed by workspace and principal: claimed, taken over after the lease, released",
};

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

/// How long a claim on an idempotency key holds before another attempt may take it over: longer
/// than any request runs (the body is read before the claim), short enough that a key whose
/// request died with the server is usable again soon.
pub const IDEMPOTENCY_LEASE_SECONDS: i64 = 30;

/// How long a key is remembered.
const IDEMPOTENCY_KEY_SECONDS: i64 = 24 * 3600;

/// Deletes the idempotency records older than a key is remembered (a day), a batch at a time
/// through their age index: the daily pruning job of the binary. A claim still running is never
/// that old (its lease is seconds).
pub async fn prune_idempotency_keys(db: &trellis_db::Db, now: trellis_core::Timestamp, batch: i64) -> trellis_db::DbResult<u64> {
    let before = now.plus_seconds(-IDEMPOTENCY_KEY_SECONDS);
    db.delete_in_batches(&IDEMPOTENCY_STORE, batch, |batch| {
        sql!(
            "DELETE FROM idempotency_keys WHERE (workspace_id, principal, key) IN (SELECT workspace_id, principal, key FROM idempotency_keys WHERE created_at <= $1 LIMIT $2)",
            before,
            batch
        )
    })
    .await
}

/// Status of a claim whose request is still running.
const RUNNING: i64 = 0;
/// Status of a claim whose change committed before its answer could be stored with it (the
/// request opened another transaction after committing); replaced by the answer when it is stored.
const COMMITTED_APART: i64 = -1;

/// Which key of which caller a request claimed, and under which claim.
struct Claim {
    workspace_id: String,
    principal: String,
    key: String,
    claim: String,
}

impl Claim {
    /// Marks the key's change as committed, in the transaction that commits it.
    fn committed_apart(&self) -> trellis_db::Sql {
        sql!(
            "UPDATE idempotency_keys SET status = $5 WHERE workspace_id = $1 AND principal = $2 AND key = $3 AND claim = $4",
            self.workspace_id,
            self.principal,
            self.key,
            self.claim,
            COMMITTED_APART
        )
    }

    /// Stores the answer, if the claim is still this request's. Returns false when another
    /// attempt took the claim over (this one outlived its lease).
    async fn store(&self, tx: &mut trellis_db::Tx, status: StatusCode, body: &[u8]) -> trellis_db::DbResult<bool> {
        let changed = tx
            .execute(sql!(
                "UPDATE idempotency_keys SET status = $5, response_body = $6 WHERE workspace_id = $1 AND principal = $2 AND key = $3 AND claim = $4",
                self.workspace_id, self.principal, self.key, self.claim,
                i64::from(status.as_u16()), String::from_utf8_lossy(body).into_owned()
            ))
            .await?;
        Ok(changed == 1)
    }

    /// Gives the key up when its answer cannot be kept (a 5xx may be retried for real): rolls
    /// back what the request left parked and lets the key be used again.
    async fn abandon(&self, db: &trellis_db::Db, held: &trellis_db::held::HeldCommit) {
        drop(held.take());
        if let Err(err) = self.release(db).await {
            tracing::error!(%err, "releasing an idempotency key failed");
        }
    }

    async fn release(&self, db: &trellis_db::Db) -> trellis_db::DbResult<()> {
        let mut tx = db.write_granted(&IDEMPOTENCY_STORE).await?;
        tx.execute(sql!(
            "DELETE FROM idempotency_keys WHERE workspace_id = $1 AND principal = $2 AND key = $3 AND claim = $4 AND status = $5",
            self.workspace_id,
            self.principal,
            self.key,
            self.claim,
            RUNNING
        ))
        .await?;
        tx.commit_now().await
    }
}

/// What claiming a key found.
enum Claimed {
    /// This request holds the key: run it.
    Run(Claim),
    /// The key was used before: answer from the stored row.
    Seen(trellis_db::Row),
}

/// `Idempotency-Key` on a POST: a retry with the same key and body within 24 hours gets the first
/// response again; the same key with another body is 422 `idempotency_key_reused`; while the first
/// request runs, 409 with `Retry-After`. Responses below 500 are kept (a 500 may be retried for
/// real).
///
/// The stored answer commits in the same transaction as the request's change
/// (`trellis_db::held`): after a crash a key either has its answer or its change never happened.
/// A claim whose request died is taken over once its lease (`WebConfig::idempotency_lease_seconds`) ends,
/// and a request that outlived its lease cannot commit (its change is rolled back), so a key runs
/// its request at most once.
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
        return ApiError::payload_too_large().into_response();
    };
    let request_hash = sha256_hex(&format!("{} {}\n{}", parts.method, parts.uri.path(), String::from_utf8_lossy(&bytes)));
    let claim = Claim {
        workspace_id: scope.workspace_id().to_string(),
        principal: principal(&scope),
        key,
        claim: trellis_identity::secret::random_token(24),
    };
    let now = state.ctx.now();
    let claim = match claim_key(state.ctx.db(), claim, &request_hash, now, state.web.idempotency_lease_seconds).await {
        Ok(Claimed::Run(claim)) => claim,
        Ok(Claimed::Seen(row)) => return replay(&row, &request_hash, now, state.web.idempotency_lease_seconds),
        Err(err) => return ApiError::from(trellis_core::Error::from(err)).into_response(),
    };
    let (response, held) =
        trellis_db::held::hold_commits(claim.committed_apart(), next.run(Request::from_parts(parts, Body::from(bytes)))).await;
    let status = response.status();
    if held.flushed() > 0 {
        tracing::warn!(flushed = held.flushed(), "an idempotent request committed before its end; its answer is stored apart");
    }
    if status.is_server_error() {
        claim.abandon(state.ctx.db(), &held).await;
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(body) = to_bytes(body, 16 * 1024 * 1024).await else {
        claim.abandon(state.ctx.db(), &held).await;
        return ApiError::from(trellis_core::Error::Internal("response too large to store".into())).into_response();
    };
    let stored = async {
        // The parked transaction holds the request's change: the answer commits with it. Without
        // one (nothing written, or written early) the answer is stored on its own.
        let mut tx = match held.take() {
            Some(tx) => tx,
            None => state.ctx.db().write_granted(&IDEMPOTENCY_STORE).await?,
        };
        if !claim.store(&mut tx, status, &body).await? {
            return Ok(false);
        }
        tx.commit_now().await?;
        Ok::<_, trellis_db::DbError>(true)
    }
    .await;
    match stored {
        Ok(true) => Response::from_parts(parts, Body::from(body)),
        Ok(false) => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "Request took too long",
            "this request outlived the claim on its Idempotency-Key and was rolled back; retry with the same key to get the answer",
        )
        .into_response(),
        Err(err) => {
            tracing::error!(%err, "storing an idempotent response failed");
            ApiError::from(trellis_core::Error::Internal("the request failed".into())).into_response()
        }
    }
}

/// Claims `claim.key` for this request: inserts a running claim, or takes over one whose lease
/// ended, or finds the key used.
async fn claim_key(
    db: &trellis_db::Db,
    claim: Claim,
    request_hash: &str,
    now: trellis_core::Timestamp,
    lease_seconds: i64,
) -> trellis_db::DbResult<Claimed> {
    let mut tx = db.write_granted(&IDEMPOTENCY_STORE).await?;
    // Keys older than a day may be used afresh.
    tx.execute(sql!(
        "DELETE FROM idempotency_keys WHERE workspace_id = $1 AND principal = $2 AND key = $3 AND created_at <= $4",
        claim.workspace_id,
        claim.principal,
        claim.key,
        now.plus_seconds(-IDEMPOTENCY_KEY_SECONDS)
    ))
    .await?;
    let lease_until = now.plus_seconds(lease_seconds);
    let inserted = tx
        .execute(sql!(
            "INSERT INTO idempotency_keys (workspace_id, principal, key, request_hash, status, response_body, created_at, lease_until, claim) VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8) ON CONFLICT DO NOTHING",
            claim.workspace_id, claim.principal, claim.key, request_hash, RUNNING, now, lease_until, claim.claim
        ))
        .await?;
    if inserted == 1 {
        tx.commit_now().await?;
        return Ok(Claimed::Run(claim));
    }
    // A running claim whose lease ended belongs to a request that died: take it over. The old
    // request, if it still runs, can no longer store its answer or commit its change.
    let taken = tx
        .execute(sql!(
            "UPDATE idempotency_keys SET claim = $4, lease_until = $5 WHERE workspace_id = $1 AND principal = $2 AND key = $3 AND request_hash = $6 AND status = $7 AND lease_until <= $8",
            claim.workspace_id, claim.principal, claim.key, claim.claim, lease_until, request_hash, RUNNING, now
        ))
        .await?;
    if taken == 1 {
        tx.commit_now().await?;
        return Ok(Claimed::Run(claim));
    }
    let row = tx
        .fetch_one(sql!(
            "SELECT request_hash, status, response_body, lease_until FROM idempotency_keys WHERE workspace_id = $1 AND principal = $2 AND key = $3",
            claim.workspace_id, claim.principal, claim.key
        ))
        .await?;
    tx.commit_now().await?;
    Ok(Claimed::Seen(row))
}

/// Answers a repeated key: the stored response, 409 with `Retry-After` while the first request
/// still runs, or 422 when the key came with another request.
fn replay(row: &trellis_db::Row, request_hash: &str, now: trellis_core::Timestamp, lease_seconds: i64) -> Response {
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
    let status_code = row.get::<i64>("status").unwrap_or(RUNNING);
    if status_code == COMMITTED_APART {
        return ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "Answer not kept",
            "the first request with this Idempotency-Key completed, but its answer was lost; look the result up instead of retrying",
        )
        .into_response();
    }
    let Some(status) = u16::try_from(status_code).ok().and_then(|s| StatusCode::from_u16(s).ok()) else {
        let lease_until = row.get::<i64>("lease_until").unwrap_or(0);
        let wait = (lease_until - now.micros()).div_euclid(1_000_000).saturating_add(1).clamp(1, lease_seconds.max(1));
        let mut response = ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "Request in progress",
            "a request with this Idempotency-Key is still being processed; retry after the time in Retry-After",
        )
        .into_response();
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(wait));
        return response;
    };
    let body: String = row.get("response_body").unwrap_or_default();
    let content_type = if status.is_success() { "application/json" } else { "application/problem+json" };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    headers.insert("idempotent-replayed", header::HeaderValue::from_static("true"));
    (status, headers, body).into_response()
}
