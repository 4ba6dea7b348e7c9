//! Passkeys (issue 12, ADR 0027; API.md "Identity"): a software authenticator
//! (`webauthn-authenticator-rs`'s `SoftPasskey`, no browser) registers passkeys and answers
//! sign-ins and confirmations through the API and through the pages' forms, on an app whose public
//! URL is `http://localhost:<port>` (passkeys need a domain name). The ceremony's negative cases
//! are the ones a phishing site, a replay or a copied authenticator would produce. The browser's
//! side (app.js with Chromium's virtual authenticator) is in `browser.rs`.

use reqwest::Method;
use serde_json::{Value, json};
use trellis_core::Clock;
use trellis_db::sql;
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{Reply, TestApp};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{
    AllowCredentials, CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, UserVerificationPolicy,
};

use crate::pages::{cookie_value, get_page, post_form, sign_in};

/// A passkey the software authenticator holds, as the server registered it.
struct Registered {
    id: String,
    credential_id: Vec<u8>,
    /// The person's handle, which a discoverable passkey answers at a sign-in.
    handle: Vec<u8>,
}

/// An authenticator that verifies its user (as a phone's fingerprint or a laptop's PIN does).
fn authenticator() -> SoftPasskey {
    SoftPasskey::new(true)
}

fn origin(app: &TestApp) -> Url {
    Url::parse(&app.base_url).expect("the app's URL")
}

/// The app's URL with another host (a phishing site's).
fn origin_at(app: &TestApp, host: &str) -> Url {
    let mut url = origin(app);
    url.set_host(Some(host)).expect("a host");
    url
}

async fn register(app: &TestApp, token: &str, key: &mut SoftPasskey, name: &str) -> Registered {
    let started = app.post("/api/v1/auth/passkeys/registration-options", token, json!({})).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let options: CreationChallengeResponse = serde_json::from_value(started.body["options"].clone()).expect("WebAuthn creation options");
    let handle = options.public_key.user.id.clone();
    let answer = key.do_registration(origin(app), options).expect("the authenticator creates a passkey");
    let credential_id = answer.raw_id.clone();
    let body = json!({"ceremony_id": started.body["ceremony_id"], "name": name, "credential": answer});
    let done = app.post("/api/v1/auth/passkeys", token, body).await;
    assert_eq!(done.status, 201, "{}", done.text);
    assert_eq!(done.body["name"], name);
    Registered { id: done.body["id"].as_str().expect("id").to_owned(), credential_id, handle }
}

async fn sign_in_options(app: &TestApp) -> (String, RequestChallengeResponse) {
    let started = app.send(Method::POST, "/api/v1/auth/passkey-login/options", None, Some(&json!({}))).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let options = serde_json::from_value(started.body["options"].clone()).expect("WebAuthn request options");
    (started.body["ceremony_id"].as_str().expect("ceremony").to_owned(), options)
}

/// The authenticator's answer to a sign-in without an address. The software authenticator
/// cannot discover its passkeys, so the one to use is named to it, and the handle it stored is
/// put in the answer as a discoverable passkey does (the handle is not signed).
fn answer(key: &mut SoftPasskey, origin: Url, mut options: RequestChallengeResponse, passkey: &Registered) -> PublicKeyCredential {
    options.public_key.allow_credentials.push(AllowCredentials {
        type_: "public-key".to_owned(),
        id: passkey.credential_id.clone(),
        transports: None,
    });
    let mut credential = key.do_authentication(origin, options).expect("the authenticator signs");
    credential.response.user_handle = Some(passkey.handle.clone());
    credential
}

async fn passkey_login(app: &TestApp, ceremony_id: &str, credential: &PublicKeyCredential) -> Reply {
    let body = json!({"ceremony_id": ceremony_id, "credential": credential});
    app.send(Method::POST, "/api/v1/auth/passkey-login", None, Some(&body)).await
}

async fn sessions_of(app: &TestApp, user_id: &str) -> i64 {
    app.query_i64(sql!("SELECT COUNT(*) AS n FROM sessions WHERE user_id = $1", user_id)).await
}

#[tokio::test]
async fn a_passkey_signs_in_without_an_address_confirms_who_one_is_and_its_removal_ends_its_sessions() {
    let app = TestApp::spawn_at_localhost().await;
    let f = Fixture::build(&app).await;
    let mut key = authenticator();
    let passkey = register(&app, &f.finance.token, &mut key, "Work laptop").await;
    let listed = app.get("/api/v1/auth/passkeys", &f.finance.token).await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1), "{}", listed.text);
    assert_eq!((listed.body["data"][0]["id"].as_str(), &listed.body["data"][0]["last_used_at"]), (Some(passkey.id.as_str()), &Value::Null));
    assert!(!listed.text.contains("credential"), "the key itself is never shown: {}", listed.text);
    // Another person sees none of it.
    assert_eq!(app.get("/api/v1/auth/passkeys", &f.admin.token).await.body["data"], json!([]));
    assert_eq!(app.delete(&format!("/api/v1/auth/passkeys/{}", passkey.id), &f.admin.token).await.status, 404);

    // Signing in: no address, no password.
    let (ceremony, options) = sign_in_options(&app).await;
    let signed = passkey_login(&app, &ceremony, &answer(&mut key, origin(&app), options, &passkey)).await;
    assert_eq!(signed.status, 200, "{}", signed.text);
    let token = signed.body["token"].as_str().expect("token").to_owned();
    let me = app.get("/api/v1/me", &token).await;
    assert_eq!(me.body["user_id"], f.finance.user_id.as_str(), "{}", me.text);
    let history = app.get("/api/v1/auth/sign-ins", &token).await;
    assert_eq!((&history.body["data"][0]["method"], &history.body["data"][0]["outcome"]), (&json!("passkey"), &json!("success")));
    // Again: the counter the authenticator moved on was saved (a copy's older counter is refused,
    // see the next test), and when it was last used shows.
    let (ceremony, options) = sign_in_options(&app).await;
    assert_eq!(passkey_login(&app, &ceremony, &answer(&mut key, origin(&app), options, &passkey)).await.status, 200);
    let listed = app.get("/api/v1/auth/passkeys", &f.finance.token).await;
    assert!(listed.body["data"][0]["last_used_at"].is_string(), "{}", listed.text);

    // Adding a passkey needs a sign-in or a confirmation within five minutes; a passkey confirms.
    app.clock.advance_seconds(6 * 60);
    let late = app.post("/api/v1/auth/passkeys/registration-options", &token, json!({})).await;
    assert_eq!((late.status, late.body["code"].as_str()), (403, Some("reauthentication_required")), "{}", late.text);
    let started = app.post("/api/v1/auth/reauthenticate/passkey-options", &token, json!({})).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let options: RequestChallengeResponse = serde_json::from_value(started.body["options"].clone()).expect("options");
    assert_eq!(options.public_key.allow_credentials.len(), 1, "the options name the person's passkeys");
    let credential = key.do_authentication(origin(&app), options).expect("the authenticator signs");
    let confirmed = app
        .post("/api/v1/auth/reauthenticate/passkey", &token, json!({"ceremony_id": started.body["ceremony_id"], "credential": credential}))
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert_eq!(app.post("/api/v1/auth/passkeys/registration-options", &token, json!({})).await.status, 200);
    // Someone without a passkey confirms with the password.
    let none = app.post("/api/v1/auth/reauthenticate/passkey-options", &f.admin.token, json!({})).await;
    assert_eq!(none.status, 409, "{}", none.text);

    // Removing the passkey ends the sessions begun with it (not the one asking).
    let before = sessions_of(&app, &f.finance.user_id).await;
    assert_eq!(app.delete(&format!("/api/v1/auth/passkeys/{}", passkey.id), &f.finance.token).await.status, 204);
    assert_eq!(sessions_of(&app, &f.finance.user_id).await, before - 2, "both passkey sessions ended");
    assert_eq!(app.get("/api/v1/me", &token).await.status, 401);
    assert_eq!(app.get("/api/v1/auth/passkeys", &f.finance.token).await.body["data"], json!([]));
    // And it signs in no more.
    let (ceremony, options) = sign_in_options(&app).await;
    assert_eq!(passkey_login(&app, &ceremony, &answer(&mut key, origin(&app), options, &passkey)).await.status, 401);
}

#[tokio::test]
async fn what_a_phishing_site_a_replay_or_a_copied_authenticator_sends_signs_no_one_in() {
    let app = TestApp::spawn_at_localhost().await;
    let f = Fixture::build(&app).await;
    let mut key = authenticator();
    let passkey = register(&app, &f.finance.token, &mut key, "Phone").await;
    let other = register(&app, &f.admin.token, &mut authenticator(), "Admin's key").await;
    let sessions = sessions_of(&app, &f.finance.user_id).await;
    let mut refused = 0;
    let mut refuse = |reply: Reply, case: &str| {
        assert_eq!(reply.status, 401, "{case}: {}", reply.text);
        refused += 1;
    };

    // 1. Another origin of the same relying party (here its https twin): the browser signs for
    // the origin it is on, and the server knows only its own.
    let (ceremony, options) = sign_in_options(&app).await;
    let mut twin = origin(&app);
    twin.set_scheme("https").expect("https");
    let phished = answer(&mut key, twin, options, &passkey);
    refuse(passkey_login(&app, &ceremony, &phished).await, "another origin");
    // 2. Another site, asking for its own relying party.
    let (ceremony, mut options) = sign_in_options(&app).await;
    options.public_key.rp_id = "evil.localhost".to_owned();
    // (Browsers allow plain http on localhost only.)
    let mut evil = origin_at(&app, "evil.localhost");
    evil.set_scheme("https").expect("https");
    let phished = answer(&mut key, evil, options, &passkey);
    refuse(passkey_login(&app, &ceremony, &phished).await, "another relying party");
    // 3. The same answer twice: the ceremony is used up by the first.
    let (ceremony, options) = sign_in_options(&app).await;
    let good = answer(&mut key, origin(&app), options, &passkey);
    assert_eq!(passkey_login(&app, &ceremony, &good).await.status, 200);
    refuse(passkey_login(&app, &ceremony, &good).await, "a replayed answer");
    // 4. An answer to one ceremony sent with another (its challenge).
    let (fresh, _) = sign_in_options(&app).await;
    refuse(passkey_login(&app, &fresh, &good).await, "an answer to another challenge");
    // 5. Too late: five minutes at most.
    let (ceremony, options) = sign_in_options(&app).await;
    let slow = answer(&mut key, origin(&app), options, &passkey);
    app.clock.advance_seconds(5 * 60 + 1);
    refuse(passkey_login(&app, &ceremony, &slow).await, "an expired ceremony");
    // 6. No user verification (someone who has the device but not the PIN or finger).
    let (ceremony, mut options) = sign_in_options(&app).await;
    options.public_key.user_verification = UserVerificationPolicy::Discouraged_DO_NOT_USE;
    // Not asked to verify, the authenticator signs without the user-verified flag.
    let weak = answer(&mut key, origin(&app), options, &passkey);
    refuse(passkey_login(&app, &ceremony, &weak).await, "no user verification");
    // 7. One's own passkey presented as another person's (the handle is not signed).
    let (ceremony, options) = sign_in_options(&app).await;
    let mut swapped = answer(&mut key, origin(&app), options, &passkey);
    swapped.response.user_handle = Some(other.handle.clone());
    refuse(passkey_login(&app, &ceremony, &swapped).await, "another person's handle");
    // 8. A copied authenticator: its counter is behind the one the server saw last.
    let stored = app.query(sql!("SELECT credential FROM passkeys WHERE id = $1", &passkey.id)).await;
    let mut credential: Value = serde_json::from_str(&stored[0].get::<String>("credential").expect("credential")).expect("JSON");
    let seen = credential["cred"]["counter"].as_u64().expect("a counter");
    credential["cred"]["counter"] = json!(seen + 1000);
    app.execute(vec![sql!("UPDATE passkeys SET credential = $2 WHERE id = $1", &passkey.id, credential.to_string())])
        .await
        .expect("update");
    let (ceremony, options) = sign_in_options(&app).await;
    refuse(passkey_login(&app, &ceremony, &answer(&mut key, origin(&app), options, &passkey)).await, "a counter that went back");
    // 9. Not an answer at all.
    let (ceremony, _) = sign_in_options(&app).await;
    let garbage = app
        .send(Method::POST, "/api/v1/auth/passkey-login", None, Some(&json!({"ceremony_id": ceremony, "credential": {"id": "x"}})))
        .await;
    refuse(garbage, "a malformed answer");

    assert_eq!(refused, 9);
    assert_eq!(sessions_of(&app, &f.finance.user_id).await, sessions + 1, "only the one good sign-in began a session");
    // The refusals the server could tie to the account are in its history.
    let history = app.get("/api/v1/auth/sign-ins", &f.finance.token).await;
    let refusals = history.body["data"].as_array().expect("history").iter().filter(|s| s["outcome"] == "passkey_refused").count();
    assert!(refusals >= 4, "{}", history.text);

    // Registration refuses a passkey made for another origin, and an answer sent twice (fresh
    // sign-ins: the clock moved past the step-up window).
    let finance = app.login(&f.finance.email, PASSWORD).await;
    let admin = app.login(&f.admin.email, PASSWORD).await;
    let started = app.post("/api/v1/auth/passkeys/registration-options", &finance, json!({})).await;
    let options: CreationChallengeResponse = serde_json::from_value(started.body["options"].clone()).expect("options");
    let mut twin = origin(&app);
    twin.set_scheme("https").expect("https");
    let made = authenticator().do_registration(twin, options).expect("registers");
    let body = json!({"ceremony_id": started.body["ceremony_id"], "name": "Phished", "credential": made});
    let refused_registration = app.post("/api/v1/auth/passkeys", &finance, body.clone()).await;
    assert_eq!((refused_registration.status, refused_registration.body["errors"][0]["field"].as_str()), (422, Some("credential")));
    assert_eq!(app.post("/api/v1/auth/passkeys", &finance, body).await.status, 422, "the ceremony is used up");
    // Someone else's ceremony is not one's own.
    let theirs = app.post("/api/v1/auth/passkeys/registration-options", &admin, json!({})).await;
    let options: CreationChallengeResponse = serde_json::from_value(theirs.body["options"].clone()).expect("options");
    let made = authenticator().do_registration(origin(&app), options).expect("registers");
    let stolen = json!({"ceremony_id": theirs.body["ceremony_id"], "name": "Mine now", "credential": made});
    assert_eq!(app.post("/api/v1/auth/passkeys", &finance, stolen).await.status, 422);
    assert_eq!(app.get("/api/v1/auth/passkeys", &finance).await.body["data"].as_array().map(Vec::len), Some(1));
}

/// The value of the first `name="…"` attribute of a page, with askama's escapes undone.
fn attribute(html: &str, name: &str) -> String {
    let marker = format!("{name}=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    let raw = html[start..].split('"').next().unwrap_or_default();
    raw.replace("&#34;", "\"").replace("&#39;", "'").replace("&#60;", "<").replace("&#62;", ">").replace("&#38;", "&")
}

/// The value of a hidden field of a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_pages_add_a_passkey_sign_in_and_confirm_with_it_and_it_meets_the_two_step_policy() {
    let app = TestApp::spawn_at_localhost().await;
    let f = Fixture::build(&app).await;
    let mut key = authenticator();
    let web = sign_in(&app, &f.finance.email).await;
    let account = web.get("/account").await;
    assert!(account.text.contains("Add a passkey"), "{}", account.text);

    // The account page: a name, then the browser's authenticator (app.js, played here by hand).
    let blank = web.submit("/account/passkeys", &[("name", " ")]).await;
    assert_eq!(blank.status, 422, "a passkey needs a name");
    let started = web.submit("/account/passkeys", &[("name", "Work laptop")]).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let options: CreationChallengeResponse =
        serde_json::from_str(&attribute(&started.text, "data-passkey-options")).expect("the page carries WebAuthn's options");
    let handle = options.public_key.user.id.clone();
    let made = key.do_registration(origin(&app), options).expect("registers");
    let credential_id = made.raw_id.clone();
    let credential = serde_json::to_string(&made).expect("JSON");
    let ceremony = hidden(&started.text, "ceremony_id");
    let saved =
        web.submit("/account/passkeys/finish", &[("ceremony_id", &ceremony), ("name", "Work laptop"), ("credential", &credential)]).await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    assert!(saved.headers["location"].to_str().expect("location").contains("passkey_added"));
    let account = web.get("/account").await;
    assert!(account.text.contains("Work laptop"), "{}", account.text);
    // Without scripts the browser sends no answer: the page says what is missing.
    let again = web.submit("/account/passkeys", &[("name", "Other")]).await;
    let nothing = web
        .submit("/account/passkeys/finish", &[("ceremony_id", &hidden(&again.text, "ceremony_id")), ("name", "Other"), ("credential", "")])
        .await;
    assert_eq!(nothing.status, 422);
    assert!(nothing.text.contains("did not create a passkey"), "{}", nothing.text);
    let passkey = Registered { id: String::new(), credential_id, handle };

    // The workspace requires two-step sign-in of staff: the password session is held, a passkey
    // session is not (a passkey is two factors at once).
    let policy = app.patch("/api/v1/workspace", &f.owner_key, json!({"mfa_required_staff": true})).await;
    assert_eq!(policy.status, 200, "{}", policy.text);
    assert_eq!(web.get("/console/partners").await.status, 303);
    let held = app.get("/api/v1/partners", &f.finance.token).await;
    assert_eq!(held.body["code"], "mfa_enrollment_required", "{}", held.text);
    let (ceremony_id, options) = sign_in_options(&app).await;
    let token = passkey_login(&app, &ceremony_id, &answer(&mut key, origin(&app), options, &passkey)).await.body["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(app.get("/api/v1/partners", &token).await.status, 200);

    // The sign-in page's "Sign in with a passkey".
    let login = get_page(&app, "/login", None).await;
    assert!(login.text.contains("Sign in with a passkey"), "{}", login.text);
    let login_csrf = cookie_value(&login.headers, "trellis_csrf").expect("csrf cookie");
    let forged = post_form(&app, "/sign-in/passkey", &format!("trellis_csrf={login_csrf}"), &[("csrf_token", "forged")]).await;
    assert_eq!(forged.status, 403, "the sign-in form's token is checked");
    let started = post_form(&app, "/sign-in/passkey", &format!("trellis_csrf={login_csrf}"), &[("csrf_token", &login_csrf)]).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let ceremony_cookie = cookie_value(&started.headers, "trellis_passkey").expect("the ceremony lives in a cookie");
    assert!(!started.text.contains(&ceremony_cookie), "and only there");
    let options: RequestChallengeResponse = serde_json::from_str(&attribute(&started.text, "data-passkey-options")).expect("options");
    let credential = serde_json::to_string(&answer(&mut key, origin(&app), options, &passkey)).expect("JSON");
    // Another browser (no ceremony cookie) cannot finish it.
    let elsewhere = post_form(&app, "/sign-in/passkey/finish", "trellis_passkey=someone-elses", &[("credential", &credential)]).await;
    assert_eq!(elsewhere.status, 401, "{}", elsewhere.text);
    let signed =
        post_form(&app, "/sign-in/passkey/finish", &format!("trellis_passkey={ceremony_cookie}"), &[("credential", &credential)]).await;
    assert_eq!(signed.status, 303, "{}", signed.text);
    let session = format!("trellis_session={}", cookie_value(&signed.headers, "trellis_session").expect("a session"));
    assert_eq!(get_page(&app, "/console/partners", Some(&session)).await.status, 200, "the passkey session meets the policy");

    // "Confirm it's you" offers the passkey.
    app.clock.advance_seconds(6 * 60);
    let confirm = get_page(&app, "/account/confirm", Some(&session)).await;
    assert!(confirm.text.contains("Use a passkey instead"), "{}", confirm.text);
    let csrf = hidden(&confirm.text, "csrf_token");
    let started = post_form(&app, "/account/confirm/passkey", &session, &[("csrf_token", &csrf), ("next", "/account")]).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let options: RequestChallengeResponse = serde_json::from_str(&attribute(&started.text, "data-passkey-options")).expect("options");
    let credential = serde_json::to_string(&key.do_authentication(origin(&app), options).expect("signs")).expect("JSON");
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("next", "/account"),
        ("ceremony_id", &hidden(&started.text, "ceremony_id")),
        ("credential", &credential),
    ];
    let confirmed = post_form(&app, "/account/confirm/passkey/finish", &session, &fields).await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.text);
    assert_eq!(confirmed.headers["location"], "/account");
    let fresh = app
        .query_i64(sql!(
            "SELECT COUNT(*) AS n FROM sessions WHERE user_id = $1 AND authenticated_at = $2",
            &f.finance.user_id,
            app.clock.now()
        ))
        .await;
    assert_eq!(fresh, 1, "the session's sign-in is fresh again");
    let _ = passkey.id;
}

#[tokio::test]
async fn one_address_cannot_begin_passkey_sign_ins_without_end() {
    let app = TestApp::spawn_at_localhost().await;
    for _ in 0..trellis_identity::passkeys::SIGN_INS_PER_ADDRESS {
        sign_in_options(&app).await;
    }
    let refused = app.send(Method::POST, "/api/v1/auth/passkey-login/options", None, Some(&json!({}))).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(refused.headers.contains_key("retry-after"), "{:?}", refused.headers);
    // Five minutes on, the address begins again, and the unfinished ones are removed as it does.
    app.clock.advance_seconds(trellis_identity::passkeys::CEREMONY_SECONDS + 1);
    sign_in_options(&app).await;
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM passkey_ceremonies")).await, 1);
}
