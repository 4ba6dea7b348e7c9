//! The background work of the binary: the job handlers and periodic schedules of every
//! capability, registered in one place. `trellis serve` and `trellis demo` run them with
//! `trellis_jobs::spawn_worker`; `TestApp` uses the same registry and drains it on demand.
//!
//! Periodic work is instance-wide once per period (`Registry::schedule`) and fans out into one
//! job per workspace, each with a dedupe key naming the workspace and the period, so that every
//! workspace is handled once per period however many processes run workers.

use serde_json::json;
use trellis_core::{Result, WorkspaceId};
use trellis_db::{RowSecurity, sql};
use trellis_identity::Ctx;
use trellis_jobs::{DAY, Job, Mailer, NewJob, Registry, enqueue};

/// Daily: re-evaluates every enrollment's tier (promotions, demotions, notifications).
const EVALUATE_TIERS: &str = "evaluate_tiers";
const EVALUATE_TIERS_IN_WORKSPACE: &str = "evaluate_tiers_in_workspace";
/// Daily: licence expiry and contract renewal reminders (each sent once).
const SEND_REMINDERS: &str = "send_reminders";
const SEND_REMINDERS_IN_WORKSPACE: &str = "send_reminders_in_workspace";

/// Every job handler and schedule, delivering email with `mailer`.
pub fn registry(mailer: Mailer) -> Registry {
    let mut registry = Registry::new(mailer);
    registry.register(EVALUATE_TIERS, |ctx, job| Box::pin(fan_out(ctx, job, EVALUATE_TIERS_IN_WORKSPACE)));
    registry.register(EVALUATE_TIERS_IN_WORKSPACE, |ctx, job| {
        Box::pin(async move {
            let summary = trellis_partners::evaluation::evaluate_all(ctx, job.workspace()?).await?;
            tracing::info!(workspace = %job.workspace()?, promoted = summary.promoted, "tiers evaluated");
            Ok(())
        })
    });
    registry.schedule(EVALUATE_TIERS, DAY);
    registry.register(SEND_REMINDERS, |ctx, job| Box::pin(fan_out(ctx, job, SEND_REMINDERS_IN_WORKSPACE)));
    registry.register(SEND_REMINDERS_IN_WORKSPACE, |ctx, job| {
        Box::pin(async move {
            let queued = trellis_partners::reminders::send_due_reminders(ctx, job.workspace()?).await?;
            tracing::info!(workspace = %job.workspace()?, queued, "reminders queued");
            Ok(())
        })
    });
    registry.schedule(SEND_REMINDERS, DAY);
    registry
}

/// Enqueues one `kind` job per workspace for the period of the scheduled `job` (idempotent: the
/// dedupe key names the workspace and the period, so a re-run of the fan-out adds nothing).
async fn fan_out(ctx: &Ctx, job: &Job, kind: &'static str) -> Result<()> {
    let period = job.payload.get("period_start").and_then(|p| p.as_str()).unwrap_or("now").to_owned();
    let now = ctx.now();
    let mut tx = ctx.db.write(&RowSecurity::Unrestricted).await?;
    let workspaces = tx.fetch_all(sql!("SELECT id FROM workspaces ORDER BY id")).await?;
    for row in workspaces {
        let workspace_id: WorkspaceId = row.get("id")?;
        let dedupe_key = Some(format!("{kind}:{workspace_id}:{period}"));
        enqueue(&mut tx, NewJob { workspace_id: Some(workspace_id), kind, payload: json!({}), run_at: now, dedupe_key }, now).await?;
    }
    tx.commit().await?;
    Ok(())
}
