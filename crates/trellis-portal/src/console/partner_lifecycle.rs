//! The lifecycle sections of a partner's console page: compliance, profile, contracts and licences
//! (with their forms) and the timeline of what happened. `console::partners` shows them through
//! one field of its page; the forms here post to their own routes and, when a submission fails,
//! show the partner's page again with the errors next to the fields.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{ContractId, Error, FileId, LicenceId, PartnerId};
use trellis_directory::lifecycle;
use trellis_identity::{Scope, ScopedTx, SeenPartner};
use trellis_records::compliance::{self, Compliance};
use trellis_records::contracts::{self, Contract, NewContract};
use trellis_records::dates;
use trellis_records::files::{self, FilePurpose};
use trellis_records::licences::{self, Licence, NewLicence};
use trellis_records::profile_changes;
use trellis_records::profiles::{self, Profile};
use trellis_web::AppState;

use super::partners::partner_page;
use super::staff_role;
use crate::display;
use crate::forms::{FormView, field_errors};
use crate::guards::StaffForm;
use crate::pages::{PageResult, path_id, render_status, see_other};
use crate::routes::{PageRouter, post};
use crate::session::Signed;
use crate::uploads::UploadForm;

pub(super) const CONTRACT_FIELDS: &[&str] = &["title", "starts_on", "ends_on", "renews_on", "file"];
pub(crate) const LICENCE_FIELDS: &[&str] = &["kind", "number", "jurisdiction", "valid_from", "valid_until", "file"];

pub(crate) struct ProfileSummary {
    pub(crate) legal_name: Option<String>,
    pub(crate) description: String,
    pub(crate) countries: String,
    pub(crate) regions: String,
    pub(crate) specialisations: String,
    pub(crate) products: String,
    pub(crate) addresses: Vec<String>,
    pub(crate) logo_file_id: Option<String>,
    pub(crate) locator_opt_in: bool,
    pub(crate) complete: bool,
    pub(crate) pending_changes: usize,
}

/// One line per address: "Head office: Hauptstr. 1, 10115 Berlin, Germany".
pub(crate) fn address_lines(profile: &Profile) -> Vec<String> {
    profile
        .addresses
        .iter()
        .map(|a| {
            let mut parts = vec![a.line1.clone()];
            parts.extend(a.line2.clone());
            parts.push(format!("{} {}", a.postal_code, a.city));
            parts.extend(a.region.clone());
            parts.push(trellis_directory::countries::name(&a.country).to_owned());
            format!("{}: {}", a.label, parts.join(", "))
        })
        .collect()
}

fn or_dash(values: Vec<String>) -> String {
    if values.is_empty() { "—".to_owned() } else { values.join(", ") }
}

impl ProfileSummary {
    pub(crate) fn new(profile: Profile, pending_changes: usize) -> Self {
        Self {
            complete: profiles::profile_is_complete(&profile),
            addresses: address_lines(&profile),
            countries: or_dash(display::country_names(&profile.territories.countries)),
            regions: or_dash(profile.territories.regions.clone()),
            specialisations: or_dash(profile.specialisations.clone()),
            products: or_dash(profile.products.clone()),
            legal_name: profile.legal_name,
            description: profile.description,
            logo_file_id: profile.logo_file_id.map(|f| f.to_string()),
            locator_opt_in: profile.locator_opt_in,
            pending_changes,
        }
    }
}

pub(crate) struct ContractRow {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) starts_on: String,
    pub(crate) ends_on: String,
    pub(crate) renews_on: String,
    pub(crate) file_id: Option<String>,
    /// "renews in 12 days" when the decision date is within the first reminder's reach.
    pub(crate) due: Option<String>,
}

impl ContractRow {
    pub(crate) fn new(c: Contract, today: time::Date) -> Self {
        let due = c.decision_date().map(|d| dates::days_between(today, d)).filter(|days| (0..=30).contains(days)).map(|days| {
            let verb = if c.renews_on.is_some() { "renews" } else { "ends" };
            format!("{verb} {}", display::days_from_today(days))
        });
        Self {
            id: c.id.to_string(),
            title: c.title,
            starts_on: display::date(c.starts_on),
            ends_on: c.ends_on.map_or_else(|| "—".to_owned(), display::date),
            renews_on: c.renews_on.map_or_else(|| "—".to_owned(), display::date),
            file_id: c.file_id.map(|f| f.to_string()),
            due,
        }
    }
}

pub(crate) struct LicenceRow {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) number: String,
    pub(crate) jurisdiction: String,
    pub(crate) valid_from: String,
    pub(crate) valid_until: String,
    /// valid, expiring, expired or not_yet_valid (a CSS class too).
    pub(crate) status: &'static str,
    pub(crate) status_text: String,
    pub(crate) file_id: Option<String>,
}

impl LicenceRow {
    pub(crate) fn new(l: Licence, today: time::Date) -> Self {
        let status = l.status_on(today);
        let days = dates::days_between(today, l.valid_until);
        let status_text = match status {
            licences::LicenceStatus::Expired => format!("expired {}", display::days_from_today(days)),
            licences::LicenceStatus::Expiring => format!("expires {}", display::days_from_today(days)),
            licences::LicenceStatus::NotYetValid => format!("valid from {}", display::date(l.valid_from)),
            licences::LicenceStatus::Valid => "valid".to_owned(),
        };
        Self {
            id: l.id.to_string(),
            kind: l.kind,
            number: l.number,
            jurisdiction: l.jurisdiction,
            valid_from: display::date(l.valid_from),
            valid_until: display::date(l.valid_until),
            status: status.as_str(),
            status_text,
            file_id: l.file_id.map(|f| f.to_string()),
        }
    }
}

pub(super) struct TimelineRow {
    pub(super) at: String,
    pub(super) phase: &'static str,
    pub(super) title: String,
    pub(super) detail: Option<String>,
    pub(super) actor: String,
}

pub(super) struct Sections {
    pub(super) compliance: Compliance,
    pub(super) profile: ProfileSummary,
    pub(super) contracts: Vec<ContractRow>,
    pub(super) licences: Vec<LicenceRow>,
    /// Where the licence rows' delete forms post: `…/licences/{id}/delete`.
    pub(super) licences_path: String,
    pub(super) timeline: Vec<TimelineRow>,
    /// Whether the caller adds and deletes contracts and licences (partner managers).
    pub(super) can_manage: bool,
    pub(super) contract_form: FormView,
    pub(super) licence_form: FormView,
}

/// The sections of a (visible) partner's page, with blank forms.
pub(super) async fn sections(state: &AppState, tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner) -> Result<Sections, Error> {
    let role = staff_role(scope)?;
    let id = seen.id();
    let now = state.ctx.now();
    let today = dates::today(now);
    let profile = profiles::get_in(tx, scope, seen).await?;
    let pending = profile_changes::pending_in(tx, scope, seen).await?;
    let timeline = lifecycle::timeline_in(tx, scope, seen)
        .await?
        .into_iter()
        .map(|e| TimelineRow { at: display::time(e.at), phase: e.phase, title: e.title, detail: e.detail, actor: e.actor })
        .collect();
    Ok(Sections {
        compliance: compliance::get_in(tx, scope, seen, now).await?,
        profile: ProfileSummary::new(profile, pending.len()),
        contracts: contracts::list_in(tx, scope, seen).await?.into_iter().map(|c| ContractRow::new(c, today)).collect(),
        licences: licences::list_in(tx, scope, seen).await?.into_iter().map(|l| LicenceRow::new(l, today)).collect(),
        licences_path: format!("/console/partners/{id}/licences"),
        timeline,
        can_manage: role.manages_partners(),
        contract_form: FormView::new("contract", CONTRACT_FIELDS),
        licence_form: FormView::new("licence", LICENCE_FIELDS),
    })
}

/// Stores the form's file (if one was chosen) for the partner; its id, or the form's errors.
async fn stored_file(
    state: &AppState,
    signed: &Signed,
    partner_id: &PartnerId,
    form: &mut UploadForm,
    purpose: FilePurpose,
) -> Result<Option<FileId>, Error> {
    match form.file.take() {
        Some(file) => {
            let stored = files::store(&state.ctx, &signed.scope, &state.web.data_dir, partner_id, file.into_upload(purpose)).await?;
            Ok(Some(stored.id))
        }
        None => Ok(None),
    }
}

/// `POST /console/partners/{id}/contracts` (multipart: the fields and an optional document).
async fn add_contract(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm { signed, mut form }: StaffForm<UploadForm>,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let created = match stored_file(&state, &signed, &id, &mut form, FilePurpose::Contract).await {
        Ok(file_id) => {
            let f = &form.fields;
            let input = NewContract {
                title: f.value("title").to_owned(),
                starts_on: f.value("starts_on").to_owned(),
                ends_on: f.optional("ends_on").map(str::to_owned),
                renews_on: f.optional("renews_on").map(str::to_owned),
                file_id,
            };
            contracts::create(&state.ctx, &signed.scope, &id, input).await
        }
        Err(err) => Err(err),
    };
    match created {
        Ok(_) => Ok(see_other(&format!("/console/partners/{id}?notice=contract_added#contracts"))),
        Err(err) => {
            let errors = field_errors(err, "title")?;
            let mut page = partner_page(&state, &signed, &id).await?;
            page.lifecycle.contract_form = FormView::failed("contract", CONTRACT_FIELDS, form.fields, errors);
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /console/partners/{id}/contracts/{contract_id}/delete`
async fn delete_contract(
    State(state): State<AppState>,
    Path((id, contract_id)): Path<(String, String)>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let contract_id: ContractId = path_id(&contract_id)?;
    if contracts::get(&state.ctx, &signed.scope, &contract_id).await?.partner_id != id {
        return Err(Error::NotFound.into());
    }
    contracts::delete(&state.ctx, &signed.scope, &contract_id).await?;
    Ok(see_other(&format!("/console/partners/{id}?notice=contract_deleted#contracts")))
}

/// `POST /console/partners/{id}/licences` (multipart: the fields and an optional document).
async fn add_licence(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm { signed, mut form }: StaffForm<UploadForm>,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let created = match stored_file(&state, &signed, &id, &mut form, FilePurpose::Licence).await {
        Ok(file_id) => licences::create(&state.ctx, &signed.scope, &id, licence_input(&form.fields, file_id)).await,
        Err(err) => Err(err),
    };
    match created {
        Ok(_) => Ok(see_other(&format!("/console/partners/{id}?notice=licence_added#licences"))),
        Err(err) => {
            let errors = field_errors(err, "number")?;
            let mut page = partner_page(&state, &signed, &id).await?;
            page.lifecycle.licence_form = FormView::failed("licence", LICENCE_FIELDS, form.fields, errors);
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// The licence form's fields (shared with the portal's licence page).
pub(crate) fn licence_input(f: &crate::forms::FormData, file_id: Option<FileId>) -> NewLicence {
    NewLicence {
        kind: f.value("kind").to_owned(),
        number: f.value("number").to_owned(),
        jurisdiction: f.value("jurisdiction").to_owned(),
        valid_from: f.value("valid_from").to_owned(),
        valid_until: f.value("valid_until").to_owned(),
        file_id,
    }
}

/// `POST /console/partners/{id}/licences/{licence_id}/delete`
async fn delete_licence(
    State(state): State<AppState>,
    Path((id, licence_id)): Path<(String, String)>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let licence_id: LicenceId = path_id(&licence_id)?;
    if licences::get(&state.ctx, &signed.scope, &licence_id).await?.partner_id != id {
        return Err(Error::NotFound.into());
    }
    licences::delete(&state.ctx, &signed.scope, &licence_id).await?;
    Ok(see_other(&format!("/console/partners/{id}?notice=licence_deleted#licences")))
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route("/console/partners/{id}/contracts", post(add_contract))
        .route("/console/partners/{id}/licences", post(add_licence))
        .with_upload_limit()
        .route("/console/partners/{id}/contracts/{contract_id}/delete", post(delete_contract))
        .route("/console/partners/{id}/licences/{licence_id}/delete", post(delete_licence))
}
