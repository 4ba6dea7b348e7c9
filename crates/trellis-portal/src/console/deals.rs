//! `/console/deals`: the vendor pipeline (filters by partner, program, stage, status, source and
//! age, the open amounts by stage as a chart, CSV export), the review queue oldest first, a
//! deal's page with each conflict's other deal side by side, the decisions of the transition
//! table, the pipeline form and crediting another partner; and registration on a partner's
//! behalf or of a direct opportunity. The partner pickers search the directory a page at a time
//! (`/console/deals/partners`), never list it.

use std::collections::HashMap;

use askama::Template;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use trellis_core::{Currency, DealId, Error, FieldError, Page, PartnerId, PartnerStatus};
use trellis_deals::deals::{self, DealDetail, DealFilter, DealRole, DealSource};
use trellis_deals::pipeline;
use trellis_deals::rules;
use trellis_deals::statuses::{Actor, DealStatus};
use trellis_directory::PartnerFilter;
use trellis_directory::partners::{self, PartnerSort};
use trellis_identity::{Scope, ScopedTx};
use trellis_programs::programs::{self, Program};
use trellis_web::AppState;

use crate::charts::{Bar, BarChart, horizontal_bars};
use crate::deal_views::{
    self, ActionView, ConflictView, DealFacts, DealRow, FailedForm, NEW_DEAL_FIELDS, PipelinePage, Registration, RulesView,
};
use crate::display;
use crate::forms::{Choice, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::listing::{COUNT_CAP, ColumnHead, ListState, ListView, PAGE_SIZE};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const SECTION: &str = "/console/deals";
const EXPORT: &str = "/console/deals/export";
const REVIEW: &str = "/console/deals/review";
const FILTER_FIELDS: &[&str] = &["status", "stage", "partner", "program", "source", "older_than"];
/// Partners a picker offers at once: a page of matches of what was typed, never the whole
/// directory (a workspace may hold 50,000 resellers).
const PICKER_MATCHES: i64 = 20;
/// Where a picker's script asks for matches (`?active=1&q=`).
pub(super) const PARTNER_SEARCH: &str = "/console/deals/partners";

fn require_deciders(scope: &Scope) -> Result<(), Error> {
    if super::staff_role(scope)?.manages_partners() { Ok(()) } else { Err(Error::forbidden("your role may not decide or register deals")) }
}

/// The visible partners whose name or contact email holds `typed`, by name, a page of them at
/// most; `active_only` for registration (only active partners register).
async fn partner_matches(tx: &mut ScopedTx, scope: &Scope, typed: &str, active_only: bool) -> Result<Vec<Choice>, Error> {
    let filter = PartnerFilter {
        q: Some(typed.to_owned()),
        status: active_only.then_some(PartnerStatus::Active),
        sort: PartnerSort::Name,
        limit: Some(PICKER_MATCHES),
        ..PartnerFilter::default()
    };
    Ok(partners::list_in(tx, scope, &filter).await?.items.into_iter().map(|p| Choice { value: p.id.to_string(), label: p.name }).collect())
}

/// A picker's choices: the partner already chosen (a filter's, or a failed form's) first where it
/// is not among the matches of `typed`, then the matches.
pub(super) async fn picker_choices(
    tx: &mut ScopedTx,
    scope: &Scope,
    typed: &str,
    active_only: bool,
    chosen: &str,
) -> Result<Vec<Choice>, Error> {
    let mut choices = partner_matches(tx, scope, typed, active_only).await?;
    if let Ok(id) = chosen.parse::<PartnerId>()
        && !choices.iter().any(|c| c.value == chosen)
    {
        match partners::fetch_visible(tx, scope, &id).await {
            Ok(p) => choices.insert(0, Choice { value: p.id.to_string(), label: p.name }),
            Err(Error::NotFound) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(choices)
}

/// A match as a picker's script reads it.
#[derive(Serialize)]
struct PartnerMatch {
    value: String,
    label: String,
}

/// `GET /console/deals/partners?q=&active=1`: the partner pickers' matches of what was typed (a
/// page of them, by name), for the pickers' script; every staff role filters by partner.
async fn search_partners(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let scope = &signed.scope;
    let mut tx = scope.read(&state.ctx).await?;
    let matches = partner_matches(&mut tx, scope, query.value("q").trim(), query.value("active") == "1").await?;
    drop(tx);
    Ok(Json(matches.into_iter().map(|c| PartnerMatch { value: c.value, label: c.label }).collect::<Vec<_>>()).into_response())
}

fn program_choices(programs: &[Program]) -> Vec<Choice> {
    programs.iter().map(|p| Choice { value: p.id.to_string(), label: p.name.clone() }).collect()
}

fn source_choices() -> Vec<Choice> {
    vec![
        Choice { value: "partner".to_owned(), label: "Partner registrations".to_owned() },
        Choice { value: "direct".to_owned(), label: "Direct (our own sales)".to_owned() },
    ]
}

fn age_choices() -> Vec<Choice> {
    [7, 30, 90].iter().map(|d| Choice { value: d.to_string(), label: format!("Older than {d} days") }).collect()
}

#[derive(Template)]
#[template(path = "console/deals.html")]
struct DealsPage {
    layout: Layout,
    filters: FormView,
    statuses: Vec<Choice>,
    stages: Vec<Choice>,
    /// The partner filter's matches of `partner_q`.
    partners: Vec<Choice>,
    partner_q: String,
    partner_search: &'static str,
    programs: Vec<Choice>,
    sources: Vec<Choice>,
    ages: Vec<Choice>,
    deals: Vec<DealRow>,
    columns: Vec<ColumnHead>,
    list: ListView,
    is_filtered: bool,
    export: String,
    chart: BarChart,
    /// The chart's numbers as money, for its table: (stage, amount, deals).
    chart_rows: Vec<(String, String, i64)>,
    /// "Amounts in EUR; 3 open deals in other currencies are not in the chart."
    chart_note: String,
    can_register: bool,
}

/// The open pipeline by stage in the workspace's main currency (the most common among the
/// totals); other currencies are named in a note, not added up.
fn pipeline_chart(totals: &[pipeline::StageTotal], list_href: &dyn Fn(&str) -> String) -> (BarChart, Vec<(String, String, i64)>, String) {
    let mut by_currency: HashMap<&str, i64> = HashMap::new();
    for t in totals {
        *by_currency.entry(t.currency.as_str()).or_default() += t.deals;
    }
    let main = by_currency.iter().max_by_key(|(c, n)| (**n, std::cmp::Reverse(**c))).map(|(c, _)| (*c).to_owned()).unwrap_or_default();
    let others: i64 = totals.iter().filter(|t| t.currency != main).map(|t| t.deals).sum();
    let exponent = Currency::parse(&main).map(|c| c.exponent()).unwrap_or(2);
    let unit = 10_i64.pow(u32::from(exponent));
    let mut bars = Vec::new();
    let mut rows = Vec::new();
    for stage in trellis_deals::deals::DealStage::ALL {
        let (amount, count) =
            totals.iter().filter(|t| t.stage == *stage && t.currency == main).fold((0, 0), |(a, n), t| (a + t.amount_minor, n + t.deals));
        let label = display::words(stage.as_str());
        // The bars are in whole units of the currency (the table has the exact amounts).
        bars.push(Bar { label: label.clone(), value: amount / unit, href: Some(list_href(stage.as_str())) });
        rows.push((label, display::money(amount, &main), count));
    }
    let mut note = if main.is_empty() { String::new() } else { format!("Open deals, amounts in {main}.") };
    if others > 0 {
        note.push_str(&format!(
            " {others} open deal{} in other currencies {} not in the chart.",
            if others == 1 { "" } else { "s" },
            if others == 1 { "is" } else { "are" }
        ));
    }
    (horizontal_bars("Open pipeline by stage", bars), rows, note)
}

/// `GET /console/deals?status=&stage=&partner=&program=&source=&older_than=&cursor=&from=`
async fn list_deals(State(state): State<AppState>, StaffPage { signed, role }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let scope = &signed.scope;
    let now = state.ctx.now();
    let mut tx = scope.read(&state.ctx).await?;
    let PipelinePage { filters, list, filter, deals: Page { items, next_cursor }, total } =
        PipelinePage::read(&mut tx, scope, SECTION, &query, true, now).await?;
    let totals = pipeline::stage_totals_in(&mut tx, scope, &DealFilter { stage: None, ..filter.clone() }).await?;
    let partner_q = query.value("partner_q").trim();
    let partners = picker_choices(&mut tx, scope, partner_q, false, query.value("partner")).await?;
    let programs = programs::list_in(&mut tx, scope.workspace_id()).await?;
    drop(tx);
    let params = filters.params(true);
    let stage_href = |stage: &str| {
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, if *k == "stage" { stage } else { v.as_str() })).collect();
        crate::listing::page_url(SECTION, &borrowed)
    };
    let (chart, chart_rows, chart_note) = pipeline_chart(&totals, &stage_href);
    let page = DealsPage {
        layout: Layout::signed(&state, &signed, "Deals", SECTION).await.with_notice(&query),
        filters: FormView::filled("filter", FILTER_FIELDS, filters.params(true)),
        statuses: deal_views::status_choices(),
        stages: deal_views::stage_choices(),
        partners,
        partner_q: partner_q.to_owned(),
        partner_search: PARTNER_SEARCH,
        programs: program_choices(&programs),
        sources: source_choices(),
        ages: age_choices(),
        deals: items.iter().map(|d| DealRow::new(d, now)).collect(),
        columns: ["Customer", "Partner", "Status", "Stage", "Amount", "Protected", "Age"].map(ListState::plain_column).into(),
        is_filtered: list.is_filtered(),
        export: list.url_at(EXPORT),
        list: list.view(items.len(), total, next_cursor, "deals"),
        chart,
        chart_rows,
        chart_note,
        can_register: role.manages_partners(),
    };
    Ok(render(&page))
}

/// `GET /console/deals/export?…`
async fn export_deals(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let csv = deal_views::export_csv(&state, &signed, &query).await?;
    Ok(crate::downloads::csv_file("deals.csv", csv))
}

/// A row of the review queue: the deal, its age, and its conflicts in one line.
struct ReviewRow {
    deal: DealRow,
    conflict: String,
}

#[derive(Template)]
#[template(path = "console/deal_review.html")]
struct ReviewPage {
    layout: Layout,
    rows: Vec<ReviewRow>,
    list: ListView,
}

/// `GET /console/deals/review`: registrations waiting for a decision, oldest first.
async fn review_queue(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let scope = &signed.scope;
    let now = state.ctx.now();
    let list = ListState::read(REVIEW, &query, Vec::new(), &["oldest"], "oldest");
    let filter = DealFilter {
        statuses: vec![DealStatus::Submitted, DealStatus::UnderReview, DealStatus::NeedsInfo],
        oldest_first: true,
        cursor: list.cursor().map(str::to_owned),
        limit: Some(PAGE_SIZE),
        ..DealFilter::default()
    };
    let mut tx = scope.read(&state.ctx).await?;
    let Page { items, next_cursor } = deals::list_in(&mut tx, scope, &filter).await?;
    let total = pipeline::count_in(&mut tx, scope, &filter, COUNT_CAP).await?;
    // The page's conflicts in one query, not one a row.
    let ids: Vec<DealId> = items.iter().map(|d| d.id.clone()).collect();
    let mut conflicts = deals::conflicts_of_in(&mut tx, scope, &ids).await?;
    drop(tx);
    let rows = items
        .iter()
        .map(|d| {
            let conflict = match conflicts.remove(&d.id).unwrap_or_default().as_slice() {
                [] => "No conflict found.".to_owned(),
                [only] => only.reason.clone(),
                [first, rest @ ..] => format!("{} (and {} more)", first.reason, rest.len()),
            };
            ReviewRow { deal: DealRow::new(d, now), conflict }
        })
        .collect();
    let page = ReviewPage {
        layout: Layout::signed(&state, &signed, "Deals to review", SECTION).await,
        list: list.view(items.len(), total, next_cursor, "registrations waiting"),
        rows,
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "console/deal.html")]
struct DealPage {
    layout: Layout,
    csrf_token: String,
    path: String,
    deal: DealRow,
    facts: DealFacts,
    partner_id: Option<String>,
    program: String,
    status_help: &'static str,
    conflicts: Vec<ConflictView>,
    actions: Vec<ActionView>,
    pipeline: Option<FormView>,
    stages: Vec<Choice>,
    credited: Vec<(String, String, String)>,
    /// "Credit another partner" (partner deals, staff who decide).
    credit: Option<FormView>,
    /// The credit picker's matches of `partner_q`.
    partners: Vec<Choice>,
    /// What was typed into the credit picker's search box (a search without scripts reloads the
    /// page with it, the credit form open).
    partner_q: String,
    credit_roles: Vec<Choice>,
    partner_search: &'static str,
}

async fn deal_page(state: &AppState, signed: &Signed, id: &DealId, failed: Option<FailedForm>, partner_q: &str) -> Result<DealPage, Error> {
    let scope = &signed.scope;
    let role = super::staff_role(scope)?;
    let now = state.ctx.now();
    let mut tx = scope.read(&state.ctx).await?;
    let deal = deals::find_in(&mut tx, scope, id).await?;
    let DealDetail { deal, conflicts, partners: credited } = deals::detail_in(&mut tx, scope, deal).await?;
    let mut views = Vec::new();
    for c in &conflicts {
        let other = match &c.deal_id {
            Some(other) => match deals::find_in(&mut tx, scope, other).await {
                Ok(d) => Some(d),
                Err(Error::NotFound) => None,
                Err(err) => return Err(err),
            },
            None => None,
        };
        views.push(ConflictView::for_staff(c, other.as_ref(), now));
    }
    let program = match &deal.program_id {
        Some(p) => Some(programs::get_in(&mut tx, scope.workspace_id(), p).await?),
        None => None,
    };
    let rules = match &deal.program_id {
        Some(p) => Some(rules::get_in(&mut tx, scope, p).await?),
        None => None,
    };
    let (mut pipeline_failed, mut credit_failed, mut action_failed) = (None, None, None);
    match failed {
        Some(("pipeline", form)) => pipeline_failed = Some(form),
        Some(("credit", form)) => credit_failed = Some(form),
        other => action_failed = other,
    }
    let deciders = role.manages_partners();
    let partners = if deciders && deal.source == DealSource::Partner {
        let chosen = credit_failed.as_ref().map_or("", |f: &FormView| f.value("partner_id"));
        picker_choices(&mut tx, scope, partner_q, false, chosen).await?
    } else {
        Vec::new()
    };
    drop(tx);
    Ok(DealPage {
        layout: Layout::signed(state, signed, deal.customer_name.clone(), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        path: format!("{SECTION}/{}", deal.id),
        partner_id: deal.partner_id.as_ref().map(PartnerId::to_string),
        program: program.map(|p| p.name).unwrap_or_default(),
        facts: DealFacts::new(&deal),
        status_help: deal_views::staff_status_help(deal.status),
        conflicts: views,
        actions: if deciders { deal_views::actions(deal.status, Actor::Staff, rules.as_ref(), action_failed) } else { Vec::new() },
        pipeline: (deciders && deal_views::is_open(&deal)).then(|| pipeline_failed.unwrap_or_else(|| deal_views::pipeline_form(&deal))),
        stages: deal_views::stage_choices(),
        credited: credited
            .iter()
            .map(|p| (p.partner_name.clone(), display::words(p.role.as_str()), display::percent_bps(p.credit_bps)))
            .collect(),
        credit: (deciders && deal.source == DealSource::Partner)
            .then(|| credit_failed.unwrap_or_else(|| FormView::filled("credit", CREDIT_FIELDS, vec![("role", "influence".to_owned())]))),
        partners,
        partner_q: partner_q.to_owned(),
        partner_search: PARTNER_SEARCH,
        credit_roles: vec![
            Choice { value: "influence".to_owned(), label: "Influence".to_owned() },
            Choice { value: "referral".to_owned(), label: "Referral".to_owned() },
        ],
        deal: DealRow::new(&deal, now),
    })
}

const CREDIT_FIELDS: &[&str] = &["partner_id", "role", "credit"];

/// `GET /console/deals/{id}`
async fn show_deal(
    State(state): State<AppState>,
    StaffPage { signed, .. }: StaffPage,
    Path(id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let mut page = deal_page(&state, &signed, &path_id(&id)?, None, query.value("partner_q").trim()).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /console/deals/{id}/transition`: approve (with protected days), reject, ask for
/// information (a reason required), or a partner's change on its behalf.
async fn transition(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: DealId = path_id(&id)?;
    match deal_views::submit_action(&state.ctx, &signed.scope, &id, form).await? {
        None => Ok(see_other(&format!("{SECTION}/{id}?notice=status_changed"))),
        Some(failed) => Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &deal_page(&state, &signed, &id, Some(failed), "").await?)),
    }
}

/// `POST /console/deals/{id}/pipeline`
async fn update_pipeline(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: DealId = path_id(&id)?;
    match deal_views::submit_pipeline(&state.ctx, &signed.scope, &id, form).await? {
        None => Ok(see_other(&format!("{SECTION}/{id}?notice=saved"))),
        Some(failed) => Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &deal_page(&state, &signed, &id, Some(failed), "").await?)),
    }
}

/// `POST /console/deals/{id}/partners`: credits another partner (influence or referral, a %).
async fn credit_partner(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: DealId = path_id(&id)?;
    deals::get(&state.ctx, &signed.scope, &id).await?;
    let mut errors = Vec::new();
    let partner: Option<PartnerId> = form.optional("partner_id").and_then(|p| p.parse().ok());
    if partner.is_none() {
        errors.push(FieldError { field: "partner_id".into(), message: "choose a partner".into() });
    }
    let role = DealRole::parse(form.value("role"));
    if role.is_none() {
        errors.push(FieldError { field: "role".into(), message: "is not one of the offered choices".into() });
    }
    let credit = match crate::amounts::percent_to_bps(form.value("credit")) {
        Ok(bps) => Some(bps),
        Err(message) => {
            errors.push(FieldError { field: "credit".into(), message });
            None
        }
    };
    let result = match (partner, role, credit) {
        (Some(p), Some(r), Some(c)) if errors.is_empty() => {
            deals::attach_partner(&state.ctx, &signed.scope, &id, &p, r, c).await.map(|_| ()).map_err(|e| {
                field_errors(e, "partner_id").map(|errs| {
                    errs.into_iter().map(|e| if e.field == "credit_bps" { FieldError { field: "credit".into(), ..e } } else { e }).collect()
                })
            })
        }
        _ => Err(Ok(errors)),
    };
    match result {
        Ok(()) => Ok(see_other(&format!("{SECTION}/{id}?notice=partner_credited"))),
        Err(errors) => {
            let form = FormView::failed("credit", CREDIT_FIELDS, form, errors?);
            let page = deal_page(&state, &signed, &id, Some(("credit", form)), "").await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Template)]
#[template(path = "console/deal_new.html")]
struct NewDealPage {
    layout: Layout,
    csrf_token: String,
    form: FormView,
    blocked: Option<String>,
    /// The partner picker's matches of `partner_q` (active partners: only they register).
    partners: Vec<Choice>,
    partner_q: String,
    partner_search: &'static str,
    programs: Vec<Choice>,
    currency: String,
    roles: Vec<Choice>,
    countries: Vec<Choice>,
    customers: Vec<String>,
    rules: Vec<RulesView>,
}

async fn new_deal_page(
    state: &AppState,
    signed: &Signed,
    form: Option<FormView>,
    blocked: Option<String>,
    partner_q: &str,
) -> Result<NewDealPage, Error> {
    let scope = &signed.scope;
    require_deciders(scope)?;
    let programs = pipeline::registration_programs(&state.ctx, scope, None).await?;
    let rules = deal_views::rules_in_words(&state.ctx, scope, &programs).await?;
    let mut tx = scope.read(&state.ctx).await?;
    let chosen = form.as_ref().map_or("", |f| f.value("partner_id"));
    let partners = picker_choices(&mut tx, scope, partner_q, true, chosen).await?;
    let customers = pipeline::customer_names_in(&mut tx, scope, "", 500).await?;
    drop(tx);
    Ok(NewDealPage {
        layout: Layout::signed(state, signed, "Register a deal", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        form: form.unwrap_or_else(|| FormView::filled("deal", NEW_DEAL_FIELDS, vec![("partner_role", "resell".to_owned())])),
        blocked,
        partners,
        partner_q: partner_q.to_owned(),
        partner_search: PARTNER_SEARCH,
        programs: program_choices(&programs),
        currency: deal_views::shared_currency(&programs),
        roles: deal_views::role_choices(),
        countries: display::country_choices(),
        customers,
        rules,
    })
}

/// `GET /console/deals/new`: on a partner's behalf, or a direct opportunity.
async fn show_new_deal(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    Ok(render(&new_deal_page(&state, &signed, None, None, query.value("partner_q").trim()).await?))
}

/// `POST /console/deals`
async fn register_deal(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let scope = &signed.scope;
    require_deciders(scope)?;
    let programs = pipeline::registration_programs(&state.ctx, scope, None).await?;
    let on_behalf_of = |input: &mut trellis_deals::deals::NewDeal| match form.value("partner_id") {
        "direct" => {
            input.source = Some(DealSource::Direct);
            input.partner_role = None;
        }
        partner => input.partner_id = partner.parse().ok(),
    };
    match deal_views::register(&state.ctx, scope, &programs, &form, on_behalf_of).await? {
        Registration::Registered(id) => Ok(see_other(&format!("{SECTION}/{id}?notice=deal_registered"))),
        Registration::Failed { errors, refused } => {
            let failed = FormView::failed("deal", NEW_DEAL_FIELDS, form, errors);
            let page = new_deal_page(&state, &signed, Some(failed), refused, "").await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(SECTION, get(list_deals).post(register_deal))
        .route(EXPORT, get(export_deals))
        .route(REVIEW, get(review_queue))
        .route("/console/deals/new", get(show_new_deal))
        .route(PARTNER_SEARCH, get(search_partners))
        .route("/console/deals/{id}", get(show_deal))
        .route("/console/deals/{id}/transition", post(transition))
        .route("/console/deals/{id}/pipeline", post(update_pipeline))
        .route("/console/deals/{id}/partners", post(credit_partner))
}
