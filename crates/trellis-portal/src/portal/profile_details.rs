//! The full partner profile in the portal: a summary on `/portal/profile` (with the changes
//! waiting for the vendor and the compliance status), and `/portal/profile/edit` where the
//! partner's admins and marketing edit it and upload a logo. A change of the legal name or the
//! territories goes to the vendor for approval; the page says so.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use trellis_core::{Error, FieldError, PartnerId, PartnerRole};
use trellis_identity::Scope;
use trellis_records::compliance::{self, Compliance};
use trellis_records::files::{self, FilePurpose};
use trellis_records::profile_changes::{self, ChangeFilter, ChangeStatus, ProposedChanges};
use trellis_records::profiles::{self, Address, Profile, ProfilePatch, Territories};
use trellis_web::AppState;

use super::own_partner;
use crate::console::partner_lifecycle::ProfileSummary;
use crate::display;
use crate::forms::{FormData, FormView, field_errors};
use crate::guards::{PartnerForm, PartnerPage};
use crate::pages::{Layout, PageResult, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;
use crate::uploads::UploadForm;

const SECTION: &str = "/portal/profile";
const EDIT: &str = "/portal/profile/edit";
const PROFILE_FIELDS: &[&str] = &[
    "legal_name",
    "website",
    "description",
    "territories.countries",
    "territories.regions",
    "specialisations",
    "products",
    "locator_opt_in",
];
const LOGO_FIELDS: &[&str] = &["file"];
/// Blank address rows the edit form offers for new addresses.
const BLANK_ADDRESSES: usize = 1;
/// Regions the form suggests; a profile's regions are free text, so any other name is kept too.
const SALES_REGIONS: &[&str] = &[
    "EMEA",
    "DACH",
    "Benelux",
    "Nordics",
    "UK & Ireland",
    "Iberia",
    "CEE",
    "Middle East",
    "Africa",
    "APAC",
    "ANZ",
    "LATAM",
    "North America",
];

/// A change waiting for the vendor, as the partner sees it.
#[derive(Clone)]
pub(super) struct PendingRow {
    pub(super) what: String,
    pub(super) requested_at: String,
}

/// What `/portal/profile` shows of the full profile.
pub(super) struct Summary {
    pub(super) profile: ProfileSummary,
    pub(super) pending: Vec<PendingRow>,
    pub(super) compliance: Compliance,
    pub(super) can_edit: bool,
}

fn may_edit(role: PartnerRole) -> bool {
    matches!(role, PartnerRole::Admin | PartnerRole::Marketing)
}

pub(super) async fn pending_rows(state: &AppState, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<PendingRow>, Error> {
    let filter = ChangeFilter { status: Some(ChangeStatus::Pending), partner_id: Some(partner_id.clone()), ..ChangeFilter::default() };
    Ok(profile_changes::list(&state.ctx, scope, &filter)
        .await?
        .items
        .into_iter()
        .map(|r| {
            let mut parts = Vec::new();
            if let Some(legal_name) = &r.changes.legal_name {
                parts.push(format!("legal name to \"{legal_name}\""));
            }
            if let Some(t) = &r.changes.territories {
                let mut names = display::country_names(&t.countries);
                names.extend(t.regions.iter().cloned());
                parts.push(format!("territories to {}", if names.is_empty() { "none".to_owned() } else { names.join(", ") }));
            }
            PendingRow { what: parts.join("; "), requested_at: display::time(r.requested_at) }
        })
        .collect())
}

/// The summary of the caller's own profile.
pub(super) async fn summary(state: &AppState, scope: &Scope) -> Result<Summary, Error> {
    let (own, role) = own_partner(scope)?;
    let pending = pending_rows(state, scope, &own).await?;
    Ok(Summary {
        profile: ProfileSummary::new(profiles::get(&state.ctx, scope, &own).await?, pending.len()),
        pending,
        compliance: compliance::get(&state.ctx, scope, &own).await?,
        can_edit: may_edit(role),
    })
}

/// One address of the edit form, as typed, with its errors.
struct AddressFields {
    index: usize,
    label: String,
    line1: String,
    line2: String,
    city: String,
    postal_code: String,
    region: String,
    country: String,
    errors: Vec<String>,
}

impl AddressFields {
    fn blank(index: usize) -> Self {
        Self {
            index,
            label: String::new(),
            line1: String::new(),
            line2: String::new(),
            city: String::new(),
            postal_code: String::new(),
            region: String::new(),
            country: String::new(),
            errors: Vec::new(),
        }
    }

    fn of(index: usize, a: &Address) -> Self {
        Self {
            index,
            label: a.label.clone(),
            line1: a.line1.clone(),
            line2: a.line2.clone().unwrap_or_default(),
            city: a.city.clone(),
            postal_code: a.postal_code.clone(),
            region: a.region.clone().unwrap_or_default(),
            country: a.country.clone(),
            errors: Vec::new(),
        }
    }

    fn is_blank(&self) -> bool {
        [&self.label, &self.line1, &self.line2, &self.city, &self.postal_code, &self.region, &self.country]
            .iter()
            .all(|v| v.trim().is_empty())
    }

    fn to_address(&self) -> Address {
        let optional = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        Address {
            label: self.label.clone(),
            line1: self.line1.clone(),
            line2: optional(&self.line2),
            city: self.city.clone(),
            postal_code: self.postal_code.clone(),
            region: optional(&self.region),
            country: self.country.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "portal/profile_edit.html")]
struct EditPage {
    layout: Layout,
    csrf_token: String,
    form: FormView,
    addresses: Vec<AddressFields>,
    logo_form: FormView,
    logo_file_id: Option<String>,
    /// Every country by name, for the countries served and each address.
    countries: Vec<crate::forms::Choice>,
    regions: &'static [&'static str],
}

/// The edit form filled with the profile; the legal name and territories show what waits for the
/// vendor, so that saving the form again keeps the pending request instead of withdrawing it.
fn profile_form(profile: &Profile, pending: &ProposedChanges) -> FormView {
    let legal_name = pending.legal_name.clone().or_else(|| profile.legal_name.clone()).unwrap_or_default();
    let territories = pending.territories.as_ref().unwrap_or(&profile.territories);
    let mut values = vec![
        ("legal_name", legal_name),
        ("website", profile.website.clone().unwrap_or_default()),
        ("description", profile.description.clone()),
    ];
    // Lists are repeated values, one per option or box.
    for (name, list) in [
        ("territories.countries", &territories.countries),
        ("territories.regions", &territories.regions),
        ("specialisations", &profile.specialisations),
        ("products", &profile.products),
    ] {
        values.extend(list.iter().map(|v| (name, v.clone())));
    }
    if profile.locator_opt_in {
        values.push(("locator_opt_in", "1".to_owned()));
    }
    FormView::filled("profile", PROFILE_FIELDS, values)
}

fn with_blank_rows(mut rows: Vec<AddressFields>) -> Vec<AddressFields> {
    let start = rows.len();
    rows.extend((start..start + BLANK_ADDRESSES).map(AddressFields::blank));
    rows
}

/// The edit page for the caller's own profile; 403 for roles that may not edit it.
async fn edit_page(
    state: &AppState,
    signed: &Signed,
    form: Option<(FormView, Vec<AddressFields>)>,
    logo_form: Option<FormView>,
) -> Result<EditPage, Error> {
    let (own, role) = own_partner(&signed.scope)?;
    if !may_edit(role) {
        return Err(Error::forbidden("only the partner's admins and marketing edit its profile"));
    }
    let profile = profiles::get(&state.ctx, &signed.scope, &own).await?;
    let (form, addresses) = match form {
        Some(failed) => failed,
        None => {
            let filter = ChangeFilter { status: Some(ChangeStatus::Pending), partner_id: Some(own.clone()), ..ChangeFilter::default() };
            let pending = profile_changes::list(&state.ctx, &signed.scope, &filter)
                .await?
                .items
                .into_iter()
                .next()
                .map(|r| r.changes)
                .unwrap_or_default();
            (profile_form(&profile, &pending), profile.addresses.iter().enumerate().map(|(i, a)| AddressFields::of(i, a)).collect())
        }
    };
    Ok(EditPage {
        layout: Layout::signed(state, signed, "Edit profile", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        form,
        addresses: with_blank_rows(addresses),
        logo_form: logo_form.unwrap_or_else(|| FormView::new("logo", LOGO_FIELDS)),
        logo_file_id: profile.logo_file_id.map(|f| f.to_string()),
        countries: display::country_choices(),
        regions: SALES_REGIONS,
    })
}

/// `GET /portal/profile/edit`
async fn show_edit(State(state): State<AppState>, PartnerPage { signed, .. }: PartnerPage) -> PageResult {
    Ok(render(&edit_page(&state, &signed, None, None).await?))
}

/// The submitted address rows (blank ones dropped, renumbered as the domain reports errors).
fn submitted_addresses(form: &FormData) -> Vec<AddressFields> {
    let column = |name: &str| form.values(name).map(str::to_owned).collect::<Vec<_>>();
    let (labels, line1s, line2s, cities, postal_codes, regions, countries) = (
        column("address_label"),
        column("address_line1"),
        column("address_line2"),
        column("address_city"),
        column("address_postal_code"),
        column("address_region"),
        column("address_country"),
    );
    let at = |values: &Vec<String>, i: usize| values.get(i).cloned().unwrap_or_default();
    let mut rows = Vec::new();
    for i in 0..labels.len() {
        let mut row = AddressFields::blank(rows.len());
        row.label = at(&labels, i);
        row.line1 = at(&line1s, i);
        row.line2 = at(&line2s, i);
        row.city = at(&cities, i);
        row.postal_code = at(&postal_codes, i);
        row.region = at(&regions, i);
        row.country = at(&countries, i);
        if !row.is_blank() {
            rows.push(row);
        }
    }
    rows
}

/// `POST /portal/profile/edit`: applies what the partner may change directly and files a change
/// request for the legal name and territories.
async fn save(State(state): State<AppState>, PartnerForm { signed, partner_id: own, form }: PartnerForm) -> PageResult {
    let mut addresses = submitted_addresses(&form);
    let legal_name = form.value("legal_name").to_owned();
    let territories = Territories { countries: form.list("territories.countries"), regions: form.list("territories.regions") };
    let patch = ProfilePatch {
        legal_name: Some(legal_name.clone()).filter(|n| !n.trim().is_empty()),
        website: Some(form.optional("website").map(str::to_owned)),
        logo_file_id: None,
        addresses: Some(addresses.iter().map(AddressFields::to_address).collect()),
        territories: Some(territories.clone()),
        specialisations: Some(form.list("specialisations")),
        products: Some(form.list("products")),
        description: Some(form.value("description").to_owned()),
        locator_opt_in: Some(form.is_checked("locator_opt_in")),
    };
    match profiles::update(&state.ctx, &signed.scope, &own, patch).await {
        Ok(saved) => {
            let waits = (!legal_name.trim().is_empty() && saved.legal_name.as_deref() != Some(legal_name.trim()))
                || saved.territories != territories;
            Ok(see_other(&format!("{SECTION}?notice={}", if waits { "change_requested" } else { "saved" })))
        }
        Err(err) => {
            let errors = field_errors(err, "")?;
            let (for_addresses, others): (Vec<FieldError>, Vec<FieldError>) =
                errors.into_iter().partition(|e| e.field.starts_with("addresses["));
            for error in for_addresses {
                let index = error.field["addresses[".len()..].split(']').next().and_then(|i| i.parse::<usize>().ok());
                let field = error.field.split_once("].").map_or("address", |(_, f)| f).replace('_', " ");
                if let Some(row) = index.and_then(|i| addresses.get_mut(i)) {
                    row.errors.push(format!("{field}: {}", error.message));
                }
            }
            let failed = FormView::failed("profile", PROFILE_FIELDS, form, others);
            let page = edit_page(&state, &signed, Some((failed, addresses)), None).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /portal/profile/logo` (multipart): uploads a logo and makes it the profile's.
async fn upload_logo(State(state): State<AppState>, PartnerForm { signed, partner_id: own, form }: PartnerForm<UploadForm>) -> PageResult {
    let saved = match form.file {
        Some(file) => match files::store(&state.ctx, &signed.scope, &state.web.data_dir, &own, file.into_upload(FilePurpose::Logo)).await {
            Ok(stored) => {
                let patch = ProfilePatch { logo_file_id: Some(Some(stored.id)), ..ProfilePatch::default() };
                profiles::update(&state.ctx, &signed.scope, &own, patch).await.map(|_| ())
            }
            Err(err) => Err(err),
        },
        None => Err(Error::invalid("file", "choose a PNG or JPEG image")),
    };
    match saved {
        Ok(()) => Ok(see_other(&format!("{SECTION}?notice=logo_uploaded"))),
        Err(err) => {
            let errors = field_errors(err, "file")?;
            let logo_form = FormView::failed("logo", LOGO_FIELDS, form.fields, errors);
            let page = edit_page(&state, &signed, None, Some(logo_form)).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new().route("/portal/profile/logo", post(upload_logo)).with_upload_limit().route(EDIT, get(show_edit).post(save))
}
