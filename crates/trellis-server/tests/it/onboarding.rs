//! Onboarding: programs' checklists, steps completed by hand and by events elsewhere, partners
//! activated once every required step is done, agreement versions and their acceptance, and the
//! console and portal pages for them.

use serde_json::{Value, json};
use trellis_core::{PartnerId, ProgramId};
use trellis_db::sql;
use trellis_directory::events::{self, PartnerEventKind};
use trellis_identity::Scope;
use trellis_testkit::fixture::Fixture;
use trellis_testkit::{TEST_FIXTURES, TestApp};

use crate::pages::{assert_safe_page, sign_in};
use crate::recruitment::{approved_applicant, emails_to, program_with_questions};

async fn add_step(app: &TestApp, f: &Fixture, program_id: &str, body: Value) -> String {
    let reply = app.post(&format!("/api/v1/programs/{program_id}/onboarding-steps"), &f.owner.token, body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().expect("step id").to_owned()
}

async fn publish(app: &TestApp, f: &Fixture, program_id: &str, title: &str) -> String {
    let reply = app
        .post(
            &format!("/api/v1/programs/{program_id}/agreements"),
            &f.owner.token,
            json!({"title": title, "body": "Partner terms.\n\nSection 2."}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().expect("agreement id").to_owned()
}

async fn progress(app: &TestApp, f: &Fixture, partner_id: &str) -> Value {
    let reply = app.get(&format!("/api/v1/partners/{partner_id}/onboarding"), &f.owner.token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

fn step<'a>(progress: &'a Value, step_id: &str) -> &'a Value {
    progress["steps"].as_array().expect("steps").iter().find(|s| s["step_id"] == step_id).expect("the step is in the progress")
}

async fn status_of(app: &TestApp, f: &Fixture, partner_id: &str) -> String {
    app.get(&format!("/api/v1/partners/{partner_id}"), &f.owner.token).await.body["status"].as_str().expect("status").to_owned()
}

#[tokio::test]
async fn a_program_checklist_is_kept_in_order_and_validated() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "resellers", json!([])).await;
    let path = format!("/api/v1/programs/{program_id}/onboarding-steps");

    let first = add_step(&app, &f, &program_id, json!({"kind": "accept_agreement", "title": "Accept the agreement", "position": 10})).await;
    let second = add_step(&app, &f, &program_id, json!({"kind": "custom", "title": "Kick-off call", "required": false})).await;
    let appended = app.get(&path, &f.owner.token).await;
    let invalid = app.post(&path, &f.owner.token, json!({"kind": "add_payout_method", "title": " ", "position": -1})).await;
    let moved = app.patch(&format!("{path}/{second}"), &f.owner.token, json!({"position": 0, "title": "Kick-off call with us"})).await;
    let kind_change = app.patch(&format!("{path}/{second}"), &f.owner.token, json!({"kind": "custom"})).await;
    let listed = app.get(&path, &f.r1a_member.token).await;
    let removed = app.delete(&format!("{path}/{first}"), &f.channel_manager.token).await;
    let after = app.get(&path, &f.owner.token).await;

    assert_eq!(appended.body["data"][1]["position"], 11, "a step without a position goes last: {}", appended.text);
    assert_eq!(invalid.status, 422, "{}", invalid.text);
    let fields: Vec<&str> = invalid.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["kind", "title", "position"]);
    assert!(invalid.body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("\"upload_document\"")), "{}", invalid.text);
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["title"], "Kick-off call with us");
    assert_eq!(moved.body["required"], false);
    assert_eq!(kind_change.status, 422, "the kind is fixed: {}", kind_change.text);
    let order: Vec<&str> = listed.body["data"].as_array().expect("steps").iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(order, [second.as_str(), first.as_str()], "positions order the checklist (partners may read it)");
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert_eq!(after.body["data"].as_array().map(Vec::len), Some(1));
}

/// Enrolls a partner in a program, as the system.
async fn enroll(app: &TestApp, f: &Fixture, partner_id: &PartnerId, program_id: &str) {
    let scope = Scope::system(f.workspace_id.clone(), &TEST_FIXTURES);
    let program_id: ProgramId = program_id.parse().expect("program id");
    let mut tx = scope.write(&app.state.ctx).await.expect("transaction");
    trellis_programs::enrollments::enroll_in(&mut tx, &scope, partner_id, &program_id, None, app.state.ctx.now()).await.expect("enroll");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn an_event_completes_the_steps_of_its_kind_in_every_program_the_partner_is_in_and_only_those() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let resellers = program_with_questions(&app, &f, "resellers", json!([])).await;
    let referral = program_with_questions(&app, &f, "referral", json!([])).await;
    let elsewhere = program_with_questions(&app, &f, "affiliates", json!([])).await;
    let profile_a = add_step(&app, &f, &resellers, json!({"kind": "complete_profile", "title": "Complete your profile"})).await;
    let profile_b = add_step(&app, &f, &referral, json!({"kind": "complete_profile", "title": "Tell us about you"})).await;
    let custom = add_step(&app, &f, &referral, json!({"kind": "custom", "title": "Kick-off call"})).await;
    add_step(&app, &f, &elsewhere, json!({"kind": "complete_profile", "title": "Not P3's program"})).await;
    enroll(&app, &f, &f.p3, &resellers).await;
    enroll(&app, &f, &f.p3, &referral).await;
    let completions_of_p3 = || app.query_i64(sql!("SELECT COUNT(*) AS n FROM onboarding_completions WHERE partner_id = $1", f.p3));

    let scope = Scope::system(f.workspace_id.clone(), &TEST_FIXTURES);
    for _ in 0..2 {
        let mut tx = scope.write(&app.state.ctx).await.expect("transaction");
        events::raise(&app.state.ctx, &mut tx, &scope, &f.p3, PartnerEventKind::ProfileCompleted, app.state.ctx.now())
            .await
            .expect("complete");
        tx.commit().await.expect("commit");
    }

    let shown = progress(&app, &f, f.p3.as_str()).await;
    for done in [&profile_a, &profile_b] {
        assert_eq!(step(&shown, done)["done"], true, "{shown}");
        assert_eq!(step(&shown, done)["completed_by"]["type"], "system");
    }
    assert_eq!(step(&shown, &custom)["done"], false, "other kinds stay open");
    assert_eq!(shown["steps"].as_array().map(Vec::len), Some(3), "only the programs P3 is in");
    assert_eq!(completions_of_p3().await, 2, "completing again records nothing more");
    let audited = app
        .query_i64(sql!("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'onboarding_step.completed' AND target_id = $1", f.p3))
        .await;
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn the_partner_becomes_active_once_every_required_step_is_done_and_is_welcomed_by_email() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "resellers", json!([])).await;
    let kickoff = add_step(&app, &f, &program_id, json!({"kind": "custom", "title": "Kick-off call"})).await;
    let agreement_step = add_step(&app, &f, &program_id, json!({"kind": "accept_agreement", "title": "Accept the agreement"})).await;
    let colleagues = add_step(&app, &f, &program_id, json!({"kind": "invite_colleagues", "title": "Invite a colleague"})).await;
    let optional =
        add_step(&app, &f, &program_id, json!({"kind": "upload_document", "title": "Upload your logo", "required": false})).await;
    let agreement = publish(&app, &f, &program_id, "Reseller agreement").await;
    let (partner_id, applicant) = approved_applicant(&app, &f, "resellers", "Acme Widgets", "ada@acme-widgets.example").await;
    assert_eq!(status_of(&app, &f, &partner_id).await, "onboarding");

    let marked = app.post(&format!("/api/v1/partners/{partner_id}/onboarding/{kickoff}/complete"), &applicant, json!(null)).await;
    let accepted = app.post(&format!("/api/v1/partners/{partner_id}/agreements/{agreement}/accept"), &applicant, json!(null)).await;
    let after_two = status_of(&app, &f, &partner_id).await;
    let invited = app
        .post(&format!("/api/v1/partners/{partner_id}/users"), &applicant, json!({"email": "bob@acme-widgets.example", "role": "sales"}))
        .await;

    assert_eq!(marked.status, 200, "{}", marked.text);
    assert_eq!(step(&marked.body, &kickoff)["completed_by"]["email"], "ada@acme-widgets.example");
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(after_two, "onboarding", "inviting a colleague is still required");
    assert_eq!(invited.status, 201, "{}", invited.text);
    assert_eq!(status_of(&app, &f, &partner_id).await, "active");
    let shown = progress(&app, &f, &partner_id).await;
    assert_eq!(step(&shown, &agreement_step)["done"], true);
    assert_eq!(step(&shown, &colleagues)["done"], true, "the second user completes invite_colleagues");
    assert_eq!(step(&shown, &optional)["done"], false, "an optional step does not hold activation back");
    assert_eq!((shown["required_steps"].clone(), shown["required_done"].clone()), (json!(3), json!(3)));
    let welcome = emails_to(&app, "ada@acme-widgets.example").await;
    assert!(welcome.iter().any(|(kind, subject, _)| kind == "partner_activated" && subject.contains("Acme Widgets")), "{welcome:?}");
    let events = app.get(&format!("/api/v1/audit-events?target_id={partner_id}&action=partner.activated"), &f.owner.token).await;
    assert_eq!(events.body["data"][0]["changes"]["status"], json!(["onboarding", "active"]), "{}", events.text);
}

#[tokio::test]
async fn partners_mark_only_their_custom_steps_done_while_staff_may_complete_any() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "resellers", json!([])).await;
    let profile = add_step(&app, &f, &program_id, json!({"kind": "complete_profile", "title": "Complete your profile"})).await;
    let custom = add_step(&app, &f, &program_id, json!({"kind": "custom", "title": "Kick-off call"})).await;
    let (partner_id, applicant) = approved_applicant(&app, &f, "resellers", "Acme Widgets", "ada@acme-widgets.example").await;
    let complete = |step: &str| format!("/api/v1/partners/{partner_id}/onboarding/{step}/complete");

    let by_partner = app.post(&complete(&profile), &applicant, json!(null)).await;
    let by_viewer = app.post(&complete(&custom), &f.viewer.token, json!(null)).await;
    let by_other_partner = app.post(&complete(&custom), &f.p3_admin.token, json!(null)).await;
    let of_another_program =
        app.post(&format!("/api/v1/partners/{}/onboarding/{custom}/complete", f.p3), &f.owner.token, json!(null)).await;
    let by_staff = app.post(&complete(&profile), &f.channel_manager.token, json!(null)).await;

    assert_eq!(by_partner.status, 403, "{}", by_partner.text);
    assert!(by_partner.body["detail"].as_str().is_some_and(|d| d.contains("profile is complete")), "{}", by_partner.text);
    assert_eq!(by_viewer.status, 403, "{}", by_viewer.text);
    assert_eq!(by_other_partner.status, 404, "{}", by_other_partner.text);
    assert_eq!(of_another_program.status, 404, "P3 is not in the step's program: {}", of_another_program.text);
    assert_eq!(by_staff.status, 200, "{}", by_staff.text);
    assert_eq!(step(&by_staff.body, &profile)["completed_by"]["email"], f.channel_manager.email.as_str());
    assert_eq!(status_of(&app, &f, &partner_id).await, "onboarding", "the custom step is still open");
}

#[tokio::test]
async fn accepting_an_agreement_records_the_person_the_time_the_address_and_the_version() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "resellers", json!([])).await;
    let agreement_step = add_step(&app, &f, &program_id, json!({"kind": "accept_agreement", "title": "Accept the agreement"})).await;
    let first = publish(&app, &f, &program_id, "Reseller agreement 2026").await;
    let second = publish(&app, &f, &program_id, "Reseller agreement 2026, amended").await;
    let (partner_id, applicant) = approved_applicant(&app, &f, "resellers", "Acme Widgets", "ada@acme-widgets.example").await;
    let accept = |agreement: &str| format!("/api/v1/partners/{partner_id}/agreements/{agreement}/accept");

    let outdated = app.post(&accept(&first), &applicant, json!(null)).await;
    let by_staff = app.post(&accept(&second), &f.owner.token, json!(null)).await;
    let accepted = app.post(&accept(&second), &applicant, json!(null)).await;
    app.clock.advance_seconds(60);
    let again = app.post(&accept(&second), &applicant, json!(null)).await;
    let versions = app.get(&format!("/api/v1/programs/{program_id}/agreements"), &applicant).await;

    assert_eq!(outdated.status, 409, "{}", outdated.text);
    assert!(outdated.body["detail"].as_str().is_some_and(|d| d.contains("version 2")), "{}", outdated.text);
    assert_eq!(by_staff.status, 403, "{}", by_staff.text);
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.body["version"], 2);
    assert_eq!(accepted.body["agreement_id"], second.as_str());
    assert_eq!(accepted.body["user_email"], "ada@acme-widgets.example");
    assert_eq!(accepted.body["ip"], "127.0.0.1");
    assert_eq!(again.body["accepted_at"], accepted.body["accepted_at"], "accepting again keeps the first acceptance");
    let versions: Vec<i64> = versions.body["data"].as_array().expect("versions").iter().filter_map(|v| v["version"].as_i64()).collect();
    assert_eq!(versions, [2, 1]);
    assert_eq!(status_of(&app, &f, &partner_id).await, "active", "the agreement was the only step");

    let third = publish(&app, &f, &program_id, "Reseller agreement 2027").await;
    let shown = progress(&app, &f, &partner_id).await;
    assert_eq!(shown["agreements"][0]["agreement"]["id"], third.as_str(), "the version in force is shown");
    assert!(shown["agreements"][0]["acceptance"].is_null(), "{shown}");
    assert_eq!(step(&shown, &agreement_step)["done"], true, "a new version does not reopen the step");
    let rows = app.query_i64(sql!("SELECT COUNT(*) AS n FROM agreement_acceptances WHERE partner_id = $1", partner_id)).await;
    assert_eq!(rows, 1);
    let events = app.get(&format!("/api/v1/audit-events?target_id={partner_id}&action=agreement.accepted"), &f.owner.token).await;
    assert_eq!(events.body["data"].as_array().map(Vec::len), Some(1), "{}", events.text);
    assert_eq!(events.body["data"][0]["changes"]["version"], json!([null, 2]));
}

#[tokio::test]
async fn a_checklist_change_that_leaves_nothing_required_open_activates_waiting_partners() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "resellers", json!([])).await;
    let first = add_step(&app, &f, &program_id, json!({"kind": "custom", "title": "Kick-off call"})).await;
    let second = add_step(&app, &f, &program_id, json!({"kind": "upload_document", "title": "Upload your certificate"})).await;
    let (one, _) = approved_applicant(&app, &f, "resellers", "One Ltd", "one@one.example").await;
    let (two, _) = approved_applicant(&app, &f, "resellers", "Two Ltd", "two@two.example").await;
    let done = app.post(&format!("/api/v1/partners/{one}/onboarding/{first}/complete"), &f.owner.token, json!(null)).await;
    assert_eq!(done.status, 200, "{}", done.text);

    let optional =
        app.patch(&format!("/api/v1/programs/{program_id}/onboarding-steps/{second}"), &f.owner.token, json!({"required": false})).await;
    let (one_after, two_after) = (status_of(&app, &f, &one).await, status_of(&app, &f, &two).await);
    let removed = app.delete(&format!("/api/v1/programs/{program_id}/onboarding-steps/{first}"), &f.owner.token).await;

    assert_eq!(optional.status, 200, "{}", optional.text);
    assert_eq!(one_after, "active", "its only open required step became optional");
    assert_eq!(two_after, "onboarding", "the kick-off call is still open");
    assert_eq!(removed.status, 204);
    assert_eq!(status_of(&app, &f, &two).await, "active");
}

#[tokio::test]
async fn staff_may_activate_an_onboarding_partner_directly() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "resellers", json!([])).await;
    add_step(&app, &f, &program_id, json!({"kind": "custom", "title": "Kick-off call"})).await;
    let (partner_id, _) = approved_applicant(&app, &f, "resellers", "Acme Widgets", "ada@acme-widgets.example").await;

    let activated = app.patch(&format!("/api/v1/partners/{partner_id}"), &f.channel_manager.token, json!({"status": "active"})).await;

    assert_eq!(activated.status, 200, "{}", activated.text);
    assert_eq!(activated.body["status"], "active");
}

#[tokio::test]
async fn the_portal_shows_the_checklist_takes_the_agreement_and_marks_custom_steps_done() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "resellers", json!([])).await;
    let kickoff = add_step(&app, &f, &program_id, json!({"kind": "custom", "title": "Book the kick-off call"})).await;
    add_step(&app, &f, &program_id, json!({"kind": "accept_agreement", "title": "Accept the agreement"})).await;
    let agreement = publish(&app, &f, &program_id, "Reseller agreement").await;
    let (partner_id, _) = approved_applicant(&app, &f, "resellers", "Acme Widgets", "ada@acme-widgets.example").await;
    let partner = sign_in(&app, "ada@acme-widgets.example").await;

    let home = partner.get("/").await;
    let page = partner.get("/portal/onboarding").await;
    let marked = partner.submit(&format!("/portal/onboarding/steps/{kickoff}/complete"), &[]).await;
    let accepted = partner.submit(&format!("/portal/onboarding/agreements/{agreement}/accept"), &[]).await;
    let done = partner.get("/portal/onboarding?notice=agreement_accepted").await;
    let home_after = partner.get("/").await;

    assert!(home.text.contains("0 of 2 required steps done") && home.text.contains("Continue onboarding"), "{}", home.text);
    assert_eq!(page.status, 200);
    assert_safe_page("/portal/onboarding", &page);
    assert!(page.text.contains("Partner terms.") && page.text.contains("I accept this agreement"), "{}", page.text);
    assert!(page.text.contains("Mark done"));
    assert_eq!(marked.status, 303, "{}", marked.text);
    assert_eq!(accepted.status, 303, "{}", accepted.text);
    assert!(done.text.contains("Accepted ") && done.text.contains("by ada@acme-widgets.example"), "{}", done.text);
    assert!(!home_after.text.contains("Continue onboarding"), "nothing is left to do");
    assert_eq!(status_of(&app, &f, &partner_id).await, "active");
}

#[tokio::test]
async fn staff_edit_the_checklist_and_publish_agreement_versions_in_the_console() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "resellers", json!([])).await;
    let staff = sign_in(&app, &f.channel_manager.email).await;
    let base = format!("/console/programs/{program_id}/onboarding");

    let empty = staff.get(&base).await;
    let invalid = staff.submit(&format!("{base}/steps"), &[("kind", "custom"), ("title", ""), ("required", "1")]).await;
    let added = staff.submit(&format!("{base}/steps"), &[("kind", "custom"), ("title", "Kick-off call"), ("required", "1")]).await;
    let step_id = app.query(sql!("SELECT id FROM onboarding_steps")).await[0].get::<String>("id").expect("id");
    let edit = staff.get(&format!("{base}/steps/{step_id}")).await;
    let saved =
        staff.submit(&format!("{base}/steps/{step_id}"), &[("title", "Kick-off call with us"), ("description", "30 minutes")]).await;
    let published = staff.submit(&format!("{base}/agreements"), &[("title", "Reseller agreement"), ("body", "The terms.")]).await;
    let shown = staff.get(&base).await;
    let removed = staff.submit(&format!("{base}/steps/{step_id}/delete"), &[]).await;
    let by_partner = sign_in(&app, &f.r1a_admin.email).await.get(&base).await;

    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_safe_page(&base, &empty);
    assert!(empty.text.contains("No steps"));
    assert_eq!(invalid.status, 422, "{}", invalid.text);
    assert!(invalid.text.contains(r#"id="step-title-error""#));
    assert_eq!(added.status, 303, "{}", added.text);
    assert_eq!(edit.status, 200);
    assert_eq!(saved.status, 303, "{}", saved.text);
    assert_eq!(published.status, 303, "{}", published.text);
    assert!(shown.text.contains("Kick-off call with us") && shown.text.contains("optional"), "unticked: no longer required");
    assert!(shown.text.contains("Version 1 (in force): Reseller agreement") && shown.text.contains("The terms."), "{}", shown.text);
    assert_eq!(removed.status, 303);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM onboarding_steps")).await, 0);
    assert_eq!(by_partner.status, 404, "the editor is staff only");
}

#[tokio::test]
async fn completing_the_profile_and_uploading_a_document_tick_their_onboarding_steps() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let resellers = program_with_questions(&app, &f, "resellers", json!([])).await;
    let profile_step = add_step(&app, &f, &resellers, json!({"kind": "complete_profile", "title": "Complete your profile"})).await;
    let document_step =
        add_step(&app, &f, &resellers, json!({"kind": "upload_document", "title": "Upload your insurance certificate"})).await;
    enroll(&app, &f, &f.r1a, &resellers).await;
    let before = progress(&app, &f, f.r1a.as_str()).await;

    // Staff edits apply at once (a partner's own change of legal name waits for approval first).
    let saved = app.patch(&format!("/api/v1/partners/{}/profile", f.r1a), &f.owner.token, crate::profiles::full_profile()).await;
    let logo = crate::profiles::upload(&app, &f.r1a_admin.token, &f.r1a, "logo", "logo.png", Some("image/png"), crate::profiles::PNG).await;
    let after_logo = progress(&app, &f, f.r1a.as_str()).await;
    let document = crate::profiles::upload(
        &app,
        &f.r1a_admin.token,
        &f.r1a,
        "licence",
        "insurance.pdf",
        Some("application/pdf"),
        &crate::profiles::pdf("insurance"),
    )
    .await;
    let after = progress(&app, &f, f.r1a.as_str()).await;

    assert_eq!(step(&before, &profile_step)["done"], false);
    assert_eq!(saved.status, 200, "{}", saved.text);
    assert_eq!(step(&after_logo, &profile_step)["done"], true, "a complete profile ticks its step: {after_logo}");
    assert_eq!((logo.status, step(&after_logo, &document_step)["done"].clone()), (201, json!(false)), "a logo is not a document");
    assert_eq!(document.status, 201, "{}", document.text);
    assert_eq!(step(&after, &document_step)["done"], true, "{after}");
}

/// Issue 8, onboarding that never stalls silently: the profile step of a partner whose legal name
/// waits for the vendor says so (and the vendor's queue counts it), each open step links to where
/// it is done, and once the vendor approves and the partner is active, its home no longer tells
/// it to finish onboarding.
#[tokio::test]
async fn a_profile_waiting_for_the_vendor_says_so_and_an_active_partner_is_not_told_to_finish_onboarding() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "resellers", json!([])).await;
    add_step(&app, &f, &program_id, json!({"kind": "complete_profile", "title": "Complete your company profile"})).await;
    add_step(&app, &f, &program_id, json!({"kind": "invite_colleagues", "title": "Invite a colleague", "required": false})).await;
    let (partner_id, applicant) = approved_applicant(&app, &f, "resellers", "Acme Widgets", "ada@acme-widgets.example").await;
    let saved = app.patch(&format!("/api/v1/partners/{partner_id}/profile"), &applicant, crate::profiles::full_profile()).await;
    assert_eq!(saved.status, 200, "{}", saved.text);

    let ada = sign_in(&app, "ada@acme-widgets.example").await;
    let page = ada.get("/portal/onboarding").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Waiting for the vendor to approve your change of legal name to"), "{}", page.text);
    let links = page.text.replace("&#x2f;", "/");
    assert!(links.contains(r#"<a href="/portal/users">Invite a colleague</a>"#), "an open step links to where it is done: {links}");
    assert!(links.contains(r#"<a href="/portal/profile/edit">Complete your profile</a>"#));
    assert!(ada.get("/").await.text.contains("Continue onboarding"));

    let pending = app.get(&format!("/api/v1/profile-change-requests?status=pending&partner_id={partner_id}"), &f.owner.token).await;
    let request = pending.body["data"][0]["id"].as_str().expect("a pending request").to_owned();
    let approved = app.post(&format!("/api/v1/profile-change-requests/{request}/approve"), &f.owner.token, json!({})).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(status_of(&app, &f, &partner_id).await, "active", "the approved profile completes the last required step");

    let home = ada.get("/").await;
    assert!(!home.text.contains("Continue onboarding") && !home.text.contains("onboarding-heading"), "{}", home.text);
    let page = ada.get("/portal/onboarding").await;
    assert!(!page.text.contains("Waiting for the vendor"), "{}", page.text);
}

/// Issue 8: the console partner page shows the partner's checklist and progress; staff mark the
/// kick-off call done from it, the timeline names the step and who did it, and the partner is
/// activated by the last required step. A viewer sees the checklist but no button.
#[tokio::test]
async fn the_console_partner_page_shows_the_checklist_and_staff_mark_the_kick_off_call_done() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "resellers", json!([])).await;
    let call = add_step(&app, &f, &program_id, json!({"kind": "custom", "title": "Kick-off call"})).await;
    add_step(&app, &f, &program_id, json!({"kind": "upload_document", "title": "Upload your insurance", "required": false})).await;
    let (partner_id, _) = approved_applicant(&app, &f, "resellers", "Acme Widgets", "ada@acme-widgets.example").await;
    let page = format!("/console/partners/{partner_id}");

    let manager = sign_in(&app, &f.channel_manager.email).await;
    let before = manager.get(&page).await;
    assert_safe_page(&page, &before);
    assert!(before.text.contains(r##"href="#onboarding""##), "a jump link to the card");
    assert!(before.text.contains("<strong>0 of 1</strong> required steps done"), "{}", before.text);
    assert!(before.text.contains("Waits for your team: the partner or the vendor marks it done."), "{}", before.text);
    assert!(before.text.contains("Done when the partner uploads a document."), "{}", before.text);
    assert!(before.text.contains("1 required onboarding step is not done yet"), "the Activate action says what it skips");
    let viewer = sign_in(&app, &f.viewer.email).await;
    let read_only = viewer.get(&page).await;
    assert!(read_only.text.contains("Kick-off call") && !read_only.text.contains("/onboarding/"), "no button for a viewer");

    let done = manager.submit(&format!("{page}/onboarding/{call}/complete"), &[]).await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(status_of(&app, &f, &partner_id).await, "active", "the last required step activates the partner");
    let after = manager.get(&page).await;
    assert!(after.text.contains("<strong>1 of 1</strong> required steps done"), "{}", after.text);
    assert!(after.text.contains(&format!("by {}", f.channel_manager.email)), "who did it: {}", after.text);
    assert!(after.text.contains("Onboarding step done: Kick-off call"), "the timeline names the step: {}", after.text);
    let again = viewer.submit(&format!("{page}/onboarding/{call}/complete"), &[]).await;
    assert_eq!(again.status, 403, "a viewer may not mark steps done: {}", again.text);
}
