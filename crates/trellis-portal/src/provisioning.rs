//! Provisioning by a partner organisation's identity provider (SCIM 2.0, ADR 0024): the page
//! where the organisation's admins (`/portal/provisioning`) and the vendor's admins
//! (`/console/partners/{id}/provisioning`) create and revoke the organisation's SCIM tokens, see
//! the address to configure, and see who the provider deactivated.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{Error, PartnerId};
use trellis_identity::{api_keys, provisioning};
use trellis_web::AppState;

use crate::display::time;
use crate::forms::{FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage, StaffForm, StaffPage};
use crate::pages::{Layout, OneTime, PageResult, one_time_page, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const TOKEN_FIELDS: &[&str] = &["name"];

/// A SCIM token as a row.
struct TokenRow {
    id: String,
    name: String,
    prefix: String,
    created: String,
    last_used: String,
    revoked: Option<String>,
}

/// Someone the provider deactivated, as a row.
struct DeactivatedRow {
    name: String,
    email: String,
    since: String,
}

#[derive(Template)]
#[template(path = "provisioning.html")]
struct ProvisioningPage {
    layout: Layout,
    csrf_token: String,
    organisation: String,
    /// Where this page is (its forms post below it).
    base: String,
    back: Option<(String, &'static str)>,
    /// The organisation's single sign-on page.
    sso_link: String,
    scim_url: String,
    tokens: Vec<TokenRow>,
    provisioned: i64,
    deactivated: Vec<DeactivatedRow>,
    create: FormView,
}

/// Which organisation the page is about and where it stands in the console or the portal.
struct Place {
    partner_id: PartnerId,
    organisation: String,
    /// Where this page is (its forms post below it).
    base: String,
    back: (String, &'static str),
    /// The navigation section it belongs to.
    section: &'static str,
}

async fn page(state: &AppState, signed: &Signed, place: Place, create: FormView) -> Result<ProvisioningPage, Error> {
    let Place { partner_id, organisation, base, back, section } = place;
    let partner_id = &partner_id;
    let back = Some(back);
    let tokens = api_keys::list_scim_tokens(&state.ctx, &signed.scope, partner_id).await?;
    let (provisioned, deactivated) = provisioning::overview(&state.ctx, &signed.scope, partner_id).await?;
    Ok(ProvisioningPage {
        layout: Layout::signed(state, signed, "Provisioning (SCIM)", section).await,
        csrf_token: signed.session.csrf_token.clone(),
        organisation,
        sso_link: base.replace("/provisioning", "/sso"),
        base,
        back,
        scim_url: format!("{}/scim/v2", state.web.public_url.trim_end_matches('/')),
        tokens: tokens
            .into_iter()
            .map(|k| TokenRow {
                id: k.id.to_string(),
                name: k.name,
                prefix: k.prefix,
                created: time(k.created_at),
                last_used: k.last_used_at.map_or_else(|| "never".to_owned(), time),
                revoked: k.revoked_at.map(time),
            })
            .collect(),
        provisioned,
        deactivated: deactivated
            .into_iter()
            .map(|d| DeactivatedRow {
                name: if d.display_name.is_empty() { d.email.to_string() } else { d.display_name },
                email: d.email.to_string(),
                since: time(d.since),
            })
            .collect(),
        create,
    })
}

const EXPLANATION: &str = "Give it to your identity provider (Okta, Microsoft Entra ID, Google, JumpCloud…) as the bearer token of SCIM provisioning, with the SCIM address shown on the provisioning page. It works there only. Trellis keeps only a hash of it: if it is lost, revoke it and create another.";

// The portal: the organisation's own admins.

const PORTAL: &str = "/portal/provisioning";
/// The portal's navigation marks the users' section on this page.
const USERS: &str = "/portal/users";

fn portal_place(signed: &Signed, partner_id: PartnerId) -> Place {
    Place {
        partner_id,
        organisation: signed.session.current.as_ref().and_then(|m| m.partner_name.clone()).unwrap_or_default(),
        base: PORTAL.to_owned(),
        back: (USERS.to_owned(), "Back to the users"),
        section: USERS,
    }
}

/// `GET /portal/provisioning`
async fn portal_page(
    State(state): State<AppState>,
    PartnerPage { signed, partner_id, .. }: PartnerPage,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let mut shown = page(&state, &signed, portal_place(&signed, partner_id), FormView::new("token", TOKEN_FIELDS)).await?;
    shown.layout = shown.layout.with_notice(&query);
    Ok(render(&shown))
}

/// `POST /portal/provisioning/tokens`: a new SCIM token, shown once.
async fn portal_create(State(state): State<AppState>, PartnerForm { signed, partner_id, form }: PartnerForm) -> PageResult {
    let place = portal_place(&signed, partner_id);
    create(&state, &signed, place, form).await
}

/// `POST /portal/provisioning/tokens/{key_id}/revoke`
async fn portal_revoke(State(state): State<AppState>, Path(key_id): Path<String>, PartnerForm { signed, .. }: PartnerForm) -> PageResult {
    api_keys::revoke(&state.ctx, &signed.scope, &path_id(&key_id)?).await?;
    Ok(see_other(&format!("{PORTAL}?notice=key_revoked")))
}

// The console: the vendor's owners and admins, for any partner they see.

const CONSOLE: &str = "/console/partners";

async fn console_place(state: &AppState, signed: &Signed, id: &str) -> Result<Place, Error> {
    let partner_id: PartnerId = path_id(id)?;
    let organisation = trellis_directory::partners::get(&state.ctx, &signed.scope, &partner_id).await?.name;
    Ok(Place {
        base: format!("{CONSOLE}/{partner_id}/provisioning"),
        back: (format!("{CONSOLE}/{partner_id}"), "Back to the partner"),
        partner_id,
        organisation,
        section: CONSOLE,
    })
}

/// `GET /console/partners/{id}/provisioning`
async fn console_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffPage { signed, .. }: StaffPage,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let place = console_place(&state, &signed, &id).await?;
    let mut shown = page(&state, &signed, place, FormView::new("token", TOKEN_FIELDS)).await?;
    shown.layout = shown.layout.with_notice(&query);
    Ok(render(&shown))
}

/// `POST /console/partners/{id}/provisioning/tokens`
async fn console_create(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form, .. }: StaffForm) -> PageResult {
    let place = console_place(&state, &signed, &id).await?;
    create(&state, &signed, place, form).await
}

/// Creates a SCIM token from the page's form: the secret on a page of its own, once; a refused
/// name back on the page with the error (422).
async fn create(state: &AppState, signed: &Signed, place: Place, form: crate::forms::FormData) -> PageResult {
    match api_keys::create_scim_token(&state.ctx, &signed.scope, &place.partner_id, form.value("name")).await {
        Ok(created) => Ok(one_time_page(
            state,
            signed,
            place.section,
            OneTime::scim_token(&created.key.name, EXPLANATION.to_owned(), created.secret, place.base, "Back to provisioning"),
        )
        .await),
        Err(err) => {
            let errors = field_errors(err, "name")?;
            let shown = page(state, signed, place, FormView::failed("token", TOKEN_FIELDS, form, errors)).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &shown))
        }
    }
}

/// `POST /console/partners/{id}/provisioning/tokens/{key_id}/revoke`
async fn console_revoke(
    State(state): State<AppState>,
    Path((id, key_id)): Path<(String, String)>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    api_keys::revoke(&state.ctx, &signed.scope, &path_id(&key_id)?).await?;
    Ok(see_other(&format!("{CONSOLE}/{id}/provisioning?notice=key_revoked")))
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(PORTAL, get(portal_page))
        .route("/portal/provisioning/tokens", post(portal_create))
        .route("/portal/provisioning/tokens/{key_id}/revoke", post(portal_revoke))
        .route("/console/partners/{id}/provisioning", get(console_page))
        .route("/console/partners/{id}/provisioning/tokens", post(console_create))
        .route("/console/partners/{id}/provisioning/tokens/{key_id}/revoke", post(console_revoke))
}
