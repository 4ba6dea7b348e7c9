//! Invitations (API.md "Workspace staff"): the pending ones, cancelling one, and the invitee's
//! answer. Accepting needs the token of the link and — for an address that already has an
//! account — that account's own sign-in token; it never changes an existing account.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use trellis_identity::auth;
use trellis_identity::invitations::{self, Acceptor};
use trellis_web::AppState;
use trellis_web::meta::Meta;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::ToSchema;

use crate::extract::{ApiJson, Caller, path_id};
use crate::views::{AcceptedInvitationView, InvitationView, MembershipView, Page};

/// The path of the acceptance route. It authenticates the person itself: an invitee may have
/// no membership yet, or several, and acts for none of them when accepting.
pub fn is_acceptance(path: &str) -> bool {
    path.strip_prefix("/api/v1/invitations/").is_some_and(|rest| rest.ends_with("/accept") && rest.matches('/').count() == 1)
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// For an address without an account: the new account's password (at least 8 characters).
    /// Left out when accepting with an existing account's sign-in token.
    pub password: Option<String>,
    /// For a new account: the name to show (defaults to the name the inviter gave).
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeclinedView {
    /// declined.
    pub status: String,
}

/// Pending staff invitations (owner/admin), newest first.
#[utoipa::path(get, path = "/api/v1/invitations", tag = "members",
    responses((status = 200, body = Page<InvitationView>), (status = 403, body = Problem)))]
pub async fn list_invitations(State(state): State<AppState>, Caller(scope): Caller) -> ApiResult<Json<Page<InvitationView>>> {
    let list = invitations::list_staff(&state.ctx, &scope).await?;
    Ok(Json(Page { data: list.into_iter().map(InvitationView::from).collect(), next_cursor: None }))
}

/// Cancel a pending invitation: its link stops working at once. Staff invitations: owner/admin;
/// partner-user invitations: whoever manages that partner's users.
#[utoipa::path(delete, path = "/api/v1/invitations/{id}", tag = "members", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_invitation(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    invitations::cancel(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accept an invitation (the token is the one in the invitation link). An address without an
/// account sends `{password, name?}` and no credential; an address with an account sends `{}`
/// with that account's sign-in token (`Authorization: Bearer trs_…`).
#[utoipa::path(post, path = "/api/v1/invitations/{token}/accept", tag = "members", security((), ("bearer" = [])),
    params(("token" = String, Path)), request_body = AcceptInvitationRequest,
    responses((status = 200, body = AcceptedInvitationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<AcceptInvitationRequest>,
) -> ApiResult<Json<AcceptedInvitationView>> {
    let credential = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim).ok_or_else(ApiError::unauthorized)?),
    };
    let accepted = match credential {
        Some(credential) => {
            if body.password.is_some() || body.name.is_some() {
                return Err(ApiError::field(
                    if body.password.is_some() { "password" } else { "name" },
                    "is not used when accepting with an existing account: send {}",
                ));
            }
            if !credential.starts_with(auth::TOKEN_PREFIX) {
                // A valid key is a known caller (403); a revoked or unknown one is 401 as everywhere.
                auth::authenticate_bearer(&state.ctx, credential, None, &meta).await?;
                return Err(ApiError::forbidden("a person accepts an invitation with their sign-in token, not with an API key"));
            }
            let user_id = auth::token_user(&state.ctx, credential).await?;
            invitations::accept(&state.ctx, &token, Acceptor::Account { user_id: &user_id }).await?
        }
        None => {
            let Some(password) = body.password.as_deref() else {
                return Err(ApiError::field("password", "is required to accept without an account's sign-in token"));
            };
            invitations::accept(&state.ctx, &token, Acceptor::NewAccount { name: body.name.as_deref(), password }).await?
        }
    };
    Ok(Json(AcceptedInvitationView { user_id: accepted.user_id.to_string(), membership: MembershipView::from(&accepted.membership) }))
}

/// Decline an invitation; no account is needed (the token is the credential).
#[utoipa::path(post, path = "/api/v1/invitations/{token}/decline", tag = "members", security(()), params(("token" = String, Path)),
    responses((status = 200, body = DeclinedView), (status = 404, body = Problem)))]
pub async fn decline_invitation(State(state): State<AppState>, Path(token): Path<String>) -> ApiResult<Json<DeclinedView>> {
    invitations::decline(&state.ctx, &token).await?;
    Ok(Json(DeclinedView { status: "declined".to_owned() }))
}
