//! Protection through the job queue: when a registration is approved (or its protection
//! extended), jobs are enqueued in the same transaction to remind the partner before the end
//! ([`crate::rules::REMINDER_DAYS_BEFORE`]) and to expire the protection at its end. Each job
//! names the end it was enqueued for and does nothing when the deal's protection has moved since
//! (an extension enqueues its own) or the deal is no longer approved.

use serde::{Deserialize, Serialize};
use serde_json::json;
use trellis_core::{DealId, Error, Result, Timestamp, WorkspaceId};
use trellis_db::{SystemGrant, Tx, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope};
use trellis_jobs::{Job, JobOptions, enqueue};

use crate::conflicts;
use crate::deals::{Deal, date_of};
use crate::rules::REMINDER_DAYS_BEFORE;
use crate::statuses::{Actor, DealStatus};

/// The protection clock runs for no person and touches every partner's deals.
pub const DEAL_PROTECTION: SystemGrant = SystemGrant {
    name: "deal_protection",
    reason: "the protection clock reminds partners and expires approved registrations; no person runs it",
};

/// Reminds the partner that a deal's protection ends in `days_before` days.
#[derive(Debug, Serialize, Deserialize)]
pub struct RemindProtectionEnding {
    pub deal_id: DealId,
    pub protected_until: Timestamp,
    pub days_before: i64,
}

impl Job for RemindProtectionEnding {
    const KIND: &'static str = "deal_protection_reminder";
}

/// Expires a deal's protection at its end.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExpireProtection {
    pub deal_id: DealId,
    pub protected_until: Timestamp,
}

impl Job for ExpireProtection {
    const KIND: &'static str = "deal_protection_expiry";
}

/// Enqueues the reminders and the expiry of an approved deal's protection, in the caller's
/// transaction.
pub(crate) async fn schedule_in(tx: &mut Tx, workspace_id: &WorkspaceId, deal: &Deal, now: Timestamp) -> Result<()> {
    let Some(until) = deal.protected_until else { return Ok(()) };
    for days_before in REMINDER_DAYS_BEFORE {
        let run_at = until.plus_seconds(-days_before * 86_400);
        if run_at > now {
            let job = RemindProtectionEnding { deal_id: deal.id.clone(), protected_until: until, days_before };
            let key = format!("deal_protection_reminder:{}:{}:{days_before}", deal.id, until.micros());
            enqueue(tx, &job, JobOptions::in_workspace(workspace_id, run_at).dedupe_key(key), now).await?;
        }
    }
    let job = ExpireProtection { deal_id: deal.id.clone(), protected_until: until };
    let key = format!("deal_protection_expiry:{}:{}", deal.id, until.micros());
    enqueue(tx, &job, JobOptions::in_workspace(workspace_id, until).dedupe_key(key), now).await?;
    Ok(())
}

async fn current(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    deal_id: &DealId,
) -> Result<Option<(DealStatus, Option<Timestamp>, Option<trellis_core::PartnerId>, String)>> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT status, protected_until, partner_id, customer_name FROM deals WHERE workspace_id = $1 AND id = $2",
            workspace_id,
            deal_id
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let status: String = row.get("status")?;
    let status = DealStatus::parse(&status).ok_or_else(|| Error::Internal(format!("stored deal status {status}")))?;
    Ok(Some((status, row.get("protected_until")?, row.get("partner_id")?, row.get("customer_name")?)))
}

/// Runs a reminder job: emails the partner when the deal is still approved until that end.
pub async fn remind(ctx: &Ctx, workspace_id: &WorkspaceId, job: &RemindProtectionEnding) -> Result<()> {
    let now = ctx.now();
    let mut tx = ctx.db().write_granted(&DEAL_PROTECTION).await?;
    if let Some((DealStatus::Approved, Some(until), Some(partner_id), customer)) = current(&mut tx, workspace_id, &job.deal_id).await?
        && until == job.protected_until
    {
        let text = format!(
            "Your protection of the deal with {customer} ends on {} ({} days from now). Mark it won or lost, or ask for an extension on the deal's page: {}",
            date_of(until),
            job.days_before,
            ctx.link(&format!("/portal/deals/{}", job.deal_id))
        );
        crate::notify::to_partner_in(
            &mut tx,
            workspace_id,
            &partner_id,
            "deal_protection_ending",
            &format!("Protection of {customer} ends soon"),
            &text,
            None,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Runs an expiry job: an approved deal whose protection ended at the job's time becomes expired
/// (its customer is free for other partners again).
pub async fn expire(ctx: &Ctx, workspace_id: &WorkspaceId, job: &ExpireProtection) -> Result<()> {
    let now = ctx.now();
    let mut tx = ctx.db().write_granted(&DEAL_PROTECTION).await?;
    if let Some((DealStatus::Approved, Some(until), Some(partner_id), customer)) = current(&mut tx, workspace_id, &job.deal_id).await?
        && until == job.protected_until
        && until <= now
    {
        debug_assert!(crate::statuses::find(DealStatus::Approved, DealStatus::Expired, Actor::System).is_some());
        tx.execute(sql!(
            "UPDATE deals SET status = 'expired', updated_at = $3 WHERE workspace_id = $1 AND id = $2",
            workspace_id,
            &job.deal_id,
            now
        ))
        .await?;
        conflicts::stamp(&mut tx, workspace_id, &job.deal_id).await?;
        let system = Scope::system(workspace_id.clone(), &DEAL_PROTECTION);
        let entry = AuditEntry::new("deal.expired", "deal", job.deal_id.as_str())
            .set("partner_id", json!(partner_id))
            .change("status", "approved", "expired");
        audit::record(&mut tx, &system, now, entry).await?;
        let text = format!(
            "Your protection of the deal with {customer} ended on {}. Other partners may now register this customer. You can still mark the deal won or lost: {}",
            date_of(until),
            ctx.link(&format!("/portal/deals/{}", job.deal_id))
        );
        crate::notify::to_partner_in(
            &mut tx,
            workspace_id,
            &partner_id,
            "deal_expired",
            &format!("Protection of {customer} has ended"),
            &text,
            None,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
