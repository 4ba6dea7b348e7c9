//! The audit trail (API.md "Audit", notes/reliability.md T-H2): the hash chain verifies after real
//! changes and flags every kind of tampering done directly in the database (an edited field, a
//! deleted middle row, two swapped rows, a truncated tail); the table is append-only for the
//! application; and `GET /api/v1/audit-events` shows who changed what, filters, and is owner/admin only.

use serde_json::json;
use trellis_core::WorkspaceId;
use trellis_db::{Sql, sql};
use trellis_identity::audit;
use trellis_testkit::TestApp;
use trellis_testkit::fixture::Fixture;

/// A fresh app whose workspace has a few audited changes made over the API; returns the
/// workspace and the number of events in its chain.
async fn audited_app() -> (TestApp, WorkspaceId, i64) {
    let app = TestApp::spawn().await;
    let boot = trellis_identity::workspaces::bootstrap(&app.state.ctx, "Audited", "owner@audited.example", "audited-password-1", "EUR")
        .await
        .expect("bootstrap");
    let key = boot.api_key;
    let mut last = String::new();
    for i in 0..3 {
        let reply = app
            .post(
                "/api/v1/partners",
                &key,
                json!({"name": format!("Partner {i}"), "contact_email": format!("p{i}@a.example"), "types": ["reseller"]}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        last = reply.body["id"].as_str().expect("id").to_owned();
    }
    assert_eq!(app.patch(&format!("/api/v1/partners/{last}"), &key, json!({"name": "Renamed"})).await.status, 200);
    assert_eq!(app.post("/api/v1/members", &key, json!({"email": "cm@audited.example", "role": "channel_manager"})).await.status, 201);
    let events = app.query_i64(sql!("SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = $1", boot.workspace_id)).await;
    assert!(events >= 8, "expected at least 8 audit events, found {events}");
    (app, boot.workspace_id, events)
}

/// The verifier's answer for one workspace: `None` when the chain is intact, else where it broke.
async fn verify(app: &TestApp, workspace_id: &WorkspaceId) -> Option<(i64, String)> {
    let reports = audit::verify_all(app.state.ctx.db()).await.expect("verify");
    reports.into_iter().find(|r| &r.workspace_id == workspace_id).expect("a report for the workspace").broken_at
}

/// Lifts the append-only protection, as someone with direct database access would.
fn drop_append_only_triggers(app: &TestApp) -> Vec<Sql> {
    if app.is_postgres() {
        vec![sql!("ALTER TABLE audit_events DISABLE TRIGGER USER")]
    } else {
        vec![sql!("DROP TRIGGER audit_events_no_update"), sql!("DROP TRIGGER audit_events_no_delete")]
    }
}

/// Checks that the verifier flags the chain at `seq` after a tampering of `kind`.
fn assert_detected(kind: &str, broken: Option<(i64, String)>, seq: i64) {
    println!("FIGURE audit_tamper kind={kind} tamperings=1 detected={} broken_at={broken:?}", usize::from(broken.is_some()));
    assert_eq!(broken.as_ref().map(|b| b.0), Some(seq), "{kind}: {broken:?}");
}

async fn tamper(app: &TestApp, statements: Vec<Sql>) {
    let mut all = drop_append_only_triggers(app);
    all.extend(statements);
    app.execute(all).await.expect("tampering directly in the database");
}

#[tokio::test]
async fn the_audit_chain_of_every_workspace_verifies_after_audited_changes() {
    let app = TestApp::spawn().await;
    let _fixture = Fixture::build(&app).await;

    let reports = audit::verify_all(app.state.ctx.db()).await.expect("verify");

    println!("FIGURE audit_verify workspaces={} events={}", reports.len(), reports.iter().map(|r| r.events).sum::<i64>());
    assert_eq!(reports.len(), 2, "the fixture has two workspaces");
    for report in &reports {
        assert!(report.events > 3, "{report:?}");
        assert_eq!(report.broken_at, None, "{report:?}");
    }
}

#[tokio::test]
async fn editing_a_field_of_an_audit_event_is_detected() {
    let (app, workspace_id, _) = audited_app().await;
    assert_eq!(verify(&app, &workspace_id).await, None);

    tamper(
        &app,
        vec![sql!("UPDATE audit_events SET changes = $2 WHERE workspace_id = $1 AND seq = 4", workspace_id, r#"{"name":[null,"Forged"]}"#)],
    )
    .await;

    assert_detected("edit", verify(&app, &workspace_id).await, 4);
}

#[tokio::test]
async fn deleting_an_audit_event_from_the_middle_of_the_chain_is_detected() {
    let (app, workspace_id, _) = audited_app().await;
    assert_eq!(verify(&app, &workspace_id).await, None);

    tamper(&app, vec![sql!("DELETE FROM audit_events WHERE workspace_id = $1 AND seq = 3", workspace_id)]).await;

    // The row after the gap is flagged.
    assert_detected("delete_middle", verify(&app, &workspace_id).await, 4);
}

#[tokio::test]
async fn swapping_the_order_of_two_audit_events_is_detected() {
    let (app, workspace_id, _) = audited_app().await;
    assert_eq!(verify(&app, &workspace_id).await, None);

    tamper(
        &app,
        vec![
            sql!("UPDATE audit_events SET seq = -1 WHERE workspace_id = $1 AND seq = 2", workspace_id),
            sql!("UPDATE audit_events SET seq = 2 WHERE workspace_id = $1 AND seq = 5", workspace_id),
            sql!("UPDATE audit_events SET seq = 5 WHERE workspace_id = $1 AND seq = -1", workspace_id),
        ],
    )
    .await;

    assert_detected("swap", verify(&app, &workspace_id).await, 2);
}

#[tokio::test]
async fn truncating_the_tail_of_the_audit_chain_is_detected() {
    let (app, workspace_id, events) = audited_app().await;
    assert_eq!(verify(&app, &workspace_id).await, None);

    tamper(&app, vec![sql!("DELETE FROM audit_events WHERE workspace_id = $1 AND seq = $2", workspace_id, events)]).await;

    // The chain up to the new last row is intact; its head no longer matches.
    assert_detected("truncate_tail", verify(&app, &workspace_id).await, events - 1);
}

#[tokio::test]
async fn the_database_refuses_to_update_or_delete_audit_events() {
    let (app, workspace_id, events) = audited_app().await;

    let update =
        app.execute(vec![sql!("UPDATE audit_events SET action = 'forged' WHERE workspace_id = $1 AND seq = 1", workspace_id)]).await;
    let delete = app.execute(vec![sql!("DELETE FROM audit_events WHERE workspace_id = $1 AND seq = 1", workspace_id)]).await;

    assert!(update.is_err(), "an UPDATE of audit_events must fail");
    assert!(delete.is_err(), "a DELETE of audit_events must fail");
    assert!(update.as_ref().err().is_some_and(|e| e.to_string().contains("append-only")), "{update:?}");
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = $1", workspace_id)).await, events);
    assert_eq!(verify(&app, &workspace_id).await, None);
    let mut privileges = "n/a (sqlite triggers)".to_owned();
    if app.is_postgres() {
        // The runtime role partner requests run as may only add and read events.
        let rows = app
            .query(sql!(
                "SELECT has_table_privilege('trellis_app', 'audit_events', 'UPDATE') AS up, has_table_privilege('trellis_app', 'audit_events', 'DELETE') AS del,
                        has_table_privilege('trellis_app', 'audit_events', 'INSERT') AS ins, has_table_privilege('trellis_app', 'audit_events', 'SELECT') AS sel"
            ))
            .await;
        let get = |c: &str| rows[0].get::<bool>(c).expect("privilege");
        assert!(!get("up") && !get("del"), "trellis_app may change audit events");
        assert!(get("ins") && get("sel"), "trellis_app must be able to append and read audit events");
        privileges = "none".to_owned();
    }
    println!(
        "FIGURE audit_append_only update_blocked={} delete_blocked={} update_privilege={privileges}",
        update.is_err(),
        delete.is_err()
    );
}

#[tokio::test]
async fn the_owner_reads_who_changed_what_and_filters_by_target_action_and_time() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let created = app
        .post("/api/v1/partners", &f.owner.token, json!({"name": "Audited", "contact_email": "a@audited.example", "types": ["agency"]}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().expect("id").to_owned();
    app.clock.advance_seconds(60);
    let since = trellis_core::Clock::now(&app.clock).to_rfc3339();
    let renamed = app.patch(&format!("/api/v1/partners/{id}"), &f.owner_key, json!({"name": "Audited Ltd"})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);

    let by_target = app.get(&format!("/api/v1/audit-events?target_id={id}"), &f.owner.token).await;
    let by_action = app.get("/api/v1/audit-events?action=partner.updated&limit=500", &f.admin.token).await;
    let by_time = app.get(&format!("/api/v1/audit-events?since={since}&limit=500"), &f.owner.token).await;

    assert_eq!(by_target.status, 200, "{}", by_target.text);
    let events = by_target.body["data"].as_array().expect("data");
    assert_eq!(events.len(), 2, "{}", by_target.text);
    let (updated, creation) = (&events[0], &events[1]);
    assert_eq!(updated["action"], "partner.updated");
    assert_eq!(updated["target_type"], "partner");
    assert_eq!(updated["target_id"], id.as_str());
    assert_eq!(updated["actor"]["type"], "api_key");
    assert_eq!(updated["actor"]["email"], "owner@vendor.example");
    assert_eq!(updated["changes"], json!({"name": ["Audited", "Audited Ltd"]}));
    assert_eq!(updated["ip"], "127.0.0.1");
    assert_eq!(creation["action"], "partner.created");
    assert_eq!(creation["actor"]["type"], "user");
    assert_eq!(creation["actor"]["id"], f.owner.user_id.as_str());
    assert_eq!(creation["actor"]["email"], "owner@vendor.example");
    assert_eq!(creation["changes"]["name"], json!([null, "Audited"]));
    assert_eq!(creation["changes"]["types"], json!([null, ["agency"]]));

    assert_eq!(by_action.status, 200, "{}", by_action.text);
    let actions = by_action.body["data"].as_array().expect("data");
    assert!(actions.iter().all(|e| e["action"] == "partner.updated"), "{}", by_action.text);
    assert!(actions.iter().any(|e| e["target_id"] == id.as_str()), "{}", by_action.text);

    assert_eq!(by_time.status, 200, "{}", by_time.text);
    let recent = by_time.body["data"].as_array().expect("data");
    assert_eq!(recent.len(), 1, "only the rename happened after {since}: {}", by_time.text);
    assert_eq!(recent[0]["action"], "partner.updated");
    assert!(recent[0]["at"].as_str().is_some_and(|at| at >= since.as_str()));

    for (who, credential) in [
        ("channel manager", &f.channel_manager.token),
        ("viewer", &f.viewer.token),
        ("partner admin", &f.r1a_admin.token),
        ("partner key", &f.r1a_key),
    ] {
        let denied = app.get("/api/v1/audit-events", credential).await;
        assert_eq!(denied.status, 403, "{who}: {}", denied.text);
        assert_eq!(denied.body["code"], "forbidden", "{who}");
    }
    let invalid = app.get("/api/v1/audit-events?since=last-tuesday", &f.owner.token).await;
    assert_eq!(invalid.status, 422, "{}", invalid.text);
    assert_eq!(invalid.body["errors"][0]["field"], "since");
}

#[tokio::test]
async fn moving_an_audit_event_to_another_partner_is_detected() {
    let (app, workspace_id, _) = audited_app().await;
    let partnered = app
        .query_i64(sql!("SELECT MIN(seq) AS n FROM audit_events WHERE workspace_id = $1 AND subject_partner_id IS NOT NULL", workspace_id))
        .await;

    tamper(
        &app,
        vec![sql!(
            "UPDATE audit_events SET subject_partner_id = 'ptn_elsewhere' WHERE workspace_id = $1 AND seq = $2",
            workspace_id,
            partnered
        )],
    )
    .await;

    assert_detected("partner", verify(&app, &workspace_id).await, partnered);
}

/// Migration 20261206000001 filled in `audit_events.subject_partner_id` of earlier events with SQL; the
/// code fills it in for new ones (`audit::record`). On every event of the fixture (partners,
/// users invited and added, keys, members) both rules give the same partner, on both backends.
#[tokio::test]
async fn the_migrations_rule_for_an_events_partner_agrees_with_the_code_on_every_event() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let invited =
        app.post(&format!("/api/v1/partners/{}/users", f.r1a), &f.owner.token, json!({"email": "new@r1a.example", "role": "member"})).await;
    assert_eq!(invited.status, 201, "{}", invited.text);
    let migration_rule = if app.is_postgres() {
        "CASE WHEN target_type = 'partner' THEN target_id
              WHEN jsonb_typeof(changes::jsonb -> 'partner_id' -> 1) = 'string' THEN changes::jsonb -> 'partner_id' ->> 1 END"
    } else {
        "CASE WHEN target_type = 'partner' THEN target_id
              WHEN json_type(changes, '$.partner_id[1]') = 'text' THEN json_extract(changes, '$.partner_id[1]') END"
    };
    let mut q = Sql::build("SELECT seq, action, subject_partner_id, ");
    q.push(migration_rule).push(" AS migrated FROM audit_events");
    let rows = app.query(q).await;
    let mut named_in_changes = 0;
    for row in &rows {
        let (stored, migrated): (Option<String>, Option<String>) =
            (row.get("subject_partner_id").expect("subject_partner_id"), row.get("migrated").expect("migrated"));
        let action: String = row.get("action").expect("action");
        assert_eq!(stored, migrated, "event {action} (seq {})", row.get::<i64>("seq").expect("seq"));
        if stored.is_some() && !action.starts_with("partner.") {
            named_in_changes += 1;
        }
    }
    assert!(rows.len() > 20 && named_in_changes > 3, "{} events, {named_in_changes} naming a partner in their changes", rows.len());
}
