//! `/console/partners`: the partner list with search, filters and pages; the new partner form; and
//! a partner's page with its facts, hierarchy, users, API keys, details and status.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{Error, PartnerId, PartnerRole, PartnerStatus, PartnerType, UserId, VendorRole};
use trellis_directory::{NewPartner, Partner, PartnerFilter, PartnerPatch, partners, statuses};
use trellis_identity::{Membership, Scope, ScopedTx, api_keys, invitations, members, partner_users};
use trellis_incentives::payout_methods;
use trellis_programs::enrollments::{self, FirstUser, NewEnrollment};
use trellis_web::AppState;

use super::staff_role;
use crate::account::partner_user_sign_ins;
use crate::display::{self, UserRow};
use crate::forms::{Choice, FormData, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::keys::{KEY_EXPLANATION, KEY_FIELDS, KeyRow, requested_scopes};
use crate::pages::{Layout, OneTime, PageResult, keeps_an_admin, one_time_page, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const SECTION: &str = "/console/partners";
const PARTNER_FIELDS: &[&str] = &["name", "contact_email", "website", "country", "types", "parent_id", "manager_user_id"];
const INVITE_FIELDS: &[&str] = &["email", "name", "role"];
/// The new partner form: the partner's fields, its program and its first user.
const NEW_PARTNER_FIELDS: &[&str] = &[
    "name",
    "contact_email",
    "website",
    "country",
    "types",
    "parent_id",
    "manager_user_id",
    "program_id",
    "user_email",
    "user_name",
    "user_role",
];
/// Distributors offered as parents; the list is newest first, as everywhere.
const MAX_PARENT_CHOICES: i64 = 500;

/// A partner as a row of a table (the partner page's resellers).
struct PartnerRow {
    id: String,
    name: String,
    types: String,
    status: PartnerStatus,
    country: String,
}

impl From<Partner> for PartnerRow {
    fn from(p: Partner) -> Self {
        Self {
            id: p.id.to_string(),
            types: display::partner_types(&p.types),
            name: p.name,
            status: p.status,
            country: p.country.unwrap_or_default(),
        }
    }
}

/// 403 unless the caller may create and change partners (owner, admin, channel manager).
pub(super) fn require_partner_manager(scope: &Scope) -> Result<(), Error> {
    if staff_role(scope)?.manages_partners() { Ok(()) } else { Err(Error::forbidden("your role may not create or change partners")) }
}

/// The distributors a partner may be placed under (never itself), by name; the current parent
/// stays offered even when it is not a distributor.
async fn parent_choices(tx: &mut ScopedTx, scope: &Scope, partner: Option<&Partner>) -> Result<Vec<Choice>, Error> {
    let filter =
        PartnerFilter { partner_type: Some(PartnerType::Distributor), limit: Some(MAX_PARENT_CHOICES), ..PartnerFilter::default() };
    let mut choices: Vec<Choice> = partners::list_in(tx, scope, &filter)
        .await?
        .items
        .into_iter()
        .filter(|p| partner.is_none_or(|me| me.id != p.id))
        .map(|p| Choice { value: p.id.to_string(), label: p.name })
        .collect();
    if let Some(parent) = partner.and_then(|p| p.parent_id.as_ref())
        && !choices.iter().any(|c| c.value == parent.as_str())
    {
        choices.push(Choice { value: parent.to_string(), label: parent_view(tx, scope, parent).await?.label() });
    }
    choices.sort_by_key(|c| c.label.to_lowercase());
    Ok(choices)
}

/// The staff members who may be a partner's manager.
pub(super) async fn manager_choices(tx: &mut ScopedTx, scope: &Scope) -> Result<Vec<Choice>, Error> {
    Ok(members::list_in(tx, scope)
        .await?
        .into_iter()
        .map(|m| {
            let who = if m.name.is_empty() { m.email.to_string() } else { m.name };
            Choice { value: m.user_id.to_string(), label: format!("{who} ({})", display::words(m.role.as_str())) }
        })
        .collect())
}

#[derive(Template)]
#[template(path = "console/partner_new.html")]
struct NewPartnerPage {
    layout: Layout,
    csrf_token: String,
    form: FormView,
    types: Vec<Choice>,
    parents: Vec<Choice>,
    managers: Vec<Choice>,
    countries: Vec<Choice>,
    programs: Vec<Choice>,
    partner_roles: Vec<Choice>,
}

async fn new_partner_page(state: &AppState, signed: &Signed, form: FormView, status: StatusCode) -> PageResult {
    require_partner_manager(&signed.scope)?;
    let mut tx = signed.scope.read(&state.ctx).await?;
    let page = NewPartnerPage {
        layout: Layout::signed(state, signed, "New partner", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        form,
        types: Choice::all_of(PartnerType::ALL, PartnerType::as_str),
        parents: parent_choices(&mut tx, &signed.scope, None).await?,
        managers: manager_choices(&mut tx, &signed.scope).await?,
        countries: display::country_choices(),
        programs: trellis_programs::programs::list_in(&mut tx, signed.scope.workspace_id())
            .await?
            .into_iter()
            .map(|p| Choice { value: p.id.to_string(), label: p.name })
            .collect(),
        partner_roles: Choice::all_of(PartnerRole::ALL, PartnerRole::as_str),
    };
    Ok(render_status(status, &page))
}

/// `GET /console/partners/new`
async fn new_partner_form(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage) -> PageResult {
    // A channel manager manages what they create unless they choose otherwise: one restricted to
    // the partners they manage would not even see the new partner otherwise.
    let me = match signed.scope.membership() {
        Membership::Staff { role: VendorRole::ChannelManager, user_id, .. } => user_id.to_string(),
        _ => String::new(),
    };
    let form = FormView::filled(
        "partner",
        NEW_PARTNER_FIELDS,
        vec![("manager_user_id", me), ("user_role", PartnerRole::Admin.as_str().to_owned())],
    );
    new_partner_page(&state, &signed, form, StatusCode::OK).await
}

fn read_new_partner(form: &FormData) -> Result<NewPartner, Error> {
    Ok(NewPartner {
        name: form.value("name").to_owned(),
        contact_email: form.value("contact_email").to_owned(),
        website: form.optional("website").map(str::to_owned),
        country: form.optional("country").map(str::to_owned),
        types: form.choices("types", PartnerType::parse)?,
        parent_id: form.optional_id("parent_id")?,
        manager_user_id: form.optional_id("manager_user_id")?,
    })
}

/// The program and first user of the new partner form, both optional (a blank email: no user).
fn read_program_and_first_user(form: &FormData) -> Result<(Option<NewEnrollment>, Option<FirstUser>), Error> {
    let enrollment = form.optional_id("program_id")?.map(|program_id| NewEnrollment { program_id, tier_id: None });
    let first_user = match form.optional("user_email").map(str::trim).filter(|e| !e.is_empty()) {
        Some(email) => Some(FirstUser {
            email: email.to_owned(),
            name: form.optional("user_name").map(str::to_owned),
            role: form.choice("user_role", PartnerRole::parse).map_err(|_| Error::invalid("user_role", "choose a role"))?,
        }),
        None => None,
    };
    Ok((enrollment, first_user))
}

/// `POST /console/partners`: creates a partner, enrolled in the chosen program and with its first
/// user invited, in one transaction; then shows the invitation link once (and whether it was
/// emailed), or the partner's page when no user was named.
pub(super) async fn create_partner(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let created = match read_new_partner(&form).and_then(|input| Ok((input, read_program_and_first_user(&form)?))) {
        Ok((input, (enrollment, first_user))) => {
            enrollments::create_with_first_user(&state.ctx, &signed.scope, input, enrollment, first_user).await
        }
        Err(err) => Err(err),
    };
    match created {
        Ok((partner, None)) => Ok(see_other(&format!("/console/partners/{}?notice=partner_created", partner.id))),
        Ok((partner, Some(issued))) => Ok(one_time_page(
            &state,
            &signed,
            SECTION,
            OneTime::invitation(
                format!("{} is created and {} is invited", partner.name, issued.invitation.email),
                issued.invitation.email.as_str(),
                issued.url(&state.ctx),
                format!("/console/partners/{}", partner.id),
                "Go to the partner",
                state.web.emails_delivered,
            ),
        )
        .await),
        Err(err) => {
            let errors = field_errors(err, "")?;
            let failed = FormView::failed("partner", NEW_PARTNER_FIELDS, form, errors);
            new_partner_page(&state, &signed, failed, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// A partner's parent: its name, or none when the caller may not see it (a channel manager
/// restricted to assigned partners).
struct ParentView {
    id: String,
    name: Option<String>,
}

impl ParentView {
    fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| "a partner you cannot see".to_owned())
    }
}

async fn parent_view(tx: &mut ScopedTx, scope: &Scope, parent: &PartnerId) -> Result<ParentView, Error> {
    match partners::fetch_visible(tx, scope, parent).await {
        Ok(p) => Ok(ParentView { id: p.id.to_string(), name: Some(p.name) }),
        Err(Error::NotFound) => Ok(ParentView { id: parent.to_string(), name: None }),
        Err(err) => Err(err),
    }
}

/// A status change offered on a partner's page.
struct StatusAction {
    status: &'static str,
    label: &'static str,
    confirm: String,
    danger: bool,
}

/// The console's buttons of the status changes the partner's current status allows, from the one
/// transition table (`trellis_directory::statuses`); the domain service checks them again.
/// Activating an onboarding partner says how many required steps it skips (from its checklist).
fn status_actions(partner: &Partner, onboarding: Option<&super::partner_onboarding::OnboardingCard>) -> Vec<StatusAction> {
    use PartnerStatus::{Active, Suspended, Terminated};
    let name = &partner.name;
    statuses::from(partner.status)
        .filter_map(|tr| {
            let label = tr.button?;
            let (confirm, danger) = match tr.to {
                Suspended => (format!("Suspend {name}? Its users are signed out and its API keys revoked."), true),
                Terminated => {
                    (format!("Terminate {name}? This cannot be undone: its users are signed out and its API keys revoked."), true)
                }
                Active if tr.from == Suspended => {
                    (format!("Reactivate {name}? Its users can sign in again; revoked keys stay revoked."), false)
                }
                Active => match onboarding.and_then(|card| card.activate_confirm.clone()) {
                    Some(confirm) => (confirm, false),
                    None => (format!("{label} {name}?"), false),
                },
                _ => (format!("{label} {name}?"), false),
            };
            Some(StatusAction { status: tr.to.as_str(), label, confirm, danger })
        })
        .collect()
}

#[derive(Template)]
#[template(path = "console/partner.html")]
pub(super) struct PartnerPage {
    layout: Layout,
    csrf_token: String,
    partner: Partner,
    types_text: String,
    created: String,
    parent: Option<ParentView>,
    manager: Option<String>,
    children: Vec<PartnerRow>,
    users: Vec<UserRow>,
    /// `None` when the caller may not manage the partner's keys (only workspace owners/admins may).
    keys: Option<Vec<KeyRow>>,
    /// Where the key forms post: `…/api-keys` and `…/api-keys/{key}/revoke`.
    keys_path: String,
    /// Where the user forms post: `…/users` and `…/users/{user}/…`.
    users_path: String,
    /// Pending invitations to the partner (for staff who manage its users).
    invitations: Vec<crate::display::InvitationRow>,
    invitations_path: String,
    can_edit: bool,
    /// Owners and admins read the users' sign-in histories.
    can_see_sign_ins: bool,
    invite: FormView,
    new_key: FormView,
    edit: FormView,
    partner_roles: Vec<Choice>,
    types: Vec<Choice>,
    parents: Vec<Choice>,
    managers: Vec<Choice>,
    countries: Vec<Choice>,
    /// The partner's country by name.
    country_name: Option<String>,
    status_actions: Vec<StatusAction>,
    pub(super) lifecycle: super::partner_lifecycle::Sections,
    /// The "Programs & tiers" card (console/partner_programs.html).
    programs: super::partner_programs::ProgramsCard,
    /// The "Onboarding" card, when the partner's programs have onboarding steps.
    onboarding: Option<super::partner_onboarding::OnboardingCard>,
    /// The "Payout method" card: for owners, admins and finance only (`payout_methods::may_manage`).
    shows_payout_method: bool,
    payout_method: Option<display::PayoutMethodSummary>,
}

/// The edit form filled with the partner's current details.
fn edit_form(partner: &Partner) -> FormView {
    let mut values = vec![
        ("name", partner.name.clone()),
        ("contact_email", partner.contact_email.clone()),
        ("website", partner.website.clone().unwrap_or_default()),
        ("country", partner.country.clone().unwrap_or_default()),
        ("parent_id", partner.parent_id.as_ref().map(PartnerId::to_string).unwrap_or_default()),
        ("manager_user_id", partner.manager_user_id.as_ref().map(UserId::to_string).unwrap_or_default()),
    ];
    values.extend(partner.types.iter().map(|t| ("types", t.as_str().to_owned())));
    FormView::filled("edit", PARTNER_FIELDS, values)
}

/// A blank invitation form; the role starts at the least one (member).
fn invite_form() -> FormView {
    FormView::filled("invite", INVITE_FIELDS, vec![("role", PartnerRole::Member.as_str().to_owned())])
}

/// A partner's page with blank forms. An invisible or unknown partner is 404. Everything on it is
/// read in one read transaction, with one visibility check of the partner (and one of its
/// parent, which the caller may not see): every section reads through the [`SeenPartner`].
pub(super) async fn partner_page(state: &AppState, signed: &Signed, id: &PartnerId) -> Result<PartnerPage, Error> {
    let scope = &signed.scope;
    let role = staff_role(scope)?;
    let mut tx = scope.read(&state.ctx).await?;
    let (seen, partner) = partners::see(&mut tx, scope, id).await?;
    let tx = &mut tx;
    let parent = match &partner.parent_id {
        Some(parent) => Some(parent_view(tx, scope, parent).await?),
        None => None,
    };
    let children = partners::children_in(tx, scope, &seen, MAX_PARENT_CHOICES).await?.items;
    let users = partner_users::list_in(tx, scope, &seen).await?;
    let can_edit = role.manages_partners();
    let invitations = if can_edit {
        invitations::list_for_partner_in(tx, scope, &seen, state.ctx.now())
            .await?
            .into_iter()
            .map(crate::display::InvitationRow::from)
            .collect()
    } else {
        Vec::new()
    };
    let keys = if role.is_workspace_admin() {
        Some(api_keys::list_for_partner_in(tx, scope, &seen).await?.into_iter().map(|k| KeyRow::new(k, |_| None)).collect())
    } else {
        None
    };
    let managers = manager_choices(tx, scope).await?;
    let manager = partner.manager_user_id.as_ref().and_then(|m| managers.iter().find(|c| c.value == m.as_str())).map(|c| c.label.clone());
    let parents = if can_edit { parent_choices(tx, scope, Some(&partner)).await? } else { Vec::new() };
    let lifecycle = super::partner_lifecycle::sections(state, tx, scope, &seen).await?;
    let programs = super::partner_programs::card(state, tx, scope, &seen).await?;
    let onboarding = super::partner_onboarding::card(tx, scope, &seen, &partner.name).await?;
    let shows_payout_method = payout_methods::may_manage(scope);
    let payout_method = if shows_payout_method {
        payout_methods::get_in(&state.ctx, tx, scope, &seen).await?.map(|m| display::payout_method(&m, state.ctx.now()))
    } else {
        None
    };
    Ok(PartnerPage {
        layout: Layout::signed(state, signed, partner.name.clone(), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        types_text: display::partner_types(&partner.types),
        created: display::time(partner.created_at),
        parent,
        manager,
        children: children.into_iter().map(PartnerRow::from).collect(),
        users: display::user_rows(users),
        keys,
        keys_path: format!("/console/partners/{id}/api-keys"),
        users_path: format!("/console/partners/{id}/users"),
        invitations,
        invitations_path: format!("/console/partners/{id}/invitations"),
        can_edit,
        can_see_sign_ins: scope.vendor_role().is_some_and(trellis_core::VendorRole::is_workspace_admin),
        invite: invite_form(),
        new_key: FormView::new("key", KEY_FIELDS),
        edit: edit_form(&partner),
        partner_roles: Choice::all_of(PartnerRole::ALL, PartnerRole::as_str),
        types: Choice::all_of(PartnerType::ALL, PartnerType::as_str),
        parents,
        managers,
        countries: if can_edit { display::country_choices() } else { Vec::new() },
        country_name: partner.country.as_deref().map(|c| trellis_directory::countries::name(c).to_owned()),
        status_actions: if can_edit { status_actions(&partner, onboarding.as_ref()) } else { Vec::new() },
        lifecycle,
        programs,
        onboarding,
        shows_payout_method,
        payout_method,
        partner,
    })
}

/// The partner's page again with one form showing what was wrong (422).
async fn show_failed(state: &AppState, signed: &Signed, id: &PartnerId, set_form: impl FnOnce(&mut PartnerPage)) -> PageResult {
    let mut page = partner_page(state, signed, id).await?;
    set_form(&mut page);
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// The partner's page again with a form of the "Programs & tiers" card showing what was wrong.
pub(super) async fn show_failed_card(
    state: &AppState,
    signed: &Signed,
    id: &PartnerId,
    set_form: impl FnOnce(&mut super::partner_programs::ProgramsCard),
) -> PageResult {
    show_failed(state, signed, id, |page| set_form(&mut page.programs)).await
}

/// `GET /console/partners/{id}`
async fn show_partner(
    State(state): State<AppState>,
    StaffPage { signed, .. }: StaffPage,
    Path(id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let mut page = partner_page(&state, &signed, &path_id(&id)?).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

fn read_partner_patch(form: &FormData, before: &Partner) -> Result<PartnerPatch, Error> {
    let parent_id: Option<PartnerId> = form.optional_id("parent_id")?;
    let manager_user_id: Option<UserId> = form.optional_id("manager_user_id")?;
    Ok(PartnerPatch {
        name: Some(form.value("name").to_owned()),
        contact_email: Some(form.value("contact_email").to_owned()),
        website: Some(form.optional("website").map(str::to_owned)),
        country: Some(form.optional("country").map(str::to_owned)),
        types: Some(form.choices("types", PartnerType::parse)?),
        status: None,
        // Unchanged relations are left out: a parent the editor cannot see must stay as it is,
        // and re-checking an unchanged one would refuse it.
        parent_id: (parent_id != before.parent_id).then_some(parent_id),
        manager_user_id: (manager_user_id != before.manager_user_id).then_some(manager_user_id),
    })
}

/// `POST /console/partners/{id}`: saves the edit form.
async fn update_partner(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let before = partners::get(&state.ctx, &signed.scope, &id).await?;
    let updated = match read_partner_patch(&form, &before) {
        Ok(patch) => partners::update(&state.ctx, &signed.scope, &id, patch).await,
        Err(err) => Err(err),
    };
    match updated {
        Ok(_) => Ok(see_other(&format!("/console/partners/{id}?notice=saved"))),
        Err(err) => {
            let errors = field_errors(err, "")?;
            show_failed(&state, &signed, &id, |page| page.edit = FormView::failed("edit", PARTNER_FIELDS, form, errors)).await
        }
    }
}

/// `POST /console/partners/{id}/status`: suspend, reactivate or terminate.
async fn change_status(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let status = form.choice("status", PartnerStatus::parse)?;
    partners::update(&state.ctx, &signed.scope, &id, PartnerPatch { status: Some(status), ..PartnerPatch::default() }).await?;
    Ok(see_other(&format!("/console/partners/{id}?notice=status_changed")))
}

/// `POST /console/partners/{id}/users`: invites a person and shows their invitation link once.
async fn invite_user(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let invited = match form.choice("role", PartnerRole::parse) {
        Ok(role) => {
            trellis_directory::partners::invite_user(&state.ctx, &signed.scope, &id, form.value("email"), form.optional("name"), role).await
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
                format!("/console/partners/{id}#users"),
                "Back to the partner",
                state.web.emails_delivered,
            ),
        )
        .await),
        Err(err) => {
            let errors = field_errors(err, "email")?;
            show_failed(&state, &signed, &id, |page| page.invite = FormView::failed("invite", INVITE_FIELDS, form, errors)).await
        }
    }
}

/// `POST /console/partners/{id}/invitations/{invitation_id}/cancel`: the link stops working at once.
async fn cancel_invitation(
    State(state): State<AppState>,
    Path((id, invitation_id)): Path<(String, String)>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    invitations::cancel(&state.ctx, &signed.scope, &path_id(&invitation_id)?).await?;
    Ok(see_other(&format!("/console/partners/{id}?notice=invitation_cancelled#users")))
}

/// `POST /console/partners/{id}/users/{user_id}/role`
async fn change_user_role(
    State(state): State<AppState>,
    Path((id, user_id)): Path<(String, String)>,
    StaffForm { signed, form }: StaffForm,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let role = form.choice("role", PartnerRole::parse)?;
    let changed = partner_users::update_role(&state.ctx, &signed.scope, &id, &path_id(&user_id)?, role).await;
    keeps_an_admin(changed, &format!("/console/partners/{id}"), "role_changed")
}

/// `POST /console/partners/{id}/users/{user_id}/remove`
async fn remove_user(
    State(state): State<AppState>,
    Path((id, user_id)): Path<(String, String)>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let removed = partner_users::remove(&state.ctx, &signed.scope, &id, &path_id(&user_id)?).await;
    keeps_an_admin(removed, &format!("/console/partners/{id}"), "user_removed")
}

/// `POST /console/partners/{id}/api-keys`: creates a partner key and shows its secret once.
async fn create_key(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let created = match form.choice("role", PartnerRole::parse) {
        Ok(role) => {
            let scopes = requested_scopes(&form);
            api_keys::create_partner_key(&state.ctx, &signed.scope, &id, form.value("name"), scopes.as_deref(), Some(role)).await
        }
        Err(err) => Err(err),
    };
    match created {
        Ok(created) => Ok(one_time_page(
            &state,
            &signed,
            SECTION,
            OneTime::api_key(
                &created.key.name,
                KEY_EXPLANATION.to_owned(),
                created.secret,
                format!("/console/partners/{id}#keys"),
                "Back to the partner",
            ),
        )
        .await),
        Err(err) => {
            let errors = field_errors(err, "name")?;
            show_failed(&state, &signed, &id, |page| page.new_key = FormView::failed("key", KEY_FIELDS, form, errors)).await
        }
    }
}

/// `POST /console/partners/{id}/api-keys/{key_id}/revoke`
async fn revoke_key(
    State(state): State<AppState>,
    Path((id, key_id)): Path<(String, String)>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    api_keys::revoke(&state.ctx, &signed.scope, &path_id(&key_id)?).await?;
    Ok(see_other(&format!("/console/partners/{id}?notice=key_revoked#keys")))
}

/// `GET /console/partners/{id}/users/{user_id}/sign-ins`: a partner user's sign-in history, with
/// "Sign out everywhere" (owners and admins).
async fn user_sign_ins(
    State(state): State<AppState>,
    Path((id, user_id)): Path<(String, String)>,
    StaffPage { signed, .. }: StaffPage,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let user_id: UserId = path_id(&user_id)?;
    let back = (format!("/console/partners/{id}"), "Back to the partner");
    let users_path = format!("/console/partners/{id}/users");
    Ok(render(&partner_user_sign_ins(&state, &signed, &id, &user_id, back, &users_path, SECTION).await?))
}

/// `POST /console/partners/{id}/users/{user_id}/sessions/end`
async fn end_user_sessions(
    State(state): State<AppState>,
    Path((id, user_id)): Path<(String, String)>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    partner_users::end_sessions(&state.ctx, &signed.scope, &path_id(&user_id)?).await?;
    Ok(see_other(&format!("/console/partners/{id}?notice=user_sessions_ended")))
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route("/console/partners/new", get(new_partner_form))
        .route("/console/partners/{id}", get(show_partner).post(update_partner))
        .route("/console/partners/{id}/status", post(change_status))
        .route("/console/partners/{id}/users", post(invite_user))
        .route("/console/partners/{id}/invitations/{invitation_id}/cancel", post(cancel_invitation))
        .route("/console/partners/{id}/users/{user_id}/role", post(change_user_role))
        .route("/console/partners/{id}/users/{user_id}/remove", post(remove_user))
        .route("/console/partners/{id}/users/{user_id}/sign-ins", get(user_sign_ins))
        .route("/console/partners/{id}/users/{user_id}/sessions/end", post(end_user_sessions))
        .route("/console/partners/{id}/api-keys", post(create_key))
        .route("/console/partners/{id}/api-keys/{key_id}/revoke", post(revoke_key))
}
