//! `/portal/contracts`: the organisation's contracts with the vendor and their documents.

use askama::Template;
use axum::extract::State;
use trellis_records::{contracts, dates};
use trellis_web::AppState;

use crate::console::partner_lifecycle::ContractRow;
use crate::guards::PartnerPage;
use crate::pages::{Layout, PageResult, render};
use crate::routes::{PageRouter, get};

const SECTION: &str = "/portal/contracts";

#[derive(Template)]
#[template(path = "portal/contracts.html")]
struct ContractsPage {
    layout: Layout,
    contracts: Vec<ContractRow>,
}

/// `GET /portal/contracts`
async fn show_contracts(State(state): State<AppState>, PartnerPage { signed, partner_id: own, .. }: PartnerPage) -> PageResult {
    let today = dates::today(state.ctx.now());
    let contracts = contracts::list(&state.ctx, &signed.scope, &own).await?.into_iter().map(|c| ContractRow::new(c, today)).collect();
    Ok(render(&ContractsPage { layout: Layout::signed(&state, &signed, "Contracts", SECTION).await, contracts }))
}

pub fn routes() -> PageRouter {
    PageRouter::new().route(SECTION, get(show_contracts))
}
