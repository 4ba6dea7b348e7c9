//! Contracts, licences and compliance: reminders 30 and 7 days ahead, each sent once and queued
//! as emails to the partner's admins and its channel manager; a lapsed licence makes the partner
//! non-compliant with a reason until a valid successor is on file; the console's dashboard and
//! partner page show it.

use serde_json::json;
use trellis_db::sql;
use trellis_identity::Scope;
use trellis_records::reminders::send_due_reminders;
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{TEST_FIXTURES, TestApp};

use crate::profiles::{assert_safe_page, day, pdf, sign_in};

const DAY: i64 = 24 * 3600;

/// The emails queued so far: (kind, recipient, subject), oldest first.
/// The emails of the workspace other than the fixture's invitations.
async fn emails(app: &TestApp, f: &Fixture) -> Vec<(String, String, String)> {
    app.query(sql!(
        "SELECT kind, to_address, subject FROM emails WHERE workspace_id = $1 AND kind NOT LIKE '%invitation' ORDER BY created_at, id",
        f.workspace_id.to_string()
    ))
    .await
    .iter()
    .map(|r| (r.get("kind").expect("kind"), r.get("to_address").expect("to"), r.get("subject").expect("subject")))
    .collect()
}

async fn run_reminders(app: &TestApp, f: &Fixture) -> usize {
    send_due_reminders(&app.state.ctx, &f.workspace_id).await.expect("reminders run")
}

#[tokio::test]
async fn licence_reminders_go_out_once_thirty_and_seven_days_ahead_and_once_when_it_lapses() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let licence = json!({
        "kind": "insurance broker", "number": "EU-123", "jurisdiction": "DE",
        "valid_from": day(&app, -300), "valid_until": day(&app, 40)
    });
    let created = app.post(&format!("/api/v1/partners/{}/licences", f.d1), &f.d1_admin.token, licence).await;
    assert_eq!(created.status, 201, "{}", created.text);

    let forty_days_ahead = run_reminders(&app, &f).await;
    app.clock.advance_seconds(10 * DAY);
    let thirty_days_ahead = run_reminders(&app, &f).await;
    let same_day_again = run_reminders(&app, &f).await;
    app.clock.advance_seconds(DAY);
    let next_day = run_reminders(&app, &f).await;
    app.clock.advance_seconds(22 * DAY);
    let seven_days_ahead = run_reminders(&app, &f).await;
    let seven_again = run_reminders(&app, &f).await;
    app.clock.advance_seconds(8 * DAY);
    let lapsed = run_reminders(&app, &f).await;
    let lapsed_again = run_reminders(&app, &f).await;
    app.clock.advance_seconds(30 * DAY);
    let month_later = run_reminders(&app, &f).await;

    assert_eq!((forty_days_ahead, thirty_days_ahead, same_day_again, next_day), (0, 2, 0, 0));
    assert_eq!((seven_days_ahead, seven_again, lapsed, lapsed_again, month_later), (2, 0, 2, 0, 0));
    let sent = emails(&app, &f).await;
    let recipients: Vec<&str> = sent.iter().map(|(_, to, _)| to.as_str()).collect();
    assert_eq!(
        recipients,
        vec![
            f.d1_admin.email.as_str(),
            f.assigned_manager.email.as_str(),
            f.d1_admin.email.as_str(),
            f.assigned_manager.email.as_str(),
            f.d1_admin.email.as_str(),
            f.assigned_manager.email.as_str()
        ],
        "the partner's admins and its channel manager"
    );
    let kinds: Vec<&str> = sent.iter().map(|(kind, _, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["licence_reminder", "licence_reminder", "licence_reminder", "licence_reminder", "licence_expired", "licence_expired"]
    );
    assert!(sent[0].2.contains("expires in 30 days"), "{}", sent[0].2);
    assert!(sent[2].2.contains("expires in 7 days"), "{}", sent[2].2);
    assert!(sent[4].2.contains("has expired"), "{}", sent[4].2);
    let jobs = app
        .query_i64(sql!("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'send_email' AND workspace_id = $1", f.workspace_id.to_string()))
        .await;
    let all_emails = app.query_i64(sql!("SELECT COUNT(*) AS n FROM emails WHERE workspace_id = $1", f.workspace_id.to_string())).await;
    assert_eq!(jobs, all_emails, "every email (the six reminders and the fixture's invitations) is queued for delivery");
    let expired_events = app
        .query_i64(sql!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = $1 AND action = 'licence.expired' AND target_id = $2",
            f.workspace_id.to_string(),
            f.d1.to_string()
        ))
        .await;
    assert_eq!(expired_events, 1);
}

#[tokio::test]
async fn a_renewed_licence_gets_no_countdown_and_a_moved_date_starts_a_new_cycle() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let path = format!("/api/v1/partners/{}/licences", f.p3);
    let old = app
        .post(
            &path,
            &f.p3_admin.token,
            json!({"kind": "broker", "number": "A-1", "jurisdiction": "FR", "valid_from": day(&app, -100), "valid_until": day(&app, 20)}),
        )
        .await;
    let other = app
        .post(
            &path,
            &f.p3_admin.token,
            json!({"kind": "agent", "number": "B-1", "jurisdiction": "FR", "valid_from": day(&app, -100), "valid_until": day(&app, 25)}),
        )
        .await;
    app.post(
        &path,
        &f.p3_admin.token,
        json!({"kind": "Broker", "number": "A-2", "jurisdiction": "fr", "valid_from": day(&app, 21), "valid_until": day(&app, 400)}),
    )
    .await;

    let first = run_reminders(&app, &f).await;
    let moved = app
        .patch(
            &format!("/api/v1/licences/{}", other.body["id"].as_str().expect("id")),
            &f.p3_admin.token,
            json!({"valid_until": day(&app, 365)}),
        )
        .await;
    app.clock.advance_seconds(336 * DAY);
    let new_cycle = run_reminders(&app, &f).await;

    assert_eq!(old.status, 201);
    assert_eq!(first, 1, "only B-1 counts down: A-1 already has a successor");
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(new_cycle, 1, "B-1's new end of validity is reminded again");
    let subjects: Vec<String> = emails(&app, &f).await.into_iter().map(|(_, _, s)| s).collect();
    assert!(subjects.iter().all(|s| s.contains("B-1")), "{subjects:?}");
}

#[tokio::test]
async fn contract_renewal_reminders_go_to_the_partner_admins_and_the_channel_manager_once() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let contract = json!({"title": "Distribution agreement", "starts_on": day(&app, -335), "renews_on": day(&app, 30)});
    let created = app.post(&format!("/api/v1/partners/{}/contracts", f.d1), &f.owner.token, contract).await;
    let by_partner = app
        .post(&format!("/api/v1/partners/{}/contracts", f.d1), &f.d1_admin.token, json!({"title": "x", "starts_on": day(&app, 0)}))
        .await;

    let thirty = run_reminders(&app, &f).await;
    let thirty_again = run_reminders(&app, &f).await;
    app.clock.advance_seconds(23 * DAY);
    let seven = run_reminders(&app, &f).await;
    app.clock.advance_seconds(DAY);
    let six = run_reminders(&app, &f).await;
    app.clock.advance_seconds(10 * DAY);
    let after = run_reminders(&app, &f).await;

    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(by_partner.status, 403, "contracts are the vendor's to keep");
    assert_eq!((thirty, thirty_again, seven, six, after), (2, 0, 2, 0, 0));
    let sent = emails(&app, &f).await;
    assert!(sent.iter().all(|(kind, _, _)| kind == "contract_reminder"));
    assert!(sent[0].2.contains("renews in 30 days") && sent[2].2.contains("renews in 7 days"), "{sent:?}");
    assert_eq!(sent[1].1, f.assigned_manager.email);
}

#[tokio::test]
async fn an_expired_licence_makes_the_partner_non_compliant_with_a_reason_until_a_valid_one_replaces_it() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let until = day(&app, 2);
    let created = app
        .post(
            &format!("/api/v1/partners/{}/licences", f.r1a),
            &f.r1a_admin.token,
            json!({"kind": "insurance broker", "number": "EU-123", "jurisdiction": "DE", "valid_from": day(&app, -300), "valid_until": until}),
        )
        .await;
    let licence_id = created.body["id"].as_str().expect("id").to_owned();
    let compliance_path = format!("/api/v1/partners/{}/compliance", f.r1a);

    let before = app.get(&compliance_path, &f.r1a_member.token).await;
    app.clock.advance_seconds(3 * DAY);
    // Sign-in tokens expire as the clock moves on: sign in again.
    let member = app.login(&f.r1a_member.email, PASSWORD).await;
    let admin = app.login(&f.r1a_admin.email, PASSWORD).await;
    let distributor = app.login(&f.d1_admin.email, PASSWORD).await;
    let after = app.get(&compliance_path, &member).await;
    let seen_by_distributor = app.get(&compliance_path, &distributor).await;
    let listed = app.get(&format!("/api/v1/partners/{}/licences", f.r1a), &member).await;
    let partner_deletes = app.delete(&format!("/api/v1/licences/{licence_id}"), &admin).await;
    let mut tx = Scope::system(f.workspace_id.clone(), &TEST_FIXTURES).read(&app.state.ctx).await.expect("tx");
    let compliant_for_later_capabilities =
        trellis_records::compliance::is_compliant(&mut tx, &f.workspace_id, &f.r1a, app.state.ctx.now()).await.expect("compliance");
    tx.commit().await.expect("end");
    let renewed = app
        .post(
            &format!("/api/v1/partners/{}/licences", f.r1a),
            &admin,
            json!({"kind": "Insurance Broker", "number": "EU-124", "jurisdiction": "de", "valid_from": day(&app, 0), "valid_until": day(&app, 365)}),
        )
        .await;
    let again = app.get(&compliance_path, &member).await;

    assert_eq!(before.body, json!({"partner_id": f.r1a.to_string(), "compliant": true, "blockers": []}));
    assert_eq!(after.body["compliant"], false);
    assert_eq!(after.body["blockers"], json!([format!("licence EU-123 (insurance broker, DE) expired on {until}")]));
    assert_eq!(seen_by_distributor.body["compliant"], false);
    assert_eq!(listed.body["data"][0]["status"], "expired");
    assert_eq!(partner_deletes.status, 403, "a partner cannot make a lapsed licence disappear");
    assert!(!compliant_for_later_capabilities);
    assert_eq!(renewed.status, 201, "{}", renewed.text);
    assert_eq!(again.body["compliant"], true, "a successor of the same kind and jurisdiction ends the lapse");
}

#[tokio::test]
async fn contract_and_licence_dates_are_checked_together() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;

    let contract = app
        .post(
            &format!("/api/v1/partners/{}/contracts", f.p3),
            &f.owner.token,
            json!({"title": "", "starts_on": "2026-05-01", "ends_on": "2026-04-01", "renews_on": "soon"}),
        )
        .await;
    let licence = app
        .post(
            &format!("/api/v1/partners/{}/licences", f.p3),
            &f.owner.token,
            json!({"kind": "broker", "number": "X", "jurisdiction": "DE", "valid_from": "2027-01-01", "valid_until": "2026-01-01"}),
        )
        .await;
    let file_of_another = app
        .post(
            &format!("/api/v1/partners/{}/contracts", f.p3),
            &f.owner.token,
            json!({"title": "T", "starts_on": "2026-01-01", "file_id": "fil_01jgx2m5k8b3q7r9t0vwxyz123"}),
        )
        .await;

    assert_eq!(contract.status, 422);
    let fields: Vec<&str> = contract.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, vec!["title", "renews_on"], "every field error at once: {}", contract.text);
    assert_eq!(licence.status, 422);
    assert_eq!(licence.body["errors"][0]["field"], "valid_until");
    assert_eq!(file_of_another.status, 422);
    assert_eq!(file_of_another.body["errors"][0]["field"], "file_id");
}

#[tokio::test]
async fn the_console_shows_contracts_licences_compliance_and_the_lifecycle_and_the_dashboard_lists_what_is_due() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let manager = sign_in(&app, &f.channel_manager.email).await;
    let partner = sign_in(&app, &f.r1b_admin.email).await;
    let page_path = format!("/console/partners/{}", f.r1b);

    let missing_title =
        manager.submit_file(&format!("{page_path}/contracts"), &[("title", ""), ("starts_on", &day(&app, -10))], None).await;
    let contract = manager
        .submit_file(
            &format!("{page_path}/contracts"),
            &[("title", "Reseller agreement"), ("starts_on", &day(&app, -10)), ("renews_on", &day(&app, 45))],
            Some(("signed agreement.pdf", Some("application/pdf"), &pdf("signed"))),
        )
        .await;
    let licence = partner
        .submit_file(
            "/portal/licences",
            &[
                ("kind", "insurance broker"),
                ("number", "EU-777"),
                ("jurisdiction", "DE"),
                ("valid_from", &day(&app, -200)),
                ("valid_until", &day(&app, 1)),
            ],
            Some(("licence.pdf", Some("application/pdf"), &pdf("licence"))),
        )
        .await;
    let wrong_document = partner
        .submit_file(
            "/portal/licences",
            &[("kind", "k"), ("number", "N"), ("jurisdiction", "DE"), ("valid_from", &day(&app, 0)), ("valid_until", &day(&app, 9))],
            Some(("licence.pdf", Some("application/pdf"), b"GIF89a")),
        )
        .await;
    app.clock.advance_seconds(2 * DAY);
    // Sessions expire as the clock moves on: sign in again.
    let manager = sign_in(&app, &f.channel_manager.email).await;
    let partner = sign_in(&app, &f.r1b_admin.email).await;
    let page = manager.get(&page_path).await;
    let dashboard = manager.get("/console/compliance?within=60").await;
    let portal_licences = partner.get("/portal/licences").await;
    let portal_contracts = partner.get("/portal/contracts").await;
    let portal_profile = partner.get("/portal/profile").await;

    assert_eq!(missing_title.status, 422);
    assert!(missing_title.text.contains(r#"id="contract-title-error""#), "the error sits by the title");
    assert_eq!(contract.status, 303, "{}", contract.text);
    assert_eq!(licence.status, 303, "{}", licence.text);
    assert_eq!(wrong_document.status, 422);
    assert!(wrong_document.text.contains(r#"id="licence-file-error""#));
    assert_eq!(page.status, 200);
    assert_safe_page(&page_path, &page);
    for expected in [
        "not compliant",
        "EU-777",
        "Reseller agreement",
        "Lifecycle",
        "Contract added: Reseller agreement",
        "Licence added: EU-777",
        "Created by the vendor as active",
    ] {
        assert!(page.text.contains(expected), "the partner page lacks {expected:?}");
    }
    assert_eq!(dashboard.status, 200);
    assert_safe_page("/console/compliance", &dashboard);
    assert!(dashboard.text.contains("R1b") && dashboard.text.contains("expired on"), "the non-compliant partner is listed");
    assert!(dashboard.text.contains("Reseller agreement"), "the renewal within 60 days is listed");
    assert!(portal_licences.text.contains("not compliant") && portal_licences.text.contains("EU-777"));
    assert_safe_page("/portal/licences", &portal_licences);
    assert!(portal_contracts.text.contains("Reseller agreement") && portal_contracts.text.contains("/files/fil_"));
    assert!(portal_profile.text.contains("not compliant"), "the portal's profile shows the compliance status");
}

#[tokio::test]
async fn the_daily_schedule_sends_licence_reminders_through_the_job_queue() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let created = app
        .post(
            &format!("/api/v1/partners/{}/licences", f.p3),
            &f.p3_admin.token,
            json!({"kind": "broker", "number": "S-1", "jurisdiction": "DE", "valid_from": day(&app, -10), "valid_until": day(&app, 30)}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    app.run_scheduled_jobs().await;
    app.run_scheduled_jobs().await;

    let reminders: Vec<String> = emails(&app, &f).await.into_iter().map(|(_, _, subject)| subject).collect();
    assert_eq!(reminders.len(), 1, "one reminder, however often the worker ticks the same day: {reminders:?}");
    assert!(reminders[0].contains("S-1") && reminders[0].contains("30 days"), "{reminders:?}");
}
