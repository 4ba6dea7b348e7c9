//! `/console/payout-runs`: the payout runs of the workspace, newest first, with the form that
//! gathers a new draft for a currency; a run's page shows its items, the partners left out and
//! why, its total, and the buttons its status allows (Approve, Mark paid, Cancel) with the CSV
//! export (`payouts::export_csv`) and, for an approved or paid run in euros, the SEPA credit
//! transfer file for the bank (`payouts::export_sepa`, owners, admins and finance). Every staff role reads runs; owners, admins and finance act
//! (`commissions::MONEY_WRITERS`, the service's 403 to the others); the person who created a draft
//! sees that another person approves it (four eyes). Partners never see runs (404). A refused
//! change (four eyes, a run whose status no longer allows it) is shown on the run's page as a
//! message with its status. An approved or paid run links each item to the partner's printable
//! statement (`/console/partners/{id}/statements/{run_id}`, the portal's page, `statement_views`).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{Error, PartnerId, PayoutRunId, UserId, VendorRole};
use trellis_identity::{members, workspaces};
use trellis_incentives::commissions::MONEY_WRITERS;
use trellis_incentives::payout_methods;
use trellis_incentives::payouts::{self, PayoutRun, RunDetail, RunStatus};
use trellis_programs::programs;
use trellis_web::AppState;

use super::commissions::{SECTION, writes_money};
use crate::display;
use crate::forms::{Choice, FormData, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::pages::{Layout, PageError, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;
use crate::statement_views::{self, StatementView};

const LIST: &str = "/console/payout-runs";
const FIELDS: &[&str] = &["currency"];

fn status_label(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Draft => "Draft",
        RunStatus::Approved => "Approved",
        RunStatus::Paid => "Paid",
        RunStatus::Cancelled => "Cancelled",
    }
}

/// The badge colours of the commission statuses the run's commissions are in.
fn status_code(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Draft => "pending",
        RunStatus::Approved => "in_payout",
        RunStatus::Paid => "paid",
        RunStatus::Cancelled => "reversed",
    }
}

/// Staff emails by user id, to say who created and approved a run ("you" for the caller).
struct People {
    emails: HashMap<UserId, String>,
    me: Option<UserId>,
}

impl People {
    async fn load(state: &AppState, signed: &Signed) -> People {
        let emails = members::list(&state.ctx, &signed.scope)
            .await
            .map(|list| list.into_iter().map(|m| (m.user_id, m.email.to_string())).collect())
            .unwrap_or_default();
        People { emails, me: signed.scope.user_id().cloned() }
    }

    fn name(&self, user: Option<&UserId>) -> String {
        match user {
            None => "—".to_owned(),
            Some(user) if Some(user) == self.me.as_ref() => "you".to_owned(),
            Some(user) => self.emails.get(user).cloned().unwrap_or_else(|| "a former staff member".to_owned()),
        }
    }
}

struct RunRow {
    id: String,
    date: String,
    status: &'static str,
    status_code: &'static str,
    currency: String,
    total: String,
    items: i64,
    created_by: String,
    approved_by: String,
}

impl RunRow {
    fn new(run: &PayoutRun, people: &People) -> Self {
        Self {
            id: run.id.to_string(),
            date: display::time(run.created_at),
            status: status_label(run.status),
            status_code: status_code(run.status),
            currency: run.currency.code().to_owned(),
            total: display::money(run.total_minor, run.currency.code()),
            items: run.item_count,
            created_by: people.name(run.created_by_user_id.as_ref()),
            approved_by: people.name(run.approved_by_user_id.as_ref()),
        }
    }
}

#[derive(Template)]
#[template(path = "console/payout_runs.html")]
struct RunsPage {
    layout: Layout,
    rows: Vec<RunRow>,
    next: String,
    form: FormView,
    currencies: Vec<Choice>,
    /// The create form's token; empty for roles that only read.
    csrf_token: String,
    can_write: bool,
}

/// The currencies a run may pay: the workspace's and those of its programs.
async fn currency_choices(state: &AppState, signed: &Signed) -> Result<(Vec<Choice>, String), Error> {
    let workspace = workspaces::get(&state.ctx, &signed.scope).await?;
    let mut tx = signed.scope.read(&state.ctx).await?;
    let programs = programs::list_in(&mut tx, signed.scope.workspace_id()).await?;
    drop(tx);
    let mut codes: Vec<String> = programs.iter().map(|p| p.currency.clone()).collect();
    codes.push(workspace.default_currency.clone());
    codes.sort();
    codes.dedup();
    Ok((codes.into_iter().map(|c| Choice { label: c.clone(), value: c }).collect(), workspace.default_currency))
}

async fn list_page(
    state: &AppState,
    signed: &Signed,
    role: VendorRole,
    query: &FormData,
    form: Option<FormView>,
) -> Result<RunsPage, Error> {
    let cursor = query.optional("cursor").and_then(|c| c.parse::<PayoutRunId>().ok());
    let page = payouts::list(&state.ctx, &signed.scope, cursor.as_ref(), None).await?;
    let people = People::load(state, signed).await;
    let (currencies, default) = currency_choices(state, signed).await?;
    let can_write = writes_money(role);
    Ok(RunsPage {
        layout: Layout::signed(state, signed, "Payout runs", SECTION).await.with_notice(query),
        rows: page.items.iter().map(|r| RunRow::new(r, &people)).collect(),
        next: page.next_cursor.map(|c| format!("{LIST}?cursor={c}")).unwrap_or_default(),
        form: form.unwrap_or_else(|| FormView::filled("run", FIELDS, vec![("currency", default)])),
        currencies,
        csrf_token: if can_write { signed.session.csrf_token.clone() } else { String::new() },
        can_write,
    })
}

/// `GET /console/payout-runs?cursor=`
async fn list(State(state): State<AppState>, StaffPage { signed, role }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    Ok(render(&list_page(&state, &signed, role, &query, None).await?))
}

/// `POST /console/payout-runs` (`currency`): gathers a draft and opens it; errors next to the field.
async fn create(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let role = super::staff_role(&signed.scope)?;
    signed.scope.require_vendor_role(MONEY_WRITERS, "create payout runs")?;
    match payouts::create(&state.ctx, &signed.scope, form.value("currency")).await {
        Ok(detail) => Ok(see_other(&format!("{LIST}/{}?notice=run_created", detail.run.id))),
        Err(err) => {
            let errors = field_errors(err, "currency")?;
            let failed = FormView::failed("run", FIELDS, form, errors);
            let page = list_page(&state, &signed, role, &FormData::default(), Some(failed)).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

struct ItemRow {
    partner_id: String,
    /// The partner's printable statement of this run (approved and paid runs).
    statement: Option<String>,
    partner: String,
    amount: String,
    commissions: i64,
}

struct SkipRow {
    partner_id: String,
    partner: String,
    reason: &'static str,
    balance: String,
    negative: bool,
}

#[derive(Template)]
#[template(path = "console/payout_run.html")]
struct RunPage {
    layout: Layout,
    run: RunRow,
    approved_at: String,
    paid_at: String,
    cancelled_at: String,
    items: Vec<ItemRow>,
    skipped: Vec<SkipRow>,
    /// A refused change, in words.
    error: String,
    csrf_token: String,
    can_approve: bool,
    /// The caller created this draft: another person approves it.
    four_eyes: bool,
    can_mark_paid: bool,
    can_cancel: bool,
    /// The SEPA file: an approved or paid run in euros, for those who may open bank details.
    can_export_sepa: bool,
}

async fn run_page(state: &AppState, signed: &Signed, role: VendorRole, detail: RunDetail, query: &FormData, error: String) -> RunPage {
    let people = People::load(state, signed).await;
    let run = &detail.run;
    let code = run.currency.code();
    let writer = writes_money(role);
    let mine = run.created_by_user_id.is_some() && run.created_by_user_id.as_ref() == signed.scope.user_id();
    let when = |at: Option<trellis_core::Timestamp>| at.map(display::time).unwrap_or_default();
    RunPage {
        layout: Layout::signed(state, signed, format!("Payout run {}", display::time(run.created_at)), SECTION).await.with_notice(query),
        approved_at: when(run.approved_at),
        paid_at: when(run.paid_at),
        cancelled_at: when(run.cancelled_at),
        items: detail
            .items
            .iter()
            .map(|i| ItemRow {
                partner_id: i.partner_id.to_string(),
                statement: matches!(run.status, RunStatus::Approved | RunStatus::Paid)
                    .then(|| format!("/console/partners/{}/statements/{}", i.partner_id, run.id)),
                partner: i.partner_name.clone(),
                amount: display::money(i.amount_minor, code),
                commissions: i.commission_count,
            })
            .collect(),
        skipped: detail
            .skipped
            .iter()
            .map(|s| SkipRow {
                partner_id: s.partner_id.to_string(),
                partner: s.partner_name.clone(),
                reason: s.reason.label(),
                balance: display::money(s.balance_minor, code),
                negative: s.balance_minor < 0,
            })
            .collect(),
        error,
        csrf_token: if writer { signed.session.csrf_token.clone() } else { String::new() },
        can_approve: writer && payouts::run_transition(run.status, RunStatus::Approved).is_some() && !mine,
        four_eyes: writer && payouts::run_transition(run.status, RunStatus::Approved).is_some() && mine,
        can_mark_paid: writer && payouts::run_transition(run.status, RunStatus::Paid).is_some(),
        can_cancel: writer && payouts::run_transition(run.status, RunStatus::Cancelled).is_some(),
        can_export_sepa: payout_methods::STAFF.contains(&role)
            && matches!(run.status, RunStatus::Approved | RunStatus::Paid)
            && code == "EUR",
        run: RunRow::new(run, &people),
    }
}

/// `GET /console/payout-runs/{id}`
async fn show(
    State(state): State<AppState>,
    StaffPage { signed, role }: StaffPage,
    Path(id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let id: PayoutRunId = path_id(&id)?;
    let detail = payouts::get(&state.ctx, &signed.scope, &id).await?;
    Ok(render(&run_page(&state, &signed, role, detail, &query, String::new()).await))
}

/// `GET /console/payout-runs/{id}/export`: the run as the API's CSV file.
async fn export(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, Path(id): Path<String>) -> PageResult {
    let id: PayoutRunId = path_id(&id)?;
    let csv = payouts::export_csv(&state.ctx, &signed.scope, &id).await?;
    Ok(crate::downloads::csv_file(&format!("{id}.csv"), csv))
}

/// `GET /console/payout-runs/{id}/sepa`: the run as the API's SEPA credit transfer file
/// (audited); a refusal (no debtor account in the settings, a run not approved) is shown on the
/// run's page.
async fn export_sepa(State(state): State<AppState>, StaffPage { signed, role }: StaffPage, Path(id): Path<String>) -> PageResult {
    let id: PayoutRunId = path_id(&id)?;
    match payouts::export_sepa(&state.ctx, &signed.scope, &id).await {
        Ok(xml) => Ok(crate::downloads::private_attachment(&format!("{id}.xml"), "application/xml; charset=utf-8", xml)),
        Err(Error::Conflict(message)) => {
            let detail = payouts::get(&state.ctx, &signed.scope, &id).await?;
            let message = format!("No SEPA file: {message}.");
            Ok(render_status(StatusCode::CONFLICT, &run_page(&state, &signed, role, detail, &FormData::default(), message).await))
        }
        Err(err) => Err(PageError::Domain(err)),
    }
}

#[derive(Clone, Copy)]
enum Change {
    Approve,
    MarkPaid,
    Cancel,
}

/// A button of a run's page: the role first (403 page to those who only read), then the change;
/// four eyes and a status that no longer allows it show the run's page with the reason.
async fn change(state: &AppState, signed: &Signed, id: &str, what: Change) -> PageResult {
    let id: PayoutRunId = path_id(id)?;
    let role = super::staff_role(&signed.scope)?;
    // The run first (404 for one that does not exist), then the role (403).
    payouts::get(&state.ctx, &signed.scope, &id).await?;
    signed.scope.require_vendor_role(MONEY_WRITERS, "change payout runs")?;
    let (result, notice) = match what {
        Change::Approve => (payouts::approve(&state.ctx, &signed.scope, &id).await, "run_approved"),
        Change::MarkPaid => (payouts::mark_paid(&state.ctx, &signed.scope, &id).await, "run_paid"),
        Change::Cancel => (payouts::cancel(&state.ctx, &signed.scope, &id).await, "run_cancelled"),
    };
    let (status, message) = match result {
        Ok(_) => return Ok(see_other(&format!("{LIST}/{id}?notice={notice}"))),
        Err(Error::Forbidden(_)) if matches!(what, Change::Approve) => {
            (StatusCode::FORBIDDEN, "You created this run: another person approves it (four eyes).".to_owned())
        }
        Err(Error::Conflict(message)) => (StatusCode::CONFLICT, format!("Not possible right now: {message}.")),
        Err(err) => return Err(PageError::Domain(err)),
    };
    let detail = payouts::get(&state.ctx, &signed.scope, &id).await?;
    Ok(render_status(status, &run_page(state, signed, role, detail, &FormData::default(), message).await))
}

/// `POST /console/payout-runs/{id}/approve`
async fn approve(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    change(&state, &signed, &id, Change::Approve).await
}

/// `POST /console/payout-runs/{id}/mark-paid`
async fn mark_paid(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    change(&state, &signed, &id, Change::MarkPaid).await
}

/// `POST /console/payout-runs/{id}/cancel`
async fn cancel(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    change(&state, &signed, &id, Change::Cancel).await
}

#[derive(Template)]
#[template(path = "console/statement.html")]
struct StatementPage {
    layout: Layout,
    s: StatementView,
    back_href: String,
    back_label: &'static str,
}

/// `GET /console/partners/{id}/statements/{run_id}`: the partner's printable statement of a run
/// (the portal's page), for staff who see the partner.
async fn statement(
    State(state): State<AppState>,
    StaffPage { signed, .. }: StaffPage,
    Path((id, run_id)): Path<(String, String)>,
) -> PageResult {
    let partner_id: PartnerId = path_id(&id)?;
    let run_id: PayoutRunId = path_id(&run_id)?;
    let s = statement_views::statement_view(&state, &signed.scope, &partner_id, &run_id, "").await?;
    let title = format!("Statement: {}", s.partner);
    let page = StatementPage {
        layout: Layout::signed(&state, &signed, title, SECTION).await,
        back_href: format!("{LIST}/{run_id}"),
        back_label: "Payout run",
        s,
    };
    Ok(render(&page))
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(LIST, get(list).post(create))
        .route("/console/payout-runs/{id}", get(show))
        .route("/console/payout-runs/{id}/export", get(export))
        .route("/console/payout-runs/{id}/sepa", get(export_sepa))
        .route("/console/payout-runs/{id}/approve", post(approve))
        .route("/console/payout-runs/{id}/mark-paid", post(mark_paid))
        .route("/console/payout-runs/{id}/cancel", post(cancel))
        .route("/console/partners/{id}/statements/{run_id}", get(statement))
}
