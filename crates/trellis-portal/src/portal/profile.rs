//! `/portal/profile`: the organisation's record. Its admins edit the contact email, website and
//! country; name, types and status are the vendor's.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use trellis_core::{Error, PartnerRole};
use trellis_directory::{Partner, PartnerPatch, partners};
use trellis_web::AppState;

use super::own_partner;
use crate::display;
use crate::forms::{FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage};
use crate::pages::{Layout, PageResult, render, render_status, see_other};
use crate::routes::{PageRouter, get};
use crate::session::Signed;

const SECTION: &str = "/portal/profile";
const PROFILE_FIELDS: &[&str] = &["contact_email", "website", "country"];

#[derive(Template)]
#[template(path = "portal/profile.html")]
struct ProfilePage {
    layout: Layout,
    csrf_token: String,
    partner: Partner,
    types_text: String,
    is_admin: bool,
    form: FormView,
    details: super::profile_details::Summary,
    /// The organisation's country by name ("" when not given).
    country_name: String,
    countries: Vec<crate::forms::Choice>,
}

fn profile_form(partner: &Partner) -> FormView {
    FormView::filled(
        "profile",
        PROFILE_FIELDS,
        vec![
            ("contact_email", partner.contact_email.clone()),
            ("website", partner.website.clone().unwrap_or_default()),
            ("country", partner.country.clone().unwrap_or_default()),
        ],
    )
}

async fn profile_page(state: &AppState, signed: &Signed, form: Option<FormView>) -> Result<ProfilePage, Error> {
    let (own, role) = own_partner(&signed.scope)?;
    let partner = partners::get(&state.ctx, &signed.scope, &own).await?;
    Ok(ProfilePage {
        layout: Layout::signed(state, signed, "Profile", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        types_text: display::partner_types(&partner.types),
        is_admin: role == PartnerRole::Admin,
        form: form.unwrap_or_else(|| profile_form(&partner)),
        details: super::profile_details::summary(state, &signed.scope).await?,
        country_name: partner.country.as_deref().map(|c| trellis_directory::countries::name(c).to_owned()).unwrap_or_default(),
        countries: display::country_choices(),
        partner,
    })
}

/// `GET /portal/profile`
async fn show_profile(State(state): State<AppState>, PartnerPage { signed, .. }: PartnerPage, UrlQuery(query): UrlQuery) -> PageResult {
    let mut page = profile_page(&state, &signed, None).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /portal/profile`: saves the contact details (partner admins).
async fn update_profile(State(state): State<AppState>, PartnerForm { signed, partner_id: own, form }: PartnerForm) -> PageResult {
    let patch = PartnerPatch {
        contact_email: Some(form.value("contact_email").to_owned()),
        website: Some(form.optional("website").map(str::to_owned)),
        country: Some(form.optional("country").map(str::to_owned)),
        ..PartnerPatch::default()
    };
    match partners::update(&state.ctx, &signed.scope, &own, patch).await {
        Ok(_) => Ok(see_other("/portal/profile?notice=saved")),
        Err(err) => {
            let errors = field_errors(err, "")?;
            let page = profile_page(&state, &signed, Some(FormView::failed("profile", PROFILE_FIELDS, form, errors))).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new().route(SECTION, get(show_profile).post(update_profile))
}
