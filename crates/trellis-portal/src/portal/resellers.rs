//! `/portal/resellers`: a distributor's resellers, and for its admins a form to add one, when the
//! workspace lets distributors manage resellers (`distributors_manage_resellers`). Everyone else
//! gets the 404 page: for them the page does not exist.
//!
//! `/portal/resellers/{id}`: one reseller's facts and users, and for the distributor's admins a
//! form inviting a new user of it (`partners::invite_user`, whose service lets a distributor's
//! admins invite to their resellers under the same workspace setting). A partner outside the
//! caller's subtree (a sibling's reseller) is a 404 like a missing one, and so is the caller's own
//! organisation (its users have their own page).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{Error, Page, PartnerId, PartnerRole, PartnerStatus, PartnerType};
use trellis_directory::{NewPartner, PartnerFilter, partners};
use trellis_recruitment::capabilities::reseller_parent;
use trellis_web::AppState;

use super::own_partner;
use crate::display::UserRow;
use crate::forms::Choice;
use crate::forms::{FormData, FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage};
use crate::listing::{PAGE_SIZE, page_url};
use crate::pages::{Layout, OneTime, PageResult, one_time_page, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const SECTION: &str = "/portal/resellers";
const RESELLER_FIELDS: &[&str] = &["name", "contact_email", "website", "country"];

struct ResellerRow {
    id: String,
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
    countries: Vec<crate::forms::Choice>,
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
            .map(|p| ResellerRow {
                id: p.id.to_string(),
                name: p.name,
                status: p.status,
                country: p.country.as_deref().map(|c| trellis_directory::countries::name(c).to_owned()).unwrap_or_default(),
                contact_email: p.contact_email,
            })
            .collect(),
        next_page: next.map(|c| page_url(SECTION, &[("cursor", &c)])),
        first_page: cursor.map(|_| SECTION.to_owned()),
        is_admin: role == PartnerRole::Admin,
        form,
        countries: crate::display::country_choices(),
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

const INVITE_FIELDS: &[&str] = &["email", "name", "role"];

#[derive(Template)]
#[template(path = "portal/reseller.html")]
struct ResellerPage {
    layout: Layout,
    csrf_token: String,
    reseller: trellis_directory::Partner,
    country: String,
    users: Vec<UserRow>,
    /// The distributor's admins invite people to the reseller.
    is_admin: bool,
    invite: FormView,
    roles: Vec<Choice>,
}

/// The reseller `id` as the caller's distributor sees it: 404 unless the workspace lets
/// distributors manage resellers, the caller's organisation is a distributor, and `id` is a
/// partner of its subtree other than itself.
async fn visible_reseller(state: &AppState, signed: &Signed, id: &str) -> Result<trellis_directory::Partner, Error> {
    let own = reseller_parent(&state.ctx, &signed.scope).await?.ok_or(Error::NotFound)?;
    let id: PartnerId = path_id(id)?;
    if id == own {
        return Err(Error::NotFound);
    }
    partners::get(&state.ctx, &signed.scope, &id).await
}

async fn reseller_page(state: &AppState, signed: &Signed, id: &str, role: PartnerRole, invite: FormView) -> Result<ResellerPage, Error> {
    let reseller = visible_reseller(state, signed, id).await?;
    let users = trellis_identity::partner_users::list(&state.ctx, &signed.scope, &reseller.id).await?;
    Ok(ResellerPage {
        layout: Layout::signed(state, signed, reseller.name.clone(), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        country: reseller.country.as_deref().map(|c| trellis_directory::countries::name(c).to_owned()).unwrap_or_default(),
        reseller,
        users: crate::display::user_rows(users),
        is_admin: role == PartnerRole::Admin,
        invite,
        roles: Choice::all_of(PartnerRole::ALL, PartnerRole::as_str),
    })
}

/// `GET /portal/resellers/{id}`
async fn show_reseller(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PartnerPage { signed, role, .. }: PartnerPage,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let invite = FormView::filled("invite", INVITE_FIELDS, vec![("role", PartnerRole::Admin.as_str().to_owned())]);
    let mut page = reseller_page(&state, &signed, &id, role, invite).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /portal/resellers/{id}/users`: invites a person to the reseller and shows their
/// invitation link once. Visibility first (404), then the role (403), then the form (422).
async fn invite_reseller_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PartnerForm { signed, form, .. }: PartnerForm,
) -> PageResult {
    let reseller = visible_reseller(&state, &signed, &id).await?;
    let role = own_partner(&signed.scope)?.1;
    if role != PartnerRole::Admin {
        return Err(Error::forbidden("only your organisation's admins invite people to its resellers").into());
    }
    let invited = match form.choice("role", PartnerRole::parse) {
        Ok(invitee_role) => {
            partners::invite_user(&state.ctx, &signed.scope, &reseller.id, form.value("email"), form.optional("name"), invitee_role).await
        }
        Err(err) => Err(err),
    };
    let back = format!("{SECTION}/{}", reseller.id);
    match invited {
        Ok(issued) => Ok(one_time_page(
            &state,
            &signed,
            SECTION,
            OneTime::invitation(
                format!("{} is invited to {}", issued.invitation.email, reseller.name),
                issued.invitation.email.as_str(),
                issued.url(&state.ctx),
                back,
                "Back to the reseller",
                state.web.emails_delivered,
            ),
        )
        .await),
        Err(err) => {
            let errors = field_errors(err, "email")?;
            let page = reseller_page(&state, &signed, &id, role, FormView::failed("invite", INVITE_FIELDS, form, errors)).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(SECTION, get(list_resellers).post(create_reseller))
        .route("/portal/resellers/{id}", get(show_reseller))
        .route("/portal/resellers/{id}/users", post(invite_reseller_user))
}
