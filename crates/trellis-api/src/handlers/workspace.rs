//! Workspace settings (API.md "Workspace settings").

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use trellis_identity::workspaces::{self, SepaDebtor, WorkspacePatch};
use trellis_web::AppState;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::ToSchema;

use crate::extract::{ApiJson, Caller, double_option};
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
    };
    workspaces::update(&state.ctx, &scope, patch).await?;
    // Answer with what the caller may see (bank details masked for roles that may not read them).
    Ok(Json(workspaces::get(&state.ctx, &scope).await?.into()))
}
