//! Workspace settings (API.md "Workspace settings").

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use serde::Deserialize;
use trellis_identity::workspaces::{self, SepaDebtor, WorkspacePatch};
use trellis_records::branding;
use trellis_web::AppState;
use trellis_web::limits::MAX_UPLOAD_BODY_BYTES;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, Caller, double_option};
use crate::handlers::files::read_logo;
use crate::views::WorkspaceView;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SepaDebtorInput {
    pub name: String,
    pub iban: String,
    pub bic: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspaceRequest {
    pub name: Option<String>,
    pub default_currency: Option<String>,
    /// Referral links may only point at these domains and their subdomains.
    pub allowed_redirect_domains: Option<Vec<String>>,
    /// The account payouts are paid from; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    pub sepa_debtor: Option<Option<SepaDebtorInput>>,
    pub distributors_manage_resellers: Option<bool>,
    /// The accent colour of the public pages, `#rrggbb`, dark enough for white text on it
    /// (contrast at least 4.5:1); `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "#1f6f5c")]
    pub brand_colour: Option<Option<String>>,
    /// Require two-step sign-in of staff: someone without an authenticator app can only set one
    /// up (403 `mfa_enrollment_required` elsewhere). API keys are not affected.
    pub mfa_required_staff: Option<bool>,
    /// The same for partners' admins.
    pub mfa_required_partner_admins: Option<bool>,
}

/// The workspace's settings.
#[utoipa::path(get, path = "/api/v1/workspace", tag = "workspace", responses((status = 200, body = WorkspaceView), (status = 401, body = Problem)))]
pub async fn find_workspace(State(state): State<AppState>, Caller(scope): Caller) -> ApiResult<Json<WorkspaceView>> {
    Ok(Json(workspaces::get(&state.ctx, &scope).await?.into()))
}

/// Change settings (owner/admin).
#[utoipa::path(patch, path = "/api/v1/workspace", tag = "workspace", request_body = UpdateWorkspaceRequest,
    responses((status = 200, body = WorkspaceView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn update_workspace(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<UpdateWorkspaceRequest>,
) -> ApiResult<Json<WorkspaceView>> {
    let patch = WorkspacePatch {
        name: body.name,
        default_currency: body.default_currency,
        allowed_redirect_domains: body.allowed_redirect_domains,
        sepa_debtor: body.sepa_debtor.map(|d| d.map(|d| SepaDebtor { name: d.name, iban: d.iban, bic: d.bic })),
        distributors_manage_resellers: body.distributors_manage_resellers,
        brand_colour: body.brand_colour,
        brand_logo: None,
        mfa_required_staff: body.mfa_required_staff,
        mfa_required_partner_admins: body.mfa_required_partner_admins,
    };
    workspaces::update(&state.ctx, &scope, patch).await?;
    // Answer with what the caller may see (bank details masked for roles that may not read them).
    Ok(Json(workspaces::get(&state.ctx, &scope).await?.into()))
}

/// The multipart form of a workspace logo.
#[derive(ToSchema)]
pub struct LogoForm {
    /// PNG or JPEG, at most 1 MiB and 4096 × 4096 pixels (no SVG); the type is checked against
    /// the content and the image is re-encoded before it is served.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// Replace the logo of the public pages (owner/admin; multipart/form-data: `file`).
#[utoipa::path(put, path = "/api/v1/workspace/logo", tag = "workspace",
    request_body(content = LogoForm, content_type = "multipart/form-data"),
    responses((status = 200, body = WorkspaceView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn upload_workspace_logo(
    State(state): State<AppState>,
    Caller(scope): Caller,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<WorkspaceView>> {
    scope.require_workspace_admin("change the workspace's branding")?;
    let multipart = multipart.map_err(|_| ApiError::malformed("send the logo as multipart/form-data with the field file"))?;
    let upload = read_logo(multipart).await?;
    branding::store_logo(&state.ctx, &scope, &state.web.data_dir, upload).await?;
    Ok(Json(workspaces::get(&state.ctx, &scope).await?.into()))
}

/// Remove the logo of the public pages (owner/admin).
#[utoipa::path(delete, path = "/api/v1/workspace/logo", tag = "workspace",
    responses((status = 200, body = WorkspaceView), (status = 403, body = Problem)))]
pub async fn remove_workspace_logo(State(state): State<AppState>, Caller(scope): Caller) -> ApiResult<Json<WorkspaceView>> {
    branding::remove_logo(&state.ctx, &scope).await?;
    Ok(Json(workspaces::get(&state.ctx, &scope).await?.into()))
}

/// The workspace routes; a logo may be larger than the JSON body limit.
pub fn logo_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_workspace_logo, remove_workspace_logo)).layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY_BYTES))
}
