//! Password reset by emailed link (issue 12; API.md "Identity", ADR 0023): the same answer for
//! every address, a link only to the account's owner (never readable in the outbox), single use,
//! short-lived, voided by a newer one, limited per address, and every session ends.

use reqwest::Method;
use serde_json::json;
use trellis_db::sql;
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{Reply, TEST_FIXTURES, TestApp};

const NEW_PASSWORD: &str = "copper kettle beside the harbour";

async fn ask(app: &TestApp, email: &str) -> Reply {
    app.send(Method::POST, "/api/v1/auth/password-reset", None, Some(&json!({"email": email}))).await
}

async fn complete(app: &TestApp, token: &str, new_password: &str) -> Reply {
    let body = json!({"token": token, "new_password": new_password});
    app.send(Method::POST, "/api/v1/auth/password-reset/complete", None, Some(&body)).await
}

/// The token of the newest reset link emailed to `to`.
fn link_token(smtp: &trellis_testkit::smtp::SmtpReceiver, to: &str) -> String {
    let mails = smtp.messages_to(to);
    let mail = mails.iter().rev().find(|m| m.subject().is_some_and(|s| s.contains("Reset"))).expect("a reset email");
    let text = mail.text_part().expect("text");
    text.split("/password-reset/").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("a link").to_owned()
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_ends_every_session_and_unknown_addresses_get_the_same_answer() {
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    let f = Fixture::build(&app).await;
    let email = f.r1a_member.email.clone();
    let other_session = app.login(&email, PASSWORD).await;

    let known = ask(&app, &email).await;
    let unknown = ask(&app, "nobody-here@r1a.example").await;
    for reply in [&known, &unknown] {
        assert_eq!((reply.status, reply.text.as_str()), (202, ""), "the same answer for every address");
    }
    // What is not an address is refused as the document declares (that tells nothing of accounts).
    assert_eq!(ask(&app, "not an address").await.status, 422);
    assert_eq!(ask(&app, &format!("{}@r1a.example", "a".repeat(250))).await.status, 422);
    // The link waits in the outbox for the worker; an admin reading the outbox never sees it.
    let id: String = app.query(sql!("SELECT id FROM emails WHERE kind = 'password_reset'")).await[0].get("id").expect("id");
    let shown = trellis_identity::background_work::get_email(
        &app.state.ctx,
        &trellis_identity::Scope::system(f.workspace_id.clone(), &TEST_FIXTURES),
        &id.parse().expect("email id"),
    )
    .await
    .expect("the outbox's copy");
    assert!(shown.text_body.contains(trellis_identity::background_work::HIDDEN_RESET_LINK), "{}", shown.text_body);
    assert!(!shown.text_body.contains("prt_") && !shown.html_body.contains("prt_"), "{}", shown.text_body);
    app.run_jobs().await;
    assert_eq!(smtp.messages_to("nobody-here@r1a.example").len(), 0, "no email to an unknown address");
    let token = link_token(&smtp, &email);
    assert!(token.starts_with("prt_"));

    // A weak password is refused and the link still works; then it sets the password.
    let weak = complete(&app, &token, "password1").await;
    assert_eq!(weak.status, 422, "{}", weak.text);
    assert!(weak.text.contains("new_password"), "{}", weak.text);
    let done = complete(&app, &token, NEW_PASSWORD).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["email"], email.as_str());
    // Every session ended; the old password is gone; the new one signs in; the link is used up.
    assert_eq!(app.get("/api/v1/me", &other_session).await.status, 401);
    assert_eq!(app.get("/api/v1/me", &f.r1a_member.token).await.status, 401);
    let old = app.send(Method::POST, "/api/v1/auth/login", None, Some(&json!({"email": email, "password": PASSWORD}))).await;
    assert_eq!(old.status, 401);
    let token_now = app.login(&email, NEW_PASSWORD).await;
    let again = complete(&app, &token, "another fine passphrase here").await;
    assert_eq!(again.status, 422, "{}", again.text);
    assert!(again.text.contains("does not work any more"), "{}", again.text);
    // The history tells the person what happened.
    let history = app.get("/api/v1/auth/sign-ins", &token_now).await;
    let seen: Vec<String> =
        history.body["data"].as_array().expect("data").iter().map(|s| format!("{} {}", s["method"], s["outcome"])).collect();
    assert!(seen.contains(&"\"password_reset\" \"success\"".to_owned()), "{seen:?}");
    assert!(seen.contains(&"\"password_reset\" \"reset_requested\"".to_owned()), "{seen:?}");
}

#[tokio::test]
async fn links_expire_a_newer_link_voids_the_older_and_an_address_gets_three_an_hour() {
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    let f = Fixture::build(&app).await;
    let email = f.d2_admin.email.clone();
    ask(&app, &email).await;
    app.run_jobs().await;
    let first = link_token(&smtp, &email);
    ask(&app, &email).await;
    app.run_jobs().await;
    let second = link_token(&smtp, &email);
    assert_ne!(first, second);
    assert_eq!(complete(&app, &first, NEW_PASSWORD).await.status, 422, "the newer link voids the older");

    // 30 minutes later the link has expired.
    app.clock.advance_seconds(31 * 60);
    assert_eq!(complete(&app, &second, NEW_PASSWORD).await.status, 422);

    // A third link within the hour is sent; a fourth is not — the answer stays the same.
    ask(&app, &email).await;
    app.run_jobs().await;
    let before = smtp.messages_to(&email).len();
    let fourth = ask(&app, &email).await;
    assert_eq!(fourth.status, 202);
    app.run_jobs().await;
    assert_eq!(smtp.messages_to(&email).len(), before, "at most three links an hour");
    assert_eq!(
        app.query_i64(sql!(
            "SELECT COUNT(*) AS n FROM sign_ins WHERE email = $1 AND method = 'password_reset' AND outcome = 'throttled'",
            &email
        ))
        .await,
        1
    );
    // The account's own password still works: asking for links changes nothing.
    app.login(&email, PASSWORD).await;
}

#[tokio::test]
async fn guessing_links_is_slowed_down_per_address() {
    let app = TestApp::spawn().await;
    let mut statuses = Vec::new();
    for n in 0..21 {
        statuses.push(complete(&app, &format!("prt_guess{n}"), NEW_PASSWORD).await.status);
    }
    assert!(statuses[..20].iter().all(|s| *s == 422), "{statuses:?}");
    assert_eq!(statuses[20], 429, "{statuses:?}");
}
