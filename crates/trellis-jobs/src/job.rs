//! What a job is — a kind name and a typed payload ([`Job`]) — and [`enqueue`], which inserts one
//! inside the caller's transaction: a transactional outbox, so a rolled-back change enqueues
//! nothing and a committed one cannot lose its job.

use serde::Serialize;
use serde::de::DeserializeOwned;
use trellis_core::{Error, Result, Timestamp, WorkspaceId};
use trellis_db::{Db, Tx, sql};

/// A kind of background work. The value is the payload: it is stored as JSON in the job's row and
/// decoded again for the handler the binary registered for it ([`crate::Registry::register`]).
///
/// Rows already queued hold this kind and this JSON shape: renaming [`Job::KIND`] or a field
/// leaves them undecodable (each fails with the decode error), so either needs a migration that
/// rewrites the stored rows.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The `kind` stored with the job, unique among the application's jobs, e.g. `send_email`.
    const KIND: &'static str;
}

/// A job that a schedule enqueues once per period ([`crate::Registry::schedule`]).
pub trait ScheduledJob: Job {
    /// The job of the period that starts at `period_start`.
    fn for_period(period_start: Timestamp) -> Self;
}

/// What the worker and the handlers need of the application's context. The binary's context
/// (`trellis_identity::Ctx`) implements it, so this crate knows nothing above the database.
pub trait JobContext: Clone + Send + Sync + 'static {
    fn db(&self) -> &Db;
    fn now(&self) -> Timestamp;
}

/// Where and when an enqueued job runs.
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// The workspace the job works for (`None` for instance-wide work such as a schedule); the
    /// handler reads it with [`crate::JobRun::workspace`].
    pub workspace_id: Option<WorkspaceId>,
    /// Not before this time.
    pub run_at: Timestamp,
    /// A job with a dedupe key is enqueued at most once, ever (e.g. `licence_reminder:lic_…:30`).
    pub dedupe_key: Option<String>,
}

impl JobOptions {
    /// Instance-wide work, due at `run_at`, without a dedupe key.
    pub fn instance_wide(run_at: Timestamp) -> Self {
        Self { workspace_id: None, run_at, dedupe_key: None }
    }

    /// Work for `workspace_id`, due at `run_at`, without a dedupe key.
    pub fn in_workspace(workspace_id: &WorkspaceId, run_at: Timestamp) -> Self {
        Self { workspace_id: Some(workspace_id.clone()), run_at, dedupe_key: None }
    }

    /// The same options, enqueued at most once per `key`.
    pub fn dedupe_key(self, key: impl Into<String>) -> Self {
        Self { dedupe_key: Some(key.into()), ..self }
    }
}

/// Enqueues `job` inside `tx`; with a dedupe key already used, nothing happens and the answer is
/// false.
pub async fn enqueue<J: Job>(tx: &mut Tx, job: &J, options: JobOptions, now: Timestamp) -> Result<bool> {
    insert(tx, J::KIND, &encode(job)?, options, now).await
}

pub(crate) fn encode<J: Job>(job: &J) -> Result<String> {
    serde_json::to_string(job).map_err(|e| Error::Internal(format!("the payload of a {} job does not encode: {e}", J::KIND)))
}

pub(crate) async fn insert(tx: &mut Tx, kind: &str, payload: &str, options: JobOptions, now: Timestamp) -> Result<bool> {
    let inserted = tx
        .execute(sql!(
            "INSERT INTO jobs (workspace_id, kind, payload, dedupe_key, status, run_at, created_at) VALUES ($1, $2, $3, $4, 'queued', $5, $6)
             ON CONFLICT (dedupe_key) DO NOTHING",
            options.workspace_id,
            kind,
            payload,
            options.dedupe_key,
            options.run_at,
            now
        ))
        .await?;
    Ok(inserted == 1)
}
