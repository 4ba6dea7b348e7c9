//! Sign-in for API clients (API.md "Sign-in for API clients").

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use trellis_identity::auth::{self, SessionKind};
use trellis_identity::{Actor, Membership};
use trellis_web::AppState;
use trellis_web::meta::Meta;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::ToSchema;

use crate::extract::{ApiJson, Caller};
use crate::views::{LoginView, MeView, MembershipView};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// A TOTP code, once multi-factor sign-in is enabled for the account.
    pub totp: Option<String>,
}

/// Sign in and get a Bearer token for the user.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses((status = 200, body = LoginView), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(State(state): State<AppState>, Meta(meta): Meta, ApiJson(body): ApiJson<LoginRequest>) -> ApiResult<Json<LoginView>> {
    let _ = body.totp;
    let signed_in = auth::login(&state.ctx, &body.email, &body.password, SessionKind::Token, &meta).await?;
    Ok(Json(LoginView {
        token: signed_in.token,
        expires_at: signed_in.expires_at.to_rfc3339(),
        memberships: signed_in.memberships.iter().map(MembershipView::from).collect(),
    }))
}

/// End the sign-in token used for this request.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<StatusCode> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| t.starts_with(auth::TOKEN_PREFIX))
        .ok_or_else(ApiError::unauthorized)?;
    auth::logout(&state.ctx, token.trim()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the credential acts as.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, body = MeView), (status = 401, body = Problem)))]
pub async fn find_me(Caller(scope): Caller) -> Json<MeView> {
    let (actor_type, actor_id) = match scope.actor() {
        Actor::User { id, .. } => ("user", Some(id.to_string())),
        Actor::ApiKey { id, .. } => ("api_key", Some(id.to_string())),
        Actor::System => ("system", None),
    };
    let (kind, role, partner_id) = match scope.membership() {
        Membership::Staff { role, .. } => ("staff", role.as_str().to_owned(), None),
        Membership::Partner { partner_id, role, .. } => ("partner", role.as_str().to_owned(), Some(partner_id.to_string())),
        Membership::System => ("system", String::new(), None),
    };
    Json(MeView {
        workspace_id: scope.workspace_id().to_string(),
        actor_type: actor_type.to_owned(),
        actor_id,
        user_id: scope.user_id().map(|u| u.to_string()),
        kind: kind.to_owned(),
        role,
        partner_id,
        read_only: scope.is_read_only(),
    })
}
