//! Sign-in for API clients (API.md "Sign-in for API clients").

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use trellis_identity::auth::{self, SessionKind};
use trellis_identity::{Actor, Membership};
use trellis_identity::{password_reset, sign_ins, totp};
use trellis_web::AppState;
use trellis_web::meta::Meta;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::ToSchema;

use crate::extract::{ApiJson, Caller, SignInToken};
use crate::views::{LoginView, MeView, Page, SessionView, SignInView};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// A TOTP code, once multi-factor sign-in is enabled for the account.
    pub totp: Option<String>,
    /// The `device_token` of this client's last successful sign-in (`trd_…`), if it kept it.
    pub device_token: Option<String>,
}

/// Sign in and get a Bearer token for the user. An account with an authenticator app answers 401
/// `mfa_required` without `totp`, and 401 for a wrong or already used code.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses((status = 200, body = LoginView), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(State(state): State<AppState>, Meta(meta): Meta, ApiJson(body): ApiJson<LoginRequest>) -> ApiResult<Json<LoginView>> {
    let signed_in =
        auth::login(&state.ctx, &body.email, &body.password, body.totp.as_deref(), SessionKind::Token, body.device_token.as_deref(), &meta)
            .await?;
    Ok(Json(signed_in.into()))
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reauthentication {
    pub password: String,
    /// The code of the person's authenticator app (or a recovery code), when they have one.
    pub totp: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Reauthenticated {
    /// From now, for 5 minutes, this token may approve payouts, change payout methods, create keys
    /// and change roles.
    pub authenticated_at: String,
    pub valid_until: String,
}

/// Confirm it's you (step-up re-authentication): the password, and the authenticator's code when
/// the person has one. A sign-in token only (401 otherwise). A wrong password is 422 and counts
/// as a failed sign-in (429 after too many).
#[utoipa::path(post, path = "/api/v1/auth/reauthenticate", tag = "auth", request_body = Reauthentication,
    responses((status = 200, body = Reauthenticated), (status = 401, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn reauthenticate(
    State(state): State<AppState>,
    Meta(meta): Meta,
    SignInToken(token): SignInToken,
    ApiJson(body): ApiJson<Reauthentication>,
) -> ApiResult<Json<Reauthenticated>> {
    auth::token_user(&state.ctx, &token).await?;
    let at = auth::reauthenticate(&state.ctx, &auth::session_key(&token), &body.password, body.totp.as_deref(), &meta).await?;
    Ok(Json(Reauthenticated { authenticated_at: at.to_rfc3339(), valid_until: at.plus_seconds(auth::STEP_UP_SECONDS).to_rfc3339() }))
}

/// The signed-in person's sessions that still work, the most recently used first (a sign-in
/// token only: an API key is not a person's sign-in, 401).
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth", responses((status = 200, body = Page<SessionView>), (status = 401, body = Problem)))]
pub async fn list_sessions(State(state): State<AppState>, SignInToken(token): SignInToken) -> ApiResult<Json<Page<SessionView>>> {
    let user_id = auth::token_user(&state.ctx, &token).await?;
    let sessions = auth::list_sessions(&state.ctx, &user_id, &auth::session_key(&token)).await?;
    Ok(Json(Page { data: sessions.into_iter().map(SessionView::from).collect(), next_cursor: None }))
}

/// End one of the signed-in person's sessions (it stops working at once); 404 for an id that is
/// not one of theirs.
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "auth", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn end_session(State(state): State<AppState>, SignInToken(token): SignInToken, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let user_id = auth::token_user(&state.ctx, &token).await?;
    auth::end_own_session(&state.ctx, &user_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in person's sign-in history, newest first (the last 100 attempts, 90 days at most).
#[utoipa::path(get, path = "/api/v1/auth/sign-ins", tag = "auth", responses((status = 200, body = Page<SignInView>), (status = 401, body = Problem)))]
pub async fn list_sign_ins(State(state): State<AppState>, SignInToken(token): SignInToken) -> ApiResult<Json<Page<SignInView>>> {
    let user_id = auth::token_user(&state.ctx, &token).await?;
    let history = sign_ins::own_history(&state.ctx, &user_id).await?;
    Ok(Json(Page { data: history.into_iter().map(SignInView::from).collect(), next_cursor: None }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

/// Ask for a password reset link. 202 for every email address, whether or not an account has it
/// (the link is emailed to known ones; at most three an hour per address); 422 for what is not an
/// email address.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", security(()), request_body = PasswordResetRequest,
    responses((status = 202), (status = 422, body = Problem)))]
pub async fn request_password_reset(
    State(state): State<AppState>,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<PasswordResetRequest>,
) -> ApiResult<StatusCode> {
    // The address's form is checked (as the document declares it); whether an account has it is
    // never told.
    if body.email.chars().count() > 254 || trellis_core::Email::parse(body.email.trim()).is_err() {
        return Err(trellis_core::Error::invalid("email", "must be an email address of at most 254 characters").into());
    }
    password_reset::request(&state.ctx, &body.email, &meta).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetCompletion {
    /// The token of the emailed link (`prt_…`).
    pub token: String,
    /// 8 to 256 characters, not the account's email address or name, not easy to guess.
    pub new_password: String,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordReset {
    /// The account whose password was set: sign in with it and the new password.
    pub email: String,
}

/// Set a new password with a reset link: every session of the person ends. A link that is
/// unknown, used or expired is 422 on `token`.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/complete", tag = "auth", security(()), request_body = PasswordResetCompletion,
    responses((status = 200, body = PasswordReset), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn complete_password_reset(
    State(state): State<AppState>,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<PasswordResetCompletion>,
) -> ApiResult<Json<PasswordReset>> {
    let email = password_reset::find(&state.ctx, &body.token).await?;
    password_reset::complete(&state.ctx, &body.token, &body.new_password, &meta).await?;
    Ok(Json(PasswordReset { email: email.map(|e| e.to_string()).unwrap_or_default() }))
}

/// An authenticator app being set up: type `secret` into the app or open `otpauth_url` (a QR code).
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The seed in base32 (RFC 4648).
    pub secret: String,
    pub otpauth_url: String,
}

/// Start setting up an authenticator app for the signed-in person: not in force until confirmed
/// (sign-in token only). 409 when one is in force already, or when the server has no secret key
/// to seal the seed with.
#[utoipa::path(post, path = "/api/v1/auth/totp", tag = "auth",
    responses((status = 200, body = TotpEnrolment), (status = 401, body = Problem), (status = 409, body = Problem)))]
pub async fn enrol_totp(State(state): State<AppState>, SignInToken(token): SignInToken) -> ApiResult<Json<TotpEnrolment>> {
    let user_id = auth::token_user(&state.ctx, &token).await?;
    let enrolment = totp::enrol(&state.ctx, &user_id, "Trellis").await?;
    Ok(Json(TotpEnrolment { secret: enrolment.secret, otpauth_url: enrolment.otpauth_url }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    /// The 6-digit code the app shows (to turn it off, a recovery code also works).
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten codes, each usable once in place of the app's code: shown this once.
    pub recovery_codes: Vec<String>,
}

/// Confirm the authenticator app with its current code: from now on signing in needs a code, and
/// every other session of the person ends. Answers ten recovery codes, once.
#[utoipa::path(post, path = "/api/v1/auth/totp/confirm", tag = "auth", request_body = TotpCode,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    SignInToken(token): SignInToken,
    ApiJson(body): ApiJson<TotpCode>,
) -> ApiResult<Json<RecoveryCodes>> {
    let user_id = auth::token_user(&state.ctx, &token).await?;
    let recovery_codes = totp::confirm(&state.ctx, &user_id, &body.code, &auth::session_key(&token)).await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Turn the authenticator app off with one of its codes (or a recovery code); every other session
/// of the person ends.
#[utoipa::path(delete, path = "/api/v1/auth/totp", tag = "auth", request_body = TotpCode,
    responses((status = 204), (status = 401, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn disable_totp(
    State(state): State<AppState>,
    SignInToken(token): SignInToken,
    ApiJson(body): ApiJson<TotpCode>,
) -> ApiResult<StatusCode> {
    let user_id = auth::token_user(&state.ctx, &token).await?;
    totp::disable(&state.ctx, &user_id, &body.code, &auth::session_key(&token)).await?;
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
