//! Background work on the same database: a durable job queue (idempotent jobs, retries with
//! backoff, failures kept visible) and the email outbox. Jobs are enqueued inside the transaction
//! of the change that causes them (transactional outbox), so a rolled-back change sends nothing.
//!
//! Domain crates enqueue with [`enqueue`] and [`queue_email`]; the handlers of job kinds are
//! registered by the binary (`trellis-server`), so this crate depends on no domain crate.

pub mod email;

use trellis_core::{Result, Timestamp, WorkspaceId};
use trellis_db::{Tx, sql};

pub use email::{NewEmail, queue_email};

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub workspace_id: Option<WorkspaceId>,
    /// What to run, e.g. `send_email`, `evaluate_tiers`.
    pub kind: &'static str,
    pub payload: serde_json::Value,
    pub run_at: Timestamp,
    /// A job with a dedupe key is enqueued at most once (e.g. `licence_reminder:lic_…:30`).
    pub dedupe_key: Option<String>,
}

/// Enqueues a job inside `tx`; with a dedupe key already used, nothing happens.
pub async fn enqueue(tx: &mut Tx, job: NewJob, now: Timestamp) -> Result<()> {
    tx.execute(sql!(
        "INSERT INTO jobs (workspace_id, kind, payload, dedupe_key, status, run_at, created_at) VALUES ($1, $2, $3, $4, 'queued', $5, $6)
         ON CONFLICT (dedupe_key) DO NOTHING",
        job.workspace_id,
        job.kind,
        job.payload.to_string(),
        job.dedupe_key,
        job.run_at,
        now
    ))
    .await?;
    Ok(())
}
