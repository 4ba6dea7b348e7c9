//! Partner profiles, profile change requests and partner compliance.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use trellis_core::{ChangeRequestId, FileId, PartnerId};
use trellis_records::compliance;
use trellis_records::profile_changes::{self, ChangeFilter, ChangeStatus};
use trellis_records::profiles::{self, Address, ProfilePatch, Territories};
use trellis_web::AppState;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiQuery, Caller, Cursor, PageLimit, double_option, path_id};
use crate::views::{ChangeRequestView, ComplianceView, Page, ProfileView};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    /// What the address is, e.g. "Head office".
    pub label: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. DE.
    pub country: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TerritoriesInput {
    /// ISO 3166-1 alpha-2 codes.
    #[serde(default)]
    pub countries: Vec<String>,
    /// Named regions, e.g. "DACH".
    #[serde(default)]
    pub regions: Vec<String>,
}

impl From<TerritoriesInput> for Territories {
    fn from(t: TerritoriesInput) -> Self {
        Self { countries: t.countries, regions: t.regions }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfileRequest {
    /// A partner's change goes to the vendor for approval.
    pub legal_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub website: Option<Option<String>>,
    /// A file uploaded for the partner with purpose `logo`; null removes the logo.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub logo_file_id: Option<Option<FileId>>,
    /// Replaces the addresses.
    pub addresses: Option<Vec<AddressInput>>,
    /// Replaces the territories; a partner's change goes to the vendor for approval.
    pub territories: Option<TerritoriesInput>,
    pub specialisations: Option<Vec<String>>,
    pub products: Option<Vec<String>>,
    /// Public: shown in the partner locator.
    pub description: Option<String>,
    /// List the partner in the public locator (while active).
    pub locator_opt_in: Option<bool>,
}

async fn profile_view(state: &AppState, scope: &trellis_identity::Scope, partner_id: &PartnerId) -> ApiResult<ProfileView> {
    let profile = profiles::get(&state.ctx, scope, partner_id).await?;
    let pending = profile_changes::list(
        &state.ctx,
        scope,
        &ChangeFilter { status: Some(ChangeStatus::Pending), partner_id: Some(partner_id.clone()), ..ChangeFilter::default() },
    )
    .await?;
    Ok(ProfileView::new(profile, pending.items))
}

/// A partner's profile, with its change requests waiting for the vendor.
#[utoipa::path(get, path = "/api/v1/partners/{id}/profile", tag = "profiles", params(("id" = String, Path)),
    responses((status = 200, body = ProfileView), (status = 404, body = Problem)))]
pub async fn find_partner_profile(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ProfileView>> {
    Ok(Json(profile_view(&state, &scope, &path_id(&id)?).await?))
}

/// Change a partner's profile (the vendor's partner managers; the partner's admins and marketing;
/// a distributor's admins for their resellers when the workspace allows it). A partner's change
/// of the legal name or territories becomes a pending change request; the rest applies at once.
#[utoipa::path(patch, path = "/api/v1/partners/{id}/profile", tag = "profiles", params(("id" = String, Path)), request_body = UpdateProfileRequest,
    responses((status = 200, body = ProfileView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_partner_profile(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateProfileRequest>,
) -> ApiResult<Json<ProfileView>> {
    let partner_id: PartnerId = path_id(&id)?;
    let patch = ProfilePatch {
        legal_name: body.legal_name,
        website: body.website,
        logo_file_id: body.logo_file_id,
        addresses: body.addresses.map(|list| {
            list.into_iter()
                .map(|a| Address {
                    label: a.label,
                    line1: a.line1,
                    line2: a.line2,
                    city: a.city,
                    postal_code: a.postal_code,
                    region: a.region,
                    country: a.country,
                })
                .collect()
        }),
        territories: body.territories.map(Into::into),
        specialisations: body.specialisations,
        products: body.products,
        description: body.description,
        locator_opt_in: body.locator_opt_in,
    };
    profiles::update(&state.ctx, &scope, &partner_id, patch).await?;
    Ok(Json(profile_view(&state, &scope, &partner_id).await?))
}

/// Whether a partner is compliant, and if not why (a licence expired without a valid successor).
#[utoipa::path(get, path = "/api/v1/partners/{id}/compliance", tag = "compliance", params(("id" = String, Path)),
    responses((status = 200, body = ComplianceView), (status = 404, body = Problem)))]
pub async fn find_partner_compliance(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ComplianceView>> {
    Ok(Json(compliance::get(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequestListParams {
    /// pending, approved, rejected or superseded.
    pub status: Option<String>,
    pub partner_id: Option<String>,
    /// Page size, 1 to 500 (default 50); anything else is 422.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    /// The `next_cursor` of the previous page; anything else is 422.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<ChangeRequestId>>,
}

/// Profile change requests of the partners you can see, newest first.
#[utoipa::path(get, path = "/api/v1/profile-change-requests", tag = "profiles", params(ChangeRequestListParams),
    responses((status = 200, body = Page<ChangeRequestView>), (status = 422, body = Problem)))]
pub async fn list_profile_change_requests(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<ChangeRequestListParams>,
) -> ApiResult<Json<Page<ChangeRequestView>>> {
    let limit = PageLimit::of(params.limit);
    let status = match params.status.as_deref() {
        Some(text) => {
            Some(ChangeStatus::parse(text).ok_or_else(|| ApiError::field("status", "must be pending, approved, rejected or superseded"))?)
        }
        None => None,
    };
    let partner_id = match params.partner_id.as_deref() {
        Some(text) => match PartnerId::parse(text) {
            Ok(id) => Some(id),
            // A filter naming no partner the caller can see matches nothing.
            Err(_) => return Ok(Json(Page { data: Vec::new(), next_cursor: None })),
        },
        None => None,
    };
    let filter = ChangeFilter { status, partner_id, before: Cursor::into_inner(params.cursor), limit: Some(limit) };
    Ok(Json(Page::of(profile_changes::list(&state.ctx, &scope, &filter).await?, ChangeRequestView::from)))
}

/// One profile change request.
#[utoipa::path(get, path = "/api/v1/profile-change-requests/{id}", tag = "profiles", params(("id" = String, Path)),
    responses((status = 200, body = ChangeRequestView), (status = 404, body = Problem)))]
pub async fn find_profile_change_request(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ChangeRequestView>> {
    Ok(Json(profile_changes::get(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

/// Approve a pending change request: the change applies (owner/admin/channel_manager).
#[utoipa::path(post, path = "/api/v1/profile-change-requests/{id}/approve", tag = "profiles", params(("id" = String, Path)),
    responses((status = 200, body = ChangeRequestView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn approve_profile_change_request(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ChangeRequestView>> {
    Ok(Json(profile_changes::approve(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectChangeRequest {
    /// Shown to the partner.
    pub reason: String,
}

/// Reject a pending change request with a reason the partner sees (owner/admin/channel_manager).
#[utoipa::path(post, path = "/api/v1/profile-change-requests/{id}/reject", tag = "profiles", params(("id" = String, Path)), request_body = RejectChangeRequest,
    responses((status = 200, body = ChangeRequestView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn reject_profile_change_request(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RejectChangeRequest>,
) -> ApiResult<Json<ChangeRequestView>> {
    Ok(Json(profile_changes::reject(&state.ctx, &scope, &path_id(&id)?, &body.reason).await?.into()))
}
