//! API behaviour that API.md promises beyond who may call what: idempotent retries, sign-in
//! throttling and its uniform answers, choosing a membership, access ending at once when a member
//! is removed or a partner suspended, key scopes and revocation, pagination, and problem documents
//! for bad input that leave everything as it was.

use reqwest::Method;
use serde_json::{Value, json};
use trellis_core::{PartnerRole, PartnerScopeSetting, VendorRole};
use trellis_db::sql;
use trellis_identity::{RequestMeta, Scope, auth, partner_users, workspaces};
use trellis_testkit::fixture::{self, Fixture, PASSWORD};
use trellis_testkit::{Reply, TEST_FIXTURES, TestApp};

async fn partner_count(app: &TestApp, f: &Fixture) -> i64 {
    app.query_i64(sql!("SELECT COUNT(*) AS n FROM partners WHERE workspace_id = $1", f.workspace_id)).await
}

async fn audit_count(app: &TestApp) -> i64 {
    app.query_i64(sql!("SELECT COUNT(*) AS n FROM audit_events")).await
}

fn new_partner(name: &str) -> Value {
    json!({"name": name, "contact_email": "contact@new.example", "types": ["reseller"]})
}

fn assert_problem(reply: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.text);
    let content_type = reply.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(content_type, "application/problem+json", "{what}");
    assert_eq!(reply.body["code"], code, "{what}: {}", reply.text);
    assert_eq!(reply.body["status"], status, "{what}");
    for field in ["type", "title", "detail"] {
        assert!(reply.body[field].as_str().is_some_and(|v| !v.is_empty()), "{what}: problem without {field}: {}", reply.text);
    }
}

// ---------------------------------------------------------------------------------------------
// Idempotency-Key

#[tokio::test]
async fn an_idempotent_retry_returns_the_first_response_and_creates_nothing_more() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let before = partner_count(&app, &f).await;
    let body = new_partner("Retried Ltd");
    let key = [("idempotency-key", "create-retried-1")];

    let first = app.send_with(Method::POST, "/api/v1/partners", Some(&f.owner.token), Some(&body), &key).await;
    let retry = app.send_with(Method::POST, "/api/v1/partners", Some(&f.owner.token), Some(&body), &key).await;
    let other_caller = app.send_with(Method::POST, "/api/v1/partners", Some(&f.admin.token), Some(&body), &key).await;

    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.body, first.body, "the retry answers exactly the first response");
    assert_eq!(retry.headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    // Keys belong to the caller: another person's identical key is a new request.
    assert_eq!(other_caller.status, 201, "{}", other_caller.text);
    assert_ne!(other_caller.body["id"], first.body["id"]);
    assert_eq!(partner_count(&app, &f).await, before + 2);
    let named =
        app.query_i64(sql!("SELECT COUNT(*) AS n FROM partners WHERE name = 'Retried Ltd' AND workspace_id = $1", f.workspace_id)).await;
    assert_eq!(named, 2);
}

#[tokio::test]
async fn concurrent_first_uses_of_one_idempotency_key_create_exactly_one_object() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let body = new_partner("Raced Ltd");
    let key = [("idempotency-key", "raced-1")];

    let requests = (0..6).map(|_| app.send_with(Method::POST, "/api/v1/partners", Some(&f.owner.token), Some(&body), &key));
    let replies = futures_util::future::join_all(requests).await;

    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "each answer is the first response or 'still in progress': {statuses:?}");
    let created =
        app.query_i64(sql!("SELECT COUNT(*) AS n FROM partners WHERE name = 'Raced Ltd' AND workspace_id = $1", f.workspace_id)).await;
    assert_eq!(created, 1);
    let ids: std::collections::BTreeSet<&str> = replies.iter().filter(|r| r.status == 201).filter_map(|r| r.body["id"].as_str()).collect();
    assert_eq!(ids.len(), 1, "every 201 names the same partner");
}

#[tokio::test]
async fn reusing_an_idempotency_key_with_another_body_is_refused_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let key = [("idempotency-key", "create-once")];
    let first = app.send_with(Method::POST, "/api/v1/partners", Some(&f.owner.token), Some(&new_partner("First Ltd")), &key).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let before = (partner_count(&app, &f).await, audit_count(&app).await);

    let reused = app.send_with(Method::POST, "/api/v1/partners", Some(&f.owner.token), Some(&new_partner("Second Ltd")), &key).await;

    assert_problem(&reused, 422, "idempotency_key_reused", "same key, other body");
    assert_eq!((partner_count(&app, &f).await, audit_count(&app).await), before);
    let second = app.query_i64(sql!("SELECT COUNT(*) AS n FROM partners WHERE name = 'Second Ltd'")).await;
    assert_eq!(second, 0);
}

// ---------------------------------------------------------------------------------------------
// Sign-in

fn login_body(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

#[tokio::test]
async fn five_failed_sign_ins_for_one_account_are_throttled_with_retry_after() {
    let app = TestApp::spawn().await;
    let boot = workspaces::bootstrap(&app.state.ctx, "Vendor", "owner@throttle.example", PASSWORD, "EUR").await.expect("bootstrap");
    let other =
        fixture::add_staff(&app, &boot.workspace_id, "other", "other@throttle.example", VendorRole::Viewer, PartnerScopeSetting::All).await;

    let mut failures = Vec::new();
    for _ in 0..5 {
        failures.push(
            app.send(Method::POST, "/api/v1/auth/login", None, Some(&login_body("owner@throttle.example", "wrong-password"))).await.status,
        );
    }
    let throttled = app.send(Method::POST, "/api/v1/auth/login", None, Some(&login_body("owner@throttle.example", PASSWORD))).await;
    let another_account = app.send(Method::POST, "/api/v1/auth/login", None, Some(&login_body(&other.email, PASSWORD))).await;
    app.clock.advance_seconds(15 * 60 + 1);
    let after_the_window = app.send(Method::POST, "/api/v1/auth/login", None, Some(&login_body("owner@throttle.example", PASSWORD))).await;

    assert_eq!(failures, [401; 5]);
    assert_problem(&throttled, 429, "rate_limited", "sixth attempt, even with the right password");
    let retry_after: u64 =
        throttled.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("a numeric Retry-After");
    assert!((1..=15 * 60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(another_account.status, 200, "the throttle is per account: {}", another_account.text);
    assert_eq!(after_the_window.status, 200, "{}", after_the_window.text);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_account_get_identical_answers() {
    let app = TestApp::spawn().await;
    workspaces::bootstrap(&app.state.ctx, "Vendor", "owner@same.example", PASSWORD, "EUR").await.expect("bootstrap");

    let wrong_password =
        app.send(Method::POST, "/api/v1/auth/login", None, Some(&login_body("owner@same.example", "not-the-password"))).await;
    let unknown = app.send(Method::POST, "/api/v1/auth/login", None, Some(&login_body("nobody@same.example", "not-the-password"))).await;
    let not_an_email = app.send(Method::POST, "/api/v1/auth/login", None, Some(&login_body("nobody", "not-the-password"))).await;

    assert_problem(&wrong_password, 401, "unauthorized", "wrong password");
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.text, wrong_password.text, "the bodies must not tell whether the account exists");
    assert_eq!(not_an_email.text, wrong_password.text);
    assert_eq!(unknown.headers.get("content-type"), wrong_password.headers.get("content-type"));
}

// ---------------------------------------------------------------------------------------------
// Memberships and access ending at once

/// A channel manager of the fixture workspace who is also a sales user of R1a.
async fn dual_member(app: &TestApp, f: &Fixture) -> (fixture::Identity, String) {
    let person =
        fixture::add_staff(app, &f.workspace_id, "dual", "dual@vendor.example", VendorRole::ChannelManager, PartnerScopeSetting::All).await;
    let invitation = partner_users::invite(
        &app.state.ctx,
        &Scope::system(f.workspace_id.clone(), &TEST_FIXTURES),
        &f.r1a,
        &person.email,
        None,
        PartnerRole::Sales,
    )
    .await
    .expect("also a partner user");
    trellis_server::demo::accept_as_operator(&app.state.ctx, &invitation.token, None, PASSWORD).await.expect("accepted");
    let token = app.login(&person.email, PASSWORD).await;
    (person, token)
}

async fn me(app: &TestApp, credential: &str, membership: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = membership.map(|m| vec![("trellis-membership", m)]).unwrap_or_default();
    app.send_with(Method::GET, "/api/v1/me", Some(credential), None, &headers).await
}

#[tokio::test]
async fn a_person_with_two_memberships_must_name_the_one_they_act_as() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let (person, token) = dual_member(&app, &f).await;
    let staff = f.workspace_id.to_string();
    let partner = format!("{}/{}", f.workspace_id, f.r1a);

    let login = app.send(Method::POST, "/api/v1/auth/login", None, Some(&login_body(&person.email, PASSWORD))).await;
    let unnamed = me(&app, &token, None).await;
    let as_staff = me(&app, &token, Some(&staff)).await;
    let as_partner = me(&app, &token, Some(&partner)).await;
    let not_theirs = me(&app, &token, Some(&format!("{}/{}", f.workspace_id, f.d1))).await;
    let partners_as_partner =
        app.send_with(Method::GET, "/api/v1/partners", Some(&token), None, &[("trellis-membership", partner.as_str())]).await;

    let kinds: Vec<&str> = login.body["memberships"].as_array().expect("memberships").iter().filter_map(|m| m["kind"].as_str()).collect();
    assert_eq!(kinds, ["staff", "partner"], "{}", login.text);
    assert_problem(&unnamed, 422, "membership_required", "two memberships, no header");
    assert_eq!(as_staff.status, 200, "{}", as_staff.text);
    assert_eq!((as_staff.body["kind"].as_str(), as_staff.body["role"].as_str()), (Some("staff"), Some("channel_manager")));
    assert_eq!(as_partner.status, 200, "{}", as_partner.text);
    assert_eq!((as_partner.body["kind"].as_str(), as_partner.body["role"].as_str()), (Some("partner"), Some("sales")));
    assert_eq!(as_partner.body["partner_id"], f.r1a.as_str());
    assert_eq!(not_theirs.status, 401, "a membership the person does not have: {}", not_theirs.text);
    let ids: Vec<&str> = partners_as_partner.body["data"].as_array().expect("data").iter().filter_map(|p| p["id"].as_str()).collect();
    assert_eq!(ids, [f.r1a.as_str()], "acting for R1a the person sees R1a only");
}

#[tokio::test]
async fn removing_a_staff_member_ends_their_tokens_and_keys_at_once() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let leaver =
        fixture::add_staff(&app, &f.workspace_id, "leaver", "leaver@vendor.example", VendorRole::Admin, PartnerScopeSetting::All).await;
    let created = app.post("/api/v1/api-keys", &leaver.token, json!({"name": "leaver's script"})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let key = created.body["key"].as_str().expect("key").to_owned();
    assert_eq!(me(&app, &leaver.token, None).await.status, 200);
    assert_eq!(me(&app, &key, None).await.status, 200);

    let removed = app.delete(&format!("/api/v1/members/{}", leaver.user_id), &f.owner.token).await;

    assert_eq!(removed.status, 204, "{}", removed.text);
    assert_problem(&me(&app, &leaver.token, None).await, 401, "unauthorized", "the removed member's token");
    assert_problem(&me(&app, &key, None).await, 401, "unauthorized", "the removed member's key");
    let write_with_key = app.post("/api/v1/partners", &key, new_partner("Too late")).await;
    assert_problem(&write_with_key, 401, "unauthorized", "writing with the removed member's key");
    let listed = app.get("/api/v1/api-keys?limit=500", &f.owner.token).await;
    let row = listed.body["data"].as_array().expect("data").iter().find(|k| k["id"] == created.body["id"]).cloned().expect("key listed");
    assert!(row["revoked_at"].is_string(), "the key is marked revoked: {row}");
}

#[tokio::test]
async fn suspending_a_partner_ends_its_users_access_and_revokes_its_keys_at_once() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let (_, dual_token) = dual_member(&app, &f).await;
    let as_r1a = format!("{}/{}", f.workspace_id, f.r1a);
    for credential in [&f.r1a_admin.token, &f.r1a_member.token, &f.r1a_key] {
        assert_eq!(me(&app, credential, None).await.status, 200);
    }
    assert_eq!(me(&app, &dual_token, Some(&as_r1a)).await.status, 200);

    let suspended = app.patch(&format!("/api/v1/partners/{}", f.r1a), &f.owner.token, json!({"status": "suspended"})).await;

    assert_eq!(suspended.status, 200, "{}", suspended.text);
    assert_eq!(suspended.body["status"], "suspended");
    for (who, credential) in [("R1a admin", &f.r1a_admin.token), ("R1a member", &f.r1a_member.token), ("R1a key", &f.r1a_key)] {
        assert_problem(&me(&app, credential, None).await, 401, "unauthorized", who);
    }
    assert_problem(&me(&app, &dual_token, Some(&as_r1a)).await, 401, "unauthorized", "the dual person acting for R1a");
    let dual_now = me(&app, &dual_token, None).await;
    assert_eq!(dual_now.status, 200, "the remaining staff membership needs no header: {}", dual_now.text);
    assert_eq!(dual_now.body["kind"], "staff");
    let relogin = app.send(Method::POST, "/api/v1/auth/login", None, Some(&login_body(&f.r1a_admin.email, PASSWORD))).await;
    assert_eq!(relogin.status, 200, "{}", relogin.text);
    assert_eq!(relogin.body["memberships"], json!([]), "a suspended partner's membership is not offered");
    // The distributor above and a sibling keep their access.
    assert_eq!(me(&app, &f.d1_admin.token, None).await.status, 200);
    assert_eq!(me(&app, &f.r1b_admin.token, None).await.status, 200);
}

// ---------------------------------------------------------------------------------------------
// Key scopes and revocation

#[tokio::test]
async fn a_read_only_key_may_read_but_not_write() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let workspace_key = app.post("/api/v1/api-keys", &f.owner.token, json!({"name": "reporting", "scopes": ["read"]})).await;
    let partner_key =
        app.post(&format!("/api/v1/partners/{}/api-keys", f.r1a), &f.owner.token, json!({"name": "r1a read", "scopes": ["read"]})).await;
    assert_eq!(workspace_key.status, 201, "{}", workspace_key.text);
    assert_eq!(workspace_key.body["scopes"], json!(["read"]));
    assert_eq!(partner_key.status, 201, "{}", partner_key.text);
    let (workspace_key, partner_key) = (workspace_key.body["key"].as_str().expect("key"), partner_key.body["key"].as_str().expect("key"));
    let before = (partner_count(&app, &f).await, audit_count(&app).await);

    let read = app.get("/api/v1/partners", workspace_key).await;
    let partner_read = app.get(&format!("/api/v1/partners/{}", f.r1a), partner_key).await;
    let create = app.post("/api/v1/partners", workspace_key, new_partner("Read-only Ltd")).await;
    let update = app.patch(&format!("/api/v1/partners/{}", f.p3), workspace_key, json!({"name": "Changed"})).await;
    let new_key = app.post("/api/v1/api-keys", workspace_key, json!({"name": "escalate"})).await;
    let invite =
        app.post(&format!("/api/v1/partners/{}/users", f.r1a), partner_key, json!({"email": "x@r1a.example", "role": "member"})).await;

    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(partner_read.status, 200, "{}", partner_read.text);
    for (what, reply) in [("create partner", &create), ("update partner", &update), ("create key", &new_key), ("invite user", &invite)] {
        assert_problem(reply, 403, "forbidden", what);
    }
    assert_eq!((partner_count(&app, &f).await, audit_count(&app).await), before, "nothing changed");
}

/// The read-only rule holds below the API too: a read-only key's scope gets no write
/// transaction, whatever service function it reaches (the extractor only answers first).
#[tokio::test]
async fn a_read_only_keys_scope_cannot_open_a_write_transaction_in_any_service() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let workspace_key = app.post("/api/v1/api-keys", &f.owner.token, json!({"name": "reporting", "scopes": ["read"]})).await;
    let partner_key =
        app.post(&format!("/api/v1/partners/{}/api-keys", f.r1a), &f.owner.token, json!({"name": "r1a read", "scopes": ["read"]})).await;
    let scope_of = |reply: Reply| {
        let ctx = app.state.ctx.clone();
        async move {
            let key = reply.body["key"].as_str().expect("key").to_owned();
            auth::authenticate_bearer(&ctx, &key, None, &RequestMeta::default()).await.expect("read-only key authenticates")
        }
    };
    let (staff, partner) = (scope_of(workspace_key).await, scope_of(partner_key).await);
    assert!(staff.is_read_only() && partner.is_read_only());
    let before = (partner_count(&app, &f).await, audit_count(&app).await);

    let input = trellis_directory::NewPartner {
        name: "Read-only Ltd".into(),
        contact_email: "contact@new.example".into(),
        types: vec![trellis_core::PartnerType::Reseller],
        ..Default::default()
    };
    let create = trellis_directory::partners::create(&app.state.ctx, &staff, input).await;
    let invite = partner_users::invite(&app.state.ctx, &partner, &f.r1a, "x@r1a.example", None, PartnerRole::Member).await;
    let write = partner.write(&app.state.ctx).await.map(|_| ());
    // Staff memberships and workspace settings open through their grants: still refused.
    let ctx = &app.state.ctx;
    let add_staff = trellis_identity::members::add(ctx, &staff, "new@vendor.example", None, VendorRole::Viewer, None).await.map(|_| ());
    let viewer = f.viewer.user_id.parse().expect("viewer id");
    let change_staff = trellis_identity::members::update(ctx, &staff, &viewer, Some(VendorRole::Finance), None).await.map(|_| ());
    let remove_staff = trellis_identity::members::remove(ctx, &staff, &viewer).await;
    let patch = trellis_identity::workspaces::WorkspacePatch { name: Some("Renamed".into()), ..Default::default() };
    let settings = trellis_identity::workspaces::update(ctx, &staff, patch).await.map(|_| ());

    for (what, outcome) in [
        ("create partner", create.map(|_| ())),
        ("invite user", invite.map(|_| ())),
        ("open a write", write),
        ("add staff", add_staff),
        ("change a member's role", change_staff),
        ("remove a member", remove_staff),
        ("change workspace settings", settings),
    ] {
        match outcome {
            Err(trellis_core::Error::Forbidden(message)) => assert_eq!(message, "this API key is read-only", "{what}"),
            other => panic!("{what}: a read-only scope wrote or failed otherwise: {other:?}"),
        }
    }
    assert!(partner.read(&app.state.ctx).await.is_ok(), "a read-only scope still reads");
    assert_eq!((partner_count(&app, &f).await, audit_count(&app).await), before, "nothing changed");
}

#[tokio::test]
async fn a_revoked_key_gets_401_from_the_next_request_on() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let created = app.post(&format!("/api/v1/partners/{}/api-keys", f.d1), &f.d1_admin.token, json!({"name": "d1 sync"})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let key = created.body["key"].as_str().expect("key").to_owned();
    assert_eq!(app.get("/api/v1/partners", &key).await.status, 200);

    let revoked = app.delete(&format!("/api/v1/api-keys/{}", created.body["id"].as_str().expect("id")), &f.d1_admin.token).await;

    assert_eq!(revoked.status, 204, "{}", revoked.text);
    assert_problem(&app.get("/api/v1/partners", &key).await, 401, "unauthorized", "the revoked key");
    assert_problem(&app.get("/api/v1/me", &f.revoked_key).await, 401, "unauthorized", "the fixture's revoked key");
    assert_problem(&app.get("/api/v1/me", "trl_not-a-key-at-all").await, 401, "unauthorized", "an unknown key");
}

// ---------------------------------------------------------------------------------------------
// Pagination

/// Follows `next_cursor` from the first page; returns the pages' ids.
async fn all_pages(app: &TestApp, credential: &str, limit: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/partners?limit={limit}&cursor={c}"),
            None => format!("/api/v1/partners?limit={limit}"),
        };
        let reply = app.get(&path, credential).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let ids: Vec<String> =
            reply.body["data"].as_array().expect("data").iter().filter_map(|p| p["id"].as_str().map(str::to_owned)).collect();
        assert!(ids.len() <= limit, "a page of {} with limit {limit}", ids.len());
        pages.push(ids);
        cursor = reply.body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            return pages;
        }
        assert!(pages.len() < 100, "pagination does not end");
    }
}

#[tokio::test]
async fn pages_of_partners_are_disjoint_newest_first_and_cover_every_visible_partner() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    for i in 0..11 {
        assert_eq!(app.post("/api/v1/partners", &f.owner.token, new_partner(&format!("Paged {i}"))).await.status, 201);
    }
    let mut everyone: Vec<String> = app
        .query(sql!("SELECT id FROM partners WHERE workspace_id = $1", f.workspace_id))
        .await
        .iter()
        .map(|r| r.get::<String>("id").expect("id"))
        .collect();
    everyone.sort_by(|a, b| b.cmp(a));

    let owner_pages = all_pages(&app, &f.owner.token, 4).await;
    let distributor_pages = all_pages(&app, &f.d1_admin.token, 1).await;

    assert_eq!(everyone.len(), 17);
    assert_eq!(owner_pages.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 4, 4, 1]);
    let flattened: Vec<String> = owner_pages.concat();
    assert_eq!(flattened, everyone, "pages are disjoint, newest first, and cover every partner");
    let mut subtree = vec![f.d1.to_string(), f.r1a.to_string(), f.r1b.to_string()];
    subtree.sort_by(|a, b| b.cmp(a));
    assert_eq!(distributor_pages.concat(), subtree);
    assert_eq!(distributor_pages.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// Bad input

#[tokio::test]
async fn unknown_enum_values_malformed_json_and_wrong_content_types_are_problems_that_change_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let token = f.owner.token.as_str();
    let before = (
        partner_count(&app, &f).await,
        audit_count(&app).await,
        app.query_i64(sql!("SELECT COUNT(*) AS n FROM members")).await,
        app.get(&format!("/api/v1/partners/{}", f.r1a), token).await.body,
    );
    let r1a = format!("/api/v1/partners/{}", f.r1a);

    let cases: Vec<(&str, Reply, u16, &str, Option<&str>)> = vec![
        (
            "unknown partner type",
            app.post("/api/v1/partners", token, json!({"name": "X", "contact_email": "x@x.example", "types": ["wholesaler"]})).await,
            422,
            "validation_failed",
            Some("types[0]"),
        ),
        ("unknown status", app.patch(&r1a, token, json!({"status": "paused"})).await, 422, "validation_failed", Some("status")),
        (
            "unknown staff role",
            app.post("/api/v1/members", token, json!({"email": "new@vendor.example", "role": "root"})).await,
            422,
            "validation_failed",
            Some("role"),
        ),
        (
            "owner is not a role to add",
            app.post("/api/v1/members", token, json!({"email": "new@vendor.example", "role": "owner"})).await,
            422,
            "validation_failed",
            Some("role"),
        ),
        (
            "unknown partner scope",
            app.post("/api/v1/members", token, json!({"email": "new@vendor.example", "role": "viewer", "partner_scope": "some"})).await,
            422,
            "validation_failed",
            Some("partner_scope"),
        ),
        ("unknown status filter", app.get("/api/v1/partners?status=bogus", token).await, 422, "validation_failed", Some("status")),
        ("non-numeric limit", app.get("/api/v1/partners?limit=many", token).await, 422, "validation_failed", Some("limit")),
        ("unknown query parameter", app.get("/api/v1/partners?colour=red", token).await, 422, "validation_failed", Some("colour")),
        (
            "unknown field",
            app.post(
                "/api/v1/partners",
                token,
                json!({"name": "X", "contact_email": "x@x.example", "types": ["reseller"], "is_vip": true}),
            )
            .await,
            422,
            "validation_failed",
            None,
        ),
        (
            "truncated JSON",
            app.send_raw(Method::POST, "/api/v1/partners", Some(token), Some("application/json"), r#"{"name": "X", "types": ["#).await,
            400,
            "malformed_request",
            None,
        ),
        (
            "text/plain body",
            app.send_raw(Method::POST, "/api/v1/partners", Some(token), Some("text/plain"), &new_partner("Plain").to_string()).await,
            400,
            "malformed_request",
            None,
        ),
        (
            "no content type",
            app.send_raw(Method::PATCH, &r1a, Some(token), None, r#"{"name": "No type"}"#).await,
            400,
            "malformed_request",
            None,
        ),
        (
            "XML settings",
            app.send_raw(Method::PATCH, "/api/v1/workspace", Some(token), Some("application/xml"), "<name>X</name>").await,
            400,
            "malformed_request",
            None,
        ),
    ];

    for (what, reply, status, code, field) in &cases {
        assert_problem(reply, *status, code, what);
        if let Some(field) = field {
            assert_eq!(reply.body["errors"][0]["field"], *field, "{what}: {}", reply.text);
        }
    }
    let after = (
        partner_count(&app, &f).await,
        audit_count(&app).await,
        app.query_i64(sql!("SELECT COUNT(*) AS n FROM members")).await,
        app.get(&format!("/api/v1/partners/{}", f.r1a), token).await.body,
    );
    assert_eq!(after, before, "bad input changed something");
}

// ---------------------------------------------------------------------------------------------
// Reaching objects through another object's path, filters and self-escalation

#[tokio::test]
async fn a_partner_admin_cannot_reach_another_partners_user_through_their_own_partner_path() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let own = f.r1a;
    let before = app.query_i64(sql!("SELECT COUNT(*) AS n FROM partner_users WHERE user_id = $1", f.r1b_admin.user_id)).await;

    let change =
        app.patch(&format!("/api/v1/partners/{own}/users/{}", f.r1b_admin.user_id), &f.r1a_admin.token, json!({"role": "member"})).await;
    let remove = app.delete(&format!("/api/v1/partners/{own}/users/{}", f.d1_admin.user_id), &f.r1a_admin.token).await;

    assert_problem(&change, 404, "not_found", "R1b's admin through R1a's path");
    assert_problem(&remove, 404, "not_found", "D1's admin through R1a's path");
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM partner_users WHERE user_id = $1", f.r1b_admin.user_id)).await, before);
    assert_eq!(me(&app, &f.d1_admin.token, None).await.status, 200);
    let r1b_users = app.get(&format!("/api/v1/partners/{}/users", f.r1b), &f.owner.token).await;
    assert!(r1b_users.body["data"].as_array().expect("data").iter().any(|u| u["role"] == "admin"), "{}", r1b_users.text);
}

#[tokio::test]
async fn a_list_filtered_by_a_partner_the_caller_cannot_see_is_an_empty_list() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let ids = |reply: &Reply| -> Vec<String> {
        let mut ids: Vec<String> =
            reply.body["data"].as_array().expect("data").iter().filter_map(|p| p["id"].as_str().map(str::to_owned)).collect();
        ids.sort();
        ids
    };

    let foreign_parent = app.get(&format!("/api/v1/partners?parent_id={}", f.d2), &f.d1_admin.token).await;
    let ancestor_parent = app.get(&format!("/api/v1/partners?parent_id={}", f.d1), &f.r1a_admin.token).await;
    let garbage = app.get("/api/v1/partners?parent_id=not-an-id", &f.owner.token).await;
    let own_children = app.get(&format!("/api/v1/partners?parent_id={}", f.d1), &f.d1_admin.token).await;
    let managed = app.get(&format!("/api/v1/partners?manager_user_id={}", f.assigned_manager.user_id), &f.r1a_admin.token).await;

    for (what, reply) in [
        ("foreign parent", &foreign_parent),
        ("ancestor as parent", &ancestor_parent),
        ("malformed id", &garbage),
        ("manager filter", &managed),
    ] {
        assert_eq!(reply.status, 200, "{what}: {}", reply.text);
        assert_eq!(ids(reply), Vec::<String>::new(), "{what}: {}", reply.text);
    }
    let mut children = vec![f.r1a.to_string(), f.r1b.to_string()];
    children.sort();
    assert_eq!(ids(&own_children), children);
}

#[tokio::test]
async fn staff_cannot_raise_their_own_role_and_only_an_owner_grants_ownership() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let before = app.get("/api/v1/members", &f.owner.token).await.body;

    let viewer_to_admin = app.patch(&format!("/api/v1/members/{}", f.viewer.user_id), &f.viewer.token, json!({"role": "admin"})).await;
    let manager_widens_scope = app
        .patch(&format!("/api/v1/members/{}", f.assigned_manager.user_id), &f.assigned_manager.token, json!({"partner_scope": "all"}))
        .await;
    let admin_to_owner = app.patch(&format!("/api/v1/members/{}", f.admin.user_id), &f.admin.token, json!({"role": "owner"})).await;
    let admin_demotes_owner = app.patch(&format!("/api/v1/members/{}", f.owner.user_id), &f.admin.token, json!({"role": "viewer"})).await;
    let admin_removes_owner = app.delete(&format!("/api/v1/members/{}", f.owner.user_id), &f.admin.token).await;
    let last_owner_steps_down = app.patch(&format!("/api/v1/members/{}", f.owner.user_id), &f.owner.token, json!({"role": "admin"})).await;

    for (what, reply) in [
        ("viewer makes themselves admin", &viewer_to_admin),
        ("assigned manager widens their own scope", &manager_widens_scope),
        ("admin makes themselves owner", &admin_to_owner),
        ("admin demotes the owner", &admin_demotes_owner),
        ("admin removes the owner", &admin_removes_owner),
    ] {
        assert_problem(reply, 403, "forbidden", what);
    }
    assert_problem(&last_owner_steps_down, 409, "conflict", "the last owner steps down");
    assert_eq!(app.get("/api/v1/members", &f.owner.token).await.body, before, "no role changed");
}

#[tokio::test]
async fn every_response_in_the_openapi_document_has_a_description() {
    let app = TestApp::spawn().await;
    let document = app.send(Method::GET, "/api/openapi.json", None, None).await.body;
    let mut missing = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                if response.get("$ref").is_none() && response["description"].as_str().is_none_or(str::is_empty) {
                    missing.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "responses without a description (OpenAPI requires one): {missing:?}");
}

/// Issue 8: a generated client builds its URLs from the document, so every `{name}` of a path is
/// a declared path parameter of each of its operations, and every declared path parameter is in
/// its path (query parameters once came out as path parameters on paths without them); no
/// parameter is declared twice.
#[tokio::test]
async fn every_path_parameter_is_in_its_path_and_every_placeholder_is_declared() {
    let app = TestApp::spawn().await;
    let document = app.send(Method::GET, "/api/openapi.json", None, None).await.body;
    let mut wrong = Vec::new();
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        let placeholders: Vec<&str> =
            path.split('/').filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        for (method, operation) in item.as_object().expect("path item") {
            operations += 1;
            let parameters: Vec<&Value> = operation["parameters"].as_array().into_iter().flatten().collect();
            let declared: Vec<&str> = parameters.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect();
            for name in &declared {
                if !placeholders.contains(name) {
                    wrong.push(format!("{method} {path}: path parameter {name} is not in the path"));
                }
            }
            for name in &placeholders {
                if !declared.contains(name) {
                    wrong.push(format!("{method} {path}: {{{name}}} is not declared"));
                }
            }
            let mut keys: Vec<(String, String)> = parameters.iter().map(|p| (p["in"].to_string(), p["name"].to_string())).collect();
            keys.sort();
            if keys.windows(2).any(|pair| pair[0] == pair[1]) {
                wrong.push(format!("{method} {path}: a parameter is declared twice"));
            }
            for p in parameters.iter().filter(|p| p["in"] == "path") {
                if p["required"] != true {
                    wrong.push(format!("{method} {path}: path parameter {} is not required", p["name"]));
                }
            }
        }
    }
    assert!(operations > 50, "the document has its operations ({operations})");
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Issue 8: every problem the API answers is `application/problem+json`, so that is the content
/// type the document declares for every response whose body is a `Problem` (schemathesis checks
/// the answers against it in CI).
#[tokio::test]
async fn every_problem_response_is_declared_as_problem_json() {
    let app = TestApp::spawn().await;
    let document = app.send(Method::GET, "/api/openapi.json", None, None).await.body;
    let (mut problems, mut wrong) = (0, Vec::new());
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                for (content_type, content) in response["content"].as_object().into_iter().flatten() {
                    if content["schema"]["$ref"].as_str().is_some_and(|r| r.ends_with("/Problem")) {
                        problems += 1;
                        if content_type != "application/problem+json" {
                            wrong.push(format!("{method} {path} {status}: {content_type}"));
                        }
                    }
                }
            }
        }
    }
    assert!(problems > 100, "the document declares its problem answers ({problems})");
    assert!(wrong.is_empty(), "problems declared with another content type: {wrong:#?}");
}
