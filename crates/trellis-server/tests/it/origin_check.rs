//! Page form posts and their `Origin` (issue 6): a state-changing page request whose `Origin` is
//! present and is not the public URL's origin (`null` included) is refused like a cross-site one,
//! before its handler runs — the sign-in form, the console's forms and the public application
//! form alike — while the public URL's own origin still works. Sent with a real HTTP client.

use reqwest::header::COOKIE;
use serde_json::json;
use trellis_db::sql;
use trellis_testkit::TestApp;
use trellis_testkit::fixture::{Fixture, PASSWORD};

use crate::pages::{Page, cookie_value, csrf_field, get_page};
use crate::recruitment::program_with_questions;

const FOREIGN: [&str; 4] = ["https://evil.example", "null", "http://127.0.0.1:1", "http://localhost.evil.example"];

/// Posts a form with a cookie and extra headers.
async fn post(app: &TestApp, path: &str, cookie: &str, headers: &[(&str, &str)], fields: &[(&str, &str)]) -> Page {
    let mut request = app
        .client
        .post(format!("{}{path}", app.base_url))
        .header(COOKIE, cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(fields));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Page { status, headers, text: response.text().await.expect("body") }
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { char::from(b).to_string() } else { format!("%{b:02X}") })
            .collect()
    };
    fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// Signs in through the form from the app's own origin: (session cookie, CSRF token).
async fn sign_in(app: &TestApp, email: &str) -> (String, String) {
    let form = get_page(app, "/login", None).await;
    let login_csrf = cookie_value(&form.headers, "trellis_csrf").expect("the sign-in form sets its CSRF cookie");
    let signed = post(
        app,
        "/login",
        &format!("trellis_csrf={login_csrf}"),
        &[("origin", &app.base_url)],
        &[("email", email), ("password", PASSWORD), ("csrf_token", &login_csrf)],
    )
    .await;
    assert_eq!(signed.status, 303, "sign-in from our own origin works: {}", signed.text);
    let cookie = format!("trellis_session={}", cookie_value(&signed.headers, "trellis_session").expect("session cookie"));
    let home = get_page(app, "/", Some(&cookie)).await;
    (cookie, csrf_field(&home.text).expect("the session's CSRF token"))
}

async fn partner_count(app: &TestApp) -> i64 {
    app.query_i64(sql!("SELECT COUNT(*) AS n FROM partners")).await
}

#[tokio::test]
async fn a_console_form_from_a_foreign_origin_is_refused_and_from_ours_it_works() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let (cookie, csrf) = sign_in(&app, &f.owner.email).await;
    let fields = [("csrf_token", csrf.as_str()), ("name", "Forged GmbH"), ("contact_email", "forged@example.com"), ("types", "reseller")];
    let before = partner_count(&app).await;

    let mut refused = Vec::new();
    for origin in FOREIGN {
        refused.push((origin, post(&app, "/console/partners", &cookie, &[("origin", origin)], &fields).await));
    }
    let same_site_claim =
        post(&app, "/console/partners", &cookie, &[("origin", "https://evil.example"), ("sec-fetch-site", "same-origin")], &fields).await;
    let cross_site_with_our_origin =
        post(&app, "/console/partners", &cookie, &[("origin", &app.base_url), ("sec-fetch-site", "cross-site")], &fields).await;
    let after_refusals = partner_count(&app).await;
    let ours = post(&app, "/console/partners", &cookie, &[("origin", &app.base_url), ("sec-fetch-site", "same-origin")], &fields).await;

    for (origin, page) in &refused {
        assert_eq!(page.status, 403, "Origin {origin}: {}", page.text);
        assert!(page.text.contains("sent from another site"), "Origin {origin}: {}", page.text);
    }
    assert_eq!(same_site_claim.status, 403, "a foreign Origin is refused whatever Sec-Fetch-Site says");
    assert_eq!(cross_site_with_our_origin.status, 403, "Sec-Fetch-Site: cross-site is still refused");
    assert_eq!(after_refusals, before, "nothing was created");
    assert_eq!(ours.status, 303, "our own origin works: {}", ours.text);
    assert_eq!(partner_count(&app).await, before + 1);
}

#[tokio::test]
async fn signing_in_and_applying_from_a_foreign_origin_are_refused() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program_with_questions(&app, &f, "resellers", json!([])).await;
    let form = get_page(&app, "/login", None).await;
    let login_csrf = cookie_value(&form.headers, "trellis_csrf").expect("CSRF cookie");
    let credentials = [("email", f.owner.email.as_str()), ("password", PASSWORD), ("csrf_token", login_csrf.as_str())];
    let application = [
        ("csrf_token", "apply-token"),
        ("company_name", "Foreign Co"),
        ("contact_name", "Ada Lovelace"),
        ("contact_email", "ada@foreign.example"),
        ("types", "reseller"),
    ];

    let login = post(&app, "/login", &format!("trellis_csrf={login_csrf}"), &[("origin", "https://evil.example")], &credentials).await;
    let applied = post(&app, "/apply/resellers", "trellis_apply_csrf=apply-token", &[("origin", "null")], &application).await;
    let applied_from_here =
        post(&app, "/apply/resellers", "trellis_apply_csrf=apply-token", &[("origin", &app.base_url)], &application).await;

    assert_eq!(login.status, 403, "{}", login.text);
    assert_eq!(cookie_value(&login.headers, "trellis_session"), None, "no session was started");
    assert_eq!(applied.status, 403, "{}", applied.text);
    assert_eq!(applied_from_here.status, 303, "{}", applied_from_here.text);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM applications")).await, 1, "only the application from our origin");
}
