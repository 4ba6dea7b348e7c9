//! Which payable commissions a payout run claims (ADR 0020): ranges of numbers, not rows.
//!
//! A commission that becomes payable takes the next number of its workspace and currency
//! (`payout_claims.last_seq`); a run claims every payable commission numbered after the last
//! run's watermark (`claimed_through`) up to its own, by writing its items with that range. So
//! gathering a run reads the new payable commissions once and writes one row per partner paid,
//! whatever the number of commissions; a commission's status and account follow from its run's
//! item (the `commission_states` view).
//!
//! A partner a run leaves out (skipped, or summing to zero) goes to the backlog
//! (`payout_backlog`) with the number its unclaimed commissions start after; the next run reads
//! those again by the partner's index, so leaving a partner out writes one row, not its
//! commissions. A cancelled run's commissions are numbered again after the watermark instead
//! (later runs may have claimed their partners' newer numbers, so a start would not do).
//!
//! Numbers follow commit order because the writer that takes one holds the workspace's audit
//! head first ([`audit::hold_head`]), as a run does before it gathers: a change of a payable
//! commission and a run's gathering happen one after the other, never across each other.

use std::collections::BTreeMap;

use trellis_core::{Currency, PartnerId, Result, Timestamp};
use trellis_db::{Sql, sql};
use trellis_identity::audit;

/// Rows per multi-row statement.
const BATCH: usize = 500;
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

/// A partner in the backlog of a currency: its payable commissions numbered after `after_seq`
/// up to the watermark, summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backlog {
    pub partner_id: PartnerId,
    pub after_seq: i64,
    pub total_minor: i64,
    pub count: i64,
}

/// The backlog of `currency` with what each partner's unclaimed commissions up to `watermark`
/// sum to (read through the partner's index: the cost follows the backlog, not the history).
pub(crate) async fn backlog_in(tx: &mut ScopedTx, scope: &Scope, currency: Currency, watermark: i64) -> Result<Vec<Backlog>> {
    tx.fetch_all(sql!(
        "SELECT b.partner_id, b.after_seq, CAST(COALESCE(SUM(c.amount_minor), 0) AS BIGINT) AS total, COUNT(c.id) AS n
         FROM payout_backlog b LEFT JOIN commissions c ON c.workspace_id = b.workspace_id AND c.partner_id = b.partner_id
           AND c.currency = b.currency AND c.status = 'payable' AND c.payable_seq > b.after_seq AND c.payable_seq <= $3
         WHERE b.workspace_id = $1 AND b.currency = $2 GROUP BY b.partner_id, b.after_seq",
        scope.workspace_id(),
        currency.code(),
        watermark
    ))
    .await?
    .iter()
    .map(|row| {
        Ok(Backlog {
            partner_id: row.get("partner_id")?,
            after_seq: row.get("after_seq")?,
            total_minor: row.get("total")?,
            count: row.get("n")?,
        })
    })
    .collect()
}

/// Makes `left` (partner, the number its unclaimed commissions start after) the backlog of
/// `currency`, in place of `old`.
pub(crate) async fn replace_backlog(
    tx: &mut ScopedTx,
    scope: &Scope,
    currency: Currency,
    old: &[Backlog],
    left: &[(PartnerId, i64)],
) -> Result<()> {
    let old: Vec<PartnerId> = old.iter().map(|b| b.partner_id.clone()).collect();
    for chunk in old.chunks(BATCH) {
        let mut q = Sql::build("DELETE FROM payout_backlog WHERE workspace_id = ");
        q.push_bind(scope.workspace_id())
            .push(" AND currency = ")
            .push_bind(currency.code())
            .push(" AND partner_id IN ")
            .push_in_list(chunk);
        tx.execute(q).await?;
    }
    for chunk in left.chunks(BATCH) {
        let mut q = Sql::build("INSERT INTO payout_backlog (workspace_id, currency, partner_id, after_seq) VALUES ");
        for (i, (partner_id, after)) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" }).push_bind(scope.workspace_id()).push(", ").push_bind(currency.code());
            q.push(", ").push_bind(partner_id).push(", ").push_bind(*after).push(")");
        }
        tx.execute(q).await?;
    }
    Ok(())
}

/// Numbers again, after the watermark, the payable commissions of `currency` in each range
/// `(after, through]` of its partners (a cancelled run's items): the next run claims them.
pub(crate) async fn renumber(
    tx: &mut ScopedTx,
    scope: &Scope,
    currency: Currency,
    now: Timestamp,
    ranges: &BTreeMap<(i64, i64), Vec<PartnerId>>,
) -> Result<()> {
    if ranges.is_empty() {
        return Ok(());
    }
    let seq = next_seq(tx, scope, currency, now).await?;
    for ((after, through), partners) in ranges {
        for chunk in partners.chunks(BATCH) {
            let mut q = Sql::build("UPDATE commissions SET payable_seq = ");
            q.push_bind(seq).push(", updated_at = ").push_bind(now).push(" WHERE workspace_id = ").push_bind(scope.workspace_id());
            q.push(" AND status = 'payable' AND currency = ").push_bind(currency.code()).push(" AND partner_id IN ").push_in_list(chunk);
            q.push(" AND payable_seq > ").push_bind(*after).push(" AND payable_seq <= ").push_bind(*through);
            tx.execute(q).await?;
        }
    }
    Ok(())
}
