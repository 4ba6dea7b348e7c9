//! Recruitment: the public application endpoint and page (validation, honeypot, rate limits,
//! duplicate detection), the applications inbox, approval (enrollment, onboarding or active, the
//! applicant invited and emailed) and rejection with a reason.

use reqwest::Method;
use serde_json::{Value, json};
use trellis_db::sql;
use trellis_server::demo::accept_as_operator;
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{Reply, TestApp};

use crate::pages::{assert_safe_page, cookie_value, get_page, post_form};

/// Creates a program taking applications, with the given custom questions; returns its id.
pub(crate) async fn program_with_questions(app: &TestApp, f: &Fixture, slug: &str, questions: Value) -> String {
    let reply = app
        .post(
            "/api/v1/programs",
            &f.owner.token,
            json!({"name": format!("Program {slug}"), "slug": slug, "application_questions": questions}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().expect("program id").to_owned()
}

/// A valid application body.
pub(crate) fn application(company: &str, email: &str) -> Value {
    json!({"company_name": company, "contact_name": "Ada Lovelace", "contact_email": email, "types": ["reseller"]})
}

/// Applies anonymously.
pub(crate) async fn apply(app: &TestApp, slug: &str, body: &Value) -> Reply {
    app.send(Method::POST, &format!("/api/v1/public/programs/{slug}/applications"), None, Some(body)).await
}

/// The emails queued to an address, oldest first: (kind, subject, text).
pub(crate) async fn emails_to(app: &TestApp, to: &str) -> Vec<(String, String, String)> {
    app.query(sql!("SELECT kind, subject, text_body FROM emails WHERE to_address = $1 ORDER BY created_at, id", to))
        .await
        .iter()
        .map(|r| (r.get("kind").expect("kind"), r.get("subject").expect("subject"), r.get("text_body").expect("text")))
        .collect()
}

/// The token of the invitation link in an email's text.
pub(crate) fn invitation_token(text: &str) -> String {
    let start = text.find("/invitations/").expect("an invitation link") + "/invitations/".len();
    text[start..].split_whitespace().next().expect("token").to_owned()
}

/// Applies, approves as the owner, accepts the emailed invitation and signs the applicant in:
/// (partner id, the applicant's bearer token).
pub(crate) async fn approved_applicant(app: &TestApp, f: &Fixture, slug: &str, company: &str, email: &str) -> (String, String) {
    let applied = apply(app, slug, &application(company, email)).await;
    assert_eq!(applied.status, 201, "{}", applied.text);
    let partner_id = applied.body["id"].as_str().expect("partner id").to_owned();
    let approved = app.post(&format!("/api/v1/partners/{partner_id}/approve"), &f.owner.token, json!(null)).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    let (_, _, text) = emails_to(app, email).await.into_iter().find(|(kind, _, _)| kind == "application_approved").expect("approval email");
    accept_as_operator(&app.state.ctx, &invitation_token(&text), None, PASSWORD).await.expect("accept the invitation");
    (partner_id, app.login(email, PASSWORD).await)
}

async fn count(app: &TestApp, table: &'static str) -> i64 {
    let q = match table {
        "partners" => sql!("SELECT COUNT(*) AS n FROM partners"),
        "applications" => sql!("SELECT COUNT(*) AS n FROM applications"),
        "emails" => sql!("SELECT COUNT(*) AS n FROM emails"),
        other => panic!("no count for {other}"),
    };
    app.query_i64(q).await
}

fn questions() -> Value {
    json!([
        {"id": "annual_revenue", "label": "Annual revenue", "kind": "select", "required": true, "options": ["< 1M", "1M-10M", "> 10M"]},
        {"id": "why", "label": "Why us?", "kind": "textarea"}
    ])
}

#[tokio::test]
async fn a_public_application_creates_an_applied_partner_with_its_answers_and_emails_the_applicant() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "resellers", questions()).await;
    let mut body = application("Acme Widgets", "ada@acme-widgets.example");
    body["website"] = json!("acme-widgets.example");
    body["country"] = json!("de");
    body["answers"] = json!({"annual_revenue": "1M-10M", "why": "We sell widgets."});

    let reply = apply(&app, "resellers", &body).await;

    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["status"], "applied");
    let partner_id = reply.body["id"].as_str().expect("id");
    let application_id = reply.body["application_id"].as_str().expect("application id");
    assert!(partner_id.starts_with("ptn_") && application_id.starts_with("apl_"), "{}", reply.text);
    let partner = app.get(&format!("/api/v1/partners/{partner_id}"), &f.owner.token).await;
    assert_eq!(partner.body["status"], "applied", "{}", partner.text);
    assert_eq!(partner.body["website"], "https://acme-widgets.example");
    assert_eq!(partner.body["country"], "DE");
    let found = app.get(&format!("/api/v1/applications/{application_id}"), &f.channel_manager.token).await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.body["program_id"], program_id.as_str());
    assert_eq!(found.body["contact_name"], "Ada Lovelace");
    assert_eq!(found.body["answers"], json!({"annual_revenue": "1M-10M", "why": "We sell widgets."}));
    assert_eq!(found.body["likely_duplicate"], false);
    let mail = emails_to(&app, "ada@acme-widgets.example").await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].0, "application_received");
    assert!(mail[0].2.contains("Program resellers") && mail[0].2.contains("Acme Widgets"), "{}", mail[0].2);
    let events = app.get("/api/v1/audit-events?action=partner.applied", &f.owner.token).await;
    assert_eq!(events.body["data"][0]["target_id"], partner_id);
    assert_eq!(events.body["data"][0]["actor"]["type"], "system");
    assert_eq!(events.body["data"][0]["ip"], "127.0.0.1", "the applicant's address is audited");
}

#[tokio::test]
async fn an_application_reports_every_invalid_field_at_once_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program_with_questions(&app, &f, "resellers", questions()).await;
    let before = (count(&app, "partners").await, count(&app, "emails").await);
    let body = json!({
        "contact_name": " ", "contact_email": "not an email", "website": "ftp://x", "country": "Germany", "types": [],
        "answers": {"why": "x", "shoe_size": "44"}
    });

    let reply = apply(&app, "resellers", &body).await;
    let wrong_choice = apply(
        &app,
        "resellers",
        &json!({"company_name": "A", "contact_name": "B", "contact_email": "b@b.example",
        "types": ["agency"], "answers": {"annual_revenue": "a billion"}}),
    )
    .await;
    let unknown_type =
        apply(&app, "resellers", &json!({"company_name": "A", "contact_name": "B", "contact_email": "b@b.example", "types": ["pirate"]}))
            .await;

    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.body["code"], "validation_failed");
    let fields: Vec<&str> = reply.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    for wanted in
        ["company_name", "contact_name", "contact_email", "website", "country", "types", "answers.annual_revenue", "answers.shoe_size"]
    {
        assert!(fields.contains(&wanted), "{wanted} is not reported: {fields:?}");
    }
    assert_eq!(wrong_choice.status, 422, "{}", wrong_choice.text);
    assert_eq!(wrong_choice.body["errors"][0]["field"], "answers.annual_revenue");
    assert_eq!(wrong_choice.body["errors"][0]["message"], "must be one of the offered choices");
    assert_eq!(unknown_type.status, 422, "{}", unknown_type.text);
    assert_eq!((count(&app, "partners").await, count(&app, "emails").await), before, "an invalid application stores nothing");
}

#[tokio::test]
async fn a_program_not_taking_applications_answers_exactly_like_an_unknown_slug() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "closed-program", json!([])).await;
    let closed = app.patch(&format!("/api/v1/programs/{program_id}"), &f.owner.token, json!({"accepting_applications": false})).await;
    assert_eq!(closed.status, 200, "{}", closed.text);

    let to_closed = apply(&app, "closed-program", &application("A", "a@a.example")).await;
    let to_unknown = apply(&app, "no-such-program", &application("A", "a@a.example")).await;
    let page = get_page(&app, "/apply/closed-program", None).await;

    assert_eq!(to_closed.status, 404, "{}", to_closed.text);
    assert_eq!(to_closed.text, to_unknown.text);
    assert_eq!(page.status, 404);
    assert_eq!(count(&app, "applications").await, 0);
}

#[tokio::test]
async fn a_filled_honeypot_is_answered_like_a_success_but_stores_and_sends_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program_with_questions(&app, &f, "resellers", json!([])).await;
    let before = (count(&app, "partners").await, count(&app, "applications").await, count(&app, "emails").await);
    let mut body = application("Spam Inc", "bot@spam.example");
    body["company_fax"] = json!("+1 555 0100");

    let reply = apply(&app, "resellers", &body).await;

    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["status"], "applied");
    let fake = reply.body["id"].as_str().expect("an id all the same");
    assert_eq!(app.get(&format!("/api/v1/partners/{fake}"), &f.owner.token).await.status, 404);
    let after = (count(&app, "partners").await, count(&app, "applications").await, count(&app, "emails").await);
    assert_eq!(after, before, "nothing was stored or queued");
}

#[tokio::test]
async fn too_many_applications_from_one_address_are_refused_with_retry_after_until_the_window_passes() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program_with_questions(&app, &f, "resellers", json!([])).await;
    let limit = trellis_recruitment::applications::MAX_ATTEMPTS_PER_ADDRESS;
    for n in 0..limit {
        // Invalid submissions count as well: the limit is on attempts.
        let body = if n % 2 == 0 { application(&format!("Company {n}"), &format!("c{n}@c{n}.example")) } else { json!({}) };
        let reply = apply(&app, "resellers", &body).await;
        assert!(matches!(reply.status, 201 | 422), "attempt {n}: {}", reply.text);
    }

    let refused = apply(&app, "resellers", &application("One Too Many", "late@late.example")).await;
    app.clock.advance_seconds(trellis_recruitment::applications::ATTEMPT_WINDOW_SECONDS + 1);
    let later = apply(&app, "resellers", &application("Patient Ltd", "patient@patient.example")).await;

    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_eq!(refused.body["code"], "rate_limited");
    let retry: u64 = refused.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=3600).contains(&retry), "Retry-After {retry}");
    assert!(emails_to(&app, "late@late.example").await.is_empty());
    assert_eq!(later.status, 201, "{}", later.text);
}

#[tokio::test]
async fn a_program_flooded_from_many_addresses_is_refused_for_a_while() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "resellers", json!([])).await;
    program_with_questions(&app, &f, "referral", json!([])).await;
    let now = app.state.ctx.now();
    let flood: Vec<trellis_db::Sql> = (0..trellis_recruitment::applications::MAX_ATTEMPTS_PER_PROGRAM)
        .map(|n| {
            sql!(
                "INSERT INTO application_attempts (workspace_id, id, program_id, ip, at) VALUES ($1, $2, $3, $4, $5)",
                f.workspace_id,
                format!("flood{n}"),
                program_id,
                format!("198.51.{}.{}", n / 250, n % 250),
                now
            )
        })
        .collect();
    app.execute(flood).await.expect("record earlier attempts");

    let flooded = apply(&app, "resellers", &application("Late Ltd", "late@late.example")).await;
    let other_program = apply(&app, "referral", &application("Late Ltd", "late@late.example")).await;

    assert_eq!(flooded.status, 429, "{}", flooded.text);
    assert_eq!(other_program.status, 201, "another program is not affected: {}", other_program.text);
}

/// The application behind a public answer, as a reviewer reads it.
async fn reviewed(app: &TestApp, f: &Fixture, reply: &Reply) -> Value {
    let id = reply.body["application_id"].as_str().expect("application id");
    app.get(&format!("/api/v1/applications/{id}"), &f.owner.token).await.body
}

#[tokio::test]
async fn an_application_sharing_an_email_or_company_domain_is_flagged_for_reviewers_only() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program_with_questions(&app, &f, "resellers", json!([])).await;
    let first_gmail = apply(&app, "resellers", &application("Solo Consulting", "jo.solo@gmail.com")).await;
    assert_eq!(first_gmail.status, 201, "{}", first_gmail.text);

    // The fixture's R1a has the contact address contact@r1a.example.
    let same_domain = apply(&app, "resellers", &application("R1a Sales", "sales@r1a.example")).await;
    let mut by_website = application("R1a Again", "someone@gmail.com");
    by_website["website"] = json!("https://www.r1a.example/partners");
    let same_website_domain = apply(&app, "resellers", &by_website).await;
    let same_email = apply(&app, "resellers", &application("Solo Consulting Again", "Jo.Solo@gmail.com")).await;
    let other_gmail = apply(&app, "resellers", &application("Another Solo", "someone.else@gmail.com")).await;

    let by_domain = reviewed(&app, &f, &same_domain).await;
    assert_eq!(by_domain["likely_duplicate"], true, "{by_domain}");
    assert_eq!(by_domain["duplicates"][0]["kind"], "same_domain");
    assert_eq!(by_domain["duplicates"][0]["value"], "r1a.example");
    assert_eq!(by_domain["duplicates"][0]["partner_id"], f.r1a.as_str());
    let by_site = reviewed(&app, &f, &same_website_domain).await;
    assert_eq!(by_site["likely_duplicate"], true, "{by_site}");
    let matched: Vec<&str> = by_site["duplicates"].as_array().expect("matches").iter().filter_map(|d| d["partner_id"].as_str()).collect();
    assert!(matched.contains(&f.r1a.as_str()), "the website's domain matches R1a: {by_site}");
    let by_email = reviewed(&app, &f, &same_email).await;
    assert_eq!(by_email["duplicates"][0]["kind"], "same_email", "{by_email}");
    assert_eq!(by_email["duplicates"][0]["partner_id"], first_gmail.body["id"]);
    assert_eq!(by_email["duplicates"][0]["application_id"], first_gmail.body["application_id"]);
    assert_eq!(reviewed(&app, &f, &other_gmail).await["likely_duplicate"], false, "a generic provider's domain is no company domain");
    for reply in [&same_domain, &same_email] {
        let keys: Vec<&String> = reply.body.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["application_id", "id", "status"], "the applicant learns nothing of the match");
    }
}

#[tokio::test]
async fn approving_enrolls_the_partner_makes_the_applicant_its_admin_and_emails_an_invitation() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program_id = program_with_questions(&app, &f, "resellers", json!([])).await;
    let step = app
        .post(
            &format!("/api/v1/programs/{program_id}/onboarding-steps"),
            &f.owner.token,
            json!({"kind": "custom", "title": "Kick-off call"}),
        )
        .await;
    assert_eq!(step.status, 201, "{}", step.text);
    let applied = apply(&app, "resellers", &application("Acme Widgets", "ada@acme-widgets.example")).await;
    let partner_id = applied.body["id"].as_str().expect("partner id").to_owned();
    let application_id = applied.body["application_id"].as_str().expect("application id").to_owned();

    let approved = app.post(&format!("/api/v1/partners/{partner_id}/approve"), &f.channel_manager.token, json!(null)).await;
    let again = app.post(&format!("/api/v1/partners/{partner_id}/approve"), &f.channel_manager.token, json!(null)).await;

    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(approved.body["status"], "onboarding", "the program has a required step");
    assert_eq!(again.status, 409, "{}", again.text);
    let enrolled = app
        .query_i64(sql!("SELECT COUNT(*) AS n FROM enrollments WHERE partner_id = $1 AND program_id = $2", partner_id, program_id))
        .await;
    assert_eq!(enrolled, 1);
    let invited = app.get(&format!("/api/v1/partners/{partner_id}/invitations"), &f.owner.token).await;
    assert_eq!(invited.body["data"][0]["email"], "ada@acme-widgets.example", "{}", invited.text);
    assert_eq!(invited.body["data"][0]["role"], "admin");
    let users = app.get(&format!("/api/v1/partners/{partner_id}/users"), &f.owner.token).await;
    assert_eq!(users.body["data"], json!([]), "the applicant joins when accepting: {}", users.text);
    let inbox = app.get(&format!("/api/v1/applications/{application_id}"), &f.owner.token).await;
    assert_eq!(inbox.body["status"], "approved");
    assert!(inbox.body["decided_at"].is_string());
    let mail = emails_to(&app, "ada@acme-widgets.example").await;
    let (kind, subject, text) = mail.last().expect("an email").clone();
    assert_eq!(kind, "application_approved");
    assert!(subject.contains("Program resellers"), "{subject}");
    assert!(text.contains(&format!("{}/invitations/", app.base_url)), "{text}");
    let token = invitation_token(&text);
    assert_eq!(get_page(&app, &format!("/invitations/{token}"), None).await.status, 200, "the link works");
    accept_as_operator(&app.state.ctx, &token, None, PASSWORD).await.expect("set a password");
    let users = app.get(&format!("/api/v1/partners/{partner_id}/users"), &f.owner.token).await;
    assert_eq!(users.body["data"][0]["email"], "ada@acme-widgets.example", "{}", users.text);
    assert_eq!(users.body["data"][0]["role"], "admin");
    let signed_in =
        app.send(Method::POST, "/api/v1/auth/login", None, Some(&json!({"email": "ada@acme-widgets.example", "password": PASSWORD}))).await;
    assert_eq!(signed_in.body["memberships"][0]["partner_id"], partner_id.as_str(), "{}", signed_in.text);
    let events = app.get(&format!("/api/v1/audit-events?target_id={partner_id}"), &f.owner.token).await;
    let actions: Vec<&str> = events.body["data"].as_array().expect("events").iter().filter_map(|e| e["action"].as_str()).collect();
    for wanted in ["partner.applied", "partner.enrolled", "partner.approved"] {
        assert!(actions.contains(&wanted), "{wanted} missing from {actions:?}");
    }
}

#[tokio::test]
async fn approving_for_a_program_without_onboarding_steps_makes_the_partner_active_at_once() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program_with_questions(&app, &f, "referral", json!([])).await;
    let applied = apply(&app, "referral", &application("Quick Start", "q@quick.example")).await;
    let partner_id = applied.body["id"].as_str().expect("partner id");

    let approved = app.post(&format!("/api/v1/partners/{partner_id}/approve"), &f.admin.token, json!(null)).await;

    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(approved.body["status"], "active");
    let mail = emails_to(&app, "q@quick.example").await;
    assert!(mail.last().is_some_and(|(kind, _, text)| kind == "application_approved" && text.contains("active right away")), "{mail:?}");
}

#[tokio::test]
async fn rejecting_needs_a_reason_emails_it_and_closes_the_application() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program_with_questions(&app, &f, "resellers", json!([])).await;
    let applied = apply(&app, "resellers", &application("Not Yet Ltd", "ny@notyet.example")).await;
    let partner_id = applied.body["id"].as_str().expect("partner id");

    let without_reason = app.post(&format!("/api/v1/partners/{partner_id}/reject"), &f.owner.token, json!({"reason": "  "})).await;
    let by_viewer = app.post(&format!("/api/v1/partners/{partner_id}/reject"), &f.viewer.token, json!({"reason": "No"})).await;
    let rejected = app
        .post(
            &format!("/api/v1/partners/{partner_id}/reject"),
            &f.owner.token,
            json!({"reason": "We have enough resellers in your region."}),
        )
        .await;
    let then_approved = app.post(&format!("/api/v1/partners/{partner_id}/approve"), &f.owner.token, json!(null)).await;
    let on_an_active_partner = app.post(&format!("/api/v1/partners/{}/reject", f.p3), &f.owner.token, json!({"reason": "x"})).await;

    assert_eq!(without_reason.status, 422, "{}", without_reason.text);
    assert_eq!(without_reason.body["errors"][0]["field"], "reason");
    assert_eq!(by_viewer.status, 403, "{}", by_viewer.text);
    assert_eq!(rejected.status, 200, "{}", rejected.text);
    assert_eq!(rejected.body["status"], "rejected");
    assert_eq!(then_approved.status, 409, "{}", then_approved.text);
    assert_eq!(on_an_active_partner.status, 409, "a partner that did not apply has no application: {}", on_an_active_partner.text);
    let application_id = applied.body["application_id"].as_str().expect("application id");
    let inbox = app.get(&format!("/api/v1/applications/{application_id}"), &f.owner.token).await;
    assert_eq!(inbox.body["status"], "rejected");
    assert_eq!(inbox.body["rejection_reason"], "We have enough resellers in your region.");
    let mail = emails_to(&app, "ny@notyet.example").await;
    let (kind, _, text) = mail.last().expect("an email").clone();
    assert_eq!(kind, "application_rejected");
    assert!(text.contains("We have enough resellers in your region."), "{text}");
}

#[tokio::test]
async fn the_inbox_lists_newest_first_with_status_and_program_filters_and_cursor_pages() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let resellers = program_with_questions(&app, &f, "resellers", json!([])).await;
    program_with_questions(&app, &f, "referral", json!([])).await;
    let mut ids = Vec::new();
    for (n, slug) in ["resellers", "referral", "resellers", "resellers"].iter().enumerate() {
        let reply = apply(&app, slug, &application(&format!("Company {n}"), &format!("c{n}@company{n}.example"))).await;
        ids.push((reply.body["id"].as_str().expect("id").to_owned(), reply.body["application_id"].as_str().expect("id").to_owned()));
    }
    let rejected = app.post(&format!("/api/v1/partners/{}/reject", ids[0].0), &f.owner.token, json!({"reason": "No"})).await;
    assert_eq!(rejected.status, 200, "{}", rejected.text);
    let listed = |reply: &Reply| -> Vec<String> {
        reply.body["data"].as_array().expect("data").iter().map(|a| a["id"].as_str().expect("id").to_owned()).collect()
    };

    let all = app.get("/api/v1/applications", &f.viewer.token).await;
    let pending_resellers = app.get(&format!("/api/v1/applications?status=applied&program_id={resellers}"), &f.owner.token).await;
    let first_page = app.get("/api/v1/applications?limit=3", &f.owner.token).await;
    let cursor = first_page.body["next_cursor"].as_str().expect("a next page").to_owned();
    let second_page = app.get(&format!("/api/v1/applications?limit=3&cursor={cursor}"), &f.owner.token).await;
    let unknown_program = app.get("/api/v1/applications?program_id=nonsense", &f.owner.token).await;
    let bad_status = app.get("/api/v1/applications?status=maybe", &f.owner.token).await;
    let by_finance = app.get("/api/v1/applications", &f.finance.token).await;
    let by_partner = app.get("/api/v1/applications", &f.d1_admin.token).await;

    let newest_first: Vec<String> = ids.iter().rev().map(|(_, a)| a.clone()).collect();
    assert_eq!(listed(&all), newest_first);
    assert_eq!(listed(&pending_resellers), vec![ids[3].1.clone(), ids[2].1.clone()]);
    assert_eq!(listed(&first_page).len(), 3);
    assert_eq!(listed(&second_page), vec![ids[0].1.clone()]);
    assert!(second_page.body["next_cursor"].is_null());
    assert_eq!(listed(&unknown_program), Vec::<String>::new());
    assert_eq!(bad_status.status, 422, "{}", bad_status.text);
    assert_eq!(by_finance.status, 403);
    assert_eq!(by_partner.status, 403);
}

#[tokio::test]
async fn the_apply_page_checks_its_csrf_cookie_shows_errors_next_to_fields_and_thanks_the_applicant() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program_with_questions(&app, &f, "resellers", questions()).await;

    let form = get_page(&app, "/apply/resellers", None).await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert_safe_page("/apply/resellers", &form);
    assert!(form.text.contains("Annual revenue") && form.text.contains("Why us?"), "the custom questions are asked");
    // A public page carries the vendor's name, not Trellis's (issue 8).
    assert!(form.text.contains(r#"<a class="brand" href="/">Vendor</a>"#), "{}", form.text);
    assert!(form.text.contains("<title>Apply to Program resellers · Vendor</title>"), "{}", form.text);
    assert!(
        form.text.contains(r#"name="company_fax""#) && form.text.contains(r#"class="trap" aria-hidden="true""#),
        "the honeypot is hidden"
    );
    let csrf = cookie_value(&form.headers, "trellis_apply_csrf").expect("the form sets its CSRF cookie");
    let cookie = format!("trellis_apply_csrf={csrf}");
    let good = [
        ("csrf_token", csrf.as_str()),
        ("company_name", "Page Co"),
        ("contact_name", "Pat Page"),
        ("contact_email", "pat@pageco.example"),
        ("types", "reseller"),
        ("types", "msp"),
        ("answers.annual_revenue", "> 10M"),
        ("answers.why", ""),
        ("company_fax", ""),
    ];

    let forged = post_form(&app, "/apply/resellers", "trellis_apply_csrf=other", &good).await;
    let invalid = post_form(
        &app,
        "/apply/resellers",
        &cookie,
        &[("csrf_token", csrf.as_str()), ("company_name", "Page Co"), ("contact_email", "nope"), ("answers.annual_revenue", "")],
    )
    .await;
    let sent = post_form(&app, "/apply/resellers", &cookie, &good).await;

    assert_eq!(forged.status, 403, "{}", forged.text);
    assert!(forged.text.contains("The form expired"));
    assert_eq!(invalid.status, 422, "{}", invalid.text);
    assert!(invalid.text.contains(r#"id="apply-contact_email" name="contact_email" type="email" value="nope""#), "typed values are kept");
    assert!(invalid.text.contains(r#"id="apply-contact_email-error""#), "the email error sits next to its field");
    assert!(invalid.text.contains(r#"id="apply-answers.annual_revenue-error""#), "a required question's error sits next to it");
    assert!(invalid.text.contains(r#"id="apply-types-error""#));
    assert_eq!(sent.status, 303, "{}", sent.text);
    let location = sent.headers.get("location").and_then(|v| v.to_str().ok()).expect("a redirect");
    assert_eq!(location, "/apply/resellers/thanks");
    let thanks = get_page(&app, location, None).await;
    assert_eq!(thanks.status, 200);
    assert!(thanks.text.contains("Thank you"));
    let listed = app.get("/api/v1/applications", &f.owner.token).await;
    assert_eq!(listed.body["data"][0]["company_name"], "Page Co", "{}", listed.text);
    assert_eq!(listed.body["data"][0]["types"], json!(["reseller", "msp"]));
    assert_eq!(listed.body["data"][0]["answers"], json!({"annual_revenue": "> 10M"}));
}

#[tokio::test]
async fn staff_review_applications_in_the_console_inbox() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program_with_questions(&app, &f, "resellers", questions()).await;
    let mut body = application("Console Co", "cc@r1a.example");
    body["answers"] = json!({"annual_revenue": "< 1M"});
    let applied = apply(&app, "resellers", &body).await;
    let mut other = application("Reject Me", "rm@rejectme.example");
    other["answers"] = json!({"annual_revenue": "> 10M"});
    let other = apply(&app, "resellers", &other).await;
    let staff = crate::pages::sign_in(&app, &f.channel_manager.email).await;
    let application_id = applied.body["application_id"].as_str().expect("id");
    let other_id = other.body["application_id"].as_str().expect("id");

    let inbox = staff.get("/console/applications?status=applied").await;
    let detail = staff.get(&format!("/console/applications/{application_id}")).await;
    let no_reason = staff.submit(&format!("/console/applications/{other_id}/reject"), &[("reason", "")]).await;
    let rejected = staff.submit(&format!("/console/applications/{other_id}/reject"), &[("reason", "Not a fit.")]).await;
    let approved = staff.submit(&format!("/console/applications/{application_id}/approve"), &[]).await;
    let partner_view = crate::pages::sign_in(&app, &f.r1a_admin.email).await.get(&format!("/console/applications/{application_id}")).await;

    assert_eq!(inbox.status, 200, "{}", inbox.text);
    assert_safe_page("/console/applications", &inbox);
    assert!(inbox.text.contains("Console Co") && inbox.text.contains("Likely duplicate"), "{}", inbox.text);
    assert_eq!(detail.status, 200);
    assert!(detail.text.contains("Annual revenue") && detail.text.contains("&#60; 1M"), "answers with their questions: {}", detail.text);
    assert!(detail.text.contains("the same company domain") && detail.text.contains("R1a"), "the duplicate is explained");
    assert_eq!(no_reason.status, 422, "{}", no_reason.text);
    assert!(no_reason.text.contains(r#"id="reject-reason-error""#));
    assert_eq!(rejected.status, 303, "{}", rejected.text);
    assert_eq!(approved.status, 303, "{}", approved.text);
    let after = staff.get(&format!("/console/applications/{application_id}?notice=application_approved")).await;
    assert!(after.text.contains("The application was approved"), "{}", after.text);
    assert_eq!(partner_view.status, 404, "partners never see applications");
    let statuses = app.query(sql!("SELECT status FROM applications ORDER BY id")).await;
    let statuses: Vec<String> = statuses.iter().map(|r| r.get("status").expect("status")).collect();
    assert_eq!(statuses, ["approved", "rejected"]);
}

#[tokio::test]
async fn the_demo_has_pending_applications_with_a_likely_duplicate_and_a_partner_half_way_through_onboarding() {
    let app = TestApp::spawn().await;

    trellis_server::demo::seed(&app.state.ctx).await.expect("seed the demo");

    let owner = app.login("olivia.owner@acme.example", trellis_server::demo::DEMO_PASSWORD).await;
    let pending = app.get("/api/v1/applications?status=applied", &owner).await;
    let rows = pending.body["data"].as_array().expect("applications");
    assert!(rows.len() >= 3, "{}", pending.text);
    let duplicate = rows.iter().find(|a| a["likely_duplicate"] == true).expect("a likely duplicate");
    assert_eq!(duplicate["duplicates"][0]["partner_name"], "Brightside Agency", "{duplicate}");
    let rejected = app.get("/api/v1/applications?status=rejected", &owner).await;
    assert_eq!(rejected.body["data"].as_array().map(Vec::len), Some(1), "{}", rejected.text);
    let vera = app.login("vera@vertex.example", trellis_server::demo::DEMO_PASSWORD).await;
    let me = app.get("/api/v1/me", &vera).await;
    let partner_id = me.body["partner_id"].as_str().expect("Vera acts for Vertex Solutions");
    let progress = app.get(&format!("/api/v1/partners/{partner_id}/onboarding"), &vera).await;
    assert_eq!(progress.body["partner_status"], "onboarding", "{}", progress.text);
    let done = progress.body["required_done"].as_u64().expect("done");
    let total = progress.body["required_steps"].as_u64().expect("total");
    assert!(done > 0 && done < total, "half-way: {done} of {total}");
    assert_eq!(progress.body["agreements"][0]["acceptance"]["user_email"], "vera@vertex.example", "{}", progress.text);
    assert_eq!(progress.body["agreements"][0]["agreement"]["version"], 2);
}
