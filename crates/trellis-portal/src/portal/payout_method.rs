//! `/portal/payout-method`: the organisation's payout method, for its admins and finance people
//! (other partner users get the 403 page): the account masked, the hold a change of account
//! starts, in words, and the form to add or replace it (issue 10, ADR 0018).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use trellis_core::Error;
use trellis_incentives::payout_methods::{self, PayoutMethodInput, PayoutMethodType};
use trellis_web::AppState;

use super::own_partner;
use crate::display::{self, PayoutMethodSummary};
use crate::forms::{FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage};
use crate::pages::{Layout, PageResult, render, render_status, see_other};
use crate::routes::{PageRouter, get};
use crate::session::Signed;

const SECTION: &str = "/portal/payout-method";
const FIELDS: &[&str] = &["account_holder", "iban", "bic"];

#[derive(Template)]
#[template(path = "portal/payout_method.html")]
struct PayoutMethodPage {
    layout: Layout,
    csrf_token: String,
    method: Option<PayoutMethodSummary>,
    form: FormView,
}

async fn payout_method_page(state: &AppState, signed: &Signed, form: Option<FormView>) -> Result<PayoutMethodPage, Error> {
    let (own, _) = own_partner(&signed.scope)?;
    let mut tx = signed.scope.read(&state.ctx).await?;
    let seen = tx.see_partner(&own).await?;
    let method = payout_methods::get_in(&state.ctx, &mut tx, &signed.scope, &seen).await?;
    tx.commit().await?;
    Ok(PayoutMethodPage {
        layout: Layout::signed(state, signed, "Payout method", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        method: method.map(|m| display::payout_method(&m, state.ctx.now())),
        form: form.unwrap_or_else(|| FormView::new("payout", FIELDS)),
    })
}

/// `GET /portal/payout-method`
async fn show_payout_method(
    State(state): State<AppState>,
    PartnerPage { signed, .. }: PartnerPage,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let mut page = payout_method_page(&state, &signed, None).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /portal/payout-method`: adds or replaces the organisation's SEPA account.
async fn set_payout_method(State(state): State<AppState>, PartnerForm { signed, partner_id: own, form }: PartnerForm) -> PageResult {
    let input = PayoutMethodInput {
        method_type: PayoutMethodType::Sepa,
        account_holder: form.value("account_holder").to_owned(),
        iban: form.value("iban").to_owned(),
        bic: form.optional("bic").map(str::to_owned),
    };
    match payout_methods::set(&state.ctx, &signed.scope, &own, &input).await {
        Ok(_) => Ok(see_other(&format!("{SECTION}?notice=payout_method_saved"))),
        Err(err) => {
            let errors = field_errors(err, "iban")?;
            let page = payout_method_page(&state, &signed, Some(FormView::failed("payout", FIELDS, form, errors))).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new().route(SECTION, get(show_payout_method).post(set_payout_method))
}
