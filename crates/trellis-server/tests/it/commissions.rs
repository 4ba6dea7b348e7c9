//! Commissions (issue 10; API.md "Programs" plan, "Referral tracking", "Commissions, balances,
//! payouts"): plans and their versions, conversions exactly once, payable only once the invoice is
//! paid and the hold has passed, refunds reversing in proportion, licence holds released by a
//! renewal, bonuses and holds, and money private to each organisation — every flow through the
//! API, with `trellis ledger verify` clean after it.

use serde_json::{Value, json};
use trellis_core::{PartnerId, ProgramId, WorkspaceId};
use trellis_db::sql;
use trellis_identity::Scope;
use trellis_incentives::ledger;
use trellis_testkit::fixture::Fixture;
use trellis_testkit::{TEST_FIXTURES, TestApp};

const DAY: i64 = 86_400;

/// A program in EUR with every fixture partner of the main workspace enrolled.
pub(crate) async fn program(app: &TestApp, f: &Fixture, slug: &str) -> ProgramId {
    let ctx = &app.state.ctx;
    let system = Scope::system(f.workspace_id.clone(), &TEST_FIXTURES);
    let input = trellis_programs::NewProgram { name: format!("Program {slug}"), slug: slug.to_owned(), ..Default::default() };
    let program = trellis_programs::programs::create(ctx, &system, input).await.expect("program");
    for partner in [&f.d1, &f.r1a, &f.r1b, &f.d2, &f.r2a, &f.p3] {
        let enrollment = trellis_programs::enrollments::NewEnrollment { program_id: program.id.clone(), tier_id: None };
        trellis_programs::enrollments::enroll(ctx, &system, partner, enrollment).await.expect("enroll");
    }
    program.id
}

pub(crate) async fn set_plan(app: &TestApp, f: &Fixture, program: &ProgramId, plan: Value) -> Value {
    let reply =
        app.send(reqwest::Method::PUT, &format!("/api/v1/programs/{program}/commission-plan"), Some(&f.finance.token), Some(&plan)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

pub(crate) fn money(amount_minor: i64) -> Value {
    json!({"amount_minor": amount_minor, "currency": "EUR"})
}

/// `(amount, status, kind)` of each commission of an answer, by partner.
fn earned(answer: &Value) -> Vec<(String, i64, String, String)> {
    let mut out: Vec<(String, i64, String, String)> = answer["commissions"]
        .as_array()
        .expect("commissions")
        .iter()
        .map(|c| {
            (
                c["partner_id"].as_str().expect("partner").to_owned(),
                c["amount"]["amount_minor"].as_i64().expect("amount"),
                c["status"].as_str().expect("status").to_owned(),
                c["kind"].as_str().expect("kind").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn row(partner: &PartnerId, amount: i64, status: &str, kind: &str) -> (String, i64, String, String) {
    (partner.to_string(), amount, status.to_owned(), kind.to_owned())
}

fn sorted(mut rows: Vec<(String, i64, String, String)>) -> Vec<(String, i64, String, String)> {
    rows.sort();
    rows
}

async fn balance(app: &TestApp, token: &str, partner: &PartnerId) -> (u16, Value) {
    let reply = app.get(&format!("/api/v1/partners/{partner}/balance"), token).await;
    (reply.status, reply.body)
}

/// `(pending, payable, paid)` of a partner in EUR, as the owner's key reads it (sign-in tokens
/// expire when a test moves the clock by weeks).
async fn eur_balance(app: &TestApp, f: &Fixture, partner: &PartnerId) -> (i64, i64, i64) {
    let (status, body) = balance(app, &f.owner_key, partner).await;
    assert_eq!(status, 200, "{body}");
    let eur = body["balances"].as_array().expect("balances").iter().find(|b| b["currency"] == "EUR").cloned().unwrap_or(json!({}));
    let n = |k: &str| eur[k].as_i64().unwrap_or(0);
    (n("pending_minor"), n("payable_minor"), n("paid_minor"))
}

async fn verified_clean(app: &TestApp) {
    let report = ledger::verify(&app.state.ctx).await.expect("verify");
    assert!(report.is_clean(), "{}\n{}", report.summary(), report.problems().join("\n"));
    assert!(report.commissions > 0, "the test made commissions");
}

async fn count(app: &TestApp, ws: &WorkspaceId, table: &str) -> i64 {
    let q = match table {
        "conversions" => sql!("SELECT COUNT(*) AS n FROM conversions WHERE workspace_id = $1", ws),
        "commissions" => sql!("SELECT COUNT(*) AS n FROM commissions WHERE workspace_id = $1", ws),
        "commission_plans" => sql!("SELECT COUNT(*) AS n FROM commission_plans WHERE workspace_id = $1", ws),
        _ => sql!("SELECT COUNT(*) AS n FROM ledger_postings WHERE workspace_id = $1", ws),
    };
    app.query_i64(q).await
}

#[tokio::test]
async fn a_plan_is_versioned_checked_and_kept_to_finance() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = program(&app, &f, "plans").await;
    let path = format!("/api/v1/programs/{program}/commission-plan");
    assert_eq!(app.get(&path, &f.finance.token).await.status, 404, "no plan yet");

    let plan = json!({"lead": {"flat": money(5000)}, "sale": {"percent_bps": 2000, "recurring_months": 12}, "hold_days": 30,
        "min_payout": money(10_000), "parent_override_bps": 500});
    let first = set_plan(&app, &f, &program, plan.clone()).await;
    assert_eq!(first["version"], 1);
    assert_eq!(first["sale"], json!({"percent_bps": 2000, "recurring_months": 12}));
    assert_eq!(first["tier_overrides"], json!([]));
    assert_eq!(set_plan(&app, &f, &program, plan.clone()).await["version"], 1, "the plan as it stands adds no version");
    let lifetime = set_plan(&app, &f, &program, json!({"sale": {"percent_bps": 1500, "recurring_months": null}, "hold_days": 0})).await;
    assert_eq!(lifetime["version"], 2);
    assert_eq!(lifetime["sale"]["recurring_months"], Value::Null, "null is for life");
    assert!(lifetime.get("lead").is_none(), "the lead part was left out");
    let versions = app.get(&format!("{path}/versions"), &f.finance.token).await;
    assert_eq!(versions.body.as_array().map(Vec::len), Some(2));
    let backdated = json!({"sale": {"percent_bps": 1500}, "hold_days": 0, "effective_from": "2020-01-01"});
    let refused = app.send(reqwest::Method::PUT, &path, Some(&f.finance.token), Some(&backdated)).await;
    assert_eq!(refused.status, 422, "a version cannot be backdated before the one in force then: {}", refused.text);
    let future = json!({"sale": {"percent_bps": 1500}, "effective_from": "2099-01-01"});
    assert_eq!(app.send(reqwest::Method::PUT, &path, Some(&f.finance.token), Some(&future)).await.status, 422);

    let bad = json!({"sale": {"percent_bps": 20_000}, "hold_days": -1, "min_payout": {"amount_minor": 100, "currency": "USD"},
        "tier_overrides": [{"tier_id": "tir_01jgx2m5k8b3q7r9t0vwxyz123", "sale_percent_bps": 100}]});
    let refused = app.send(reqwest::Method::PUT, &path, Some(&f.finance.token), Some(&bad)).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    let fields: Vec<&str> = refused.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    for field in ["sale.percent_bps", "hold_days", "min_payout.currency", "tier_overrides[0].tier_id"] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    assert_eq!(count(&app, &f.workspace_id, "commission_plans").await, 2, "a refused plan stores nothing");

    let manager = app.send(reqwest::Method::PUT, &path, Some(&f.channel_manager.token), Some(&plan)).await;
    assert_eq!(manager.status, 403, "plans are finance's");
    let partner = app.send(reqwest::Method::PUT, &path, Some(&f.r1a_admin.token), Some(&plan)).await;
    assert_eq!(partner.status, 403);
    let read = app.get(&path, &f.r1a_admin.token).await;
    assert_eq!((read.status, read.body["version"].clone()), (200, json!(2)), "a partner reads the plan of its program");
    let audited = app
        .query_i64(sql!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = $1 AND action = 'commission_plan.updated'",
            &f.workspace_id
        ))
        .await;
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn a_sale_earns_once_waits_for_its_invoice_and_hold_and_money_stays_private() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = program(&app, &f, "sales").await;
    set_plan(&app, &f, &program, json!({"sale": {"percent_bps": 2000}, "hold_days": 30, "parent_override_bps": 500})).await;

    let sale = json!({"kind": "sale", "invoice_id": "INV-1", "customer_external_id": "cus_1", "partner_id": f.r1a, "amount": money(10_000),
        "invoice_status": "open"});
    let first = app.post("/api/v1/conversions", &f.owner_key, sale.clone()).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["attribution"], "partner");
    assert_eq!(earned(&first.body), sorted(vec![row(&f.r1a, 2000, "pending", "sale"), row(&f.d1, 500, "pending", "override")]));
    let postings = count(&app, &f.workspace_id, "postings").await;

    let retry = app.post("/api/v1/conversions", &f.owner_key, sale.clone()).await;
    assert_eq!((retry.status, &retry.body), (200, &first.body), "a retry answers the first body");
    let mut changed = sale.clone();
    changed["amount"] = money(12_000);
    assert_eq!(app.post("/api/v1/conversions", &f.owner_key, changed).await.status, 409);
    assert_eq!(count(&app, &f.workspace_id, "conversions").await, 1);
    assert_eq!(count(&app, &f.workspace_id, "commissions").await, 2);
    assert_eq!(count(&app, &f.workspace_id, "postings").await, postings, "retries post nothing");

    // Money is private to each organisation.
    assert_eq!(balance(&app, &f.d1_admin.token, &f.r1a).await.0, 404, "a distributor never reads its reseller's balance");
    assert_eq!(balance(&app, &f.r1b_admin.token, &f.r1a).await.0, 404);
    assert_eq!(balance(&app, &f.r1a_member.token, &f.r1a).await.0, 403, "members do not read money");
    assert_eq!(balance(&app, &f.r1a_admin.token, &f.r1a).await.0, 200);
    let d1_list = app.get("/api/v1/commissions", &f.d1_admin.token).await;
    let d1_kinds: Vec<&str> = d1_list.body["data"].as_array().expect("data").iter().filter_map(|c| c["kind"].as_str()).collect();
    assert_eq!(d1_kinds, ["override"], "a distributor sees only the override it earns itself");
    let filtered = app.get(&format!("/api/v1/commissions?partner_id={}", f.r1a), &f.d1_admin.token).await;
    assert_eq!((filtered.status, filtered.body["data"].as_array().map(Vec::len)), (200, Some(0)));
    let r1a_commission = first.body["commissions"].as_array().expect("list").iter().find(|c| c["kind"] == "sale").expect("sale")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(app.get(&format!("/api/v1/commissions/{r1a_commission}"), &f.d1_admin.token).await.status, 404);
    assert_eq!(app.get(&format!("/api/v1/commissions/{r1a_commission}"), &f.r1a_admin.token).await.status, 200);
    assert_eq!(app.get("/api/v1/commissions", &f.r1a_member.token).await.status, 403);
    assert_eq!(app.post("/api/v1/conversions", &f.r1a_key, sale).await.status, 403, "partners do not report conversions");
    assert_eq!(app.get("/api/v1/conversions", &f.r1a_admin.token).await.status, 403, "the vendor's records");
    // Unpaid: nothing is payable, whatever the time.
    app.clock.advance_seconds(40 * DAY);
    app.run_jobs().await;
    assert_eq!(eur_balance(&app, &f, &f.r1a).await, (2000, 0, 0));
    let paid = app.post("/api/v1/invoices/INV-1/paid", &f.owner_key, json!({})).await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    assert_eq!(paid.body["changed"], true);
    assert_eq!(app.post("/api/v1/invoices/INV-1/paid", &f.owner_key, json!({})).await.body["changed"], false, "safe to repeat");
    assert_eq!(app.post("/api/v1/invoices/INV-404/paid", &f.owner_key, json!({})).await.status, 404);
    app.clock.advance_seconds(29 * DAY);
    app.run_jobs().await;
    assert_eq!(eur_balance(&app, &f, &f.r1a).await, (2000, 0, 0), "inside the hold");
    app.clock.advance_seconds(DAY + 1);
    app.run_jobs().await;
    assert_eq!(eur_balance(&app, &f, &f.r1a).await, (0, 2000, 0), "payable once the hold has passed");
    assert_eq!(eur_balance(&app, &f, &f.d1).await, (0, 500, 0));

    verified_clean(&app).await;
}

#[tokio::test]
async fn leads_pay_flat_without_a_hold_at_once_and_recurring_sales_follow_the_customer() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = program(&app, &f, "leads").await;
    set_plan(
        &app,
        &f,
        &program,
        json!({"lead": {"flat": money(5000)}, "sale": {"percent_bps": 1000, "recurring_months": 1}, "hold_days": 0}),
    )
    .await;

    let lead = app
        .post(
            "/api/v1/conversions",
            &f.owner_key,
            json!({"kind": "lead", "invoice_id": "L-1", "customer_external_id": "cus_9", "partner_id": f.p3}),
        )
        .await;
    assert_eq!(lead.status, 201, "{}", lead.text);
    assert_eq!(earned(&lead.body), vec![row(&f.p3, 5000, "payable", "lead")], "no hold: payable in the same request");

    // The customer keeps its partner: later sales need no partner_id.
    let start = app.state.ctx.now();
    let sale = |n: u32, at: trellis_core::Timestamp| json!({"kind": "sale", "invoice_id": format!("S-{n}"), "customer_external_id": "cus_9", "amount": money(10_001), "occurred_at": at.to_rfc3339()});
    let first = app.post("/api/v1/conversions", &f.owner_key, sale(1, start)).await;
    assert_eq!(first.body["attribution"], "customer");
    assert_eq!(earned(&first.body), vec![row(&f.p3, 1000, "payable", "sale")], "10% of 100.01 rounds half to even");
    app.clock.advance_seconds(20 * DAY);
    let within = app.post("/api/v1/conversions", &f.owner_key, sale(2, start.plus_seconds(20 * DAY))).await;
    assert_eq!(earned(&within.body).len(), 1, "inside the recurring month: {}", within.text);
    app.clock.advance_seconds(20 * DAY);
    let after = app.post("/api/v1/conversions", &f.owner_key, sale(3, app.state.ctx.now())).await;
    assert_eq!((after.status, after.body["commissions"].clone()), (201, json!([])), "the recurrence has ended: recorded, nothing earned");
    assert_eq!(eur_balance(&app, &f, &f.p3).await, (0, 7000, 0));

    let unknown = app
        .post(
            "/api/v1/conversions",
            &f.owner_key,
            json!({"kind": "sale", "invoice_id": "S-9", "customer_external_id": "cus_new", "amount": money(100)}),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.body["attribution"].clone(), unknown.body["partner_id"].clone()),
        (201, json!("none"), Value::Null)
    );
    let usd = app.post("/api/v1/conversions", &f.owner_key, json!({"kind": "sale", "invoice_id": "S-10", "customer_external_id": "cus_9", "amount": {"amount_minor": 100, "currency": "USD"}})).await;
    assert_eq!(usd.status, 422, "another currency than the program's: {}", usd.text);
    let before = count(&app, &f.workspace_id, "conversions").await;
    let invalid = app
        .post(
            "/api/v1/conversions",
            &f.owner_key,
            json!({"kind": "gift", "invoice_id": " ", "customer_external_id": "c", "amount": money(-5)}),
        )
        .await;
    assert_eq!(invalid.status, 422);
    assert_eq!(count(&app, &f.workspace_id, "conversions").await, before, "refused input stores nothing");
    verified_clean(&app).await;
}

#[tokio::test]
async fn refunds_reverse_unpaid_commissions_in_proportion_and_never_more_than_the_sale() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = program(&app, &f, "refunds").await;
    set_plan(&app, &f, &program, json!({"sale": {"percent_bps": 2000}, "hold_days": 30, "parent_override_bps": 500})).await;
    let sale = app
        .post(
            "/api/v1/conversions",
            &f.owner_key,
            json!({"kind": "sale", "invoice_id": "INV-7", "customer_external_id": "cus_7", "partner_id": f.r1a, "amount": money(10_000)}),
        )
        .await;
    assert_eq!(sale.status, 201);

    let partial = app.post("/api/v1/conversions", &f.owner_key, json!({"kind": "refund", "invoice_id": "CR-1", "customer_external_id": "cus_7", "refunds_invoice_id": "INV-7", "amount": money(2500)})).await;
    assert_eq!(partial.status, 201, "{}", partial.text);
    assert_eq!(earned(&partial.body), sorted(vec![row(&f.r1a, -500, "pending", "reversal"), row(&f.d1, -125, "pending", "reversal")]));
    assert_eq!(eur_balance(&app, &f, &f.r1a).await, (1500, 0, 0));
    let too_much = app.post("/api/v1/conversions", &f.owner_key, json!({"kind": "refund", "invoice_id": "CR-2", "customer_external_id": "cus_7", "refunds_invoice_id": "INV-7", "amount": money(7501)})).await;
    assert_eq!(too_much.status, 422, "more than remains refundable");
    let rest = app.post("/api/v1/conversions", &f.owner_key, json!({"kind": "refund", "invoice_id": "CR-3", "customer_external_id": "cus_7", "refunds_invoice_id": "INV-7", "amount": money(7500)})).await;
    assert_eq!(rest.status, 201, "{}", rest.text);
    assert_eq!(eur_balance(&app, &f, &f.r1a).await, (0, 0, 0));
    assert_eq!(eur_balance(&app, &f, &f.d1).await, (0, 0, 0));
    let statuses = app.get(&format!("/api/v1/commissions?partner_id={}", f.r1a), &f.finance.token).await;
    let all: Vec<&str> = statuses.body["data"].as_array().expect("data").iter().filter_map(|c| c["status"].as_str()).collect();
    assert_eq!(all, ["reversed", "reversed", "reversed"], "the commission and its reversals are reversed together");
    app.clock.advance_seconds(31 * DAY);
    app.run_jobs().await;
    assert_eq!(eur_balance(&app, &f, &f.r1a).await, (0, 0, 0), "nothing reversed becomes payable");
    let unknown = app.post("/api/v1/conversions", &f.owner_key, json!({"kind": "refund", "invoice_id": "CR-9", "customer_external_id": "cus_7", "refunds_invoice_id": "INV-404", "amount": money(1)})).await;
    assert_eq!(unknown.status, 422);
    verified_clean(&app).await;
}

#[tokio::test]
async fn a_lapsed_licence_holds_new_commissions_until_it_is_renewed() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = program(&app, &f, "licences").await;
    set_plan(&app, &f, &program, json!({"sale": {"percent_bps": 1000}, "hold_days": 0})).await;
    let licence = |from: &str, until: &str| json!({"kind": "Broker", "number": "B-1", "jurisdiction": "DE", "valid_from": from, "valid_until": until});
    let lapsed = app.post(&format!("/api/v1/partners/{}/licences", f.p3), &f.owner_key, licence("2020-01-01", "2021-01-01")).await;
    assert_eq!(lapsed.status, 201, "{}", lapsed.text);
    app.run_jobs().await;

    let sale = app
        .post(
            "/api/v1/conversions",
            &f.owner_key,
            json!({"kind": "sale", "invoice_id": "INV-L", "customer_external_id": "cus_l", "partner_id": f.p3, "amount": money(50_000)}),
        )
        .await;
    assert_eq!(earned(&sale.body), vec![row(&f.p3, 5000, "on_hold", "sale")]);
    let id = sale.body["commissions"][0]["id"].as_str().expect("id").to_owned();
    assert_eq!(app.get(&format!("/api/v1/commissions/{id}"), &f.finance.token).await.body["hold_reason"], "licence_expired");
    assert_eq!(
        app.post(&format!("/api/v1/commissions/{id}/release"), &f.finance.token, json!({})).await.status,
        409,
        "not while the licence has lapsed"
    );

    let today = app.state.ctx.now().to_rfc3339()[..10].to_owned();
    let renewed = app.post(&format!("/api/v1/partners/{}/licences", f.p3), &f.owner_key, licence(&today, "2099-01-01")).await;
    assert_eq!(renewed.status, 201, "{}", renewed.text);
    app.run_jobs().await;
    let now = app.get(&format!("/api/v1/commissions/{id}"), &f.finance.token).await;
    assert_eq!((now.body["status"].clone(), now.body["hold_reason"].clone()), (json!("payable"), Value::Null), "the renewal released it");
    verified_clean(&app).await;
}

#[tokio::test]
async fn finance_awards_bonuses_and_holds_and_releases_commissions() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let bonus = app
        .post(
            "/api/v1/commissions",
            &f.finance.token,
            json!({"partner_id": f.r1b, "amount": money(25_000), "kind": "spiff", "reason": "Q4 launch SPIFF"}),
        )
        .await;
    assert_eq!(bonus.status, 201, "{}", bonus.text);
    assert_eq!((bonus.body["status"].clone(), bonus.body["reason_code"].clone()), (json!("payable"), json!("spiff")));
    let id = bonus.body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        app.post(
            "/api/v1/commissions",
            &f.channel_manager.token,
            json!({"partner_id": f.r1b, "amount": money(1), "kind": "bonus", "reason": "x"})
        )
        .await
        .status,
        403
    );
    assert_eq!(
        app.post("/api/v1/commissions", &f.finance.token, json!({"partner_id": f.r1b, "amount": money(0), "kind": "gift", "reason": ""}))
            .await
            .status,
        422
    );

    let held = app.post(&format!("/api/v1/commissions/{id}/hold"), &f.finance.token, json!({"reason": "fraud_review"})).await;
    assert_eq!((held.status, held.body["status"].clone()), (200, json!("on_hold")));
    let queue = app.get("/api/v1/commissions?status=on_hold", &f.finance.token).await;
    assert_eq!(queue.body["data"].as_array().map(Vec::len), Some(1), "the hold queue");
    assert_eq!(app.post(&format!("/api/v1/commissions/{id}/hold"), &f.finance.token, json!({"reason": "manual"})).await.status, 409);
    assert_eq!(app.post(&format!("/api/v1/commissions/{id}/release"), &f.r1b_admin.token, json!({})).await.status, 403);
    let released = app.post(&format!("/api/v1/commissions/{id}/release"), &f.finance.token, json!({})).await;
    assert_eq!((released.status, released.body["status"].clone()), (200, json!("payable")));
    assert_eq!(eur_balance(&app, &f, &f.r1b).await, (0, 25_000, 0));
    verified_clean(&app).await;
}

#[tokio::test]
async fn racing_copies_of_one_conversion_earn_once() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = program(&app, &f, "races").await;
    set_plan(&app, &f, &program, json!({"sale": {"percent_bps": 2000}, "hold_days": 0, "parent_override_bps": 500})).await;
    let body =
        json!({"kind": "sale", "invoice_id": "INV-R", "customer_external_id": "cus_r", "partner_id": f.r1a, "amount": money(10_000)});
    let replies = futures_util::future::join_all((0..8).map(|_| app.post("/api/v1/conversions", &f.owner_key, body.clone()))).await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200, 201], "{:?}", replies.iter().map(|r| &r.text).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| r.body == replies[0].body), "every copy answers the same body");
    assert_eq!(count(&app, &f.workspace_id, "commissions").await, 2);
    assert_eq!(eur_balance(&app, &f, &f.r1a).await, (0, 2000, 0));
    verified_clean(&app).await;
}

#[tokio::test]
async fn an_upload_of_paid_invoices_previews_its_rows_then_pays_them_once() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let program = program(&app, &f, "uploads").await;
    set_plan(&app, &f, &program, json!({"sale": {"percent_bps": 1000}, "hold_days": 0})).await;
    for n in 1..=2 {
        let sale = json!({"kind": "sale", "invoice_id": format!("U-{n}"), "customer_external_id": format!("cu{n}"), "partner_id": f.p3,
            "amount": money(10_000), "invoice_status": "open"});
        assert_eq!(app.post("/api/v1/conversions", &f.owner_key, sale).await.status, 201);
    }
    let csv = "invoice_id;paid_at\nU-1;2026-01-05\nU-404;\nU-2;not a date\nU-1;\n";
    let finance =
        trellis_identity::auth::authenticate_bearer(&app.state.ctx, &f.finance.token, None, &Default::default()).await.expect("scope");
    let preview = trellis_incentives::conversions::paid_invoices_csv(&app.state.ctx, &finance, csv, false).await.expect("preview");
    assert_eq!((preview.paying, preview.already_paid, preview.refused), (1, 0, 3));
    let reasons: Vec<String> = preview.rows.iter().map(|r| format!("{} {:?}", r.line, r.outcome)).collect();
    assert!(reasons[1].contains("no sale was recorded"), "{reasons:?}");
    assert!(reasons[3].contains("listed twice"), "{reasons:?}");
    assert_eq!(eur_balance(&app, &f, &f.p3).await, (2000, 0, 0), "a preview changes nothing");
    let applied = trellis_incentives::conversions::paid_invoices_csv(&app.state.ctx, &finance, csv, true).await.expect("apply");
    assert_eq!(applied.paying, 1);
    assert_eq!(eur_balance(&app, &f, &f.p3).await, (1000, 1000, 0), "U-1 paid, its hold of 0 days over");
    let again = trellis_incentives::conversions::paid_invoices_csv(&app.state.ctx, &finance, csv, true).await.expect("again");
    assert_eq!((again.paying, again.already_paid), (0, 1), "uploading twice pays once");
    let viewer =
        trellis_identity::auth::authenticate_bearer(&app.state.ctx, &f.viewer.token, None, &Default::default()).await.expect("scope");
    assert!(trellis_incentives::conversions::paid_invoices_csv(&app.state.ctx, &viewer, csv, false).await.is_err(), "finance's function");
    verified_clean(&app).await;
}

#[test]
fn docs_api_md_prints_the_commission_status_transition_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md");
    let docs = std::fs::read_to_string(path).expect("docs/API.md");
    let table = trellis_incentives::statuses::markdown_table();
    assert!(docs.contains(&table), "docs/API.md must contain the table of trellis_incentives::statuses:\n{table}");
}

#[test]
fn docs_api_md_prints_the_payout_run_transition_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md");
    let docs = std::fs::read_to_string(path).expect("docs/API.md");
    let table = trellis_incentives::payouts::run_markdown_table();
    assert!(docs.contains(&table), "docs/API.md must contain the table of trellis_incentives::payouts::RUN_TRANSITIONS:\n{table}");
}

/// The demo leaves commissions in every state a finance team meets, and a clean ledger.
#[tokio::test]
async fn the_demo_has_commissions_pending_payable_on_hold_and_reversed_and_a_clean_ledger() {
    let app = TestApp::spawn().await;
    let workspace = trellis_server::demo::seed(&app.state.ctx).await.expect("demo seeding");
    let rows = app
        .query(sql!(
            "SELECT DISTINCT kind, status FROM commission_states WHERE workspace_id = $1 ORDER BY kind, status",
            workspace.to_string()
        ))
        .await;
    let seen: Vec<String> =
        rows.iter().map(|r| format!("{} {}", r.get::<String>("kind").expect("kind"), r.get::<String>("status").expect("status"))).collect();
    for wanted in ["bonus payable", "lead payable", "override paid", "reversal pending", "sale on_hold", "sale payable", "sale pending"] {
        assert!(seen.iter().any(|s| s == wanted), "{wanted} in {seen:?}");
    }
    let runs = app.query(sql!("SELECT id, status, item_count FROM payout_runs WHERE workspace_id = $1", workspace.to_string())).await;
    assert_eq!(runs.len(), 1, "one payout run");
    assert_eq!(runs[0].get::<String>("status").expect("status"), "paid");
    assert!(runs[0].get::<i64>("item_count").expect("items") >= 1);
    let skipped = app
        .query_i64(sql!(
            "SELECT COUNT(*) AS n FROM payout_skips WHERE workspace_id = $1 AND reason = 'no_payout_method'",
            workspace.to_string()
        ))
        .await;
    assert!(skipped > 0, "partners without an account are left out with the reason");
    let unpaid = app
        .query_i64(sql!(
            "SELECT COUNT(*) AS n FROM commissions WHERE workspace_id = $1 AND status = 'pending' AND payable_at IS NULL",
            workspace.to_string()
        ))
        .await;
    assert!(unpaid > 0, "a commission waits for its invoice");
    verified_clean(&app).await;
}

/// A won deal's credited partners earn by their credit split (and the registrant's distributor
/// its override on its share); the customer then keeps the split for its recurring sales, and a
/// deal that is not won earns nothing.
#[tokio::test]
async fn a_won_deal_pays_its_credited_partners_by_their_split() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let deal =
        crate::disputes::fresh_deal(&app, &f.workspace_id, &f.owner.token, &f.r1a, 1, trellis_deals::statuses::DealStatus::Approved).await;
    let credited = app
        .post(
            &format!("/api/v1/deals/{deal}/partners"),
            &f.owner.token,
            json!({"partner_id": f.p3.to_string(), "role": "influence", "credit_bps": 2500}),
        )
        .await;
    assert_eq!(credited.status, 200, "{}", credited.text);
    let program: ProgramId = credited.body["program_id"].as_str().expect("program").parse().expect("program id");
    set_plan(&app, &f, &program, json!({"sale": {"percent_bps": 2000}, "hold_days": 0, "parent_override_bps": 1000})).await;
    let sale = json!({"kind": "sale", "invoice_id": "INV-D1", "customer_external_id": "cus_deal", "deal_id": deal.to_string(), "amount": money(100_000)});
    let open = app.post("/api/v1/conversions", &f.owner_key, sale.clone()).await;
    assert_eq!(open.status, 409, "the deal is not won yet: {}", open.text);
    let won = app.post(&format!("/api/v1/deals/{deal}/won"), &f.owner.token, json!({})).await;
    assert_eq!(won.status, 200, "{}", won.text);
    let paid = app.post("/api/v1/conversions", &f.owner_key, sale).await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["attribution"], "deal");
    assert_eq!(
        earned(&paid.body),
        sorted(vec![
            row(&f.r1a, 15_000, "payable", "sale"),
            row(&f.d1, 7_500, "payable", "override"),
            row(&f.p3, 5_000, "payable", "sale")
        ]),
        "75% and 25% of the 20%; D1's 10% override on R1a's 75%"
    );
    let again = json!({"kind": "sale", "invoice_id": "INV-D2", "customer_external_id": "cus_deal", "amount": money(10_000)});
    let recurring = app.post("/api/v1/conversions", &f.owner_key, again).await;
    assert_eq!(recurring.body["attribution"], "customer");
    assert_eq!(earned(&recurring.body).len(), 3, "the customer keeps the deal's split");
    verified_clean(&app).await;
}
