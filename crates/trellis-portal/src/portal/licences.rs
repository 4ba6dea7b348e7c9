//! `/portal/licences`: the organisation's compliance licences with their status, and (for its
//! admins) a form to add one with its document.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use trellis_core::{Error, PartnerRole};
use trellis_records::compliance::{self, Compliance};
use trellis_records::files::{self, FilePurpose};
use trellis_records::{dates, licences};
use trellis_web::AppState;

use super::own_partner;
use crate::console::partner_lifecycle::{LICENCE_FIELDS, LicenceRow, licence_input};
use crate::forms::{FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage};
use crate::pages::{Layout, PageResult, render, render_status, see_other};
use crate::routes::{PageRouter, get};
use crate::session::Signed;
use crate::uploads::UploadForm;

const SECTION: &str = "/portal/licences";

#[derive(Template)]
#[template(path = "portal/licences.html")]
struct LicencesPage {
    layout: Layout,
    csrf_token: String,
    compliance: Compliance,
    licences: Vec<LicenceRow>,
    can_add: bool,
    form: FormView,
}

async fn licences_page(state: &AppState, signed: &Signed, form: Option<FormView>) -> Result<LicencesPage, Error> {
    let (own, role) = own_partner(&signed.scope)?;
    let today = dates::today(state.ctx.now());
    Ok(LicencesPage {
        layout: Layout::signed(state, signed, "Licences", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        compliance: compliance::get(&state.ctx, &signed.scope, &own).await?,
        licences: licences::list(&state.ctx, &signed.scope, &own).await?.into_iter().map(|l| LicenceRow::new(l, today)).collect(),
        can_add: role == PartnerRole::Admin,
        form: form.unwrap_or_else(|| FormView::new("licence", LICENCE_FIELDS)),
    })
}

/// `GET /portal/licences`
async fn show_licences(State(state): State<AppState>, PartnerPage { signed, .. }: PartnerPage, UrlQuery(query): UrlQuery) -> PageResult {
    let mut page = licences_page(&state, &signed, None).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /portal/licences` (multipart): adds a licence with its document (the partner's admins).
async fn add_licence(
    State(state): State<AppState>,
    PartnerForm { signed, partner_id: own, mut form }: PartnerForm<UploadForm>,
) -> PageResult {
    let file_id = match form.file.take() {
        Some(file) => files::store(&state.ctx, &signed.scope, &state.web.data_dir, &own, file.into_upload(FilePurpose::Licence))
            .await
            .map(|stored| Some(stored.id)),
        None => Ok(None),
    };
    let created = match file_id {
        Ok(file_id) => licences::create(&state.ctx, &signed.scope, &own, licence_input(&form.fields, file_id)).await,
        Err(err) => Err(err),
    };
    match created {
        Ok(_) => Ok(see_other(&format!("{SECTION}?notice=licence_added"))),
        Err(err) => {
            let errors = field_errors(err, "number")?;
            let page = licences_page(&state, &signed, Some(FormView::failed("licence", LICENCE_FIELDS, form.fields, errors))).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new().route(SECTION, get(show_licences).post(add_licence)).with_upload_limit()
}
