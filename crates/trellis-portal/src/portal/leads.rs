//! `/portal/leads`: "Leads for you" (issue 13) — the offers waiting for the organisation's answer
//! first, with the time left, then the leads it accepted and those it passed on to its resellers;
//! a lead's page says why it came to this partner (each factor's part), and its admins and sales
//! people accept, decline or return it with a reason, or convert it into a deal registration in
//! one step. Built for a phone: one column, large buttons.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use trellis_core::{Currency, Error, LeadId, PartnerId, PartnerRole, PartnerStatus};
use trellis_directory::PartnerFilter;
use trellis_directory::partners::{self, PartnerSort};
use trellis_leads::leads::{self, Lead, LeadFilter};
use trellis_leads::routing::{self, Conversion};
use trellis_leads::settings;
use trellis_leads::statuses::LeadStatus;
use trellis_web::AppState;

use crate::forms::{Choice, FormData, FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage};
use crate::lead_views::{self, LeadFacts, LeadRow, ReasonView};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const SECTION: &str = "/portal/leads";
const CONVERT_FIELDS: &[&str] = &["amount", "expected_close_date", "description"];

fn may_answer(role: PartnerRole) -> bool {
    matches!(role, PartnerRole::Admin | PartnerRole::Sales)
}

#[derive(Template)]
#[template(path = "portal/leads.html")]
struct LeadsPage {
    layout: Layout,
    waiting: Vec<LeadRow>,
    accepted: Vec<LeadRow>,
    passed_on: Vec<LeadRow>,
    done: Vec<LeadRow>,
    /// The organisation's own limit of open leads, for its admins to change.
    capacity_form: Option<FormView>,
    csrf_token: String,
    /// "(blank: the program's, usually 10)".
    capacity_hint: String,
}

/// `GET /portal/leads`: the organisation's leads (a page of the newest of each kind).
async fn list(
    State(state): State<AppState>,
    PartnerPage { signed, partner_id, role }: PartnerPage,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let capacity_form = match role {
        PartnerRole::Admin => {
            let capacity = settings::partner_capacity(&state.ctx, &signed.scope, &partner_id).await?;
            Some(FormView::filled("capacity", &["capacity"], vec![("capacity", capacity.map(|c| c.to_string()).unwrap_or_default())]))
        }
        _ => None,
    };
    list_page(&state, &signed, &partner_id, capacity_form, &query).await
}

async fn list_page(
    state: &AppState,
    signed: &Signed,
    partner_id: &PartnerId,
    capacity_form: Option<FormView>,
    query: &FormData,
) -> PageResult {
    let now = state.ctx.now();
    let read = |statuses: Vec<LeadStatus>| {
        let filter = LeadFilter { statuses, limit: Some(100), ..LeadFilter::default() };
        let (ctx, scope) = (&state.ctx, &signed.scope);
        async move { leads::list(ctx, scope, &filter).await }
    };
    let mine = |lead: &Lead| lead.holder_partner_id.as_ref() == Some(partner_id);
    let open = read(vec![LeadStatus::Offered, LeadStatus::Accepted]).await?.items;
    let done = read(vec![LeadStatus::Converted]).await?.items;
    let mut waiting: Vec<&Lead> = open.iter().filter(|l| mine(l) && l.status == LeadStatus::Offered).collect();
    waiting.sort_by_key(|l| l.offer_expires_at);
    let page = LeadsPage {
        layout: Layout::signed(state, signed, "Leads for you", SECTION).await.with_notice(query),
        waiting: waiting.into_iter().map(|l| LeadRow::new(l, now)).collect(),
        accepted: open.iter().filter(|l| mine(l) && l.status == LeadStatus::Accepted).map(|l| LeadRow::new(l, now)).collect(),
        passed_on: open.iter().filter(|l| !mine(l)).map(|l| LeadRow::new(l, now)).collect(),
        done: done.iter().map(|l| LeadRow::new(l, now)).collect(),
        capacity_form,
        csrf_token: signed.session.csrf_token.clone(),
        capacity_hint: format!("(blank: the program's, usually {})", settings::DEFAULT_CAPACITY),
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "portal/lead.html")]
struct LeadPage {
    layout: Layout,
    csrf_token: String,
    path: String,
    lead: LeadRow,
    facts: LeadFacts,
    reasons: Vec<ReasonView>,
    score: String,
    /// Held by a reseller of the caller's (read only here).
    passed_on: bool,
    can_answer: bool,
    can_convert: bool,
    answer_form: FormView,
    convert_form: FormView,
    currency: String,
    /// A distributor's accepted lead: its resellers to pass it on to (active ones, by name, a
    /// page of those matching `reseller_q`).
    resellers: Vec<Choice>,
    reseller_q: String,
    pass_form: FormView,
}

/// A lead page's forms as a failed submission left them, and what the reseller search holds.
#[derive(Default)]
struct Forms<'a> {
    answer: Option<FormView>,
    convert: Option<FormView>,
    pass: Option<FormView>,
    reseller_q: &'a str,
}

async fn lead_page(
    state: &AppState,
    signed: &Signed,
    partner_id: &PartnerId,
    role: PartnerRole,
    id: &LeadId,
    forms: Forms<'_>,
) -> Result<LeadPage, Error> {
    let Forms { answer: answer_form, convert: convert_form, pass: pass_form, reseller_q } = forms;
    let now = state.ctx.now();
    let detail = leads::get(&state.ctx, &signed.scope, id).await?;
    let lead = &detail.lead;
    let holder = lead.holder_partner_id.as_ref() == Some(partner_id);
    let own_offer = detail.offers.iter().rev().find(|o| &o.partner_id == partner_id);
    let currency = lead.estimated_value.as_ref().map(|(_, c)| c.clone()).unwrap_or_default();
    let convert_defaults = vec![(
        "amount",
        lead.estimated_value
            .as_ref()
            .and_then(|(amount, code)| Currency::parse(code).ok().map(|c| crate::amounts::minor_to_money(*amount, c)))
            .unwrap_or_default(),
    )];
    let can_convert = holder && may_answer(role) && lead.status == LeadStatus::Accepted;
    let resellers = if can_convert {
        let filter = PartnerFilter {
            q: Some(reseller_q.to_owned()).filter(|q| !q.trim().is_empty()),
            status: Some(PartnerStatus::Active),
            sort: PartnerSort::Name,
            limit: Some(50),
            ..PartnerFilter::default()
        };
        let mut tx = signed.scope.read(&state.ctx).await?;
        let found = partners::list_in(&mut tx, &signed.scope, &filter).await?.items;
        found.into_iter().filter(|p| &p.id != partner_id).map(|p| Choice { value: p.id.to_string(), label: p.name }).collect()
    } else {
        Vec::new()
    };
    Ok(LeadPage {
        layout: Layout::signed(state, signed, lead.company_name.clone(), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        path: format!("{SECTION}/{id}"),
        facts: LeadFacts::new(lead),
        reasons: own_offer.map(|o| lead_views::reasons(&o.reasons)).unwrap_or_default(),
        score: own_offer.map(|o| lead_views::score(o.score)).unwrap_or_default(),
        passed_on: !holder,
        can_answer: holder && may_answer(role) && lead.status == LeadStatus::Offered,
        can_convert,
        resellers,
        reseller_q: reseller_q.to_owned(),
        pass_form: pass_form.unwrap_or_else(|| FormView::new("pass", &["partner_id"])),
        answer_form: answer_form.unwrap_or_else(|| FormView::new("answer", &["reason"])),
        convert_form: convert_form.unwrap_or_else(|| FormView::filled("convert", CONVERT_FIELDS, convert_defaults)),
        currency,
        lead: LeadRow::new(lead, now),
    })
}

/// `GET /portal/leads/{id}`
async fn show(
    State(state): State<AppState>,
    PartnerPage { signed, partner_id, role }: PartnerPage,
    Path(id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let forms = Forms { reseller_q: query.value("reseller_q"), ..Forms::default() };
    let mut page = lead_page(&state, &signed, &partner_id, role, &path_id(&id)?, forms).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// The page again after a refused answer (a missing reason, a lead that changed meanwhile).
async fn refused(state: &AppState, form: &PartnerForm, id: &LeadId, err: Error, convert: bool) -> PageResult {
    let PartnerForm { signed, partner_id, form: submitted } = form;
    let role = signed.scope.partner().map_or(PartnerRole::Member, |(_, role)| role);
    let errors = field_errors(err, "reason")?;
    let (answer, converting) = if convert {
        (None, Some(FormView::failed("convert", CONVERT_FIELDS, submitted.clone(), errors)))
    } else {
        (Some(FormView::failed("answer", &["reason"], submitted.clone(), errors)), None)
    };
    let page = lead_page(state, signed, partner_id, role, id, Forms { answer, convert: converting, ..Forms::default() }).await?;
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /portal/leads/{id}/accept`
async fn accept(State(state): State<AppState>, Path(id): Path<String>, form: PartnerForm) -> PageResult {
    let id: LeadId = path_id(&id)?;
    match routing::accept(&state.ctx, &form.signed.scope, &id).await {
        Ok(_) => Ok(see_other(&format!("{SECTION}/{id}?notice=lead_accepted"))),
        Err(err) => refused(&state, &form, &id, err, false).await,
    }
}

/// `POST /portal/leads/{id}/decline` and `/return` `reason`: the lead leaves the organisation.
async fn give_back(state: AppState, id: String, form: PartnerForm, to: LeadStatus) -> PageResult {
    let id: LeadId = path_id(&id)?;
    match routing::give_back(&state.ctx, &form.signed.scope, &id, to, form.form.value("reason")).await {
        Ok(_) => Ok(see_other(&format!("{SECTION}?notice=lead_given_back"))),
        Err(err) => refused(&state, &form, &id, err, false).await,
    }
}

async fn decline(State(state): State<AppState>, Path(id): Path<String>, form: PartnerForm) -> PageResult {
    give_back(state, id, form, LeadStatus::Declined).await
}

async fn return_lead(State(state): State<AppState>, Path(id): Path<String>, form: PartnerForm) -> PageResult {
    give_back(state, id, form, LeadStatus::Returned).await
}

/// Reads the conversion form: an amount in `currency` (the lead's estimate when left blank).
fn conversion_of(form: &FormData, currency: Currency) -> Result<Conversion, Error> {
    let amount_minor = match form.optional("amount").map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(text) => Some(
            crate::amounts::money_to_minor(text, currency, leads::MAX_VALUE_MINOR).map_err(|message| Error::invalid("amount", message))?,
        ),
    };
    Ok(Conversion {
        amount_minor,
        expected_close_date: form.optional("expected_close_date").map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned),
        description: form.optional("description").map(str::to_owned),
    })
}

/// `POST /portal/leads/{id}/convert`: registers the deal and opens it.
async fn convert(State(state): State<AppState>, Path(id): Path<String>, form: PartnerForm) -> PageResult {
    let id: LeadId = path_id(&id)?;
    let lead = leads::get(&state.ctx, &form.signed.scope, &id).await?.lead;
    // The deal's currency is its program's: the lead's estimate is in it, else the workspace's.
    let code = match lead.estimated_value {
        Some((_, code)) => code,
        None => trellis_identity::workspaces::get(&state.ctx, &form.signed.scope).await?.default_currency,
    };
    let currency = Currency::parse(&code).map_err(|_| Error::Internal(format!("stored currency {code}")))?;
    let result = match conversion_of(&form.form, currency) {
        Ok(input) => routing::convert(&state.ctx, &form.signed.scope, &id, input).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(deal_id) => Ok(see_other(&format!("/portal/deals/{deal_id}?notice=deal_registered"))),
        Err(err) => refused(&state, &form, &id, err, true).await,
    }
}

/// `POST /portal/leads/capacity` `capacity` (blank: the program's): the organisation's admins say
/// how many open leads it takes at once.
async fn set_capacity(State(state): State<AppState>, form: PartnerForm) -> PageResult {
    let PartnerForm { signed, partner_id, form } = form;
    let text = form.value("capacity").trim();
    let result = match text {
        "" => settings::set_partner_capacity(&state.ctx, &signed.scope, &partner_id, None).await,
        digits => match digits.parse::<i64>() {
            Ok(n) => settings::set_partner_capacity(&state.ctx, &signed.scope, &partner_id, Some(n)).await,
            Err(_) => Err(Error::invalid("capacity", "must be a whole number of leads, or blank for the program's")),
        },
    };
    match result {
        Ok(_) => Ok(see_other(&format!("{SECTION}?notice=saved"))),
        Err(err) => {
            let errors = field_errors(err, "capacity")?;
            let failed = Some(FormView::failed("capacity", &["capacity"], form, errors));
            let page = list_page(&state, &signed, &partner_id, failed, &FormData::default()).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// `POST /portal/leads/{id}/pass-on` `partner_id`: a distributor offers its accepted lead to one
/// of its resellers.
async fn pass_on(State(state): State<AppState>, Path(id): Path<String>, form: PartnerForm) -> PageResult {
    let id: LeadId = path_id(&id)?;
    let reseller = form.form.optional("partner_id").and_then(|p| p.parse::<PartnerId>().ok());
    let result = match &reseller {
        Some(reseller) => routing::pass_on(&state.ctx, &form.signed.scope, &id, reseller).await.map(|_| ()),
        None => Err(Error::invalid("partner_id", "choose one of your resellers")),
    };
    match result {
        Ok(()) => Ok(see_other(&format!("{SECTION}/{id}?notice=lead_passed_on"))),
        Err(err) => {
            let PartnerForm { signed, partner_id, form: submitted } = &form;
            let role = signed.scope.partner().map_or(PartnerRole::Member, |(_, role)| role);
            let errors = field_errors(err, "partner_id")?;
            let failed = Some(FormView::failed("pass", &["partner_id"], submitted.clone(), errors));
            let page = lead_page(&state, signed, partner_id, role, &id, Forms { pass: failed, ..Forms::default() }).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(SECTION, get(list))
        .route("/portal/leads/capacity", post(set_capacity))
        .route("/portal/leads/{id}", get(show))
        .route("/portal/leads/{id}/accept", post(accept))
        .route("/portal/leads/{id}/decline", post(decline))
        .route("/portal/leads/{id}/return", post(return_lead))
        .route("/portal/leads/{id}/convert", post(convert))
        .route("/portal/leads/{id}/pass-on", post(pass_on))
}
