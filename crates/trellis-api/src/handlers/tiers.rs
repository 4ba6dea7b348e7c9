//! Tiers of programs, partners' enrollments and tier overrides, tier evaluation and history, and
//! the partner metrics tier requirements are written over (API.md "Programs, tiers, applications").

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use trellis_core::{PartnerId, ProgramId, TierChangeId, TierId};
use trellis_directory::metric_registry::Registry;
use trellis_directory::partners;
use trellis_programs::enrollments::{self, NewEnrollment};
use trellis_programs::evaluation::{self, HistoryFilter};
use trellis_programs::metrics;
use trellis_programs::tiers::{self, NewTier, TierPatch};
use trellis_web::AppState;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiQuery, Caller, Cursor, PageLimit, path_id};
use crate::views::{EnrollmentView, EvaluationSummaryView, MetricReadingView, MetricView, Page, TierChangeView, TierView};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTierRequest {
    pub name: String,
    /// Higher is better; unique within the program (0 to 1000).
    pub rank: i64,
    /// `{"all": [{"metric": "active_users", "op": ">=", "value": 3}, {"metric": "compliant", "op": "=", "value": true}]}`;
    /// metrics come from `GET /api/v1/metrics`; integers compare with >=, >, <=, <, =, !=, booleans with = and !=.
    #[schema(value_type = Option<Object>)]
    pub requirements: Option<serde_json::Value>,
    /// `{"text": "…", "commission_override_bps": 2500, "mdf_allowance": {"amount_minor": 500000, "currency": "EUR"}, "content_access": ["gold-playbooks"]}`, every field optional.
    #[schema(value_type = Option<Object>)]
    pub benefits: Option<serde_json::Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTierRequest {
    pub name: Option<String>,
    pub rank: Option<i64>,
    /// Replaces the requirements (see `CreateTierRequest`).
    #[schema(value_type = Option<Object>)]
    pub requirements: Option<serde_json::Value>,
    /// Replaces the benefits (see `CreateTierRequest`).
    #[schema(value_type = Option<Object>)]
    pub benefits: Option<serde_json::Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub program_id: String,
    /// The starting tier; by default the program's lowest tier.
    pub tier_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideTierRequest {
    pub tier_id: String,
    /// Why the tier is set by hand (shown in the history and to the partner).
    pub reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordMetricRequest {
    /// An integer or a boolean, as the metric's type says.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    pub note: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TierHistoryParams {
    /// Only this program's history.
    pub program_id: Option<String>,
    /// Page size, 1 to 500 (default 50); anything else is 422.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    /// The `next_cursor` of the previous page; anything else is 422.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<TierChangeId>>,
}

/// Parses the ids of an enrollment request; an unparsable id is the same 422 as an unknown one.
pub fn enrollment_input(program_id: &str, tier_id: Option<&str>) -> ApiResult<NewEnrollment> {
    let program_id =
        ProgramId::parse(program_id.trim()).map_err(|_| ApiError::field("program_id", "must be a program of this workspace"))?;
    let tier_id =
        tier_id.map(|t| TierId::parse(t.trim())).transpose().map_err(|_| ApiError::field("tier_id", "must be a tier of the program"))?;
    Ok(NewEnrollment { program_id, tier_id })
}

/// Add a tier to a program (owner/admin/channel_manager).
#[utoipa::path(post, path = "/api/v1/programs/{id}/tiers", tag = "tiers", params(("id" = String, Path)), request_body = CreateTierRequest,
    responses((status = 201, body = TierView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_tier(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateTierRequest>,
) -> ApiResult<(StatusCode, Json<TierView>)> {
    let input = NewTier { name: body.name, rank: body.rank, requirements: body.requirements, benefits: body.benefits };
    Ok((StatusCode::CREATED, Json(tiers::create(&state.ctx, &scope, &path_id(&id)?, input).await?.into())))
}

/// The tiers of a program, lowest rank first (every member of the workspace may read them).
#[utoipa::path(get, path = "/api/v1/programs/{id}/tiers", tag = "tiers", params(("id" = String, Path)),
    responses((status = 200, body = Page<TierView>), (status = 404, body = Problem)))]
pub async fn list_tiers(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<Page<TierView>>> {
    let list = tiers::list(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(Page { data: list.into_iter().map(TierView::from).collect(), next_cursor: None }))
}

/// One tier of a program.
#[utoipa::path(get, path = "/api/v1/programs/{id}/tiers/{tier_id}", tag = "tiers", params(("id" = String, Path), ("tier_id" = String, Path)),
    responses((status = 200, body = TierView), (status = 404, body = Problem)))]
pub async fn find_tier(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, tier_id)): Path<(String, String)>,
) -> ApiResult<Json<TierView>> {
    Ok(Json(tiers::get(&state.ctx, &scope, &path_id(&id)?, &path_id(&tier_id)?).await?.into()))
}

/// Change a tier (owner/admin/channel_manager); holders keep it until the next evaluation.
#[utoipa::path(patch, path = "/api/v1/programs/{id}/tiers/{tier_id}", tag = "tiers", params(("id" = String, Path), ("tier_id" = String, Path)),
    request_body = UpdateTierRequest,
    responses((status = 200, body = TierView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_tier(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, tier_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateTierRequest>,
) -> ApiResult<Json<TierView>> {
    let patch = TierPatch { name: body.name, rank: body.rank, requirements: body.requirements, benefits: body.benefits };
    Ok(Json(tiers::update(&state.ctx, &scope, &path_id(&id)?, &path_id(&tier_id)?, patch).await?.into()))
}

/// Delete a tier (owner/admin/channel_manager); 409 while any partner holds it.
#[utoipa::path(delete, path = "/api/v1/programs/{id}/tiers/{tier_id}", tag = "tiers", params(("id" = String, Path), ("tier_id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_tier(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, tier_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    tiers::delete(&state.ctx, &scope, &path_id(&id)?, &path_id(&tier_id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Evaluate the tiers of every partner enrolled in the program that you can see
/// (owner/admin/channel_manager); answers what changed, with the explanation of each change.
#[utoipa::path(post, path = "/api/v1/programs/{id}/evaluate-tiers", tag = "tiers", params(("id" = String, Path)),
    responses((status = 200, body = EvaluationSummaryView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn evaluate_program_tiers(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<EvaluationSummaryView>> {
    Ok(Json(evaluation::evaluate_program(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// The metrics tier requirements may use (every member of the workspace may read them).
#[utoipa::path(get, path = "/api/v1/metrics", tag = "tiers", responses((status = 200, body = Page<MetricView>)))]
pub async fn list_metrics(State(state): State<AppState>, Caller(_scope): Caller) -> ApiResult<Json<Page<MetricView>>> {
    Ok(Json(Page { data: Registry::of(&state.ctx)?.all().iter().map(MetricView::from).collect(), next_cursor: None }))
}

/// Enroll a partner in a program (owner/admin/channel_manager), at the lowest tier unless `tier_id` says otherwise.
#[utoipa::path(post, path = "/api/v1/partners/{id}/enrollments", tag = "tiers", params(("id" = String, Path)), request_body = EnrollRequest,
    responses((status = 201, body = EnrollmentView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn enroll_partner(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EnrollRequest>,
) -> ApiResult<(StatusCode, Json<EnrollmentView>)> {
    let partner_id: PartnerId = path_id(&id)?;
    let input = enrollment_input(&body.program_id, body.tier_id.as_deref())?;
    Ok((StatusCode::CREATED, Json(enrollments::enroll(&state.ctx, &scope, &partner_id, input).await?.into())))
}

/// A partner's programs and tiers (anyone who can see the partner).
#[utoipa::path(get, path = "/api/v1/partners/{id}/enrollments", tag = "tiers", params(("id" = String, Path)),
    responses((status = 200, body = Page<EnrollmentView>), (status = 404, body = Problem)))]
pub async fn list_enrollments(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<EnrollmentView>>> {
    let list = enrollments::list_for_partner(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(Page { data: list.into_iter().map(EnrollmentView::from).collect(), next_cursor: None }))
}

/// A partner's enrollment in one program.
#[utoipa::path(get, path = "/api/v1/partners/{id}/enrollments/{program_id}", tag = "tiers", params(("id" = String, Path), ("program_id" = String, Path)),
    responses((status = 200, body = EnrollmentView), (status = 404, body = Problem)))]
pub async fn find_enrollment(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, program_id)): Path<(String, String)>,
) -> ApiResult<Json<EnrollmentView>> {
    Ok(Json(enrollments::get(&state.ctx, &scope, &path_id(&id)?, &path_id(&program_id)?).await?.into()))
}

/// Take a partner out of a program (owner/admin/channel_manager); its tier history stays.
#[utoipa::path(delete, path = "/api/v1/partners/{id}/enrollments/{program_id}", tag = "tiers", params(("id" = String, Path), ("program_id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn unenroll_partner(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, program_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    enrollments::unenroll(&state.ctx, &scope, &path_id(&id)?, &path_id(&program_id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a partner's tier by hand with a reason (owner/admin/channel_manager). The override sticks
/// through evaluations until removed.
#[utoipa::path(put, path = "/api/v1/partners/{id}/enrollments/{program_id}/tier", tag = "tiers", params(("id" = String, Path), ("program_id" = String, Path)),
    request_body = OverrideTierRequest,
    responses((status = 200, body = EnrollmentView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn override_tier(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, program_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<OverrideTierRequest>,
) -> ApiResult<Json<EnrollmentView>> {
    let enrollment =
        enrollments::override_tier(&state.ctx, &scope, &path_id(&id)?, &path_id(&program_id)?, &body.tier_id, &body.reason).await?;
    Ok(Json(enrollment.into()))
}

/// Remove a manual tier override (owner/admin/channel_manager); the tier is evaluated again at once.
#[utoipa::path(delete, path = "/api/v1/partners/{id}/enrollments/{program_id}/tier", tag = "tiers", params(("id" = String, Path), ("program_id" = String, Path)),
    responses((status = 200, body = EnrollmentView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove_tier_override(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, program_id)): Path<(String, String)>,
) -> ApiResult<Json<EnrollmentView>> {
    Ok(Json(enrollments::remove_override(&state.ctx, &scope, &path_id(&id)?, &path_id(&program_id)?).await?.into()))
}

/// Evaluate a partner's tiers in every program it is enrolled in (owner/admin/channel_manager).
#[utoipa::path(post, path = "/api/v1/partners/{id}/evaluate-tiers", tag = "tiers", params(("id" = String, Path)),
    responses((status = 200, body = EvaluationSummaryView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn evaluate_partner_tiers(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<EvaluationSummaryView>> {
    Ok(Json(evaluation::evaluate_partner(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// A partner's tier history, newest first, with the explanation of every promotion and demotion
/// (anyone who can see the partner).
#[utoipa::path(get, path = "/api/v1/partners/{id}/tier-history", tag = "tiers", params(("id" = String, Path), TierHistoryParams),
    responses((status = 200, body = Page<TierChangeView>), (status = 404, body = Problem)))]
pub async fn list_tier_history(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<TierHistoryParams>,
) -> ApiResult<Json<Page<TierChangeView>>> {
    let partner_id: PartnerId = path_id(&id)?;
    let limit = PageLimit::of(params.limit);
    let program_id = match params.program_id.as_deref().map(ProgramId::parse) {
        None => None,
        Some(Ok(program_id)) => Some(program_id),
        // A filter naming no program matches nothing; the partner must still be visible.
        Some(Err(_)) => {
            partners::get(&state.ctx, &scope, &partner_id).await?;
            return Ok(Json(Page { data: Vec::new(), next_cursor: None }));
        }
    };
    let filter = HistoryFilter { program_id, before: Cursor::into_inner(params.cursor), limit: Some(limit) };
    Ok(Json(Page::of(evaluation::history(&state.ctx, &scope, &partner_id, &filter).await?, TierChangeView::from)))
}

/// Every metric's current value for a partner; per-program metrics once per enrollment (anyone
/// who can see the partner).
#[utoipa::path(get, path = "/api/v1/partners/{id}/metrics", tag = "tiers", params(("id" = String, Path)),
    responses((status = 200, body = Page<MetricReadingView>), (status = 404, body = Problem)))]
pub async fn list_partner_metrics(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<MetricReadingView>>> {
    let readings = metrics::readings(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(Page { data: readings.into_iter().map(MetricReadingView::from).collect(), next_cursor: None }))
}

/// Record the value of a recorded metric for a partner (owner/admin/channel_manager).
#[utoipa::path(put, path = "/api/v1/partners/{id}/metrics/{metric}", tag = "tiers", params(("id" = String, Path), ("metric" = String, Path)),
    request_body = RecordMetricRequest,
    responses((status = 200, body = MetricReadingView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn record_partner_metric(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, metric)): Path<(String, String)>,
    ApiJson(body): ApiJson<RecordMetricRequest>,
) -> ApiResult<Json<MetricReadingView>> {
    let reading = metrics::record(&state.ctx, &scope, &path_id(&id)?, &metric, &body.value, body.note.as_deref()).await?;
    Ok(Json(reading.into()))
}
