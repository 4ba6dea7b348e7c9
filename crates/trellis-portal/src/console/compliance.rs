//! `/console/compliance`: the expiry dashboard — licences and contracts due within 30, 60 or 90
//! days, lapsed licences, and the partners that are not compliant because of them.

use askama::Template;
use axum::extract::State;
use trellis_records::compliance::{self, NonCompliant};
use trellis_records::dates;
use trellis_web::AppState;

use super::partner_lifecycle::{ContractRow, LicenceRow};
use crate::display;
use crate::forms::UrlQuery;
use crate::guards::StaffPage;
use crate::pages::{Layout, PageResult, render};
use crate::routes::{PageRouter, get};

const SECTION: &str = "/console/compliance";
/// The look-aheads offered.
const WINDOWS: [i64; 3] = [30, 60, 90];

/// A licence or contract row with its partner.
struct DueRow<T> {
    partner_id: String,
    partner_name: String,
    when: String,
    row: T,
}

#[derive(Template)]
#[template(path = "console/compliance.html")]
struct CompliancePage {
    layout: Layout,
    within: i64,
    windows: [i64; 3],
    expiring: Vec<DueRow<LicenceRow>>,
    lapsed: Vec<DueRow<LicenceRow>>,
    renewing: Vec<DueRow<ContractRow>>,
    non_compliant: Vec<NonCompliant>,
}

/// `GET /console/compliance?within=30|60|90`
async fn dashboard(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let within = query.optional("within").and_then(|w| w.parse().ok()).filter(|w| WINDOWS.contains(w)).unwrap_or(30);
    let board = compliance::dashboard(&state.ctx, &signed.scope, within).await?;
    let today = dates::today(state.ctx.now());
    let licence_row = |due: compliance::Due<trellis_records::licences::Licence>| DueRow {
        partner_id: due.item.partner_id.to_string(),
        partner_name: due.partner_name,
        when: display::days_from_today(due.days),
        row: LicenceRow::new(due.item, today),
    };
    let page = CompliancePage {
        layout: Layout::signed(&state, &signed, "Compliance", SECTION).await,
        within,
        windows: WINDOWS,
        expiring: board.expiring_licences.into_iter().map(licence_row).collect(),
        lapsed: board.lapsed_licences.into_iter().map(licence_row).collect(),
        renewing: board
            .renewing_contracts
            .into_iter()
            .map(|due| DueRow {
                partner_id: due.item.partner_id.to_string(),
                partner_name: due.partner_name,
                when: display::days_from_today(due.days),
                row: ContractRow::new(due.item, today),
            })
            .collect(),
        non_compliant: board.non_compliant,
    };
    Ok(render(&page))
}

pub fn routes() -> PageRouter {
    PageRouter::new().route(SECTION, get(dashboard))
}
