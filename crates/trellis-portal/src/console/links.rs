//! `/console/links`: every referral link of the partners the caller sees (issue 11), newest
//! first, filtered by partner (the bounded picker), with each link's owner, address, destination
//! and counted clicks; a link's page is the portal's (figures, clicks per day, QR code) with its
//! owner named, and the Disable/Enable button for the staff roles that may change links (owners,
//! admins, channel managers). Every staff role reads them.

use askama::Template;
use axum::extract::{Path, State};
use trellis_core::PartnerId;
use trellis_tracking::links::{self, LinkFilter, STAFF_WRITERS};
use trellis_web::AppState;

use super::deals::{PARTNER_SEARCH, picker_choices};
use crate::forms::{Choice, FormView, UrlQuery};
use crate::guards::{StaffForm, StaffPage};
use crate::listing::{ListState, ListView};
use crate::pages::{Layout, PageResult, render};
use crate::portal::links::{LinkRow, link_page, qr_image, row, set_disabled};
use crate::routes::{PageRouter, get, post};

const SECTION: &str = "/console/links";
const FILTER_FIELDS: &[&str] = &["partner"];

struct ConsoleLinkRow {
    link: LinkRow,
    partner: String,
}

#[derive(Template)]
#[template(path = "console/links.html")]
struct LinksPage {
    layout: Layout,
    filters: FormView,
    partners: Vec<Choice>,
    partner_q: String,
    partner_search: &'static str,
    rows: Vec<ConsoleLinkRow>,
    list: ListView,
    is_filtered: bool,
}

/// `GET /console/links?partner=&cursor=`
async fn list(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let scope = &signed.scope;
    let partner = query.optional("partner").and_then(|p| p.parse::<PartnerId>().ok());
    let values = vec![("partner", partner.as_ref().map(ToString::to_string).unwrap_or_default())];
    let list = ListState::read(SECTION, &query, values.clone(), &["newest"], "newest");
    let filter = LinkFilter { partner_id: partner, cursor: query.optional("cursor").map(str::to_owned), limit: None };
    let page = links::list(&state.ctx, scope, &filter).await?;
    let mut tx = scope.read(&state.ctx).await?;
    let partner_q = query.value("partner_q").trim();
    let partners = picker_choices(&mut tx, scope, partner_q, false, query.value("partner")).await?;
    drop(tx);
    let view = list.uncounted_view(page.items.len(), page.next_cursor.clone(), "links");
    let page_view = LinksPage {
        layout: Layout::signed(&state, &signed, "Referral links", SECTION).await,
        filters: FormView::filled("filter", FILTER_FIELDS, values),
        partners,
        partner_q: partner_q.to_owned(),
        partner_search: PARTNER_SEARCH,
        rows: page.items.iter().map(|l| ConsoleLinkRow { link: row(l, &state.web.public_url), partner: l.partner_name.clone() }).collect(),
        is_filtered: list.is_filtered(),
        list: view,
    };
    Ok(render(&page_view))
}

/// `GET /console/links/{id}`
async fn show(
    State(state): State<AppState>,
    StaffPage { signed, role }: StaffPage,
    Path(id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    link_page(&state, &signed, SECTION, &id, STAFF_WRITERS.contains(&role), &query).await
}

/// `GET /console/links/{id}/qr.svg`
async fn qr(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, Path(id): Path<String>) -> PageResult {
    qr_image(&state, &signed, &id).await
}

/// `POST /console/links/{id}/disable` and `/enable` (the service refuses the roles that may not).
async fn disable(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    set_disabled(&state, &signed, SECTION, &id, true).await
}

async fn enable(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    set_disabled(&state, &signed, SECTION, &id, false).await
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(SECTION, get(list))
        .route("/console/links/{id}", get(show))
        .route("/console/links/{id}/qr.svg", get(qr))
        .route("/console/links/{id}/disable", post(disable))
        .route("/console/links/{id}/enable", post(enable))
}
