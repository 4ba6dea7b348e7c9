//! Leads: what the vendor passes to partners, offers with an SLA, the partner's answers and the
//! conversion into a deal (API.md "Leads"). The services are `trellis_leads`; every status change
//! goes through its transition table (`trellis_leads::statuses`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use trellis_core::{LeadId, PartnerId, ProgramId, Timestamp};
use trellis_leads::leads::{self, Lead, LeadDetail, LeadFilter, NewLead, Offer};
use trellis_leads::matching::Reason;
use trellis_leads::routing::{self, Candidate, Conversion};
use trellis_leads::settings::{self, LeadSettings, SettingsPatch};
use trellis_leads::statuses::LeadStatus;
use trellis_web::AppState;
use trellis_web::meta::Meta;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiQuery, Caller, Cursor, PageLimit, path_id};
use crate::handlers::deals::{DealView, MoneyInput, MoneyView, OptionalJson};
use crate::views::Page;

// ---------------------------------------------------------------------------------------------
// Views

/// One factor's part in a match.
#[derive(Serialize, ToSchema)]
pub struct MatchReasonView {
    /// territory, product, tier, certification, win_rate, speed, acceptance, responsiveness or capacity.
    pub factor: String,
    /// The partner's value for the factor, 0 to 1.
    pub value: f64,
    /// The factor's weight (points out of 100 with the default weights).
    pub weight: f64,
}

/// A match's score and every factor's part in it, the largest first.
#[derive(Serialize, ToSchema)]
pub struct MatchView {
    /// Σ weight × value.
    pub score: f64,
    /// The estimated chance to win, when the program's weights are fitted to its outcomes.
    pub probability: Option<f64>,
    pub reasons: Vec<MatchReasonView>,
}

fn reasons_view(reasons: &[Reason]) -> Vec<MatchReasonView> {
    reasons.iter().map(|r| MatchReasonView { factor: r.factor.as_str().to_owned(), value: r.value, weight: r.weight }).collect()
}

/// The partner a lead is offered to (or that accepted it).
#[derive(Serialize, ToSchema)]
pub struct OfferedToView {
    pub partner_id: String,
    pub partner_name: Option<String>,
}

/// One offer of the lead, as the caller may see it (a partner: those to it and its descendants).
#[derive(Serialize, ToSchema)]
pub struct LeadOfferView {
    pub id: String,
    pub partner_id: String,
    pub partner_name: String,
    /// pending, accepted, declined, expired, returned or withdrawn.
    pub outcome: String,
    pub reason: Option<String>,
    /// Null when the matching engine chose the partner.
    pub offered_by_user_id: Option<String>,
    pub offered_at: String,
    pub expires_at: String,
    pub answered_at: Option<String>,
    #[serde(rename = "match")]
    pub matched: MatchView,
}

impl From<Offer> for LeadOfferView {
    fn from(o: Offer) -> Self {
        Self {
            id: o.id.to_string(),
            partner_id: o.partner_id.to_string(),
            partner_name: o.partner_name,
            outcome: o.outcome.as_str().to_owned(),
            reason: o.reason,
            offered_by_user_id: o.offered_by_user_id.map(|u| u.to_string()),
            offered_at: o.offered_at.to_rfc3339(),
            expires_at: o.expires_at.to_rfc3339(),
            answered_at: o.answered_at.map(Timestamp::to_rfc3339),
            matched: MatchView { score: o.score, probability: None, reasons: reasons_view(&o.reasons) },
        }
    }
}

/// A lead.
#[derive(Serialize, ToSchema)]
pub struct LeadView {
    #[schema(example = "lead_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    /// new, offered, accepted, converted, declined, expired, returned or closed.
    pub status: String,
    pub program_id: Option<String>,
    pub company_name: String,
    /// A partner sees the contact once it accepted the lead.
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub domain: Option<String>,
    pub country: String,
    pub region: Option<String>,
    pub product_interest: Option<String>,
    pub estimated_value: Option<MoneyView>,
    pub notes: String,
    pub external_id: Option<String>,
    /// api, import or form.
    pub source: String,
    /// The partner holding the lead now; null while it is with the vendor.
    pub offered_to: Option<OfferedToView>,
    pub offer_expires_at: Option<String>,
    /// The pending (or accepted) offer's match, when the caller sees that offer.
    #[serde(rename = "match")]
    pub matched: Option<MatchView>,
    /// The reason of the last decline, return or closing.
    pub status_reason: Option<String>,
    /// The deal it was converted into.
    pub deal_id: Option<String>,
    /// The offers the caller may see, oldest first (empty in lists).
    pub offers: Vec<LeadOfferView>,
    pub created_at: String,
    pub updated_at: String,
}

impl LeadView {
    fn of(lead: Lead, matched: Option<MatchView>, offers: Vec<LeadOfferView>) -> Self {
        Self {
            id: lead.id.to_string(),
            status: lead.status.as_str().to_owned(),
            program_id: lead.program_id.map(|p| p.to_string()),
            company_name: lead.company_name,
            contact_name: lead.contact_name,
            contact_email: lead.contact_email,
            domain: lead.domain,
            country: lead.country,
            region: lead.region,
            product_interest: lead.product_interest,
            estimated_value: lead.estimated_value.map(|(amount_minor, currency)| MoneyView { amount_minor, currency }),
            notes: lead.notes,
            external_id: lead.external_id,
            source: lead.source.as_str().to_owned(),
            offered_to: lead.holder_partner_id.map(|p| OfferedToView { partner_id: p.to_string(), partner_name: lead.holder_name }),
            offer_expires_at: lead.offer_expires_at.map(Timestamp::to_rfc3339),
            matched,
            status_reason: lead.status_reason,
            deal_id: lead.deal_id.map(|d| d.to_string()),
            offers,
            created_at: lead.created_at.to_rfc3339(),
            updated_at: lead.updated_at.to_rfc3339(),
        }
    }
}

impl From<LeadDetail> for LeadView {
    fn from(d: LeadDetail) -> Self {
        let matched = d.current_offer().map(|o| MatchView { score: o.score, probability: None, reasons: reasons_view(&o.reasons) });
        let offers = d.offers.into_iter().map(LeadOfferView::from).collect();
        LeadView::of(d.lead, matched, offers)
    }
}

impl From<Lead> for LeadView {
    fn from(lead: Lead) -> Self {
        LeadView::of(lead, None, Vec::new())
    }
}

/// A candidate partner for a lead, ranked.
#[derive(Serialize, ToSchema)]
pub struct LeadMatchView {
    pub partner_id: String,
    pub partner_name: String,
    pub score: f64,
    pub probability: Option<f64>,
    pub reasons: Vec<MatchReasonView>,
    /// Open leads it holds, and how many it may hold.
    pub open_leads: u32,
    pub capacity: u32,
    /// Offered this lead before: the engine passes over it.
    pub offered_before: bool,
}

impl From<Candidate> for LeadMatchView {
    fn from(c: Candidate) -> Self {
        Self {
            partner_id: c.partner_id.to_string(),
            partner_name: c.partner_name,
            score: c.matched.score,
            probability: c.matched.probability,
            reasons: reasons_view(&c.matched.reasons),
            open_leads: c.open_leads,
            capacity: c.capacity,
            offered_before: c.offered_before,
        }
    }
}

/// The ranked candidates of a lead.
#[derive(Serialize, ToSchema)]
pub struct LeadMatchesView {
    pub data: Vec<LeadMatchView>,
}

/// A program's lead settings.
#[derive(Serialize, ToSchema)]
pub struct LeadSettingsView {
    pub program_id: String,
    /// Hours a partner has to accept an offer.
    pub sla_hours: i64,
    /// Open leads a partner may hold (unless its profile sets its own).
    pub capacity: i64,
    /// Whether the program's public lead form (`/leads/{slug}`) takes enquiries.
    pub public_form: bool,
    /// Whether each new lead is offered at once to its best match (otherwise it waits in the
    /// channel team's inbox).
    pub auto_offer: bool,
    /// Points per factor, as set.
    pub weights: serde_json::Value,
    /// Whether a model fitted to the program's outcomes ranks the candidates (it won the
    /// comparison on held-out outcomes), and when it was fitted.
    pub fitted: bool,
    pub fitted_at: Option<String>,
    /// What the last refit measured.
    pub fit_summary: Option<serde_json::Value>,
}

impl From<LeadSettings> for LeadSettingsView {
    fn from(s: LeadSettings) -> Self {
        let weights = trellis_leads::matching::Factor::ALL
            .iter()
            .map(|f| (f.as_str().to_owned(), serde_json::json!(s.weights.of(*f))))
            .collect::<serde_json::Map<_, _>>();
        Self {
            program_id: s.program_id.map(|p| p.to_string()).unwrap_or_default(),
            sla_hours: s.sla_hours,
            capacity: s.capacity,
            public_form: s.public_form,
            auto_offer: s.auto_offer,
            weights: serde_json::Value::Object(weights),
            fitted: s.fitted.is_some(),
            fitted_at: s.fitted_at.map(Timestamp::to_rfc3339),
            fit_summary: s.fit_summary.and_then(|t| serde_json::from_str(&t).ok()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLeadRequest {
    pub company_name: String,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    /// The company's web domain or website.
    pub domain: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. DE.
    pub country: String,
    pub region: Option<String>,
    pub product_interest: Option<String>,
    pub estimated_value: Option<MoneyInput>,
    pub notes: Option<String>,
    /// The program whose partners are candidates (any program that takes deal registrations when
    /// left out).
    #[schema(value_type = Option<String>)]
    pub program_id: Option<ProgramId>,
    /// The lead's id in your systems (unique in the workspace).
    pub external_id: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct OfferLeadRequest {
    /// The partner to offer it to; left out, the matching engine picks the best candidate not
    /// offered the lead before.
    #[schema(value_type = Option<String>)]
    pub partner_id: Option<PartnerId>,
}

/// A partner's answer, or the channel team's closing, with the reason.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadReasonRequest {
    pub reason: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ConvertLeadRequest {
    /// The deal's amount (the lead's estimate when left out); the currency is the program's.
    pub amount: Option<MoneyInput>,
    /// YYYY-MM-DD.
    pub expected_close_date: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLeadSettingsRequest {
    /// 1 to 720.
    pub sla_hours: Option<i64>,
    /// 1 to 10000.
    pub capacity: Option<i64>,
    /// Opens or closes the program's public lead form.
    pub public_form: Option<bool>,
    /// Offers each new lead at once to its best match.
    pub auto_offer: Option<bool>,
    /// Points per factor (0 to 100); factors left out keep theirs.
    #[schema(value_type = Option<Object>)]
    pub weights: Option<std::collections::BTreeMap<String, f64>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LeadListParams {
    /// One status or several separated by commas (`new,declined,expired,returned`).
    pub status: Option<String>,
    /// The partner holding the lead.
    #[param(value_type = Option<String>)]
    pub partner_id: Option<String>,
    #[param(value_type = Option<String>)]
    pub program_id: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Page size, 1 to 500 (default 50); anything else is 422.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    /// The `next_cursor` of the previous page; anything else is 422.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<LeadId>>,
}

fn parse_statuses(text: &str) -> Result<Vec<LeadStatus>, ApiError> {
    text.split(',')
        .map(|s| {
            LeadStatus::parse(s.trim())
                .ok_or_else(|| ApiError::field("status", format!("unknown status {:?}: one or more of {}", s, LeadStatus::expected())))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Create a lead (owner/admin/channel_manager). It starts `new`; offer it with `/offer`.
#[utoipa::path(post, path = "/api/v1/leads", tag = "leads", request_body = CreateLeadRequest,
    responses((status = 201, body = LeadView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_lead(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<CreateLeadRequest>,
) -> ApiResult<(StatusCode, Json<LeadView>)> {
    let input = NewLead {
        company_name: body.company_name,
        contact_name: body.contact_name,
        contact_email: body.contact_email,
        domain: body.domain,
        country: body.country,
        region: body.region,
        product_interest: body.product_interest,
        estimated_value: body.estimated_value.map(|m| (m.amount_minor, m.currency)),
        notes: body.notes,
        program_id: body.program_id,
        external_id: body.external_id,
    };
    let lead = leads::create(&state.ctx, &scope, input).await?;
    Ok((StatusCode::CREATED, Json(lead.into())))
}

/// The leads you can see, newest first: staff every lead (a restricted channel manager those with
/// the vendor and those held by partners they manage), a partner those offered to it or its
/// descendants.
#[utoipa::path(get, path = "/api/v1/leads", tag = "leads", params(LeadListParams), responses((status = 200, body = Page<LeadView>)))]
pub async fn list_leads(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<LeadListParams>,
) -> ApiResult<Json<Page<LeadView>>> {
    let statuses = match params.status.as_deref() {
        Some(text) => parse_statuses(text)?,
        None => Vec::new(),
    };
    // A filter naming an id that is not one matches nothing.
    let partner_id = params.partner_id.as_deref().map(|p| PartnerId::parse(p.trim()).unwrap_or_else(|_| PartnerId::generate()));
    let program_id = params.program_id.as_deref().map(|p| ProgramId::parse(p.trim()).unwrap_or_else(|_| ProgramId::generate()));
    let filter = LeadFilter {
        statuses,
        partner_id,
        program_id,
        country: match params.country.as_deref() {
            Some(code) => Some(
                trellis_directory::countries::parse(code.trim())
                    .ok_or_else(|| ApiError::field("country", "must be an ISO 3166-1 alpha-2 country code, such as DE"))?
                    .to_owned(),
            ),
            None => None,
        },
        cursor: Cursor::into_inner(params.cursor).map(|c| c.to_string()),
        limit: Some(PageLimit::of(params.limit)),
    };
    let page = leads::list(&state.ctx, &scope, &filter).await?;
    Ok(Json(Page::of(page, LeadView::from)))
}

/// One lead with the offers you may see and the current offer's match.
#[utoipa::path(get, path = "/api/v1/leads/{id}", tag = "leads", params(("id" = String, Path)),
    responses((status = 200, body = LeadView), (status = 404, body = Problem)))]
pub async fn find_lead(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<LeadView>> {
    Ok(Json(leads::get(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// The ranked candidates for a lead with each factor's part (staff).
#[utoipa::path(get, path = "/api/v1/leads/{id}/matches", tag = "leads", params(("id" = String, Path)),
    responses((status = 200, body = LeadMatchesView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn lead_matches(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<LeadMatchesView>> {
    let candidates = routing::matches(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(LeadMatchesView { data: candidates.into_iter().map(LeadMatchView::from).collect() }))
}

/// Offer a lead to a partner (owner/admin/channel_manager): the one named, or the matching
/// engine's best candidate not offered it before. A pending offer to another partner is withdrawn.
#[utoipa::path(post, path = "/api/v1/leads/{id}/offer", tag = "leads", params(("id" = String, Path)), request_body = Option<OfferLeadRequest>,
    responses((status = 200, body = LeadView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn offer_lead(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<OfferLeadRequest>,
) -> ApiResult<Json<LeadView>> {
    Ok(Json(routing::offer(&state.ctx, &scope, &path_id(&id)?, body.partner_id.as_ref()).await?.into()))
}

/// Accept a lead offered to your organisation (its admins and sales people).
#[utoipa::path(post, path = "/api/v1/leads/{id}/accept", tag = "leads", params(("id" = String, Path)),
    responses((status = 200, body = LeadView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn accept_lead(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<LeadView>> {
    Ok(Json(routing::accept(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// Decline a lead offered to your organisation, with a reason; it goes to the next candidate.
#[utoipa::path(post, path = "/api/v1/leads/{id}/decline", tag = "leads", params(("id" = String, Path)), request_body = LeadReasonRequest,
    responses((status = 200, body = LeadView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn decline_lead(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LeadReasonRequest>,
) -> ApiResult<Json<LeadView>> {
    Ok(Json(routing::give_back(&state.ctx, &scope, &path_id(&id)?, LeadStatus::Declined, &body.reason).await?.into()))
}

/// Return a lead your organisation accepted, with a reason; it goes to the next candidate.
#[utoipa::path(post, path = "/api/v1/leads/{id}/return", tag = "leads", params(("id" = String, Path)), request_body = LeadReasonRequest,
    responses((status = 200, body = LeadView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn return_lead(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LeadReasonRequest>,
) -> ApiResult<Json<LeadView>> {
    Ok(Json(routing::give_back(&state.ctx, &scope, &path_id(&id)?, LeadStatus::Returned, &body.reason).await?.into()))
}

/// Convert an accepted lead into a deal registration of your organisation → 201 with the deal,
/// which the conflict engine checks like any registration.
#[utoipa::path(post, path = "/api/v1/leads/{id}/convert", tag = "leads", params(("id" = String, Path)), request_body = Option<ConvertLeadRequest>,
    responses((status = 201, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn convert_lead(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<ConvertLeadRequest>,
) -> ApiResult<(StatusCode, Json<DealView>)> {
    if body.amount.as_ref().is_some_and(|a| a.currency.is_some()) {
        return Err(ApiError::field("amount.currency", "the deal takes its program's currency; leave the currency out"));
    }
    let input = Conversion {
        amount_minor: body.amount.map(|a| a.amount_minor),
        expected_close_date: body.expected_close_date,
        description: body.description,
    };
    let deal_id = routing::convert(&state.ctx, &scope, &path_id(&id)?, input).await?;
    let deal = trellis_deals::deals::get(&state.ctx, &scope, &deal_id).await?;
    Ok((StatusCode::CREATED, Json(deal.into())))
}

/// Close a lead that is not worth passing on (owner/admin/channel_manager), with a reason.
#[utoipa::path(post, path = "/api/v1/leads/{id}/close", tag = "leads", params(("id" = String, Path)), request_body = LeadReasonRequest,
    responses((status = 200, body = LeadView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn close_lead(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LeadReasonRequest>,
) -> ApiResult<Json<LeadView>> {
    Ok(Json(leads::close(&state.ctx, &scope, &path_id(&id)?, &body.reason).await?.into()))
}

/// A program's lead settings: SLA, capacity, the factors' weights and the fitted model (staff).
#[utoipa::path(get, path = "/api/v1/programs/{id}/lead-settings", tag = "leads", params(("id" = String, Path)),
    responses((status = 200, body = LeadSettingsView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn find_lead_settings(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<LeadSettingsView>> {
    Ok(Json(settings::get(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// Change a program's lead settings (owner/admin/channel_manager). New weights drop a fitted model.
#[utoipa::path(patch, path = "/api/v1/programs/{id}/lead-settings", tag = "leads", params(("id" = String, Path)), request_body = UpdateLeadSettingsRequest,
    responses((status = 200, body = LeadSettingsView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_lead_settings(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateLeadSettingsRequest>,
) -> ApiResult<Json<LeadSettingsView>> {
    let patch = SettingsPatch {
        sla_hours: body.sla_hours,
        capacity: body.capacity,
        public_form: body.public_form,
        auto_offer: body.auto_offer,
        weights: body.weights.unwrap_or_default().into_iter().collect(),
    };
    Ok(Json(settings::update(&state.ctx, &scope, &path_id(&id)?, patch).await?.into()))
}

/// A prospect's enquiry through a program's public lead form.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadEnquiryRequest {
    pub company_name: String,
    pub contact_name: String,
    pub contact_email: String,
    /// ISO 3166-1 alpha-2, e.g. DE.
    pub country: String,
    pub region: Option<String>,
    pub product_interest: Option<String>,
    /// What the prospect needs.
    pub notes: Option<String>,
    /// Leave this out or empty: it is a trap for bots, and an enquiry that fills it in is
    /// answered as usual but discarded.
    pub company_fax: Option<String>,
}

/// The answer to an enquiry (the same whether it was kept or discarded).
#[derive(Serialize, ToSchema)]
pub struct LeadEnquiryView {
    /// "received".
    pub status: String,
}

/// Ask to be put in touch with a partner (no authentication; rate limited per client address and
/// per program). The program's public lead form must be open; otherwise 404 as for an unknown slug.
#[utoipa::path(post, path = "/api/v1/public/programs/{slug}/leads", tag = "leads", params(("slug" = String, Path)),
    request_body = LeadEnquiryRequest, security(()),
    responses((status = 202, body = LeadEnquiryView), (status = 404, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn submit_enquiry(
    State(state): State<AppState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<LeadEnquiryRequest>,
) -> ApiResult<(StatusCode, Json<LeadEnquiryView>)> {
    let enquiry = trellis_leads::public_form::Enquiry {
        company_name: body.company_name,
        contact_name: body.contact_name,
        contact_email: body.contact_email,
        country: body.country,
        region: body.region,
        product_interest: body.product_interest,
        notes: body.notes,
        honeypot: body.company_fax,
    };
    trellis_leads::public_form::submit(&state.ctx, &slug, enquiry, &meta).await?;
    Ok((StatusCode::ACCEPTED, Json(LeadEnquiryView { status: "received".to_owned() })))
}

/// A partner's own limit of open leads.
#[derive(Serialize, ToSchema)]
pub struct LeadCapacityView {
    pub partner_id: String,
    /// Open leads (offered or accepted) it takes at once; null: its program's capacity.
    pub capacity: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadCapacityRequest {
    /// 0 to 10000; null returns to the program's capacity.
    pub capacity: Option<i64>,
}

/// A partner's own limit of open leads (whoever sees the partner).
#[utoipa::path(get, path = "/api/v1/partners/{id}/lead-capacity", tag = "leads", params(("id" = String, Path)),
    responses((status = 200, body = LeadCapacityView), (status = 404, body = Problem)))]
pub async fn find_lead_capacity(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<LeadCapacityView>> {
    let partner_id: PartnerId = path_id(&id)?;
    let capacity = settings::partner_capacity(&state.ctx, &scope, &partner_id).await?;
    Ok(Json(LeadCapacityView { partner_id: partner_id.to_string(), capacity }))
}

/// Set a partner's own limit of open leads (its own admins, or owner/admin/channel_manager); the
/// matching offers it no lead beyond it. 200, also the first time.
#[utoipa::path(put, path = "/api/v1/partners/{id}/lead-capacity", tag = "leads", params(("id" = String, Path)), request_body = LeadCapacityRequest,
    responses((status = 200, body = LeadCapacityView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_lead_capacity(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LeadCapacityRequest>,
) -> ApiResult<Json<LeadCapacityView>> {
    let partner_id: PartnerId = path_id(&id)?;
    let capacity = settings::set_partner_capacity(&state.ctx, &scope, &partner_id, body.capacity).await?;
    Ok(Json(LeadCapacityView { partner_id: partner_id.to_string(), capacity }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PassOnLeadRequest {
    /// One of your resellers (a descendant) that can take leads.
    #[schema(value_type = String)]
    pub partner_id: PartnerId,
}

/// Pass a lead your organisation accepted on to one of its resellers (its admins and sales
/// people): the reseller is offered it with the program's SLA, and you keep seeing it.
#[utoipa::path(post, path = "/api/v1/leads/{id}/pass-on", tag = "leads", params(("id" = String, Path)), request_body = PassOnLeadRequest,
    responses((status = 200, body = LeadView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn pass_on_lead(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PassOnLeadRequest>,
) -> ApiResult<Json<LeadView>> {
    Ok(Json(routing::pass_on(&state.ctx, &scope, &path_id(&id)?, &body.partner_id).await?.into()))
}
