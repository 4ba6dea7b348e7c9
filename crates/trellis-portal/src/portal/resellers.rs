//! `/portal/resellers`: a distributor's resellers, and for its admins a form to add one, when the
//! workspace lets distributors manage resellers (`distributors_manage_resellers`). Everyone else
//! gets the 404 page: for them the page does not exist.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use trellis_core::{Error, Page, PartnerId, PartnerRole, PartnerStatus, PartnerType};
use trellis_directory::{NewPartner, PartnerFilter, partners};
use trellis_recruitment::capabilities::reseller_parent;
use trellis_web::AppState;

use super::own_partner;
use crate::forms::{FormData, FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage};
use crate::listing::{PAGE_SIZE, page_url};
use crate::pages::{Layout, PageResult, render, render_status, see_other};
use crate::routes::{PageRouter, get};
use crate::session::Signed;

const SECTION: &str = "/portal/resellers";
const RESELLER_FIELDS: &[&str] = &["name", "contact_email", "website", "country"];

struct ResellerRow {
    name: String,
    status: PartnerStatus,
    country: String,
    contact_email: String,
}

#[derive(Template)]
#[template(path = "portal/resellers.html")]
struct ResellersPage {
    layout: Layout,
    csrf_token: String,
    resellers: Vec<ResellerRow>,
    next_page: Option<String>,
    first_page: Option<String>,
    is_admin: bool,
    form: FormView,
}

async fn resellers_page(state: &AppState, signed: &Signed, query: &FormData, form: FormView) -> Result<ResellersPage, Error> {
    let (_, role) = own_partner(&signed.scope)?;
    let own = reseller_parent(&state.ctx, &signed.scope).await?.ok_or(Error::NotFound)?;
    let cursor = query.optional("cursor").and_then(|c| PartnerId::parse(c).ok());
    let filter = PartnerFilter { parent_id: Some(own), before: cursor.clone(), limit: Some(PAGE_SIZE), ..PartnerFilter::default() };
    let Page { items: rows, next_cursor: next } = partners::list(&state.ctx, &signed.scope, &filter).await?;
    Ok(ResellersPage {
        layout: Layout::signed(state, signed, "Resellers", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        resellers: rows
            .into_iter()
            .map(|p| ResellerRow { name: p.name, status: p.status, country: p.country.unwrap_or_default(), contact_email: p.contact_email })
            .collect(),
        next_page: next.map(|c| page_url(SECTION, &[("cursor", &c)])),
        first_page: cursor.map(|_| SECTION.to_owned()),
        is_admin: role == PartnerRole::Admin,
        form,
    })
}

/// `GET /portal/resellers?cursor=`
async fn list_resellers(State(state): State<AppState>, PartnerPage { signed, .. }: PartnerPage, UrlQuery(query): UrlQuery) -> PageResult {
    let mut page = resellers_page(&state, &signed, &query, FormView::new("reseller", RESELLER_FIELDS)).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /portal/resellers`: creates a reseller under the caller's organisation; the domain
/// service checks that the workspace allows it and that the caller is a distributor's admin.
async fn create_reseller(State(state): State<AppState>, PartnerForm { signed, form, .. }: PartnerForm) -> PageResult {
    let input = NewPartner {
        name: form.value("name").to_owned(),
        contact_email: form.value("contact_email").to_owned(),
        website: form.optional("website").map(str::to_owned),
        country: form.optional("country").map(str::to_owned),
        types: vec![PartnerType::Reseller],
        parent_id: None,
        manager_user_id: None,
    };
    match partners::create(&state.ctx, &signed.scope, input).await {
        Ok(_) => Ok(see_other("/portal/resellers?notice=reseller_created")),
        Err(err) => {
            let errors = field_errors(err, "")?;
            let page =
                resellers_page(&state, &signed, &FormData::default(), FormView::failed("reseller", RESELLER_FIELDS, form, errors)).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new().route(SECTION, get(list_resellers).post(create_reseller))
}
