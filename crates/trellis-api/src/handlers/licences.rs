//! Compliance licences of partners.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use trellis_core::FileId;
use trellis_records::dates;
use trellis_records::licences::{self, LicencePatch, NewLicence};
use trellis_web::AppState;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::ToSchema;

use crate::extract::{ApiJson, Caller, double_option, path_id};
use crate::views::{LicenceView, Page};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLicenceRequest {
    /// What the licence is, e.g. "insurance broker".
    pub kind: String,
    pub number: String,
    /// Where it applies, e.g. "DE" or "EU".
    pub jurisdiction: String,
    /// YYYY-MM-DD.
    pub valid_from: String,
    /// YYYY-MM-DD; reminders go out 30 and 7 days before.
    pub valid_until: String,
    /// A file uploaded for the partner with purpose `licence`.
    #[schema(value_type = Option<String>)]
    pub file_id: Option<FileId>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLicenceRequest {
    pub kind: Option<String>,
    pub number: Option<String>,
    pub jurisdiction: Option<String>,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub file_id: Option<Option<FileId>>,
}

/// Add a licence to a partner (its admins, or owner/admin/channel_manager).
#[utoipa::path(post, path = "/api/v1/partners/{id}/licences", tag = "licences", params(("id" = String, Path)), request_body = CreateLicenceRequest,
    responses((status = 201, body = LicenceView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_partner_licence(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateLicenceRequest>,
) -> ApiResult<(StatusCode, Json<LicenceView>)> {
    let input = NewLicence {
        kind: body.kind,
        number: body.number,
        jurisdiction: body.jurisdiction,
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        file_id: body.file_id,
    };
    let licence = licences::create(&state.ctx, &scope, &path_id(&id)?, input).await?;
    Ok((StatusCode::CREATED, Json(LicenceView::new(licence, dates::today(state.ctx.now())))))
}

/// A partner's licences, latest end first (anyone who can see the partner).
#[utoipa::path(get, path = "/api/v1/partners/{id}/licences", tag = "licences", params(("id" = String, Path)),
    responses((status = 200, body = Page<LicenceView>), (status = 404, body = Problem)))]
pub async fn list_partner_licences(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<LicenceView>>> {
    let today = dates::today(state.ctx.now());
    let list = licences::list(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(Page { data: list.into_iter().map(|l| LicenceView::new(l, today)).collect(), next_cursor: None }))
}

/// One licence.
#[utoipa::path(get, path = "/api/v1/licences/{id}", tag = "licences", params(("id" = String, Path)),
    responses((status = 200, body = LicenceView), (status = 404, body = Problem)))]
pub async fn find_licence(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<LicenceView>> {
    let licence = licences::get(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(LicenceView::new(licence, dates::today(state.ctx.now()))))
}

/// Correct or renew a licence (the partner's admins, or owner/admin/channel_manager).
#[utoipa::path(patch, path = "/api/v1/licences/{id}", tag = "licences", params(("id" = String, Path)), request_body = UpdateLicenceRequest,
    responses((status = 200, body = LicenceView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_licence(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateLicenceRequest>,
) -> ApiResult<Json<LicenceView>> {
    let patch = LicencePatch {
        kind: body.kind,
        number: body.number,
        jurisdiction: body.jurisdiction,
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        file_id: body.file_id,
    };
    let licence = licences::update(&state.ctx, &scope, &path_id(&id)?, patch).await?;
    Ok(Json(LicenceView::new(licence, dates::today(state.ctx.now()))))
}

/// Delete a licence (owner/admin/channel_manager only: a partner cannot remove a lapsed licence).
#[utoipa::path(delete, path = "/api/v1/licences/{id}", tag = "licences", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_licence(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    licences::delete(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
