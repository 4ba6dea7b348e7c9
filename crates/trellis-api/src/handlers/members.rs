//! Workspace staff (API.md "Workspace staff").

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use trellis_core::{PartnerScopeSetting, VendorRole};
use trellis_identity::members;
use trellis_web::AppState;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::ToSchema;

use crate::extract::{ApiJson, Caller, path_id};
use crate::views::{InvitationView, MemberView, Page, SessionsEnded, SignInView};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    pub email: String,
    pub name: Option<String>,
    /// admin, channel_manager, finance or viewer.
    #[schema(value_type = String)]
    pub role: VendorRole,
    /// all (default) or assigned: a channel manager then sees only the partners they manage.
    #[schema(value_type = Option<String>)]
    pub partner_scope: Option<PartnerScopeSetting>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    #[schema(value_type = Option<String>)]
    pub role: Option<VendorRole>,
    #[schema(value_type = Option<String>)]
    pub partner_scope: Option<PartnerScopeSetting>,
}

/// Invite a staff member: the membership takes effect when they accept. The answer carries the
/// one-time `invitation_url` (also emailed) and is the same whether or not the address has an account.
#[utoipa::path(post, path = "/api/v1/members", tag = "members", request_body = AddMemberRequest,
    responses((status = 201, body = InvitationView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_member(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<AddMemberRequest>,
) -> ApiResult<(StatusCode, Json<InvitationView>)> {
    let issued = members::add(&state.ctx, &scope, &body.email, body.name.as_deref(), body.role, body.partner_scope).await?;
    let mut view = InvitationView::from(issued.invitation.clone());
    view.invitation_url = Some(issued.url(&state.ctx));
    Ok((StatusCode::CREATED, Json(view)))
}

/// List the workspace's staff.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", responses((status = 200, body = Page<MemberView>), (status = 403, body = Problem)))]
pub async fn list_members(State(state): State<AppState>, Caller(scope): Caller) -> ApiResult<Json<Page<MemberView>>> {
    let list = members::list(&state.ctx, &scope).await?;
    Ok(Json(Page { data: list.into_iter().map(MemberView::from).collect(), next_cursor: None }))
}

/// One staff member.
#[utoipa::path(get, path = "/api/v1/members/{user_id}", tag = "members", params(("user_id" = String, Path)),
    responses((status = 200, body = MemberView), (status = 404, body = Problem)))]
pub async fn find_member(State(state): State<AppState>, Caller(scope): Caller, Path(user_id): Path<String>) -> ApiResult<Json<MemberView>> {
    Ok(Json(members::get(&state.ctx, &scope, &path_id(&user_id)?).await?.into()))
}

/// Change a member's role or partner scope.
#[utoipa::path(patch, path = "/api/v1/members/{user_id}", tag = "members", params(("user_id" = String, Path)), request_body = UpdateMemberRequest,
    responses((status = 200, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn update_member(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<UpdateMemberRequest>,
) -> ApiResult<Json<MemberView>> {
    Ok(Json(members::update(&state.ctx, &scope, &path_id(&user_id)?, body.role, body.partner_scope).await?.into()))
}

/// Remove a member: their sessions and keys in this workspace end at once.
#[utoipa::path(delete, path = "/api/v1/members/{user_id}", tag = "members", params(("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove_member(State(state): State<AppState>, Caller(scope): Caller, Path(user_id): Path<String>) -> ApiResult<StatusCode> {
    members::remove(&state.ctx, &scope, &path_id(&user_id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A staff member's sign-in history, newest first (owner/admin).
#[utoipa::path(get, path = "/api/v1/members/{user_id}/sign-ins", tag = "members", params(("user_id" = String, Path)),
    responses((status = 200, body = Page<SignInView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_member_sign_ins(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Page<SignInView>>> {
    let history = members::sign_in_history(&state.ctx, &scope, &path_id(&user_id)?).await?;
    Ok(Json(Page { data: history.into_iter().map(SignInView::from).collect(), next_cursor: None }))
}

/// End every session in which a staff member can act in this workspace (owner/admin); their API
/// keys stay. Audited.
#[utoipa::path(delete, path = "/api/v1/members/{user_id}/sessions", tag = "members", params(("user_id" = String, Path)),
    responses((status = 200, body = SessionsEnded), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn end_member_sessions(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(user_id): Path<String>,
) -> ApiResult<Json<SessionsEnded>> {
    let ended = members::end_sessions(&state.ctx, &scope, &path_id(&user_id)?).await?;
    Ok(Json(SessionsEnded { sessions_ended: ended }))
}
