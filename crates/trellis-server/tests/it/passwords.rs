//! Passwords (issue 12; API.md "Identity"): the policy every new password passes — no repeats,
//! sequences, common or breached passwords, not the account's email address or name, with advice
//! that helps — and changing one's password through the API and the account page, which ends
//! every other session of the person and keeps the one making the change.

use serde_json::{Value, json};
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{Reply, TestApp};

const NEW_PASSWORD: &str = "amber lantern over quiet hills";

fn field_message(reply: &Reply, field: &str) -> String {
    reply.body["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|e| e["field"] == field))
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("no error for {field}: {}", reply.text))
        .to_owned()
}

async fn change(app: &TestApp, token: &str, current: &str, new: &str) -> Reply {
    app.post("/api/v1/auth/password", token, json!({"current_password": current, "new_password": new})).await
}

#[tokio::test]
async fn a_person_changes_their_password_and_every_other_session_ends_but_the_one_used() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let email = &f.r1a_member.email;
    let (phone, laptop) = (app.login(email, PASSWORD).await, app.login(email, PASSWORD).await);

    let wrong = change(&app, &phone, "not my password", NEW_PASSWORD).await;
    assert_eq!(wrong.status, 422, "{}", wrong.text);
    assert_eq!(field_message(&wrong, "current_password"), "is not your current password");
    for (weak, says) in [
        ("aaaaaaaa", "is too easy to guess"),
        ("abcdefgh", "is too easy to guess"),
        ("        ", "is too easy to guess"),
        (email.as_str(), "must not contain your email address or name"),
        ("short", "must be at least 8 characters"),
    ] {
        let refused = change(&app, &phone, PASSWORD, weak).await;
        assert_eq!(refused.status, 422, "{weak:?}: {}", refused.text);
        assert!(field_message(&refused, "new_password").starts_with(says), "{weak:?}: {}", refused.text);
    }
    // Nothing changed: the laptop still works, the old password still signs in.
    assert_eq!(app.get("/api/v1/me", &laptop).await.status, 200);

    let changed = change(&app, &phone, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert!(changed.body["other_sessions_ended"].as_u64().is_some_and(|n| n >= 1), "{}", changed.text);
    assert_eq!(app.get("/api/v1/me", &laptop).await.status, 401, "the other session ended");
    assert_eq!(app.get("/api/v1/me", &phone).await.status, 200, "the session used stays");
    let old = app.send(reqwest::Method::POST, "/api/v1/auth/login", None, Some(&json!({"email": email, "password": PASSWORD}))).await;
    assert_eq!(old.status, 401, "{}", old.text);
    app.login(email, NEW_PASSWORD).await;

    // An API key is not a person's sign-in.
    let by_key = change(&app, &f.owner_key, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(by_key.status, 401, "{}", by_key.text);
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_failed_sign_ins() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let token = app.login(&f.viewer.email, PASSWORD).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(change(&app, &token, "guess", NEW_PASSWORD).await.status);
    }
    assert!(statuses.starts_with(&[422, 422, 422]) && statuses.ends_with(&[429]), "{statuses:?}");
}

#[tokio::test]
async fn an_invitation_and_a_new_workspace_refuse_weak_and_personal_passwords_with_advice() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let invited = app
        .post("/api/v1/members", &f.owner.token, json!({"email": "oliver.grant@acme.example", "name": "Oliver Grant", "role": "viewer"}))
        .await;
    assert_eq!(invited.status, 201, "{}", invited.text);
    let url = invited.body["invitation_url"].as_str().expect("invitation_url");
    let token = url.rsplit('/').next().expect("token");
    let accept = |password: &'static str| {
        let app = &app;
        async move {
            let body: Value = json!({"password": password});
            app.send(reqwest::Method::POST, &format!("/api/v1/invitations/{token}/accept"), None, Some(&body)).await
        }
    };
    let common = accept("password1").await;
    assert_eq!(common.status, 422, "{}", common.text);
    assert!(field_message(&common, "password").contains("common"), "says why: {}", common.text);
    let personal = accept("grant-oliver-2026").await;
    assert_eq!(personal.status, 422, "{}", personal.text);
    assert_eq!(field_message(&personal, "password"), "must not contain your email address or name");
    assert_eq!(accept(NEW_PASSWORD).await.status, 200);

    let weak_owner = trellis_identity::workspaces::bootstrap(&app.state.ctx, "Weak", "owner@weak.example", "12345678910", "EUR").await;
    assert!(matches!(weak_owner, Err(trellis_core::Error::Validation(_))), "{weak_owner:?}");
}

#[tokio::test]
async fn the_account_page_changes_the_password_and_signs_out_the_other_browsers() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let here = crate::pages::sign_in(&app, &f.d1_admin.email).await;
    let elsewhere = crate::pages::sign_in(&app, &f.d1_admin.email).await;
    let page = here.get("/account").await;
    assert_eq!(page.status, 200, "{}", page.text);
    crate::pages::assert_safe_page("/account", &page);
    assert!(page.text.contains("Change password") && page.text.contains("autocomplete=\"new-password\""), "{}", page.text);

    let refused = here.submit("/account/password", &[("current_password", PASSWORD), ("new_password", "abcdefgh")]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.text.contains("is too easy to guess"), "{}", refused.text);
    assert!(!refused.text.contains(PASSWORD), "a password is never sent back");

    let changed = here.submit("/account/password", &[("current_password", PASSWORD), ("new_password", NEW_PASSWORD)]).await;
    assert_eq!(changed.status, 303, "{}", changed.text);
    assert!(here.get("/account?notice=password_changed").await.text.contains("Your password was changed"));
    let signed_out = elsewhere.get("/account").await;
    assert_eq!(signed_out.status, 303, "the other browser is signed out");
    let to = signed_out.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(to.starts_with("/login"), "{to}");
}
