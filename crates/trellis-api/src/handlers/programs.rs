//! Partner programs (API.md "Programs, tiers, applications").

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use trellis_programs::programs::{self, ApplicationQuestion, NewProgram, ProgramPatch};
use trellis_web::AppState;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::ToSchema;

use crate::extract::{ApiJson, Caller, path_id};
use crate::views::{Page, ProgramView};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionInput {
    /// Stable key of the answer, e.g. `annual_revenue` (lowercase letters, digits, underscores).
    pub id: String,
    pub label: String,
    /// text, textarea or select.
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub options: Vec<String>,
}

impl From<QuestionInput> for ApplicationQuestion {
    fn from(q: QuestionInput) -> Self {
        Self { id: q.id, label: q.label, kind: q.kind, required: q.required, options: q.options }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProgramRequest {
    pub name: String,
    /// Appears in public URLs (`/apply/{slug}`); unique across the instance.
    pub slug: String,
    /// ISO-4217; defaults to the workspace's default currency.
    pub currency: Option<String>,
    pub description: Option<String>,
    pub deal_registration: Option<bool>,
    pub referral_links: Option<bool>,
    /// How long an approved deal registration is protected (default 90).
    pub default_protection_days: Option<i64>,
    /// Whether the public application form takes applications (default true).
    pub accepting_applications: Option<bool>,
    /// Custom questions of the application form.
    pub application_questions: Option<Vec<QuestionInput>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProgramRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    pub deal_registration: Option<bool>,
    pub referral_links: Option<bool>,
    pub default_protection_days: Option<i64>,
    pub accepting_applications: Option<bool>,
    pub application_questions: Option<Vec<QuestionInput>>,
}

/// Create a program (owner/admin/channel_manager).
#[utoipa::path(post, path = "/api/v1/programs", tag = "programs", request_body = CreateProgramRequest,
    responses((status = 201, body = ProgramView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_program(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<CreateProgramRequest>,
) -> ApiResult<(StatusCode, Json<ProgramView>)> {
    let input = NewProgram {
        name: body.name,
        slug: body.slug,
        currency: body.currency,
        description: body.description,
        deal_registration: body.deal_registration,
        referral_links: body.referral_links,
        default_protection_days: body.default_protection_days,
        accepting_applications: body.accepting_applications,
        application_questions: body.application_questions.map(|qs| qs.into_iter().map(Into::into).collect()),
    };
    Ok((StatusCode::CREATED, Json(programs::create(&state.ctx, &scope, input).await?.into())))
}

/// The workspace's programs, newest first (every member of the workspace may read them).
#[utoipa::path(get, path = "/api/v1/programs", tag = "programs", responses((status = 200, body = Page<ProgramView>)))]
pub async fn list_programs(State(state): State<AppState>, Caller(scope): Caller) -> ApiResult<Json<Page<ProgramView>>> {
    let list = programs::list(&state.ctx, &scope).await?;
    Ok(Json(Page { data: list.into_iter().map(ProgramView::from).collect(), next_cursor: None }))
}

/// One program.
#[utoipa::path(get, path = "/api/v1/programs/{id}", tag = "programs", params(("id" = String, Path)),
    responses((status = 200, body = ProgramView), (status = 404, body = Problem)))]
pub async fn find_program(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<ProgramView>> {
    Ok(Json(programs::get(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// Change a program's settings (owner/admin/channel_manager); slug and currency are fixed.
#[utoipa::path(patch, path = "/api/v1/programs/{id}", tag = "programs", params(("id" = String, Path)), request_body = UpdateProgramRequest,
    responses((status = 200, body = ProgramView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_program(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateProgramRequest>,
) -> ApiResult<Json<ProgramView>> {
    let patch = ProgramPatch {
        name: body.name,
        description: body.description,
        deal_registration: body.deal_registration,
        referral_links: body.referral_links,
        default_protection_days: body.default_protection_days,
        accepting_applications: body.accepting_applications,
        application_questions: body.application_questions.map(|qs| qs.into_iter().map(Into::into).collect()),
    };
    Ok(Json(programs::update(&state.ctx, &scope, &path_id(&id)?, patch).await?.into()))
}
