//! What workspace owners and admins see of background work: the email outbox (newest first, with
//! status and last error), the workspace's jobs, and the actions that try again — sending an
//! email again and retrying a failed job. The API and the console both call these.
//!
//! The queue itself is `trellis-jobs`, below this crate; these functions live here because they
//! take the request [`Scope`] and record audit events (docs/decisions/0007-typed-jobs-below-identity.md).

use trellis_core::{EmailId, Error, Page, Result, Timestamp, VendorRole, page};
use trellis_db::{Row, Sql, Tx, sql};
use trellis_jobs::{Job, SendEmail, queue_delivery_again};

use crate::Ctx;
use crate::audit::{self, AuditEntry};
use crate::scope::Scope;

/// Email statuses: waiting for the sender, delivered, given up after retries, kept in the outbox
/// because no SMTP server is configured.
pub const EMAIL_STATUSES: &[&str] = &["queued", "sent", "failed", "outbox"];
/// Job statuses.
pub const JOB_STATUSES: &[&str] = &["queued", "running", "done", "failed"];

/// An email of the outbox, without its bodies.
#[derive(Debug, Clone)]
pub struct EmailSummary {
    pub id: EmailId,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// An email with its bodies (a delivered email's one-time link is replaced by a placeholder).
#[derive(Debug, Clone)]
pub struct EmailDetail {
    pub summary: EmailSummary,
    pub text_body: String,
    pub html_body: String,
}

/// Filters of the outbox list.
#[derive(Debug, Clone, Default)]
pub struct EmailFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    /// Emails older than this one (the cursor).
    pub before_id: Option<EmailId>,
    /// Emails on the page (50 unless named).
    pub limit: Option<i64>,
}

/// Who sees the workspace's emails and jobs: its owners and admins.
pub const READERS: &[VendorRole] = VendorRole::WORKSPACE_ADMINS;

/// Who sees the emails they caused themselves (`emails.caused_by_user_id`: the invitations,
/// approvals and decisions their own requests queued), and no other: channel managers, in the
/// console's outbox ([`list_own_emails`], [`get_own_email`]).
pub const OWN_EMAIL_READERS: &[VendorRole] = &[VendorRole::ChannelManager];

/// What may wait among the workspace's emails and jobs (the console home's work queues, which the
/// binary registers over [`backlog_in`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backlog {
    /// Emails given up after their retries.
    FailedEmails,
    /// Emails kept in the outbox because no SMTP server is configured.
    OutboxEmails,
    /// Jobs given up after their retries.
    FailedJobs,
}

/// How many emails or jobs of `backlog` wait, counting at most `cap` + 1 of them, inside the
/// caller's transaction; `None` unless the caller is an owner or admin. Each count reads the
/// (workspace, status, id) index of its table.
pub async fn backlog_in(tx: &mut Tx, scope: &Scope, backlog: Backlog, cap: i64) -> Result<Option<i64>> {
    if !scope.has_vendor_role(READERS) {
        return Ok(None);
    }
    let (table, status) = match backlog {
        Backlog::FailedEmails => ("emails", "failed"),
        Backlog::OutboxEmails => ("emails", "outbox"),
        Backlog::FailedJobs => ("jobs", "failed"),
    };
    let mut q = Sql::build("SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM ");
    q.push(table).push(" WHERE workspace_id = ").push_bind(scope.workspace_id()).push(" AND status = ").push_bind(status);
    q.push(" LIMIT ").push_bind(cap + 1).push(") capped");
    Ok(Some(tx.fetch_i64(q).await?))
}

fn require_admin(scope: &Scope) -> Result<()> {
    scope.require_vendor_role(READERS, "see the workspace's emails and background jobs")
}

fn check_status(status: Option<&str>, allowed: &[&str]) -> Result<()> {
    match status {
        Some(status) if !allowed.contains(&status) => Err(Error::invalid("status", format!("must be one of {}", allowed.join(", ")))),
        _ => Ok(()),
    }
}

fn summary_from_row(row: &Row) -> Result<EmailSummary> {
    Ok(EmailSummary {
        id: row.get("id")?,
        kind: row.get("kind")?,
        to: row.get("to_address")?,
        subject: row.get("subject")?,
        status: row.get("status")?,
        attempts: row.get("attempts")?,
        last_error: row.get("last_error")?,
        created_at: row.get("created_at")?,
        sent_at: row.get("sent_at")?,
    })
}

/// The workspace's emails, newest first (owner/admin).
pub async fn list_emails(ctx: &Ctx, scope: &Scope, filter: &EmailFilter) -> Result<Page<EmailSummary>> {
    require_admin(scope)?;
    query_emails(ctx, scope, filter, None).await
}

/// The caller's own emails, newest first: those their requests queued ([`OWN_EMAIL_READERS`];
/// 403 for other roles). Read through the (workspace, caused_by_user_id, id) index.
pub async fn list_own_emails(ctx: &Ctx, scope: &Scope, filter: &EmailFilter) -> Result<Page<EmailSummary>> {
    let user_id = own_email_reader(scope)?;
    query_emails(ctx, scope, filter, Some(user_id)).await
}

/// The caller's user id, when their role sees their own emails; 403 otherwise.
fn own_email_reader(scope: &Scope) -> Result<&trellis_core::UserId> {
    scope.require_vendor_role(OWN_EMAIL_READERS, "see the emails you caused")?;
    scope.user_id().ok_or_else(|| Error::forbidden("only a person has emails of their own"))
}

/// The kinds of email the workspace has sent, sorted, for the outbox's picker (owners, admins and
/// [`OWN_EMAIL_READERS`]; kinds are names in the code, nothing of any email). Read from the
/// outbox rather than a list in the code, so the picker offers what can be found; the query walks
/// the (workspace, kind, id) index one kind at a time (a recursive "next greater value" probe), a
/// probe per kind whatever the number of emails.
pub async fn email_kinds(ctx: &Ctx, scope: &Scope) -> Result<Vec<String>> {
    if !scope.has_vendor_role(OWN_EMAIL_READERS) {
        require_admin(scope)?;
    }
    let mut q = Sql::build("WITH RECURSIVE v (value) AS (SELECT MIN(kind) FROM emails WHERE workspace_id = ");
    q.push_bind(scope.workspace_id());
    q.push(" UNION ALL SELECT (SELECT MIN(kind) FROM emails WHERE workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND kind > v.value) FROM v WHERE v.value IS NOT NULL) SELECT value FROM v WHERE value IS NOT NULL LIMIT 500");
    let mut tx = scope.read(ctx).await?;
    let kinds = tx.fetch_all(q).await?.iter().map(|row| Ok(row.get("value")?)).collect::<Result<Vec<String>>>()?;
    tx.commit().await?;
    Ok(kinds)
}

async fn query_emails(
    ctx: &Ctx,
    scope: &Scope,
    filter: &EmailFilter,
    caused_by: Option<&trellis_core::UserId>,
) -> Result<Page<EmailSummary>> {
    check_status(filter.status.as_deref(), EMAIL_STATUSES)?;
    let mut q = Sql::build(
        "SELECT id, kind, to_address, subject, status, attempts, last_error, created_at, sent_at FROM emails WHERE workspace_id = ",
    );
    q.push_bind(scope.workspace_id());
    if let Some(user_id) = caused_by {
        q.push(" AND caused_by_user_id = ").push_bind(user_id);
    }
    if let Some(status) = &filter.status {
        q.push(" AND status = ").push_bind(status);
    }
    if let Some(kind) = &filter.kind {
        q.push(" AND kind = ").push_bind(kind);
    }
    if let Some(before) = &filter.before_id {
        q.push(" AND id < ").push_bind(before);
    }
    // Ids are time-ordered (UUIDv7), so id order is creation order and the cursor is an id.
    q.push(" ORDER BY id DESC LIMIT ").push_bind(page::fetch_limit(filter.limit));
    let mut tx = scope.read(ctx).await?;
    let rows = tx.fetch_all(q).await?;
    tx.commit().await?;
    let emails = rows.iter().map(summary_from_row).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(emails, filter.limit, |e| e.id.to_string()))
}

/// One email with its bodies (owner/admin).
pub async fn get_email(ctx: &Ctx, scope: &Scope, id: &EmailId) -> Result<EmailDetail> {
    require_admin(scope)?;
    fetch_email(ctx, scope, id, None).await
}

/// One of the caller's own emails with its bodies ([`OWN_EMAIL_READERS`]); another's is not found.
pub async fn get_own_email(ctx: &Ctx, scope: &Scope, id: &EmailId) -> Result<EmailDetail> {
    let user_id = own_email_reader(scope)?;
    fetch_email(ctx, scope, id, Some(user_id)).await
}

async fn fetch_email(ctx: &Ctx, scope: &Scope, id: &EmailId, caused_by: Option<&trellis_core::UserId>) -> Result<EmailDetail> {
    let mut q = Sql::build(
        "SELECT id, kind, to_address, subject, status, attempts, last_error, created_at, sent_at, text_body, html_body, secret
         FROM emails WHERE workspace_id = ",
    );
    q.push_bind(scope.workspace_id()).push(" AND id = ").push_bind(id);
    if let Some(user_id) = caused_by {
        q.push(" AND caused_by_user_id = ").push_bind(user_id);
    }
    let mut tx = scope.read(ctx).await?;
    let row = tx.fetch_optional(q).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    let (mut text_body, mut html_body): (String, String) = (row.get("text_body")?, row.get("html_body")?);
    // A password reset link is the account's owner's alone: an admin who read it in the outbox
    // could take the account over (ADR 0023). The link is hidden until delivery removes it.
    let secret: Option<String> = row.get("secret")?;
    if let Some(secret) = secret.filter(|_| row.get::<String>("kind").is_ok_and(|kind| kind == crate::password_reset::RESET_EMAIL_KIND)) {
        text_body = text_body.replace(&secret, HIDDEN_RESET_LINK);
        html_body = html_body.replace(&secret, HIDDEN_RESET_LINK);
    }
    Ok(EmailDetail { summary: summary_from_row(&row)?, text_body, html_body })
}

/// What the outbox shows instead of a password reset link.
pub const HIDDEN_RESET_LINK: &str = "[hidden: only the account's owner may use this link]";

/// Sends a failed email, or one kept in the outbox, again: it is queued with a fresh delivery job
/// (owner/admin). Delivered or still queued emails are a conflict.
pub async fn resend_email(ctx: &Ctx, scope: &Scope, id: &EmailId) -> Result<()> {
    require_admin(scope)?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let row = tx
        .fetch_optional(sql!("SELECT status FROM emails WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), id))
        .await?
        .ok_or(Error::NotFound)?;
    let status: String = row.get("status")?;
    if status != "failed" && status != "outbox" {
        return Err(Error::conflict(format!("only a failed email or one kept in the outbox can be sent again; this one is {status}")));
    }
    tx.execute(sql!("UPDATE emails SET status = 'queued' WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), id)).await?;
    queue_delivery_again(&mut tx, scope.workspace_id(), id, now).await?;
    audit::record(&mut tx, scope, now, AuditEntry::new("email.resent", "email", id.as_str()).change("status", status, "queued")).await?;
    tx.commit().await?;
    Ok(())
}

/// A job of the workspace.
#[derive(Debug, Clone)]
pub struct JobSummary {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub payload: String,
}

/// Filters of the job list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<String>,
    /// Jobs enqueued before this one (the cursor).
    pub before_id: Option<i64>,
    /// Jobs on the page (50 unless named).
    pub limit: Option<i64>,
}

/// The workspace's jobs, newest first (owner/admin). Instance-wide jobs (schedules) belong to no
/// workspace and are not listed; their failures are logged.
pub async fn list_jobs(ctx: &Ctx, scope: &Scope, filter: &JobFilter) -> Result<Page<JobSummary>> {
    require_admin(scope)?;
    check_status(filter.status.as_deref(), JOB_STATUSES)?;
    let mut q = Sql::build(
        "SELECT id, kind, status, attempts, max_attempts, run_at, last_error, created_at, finished_at, payload FROM jobs WHERE workspace_id = ",
    );
    q.push_bind(scope.workspace_id());
    if let Some(status) = &filter.status {
        q.push(" AND status = ").push_bind(status);
    }
    if let Some(before) = filter.before_id {
        q.push(" AND id < ").push_bind(before);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(page::fetch_limit(filter.limit));
    let mut tx = scope.read(ctx).await?;
    let rows = tx.fetch_all(q).await?;
    tx.commit().await?;
    let jobs = rows
        .iter()
        .map(|row| {
            Ok(JobSummary {
                id: row.get("id")?,
                kind: row.get("kind")?,
                status: row.get("status")?,
                attempts: row.get("attempts")?,
                max_attempts: row.get("max_attempts")?,
                run_at: row.get("run_at")?,
                last_error: row.get("last_error")?,
                created_at: row.get("created_at")?,
                finished_at: row.get("finished_at")?,
                payload: row.get("payload")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(jobs, filter.limit, |j| j.id.to_string()))
}

/// Retries a failed job of the workspace once more, now (owner/admin). An email it delivers goes
/// back to `queued`.
pub async fn retry_job(ctx: &Ctx, scope: &Scope, id: i64) -> Result<()> {
    require_admin(scope)?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let row = tx
        .fetch_optional(sql!("SELECT kind, status, payload FROM jobs WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), id))
        .await?
        .ok_or(Error::NotFound)?;
    let (kind, status, payload): (String, String, String) = (row.get("kind")?, row.get("status")?, row.get("payload")?);
    if status != "failed" {
        return Err(Error::conflict(format!("only a failed job can be retried; this one is {status}")));
    }
    // One more attempt: a failure ends it as failed again, with the new error.
    tx.execute(sql!(
        "UPDATE jobs SET status = 'queued', run_at = $3, max_attempts = attempts + 1, finished_at = NULL WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        id,
        now
    ))
    .await?;
    if kind == SendEmail::KIND {
        // A payload that does not decode names no email; the retried job fails with that error.
        if let Ok(SendEmail { email_id }) = serde_json::from_str(&payload) {
            tx.execute(sql!(
                "UPDATE emails SET status = 'queued' WHERE workspace_id = $1 AND id = $2 AND status = 'failed'",
                scope.workspace_id(),
                email_id
            ))
            .await?;
        }
    }
    audit::record(&mut tx, scope, now, AuditEntry::new("job.retried", "job", id.to_string()).set("kind", kind)).await?;
    tx.commit().await?;
    Ok(())
}
