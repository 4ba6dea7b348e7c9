//! `/portal/users`: the people of the organisation. Its admins invite people (the invitation link
//! is shown once; they join when they accept), cancel pending invitations, change roles and
//! remove people.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{Error, PartnerRole};
use trellis_identity::{invitations, partner_users};
use trellis_web::AppState;

use super::own_partner;
use crate::account::partner_user_sign_ins;
use crate::display::UserRow;
use crate::forms::{Choice, FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage};
use crate::pages::keeps_an_admin;
use crate::pages::{Layout, OneTime, PageResult, one_time_page, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const SECTION: &str = "/portal/users";
const INVITE_FIELDS: &[&str] = &["email", "name", "role"];

/// A blank invitation form; the role starts at the least one (member).
fn invite_form() -> FormView {
    FormView::filled("invite", INVITE_FIELDS, vec![("role", PartnerRole::Member.as_str().to_owned())])
}

#[derive(Template)]
#[template(path = "portal/users.html")]
struct UsersPage {
    layout: Layout,
    csrf_token: String,
    organisation: String,
    users: Vec<UserRow>,
    /// Pending invitations (admins only).
    invitations: Vec<crate::display::InvitationRow>,
    is_admin: bool,
    invite: FormView,
    roles: Vec<Choice>,
}

async fn users_page(state: &AppState, signed: &Signed, invite: FormView) -> Result<UsersPage, Error> {
    let (own, role) = own_partner(&signed.scope)?;
    let users = partner_users::list(&state.ctx, &signed.scope, &own).await?;
    let organisation = signed.session.current.as_ref().and_then(|m| m.partner_name.clone()).unwrap_or_default();
    let grantable: Vec<PartnerRole> = PartnerRole::ALL.iter().copied().filter(|r| role.may_grant(*r)).collect();
    let invitations = if role == PartnerRole::Admin {
        invitations::list_for_partner(&state.ctx, &signed.scope, &own).await?.into_iter().map(crate::display::InvitationRow::from).collect()
    } else {
        Vec::new()
    };
    Ok(UsersPage {
        invitations,
        layout: Layout::signed(state, signed, "Users", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        organisation,
        users: crate::display::user_rows(users),
        is_admin: role == PartnerRole::Admin,
        invite,
        roles: Choice::all_of(&grantable, PartnerRole::as_str),
    })
}

/// `GET /portal/users`
async fn list_users(State(state): State<AppState>, PartnerPage { signed, .. }: PartnerPage, UrlQuery(query): UrlQuery) -> PageResult {
    let mut page = users_page(&state, &signed, invite_form()).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /portal/users`: invites a colleague and shows their invitation link once.
async fn invite_user(State(state): State<AppState>, PartnerForm { signed, partner_id: own, form }: PartnerForm) -> PageResult {
    let invited = match form.choice("role", PartnerRole::parse) {
        Ok(role) => {
            trellis_directory::partners::invite_user(&state.ctx, &signed.scope, &own, form.value("email"), form.optional("name"), role)
                .await
        }
        Err(err) => Err(err),
    };
    match invited {
        Ok(issued) => Ok(one_time_page(
            &state,
            &signed,
            SECTION,
            OneTime::invitation(
                format!("{} is invited", issued.invitation.email),
                issued.invitation.email.as_str(),
                issued.url(&state.ctx),
                SECTION.to_owned(),
                "Back to the users",
                state.web.emails_delivered,
            ),
        )
        .await),
        Err(err) => {
            let errors = field_errors(err, "email")?;
            let page = users_page(&state, &signed, FormView::failed("invite", INVITE_FIELDS, form, errors)).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /portal/users/invitations/{id}/cancel`: the link stops working at once.
async fn cancel_invitation(State(state): State<AppState>, Path(id): Path<String>, PartnerForm { signed, .. }: PartnerForm) -> PageResult {
    invitations::cancel(&state.ctx, &signed.scope, &path_id(&id)?).await?;
    Ok(see_other("/portal/users?notice=invitation_cancelled"))
}

/// `POST /portal/users/{user_id}/role`
async fn change_role(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    PartnerForm { signed, partner_id: own, form }: PartnerForm,
) -> PageResult {
    let role = form.choice("role", PartnerRole::parse)?;
    let changed = partner_users::update_role(&state.ctx, &signed.scope, &own, &path_id(&user_id)?, role).await;
    keeps_an_admin(changed, SECTION, "role_changed")
}

/// `POST /portal/users/{user_id}/remove`: their sessions for the organisation end at once.
async fn remove_user(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    PartnerForm { signed, partner_id: own, .. }: PartnerForm,
) -> PageResult {
    let removed = partner_users::remove(&state.ctx, &signed.scope, &own, &path_id(&user_id)?).await;
    keeps_an_admin(removed, SECTION, "user_removed")
}

/// `GET /portal/users/{user_id}/sign-ins`: a colleague's sign-in history, for the partner's admins.
async fn user_sign_ins(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    PartnerPage { signed, partner_id: own, .. }: PartnerPage,
) -> PageResult {
    let back = (SECTION.to_owned(), "Users");
    Ok(render(&partner_user_sign_ins(&state, &signed, &own, &path_id(&user_id)?, back, SECTION, SECTION).await?))
}

/// `POST /portal/users/{user_id}/sessions/end`: signs a colleague out everywhere.
async fn end_user_sessions(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    PartnerForm { signed, .. }: PartnerForm,
) -> PageResult {
    partner_users::end_sessions(&state.ctx, &signed.scope, &path_id(&user_id)?).await?;
    Ok(see_other(&format!("{SECTION}?notice=user_sessions_ended")))
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(SECTION, get(list_users).post(invite_user))
        .route("/portal/users/{user_id}/role", post(change_role))
        .route("/portal/users/{user_id}/remove", post(remove_user))
        .route("/portal/users/{user_id}/sign-ins", get(user_sign_ins))
        .route("/portal/users/{user_id}/sessions/end", post(end_user_sessions))
        .route("/portal/users/invitations/{id}/cancel", post(cancel_invitation))
}
