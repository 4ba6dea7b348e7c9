//! `/portal/deals`: the partner's pipeline (a distributor's includes its resellers' deals, with
//! the partner column), its CSV export, the registration form with the program's conflict rules
//! in words, and a deal's page: its status and protection, its conflicts with their reasons
//! (never the other partner's name), the pipeline form, the buttons of the transition table and
//! the deal's dates.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{DealId, Error, Page, PartnerRole};
use trellis_deals::deals::{self, DealDetail};
use trellis_deals::pipeline;
use trellis_deals::statuses::{Actor, DealStatus};
use trellis_web::AppState;

use crate::deal_views::{
    self, ActionView, ConflictView, DealFacts, DealRow, FailedForm, NEW_DEAL_FIELDS, PipelinePage, Registration, RulesView,
};
use crate::display;
use crate::forms::{Choice, FormView, UrlQuery};
use crate::guards::{PartnerForm, PartnerPage};
use crate::listing::{ColumnHead, ListState, ListView};
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
    let mut tx = scope.read(&state.ctx).await?;
    let PipelinePage { filters, list, deals: Page { items, next_cursor }, total, .. } =
        PipelinePage::read(&mut tx, scope, SECTION, &query, false, now).await?;
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
    let csv = deal_views::export_csv(&state, &signed, &query).await?;
    Ok(crate::downloads::csv_file("deals.csv", csv))
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
    let rules = deal_views::rules_in_words(&state.ctx, scope, &programs).await?;
    let blocked = blocked.or_else(|| {
        programs.is_empty().then(|| {
            "Your organisation is not enrolled in a program that takes deal registrations. Ask your channel manager to enrol you."
                .to_owned()
        })
    });
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
        currency: deal_views::shared_currency(&programs),
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

/// `POST /portal/deals`: registers the deal and opens its page; errors next to the fields, an
/// ineligible organisation's reason at the top, and nothing stored.
async fn register_deal(State(state): State<AppState>, PartnerForm { signed, partner_id, form }: PartnerForm) -> PageResult {
    let scope = &signed.scope;
    let (_, role) = super::own_partner(scope)?;
    if !may_register(role) {
        return Err(Error::forbidden("only a partner's admins and sales people register deals").into());
    }
    let programs = pipeline::registration_programs(&state.ctx, scope, Some(&partner_id)).await?;
    match deal_views::register(&state.ctx, scope, &programs, &form, |_| ()).await? {
        Registration::Registered(id) => Ok(see_other(&format!("{SECTION}/{id}?notice=deal_registered"))),
        Registration::Failed { errors, refused } => {
            let failed = FormView::failed("deal", NEW_DEAL_FIELDS, form, errors);
            let page = new_deal_page(&state, &signed, Some(failed), refused).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Template)]
#[template(path = "portal/deal.html")]
struct DealPage {
    layout: Layout,
    csrf_token: String,
    /// The deal's page, where its forms post.
    path: String,
    deal: DealRow,
    facts: DealFacts,
    status_help: &'static str,
    conflicts: Vec<ConflictView>,
    actions: Vec<ActionView>,
    pipeline: Option<FormView>,
    stages: Vec<Choice>,
    /// "Dispute this decision" (a rejected registration).
    can_dispute: bool,
    /// "Ask for more time" (approved, protection running).
    can_extend: bool,
}

async fn deal_page(state: &AppState, signed: &Signed, id: &DealId, failed: Option<FailedForm>) -> Result<DealPage, Error> {
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
    let protected = deal.protected_until.is_some_and(|u| u.micros() > now.micros());
    Ok(DealPage {
        layout: Layout::signed(state, signed, deal.customer_name.clone(), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        path: format!("{SECTION}/{}", deal.id),
        facts: DealFacts::new(&deal),
        status_help: deal_views::partner_status_help(deal.status),
        conflicts: conflicts.iter().map(ConflictView::for_partner).collect(),
        actions,
        pipeline: (works && deal_views::is_open(&deal)).then(|| pipeline_failed.unwrap_or_else(|| deal_views::pipeline_form(&deal))),
        stages: deal_views::stage_choices(),
        can_dispute: registrant_side && deal.status == DealStatus::Rejected,
        can_extend: registrant_side && deal.status == DealStatus::Approved && protected,
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
    match deal_views::submit_pipeline(&state.ctx, &signed.scope, &id, form).await? {
        None => Ok(see_other(&format!("{SECTION}/{id}?notice=saved"))),
        Some(failed) => Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &deal_page(&state, &signed, &id, Some(failed)).await?)),
    }
}

/// `POST /portal/deals/{id}/transition`: a button of the transition table (`to`, `reason`).
async fn transition(State(state): State<AppState>, Path(id): Path<String>, PartnerForm { signed, form, .. }: PartnerForm) -> PageResult {
    let id: DealId = path_id(&id)?;
    match deal_views::submit_action(&state.ctx, &signed.scope, &id, form).await? {
        None => Ok(see_other(&format!("{SECTION}/{id}?notice=status_changed"))),
        Some(failed) => Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &deal_page(&state, &signed, &id, Some(failed)).await?)),
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
