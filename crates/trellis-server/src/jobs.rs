//! The background work of the binary: the job types, handlers and periodic schedules of every
//! capability, registered in one place. `trellis serve` and `trellis demo` run them with
//! `trellis_jobs::spawn_worker`; `TestApp` uses the same registry and drains it on demand.
//!
//! Periodic work is instance-wide once per period (`Registry::schedule`) and fans out into one
//! job per workspace, each with a dedupe key naming the workspace and the period, so that every
//! workspace is handled once per period however many processes run workers.
//!
//! The stored kinds and payloads (`{"period_start": "…"}` for a schedule, `{}` for a workspace's
//! job) are what rows already queued hold: keep them when changing these types.

use serde::{Deserialize, Serialize};
use trellis_core::{Result, Timestamp, WorkspaceId};
use trellis_db::sql;
use trellis_deals::protection;
use trellis_identity::{Ctx, housekeeping};
use trellis_incentives::commissions;
use trellis_jobs::{DAY, Job, JobOptions, Mailer, Registry, ScheduledJob, enqueue};
use trellis_leads::routing;

/// Daily: re-evaluates every enrollment's tier (promotions, demotions, notifications), one
/// [`EvaluateTiersInWorkspace`] per workspace.
#[derive(Serialize, Deserialize)]
struct EvaluateTiers {
    period_start: Timestamp,
}

impl Job for EvaluateTiers {
    const KIND: &'static str = "evaluate_tiers";
}

impl ScheduledJob for EvaluateTiers {
    fn for_period(period_start: Timestamp) -> Self {
        Self { period_start }
    }
}

/// The tier evaluation of the job's workspace. Braces, not a unit struct: the payload is `{}`
/// (a unit struct would be `null`).
#[derive(Serialize, Deserialize)]
struct EvaluateTiersInWorkspace {}

impl Job for EvaluateTiersInWorkspace {
    const KIND: &'static str = "evaluate_tiers_in_workspace";
}

/// Daily: licence expiry and contract renewal reminders (each sent once), one
/// [`SendRemindersInWorkspace`] per workspace.
#[derive(Serialize, Deserialize)]
struct SendReminders {
    period_start: Timestamp,
}

impl Job for SendReminders {
    const KIND: &'static str = "send_reminders";
}

impl ScheduledJob for SendReminders {
    fn for_period(period_start: Timestamp) -> Self {
        Self { period_start }
    }
}

/// The reminders of the job's workspace (payload `{}`, as [`EvaluateTiersInWorkspace`]).
#[derive(Serialize, Deserialize)]
struct SendRemindersInWorkspace {}

impl Job for SendRemindersInWorkspace {
    const KIND: &'static str = "send_reminders_in_workspace";
}

/// Daily: rebuilds the partners' deal records the lead matching reads and refits each program's
/// model (adopted only where it ranks held-out outcomes better), one
/// [`RefreshLeadMatchingInWorkspace`] per workspace.
#[derive(Serialize, Deserialize)]
struct RefreshLeadMatching {
    period_start: Timestamp,
}

impl Job for RefreshLeadMatching {
    const KIND: &'static str = "refresh_lead_matching";
}

impl ScheduledJob for RefreshLeadMatching {
    fn for_period(period_start: Timestamp) -> Self {
        Self { period_start }
    }
}

/// The lead matching refresh of the job's workspace (payload `{}`).
#[derive(Serialize, Deserialize)]
struct RefreshLeadMatchingInWorkspace {}

impl Job for RefreshLeadMatchingInWorkspace {
    const KIND: &'static str = "refresh_lead_matching_in_workspace";
}

/// Daily, instance-wide: deletes what has outlived its use — sign-in history after 90 days,
/// forgotten devices, ended sessions, used or expired reset links (`trellis_identity::housekeeping`),
/// idempotency records after a day, finished jobs after 14 days (failed: 90).
#[derive(Serialize, Deserialize)]
struct PruneRecords {
    period_start: Timestamp,
}

impl Job for PruneRecords {
    const KIND: &'static str = "prune_records";
}

impl ScheduledJob for PruneRecords {
    fn for_period(period_start: Timestamp) -> Self {
        Self { period_start }
    }
}

/// Runs every pruning of [`PruneRecords`] now.
pub async fn prune_records(ctx: &Ctx) -> Result<()> {
    let now = ctx.now();
    let identity = housekeeping::prune(ctx, now).await?;
    let idempotency = trellis_api::middleware::prune_idempotency_keys(ctx.db(), now, housekeeping::PRUNE_BATCH).await?;
    let jobs = trellis_jobs::prune_finished(ctx, housekeeping::PRUNE_BATCH).await?;
    tracing::info!(?identity, idempotency, jobs, "old records pruned");
    Ok(())
}

/// Every job handler and schedule, delivering email with `mailer`.
pub fn registry(mailer: Mailer) -> Registry<Ctx> {
    let mut registry = Registry::new(mailer);
    registry.register(|ctx, _run, job: EvaluateTiers| Box::pin(fan_out(ctx, job.period_start, EvaluateTiersInWorkspace {})));
    registry.register(|ctx, run, _job: EvaluateTiersInWorkspace| {
        Box::pin(async move {
            let summary = trellis_programs::evaluation::evaluate_all(ctx, run.workspace()?).await?;
            tracing::info!(workspace = %run.workspace()?, promoted = summary.promoted, "tiers evaluated");
            Ok(())
        })
    });
    registry.schedule::<EvaluateTiers>(DAY);
    registry.register(|ctx, _run, job: SendReminders| Box::pin(fan_out(ctx, job.period_start, SendRemindersInWorkspace {})));
    registry.register(|ctx, run, _job: SendRemindersInWorkspace| {
        Box::pin(async move {
            let queued = trellis_records::reminders::send_due_reminders(ctx, run.workspace()?).await?;
            tracing::info!(workspace = %run.workspace()?, queued, "reminders queued");
            Ok(())
        })
    });
    registry.schedule::<SendReminders>(DAY);
    registry.register(|ctx, _run, _job: PruneRecords| Box::pin(prune_records(ctx)));
    registry.schedule::<PruneRecords>(DAY);
    registry.register(|ctx, run, job: protection::RemindProtectionEnding| {
        Box::pin(async move { protection::remind(ctx, run.workspace()?, &job).await })
    });
    registry.register(|ctx, run, job: protection::ExpireProtection| {
        Box::pin(async move { protection::expire(ctx, run.workspace()?, &job).await })
    });
    registry
        .register(|ctx, run, job: routing::OfferNewLead| Box::pin(async move { routing::offer_new(ctx, run.workspace()?, &job).await }))
        .register(|ctx, run, job: routing::ExpireLeadOffer| Box::pin(async move { routing::expire(ctx, run.workspace()?, &job).await }));
    registry
        .register(|ctx, run, job: routing::RemindLeadOffer| Box::pin(async move { routing::remind(ctx, run.workspace()?, &job).await }));
    registry.register(|ctx, _run, job: RefreshLeadMatching| Box::pin(fan_out(ctx, job.period_start, RefreshLeadMatchingInWorkspace {})));
    registry.register(|ctx, run, _job: RefreshLeadMatchingInWorkspace| {
        Box::pin(async move {
            let workspace = run.workspace()?;
            let records = routing::refresh_stats(ctx, workspace).await?;
            let refits = trellis_leads::refit::refit_all(ctx, workspace).await?;
            tracing::info!(workspace = %workspace, records, refits = refits.len(), adopted = refits.iter().filter(|r| r.adopted).count(), "lead matching refreshed");
            Ok(())
        })
    });
    registry.schedule::<RefreshLeadMatching>(DAY);
    registry.register(|ctx, run, _job: commissions::ReleaseDueCommissions| {
        Box::pin(async move {
            let released = commissions::release_due(ctx, run.workspace()?).await?;
            tracing::info!(workspace = %run.workspace()?, released, "commissions released");
            Ok(())
        })
    });
    registry.register(|ctx, run, job: commissions::ReleaseLicenceHolds| {
        Box::pin(async move {
            let released = commissions::release_licence_holds(ctx, run.workspace()?, &job).await?;
            tracing::info!(workspace = %run.workspace()?, released, "licence holds released");
            Ok(())
        })
    });
    registry
}

/// Enqueues `job` once per workspace for the period that starts at `period_start` (idempotent:
/// the dedupe key names the workspace and the period, so a re-run of the fan-out adds nothing).
async fn fan_out<J: Job>(ctx: &Ctx, period_start: Timestamp, job: J) -> Result<()> {
    let now = ctx.now();
    let mut tx = ctx.db().write_granted(&trellis_jobs::JOB_WORKER).await?;
    let workspaces = tx.fetch_all(sql!("SELECT id FROM workspaces ORDER BY id")).await?;
    for row in workspaces {
        let workspace_id: WorkspaceId = row.get("id")?;
        let dedupe_key = format!("{}:{workspace_id}:{period_start}", J::KIND);
        enqueue(&mut tx, &job, JobOptions::in_workspace(&workspace_id, now).dedupe_key(dedupe_key), now).await?;
    }
    tx.commit().await?;
    Ok(())
}
