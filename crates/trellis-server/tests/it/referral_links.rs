//! Referral links and click attribution (issue 11; API.md "Referral tracking"): links only to
//! the workspace's allowed domains, `/r/{code}` served from memory with a signed click id and a
//! cookie, clicks counted once (bots and repeats within the hour left out) and written in
//! batches, a click id attributing a conversion before its row exists, links private to their
//! organisation, and a link created on one server redirecting on another within a second.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trellis_db::sql;
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{Reply, TestApp};
use trellis_tracking::redirects::Redirects;

const BROWSER: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

/// Every workspace of the app allows example.com as a destination.
pub(crate) async fn allow_example_com(app: &TestApp) {
    app.execute(vec![sql!("UPDATE workspaces SET allowed_redirect_domains = '[\"example.com\"]'")]).await.expect("allowed domains");
}

/// An app with the fixture's partners, its workspaces allowing example.com as a destination.
async fn app_with_fixture() -> (TestApp, Fixture) {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    allow_example_com(&app).await;
    (app, f)
}

async fn visit(app: &TestApp, code: &str, user_agent: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = user_agent.map(|ua| vec![("user-agent", ua)]).unwrap_or_default();
    app.send_with(reqwest::Method::GET, &format!("/r/{code}"), None, None, &headers).await
}

fn header(reply: &Reply, name: &str) -> String {
    reply.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// The click id a redirect handed out (from its Location).
fn click_of(reply: &Reply) -> String {
    let location = header(reply, "location");
    let url = url::Url::parse(&location).expect("an absolute Location");
    url.query_pairs().find(|(k, _)| k == "trellis_click").map(|(_, v)| v.into_owned()).expect("trellis_click in the Location")
}

async fn flushed(app: &TestApp) {
    Redirects::of(&app.state.ctx).expect("redirects").recorder().flush().await;
}

async fn link(app: &TestApp, token: &str, body: Value) -> Value {
    let reply = app.post("/api/v1/referral-links", token, body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body
}

#[tokio::test]
async fn a_link_redirects_with_a_click_id_and_counts_each_visitor_once_an_hour() {
    let (app, f) = app_with_fixture().await;
    let created = link(
        &app,
        &f.r1a_admin.token,
        json!({"destination_url": "https://www.example.com/pricing?plan=pro", "utm": {"utm_source": "northwind", "utm_medium": "referral"}}),
    )
    .await;
    assert_eq!(created["partner_id"], f.r1a.to_string(), "a partner's own link");
    let code = created["code"].as_str().expect("code").to_owned();
    assert_eq!(created["url"], format!("{}/r/{code}", app.base_url));

    let first = visit(&app, &code, Some(BROWSER)).await;
    assert_eq!(first.status, 302, "{}", first.text);
    let location = header(&first, "location");
    assert!(
        location.starts_with("https://www.example.com/pricing?plan=pro&utm_source=northwind&utm_medium=referral&trellis_click=clk_"),
        "{location}"
    );
    let click = click_of(&first);
    let cookie = header(&first, "set-cookie");
    assert!(cookie.starts_with(&format!("trellis_click={click}; Max-Age=7776000;")), "a 90-day first-party cookie: {cookie}");
    assert_eq!(header(&first, "cache-control"), "no-store");

    // The same visitor within the hour, a crawler and a client without a user agent: redirected,
    // each with a click id of its own, none counted.
    for user_agent in [Some(BROWSER), Some(GOOGLEBOT), None] {
        let again = visit(&app, &code, user_agent).await;
        assert_eq!(again.status, 302);
        assert_ne!(click_of(&again), click);
    }
    flushed(&app).await;
    let clicks = || app.query_i64(sql!("SELECT COUNT(*) AS n FROM clicks"));
    assert_eq!(clicks().await, 1);
    assert_eq!(
        app.get(&format!("/api/v1/referral-links/{}", created["id"].as_str().expect("id")), &f.r1a_admin.token).await.body["clicks"],
        1
    );

    // An hour later the same visitor counts again; the daily count moves by batch.
    app.clock.advance_seconds(3_601);
    assert_eq!(visit(&app, &code, Some(BROWSER)).await.status, 302);
    flushed(&app).await;
    assert_eq!(clicks().await, 2);
    let days = app.query_i64(sql!("SELECT CAST(SUM(clicks) AS BIGINT) AS n FROM referral_link_days")).await;
    assert_eq!(days, 2);

    // Unknown and disabled codes are 404; enabled again, the code redirects. (The hour left the
    // people's tokens unused for longer than sessions last idle: they sign in again.)
    assert_eq!(visit(&app, "no-such-code", Some(BROWSER)).await.status, 404);
    let id = created["id"].as_str().expect("id");
    let member = app.login(&f.r1a_member.email, PASSWORD).await;
    assert_eq!(app.post(&format!("/api/v1/referral-links/{id}/disable"), &member, json!({})).await.status, 200);
    assert_eq!(visit(&app, &code, Some(BROWSER)).await.status, 404);
    let manager = app.login(&f.channel_manager.email, PASSWORD).await;
    assert_eq!(app.post(&format!("/api/v1/referral-links/{id}/enable"), &manager, json!({})).await.status, 200);
    assert_eq!(visit(&app, &code, Some(BROWSER)).await.status, 302);

    let qr = app.get(&format!("/api/v1/referral-links/{id}/qr.svg"), &member).await;
    assert_eq!(qr.status, 200);
    assert_eq!(header(&qr, "content-type"), "image/svg+xml");
    assert!(qr.text.contains("<svg"), "{}", qr.text);
}

#[tokio::test]
async fn destinations_outside_the_allowed_domains_and_taken_codes_are_refused_and_create_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let refused = app.post("/api/v1/referral-links", &f.r1a_admin.token, json!({"destination_url": "https://www.example.com/"})).await;
    assert_eq!(refused.status, 422, "no allowed domain yet: {}", refused.text);
    assert!(refused.text.contains("allows no destination domains"), "{}", refused.text);
    allow_example_com(&app).await;
    for destination in [
        "https://example.com@evil.test/",
        "https://evil.test\\@example.com",
        "//evil.test/",
        "javascript:alert(1)//example.com",
        "https://ex\u{0430}mple.com/",
        "https://example.com.evil.test/",
        "https://evil.test%2F@example.com",
    ] {
        let reply = app.post("/api/v1/referral-links", &f.r1a_admin.token, json!({"destination_url": destination})).await;
        assert_eq!(reply.status, 422, "{destination}: {}", reply.text);
        assert_eq!(reply.body["errors"][0]["field"], "destination_url", "{}", reply.text);
    }
    let vanity = link(&app, &f.r1a_admin.token, json!({"destination_url": "https://example.com/", "code": "Spring-Sale"})).await;
    assert_eq!(vanity["code"], "spring-sale");
    let taken = app
        .post("/api/v1/referral-links", &f.p3_admin.token, json!({"destination_url": "https://example.com/", "code": "spring-sale"}))
        .await;
    assert_eq!(taken.status, 409, "{}", taken.text);
    for code in ["ab", "-start", "has space", "api"] {
        let reply =
            app.post("/api/v1/referral-links", &f.r1a_admin.token, json!({"destination_url": "https://example.com/", "code": code})).await;
        assert_eq!(reply.status, 422, "{code}: {}", reply.text);
    }
    let unknown_utm = app
        .post("/api/v1/referral-links", &f.r1a_admin.token, json!({"destination_url": "https://example.com/", "utm": {"utm_evil": "x"}}))
        .await;
    assert_eq!(unknown_utm.status, 422, "{}", unknown_utm.text);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM referral_links")).await, 1, "only the vanity link was created");
}

#[tokio::test]
async fn a_distributor_never_sees_its_resellers_links_and_staff_create_for_partners_they_see() {
    let (app, f) = app_with_fixture().await;
    let own = link(&app, &f.r1a_member.token, json!({"destination_url": "https://example.com/a"})).await;
    let id = own["id"].as_str().expect("id");
    assert_eq!(app.get(&format!("/api/v1/referral-links/{id}"), &f.d1_admin.token).await.status, 404);
    assert_eq!(app.get(&format!("/api/v1/referral-links/{id}/stats"), &f.d1_admin.token).await.status, 404);
    let list = app.get("/api/v1/referral-links", &f.d1_admin.token).await;
    assert_eq!(list.body["data"].as_array().map(Vec::len), Some(0), "{}", list.text);
    // Naming a reseller to create a link for it reads as unknown.
    let for_reseller = app
        .post(
            "/api/v1/referral-links",
            &f.d1_admin.token,
            json!({"destination_url": "https://example.com/", "partner_id": f.r1a.to_string()}),
        )
        .await;
    assert_eq!(for_reseller.status, 404, "{}", for_reseller.text);
    // Staff: channel managers create for a partner; finance reads but does not create.
    link(&app, &f.channel_manager.token, json!({"destination_url": "https://example.com/b", "partner_id": f.d1.to_string()})).await;
    let missing_partner =
        app.post("/api/v1/referral-links", &f.channel_manager.token, json!({"destination_url": "https://example.com/"})).await;
    assert_eq!(missing_partner.status, 422, "{}", missing_partner.text);
    let finance = app
        .post(
            "/api/v1/referral-links",
            &f.finance.token,
            json!({"destination_url": "https://example.com/", "partner_id": f.d1.to_string()}),
        )
        .await;
    assert_eq!(finance.status, 403, "{}", finance.text);
    let staff_list = app.get("/api/v1/referral-links", &f.finance.token).await;
    assert_eq!(staff_list.body["data"].as_array().map(Vec::len), Some(2), "{}", staff_list.text);
}

async fn lead_program(app: &TestApp, f: &Fixture) -> trellis_core::ProgramId {
    let program = crate::commissions::program(app, f, "referrals").await;
    crate::commissions::set_plan(app, f, &program, json!({"lead": {"flat": crate::commissions::money(2_500)}, "hold_days": 30})).await;
    program
}

#[tokio::test]
async fn a_click_id_attributes_a_conversion_before_its_row_is_written_and_only_inside_the_window() {
    let (app, f) = app_with_fixture().await;
    let program = lead_program(&app, &f).await;
    let created =
        link(&app, &f.r1a_admin.token, json!({"destination_url": "https://example.com/", "program_id": program.to_string()})).await;
    let link_id: trellis_core::LinkId = created["id"].as_str().expect("id").parse().expect("link id");

    // A click id signed for the link, whose click was never recorded: the id alone attributes.
    let redirects = Redirects::of(&app.state.ctx).expect("redirects");
    // Clicked a minute ago: a conversion seconds after its click would be held for review.
    let click = redirects.key().issue(&link_id, app.state.ctx.now().plus_seconds(-60), "198.51.100.7");
    let answer = app
        .post(
            "/api/v1/conversions",
            &f.owner_key,
            json!({"kind": "lead", "invoice_id": "L-1", "customer_external_id": "cust-1", "click_id": click, "partner_id": f.p3.to_string()}),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(answer.body["partner_id"], f.r1a.to_string(), "the click wins over the partner sent: {}", answer.text);
    assert_eq!(answer.body["attribution"], "click");
    assert_eq!(answer.body["commissions"][0]["amount"]["amount_minor"], 2_500);
    assert_eq!(answer.body["commissions"][0]["status"], "pending", "no fraud rule fired: {}", answer.text);
    assert_eq!(answer.body["flags"], json!([]));
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM clicks")).await, 0, "no click row was needed");

    // The customer keeps its partner (first touch): P3's click later does not move it.
    let p3_link = link(&app, &f.p3_admin.token, json!({"destination_url": "https://example.com/"})).await;
    let p3_link_id: trellis_core::LinkId = p3_link["id"].as_str().expect("id").parse().expect("link id");
    let p3_click = redirects.key().issue(&p3_link_id, app.state.ctx.now().plus_seconds(-60), "198.51.100.8");
    let again = app
        .post(
            "/api/v1/conversions",
            &f.owner_key,
            json!({"kind": "lead", "invoice_id": "L-2", "customer_external_id": "cust-1", "click_id": p3_click}),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.body["partner_id"], f.r1a.to_string());
    assert_eq!(again.body["attribution"], "customer");

    // A forged id (one character changed) attributes nothing; so does a click older than the
    // program's 90-day window.
    let mut forged = click.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'a' { b'b' } else { b'a' };
    let forged = String::from_utf8(forged).expect("ascii");
    let reply = app
        .post(
            "/api/v1/conversions",
            &f.owner_key,
            json!({"kind": "lead", "invoice_id": "L-3", "customer_external_id": "cust-3", "click_id": forged}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["attribution"], "none", "{}", reply.text);
    let old_click = redirects.key().issue(&link_id, app.state.ctx.now().plus_seconds(-91 * 86_400), "198.51.100.9");
    let reply = app
        .post(
            "/api/v1/conversions",
            &f.owner_key,
            json!({"kind": "lead", "invoice_id": "L-4", "customer_external_id": "cust-4", "click_id": old_click}),
        )
        .await;
    assert_eq!(reply.body["attribution"], "none", "{}", reply.text);

    // The link's figures: one lead attributed through it (the returning customer's second lead
    // came through its customer, not the link), its earnings for the partner's money readers only.
    let stats = app.get(&format!("/api/v1/referral-links/{link_id}/stats?days=7"), &f.r1a_admin.token).await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(stats.body["leads"], 1, "{}", stats.text);
    assert_eq!(stats.body["earnings"], json!([{"currency": "EUR", "amount_minor": 2_500}]));
    assert_eq!(stats.body["days"].as_array().map(Vec::len), Some(7));
    assert_eq!(stats.body["days"][6]["leads"], 1, "{}", stats.text);
    let member = app.get(&format!("/api/v1/referral-links/{link_id}/stats"), &f.r1a_member.token).await;
    assert_eq!(member.body["earnings"], Value::Null, "{}", member.text);
}

#[tokio::test]
async fn a_link_created_on_one_server_redirects_on_another_within_a_second() {
    let (app, f) = app_with_fixture().await;
    let sibling = app.spawn_sibling().await;
    let created = link(&app, &f.r1a_admin.token, json!({"destination_url": "https://example.com/two"})).await;
    let code = created["code"].as_str().expect("code").to_owned();
    let on_sibling = |path: String| {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let url = format!("{}{path}", sibling.base_url);
        async move { client.get(url).header("user-agent", BROWSER).send().await.expect("sibling answers").status().as_u16() }
    };
    let started = Instant::now();
    while on_sibling(format!("/r/{code}")).await != 302 {
        assert!(started.elapsed() < Duration::from_secs(1), "the sibling did not redirect within a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let id = created["id"].as_str().expect("id");
    assert_eq!(app.post(&format!("/api/v1/referral-links/{id}/disable"), &f.r1a_admin.token, json!({})).await.status, 200);
    let started = Instant::now();
    while on_sibling(format!("/r/{code}")).await != 404 {
        assert!(started.elapsed() < Duration::from_secs(1), "the sibling still redirected a disabled link after a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_sales_rep_creates_a_link_in_the_portal_and_reads_its_figures_but_never_a_resellers_link() {
    let (app, f) = app_with_fixture().await;
    let rep = crate::pages::sign_in(&app, &f.r1a_member.email).await;
    let empty = rep.get("/portal/links").await;
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert!(empty.text.contains("No links yet"), "{}", empty.text);

    let refused = rep.submit("/portal/links", &[("destination_url", "https://evil.test/")]).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.text.contains("is not one of the workspace&#39;s allowed domains") || refused.text.contains("allowed domains"),
        "{}",
        refused.text
    );
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM referral_links")).await, 0);

    let created = rep
        .submit(
            "/portal/links",
            &[("destination_url", "https://example.com/offer"), ("name", "Spring newsletter"), ("utm_campaign", "spring")],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.text);
    let to = header_of(&created.headers, "location");
    assert!(to.starts_with("/portal/links/lnk_") && to.ends_with("?notice=link_created"), "{to}");
    let page = rep.get(&to).await;
    assert_eq!(page.status, 200, "{}", page.text);
    crate::pages::assert_safe_page(&to, &page);
    assert!(page.text.contains("Spring newsletter") && page.text.contains("The link was created"), "{}", page.text);
    assert!(page.text.contains("/qr.svg") && page.text.contains("Clicks in the last 14 days"), "{}", page.text);
    assert!(!page.text.contains("Earned"), "a member does not read money: {}", page.text);
    let id = to.trim_start_matches("/portal/links/").split('?').next().expect("id").to_owned();
    let qr = rep.get(&format!("/portal/links/{id}/qr.svg")).await;
    assert_eq!(qr.status, 200);
    assert!(qr.text.starts_with("<?xml") || qr.text.contains("<svg"), "{}", qr.text);

    // The distributor's admin: the reseller's link is the 404 page, its list is empty.
    let distributor = crate::pages::sign_in(&app, &f.d1_admin.email).await;
    assert_eq!(distributor.get(&format!("/portal/links/{id}")).await.status, 404);
    assert!(distributor.get("/portal/links").await.text.contains("No links yet"));

    // Disabled from its page: the code answers 404 at once.
    let code = app.query(sql!("SELECT code FROM referral_links")).await[0].get::<String>("code").expect("code");
    let disabled = rep.submit(&format!("/portal/links/{id}/disable"), &[]).await;
    assert_eq!(disabled.status, 303);
    assert_eq!(visit(&app, &code, Some(BROWSER)).await.status, 404);
    assert!(rep.get(&format!("/portal/links/{id}")).await.text.contains("Enable the link"));
}

fn header_of(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Records a lead of `customer` through `click` (and `extra` fields), answering the conversion.
async fn lead_through(app: &TestApp, f: &Fixture, invoice: &str, customer: &str, click: &str, extra: Value) -> Value {
    let mut body = json!({"kind": "lead", "invoice_id": invoice, "customer_external_id": customer, "click_id": click});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let reply = app.post("/api/v1/conversions", &f.owner_key, body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body
}

fn rules(answer: &Value) -> Vec<String> {
    answer["flags"].as_array().expect("flags").iter().map(|f| f["rule"].as_str().expect("rule").to_owned()).collect()
}

#[tokio::test]
async fn conversions_that_trip_a_fraud_rule_are_held_for_review_and_finance_releases_or_rejects_them() {
    let (app, f) = app_with_fixture().await;
    let program = lead_program(&app, &f).await;
    let created =
        link(&app, &f.r1a_admin.token, json!({"destination_url": "https://example.com/", "program_id": program.to_string()})).await;
    let link_id: trellis_core::LinkId = created["id"].as_str().expect("id").parse().expect("link id");
    let key = Redirects::of(&app.state.ctx).expect("redirects").key().clone();
    let now = app.state.ctx.now();
    let minute_ago = |address: &str| key.issue(&link_id, now.plus_seconds(-60), address);

    // A clean conversion: nothing flagged.
    let clean = lead_through(&app, &f, "F-0", "c-0", &minute_ago("203.0.113.1"), json!({"customer_email": "buyer@example.org"})).await;
    assert_eq!(rules(&clean), Vec::<String>::new());
    assert_eq!(clean["commissions"][0]["status"], "pending");

    // Three seconds after the click.
    let fast = lead_through(&app, &f, "F-1", "c-1", &key.issue(&link_id, now.plus_seconds(-3), "203.0.113.2"), json!({})).await;
    assert_eq!(rules(&fast), ["fast_conversion"]);
    assert_eq!(fast["commissions"][0]["status"], "on_hold");
    // The partner's own admin, written another way.
    let own = f.r1a_admin.email.replace('@', "+deal@").to_uppercase();
    let selfish = lead_through(&app, &f, "F-2", "c-2", &minute_ago("203.0.113.3"), json!({"customer_email": own})).await;
    assert_eq!(rules(&selfish), ["self_referral"]);
    // From an address the partner's users signed in from (the fixture signed them in locally).
    let from_office = lead_through(&app, &f, "F-3", "c-3", &minute_ago("203.0.113.4"), json!({"customer_ip": "127.0.0.1"})).await;
    assert_eq!(rules(&from_office), ["self_referral"]);
    // A disposable mailbox.
    let throwaway = lead_through(&app, &f, "F-4", "c-4", &minute_ago("203.0.113.5"), json!({"customer_email": "x@mailinator.com"})).await;
    assert_eq!(rules(&throwaway), ["disposable_email"]);
    // A flooded link: the program allows two clicks an hour, the link had three.
    let reply = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/programs/{program}/tracking"),
            Some(&f.channel_manager.token),
            Some(&json!({"fraud": {"max_clicks_per_hour": 2}})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    for i in 0..3 {
        app.execute(vec![sql!(
            "INSERT INTO clicks (workspace_id, id, link_id, partner_id, clicked_at, ip) VALUES ($1, $2, $3, $4, $5, '203.0.113.9')",
            &f.workspace_id,
            format!("clk_flood{i}"),
            &link_id,
            &f.r1a,
            now.plus_seconds(-120 - i)
        )])
        .await
        .expect("clicks");
    }
    let flooded = lead_through(&app, &f, "F-5", "c-5", &minute_ago("203.0.113.6"), json!({})).await;
    assert_eq!(rules(&flooded), ["click_flood"]);
    // Rules can be turned off per program.
    let off = json!({"fraud": {"disposable_email": false, "max_clicks_per_hour": 1000}});
    let reply = app.send(reqwest::Method::PATCH, &format!("/api/v1/programs/{program}/tracking"), Some(&f.owner.token), Some(&off)).await;
    assert_eq!(reply.body["fraud"]["disposable_email"], false, "{}", reply.text);
    assert_eq!(reply.body["fraud"]["self_referral"], true, "the other rules stay: {}", reply.text);
    let allowed = lead_through(&app, &f, "F-6", "c-6", &minute_ago("203.0.113.7"), json!({"customer_email": "y@mailinator.com"})).await;
    assert_eq!(rules(&allowed), Vec::<String>::new());
    let bad = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/programs/{program}/tracking"),
            Some(&f.owner.token),
            Some(&json!({"attribution_window_days": 0})),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text);

    // The hold queue: finance releases one and rejects another; the ledger still verifies.
    let held = app.get("/api/v1/commissions?hold_reason=fraud_review", &f.finance.token).await;
    assert_eq!(held.body["data"].as_array().map(Vec::len), Some(5), "{}", held.text);
    assert!(held.text.contains("Held for review: converted 3 s after the click"), "the rule is on the commission: {}", held.text);
    let id_of = |answer: &Value| answer["commissions"][0]["id"].as_str().expect("commission").to_owned();
    let released = app.post(&format!("/api/v1/commissions/{}/release", id_of(&fast)), &f.finance.token, json!({})).await;
    assert_eq!(released.body["status"], "pending", "{}", released.text);
    let rejected = app
        .post(&format!("/api/v1/commissions/{}/reject", id_of(&selfish)), &f.finance.token, json!({"note": "The partner's own purchase"}))
        .await;
    assert_eq!(rejected.status, 200, "{}", rejected.text);
    assert_eq!(rejected.body["status"], "reversed");
    let again = app.post(&format!("/api/v1/commissions/{}/reject", id_of(&selfish)), &f.finance.token, json!({})).await;
    assert_eq!(again.status, 409, "a rejected commission is not rejected twice: {}", again.text);
    let not_held = app.post(&format!("/api/v1/commissions/{}/reject", id_of(&clean)), &f.finance.token, json!({})).await;
    assert_eq!(not_held.status, 409, "{}", not_held.text);
    let report = trellis_incentives::ledger::verify(&app.state.ctx).await.expect("verify");
    assert!(report.is_clean(), "{}", report.summary());
}

#[tokio::test]
async fn a_program_that_takes_the_last_touch_moves_a_returning_customer_to_the_new_clicks_partner() {
    let (app, f) = app_with_fixture().await;
    let program = lead_program(&app, &f).await;
    let reply = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/programs/{program}/tracking"),
            Some(&f.owner.token),
            Some(&json!({"last_touch": true, "attribution_window_days": 30})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let key = Redirects::of(&app.state.ctx).expect("redirects").key().clone();
    let now = app.state.ctx.now();
    let mut clicks = Vec::new();
    for (token, address) in [(&f.r1a_admin.token, "203.0.113.1"), (&f.p3_admin.token, "203.0.113.2")] {
        let created = link(&app, token, json!({"destination_url": "https://example.com/", "program_id": program.to_string()})).await;
        let link_id: trellis_core::LinkId = created["id"].as_str().expect("id").parse().expect("link id");
        clicks.push(key.issue(&link_id, now.plus_seconds(-60), address));
    }
    // The window is the program's: the link's redirect sets a 30-day cookie.
    let code = app.query(sql!("SELECT code FROM referral_links ORDER BY id LIMIT 1")).await[0].get::<String>("code").expect("code");
    let cookie = header(&visit(&app, &code, Some(BROWSER)).await, "set-cookie");
    assert!(cookie.contains("Max-Age=2592000;"), "{cookie}");
    let first = lead_through(&app, &f, "T-1", "returning", &clicks[0], json!({})).await;
    assert_eq!(first["partner_id"], f.r1a.to_string());
    let second = lead_through(&app, &f, "T-2", "returning", &clicks[1], json!({})).await;
    assert_eq!(second["partner_id"], f.p3.to_string(), "the last click wins: {second}");
    assert_eq!(second["attribution"], "click");
    // Without a click, the customer now belongs to the last partner.
    let third = app
        .post("/api/v1/conversions", &f.owner_key, json!({"kind": "lead", "invoice_id": "T-3", "customer_external_id": "returning"}))
        .await;
    assert_eq!(third.body["partner_id"], f.p3.to_string(), "{}", third.text);
}

#[tokio::test]
async fn a_channel_manager_sets_a_programs_attribution_and_fraud_rules_on_its_console_page() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = lead_program(&app, &f).await;
    let manager = crate::pages::sign_in(&app, &f.channel_manager.email).await;
    let page = manager.get(&format!("/console/programs/{program}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("A click attributes a conversion for 90 days"), "{}", page.text);
    let path = format!("/console/programs/{program}/tracking");
    let wrong = manager.submit(&path, &[("attribution_window_days", "ninety"), ("flag_self_referral", "1")]).await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.text.contains("must be a whole number"), "{}", wrong.text);
    let saved = manager
        .submit(
            &path,
            &[("attribution_window_days", "45"), ("last_touch", "1"), ("min_seconds_after_click", "30"), ("max_clicks_per_hour", "500")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let api = app.get(&format!("/api/v1/programs/{program}/tracking"), &f.r1a_admin.token).await;
    assert_eq!(
        api.body,
        json!({"program_id": program.to_string(), "attribution_window_days": 45, "last_touch": true,
               "fraud": {"min_seconds_after_click": 30, "max_clicks_per_hour": 500, "self_referral": false, "disposable_email": false}})
    );
    let finance = crate::pages::sign_in(&app, &f.finance.email).await;
    assert!(
        !finance.get(&format!("/console/programs/{program}")).await.text.contains("Save referral tracking"),
        "finance reads, does not change"
    );
}

#[tokio::test]
async fn the_demo_has_links_with_two_weeks_of_clicks_attributed_conversions_and_one_held_for_review() {
    let app = TestApp::spawn().await;
    trellis_server::demo::seed(&app.state.ctx).await.expect("demo seeding");
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM referral_links")).await, 2);
    assert!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM clicks")).await > 100, "two weeks of clicks");
    assert_eq!(app.query_i64(sql!("SELECT COUNT(DISTINCT day) AS n FROM referral_link_days")).await, 14);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM conversions WHERE attribution = 'click' AND link_id IS NOT NULL")).await, 3);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM commissions WHERE hold_reason = 'fraud_review'")).await, 1);
}

#[tokio::test]
async fn the_channel_team_reads_every_partners_links_in_the_console_and_an_assigned_manager_only_its_partners() {
    let (app, f) = app_with_fixture().await;
    let reseller = link(&app, &f.r1a_member.token, json!({"destination_url": "https://example.com/r", "name": "Reseller flyer"})).await;
    let other = link(&app, &f.p3_admin.token, json!({"destination_url": "https://example.com/p", "name": "P3 newsletter"})).await;
    let (reseller_id, other_id) = (reseller["id"].as_str().expect("id"), other["id"].as_str().expect("id"));

    let viewer = crate::pages::sign_in(&app, &f.viewer.email).await;
    let all = viewer.get("/console/links").await;
    assert_eq!(all.status, 200, "{}", all.text);
    crate::pages::assert_safe_page("/console/links", &all);
    assert!(all.text.contains("Reseller flyer") && all.text.contains("P3 newsletter"), "{}", all.text);
    let filtered = viewer.get(&format!("/console/links?partner={}", f.p3)).await;
    assert!(filtered.text.contains("P3 newsletter") && !filtered.text.contains("Reseller flyer"), "{}", filtered.text);
    let page = viewer.get(&format!("/console/links/{other_id}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Clicks in the last 14 days") && page.text.contains(&format!("/console/links/{other_id}/qr.svg")));
    assert!(!page.text.contains("Disable the link"), "a viewer reads, does not change: {}", page.text);
    assert_eq!(viewer.submit(&format!("/console/links/{other_id}/disable"), &[]).await.status, 403);

    // An assigned manager sees the links of its partners only.
    let assigned = crate::pages::sign_in(&app, &f.assigned_manager.email).await;
    let list = assigned.get("/console/links").await;
    assert!(list.text.contains("Reseller flyer") && !list.text.contains("P3 newsletter"), "{}", list.text);
    assert_eq!(assigned.get(&format!("/console/links/{other_id}")).await.status, 404);

    // A channel manager disables a link from its page: its code answers 404 at once.
    let manager = crate::pages::sign_in(&app, &f.channel_manager.email).await;
    assert!(manager.get(&format!("/console/links/{reseller_id}")).await.text.contains("Disable the link"));
    let disabled = manager.submit(&format!("/console/links/{reseller_id}/disable"), &[]).await;
    assert_eq!(disabled.status, 303, "{}", disabled.text);
    assert_eq!(header_of(&disabled.headers, "location"), format!("/console/links/{reseller_id}?notice=link_disabled"));
    let code = reseller["code"].as_str().expect("code");
    assert_eq!(visit(&app, code, Some(BROWSER)).await.status, 404);
    // A partner's people never reach the console's pages.
    let partner = crate::pages::sign_in(&app, &f.r1a_admin.email).await;
    assert_eq!(partner.get("/console/links").await.status, 404);
}
