//! `/portal/links`: the organisation's referral links (issue 11) for every partner role — the
//! list with each link's address and clicks, the form to create one (destination, an optional
//! vanity code, a campaign), and a link's page with its QR code, its figures (clicks, leads,
//! sales; earnings for the admins and finance people) and clicks per day as a chart. A
//! distributor's people never see a reseller's links (the 404 page, as the service answers).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use trellis_core::{LinkId, Timestamp};
use trellis_tracking::links::{self, Link, LinkFilter, NewLink};
use trellis_web::AppState;

use crate::charts::{Bar, BarChart, horizontal_bars};
use crate::display;
use crate::forms::{FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const SECTION: &str = "/portal/links";
const FIELDS: &[&str] = &["destination_url", "code", "name", "utm_source", "utm_medium", "utm_campaign"];
/// Days of the chart on a link's page.
const CHART_DAYS: i64 = 14;

/// A link as a row of the list and the head of its page.
pub(crate) struct LinkRow {
    pub id: String,
    pub name: String,
    pub url: String,
    pub destination: String,
    pub clicks: String,
    pub disabled: bool,
    pub created: String,
}

pub(crate) fn row(link: &Link, public_url: &str) -> LinkRow {
    LinkRow {
        id: link.id.to_string(),
        name: if link.name.is_empty() { link.code.clone() } else { link.name.clone() },
        url: link.url(public_url),
        destination: link.destination_url.clone(),
        clicks: display::thousands(link.clicks),
        disabled: link.disabled_at.is_some(),
        created: display::day(link.created_at),
    }
}

#[derive(Template)]
#[template(path = "portal/links.html")]
struct LinksPage {
    layout: Layout,
    csrf_token: String,
    rows: Vec<LinkRow>,
    next: Option<String>,
    form: FormView,
}

async fn links_page(
    state: &AppState,
    signed: &Signed,
    query: &crate::forms::FormData,
    form: Option<FormView>,
) -> Result<LinksPage, trellis_core::Error> {
    let filter = LinkFilter { cursor: query.optional("cursor").map(str::to_owned), limit: Some(50), ..LinkFilter::default() };
    let page = links::list(&state.ctx, &signed.scope, &filter).await?;
    Ok(LinksPage {
        layout: Layout::signed(state, signed, "Links", SECTION).await.with_notice(query),
        csrf_token: signed.session.csrf_token.clone(),
        rows: page.items.iter().map(|l| row(l, &state.web.public_url)).collect(),
        next: page.next_cursor.map(|c| format!("{SECTION}?cursor={c}")),
        form: form.unwrap_or_else(|| FormView::new("link", FIELDS)),
    })
}

/// `GET /portal/links`
async fn list(State(state): State<AppState>, PartnerPage { signed, .. }: PartnerPage, UrlQuery(query): UrlQuery) -> PageResult {
    Ok(render(&links_page(&state, &signed, &query, None).await?))
}

/// `POST /portal/links`: creates a link of the organisation.
async fn create(State(state): State<AppState>, PartnerForm { signed, form, .. }: PartnerForm) -> PageResult {
    let utm = ["utm_source", "utm_medium", "utm_campaign"]
        .iter()
        .filter_map(|p| form.optional(p).map(|v| ((*p).to_owned(), v.to_owned())))
        .collect();
    let input = NewLink {
        destination_url: form.value("destination_url").to_owned(),
        code: form.optional("code").map(str::to_owned),
        name: form.optional("name").map(str::to_owned),
        utm,
        ..NewLink::default()
    };
    match links::create(&state.ctx, &signed.scope, &input).await {
        Ok(link) => Ok(see_other(&format!("{SECTION}/{}?notice=link_created", link.id))),
        Err(err) => {
            let errors = field_errors(err, "code")?;
            let query = crate::forms::FormData::default();
            let page = links_page(&state, &signed, &query, Some(FormView::failed("link", FIELDS, form, errors))).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// One day of a link's chart, as the table under it reads.
pub struct DayRow {
    pub date: String,
    pub clicks: i64,
    pub leads: i64,
    pub sales: i64,
}

#[derive(Template)]
#[template(path = "portal/link.html")]
struct LinkPage {
    layout: Layout,
    /// Where the page lives: `/portal/links` or `/console/links`.
    section: &'static str,
    /// The owner's name, on the console's page (a partner's people know whose links they read).
    partner: Option<String>,
    /// Empty when the reader may not disable or enable the link (no buttons then).
    csrf_token: String,
    link: LinkRow,
    clicks: String,
    leads: String,
    sales: String,
    /// Earnings per currency as people read them; `None` for those who do not read money.
    earnings: Option<Vec<String>>,
    chart: BarChart,
    days: Vec<DayRow>,
}

/// A link's page, in the portal or the console (`section`): its address and QR code, its
/// figures and clicks per day; the Disable/Enable button for those who may (`can_change`).
pub(crate) async fn link_page(
    state: &AppState,
    signed: &Signed,
    section: &'static str,
    id: &str,
    can_change: bool,
    query: &crate::forms::FormData,
) -> PageResult {
    let id: LinkId = path_id(id)?;
    let link = links::get(&state.ctx, &signed.scope, &id).await?;
    let stats = links::stats(&state.ctx, &signed.scope, &id, CHART_DAYS).await?;
    let days: Vec<DayRow> = stats
        .days
        .iter()
        .rev()
        .map(|d| DayRow {
            date: display::day(Timestamp::from_micros(d.day * 86_400_000_000)),
            clicks: d.clicks,
            leads: d.leads,
            sales: d.sales,
        })
        .collect();
    let chart = horizontal_bars(
        format!("Clicks in the last {CHART_DAYS} days"),
        days.iter().map(|d| Bar { label: d.date.clone(), value: d.clicks, href: None }).collect(),
    );
    let page = LinkPage {
        layout: Layout::signed(state, signed, "Link", section).await.with_notice(query),
        section,
        partner: signed.scope.partner().is_none().then(|| link.partner_name.clone()),
        csrf_token: if can_change { signed.session.csrf_token.clone() } else { String::new() },
        link: row(&link, &state.web.public_url),
        clicks: display::thousands(stats.clicks),
        leads: display::thousands(stats.leads),
        sales: display::thousands(stats.sales),
        earnings: stats.earnings.map(|e| e.iter().map(|(currency, amount)| display::money(*amount, currency)).collect()),
        chart,
        days,
    };
    Ok(render(&page))
}

/// `GET /portal/links/{id}`
async fn show(
    State(state): State<AppState>,
    PartnerPage { signed, .. }: PartnerPage,
    Path(id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    link_page(&state, &signed, SECTION, &id, true, &query).await
}

/// A link's QR code for the page's `<img>` (portal and console).
pub(crate) async fn qr_image(state: &AppState, signed: &Signed, id: &str) -> PageResult {
    let id: LinkId = path_id(id)?;
    let link = links::get(&state.ctx, &signed.scope, &id).await?;
    let svg = links::qr_svg(&link.url(&state.web.public_url))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "private, max-age=300")], svg).into_response())
}

/// `GET /portal/links/{id}/qr.svg`: the link's address as a QR code.
async fn qr(State(state): State<AppState>, PartnerPage { signed, .. }: PartnerPage, Path(id): Path<String>) -> PageResult {
    qr_image(&state, &signed, &id).await
}

/// `POST …/links/{id}/disable` and `/enable` (portal and console): back to the link's page.
pub(crate) async fn set_disabled(state: &AppState, signed: &Signed, section: &str, id: &str, disabled: bool) -> PageResult {
    let id: LinkId = path_id(id)?;
    links::set_disabled(&state.ctx, &signed.scope, &id, disabled).await?;
    let notice = if disabled { "link_disabled" } else { "link_enabled" };
    Ok(see_other(&format!("{section}/{id}?notice={notice}")))
}

async fn disable(State(state): State<AppState>, Path(id): Path<String>, PartnerForm { signed, .. }: PartnerForm) -> PageResult {
    set_disabled(&state, &signed, SECTION, &id, true).await
}

async fn enable(State(state): State<AppState>, Path(id): Path<String>, PartnerForm { signed, .. }: PartnerForm) -> PageResult {
    set_disabled(&state, &signed, SECTION, &id, false).await
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(SECTION, get(list).post(create))
        .route("/portal/links/{id}", get(show))
        .route("/portal/links/{id}/qr.svg", get(qr))
        .route("/portal/links/{id}/disable", post(disable))
        .route("/portal/links/{id}/enable", post(enable))
}
