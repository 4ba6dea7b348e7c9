//! Recruitment (API.md "Programs, tiers, applications"): the public application endpoint, the
//! applications inbox, approval and rejection.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use trellis_core::{ApplicationId, PartnerType, ProgramId};
use trellis_recruitment::applications::{self, ApplicationFilter, ApplicationStatus, NewApplication};
use trellis_web::AppState;
use trellis_web::meta::Meta;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiQuery, Caller, Cursor, PageLimit, path_id};
use crate::views::{ApplicationView, Page, PartnerView, SubmittedApplicationView};

/// Missing text fields are empty (and reported with every other invalid field at once).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    #[serde(default)]
    pub company_name: String,
    #[serde(default)]
    pub contact_name: String,
    #[serde(default)]
    pub contact_email: String,
    pub website: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. DE.
    pub country: Option<String>,
    /// One or more of reseller, distributor, msp, agency, referral, affiliate, technology.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub types: Vec<PartnerType>,
    /// Answers to the program's custom questions, `{question_id: answer}`.
    pub answers: Option<BTreeMap<String, String>>,
    /// Leave this out or empty: it is a trap for bots, and a submission that fills it in is
    /// answered as usual but discarded.
    pub company_fax: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApplicationListParams {
    /// applied, approved or rejected.
    #[param(value_type = Option<String>)]
    pub status: Option<ApplicationStatus>,
    #[param(value_type = Option<String>)]
    pub program_id: Option<String>,
    /// Page size, 1 to 500 (default 50); anything else is 422.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    /// The `next_cursor` of the previous page; anything else is 422.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<ApplicationId>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Why, in words for the applicant: it is emailed to them.
    #[serde(default)]
    pub reason: String,
}

/// Apply to a program (no authentication; rate limited per client address and per program). The
/// program must be taking applications; otherwise 404 as for an unknown slug.
#[utoipa::path(post, path = "/api/v1/public/programs/{slug}/applications", tag = "applications", params(("slug" = String, Path)),
    request_body = ApplicationRequest, security(()),
    responses((status = 201, body = SubmittedApplicationView), (status = 404, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn submit_application(
    State(state): State<AppState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<ApplicationRequest>,
) -> ApiResult<(StatusCode, Json<SubmittedApplicationView>)> {
    let input = NewApplication {
        company_name: body.company_name,
        contact_name: body.contact_name,
        contact_email: body.contact_email,
        website: body.website,
        country: body.country,
        types: body.types,
        answers: body.answers.unwrap_or_default(),
        honeypot: body.company_fax,
    };
    let receipt = applications::submit(&state.ctx, &slug, input, &meta).await?;
    let view = SubmittedApplicationView {
        id: receipt.partner_id.to_string(),
        application_id: receipt.application_id.to_string(),
        status: "applied".to_owned(),
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// The applications inbox, newest first (owner, admin, channel manager, viewer).
#[utoipa::path(get, path = "/api/v1/applications", tag = "applications", params(ApplicationListParams),
    responses((status = 200, body = Page<ApplicationView>), (status = 403, body = Problem)))]
pub async fn list_applications(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<ApplicationListParams>,
) -> ApiResult<Json<Page<ApplicationView>>> {
    let limit = PageLimit::of(params.limit);
    // A filter naming no program of this workspace matches nothing: a fresh id stands in for it.
    let program_id = params.program_id.as_deref().map(|p| ProgramId::parse(p).unwrap_or_else(|_| ProgramId::generate()));
    let filter = ApplicationFilter { status: params.status, program_id, before: Cursor::into_inner(params.cursor), limit: Some(limit) };
    Ok(Json(Page::of(applications::list(&state.ctx, &scope, &filter).await?, ApplicationView::from)))
}

/// One application, with its answers and what it may duplicate.
#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications", params(("id" = String, Path)),
    responses((status = 200, body = ApplicationView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn find_application(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(applications::get(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// Approve an applied partner (owner/admin/channel_manager): it is enrolled in the program and
/// moves to `onboarding` (`active` when the program has no required onboarding steps); the
/// applicant becomes its admin and is emailed an invitation link.
#[utoipa::path(post, path = "/api/v1/partners/{id}/approve", tag = "applications", params(("id" = String, Path)),
    responses((status = 200, body = PartnerView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn approve_partner(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<PartnerView>> {
    Ok(Json(applications::approve(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// Reject an applied partner with a reason the applicant is emailed (owner/admin/channel_manager).
#[utoipa::path(post, path = "/api/v1/partners/{id}/reject", tag = "applications", params(("id" = String, Path)), request_body = RejectRequest,
    responses((status = 200, body = PartnerView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn reject_partner(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RejectRequest>,
) -> ApiResult<Json<PartnerView>> {
    Ok(Json(applications::reject(&state.ctx, &scope, &path_id(&id)?, &body.reason).await?.into()))
}
