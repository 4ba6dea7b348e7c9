//! `/console/settings`: the workspace's branding on its public pages (the application form, the
//! partner locator, invitation links): an accent colour, checked for readable contrast with white,
//! and a logo (PNG or JPEG, checked and re-encoded like a partner logo); and the bank account
//! payouts are paid from (`sepa_debtor`, which the SEPA file of a payout run needs), shown masked.
//! Owners and admins only: the page is 403 to other staff, like the service.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use trellis_core::Error;
use trellis_identity::workspaces::{self, PublicBrand, SepaDebtor, WorkspacePatch};
use trellis_records::branding;
use trellis_web::AppState;

use crate::forms::{FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::pages::{Layout, PageResult, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;
use crate::uploads::UploadForm;

const SECTION: &str = "/console/settings";
const COLOUR_FIELDS: &[&str] = &["brand_colour"];
const LOGO_FIELDS: &[&str] = &["file"];
/// Named as the service names their errors.
const DEBTOR_FIELDS: &[&str] = &["sepa_debtor.name", "sepa_debtor.iban", "sepa_debtor.bic"];

#[derive(Template)]
#[template(path = "console/settings.html")]
struct SettingsPage {
    layout: Layout,
    csrf_token: String,
    workspace_name: String,
    colour: FormView,
    logo_form: FormView,
    /// The current logo's public URL.
    logo_url: Option<String>,
    /// The public pages that show the branding.
    locator_url: String,
    debtor_form: FormView,
    /// The account payouts are paid from now, masked (`Acme AG · DE•• … 2051`).
    debtor_current: Option<String>,
    mfa_required_staff: bool,
    mfa_required_partner_admins: bool,
}

async fn settings_page(
    state: &AppState,
    signed: &Signed,
    colour: Option<FormView>,
    logo_form: Option<FormView>,
    debtor_form: Option<FormView>,
) -> Result<SettingsPage, Error> {
    signed.scope.require_workspace_admin("change the workspace's branding")?;
    let workspace = workspaces::get(&state.ctx, &signed.scope).await?;
    let brand = PublicBrand {
        workspace_id: workspace.id.clone(),
        name: workspace.name.clone(),
        colour: workspace.brand_colour.clone(),
        logo: workspace.brand_logo.clone(),
    };
    Ok(SettingsPage {
        layout: Layout::signed(state, signed, "Settings", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        colour: colour.unwrap_or_else(|| {
            FormView::filled("branding", COLOUR_FIELDS, vec![("brand_colour", workspace.brand_colour.clone().unwrap_or_default())])
        }),
        logo_form: logo_form.unwrap_or_else(|| FormView::new("logo", LOGO_FIELDS)),
        logo_url: brand.logo.as_ref().map(|l| crate::brand::logo_url(&brand.workspace_id, l)),
        locator_url: format!("/partners?workspace={}", workspace.id),
        debtor_form: debtor_form.unwrap_or_else(|| {
            let debtor = workspace.sepa_debtor.as_ref();
            FormView::filled(
                "debtor",
                DEBTOR_FIELDS,
                vec![
                    ("sepa_debtor.name", debtor.map(|d| d.name.clone()).unwrap_or_default()),
                    ("sepa_debtor.bic", debtor.and_then(|d| d.bic.clone()).unwrap_or_default()),
                ],
            )
        }),
        debtor_current: workspace.sepa_debtor.as_ref().map(|d| {
            let iban = trellis_core::Iban::parse(&d.iban).map(|i| i.masked()).unwrap_or_default();
            format!("{} · {iban}", d.name)
        }),
        mfa_required_staff: workspace.mfa_required_staff,
        mfa_required_partner_admins: workspace.mfa_required_partner_admins,
        workspace_name: workspace.name,
    })
}

/// `GET /console/settings`
async fn show(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let mut page = settings_page(&state, &signed, None, None, None).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /console/settings`: saves the accent colour; a blank one removes it.
async fn save(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let colour = form.optional("brand_colour").map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned);
    let patch = WorkspacePatch { brand_colour: Some(colour), ..WorkspacePatch::default() };
    match workspaces::update(&state.ctx, &signed.scope, patch).await {
        Ok(_) => Ok(see_other(&format!("{SECTION}?notice=branding_saved"))),
        Err(err) => {
            let errors = field_errors(err, "brand_colour")?;
            let failed = FormView::failed("branding", COLOUR_FIELDS, form, errors);
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &settings_page(&state, &signed, Some(failed), None, None).await?))
        }
    }
}

/// `POST /console/settings/payout-account`: sets the account payouts are paid from (name and
/// IBAN required, BIC optional); `remove` takes it away (SEPA files are then refused).
async fn save_debtor(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let debtor = if form.optional("remove").is_some() {
        None
    } else {
        Some(SepaDebtor {
            name: form.value("sepa_debtor.name").to_owned(),
            iban: form.value("sepa_debtor.iban").to_owned(),
            bic: form.optional("sepa_debtor.bic").map(str::to_owned),
        })
    };
    let notice = if debtor.is_some() { "payout_account_saved" } else { "payout_account_removed" };
    let patch = WorkspacePatch { sepa_debtor: Some(debtor), ..WorkspacePatch::default() };
    match workspaces::update(&state.ctx, &signed.scope, patch).await {
        Ok(_) => Ok(see_other(&format!("{SECTION}?notice={notice}#payout-account"))),
        Err(err) => {
            let errors = field_errors(err, "sepa_debtor.iban")?;
            let failed = FormView::failed("debtor", DEBTOR_FIELDS, form, errors);
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &settings_page(&state, &signed, None, None, Some(failed)).await?))
        }
    }
}

/// `POST /console/settings/two-step`: whether staff and partners' admins must use two-step
/// sign-in (the boxes that are ticked).
async fn save_two_step(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let patch = WorkspacePatch {
        mfa_required_staff: Some(form.is_checked("mfa_required_staff")),
        mfa_required_partner_admins: Some(form.is_checked("mfa_required_partner_admins")),
        ..WorkspacePatch::default()
    };
    workspaces::update(&state.ctx, &signed.scope, patch).await?;
    Ok(see_other(&format!("{SECTION}?notice=two_step_policy_saved#two-step")))
}

/// `POST /console/settings/logo` (multipart): replaces the logo.
async fn upload_logo(State(state): State<AppState>, StaffForm { signed, form }: StaffForm<UploadForm>) -> PageResult {
    let stored = match form.file {
        Some(file) => {
            branding::store_logo(
                &state.ctx,
                &signed.scope,
                &state.web.data_dir,
                file.into_upload(trellis_records::files::FilePurpose::Logo),
            )
            .await
        }
        None => {
            signed.scope.require_workspace_admin("change the workspace's branding")?;
            Err(Error::invalid("file", "choose a PNG or JPEG image"))
        }
    };
    match stored {
        Ok(_) => Ok(see_other(&format!("{SECTION}?notice=logo_uploaded"))),
        Err(err) => {
            let errors = field_errors(err, "file")?;
            let failed = FormView::failed("logo", LOGO_FIELDS, form.fields, errors);
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &settings_page(&state, &signed, None, Some(failed), None).await?))
        }
    }
}

/// `POST /console/settings/logo/remove`
async fn remove_logo(State(state): State<AppState>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    branding::remove_logo(&state.ctx, &signed.scope).await?;
    Ok(see_other(&format!("{SECTION}?notice=logo_removed")))
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route("/console/settings/logo", post(upload_logo))
        .with_upload_limit()
        .route(SECTION, get(show).post(save))
        .route("/console/settings/logo/remove", post(remove_logo))
        .route("/console/settings/payout-account", post(save_debtor))
        .route("/console/settings/two-step", post(save_two_step))
}
