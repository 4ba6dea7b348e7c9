//! `/portal/earnings` and `/portal/commissions`: the organisation's own money, for its admins and
//! finance people (403 for the other roles, as the service). The overview shows the balances per
//! currency (pending, payable, in payout, paid), earnings by month over the last year as a chart
//! and the latest commissions; the list filters the commissions, pages them and exports them.
//! A distributor sees the overrides it earns itself, never its resellers' money: a reseller's
//! commission is the 404 page (`commissions::get`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{CommissionId, PayoutRunId};
use trellis_deals::disputes::{self, DisputeFilter, DisputeStatus, DisputeSubject};
use trellis_incentives::commissions::{self, CommissionFilter};
use trellis_incentives::payouts;
use trellis_incentives::statuses::CommissionStatus;
use trellis_programs::{enrollments, programs};
use trellis_web::AppState;

use crate::charts::BarChart;
use crate::display;
use crate::forms::{Choice, FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage};
use crate::listing::{ListView, page_url};
use crate::money_views::{self, BalanceView, CommissionFilters, CommissionRow, MonthRow};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;
use crate::statement_views::{self, StatementRow, StatementView};

const SECTION: &str = "/portal/earnings";
const LIST: &str = "/portal/commissions";
const EXPORT: &str = "/portal/commissions/export";
const STATEMENTS: &str = "/portal/statements";

#[derive(Template)]
#[template(path = "portal/earnings.html")]
struct EarningsPage {
    layout: Layout,
    balances: Vec<BalanceView>,
    chart: Option<BarChart>,
    chart_note: String,
    months: Vec<MonthRow>,
    recent: Vec<CommissionRow>,
    has_more: bool,
}

/// `GET /portal/earnings`
async fn overview(State(state): State<AppState>, PartnerPage { signed, partner_id, .. }: PartnerPage) -> PageResult {
    let scope = &signed.scope;
    commissions::require_money_reader(scope)?;
    let now = state.ctx.now();
    let balances = commissions::balance(&state.ctx, scope, &partner_id).await?;
    let since = money_views::month_start(now, 11);
    let totals = commissions::monthly_totals(&state.ctx, scope, Some(&partner_id), since).await?;
    let recent = commissions::list(&state.ctx, scope, &CommissionFilter { limit: Some(10), ..CommissionFilter::default() }).await?;
    let month_href = |start: trellis_core::Timestamp, end: trellis_core::Timestamp| {
        let last_day = money_views::date_value(end.plus_seconds(-86_400));
        page_url(LIST, &[("since", &money_views::date_value(start)), ("until", &last_day)])
    };
    let (chart, chart_note) = match money_views::earnings_chart(&totals, now, month_href) {
        Some((chart, note)) => (Some(chart), note),
        None => (None, String::new()),
    };
    let page = EarningsPage {
        layout: Layout::signed(&state, &signed, "Earnings", SECTION).await,
        balances: money_views::balance_views(&balances),
        chart,
        chart_note,
        months: money_views::month_rows(&totals),
        recent: recent.items.iter().map(|c| CommissionRow::new(c, false)).collect(),
        has_more: recent.next_cursor.is_some(),
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "portal/commissions.html")]
struct CommissionsPage {
    layout: Layout,
    filters: FormView,
    statuses: Vec<Choice>,
    kinds: Vec<Choice>,
    programs: Vec<Choice>,
    rows: Vec<CommissionRow>,
    list: ListView,
    is_filtered: bool,
    export: String,
}

/// `GET /portal/commissions?status=&kind=&program=&since=&until=&cursor=&from=`
async fn list(State(state): State<AppState>, PartnerPage { signed, partner_id, .. }: PartnerPage, UrlQuery(query): UrlQuery) -> PageResult {
    let scope = &signed.scope;
    commissions::require_money_reader(scope)?;
    let filters = CommissionFilters::read(&query, false);
    let list = filters.list_state(LIST, &query);
    let page = commissions::list(&state.ctx, scope, &filters.filter).await?;
    let enrolled = enrollments::list_for_partner(&state.ctx, scope, &partner_id)
        .await?
        .into_iter()
        .map(|e| Choice { value: e.program_id.to_string(), label: e.program_name })
        .collect();
    let view = CommissionsPage {
        layout: Layout::signed(&state, &signed, "Commissions", SECTION).await,
        filters: FormView::filled("filter", money_views::FILTER_FIELDS, filters.form_values()),
        statuses: money_views::status_choices(),
        kinds: money_views::kind_choices(),
        programs: enrolled,
        rows: page.items.iter().map(|c| CommissionRow::new(c, false)).collect(),
        is_filtered: list.is_filtered(),
        export: list.url_at(EXPORT),
        list: money_views::list_view(&list, &page, &query),
    };
    Ok(render(&view))
}

/// `GET /portal/commissions/export?…`: the commissions of the same filters as a CSV file.
async fn export(State(state): State<AppState>, PartnerPage { signed, .. }: PartnerPage, UrlQuery(query): UrlQuery) -> PageResult {
    commissions::require_money_reader(&signed.scope)?;
    let csv = money_views::export_csv(&state, &signed.scope, &query, false).await?;
    Ok(crate::downloads::csv_file("commissions.csv", csv))
}

const DISPUTE_FIELDS: &[&str] = &["reason"];

/// A dispute of the commission, as its page lists it.
struct DisputeLink {
    id: String,
    status: &'static str,
    status_code: &'static str,
    opened: String,
}

#[derive(Template)]
#[template(path = "portal/commission.html")]
struct CommissionPage {
    layout: Layout,
    c: CommissionRow,
    program: String,
    payable_at: String,
    invoice_paid_at: String,
    csrf_token: String,
    /// The commission's disputes, newest first.
    disputes: Vec<DisputeLink>,
    /// Not reversed, and no dispute open or upheld: the form is offered.
    can_dispute: bool,
    form: FormView,
}

/// `GET /portal/commissions/{id}`: one commission (404 for one that is not the organisation's),
/// its disputes and the form that opens one.
async fn show(State(state): State<AppState>, PartnerPage { signed, .. }: PartnerPage, Path(id): Path<String>) -> PageResult {
    let id: CommissionId = path_id(&id)?;
    Ok(render(&commission_page(&state, &signed, &id, None).await?))
}

/// `POST /portal/commissions/{id}/dispute` (`reason`): opens a dispute of the commission and
/// shows it; errors next to the field.
async fn open_dispute(State(state): State<AppState>, Path(id): Path<String>, PartnerForm { signed, form, .. }: PartnerForm) -> PageResult {
    let id: CommissionId = path_id(&id)?;
    match disputes::open_for_commission(&state.ctx, &signed.scope, &id, form.value("reason")).await {
        Ok(detail) => Ok(see_other(&format!("/portal/disputes/{}?opened=1", detail.dispute.id))),
        Err(err) => {
            let errors = field_errors(err, "reason")?;
            let page = commission_page(&state, &signed, &id, Some(FormView::failed("dispute", DISPUTE_FIELDS, form, errors))).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

async fn commission_page(
    state: &AppState,
    signed: &Signed,
    id: &CommissionId,
    form: Option<FormView>,
) -> Result<CommissionPage, trellis_core::Error> {
    let scope = &signed.scope;
    let commission = commissions::get(&state.ctx, scope, id).await?;
    let filter = DisputeFilter { subject: Some(DisputeSubject::Commission(id.clone())), limit: Some(20), ..DisputeFilter::default() };
    let found = disputes::list(&state.ctx, scope, &filter).await?.items;
    let can_dispute = commission.status != CommissionStatus::Reversed
        && !found.iter().any(|d| matches!(d.status, DisputeStatus::Open | DisputeStatus::Upheld));
    let program = match &commission.program_id {
        Some(program_id) => {
            let mut tx = scope.read(&state.ctx).await?;
            let name = programs::get_in(&mut tx, scope.workspace_id(), program_id).await.map(|p| p.name).unwrap_or_default();
            drop(tx);
            name
        }
        None => String::new(),
    };
    Ok(CommissionPage {
        layout: Layout::signed(state, signed, format!("{} commission", commission.kind.label()), SECTION).await,
        program,
        payable_at: commission.payable_at.map(display::time).unwrap_or_default(),
        invoice_paid_at: commission.invoice_paid_at.map(display::time).unwrap_or_default(),
        c: CommissionRow::new(&commission, false),
        csrf_token: signed.session.csrf_token.clone(),
        disputes: found
            .iter()
            .map(|d| DisputeLink {
                id: d.id.to_string(),
                status: d.status.label_for(d.subject.kind()),
                status_code: d.status.as_str(),
                opened: display::time(d.created_at),
            })
            .collect(),
        can_dispute,
        form: form.unwrap_or_else(|| FormView::new("dispute", DISPUTE_FIELDS)),
    })
}

#[derive(Template)]
#[template(path = "portal/statements.html")]
struct StatementsPage {
    layout: Layout,
    rows: Vec<StatementRow>,
}

/// `GET /portal/statements`: the organisation's payouts, newest first, each with its statement.
async fn statements(State(state): State<AppState>, PartnerPage { signed, partner_id, .. }: PartnerPage) -> PageResult {
    let scope = &signed.scope;
    commissions::require_money_reader(scope)?;
    let rows = payouts::statements(&state.ctx, scope, &partner_id).await?;
    let page = StatementsPage {
        layout: Layout::signed(&state, &signed, "Statements", STATEMENTS).await,
        rows: rows.iter().map(StatementRow::new).collect(),
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "portal/statement.html")]
struct StatementPage {
    layout: Layout,
    s: StatementView,
}

/// `GET /portal/statements/{run_id}`: one payout's printable statement (404 for a run that paid
/// the organisation nothing).
async fn statement(
    State(state): State<AppState>,
    PartnerPage { signed, partner_id, .. }: PartnerPage,
    Path(run_id): Path<String>,
) -> PageResult {
    let scope = &signed.scope;
    let run_id: PayoutRunId = path_id(&run_id)?;
    let s = statement_views::statement_view(&state, scope, &partner_id, &run_id, LIST).await?;
    let title = format!("Statement {}", if s.paid_at.is_empty() { &s.approved_at } else { &s.paid_at });
    Ok(render(&StatementPage { layout: Layout::signed(&state, &signed, title, STATEMENTS).await, s }))
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(SECTION, get(overview))
        .route(LIST, get(list))
        .route(EXPORT, get(export))
        .route("/portal/commissions/{id}", get(show))
        .route("/portal/commissions/{id}/dispute", post(open_dispute))
        .route(STATEMENTS, get(statements))
        .route("/portal/statements/{run_id}", get(statement))
}
