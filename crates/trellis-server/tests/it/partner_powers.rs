//! What partners may not do to partners (issue 6 F1): status changes are the vendor's, even for a
//! distributor managing its resellers; the one status transition table drives the API, the
//! console buttons and docs/API.md.

use serde_json::json;
use trellis_db::sql;
use trellis_testkit::TestApp;
use trellis_testkit::fixture::Fixture;

use crate::pages::sign_in;

async fn status_of(app: &TestApp, f: &Fixture, partner: &trellis_core::PartnerId) -> String {
    let reply = app.get(&format!("/api/v1/partners/{partner}"), &f.owner.token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["status"].as_str().expect("status").to_owned()
}

async fn audit_count(app: &TestApp, f: &Fixture, action: &str) -> i64 {
    app.query_i64(sql!("SELECT COUNT(*) FROM audit_events WHERE workspace_id = $1 AND action = $2", f.workspace_id, action)).await
}

#[tokio::test]
async fn a_distributor_admin_cannot_suspend_reactivate_or_terminate_its_reseller() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let reseller = format!("/api/v1/partners/{}", f.r1a);

    for status in ["suspended", "terminated", "active"] {
        let reply = app.patch(&reseller, &f.d1_admin.token, json!({"status": status})).await;

        assert_eq!(reply.status, 403, "distributor setting {status}: {}", reply.text);
        assert_eq!(reply.body["code"], "forbidden");
    }
    assert_eq!(status_of(&app, &f, &f.r1a).await, "active");
    assert_eq!(app.get(&reseller, &f.r1a_admin.token).await.status, 200, "the reseller's session still works");
    assert_eq!(app.get(&reseller, &f.r1a_key).await.status, 200, "the reseller's key still works");

    // A suspension the vendor set cannot be lifted by the distributor either.
    assert_eq!(app.patch(&reseller, &f.owner.token, json!({"status": "suspended"})).await.status, 200);
    let lift = app.patch(&reseller, &f.d1_admin.token, json!({"status": "active"})).await;

    assert_eq!(lift.status, 403, "{}", lift.text);
    assert_eq!(status_of(&app, &f, &f.r1a).await, "suspended");
    assert_eq!(audit_count(&app, &f, "partner.reactivated").await, 0);
    // Other details stay the distributor's to edit.
    let edit = app.patch(&reseller, &f.d1_admin.token, json!({"website": "https://r1a-new.example"})).await;
    assert_eq!(edit.status, 200, "{}", edit.text);
    // And the vendor keeps the last word: terminating still works (no 409 from a prior termination).
    assert_eq!(app.patch(&reseller, &f.owner.token, json!({"status": "terminated"})).await.status, 200);
}

#[tokio::test]
async fn a_partner_admin_cannot_change_its_own_status_even_to_the_same_value() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;

    let reply = app.patch(&format!("/api/v1/partners/{}", f.d1), &f.d1_admin.token, json!({"status": "active"})).await;

    assert_eq!(reply.status, 403, "{}", reply.text);
}

#[tokio::test]
async fn status_changes_follow_the_transition_table_and_record_its_action() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let p3 = format!("/api/v1/partners/{}", f.p3);

    for (to, action) in [("suspended", "partner.suspended"), ("active", "partner.reactivated"), ("terminated", "partner.terminated")] {
        let before = audit_count(&app, &f, action).await;
        let reply = app.patch(&p3, &f.owner.token, json!({"status": to})).await;

        assert_eq!(reply.status, 200, "{to}: {}", reply.text);
        assert_eq!(audit_count(&app, &f, action).await, before + 1, "{to} is audited as {action}");
    }
    let reply = app.patch(&p3, &f.owner.token, json!({"status": "active"})).await;
    assert_eq!(reply.status, 409, "terminated is final: {}", reply.text);
}

#[test]
fn docs_api_md_prints_the_partner_status_transition_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md");
    let docs = std::fs::read_to_string(path).expect("docs/API.md");
    let table = trellis_directory::statuses::markdown_table();

    assert!(docs.contains(&table), "docs/API.md must contain the table of trellis_directory::statuses:\n{table}");
}

#[tokio::test]
async fn the_console_offers_the_status_buttons_of_the_table_and_the_portal_none() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let owner = sign_in(&app, &f.owner.email).await;

    let page = owner.get(&format!("/console/partners/{}", f.r1a)).await;

    assert_eq!(page.status, 200, "{}", page.text);
    let offered: Vec<&str> =
        page.text.split(r#"<input type="hidden" name="status" value=""#).skip(1).filter_map(|rest| rest.split('"').next()).collect();
    let expected: Vec<&str> = trellis_directory::statuses::from(trellis_core::PartnerStatus::Active)
        .filter(|tr| tr.button.is_some())
        .map(|tr| tr.to.as_str())
        .collect();
    assert_eq!(offered, expected);

    let distributor = sign_in(&app, &f.d1_admin.email).await;
    let resellers = distributor.get("/portal/resellers").await;
    assert_eq!(resellers.status, 200, "{}", resellers.text);
    assert!(!resellers.text.contains(r#"name="status""#), "the resellers page offers a status change");
    let forced = distributor.submit(&format!("/console/partners/{}/status", f.r1a), &[("status", "suspended")]).await;
    assert!(matches!(forced.status, 403 | 404), "a distributor posting the console's status form: {}", forced.status);
    assert_eq!(status_of(&app, &f, &f.r1a).await, "active");
}

// ---------------------------------------------------------------------------------------------
// A distributor's reseller page (issue 8)

#[tokio::test]
async fn a_distributor_opens_its_resellers_page_sees_its_users_and_invites_one_but_not_a_stranger_reseller() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let admin = sign_in(&app, &f.d1_admin.email).await;
    let member = sign_in(&app, &f.d1_member.email).await;
    let reseller_page = format!("/portal/resellers/{}", f.r1a);

    let list = admin.get("/portal/resellers").await;
    let page = admin.get(&reseller_page).await;
    let invited =
        admin.submit(&format!("{reseller_page}/users"), &[("email", "new.rep@r1a.example"), ("name", "New Rep"), ("role", "sales")]).await;
    let missing_email = admin.submit(&format!("{reseller_page}/users"), &[("email", ""), ("role", "sales")]).await;
    let stranger = admin.get(&format!("/portal/resellers/{}", f.r2a)).await;
    let stranger_invite =
        admin.submit(&format!("/portal/resellers/{}/users", f.r2a), &[("email", "x@r2a.example"), ("role", "admin")]).await;
    let own = admin.get(&format!("/portal/resellers/{}", f.d1)).await;
    let member_page = member.get(&reseller_page).await;
    let member_invite = member.submit(&format!("{reseller_page}/users"), &[("email", "y@r1a.example"), ("role", "member")]).await;

    assert_eq!(list.status, 200);
    assert!(list.text.contains(&format!(r#"href="/portal/resellers/{}""#, f.r1a)), "each reseller is a link: {}", list.text);
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains(&f.r1a_admin.email) && page.text.contains(&f.r1a_member.email), "its users: {}", page.text);
    assert!(page.text.contains("Invite a user of"), "an admin gets the invite form");
    assert_eq!(invited.status, 200, "{}", invited.text);
    assert!(invited.text.contains("Invitation link") && invited.text.contains("new.rep@r1a.example"), "{}", invited.text);
    let invitations = app.get(&format!("/api/v1/partners/{}/invitations", f.r1a), &f.owner.token).await;
    assert!(invitations.text.contains("new.rep@r1a.example") && invitations.text.contains("\"sales\""), "{}", invitations.text);
    assert_eq!(missing_email.status, 422, "{}", missing_email.text);
    assert_eq!((stranger.status, stranger_invite.status, own.status), (404, 404, 404), "another distributor's reseller is missing");
    assert_eq!(member_page.status, 200, "a member reads the reseller");
    assert!(!member_page.text.contains("Invite a user of"), "but gets no form");
    assert_eq!(member_invite.status, 403, "{}", member_invite.text);
}

#[tokio::test]
async fn a_workspace_that_does_not_let_distributors_manage_resellers_has_no_reseller_page_and_no_reseller_invitations() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let system = trellis_identity::Scope::system(f.workspace_id.clone(), &trellis_testkit::TEST_FIXTURES);
    let patch = trellis_identity::workspaces::WorkspacePatch { distributors_manage_resellers: Some(false), ..Default::default() };
    trellis_identity::workspaces::update(&app.state.ctx, &system, patch).await.expect("setting off");
    let admin = sign_in(&app, &f.d1_admin.email).await;
    let reseller_page = format!("/portal/resellers/{}", f.r1a);

    let page = admin.get(&reseller_page).await;
    let invite = admin.submit(&format!("{reseller_page}/users"), &[("email", "z@r1a.example"), ("role", "member")]).await;
    let api = app
        .post(&format!("/api/v1/partners/{}/users", f.r1a), &f.d1_admin.token, json!({"email": "z@r1a.example", "role": "member"}))
        .await;

    assert_eq!((page.status, invite.status), (404, 404));
    assert_eq!(api.status, 403, "{}", api.text);
}
