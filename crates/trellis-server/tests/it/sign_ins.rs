//! Sign-in throttling, sessions and sign-in history (issue 12; API.md "Identity", ADR 0023):
//! failures slow an account down without locking its owner out (a device that signed in before
//! keeps signing in), one address cannot lock out an office, sessions end when unused or revoked,
//! and the history is the person's, their partner admin's and the vendor admins'.

use reqwest::Method;
use serde_json::{Value, json};
use trellis_core::Clock;
use trellis_db::sql;
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{Reply, TestApp};

async fn login(app: &TestApp, email: &str, password: &str, device: Option<&str>) -> Reply {
    let mut body = json!({"email": email, "password": password});
    if let Some(device) = device {
        body["device_token"] = json!(device);
    }
    app.send(Method::POST, "/api/v1/auth/login", None, Some(&body)).await
}

fn outcomes(reply: &Reply) -> Vec<String> {
    reply.body["data"].as_array().expect("data").iter().map(|s| format!("{} {}", s["method"], s["outcome"]).replace('"', "")).collect()
}

#[tokio::test]
async fn failures_slow_an_account_down_but_its_owners_known_device_keeps_signing_in_and_nothing_locks_for_good() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let email = &f.r1a_member.email;
    // The owner's phone signed in before: it holds a device token.
    let earlier = login(&app, email, PASSWORD, None).await;
    assert_eq!(earlier.status, 200, "{}", earlier.text);
    let phone = earlier.body["device_token"].as_str().expect("a device token").to_owned();
    assert!(phone.starts_with("trd_"));

    // An attacker without it tries five passwords: each is 401, then the account makes such
    // clients wait — even with the right password, which is not even checked.
    for _ in 0..5 {
        assert_eq!(login(&app, email, "a guess at the password", None).await.status, 401);
    }
    let waiting = login(&app, email, PASSWORD, None).await;
    assert_eq!(waiting.status, 429, "{}", waiting.text);
    let retry: u64 = waiting.headers["retry-after"].to_str().expect("header").parse().expect("seconds");
    assert!((1..=30).contains(&retry), "the first wait is 30 s: {retry}");

    // The owner's phone is not slowed down by the attack, and keeps its device token.
    let phone_again = login(&app, email, PASSWORD, Some(&phone)).await;
    assert_eq!(phone_again.status, 200, "{}", phone_again.text);
    assert_eq!(phone_again.body["device_token"], phone.as_str());
    // A device token of another account is just another client.
    let other_device = login(&app, &f.r1a_admin.email, PASSWORD, None).await.body["device_token"].as_str().expect("device").to_owned();
    assert_eq!(login(&app, email, PASSWORD, Some(&other_device)).await.status, 429);

    // The wait doubles with each failure after it ends, and always ends: no lock-out.
    app.clock.advance_seconds(31);
    assert_eq!(login(&app, email, "another guess", None).await.status, 401);
    let longer = login(&app, email, PASSWORD, None).await;
    assert_eq!(longer.status, 429);
    let retry: u64 = longer.headers["retry-after"].to_str().expect("header").parse().expect("seconds");
    assert!((31..=60).contains(&retry), "the second wait is 60 s: {retry}");
    app.clock.advance_seconds(61);
    assert_eq!(login(&app, email, PASSWORD, None).await.status, 200, "once the wait is over, the right password signs in");

    // The history shows the attempts, newest first.
    let token = login(&app, email, PASSWORD, Some(&phone)).await.body["token"].as_str().expect("token").to_owned();
    let history = app.get("/api/v1/auth/sign-ins", &token).await;
    assert_eq!(history.status, 200, "{}", history.text);
    let seen = outcomes(&history);
    assert_eq!(seen[0], "password success");
    assert!(seen.iter().filter(|o| *o == "password bad_password").count() == 6, "{seen:?}");
    assert!(seen.iter().any(|o| o == "password throttled"), "{seen:?}");
    assert_eq!(history.body["data"][0]["ip"], "127.0.0.1");
}

#[tokio::test]
async fn one_address_failing_on_many_accounts_waits_but_colleagues_with_known_devices_do_not() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let colleague = login(&app, &f.d1_member.email, PASSWORD, None).await.body["device_token"].as_str().expect("device").to_owned();
    for n in 0..10 {
        assert_eq!(login(&app, &format!("someone{n}@spray.example"), "Summer2026!", None).await.status, 401);
    }
    // The eleventh account from this address waits, whoever it is…
    assert_eq!(login(&app, "someone-else@spray.example", "Summer2026!", None).await.status, 429);
    assert_eq!(login(&app, &f.d2_admin.email, PASSWORD, None).await.status, 429);
    // …but a colleague whose device signed in before signs in as usual.
    assert_eq!(login(&app, &f.d1_member.email, PASSWORD, Some(&colleague)).await.status, 200);
    // One person mistyping their own password ten times slows down only their own account.
    app.clock.advance_seconds(16 * 60);
    for _ in 0..10 {
        let status = login(&app, &f.p3_admin.email, "my old password", None).await.status;
        assert!(status == 401 || status == 429, "{status}");
        app.clock.advance_seconds(20 * 60);
    }
    assert_eq!(login(&app, &f.viewer.email, PASSWORD, None).await.status, 200, "the address is not held for one account");
}

#[tokio::test]
async fn a_person_lists_and_ends_their_sessions_and_unused_sessions_end_after_an_hour() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let email = &f.finance.email;
    let laptop = app.login(email, PASSWORD).await;
    let script = app.login(email, PASSWORD).await;

    let listed = app.get("/api/v1/auth/sessions", &laptop).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let sessions = listed.body["data"].as_array().expect("data").clone();
    assert_eq!(sessions.len(), 3, "the fixture's, the laptop's and the script's: {}", listed.text);
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert!(sessions.iter().all(|s| s["id"].as_str().is_some_and(|id| id.starts_with("ses_")) && s["kind"] == "token"));
    assert!(!listed.text.contains(&laptop) && !listed.text.contains(&script), "secrets are never listed");

    // Ending another session: its token stops working at once; the laptop stays.
    let script_session = app.get("/api/v1/auth/sessions", &script).await.body["data"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["current"] == true).cloned())
        .expect("the script's own session");
    let ended = app.delete(&format!("/api/v1/auth/sessions/{}", script_session["id"].as_str().expect("id")), &laptop).await;
    assert_eq!(ended.status, 204, "{}", ended.text);
    assert_eq!(app.get("/api/v1/me", &script).await.status, 401);
    assert_eq!(app.get("/api/v1/me", &laptop).await.status, 200);
    // Another person's session is not found; an API key has no sessions.
    let others = app.get("/api/v1/auth/sessions", &f.viewer.token).await.body["data"][0]["id"].as_str().expect("id").to_owned();
    assert_eq!(app.delete(&format!("/api/v1/auth/sessions/{others}"), &laptop).await.status, 404);
    assert_eq!(app.get("/api/v1/me", &f.viewer.token).await.status, 200);
    assert_eq!(app.get("/api/v1/auth/sessions", &f.owner_key).await.status, 401);

    // Used within the hour, a session lives on; unused for more than an hour, it ends.
    app.clock.advance_seconds(50 * 60);
    assert_eq!(app.get("/api/v1/me", &laptop).await.status, 200);
    app.clock.advance_seconds(50 * 60);
    assert_eq!(app.get("/api/v1/me", &laptop).await.status, 200, "used 50 minutes ago");
    app.clock.advance_seconds(3601);
    assert_eq!(app.get("/api/v1/me", &laptop).await.status, 401, "unused for over an hour");
    // However much it is used, it ends 12 hours after sign-in.
    let busy = app.login(email, PASSWORD).await;
    for _ in 0..13 {
        app.clock.advance_seconds(55 * 60);
        assert_eq!(app.get("/api/v1/me", &busy).await.status, 200);
    }
    app.clock.advance_seconds(55 * 60);
    assert_eq!(app.get("/api/v1/me", &busy).await.status, 401, "12 hours and 50 minutes after sign-in, used 55 minutes ago");
}

#[tokio::test]
async fn admins_read_sign_in_histories_and_sign_people_out_everywhere_audited() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    assert_eq!(login(&app, &f.r1a_member.email, "not the password", None).await.status, 401);
    let member_phone = app.login(&f.r1a_member.email, PASSWORD).await;
    let member = &f.r1a_member.user_id;

    // Their partner's admin and the vendor's admins read it; a colleague, a distributor's admin
    // and a channel manager do not.
    for token in [&f.r1a_admin.token, &f.admin.token, &f.owner.token] {
        let history = app.get(&format!("/api/v1/partner-users/{member}/sign-ins"), token).await;
        assert_eq!(history.status, 200, "{}", history.text);
        let seen = outcomes(&history);
        assert!(seen.contains(&"password bad_password".to_owned()) && seen.contains(&"password success".to_owned()), "{seen:?}");
    }
    assert_eq!(app.get(&format!("/api/v1/partner-users/{member}/sign-ins"), &f.d1_admin.token).await.status, 403);
    assert_eq!(app.get(&format!("/api/v1/partner-users/{member}/sign-ins"), &f.channel_manager.token).await.status, 403);
    assert_eq!(app.get(&format!("/api/v1/partner-users/{member}/sign-ins"), &f.d2_admin.token).await.status, 404);
    let staff = app.get(&format!("/api/v1/members/{}/sign-ins", f.finance.user_id), &f.admin.token).await;
    assert_eq!(staff.status, 200, "{}", staff.text);
    assert_eq!(outcomes(&staff)[0], "password success");
    assert_eq!(app.get(&format!("/api/v1/members/{}/sign-ins", f.finance.user_id), &f.channel_manager.token).await.status, 403);

    // The partner's admin signs the member out everywhere: both tokens end, audited.
    let ended = app.delete(&format!("/api/v1/partner-users/{member}/sessions"), &f.r1a_admin.token).await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    assert_eq!(ended.body["sessions_ended"], 2);
    assert_eq!(app.get("/api/v1/me", &member_phone).await.status, 401);
    assert_eq!(app.get("/api/v1/me", &f.r1a_member.token).await.status, 401);
    let audited = app
        .query_i64(sql!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'partner_user.sessions_ended' AND target_id = $1",
            member.as_str()
        ))
        .await;
    assert_eq!(audited, 1);
    // The vendor's admin signs a staff member out everywhere.
    let ended = app.delete(&format!("/api/v1/members/{}/sessions", f.viewer.user_id), &f.admin.token).await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    assert_eq!(app.get("/api/v1/me", &f.viewer.token).await.status, 401);
    assert_eq!(app.delete(&format!("/api/v1/members/{}/sessions", f.admin.user_id), &f.finance.token).await.status, 403);
}

#[tokio::test]
async fn pruning_deletes_what_outlived_its_use_and_keeps_the_rest() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let now = app.clock.now();
    let old = now.plus_seconds(-91 * 86_400);
    let day_and_a_bit = now.plus_seconds(-25 * 3600);
    app.execute(vec![
        sql!("INSERT INTO sign_ins (email, method, outcome, ip, at) VALUES ('old@prune.example', 'password', 'bad_password', '192.0.2.1', $1)", old),
        sql!(
            "INSERT INTO idempotency_keys (workspace_id, principal, key, request_hash, status, response_body, created_at, lease_until, claim) VALUES ($1, 'someone', 'old-key', 'h', 200, '{}', $2, 0, 'c')",
            &f.workspace_id,
            day_and_a_bit
        ),
        sql!(
            "INSERT INTO jobs (kind, payload, status, run_at, attempts, created_at, finished_at) VALUES ('evaluate_tiers', '{}', 'done', $1, 1, $1, $1)",
            now.plus_seconds(-15 * 86_400)
        ),
        sql!(
            "INSERT INTO jobs (kind, payload, status, run_at, attempts, created_at, finished_at) VALUES ('evaluate_tiers', '{}', 'failed', $1, 8, $1, $1)",
            now.plus_seconds(-15 * 86_400)
        ),
    ])
    .await
    .expect("old rows");
    let recent_sign_ins = app.query_i64(sql!("SELECT COUNT(*) AS n FROM sign_ins WHERE at > $1", old)).await;
    let live_sessions = app.query_i64(sql!("SELECT COUNT(*) AS n FROM sessions")).await;
    app.clock.advance_seconds(59 * 60);
    trellis_server::jobs::prune_records(&app.state.ctx).await.expect("pruned");

    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM sign_ins WHERE email = 'old@prune.example'")).await, 0);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM sign_ins")).await, recent_sign_ins, "the recent history stays");
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM idempotency_keys WHERE key = 'old-key'")).await, 0);
    let fortnight_ago = now.plus_seconds(-14 * 86_400);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM jobs WHERE status = 'done' AND finished_at < $1", fortnight_ago)).await, 0);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM jobs WHERE status = 'failed'")).await, 1, "failed jobs stay 90 days");
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM sessions")).await, live_sessions, "sessions used within the hour stay");
    // Two hours on, the fixture's unused sessions have ended and are pruned.
    app.clock.advance_seconds(2 * 3600);
    trellis_server::jobs::prune_records(&app.state.ctx).await.expect("pruned");
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM sessions")).await, 0);
}
