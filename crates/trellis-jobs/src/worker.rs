//! Claiming, running, retrying and scheduling jobs.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use trellis_core::{Error, Result, Timestamp, WorkspaceId};
use trellis_db::{Backend, Row, Sql, SystemGrant, sql};

use crate::email::{self, Mailer};
use crate::job::{self, Job, JobContext, JobOptions, ScheduledJob};
use crate::outbox::SendEmail;

/// Background work runs for no person: the worker claims jobs of every workspace and delivers
/// their emails (jobs and emails are not partner-owned), and the binary's fan-out handlers read
/// every workspace.
pub const JOB_WORKER: SystemGrant = SystemGrant {
    name: "job_worker",
    reason: "background work runs for no person: claiming, running and retrying jobs of every workspace, delivering emails, fanning out scheduled runs",
};

/// How often the background worker looks for due jobs and schedules.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The wait before the first retry; it doubles with every further attempt…
pub const RETRY_BASE_SECONDS: i64 = 30;
/// …up to this.
pub const RETRY_MAX_SECONDS: i64 = 3600;
/// Schedule periods.
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 24 * HOUR;
/// How long a claimed job stays locked to its worker; after that it counts as abandoned (the
/// worker died) and another worker claims it again.
const LOCK_SECONDS: i64 = 600;
/// A handler running longer than this is stopped and counted as failed (well inside the lock).
const HANDLER_TIMEOUT: Duration = Duration::from_secs(300);

/// The claimed run of a job, as its handler sees it beside the decoded payload: which job, for
/// which workspace, which attempt.
#[derive(Debug, Clone)]
pub struct JobRun {
    pub id: i64,
    pub workspace_id: Option<WorkspaceId>,
    pub kind: String,
    /// 1 on the first run, 2 on the first retry, …
    pub attempt: i64,
    pub max_attempts: i64,
}

impl JobRun {
    /// True when a failure now makes the job `failed` rather than retried.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }

    /// The workspace the job works for; an error for instance-wide jobs.
    pub fn workspace(&self) -> Result<&WorkspaceId> {
        self.workspace_id.as_ref().ok_or_else(|| Error::Internal(format!("job {} ({}) has no workspace", self.id, self.kind)))
    }
}

/// What a handler returns: a boxed future borrowing the context and the run.
pub type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// A registered handler with the payload still undecoded: decoding is part of the run, so a
/// payload that does not decode fails that run like any other error.
type Handler<C> = Arc<dyn for<'a> Fn(&'a C, &'a JobRun, &'a str) -> JobFuture<'a> + Send + Sync>;

fn erase<C, F>(handler: F) -> Handler<C>
where
    F: for<'a> Fn(&'a C, &'a JobRun, &'a str) -> JobFuture<'a> + Send + Sync + 'static,
{
    Arc::new(handler)
}

struct Schedule {
    kind: &'static str,
    every_seconds: i64,
    /// The encoded job of the period that starts at the given time.
    payload: fn(Timestamp) -> Result<String>,
}

fn scheduled_payload<J: ScheduledJob>(period_start: Timestamp) -> Result<String> {
    job::encode(&J::for_period(period_start))
}

/// The handlers of job types and the periodic schedules, built once by the binary, for the
/// application's context `C`.
///
/// ```ignore
/// let mut registry = Registry::new(mailer);
/// registry.register(|ctx, _run, job: EvaluateTiers| Box::pin(fan_out(ctx, job.period_start)));
/// registry.schedule::<EvaluateTiers>(DAY);
/// ```
pub struct Registry<C> {
    handlers: HashMap<&'static str, Handler<C>>,
    schedules: Vec<Schedule>,
}

impl<C: JobContext> Registry<C> {
    /// A registry with the [`SendEmail`] handler, delivering with `mailer`.
    pub fn new(mailer: Mailer) -> Self {
        let mut registry = Self { handlers: HashMap::new(), schedules: Vec::new() };
        let mailer = Arc::new(mailer);
        registry.register(move |ctx, run, job: SendEmail| {
            let mailer = mailer.clone();
            Box::pin(async move { email::deliver(ctx, &mailer, run, job).await })
        });
        registry
    }

    /// Runs `handler` for jobs of type `J`, with the payload decoded; a payload that does not
    /// decode fails the attempt with the decode error. A handler must be idempotent: a job runs
    /// at least once, and again after a failure or when its worker died before marking it done.
    pub fn register<J: Job, F>(&mut self, handler: F) -> &mut Self
    where
        F: for<'a> Fn(&'a C, &'a JobRun, J) -> JobFuture<'a> + Send + Sync + 'static,
    {
        let decoding = erase(move |ctx: &C, run: &JobRun, payload: &str| match serde_json::from_str::<J>(payload) {
            Ok(job) => handler(ctx, run, job),
            Err(err) => {
                let message = format!("the payload of job {} ({}) does not decode: {err}", run.id, run.kind);
                Box::pin(std::future::ready(Err(Error::Internal(message))))
            }
        });
        self.handlers.insert(J::KIND, decoding);
        self
    }

    /// Enqueues a job of type `J` (instance-wide, empty of workspace) once per period of
    /// `every_seconds`, counted from the Unix epoch in UTC: with [`DAY`], once per UTC day. A
    /// handler that works per workspace fans out by enqueueing one job per workspace with a dedupe
    /// key naming the workspace and the period.
    pub fn schedule<J: ScheduledJob>(&mut self, every_seconds: i64) -> &mut Self {
        assert!(every_seconds > 0, "a schedule's period must be positive");
        self.schedules.push(Schedule { kind: J::KIND, every_seconds, payload: scheduled_payload::<J> });
        self
    }

    fn handler(&self, kind: &str) -> Option<Handler<C>> {
        self.handlers.get(kind).cloned()
    }
}

/// The wait before retrying after failed attempt number `attempt` (1-based), as the range the
/// jitter picks from: `[d, d + d/4]` with `d = min(30 s × 2^(attempt-1), 1 h)`.
pub fn retry_delay_range(attempt: i64) -> (i64, i64) {
    let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let base = RETRY_BASE_SECONDS.saturating_mul(1_i64 << doublings).min(RETRY_MAX_SECONDS);
    (base, base + base / 4)
}

/// The time of the next attempt: spread over the jitter range so that jobs failing together
/// (an SMTP outage) do not all come back in the same second.
fn next_attempt_at(now: Timestamp, attempt: i64) -> Timestamp {
    let (low, high) = retry_delay_range(attempt);
    let micros = rand::rng().random_range(low * 1_000_000..=high * 1_000_000);
    Timestamp::from_micros(now.micros().saturating_add(micros))
}

/// Runs every job that is due now, one after another, and returns how many ran (failed runs
/// included). Jobs a handler enqueues as due now run in the same call; retries wait for their
/// backoff, so with a clock that stands still the call always ends.
pub async fn run_due_jobs<C: JobContext>(ctx: &C, registry: &Registry<C>) -> Result<usize> {
    let mut processed = 0;
    while let Some(job) = claim_next(ctx).await? {
        run_claimed(ctx, registry, job).await?;
        processed += 1;
    }
    Ok(processed)
}

/// Whether anything is due: a cheap read first, so an idle worker never takes the SQLite writer.
async fn anything_due<C: JobContext>(ctx: &C, now: Timestamp) -> Result<bool> {
    let mut tx = ctx.db().read_granted(&JOB_WORKER).await?;
    let due = tx
        .fetch_optional(sql!(
            "SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $1) OR (status = 'running' AND locked_until <= $1) LIMIT 1",
            now
        ))
        .await?
        .is_some();
    tx.commit().await?;
    Ok(due)
}

/// Claims the job due first, atomically: concurrent workers never get the same job. A running job
/// whose lock expired (its worker died) is claimed again, and that is noted as its error.
async fn claim_next<C: JobContext>(ctx: &C) -> Result<Option<Claimed>> {
    let now = ctx.now();
    if !anything_due(ctx, now).await? {
        return Ok(None);
    }
    let locked_until = now.plus_seconds(LOCK_SECONDS);
    let mut tx = ctx.db().write_granted(&JOB_WORKER).await?;
    // SQLite needs no row lock: the whole statement runs inside the single writer's
    // BEGIN IMMEDIATE transaction.
    let claim = match tx.backend() {
        Backend::Postgres => sql!(
            "UPDATE jobs SET status = 'running', locked_until = $2, attempts = attempts + 1,
                 last_error = CASE WHEN status = 'running' THEN 'the worker running it stopped before finishing' ELSE last_error END
             WHERE id = (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $1) OR (status = 'running' AND locked_until <= $1)
                         ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING id, workspace_id, kind, payload, attempts, max_attempts",
            now,
            locked_until
        ),
        Backend::Sqlite => sql!(
            "UPDATE jobs SET status = 'running', locked_until = $2, attempts = attempts + 1,
                 last_error = CASE WHEN status = 'running' THEN 'the worker running it stopped before finishing' ELSE last_error END
             WHERE id = (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $1) OR (status = 'running' AND locked_until <= $1)
                         ORDER BY run_at, id LIMIT 1)
             RETURNING id, workspace_id, kind, payload, attempts, max_attempts",
            now,
            locked_until
        ),
    };
    let row = tx.fetch_optional(claim).await?;
    tx.commit().await?;
    row.map(|row| claimed_from_row(&row)).transpose()
}

/// A claimed job: its run and its payload as stored.
struct Claimed {
    run: JobRun,
    payload: String,
}

fn claimed_from_row(row: &Row) -> Result<Claimed> {
    Ok(Claimed {
        run: JobRun {
            id: row.get("id")?,
            workspace_id: row.get("workspace_id")?,
            kind: row.get("kind")?,
            attempt: row.get("attempts")?,
            max_attempts: row.get("max_attempts")?,
        },
        payload: row.get("payload")?,
    })
}

/// The message stored for a failed attempt.
fn describe(err: &Error) -> String {
    match err {
        Error::Internal(detail) => detail.clone(),
        other => other.to_string(),
    }
}

/// Runs a claimed job's handler on its own task (a panic or a hang fails the attempt, not the
/// worker) and records the outcome.
async fn run_claimed<C: JobContext>(ctx: &C, registry: &Registry<C>, claimed: Claimed) -> Result<()> {
    let Claimed { run: job, payload } = claimed;
    let outcome = if job.attempt > job.max_attempts {
        // Claimed again after its worker died on the last attempt: nothing left to try.
        Err("the worker running its last attempt stopped before finishing".to_owned())
    } else {
        match registry.handler(&job.kind) {
            None => Err(format!("no handler is registered for the job kind {:?}", job.kind)),
            Some(handler) => {
                let (task_ctx, task_job) = (ctx.clone(), job.clone());
                let task = tokio::spawn(async move { handler(&task_ctx, &task_job, &payload).await });
                let abort = task.abort_handle();
                match tokio::time::timeout(HANDLER_TIMEOUT, task).await {
                    Ok(Ok(Ok(()))) => Ok(()),
                    Ok(Ok(Err(err))) => Err(describe(&err)),
                    Ok(Err(join_error)) => Err(format!("the handler stopped: {join_error}")),
                    Err(_) => {
                        abort.abort();
                        Err(format!("the handler ran longer than {} seconds", HANDLER_TIMEOUT.as_secs()))
                    }
                }
            }
        }
    };
    let now = ctx.now();
    let mut tx = ctx.db().write_granted(&JOB_WORKER).await?;
    // `attempts = $2`: if the lock expired meanwhile and another worker claimed the job again,
    // that worker's outcome is the one that counts.
    match &outcome {
        Ok(()) => {
            tx.execute(sql!(
                "UPDATE jobs SET status = 'done', finished_at = $3, locked_until = NULL WHERE id = $1 AND status = 'running' AND attempts = $2",
                job.id,
                job.attempt,
                now
            ))
            .await?;
        }
        Err(message) if job.attempt >= job.max_attempts => {
            tracing::error!(job = job.id, kind = %job.kind, attempt = job.attempt, error = %message, "job failed for good");
            tx.execute(sql!(
                "UPDATE jobs SET status = 'failed', finished_at = $3, locked_until = NULL, last_error = $4
                 WHERE id = $1 AND status = 'running' AND attempts = $2",
                job.id,
                job.attempt,
                now,
                message
            ))
            .await?;
        }
        Err(message) => {
            let retry_at = next_attempt_at(now, job.attempt);
            tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempt, error = %message, retry_at = %retry_at, "job failed; retrying later");
            tx.execute(sql!(
                "UPDATE jobs SET status = 'queued', run_at = $3, locked_until = NULL, last_error = $4
                 WHERE id = $1 AND status = 'running' AND attempts = $2",
                job.id,
                job.attempt,
                retry_at,
                message
            ))
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Enqueues the periodic jobs of the current period that are not enqueued yet and returns how
/// many it added. Safe to call from every process at any rate: the dedupe key names the period.
pub async fn enqueue_scheduled<C: JobContext>(ctx: &C, registry: &Registry<C>) -> Result<usize> {
    if registry.schedules.is_empty() {
        return Ok(0);
    }
    let now = ctx.now();
    // Each schedule's job of the current period, with the dedupe key naming the period.
    let wanted: Vec<(&Schedule, Timestamp, String)> = registry
        .schedules
        .iter()
        .map(|schedule| {
            let period = schedule.every_seconds * 1_000_000;
            let start = Timestamp::from_micros(now.micros().div_euclid(period) * period);
            (schedule, start, format!("schedule:{}:{start}", schedule.kind))
        })
        .collect();
    let keys: Vec<&String> = wanted.iter().map(|(_, _, key)| key).collect();
    let mut query = Sql::build("SELECT dedupe_key FROM jobs WHERE dedupe_key IN ");
    query.push_in_list(&keys);
    let mut tx = ctx.db().read_granted(&JOB_WORKER).await?;
    let existing: BTreeSet<String> =
        tx.fetch_all(query).await?.iter().map(|row| row.get::<String>("dedupe_key")).collect::<Result<_, _>>()?;
    tx.commit().await?;
    let missing: Vec<_> = wanted.into_iter().filter(|(_, _, key)| !existing.contains(key)).collect();
    if missing.is_empty() {
        return Ok(0);
    }
    let mut tx = ctx.db().write_granted(&JOB_WORKER).await?;
    let mut added = 0;
    for (schedule, start, key) in missing {
        let payload = (schedule.payload)(start)?;
        if job::insert(&mut tx, schedule.kind, &payload, JobOptions::instance_wide(now).dedupe_key(key), now).await? {
            added += 1;
        }
    }
    tx.commit().await?;
    Ok(added)
}

/// Starts the background worker: every [`POLL_INTERVAL`] it enqueues due schedules and runs due
/// jobs. Errors (a database restart) are logged and the next tick tries again.
pub fn spawn_worker<C: JobContext>(ctx: C, registry: Arc<Registry<C>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = enqueue_scheduled(&ctx, &registry).await {
                tracing::warn!(%err, "could not enqueue scheduled jobs");
            }
            if let Err(err) = run_due_jobs(&ctx, &registry).await {
                tracing::warn!(%err, "the job worker stopped early; it tries again in a second");
            }
        }
    })
}

/// Jobs that ran to completion are kept this long (the console's recent work)…
pub const DONE_JOBS_KEPT_DAYS: i64 = 14;
/// …and jobs that failed for good this long, for someone to look into.
pub const FAILED_JOBS_KEPT_DAYS: i64 = 90;

/// Deletes finished jobs older than [`DONE_JOBS_KEPT_DAYS`] (done) or [`FAILED_JOBS_KEPT_DAYS`]
/// (failed), a batch at a time through the `finished_at` index. A pruned job's dedupe key is free
/// again: every key names its period or its object, so nothing already done comes back.
pub async fn prune_finished<C: JobContext>(ctx: &C, batch: i64) -> Result<u64> {
    let now = ctx.now();
    let done_before = now.plus_seconds(-DONE_JOBS_KEPT_DAYS * DAY);
    let failed_before = now.plus_seconds(-FAILED_JOBS_KEPT_DAYS * DAY);
    let done = ctx
        .db()
        .delete_in_batches(&JOB_WORKER, batch, |batch| {
            sql!(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < $1 AND status = 'done' ORDER BY finished_at LIMIT $2)",
                done_before,
                batch
            )
        })
        .await?;
    let failed = ctx
        .db()
        .delete_in_batches(&JOB_WORKER, batch, |batch| {
            sql!(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < $1 AND status = 'failed' ORDER BY finished_at LIMIT $2)",
                failed_before,
                batch
            )
        })
        .await?;
    Ok(done + failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_an_hour() {
        assert_eq!(retry_delay_range(1), (30, 37));
        assert_eq!(retry_delay_range(2), (60, 75));
        assert_eq!(retry_delay_range(3), (120, 150));
        assert_eq!(retry_delay_range(8), (3600, 4500));
        assert_eq!(retry_delay_range(80), (3600, 4500));
    }
}
