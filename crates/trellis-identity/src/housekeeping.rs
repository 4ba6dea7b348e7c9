//! Pruning of identity's records that outlive their use (ADR 0023), run daily by the binary's
//! `PruneRecords` job beside the job queue's and the idempotency store's own pruning. Each kind is
//! deleted a batch at a time through its age index ([`trellis_db::Db::delete_in_batches`]).

use trellis_core::{Result, Timestamp};
use trellis_db::sql;

use crate::Ctx;
use crate::auth::{AUTHENTICATION, SESSION_IDLE_SECONDS};

/// Sign-in history is kept this long: long enough to look back at an incident.
pub const SIGN_IN_HISTORY_DAYS: i64 = 90;
/// Devices not used to sign in for this long are forgotten (their cookie is then worth nothing).
const DEVICE_DAYS: i64 = 180;
/// Rows deleted per transaction.
pub const PRUNE_BATCH: i64 = 5_000;

/// What one pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub sign_ins: u64,
    pub devices: u64,
    pub sessions: u64,
    pub password_resets: u64,
    pub passkey_ceremonies: u64,
}

/// Deletes sign-in history older than [`SIGN_IN_HISTORY_DAYS`], devices unused for 180 days,
/// sessions that no longer work (past their end or idle too long) and reset links that are used
/// or expired, and passkey ceremonies nobody finished.
pub async fn prune(ctx: &Ctx, now: Timestamp) -> Result<Pruned> {
    let db = ctx.db();
    let history_before = now.plus_seconds(-SIGN_IN_HISTORY_DAYS * 86_400);
    let sign_ins = db
        .delete_in_batches(&AUTHENTICATION, PRUNE_BATCH, |batch| {
            sql!("DELETE FROM sign_ins WHERE id IN (SELECT id FROM sign_ins WHERE at < $1 ORDER BY at LIMIT $2)", history_before, batch)
        })
        .await?;
    let devices_before = now.plus_seconds(-DEVICE_DAYS * 86_400);
    let devices = db
        .delete_in_batches(&AUTHENTICATION, PRUNE_BATCH, |batch| {
            sql!(
                "DELETE FROM sign_in_devices WHERE (id_hash, user_id) IN (SELECT id_hash, user_id FROM sign_in_devices WHERE last_used_at < $1 LIMIT $2)",
                devices_before,
                batch
            )
        })
        .await?;
    let idle_before = now.plus_seconds(-SESSION_IDLE_SECONDS);
    let ended = db
        .delete_in_batches(&AUTHENTICATION, PRUNE_BATCH, |batch| {
            sql!("DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions WHERE expires_at <= $1 LIMIT $2)", now, batch)
        })
        .await?;
    let idle = db
        .delete_in_batches(&AUTHENTICATION, PRUNE_BATCH, |batch| {
            sql!(
                "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions WHERE last_seen_at < $1 LIMIT $2)",
                idle_before,
                batch
            )
        })
        .await?;
    let password_resets = db
        .delete_in_batches(&AUTHENTICATION, PRUNE_BATCH, |batch| {
            sql!(
                "DELETE FROM password_resets WHERE token_hash IN (SELECT token_hash FROM password_resets WHERE expires_at <= $1 LIMIT $2)",
                now,
                batch
            )
        })
        .await?;
    let passkey_ceremonies = db
        .delete_in_batches(&AUTHENTICATION, PRUNE_BATCH, |batch| {
            sql!(
                "DELETE FROM passkey_ceremonies WHERE id_hash IN (SELECT id_hash FROM passkey_ceremonies WHERE expires_at <= $1 LIMIT $2)",
                now,
                batch
            )
        })
        .await?;
    Ok(Pruned { sign_ins, devices, sessions: ended + idle, password_resets, passkey_ceremonies })
}
