//! Deals over the API (API.md "Deals", docs/API.md "Deals"): registration and its eligibility,
//! the conflict check and the race rule as each side reads them, the direct pipeline, decisions,
//! the pipeline, credited partners, a program's conflict rules, the protection clock, and two
//! servers on one PostgreSQL database.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trellis_core::PartnerRole;
use trellis_db::sql;
use trellis_testkit::fixture::{self, DealPrograms, Fixture};
use trellis_testkit::{Reply, TestApp};

struct World {
    app: TestApp,
    f: Fixture,
    programs: DealPrograms,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let programs = fixture::deal_programs(&app, &f).await;
    World { app, f, programs }
}

fn registration(customer: &str, domain: Option<&str>, amount_minor: i64) -> Value {
    let mut body = json!({"customer_name": customer, "amount": {"amount_minor": amount_minor, "currency": "EUR"}});
    if let Some(domain) = domain {
        body["customer_domain"] = json!(domain);
    }
    body
}

impl World {
    async fn register(&self, token: &str, body: Value) -> Reply {
        self.app.post("/api/v1/deals", token, body).await
    }

    async fn registered(&self, token: &str, body: Value) -> Value {
        let reply = self.register(token, body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.body
    }

    async fn deal(&self, token: &str, id: &str) -> Reply {
        self.app.get(&format!("/api/v1/deals/{id}"), token).await
    }

    async fn act(&self, token: &str, id: &str, action: &str, body: Value) -> Reply {
        self.app.post(&format!("/api/v1/deals/{id}/{action}"), token, body).await
    }

    async fn deal_rows(&self) -> i64 {
        self.app.query_i64(sql!("SELECT COUNT(*) AS n FROM deals")).await
    }

    async fn listed(&self, token: &str, query: &str) -> Vec<String> {
        let reply = self.app.get(&format!("/api/v1/deals{query}"), token).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["data"].as_array().expect("data").iter().map(|d| d["id"].as_str().expect("id").to_owned()).collect()
    }
}

fn id(deal: &Value) -> String {
    deal["id"].as_str().expect("id").to_owned()
}

fn kinds(deal: &Value) -> Vec<String> {
    deal["conflicts"].as_array().expect("conflicts").iter().map(|c| c["kind"].as_str().expect("kind").to_owned()).collect()
}

#[tokio::test]
async fn deals_a_registration_is_submitted_and_a_race_sends_both_to_review_without_naming_the_other_side() {
    let w = world().await;

    let first = w.registered(&w.f.p3_admin.token, registration("Acme Robotics GmbH", Some("acme-robotics.example"), 7_654_321)).await;

    assert_eq!(first["status"], "submitted", "{first}");
    assert_eq!(first["source"], "partner");
    assert_eq!(first["partner_id"], w.f.p3.to_string());
    assert_eq!(first["partner_role"], "resell");
    assert_eq!(first["program_id"], w.programs.main.to_string());
    assert_eq!(first["amount"], json!({"amount_minor": 7_654_321, "currency": "EUR"}));
    assert_eq!(first["conflicts"], json!([]));
    w.app.clock.advance_seconds(5 * 60);

    let reply = w.register(&w.f.d2_admin.token, registration("ACME Robotics", Some("www.acme-robotics.example"), 1_000)).await;

    assert_eq!(reply.status, 201, "{}", reply.text);
    let second = &reply.body;
    assert_eq!(second["status"], "under_review", "{second}");
    assert_eq!(kinds(second), ["race"]);
    assert_eq!(second["conflicts"][0]["earlier"], true, "the other registration came first");
    assert!(second["conflicts"][0]["deal_id"].is_null(), "{second}");
    let first_id = id(&first);
    for secret in [first_id.as_str(), w.f.p3.as_str(), "P3", "7654321", "Acme Robotics GmbH"] {
        assert!(!reply.text.contains(secret), "the later registrant reads {secret:?}: {}", reply.text);
    }
    // The earlier side went to review too, and learns it came first.
    let earlier = w.deal(&w.f.p3_admin.token, &first_id).await;
    assert_eq!(earlier.status, 200, "{}", earlier.text);
    assert_eq!(earlier.body["status"], "under_review");
    assert_eq!(kinds(&earlier.body), ["race"]);
    assert_eq!(earlier.body["conflicts"][0]["earlier"], false);
    let second_id = id(second);
    for secret in [second_id.as_str(), w.f.d2.as_str(), "\"D2\""] {
        assert!(!earlier.text.contains(secret), "the earlier registrant reads {secret:?}: {}", earlier.text);
    }
    // Staff see which deal it is.
    let staff = w.deal(&w.f.channel_manager.token, &second_id).await;
    assert_eq!(staff.body["conflicts"][0]["deal_id"], first_id.as_str(), "{}", staff.text);
    assert_eq!(staff.body["partner_name"], "D2");
    // And the earlier registrant was told by email.
    let told = w.app.query_i64(sql!("SELECT COUNT(*) AS n FROM emails WHERE kind = 'deal_under_review'")).await;
    assert!(told >= 1, "the earlier side is emailed");
}

#[tokio::test]
async fn deals_a_later_registration_conflicts_by_domain_or_name_without_a_race() {
    let w = world().await;
    let first = w.registered(&w.f.p3_admin.token, registration("Initech", Some("initech.example"), 500)).await;
    let named = w.registered(&w.f.p3_admin.token, registration("Globomantics Holding", None, 500)).await;
    w.app.clock.advance_seconds(11 * 60);

    let by_domain = w.registered(&w.f.d2_admin.token, registration("Initech Software", Some("https://initech.example/about"), 900)).await;
    let by_name = w.registered(&w.f.d2_admin.token, registration("Globomantics Holding", None, 900)).await;

    assert_eq!(by_domain["status"], "under_review", "{by_domain}");
    assert_eq!(kinds(&by_domain), ["same_domain"]);
    assert_eq!(by_domain["conflicts"][0]["earlier"], true);
    assert!(by_domain["conflicts"][0]["reason"].as_str().is_some_and(|r| r.contains("initech.example")), "{by_domain}");
    assert_eq!(by_name["status"], "under_review", "{by_name}");
    assert_eq!(kinds(&by_name), ["same_name"]);
    // No race: the earlier registrations stay as they were.
    for earlier in [&first, &named] {
        let reply = w.deal(&w.f.p3_admin.token, &id(earlier)).await;
        assert_eq!(reply.body["status"], "submitted", "{}", reply.text);
        assert_eq!(reply.body["conflicts"], json!([]));
    }
}

#[tokio::test]
async fn deals_a_direct_opportunity_sends_a_partner_registration_to_review() {
    let w = world().await;
    let direct = w
        .registered(
            &w.f.channel_manager.token,
            json!({"customer_name": "Hooli", "customer_domain": "hooli.example", "amount": {"amount_minor": 10_000}, "source": "direct", "external_id": "crm-1"}),
        )
        .await;
    assert_eq!(direct["source"], "direct", "{direct}");
    assert_eq!(direct["status"], "approved");
    assert!(direct["partner_id"].is_null());
    assert_eq!(direct["amount"]["currency"], "EUR", "the workspace's currency");
    w.app.clock.advance_seconds(3600);

    let reply = w.register(&w.f.p3_admin.token, registration("Hooli Inc", Some("hooli.example"), 5)).await;

    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["status"], "under_review");
    assert_eq!(kinds(&reply.body), ["direct_pipeline"]);
    assert!(!reply.text.contains(&id(&direct)) && !reply.text.contains("crm-1"), "{}", reply.text);
    // Partners never see the direct pipeline.
    assert_eq!(w.deal(&w.f.p3_admin.token, &id(&direct)).await.status, 404);
    assert!(!w.listed(&w.f.p3_admin.token, "").await.contains(&id(&direct)));
    // An external id is unique.
    let again = w
        .register(
            &w.f.owner.token,
            json!({"customer_name": "Other", "amount": {"amount_minor": 1}, "source": "direct", "external_id": "crm-1"}),
        )
        .await;
    assert_eq!(again.status, 422, "{}", again.text);
}

#[tokio::test]
async fn deals_ineligible_partners_and_roles_are_refused_and_nothing_is_stored() {
    let w = world().await;
    let body = registration("Stark Industries", Some("stark.example"), 100);
    let before = w.deal_rows().await;

    // Not enrolled in the program named.
    let other_program = trellis_programs::programs::create(
        &w.app.state.ctx,
        &trellis_identity::Scope::system(w.f.workspace_id.clone(), &trellis_testkit::TEST_FIXTURES),
        trellis_programs::NewProgram { name: "Elsewhere".into(), slug: "elsewhere".into(), ..Default::default() },
    )
    .await
    .expect("program");
    let mut named = body.clone();
    named["program_id"] = json!(other_program.id.to_string());
    let reply = w.register(&w.f.p3_admin.token, named).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.body["errors"][0]["field"], "program_id", "{}", reply.text);

    // Enrolled in no program that takes registrations: a fresh partner with a key of its own.
    let fresh = w
        .app
        .post("/api/v1/partners", &w.f.owner.token, json!({"name": "Fresh", "contact_email": "c@fresh.example", "types": ["reseller"]}))
        .await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);
    let key = w.app.post(&format!("/api/v1/partners/{}/api-keys", id(&fresh.body)), &w.f.owner.token, json!({"name": "k"})).await;
    let key = key.body["key"].as_str().expect("key").to_owned();
    let reply = w.register(&key, body.clone()).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert!(reply.body["detail"].as_str().is_some_and(|d| d.contains("not enrolled")), "{}", reply.text);

    // A lapsed licence.
    let licence = w
        .app
        .post(
            &format!("/api/v1/partners/{}/licences", w.f.d2),
            &w.f.owner.token,
            json!({"kind": "broker", "number": "B-1", "jurisdiction": "DE", "valid_from": "2020-01-01", "valid_until": "2021-01-01"}),
        )
        .await;
    assert_eq!(licence.status, 201, "{}", licence.text);
    let reply = w.register(&w.f.d2_admin.token, body.clone()).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert!(reply.body["detail"].as_str().is_some_and(|d| d.contains("renewed")), "{}", reply.text);

    // Suspended (its admin's own credential ends; staff registering on its behalf are refused too).
    let suspended = w.app.patch(&format!("/api/v1/partners/{}", w.f.p3), &w.f.owner.token, json!({"status": "suspended"})).await;
    assert_eq!(suspended.status, 200, "{}", suspended.text);
    let mut on_behalf = body.clone();
    on_behalf["partner_id"] = json!(w.f.p3.to_string());
    let reply = w.register(&w.f.channel_manager.token, on_behalf).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert!(reply.body["detail"].as_str().is_some_and(|d| d.contains("suspended")), "{}", reply.text);
    // On behalf of a partner that does not exist: the field is wrong.
    let mut nobody = body.clone();
    nobody["partner_id"] = json!(trellis_core::PartnerId::generate().to_string());
    let reply = w.register(&w.f.channel_manager.token, nobody).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.body["errors"][0]["field"], "partner_id", "{}", reply.text);

    // Roles that do not register deals.
    let marketing =
        fixture::add_partner_user(&w.app, &w.f.workspace_id, "marketing", &w.f.r1a, "marketing@r1a.example", PartnerRole::Marketing).await;
    for token in [&marketing.token, &w.f.r1a_member.token] {
        let reply = w.register(token, body.clone()).await;
        assert_eq!(reply.status, 403, "{}", reply.text);
    }
    let reply = w.register(&w.f.finance.token, json!({"customer_name": "X", "amount": {"amount_minor": 1}, "source": "direct"})).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    // Invalid input: every field at once.
    let reply = w
        .register(
            &w.f.r1a_admin.token,
            json!({"customer_name": " ", "customer_email": "nope", "amount": {"amount_minor": -1, "currency": "XXX"}}),
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    let fields: Vec<&str> = reply.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    for field in ["customer_name", "customer_email", "amount", "amount.currency"] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }

    assert_eq!(w.deal_rows().await, before, "nothing was stored");
}

#[tokio::test]
async fn deals_decisions_follow_the_transition_table() {
    let w = world().await;
    let deal = w.registered(&w.f.p3_admin.token, registration("Wayne Enterprises", Some("wayne.example"), 100)).await;
    let deal_id = id(&deal);

    let reply = w.act(&w.f.p3_admin.token, &deal_id, "approve", json!({})).await;
    assert_eq!(reply.status, 403, "a partner cannot approve: {}", reply.text);
    let reply = w.act(&w.f.finance.token, &deal_id, "approve", json!({})).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    let reply = w.act(&w.f.owner.token, &deal_id, "reject", json!({"reason": "  "})).await;
    assert_eq!(reply.status, 422, "a rejection needs a reason: {}", reply.text);
    let reply = w.act(&w.f.p3_admin.token, &deal_id, "won", json!({})).await;
    assert_eq!(reply.status, 409, "not approved yet: {}", reply.text);

    let now = w.app.state.ctx.now();
    let reply = w.act(&w.f.channel_manager.token, &deal_id, "approve", json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["status"], "approved");
    let until = trellis_core::Timestamp::parse(reply.body["protected_until"].as_str().expect("protected_until")).expect("time");
    let rules = w.app.get(&format!("/api/v1/programs/{}/conflict-rules", w.programs.main), &w.f.p3_admin.token).await;
    let days = rules.body["protection_days"].as_i64().expect("protection_days");
    assert!((until.micros() - now.plus_seconds(days * 86_400).micros()).abs() < 5_000_000, "protected for {days} days");
    let reply = w.act(&w.f.channel_manager.token, &deal_id, "approve", json!({})).await;
    assert_eq!(reply.status, 409, "already approved: {}", reply.text);

    let reply = w.act(&w.f.p3_admin.token, &deal_id, "won", json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["status"], "won");
    assert!(reply.body["closed_at"].is_string());
    let reply = w.act(&w.f.p3_admin.token, &deal_id, "lost", json!({})).await;
    assert_eq!(reply.status, 409, "won is final: {}", reply.text);

    // Information asked for, given, then approved with chosen days and lost.
    let other = id(&w.registered(&w.f.p3_admin.token, registration("Cyberdyne", Some("cyberdyne.example"), 100)).await);
    let reply = w.act(&w.f.owner.token, &other, "request-info", json!({"reason": "Who is the buyer?"})).await;
    assert_eq!((reply.status, reply.body["status"].clone()), (200, json!("needs_info")), "{}", reply.text);
    assert_eq!(reply.body["decision_note"], "Who is the buyer?");
    let reply = w.act(&w.f.p3_admin.token, &other, "resubmit", json!({})).await;
    assert_eq!((reply.status, reply.body["status"].clone()), (200, json!("under_review")), "{}", reply.text);
    let reply = w.app.send(reqwest::Method::POST, &format!("/api/v1/deals/{other}/approve"), Some(&w.f.owner.token), None).await;
    assert_eq!(reply.status, 200, "approve without a body: {}", reply.text);
    let reply = w.act(&w.f.p3_admin.token, &other, "lost", json!({"reason": "Budget cut"})).await;
    assert_eq!((reply.status, reply.body["status"].clone()), (200, json!("lost")), "{}", reply.text);
    assert_eq!(reply.body["decision_note"], "Budget cut");

    // A rejection with its reason.
    let third = id(&w.registered(&w.f.p3_admin.token, registration("Tyrell", Some("tyrell.example"), 100)).await);
    let reply = w.act(&w.f.owner.token, &third, "reject", json!({"reason": "Existing customer"})).await;
    assert_eq!((reply.status, reply.body["status"].clone()), (200, json!("rejected")), "{}", reply.text);
    let reply = w.act(&w.f.owner.token, &third, "approve", json!({"protected_days": 10})).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert_eq!(reply.body["code"], "conflict");
}

#[tokio::test]
async fn deals_the_pipeline_is_worked_by_the_registrant_and_its_distributor_and_hidden_from_siblings() {
    let w = world().await;
    let deal = w.registered(&w.f.r1a_admin.token, registration("Soylent", Some("soylent.example"), 100)).await;
    let deal_id = id(&deal);
    let d1_sales = fixture::add_partner_user(&w.app, &w.f.workspace_id, "d1_sales", &w.f.d1, "sales@d1.example", PartnerRole::Sales).await;

    let reply = w
        .app
        .patch(&format!("/api/v1/deals/{deal_id}"), &w.f.r1a_admin.token, json!({"stage": "proposal", "amount": {"amount_minor": 250_000}}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!((reply.body["stage"].clone(), reply.body["amount"]["amount_minor"].clone()), (json!("proposal"), json!(250_000)));
    let reply = w
        .app
        .patch(&format!("/api/v1/deals/{deal_id}"), &d1_sales.token, json!({"stage": "negotiation", "expected_close_date": "2031-03-31"}))
        .await;
    assert_eq!(reply.status, 200, "the distributor's sales people work their resellers' deals: {}", reply.text);
    assert_eq!(reply.body["expected_close_date"], "2031-03-31");
    let reply = w.app.patch(&format!("/api/v1/deals/{deal_id}"), &w.f.r1a_admin.token, json!({"expected_close_date": null})).await;
    assert!(reply.body["expected_close_date"].is_null(), "null clears: {}", reply.text);
    let reply = w
        .app
        .patch(&format!("/api/v1/deals/{deal_id}"), &w.f.r1a_admin.token, json!({"amount": {"amount_minor": 1, "currency": "USD"}}))
        .await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    let reply = w.app.patch(&format!("/api/v1/deals/{deal_id}"), &w.f.r1a_member.token, json!({"stage": "closing"})).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    for token in [&w.f.r1b_admin.token, &w.f.d2_admin.token, &w.f.p3_admin.token] {
        let reply = w.app.patch(&format!("/api/v1/deals/{deal_id}"), token, json!({"stage": "closing"})).await;
        assert_eq!(reply.status, 404, "{}", reply.text);
        assert_eq!(w.deal(token, &deal_id).await.status, 404);
        assert!(!w.listed(token, "").await.contains(&deal_id));
    }
    // The distributor lists its resellers' deals; filters narrow the list.
    assert!(w.listed(&w.f.d1_admin.token, "").await.contains(&deal_id));
    assert!(w.listed(&w.f.d1_member.token, &format!("?partner_id={}", w.f.r1a)).await.contains(&deal_id));
    assert!(w.listed(&w.f.d1_admin.token, "?status=submitted,under_review&stage=negotiation&source=partner").await.contains(&deal_id));
    assert!(w.listed(&w.f.d1_admin.token, "?status=approved").await.is_empty());
    assert!(w.listed(&w.f.owner.token, &format!("?program_id={}", w.programs.main)).await.contains(&deal_id));
    // The assigned manager sees D1's subtree only.
    assert!(w.listed(&w.f.assigned_manager.token, "").await.contains(&deal_id));
    let p3_deal = id(&w.registered(&w.f.p3_admin.token, registration("Umbrella", Some("umbrella.example"), 1)).await);
    assert!(!w.listed(&w.f.assigned_manager.token, "").await.contains(&p3_deal));
    assert_eq!(w.deal(&w.f.assigned_manager.token, &p3_deal).await.status, 404);
    assert!(w.listed(&w.f.owner.token, "?older_than_days=1").await.is_empty());
    // A distributor registering its reseller's customer reads which deal it conflicts with, in the
    // registration's answer as later.
    let own = w.register(&w.f.d1_admin.token, registration("Soylent Corp", Some("soylent.example"), 5)).await;
    assert_eq!(own.status, 201, "{}", own.text);
    assert_eq!(own.body["conflicts"][0]["deal_id"], deal_id.as_str(), "{}", own.text);
    assert_eq!(w.deal(&w.f.d1_admin.token, &id(&own.body)).await.body["conflicts"], own.body["conflicts"]);
    // Oldest first is the newest-first list reversed.
    let mut newest_first = w.listed(&w.f.owner.token, "").await;
    newest_first.reverse();
    assert_eq!(w.listed(&w.f.owner.token, "?order=oldest").await, newest_first);
    assert_eq!(w.app.get("/api/v1/deals?order=sideways", &w.f.owner.token).await.status, 422);
    w.app.clock.advance_seconds(2 * 86_400);
    // Sign-in tokens lapse as the clock moves; the bootstrap key does not.
    assert!(w.listed(&w.f.owner_key, "?older_than_days=1").await.contains(&deal_id));
    assert_eq!(w.app.get("/api/v1/deals?status=open", &w.f.owner_key).await.status, 422);
    assert_eq!(w.app.get("/api/v1/deals?created_before=yesterday", &w.f.owner_key).await.status, 422);
    assert!(w.listed(&w.f.owner_key, "?created_before=2000-01-01").await.is_empty());
    // Paging.
    let page = w.app.get("/api/v1/deals?limit=1", &w.f.owner_key).await;
    let cursor = page.body["next_cursor"].as_str().expect("a next page").to_owned();
    let next = w.listed(&w.f.owner_key, &format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(next.len(), 1);
    assert_ne!(next[0], page.body["data"][0]["id"].as_str().unwrap_or_default());
}

#[tokio::test]
async fn deals_conflict_rules_are_read_by_partners_changed_by_admins_and_applied() {
    let w = world().await;
    let path = format!("/api/v1/programs/{}/conflict-rules", w.programs.main);
    let rules = w.app.get(&path, &w.f.r1a_member.token).await;
    assert_eq!(rules.status, 200, "{}", rules.text);
    assert_eq!(rules.body["program_id"], w.programs.main.to_string());
    assert_eq!(rules.body["race_window_minutes"], 10);
    assert_eq!(rules.body["auto_approve"], false);
    let kinds: Vec<&str> = rules.body["rules"].as_array().expect("rules").iter().filter_map(|r| r["kind"].as_str()).collect();
    assert_eq!(kinds, ["first_registration", "race", "direct_pipeline", "matching", "auto_approval", "expiry"]);
    assert_eq!(w.app.get(&format!("/api/v1/programs/{}/conflict-rules", w.programs.other), &w.f.p3_admin.token).await.status, 404);

    for token in [&w.f.p3_admin.token, &w.f.channel_manager.token, &w.f.finance.token] {
        assert_eq!(w.app.patch(&path, token, json!({"auto_approve": true})).await.status, 403);
    }
    let reply = w.app.patch(&path, &w.f.admin.token, json!({"similarity_threshold": 0.3})).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    let reply =
        w.app.patch(&path, &w.f.admin.token, json!({"auto_approve": true, "similarity_threshold": 0.95, "protection_days": 30})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!((reply.body["auto_approve"].clone(), reply.body["similarity_threshold"].clone()), (json!(true), json!(0.95)));
    assert_eq!(reply.body["protection_days"], 30);
    assert!(reply.text.contains("95% alike"), "the words follow the threshold: {}", reply.text);
    assert_eq!(w.app.get(&path, &w.f.p3_admin.token).await.body["similarity_threshold"], 0.95);

    let now = w.app.state.ctx.now();
    let clean = w.registered(&w.f.p3_admin.token, registration("Massive Dynamic", Some("massive.example"), 100)).await;
    assert_eq!(clean["status"], "approved", "a clean registration is approved at once: {clean}");
    let until = trellis_core::Timestamp::parse(clean["protected_until"].as_str().expect("protected_until")).expect("time");
    assert!((until.micros() - now.plus_seconds(30 * 86_400).micros()).abs() < 5_000_000);
    w.app.clock.advance_seconds(3600);
    let conflicting = w.registered(&w.f.d2_admin.token, registration("Massive Dynamic", Some("massive.example"), 100)).await;
    assert_eq!(conflicting["status"], "under_review", "{conflicting}");
    assert!(conflicting["protected_until"].is_null());
    assert!(conflicting["conflicts"][0]["reason"].as_str().is_some_and(|r| r.contains("protected until")), "{conflicting}");
}

#[tokio::test]
async fn deals_a_second_partner_is_credited_and_reads_the_deal() {
    let w = world().await;
    let deal_id = id(&w.registered(&w.f.r1a_admin.token, registration("Vandelay Industries", Some("vandelay.example"), 100)).await);
    let path = format!("/api/v1/deals/{deal_id}/partners");
    assert_eq!(w.deal(&w.f.p3_admin.token, &deal_id).await.status, 404);

    let reply =
        w.app.post(&path, &w.f.r1a_admin.token, json!({"partner_id": w.f.p3.to_string(), "role": "influence", "credit_bps": 3000})).await;
    assert_eq!(reply.status, 403, "staff attach partners: {}", reply.text);
    let reply =
        w.app.post(&path, &w.f.owner.token, json!({"partner_id": w.f.p3.to_string(), "role": "influence", "credit_bps": 3000})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["partner_credit_bps"], 7000);
    assert_eq!(
        reply.body["partners"],
        json!([{"partner_id": w.f.p3.to_string(), "partner_name": "P3", "role": "influence", "credit_bps": 3000}])
    );

    let reply =
        w.app.post(&path, &w.f.owner.token, json!({"partner_id": w.f.d2.to_string(), "role": "referral", "credit_bps": 7001})).await;
    assert_eq!(reply.status, 422, "the credits would exceed 10000: {}", reply.text);
    let reply = w.app.post(&path, &w.f.owner.token, json!({"partner_id": w.f.d2.to_string(), "role": "resell", "credit_bps": 10})).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    let reply =
        w.app.post(&path, &w.f.owner.token, json!({"partner_id": w.f.d2.to_string(), "role": "referral", "credit_bps": 7000})).await;
    assert_eq!(reply.status, 200, "the credits may sum to 10000: {}", reply.text);
    assert_eq!(reply.body["partner_credit_bps"], 0);

    let credited = w.deal(&w.f.p3_admin.token, &deal_id).await;
    assert_eq!(credited.status, 200, "a credited partner reads the deal: {}", credited.text);
    assert!(w.listed(&w.f.p3_admin.token, "").await.contains(&deal_id));
    let reply = w.app.patch(&format!("/api/v1/deals/{deal_id}"), &w.f.p3_admin.token, json!({"stage": "closing"})).await;
    assert_eq!(reply.status, 403, "a credited partner does not work the deal: {}", reply.text);
}

#[tokio::test]
async fn deals_protection_ends_with_reminders_and_expiry() {
    let w = world().await;
    // Sign-in tokens lapse as the clock moves; keys do not.
    let key = |partner: trellis_core::PartnerId| {
        let w = &w;
        async move {
            let reply = w.app.post(&format!("/api/v1/partners/{partner}/api-keys"), &w.f.owner_key, json!({"name": "deals"})).await;
            reply.body["key"].as_str().expect("key").to_owned()
        }
    };
    let (p3, d2) = (key(w.f.p3.clone()).await, key(w.f.d2.clone()).await);
    let deal_id = id(&w.registered(&p3, registration("Oscorp", Some("oscorp.example"), 100)).await);
    let reply = w.act(&w.f.owner_key, &deal_id, "approve", json!({"protected_days": 20})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    w.app.clock.advance_seconds(17 * 86_400 + 1);
    w.app.run_jobs().await;
    let emails = |kind: &'static str| w.app.query_i64(sql!("SELECT COUNT(*) AS n FROM emails WHERE kind = $1", kind));
    assert!(emails("deal_protection_ending").await >= 2, "reminded 14 and 3 days before");
    assert_eq!(w.deal(&p3, &deal_id).await.body["status"], "approved");

    w.app.clock.advance_seconds(3 * 86_400);
    w.app.run_jobs().await;

    let deal = w.deal(&p3, &deal_id).await;
    assert_eq!(deal.body["status"], "expired", "{}", deal.text);
    assert!(emails("deal_expired").await >= 1);
    // An expired deal may still be marked won or lost; the customer is free again.
    let other = w.registered(&d2, registration("Oscorp", Some("oscorp.example"), 100)).await;
    assert_eq!(other["status"], "submitted", "{other}");
    let reply = w.act(&p3, &deal_id, "won", json!({})).await;
    assert_eq!(reply.body["status"], "won", "{}", reply.text);
}

#[test]
fn deals_docs_api_md_prints_the_deal_status_transition_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md");
    let docs = std::fs::read_to_string(path).expect("docs/API.md");
    let table = trellis_deals::statuses::markdown_table();

    assert!(docs.contains(&table), "docs/API.md must contain the table of trellis_deals::statuses:\n{table}");
}

/// Two servers on one PostgreSQL database: a registration on one is checked against the other's,
/// and each server's conflict index follows the other's writes within a second.
#[tokio::test]
async fn deals_two_servers_on_one_postgres_database_see_each_others_registrations() {
    let w = world().await;
    if !w.app.is_postgres() {
        return;
    }
    let sibling = w.app.spawn_sibling().await;

    let first = w.registered(&w.f.p3_admin.token, registration("Aperture Science", Some("aperture.example"), 100)).await;
    let reply =
        sibling.post("/api/v1/deals", &w.f.d2_admin.token, registration("Aperture Science Inc", Some("aperture.example"), 100)).await;

    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["status"], "under_review", "{}", reply.text);
    assert_eq!(kinds(&reply.body), ["race"]);
    assert!(!reply.text.contains(&id(&first)));

    // The sibling's index follows a registration it did not take: it holds every open deal of the
    // workspace within a second of its commit on the other server.
    let index = trellis_deals::conflicts::ConflictIndex::of(&sibling.state.ctx).expect("index");
    let open = || w.app.query_i64(sql!("SELECT COUNT(*) AS n FROM deals WHERE status NOT IN ('won', 'lost', 'rejected', 'expired')"));
    let workspace = &w.f.workspace_id;
    let settled = |wanted: i64| async move {
        let started = Instant::now();
        while index.len(workspace).await as i64 != wanted {
            assert!(started.elapsed() < Duration::from_secs(2), "the sibling's index did not follow within 2 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        started.elapsed()
    };
    settled(open().await).await;
    w.registered(&w.f.p3_admin.token, registration("Black Mesa", Some("blackmesa.example"), 100)).await;
    let started = Instant::now();
    let wanted = open().await;
    assert_eq!(wanted as usize, index.len(&w.f.workspace_id).await + 1, "one more open deal than the sibling has seen");
    settled(wanted).await;
    let elapsed = started.elapsed();
    println!("FIGURE deals_index_follow_ms={}", elapsed.as_millis());
}
