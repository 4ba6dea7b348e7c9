//! `/console/staff`: the workspace's staff; owners and admins invite people (the invitation link
//! is shown once; the membership starts when the invitee accepts), see and cancel pending
//! invitations, change roles and partner scopes, and remove people.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{Error, PartnerScopeSetting, VendorRole};
use trellis_identity::{invitations, members};
use trellis_web::AppState;

use super::staff_role;
use crate::account::{SignInsPage, sign_in_rows};
use crate::display;
use crate::forms::{Choice, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::pages::{Layout, OneTime, PageResult, one_time_page, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const SECTION: &str = "/console/staff";
const ADD_FIELDS: &[&str] = &["email", "name", "role", "partner_scope"];
/// Roles a new member may get: ownership is transferred by an owner, never granted on arrival.
const ROLES_ON_ARRIVAL: &[VendorRole] = &[VendorRole::Admin, VendorRole::ChannelManager, VendorRole::Finance, VendorRole::Viewer];

struct MemberRow {
    user_id: String,
    name: String,
    email: String,
    role: &'static str,
    partner_scope: &'static str,
    /// The role in words, with the partners a restricted channel manager sees.
    role_label: String,
    since: String,
    /// Only an owner changes or removes an owner.
    can_change: bool,
}

#[derive(Template)]
#[template(path = "console/staff.html")]
struct StaffMembersPage {
    layout: Layout,
    csrf_token: String,
    members: Vec<MemberRow>,
    /// Pending invitations (owner/admin only).
    invitations: Vec<display::InvitationRow>,
    can_manage: bool,
    add: FormView,
    roles_on_arrival: Vec<Choice>,
    /// Roles an existing member may be given by the caller (owners may grant ownership).
    roles: Vec<Choice>,
    partner_scopes: Vec<Choice>,
}

async fn staff_page(state: &AppState, signed: &Signed, add: FormView) -> Result<StaffMembersPage, Error> {
    let role = staff_role(&signed.scope)?;
    let is_owner = role == VendorRole::Owner;
    let members = members::list(&state.ctx, &signed.scope).await?;
    let roles = if is_owner { VendorRole::ALL } else { ROLES_ON_ARRIVAL };
    let invitations = if role.is_workspace_admin() {
        invitations::list_staff(&state.ctx, &signed.scope).await?.into_iter().map(display::InvitationRow::from).collect()
    } else {
        Vec::new()
    };
    Ok(StaffMembersPage {
        invitations,
        layout: Layout::signed(state, signed, "Staff", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        members: members
            .into_iter()
            .map(|m| MemberRow {
                role_label: if m.role == VendorRole::ChannelManager && m.partner_scope == PartnerScopeSetting::Assigned {
                    "channel manager (only partners they manage)".to_owned()
                } else {
                    display::words(m.role.as_str())
                },
                user_id: m.user_id.to_string(),
                name: m.name,
                email: m.email.to_string(),
                role: m.role.as_str(),
                partner_scope: m.partner_scope.as_str(),
                since: display::time(m.created_at),
                can_change: role.is_workspace_admin() && (is_owner || m.role != VendorRole::Owner),
            })
            .collect(),
        can_manage: role.is_workspace_admin(),
        add,
        roles_on_arrival: Choice::all_of(ROLES_ON_ARRIVAL, VendorRole::as_str),
        roles: Choice::all_of(roles, VendorRole::as_str),
        partner_scopes: vec![
            Choice { value: PartnerScopeSetting::All.as_str().to_owned(), label: "all partners".to_owned() },
            Choice { value: PartnerScopeSetting::Assigned.as_str().to_owned(), label: "only partners they manage".to_owned() },
        ],
    })
}

/// `GET /console/staff`
async fn list_staff(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let mut page = staff_page(&state, &signed, FormView::new("add", ADD_FIELDS)).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /console/staff`: adds a member and shows their invitation link once.
async fn add_member(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let added = match (form.choice("role", VendorRole::parse), form.choice("partner_scope", PartnerScopeSetting::parse)) {
        (Ok(role), Ok(partner_scope)) => {
            members::add(&state.ctx, &signed.scope, form.value("email"), form.optional("name"), role, Some(partner_scope)).await
        }
        (Err(err), _) | (_, Err(err)) => Err(err),
    };
    match added {
        Ok(issued) => Ok(one_time_page(
            &state,
            &signed,
            SECTION,
            OneTime::invitation(
                format!("{} is invited", issued.invitation.email),
                issued.invitation.email.as_str(),
                issued.url(&state.ctx),
                SECTION.to_owned(),
                "Back to the staff",
                state.web.emails_delivered,
            ),
        )
        .await),
        Err(err) => {
            let errors = field_errors(err, "email")?;
            let page = staff_page(&state, &signed, FormView::failed("add", ADD_FIELDS, form, errors)).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /console/staff/invitations/{id}/cancel`: the link stops working at once.
async fn cancel_invitation(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    invitations::cancel(&state.ctx, &signed.scope, &path_id(&id)?).await?;
    Ok(see_other("/console/staff?notice=invitation_cancelled"))
}

/// `POST /console/staff/{user_id}`: changes a member's role and partner scope.
async fn update_member(State(state): State<AppState>, Path(user_id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let role = form.choice("role", VendorRole::parse)?;
    let partner_scope = form.choice("partner_scope", PartnerScopeSetting::parse)?;
    members::update(&state.ctx, &signed.scope, &path_id(&user_id)?, Some(role), Some(partner_scope)).await?;
    Ok(see_other("/console/staff?notice=member_updated"))
}

/// `POST /console/staff/{user_id}/remove`: their sessions and keys end at once.
async fn remove_member(State(state): State<AppState>, Path(user_id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    members::remove(&state.ctx, &signed.scope, &path_id(&user_id)?).await?;
    Ok(see_other("/console/staff?notice=member_removed"))
}

/// `GET /console/staff/{user_id}/sign-ins`: a member's sign-in history, with "Sign out
/// everywhere" (owners and admins).
async fn member_sign_ins(State(state): State<AppState>, Path(user_id): Path<String>, StaffPage { signed, .. }: StaffPage) -> PageResult {
    let user_id = path_id(&user_id)?;
    let history = members::sign_in_history(&state.ctx, &signed.scope, &user_id).await?;
    let member = members::get(&state.ctx, &signed.scope, &user_id).await?;
    let person = if member.name.is_empty() { member.email.to_string() } else { member.name.clone() };
    Ok(render(&SignInsPage {
        layout: Layout::signed(&state, &signed, format!("Sign-ins of {person}"), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        person,
        email: member.email.to_string(),
        back: SECTION.to_owned(),
        back_label: "Staff",
        rows: sign_in_rows(history),
        end_path: Some(format!("{SECTION}/{user_id}/sessions/end")),
    }))
}

/// `POST /console/staff/{user_id}/sessions/end`: ends every session of the member here.
async fn end_member_sessions(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let user_id = path_id(&user_id)?;
    members::end_sessions(&state.ctx, &signed.scope, &user_id).await?;
    Ok(see_other(&format!("{SECTION}?notice=user_sessions_ended")))
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route("/console/staff", get(list_staff).post(add_member))
        .route("/console/staff/{user_id}", post(update_member))
        .route("/console/staff/{user_id}/remove", post(remove_member))
        .route("/console/staff/{user_id}/sign-ins", get(member_sign_ins))
        .route("/console/staff/{user_id}/sessions/end", post(end_member_sessions))
        .route("/console/staff/invitations/{id}/cancel", post(cancel_invitation))
}
