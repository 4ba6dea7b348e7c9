//! Deals: registrations, the direct pipeline, decisions, credited partners and the conflict rules
//! of a program (API.md "Deals"). The services are `trellis_deals`; every status change goes
//! through `deals::transition` and its table (`trellis_deals::statuses`).

use axum::Json;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use trellis_core::{DealId, PartnerId, ProgramId, Timestamp};
use trellis_deals::deals::{self, DealDetail, DealFilter, DealPatch, DealRole, DealSource, DealStage, Decision, NewDeal};
use trellis_deals::rules::{self, ConflictRules, RulesPatch};
use trellis_deals::statuses::DealStatus;
use trellis_web::AppState;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiQuery, Caller, Cursor, PageLimit, double_option, path_id};
use crate::views::Page;

// ---------------------------------------------------------------------------------------------
// Views

/// Money: integer minor units and an ISO 4217 code.
#[derive(Serialize, ToSchema)]
pub struct MoneyView {
    pub amount_minor: i64,
    pub currency: String,
}

/// A conflict of a deal with another one, as the caller may see it.
#[derive(Serialize, ToSchema)]
pub struct DealConflictView {
    /// The other deal, only when the caller may see it (never another partner's deal).
    pub deal_id: Option<String>,
    /// same_domain, same_name, similar_name, direct_pipeline or race.
    pub kind: String,
    /// A sentence for people; it never names the other partner.
    pub reason: String,
    /// How alike the customers are, 0 to 1.
    pub score: f64,
    /// Whether the other deal came first.
    pub earlier: bool,
}

/// A further partner credited on a deal.
#[derive(Serialize, ToSchema)]
pub struct DealPartnerView {
    pub partner_id: String,
    pub partner_name: String,
    /// influence or referral.
    pub role: String,
    /// Its share of the credit, in basis points (10000 = all).
    pub credit_bps: i64,
}

/// A deal registration or a direct opportunity.
#[derive(Serialize, ToSchema)]
pub struct DealView {
    #[schema(example = "deal_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    /// submitted, under_review, needs_info, approved, rejected, won, lost or expired.
    pub status: String,
    /// partner or direct.
    pub source: String,
    /// The registering partner (null for a direct opportunity).
    pub partner_id: Option<String>,
    pub partner_name: Option<String>,
    /// resell, referral or influence.
    pub partner_role: Option<String>,
    /// The registering partner's share of the credit (10000 unless partners were attached).
    pub partner_credit_bps: i64,
    pub program_id: Option<String>,
    /// prospecting, qualification, proposal, negotiation or closing.
    pub stage: String,
    pub customer_name: String,
    pub customer_domain: Option<String>,
    pub customer_email: Option<String>,
    pub country: Option<String>,
    pub amount: MoneyView,
    /// YYYY-MM-DD.
    pub expected_close_date: Option<String>,
    pub description: String,
    pub external_id: Option<String>,
    pub protected_until: Option<String>,
    /// The reason of a rejection, a request for information or a loss.
    pub decision_note: Option<String>,
    pub conflicts: Vec<DealConflictView>,
    pub partners: Vec<DealPartnerView>,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

impl DealView {
    fn of(deal: deals::Deal, conflicts: Vec<DealConflictView>, partners: Vec<DealPartnerView>) -> Self {
        Self {
            id: deal.id.to_string(),
            status: deal.status.as_str().to_owned(),
            source: deal.source.as_str().to_owned(),
            partner_id: deal.partner_id.map(|p| p.to_string()),
            partner_name: deal.partner_name,
            partner_role: deal.partner_role.map(|r| r.as_str().to_owned()),
            partner_credit_bps: deal.partner_credit_bps,
            program_id: deal.program_id.map(|p| p.to_string()),
            stage: deal.stage.as_str().to_owned(),
            customer_name: deal.customer_name,
            customer_domain: deal.customer_domain,
            customer_email: deal.customer_email,
            country: deal.country,
            amount: MoneyView { amount_minor: deal.amount.amount_minor, currency: deal.amount.currency },
            expected_close_date: deal.expected_close_date,
            description: deal.description,
            external_id: deal.external_id,
            protected_until: deal.protected_until.map(Timestamp::to_rfc3339),
            decision_note: deal.decision_note,
            conflicts,
            partners,
            created_at: deal.created_at.to_rfc3339(),
            updated_at: deal.updated_at.to_rfc3339(),
            closed_at: deal.closed_at.map(Timestamp::to_rfc3339),
        }
    }
}

impl From<DealDetail> for DealView {
    fn from(d: DealDetail) -> Self {
        let conflicts = d
            .conflicts
            .into_iter()
            .map(|c| DealConflictView {
                deal_id: c.deal_id.map(|id| id.to_string()),
                kind: c.kind.as_str().to_owned(),
                reason: c.reason,
                score: c.score,
                earlier: c.earlier,
            })
            .collect();
        let partners = d
            .partners
            .into_iter()
            .map(|p| DealPartnerView {
                partner_id: p.partner_id.to_string(),
                partner_name: p.partner_name,
                role: p.role.as_str().to_owned(),
                credit_bps: p.credit_bps,
            })
            .collect();
        DealView::of(d.deal, conflicts, partners)
    }
}

/// One rule in words.
#[derive(Serialize, ToSchema)]
pub struct ConflictRuleView {
    /// first_registration, race, direct_pipeline, matching, auto_approval or expiry.
    pub kind: String,
    /// protected, review or approved: what happens to a registration the rule applies to.
    pub outcome: String,
    pub description: String,
}

/// The conflict rules of a program.
#[derive(Serialize, ToSchema)]
pub struct ConflictRulesView {
    pub program_id: String,
    pub race_window_minutes: i64,
    pub protection_days: i64,
    /// 0.5 to 1: names at least this similar are the same customer.
    pub similarity_threshold: f64,
    pub auto_approve: bool,
    pub rules: Vec<ConflictRuleView>,
}

impl From<ConflictRules> for ConflictRulesView {
    fn from(r: ConflictRules) -> Self {
        let rules = r
            .in_words()
            .into_iter()
            .map(|rule| ConflictRuleView { kind: rule.kind.to_owned(), outcome: rule.outcome.to_owned(), description: rule.description })
            .collect();
        Self {
            program_id: r.program_id.to_string(),
            race_window_minutes: r.race_window_minutes,
            protection_days: r.protection_days,
            similarity_threshold: r.similarity_threshold,
            auto_approve: r.auto_approve,
            rules,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// An amount: integer minor units and, optionally, its currency (the program's by default).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyInput {
    pub amount_minor: i64,
    /// ISO 4217; a new deal defaults to its program's currency, a change must keep the deal's.
    pub currency: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDealRequest {
    pub customer_name: String,
    /// The customer's web domain or website.
    pub customer_domain: Option<String>,
    pub customer_email: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. DE.
    pub country: Option<String>,
    pub amount: MoneyInput,
    /// YYYY-MM-DD.
    pub expected_close_date: Option<String>,
    /// resell (default), referral or influence.
    #[schema(value_type = Option<String>)]
    pub partner_role: Option<DealRole>,
    pub description: Option<String>,
    /// The program whose rules apply; may be left out when the partner is enrolled in exactly one
    /// program that takes deal registrations.
    #[schema(value_type = Option<String>)]
    pub program_id: Option<ProgramId>,
    /// prospecting, qualification (default), proposal, negotiation or closing.
    #[schema(value_type = Option<String>)]
    pub stage: Option<DealStage>,
    /// Staff registering on a partner's behalf.
    #[schema(value_type = Option<String>)]
    pub partner_id: Option<PartnerId>,
    /// "direct": staff recording an opportunity of the vendor's own sales team.
    #[schema(value_type = Option<String>)]
    pub source: Option<DealSource>,
    /// A direct opportunity's id in the vendor's CRM (unique in the workspace).
    pub external_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDealRequest {
    #[schema(value_type = Option<String>)]
    pub stage: Option<DealStage>,
    pub amount: Option<MoneyInput>,
    /// YYYY-MM-DD; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub expected_close_date: Option<Option<String>>,
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ApproveDealRequest {
    /// Days of protection instead of the program's (1 to 3650).
    pub protected_days: Option<i64>,
}

/// A decision the partner reads the reason of.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealReasonRequest {
    pub reason: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct LoseDealRequest {
    pub reason: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachDealPartnerRequest {
    #[schema(value_type = String)]
    pub partner_id: PartnerId,
    /// influence or referral.
    #[schema(value_type = String)]
    pub role: DealRole,
    /// The attached partner's share, taken from the registering partner's (1 to 10000).
    pub credit_bps: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConflictRulesRequest {
    /// 0 to 1440.
    pub race_window_minutes: Option<i64>,
    /// 1 to 3650 (the program's default protection).
    pub protection_days: Option<i64>,
    /// 0.5 to 1.
    pub similarity_threshold: Option<f64>,
    pub auto_approve: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DealListParams {
    /// One status or several separated by commas (`submitted,under_review`).
    pub status: Option<String>,
    #[param(value_type = Option<String>)]
    pub partner_id: Option<String>,
    #[param(value_type = Option<String>)]
    pub program_id: Option<String>,
    #[param(value_type = Option<String>)]
    pub stage: Option<DealStage>,
    /// partner or direct.
    #[param(value_type = Option<String>)]
    pub source: Option<DealSource>,
    /// Created at or before this time (RFC 3339 or YYYY-MM-DD).
    pub created_before: Option<String>,
    /// Created at least this many days ago (instead of created_before).
    #[param(minimum = 0, maximum = 36500)]
    pub older_than_days: Option<i64>,
    /// newest (default) or oldest: oldest first is the review queue's order (by age).
    #[param(value_type = Option<String>)]
    pub order: Option<ListOrder>,
    /// Page size, 1 to 500 (default 50); anything else is 422.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    /// The `next_cursor` of the previous page; anything else is 422.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<DealId>>,
}

/// The order of a list by creation.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ListOrder {
    Newest,
    Oldest,
}

/// A JSON body that may be left out (an action whose fields are all optional): no body reads as
/// the default; a body is read as [`ApiJson`] reads it.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers();
        let empty = headers.get(CONTENT_LENGTH).is_some_and(|v| v.as_bytes() == b"0")
            || (headers.get(CONTENT_LENGTH).is_none() && headers.get(TRANSFER_ENCODING).is_none());
        if empty && headers.get(CONTENT_TYPE).is_none() {
            return Ok(OptionalJson(T::default()));
        }
        ApiJson::<T>::from_request(req, state).await.map(|ApiJson(value)| OptionalJson(value))
    }
}

fn money_currency(amount: &MoneyInput) -> Option<String> {
    amount.currency.as_ref().map(|c| c.trim().to_owned())
}

fn parse_statuses(text: &str) -> Result<Vec<DealStatus>, ApiError> {
    text.split(',')
        .map(|s| {
            DealStatus::parse(s.trim())
                .ok_or_else(|| ApiError::field("status", format!("unknown status {:?}: one or more of {}", s, DealStatus::expected())))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Register a deal (a partner's admins and sales people, or staff for a partner with
/// `partner_id`), or record a direct opportunity (staff, `"source": "direct"`). The conflict
/// check runs in the same transaction; an ineligible partner gets 409 or 422 and nothing is stored.
#[utoipa::path(post, path = "/api/v1/deals", tag = "deals", request_body = CreateDealRequest,
    responses((status = 201, body = DealView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_deal(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<CreateDealRequest>,
) -> ApiResult<(StatusCode, Json<DealView>)> {
    let input = NewDeal {
        customer_name: body.customer_name,
        customer_domain: body.customer_domain,
        customer_email: body.customer_email,
        country: body.country,
        amount_minor: Some(body.amount.amount_minor),
        currency: money_currency(&body.amount),
        expected_close_date: body.expected_close_date,
        partner_role: body.partner_role,
        description: body.description,
        program_id: body.program_id,
        stage: body.stage,
        partner_id: body.partner_id,
        source: body.source,
        external_id: body.external_id,
    };
    let detail = deals::register(&state.ctx, &scope, input).await?;
    Ok((StatusCode::CREATED, Json(detail.into())))
}

/// The deals you can see, newest first (`order=oldest`: oldest first): staff every deal (a restricted channel manager those of
/// the partners they manage, and the direct pipeline), a partner its own, its resellers' and those
/// it is credited on.
#[utoipa::path(get, path = "/api/v1/deals", tag = "deals", params(DealListParams), responses((status = 200, body = Page<DealView>)))]
pub async fn list_deals(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<DealListParams>,
) -> ApiResult<Json<Page<DealView>>> {
    let limit = PageLimit::of(params.limit);
    let statuses = match params.status.as_deref() {
        Some(text) => parse_statuses(text)?,
        None => Vec::new(),
    };
    let created_before = match (params.created_before.as_deref(), params.older_than_days) {
        (Some(_), Some(_)) => return Err(ApiError::field("older_than_days", "give created_before or older_than_days, not both")),
        (Some(text), None) => Some(
            Timestamp::parse(text.trim())
                .ok_or_else(|| ApiError::field("created_before", "must be an RFC 3339 time or a date (YYYY-MM-DD)"))?,
        ),
        (None, Some(days)) if (0..=36_500).contains(&days) => Some(state.ctx.now().plus_seconds(-days * 86_400)),
        (None, Some(_)) => return Err(ApiError::field("older_than_days", "must be between 0 and 36500")),
        (None, None) => None,
    };
    // A filter naming an id that is not one matches nothing.
    let partner_id = params.partner_id.as_deref().map(|p| PartnerId::parse(p.trim()).unwrap_or_else(|_| PartnerId::generate()));
    let program_id = params.program_id.as_deref().map(|p| ProgramId::parse(p.trim()).unwrap_or_else(|_| ProgramId::generate()));
    let filter = DealFilter {
        statuses,
        partner_id,
        program_id,
        stage: params.stage,
        source: params.source,
        created_before,
        oldest_first: params.order == Some(ListOrder::Oldest),
        cursor: Cursor::into_inner(params.cursor).map(|c| c.to_string()),
        limit: Some(limit),
    };
    let page = deals::list(&state.ctx, &scope, &filter).await?;
    // A list shows each deal without its conflicts and credited partners (read one deal for them).
    Ok(Json(Page::of(page, |deal| DealView::of(deal, Vec::new(), Vec::new()))))
}

/// One deal with its conflicts (the other deal's id only when you may see it) and credited partners.
#[utoipa::path(get, path = "/api/v1/deals/{id}", tag = "deals", params(("id" = String, Path)),
    responses((status = 200, body = DealView), (status = 404, body = Problem)))]
pub async fn find_deal(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<DealView>> {
    Ok(Json(deals::get(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// Change the pipeline fields of an open deal (the registering partner's admins and sales people,
/// those of its ancestors, or staff who manage partners).
#[utoipa::path(patch, path = "/api/v1/deals/{id}", tag = "deals", params(("id" = String, Path)), request_body = UpdateDealRequest,
    responses((status = 200, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_deal(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateDealRequest>,
) -> ApiResult<Json<DealView>> {
    let id: DealId = path_id(&id)?;
    if let Some(currency) = body.amount.as_ref().and_then(money_currency) {
        let deal = deals::get(&state.ctx, &scope, &id).await?;
        if !currency.eq_ignore_ascii_case(&deal.deal.amount.currency) {
            return Err(ApiError::field(
                "amount.currency",
                format!("a deal's currency does not change (it is {})", deal.deal.amount.currency),
            ));
        }
    }
    let patch = DealPatch {
        stage: body.stage,
        amount_minor: body.amount.map(|a| a.amount_minor),
        expected_close_date: body.expected_close_date,
        description: body.description,
    };
    Ok(Json(deals::update(&state.ctx, &scope, &id, patch).await?.into()))
}

async fn move_deal(
    state: &AppState,
    scope: &trellis_identity::Scope,
    id: &str,
    to: DealStatus,
    decision: Decision,
) -> ApiResult<Json<DealView>> {
    Ok(Json(deals::transition(&state.ctx, scope, &path_id(id)?, to, decision).await?.into()))
}

/// Approve a registration (owner/admin/channel_manager): the customer is protected for the
/// program's protection days, or `protected_days`.
#[utoipa::path(post, path = "/api/v1/deals/{id}/approve", tag = "deals", params(("id" = String, Path)), request_body = Option<ApproveDealRequest>,
    responses((status = 200, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn approve_deal(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<ApproveDealRequest>,
) -> ApiResult<Json<DealView>> {
    move_deal(&state, &scope, &id, DealStatus::Approved, Decision { protected_days: body.protected_days, note: None }).await
}

/// Reject a registration with the reason the partner reads (owner/admin/channel_manager).
#[utoipa::path(post, path = "/api/v1/deals/{id}/reject", tag = "deals", params(("id" = String, Path)), request_body = DealReasonRequest,
    responses((status = 200, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn reject_deal(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DealReasonRequest>,
) -> ApiResult<Json<DealView>> {
    move_deal(&state, &scope, &id, DealStatus::Rejected, Decision { protected_days: None, note: Some(body.reason) }).await
}

/// Ask the partner for more information (owner/admin/channel_manager): the deal is `needs_info`.
#[utoipa::path(post, path = "/api/v1/deals/{id}/request-info", tag = "deals", params(("id" = String, Path)), request_body = DealReasonRequest,
    responses((status = 200, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn request_deal_info(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DealReasonRequest>,
) -> ApiResult<Json<DealView>> {
    move_deal(&state, &scope, &id, DealStatus::NeedsInfo, Decision { protected_days: None, note: Some(body.reason) }).await
}

/// Send a deal that needed information back for review (the registering side, or staff on its
/// behalf), after changing it with PATCH.
#[utoipa::path(post, path = "/api/v1/deals/{id}/resubmit", tag = "deals", params(("id" = String, Path)),
    responses((status = 200, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn resubmit_deal(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<DealView>> {
    move_deal(&state, &scope, &id, DealStatus::UnderReview, Decision::default()).await
}

/// Mark an approved (or expired) deal won (the registering side, or staff who manage partners).
#[utoipa::path(post, path = "/api/v1/deals/{id}/won", tag = "deals", params(("id" = String, Path)),
    responses((status = 200, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn win_deal(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<DealView>> {
    move_deal(&state, &scope, &id, DealStatus::Won, Decision::default()).await
}

/// Mark an approved (or expired) deal lost, with an optional reason.
#[utoipa::path(post, path = "/api/v1/deals/{id}/lost", tag = "deals", params(("id" = String, Path)), request_body = Option<LoseDealRequest>,
    responses((status = 200, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn lose_deal(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<LoseDealRequest>,
) -> ApiResult<Json<DealView>> {
    move_deal(&state, &scope, &id, DealStatus::Lost, Decision { protected_days: None, note: body.reason }).await
}

/// Credit a further partner on a partner's deal (owner/admin/channel_manager): 200 with the deal;
/// the credits of a deal's partners sum to at most 10000.
#[utoipa::path(post, path = "/api/v1/deals/{id}/partners", tag = "deals", params(("id" = String, Path)), request_body = AttachDealPartnerRequest,
    responses((status = 200, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn attach_deal_partner(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AttachDealPartnerRequest>,
) -> ApiResult<Json<DealView>> {
    let detail = deals::attach_partner(&state.ctx, &scope, &path_id(&id)?, &body.partner_id, body.role, body.credit_bps).await?;
    Ok(Json(detail.into()))
}

/// The conflict rules of a program, with the rules in words (any member of the workspace,
/// partners included).
#[utoipa::path(get, path = "/api/v1/programs/{id}/conflict-rules", tag = "deals", params(("id" = String, Path)),
    responses((status = 200, body = ConflictRulesView), (status = 404, body = Problem)))]
pub async fn find_conflict_rules(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ConflictRulesView>> {
    Ok(Json(rules::get(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// Change the conflict rules of a program (owner/admin).
#[utoipa::path(patch, path = "/api/v1/programs/{id}/conflict-rules", tag = "deals", params(("id" = String, Path)), request_body = UpdateConflictRulesRequest,
    responses((status = 200, body = ConflictRulesView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_conflict_rules(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateConflictRulesRequest>,
) -> ApiResult<Json<ConflictRulesView>> {
    let patch = RulesPatch {
        race_window_minutes: body.race_window_minutes,
        protection_days: body.protection_days,
        similarity_threshold: body.similarity_threshold,
        auto_approve: body.auto_approve,
    };
    Ok(Json(rules::update(&state.ctx, &scope, &path_id(&id)?, patch).await?.into()))
}
