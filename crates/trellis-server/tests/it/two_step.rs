//! Two-step sign-in with an authenticator app (issue 12; API.md "Identity", ADR 0023): RFC 6238
//! codes computed here independently of the server's code, each usable once; recovery codes;
//! turning it on or off ends the person's other sessions; the sign-in page's second step.

use reqwest::Method;
use ring::hmac;
use serde_json::{Value, json};
use trellis_core::Clock;
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{Reply, TestApp};

/// RFC 4648 base32 (no padding), as an authenticator app reads the key.
fn base32_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0_u64, 0_u32);
    for c in text.chars() {
        let value = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".find(c).expect("a base32 character") as u64;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            out.push(((buffer >> (bits - 8)) & 0xff) as u8);
            bits -= 8;
        }
    }
    out
}

/// The code an app shows `seconds_later` from now (RFC 6238: HMAC-SHA-1, 30 s, 6 digits).
pub(crate) fn app_code(app: &TestApp, secret: &str, seconds_later: i64) -> String {
    let seed = base32_decode(secret);
    let unix = app.clock.now().micros().div_euclid(1_000_000) + seconds_later;
    let counter = (unix / 30) as u64;
    let digest = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &seed), &counter.to_be_bytes());
    let bytes = digest.as_ref();
    let offset = usize::from(bytes[19] & 0x0f);
    let value = u32::from_be_bytes([bytes[offset] & 0x7f, bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]]) % 1_000_000;
    format!("{value:06}")
}

async fn login(app: &TestApp, email: &str, totp: Option<&str>) -> Reply {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(code) = totp {
        body["totp"] = json!(code);
    }
    app.send(Method::POST, "/api/v1/auth/login", None, Some(&body)).await
}

/// Sets up and confirms an authenticator for the person signed in with `token`: its key and
/// the recovery codes.
async fn turn_on(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let enrolled = app.post("/api/v1/auth/totp", token, json!({})).await;
    assert_eq!(enrolled.status, 200, "{}", enrolled.text);
    let secret = enrolled.body["secret"].as_str().expect("secret").to_owned();
    let confirmed = app.post("/api/v1/auth/totp/confirm", token, json!({"code": app_code(app, &secret, 0)})).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let codes = confirmed.body["recovery_codes"].as_array().expect("codes").iter().map(|c| c.as_str().expect("code").to_owned()).collect();
    (secret, codes)
}

#[tokio::test]
async fn an_authenticator_app_guards_the_sign_in_with_codes_usable_once_and_recovery_codes() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let email = f.r1a_admin.email.clone();
    let token = app.login(&email, PASSWORD).await;
    let laptop = app.login(&email, PASSWORD).await;

    let enrolled = app.post("/api/v1/auth/totp", &token, json!({})).await;
    assert_eq!(enrolled.status, 200, "{}", enrolled.text);
    let secret = enrolled.body["secret"].as_str().expect("secret").to_owned();
    assert_eq!(base32_decode(&secret).len(), 20, "a 160-bit seed");
    let url = enrolled.body["otpauth_url"].as_str().expect("url");
    assert!(
        url.starts_with("otpauth://totp/Trellis%3A") && url.contains(&format!("secret={secret}")) && url.contains("period=30"),
        "{url}"
    );
    // Not in force until confirmed: the password alone still signs in.
    assert_eq!(login(&app, &email, None).await.status, 200);
    let sealed: String =
        app.query(trellis_db::sql!("SELECT sealed_seed FROM totp_authenticators")).await[0].get("sealed_seed").expect("seed");
    assert!(sealed.starts_with("v1:") && !sealed.contains(&secret), "the seed is sealed at rest");

    let wrong = app.post("/api/v1/auth/totp/confirm", &token, json!({"code": "12345"})).await;
    assert_eq!(wrong.status, 422, "{}", wrong.text);
    let other_code = format!("{:06}", (app_code(&app, &secret, 0).parse::<u32>().expect("digits") + 1) % 1_000_000);
    assert_eq!(app.post("/api/v1/auth/totp/confirm", &token, json!({"code": other_code})).await.status, 422);
    let confirmed = app.post("/api/v1/auth/totp/confirm", &token, json!({"code": app_code(&app, &secret, 0)})).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let codes: Vec<String> =
        confirmed.body["recovery_codes"].as_array().expect("codes").iter().map(|c| c.as_str().expect("code").to_owned()).collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(codes.iter().collect::<std::collections::BTreeSet<_>>().len(), 10);
    // Turning it on ended the other sessions, not this one.
    assert_eq!(app.get("/api/v1/me", &laptop).await.status, 401);
    assert_eq!(app.get("/api/v1/me", &token).await.status, 200);
    assert_eq!(app.post("/api/v1/auth/totp", &token, json!({})).await.status, 409, "one at a time");

    // Signing in now needs the code.
    let without = login(&app, &email, None).await;
    assert_eq!((without.status, without.body["code"].clone()), (401, Value::from("mfa_required")), "{}", without.text);
    assert_eq!(login(&app, &email, Some("000000")).await.status, 401);
    // The code used to confirm (this step) cannot be used again; the next step's code can, once.
    assert_eq!(login(&app, &email, Some(&app_code(&app, &secret, 0))).await.status, 401, "a code works once");
    let next = app_code(&app, &secret, 30);
    assert_eq!(login(&app, &email, Some(&next)).await.status, 200, "the next step's code (clock drift)");
    assert_eq!(login(&app, &email, Some(&next)).await.status, 401, "replayed");
    app.clock.advance_seconds(90);
    assert_eq!(login(&app, &email, Some(&app_code(&app, &secret, -30))).await.status, 200, "the previous step's code");
    // A recovery code works once, typed as people type it.
    assert_eq!(login(&app, &email, Some(&codes[0].to_uppercase())).await.status, 200);
    assert_eq!(login(&app, &email, Some(&codes[0])).await.status, 401);
    let history = app.get("/api/v1/auth/sign-ins", &token).await;
    assert!(history.text.contains("mfa_failed"), "{}", history.text);

    // Turning it off needs a code; then the password alone signs in again.
    assert_eq!(app.delete_with("/api/v1/auth/totp", &token, json!({"code": "999999"})).await.status, 422);
    app.clock.advance_seconds(30);
    let off = app.delete_with("/api/v1/auth/totp", &token, json!({"code": app_code(&app, &secret, 0)})).await;
    assert_eq!(off.status, 204, "{}", off.text);
    assert_eq!(login(&app, &email, None).await.status, 200);
    assert_eq!(app.delete_with("/api/v1/auth/totp", &token, json!({"code": "123456"})).await.status, 409);
}

#[tokio::test]
async fn guessing_codes_is_throttled_like_guessing_passwords() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let (secret, _) = turn_on(&app, &f.d2_admin.token).await;
    let mut statuses = Vec::new();
    for guess in ["111111", "222222", "333333", "444444", "555555", "666666"] {
        statuses.push(login(&app, &f.d2_admin.email, Some(guess)).await.status);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429], "five wrong codes, then a wait");
    app.clock.advance_seconds(31);
    assert_eq!(login(&app, &f.d2_admin.email, Some(&app_code(&app, &secret, 0))).await.status, 200);
}

#[tokio::test]
async fn without_a_secret_key_no_authenticator_can_be_set_up() {
    let app = TestApp::spawn_without_secret_key().await;
    let f = Fixture::build(&app).await;
    let refused = app.post("/api/v1/auth/totp", &f.viewer.token, json!({})).await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(refused.text.contains("TRELLIS_SECRET_KEY"), "{}", refused.text);
    assert_eq!(app.post("/api/v1/auth/totp", &f.owner_key, json!({})).await.status, 401, "an API key is not a person");
}

#[tokio::test]
async fn a_workspace_that_requires_two_step_sign_in_holds_staff_and_partner_admins_at_setting_it_up_and_keys_go_on() {
    use crate::pages::sign_in;
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    // Signed in to the pages before the policy (their home page would send them away after).
    let web = sign_in(&app, &f.finance.email).await;
    let portal = sign_in(&app, &f.r1a_admin.email).await;
    let set = |staff: bool, partner_admins: bool| json!({"mfa_required_staff": staff, "mfa_required_partner_admins": partner_admins});
    // Only owners and admins set the policy; it is audited and shown.
    assert_eq!(app.patch("/api/v1/workspace", &f.channel_manager.token, set(true, true)).await.status, 403);
    let saved = app.patch("/api/v1/workspace", &f.owner_key, set(true, false)).await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    assert_eq!(
        (saved.body["mfa_required_staff"].as_bool(), saved.body["mfa_required_partner_admins"].as_bool()),
        (Some(true), Some(false))
    );

    // Staff without an app: the API refuses everything but setting one up; keys are not sign-ins.
    let held = app.get("/api/v1/partners", &f.channel_manager.token).await;
    assert_eq!((held.status, held.body["code"].as_str()), (403, Some("mfa_enrollment_required")), "{}", held.text);
    assert_eq!(app.get("/api/v1/partners", &f.owner_key).await.status, 200, "an API key goes on");
    assert_eq!(app.get("/api/v1/partners", &f.r1a_admin.token).await.status, 200, "partner admins are not required yet");
    // The console sends them to their account page, which works.
    let console = web.get("/console/partners").await;
    assert_eq!(console.status, 303);
    assert!(console.headers["location"].to_str().expect("location").starts_with("/account?notice=mfa_required"));
    assert_eq!(web.get("/").await.status, 303, "the home page too");
    let account = web.get("/account?notice=mfa_required").await;
    assert_eq!(account.status, 200);
    assert!(account.text.contains("requires two-step sign-in"), "{}", account.text);
    // Once the app is on, the same token works again.
    turn_on(&app, &f.channel_manager.token).await;
    assert_eq!(app.get("/api/v1/partners", &f.channel_manager.token).await.status, 200);

    // Partner admins, when required: the admin is held, a member is not.
    assert_eq!(app.patch("/api/v1/workspace", &f.owner_key, set(false, true)).await.status, 200);
    let admin = app.get("/api/v1/partners", &f.r1a_admin.token).await;
    assert_eq!(admin.body["code"], "mfa_enrollment_required", "{}", admin.text);
    assert_eq!(app.get("/api/v1/partners", &f.r1a_member.token).await.status, 200);
    assert_eq!(app.get("/api/v1/partners", &f.r1a_key).await.status, 200, "a partner key goes on");
    assert_eq!(app.get("/api/v1/partners", &f.finance.token).await.status, 200, "staff are free again");
    assert_eq!(portal.get("/portal/users").await.status, 303);
    let audit = app.get("/api/v1/audit-events?action=workspace.updated", &f.owner_key).await;
    assert!(audit.text.contains("mfa_required_partner_admins"), "{}", audit.text);
}

#[tokio::test]
async fn keys_roles_payout_methods_and_payout_approvals_need_a_sign_in_or_a_confirmation_in_the_last_five_minutes() {
    use crate::pages::{csrf_field, sign_in};
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let owner = app.login(&f.owner.email, PASSWORD).await;
    let r1a_admin = app.login(&f.r1a_admin.email, PASSWORD).await;
    let web = sign_in(&app, &f.r1a_admin.email).await;
    let key = |n: u32| json!({"name": format!("step-up {n}")});
    assert_eq!(app.post("/api/v1/api-keys", &owner, key(1)).await.status, 201, "just signed in");

    app.clock.advance_seconds(6 * 60);
    let stale = app.post("/api/v1/api-keys", &owner, key(2)).await;
    assert_eq!((stale.status, stale.body["code"].as_str()), (403, Some("reauthentication_required")), "{}", stale.text);
    let role = app.patch(&format!("/api/v1/members/{}", f.viewer.user_id), &owner, json!({"role": "finance"})).await;
    assert_eq!(role.body["code"], "reauthentication_required", "{}", role.text);
    let partner_role =
        app.patch(&format!("/api/v1/partners/{}/users/{}", f.r1a, f.r1a_member.user_id), &r1a_admin, json!({"role": "sales"})).await;
    assert_eq!(partner_role.body["code"], "reauthentication_required", "{}", partner_role.text);
    let method = json!({"type": "sepa", "account_holder": "R1a GmbH", "iban": "DE89370400440532013000"});
    let payout_method = app.send(Method::PUT, &format!("/api/v1/partners/{}/payout-method", f.r1a), Some(&r1a_admin), Some(&method)).await;
    assert_eq!(payout_method.body["code"], "reauthentication_required", "{}", payout_method.text);
    let partner_key = app.post(&format!("/api/v1/partners/{}/scim-tokens", f.r1a), &r1a_admin, json!({})).await;
    assert_eq!(partner_key.body["code"], "reauthentication_required", "{}", partner_key.text);
    // Reading is not affected, and a key is not a session.
    assert_eq!(app.get("/api/v1/partners", &owner).await.status, 200);
    assert_eq!(app.post("/api/v1/api-keys", &f.owner_key, key(3)).await.status, 201);

    // Confirming: a wrong password is refused (and counted); the right one opens five minutes.
    let wrong = app.post("/api/v1/auth/reauthenticate", &owner, json!({"password": "not the password at all"})).await;
    assert_eq!(wrong.status, 422, "{}", wrong.text);
    assert_eq!(
        app.post("/api/v1/auth/reauthenticate", &f.owner_key, json!({"password": PASSWORD})).await.status,
        401,
        "keys have no password"
    );
    let confirmed = app.post("/api/v1/auth/reauthenticate", &owner, json!({"password": PASSWORD})).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert!(confirmed.body["valid_until"].is_string());
    assert_eq!(app.post("/api/v1/api-keys", &owner, key(4)).await.status, 201);
    assert_eq!(app.patch(&format!("/api/v1/members/{}", f.viewer.user_id), &owner, json!({"role": "finance"})).await.status, 200);
    let history = app.get("/api/v1/auth/sign-ins", &owner).await;
    assert!(history.text.contains("bad_password"), "the wrong confirmation is in the history: {}", history.text);

    // With an authenticator app, its code is needed too.
    let (secret, _) = turn_on(&app, &owner).await;
    app.clock.advance_seconds(6 * 60);
    assert_eq!(app.post("/api/v1/api-keys", &owner, key(5)).await.status, 403, "five minutes later, again");
    let without_code = app.post("/api/v1/auth/reauthenticate", &owner, json!({"password": PASSWORD})).await;
    assert_eq!(without_code.status, 422, "{}", without_code.text);
    assert!(without_code.text.contains("totp"), "{}", without_code.text);
    let with_code =
        app.post("/api/v1/auth/reauthenticate", &owner, json!({"password": PASSWORD, "totp": app_code(&app, &secret, 30)})).await;
    assert_eq!(with_code.status, 200, "{}", with_code.text);
    assert_eq!(app.post("/api/v1/api-keys", &owner, key(6)).await.status, 201);

    // The pages: creating a key sends the person to "Confirm it's you", which sends them back.
    let created = web.submit("/portal/api-keys", &[("name", "late key"), ("role", "member")]).await;
    assert_eq!(created.status, 303, "{}", created.text);
    assert_eq!(created.headers["location"], "/account/confirm");
    let form = app
        .client
        .get(format!("{}/account/confirm", app.base_url))
        .header("cookie", web.cookie())
        .header("referer", format!("{}/portal/api-keys", app.base_url))
        .send()
        .await
        .expect("the confirmation page");
    let form = form.text().await.expect("body");
    assert!(form.contains(r#"name="next" value="/portal/api-keys""#), "{form}");
    let csrf = csrf_field(&form).expect("csrf");
    let back = crate::pages::post_form(
        &app,
        "/account/confirm",
        web.cookie(),
        &[("csrf_token", &csrf), ("next", "/portal/api-keys"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(back.status, 303, "{}", back.text);
    assert_eq!(back.headers["location"], "/portal/api-keys");
    assert_eq!(web.submit("/portal/api-keys", &[("name", "late key"), ("role", "member")]).await.status, 200, "the key, shown once");
}
