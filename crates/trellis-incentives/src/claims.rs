//! Which payable commissions a payout run claims (ADR 0020): ranges of numbers, not rows.
//!
//! A commission that becomes payable takes the next number of its workspace and currency
//! (`payout_claims.last_seq`); a run claims every payable commission numbered after the last
//! run's watermark (`claimed_through`) up to its own, by writing its items with that range. So
//! gathering a run reads the new payable commissions once and writes one row per partner paid,
//! whatever the number of commissions; a commission's status and account follow from its run's
//! item (the `commission_states` view).
//!
//! Numbers follow commit order because the writer that takes one holds the workspace's audit
//! head first ([`audit::hold_head`]), as a run does before it gathers: a change of a payable
//! commission and a run's gathering happen one after the other, never across each other.

use trellis_core::{Currency, Result, Timestamp};
use trellis_db::sql;
use trellis_identity::audit;
use trellis_identity::{Scope, ScopedTx};

/// The claim row of a workspace and currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClaimRow {
    /// The last number given to a commission that became payable.
    pub last_seq: i64,
    /// The watermark: every payable commission numbered up to it is in a run's range.
    pub claimed_through: i64,
}

/// Takes the workspace's audit head, then the claim row of `currency`: nothing changes which
/// commissions of the currency are payable until the caller commits.
pub(crate) async fn take(tx: &mut ScopedTx, scope: &Scope, currency: Currency, now: Timestamp) -> Result<ClaimRow> {
    audit::hold_head(tx, scope).await?;
    let row = tx
        .fetch_one(sql!(
            "INSERT INTO payout_claims (workspace_id, currency, claimed_at, last_seq, claimed_through) VALUES ($1, $2, $3, 0, 0)
             ON CONFLICT (workspace_id, currency) DO UPDATE SET claimed_at = excluded.claimed_at
             RETURNING last_seq, claimed_through",
            scope.workspace_id(),
            currency.code(),
            now
        ))
        .await?;
    Ok(ClaimRow { last_seq: row.get("last_seq")?, claimed_through: row.get("claimed_through")? })
}

/// The number for commissions of `currency` that become payable now (after the watermark, so the
/// next run claims them), with the audit head and the claim row taken.
pub(crate) async fn next_seq(tx: &mut ScopedTx, scope: &Scope, currency: Currency, now: Timestamp) -> Result<i64> {
    audit::hold_head(tx, scope).await?;
    let row = tx
        .fetch_one(sql!(
            "INSERT INTO payout_claims (workspace_id, currency, claimed_at, last_seq, claimed_through) VALUES ($1, $2, $3, 1, 0)
             ON CONFLICT (workspace_id, currency) DO UPDATE SET last_seq = payout_claims.last_seq + 1
             RETURNING last_seq",
            scope.workspace_id(),
            currency.code(),
            now
        ))
        .await?;
    Ok(row.get("last_seq")?)
}

/// Moves the watermark of `currency` to `through` (a run claimed up to it).
pub(crate) async fn claim_through(tx: &mut ScopedTx, scope: &Scope, currency: Currency, through: i64) -> Result<()> {
    tx.execute(sql!(
        "UPDATE payout_claims SET claimed_through = $3 WHERE workspace_id = $1 AND currency = $2",
        scope.workspace_id(),
        currency.code(),
        through
    ))
    .await?;
    Ok(())
}
