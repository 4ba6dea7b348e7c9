//! Single sign-on with OpenID Connect (issue 12, ADR 0026), end to end against a real OpenID
//! provider running on this machine (`oidc-provider-mock` from PyPI, started per test): a person
//! of a partner organisation, or of the vendor's staff, continues with their company account,
//! is provisioned just in time, and acts only for that organisation; every way the answer can
//! be wrong or replayed leaves nobody signed in; the provider's back-channel logout ends the
//! sessions at once; and who may set up a connection, and choose its email domains.
//!
//! The provider comes from `TRELLIS_OIDC_PROVIDER_MOCK`, else CI's tool environment; without
//! one the tests say so and pass, unless `TRELLIS_REQUIRE_OIDC_PROVIDER=1` (CI) makes that a
//! failure.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use reqwest::header::LOCATION;
use serde_json::{Value, json};
use trellis_db::sql;
use trellis_testkit::TestApp;
use trellis_testkit::fixture::Fixture;

use crate::pages::{Page, cookie_value, get_page, post_form};

const CLIENT_ID: &str = "trellis-test";
const CLIENT_SECRET: &str = "s3cret-of-the-client";
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// An OpenID provider on a free port of this machine, stopped when dropped.
struct Provider {
    child: Child,
    url: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    fn start() -> Option<Provider> {
        let program = std::env::var_os("TRELLIS_OIDC_PROVIDER_MOCK").map(PathBuf::from).or_else(|| {
            let default = PathBuf::from(std::env::var_os("HOME")?).join(".cache/trellis-ci-venv/bin/oidc-provider-mock");
            default.exists().then_some(default)
        });
        let required = std::env::var("TRELLIS_REQUIRE_OIDC_PROVIDER").is_ok_and(|v| v == "1");
        let Some(program) = program.filter(|p| p.exists()) else {
            assert!(!required, "TRELLIS_REQUIRE_OIDC_PROVIDER=1 but oidc-provider-mock is not installed");
            eprintln!("skipped: no oidc-provider-mock (pip install oidc-provider-mock==0.3.4, or set TRELLIS_OIDC_PROVIDER_MOCK)");
            return None;
        };
        let mut child = Command::new(program)
            .args(["-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("oidc-provider-mock starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let url = loop {
            let line = lines.next().expect("oidc-provider-mock says where it listens").expect("stderr line");
            if let Some(at) = line.find("http://127.0.0.1:") {
                let rest = &line[at + "http://127.0.0.1:".len()..];
                let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                break format!("http://127.0.0.1:{port}");
            }
        };
        // Keep reading its log, so that a full pipe never stops it.
        std::thread::spawn(move || lines.for_each(drop));
        Some(Provider { child, url })
    }

    /// What the provider says of `sub` from now on (claims it sets in the ID token, over its own).
    async fn set_user(&self, app: &TestApp, sub: &str, claims: Value) {
        let reply = app.client.put(format!("{}/users/{sub}", self.url)).json(&claims).send().await.expect("provider answers");
        assert_eq!(reply.status().as_u16(), 204, "{}", reply.text().await.unwrap_or_default());
    }

    /// The person `sub` signs in at the provider: its answer, the redirect to Trellis.
    async fn authorize(&self, app: &TestApp, authorization_url: &str, sub: &str) -> String {
        let reply = app.client.post(authorization_url).form(&[("sub", sub)]).send().await.expect("provider answers");
        assert_eq!(reply.status().as_u16(), 302, "{}", reply.text().await.unwrap_or_default());
        reply.headers()[LOCATION].to_str().expect("location").to_owned()
    }

    /// An ID token for `sub` straight from the provider, as a client of its own (no nonce): how a
    /// test makes a back-channel logout token signed with the provider's key.
    async fn token_for(&self, app: &TestApp, sub: &str) -> String {
        let redirect = "http://127.0.0.1:9/cb";
        let authorize = reqwest::Url::parse_with_params(
            &format!("{}/oauth2/authorize", self.url),
            [("response_type", "code"), ("client_id", CLIENT_ID), ("redirect_uri", redirect), ("scope", "openid"), ("state", "s")],
        )
        .expect("url");
        let location = self.authorize(app, authorize.as_str(), sub).await;
        let code = reqwest::Url::parse(&location)
            .expect("url")
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("code");
        let reply = app
            .client
            .post(format!("{}/oauth2/token", self.url))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", redirect)])
            .send()
            .await
            .expect("token endpoint answers");
        let body: Value = reply.json().await.expect("json");
        body["id_token"].as_str().expect("id_token").to_owned()
    }
}

fn connection(provider: &Provider, domains: &[&str], role: &str) -> Value {
    json!({"name": "Okta", "issuer": provider.url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "default_role": role, "domains": domains})
}

/// A sign-in started at Trellis: the provider's authorization URL and the browser's flow cookie.
struct Started {
    authorization_url: String,
    flow_cookie: String,
}

/// Like a browser: the sign-in page, then its "Continue with your company account" button.
async fn start(app: &TestApp, email: &str) -> Started {
    let form = get_page(app, "/login", None).await;
    assert!(form.text.contains("formaction=\"/sign-in/sso\""), "the sign-in page offers company accounts");
    let csrf = cookie_value(&form.headers, "trellis_csrf").expect("csrf cookie");
    let started =
        post_form(app, "/sign-in/sso", &format!("trellis_csrf={csrf}"), &[("email", email), ("password", ""), ("csrf_token", &csrf)]).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let href = started.text.split("id=\"continue\" href=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("continue link");
    Started {
        authorization_url: unescape(href),
        flow_cookie: format!("trellis_sso={}", cookie_value(&started.headers, "trellis_sso").expect("flow cookie")),
    }
}

/// An attribute's text as the browser reads it (the page escapes `&` and quotes).
fn unescape(html: &str) -> String {
    [("&amp;", "&"), ("&#38;", "&"), ("&#61;", "="), ("&#34;", "\""), ("&#39;", "'"), ("&quot;", "\"")]
        .iter()
        .fold(html.to_owned(), |text, (entity, plain)| text.replace(entity, plain))
}

/// The provider's redirect back to Trellis, followed with `cookie`.
async fn finish(app: &TestApp, callback: &str, cookie: &str) -> Page {
    let path = callback.strip_prefix(&app.base_url).expect("back to this Trellis");
    get_page(app, path, Some(cookie)).await
}

/// A whole sign-in of `sub` (with `email` typed at Trellis).
async fn sign_in_through(app: &TestApp, provider: &Provider, email: &str, sub: &str) -> Page {
    let started = start(app, email).await;
    let callback = provider.authorize(app, &started.authorization_url, sub).await;
    finish(app, &callback, &started.flow_cookie).await
}

fn session_cookie(page: &Page) -> String {
    format!("trellis_session={}", cookie_value(&page.headers, "trellis_session").expect("session cookie"))
}

async fn session_count(app: &TestApp) -> i64 {
    app.query(sql!("SELECT COUNT(*) AS n FROM sessions")).await[0].get("n").expect("count")
}

async fn put_partner_connection(app: &TestApp, partner: &str, bearer: &str, body: &Value) -> trellis_testkit::Reply {
    app.send(reqwest::Method::PUT, &format!("/api/v1/partners/{partner}/sso"), Some(bearer), Some(body)).await
}

#[tokio::test]
async fn a_partner_person_continues_with_the_company_account_is_provisioned_just_in_time_and_acts_only_for_that_partner() {
    let Some(provider) = Provider::start() else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let created = put_partner_connection(&app, f.r1a.as_str(), &f.owner_key, &connection(&provider, &["r1a.example"], "sales")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["redirect_uri"], format!("{}/sign-in/sso/callback", app.base_url));
    assert!(created.body.get("client_secret").is_none(), "the secret is never shown: {}", created.text);
    let connection_id = created.body["id"].as_str().expect("id").to_owned();

    // The authorization request: code flow with PKCE (S256), a nonce and a state.
    let started = start(&app, "New.Person@R1A.example").await;
    let url = reqwest::Url::parse(&started.authorization_url).expect("authorization url");
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert!(started.authorization_url.starts_with(&format!("{}/oauth2/authorize?", provider.url)), "{}", started.authorization_url);
    assert_eq!(
        (query["response_type"].as_str(), query["client_id"].as_str(), query["code_challenge_method"].as_str()),
        ("code", CLIENT_ID, "S256")
    );
    assert_eq!(query["redirect_uri"], format!("{}/sign-in/sso/callback", app.base_url));
    assert_eq!(query["code_challenge"].len(), 43, "a SHA-256 challenge");
    assert!(query["state"].len() >= 32 && query["nonce"].len() >= 32 && query["state"] != query["nonce"]);

    // A new person: an account and a membership with the connection's role, just in time.
    provider.set_user(&app, "okta-new", json!({"email": "new.person@r1a.example", "email_verified": true, "name": "New Person"})).await;
    let callback = provider.authorize(&app, &started.authorization_url, "okta-new").await;
    let signed = finish(&app, &callback, &started.flow_cookie).await;
    assert_eq!(signed.status, 303, "{}", signed.text);
    assert_eq!(signed.headers[LOCATION], "/");
    let cookie = session_cookie(&signed);
    assert_eq!(get_page(&app, "/", Some(&cookie)).await.status, 200);
    let row = &app
        .query(sql!(
            "SELECT u.id, u.name, u.password_hash, pu.role FROM users u JOIN partner_users pu ON pu.user_id = u.id
             WHERE u.email = $1 AND pu.partner_id = $2",
            "new.person@r1a.example",
            f.r1a.as_str()
        ))
        .await[0];
    let new_id: String = row.get("id").expect("id");
    assert_eq!(
        (row.get::<String>("name").expect("name"), row.get::<String>("role").expect("role")),
        ("New Person".to_owned(), "sales".to_owned())
    );
    assert_eq!(row.get::<Option<String>>("password_hash").expect("hash"), None, "no password: the provider is how they sign in");
    let history = app.get("/api/v1/auth/sign-ins", &f.owner.token).await;
    assert_eq!(history.status, 200);
    let audit = app.get(&format!("/api/v1/audit-events?target_id={new_id}"), &f.owner_key).await;
    assert!(audit.text.contains("sso.identity_linked") && audit.text.contains("okta-new"), "{}", audit.text);

    // Next time the subject decides, not the address the provider sends now.
    provider.set_user(&app, "okta-new", json!({"email": "renamed@r1a.example", "email_verified": true})).await;
    let again = sign_in_through(&app, &provider, "new.person@r1a.example", "okta-new").await;
    assert_eq!(again.status, 303, "{}", again.text);
    let sessions =
        app.query(sql!("SELECT COUNT(*) AS n FROM sessions WHERE user_id = $1 AND sso_connection_id = $2", &new_id, &connection_id)).await;
    assert_eq!(sessions[0].get::<i64>("n").expect("n"), 2);

    // An existing account with a verified address is linked; its role stays. It belongs to
    // another partner too: a session begun through r1a's provider acts for r1a only.
    app.execute(vec![sql!(
        "INSERT INTO partner_users (workspace_id, partner_id, user_id, role, created_at) VALUES ($1, $2, $3, 'member', 0)",
        f.workspace_id.as_str(),
        f.d1.as_str(),
        &f.r1a_member.user_id
    )])
    .await
    .expect("a second membership");
    provider.set_user(&app, "okta-member", json!({"email": "member@r1a.example", "email_verified": true})).await;
    let linked = sign_in_through(&app, &provider, "member@r1a.example", "okta-member").await;
    assert_eq!(linked.status, 303, "{}", linked.text);
    let identity = app.query(sql!("SELECT user_id FROM sso_identities WHERE subject = $1", "okta-member")).await;
    assert_eq!(identity[0].get::<String>("user_id").expect("user"), f.r1a_member.user_id);
    let role = app
        .query(sql!("SELECT role FROM partner_users WHERE partner_id = $1 AND user_id = $2", f.r1a.as_str(), &f.r1a_member.user_id))
        .await;
    assert_eq!(role[0].get::<String>("role").expect("role"), "member");
    let choices = get_page(&app, "/memberships", Some(&session_cookie(&linked))).await;
    assert!(!choices.text.contains(f.d1.as_str()), "the other partner is not offered: {}", choices.text);
    let with_password = crate::pages::sign_in(&app, &f.r1a_member.email).await;
    assert!(with_password.get("/memberships").await.text.contains(f.d1.as_str()), "a password sign-in offers both");
    let switched = post_form(
        &app,
        "/memberships",
        &session_cookie(&linked),
        &[
            ("csrf_token", crate::pages::csrf_field(&choices.text).as_deref().unwrap_or_default()),
            ("membership", &format!("{}/{}", f.workspace_id, f.d1)),
        ],
    )
    .await;
    let acting = app
        .query(sql!(
            "SELECT COUNT(*) AS n FROM sessions WHERE user_id = $1 AND partner_id = $2 AND sso_connection_id IS NOT NULL",
            &f.r1a_member.user_id,
            f.d1.as_str()
        ))
        .await;
    assert_eq!(acting[0].get::<i64>("n").expect("n"), 0, "no session acts for d1 after {}: {}", switched.status, switched.text);

    // An address whose domain has no provider is told to use the password.
    let form = get_page(&app, "/login", None).await;
    let csrf = cookie_value(&form.headers, "trellis_csrf").expect("csrf");
    let none =
        post_form(&app, "/sign-in/sso", &format!("trellis_csrf={csrf}"), &[("email", "someone@nowhere.example"), ("csrf_token", &csrf)])
            .await;
    assert_eq!(none.status, 404, "{}", none.text);
    assert!(none.text.contains("Sign in with your password"));

    // Another provider for the connection (issuer or client): its subjects are not the old one's,
    // so the links to people are forgotten (made again on a next first sign-in).
    let links = sql!("SELECT COUNT(*) AS n FROM sso_identities WHERE connection_id = $1", &connection_id);
    assert_eq!(app.query_i64(links.clone()).await, 2);
    let mut moved = connection(&provider, &["r1a.example"], "sales");
    moved["issuer"] = json!("https://idp.example");
    assert_eq!(put_partner_connection(&app, f.r1a.as_str(), &f.owner_key, &moved).await.status, 200);
    assert_eq!(app.query_i64(links).await, 0);
    let audit = app.get(&format!("/api/v1/audit-events?target_id={connection_id}"), &f.owner_key).await;
    assert!(audit.text.contains("identities_forgotten"), "{}", audit.text);
}

#[tokio::test]
async fn every_wrong_replayed_or_unverified_answer_leaves_nobody_signed_in() {
    let Some(provider) = Provider::start() else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let created = put_partner_connection(&app, f.r1a.as_str(), &f.owner_key, &connection(&provider, &["r1a.example"], "member")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let now = app.state.ctx.now().micros() / 1_000_000;
    let mut refused = 0;

    // Each case: how the answer is spoiled, and the words the person sees.
    let refusal = |page: &Page, what: &str, words: &str| {
        assert_eq!(page.status, 403, "{what}: {}", page.text);
        assert!(cookie_value(&page.headers, "trellis_session").is_none(), "{what}: no session cookie");
        assert!(page.text.contains(words), "{what}: {}", page.text);
    };
    let before = session_count(&app).await;
    let expired_or_used = "expired or was already used";
    let not_accepted = "could not be accepted";

    // 1-3: the state is forged, missing, or comes back to another browser (no flow cookie).
    provider.set_user(&app, "person", json!({"email": "person@r1a.example", "email_verified": true})).await;
    for (what, spoil) in [("forged state", 0), ("missing state", 1), ("another browser", 2)] {
        let started = start(&app, "person@r1a.example").await;
        let callback = provider.authorize(&app, &started.authorization_url, "person").await;
        let mut url = reqwest::Url::parse(&callback).expect("callback");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let kept = pairs
            .iter()
            .filter(|(k, _)| spoil != 1 || k != "state")
            .map(|(k, v)| (k.clone(), if k == "state" && spoil == 0 { "forged".into() } else { v.clone() }));
        url.query_pairs_mut().clear().extend_pairs(kept);
        let cookie = if spoil == 2 { "trellis_sso=someone-elses" } else { started.flow_cookie.as_str() };
        refusal(&finish(&app, url.as_str(), cookie).await, what, expired_or_used);
        refused += 1;
    }

    // 4: the same answer twice: the first signs in, the second is refused.
    let started = start(&app, "person@r1a.example").await;
    let callback = provider.authorize(&app, &started.authorization_url, "person").await;
    assert_eq!(finish(&app, &callback, &started.flow_cookie).await.status, 303);
    let after_one = session_count(&app).await;
    assert_eq!(after_one, before + 1);
    refusal(&finish(&app, &callback, &started.flow_cookie).await, "replayed answer", expired_or_used);
    refused += 1;

    // 5: a used code under a new sign-in's state: the provider refuses it (invalid_grant).
    let old_code =
        reqwest::Url::parse(&callback).expect("url").query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).expect("code");
    let fresh = start(&app, "person@r1a.example").await;
    let fresh_state = reqwest::Url::parse(&fresh.authorization_url)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let replayed = reqwest::Url::parse_with_params(
        &format!("{}/sign-in/sso/callback", app.base_url),
        [("code", old_code.as_str()), ("state", fresh_state.as_str())],
    )
    .expect("url");
    refusal(&finish(&app, replayed.as_str(), &fresh.flow_cookie).await, "replayed code", not_accepted);
    refused += 1;

    // 6-9: tokens signed with the provider's real key, but with a wrong issuer, audience,
    // expiry or nonce.
    for (what, claims) in [
        ("wrong issuer", json!({"iss": "http://127.0.0.1:1"})),
        ("wrong audience", json!({"aud": "another-client"})),
        ("expired", json!({"exp": now - 3600, "iat": now - 7200})),
        ("wrong nonce", json!({"nonce": "a-nonce-of-another-sign-in"})),
    ] {
        let mut all = json!({"email": "spoilt@r1a.example", "email_verified": true});
        all.as_object_mut().expect("object").extend(claims.as_object().expect("object").clone());
        provider.set_user(&app, "spoilt", all).await;
        refusal(&sign_in_through(&app, &provider, "spoilt@r1a.example", "spoilt").await, what, not_accepted);
        refused += 1;
    }

    // 10: an unverified address of an existing account cannot take it over.
    provider.set_user(&app, "impostor", json!({"email": "admin@r1a.example", "email_verified": false})).await;
    refusal(
        &sign_in_through(&app, &provider, "admin@r1a.example", "impostor").await,
        "unverified email",
        "has not verified your email address",
    );
    refused += 1;
    let linked = app.query(sql!("SELECT COUNT(*) AS n FROM sso_identities WHERE subject = $1", "impostor")).await;
    assert_eq!(linked[0].get::<i64>("n").expect("n"), 0);
    let history = app.get("/api/v1/auth/sign-ins", &f.r1a_admin.token).await;
    assert!(history.text.contains("sso_refused"), "the account's owner sees the attempt: {}", history.text);

    // 11: an address of a domain that is not the connection's.
    provider.set_user(&app, "outsider", json!({"email": "admin@r1b.example", "email_verified": true})).await;
    refusal(&sign_in_through(&app, &provider, "person@r1a.example", "outsider").await, "foreign domain", "did not share an email address");
    refused += 1;

    // 12: the person says no at the provider.
    let started = start(&app, "person@r1a.example").await;
    let denied = app.client.post(&started.authorization_url).form(&[("action", "deny")]).send().await.expect("provider");
    let callback = denied.headers()[LOCATION].to_str().expect("location").to_owned();
    assert!(callback.contains("error=access_denied"), "{callback}");
    // This provider leaves the state out of its error answer: the sign-in cannot be told apart
    // from any other, and is refused as such.
    let words = if callback.contains("state=") { "did not sign you in" } else { expired_or_used };
    refusal(&finish(&app, &callback, &started.flow_cookie).await, "denied", words);
    refused += 1;

    // 13: a person an admin removed is not let back in by the provider.
    provider.set_user(&app, "leaver", json!({"email": "leaver@r1a.example", "email_verified": true})).await;
    let first = sign_in_through(&app, &provider, "leaver@r1a.example", "leaver").await;
    assert_eq!(first.status, 303, "{}", first.text);
    let leaver: String = app.query(sql!("SELECT id FROM users WHERE email = $1", "leaver@r1a.example")).await[0].get("id").expect("id");
    let removed =
        app.send(reqwest::Method::DELETE, &format!("/api/v1/partners/{}/users/{leaver}", f.r1a), Some(&f.r1a_admin.token), None).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert_eq!(get_page(&app, "/", Some(&session_cookie(&first))).await.status, 303, "removal ended the session");
    refusal(&sign_in_through(&app, &provider, "leaver@r1a.example", "leaver").await, "removed person", "was ended");
    refused += 1;

    assert_eq!(session_count(&app).await, after_one, "only the good sign-ins made sessions (the leaver's ended with the removal)");
    assert_eq!(refused, 13);
}

#[tokio::test]
async fn the_providers_back_channel_logout_ends_the_sessions_begun_through_it() {
    let Some(provider) = Provider::start() else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let created = put_partner_connection(&app, f.r1a.as_str(), &f.owner_key, &connection(&provider, &["r1a.example"], "member")).await;
    let logout_path = format!("/sso/{}/backchannel-logout", created.body["id"].as_str().expect("id"));
    let post_logout = |token: String| {
        let app = &app;
        let logout_path = logout_path.clone();
        async move {
            let reply =
                app.client.post(format!("{}{logout_path}", app.base_url)).form(&[("logout_token", token)]).send().await.expect("answer");
            (reply.status().as_u16(), reply.text().await.unwrap_or_default())
        }
    };

    // By the provider's session id (`sid`).
    provider.set_user(&app, "roamer", json!({"email": "roamer@r1a.example", "email_verified": true, "sid": "idp-session-1"})).await;
    let signed = sign_in_through(&app, &provider, "roamer@r1a.example", "roamer").await;
    assert_eq!(signed.status, 303, "{}", signed.text);
    let cookie = session_cookie(&signed);
    assert_eq!(get_page(&app, "/", Some(&cookie)).await.status, 200);
    // Not a logout token: the sign-in's own ID token (a nonce, no logout event), or nonsense.
    let id_token = provider.token_for(&app, "roamer").await;
    assert_eq!(post_logout(id_token).await.0, 400);
    assert_eq!(post_logout("not.a.token".into()).await.0, 400);
    assert_eq!(get_page(&app, "/", Some(&cookie)).await.status, 200, "still signed in");
    provider.set_user(&app, "idp-logout", json!({"sid": "idp-session-1", "jti": "logout-1", "events": {LOGOUT_EVENT: {}}})).await;
    let (status, body) = post_logout(provider.token_for(&app, "idp-logout").await).await;
    assert_eq!(status, 200, "{body}");
    let home = get_page(&app, "/", Some(&cookie)).await;
    assert_eq!(
        (home.status, home.headers.get(LOCATION).map(|l| l.to_str().unwrap_or_default().to_owned())),
        (303, Some("/login".to_owned()))
    );

    // By the subject: every session of the person through this provider.
    provider.set_user(&app, "roamer", json!({"email": "roamer@r1a.example", "email_verified": true})).await;
    let one = session_cookie(&sign_in_through(&app, &provider, "roamer@r1a.example", "roamer").await);
    let two = session_cookie(&sign_in_through(&app, &provider, "roamer@r1a.example", "roamer").await);
    let password_session = crate::pages::sign_in(&app, &f.r1a_admin.email).await;
    provider.set_user(&app, "roamer", json!({"email": "roamer@r1a.example", "jti": "logout-2", "events": {LOGOUT_EVENT: {}}})).await;
    assert_eq!(post_logout(provider.token_for(&app, "roamer").await).await.0, 200);
    for cookie in [one, two] {
        assert_eq!(get_page(&app, "/", Some(&cookie)).await.status, 303);
    }
    assert_eq!(password_session.get("/").await.status, 200, "other people's sessions stay");

    // A token for another client (audience) is refused.
    provider
        .set_user(&app, "idp-logout", json!({"sid": "x", "jti": "logout-3", "aud": "another-client", "events": {LOGOUT_EVENT: {}}}))
        .await;
    assert_eq!(post_logout(provider.token_for(&app, "idp-logout").await).await.0, 400);
    let unknown = app
        .client
        .post(format!("{}/sso/sso_unknown/backchannel-logout", app.base_url))
        .form(&[("logout_token", "x")])
        .send()
        .await
        .expect("answer");
    assert_eq!(unknown.status().as_u16(), 400);
}

#[tokio::test]
async fn an_organisations_admins_set_up_its_provider_and_only_the_vendor_chooses_email_domains() {
    let Some(provider) = Provider::start() else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let r1a = f.r1a.as_str();
    let mut own = connection(&provider, &[], "member");
    own.as_object_mut().expect("object").remove("domains");

    // The partner's own admin creates it; domains are the vendor's choice.
    assert_eq!(put_partner_connection(&app, r1a, &f.r1a_admin.token, &own).await.status, 201);
    let domains = put_partner_connection(&app, r1a, &f.r1a_admin.token, &connection(&provider, &["r1a.example"], "member")).await;
    assert_eq!(domains.status, 403, "{}", domains.text);
    let shown = app.get(&format!("/api/v1/partners/{r1a}/sso"), &f.r1a_admin.token).await;
    assert_eq!((shown.status, shown.body["domains"].clone()), (200, json!([])), "{}", shown.text);
    assert!(!shown.text.contains(CLIENT_SECRET));
    for (who, bearer, expected) in [
        ("a member of the partner", f.r1a_member.token.as_str(), 403),
        ("the distributor above it", f.d1_admin.token.as_str(), 403),
        ("a sibling partner", f.r1b_admin.token.as_str(), 404),
        ("a channel manager", f.channel_manager.token.as_str(), 403),
    ] {
        assert_eq!(app.get(&format!("/api/v1/partners/{r1a}/sso"), bearer).await.status, expected, "{who}");
    }
    assert_eq!(put_partner_connection(&app, r1a, &f.owner_key, &connection(&provider, &["r1a.example"], "member")).await.status, 200);
    // A domain signs in through one provider.
    let taken = put_partner_connection(&app, f.r1b.as_str(), &f.owner_key, &connection(&provider, &["R1A.example"], "member")).await;
    assert_eq!(taken.status, 409, "{}", taken.text);
    // Bad input changes nothing.
    for (what, body) in [
        ("not https", json!({"name": "X", "issuer": "http://idp.example", "client_id": "c", "client_secret": "s"})),
        ("no secret on create", json!({"name": "X", "issuer": provider.url, "client_id": "c"})),
        ("a staff role", json!({"name": "X", "issuer": provider.url, "client_id": "c", "client_secret": "s", "default_role": "owner"})),
        ("a bad domain", json!({"name": "X", "issuer": provider.url, "client_id": "c", "client_secret": "s", "domains": ["not a domain"]})),
    ] {
        let reply = put_partner_connection(&app, f.r1b.as_str(), &f.owner_key, &body).await;
        assert_eq!(reply.status, 422, "{what}: {}", reply.text);
    }
    assert_eq!(app.get(&format!("/api/v1/partners/{}/sso", f.r1b), &f.owner_key).await.status, 404);

    // The staff's provider: owners and admins; a new person joins with the default role.
    let staff = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/workspace/sso",
            Some(&f.owner_key),
            Some(&connection(&provider, &["vendor.example"], "viewer")),
        )
        .await;
    assert_eq!(staff.status, 201, "{}", staff.text);
    assert_eq!(app.get("/api/v1/workspace/sso", &f.channel_manager.token).await.status, 403);
    assert_eq!(app.get("/api/v1/workspace/sso", &f.r1a_admin.token).await.status, 403);
    provider.set_user(&app, "staff-new", json!({"email": "new.staff@vendor.example", "email_verified": true})).await;
    let signed = sign_in_through(&app, &provider, "new.staff@vendor.example", "staff-new").await;
    assert_eq!(signed.status, 303, "{}", signed.text);
    let role = app
        .query(sql!("SELECT m.role FROM members m JOIN users u ON u.id = m.user_id WHERE u.email = $1", "new.staff@vendor.example"))
        .await;
    assert_eq!(role[0].get::<String>("role").expect("role"), "viewer");

    // Removing a provider ends the sessions begun through it.
    let cookie = session_cookie(&signed);
    assert_eq!(get_page(&app, "/", Some(&cookie)).await.status, 200);
    let deleted = app.send(reqwest::Method::DELETE, "/api/v1/workspace/sso", Some(&f.owner_key), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_eq!(get_page(&app, "/", Some(&cookie)).await.status, 303);
    let audit = app.get("/api/v1/audit-events?limit=200", &f.owner_key).await;
    assert!(audit.text.contains("sso.connection_created") && audit.text.contains("sso.connection_deleted"), "{}", audit.text);
}

#[tokio::test]
async fn the_settings_pages_connect_a_provider_a_partners_admin_cannot_choose_domains_and_confirming_goes_to_the_provider() {
    let Some(provider) = Provider::start() else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let console_path = format!("/console/partners/{}/sso", f.r1a);
    let owner = crate::pages::sign_in(&app, &f.owner.email).await;
    let page = owner.get(&console_path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    crate::pages::assert_safe_page(&console_path, &page);
    assert!(page.text.contains(&format!("{}/sign-in/sso/callback", app.base_url)) && page.text.contains("name=\"domains\""));
    let saved = owner
        .submit(
            &console_path,
            &[
                ("name", "Okta"),
                ("issuer", &provider.url),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("default_role", "sales"),
                ("domains", "r1a.example, R1A-mail.example"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(
        (saved.status, saved.headers.get(LOCATION).and_then(|l| l.to_str().ok())),
        (303, Some(format!("{console_path}?notice=sso_saved").as_str())),
        "{}",
        saved.text
    );
    let shown = app.get(&format!("/api/v1/partners/{}/sso", f.r1a), &f.owner_key).await;
    assert_eq!(
        (shown.body["domains"].clone(), shown.body["default_role"].clone()),
        (json!(["r1a-mail.example", "r1a.example"]), json!("sales"))
    );

    // The partner's admin: the same provider, the domains shown but not a field; the secret kept.
    let admin = crate::pages::sign_in(&app, &f.r1a_admin.email).await;
    let portal = admin.get("/portal/sso").await;
    assert_eq!(portal.status, 200, "{}", portal.text);
    assert!(
        !portal.text.contains("name=\"domains\"") && portal.text.contains("r1a-mail.example") && portal.text.contains("backchannel-logout")
    );
    let renamed = admin
        .submit(
            "/portal/sso",
            &[("name", "Okta EU"), ("issuer", &provider.url), ("client_id", CLIENT_ID), ("default_role", "sales"), ("enabled", "on")],
        )
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.text);
    let bad = admin
        .submit("/portal/sso", &[("name", "Okta EU"), ("issuer", "http://idp.example"), ("client_id", CLIENT_ID), ("enabled", "on")])
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert!(bad.text.contains("https://"));
    let shown = app.get(&format!("/api/v1/partners/{}/sso", f.r1a), &f.owner_key).await;
    assert_eq!((shown.body["name"].clone(), shown.body["domains"].as_array().map(Vec::len)), (json!("Okta EU"), Some(2)));

    // A person signed in through it (the kept secret works) confirms who they are at the provider.
    provider.set_user(&app, "pat", json!({"email": "pat@r1a-mail.example", "email_verified": true})).await;
    let signed = sign_in_through(&app, &provider, "pat@r1a-mail.example", "pat").await;
    assert_eq!(signed.status, 303, "{}", signed.text);
    let cookie = session_cookie(&signed);
    let confirm = get_page(&app, "/account/confirm", Some(&cookie)).await;
    assert!(confirm.text.contains("action=\"/sign-in/sso\"") && confirm.text.contains("name=\"confirm\" value=\"1\""), "{}", confirm.text);
    let csrf = crate::pages::csrf_field(&confirm.text).expect("token");
    let again = post_form(&app, "/sign-in/sso", &cookie, &[("csrf_token", &csrf), ("confirm", "1"), ("next", "/portal")]).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert!(again.text.contains("prompt=login") && again.text.contains("max_age=0"), "the provider asks again: {}", again.text);

    // Removing it signs that person out.
    assert_eq!(admin.submit("/portal/sso/remove", &[]).await.status, 303);
    assert_eq!(get_page(&app, "/", Some(&cookie)).await.status, 303);
    assert_eq!(admin.get("/portal/sso").await.status, 200, "the page offers to connect one again");
}

#[tokio::test]
async fn one_address_cannot_start_company_sign_ins_without_end() {
    let Some(provider) = Provider::start() else { return };
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let created = put_partner_connection(&app, f.r1a.as_str(), &f.owner_key, &connection(&provider, &["r1a.example"], "sales")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    // Each start is a row until it expires: an address holds a bounded number.
    for _ in 0..trellis_identity::sso::FLOWS_PER_ADDRESS {
        start(&app, "someone@r1a.example").await;
    }
    let form = get_page(&app, "/login", None).await;
    let csrf = cookie_value(&form.headers, "trellis_csrf").expect("csrf cookie");
    let fields = [("email", "someone@r1a.example"), ("password", ""), ("csrf_token", csrf.as_str())];
    let refused = post_form(&app, "/sign-in/sso", &format!("trellis_csrf={csrf}"), &fields).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(refused.text.contains("Too many sign-ins were started"), "{}", refused.text);
    let flows = app.query_i64(sql!("SELECT COUNT(*) AS n FROM sso_flows")).await;
    assert_eq!(flows, trellis_identity::sso::FLOWS_PER_ADDRESS);
    // Once they expired, the address starts again (and they are removed).
    app.clock.advance_seconds(trellis_identity::sso::FLOW_SECONDS + 1);
    start(&app, "someone@r1a.example").await;
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM sso_flows")).await, 1);
}
