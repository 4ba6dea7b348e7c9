//! The public partner locator (no authentication).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use trellis_core::{PartnerId, PartnerType};
use trellis_records::locator::{self, LocatorFilter};
use trellis_web::AppState;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::IntoParams;

use crate::extract::{ApiQuery, Cursor, PageLimit};
use crate::views::{ListedPartnerView, Page};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PublicPartnerParams {
    /// The vendor's workspace (`wks_…`); optional on an instance with one workspace.
    pub workspace: Option<String>,
    /// ISO 3166-1 alpha-2 code of a country served.
    pub country: Option<String>,
    /// A named region served.
    pub region: Option<String>,
    /// A partner type.
    #[serde(rename = "type")]
    #[param(value_type = Option<String>)]
    pub partner_type: Option<PartnerType>,
    /// A tier name.
    pub tier: Option<String>,
    pub specialisation: Option<String>,
    /// Words in the name or description.
    pub q: Option<String>,
    /// Page size, 1 to 500 (default 50); anything else is 422.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    /// The `next_cursor` of the previous page; anything else is 422.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<PartnerId>>,
}

/// Find a partner: active partners who opted in to the locator, by name. No authentication.
#[utoipa::path(get, path = "/api/v1/public/partners", tag = "public", params(PublicPartnerParams), security(()),
    responses((status = 200, body = Page<ListedPartnerView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_public_partners(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PublicPartnerParams>,
) -> ApiResult<Json<Page<ListedPartnerView>>> {
    let workspace_id = locator::workspace_for(&state.ctx, params.workspace.as_deref()).await?;
    let limit = PageLimit::of(params.limit);
    let filter = LocatorFilter {
        country: params.country,
        region: params.region,
        partner_type: params.partner_type,
        tier: params.tier,
        specialisation: params.specialisation,
        q: params.q,
        after: Cursor::into_inner(params.cursor),
        limit: Some(limit),
    };
    let listed = locator::search(&state.ctx, &workspace_id, &filter).await?;
    let public_url = &state.web.public_url;
    Ok(Json(Page::of(listed, |p| ListedPartnerView::new(p, public_url))))
}
