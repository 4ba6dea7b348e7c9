//! `/portal/contracts`: the organisation's contracts with the vendor and their documents.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use trellis_api::AppState;
use trellis_records::{contracts, dates};

use super::own_partner;
use crate::console::partner_lifecycle::ContractRow;
use crate::pages::{Layout, PageResult, render};
use crate::session::Signed;

const SECTION: &str = "/portal/contracts";

#[derive(Template)]
#[template(path = "portal/contracts.html")]
struct ContractsPage {
    layout: Layout,
    contracts: Vec<ContractRow>,
}

/// `GET /portal/contracts`
async fn show_contracts(State(state): State<AppState>, signed: Signed) -> PageResult {
    let (own, _) = own_partner(&signed.scope)?;
    let today = dates::today(state.ctx.now());
    let contracts = contracts::list(&state.ctx, &signed.scope, &own).await?.into_iter().map(|c| ContractRow::new(c, today)).collect();
    Ok(render(&ContractsPage { layout: Layout::signed(&state, &signed, "Contracts", SECTION).await, contracts }))
}

pub fn routes() -> Router<AppState> {
    Router::new().route(SECTION, get(show_contracts))
}
