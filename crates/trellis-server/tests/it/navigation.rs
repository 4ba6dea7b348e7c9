//! The navigation cannot disagree with the services (issue 7): for every vendor role and every
//! partner role, each entry the main navigation shows is a page that answers 200 for that person,
//! and each entry it hides is one the service refuses them (403, or 404 where the page does not
//! exist for them).

use trellis_core::{PartnerId, PartnerRole, VendorRole};
use trellis_identity::{Scope, partner_users};
use trellis_server::demo::accept_as_operator;
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{TEST_FIXTURES, TestApp};

use crate::pages::sign_in;

/// Every entry either navigation may show, as its link.
const EVERY_ENTRY: &[&str] = &[
    "/console/partners",
    "/console/deals",
    "/console/leads",
    "/console/staff",
    "/console/api-keys",
    "/console/programs",
    "/console/compliance",
    "/console/profile-changes",
    "/console/commissions",
    "/console/applications?status=applied",
    "/console/audit",
    "/console/outbox",
    "/console/settings",
    "/portal/profile",
    "/portal/deals",
    "/portal/leads",
    "/portal/links",
    "/portal/earnings",
    "/portal/statements",
    "/portal/users",
    "/portal/onboarding",
    "/portal/licences",
    "/portal/contracts",
    "/portal/api-keys",
    "/portal/payout-method",
    "/portal/resellers",
];

/// The links of the page's main navigation, unescaped.
fn nav_links(html: &str) -> Vec<String> {
    let Some(nav) = html.split(r#"<nav aria-label="Main">"#).nth(1).and_then(|rest| rest.split("</nav>").next()) else {
        return Vec::new();
    };
    nav.split(r#"<a href=""#)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&#x2f;", "/").replace("&#x3d;", "=").replace("&#61;", "=").replace("&amp;", "&"))
        .collect()
}

/// A fresh user of `partner` with `role`, signed up through an invitation like any other.
async fn partner_person(app: &TestApp, f: &Fixture, partner: &PartnerId, email: &str, role: PartnerRole) -> String {
    let system = Scope::system(f.workspace_id.clone(), &TEST_FIXTURES);
    let invitation = partner_users::invite(&app.state.ctx, &system, partner, email, None, role).await.expect("invited");
    accept_as_operator(&app.state.ctx, &invitation.token, None, PASSWORD).await.expect("accepted");
    email.to_owned()
}

#[tokio::test]
async fn every_role_sees_the_entries_it_may_open_and_no_other() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let staff = [
        (VendorRole::Owner, f.owner.email.clone()),
        (VendorRole::Admin, f.admin.email.clone()),
        (VendorRole::ChannelManager, f.channel_manager.email.clone()),
        (VendorRole::ChannelManager, f.assigned_manager.email.clone()),
        (VendorRole::Finance, f.finance.email.clone()),
        (VendorRole::Viewer, f.viewer.email.clone()),
    ];
    let partners = [
        (PartnerRole::Admin, f.d1_admin.email.clone()),
        (PartnerRole::Member, f.d1_member.email.clone()),
        (PartnerRole::Admin, f.r1a_admin.email.clone()),
        (PartnerRole::Member, f.r1a_member.email.clone()),
        (PartnerRole::Sales, partner_person(&app, &f, &f.r1a, "sales@r1a.example", PartnerRole::Sales).await),
        (PartnerRole::Marketing, partner_person(&app, &f, &f.r1a, "marketing@r1a.example", PartnerRole::Marketing).await),
        (PartnerRole::Finance, partner_person(&app, &f, &f.d1, "finance@d1.example", PartnerRole::Finance).await),
    ];
    assert!(VendorRole::ALL.iter().all(|role| staff.iter().any(|(r, _)| r == role)), "a vendor role is not covered");
    assert!(PartnerRole::ALL.iter().all(|role| partners.iter().any(|(r, _)| r == role)), "a partner role is not covered");

    let people =
        staff.iter().map(|(role, email)| (role.as_str(), email)).chain(partners.iter().map(|(role, email)| (role.as_str(), email)));
    let mut problems = Vec::new();
    let mut ever_shown: Vec<String> = Vec::new();
    for (role, email) in people {
        let person = sign_in(&app, email).await;
        let home = person.get("/").await;
        assert_eq!(home.status, 200, "{email}: {}", home.text);
        let shown = nav_links(&home.text);
        assert!(!shown.is_empty(), "{email} ({role}) has no navigation");
        for entry in EVERY_ENTRY {
            let page = person.get(entry).await;
            let offered = shown.iter().any(|s| s == entry);
            match (offered, page.status) {
                (true, 200) | (false, 403 | 404) => {}
                (true, status) => problems.push(format!("{email} ({role}) is offered {entry}, which answers {status}")),
                (false, status) => problems.push(format!("{email} ({role}) is not offered {entry}, which answers {status}")),
            }
        }
        problems.extend(shown.iter().filter(|s| !EVERY_ENTRY.contains(&s.as_str())).map(|s| format!("{email}: unknown entry {s}")));
        ever_shown.extend(shown);
    }
    assert!(problems.is_empty(), "the navigation disagrees with the services:\n{}", problems.join("\n"));
    let never: Vec<&&str> = EVERY_ENTRY.iter().filter(|e| !ever_shown.iter().any(|s| s == *e)).collect();
    assert!(never.is_empty(), "entries nobody is offered (the list above is stale): {never:?}");
}
