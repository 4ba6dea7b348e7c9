//! Onboarding: programs' checklists and agreement versions, partners' progress, completing steps
//! and accepting agreements.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use trellis_recruitment::agreements::{self, NewAgreement};
use trellis_recruitment::onboarding::{self, NewStep, StepPatch};
use trellis_web::AppState;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::ToSchema;

use crate::extract::{ApiJson, Caller, path_id};
use crate::views::{AcceptanceView, AgreementView, OnboardingStepView, OnboardingView, Page};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStepRequest {
    /// accept_agreement, complete_profile, invite_colleagues, upload_document or custom.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub title: String,
    pub description: Option<String>,
    /// Whether the partner must do it to become active (default true).
    pub required: Option<bool>,
    /// Order in the checklist (default: after the last step).
    pub position: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStepRequest {
    pub title: Option<String>,
    pub description: Option<String>,
    pub required: Option<bool>,
    pub position: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishAgreementRequest {
    #[serde(default)]
    pub title: String,
    /// The agreement's text (plain text; paragraphs separated by blank lines).
    #[serde(default)]
    pub body: String,
}

/// A program's onboarding checklist in order (every member of the workspace).
#[utoipa::path(get, path = "/api/v1/programs/{id}/onboarding-steps", tag = "onboarding", params(("id" = String, Path)),
    responses((status = 200, body = Page<OnboardingStepView>), (status = 404, body = Problem)))]
pub async fn list_onboarding_steps(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<OnboardingStepView>>> {
    let steps = onboarding::list_steps(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(Page { data: steps.into_iter().map(OnboardingStepView::from).collect(), next_cursor: None }))
}

/// Add a step to a program's checklist (owner/admin/channel_manager).
#[utoipa::path(post, path = "/api/v1/programs/{id}/onboarding-steps", tag = "onboarding", params(("id" = String, Path)), request_body = CreateStepRequest,
    responses((status = 201, body = OnboardingStepView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_onboarding_step(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateStepRequest>,
) -> ApiResult<(StatusCode, Json<OnboardingStepView>)> {
    let input =
        NewStep { kind: body.kind, title: body.title, description: body.description, required: body.required, position: body.position };
    let step = onboarding::create_step(&state.ctx, &scope, &path_id(&id)?, input).await?;
    Ok((StatusCode::CREATED, Json(step.into())))
}

/// Change a step (owner/admin/channel_manager); its kind is fixed.
#[utoipa::path(patch, path = "/api/v1/programs/{id}/onboarding-steps/{step_id}", tag = "onboarding",
    params(("id" = String, Path), ("step_id" = String, Path)), request_body = UpdateStepRequest,
    responses((status = 200, body = OnboardingStepView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_onboarding_step(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, step_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateStepRequest>,
) -> ApiResult<Json<OnboardingStepView>> {
    let patch = StepPatch { title: body.title, description: body.description, required: body.required, position: body.position };
    Ok(Json(onboarding::update_step(&state.ctx, &scope, &path_id(&id)?, &path_id(&step_id)?, patch).await?.into()))
}

/// Remove a step and its completions (owner/admin/channel_manager).
#[utoipa::path(delete, path = "/api/v1/programs/{id}/onboarding-steps/{step_id}", tag = "onboarding",
    params(("id" = String, Path), ("step_id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_onboarding_step(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, step_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    onboarding::delete_step(&state.ctx, &scope, &path_id(&id)?, &path_id(&step_id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A partner's onboarding progress: every step of the programs it is in (done by whom, when) and
/// the agreement in force in each (anyone who may see the partner).
#[utoipa::path(get, path = "/api/v1/partners/{id}/onboarding", tag = "onboarding", params(("id" = String, Path)),
    responses((status = 200, body = OnboardingView), (status = 404, body = Problem)))]
pub async fn find_partner_onboarding(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<OnboardingView>> {
    Ok(Json(onboarding::progress(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// Mark a step done: staff who manage partners any step, the partner's own users (not members)
/// its `custom` steps. The last required step makes an onboarding partner active.
#[utoipa::path(post, path = "/api/v1/partners/{id}/onboarding/{step_id}/complete", tag = "onboarding",
    params(("id" = String, Path), ("step_id" = String, Path)),
    responses((status = 200, body = OnboardingView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn complete_onboarding_step(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, step_id)): Path<(String, String)>,
) -> ApiResult<Json<OnboardingView>> {
    Ok(Json(onboarding::complete_step(&state.ctx, &scope, &path_id(&id)?, &path_id(&step_id)?).await?.into()))
}

/// A program's agreement versions, newest first (every member of the workspace).
#[utoipa::path(get, path = "/api/v1/programs/{id}/agreements", tag = "onboarding", params(("id" = String, Path)),
    responses((status = 200, body = Page<AgreementView>), (status = 404, body = Problem)))]
pub async fn list_agreements(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<AgreementView>>> {
    let versions = agreements::list(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(Page { data: versions.into_iter().map(AgreementView::from).collect(), next_cursor: None }))
}

/// Publish a new version of a program's agreement; it is in force at once (owner/admin/channel_manager).
#[utoipa::path(post, path = "/api/v1/programs/{id}/agreements", tag = "onboarding", params(("id" = String, Path)), request_body = PublishAgreementRequest,
    responses((status = 201, body = AgreementView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn publish_agreement(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PublishAgreementRequest>,
) -> ApiResult<(StatusCode, Json<AgreementView>)> {
    let agreement = agreements::publish(&state.ctx, &scope, &path_id(&id)?, NewAgreement { title: body.title, body: body.body }).await?;
    Ok((StatusCode::CREATED, Json(agreement.into())))
}

/// Accept the agreement version in force for the partner (its admins, signed in: who, when,
/// address and version are recorded). Completes the program's `accept_agreement` steps.
#[utoipa::path(post, path = "/api/v1/partners/{id}/agreements/{agreement_id}/accept", tag = "onboarding",
    params(("id" = String, Path), ("agreement_id" = String, Path)),
    responses((status = 200, body = AcceptanceView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn accept_agreement(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, agreement_id)): Path<(String, String)>,
) -> ApiResult<Json<AcceptanceView>> {
    Ok(Json(agreements::accept(&state.ctx, &scope, &path_id(&id)?, &path_id(&agreement_id)?).await?.into()))
}
