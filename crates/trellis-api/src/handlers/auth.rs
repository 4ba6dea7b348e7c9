//! Sign-in for API clients (API.md "Sign-in for API clients").

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use trellis_identity::auth::{self, SessionKind};
use trellis_identity::{Actor, Membership};
use trellis_web::AppState;
use trellis_web::meta::Meta;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::ToSchema;

use crate::extract::{ApiJson, Caller, SignInToken};
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
pub async fn logout(State(state): State<AppState>, SignInToken(token): SignInToken) -> ApiResult<StatusCode> {
    auth::logout(&state.ctx, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// 8 to 256 characters, not the account's email address or name, not easy to guess.
    pub new_password: String,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    /// The person's other sessions that ended (the token used stays signed in).
    pub other_sessions_ended: u64,
}

/// Change the signed-in person's password; their other sessions end. A sign-in token only (an
/// API key is not a person's sign-in): 401 otherwise. A wrong current password is 422 and counts
/// as a failed sign-in (429 after too many).
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordChange,
    responses((status = 200, body = PasswordChanged), (status = 401, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    Meta(meta): Meta,
    SignInToken(token): SignInToken,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<Json<PasswordChanged>> {
    let user_id = auth::token_user(&state.ctx, &token).await?;
    let ended =
        auth::change_password(&state.ctx, &user_id, &auth::session_key(&token), &body.current_password, &body.new_password, &meta).await?;
    Ok(Json(PasswordChanged { other_sessions_ended: ended }))
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
