//! Disputes of rejected registrations and protection extension requests (API.md "Disputes and
//! extension requests"): the whole workflow through the API, who may do what, the protection
//! jobs after an extension, the emails, the pages, and the transition table as docs/API.md prints
//! it. The deals themselves are registered and decided through the deals service (the deal
//! routes are another change's), as the channel team's owner.

use serde_json::json;
use trellis_core::{DealId, PartnerId, WorkspaceId};
use trellis_db::sql;
use trellis_deals::deals::{self, Decision, NewDeal};
use trellis_deals::statuses::DealStatus;
use trellis_identity::{RequestMeta, Scope, auth};
use trellis_testkit::fixture::Fixture;
use trellis_testkit::{TEST_FIXTURES, TestApp};

use crate::pages::sign_in;

pub(crate) const REJECTION: &str = "Another partner registered this customer first.";

/// A deal of `partner` in a fresh program, registered on its behalf and then moved to `to`
/// (`rejected` with [`REJECTION`], or `approved`) by the workspace's owner (`owner_token`).
pub(crate) async fn fresh_deal(
    app: &TestApp,
    workspace: &WorkspaceId,
    owner_token: &str,
    partner: &PartnerId,
    n: usize,
    to: DealStatus,
) -> DealId {
    let ctx = &app.state.ctx;
    let system = Scope::system(workspace.clone(), &TEST_FIXTURES);
    let input = trellis_programs::NewProgram { name: format!("Deals {n}"), slug: format!("dispute-deals-{n}"), ..Default::default() };
    let program = trellis_programs::programs::create(ctx, &system, input).await.expect("fresh program");
    let mut tx = system.write(ctx).await.expect("transaction");
    trellis_programs::enrollments::enroll_in(&mut tx, &system, partner, &program.id, None, ctx.now()).await.expect("enroll");
    tx.commit().await.expect("commit the enrollment");
    let input = NewDeal {
        customer_name: crate::authz_matrix::cell_customer(n),
        customer_domain: Some(format!("{}.example", crate::authz_matrix::cell_customer(n).to_lowercase())),
        amount_minor: Some(1_250_000),
        partner_id: Some(partner.clone()),
        program_id: Some(program.id.clone()),
        ..Default::default()
    };
    let deal = deals::register(ctx, &system, input).await.expect("register").deal;
    let owner = auth::authenticate_bearer(ctx, owner_token, None, &RequestMeta::default()).await.expect("owner scope");
    let note = (to == DealStatus::Rejected).then(|| REJECTION.to_owned());
    deals::transition(ctx, &owner, &deal.id, to, Decision { note, ..Decision::default() }).await.expect("decide");
    deal.id
}

/// The path (and object id) of an authorization-matrix cell of a dispute or extension route: a
/// fresh deal of the column's partner, rejected or approved, and for `dispute` and
/// `extension_request` an open one of it, made by the partner's own admin (or the vendor's owner
/// for the API's sake: the service only needs the registering side).
pub(crate) async fn prepare_target(
    app: &TestApp,
    world: &crate::authz_matrix::World,
    target: &str,
    path: &str,
    column: &str,
    n: usize,
) -> (String, Option<String>) {
    let other = column == "OTHER";
    let workspace = world.workspace(if other { crate::authz_matrix::Ws::Other } else { crate::authz_matrix::Ws::Main }).clone();
    let owner_token = if other { &world.f.other_owner.token } else { &world.f.owner.token };
    let partner = world.partner(column).clone();
    let n = 100_000 + n;
    let ctx = &app.state.ctx;
    // The partner's own side, as the system (the services take any scope that sees the deal).
    let partner_admin = |token: &str| {
        let token = token.to_owned();
        async move { auth::authenticate_bearer(ctx, &token, None, &RequestMeta::default()).await.expect("scope") }
    };
    match target {
        "rejected_deal" | "approved_deal" => {
            let to = if target == "rejected_deal" { DealStatus::Rejected } else { DealStatus::Approved };
            let deal = fresh_deal(app, &workspace, owner_token, &partner, n, to).await;
            (path.replace("{id}", deal.as_str()), None)
        }
        "dispute" | "extension_request" => {
            let to = if target == "dispute" { DealStatus::Rejected } else { DealStatus::Approved };
            let deal = fresh_deal(app, &workspace, owner_token, &partner, n, to).await;
            // A partner key of the deal's partner (made by the owner) opens it.
            let key = app.post(&format!("/api/v1/partners/{partner}/api-keys"), owner_token, json!({"name": format!("cell {n}")})).await;
            assert_eq!(key.status, 201, "{}", key.text);
            let scope = partner_admin(key.body["key"].as_str().expect("key")).await;
            let id = if target == "dispute" {
                trellis_deals::disputes::open(ctx, &scope, &deal, "cell").await.expect("dispute").dispute.id.to_string()
            } else {
                trellis_deals::extensions::request(ctx, &scope, &deal, 30, "cell").await.expect("request").id.to_string()
            };
            (path.replace("{id}", &id), Some(id))
        }
        other => panic!("unknown dispute target {other}"),
    }
}

async fn deal_status(app: &TestApp, deal: &DealId) -> (String, Option<i64>) {
    let rows = app.query(sql!("SELECT status, protected_until FROM deals WHERE id = $1", deal)).await;
    (rows[0].get("status").expect("status"), rows[0].get("protected_until").expect("protected_until"))
}

async fn email_kinds(app: &TestApp) -> Vec<String> {
    app.query(sql!("SELECT kind FROM emails ORDER BY created_at, id")).await.iter().map(|r| r.get("kind").expect("kind")).collect()
}

#[tokio::test]
async fn a_partner_disputes_a_rejection_and_an_overturned_deal_goes_back_to_review_and_is_approved() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let deal = fresh_deal(&app, &f.workspace_id, &f.owner.token, &f.r1a, 1, DealStatus::Rejected).await;

    let opened =
        app.post(&format!("/api/v1/deals/{deal}/disputes"), &f.r1a_admin.token, json!({"reason": "We met their CTO in March."})).await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let id = opened.body["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("dsp_"));
    assert_eq!(opened.body["status"], "open");
    assert_eq!(opened.body["deal_id"], deal.as_str());
    assert_eq!(opened.body["subject_type"], "deal");
    assert_eq!(opened.body["rejection_reason"], REJECTION);
    let events: Vec<&str> =
        opened.body["timeline"].as_array().expect("timeline").iter().map(|e| e["event"].as_str().expect("event")).collect();
    assert_eq!(events, ["deal_rejected", "dispute_opened"]);

    // A second one while it is open: 409.
    let again = app.post(&format!("/api/v1/deals/{deal}/disputes"), &f.r1a_admin.token, json!({"reason": "Again."})).await;
    assert_eq!(again.status, 409, "{}", again.text);

    // The channel team's queue, oldest first; the partner's own list.
    let queue = app.get("/api/v1/disputes?status=open", &f.channel_manager.token).await;
    assert_eq!(queue.status, 200);
    assert_eq!(queue.body["data"][0]["id"], id.as_str());
    assert_eq!(app.get("/api/v1/disputes", &f.r1a_member.token).await.body["data"][0]["id"], id.as_str());
    assert_eq!(app.get(&format!("/api/v1/disputes/{id}"), &f.r1b_admin.token).await.status, 404, "a sibling never sees it");

    // Viewers read but do not resolve; a note is required.
    let viewer = app.post(&format!("/api/v1/disputes/{id}/resolve"), &f.viewer.token, json!({"outcome": "overturned", "note": "ok"})).await;
    assert_eq!(viewer.status, 403);
    let no_note = app.post(&format!("/api/v1/disputes/{id}/resolve"), &f.owner.token, json!({"outcome": "overturned", "note": " "})).await;
    assert_eq!(no_note.status, 422, "{}", no_note.text);

    let resolved = app
        .post(
            &format!("/api/v1/disputes/{id}/resolve"),
            &f.channel_manager.token,
            json!({"outcome": "overturned", "note": "You were first."}),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);
    assert_eq!(resolved.body["status"], "overturned");
    assert_eq!(resolved.body["resolution_note"], "You were first.");
    assert_eq!(resolved.body["timeline"].as_array().expect("timeline").len(), 3);
    assert_eq!(deal_status(&app, &deal).await.0, "under_review");
    let twice = app.post(&format!("/api/v1/disputes/{id}/resolve"), &f.owner.token, json!({"outcome": "upheld", "note": "No."})).await;
    assert_eq!(twice.status, 409);

    // The re-opened deal is decided afresh.
    let owner = auth::authenticate_bearer(&app.state.ctx, &f.owner.token, None, &RequestMeta::default()).await.expect("owner");
    deals::transition(&app.state.ctx, &owner, &deal, DealStatus::Approved, Decision::default()).await.expect("approve");
    assert_eq!(deal_status(&app, &deal).await.0, "approved");

    let actions: Vec<String> = app
        .query(sql!(
            "SELECT action FROM audit_events WHERE action IN ('dispute.opened', 'dispute.overturned', 'deal.reopened') ORDER BY seq"
        ))
        .await
        .iter()
        .map(|r| r.get("action").expect("action"))
        .collect();
    assert_eq!(actions, ["dispute.opened", "dispute.overturned", "deal.reopened"]);
    let kinds = email_kinds(&app).await;
    assert!(kinds.contains(&"dispute_opened".to_owned()) && kinds.contains(&"dispute_resolved".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn an_upheld_rejection_is_final_and_only_rejected_deals_of_the_registering_side_are_disputed() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let deal = fresh_deal(&app, &f.workspace_id, &f.owner.token, &f.r1a, 2, DealStatus::Rejected).await;
    let path = format!("/api/v1/deals/{deal}/disputes");

    assert_eq!(app.post(&path, &f.r1a_member.token, json!({"reason": "x"})).await.status, 403, "a member may not");
    assert_eq!(app.post(&path, &f.r1b_admin.token, json!({"reason": "x"})).await.status, 404, "a sibling does not see it");
    assert_eq!(app.post(&path, &f.owner.token, json!({"reason": "x"})).await.status, 403, "staff do not dispute");
    assert_eq!(app.post(&path, &f.r1a_admin.token, json!({"reason": ""})).await.status, 422);

    // The distributor's admin disputes its reseller's deal.
    let opened = app.post(&path, &f.d1_admin.token, json!({"reason": "Our reseller was first."})).await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let id = opened.body["id"].as_str().expect("id").to_owned();
    let upheld = app
        .post(&format!("/api/v1/disputes/{id}/resolve"), &f.admin.token, json!({"outcome": "upheld", "note": "The other was first."}))
        .await;
    assert_eq!(upheld.status, 200, "{}", upheld.text);
    assert_eq!(deal_status(&app, &deal).await.0, "rejected");
    let again = app.post(&path, &f.r1a_admin.token, json!({"reason": "Please look again."})).await;
    assert_eq!(again.status, 409, "an upheld decision is final: {}", again.text);

    let approved = fresh_deal(&app, &f.workspace_id, &f.owner.token, &f.r1a, 3, DealStatus::Approved).await;
    let not_rejected = app.post(&format!("/api/v1/deals/{approved}/disputes"), &f.r1a_admin.token, json!({"reason": "x"})).await;
    assert_eq!(not_rejected.status, 409, "{}", not_rejected.text);
}

#[tokio::test]
async fn an_approved_extension_moves_the_protection_and_the_expiry_follows_the_new_end() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let deal = fresh_deal(&app, &f.workspace_id, &f.owner.token, &f.r1a, 4, DealStatus::Approved).await;
    let (_, until) = deal_status(&app, &deal).await;
    let until = until.expect("protected");
    let path = format!("/api/v1/deals/{deal}/extension-requests");

    assert_eq!(app.post(&path, &f.r1a_admin.token, json!({"reason": "x", "days": 0})).await.status, 422);
    assert_eq!(app.post(&path, &f.r1a_member.token, json!({"reason": "x", "days": 30})).await.status, 403);
    let asked = app.post(&path, &f.r1a_admin.token, json!({"reason": "The board meets in May.", "days": 30})).await;
    assert_eq!(asked.status, 201, "{}", asked.text);
    assert_eq!(asked.body["status"], "open");
    assert_eq!(asked.body["days"], 30);
    let id = asked.body["id"].as_str().expect("id").to_owned();
    assert_eq!(app.post(&path, &f.r1a_admin.token, json!({"reason": "x", "days": 5})).await.status, 409, "one open request");
    assert_eq!(app.get(&path, &f.d1_admin.token).await.body["data"][0]["id"], id.as_str());
    assert_eq!(app.get("/api/v1/extension-requests?status=open", &f.owner.token).await.body["data"][0]["id"], id.as_str());

    let approved = app.post(&format!("/api/v1/extension-requests/{id}/approve"), &f.channel_manager.token, json!({})).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(approved.body["status"], "approved");
    let new_until = deal_status(&app, &deal).await.1.expect("protected");
    assert_eq!(new_until - until, 30 * 86_400 * 1_000_000);

    // At the old end, nothing expires; at the new one, the deal does.
    app.clock.advance_seconds((until - app.state.ctx.now().micros()) / 1_000_000 + 60);
    app.run_jobs().await;
    assert_eq!(deal_status(&app, &deal).await.0, "approved");
    app.clock.advance_seconds(30 * 86_400);
    app.run_jobs().await;
    assert_eq!(deal_status(&app, &deal).await.0, "expired");

    let kinds = email_kinds(&app).await;
    assert!(kinds.contains(&"extension_requested".to_owned()) && kinds.contains(&"extension_approved".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn a_denied_extension_leaves_the_protection_as_it_was() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let deal = fresh_deal(&app, &f.workspace_id, &f.owner.token, &f.p3, 5, DealStatus::Approved).await;
    let before = deal_status(&app, &deal).await;
    let asked =
        app.post(&format!("/api/v1/deals/{deal}/extension-requests"), &f.p3_admin.token, json!({"reason": "More time", "days": 10})).await;
    let id = asked.body["id"].as_str().expect("id").to_owned();
    assert_eq!(app.post(&format!("/api/v1/extension-requests/{id}/deny"), &f.finance.token, json!({})).await.status, 403);
    let denied =
        app.post(&format!("/api/v1/extension-requests/{id}/deny"), &f.owner.token, json!({"note": "Close it this quarter."})).await;
    assert_eq!(denied.status, 200, "{}", denied.text);
    assert_eq!(denied.body["note"], "Close it this quarter.");
    assert_eq!(deal_status(&app, &deal).await, before);
    assert!(email_kinds(&app).await.contains(&"extension_denied".to_owned()));
}

#[tokio::test]
async fn the_dispute_form_opens_a_dispute_and_the_console_queue_resolves_it() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let deal = fresh_deal(&app, &f.workspace_id, &f.owner.token, &f.r1a, 6, DealStatus::Rejected).await;

    let partner = sign_in(&app, &f.r1a_admin.email).await;
    let form = partner.get(&format!("/portal/deals/{deal}/dispute")).await;
    assert_eq!(form.status, 200);
    assert!(form.text.contains("How a dispute works") && form.text.contains(REJECTION), "{}", form.text);
    let empty = partner.submit(&format!("/portal/deals/{deal}/dispute"), &[("reason", "")]).await;
    assert_eq!(empty.status, 422);
    assert!(empty.text.contains(r#"class="field-error" id="dispute-reason-error""#), "{}", empty.text);
    let sent = partner.submit(&format!("/portal/deals/{deal}/dispute"), &[("reason", "We were first, in March.")]).await;
    assert_eq!(sent.status, 303);
    let location = sent.headers.get("location").and_then(|l| l.to_str().ok()).expect("location").to_owned();
    assert!(location.starts_with("/portal/disputes/dsp_"), "{location}");
    let shown = partner.get(&location).await;
    assert_eq!(shown.status, 200);
    assert!(shown.text.contains("We were first, in March.") && shown.text.contains("Dispute opened"));

    let staff = sign_in(&app, &f.channel_manager.email).await;
    let queue = staff.get("/console/disputes").await;
    assert_eq!(queue.status, 200);
    assert!(
        queue.text.contains(&crate::authz_matrix::cell_customer(6))
            && queue.text.contains(REJECTION)
            && queue.text.contains("We were first, in March.")
    );
    let dispute_id = location.trim_start_matches("/portal/disputes/").split('?').next().expect("id").to_owned();
    let page = staff.get(&format!("/console/disputes/{dispute_id}")).await;
    assert_eq!(page.status, 200);
    let no_note = staff.submit(&format!("/console/disputes/{dispute_id}/resolve"), &[("outcome", "overturned"), ("note", "")]).await;
    assert_eq!(no_note.status, 422);
    let done = staff.submit(&format!("/console/disputes/{dispute_id}/resolve"), &[("outcome", "overturned"), ("note", "Agreed.")]).await;
    assert_eq!(done.status, 303);
    assert_eq!(deal_status(&app, &deal).await.0, "under_review");
    assert!(staff.get("/console/disputes").await.text.contains("No open disputes."));

    // The extension queue renders and decides.
    let approved = fresh_deal(&app, &f.workspace_id, &f.owner.token, &f.r1a, 7, DealStatus::Approved).await;
    let asked = partner.submit(&format!("/portal/deals/{approved}/extension"), &[("days", "14"), ("reason", "Budget in Q3.")]).await;
    assert_eq!(asked.status, 303);
    let queue = staff.get("/console/extension-requests").await;
    assert!(queue.text.contains("Budget in Q3.") && queue.text.contains("14 more days"));
    let id: String = app.query(sql!("SELECT id FROM deal_extension_requests")).await[0].get("id").expect("id");
    assert_eq!(staff.submit(&format!("/console/extension-requests/{id}/approve"), &[("note", "")]).await.status, 303);
    assert!(staff.get("/console/extension-requests").await.text.contains("No open requests."));
}

#[test]
fn docs_api_md_prints_the_dispute_transition_table() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md")).expect("docs/API.md");
    assert!(
        doc.contains(&trellis_deals::disputes::markdown_table()),
        "docs/API.md must print:\n{}",
        trellis_deals::disputes::markdown_table()
    );
}

// ---------------------------------------------------------------------------------------------
// Disputes of a commission (issue 10)

/// The ledger still holds together (`trellis ledger verify`).
async fn ledger_clean(app: &TestApp) {
    let report = trellis_incentives::ledger::verify(&app.state.ctx).await.expect("verify");
    assert!(report.is_clean(), "{}\n{}", report.summary(), report.problems().join("\n"));
}

/// The commissions of a partner's own organisation of `kind`, as its admin reads them.
async fn own_commissions(app: &TestApp, token: &str, kind: &str) -> Vec<serde_json::Value> {
    let reply = app.get(&format!("/api/v1/commissions?kind={kind}"), token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["data"].as_array().expect("data").clone()
}

/// The payable EUR balance of a partner, as the owner's key reads it.
async fn payable(app: &TestApp, f: &Fixture, partner: &PartnerId) -> i64 {
    let reply = app.get(&format!("/api/v1/partners/{partner}/balance"), &f.owner_key).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["balances"]
        .as_array()
        .expect("balances")
        .iter()
        .find(|b| b["currency"] == "EUR")
        .map_or(0, |b| b["payable_minor"].as_i64().unwrap_or(0))
}

#[tokio::test]
async fn a_clawback_is_disputed_by_its_own_organisation_alone_and_overturning_restores_it() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    // R1a earns €200.00 (D1 its €50.00 override), paid out; then the sale is refunded: clawbacks.
    let run = crate::payout_run_pages::approved_run(&app, &f, "clawback-disputes").await;
    let paid = app.post(&format!("/api/v1/payout-runs/{run}/mark-paid"), &f.finance.token, json!({})).await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    let refund = json!({"kind": "refund", "invoice_id": "CR-ST-1", "customer_external_id": "cus-ST-1", "refunds_invoice_id": "ST-1",
        "amount": {"amount_minor": 100_000, "currency": "EUR"}});
    assert_eq!(app.post("/api/v1/conversions", &f.owner_key, refund).await.status, 201);
    let clawbacks = own_commissions(&app, &f.r1a_admin.token, "clawback").await;
    assert_eq!(clawbacks.len(), 1, "{clawbacks:?}");
    let clawback = clawbacks[0]["id"].as_str().expect("id").to_owned();
    assert_eq!(clawbacks[0]["amount"]["amount_minor"], -20_000);
    assert_eq!(payable(&app, &f, &f.r1a).await, -20_000, "the clawback is owed");
    let path = format!("/api/v1/commissions/{clawback}/disputes");
    let reason = json!({"reason": "The customer kept the licences: the refund was for another order."});

    // Only R1a's admins and finance people: its distributor never sees its money (404), its
    // member may not (403), staff decide rather than dispute (403); a reason is required.
    assert_eq!(app.post(&path, &f.d1_admin.token, reason.clone()).await.status, 404, "a distributor never disputes a reseller's money");
    assert_eq!(app.post(&path, &f.r1b_admin.token, reason.clone()).await.status, 404);
    assert_eq!(app.post(&path, &f.r1a_member.token, reason.clone()).await.status, 403);
    assert_eq!(app.post(&path, &f.finance.token, reason.clone()).await.status, 403);
    assert_eq!(app.post(&path, &f.r1a_admin.token, json!({"reason": " "})).await.status, 422);
    let opened = app.post(&path, &f.r1a_admin.token, reason.clone()).await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    assert_eq!(opened.body["subject_type"], "commission");
    assert_eq!(opened.body["commission_id"], clawback.as_str());
    assert_eq!(opened.body["commission"]["kind"], "clawback");
    assert_eq!(opened.body["status"], "open");
    let id = opened.body["id"].as_str().expect("dispute id").to_owned();
    let again = app.post(&path, &f.r1a_admin.token, reason.clone()).await;
    assert_eq!(again.status, 409, "one open dispute of a commission: {}", again.text);

    // Who sees it: R1a's admins, staff; never its distributor, nor R1a's member.
    let mine = app.get("/api/v1/disputes", &f.r1a_admin.token).await;
    assert!(mine.text.contains(&id), "{}", mine.text);
    for token in [&f.d1_admin.token, &f.r1a_member.token, &f.r1b_admin.token] {
        assert_eq!(app.get(&format!("/api/v1/disputes/{id}"), token).await.status, 404);
        assert!(!app.get("/api/v1/disputes", token).await.text.contains(&id), "the list does not leak it either");
    }
    assert_eq!(app.get(&format!("/api/v1/disputes/{id}"), &f.channel_manager.token).await.status, 200);

    // Resolved by those who write money: a channel manager may not; finance overturns.
    let resolve = format!("/api/v1/disputes/{id}/resolve");
    let overturn = json!({"outcome": "overturned", "note": "Confirmed with sales: the refund was for another order."});
    assert_eq!(app.post(&resolve, &f.channel_manager.token, overturn.clone()).await.status, 403);
    let done = app.post(&resolve, &f.finance.token, overturn.clone()).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["status"], "overturned");
    assert_eq!(done.body["commission"]["status"], "reversed", "the clawback is undone");
    let restored = own_commissions(&app, &f.r1a_admin.token, "reversal").await;
    assert_eq!(restored.len(), 1, "{restored:?}");
    assert_eq!(
        (restored[0]["amount"]["amount_minor"].as_i64(), restored[0]["status"].as_str(), restored[0]["reason_code"].as_str()),
        (Some(20_000), Some("reversed"), Some("dispute_overturned"))
    );
    assert_eq!(payable(&app, &f, &f.r1a).await, 0, "nothing is owed any more");
    assert_eq!(payable(&app, &f, &f.d1).await, -5_000, "D1's own clawback stands");
    ledger_clean(&app).await;
    assert_eq!(app.post(&resolve, &f.finance.token, overturn).await.status, 409, "resolved once");
    assert_eq!(app.post(&path, &f.r1a_admin.token, reason).await.status, 409, "a reversed commission is settled");
    let timeline = app.get(&format!("/api/v1/disputes/{id}"), &f.r1a_admin.token).await;
    let events: Vec<&str> = timeline.body["timeline"].as_array().expect("timeline").iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(events, ["dispute_opened", "dispute_overturned"]);
    let restored_audit = app
        .query_i64(sql!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = $1 AND action = 'commission.restored'",
            &f.workspace_id
        ))
        .await;
    assert_eq!(restored_audit, 1, "the restoration is audited");

    // A payout run after it: R1a has nothing payable, D1's clawback carries over.
    let next = app.post("/api/v1/payout-runs", &f.finance.token, json!({"currency": "EUR"})).await;
    assert_eq!(next.status, 201, "{}", next.text);
    assert!(!next.text.contains(&format!("\"{}\"", f.r1a)), "{}", next.text);
    ledger_clean(&app).await;
}

#[tokio::test]
async fn a_held_commission_is_released_when_overturned_and_an_upheld_dispute_is_final() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let bonus =
        |note: &str| json!({"partner_id": f.p3, "amount": {"amount_minor": 7_500, "currency": "EUR"}, "kind": "bonus", "reason": note});
    let held = app.post("/api/v1/commissions", &f.finance.token, bonus("Q3 campaign")).await;
    assert_eq!(held.status, 201, "{}", held.text);
    let held_id = held.body["id"].as_str().expect("id").to_owned();
    let hold = app.post(&format!("/api/v1/commissions/{held_id}/hold"), &f.finance.token, json!({"reason": "manual"})).await;
    assert_eq!(hold.status, 200, "{}", hold.text);

    // P3's admin disputes the hold from the commission's page.
    let p3 = sign_in(&app, &f.p3_admin.email).await;
    let page = p3.get(&format!("/portal/commissions/{held_id}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Dispute this") && page.text.contains(&format!(r#"action="/portal/commissions/{held_id}/dispute""#)));
    let empty = p3.submit(&format!("/portal/commissions/{held_id}/dispute"), &[("reason", "")]).await;
    assert_eq!(empty.status, 422, "{}", empty.text);
    assert!(empty.text.contains("field-error"), "the error next to the field");
    let sent = p3.submit(&format!("/portal/commissions/{held_id}/dispute"), &[("reason", "The campaign ran as agreed.")]).await;
    assert_eq!(sent.status, 303, "{}", sent.text);
    let to = sent.headers.get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(to.starts_with("/portal/disputes/") && to.ends_with("?opened=1"), "{to}");
    let shown = p3.get(&to).await;
    assert!(shown.text.contains("finance team") && shown.text.contains("The campaign ran as agreed."), "{}", shown.text);
    let page = p3.get(&format!("/portal/commissions/{held_id}")).await;
    assert!(
        !page.text.contains("Dispute this") && page.text.contains("Open: waiting for the finance team"),
        "the dispute listed, no second form"
    );
    let id = to.trim_start_matches("/portal/disputes/").split('?').next().expect("id").to_owned();

    // The console queue shows it; finance has the table's choices, a channel manager none.
    let finance = sign_in(&app, &f.finance.email).await;
    let queue = finance.get("/console/disputes").await;
    assert!(queue.text.contains(&format!("/console/disputes/{id}")) && queue.text.contains("Bonus commission of €75.00"), "{}", queue.text);
    assert!(finance.get("/").await.text.contains("Commission disputes to resolve"), "a work queue of finance's console home");
    let one = finance.get(&format!("/console/disputes/{id}")).await;
    for choice in trellis_deals::disputes::choices("commission", trellis_deals::disputes::DisputeStatus::Open) {
        assert!(one.text.contains(choice.button), "{choice:?}: {}", one.text);
    }
    let manager = sign_in(&app, &f.channel_manager.email).await;
    assert!(!manager.get(&format!("/console/disputes/{id}")).await.text.contains("Resolve the dispute"));
    let resolved = finance
        .submit(&format!("/console/disputes/{id}/resolve"), &[("outcome", "overturned"), ("note", "Released: the campaign checks out.")])
        .await;
    assert_eq!(resolved.status, 303, "{}", resolved.text);
    let after = app.get(&format!("/api/v1/commissions/{held_id}"), &f.owner_key).await;
    assert_eq!(after.body["status"], "payable", "the hold is released: {}", after.text);
    ledger_clean(&app).await;
    // The partner's list of its disputes shows where it stands and the answer; the commission is
    // the organisation's money, so its member does not see the dispute, nor a distributor.
    let listed = p3.get("/portal/disputes").await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert!(
        listed.text.contains(&format!(r#"href="/portal/disputes/{id}""#))
            && listed.text.contains(&format!(r#"href="/portal/commissions/{held_id}""#))
            && listed.text.contains("Released: the campaign checks out."),
        "{}",
        listed.text
    );
    for other in [&f.d1_admin.email, &f.r1a_member.email] {
        let list = sign_in(&app, other).await.get("/portal/disputes").await;
        assert_eq!(list.status, 200);
        assert!(!list.text.contains(&id) && list.text.contains("No disputes"), "{other}: {}", list.text);
    }

    // Another commission: upheld, and final.
    let other = app.post("/api/v1/commissions", &f.finance.token, bonus("Q4 campaign")).await;
    let other_id = other.body["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/commissions/{other_id}/disputes");
    let opened = app.post(&path, &f.p3_admin.token, json!({"reason": "It should be €100.00."})).await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let dispute = opened.body["id"].as_str().expect("id").to_owned();
    let upheld = app
        .post(&format!("/api/v1/disputes/{dispute}/resolve"), &f.admin.token, json!({"outcome": "upheld", "note": "The plan says €75.00."}))
        .await;
    assert_eq!(upheld.status, 200, "{}", upheld.text);
    assert_eq!(upheld.body["commission"]["status"], "payable", "an upheld dispute changes nothing");
    assert_eq!(app.post(&path, &f.p3_admin.token, json!({"reason": "Again."})).await.status, 409, "the decision is final");
    let resolved_emails = email_kinds(&app).await.iter().filter(|k| *k == "dispute_resolved").count();
    assert!(resolved_emails >= 2, "the partner is told each outcome ({resolved_emails})");
    ledger_clean(&app).await;
}
