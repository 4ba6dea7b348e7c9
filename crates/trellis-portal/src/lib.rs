//! Server-rendered pages: the sign-in page, the vendor console and the partner portal. Pages call
//! the same domain services as the API, with the scope of the signed-in browser session.
//! Plain HTML forms (every one carries a CSRF token), a little hand-written JS and CSS served
//! from the binary, no external assets.

mod account;
mod amounts;
mod apply;
mod assets;
mod brand;
mod charts;
mod company_sign_in;
mod confirm;
mod console;
mod deal_views;
mod display;
mod downloads;
mod enquiry;
mod forms;
mod guards;
mod keys;
mod lead_views;
mod listing;
mod locator;
mod money_views;
pub mod pages;
mod passkey_sign_in;
mod password_reset;
mod portal;
mod provisioning;
mod routes;
mod session;
mod single_sign_on;
mod statement_views;
mod tiers;
mod uploads;

use axum::Router;
use axum::http::Method;
use trellis_web::AppState;

pub use pages::not_found;
pub use session::SESSION_COOKIE;

/// Every page route. State-changing requests from another origin are refused before any
/// handler runs (`session::refuse_foreign_origins`).
pub fn router(state: AppState) -> Router<AppState> {
    all_routes().into_router().layer(axum::middleware::from_fn_with_state(state, session::refuse_foreign_origins))
}

/// The (method, path) of every page route, as the router is built from them (the authorization
/// matrix's page rows are checked against it).
pub fn page_routes() -> Vec<(Method, &'static str)> {
    all_routes().into_table()
}

fn all_routes() -> routes::PageRouter {
    pages::routes()
        .merge(account::routes())
        .merge(confirm::routes())
        .merge(company_sign_in::routes())
        .merge(passkey_sign_in::routes())
        .merge(password_reset::routes())
        .merge(apply::routes())
        .merge(enquiry::routes())
        .merge(console::routes())
        .merge(portal::routes())
        .merge(provisioning::routes())
        .merge(single_sign_on::routes())
        .merge(assets::routes())
        .merge(brand::routes())
        .merge(locator::routes())
        .merge(downloads::routes())
}
