//! Programs, enrollments and tiers: requirement rules checked against the metric registry, tier
//! evaluation that promotes and demotes with an explanation (history, audit, email), manual
//! overrides that stick until removed, the tier history behind the partner wall, recorded
//! metrics, the registry as the extension point, the scheduled entry point, and the pages.

use reqwest::Method;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};
use trellis_core::{Clock, PartnerId, TierId, Validation};
use trellis_db::sql;
use trellis_directory::metric_registry::{Metric, MetricFuture, MetricType, MetricValue, Registry, Source, Subject, Unit};
use trellis_identity::{Scope, ScopedTx};
use trellis_programs::evaluation;
use trellis_programs::tiers::{self, Benefits, Tier};
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{Reply, TEST_FIXTURES, TestApp};

/// A program of the fixture workspace with tiers Registered (no requirements), Silver (two
/// people with a login) and Gold (three people and a verified customer reference).
struct Ladder {
    program: String,
    registered: String,
    silver: String,
    gold: String,
}

fn created(reply: &Reply, what: &str) -> String {
    assert_eq!(reply.status, 201, "{what}: {}", reply.text);
    reply.body["id"].as_str().expect("id").to_owned()
}

async fn program(app: &TestApp, f: &Fixture, slug: &str) -> String {
    created(&app.post("/api/v1/programs", &f.owner.token, json!({"name": format!("Program {slug}"), "slug": slug})).await, "program")
}

async fn tier(app: &TestApp, f: &Fixture, program: &str, name: &str, rank: i64, rules: Value) -> String {
    let body = json!({"name": name, "rank": rank, "requirements": {"all": rules}, "benefits": {"text": format!("{name} benefits")}});
    created(&app.post(&format!("/api/v1/programs/{program}/tiers"), &f.owner.token, body).await, name)
}

async fn ladder(app: &TestApp, f: &Fixture) -> Ladder {
    let program = program(app, f, "resellers").await;
    let registered = tier(app, f, &program, "Registered", 0, json!([])).await;
    let silver = tier(app, f, &program, "Silver", 10, json!([{"metric": "active_users", "op": ">=", "value": 2}])).await;
    let gold = tier(
        app,
        f,
        &program,
        "Gold",
        20,
        json!([{"metric": "active_users", "op": ">=", "value": 3}, {"metric": "customer_references", "op": ">=", "value": 1}]),
    )
    .await;
    Ladder { program, registered, silver, gold }
}

async fn enroll(app: &TestApp, f: &Fixture, partner: &PartnerId, program: &str) -> Reply {
    app.post(&format!("/api/v1/partners/{partner}/enrollments"), &f.owner.token, json!({"program_id": program})).await
}

async fn enrollment(app: &TestApp, f: &Fixture, partner: &PartnerId, program: &str) -> Value {
    let reply = app.get(&format!("/api/v1/partners/{partner}/enrollments/{program}"), &f.owner.token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

async fn add_user(app: &TestApp, f: &Fixture, partner: &PartnerId, email: &str) -> String {
    let reply = app.post(&format!("/api/v1/partners/{partner}/users"), &f.owner.token, json!({"email": email, "role": "member"})).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let link = reply.body["invitation_url"].as_str().expect("invitation url");
    let token = link.rsplit('/').next().expect("token");
    let accepted = app.send(Method::POST, &format!("/api/v1/invitations/{token}/accept"), None, Some(&json!({"password": PASSWORD}))).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    accepted.body["user_id"].as_str().expect("user id").to_owned()
}

fn requirement<'a>(check: &'a Value, metric: &str) -> &'a Value {
    check["requirements"]
        .as_array()
        .and_then(|r| r.iter().find(|c| c["metric"] == metric))
        .unwrap_or_else(|| panic!("no {metric} in {check}"))
}

async fn count(app: &TestApp, statement: trellis_db::Sql) -> i64 {
    app.query_i64(statement).await
}

// ---------------------------------------------------------------------------------------------
// Rules

#[tokio::test]
async fn tier_rules_over_unknown_metrics_or_with_wrong_operators_and_values_are_refused_with_every_field_named() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = program(&app, &f, "rules").await;
    let body = json!({
        "name": "Broken",
        "rank": 5000,
        "requirements": {"all": [
            {"metric": "won_deal_revenue", "op": ">=", "value": 1},
            {"metric": "compliant", "op": ">", "value": true},
            {"metric": "active_users", "op": ">=", "value": "three"},
            {"metric": "active_users", "op": "about", "value": 3}
        ]},
        "benefits": {"text": "x", "commission_override_bps": 12000, "mdf_allowance": {"amount_minor": 100, "currency": "EURO"}, "content_access": ["Not A Tag"], "yacht": true}
    });

    let reply = app.post(&format!("/api/v1/programs/{program}/tiers"), &f.owner.token, body).await;

    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.body["code"], "validation_failed");
    let mut fields: Vec<&str> = reply.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "benefits.commission_override_bps",
            "benefits.content_access",
            "benefits.mdf_allowance.currency",
            "benefits.yacht",
            "rank",
            "requirements.all[0].metric",
            "requirements.all[1].op",
            "requirements.all[2].value",
            "requirements.all[3].op",
        ]
    );
    let unknown =
        reply.body["errors"].as_array().expect("errors").iter().find(|e| e["field"] == "requirements.all[0].metric").expect("metric error");
    assert!(unknown["message"].as_str().is_some_and(|m| m.contains("active_users")), "the message names the known metrics: {unknown}");
    assert_eq!(count(&app, sql!("SELECT COUNT(*) AS n FROM tiers")).await, 0, "nothing was created");
}

#[tokio::test]
async fn tiers_of_a_program_are_listed_by_rank_changed_and_refuse_a_taken_rank() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let ladder = ladder(&app, &f).await;

    let listed = app.get(&format!("/api/v1/programs/{}/tiers", ladder.program), &f.r1a_admin.token).await;
    let clash = app.patch(&format!("/api/v1/programs/{}/tiers/{}", ladder.program, ladder.gold), &f.owner.token, json!({"rank": 10})).await;
    let renamed = app
        .patch(
            &format!("/api/v1/programs/{}/tiers/{}", ladder.program, ladder.gold),
            &f.channel_manager.token,
            json!({"name": "Platinum", "benefits": {"text": "Everything", "commission_override_bps": 2500, "mdf_allowance": {"amount_minor": 500000, "currency": "EUR"}, "content_access": ["platinum-kit"]}}),
        )
        .await;

    assert_eq!(listed.status, 200, "partners read a program's tiers: {}", listed.text);
    let names: Vec<&str> = listed.body["data"].as_array().expect("data").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["Registered", "Silver", "Gold"]);
    assert_eq!(clash.status, 422, "{}", clash.text);
    assert_eq!(clash.body["errors"][0]["field"], "rank");
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.body["name"], "Platinum");
    assert_eq!(renamed.body["benefits"]["mdf_allowance"], json!({"amount_minor": 500000, "currency": "EUR"}));
    assert_eq!(renamed.body["requirements"]["all"].as_array().map(Vec::len), Some(2), "requirements untouched");
}

// ---------------------------------------------------------------------------------------------
// Evaluation

#[tokio::test]
async fn evaluation_promotes_and_demotes_with_an_explanation_an_audit_event_and_an_email() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let ladder = ladder(&app, &f).await;
    assert_eq!(enroll(&app, &f, &f.p3, &ladder.program).await.status, 201);
    assert_eq!(enrollment(&app, &f, &f.p3, &ladder.program).await["tier_name"], "Registered", "enrolled at the lowest tier");
    let colleague = add_user(&app, &f, &f.p3, "second@p3.example").await;

    let promoted = app.post(&format!("/api/v1/programs/{}/evaluate-tiers", ladder.program), &f.owner.token, json!({})).await;

    assert_eq!(promoted.status, 200, "{}", promoted.text);
    assert_eq!((promoted.body["evaluated"].as_u64(), promoted.body["promoted"].as_u64()), (Some(1), Some(1)), "{}", promoted.text);
    let change = &promoted.body["changes"][0];
    assert_eq!(
        (change["kind"].as_str(), change["from_tier_name"].as_str(), change["to_tier_name"].as_str()),
        (Some("promotion"), Some("Registered"), Some("Silver"))
    );
    let reached = &change["why"]["reached"];
    assert_eq!(reached["name"], "Silver");
    assert_eq!(requirement(reached, "active_users")["observed"], 2);
    assert_eq!(requirement(reached, "active_users")["passed"], true);
    let next = &change["why"]["next"];
    assert_eq!(next["name"], "Gold");
    assert_eq!(requirement(next, "active_users")["passed"], false);
    assert_eq!(requirement(next, "customer_references")["observed"], Value::Null, "nobody recorded references yet");
    assert_eq!(enrollment(&app, &f, &f.p3, &ladder.program).await["tier_id"], ladder.silver.as_str());
    let promotion_audits = count(
        &app,
        sql!("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'partner.tier_promoted' AND target_id = $1", f.p3.to_string()),
    )
    .await;
    assert_eq!(promotion_audits, 1);
    let emails = app.query(sql!("SELECT to_address, subject, text_body FROM emails WHERE kind = 'tier_changed'")).await;
    assert_eq!(emails.len(), 1, "one email to P3's one admin");
    assert_eq!(emails[0].get::<String>("to_address").expect("to"), f.p3_admin.email);
    let text: String = emails[0].get("text_body").expect("text");
    assert!(text.contains("from Registered to Silver") && text.contains("active_users at least 2: 2 (met)"), "{text}");
    assert!(text.contains("To reach Gold"), "the email says what the next tier needs: {text}");

    let removed = app.delete(&format!("/api/v1/partners/{}/users/{colleague}", f.p3), &f.owner.token).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let demoted = app.post(&format!("/api/v1/partners/{}/evaluate-tiers", f.p3), &f.owner.token, json!({})).await;

    assert_eq!(demoted.status, 200, "{}", demoted.text);
    assert_eq!(demoted.body["demoted"], 1, "{}", demoted.text);
    let change = &demoted.body["changes"][0];
    assert_eq!((change["kind"].as_str(), change["to_tier_name"].as_str()), (Some("demotion"), Some("Registered")));
    assert_eq!(change["why"]["next"]["name"], "Silver", "the demotion says which requirement of the lost tier failed");
    assert_eq!(requirement(&change["why"]["next"], "active_users")["observed"], 1);
    let history = app.get(&format!("/api/v1/partners/{}/tier-history?program_id={}", f.p3, ladder.program), &f.p3_admin.token).await;
    let kinds: Vec<&str> = history.body["data"].as_array().expect("data").iter().filter_map(|c| c["kind"].as_str()).collect();
    assert_eq!(kinds, ["demotion", "promotion", "enrolled"], "newest first: {}", history.text);
    assert_eq!(count(&app, sql!("SELECT COUNT(*) AS n FROM emails WHERE kind = 'tier_changed'")).await, 2);
}

#[tokio::test]
async fn a_manual_override_sticks_through_evaluations_until_it_is_removed() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let ladder = ladder(&app, &f).await;
    assert_eq!(enroll(&app, &f, &f.p3, &ladder.program).await.status, 201);
    let path = format!("/api/v1/partners/{}/enrollments/{}/tier", f.p3, ladder.program);

    let without_reason =
        app.send(reqwest::Method::PUT, &path, Some(&f.owner.token), Some(&json!({"tier_id": ladder.gold, "reason": " "}))).await;
    let set = app
        .send(
            reqwest::Method::PUT,
            &path,
            Some(&f.owner.token),
            Some(&json!({"tier_id": ladder.gold, "reason": "Strategic launch partner for 2027"})),
        )
        .await;
    let evaluated = app.post(&format!("/api/v1/programs/{}/evaluate-tiers", ladder.program), &f.owner.token, json!({})).await;

    assert_eq!(without_reason.status, 422, "{}", without_reason.text);
    assert_eq!(without_reason.body["errors"][0]["field"], "reason");
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!((set.body["tier_name"].as_str(), set.body["tier_overridden"].as_bool()), (Some("Gold"), Some(true)));
    assert_eq!(set.body["override_reason"], "Strategic launch partner for 2027");
    assert_eq!((evaluated.body["overridden"].as_u64(), evaluated.body["demoted"].as_u64()), (Some(1), Some(0)), "{}", evaluated.text);
    assert_eq!(enrollment(&app, &f, &f.p3, &ladder.program).await["tier_id"], ladder.gold.as_str(), "the override sticks");
    let overrides = count(&app, sql!("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'partner.tier_overridden'")).await;
    assert_eq!(overrides, 1);

    let removed = app.delete(&path, &f.owner.token).await;

    assert_eq!(removed.status, 200, "{}", removed.text);
    assert_eq!(
        (removed.body["tier_id"].as_str(), removed.body["tier_overridden"].as_bool()),
        (Some(ladder.registered.as_str()), Some(false))
    );
    let history = app.get(&format!("/api/v1/partners/{}/tier-history", f.p3), &f.owner.token).await;
    let rows = history.body["data"].as_array().expect("data");
    let kinds: Vec<&str> = rows.iter().filter_map(|c| c["kind"].as_str()).collect();
    assert_eq!(kinds, ["demotion", "override_removed", "override", "enrolled"], "{}", history.text);
    assert_eq!(rows[2]["reason"], "Strategic launch partner for 2027");
    assert_eq!(rows[2]["actor_type"], "user");
    let again = app.delete(&path, &f.owner.token).await;
    assert_eq!(again.status, 200, "removing no override changes nothing: {}", again.text);
    assert_eq!(count(&app, sql!("SELECT COUNT(*) AS n FROM tier_changes")).await, 4);
}

#[tokio::test]
async fn a_partner_sees_its_own_tier_history_its_distributor_sees_it_too_and_another_partner_gets_404() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let ladder = ladder(&app, &f).await;
    for partner in [&f.r1a, &f.p3] {
        assert_eq!(enroll(&app, &f, partner, &ladder.program).await.status, 201);
    }
    let evaluated = app.post(&format!("/api/v1/programs/{}/evaluate-tiers", ladder.program), &f.owner.token, json!({})).await;
    assert_eq!(evaluated.body["promoted"], 1, "R1a has two users: {}", evaluated.text);

    let own = app.get(&format!("/api/v1/partners/{}/tier-history", f.r1a), &f.r1a_admin.token).await;
    let distributor = app.get(&format!("/api/v1/partners/{}/tier-history", f.r1a), &f.d1_admin.token).await;
    let other = app.get(&format!("/api/v1/partners/{}/tier-history", f.p3), &f.r1a_admin.token).await;
    let sibling = app.get(&format!("/api/v1/partners/{}/enrollments", f.r1a), &f.r1b_admin.token).await;
    let unknown_program = app.get(&format!("/api/v1/partners/{}/tier-history?program_id=nonsense", f.r1a), &f.r1a_admin.token).await;
    let override_by_partner = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/partners/{}/enrollments/{}/tier", f.r1a, ladder.program),
            Some(&f.r1a_admin.token),
            Some(&json!({"tier_id": ladder.gold, "reason": "we think so"})),
        )
        .await;

    assert_eq!(own.status, 200, "{}", own.text);
    let kinds: Vec<&str> = own.body["data"].as_array().expect("data").iter().filter_map(|c| c["kind"].as_str()).collect();
    assert_eq!(kinds, ["promotion", "enrolled"]);
    assert!(own.body["data"][0]["why"]["reached"]["requirements"].is_array(), "the partner sees the why: {}", own.text);
    assert_eq!(distributor.status, 200, "{}", distributor.text);
    assert_eq!(other.status, 404, "{}", other.text);
    assert_eq!(other.body["code"], "not_found");
    assert_eq!(sibling.status, 404, "{}", sibling.text);
    assert_eq!(unknown_program.status, 200);
    assert_eq!(unknown_program.body["data"], json!([]), "a filter naming no program matches nothing");
    assert_eq!(override_by_partner.status, 403, "{}", override_by_partner.text);
}

// ---------------------------------------------------------------------------------------------
// Metrics

#[tokio::test]
async fn recorded_metrics_are_checked_against_their_type_and_count_in_the_next_evaluation() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let ladder = ladder(&app, &f).await;
    assert_eq!(enroll(&app, &f, &f.r1a, &ladder.program).await.status, 201);
    add_user(&app, &f, &f.r1a, "third@r1a.example").await;
    let path = |metric: &str| format!("/api/v1/partners/{}/metrics/{metric}", f.r1a);
    let put = |metric: &str, body: Value| {
        let path = path(metric);
        let app = &app;
        let token = f.channel_manager.token.clone();
        async move { app.send(reqwest::Method::PUT, &path, Some(&token), Some(&body)).await }
    };

    let wrong_type = put("customer_references", json!({"value": true})).await;
    let computed = put("active_users", json!({"value": 10})).await;
    let unknown = put("won_deal_revenue", json!({"value": 10})).await;
    let by_partner =
        app.send(reqwest::Method::PUT, &path("customer_references"), Some(&f.r1a_admin.token), Some(&json!({"value": 9}))).await;
    let recorded = put("customer_references", json!({"value": 2, "note": "ACME and Initech, checked by Carla"})).await;
    let listed = app.get(&format!("/api/v1/partners/{}/metrics", f.r1a), &f.r1a_member.token).await;
    let evaluated = app.post(&format!("/api/v1/partners/{}/evaluate-tiers", f.r1a), &f.owner.token, json!({})).await;

    assert_eq!(wrong_type.status, 422, "{}", wrong_type.text);
    assert_eq!(wrong_type.body["errors"][0]["field"], "value");
    assert_eq!(computed.status, 422, "{}", computed.text);
    assert_eq!(computed.body["errors"][0]["field"], "metric");
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    assert_eq!(by_partner.status, 403, "{}", by_partner.text);
    assert_eq!(recorded.status, 200, "{}", recorded.text);
    assert_eq!(listed.status, 200, "{}", listed.text);
    let rows = listed.body["data"].as_array().expect("data");
    let reading = |name: &str| rows.iter().find(|r| r["metric"] == name).unwrap_or_else(|| panic!("{name} in {}", listed.text)).clone();
    assert_eq!(reading("customer_references")["value"], 2);
    assert_eq!(reading("customer_references")["note"], "ACME and Initech, checked by Carla");
    assert_eq!(reading("active_users")["value"], 3);
    assert_eq!(reading("compliant")["value"], true);
    assert_eq!(reading("months_in_program")["program_id"], ladder.program.as_str());
    assert_eq!(reading("business_plan_approved")["value"], Value::Null, "never recorded");
    assert_eq!(evaluated.body["changes"][0]["to_tier_name"], "Gold", "{}", evaluated.text);
    let audits = count(&app, sql!("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'partner.metric_recorded'")).await;
    assert_eq!(audits, 1);
}

/// A stand-in for a metric a later capability adds ("won deals"): the partner's API keys.
fn keys_held<'a>(tx: &'a mut ScopedTx, subject: &'a Subject) -> MetricFuture<'a> {
    Box::pin(async move {
        let n = tx
            .fetch_i64(sql!(
                "SELECT COUNT(*) AS n FROM api_keys WHERE workspace_id = $1 AND partner_id = $2",
                subject.workspace_id,
                subject.partner_id
            ))
            .await?;
        Ok(Some(MetricValue::Integer(n)))
    })
}

#[tokio::test]
async fn a_metric_added_to_the_registry_is_usable_in_rules_and_evaluated_like_the_built_in_ones() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let standard = Registry::of(&app.state.ctx).expect("the binary's registry");
    let extended = standard.clone().with(Metric {
        name: "keys_held",
        label: "API keys",
        unit: Some(Unit { one: "API key", other: "API keys" }),
        kind: MetricType::Integer,
        description: "API keys of the partner",
        per_program: false,
        source: Source::Computed(keys_held),
    });
    let rules = json!({"all": [{"metric": "keys_held", "op": ">=", "value": 1}, {"metric": "compliant", "op": "=", "value": true}]});

    let mut standard_check = Validation::new();
    let refused = tiers::parse_requirements(standard, &rules, &mut standard_check);
    let mut extended_check = Validation::new();
    let requirements = tiers::parse_requirements(&extended, &rules, &mut extended_check).expect("the extended registry knows keys_held");
    let now = app.clock.now();
    let tier = Tier {
        id: TierId::generate(),
        program_id: trellis_core::ProgramId::generate(),
        name: "Integrators".into(),
        rank: 1,
        requirements,
        benefits: Benefits::default(),
        created_at: now,
        updated_at: now,
    };
    let mut tx = Scope::system(f.workspace_id.clone(), &TEST_FIXTURES).read(&app.state.ctx).await.expect("read");
    let subject =
        |partner: &PartnerId| Subject { workspace_id: f.workspace_id.clone(), partner_id: partner.clone(), enrollment: None, now };
    let with_key = evaluation::assess(&mut tx, &extended, &subject(&f.r1a), std::slice::from_ref(&tier)).await.expect("assess R1a");
    let without_key = evaluation::assess(&mut tx, &extended, &subject(&f.p3), std::slice::from_ref(&tier)).await.expect("assess P3");
    tx.commit().await.expect("end");

    assert!(refused.is_none(), "the standard registry does not know keys_held");
    assert_eq!(standard_check.finish().expect_err("refused")[0].field, "requirements.all[0].metric");
    assert!(extended_check.is_empty());
    assert_eq!(with_key.reached().map(|t| t.name.as_str()), Some("Integrators"));
    assert_eq!(with_key.tiers[0].requirements[0].observed, Some(MetricValue::Integer(1)), "R1a holds one partner key");
    assert!(without_key.reached().is_none());
    assert_eq!(without_key.explanation().next.expect("next").requirements[0].sentence(), "keys_held at least 1: 0 (not met)");
}

// ---------------------------------------------------------------------------------------------
// The scheduled run

#[tokio::test]
async fn the_scheduled_entry_point_promotes_on_time_in_program_as_the_system_and_changes_nothing_when_run_again() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = program(&app, &f, "veterans").await;
    tier(&app, &f, &program, "Newcomer", 0, json!([])).await;
    tier(&app, &f, &program, "Veteran", 10, json!([{"metric": "months_in_program", "op": ">=", "value": 2}])).await;
    let referral = program_with_one_tier(&app, &f).await;
    for partner in [&f.p3, &f.d2] {
        assert_eq!(enroll(&app, &f, partner, &program).await.status, 201);
    }
    assert_eq!(enroll(&app, &f, &f.p3, &referral).await.status, 201, "a hybrid partner is in two programs");
    let suspended = app.patch(&format!("/api/v1/partners/{}", f.d2), &f.owner.token, json!({"status": "suspended"})).await;
    assert_eq!(suspended.status, 200, "{}", suspended.text);

    let too_early = evaluation::evaluate_all(&app.state.ctx, &f.workspace_id).await.expect("first run");
    app.clock.advance_seconds(70 * 24 * 3600);
    let on_time = evaluation::evaluate_all(&app.state.ctx, &f.workspace_id).await.expect("second run");
    let again = evaluation::evaluate_all(&app.state.ctx, &f.workspace_id).await.expect("third run");

    assert_eq!((too_early.evaluated, too_early.promoted), (2, 0), "P3 in both programs; suspended D2 is left alone");
    assert_eq!(on_time.promoted, 1);
    assert_eq!(on_time.changes[0].partner_id, f.p3);
    assert_eq!(on_time.changes[0].to_tier_name.as_deref(), Some("Veteran"));
    assert_eq!(on_time.changes[0].actor_type, "system");
    let reached = on_time.changes[0].explanation.as_ref().and_then(|e| e.reached.clone()).expect("why");
    assert!(matches!(reached.requirements[0].observed, Some(MetricValue::Integer(months)) if months >= 2), "{reached:?}");
    assert_eq!(reached.requirements[0].sentence().split(':').next(), Some("months_in_program at least 2"));
    assert!(again.changes.is_empty(), "a second run changes nothing: {again:?}");
    assert_eq!(again.unchanged, 2);
    let system_audits =
        count(&app, sql!("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'partner.tier_promoted' AND actor_type = 'system'")).await;
    assert_eq!(system_audits, 1);
    let d2_tier = app
        .query(sql!("SELECT t.name FROM enrollments e JOIN tiers t ON t.id = e.tier_id WHERE e.partner_id = $1", f.d2.to_string()))
        .await;
    assert_eq!(d2_tier[0].get::<String>("name").expect("name"), "Newcomer");
}

async fn program_with_one_tier(app: &TestApp, f: &Fixture) -> String {
    let program = program(app, f, "referral-partners").await;
    tier(app, f, &program, "Referrer", 0, json!([])).await;
    program
}

// ---------------------------------------------------------------------------------------------
// Enrollments

#[tokio::test]
async fn creating_a_partner_with_a_program_enrolls_it_in_the_same_transaction() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let ladder = ladder(&app, &f).await;
    let partners_before = count(&app, sql!("SELECT COUNT(*) AS n FROM partners")).await;
    let base = json!({"name": "Enrolled GmbH", "contact_email": "hello@enrolled.example", "types": ["reseller"]});
    let with = |extra: Value| {
        let mut body = base.clone();
        body.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        body
    };

    let wrong_tier = app
        .post("/api/v1/partners", &f.owner.token, with(json!({"program_id": ladder.program, "tier_id": TierId::generate().to_string()})))
        .await;
    let partners_after_failure = count(&app, sql!("SELECT COUNT(*) AS n FROM partners")).await;
    let at_silver =
        app.post("/api/v1/partners", &f.owner.token, with(json!({"program_id": ladder.program, "tier_id": ladder.silver}))).await;
    let distributor_tier =
        app.post("/api/v1/partners", &f.d1_admin.token, with(json!({"program_id": ladder.program, "tier_id": ladder.gold}))).await;
    let distributor = app.post("/api/v1/partners", &f.d1_admin.token, with(json!({"program_id": ladder.program}))).await;

    assert_eq!(wrong_tier.status, 422, "{}", wrong_tier.text);
    assert_eq!(wrong_tier.body["errors"][0]["field"], "tier_id");
    assert_eq!(partners_after_failure, partners_before, "the partner was not created without its enrollment");
    let id: PartnerId = created(&at_silver, "partner at Silver").parse().expect("id");
    assert_eq!(enrollment(&app, &f, &id, &ladder.program).await["tier_name"], "Silver");
    assert_eq!(distributor_tier.status, 422, "the tier is the vendor's to choose: {}", distributor_tier.text);
    let reseller: PartnerId = created(&distributor, "reseller of D1").parse().expect("id");
    assert_eq!(enrollment(&app, &f, &reseller, &ladder.program).await["tier_name"], "Registered");
}

#[tokio::test]
async fn enrolling_twice_is_a_conflict_and_a_held_tier_cannot_be_deleted_until_nobody_holds_it() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let ladder = ladder(&app, &f).await;
    assert_eq!(enroll(&app, &f, &f.p3, &ladder.program).await.status, 201);
    let registered = format!("/api/v1/programs/{}/tiers/{}", ladder.program, ladder.registered);

    let twice = enroll(&app, &f, &f.p3, &ladder.program).await;
    let held = app.delete(&registered, &f.owner.token).await;
    let left = app.delete(&format!("/api/v1/partners/{}/enrollments/{}", f.p3, ladder.program), &f.owner.token).await;
    let free = app.delete(&registered, &f.owner.token).await;

    assert_eq!(twice.status, 409, "{}", twice.text);
    assert_eq!(held.status, 409, "{}", held.text);
    assert!(held.body["detail"].as_str().is_some_and(|d| d.contains("1 partner holds")), "{}", held.text);
    assert_eq!(left.status, 204, "{}", left.text);
    assert_eq!(free.status, 204, "{}", free.text);
    let history = app.get(&format!("/api/v1/partners/{}/tier-history", f.p3), &f.owner.token).await;
    let rows = history.body["data"].as_array().expect("data");
    assert_eq!(rows[0]["kind"], "unenrolled");
    assert_eq!(rows[0]["from_tier_name"], "Registered", "history keeps the deleted tier's name");
}

// ---------------------------------------------------------------------------------------------
// Pages

/// A browser session signed in through `/login` (cookies carried by hand).
struct Browser<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: String,
}

fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { char::from(b).to_string() } else { format!("%{b:02X}") })
            .collect()
    };
    fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

impl<'a> Browser<'a> {
    async fn sign_in(app: &'a TestApp, email: &str) -> Browser<'a> {
        let form = app.client.get(format!("{}/login", app.base_url)).send().await.expect("login page");
        let login_csrf = set_cookie(&form, "trellis_csrf").expect("csrf cookie");
        let body = form_body(&[("email", email), ("password", PASSWORD), ("csrf_token", &login_csrf)]);
        let signed = app
            .client
            .post(format!("{}/login", app.base_url))
            .header(COOKIE, format!("trellis_csrf={login_csrf}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("sign in");
        let cookie = format!("trellis_session={}", set_cookie(&signed, "trellis_session").expect("session"));
        let mut browser = Browser { app, cookie, csrf: String::new() };
        let (_, home) = browser.get("/").await;
        let marker = r#"name="csrf_token" value=""#;
        let start = home.find(marker).expect("csrf field") + marker.len();
        browser.csrf = home[start..].split('"').next().expect("token").to_owned();
        browser
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = self.app.client.get(format!("{}{path}", self.app.base_url)).header(COOKIE, &self.cookie).send().await.expect("page");
        (response.status().as_u16(), response.text().await.expect("body"))
    }

    async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut all = vec![("csrf_token", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let response = self
            .app
            .client
            .post(format!("{}{path}", self.app.base_url))
            .header(COOKIE, &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&all))
            .send()
            .await
            .expect("form");
        (response.status().as_u16(), response.text().await.expect("body"))
    }
}

#[tokio::test]
async fn the_program_editor_adds_tiers_with_rule_rows_and_shows_a_bad_rule_next_to_its_row() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let owner = Browser::sign_in(&app, &f.owner.email).await;

    let (created, _) = owner.submit("/console/programs", &[("name", "Resellers"), ("slug", "resellers"), ("currency", "EUR")]).await;
    let program = app.get("/api/v1/programs", &f.owner.token).await.body["data"][0]["id"].as_str().expect("program").to_owned();
    let editor = format!("/console/programs/{program}");
    let (bad_status, bad_page) = owner
        .submit(
            &format!("{editor}/tiers"),
            &[
                ("name", "Silver"),
                ("rank", "10"),
                ("rule0_metric", "compliant"),
                ("rule0_op", ">="),
                ("rule0_value", "yes"),
                ("rule1_metric", ""),
                ("rule1_op", ">="),
                ("rule1_value", ""),
            ],
        )
        .await;
    let (good_status, _) = owner
        .submit(
            &format!("{editor}/tiers"),
            &[
                ("name", "Silver"),
                ("rank", "10"),
                ("rule0_metric", "active_users"),
                ("rule0_op", ">="),
                ("rule0_value", "2"),
                ("benefit_text", "Deal registration priority"),
                ("mdf_amount", "2500.50"),
                ("mdf_currency", "EUR"),
                ("content_access", "silver-kit, playbooks"),
            ],
        )
        .await;
    let (question_status, _) = owner.submit(&format!("{editor}/questions"), &[("label", "Annual revenue (EUR)"), ("kind", "text")]).await;
    let (status, page) = owner.get(&editor).await;
    let viewer = Browser::sign_in(&app, &f.viewer.email).await;
    let (viewer_status, viewer_page) = viewer.get(&editor).await;
    let partner = Browser::sign_in(&app, &f.p3_admin.email).await;
    let (partner_status, _) = partner.get(&editor).await;

    assert_eq!(created, 303);
    assert_eq!(bad_status, 422, "{bad_page}");
    assert!(bad_page.contains(r#"id="tier-new-rule0-error""#) && bad_page.contains("use = or !="), "the error sits at its row");
    assert_eq!(good_status, 303);
    assert_eq!(question_status, 303);
    assert_eq!(status, 200);
    assert!(page.contains("active_users at least 2") && page.contains("Marketing funds up to €2,500.50"), "{page}");
    assert!(page.contains("Content: silver-kit, playbooks"));
    assert!(page.contains("Annual revenue (EUR)"));
    let tiers = app.get(&format!("/api/v1/programs/{program}/tiers"), &f.owner.token).await;
    assert_eq!(tiers.body["data"][0]["benefits"]["mdf_allowance"], json!({"amount_minor": 250050, "currency": "EUR"}));
    let questions = app.get(&format!("/api/v1/programs/{program}"), &f.owner.token).await;
    assert_eq!(questions.body["application_questions"][0]["id"], "annual_revenue_eur");
    assert_eq!(viewer_status, 200);
    assert!(!viewer_page.contains("Add a tier"), "viewers read the program without its forms");
    assert_eq!(partner_status, 404, "the console is not for partners");
}

#[tokio::test]
async fn the_tier_editor_takes_the_rate_as_a_percent_and_the_allowance_as_money_and_refuses_nonsense_without_a_change() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let owner = Browser::sign_in(&app, &f.owner.email).await;
    let (created, _) = owner.submit("/console/programs", &[("name", "Resellers"), ("slug", "resellers"), ("currency", "EUR")]).await;
    let program = app.get("/api/v1/programs", &f.owner.token).await.body["data"][0]["id"].as_str().expect("program").to_owned();
    let editor = format!("/console/programs/{program}");
    let tiers_path = format!("/api/v1/programs/{program}/tiers");

    let (added, added_page) = owner
        .submit(
            &format!("{editor}/tiers"),
            &[
                ("name", "Gold"),
                ("rank", "10"),
                ("commission_percent", "12.5%"),
                ("mdf_amount", "€5.000,00"),
                ("content_access", "sales-deck"),
                ("content_access", "battlecards"),
                ("content_access", ""),
            ],
        )
        .await;
    let stored = app.get(&tiers_path, &f.owner.token).await;
    let tier = stored.body["data"][0]["id"].as_str().expect("tier").to_owned();
    let (_, page) = owner.get(&editor).await;
    let edit = |percent: &'static str| {
        let path = format!("{editor}/tiers/{tier}");
        let owner = &owner;
        async move {
            owner.submit(&path, &[("name", "Gold"), ("rank", "20"), ("commission_percent", percent), ("mdf_amount", "5,000.00")]).await
        }
    };
    let (nonsense, nonsense_page) = edit("abc%").await;
    let (too_high, too_high_page) = edit("250").await;
    let after = app.get(&tiers_path, &f.owner.token).await;

    assert_eq!(created, 303);
    assert_eq!(added, 303, "{added_page}");
    let benefits = &stored.body["data"][0]["benefits"];
    assert_eq!(benefits["commission_override_bps"], 1250, "12.5% is stored as basis points");
    assert_eq!(benefits["mdf_allowance"], json!({"amount_minor": 500_000, "currency": "EUR"}), "in the program's currency");
    assert_eq!(benefits["content_access"], json!(["sales-deck", "battlecards"]), "one collection per box");
    let input = |name: &str| format!(r#"id="tier-{tier}-{name}" name="{name}" type="text" inputmode="decimal" value=""#);
    assert!(page.contains(&format!("{}12.5\"", input("commission_percent"))), "the rate reads back as typed: {page}");
    assert!(page.contains(&format!("{}5,000.00\"", input("mdf_amount"))), "the amount reads back as money: {page}");
    assert!(
        page.contains(r#"<span class="unit" aria-hidden="true">%</span>"#)
            && page.contains(r#"<span class="unit" aria-hidden="true">EUR</span>"#)
    );
    assert!(page.contains(r#"value="battlecards""#), "each collection has its box");
    assert_eq!(nonsense, 422, "{nonsense_page}");
    assert!(
        nonsense_page.contains(&format!(
            r#"<p class="field-error" id="tier-{tier}-commission_percent-error">must be a percent such as 12.5 or 12.5%</p>"#
        )),
        "{nonsense_page}"
    );
    assert!(nonsense_page.contains(&format!("{}abc%\"", input("commission_percent"))), "what was typed is kept");
    assert_eq!(too_high, 422);
    assert!(too_high_page.contains("must be between 0% and 100%"), "{too_high_page}");
    assert_eq!(after.body, stored.body, "a refused edit changes nothing, not even the rank");
}

#[tokio::test]
async fn the_partner_page_overrides_a_tier_with_a_reason_and_the_portal_home_shows_what_the_next_tier_needs() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let ladder = ladder(&app, &f).await;
    assert_eq!(enroll(&app, &f, &f.p3, &ladder.program).await.status, 201);
    let owner = Browser::sign_in(&app, &f.owner.email).await;
    let partner_page = format!("/console/partners/{}", f.p3);
    let override_path = format!("{partner_page}/enrollments/{}/tier", ladder.program);

    let (missing_reason, missing_page) = owner.submit(&override_path, &[("tier_id", &ladder.silver), ("reason", "")]).await;
    let (set, _) = owner.submit(&override_path, &[("tier_id", &ladder.silver), ("reason", "Pilot partner for the launch")]).await;
    let (recorded, _) =
        owner.submit(&format!("{partner_page}/metrics"), &[("metric", "customer_references"), ("value", "1"), ("note", "ACME")]).await;
    let (status, page) = owner.get(&partner_page).await;
    let portal = Browser::sign_in(&app, &f.p3_admin.email).await;
    let (home_status, home) = portal.get("/").await;

    assert_eq!(missing_reason, 422);
    assert!(missing_page.contains(&format!(r#"id="override-{}-reason-error""#, ladder.program)), "the error is next to the reason");
    assert_eq!((set, recorded), (303, 303));
    assert_eq!(status, 200);
    assert!(
        page.contains("Programs &amp; tiers") && page.contains("set by hand") && page.contains("Pilot partner for the launch"),
        "{page}"
    );
    assert!(page.contains("Set by hand from Registered to Silver"), "the history row: {page}");
    assert_eq!(home_status, 200);
    assert!(home.contains("Your programs and tiers") && home.contains("Silver"), "{home}");
    assert!(home.contains("To reach Gold") && home.contains("3 active users needed, you have 1 (2 more to go)"), "{home}");
    assert!(home.contains("1 verified customer reference needed, you have 1, met"), "{home}");
    assert!(!home.contains("active_users"), "metric names stay out of the partner's page: {home}");
}

#[tokio::test]
async fn the_portal_home_tells_a_partner_in_plain_words_that_it_qualifies_for_the_next_tier() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let ladder = ladder(&app, &f).await;
    assert_eq!(enroll(&app, &f, &f.p3, &ladder.program).await.status, 201);
    add_user(&app, &f, &f.p3, "second@p3.example").await;
    let portal = Browser::sign_in(&app, &f.p3_admin.email).await;

    let (status, home) = portal.get("/").await;

    assert_eq!(status, 200);
    assert!(home.contains("You qualify for Silver at the next evaluation."), "{home}");
    assert!(home.contains("2 active users needed, you have 2, met"), "{home}");
}

#[tokio::test]
async fn a_sales_reps_home_leads_with_the_tier_its_benefits_and_the_channel_manager_and_an_admins_home_with_the_organisation() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = program(&app, &f, "resellers").await;
    let benefits = json!({
        "text": "Deal registration priority",
        "commission_override_bps": 1250,
        "mdf_allowance": {"amount_minor": 500_000, "currency": "EUR"},
        "content_access": ["sales-deck", "battlecards"]
    });
    let body = json!({"name": "Registered", "rank": 0, "requirements": {"all": []}, "benefits": benefits});
    created(&app.post(&format!("/api/v1/programs/{program}/tiers"), &f.owner.token, body).await, "Registered");
    assert_eq!(enroll(&app, &f, &f.p3, &program).await.status, 201);
    let sales = trellis_testkit::fixture::add_partner_user(
        &app,
        &f.workspace_id,
        "p3_sales",
        &f.p3,
        "rep@p3.example",
        trellis_core::PartnerRole::Sales,
    )
    .await;
    let admin = Browser::sign_in(&app, &f.p3_admin.email).await;
    let rep = Browser::sign_in(&app, &sales.email).await;

    let (_, before_assignment) = admin.get("/").await;
    let assigned =
        app.patch(&format!("/api/v1/partners/{}", f.p3), &f.owner.token, json!({"manager_user_id": f.channel_manager.user_id})).await;
    let (admin_status, admin_home) = admin.get("/").await;
    let (rep_status, rep_home) = rep.get("/").await;

    assert!(
        before_assignment.contains("No channel manager is assigned to you yet; contact")
            && before_assignment.contains(r#"href="mailto:owner@vendor.example""#),
        "without a manager, the owner: {before_assignment}"
    );
    assert_eq!(assigned.status, 200, "{}", assigned.text);
    assert_eq!((admin_status, rep_status), (200, 200));
    let manager_link = format!(r#"href="mailto:{}""#, f.channel_manager.email);
    for home in [&admin_home, &rep_home] {
        assert!(home.contains("Your channel manager") && home.contains(&manager_link), "{home}");
        assert!(home.contains("Commission rate 12.5%") && home.contains("Marketing funds up to €5,000.00"), "{home}");
        assert!(home.contains("sales-deck") && home.contains("battlecards"), "the content the tier opens: {home}");
    }
    let position = |home: &str, text: &str| home.find(text).unwrap_or_else(|| panic!("{text} missing: {home}"));
    assert!(rep_home.find("Your organisation&#39;s administration").is_none() && !rep_home.contains("Users and invitations"));
    assert!(!rep_home.contains(r#"id="profile-heading""#), "no organisation card for a seller: {rep_home}");
    assert!(position(&rep_home, "Your programs and tiers") < position(&rep_home, "Your channel manager"));
    assert!(admin_home.contains("Users and invitations") && admin_home.contains("Organisation profile"), "{admin_home}");
    assert!(position(&admin_home, r#"id="profile-heading""#) < position(&admin_home, "Your programs and tiers"), "{admin_home}");
}

// ---------------------------------------------------------------------------------------------
// Demo data

#[tokio::test]
async fn the_demo_workspace_has_two_programs_a_hybrid_partner_and_a_tier_history_with_promotions_a_demotion_and_an_override() {
    let app = TestApp::spawn().await;

    let workspace = trellis_server::demo::seed(&app.state.ctx).await.expect("demo seeding");

    let ws = workspace.to_string();
    let programs = app.query(sql!("SELECT name FROM programs WHERE workspace_id = $1 ORDER BY name", ws)).await;
    let names: Vec<String> = programs.iter().map(|r| r.get("name").expect("name")).collect();
    assert!(names.contains(&"Resellers".to_owned()) && names.contains(&"Referral partners".to_owned()), "{names:?}");
    let tier_of = |partner: &str, program: &str| {
        sql!(
            "SELECT t.name, e.tier_overridden FROM enrollments e JOIN partners p ON p.workspace_id = e.workspace_id AND p.id = e.partner_id
             JOIN programs g ON g.workspace_id = e.workspace_id AND g.id = e.program_id JOIN tiers t ON t.workspace_id = e.workspace_id AND t.id = e.tier_id
             WHERE e.workspace_id = $1 AND p.name = $2 AND g.name = $3",
            ws.clone(),
            partner.to_owned(),
            program.to_owned()
        )
    };
    let tier = |rows: Vec<trellis_db::Row>| {
        rows.first().map(|r| (r.get::<String>("name").expect("name"), r.get::<bool>("tier_overridden").expect("flag")))
    };
    assert_eq!(tier(app.query(tier_of("Harbor Managed Services", "Resellers")).await), Some(("Gold".into(), false)));
    assert_eq!(tier(app.query(tier_of("Bluepeak IT", "Resellers")).await), Some(("Silver".into(), false)));
    assert_eq!(tier(app.query(tier_of("Bluepeak IT", "Referral partners")).await), Some(("Referrer".into(), false)), "hybrid");
    assert_eq!(tier(app.query(tier_of("Northwind Distribution", "Resellers")).await), Some(("Gold".into(), true)), "override");
    let kinds = app.query(sql!("SELECT DISTINCT kind FROM tier_changes WHERE workspace_id = $1 ORDER BY kind", ws.clone())).await;
    let kinds: Vec<String> = kinds.iter().map(|r| r.get("kind").expect("kind")).collect();
    assert_eq!(kinds, ["demotion", "enrolled", "override", "promotion"]);
    // Applicants (applied, rejected) join a program only when approved: count active partners.
    let enrolled = count(
        &app,
        sql!(
            "SELECT COUNT(DISTINCT e.partner_id) AS n FROM enrollments e JOIN partners p ON p.workspace_id = e.workspace_id AND p.id = e.partner_id
             WHERE e.workspace_id = $1 AND p.status = 'active'",
            ws.clone()
        ),
    )
    .await;
    let partners = count(&app, sql!("SELECT COUNT(*) AS n FROM partners WHERE workspace_id = $1 AND status = 'active'", ws.clone())).await;
    assert!(enrolled * 4 >= partners * 3, "most active partners are enrolled: {enrolled} of {partners}");
    assert_eq!(trellis_server::demo::seed(&app.state.ctx).await.expect("second seeding"), workspace, "seeding again keeps the workspace");
}

/// The demo's deals show every status, a live race, a conflict with the direct pipeline, a
/// hybrid partner (resells one deal, refers another) and a deal shared with a referral partner.
#[tokio::test]
async fn the_demo_has_deals_in_every_status_a_live_race_and_a_direct_pipeline_conflict() {
    let app = TestApp::spawn().await;
    let workspace = trellis_server::demo::seed(&app.state.ctx).await.expect("demo seeding");
    let ws = workspace.to_string();
    let statuses = app.query(sql!("SELECT DISTINCT status FROM deals WHERE workspace_id = $1 ORDER BY status", ws.clone())).await;
    let statuses: Vec<String> = statuses.iter().map(|r| r.get("status").expect("status")).collect();
    assert_eq!(statuses, ["approved", "expired", "lost", "needs_info", "rejected", "submitted", "under_review", "won"]);
    let kinds =
        app.query(sql!("SELECT kind, earlier FROM deal_conflicts WHERE workspace_id = $1 ORDER BY kind, earlier", ws.clone())).await;
    let kinds: Vec<(String, bool)> = kinds.iter().map(|r| (r.get("kind").expect("kind"), r.get("earlier").expect("earlier"))).collect();
    assert_eq!(
        kinds,
        [("direct_pipeline".to_owned(), true), ("race".to_owned(), false), ("race".to_owned(), true)],
        "the race is recorded on both sides"
    );
    let roles = app
        .query(sql!(
            "SELECT DISTINCT d.partner_role FROM deals d JOIN partners p ON p.workspace_id = d.workspace_id AND p.id = d.partner_id
             WHERE d.workspace_id = $1 AND p.name = 'Bluepeak IT' ORDER BY d.partner_role",
            ws.clone()
        ))
        .await;
    let roles: Vec<String> = roles.iter().map(|r| r.get("partner_role").expect("role")).collect();
    assert_eq!(roles, ["referral", "resell"], "the hybrid partner");
    assert_eq!(count(&app, sql!("SELECT COUNT(*) AS n FROM deal_partners WHERE workspace_id = $1", ws.clone())).await, 1);
    let open = count(&app, sql!("SELECT COUNT(*) AS n FROM disputes WHERE workspace_id = $1 AND status = 'open'", ws.clone())).await;
    assert_eq!(open, 1, "an open dispute of a rejection");
}

#[tokio::test]
async fn the_daily_schedule_evaluates_tiers_in_every_workspace_once_per_day() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = program(&app, &f, "scheduled").await;
    tier(&app, &f, &program, "Newcomer", 0, json!([])).await;
    tier(&app, &f, &program, "Veteran", 10, json!([{"metric": "months_in_program", "op": ">=", "value": 2}])).await;
    assert_eq!(enroll(&app, &f, &f.p3, &program).await.status, 201);
    app.clock.advance_seconds(70 * 24 * 3600);

    app.run_scheduled_jobs().await;
    let promotions = sql!("SELECT COUNT(*) AS n FROM tier_changes WHERE workspace_id = $1 AND kind = 'promotion'", f.workspace_id.clone());
    let after_first_tick = count(&app, promotions.clone()).await;
    app.run_scheduled_jobs().await;

    assert_eq!(after_first_tick, 1, "the scheduled run promoted P3 to Veteran");
    assert_eq!(count(&app, promotions).await, 1, "a second tick the same day adds nothing");
    let fanned_out =
        count(&app, sql!("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'evaluate_tiers_in_workspace' AND status = 'done'")).await;
    assert_eq!(fanned_out, 2, "one evaluation job per workspace (the fixture has two)");
}

/// Won deals feed the tier engine through the metrics the deals crate registers: a partner that
/// won a €12,500.00 deal in the program reaches the tier asking for one won deal and €10,000 of
/// revenue won in the last 12 months, and falls back when the deal leaves the window.
#[tokio::test]
async fn won_deals_in_the_program_count_towards_a_tier_for_twelve_months() {
    use trellis_deals::deals::{self, DealRole, Decision, NewDeal};
    use trellis_deals::statuses::DealStatus;
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = created(
        &app.post("/api/v1/programs", &f.owner.token, json!({"name": "Resellers", "slug": "resellers", "currency": "EUR"})).await,
        "program",
    );
    tier(&app, &f, &program, "Registered", 0, json!([])).await;
    let closer = tier(
        &app,
        &f,
        &program,
        "Closer",
        10,
        json!([{"metric": "won_deals_12m", "op": ">=", "value": 1}, {"metric": "won_revenue_12m", "op": ">=", "value": 10000}]),
    )
    .await;
    assert_eq!(enroll(&app, &f, &f.p3, &program).await.status, 201);
    let system = Scope::system(f.workspace_id.clone(), &TEST_FIXTURES);
    let ctx = &app.state.ctx;
    let input = NewDeal {
        customer_name: "Globex GmbH".into(),
        customer_domain: Some("globex.example".into()),
        amount_minor: Some(1_250_000),
        partner_role: Some(DealRole::Resell),
        partner_id: Some(f.p3.clone()),
        ..NewDeal::default()
    };
    let deal = deals::register(ctx, &system, input).await.expect("register").deal;
    let evaluate = || async { app.post(&format!("/api/v1/partners/{}/evaluate-tiers", f.p3), &f.owner.token, json!({})).await };
    assert_eq!(evaluate().await.status, 200);
    assert_ne!(enrollment(&app, &f, &f.p3, &program).await["tier_id"], closer.as_str(), "a registered deal is not a won deal");

    deals::transition(ctx, &system, &deal.id, DealStatus::Approved, Decision::default()).await.expect("approve");
    deals::transition(ctx, &system, &deal.id, DealStatus::Won, Decision::default()).await.expect("won");
    assert_eq!(evaluate().await.status, 200);
    assert_eq!(enrollment(&app, &f, &f.p3, &program).await["tier_id"], closer.as_str(), "one deal won for €12,500.00");

    app.clock.advance_seconds(366 * 86_400);
    // A year on, sign-in tokens have expired: the scheduled evaluation runs as the system does.
    evaluation::evaluate_all(ctx, &f.workspace_id).await.expect("evaluate");
    let tier_now = app
        .query(sql!("SELECT tier_id FROM enrollments WHERE workspace_id = $1 AND partner_id = $2", f.workspace_id.clone(), f.p3.clone()))
        .await;
    let tier_now: Option<String> = tier_now[0].get("tier_id").expect("tier");
    assert_ne!(tier_now.as_deref(), Some(closer.as_str()), "the deal left the 12-month window");
}
