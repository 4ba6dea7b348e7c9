//! Single sign-on connections (ADR 0026): a partner organisation's identity provider, and the
//! vendor staff's, as their admins set them up. Signing in through one happens on the pages
//! (`/sign-in/sso`); a provider's back-channel logout arrives at [`crate::sso_logout`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use trellis_core::PartnerId;
use trellis_identity::sso::{self, Connection, ConnectionInput};
use trellis_web::AppState;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::ToSchema;

use crate::extract::{ApiJson, Caller, path_id};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSsoConnectionRequest {
    /// What people see on the sign-in button's page, e.g. "Okta".
    pub name: String,
    /// The provider's issuer, exactly as its `/.well-known/openid-configuration` states it
    /// (https://; plain http only to this machine).
    pub issuer: String,
    pub client_id: String,
    /// Required when creating; omitted, the stored secret stays. Never shown again.
    pub client_secret: Option<String>,
    /// The role a person gets on their first sign-in: a partner role (default `member`), or for
    /// the staff `admin`, `channel_manager`, `finance` or `viewer` (default `viewer`).
    pub default_role: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// The email domains whose people sign in through this provider (set by the workspace's
    /// owners and admins only); omitted, they stay as they are.
    pub domains: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct SsoConnectionView {
    pub id: String,
    /// Absent for the staff's connection.
    pub partner_id: Option<String>,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub default_role: String,
    pub enabled: bool,
    pub domains: Vec<String>,
    /// The redirect URI to register at the provider.
    pub redirect_uri: String,
    /// The back-channel logout URI to register at the provider.
    pub backchannel_logout_uri: String,
    pub created_at: String,
    pub updated_at: String,
}

fn view(state: &AppState, c: Connection) -> SsoConnectionView {
    SsoConnectionView {
        redirect_uri: state.ctx.link(sso::CALLBACK_PATH),
        backchannel_logout_uri: state.ctx.link(&sso::backchannel_logout_path(&c.id)),
        id: c.id,
        partner_id: c.partner_id.map(|p| p.to_string()),
        name: c.name,
        issuer: c.issuer,
        client_id: c.client_id,
        default_role: c.default_role,
        enabled: c.enabled,
        domains: c.domains,
        created_at: c.created_at.to_rfc3339(),
        updated_at: c.updated_at.to_rfc3339(),
    }
}

fn input(body: PutSsoConnectionRequest) -> ConnectionInput {
    ConnectionInput {
        name: body.name,
        issuer: body.issuer,
        client_id: body.client_id,
        client_secret: body.client_secret,
        default_role: body.default_role,
        enabled: body.enabled,
        domains: body.domains,
    }
}

/// A partner organisation's identity provider (its own admins, or the workspace's owners and admins).
#[utoipa::path(get, path = "/api/v1/partners/{id}/sso", tag = "sso", params(("id" = String, Path)),
    responses((status = 200, body = SsoConnectionView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn find_partner_sso(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SsoConnectionView>> {
    let partner_id: PartnerId = path_id(&id)?;
    let found = sso::get(&state.ctx, &scope, Some(&partner_id)).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(view(&state, found)))
}

/// Create or replace a partner organisation's identity provider: 201 when created, 200 when
/// replaced. Needs a sign-in within 5 minutes (API keys exempt).
#[utoipa::path(put, path = "/api/v1/partners/{id}/sso", tag = "sso", params(("id" = String, Path)), request_body = PutSsoConnectionRequest,
    responses((status = 200, body = SsoConnectionView), (status = 201, body = SsoConnectionView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn put_partner_sso(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PutSsoConnectionRequest>,
) -> ApiResult<(StatusCode, Json<SsoConnectionView>)> {
    let partner_id: PartnerId = path_id(&id)?;
    let (connection, created) = sso::put(&state.ctx, &scope, Some(&partner_id), &input(body)).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(view(&state, connection))))
}

/// Remove a partner organisation's identity provider; the sessions begun through it end.
#[utoipa::path(delete, path = "/api/v1/partners/{id}/sso", tag = "sso", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_partner_sso(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let partner_id: PartnerId = path_id(&id)?;
    sso::delete(&state.ctx, &scope, Some(&partner_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The vendor staff's identity provider (owners and admins).
#[utoipa::path(get, path = "/api/v1/workspace/sso", tag = "sso",
    responses((status = 200, body = SsoConnectionView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn find_staff_sso(State(state): State<AppState>, Caller(scope): Caller) -> ApiResult<Json<SsoConnectionView>> {
    let found = sso::get(&state.ctx, &scope, None).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(view(&state, found)))
}

/// Create or replace the vendor staff's identity provider (owners and admins): 201 when
/// created, 200 when replaced.
#[utoipa::path(put, path = "/api/v1/workspace/sso", tag = "sso", request_body = PutSsoConnectionRequest,
    responses((status = 200, body = SsoConnectionView), (status = 201, body = SsoConnectionView), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn put_staff_sso(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<PutSsoConnectionRequest>,
) -> ApiResult<(StatusCode, Json<SsoConnectionView>)> {
    let (connection, created) = sso::put(&state.ctx, &scope, None, &input(body)).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(view(&state, connection))))
}

/// Remove the vendor staff's identity provider; the sessions begun through it end.
#[utoipa::path(delete, path = "/api/v1/workspace/sso", tag = "sso",
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_staff_sso(State(state): State<AppState>, Caller(scope): Caller) -> ApiResult<StatusCode> {
    sso::delete(&state.ctx, &scope, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
