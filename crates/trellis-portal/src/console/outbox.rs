//! `/console/outbox` and `/console/jobs`: the workspace's emails (newest first, with status and
//! last error, each readable in full) and its background jobs, with "send again" for an email that
//! failed or was kept in the outbox and "retry" for a failed job. Owners and admins see every
//! email; a channel manager sees the emails they caused (their invitations, approvals and
//! decisions) and nothing else; other staff get the 403 page, partner users the 404 page. Jobs and
//! "send again" stay with owners and admins.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{EmailId, Error, Page};
use trellis_identity::background_work::{self, EMAIL_STATUSES, EmailFilter, EmailSummary, JOB_STATUSES, JobFilter, JobSummary};
use trellis_web::AppState;

use crate::display;
use crate::forms::{Choice, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::listing::{PAGE_SIZE, page_url};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const OUTBOX: &str = "/console/outbox";
const JOBS: &str = "/console/jobs";
const FILTER_FIELDS: &[&str] = &["status", "kind"];

/// 403 for staff other than owners and admins (partner users never get here: the routes are
/// `StaffPage` and `StaffForm`).
fn require_admin(signed: &Signed) -> Result<(), Error> {
    signed.scope.require_workspace_admin("see the workspace's emails and background jobs")
}

/// Whether the caller sees every email (owner/admin) rather than only their own (channel manager).
fn sees_every_email(signed: &Signed) -> bool {
    signed.scope.has_vendor_role(background_work::READERS)
}

fn status_choices(statuses: &[&'static str]) -> Vec<Choice> {
    Choice::all_of(statuses, |s| s)
}

struct EmailRow {
    id: String,
    created: String,
    status: String,
    kind: String,
    to: String,
    subject: String,
    last_error: String,
}

impl From<EmailSummary> for EmailRow {
    fn from(e: EmailSummary) -> Self {
        Self {
            id: e.id.to_string(),
            created: display::time(e.created_at),
            status: e.status,
            kind: display::words(&e.kind),
            to: e.to,
            subject: e.subject,
            last_error: e.last_error.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/outbox.html")]
struct OutboxPage {
    layout: Layout,
    filters: FormView,
    statuses: Vec<Choice>,
    kinds: Vec<Choice>,
    /// Owners and admins: every email and the jobs; a channel manager: their own emails.
    everything: bool,
    emails: Vec<EmailRow>,
    next_page: Option<String>,
    first_page: Option<String>,
}

/// `GET /console/outbox?status=&kind=&cursor=`
async fn list_emails(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let everything = sees_every_email(&signed);
    // 403 for staff who see neither every email nor their own.
    let kinds = background_work::email_kinds(&state.ctx, &signed.scope).await?;
    let (status, kind) = (query.optional("status"), query.optional("kind"));
    let cursor = query.optional("cursor").and_then(|c| EmailId::parse(c).ok());
    let mut page = OutboxPage {
        layout: Layout::signed(&state, &signed, "Outbox", OUTBOX).await.with_notice(&query),
        filters: FormView::filled(
            "filter",
            FILTER_FIELDS,
            vec![("status", status.unwrap_or_default().to_owned()), ("kind", kind.unwrap_or_default().to_owned())],
        ),
        statuses: status_choices(EMAIL_STATUSES),
        kinds: kinds.into_iter().map(|k| Choice { label: display::words(&k), value: k }).collect(),
        everything,
        emails: Vec::new(),
        next_page: None,
        first_page: None,
    };
    let filter =
        EmailFilter { status: status.map(str::to_owned), kind: kind.map(str::to_owned), before_id: cursor.clone(), limit: Some(PAGE_SIZE) };
    let listed = if everything {
        background_work::list_emails(&state.ctx, &signed.scope, &filter).await
    } else {
        background_work::list_own_emails(&state.ctx, &signed.scope, &filter).await
    };
    let Page { items: emails, next_cursor: next } = match listed {
        Ok(emails) => emails,
        Err(err) => {
            page.filters = FormView::failed("filter", FILTER_FIELDS, query.clone(), field_errors(err, "status")?);
            return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    let url_of =
        |cursor: &str| page_url(OUTBOX, &[("status", status.unwrap_or_default()), ("kind", kind.unwrap_or_default()), ("cursor", cursor)]);
    page.next_page = next.map(|c| url_of(&c));
    page.first_page = cursor.map(|_| url_of(""));
    page.emails = emails.into_iter().map(EmailRow::from).collect();
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "console/email.html")]
struct EmailPage {
    layout: Layout,
    csrf_token: String,
    email: EmailRow,
    attempts: i64,
    sent: String,
    can_resend: bool,
    text_body: String,
    html_body: String,
}

/// `GET /console/outbox/{email_id}`: the whole email, its bodies as stored.
async fn show_email(
    State(state): State<AppState>,
    StaffPage { signed, .. }: StaffPage,
    Path(email_id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let everything = sees_every_email(&signed);
    if !everything {
        // The role first: a malformed id is no reason to tell a viewer "not found" rather than 403.
        signed.scope.require_vendor_role(background_work::OWN_EMAIL_READERS, "see the emails you caused")?;
    }
    let id = path_id(&email_id)?;
    let detail = if everything {
        background_work::get_email(&state.ctx, &signed.scope, &id).await?
    } else {
        background_work::get_own_email(&state.ctx, &signed.scope, &id).await?
    };
    let summary = detail.summary;
    let page = EmailPage {
        layout: Layout::signed(&state, &signed, summary.subject.clone(), OUTBOX).await.with_notice(&query),
        csrf_token: signed.session.csrf_token.clone(),
        attempts: summary.attempts,
        sent: summary.sent_at.map(display::time).unwrap_or_else(|| "—".to_owned()),
        can_resend: everything && (summary.status == "failed" || summary.status == "outbox"),
        email: EmailRow::from(summary),
        text_body: detail.text_body,
        html_body: detail.html_body,
    };
    Ok(render(&page))
}

/// `POST /console/outbox/{email_id}/resend`
async fn resend_email(State(state): State<AppState>, Path(email_id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    require_admin(&signed)?;
    let id: EmailId = path_id(&email_id)?;
    background_work::resend_email(&state.ctx, &signed.scope, &id).await?;
    Ok(see_other(&format!("{OUTBOX}/{id}?notice=email_queued")))
}

struct JobRow {
    id: i64,
    created: String,
    kind: String,
    status: String,
    attempts: String,
    /// When it runs next (queued) or finished (done, failed).
    when: String,
    last_error: String,
    /// The outbox page of the email a `send_email` job delivers.
    email_href: Option<String>,
}

impl From<JobSummary> for JobRow {
    fn from(j: JobSummary) -> Self {
        let when = match (j.status.as_str(), j.finished_at) {
            ("queued", _) => format!("next try {}", display::time(j.run_at)),
            (_, Some(finished)) => display::time(finished),
            _ => "—".to_owned(),
        };
        let email_href = serde_json::from_str::<serde_json::Value>(&j.payload)
            .ok()
            .and_then(|p| p.get("email_id").and_then(serde_json::Value::as_str).map(|id| format!("{OUTBOX}/{id}")));
        Self {
            id: j.id,
            created: display::time(j.created_at),
            kind: display::words(&j.kind),
            attempts: format!("{} of {}", j.attempts, j.max_attempts),
            status: j.status,
            when,
            last_error: j.last_error.unwrap_or_default(),
            email_href,
        }
    }
}

#[derive(Template)]
#[template(path = "console/jobs.html")]
struct JobsPage {
    layout: Layout,
    csrf_token: String,
    filters: FormView,
    statuses: Vec<Choice>,
    jobs: Vec<JobRow>,
    next_page: Option<String>,
    first_page: Option<String>,
}

/// `GET /console/jobs?status=&cursor=`
async fn list_jobs(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    require_admin(&signed)?;
    let status = query.optional("status");
    let cursor = query.optional("cursor").and_then(|c| c.parse::<i64>().ok());
    let mut page = JobsPage {
        layout: Layout::signed(&state, &signed, "Background jobs", OUTBOX).await.with_notice(&query),
        csrf_token: signed.session.csrf_token.clone(),
        filters: FormView::filled("filter", FILTER_FIELDS, vec![("status", status.unwrap_or_default().to_owned())]),
        statuses: status_choices(JOB_STATUSES),
        jobs: Vec::new(),
        next_page: None,
        first_page: None,
    };
    let filter = JobFilter { status: status.map(str::to_owned), before_id: cursor, limit: Some(PAGE_SIZE) };
    let Page { items: jobs, next_cursor: next } = match background_work::list_jobs(&state.ctx, &signed.scope, &filter).await {
        Ok(jobs) => jobs,
        Err(err) => {
            page.filters = FormView::failed("filter", FILTER_FIELDS, query.clone(), field_errors(err, "status")?);
            return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    let url_of = |cursor: &str| page_url(JOBS, &[("status", status.unwrap_or_default()), ("cursor", cursor)]);
    page.next_page = next.map(|c| url_of(&c));
    page.first_page = cursor.map(|_| url_of(""));
    page.jobs = jobs.into_iter().map(JobRow::from).collect();
    Ok(render(&page))
}

/// `POST /console/jobs/{job_id}/retry`
async fn retry_job(State(state): State<AppState>, Path(job_id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    require_admin(&signed)?;
    background_work::retry_job(&state.ctx, &signed.scope, path_id(&job_id)?).await?;
    Ok(see_other(&format!("{JOBS}?notice=job_retried")))
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(OUTBOX, get(list_emails))
        .route("/console/outbox/{email_id}", get(show_email))
        .route("/console/outbox/{email_id}/resend", post(resend_email))
        .route(JOBS, get(list_jobs))
        .route("/console/jobs/{job_id}/retry", post(retry_job))
}
