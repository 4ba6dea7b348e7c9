//! Partners, their API keys and their users (API.md "Partners").

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use trellis_core::{PartnerId, PartnerRole, PartnerStatus, PartnerType, UserId};
use trellis_directory::{NewPartner, PartnerFilter, PartnerPatch, partners};
use trellis_identity::{api_keys, invitations, partner_users};
use trellis_web::AppState;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiQuery, Caller, Cursor, PageLimit, double_option, path_id};
use crate::views::{ApiKeyView, InvitationView, Page, PartnerUserView, PartnerView, SessionsEnded, SignInView};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePartnerRequest {
    pub name: String,
    pub contact_email: String,
    pub website: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. DE.
    pub country: Option<String>,
    /// One or more of reseller, distributor, msp, agency, referral, affiliate, technology.
    #[schema(value_type = Vec<String>)]
    pub types: Vec<PartnerType>,
    /// The distributor this partner sells under.
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<PartnerId>,
    /// The channel manager responsible for the partner.
    #[schema(value_type = Option<String>)]
    pub manager_user_id: Option<UserId>,
    /// Enrolls the new partner in this program, in the same transaction.
    pub program_id: Option<String>,
    /// The starting tier in `program_id` (vendor staff only); by default the program's lowest tier.
    pub tier_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePartnerRequest {
    pub name: Option<String>,
    pub contact_email: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub website: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub country: Option<Option<String>>,
    #[schema(value_type = Option<Vec<String>>)]
    pub types: Option<Vec<PartnerType>>,
    /// active, suspended or terminated (suspending or terminating ends the partner's sessions and keys).
    #[schema(value_type = Option<String>)]
    pub status: Option<PartnerStatus>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Option<PartnerId>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub manager_user_id: Option<Option<UserId>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PartnerListParams {
    /// Case-insensitive search in name and contact email.
    pub q: Option<String>,
    /// A partner type.
    #[serde(rename = "type")]
    #[param(value_type = Option<String>)]
    pub partner_type: Option<PartnerType>,
    #[param(value_type = Option<String>)]
    pub status: Option<PartnerStatus>,
    #[param(value_type = Option<String>)]
    pub parent_id: Option<String>,
    #[param(value_type = Option<String>)]
    pub manager_user_id: Option<String>,
    /// Page size, 1 to 500 (default 50); anything else is 422.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    /// The `next_cursor` of the previous page; anything else is 422.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<PartnerId>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePartnerKeyRequest {
    pub name: String,
    pub scopes: Option<Vec<String>>,
    /// The partner role the key acts with: admin when created by staff, at most the creator's own role otherwise.
    #[schema(value_type = Option<String>)]
    pub role: Option<PartnerRole>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitePartnerUserRequest {
    pub email: String,
    pub name: Option<String>,
    /// admin, sales, marketing, finance or member.
    #[schema(value_type = String)]
    pub role: PartnerRole,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePartnerUserRequest {
    #[schema(value_type = String)]
    pub role: PartnerRole,
}

/// Create a partner (vendor staff; or a distributor's admin creating a reseller under itself when allowed).
#[utoipa::path(post, path = "/api/v1/partners", tag = "partners", request_body = CreatePartnerRequest,
    responses((status = 201, body = PartnerView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_partner(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<CreatePartnerRequest>,
) -> ApiResult<(StatusCode, Json<PartnerView>)> {
    let input = NewPartner {
        name: body.name,
        contact_email: body.contact_email,
        website: body.website,
        country: body.country,
        types: body.types,
        parent_id: body.parent_id,
        manager_user_id: body.manager_user_id,
    };
    let enrollment = match (body.program_id.as_deref(), body.tier_id.as_deref()) {
        (Some(program_id), tier_id) => Some(super::tiers::enrollment_input(program_id, tier_id)?),
        (None, Some(_)) => return Err(ApiError::field("program_id", "is required with tier_id")),
        (None, None) => None,
    };
    let partner = trellis_programs::enrollments::create_enrolled(&state.ctx, &scope, input, enrollment).await?;
    Ok((StatusCode::CREATED, Json(partner.into())))
}

/// List the partners you can see, newest first.
#[utoipa::path(get, path = "/api/v1/partners", tag = "partners", params(PartnerListParams), responses((status = 200, body = Page<PartnerView>)))]
pub async fn list_partners(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<PartnerListParams>,
) -> ApiResult<Json<Page<PartnerView>>> {
    let limit = PageLimit::of(params.limit);
    // A filter naming an id the caller cannot parse or see simply matches nothing.
    let unmatched = |text: &Option<String>| text.is_some();
    let parent_id = params.parent_id.as_deref().and_then(|p| PartnerId::parse(p).ok());
    let manager_user_id = params.manager_user_id.as_deref().and_then(|m| UserId::parse(m).ok());
    if (unmatched(&params.parent_id) && parent_id.is_none()) || (unmatched(&params.manager_user_id) && manager_user_id.is_none()) {
        return Ok(Json(Page { data: Vec::new(), next_cursor: None }));
    }
    let filter = PartnerFilter {
        q: params.q,
        partner_type: params.partner_type,
        status: params.status,
        parent_id,
        manager_user_id,
        before: Cursor::into_inner(params.cursor),
        limit: Some(limit),
        ..PartnerFilter::default()
    };
    Ok(Json(Page::of(partners::list(&state.ctx, &scope, &filter).await?, PartnerView::from)))
}

/// One partner.
#[utoipa::path(get, path = "/api/v1/partners/{id}", tag = "partners", params(("id" = String, Path)),
    responses((status = 200, body = PartnerView), (status = 404, body = Problem)))]
pub async fn find_partner(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<PartnerView>> {
    Ok(Json(partners::get(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// Change a partner.
#[utoipa::path(patch, path = "/api/v1/partners/{id}", tag = "partners", params(("id" = String, Path)), request_body = UpdatePartnerRequest,
    responses((status = 200, body = PartnerView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_partner(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdatePartnerRequest>,
) -> ApiResult<Json<PartnerView>> {
    let patch = PartnerPatch {
        name: body.name,
        contact_email: body.contact_email,
        website: body.website,
        country: body.country,
        types: body.types,
        status: body.status,
        parent_id: body.parent_id,
        manager_user_id: body.manager_user_id,
    };
    Ok(Json(partners::update(&state.ctx, &scope, &path_id(&id)?, patch).await?.into()))
}

/// Create a partner key (workspace owner/admin, or the partner's admins). The secret is shown once.
#[utoipa::path(post, path = "/api/v1/partners/{id}/api-keys", tag = "partners", params(("id" = String, Path)), request_body = CreatePartnerKeyRequest,
    responses((status = 201, body = ApiKeyView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn create_partner_api_key(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreatePartnerKeyRequest>,
) -> ApiResult<(StatusCode, Json<ApiKeyView>)> {
    let created = api_keys::create_partner_key(&state.ctx, &scope, &path_id(&id)?, &body.name, body.scopes.as_deref(), body.role).await?;
    let mut view = ApiKeyView::from(created.key);
    view.key = Some(created.secret);
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScimTokenRequest {
    /// What the token is for, e.g. the identity provider's name (default "SCIM").
    #[schema(max_length = 100)]
    pub name: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ScimTokenView {
    /// The key's id: revoke it with `DELETE /api/v1/api-keys/{id}`.
    pub id: String,
    pub name: String,
    /// The secret, shown once: the identity provider's bearer token for `scim_url`.
    pub token: String,
    /// The SCIM 2.0 base URL the identity provider is configured with.
    pub scim_url: String,
    pub created_at: String,
}

/// Create a SCIM token for a partner organisation (workspace owner/admin, or the partner's own
/// admins): its identity provider provisions the organisation's people at `/scim/v2/Users`. The
/// secret is shown once. The body is optional.
#[utoipa::path(post, path = "/api/v1/partners/{id}/scim-tokens", tag = "partners", params(("id" = String, Path)), request_body = Option<CreateScimTokenRequest>,
    responses((status = 201, body = ScimTokenView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn create_scim_token(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    body: Option<ApiJson<CreateScimTokenRequest>>,
) -> ApiResult<(StatusCode, Json<ScimTokenView>)> {
    let name = body.and_then(|ApiJson(b)| b.name).unwrap_or_else(|| "SCIM".to_owned());
    let created = api_keys::create_scim_token(&state.ctx, &scope, &path_id(&id)?, &name).await?;
    Ok((
        StatusCode::CREATED,
        Json(ScimTokenView {
            id: created.key.id.to_string(),
            name: created.key.name,
            token: created.secret,
            scim_url: format!("{}/scim/v2", state.web.public_url.trim_end_matches('/')),
            created_at: created.key.created_at.to_rfc3339(),
        }),
    ))
}

/// Invite a person to a partner organisation: the membership takes effect when they accept. The
/// answer carries the one-time `invitation_url` (also emailed) and is the same whether or not the
/// address has an account.
#[utoipa::path(post, path = "/api/v1/partners/{id}/users", tag = "partners", params(("id" = String, Path)), request_body = InvitePartnerUserRequest,
    responses((status = 201, body = InvitationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn invite_partner_user(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InvitePartnerUserRequest>,
) -> ApiResult<(StatusCode, Json<InvitationView>)> {
    let partner_id: PartnerId = path_id(&id)?;
    let issued = partners::invite_user(&state.ctx, &scope, &partner_id, &body.email, body.name.as_deref(), body.role).await?;
    let mut view = InvitationView::from(issued.invitation.clone());
    view.invitation_url = Some(issued.url(&state.ctx));
    Ok((StatusCode::CREATED, Json(view)))
}

/// Pending invitations to a partner organisation (its admins, and staff who manage partners).
#[utoipa::path(get, path = "/api/v1/partners/{id}/invitations", tag = "partners", params(("id" = String, Path)),
    responses((status = 200, body = Page<InvitationView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_partner_invitations(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<InvitationView>>> {
    let list = invitations::list_for_partner(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(Page { data: list.into_iter().map(InvitationView::from).collect(), next_cursor: None }))
}

/// The users of a partner organisation.
#[utoipa::path(get, path = "/api/v1/partners/{id}/users", tag = "partners", params(("id" = String, Path)),
    responses((status = 200, body = Page<PartnerUserView>), (status = 404, body = Problem)))]
pub async fn list_partner_users(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<PartnerUserView>>> {
    let users = partner_users::list(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(Page { data: users.into_iter().map(PartnerUserView::from).collect(), next_cursor: None }))
}

/// Change a partner user's role.
#[utoipa::path(patch, path = "/api/v1/partners/{id}/users/{user_id}", tag = "partners", params(("id" = String, Path), ("user_id" = String, Path)), request_body = UpdatePartnerUserRequest,
    responses((status = 200, body = PartnerUserView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn update_partner_user(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdatePartnerUserRequest>,
) -> ApiResult<Json<PartnerUserView>> {
    let partner_id: PartnerId = path_id(&id)?;
    let user_id: UserId = path_id(&user_id)?;
    partner_users::update_role(&state.ctx, &scope, &partner_id, &user_id, body.role).await?;
    let users = partner_users::list(&state.ctx, &scope, &partner_id).await?;
    let user = users.into_iter().find(|u| u.user_id == user_id).ok_or_else(ApiError::not_found)?;
    Ok(Json(user.into()))
}

/// Remove a person from a partner organisation; their sessions for it end at once.
#[utoipa::path(delete, path = "/api/v1/partners/{id}/users/{user_id}", tag = "partners", params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove_partner_user(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    partner_users::remove(&state.ctx, &scope, &path_id(&id)?, &path_id(&user_id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A partner user's sign-in history, newest first: for the admins of the person's partner and
/// the vendor's owners and admins.
#[utoipa::path(get, path = "/api/v1/partner-users/{user_id}/sign-ins", tag = "partners", params(("user_id" = String, Path)),
    responses((status = 200, body = Page<SignInView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_partner_user_sign_ins(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Page<SignInView>>> {
    let user_id: UserId = path_id(&user_id)?;
    let history = partner_users::sign_in_history(&state.ctx, &scope, &user_id).await?;
    Ok(Json(Page { data: history.into_iter().map(SignInView::from).collect(), next_cursor: None }))
}

/// End every session in which a partner user can act in this workspace: for those who manage the
/// partner's users (its admins; owner, admin, channel manager). Audited.
#[utoipa::path(delete, path = "/api/v1/partner-users/{user_id}/sessions", tag = "partners", params(("user_id" = String, Path)),
    responses((status = 200, body = SessionsEnded), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn end_partner_user_sessions(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(user_id): Path<String>,
) -> ApiResult<Json<SessionsEnded>> {
    let user_id: UserId = path_id(&user_id)?;
    let ended = partner_users::end_sessions(&state.ctx, &scope, &user_id).await?;
    Ok(Json(SessionsEnded { sessions_ended: ended }))
}
