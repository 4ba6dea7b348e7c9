//! `/portal/deals`: the partner's pipeline (a distributor's includes its resellers' deals, with
//! the partner column), its CSV export, the registration form with the program's conflict rules
//! in words, and a deal's page: its status and protection, its conflicts with their reasons
//! (never the other partner's name), the pipeline form, the buttons of the transition table and
//! the deal's dates.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{Currency, DealId, Error, FieldError, Page, PartnerRole};
use trellis_deals::deals::{self, DealDetail};
use trellis_deals::pipeline;
use trellis_deals::rules::{self, Rule};
use trellis_deals::statuses::{Actor, DealStatus};
use trellis_programs::programs::Program;
use trellis_web::AppState;

use crate::deal_views::{self, ActionView, CSV_HEAD, ConflictView, DealFilters, DealRow, EXPORT_CAP, NEW_DEAL_FIELDS, csv_field, csv_line};
use crate::display;
use crate::forms::{Choice, FormData, FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage};
use crate::listing::{COUNT_CAP, ColumnHead, ListState, ListView, PAGE_SIZE};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const SECTION: &str = "/portal/deals";
const EXPORT: &str = "/portal/deals/export";
const FILTER_FIELDS: &[&str] = &["status", "stage"];

fn may_register(role: PartnerRole) -> bool {
    matches!(role, PartnerRole::Admin | PartnerRole::Sales)
}

#[derive(Template)]
#[template(path = "portal/deals.html")]
struct DealsPage {
    layout: Layout,
    filters: FormView,
    statuses: Vec<Choice>,
    stages: Vec<Choice>,
    deals: Vec<DealRow>,
    columns: Vec<ColumnHead>,
    list: ListView,
    is_filtered: bool,
    export: String,
    /// A distributor sees its resellers' deals: the partner column says whose.
    show_partner: bool,
    can_register: bool,
}

/// `GET /portal/deals?status=&stage=&cursor=&from=`
async fn list_deals(
    State(state): State<AppState>,
    PartnerPage { signed, partner_id, role }: PartnerPage,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let scope = &signed.scope;
    let now = state.ctx.now();
    let filters = DealFilters::read(&query);
    let list = ListState::read(SECTION, &query, filters.params(false), &["newest"], "newest");
    let mut filter = filters.deal_filter(now);
    filter.cursor = list.cursor().map(str::to_owned);
    filter.limit = Some(PAGE_SIZE);
    let mut tx = scope.read(&state.ctx).await?;
    let Page { items, next_cursor } = deals::list_in(&mut tx, scope, &filter).await?;
    let total = pipeline::count_in(&mut tx, scope, &filter, COUNT_CAP).await?;
    drop(tx);
    let show_partner = items.iter().any(|d| d.partner_id.as_ref() != Some(&partner_id));
    let mut columns = vec![ListState::plain_column("Customer")];
    if show_partner {
        columns.push(ListState::plain_column("Partner"));
    }
    columns.extend(["Status", "Stage", "Amount", "Protected", "Registered"].map(ListState::plain_column));
    let page = DealsPage {
        layout: Layout::signed(&state, &signed, "Deals", SECTION).await.with_notice(&query),
        filters: FormView::filled("filter", FILTER_FIELDS, filters.params(false)),
        statuses: deal_views::status_choices(),
        stages: deal_views::stage_choices(),
        deals: items.iter().map(|d| DealRow::new(d, now)).collect(),
        columns,
        is_filtered: list.is_filtered(),
        export: list.url_at(EXPORT),
        list: list.view(items.len(), total, next_cursor, "deals"),
        show_partner,
        can_register: may_register(role),
    };
    Ok(render(&page))
}

/// `GET /portal/deals/export?…`: the deals of the same filters as a CSV file.
async fn export_deals(State(state): State<AppState>, PartnerPage { signed, .. }: PartnerPage, UrlQuery(query): UrlQuery) -> PageResult {
    let csv = export_csv(&state, &signed, &query).await?;
    Ok(crate::downloads::csv_file("deals.csv", csv))
}

/// Every page of the deals a filter matches, as CSV (shared with the console's export).
pub(crate) async fn export_csv(state: &AppState, signed: &Signed, query: &FormData) -> Result<String, Error> {
    let scope = &signed.scope;
    let mut filter = DealFilters::read(query).deal_filter(state.ctx.now());
    filter.limit = Some(trellis_core::page::MAX_PAGE_SIZE);
    let mut tx = scope.read(&state.ctx).await?;
    let mut csv = String::from(CSV_HEAD);
    let mut rows = 0;
    loop {
        let page = deals::list_in(&mut tx, scope, &filter).await?;
        for d in &page.items {
            csv.push_str(&csv_line(d));
        }
        rows += page.items.len();
        match page.next_cursor {
            Some(next) if rows < EXPORT_CAP => filter.cursor = Some(next),
            Some(_) => {
                csv.push_str(&csv_field(&format!("The export stops at {EXPORT_CAP} deals: narrow the filters for the rest.")));
                csv.push_str("\r\n");
                break;
            }
            None => break,
        }
    }
    Ok(csv)
}

/// A program's conflict rules in words, under its name when the partner has several programs.
pub(crate) struct RulesView {
    pub program: String,
    pub rules: Vec<Rule>,
}

#[derive(Template)]
#[template(path = "portal/deal_new.html")]
struct NewDealPage {
    layout: Layout,
    csrf_token: String,
    form: FormView,
    /// Why the organisation may not register (not enrolled, suspended, lapsed licence), at the top.
    blocked: Option<String>,
    /// Offered only when the partner has several programs that take registrations.
    programs: Vec<Choice>,
    /// "EUR", or blank when the programs' currencies differ.
    currency: String,
    roles: Vec<Choice>,
    countries: Vec<Choice>,
    /// Accounts the partner registered before, suggested as it types.
    customers: Vec<String>,
    rules: Vec<RulesView>,
}

async fn new_deal_page(state: &AppState, signed: &Signed, form: Option<FormView>, blocked: Option<String>) -> Result<NewDealPage, Error> {
    let scope = &signed.scope;
    let (own, role) = super::own_partner(scope)?;
    if !may_register(role) {
        return Err(Error::forbidden("only a partner's admins and sales people register deals"));
    }
    let programs = pipeline::registration_programs(&state.ctx, scope, Some(&own)).await?;
    let mut rules = Vec::new();
    for p in &programs {
        rules.push(RulesView { program: p.name.clone(), rules: rules::get(&state.ctx, scope, &p.id).await?.in_words() });
    }
    let blocked = blocked.or_else(|| {
        programs.is_empty().then(|| {
            "Your organisation is not enrolled in a program that takes deal registrations. Ask your channel manager to enrol you."
                .to_owned()
        })
    });
    let currency = match programs.first() {
        Some(first) if programs.iter().all(|p| p.currency == first.currency) => first.currency.clone(),
        _ => String::new(),
    };
    Ok(NewDealPage {
        layout: Layout::signed(state, signed, "Register a deal", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        form: form.unwrap_or_else(|| FormView::filled("deal", NEW_DEAL_FIELDS, vec![("partner_role", "resell".to_owned())])),
        blocked,
        programs: if programs.len() > 1 {
            programs.iter().map(|p| Choice { value: p.id.to_string(), label: p.name.clone() }).collect()
        } else {
            Vec::new()
        },
        currency,
        roles: deal_views::role_choices(),
        countries: display::country_choices(),
        customers: pipeline::customer_names(&state.ctx, scope, "", 500).await?,
        rules,
    })
}

/// `GET /portal/deals/new`: the registration form (admins and sales people).
async fn show_new_deal(State(state): State<AppState>, PartnerPage { signed, .. }: PartnerPage) -> PageResult {
    Ok(render(&new_deal_page(&state, &signed, None, None).await?))
}

/// The currency a registration's amount is typed in: the chosen program's, or the only one's.
fn currency_of(programs: &[Program], form: &FormData) -> Option<Currency> {
    let program = match form.optional("program_id") {
        Some(id) => programs.iter().find(|p| p.id.as_str() == id),
        None => programs.first(),
    };
    program.and_then(|p| Currency::parse(&p.currency).ok())
}

/// `POST /portal/deals`: registers the deal and opens its page; errors next to the fields, an
/// ineligible organisation's reason at the top, and nothing stored.
async fn register_deal(State(state): State<AppState>, PartnerForm { signed, partner_id, form }: PartnerForm) -> PageResult {
    let scope = &signed.scope;
    let (_, role) = super::own_partner(scope)?;
    if !may_register(role) {
        return Err(Error::forbidden("only a partner's admins and sales people register deals").into());
    }
    let programs = pipeline::registration_programs(&state.ctx, scope, Some(&partner_id)).await?;
    let failed = |errors: Vec<FieldError>| FormView::failed("deal", NEW_DEAL_FIELDS, form.clone(), errors);
    let input = match deal_views::read_new_deal(&form, currency_of(&programs, &form), true) {
        Ok(input) => input,
        Err(errors) => {
            let page = new_deal_page(&state, &signed, Some(failed(errors)), None).await?;
            return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    match deals::register(&state.ctx, scope, input).await {
        Ok(detail) => Ok(see_other(&format!("{SECTION}/{}?notice=deal_registered", detail.deal.id))),
        Err(Error::Conflict(reason)) => {
            let page = new_deal_page(&state, &signed, Some(failed(Vec::new())), Some(reason)).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(err) => {
            let errors = deal_views::place_errors(field_errors(err, "")?);
            let page = new_deal_page(&state, &signed, Some(failed(errors)), None).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// A deal's dates in the order they happened.
pub(crate) struct Milestone {
    pub label: &'static str,
    pub when: String,
}

pub(crate) fn milestones(d: &deals::Deal) -> Vec<Milestone> {
    let mut out = vec![Milestone { label: "Registered", when: display::time(d.created_at) }];
    if d.updated_at != d.created_at {
        out.push(Milestone { label: "Last changed", when: display::time(d.updated_at) });
    }
    if let Some(until) = d.protected_until {
        out.push(Milestone { label: "Protection ends", when: display::time(until) });
    }
    if let Some(closed) = d.closed_at {
        out.push(Milestone { label: if d.status == DealStatus::Won { "Won" } else { "Closed" }, when: display::time(closed) });
    }
    out
}

#[derive(Template)]
#[template(path = "portal/deal.html")]
struct DealPage {
    layout: Layout,
    csrf_token: String,
    /// The deal's page, where its forms post.
    path: String,
    deal: DealRow,
    role: String,
    country: String,
    email: String,
    description: String,
    decision_note: Option<String>,
    status_help: &'static str,
    conflicts: Vec<ConflictView>,
    actions: Vec<ActionView>,
    pipeline: Option<FormView>,
    stages: Vec<Choice>,
    /// "Dispute this decision" (a rejected registration).
    can_dispute: bool,
    /// "Ask for more time" (approved, protection running).
    can_extend: bool,
    milestones: Vec<Milestone>,
}

/// What a status means for the partner, in a sentence.
pub(crate) fn status_help(status: DealStatus) -> &'static str {
    match status {
        DealStatus::Submitted => "The channel team reviews your registration; you are told of the decision by email.",
        DealStatus::UnderReview => "Your registration conflicts with another one and is being reviewed; see the conflicts below.",
        DealStatus::NeedsInfo => "The channel team needs more information: update the deal below, then send it for review.",
        DealStatus::Approved => "Approved: the customer is protected for you until the date below.",
        DealStatus::Rejected => "Rejected: the reason is below. You may dispute the decision.",
        DealStatus::Won => "Won. Congratulations!",
        DealStatus::Lost => "Lost.",
        DealStatus::Expired => "The protection ended. You may still mark the deal won or lost.",
    }
}

async fn deal_page(state: &AppState, signed: &Signed, id: &DealId, failed: Option<(&str, FormView)>) -> Result<DealPage, Error> {
    let scope = &signed.scope;
    let (own, role) = super::own_partner(scope)?;
    let DealDetail { deal, conflicts, .. } = deals::get(&state.ctx, scope, id).await?;
    let now = state.ctx.now();
    // Only the registering side works the deal (a partner credited on it reads it).
    let mut tx = scope.read(&state.ctx).await?;
    let registrant_side = match &deal.partner_id {
        Some(p) => p == &own || tx.can_see_partner(p).await?,
        None => false,
    };
    drop(tx);
    let works = registrant_side && may_register(role);
    let (pipeline_failed, action_failed) = match failed {
        Some(("pipeline", form)) => (Some(form), None),
        other => (None, other),
    };
    let actions = if works { deal_views::actions(deal.status, Actor::Partner, None, action_failed) } else { Vec::new() };
    let open = !matches!(deal.status, DealStatus::Won | DealStatus::Lost | DealStatus::Rejected);
    let protected = deal.protected_until.is_some_and(|u| u.micros() > now.micros());
    Ok(DealPage {
        layout: Layout::signed(state, signed, deal.customer_name.clone(), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        path: format!("{SECTION}/{}", deal.id),
        role: deal.partner_role.map(|r| display::words(r.as_str())).unwrap_or_default(),
        country: deal.country.as_deref().map(display::country_name).unwrap_or_default().to_owned(),
        email: deal.customer_email.clone().unwrap_or_default(),
        description: deal.description.clone(),
        decision_note: deal.decision_note.clone(),
        status_help: status_help(deal.status),
        conflicts: conflicts.iter().map(|c| ConflictView::new(c, None, now)).collect(),
        actions,
        pipeline: (works && open).then(|| pipeline_failed.unwrap_or_else(|| deal_views::pipeline_form(&deal))),
        stages: deal_views::stage_choices(),
        can_dispute: registrant_side && deal.status == DealStatus::Rejected,
        can_extend: registrant_side && deal.status == DealStatus::Approved && protected,
        milestones: milestones(&deal),
        deal: DealRow::new(&deal, now),
    })
}

/// `GET /portal/deals/{id}`
async fn show_deal(
    State(state): State<AppState>,
    PartnerPage { signed, .. }: PartnerPage,
    Path(id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let mut page = deal_page(&state, &signed, &path_id(&id)?, None).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /portal/deals/{id}/pipeline`: stage, amount, expected close date, description.
async fn update_pipeline(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PartnerForm { signed, form, .. }: PartnerForm,
) -> PageResult {
    let id: DealId = path_id(&id)?;
    let detail = deals::get(&state.ctx, &signed.scope, &id).await?;
    let result = match deal_views::read_pipeline(&form, &detail.deal.amount.currency) {
        Ok(patch) => deals::update(&state.ctx, &signed.scope, &id, patch).await.map_err(|e| field_errors(e, "stage")),
        Err(errors) => Err(Ok(errors)),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("{SECTION}/{id}?notice=saved"))),
        Err(errors) => {
            let form = FormView::failed("pipeline", deal_views::PIPELINE_FIELDS, form, errors?);
            let page = deal_page(&state, &signed, &id, Some(("pipeline", form))).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /portal/deals/{id}/transition`: a button of the transition table (`to`, `reason`).
async fn transition(State(state): State<AppState>, Path(id): Path<String>, PartnerForm { signed, form, .. }: PartnerForm) -> PageResult {
    let id: DealId = path_id(&id)?;
    deals::get(&state.ctx, &signed.scope, &id).await?;
    let result = match deal_views::read_action(&form) {
        Ok((to, decision)) => deals::transition(&state.ctx, &signed.scope, &id, to, decision).await.map(|_| ()),
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => Ok(see_other(&format!("{SECTION}/{id}?notice=status_changed"))),
        Err(err) => {
            let to = DealStatus::parse(form.value("to"));
            let errors = field_errors(err, "reason")?;
            let Some(to) = to else { return Err(Error::Validation(errors).into()) };
            let view = FormView::failed(deal_views::form_prefix(to), deal_views::ACTION_FIELDS, form, errors);
            let page = deal_page(&state, &signed, &id, Some((to.as_str(), view))).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(SECTION, get(list_deals).post(register_deal))
        .route(EXPORT, get(export_deals))
        .route("/portal/deals/new", get(show_new_deal))
        .route("/portal/deals/{id}", get(show_deal))
        .route("/portal/deals/{id}/pipeline", post(update_pipeline))
        .route("/portal/deals/{id}/transition", post(transition))
}
