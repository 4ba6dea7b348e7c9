//! Workspace API keys (API.md "Sign-in for API clients").

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use trellis_core::ApiKeyId;
use trellis_identity::api_keys;
use trellis_web::AppState;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiQuery, Caller, Cursor, PageLimit, path_id};
use crate::views::{ApiKeyView, Page};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    pub name: String,
    /// `["read"]` limits the key to GET; default `["read", "write"]`.
    pub scopes: Option<Vec<String>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Page size, 1 to 500 (default 50).
    /// Page size, 1 to 500 (default 50); anything else is 422.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    /// The `next_cursor` of the previous page; anything else is 422.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<ApiKeyId>>,
}

/// Create a workspace key for the calling staff member. The secret is in `key`, shown once.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api_keys", request_body = CreateApiKeyRequest,
    responses((status = 201, body = ApiKeyView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_api_key(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, Json<ApiKeyView>)> {
    let created = api_keys::create_workspace_key(&state.ctx, &scope, &body.name, body.scopes.as_deref()).await?;
    let mut view = ApiKeyView::from(created.key);
    view.key = Some(created.secret);
    Ok((StatusCode::CREATED, Json(view)))
}

/// List keys: your own (owner/admin: every key of the workspace; partner admins: their organisation's).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api_keys", params(ListParams), responses((status = 200, body = Page<ApiKeyView>)))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Page<ApiKeyView>>> {
    let limit = PageLimit::of(params.limit);
    let before = Cursor::into_inner(params.cursor);
    Ok(Json(Page::of(api_keys::list(&state.ctx, &scope, before.as_ref(), Some(limit)).await?, ApiKeyView::from)))
}

/// Revoke a key; it gets 401 from the next request on.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api_keys", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke_api_key(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    api_keys::revoke(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
