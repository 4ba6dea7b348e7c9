//! Background work on the same database: a durable job queue (idempotent jobs, retries with
//! backoff, failures kept visible), periodic schedules, and transactional email over SMTP.
//!
//! - **Jobs are typed**: a [`Job`] is a kind name and a payload struct, stored as JSON in the
//!   job's row. The binary registers one handler per job type in a [`Registry`]; the payload is
//!   decoded before the handler runs, and one that does not decode fails the attempt with the
//!   decode error (docs/decisions/0007-typed-jobs-below-identity.md).
//! - **Enqueueing** happens inside the transaction of the change that causes the work
//!   ([`enqueue`], [`queue_email`]), so a rolled-back change enqueues nothing.
//! - **Running**: [`run_due_jobs`] claims due jobs one at a time with one atomic statement
//!   (`UPDATE … RETURNING`; `FOR UPDATE SKIP LOCKED` on PostgreSQL), runs the handler registered
//!   for the job's kind in a [`Registry`], and marks the job done — or stores the error and
//!   re-queues it with exponential backoff and jitter until its last attempt, after which it stays
//!   `failed` for the console. A job whose worker died is claimed again when its lock expires.
//!   Any number of processes may run workers on one database.
//! - **Schedules**: [`enqueue_scheduled`] enqueues each periodic job once per period, with a dedupe
//!   key naming the period, however many processes tick.
//! - **Email**: the [`SendEmail`] handler delivers an outbox row with the [`Mailer`] (SMTP through
//!   lettre and rustls), or leaves it in the outbox, visible in the console, when no SMTP server
//!   is configured.
//!
//! `trellis serve` and `trellis demo` run [`spawn_worker`] (one tick a second). Tests do not: they
//! drain the queue with [`run_due_jobs`] at the moments they choose, with the manual clock.
//! This crate depends on `trellis-core` and `trellis-db` only (CI checks it): the worker and the
//! handlers get the application's context through [`JobContext`], handlers are registered by the
//! binary (`trellis-server`), and what owners and admins see of the queue (it needs the request
//! scope) is `trellis_identity::background_work`.

pub mod email;
mod job;
mod outbox;
mod worker;

pub use email::{Mailer, SmtpConfig, SmtpSecurity};
pub use job::{Job, JobContext, JobOptions, ScheduledJob, enqueue};
pub use outbox::{NewEmail, SendEmail, queue_delivery_again, queue_email, queue_email_with_secret};
pub use worker::{
    DAY, HOUR, JOB_WORKER, JobFuture, JobRun, POLL_INTERVAL, RETRY_BASE_SECONDS, RETRY_MAX_SECONDS, Registry, enqueue_scheduled,
    prune_finished, retry_delay_range, run_due_jobs, spawn_worker,
};

/// The system grants this crate declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&trellis_db::SystemGrant] = &[&JOB_WORKER];
