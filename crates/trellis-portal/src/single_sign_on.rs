//! Single sign-on settings (OpenID Connect, ADR 0026): where an organisation's admins connect its
//! identity provider — a partner's own admins in the portal (`/portal/sso`), the vendor's owners
//! and admins for a partner (`/console/partners/{id}/sso`) and for the staff
//! (`/console/settings/sso`). The page shows what to register at the provider (the redirect and
//! back-channel logout addresses); the email domains are the vendor's to choose, so a partner's
//! admin sees them and cannot change them.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{Error, PartnerId, PartnerRole, VendorRole};
use trellis_identity::sso::{self, Connection, ConnectionInput};
use trellis_web::AppState;

use crate::display::time;
use crate::forms::{Choice, FormData, FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage, StaffForm, StaffPage};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const FIELDS: &[&str] = &["name", "issuer", "client_id", "client_secret", "default_role", "domains", "enabled"];

#[derive(Template)]
#[template(path = "single_sign_on.html")]
struct SsoPage {
    layout: Layout,
    csrf_token: String,
    organisation: String,
    base: String,
    back: (String, &'static str),
    redirect_uri: String,
    logout_uri: Option<String>,
    existing: Option<Existing>,
    roles: Vec<Choice>,
    /// The vendor's owners and admins choose the email domains; others see them.
    may_choose_domains: bool,
    secret_hint: &'static str,
    form: FormView,
}

/// The connection as it stands.
struct Existing {
    domains: Vec<String>,
    enabled: bool,
    updated: String,
}

/// Which organisation (`None`: the staff) and where the page stands.
struct Place {
    partner_id: Option<PartnerId>,
    organisation: String,
    base: String,
    back: (String, &'static str),
    section: &'static str,
}

fn filled(c: &Connection) -> FormView {
    let mut values = vec![
        ("name", c.name.clone()),
        ("issuer", c.issuer.clone()),
        ("client_id", c.client_id.clone()),
        ("default_role", c.default_role.clone()),
        ("domains", c.domains.join(", ")),
    ];
    if c.enabled {
        values.push(("enabled", "on".to_owned()));
    }
    FormView::filled("sso", FIELDS, values)
}

async fn page(state: &AppState, signed: &Signed, place: Place, form: Option<FormView>) -> Result<SsoPage, Error> {
    let existing = sso::get(&state.ctx, &signed.scope, place.partner_id.as_ref()).await?;
    let form = form.unwrap_or_else(|| match &existing {
        Some(c) => filled(c),
        None => FormView::filled("sso", FIELDS, vec![("enabled", "on".to_owned())]),
    });
    let roles = match place.partner_id {
        Some(_) => Choice::all_of(PartnerRole::ALL, PartnerRole::as_str),
        None => Choice::all_of(&VendorRole::ALL[1..], VendorRole::as_str),
    };
    Ok(SsoPage {
        layout: Layout::signed(state, signed, "Single sign-on", place.section).await,
        csrf_token: signed.session.csrf_token.clone(),
        organisation: place.organisation,
        base: place.base,
        back: place.back,
        redirect_uri: state.ctx.link(sso::CALLBACK_PATH),
        logout_uri: existing.as_ref().map(|c| state.ctx.link(&sso::backchannel_logout_path(&c.id))),
        may_choose_domains: signed.scope.vendor_role().is_some_and(VendorRole::is_workspace_admin),
        secret_hint: if existing.is_some() { "leave empty to keep the one saved" } else { "as the provider showed it" },
        existing: existing.map(|c| Existing { domains: c.domains, enabled: c.enabled, updated: time(c.updated_at) }),
        roles,
        form,
    })
}

/// Saves the form: the secret only when typed; the domains only from those who choose them.
async fn save(state: &AppState, signed: &Signed, place: Place, form: FormData) -> PageResult {
    let secret = form.value("client_secret").trim();
    let may_choose_domains = signed.scope.vendor_role().is_some_and(VendorRole::is_workspace_admin);
    let input = ConnectionInput {
        name: form.value("name").to_owned(),
        issuer: form.value("issuer").to_owned(),
        client_id: form.value("client_id").to_owned(),
        client_secret: (!secret.is_empty()).then(|| secret.to_owned()),
        default_role: form.optional("default_role").filter(|r| !r.is_empty()).map(str::to_owned),
        enabled: Some(form.is_checked("enabled")),
        domains: may_choose_domains
            .then(|| form.value("domains").split([',', ';', ' ']).map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned).collect()),
    };
    let base = place.base.clone();
    match sso::put(&state.ctx, &signed.scope, place.partner_id.as_ref(), &input).await {
        Ok(_) => Ok(see_other(&format!("{base}?notice=sso_saved"))),
        Err(err) => {
            let errors = field_errors(err, "domains")?;
            let shown = page(state, signed, place, Some(FormView::failed("sso", FIELDS, form, errors))).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &shown))
        }
    }
}

async fn remove(state: &AppState, signed: &Signed, place: Place) -> PageResult {
    sso::delete(&state.ctx, &signed.scope, place.partner_id.as_ref()).await?;
    Ok(see_other(&format!("{}?notice=sso_removed", place.base)))
}

// The portal: the organisation's own admins.

const PORTAL: &str = "/portal/sso";

fn portal_place(signed: &Signed, partner_id: PartnerId) -> Place {
    Place {
        partner_id: Some(partner_id),
        organisation: signed.session.current.as_ref().and_then(|m| m.partner_name.clone()).unwrap_or_default(),
        base: PORTAL.to_owned(),
        back: ("/portal/users".to_owned(), "Back to the users"),
        section: "/portal/users",
    }
}

/// `GET /portal/sso`
async fn portal_page(
    State(state): State<AppState>,
    PartnerPage { signed, partner_id, .. }: PartnerPage,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let mut shown = page(&state, &signed, portal_place(&signed, partner_id), None).await?;
    shown.layout = shown.layout.with_notice(&query);
    Ok(render(&shown))
}

/// `POST /portal/sso`
async fn portal_save(State(state): State<AppState>, PartnerForm { signed, partner_id, form }: PartnerForm) -> PageResult {
    let place = portal_place(&signed, partner_id);
    save(&state, &signed, place, form).await
}

/// `POST /portal/sso/remove`
async fn portal_remove(State(state): State<AppState>, PartnerForm { signed, partner_id, .. }: PartnerForm) -> PageResult {
    let place = portal_place(&signed, partner_id);
    remove(&state, &signed, place).await
}

// The console: a partner's, and the staff's.

async fn partner_place(state: &AppState, signed: &Signed, id: &str) -> Result<Place, Error> {
    let partner_id: PartnerId = path_id(id)?;
    let organisation = trellis_directory::partners::get(&state.ctx, &signed.scope, &partner_id).await?.name;
    Ok(Place {
        base: format!("/console/partners/{partner_id}/sso"),
        back: (format!("/console/partners/{partner_id}"), "Back to the partner"),
        partner_id: Some(partner_id),
        organisation,
        section: "/console/partners",
    })
}

const STAFF: &str = "/console/settings/sso";

fn staff_place() -> Place {
    Place {
        partner_id: None,
        organisation: "Your staff".to_owned(),
        base: STAFF.to_owned(),
        back: ("/console/settings".to_owned(), "Back to the settings"),
        section: "/console/settings",
    }
}

/// `GET /console/partners/{id}/sso`
async fn console_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffPage { signed, .. }: StaffPage,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let place = partner_place(&state, &signed, &id).await?;
    let mut shown = page(&state, &signed, place, None).await?;
    shown.layout = shown.layout.with_notice(&query);
    Ok(render(&shown))
}

/// `POST /console/partners/{id}/sso`
async fn console_save(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let place = partner_place(&state, &signed, &id).await?;
    save(&state, &signed, place, form).await
}

/// `POST /console/partners/{id}/sso/remove`
async fn console_remove(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    let place = partner_place(&state, &signed, &id).await?;
    remove(&state, &signed, place).await
}

/// `GET /console/settings/sso`
async fn staff_page(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let mut shown = page(&state, &signed, staff_place(), None).await?;
    shown.layout = shown.layout.with_notice(&query);
    Ok(render(&shown))
}

/// `POST /console/settings/sso`
async fn staff_save(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    save(&state, &signed, staff_place(), form).await
}

/// `POST /console/settings/sso/remove`
async fn staff_remove(State(state): State<AppState>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    remove(&state, &signed, staff_place()).await
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(PORTAL, get(portal_page).post(portal_save))
        .route("/portal/sso/remove", post(portal_remove))
        .route("/console/partners/{id}/sso", get(console_page).post(console_save))
        .route("/console/partners/{id}/sso/remove", post(console_remove))
        .route(STAFF, get(staff_page).post(staff_save))
        .route("/console/settings/sso/remove", post(staff_remove))
}
