//! Partner contracts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use trellis_core::FileId;
use trellis_records::contracts::{self, ContractPatch, NewContract};
use trellis_web::AppState;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::ToSchema;

use crate::extract::{ApiJson, Caller, double_option, path_id};
use crate::views::{ContractView, Page};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContractRequest {
    pub title: String,
    /// YYYY-MM-DD.
    pub starts_on: String,
    pub ends_on: Option<String>,
    /// Reminders go out 30 and 7 days before (else before `ends_on`).
    pub renews_on: Option<String>,
    /// A file uploaded for the partner with purpose `contract`.
    #[schema(value_type = Option<String>)]
    pub file_id: Option<FileId>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContractRequest {
    pub title: Option<String>,
    pub starts_on: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub ends_on: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub renews_on: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub file_id: Option<Option<FileId>>,
}

/// Add a contract to a partner (owner/admin/channel_manager).
#[utoipa::path(post, path = "/api/v1/partners/{id}/contracts", tag = "contracts", params(("id" = String, Path)), request_body = CreateContractRequest,
    responses((status = 201, body = ContractView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_partner_contract(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateContractRequest>,
) -> ApiResult<(StatusCode, Json<ContractView>)> {
    let input = NewContract {
        title: body.title,
        starts_on: body.starts_on,
        ends_on: body.ends_on,
        renews_on: body.renews_on,
        file_id: body.file_id,
    };
    let contract = contracts::create(&state.ctx, &scope, &path_id(&id)?, input).await?;
    Ok((StatusCode::CREATED, Json(contract.into())))
}

/// A partner's contracts, latest start first (anyone who can see the partner).
#[utoipa::path(get, path = "/api/v1/partners/{id}/contracts", tag = "contracts", params(("id" = String, Path)),
    responses((status = 200, body = Page<ContractView>), (status = 404, body = Problem)))]
pub async fn list_partner_contracts(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<ContractView>>> {
    let list = contracts::list(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(Page { data: list.into_iter().map(ContractView::from).collect(), next_cursor: None }))
}

/// One contract.
#[utoipa::path(get, path = "/api/v1/contracts/{id}", tag = "contracts", params(("id" = String, Path)),
    responses((status = 200, body = ContractView), (status = 404, body = Problem)))]
pub async fn find_contract(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<ContractView>> {
    Ok(Json(contracts::get(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// Change a contract (owner/admin/channel_manager).
#[utoipa::path(patch, path = "/api/v1/contracts/{id}", tag = "contracts", params(("id" = String, Path)), request_body = UpdateContractRequest,
    responses((status = 200, body = ContractView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_contract(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateContractRequest>,
) -> ApiResult<Json<ContractView>> {
    let patch = ContractPatch {
        title: body.title,
        starts_on: body.starts_on,
        ends_on: body.ends_on,
        renews_on: body.renews_on,
        file_id: body.file_id,
    };
    Ok(Json(contracts::update(&state.ctx, &scope, &path_id(&id)?, patch).await?.into()))
}

/// Delete a contract (owner/admin/channel_manager).
#[utoipa::path(delete, path = "/api/v1/contracts/{id}", tag = "contracts", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_contract(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    contracts::delete(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
