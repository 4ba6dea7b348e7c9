//! Disputes of deal decisions and protection extension requests (API.md "Disputes and extension
//! requests"). The views live here with their handlers: nothing else answers them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use trellis_core::{CommissionId, DealId, DisputeId, ExtensionRequestId};
use trellis_deals::disputes::{self, DisputeDetail, DisputeFilter, DisputeStatus, TimelineEntry};
use trellis_deals::extensions::{self, ExtensionFilter, ExtensionRequest, ExtensionStatus};
use trellis_web::AppState;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::{IntoParams, ToSchema};

use super::deals::MoneyView;
use crate::extract::{ApiJson, ApiQuery, Caller, Cursor, PageLimit, path_id};
use crate::views::Page;

/// One entry of a dispute's timeline, oldest first.
#[derive(Serialize, ToSchema)]
pub struct DisputeTimelineView {
    /// deal_rejected, dispute_opened, dispute_upheld or dispute_overturned.
    pub event: String,
    pub at: String,
    /// Who: a person's name or address; null when no person did it.
    pub by: Option<String>,
    /// The rejection reason, the dispute's reason or the outcome's note.
    pub text: Option<String>,
}

impl From<TimelineEntry> for DisputeTimelineView {
    fn from(e: TimelineEntry) -> Self {
        Self { event: e.event.as_str().to_owned(), at: e.at.to_rfc3339(), by: e.by, text: e.text }
    }
}

/// The disputed commission, as it stands now.
#[derive(Serialize, ToSchema)]
pub struct DisputedCommissionView {
    pub id: String,
    /// lead, sale, override, bonus, reversal or clawback.
    pub kind: String,
    /// Negative for a reversal or a clawback.
    pub amount: MoneyView,
    /// pending, payable, in_payout, paid, on_hold or reversed.
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct DisputeView {
    #[schema(example = "dsp_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    /// The disputed deal (for a deal subject).
    pub deal_id: Option<String>,
    /// The disputed commission (for a commission subject).
    pub commission_id: Option<String>,
    /// What is disputed: `deal` (a rejected registration) or `commission` (one of the partner's
    /// own commissions, a clawback included).
    pub subject_type: String,
    pub subject_id: String,
    pub partner_id: String,
    /// open, upheld or overturned.
    pub status: String,
    /// Why the partner disputes the decision.
    pub reason: String,
    /// The reason the partner was given for the disputed rejection.
    pub rejection_reason: Option<String>,
    /// The channel team's note with the outcome.
    pub resolution_note: Option<String>,
    pub created_at: String,
    pub resolved_at: Option<String>,
    /// The disputed commission as it stands (for a commission subject).
    pub commission: Option<DisputedCommissionView>,
    /// Opened, resolved, and the disputed rejection (only in the answer of one dispute).
    pub timeline: Vec<DisputeTimelineView>,
}

impl DisputeView {
    fn of(dispute: disputes::Dispute, timeline: Vec<TimelineEntry>) -> Self {
        Self {
            id: dispute.id.to_string(),
            deal_id: dispute.subject.deal_id().map(|d| d.to_string()),
            commission_id: dispute.subject.commission_id().map(|c| c.to_string()),
            subject_type: dispute.subject.kind().to_owned(),
            subject_id: dispute.subject.id().to_owned(),
            partner_id: dispute.partner_id.to_string(),
            status: dispute.status.as_str().to_owned(),
            reason: dispute.reason,
            rejection_reason: dispute.rejection_reason,
            resolution_note: dispute.resolution_note,
            created_at: dispute.created_at.to_rfc3339(),
            resolved_at: dispute.resolved_at.map(|t| t.to_rfc3339()),
            commission: dispute.commission.map(|c| DisputedCommissionView {
                id: c.commission_id.to_string(),
                kind: c.kind.as_str().to_owned(),
                amount: MoneyView { amount_minor: c.amount_minor, currency: c.currency.code().to_owned() },
                status: c.status.as_str().to_owned(),
            }),
            timeline: timeline.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<DisputeDetail> for DisputeView {
    fn from(d: DisputeDetail) -> Self {
        Self::of(d.dispute, d.timeline)
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenDisputeRequest {
    /// Why the decision is wrong; the channel team reads it.
    pub reason: String,
}

/// Dispute the rejection of a deal registration (the registering partner's admins and sales
/// people, or those of its ancestors). One dispute of a decision is open at a time; an upheld
/// dispute makes the decision final (409 for another).
#[utoipa::path(post, path = "/api/v1/deals/{id}/disputes", tag = "deals", params(("id" = String, Path)), request_body = OpenDisputeRequest,
    responses((status = 201, body = DisputeView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn open_dispute(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OpenDisputeRequest>,
) -> ApiResult<(StatusCode, Json<DisputeView>)> {
    let deal_id: DealId = path_id(&id)?;
    let detail = disputes::open(&state.ctx, &scope, &deal_id, &body.reason).await?;
    Ok((StatusCode::CREATED, Json(detail.into())))
}

/// Dispute one of your organisation's own commissions, a clawback included (its admins and
/// finance people; 404 for another organisation's, a reseller's included; staff 403). One
/// dispute of a commission is open at a time, an upheld one is final, a reversed commission is
/// not disputed (409).
#[utoipa::path(post, path = "/api/v1/commissions/{id}/disputes", tag = "commissions", params(("id" = String, Path)), request_body = OpenDisputeRequest,
    responses((status = 201, body = DisputeView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn open_commission_dispute(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OpenDisputeRequest>,
) -> ApiResult<(StatusCode, Json<DisputeView>)> {
    let commission_id: CommissionId = path_id(&id)?;
    let detail = disputes::open_for_commission(&state.ctx, &scope, &commission_id, &body.reason).await?;
    Ok((StatusCode::CREATED, Json(detail.into())))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DisputeListParams {
    /// open, upheld or overturned. `open` lists the queue oldest first; otherwise newest first.
    pub status: Option<String>,
    /// Page size, 1 to 500 (default 50); anything else is 422.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    /// The `next_cursor` of the previous page; anything else is 422.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<DisputeId>>,
}

/// The disputes you can see: staff all (a channel manager limited to assigned partners, theirs),
/// a partner its own and its resellers' of deals, and its own of commissions (its admins and
/// finance people; money is private to the organisation). Without their timelines.
#[utoipa::path(get, path = "/api/v1/disputes", tag = "deals", params(DisputeListParams),
    responses((status = 200, body = Page<DisputeView>), (status = 422, body = Problem)))]
pub async fn list_disputes(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<DisputeListParams>,
) -> ApiResult<Json<Page<DisputeView>>> {
    let status = match params.status.as_deref() {
        Some(text) => Some(DisputeStatus::parse(text).ok_or_else(|| ApiError::field("status", "must be open, upheld or overturned"))?),
        None => None,
    };
    let filter = DisputeFilter {
        status,
        subject: None,
        oldest_first: status == Some(DisputeStatus::Open),
        cursor: Cursor::into_inner(params.cursor),
        limit: Some(PageLimit::of(params.limit)),
    };
    Ok(Json(Page::of(disputes::list(&state.ctx, &scope, &filter).await?, |d| DisputeView::of(d, Vec::new()))))
}

/// One dispute with its timeline.
#[utoipa::path(get, path = "/api/v1/disputes/{id}", tag = "deals", params(("id" = String, Path)),
    responses((status = 200, body = DisputeView), (status = 404, body = Problem)))]
pub async fn find_dispute(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<DisputeView>> {
    Ok(Json(disputes::get(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveDisputeRequest {
    /// `upheld` (the decision stands) or `overturned` (the deal goes back to review; for a
    /// commission, the dispute table's effect).
    pub outcome: String,
    /// Shown to the partner.
    pub note: String,
}

/// Resolve an open dispute: of a deal (owner, admin, channel manager), overturned re-opens the
/// deal for review (`under_review`); of a commission (owner, admin, finance), overturned undoes a
/// clawback or reversal not yet paid out or releases a hold.
#[utoipa::path(post, path = "/api/v1/disputes/{id}/resolve", tag = "deals", params(("id" = String, Path)), request_body = ResolveDisputeRequest,
    responses((status = 200, body = DisputeView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn resolve_dispute(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResolveDisputeRequest>,
) -> ApiResult<Json<DisputeView>> {
    let dispute_id: DisputeId = path_id(&id)?;
    let outcome = match DisputeStatus::parse(&body.outcome) {
        Some(outcome @ (DisputeStatus::Upheld | DisputeStatus::Overturned)) => outcome,
        _ => return Err(ApiError::field("outcome", "must be \"upheld\" or \"overturned\"")),
    };
    Ok(Json(disputes::resolve(&state.ctx, &scope, &dispute_id, outcome, &body.note).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct ExtensionRequestView {
    #[schema(example = "ext_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub deal_id: String,
    pub partner_id: String,
    /// open, approved or denied.
    pub status: String,
    /// Days of protection asked for, 1 to 365, added to the protection's end when approved.
    pub days: i64,
    pub reason: String,
    /// The channel team's note with the decision.
    pub note: Option<String>,
    /// The deal's protection end now.
    pub protected_until: Option<String>,
    pub created_at: String,
    pub decided_at: Option<String>,
}

impl From<ExtensionRequest> for ExtensionRequestView {
    fn from(r: ExtensionRequest) -> Self {
        Self {
            id: r.id.to_string(),
            deal_id: r.deal_id.to_string(),
            partner_id: r.partner_id.to_string(),
            status: r.status.as_str().to_owned(),
            days: r.days,
            reason: r.reason,
            note: r.note,
            protected_until: r.protected_until.map(|t| t.to_rfc3339()),
            created_at: r.created_at.to_rfc3339(),
            decided_at: r.decided_at.map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestExtensionRequest {
    pub reason: String,
    /// 1 to 365.
    pub days: i64,
}

/// Ask for longer protection of an approved deal whose protection is running (the registering
/// partner's admins and sales people). One request of a deal is open at a time.
#[utoipa::path(post, path = "/api/v1/deals/{id}/extension-requests", tag = "deals", params(("id" = String, Path)), request_body = RequestExtensionRequest,
    responses((status = 201, body = ExtensionRequestView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn request_extension(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RequestExtensionRequest>,
) -> ApiResult<(StatusCode, Json<ExtensionRequestView>)> {
    let deal_id: DealId = path_id(&id)?;
    let request = extensions::request(&state.ctx, &scope, &deal_id, body.days, &body.reason).await?;
    Ok((StatusCode::CREATED, Json(request.into())))
}

/// A deal's extension requests, newest first.
#[utoipa::path(get, path = "/api/v1/deals/{id}/extension-requests", tag = "deals", params(("id" = String, Path)),
    responses((status = 200, body = Page<ExtensionRequestView>), (status = 404, body = Problem)))]
pub async fn list_extension_requests(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<ExtensionRequestView>>> {
    let deal_id: DealId = path_id(&id)?;
    let requests = extensions::list_for_deal(&state.ctx, &scope, &deal_id).await?;
    Ok(Json(Page { data: requests.into_iter().map(Into::into).collect(), next_cursor: None }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExtensionListParams {
    /// open, approved or denied. `open` lists the queue oldest first; otherwise newest first.
    pub status: Option<String>,
    /// Page size, 1 to 500 (default 50); anything else is 422.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    /// The `next_cursor` of the previous page; anything else is 422.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<ExtensionRequestId>>,
}

/// The extension requests you can see (the staff queue with `status=open`, oldest first).
#[utoipa::path(get, path = "/api/v1/extension-requests", tag = "deals", params(ExtensionListParams),
    responses((status = 200, body = Page<ExtensionRequestView>), (status = 422, body = Problem)))]
pub async fn list_all_extension_requests(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<ExtensionListParams>,
) -> ApiResult<Json<Page<ExtensionRequestView>>> {
    let status = match params.status.as_deref() {
        Some(text) => Some(ExtensionStatus::parse(text).ok_or_else(|| ApiError::field("status", "must be open, approved or denied"))?),
        None => None,
    };
    let filter = ExtensionFilter {
        status,
        deal_id: None,
        oldest_first: status == Some(ExtensionStatus::Open),
        cursor: Cursor::into_inner(params.cursor),
        limit: Some(PageLimit::of(params.limit)),
    };
    Ok(Json(Page::of(extensions::list(&state.ctx, &scope, &filter).await?, ExtensionRequestView::from)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideExtensionRequest {
    /// Shown to the partner.
    pub note: Option<String>,
}

/// Approve an open request (owner, admin, channel manager): the deal's protection end moves by
/// the days asked, from its current end.
#[utoipa::path(post, path = "/api/v1/extension-requests/{id}/approve", tag = "deals", params(("id" = String, Path)), request_body = DecideExtensionRequest,
    responses((status = 200, body = ExtensionRequestView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn approve_extension_request(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecideExtensionRequest>,
) -> ApiResult<Json<ExtensionRequestView>> {
    let id: ExtensionRequestId = path_id(&id)?;
    Ok(Json(extensions::approve(&state.ctx, &scope, &id, body.note.as_deref()).await?.into()))
}

/// Deny an open request (owner, admin, channel manager); the protection stays as it is.
#[utoipa::path(post, path = "/api/v1/extension-requests/{id}/deny", tag = "deals", params(("id" = String, Path)), request_body = DecideExtensionRequest,
    responses((status = 200, body = ExtensionRequestView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn deny_extension_request(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecideExtensionRequest>,
) -> ApiResult<Json<ExtensionRequestView>> {
    let id: ExtensionRequestId = path_id(&id)?;
    Ok(Json(extensions::deny(&state.ctx, &scope, &id, body.note.as_deref()).await?.into()))
}
