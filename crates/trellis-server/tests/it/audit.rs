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
    let boot =
        trellis_identity::workspaces::bootstrap(&app.state.ctx, "Audited", "owner@audited.example", "a long enough passphrase", "EUR")
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

/// The console's audit log: the target by name (linked), the actor by name, the changes as a
/// before/after table with readable values, and filters offered as pickers that narrow the list.
#[tokio::test]
async fn the_console_audit_log_names_objects_shows_changes_as_a_table_and_filters_from_pickers() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let by_owner = app
        .post("/api/v1/partners", &f.owner.token, json!({"name": "Owner Made", "contact_email": "o@made.example", "types": ["agency"]}))
        .await;
    assert_eq!(by_owner.status, 201, "{}", by_owner.text);
    let owners_partner = by_owner.body["id"].as_str().expect("id").to_owned();
    let by_manager = app
        .post(
            "/api/v1/partners",
            &f.channel_manager.token,
            json!({"name": "Manager Made", "contact_email": "m@made.example", "types": ["reseller"]}),
        )
        .await;
    assert_eq!(by_manager.status, 201, "{}", by_manager.text);
    let renamed = app.patch(&format!("/api/v1/partners/{owners_partner}"), &f.owner.token, json!({"name": "Owner Made Ltd"})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let owner = crate::pages::sign_in(&app, &f.owner.email).await;

    let page = owner.get(&format!("/console/audit?object=partner&target_id={owners_partner}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let html = &page.text;
    assert!(html.contains(&format!(r#"<a href="/console/partners/{owners_partner}">Owner Made Ltd</a>"#)), "{html}");
    assert!(html.contains("Only events of <strong>Owner Made Ltd</strong>"), "{html}");
    assert!(html.contains(r#"<table class="changes responsive">"#), "{html}");
    assert!(
        html.contains(r#"<th scope="row" data-label="Field">name</th><td data-label="Before">Owner Made</td><td data-label="After">Owner Made Ltd</td>"#),
        "{html}"
    );
    // A created partner's fields: nothing before, the value after; no raw JSON.
    assert!(html.contains(r#"<td data-label="Before">—</td><td data-label="After">agency</td>"#), "{html}");
    assert!(!html.contains(r#"["agency"]"#), "{html}");
    assert!(html.contains("owner@vendor.example"), "the actor by name and email: {html}");
    assert!(!html.contains("Manager Made"), "narrowed to one partner: {html}");

    // The pickers offer the people, actions and kinds of object there are.
    let all = owner.get("/console/audit").await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert!(all.text.contains(&format!(r#"<option value="{}">"#, f.channel_manager.user_id)), "{}", all.text);
    assert!(all.text.contains(r#"<option value="api_key">Any API key</option>"#), "{}", all.text);
    assert!(all.text.contains(r#"<option value="partner.updated">partner.updated</option>"#), "{}", all.text);
    assert!(all.text.contains(r#"<option value="partner">partner</option>"#), "{}", all.text);
    assert!(!all.text.contains(r#"name="target_id" type="text""#) && !all.text.contains("Target id"), "no typed ids: {}", all.text);

    let mine = owner.get(&format!("/console/audit?who={}", f.channel_manager.user_id)).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert!(mine.text.contains("Manager Made"), "{}", mine.text);
    assert!(!mine.text.contains("Owner Made"), "only the channel manager's events: {}", mine.text);
    assert!(mine.text.contains(&format!(r#"<option value="{}" selected>"#, f.channel_manager.user_id)), "{}", mine.text);

    let updates = owner.get("/console/audit?action=partner.updated").await;
    assert_eq!(updates.status, 200, "{}", updates.text);
    assert!(updates.text.contains("Owner Made Ltd"), "{}", updates.text);
    assert!(!updates.text.contains("<code>partner.created</code>"), "{}", updates.text);
    assert!(!updates.text.contains("Manager Made"), "{}", updates.text);

    let users = owner.get("/console/audit?object=user").await;
    assert_eq!(users.status, 200, "{}", users.text);
    assert!(!users.text.contains("<code>partner."), "only events about users: {}", users.text);
    assert!(users.text.contains("<code>member.added</code>") || users.text.contains("No events match"), "{}", users.text);
}

/// Names are resolved within the caller's visibility: a channel manager restricted to D1's subtree
/// gets D1's and R1a's names, a neutral label for D2 (outside), for a partner that does not exist,
/// and for a user of D2; staff are named.
#[tokio::test]
async fn audit_names_never_show_partners_outside_the_callers_visibility() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let meta = trellis_identity::scope::RequestMeta::default();
    let scope = trellis_identity::auth::authenticate_bearer(&app.state.ctx, &f.assigned_manager.token, None, &meta)
        .await
        .expect("the restricted manager's scope");
    let missing = "ptn_00000000000000000000000000";
    let refs = [
        ("partner", f.d1.to_string()),
        ("partner", f.r1a.to_string()),
        ("partner", f.d2.to_string()),
        ("partner", missing.to_owned()),
        ("user", f.d2_admin.user_id.clone()),
        ("user", f.r1a_admin.user_id.clone()),
        ("user", f.owner.user_id.clone()),
    ];
    let names = audit::names(&app.state.ctx, &scope, &refs).await.expect("names");
    assert_eq!(names.label("partner", f.d1.as_str()), "D1");
    assert_eq!(names.label("partner", f.r1a.as_str()), "R1a");
    assert_eq!(names.label("partner", f.d2.as_str()), format!("partner {}", f.d2));
    assert_eq!(names.label("partner", missing), format!("partner {missing}"));
    assert_eq!(names.label("user", &f.d2_admin.user_id), format!("user {}", f.d2_admin.user_id));
    assert!(names.get(&f.r1a_admin.user_id).is_some_and(|n| n.contains(&f.r1a_admin.email)), "{names:?}");
    assert!(names.get(&f.owner.user_id).is_some_and(|n| n.contains("owner@vendor.example")), "{names:?}");

    // The owner sees everything.
    let owner = trellis_identity::auth::authenticate_bearer(&app.state.ctx, &f.owner.token, None, &meta).await.expect("owner scope");
    let all = audit::names(&app.state.ctx, &owner, &refs).await.expect("names");
    assert_eq!(all.label("partner", f.d2.as_str()), "D2");
}

/// The outbox: a channel manager sees the emails they caused (a partner-user invitation) and no
/// one else's, can open their own and not another's, and has no jobs or "send again"; the kind
/// filter is a picker of the kinds there are.
#[tokio::test]
async fn a_channel_manager_sees_their_own_outbox_entries_and_not_others() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let invite = |token: &str, partner: &str, email: &str| {
        let (token, path, email) = (token.to_owned(), format!("/api/v1/partners/{partner}/users"), email.to_owned());
        let app = &app;
        async move { app.post(&path, &token, json!({"email": email, "role": "member"})).await }
    };
    let mine = invite(&f.channel_manager.token, f.r1a.as_str(), "cm-invitee@r1a.example").await;
    assert_eq!(mine.status, 201, "{}", mine.text);
    let theirs = invite(&f.owner.token, f.d2.as_str(), "owner-invitee@d2.example").await;
    assert_eq!(theirs.status, 201, "{}", theirs.text);
    let email_of = |to: &'static str| {
        let app = &app;
        let ws = f.workspace_id.clone();
        async move {
            let rows =
                app.query(sql!("SELECT id, caused_by_user_id FROM emails WHERE workspace_id = $1 AND to_address = $2", ws, to)).await;
            let row = rows.first().expect("an email");
            (row.get::<String>("id").expect("id"), row.get::<Option<String>>("caused_by_user_id").expect("causer"))
        }
    };
    let (my_email, my_causer) = email_of("cm-invitee@r1a.example").await;
    let (their_email, their_causer) = email_of("owner-invitee@d2.example").await;
    assert_eq!(my_causer.as_deref(), Some(f.channel_manager.user_id.as_str()));
    assert_eq!(their_causer.as_deref(), Some(f.owner.user_id.as_str()));

    let manager = crate::pages::sign_in(&app, &f.channel_manager.email).await;
    let list = manager.get("/console/outbox").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(list.text.contains("cm-invitee@r1a.example"), "{}", list.text);
    assert!(!list.text.contains("owner-invitee@d2.example"), "another's email: {}", list.text);
    assert!(!list.text.contains(r#"href="/console/jobs""#), "{}", list.text);
    assert!(list.text.contains(r#"<option value="partner_invitation">partner invitation</option>"#), "{}", list.text);
    assert_eq!(manager.get(&format!("/console/outbox/{my_email}")).await.status, 200);
    let other = manager.get(&format!("/console/outbox/{their_email}")).await;
    assert_eq!(other.status, 404, "{}", other.text);
    let own = manager.get(&format!("/console/outbox/{my_email}")).await;
    assert!(!own.text.contains("Send again"), "{}", own.text);

    // The owner sees both, and the kind picker narrows.
    let owner = crate::pages::sign_in(&app, &f.owner.email).await;
    let all = owner.get("/console/outbox").await;
    assert!(all.text.contains("cm-invitee@r1a.example") && all.text.contains("owner-invitee@d2.example"), "{}", all.text);
    let kinds: Vec<String> = app
        .query(sql!("SELECT DISTINCT kind FROM emails WHERE workspace_id = $1", f.workspace_id))
        .await
        .iter()
        .map(|r| r.get::<String>("kind").expect("kind"))
        .collect();
    for kind in &kinds {
        assert!(all.text.contains(&format!(r#"<option value="{kind}">"#)), "{kind}: {}", all.text);
    }
    let invitation_kind = app
        .query(sql!("SELECT kind FROM emails WHERE workspace_id = $1 AND id = $2", f.workspace_id, my_email))
        .await
        .first()
        .map(|r| r.get::<String>("kind").expect("kind"))
        .expect("kind");
    let other_kind = kinds.iter().find(|k| **k != invitation_kind);
    let narrowed = owner.get(&format!("/console/outbox?kind={invitation_kind}")).await;
    assert!(narrowed.text.contains("cm-invitee@r1a.example"), "{}", narrowed.text);
    if let Some(other_kind) = other_kind {
        let none = owner.get(&format!("/console/outbox?kind={other_kind}")).await;
        assert!(!none.text.contains("cm-invitee@r1a.example"), "{}", none.text);
    }
}
