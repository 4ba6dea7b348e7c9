//! `/console/leads`: the channel team's lead inbox (issue 13) — what waits for them first (new
//! leads and those given back with no candidate left), then the offers out with the SLA about to
//! pass first, filters by status, country and partner; a new lead's form; a lead's page with its
//! facts, its offers, the ranked candidates with each factor's part as a bar, and the buttons of
//! the transition table (offer to the best match or a chosen candidate, reassign, close).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{Currency, Error, LeadId, PartnerId, ProgramId};
use trellis_leads::leads::{self, LeadFilter, NewLead};
use trellis_leads::routing;
use trellis_leads::statuses::{self, Actor, LeadStatus};
use trellis_programs::programs;
use trellis_web::AppState;

use super::deals::{PARTNER_SEARCH, picker_choices};
use crate::display;
use crate::forms::{Choice, FormData, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::lead_views::{self, LeadFacts, LeadRow, OfferRow, ReasonView};
use crate::listing::{ListState, ListView};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const SECTION: &str = "/console/leads";
const FILTER_FIELDS: &[&str] = &["view", "country", "partner"];
const NEW_FIELDS: &[&str] =
    &["company_name", "contact_name", "contact_email", "domain", "country", "region", "product_interest", "value", "program_id", "notes"];
/// Candidates a lead's page shows (the API lists them all).
const CANDIDATES_SHOWN: usize = 10;

/// The inbox's views: what waits for the channel team (the default), then each status.
const VIEWS: &[(&str, &str, &[LeadStatus])] = &[
    ("waiting", "Waiting for you", &[LeadStatus::New, LeadStatus::Declined, LeadStatus::Expired, LeadStatus::Returned]),
    ("offered", "Offered", &[LeadStatus::Offered]),
    ("accepted", "Accepted", &[LeadStatus::Accepted]),
    ("converted", "Converted", &[LeadStatus::Converted]),
    ("closed", "Closed", &[LeadStatus::Closed]),
    ("all", "All", &[]),
];

fn require_manager(scope: &trellis_identity::Scope) -> Result<(), Error> {
    if super::staff_role(scope)?.manages_partners() {
        Ok(())
    } else {
        Err(Error::forbidden("your role may not create, offer or close leads"))
    }
}

#[derive(Template)]
#[template(path = "console/leads.html")]
struct LeadsPage {
    layout: Layout,
    filters: FormView,
    views: Vec<(String, &'static str, bool)>,
    countries: Vec<Choice>,
    partners: Vec<Choice>,
    partner_q: String,
    partner_search: &'static str,
    rows: Vec<LeadRow>,
    list: ListView,
    is_filtered: bool,
    can_create: bool,
    waiting_view: bool,
}

/// `GET /console/leads?view=&country=&partner=&cursor=`
async fn list(State(state): State<AppState>, StaffPage { signed, role }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let scope = &signed.scope;
    let now = state.ctx.now();
    let view = VIEWS.iter().find(|(code, _, _)| *code == query.value("view")).unwrap_or(&VIEWS[0]);
    let partner = query.optional("partner").and_then(|p| p.parse::<PartnerId>().ok());
    let country = query.optional("country").map(|c| c.trim().to_ascii_uppercase()).filter(|c| c.len() == 2);
    let values = vec![
        ("view", view.0.to_owned()),
        ("country", country.clone().unwrap_or_default()),
        ("partner", partner.as_ref().map(ToString::to_string).unwrap_or_default()),
    ];
    let list = ListState::read(SECTION, &query, values.clone(), &["newest"], "newest");
    let filter = LeadFilter {
        statuses: view.2.to_vec(),
        partner_id: partner,
        country,
        cursor: list.cursor().map(str::to_owned),
        ..LeadFilter::default()
    };
    let mut page = leads::list(&state.ctx, scope, &filter).await?;
    if view.0 == "offered" {
        // The SLA about to pass first, within the page.
        page.items.sort_by_key(|l| l.offer_expires_at);
    }
    let mut tx = scope.read(&state.ctx).await?;
    let partner_q = query.value("partner_q").trim();
    let partners = picker_choices(&mut tx, scope, partner_q, false, query.value("partner")).await?;
    drop(tx);
    let view_links =
        VIEWS.iter().map(|(code, label, _)| (crate::listing::page_url(SECTION, &[("view", code)]), *label, *code == view.0)).collect();
    let shown = LeadsPage {
        layout: Layout::signed(&state, &signed, "Leads", SECTION).await.with_notice(&query),
        filters: FormView::filled("filter", FILTER_FIELDS, values),
        views: view_links,
        countries: display::country_choices(),
        partners,
        partner_q: partner_q.to_owned(),
        partner_search: PARTNER_SEARCH,
        rows: page.items.iter().map(|l| LeadRow::new(l, now)).collect(),
        is_filtered: list.is_filtered(),
        list: list.uncounted_view(page.items.len(), page.next_cursor.clone(), "leads"),
        can_create: role.manages_partners(),
        waiting_view: view.0 == "waiting",
    };
    Ok(render(&shown))
}

#[derive(Template)]
#[template(path = "console/lead_new.html")]
struct NewLeadPage {
    layout: Layout,
    csrf_token: String,
    form: FormView,
    countries: Vec<Choice>,
    programs: Vec<Choice>,
}

async fn new_page(state: &AppState, signed: &Signed, form: FormView) -> Result<NewLeadPage, Error> {
    let scope = &signed.scope;
    let mut tx = scope.read(&state.ctx).await?;
    let programs = programs::list_in(&mut tx, scope.workspace_id()).await?;
    drop(tx);
    Ok(NewLeadPage {
        layout: Layout::signed(state, signed, "New lead", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        form,
        countries: display::country_choices(),
        programs: programs
            .iter()
            .filter(|p| p.deal_registration)
            .map(|p| Choice { value: p.id.to_string(), label: p.name.clone() })
            .collect(),
    })
}

/// `GET /console/leads/new`
async fn new_form(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage) -> PageResult {
    require_manager(&signed.scope)?;
    Ok(render(&new_page(&state, &signed, FormView::new("lead", NEW_FIELDS)).await?))
}

/// Reads the new lead form; a value that is not an amount of `currency` is a field error.
fn new_lead_of(form: &FormData, currency: Currency) -> Result<NewLead, Vec<trellis_core::FieldError>> {
    let value = match form.optional("value").map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(text) => match crate::amounts::money_to_minor(text, currency, leads::MAX_VALUE_MINOR) {
            Ok(minor) => Some((minor, Some(currency.code().to_owned()))),
            Err(message) => return Err(vec![trellis_core::FieldError { field: "value".into(), message }]),
        },
    };
    Ok(NewLead {
        company_name: form.value("company_name").to_owned(),
        contact_name: form.optional("contact_name").map(str::to_owned),
        contact_email: form.optional("contact_email").map(str::to_owned),
        domain: form.optional("domain").map(str::to_owned),
        country: form.value("country").to_owned(),
        region: form.optional("region").map(str::to_owned),
        product_interest: form.optional("product_interest").map(str::to_owned),
        estimated_value: value,
        notes: form.optional("notes").map(str::to_owned),
        program_id: form.optional("program_id").and_then(|p| p.parse::<ProgramId>().ok()),
        external_id: None,
    })
}

/// The currency of the lead's value: its program's, else the workspace's.
async fn lead_currency(state: &AppState, signed: &Signed, form: &FormData) -> Result<Currency, Error> {
    let scope = &signed.scope;
    let mut tx = scope.read(&state.ctx).await?;
    let code = match form.optional("program_id").and_then(|p| p.parse::<ProgramId>().ok()) {
        Some(program) => match programs::get_in(&mut tx, scope.workspace_id(), &program).await {
            Ok(p) => Some(p.currency),
            Err(Error::NotFound) => None,
            Err(err) => return Err(err),
        },
        None => None,
    };
    drop(tx);
    let code = match code {
        Some(code) => code,
        None => trellis_identity::workspaces::get(&state.ctx, scope).await?.default_currency,
    };
    Currency::parse(&code).map_err(|_| Error::Internal(format!("stored currency {code}")))
}

/// `POST /console/leads`: creates the lead and opens its page (to offer it).
async fn create(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    require_manager(&signed.scope)?;
    let currency = lead_currency(&state, &signed, &form).await?;
    let errors = match new_lead_of(&form, currency) {
        Ok(input) => match leads::create(&state.ctx, &signed.scope, input).await {
            Ok(lead) => return Ok(see_other(&format!("{SECTION}/{}?notice=lead_created", lead.id))),
            Err(err) => field_errors(err, "company_name")?,
        },
        Err(errors) => errors,
    };
    let page = new_page(&state, &signed, FormView::failed("lead", NEW_FIELDS, form, errors)).await?;
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// A ranked candidate on the lead's page.
struct CandidateView {
    partner_id: String,
    name: String,
    score: String,
    load: String,
    offered_before: bool,
    reasons: Vec<ReasonView>,
}

#[derive(Template)]
#[template(path = "console/lead.html")]
struct LeadPage {
    layout: Layout,
    csrf_token: String,
    path: String,
    lead: LeadRow,
    facts: LeadFacts,
    offers: Vec<OfferRow>,
    /// The current offer's reasons (why the holder).
    current: Vec<ReasonView>,
    current_score: String,
    candidates: Vec<CandidateView>,
    more_candidates: usize,
    can_offer: bool,
    can_close: bool,
    offer_label: &'static str,
    close_form: FormView,
    offer_error: String,
}

async fn lead_page(
    state: &AppState,
    signed: &Signed,
    id: &LeadId,
    close_form: Option<FormView>,
    offer_error: String,
) -> Result<LeadPage, Error> {
    let scope = &signed.scope;
    let role = super::staff_role(scope)?;
    let now = state.ctx.now();
    let detail = leads::get(&state.ctx, scope, id).await?;
    let lead = &detail.lead;
    let manages = role.manages_partners();
    let can_offer = manages && statuses::find(lead.status, LeadStatus::Offered, Actor::Staff).is_some();
    let candidates = if lead.status.is_final() || lead.status == LeadStatus::Accepted {
        Vec::new()
    } else {
        routing::matches(&state.ctx, scope, id).await?
    };
    let more_candidates = candidates.len().saturating_sub(CANDIDATES_SHOWN);
    let current = detail.current_offer();
    Ok(LeadPage {
        layout: Layout::signed(state, signed, lead.company_name.clone(), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        path: format!("{SECTION}/{id}"),
        facts: LeadFacts::new(lead),
        offers: detail.offers.iter().map(OfferRow::new).collect(),
        current: current.map(|o| lead_views::reasons(&o.reasons)).unwrap_or_default(),
        current_score: current.map(|o| lead_views::score(o.score)).unwrap_or_default(),
        candidates: candidates
            .into_iter()
            .take(CANDIDATES_SHOWN)
            .map(|c| CandidateView {
                partner_id: c.partner_id.to_string(),
                name: c.partner_name,
                score: lead_views::score(c.matched.score),
                load: format!("{} of {} open leads", c.open_leads, c.capacity),
                offered_before: c.offered_before,
                reasons: lead_views::reasons(&c.matched.reasons),
            })
            .collect(),
        more_candidates,
        can_offer,
        can_close: manages && statuses::find(lead.status, LeadStatus::Closed, Actor::Staff).is_some(),
        offer_label: if lead.status == LeadStatus::Offered { "Reassign to" } else { "Offer to" },
        close_form: close_form.unwrap_or_else(|| FormView::new("close", &["reason"])),
        offer_error,
        lead: LeadRow::new(lead, now),
    })
}

/// `GET /console/leads/{id}`
async fn show(
    State(state): State<AppState>,
    StaffPage { signed, .. }: StaffPage,
    Path(id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let mut page = lead_page(&state, &signed, &path_id(&id)?, None, String::new()).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /console/leads/{id}/offer` (`partner_id` empty: the best candidate not offered it before).
async fn offer(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: LeadId = path_id(&id)?;
    let partner = form.optional("partner_id").map(|p| p.parse::<PartnerId>()).transpose().map_err(|_| Error::NotFound)?;
    match routing::offer(&state.ctx, &signed.scope, &id, partner.as_ref()).await {
        Ok(_) => Ok(see_other(&format!("{SECTION}/{id}?notice=lead_offered"))),
        Err(Error::Conflict(message)) => Ok(render_status(StatusCode::CONFLICT, &lead_page(&state, &signed, &id, None, message).await?)),
        Err(Error::Validation(errors)) => {
            let message = errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join("; ");
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &lead_page(&state, &signed, &id, None, message).await?))
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /console/leads/{id}/close` `reason`
async fn close(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: LeadId = path_id(&id)?;
    match leads::close(&state.ctx, &signed.scope, &id, form.value("reason")).await {
        Ok(_) => Ok(see_other(&format!("{SECTION}/{id}?notice=lead_closed"))),
        Err(err) => {
            let errors = field_errors(err, "reason")?;
            let failed = FormView::failed("close", &["reason"], form, errors);
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &lead_page(&state, &signed, &id, Some(failed), String::new()).await?))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(SECTION, get(list).post(create))
        .route("/console/leads/new", get(new_form))
        .route("/console/leads/{id}", get(show))
        .route("/console/leads/{id}/offer", post(offer))
        .route("/console/leads/{id}/close", post(close))
}
