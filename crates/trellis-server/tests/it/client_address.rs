//! The client's address behind reverse proxies (issue 6, F4): with `X-Forwarded-For` trusted, the
//! address recorded in the audit trail and counted by the sign-in throttle and the application
//! limit is the one our proxies appended, never what the client wrote to the left of it; garbage
//! and a 10 KB header are ignored (the connection's address is used). The test's connection from
//! 127.0.0.1 plays the nearest proxy.

use reqwest::Method;
use serde_json::json;
use trellis_db::sql;
use trellis_testkit::TestApp;
use trellis_web::client_address::TrustedProxies;

use crate::recruitment::{application, program_with_questions};

/// The address a proxy in front of Trellis saw, appended to whatever the client sent.
const SEEN_BY_PROXY: &str = "198.51.100.7";

/// Creates a partner over the API with these `X-Forwarded-For` lines; returns the audit `ip` of
/// its `partner.created` event.
async fn audited_ip(app: &TestApp, key: &str, n: usize, forwarded_for: &[&str]) -> Option<String> {
    let headers: Vec<(&str, &str)> = forwarded_for.iter().map(|v| ("x-forwarded-for", *v)).collect();
    let body = json!({"name": format!("Partner {n}"), "contact_email": format!("p{n}@p.example"), "types": ["reseller"]});
    let reply = app.send_with(Method::POST, "/api/v1/partners", Some(key), Some(&body), &headers).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let id = reply.body["id"].as_str().expect("partner id").to_owned();
    let rows = app.query(sql!("SELECT ip FROM audit_events WHERE action = 'partner.created' AND target_id = $1", id)).await;
    rows[0].get("ip").expect("ip")
}

#[tokio::test]
async fn the_audit_trail_records_the_address_the_proxy_saw_and_ignores_garbage_and_huge_headers() {
    let app = TestApp::spawn_behind_proxies(TrustedProxies::Hops(1)).await;
    let boot =
        trellis_identity::workspaces::bootstrap(&app.state.ctx, "Proxied", "owner@proxied.example", "a long enough passphrase", "EUR")
            .await
            .expect("bootstrap");
    let key = boot.api_key.as_str();
    let huge = "A".repeat(10 * 1024);

    let spoofed = audited_ip(&app, key, 1, &[&format!("203.0.113.66, {SEEN_BY_PROXY}")]).await;
    let two_lines = audited_ip(&app, key, 2, &["203.0.113.66", SEEN_BY_PROXY]).await;
    let with_port = audited_ip(&app, key, 3, &["[2001:db8::7]:4711"]).await;
    let garbage = audited_ip(&app, key, 4, &["<script>alert(1)</script>"]).await;
    let huge_alone = audited_ip(&app, key, 5, &[&huge]).await;
    let huge_prefix = audited_ip(&app, key, 6, &[&format!("{huge}, {SEEN_BY_PROXY}")]).await;
    let without = audited_ip(&app, key, 7, &[]).await;

    assert_eq!(spoofed.as_deref(), Some(SEEN_BY_PROXY), "the client's own leftmost entry is not believed");
    assert_eq!(two_lines.as_deref(), Some(SEEN_BY_PROXY));
    assert_eq!(with_port.as_deref(), Some("2001:db8::7"));
    assert_eq!(garbage.as_deref(), Some("127.0.0.1"), "garbage: the connection's address");
    assert_eq!(huge_alone.as_deref(), Some("127.0.0.1"), "a 10 KB header: the connection's address");
    assert_eq!(huge_prefix.as_deref(), Some(SEEN_BY_PROXY), "padding left of the proxy's entry changes nothing");
    assert_eq!(without.as_deref(), Some("127.0.0.1"));
    let longest = app.query_i64(sql!("SELECT MAX(LENGTH(ip)) AS n FROM audit_events")).await;
    assert!(longest <= 39, "only addresses are stored, the longest is {longest} characters");
}

#[tokio::test]
async fn two_trusted_hops_take_the_second_entry_from_the_right_and_networks_skip_our_proxies() {
    let hops = TestApp::spawn_behind_proxies(TrustedProxies::Hops(2)).await;
    let networks = TestApp::spawn_behind_proxies(TrustedProxies::Networks(vec![
        "127.0.0.0/8".parse().expect("net"),
        "10.0.0.0/8".parse().expect("net"),
    ]))
    .await;
    let mut ips = Vec::new();
    for app in [&hops, &networks] {
        let boot =
            trellis_identity::workspaces::bootstrap(&app.state.ctx, "Proxied", "owner@proxied.example", "a long enough passphrase", "EUR")
                .await
                .expect("bootstrap");
        ips.push(audited_ip(app, &boot.api_key, 1, &[&format!("203.0.113.66, {SEEN_BY_PROXY}, 10.0.0.9")]).await);
    }

    assert_eq!(ips, [Some(SEEN_BY_PROXY.to_owned()), Some(SEEN_BY_PROXY.to_owned())]);
}

#[tokio::test]
async fn a_spoofed_leftmost_entry_does_not_escape_the_sign_in_throttle() {
    let app = TestApp::spawn_behind_proxies(TrustedProxies::Hops(1)).await;
    let mut statuses = Vec::new();
    // Every attempt names another account (so the per-account back-off never applies) and claims
    // another address on the left; the proxy's entry on the right is the same: after failures on
    // ten accounts, that address waits.
    for n in 0..=10 {
        let body = json!({"email": format!("nobody{n}@example.com"), "password": "wrong password"});
        let forwarded = format!("203.0.113.{n}, {SEEN_BY_PROXY}");
        let reply = app.send_with(Method::POST, "/api/v1/auth/login", None, Some(&body), &[("x-forwarded-for", &forwarded)]).await;
        statuses.push(reply.status);
    }

    assert!(statuses[..10].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses[10], 429, "the 11th account tried from the proxy's client address waits: {statuses:?}");
    let counted = app.query_i64(sql!("SELECT COUNT(*) AS n FROM sign_ins WHERE ip = $1 AND outcome = 'bad_password'", SEEN_BY_PROXY)).await;
    assert_eq!(counted, 10);
}

#[tokio::test]
async fn a_spoofed_leftmost_entry_does_not_escape_the_application_limit() {
    let app = TestApp::spawn_behind_proxies(TrustedProxies::Hops(1)).await;
    let f = trellis_testkit::fixture::Fixture::build(&app).await;
    program_with_questions(&app, &f, "resellers", json!([])).await;
    let limit = trellis_recruitment::applications::MAX_ATTEMPTS_PER_ADDRESS;
    let mut statuses = Vec::new();
    for n in 0..=limit {
        let body = application(&format!("Company {n}"), &format!("c{n}@c{n}.example"));
        let forwarded = format!("203.0.113.{n}, {SEEN_BY_PROXY}");
        let reply = app
            .send_with(
                Method::POST,
                "/api/v1/public/programs/resellers/applications",
                None,
                Some(&body),
                &[("x-forwarded-for", &forwarded)],
            )
            .await;
        statuses.push(reply.status);
    }

    let last = statuses.pop();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(last, Some(429), "the application limit counts the proxy's client address");
    let recorded = app.query(sql!("SELECT DISTINCT ip FROM applications")).await;
    let recorded: Vec<Option<String>> = recorded.iter().map(|r| r.get("ip").expect("ip")).collect();
    assert_eq!(recorded, [Some(SEEN_BY_PROXY.to_owned())]);
}
