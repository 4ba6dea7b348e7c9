//! Passkeys (API.md "Identity": passkeys; ADR 0027): registering and removing one's own, signing
//! in with one, and confirming who one is with one. The ceremonies are WebAuthn's: the `options`
//! answered go to `navigator.credentials.create()` / `.get()` as they are (after
//! `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`), and the
//! `credential` sent back is the browser's `PublicKeyCredential.toJSON()`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use trellis_identity::auth::{self, SessionKind};
use trellis_identity::passkeys;
use trellis_web::AppState;
use trellis_web::meta::Meta;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::ToSchema;

use crate::extract::{ApiJson, SignInToken};
use crate::handlers::auth::Reauthenticated;
use crate::views::{LoginView, Page};

/// One of the signed-in person's passkeys (never the key itself).
#[derive(Serialize, ToSchema)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<passkeys::PasskeyInfo> for PasskeyView {
    fn from(info: passkeys::PasskeyInfo) -> Self {
        Self {
            id: info.id,
            name: info.name,
            created_at: info.created_at.to_rfc3339(),
            last_used_at: info.last_used_at.map(|at| at.to_rfc3339()),
        }
    }
}

/// A WebAuthn ceremony begun: five minutes to answer it, once.
#[derive(Serialize, ToSchema)]
pub struct CeremonyView {
    /// Sent back with the authenticator's answer.
    pub ceremony_id: String,
    /// WebAuthn's options as JSON: `{"publicKey": {...}}`.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

impl From<passkeys::Started> for CeremonyView {
    fn from(started: passkeys::Started) -> Self {
        Self { ceremony_id: started.ceremony_id, options: started.options }
    }
}

/// The signed-in person's passkeys, oldest first (a sign-in token only: 401 otherwise).
#[utoipa::path(get, path = "/api/v1/auth/passkeys", tag = "auth", responses((status = 200, body = Page<PasskeyView>), (status = 401, body = Problem)))]
pub async fn list_passkeys(State(state): State<AppState>, SignInToken(token): SignInToken) -> ApiResult<Json<Page<PasskeyView>>> {
    let user_id = auth::token_user(&state.ctx, &token).await?;
    let data = passkeys::list(&state.ctx, &user_id).await?.into_iter().map(PasskeyView::from).collect();
    Ok(Json(Page { data, next_cursor: None }))
}

/// Begin registering a passkey: the token must have signed in or confirmed within 5 minutes (403
/// `reauthentication_required`); 409 at 20 passkeys, or when the server's public URL is an IP
/// address (browsers refuse passkeys for one).
#[utoipa::path(post, path = "/api/v1/auth/passkeys/registration-options", tag = "auth",
    responses((status = 200, body = CeremonyView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn start_passkey_registration(
    State(state): State<AppState>,
    Meta(meta): Meta,
    SignInToken(token): SignInToken,
) -> ApiResult<Json<CeremonyView>> {
    let started = passkeys::start_registration(&state.ctx, &auth::session_key(&token), &meta).await?;
    Ok(Json(started.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegistration {
    pub ceremony_id: String,
    /// What the person calls it, 1 to 60 characters (e.g. "Work laptop").
    pub name: String,
    /// The browser's `PublicKeyCredential.toJSON()` of `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// Finish registering a passkey. An answer that does not match the ceremony (another challenge,
/// origin or relying party, no user verification), an expired or used ceremony, or a passkey
/// registered already is 422.
#[utoipa::path(post, path = "/api/v1/auth/passkeys", tag = "auth", request_body = PasskeyRegistration,
    responses((status = 201, body = PasskeyView), (status = 401, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn register_passkey(
    State(state): State<AppState>,
    SignInToken(token): SignInToken,
    ApiJson(body): ApiJson<PasskeyRegistration>,
) -> ApiResult<(StatusCode, Json<PasskeyView>)> {
    let info =
        passkeys::finish_registration(&state.ctx, &auth::session_key(&token), &body.ceremony_id, &body.name, &body.credential).await?;
    Ok((StatusCode::CREATED, Json(info.into())))
}

/// Remove one of the signed-in person's passkeys; the sessions begun with it end (not the one
/// asking). 404 for an id that is not one of theirs.
#[utoipa::path(delete, path = "/api/v1/auth/passkeys/{id}", tag = "auth", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn remove_passkey(
    State(state): State<AppState>,
    SignInToken(token): SignInToken,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let user_id = auth::token_user(&state.ctx, &token).await?;
    passkeys::remove(&state.ctx, &user_id, &id, &auth::session_key(&token)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Begin a sign-in with a passkey, without an address (the authenticator offers the passkeys it
/// holds for this site). 429 after 60 unfinished ones from one address within 5 minutes.
#[utoipa::path(post, path = "/api/v1/auth/passkey-login/options", tag = "auth", security(()),
    responses((status = 200, body = CeremonyView), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn start_passkey_login(State(state): State<AppState>, Meta(meta): Meta) -> ApiResult<Json<CeremonyView>> {
    Ok(Json(passkeys::start_sign_in(&state.ctx, &meta).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyLogin {
    pub ceremony_id: String,
    /// The browser's `PublicKeyCredential.toJSON()` of `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// The `device_token` of this client's last successful sign-in (`trd_…`), if it kept it.
    pub device_token: Option<String>,
}

/// Sign in with a passkey and get a Bearer token, as `POST /auth/login` answers. Anything but a
/// valid answer to this ceremony by a registered passkey is 401, the same for every reason.
#[utoipa::path(post, path = "/api/v1/auth/passkey-login", tag = "auth", security(()), request_body = PasskeyLogin,
    responses((status = 200, body = LoginView), (status = 401, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn passkey_login(
    State(state): State<AppState>,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<PasskeyLogin>,
) -> ApiResult<Json<LoginView>> {
    let signed_in =
        passkeys::finish_sign_in(&state.ctx, &body.ceremony_id, &body.credential, SessionKind::Token, body.device_token.as_deref(), &meta)
            .await?;
    Ok(Json(signed_in.into()))
}

/// Begin confirming who one is with a passkey (step-up, as `POST /auth/reauthenticate` with the
/// password): the options name the person's passkeys. 409 when they have none.
#[utoipa::path(post, path = "/api/v1/auth/reauthenticate/passkey-options", tag = "auth",
    responses((status = 200, body = CeremonyView), (status = 401, body = Problem), (status = 409, body = Problem)))]
pub async fn start_passkey_reauthentication(
    State(state): State<AppState>,
    Meta(meta): Meta,
    SignInToken(token): SignInToken,
) -> ApiResult<Json<CeremonyView>> {
    Ok(Json(passkeys::start_confirmation(&state.ctx, &auth::session_key(&token), &meta).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyConfirmation {
    pub ceremony_id: String,
    /// The browser's `PublicKeyCredential.toJSON()` of `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// Confirm it's you with a passkey: for 5 minutes the token may approve payouts, change payout
/// methods, create keys and change roles. A refused answer is 422 and in the sign-in history.
#[utoipa::path(post, path = "/api/v1/auth/reauthenticate/passkey", tag = "auth", request_body = PasskeyConfirmation,
    responses((status = 200, body = Reauthenticated), (status = 401, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn reauthenticate_with_passkey(
    State(state): State<AppState>,
    Meta(meta): Meta,
    SignInToken(token): SignInToken,
    ApiJson(body): ApiJson<PasskeyConfirmation>,
) -> ApiResult<Json<Reauthenticated>> {
    let at = passkeys::finish_confirmation(&state.ctx, &auth::session_key(&token), &body.ceremony_id, &body.credential, &meta).await?;
    Ok(Json(Reauthenticated { authenticated_at: at.to_rfc3339(), valid_until: at.plus_seconds(auth::STEP_UP_SECONDS).to_rfc3339() }))
}
