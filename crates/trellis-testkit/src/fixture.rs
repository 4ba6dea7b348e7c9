//! The standard fixture (notes/reliability.md "Fixture"): one workspace with staff in every role
//! and the partner forest
//!
//! ```text
//! D1 (distributor) ─┬─ R1a (reseller)
//!                   └─ R1b (reseller)
//! D2 (distributor) ─── R2a (reseller)
//! P3 (direct partner)
//! ```
//!
//! with partner users in each, a channel manager restricted to D1's subtree, and a second
//! workspace whose people must never see the first one's data.

use trellis_core::{PartnerId, PartnerRole, PartnerScopeSetting, PartnerType, VendorRole, WorkspaceId};
use trellis_directory::{NewPartner, partners};
use trellis_identity::{Scope, members, partner_users, workspaces};
use trellis_server::demo::accept_as_operator;

use crate::TestApp;

pub const PASSWORD: &str = "fixture-password-1";

/// A person who can sign in, with a bearer token from `POST /api/v1/auth/login`.
#[derive(Debug, Clone)]
pub struct Identity {
    pub label: &'static str,
    pub email: String,
    pub user_id: String,
    pub token: String,
}

#[derive(Debug, Clone)]
pub struct Fixture {
    pub workspace_id: WorkspaceId,
    pub owner: Identity,
    pub admin: Identity,
    pub channel_manager: Identity,
    /// A channel manager with `partner_scope: "assigned"`, managing D1 (and so seeing R1a, R1b).
    pub assigned_manager: Identity,
    pub finance: Identity,
    pub viewer: Identity,
    pub d1: PartnerId,
    pub r1a: PartnerId,
    pub r1b: PartnerId,
    pub d2: PartnerId,
    pub r2a: PartnerId,
    pub p3: PartnerId,
    pub d1_admin: Identity,
    pub d1_member: Identity,
    pub r1a_admin: Identity,
    pub r1a_member: Identity,
    pub r1b_admin: Identity,
    pub d2_admin: Identity,
    pub r2a_member: Identity,
    pub p3_admin: Identity,
    /// The owner's bootstrap workspace key.
    pub owner_key: String,
    /// An admin partner key of R1a.
    pub r1a_key: String,
    /// A revoked workspace key of the admin.
    pub revoked_key: String,
    /// Another workspace, its owner and one of its partners.
    pub other_workspace_id: WorkspaceId,
    pub other_owner: Identity,
    pub other_partner: PartnerId,
    pub other_partner_admin: Identity,
}

async fn staff(app: &TestApp, system: &Scope, label: &'static str, email: &str, role: VendorRole, scope: PartnerScopeSetting) -> Identity {
    let invitation = members::add(&app.state.ctx, system, email, Some(label), role, Some(scope)).await.expect("add staff");
    let user_id = accept_as_operator(&app.state.ctx, &invitation.token, None, PASSWORD).await.expect("accept");
    Identity { label, email: email.to_owned(), user_id: user_id.to_string(), token: app.login(email, PASSWORD).await }
}

async fn partner_user(app: &TestApp, system: &Scope, label: &'static str, partner: &PartnerId, email: &str, role: PartnerRole) -> Identity {
    let invitation = partner_users::invite(&app.state.ctx, system, partner, email, Some(label), role).await.expect("invite");
    let user_id = accept_as_operator(&app.state.ctx, &invitation.token, None, PASSWORD).await.expect("accept");
    Identity { label, email: email.to_owned(), user_id: user_id.to_string(), token: app.login(email, PASSWORD).await }
}

/// Adds a staff member with a password to `workspace_id` and signs them in.
pub async fn add_staff(
    app: &TestApp,
    workspace_id: &WorkspaceId,
    label: &'static str,
    email: &str,
    role: VendorRole,
    scope: PartnerScopeSetting,
) -> Identity {
    staff(app, &Scope::system(workspace_id.clone(), &crate::TEST_FIXTURES), label, email, role, scope).await
}

/// Adds a user with a password to a partner of `workspace_id` and signs them in.
pub async fn add_partner_user(
    app: &TestApp,
    workspace_id: &WorkspaceId,
    label: &'static str,
    partner: &PartnerId,
    email: &str,
    role: PartnerRole,
) -> Identity {
    partner_user(app, &Scope::system(workspace_id.clone(), &crate::TEST_FIXTURES), label, partner, email, role).await
}

async fn partner(
    app: &TestApp,
    system: &Scope,
    name: &str,
    types: &[PartnerType],
    parent: Option<&PartnerId>,
    manager: Option<&str>,
) -> PartnerId {
    let input = NewPartner {
        name: name.to_owned(),
        contact_email: format!("contact@{}.example", name.to_lowercase()),
        website: None,
        country: Some("DE".into()),
        types: types.to_vec(),
        parent_id: parent.cloned(),
        manager_user_id: manager.map(|m| m.parse().expect("user id")),
    };
    partners::create(&app.state.ctx, system, input).await.expect("create partner").id
}

impl Fixture {
    pub async fn build(app: &TestApp) -> Self {
        let ctx = &app.state.ctx;
        let boot = workspaces::bootstrap(ctx, "Vendor", "owner@vendor.example", PASSWORD, "EUR").await.expect("bootstrap");
        let system = Scope::system(boot.workspace_id.clone(), &crate::TEST_FIXTURES);
        let owner = Identity {
            label: "owner",
            email: "owner@vendor.example".into(),
            user_id: boot.owner_user_id.to_string(),
            token: app.login("owner@vendor.example", PASSWORD).await,
        };
        let admin = staff(app, &system, "admin", "admin@vendor.example", VendorRole::Admin, PartnerScopeSetting::All).await;
        let channel_manager =
            staff(app, &system, "channel_manager", "cm@vendor.example", VendorRole::ChannelManager, PartnerScopeSetting::All).await;
        let assigned_manager = staff(
            app,
            &system,
            "assigned_manager",
            "cm-assigned@vendor.example",
            VendorRole::ChannelManager,
            PartnerScopeSetting::Assigned,
        )
        .await;
        let finance = staff(app, &system, "finance", "finance@vendor.example", VendorRole::Finance, PartnerScopeSetting::All).await;
        let viewer = staff(app, &system, "viewer", "viewer@vendor.example", VendorRole::Viewer, PartnerScopeSetting::All).await;
        workspaces::update(ctx, &system, workspaces::WorkspacePatch { distributors_manage_resellers: Some(true), ..Default::default() })
            .await
            .expect("settings");

        let d1 = partner(app, &system, "D1", &[PartnerType::Distributor], None, Some(&assigned_manager.user_id)).await;
        let r1a = partner(app, &system, "R1a", &[PartnerType::Reseller], Some(&d1), None).await;
        let r1b = partner(app, &system, "R1b", &[PartnerType::Reseller, PartnerType::Referral], Some(&d1), None).await;
        let d2 = partner(app, &system, "D2", &[PartnerType::Distributor], None, None).await;
        let r2a = partner(app, &system, "R2a", &[PartnerType::Reseller], Some(&d2), None).await;
        let p3 = partner(app, &system, "P3", &[PartnerType::Referral], None, None).await;

        let d1_admin = partner_user(app, &system, "d1_admin", &d1, "admin@d1.example", PartnerRole::Admin).await;
        let d1_member = partner_user(app, &system, "d1_member", &d1, "member@d1.example", PartnerRole::Member).await;
        let r1a_admin = partner_user(app, &system, "r1a_admin", &r1a, "admin@r1a.example", PartnerRole::Admin).await;
        let r1a_member = partner_user(app, &system, "r1a_member", &r1a, "member@r1a.example", PartnerRole::Member).await;
        let r1b_admin = partner_user(app, &system, "r1b_admin", &r1b, "admin@r1b.example", PartnerRole::Admin).await;
        let d2_admin = partner_user(app, &system, "d2_admin", &d2, "admin@d2.example", PartnerRole::Admin).await;
        let r2a_member = partner_user(app, &system, "r2a_member", &r2a, "member@r2a.example", PartnerRole::Member).await;
        let p3_admin = partner_user(app, &system, "p3_admin", &p3, "admin@p3.example", PartnerRole::Admin).await;

        let r1a_key =
            app.post(&format!("/api/v1/partners/{r1a}/api-keys"), &owner.token, serde_json::json!({"name": "r1a integration"})).await;
        assert_eq!(r1a_key.status, 201, "{}", r1a_key.text);
        let revoked = app.post("/api/v1/api-keys", &admin.token, serde_json::json!({"name": "to revoke"})).await;
        assert_eq!(revoked.status, 201, "{}", revoked.text);
        let revoked_id = revoked.body["id"].as_str().expect("id").to_owned();
        assert_eq!(app.delete(&format!("/api/v1/api-keys/{revoked_id}"), &admin.token).await.status, 204);

        let other = workspaces::bootstrap(ctx, "Other vendor", "owner@other.example", PASSWORD, "USD").await.expect("bootstrap other");
        let other_system = Scope::system(other.workspace_id.clone(), &crate::TEST_FIXTURES);
        let other_owner = Identity {
            label: "other_owner",
            email: "owner@other.example".into(),
            user_id: other.owner_user_id.to_string(),
            token: app.login("owner@other.example", PASSWORD).await,
        };
        let other_partner = partner(app, &other_system, "OtherP", &[PartnerType::Reseller], None, None).await;
        let other_partner_admin =
            partner_user(app, &other_system, "other_partner_admin", &other_partner, "admin@otherp.example", PartnerRole::Admin).await;

        Self {
            workspace_id: boot.workspace_id,
            owner,
            admin,
            channel_manager,
            assigned_manager,
            finance,
            viewer,
            d1,
            r1a,
            r1b,
            d2,
            r2a,
            p3,
            d1_admin,
            d1_member,
            r1a_admin,
            r1a_member,
            r1b_admin,
            d2_admin,
            r2a_member,
            p3_admin,
            owner_key: boot.api_key,
            r1a_key: r1a_key.body["key"].as_str().expect("key").to_owned(),
            revoked_key: revoked.body["key"].as_str().expect("key").to_owned(),
            other_workspace_id: other.workspace_id,
            other_owner,
            other_partner,
            other_partner_admin,
        }
    }
}

/// The programs taking deal registrations that [`deal_programs`] adds to a fixture.
#[derive(Debug, Clone)]
pub struct DealPrograms {
    /// "Deals" of the main workspace: D1, R1a, R1b, D2, R2a and P3 are enrolled.
    pub main: trellis_core::ProgramId,
    /// "Other deals" of the other workspace: its partner is enrolled.
    pub other: trellis_core::ProgramId,
}

/// Adds one program taking deal registrations to each workspace of the fixture and enrolls every
/// fixture partner in its workspace's program, so that each may register deals. Opt-in (the deal
/// tests and the authorization matrix call it), so the standard fixture stays as other tests know it.
pub async fn deal_programs(app: &TestApp, f: &Fixture) -> DealPrograms {
    async fn program(
        app: &TestApp,
        workspace_id: &WorkspaceId,
        name: &str,
        slug: &str,
        partners: &[&PartnerId],
    ) -> trellis_core::ProgramId {
        let system = Scope::system(workspace_id.clone(), &crate::TEST_FIXTURES);
        let input = trellis_programs::NewProgram {
            name: name.to_owned(),
            slug: slug.to_owned(),
            deal_registration: Some(true),
            ..Default::default()
        };
        let program = trellis_programs::programs::create(&app.state.ctx, &system, input).await.expect("deal program");
        for partner in partners {
            let enrollment = trellis_programs::enrollments::NewEnrollment { program_id: program.id.clone(), tier_id: None };
            trellis_programs::enrollments::enroll(&app.state.ctx, &system, partner, enrollment).await.expect("enroll in the deal program");
        }
        program.id
    }
    let main = program(app, &f.workspace_id, "Deals", "fixture-deals", &[&f.d1, &f.r1a, &f.r1b, &f.d2, &f.r2a, &f.p3]).await;
    let other = program(app, &f.other_workspace_id, "Other deals", "fixture-other-deals", &[&f.other_partner]).await;
    DealPrograms { main, other }
}
