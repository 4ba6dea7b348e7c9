//! Referral links (API.md "Referral tracking"): create, list, read, disable and enable a
//! partner's tracked links, their figures and their QR codes. The views live here with their
//! handlers: nothing else answers them.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use trellis_core::LinkId;
use trellis_tracking::links::{self, Link, LinkFilter, LinkStats, NewLink};
use trellis_web::AppState;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiQuery, Caller, Cursor, PageLimit, path_id};
use crate::views::Page;

/// A new referral link. Staff name the partner; a partner's own people may leave it out.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReferralLinkRequest {
    /// An http(s) URL on one of the workspace's `allowed_redirect_domains` (or a subdomain).
    #[schema(example = "https://www.example.com/pricing")]
    pub destination_url: String,
    #[schema(example = "ptn_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub partner_id: Option<String>,
    /// The program its conversions earn in (default: the partner's only program with a plan).
    pub program_id: Option<String>,
    /// A vanity code: 3–40 letters, digits or hyphens; a random code when absent.
    #[schema(example = "northwind-spring")]
    pub code: Option<String>,
    /// A name for the partner's own use.
    pub name: Option<String>,
    /// UTM parameters added to the destination (`utm_source`, `utm_medium`, `utm_campaign`,
    /// `utm_term`, `utm_content`); the destination's own parameters win.
    pub utm: Option<BTreeMap<String, String>>,
}

/// A referral link.
#[derive(Serialize, ToSchema)]
pub struct ReferralLinkView {
    #[schema(example = "lnk_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub code: String,
    /// The address to share: `{public_url}/r/{code}`.
    pub url: String,
    pub destination_url: String,
    pub partner_id: String,
    pub program_id: Option<String>,
    pub name: String,
    pub utm: BTreeMap<String, String>,
    /// Counted clicks (bots and repeats within the hour left out); written in batches, so a click
    /// of the last instants may not be in it yet.
    pub clicks: i64,
    pub disabled: bool,
    pub created_at: String,
}

fn view(link: Link, public_url: &str) -> ReferralLinkView {
    ReferralLinkView {
        url: link.url(public_url),
        id: link.id.to_string(),
        code: link.code,
        destination_url: link.destination_url,
        partner_id: link.partner_id.to_string(),
        program_id: link.program_id.map(|p| p.to_string()),
        name: link.name,
        utm: link.utm.into_iter().collect(),
        clicks: link.clicks,
        disabled: link.disabled_at.is_some(),
        created_at: link.created_at.to_rfc3339(),
    }
}

/// Create a referral link: a partner's own people for their organisation, staff owners, admins
/// and channel managers for a partner they see. 422 names a destination outside the allowed
/// domains; 409 a vanity code already taken.
#[utoipa::path(post, path = "/api/v1/referral-links", tag = "referral tracking", request_body = CreateReferralLinkRequest,
    responses((status = 201, body = ReferralLinkView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_link(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<CreateReferralLinkRequest>,
) -> ApiResult<(StatusCode, Json<ReferralLinkView>)> {
    let input = NewLink {
        destination_url: body.destination_url,
        partner_id: body.partner_id,
        program_id: body.program_id,
        code: body.code,
        name: body.name,
        utm: body.utm.unwrap_or_default().into_iter().collect(),
    };
    let link = links::create(&state.ctx, &scope, &input).await?;
    Ok((StatusCode::CREATED, Json(view(link, &state.web.public_url))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReferralLinkListParams {
    #[param(value_type = Option<String>)]
    pub partner_id: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<LinkId>>,
}

/// Referral links, newest first: a partner's people their organisation's own (never a
/// reseller's), staff those of the partners they see.
#[utoipa::path(get, path = "/api/v1/referral-links", tag = "referral tracking", params(ReferralLinkListParams),
    responses((status = 200, body = Page<ReferralLinkView>), (status = 422, body = Problem)))]
pub async fn list_links(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<ReferralLinkListParams>,
) -> ApiResult<Json<Page<ReferralLinkView>>> {
    let filter = LinkFilter {
        // A filter by a partner id that is not one lists nothing (as the commissions' list).
        partner_id: params.partner_id.as_deref().map(crate::handlers::commissions::foreign_or_id),
        cursor: Cursor::into_inner(params.cursor).map(|c| c.to_string()),
        limit: Some(PageLimit::of(params.limit)),
    };
    let public_url = state.web.public_url.clone();
    Ok(Json(Page::of(links::list(&state.ctx, &scope, &filter).await?, |l| view(l, &public_url))))
}

/// One referral link (404 for another organisation's).
#[utoipa::path(get, path = "/api/v1/referral-links/{id}", tag = "referral tracking", params(("id" = String, Path)),
    responses((status = 200, body = ReferralLinkView), (status = 404, body = Problem)))]
pub async fn get_link(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<ReferralLinkView>> {
    let id: LinkId = path_id(&id)?;
    Ok(Json(view(links::get(&state.ctx, &scope, &id).await?, &state.web.public_url)))
}

/// Disable a link: its code answers 404 from then on (on every server within a second); its
/// earlier clicks still attribute. Safe to repeat.
#[utoipa::path(post, path = "/api/v1/referral-links/{id}/disable", tag = "referral tracking", params(("id" = String, Path)),
    responses((status = 200, body = ReferralLinkView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn disable_link(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ReferralLinkView>> {
    let id: LinkId = path_id(&id)?;
    Ok(Json(view(links::set_disabled(&state.ctx, &scope, &id, true).await?, &state.web.public_url)))
}

/// Enable a disabled link again. Safe to repeat.
#[utoipa::path(post, path = "/api/v1/referral-links/{id}/enable", tag = "referral tracking", params(("id" = String, Path)),
    responses((status = 200, body = ReferralLinkView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn enable_link(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ReferralLinkView>> {
    let id: LinkId = path_id(&id)?;
    Ok(Json(view(links::set_disabled(&state.ctx, &scope, &id, false).await?, &state.web.public_url)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkStatsParams {
    /// Days of chart, ending today (UTC); default 30, at most 366.
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct LinkEarnings {
    pub currency: String,
    pub amount_minor: i64,
}

#[derive(Serialize, ToSchema)]
pub struct LinkDay {
    /// YYYY-MM-DD (UTC).
    pub date: String,
    pub clicks: i64,
    pub leads: i64,
    pub sales: i64,
}

/// A link's figures and its chart.
#[derive(Serialize, ToSchema)]
pub struct LinkStatsView {
    pub clicks: i64,
    pub leads: i64,
    pub sales: i64,
    /// What the link's conversions earned its partner, per currency; null for a partner's people
    /// who do not read money (only its admins and finance people do).
    pub earnings: Option<Vec<LinkEarnings>>,
    pub days: Vec<LinkDay>,
}

fn date_of(day: i64) -> String {
    trellis_core::Timestamp::from_micros(day * 86_400_000_000).to_rfc3339().chars().take(10).collect()
}

fn stats_view(stats: LinkStats) -> LinkStatsView {
    LinkStatsView {
        clicks: stats.clicks,
        leads: stats.leads,
        sales: stats.sales,
        earnings: stats.earnings.map(|e| e.into_iter().map(|(currency, amount_minor)| LinkEarnings { currency, amount_minor }).collect()),
        days: stats.days.into_iter().map(|d| LinkDay { date: date_of(d.day), clicks: d.clicks, leads: d.leads, sales: d.sales }).collect(),
    }
}

/// A link's clicks, leads, sales and earnings, with one row per day for a chart.
#[utoipa::path(get, path = "/api/v1/referral-links/{id}/stats", tag = "referral tracking", params(("id" = String, Path), LinkStatsParams),
    responses((status = 200, body = LinkStatsView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn link_stats(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<LinkStatsParams>,
) -> ApiResult<Json<LinkStatsView>> {
    let id: LinkId = path_id(&id)?;
    let days = params.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::field("days", "must be 1 to 366"));
    }
    Ok(Json(stats_view(links::stats(&state.ctx, &scope, &id, days).await?)))
}

/// The link's address as a QR code (SVG).
#[utoipa::path(get, path = "/api/v1/referral-links/{id}/qr.svg", tag = "referral tracking", params(("id" = String, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = Problem)))]
pub async fn link_qr(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let id: LinkId = path_id(&id)?;
    let link = links::get(&state.ctx, &scope, &id).await?;
    let svg = links::qr_svg(&link.url(&state.web.public_url))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "private, max-age=300")], svg).into_response())
}

/// A program's referral tracking settings.
#[derive(Serialize, ToSchema)]
pub struct TrackingSettingsView {
    pub program_id: String,
    /// How long a click attributes a conversion (and the cookie lives), in days.
    pub attribution_window_days: i64,
    /// A returning customer's conversion goes to the last click's partner (else the first's).
    pub last_touch: bool,
    pub fraud: FraudRulesView,
}

/// The fraud rules: a conversion that trips one has its commissions held for review.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FraudRulesView {
    /// A conversion sooner than this after its click is flagged (`fast_conversion`).
    #[schema(minimum = 0, maximum = 86400)]
    pub min_seconds_after_click: Option<i64>,
    /// A link with more clicks than this in the hour before the click is flagged (`click_flood`).
    #[schema(minimum = 1, maximum = 1000000)]
    pub max_clicks_per_hour: Option<i64>,
    /// Flag a customer who is the partner itself (`self_referral`).
    pub self_referral: Option<bool>,
    /// Flag a customer email at a disposable-mail domain (`disposable_email`).
    pub disposable_email: Option<bool>,
}

/// A change of a program's tracking settings; absent fields keep their value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTrackingSettingsRequest {
    #[schema(minimum = 1, maximum = 3650)]
    pub attribution_window_days: Option<i64>,
    pub last_touch: Option<bool>,
    pub fraud: Option<FraudRulesView>,
}

fn settings_view(program_id: &trellis_core::ProgramId, s: trellis_tracking::settings::TrackingSettings) -> TrackingSettingsView {
    TrackingSettingsView {
        program_id: program_id.to_string(),
        attribution_window_days: s.attribution_window_days,
        last_touch: s.last_touch,
        fraud: FraudRulesView {
            min_seconds_after_click: Some(s.min_seconds_after_click),
            max_clicks_per_hour: Some(s.max_clicks_per_hour),
            self_referral: Some(s.flag_self_referral),
            disposable_email: Some(s.flag_disposable_email),
        },
    }
}

/// A program's referral tracking settings (every member of the workspace, as the program).
#[utoipa::path(get, path = "/api/v1/programs/{id}/tracking", tag = "referral tracking", params(("id" = String, Path)),
    responses((status = 200, body = TrackingSettingsView), (status = 404, body = Problem)))]
pub async fn find_tracking_settings(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TrackingSettingsView>> {
    let program_id: trellis_core::ProgramId = path_id(&id)?;
    Ok(Json(settings_view(&program_id, trellis_tracking::settings::get(&state.ctx, &scope, &program_id).await?)))
}

/// Change a program's referral tracking settings (owner, admin, channel manager): the window and
/// touch reach every server's redirects within a second; the fraud rules apply to conversions
/// recorded from now on.
#[utoipa::path(patch, path = "/api/v1/programs/{id}/tracking", tag = "referral tracking", params(("id" = String, Path)), request_body = UpdateTrackingSettingsRequest,
    responses((status = 200, body = TrackingSettingsView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_tracking_settings(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateTrackingSettingsRequest>,
) -> ApiResult<Json<TrackingSettingsView>> {
    let program_id: trellis_core::ProgramId = path_id(&id)?;
    let fraud = body.fraud.unwrap_or(FraudRulesView {
        min_seconds_after_click: None,
        max_clicks_per_hour: None,
        self_referral: None,
        disposable_email: None,
    });
    let change = trellis_tracking::settings::SettingsChange {
        attribution_window_days: body.attribution_window_days,
        last_touch: body.last_touch,
        min_seconds_after_click: fraud.min_seconds_after_click,
        max_clicks_per_hour: fraud.max_clicks_per_hour,
        flag_self_referral: fraud.self_referral,
        flag_disposable_email: fraud.disposable_email,
    };
    Ok(Json(settings_view(&program_id, trellis_tracking::settings::update(&state.ctx, &scope, &program_id, &change).await?)))
}
