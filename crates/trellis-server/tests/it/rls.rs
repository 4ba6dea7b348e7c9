//! PostgreSQL row-level security, the second wall behind the application's `Scope`
//! (notes/reliability.md T-A3): every partner-owned table is covered, the runtime role cannot
//! bypass it, a partner transaction fails closed, and with the application-side partner filter
//! switched off RLS alone still stops every cross-partner read of the authorization matrix.
//!
//! The catalog and fail-closed tests only mean something on PostgreSQL and skip with a message on
//! SQLite. The filter-off test runs on both: on SQLite (no RLS) it must observe leaks, which proves
//! the switch really turns the application filter off.

use trellis_db::{RowSecurity, Sql, sql};
use trellis_testkit::{TEST_FIXTURES, TestApp};

use crate::authz_matrix::{self, Who, World};
use crate::hierarchy::{WIDE, WideTree, list_all};

fn skip_unless_postgres(app: &TestApp, test: &str) -> bool {
    if app.is_postgres() {
        return false;
    }
    println!("SKIP {test}: row-level security exists only on PostgreSQL; set TRELLIS_TEST_POSTGRES_URL to run it");
    true
}

#[tokio::test]
async fn every_partner_table_forces_row_security_and_the_runtime_role_cannot_bypass_it() {
    let app = TestApp::spawn().await;
    if skip_unless_postgres(&app, "rls catalog guard") {
        return;
    }

    let tables = app
        .query(sql!(
            "SELECT CAST(c.relname AS TEXT) AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS force_rls,
                    (SELECT COUNT(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
                    CAST(pg_get_userbyid(c.relowner) AS TEXT) AS owner
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
               AND (c.relname = 'partners' OR EXISTS (
                    SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'partner_id' AND a.attnum > 0 AND NOT a.attisdropped))
             ORDER BY c.relname"
        ))
        .await;
    let role = app.query(sql!("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'trellis_app'")).await;
    let owned_by_app = app
        .query_i64(sql!(
            "SELECT COUNT(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND pg_get_userbyid(c.relowner) = 'trellis_app'"
        ))
        .await;

    let mut rls_missing = Vec::new();
    let mut force_missing = Vec::new();
    let mut policy_missing = Vec::new();
    let mut names = Vec::new();
    for table in &tables {
        let name: String = table.get("name").expect("name");
        if !table.get::<bool>("rls").expect("rls") {
            rls_missing.push(name.clone());
        }
        if !table.get::<bool>("force_rls").expect("force") {
            force_missing.push(name.clone());
        }
        if table.get::<i64>("policies").expect("policies") < 1 {
            policy_missing.push(name.clone());
        }
        assert_ne!(table.get::<String>("owner").expect("owner"), "trellis_app", "{name} is owned by the runtime role");
        names.push(name);
    }
    assert_eq!(role.len(), 1, "the runtime role trellis_app exists");
    let superuser: bool = role[0].get("rolsuper").expect("rolsuper");
    let bypass: bool = role[0].get("rolbypassrls").expect("rolbypassrls");
    println!(
        "FIGURE rls_catalog tenant_tables={} rls_missing={} force_rls_missing={} policy_missing={} bypass_roles_for_app={} tables_owned_by_app={owned_by_app} tables={}",
        tables.len(),
        rls_missing.len(),
        force_missing.len(),
        policy_missing.len(),
        usize::from(superuser) + usize::from(bypass),
        names.join(",")
    );
    for wanted in ["partners", "partner_users", "api_keys"] {
        assert!(names.iter().any(|n| n == wanted), "the guard must see the table {wanted} (found {names:?})");
    }
    assert!(rls_missing.is_empty(), "tables without row security: {rls_missing:?}");
    assert!(force_missing.is_empty(), "tables whose owner is not subject to row security (no FORCE): {force_missing:?}");
    assert!(policy_missing.is_empty(), "tables with row security but no policy: {policy_missing:?}");
    assert!(!superuser, "trellis_app must not be a superuser");
    assert!(!bypass, "trellis_app must not have BYPASSRLS");
    assert_eq!(owned_by_app, 0, "trellis_app must own no table (owners may be exempt from row security)");
    // A view reads its tables with its owner's rights unless it is `security_invoker`: then the
    // tables' row security applies to the runtime role reading through it.
    let views = app
        .query(sql!(
            "SELECT CAST(c.relname AS TEXT) AS name, COALESCE('security_invoker=true' = ANY(c.reloptions), FALSE) AS invoker
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind = 'v' ORDER BY c.relname"
        ))
        .await;
    let names: Vec<String> = views.iter().map(|v| v.get("name").expect("name")).collect();
    assert!(names.iter().any(|n| n == "commission_states"), "the guard must see the view commission_states (found {names:?})");
    let definer: Vec<&String> =
        views.iter().zip(&names).filter(|(v, _)| !v.get::<bool>("invoker").expect("invoker")).map(|(_, n)| n).collect();
    assert!(definer.is_empty(), "views that bypass row security (not security_invoker): {definer:?}");
}

async fn count_as(app: &TestApp, security: &RowSecurity, table: &str) -> i64 {
    count_where(app, security, table, "TRUE").await
}

/// The rows of `table` that belong to a partner: a restricted channel manager, being staff, sees
/// the vendor's own rows (partner id NULL, e.g. staff keys and sessions) as staff do.
async fn count_partner_rows_as(app: &TestApp, security: &RowSecurity, table: &str) -> i64 {
    let column = match table {
        "partners" => "id",
        "partner_ancestry" => "descendant_id",
        _ => "partner_id",
    };
    count_where(app, security, table, &format!("{column} IS NOT NULL")).await
}

#[expect(clippy::disallowed_methods, reason = "the test of row security itself opens transactions with a chosen RowSecurity")]
async fn count_where(app: &TestApp, security: &RowSecurity, table: &str, condition: &str) -> i64 {
    let mut tx = app.state.ctx.db().read(security).await.expect("transaction");
    let mut q = Sql::build("SELECT COUNT(*) AS n FROM ");
    q.push(table).push(" WHERE ").push(condition);
    let n = tx.fetch_i64(q).await.expect("count");
    // End the transaction now: a dropped one is rolled back lazily, and a connection left idle in
    // a transaction would block dropping the test schema.
    tx.commit().await.expect("end transaction");
    n
}

#[tokio::test]
async fn a_partner_transaction_without_matching_partner_ids_sees_no_rows() {
    let app = TestApp::spawn().await;
    if skip_unless_postgres(&app, "rls fail-closed") {
        return;
    }
    let world = World::build(&app).await;
    // Sign the reseller in so that the sessions table has a partner row as well.
    let _ = app.login(&world.f.r1a_admin.email, trellis_testkit::fixture::PASSWORD).await;
    let nobody = RowSecurity::Partner("ptn_00000000000000000000000000".into());
    let empty = RowSecurity::Partner(String::new());
    let no_manager = RowSecurity::Manager("usr_00000000000000000000000000".into());
    let r1a_only = RowSecurity::Partner(world.f.r1a.to_string());

    let mut rows = Vec::new();
    for table in ["partners", "partner_ancestry", "partner_users", "api_keys", "sessions"] {
        let all = count_as(&app, &RowSecurity::Unrestricted, table).await;
        let unmatched = count_as(&app, &nobody, table).await;
        let no_ids = count_as(&app, &empty, table).await;
        let unmanaged = count_partner_rows_as(&app, &no_manager, table).await;
        rows.push(format!("{table}:{all}/{unmatched}/{no_ids}/{unmanaged}"));
        assert!(all > 0, "{table} has rows to hide");
        assert_eq!(unmatched, 0, "{table}: a partner transaction for an unknown partner sees rows");
        assert_eq!(no_ids, 0, "{table}: a partner transaction with an empty partner id sees rows");
        assert_eq!(unmanaged, 0, "{table}: a manager transaction for a user who manages nobody sees partners' rows");
    }
    // The positive control: the same transaction for R1a sees R1a and nothing else.
    assert_eq!(count_as(&app, &r1a_only, "partners").await, 1);
    // The runtime role without any visible-partner setting fails closed.
    let mut tx = app.state.ctx.db().read_granted(&TEST_FIXTURES).await.expect("transaction");
    tx.execute(sql!("SET LOCAL ROLE trellis_app")).await.expect("switch to the runtime role");
    let without_setting = tx.fetch_i64(sql!("SELECT COUNT(*) AS n FROM partners")).await.expect("count");
    tx.commit().await.expect("end transaction");
    println!("FIGURE rls_fail_closed tables={} without_setting={without_setting} (all/unmatched/no_ids/unmanaged)", rows.join(" "));
    assert_eq!(without_setting, 0, "trellis_app without an acting partner or manager sees partners");
}

/// Nextest runs every test in its own process, so the process-wide switch cannot leak into other
/// tests; under plain `cargo test` (threads in one process) it could, so the test only runs there.
fn own_process() -> bool {
    std::env::var("NEXTEST_EXECUTION_MODE").is_ok_and(|mode| mode == "process-per-test")
}

#[tokio::test]
async fn row_security_alone_stops_cross_partner_reads_when_the_application_filter_is_off() {
    if !own_process() {
        println!("SKIP rls filter-off: needs nextest's process-per-test mode (the switch is process-wide)");
        return;
    }
    // At localhost, as the matrix's own replay: passkeys need a domain name (ADR 0027).
    let app = TestApp::spawn_at_localhost().await;
    let world = World::build(&app).await;
    let matrix = authz_matrix::load();
    let reseller = world.f.r1a_admin.token.clone();
    let before = app.get("/api/v1/partners?limit=500", &reseller).await;
    assert_eq!(before.body["data"].as_array().map(Vec::len), Some(1), "with the filter on R1a sees only itself");

    trellis_identity::scope::disable_app_partner_filter_for_tests();
    let list = app.get("/api/v1/partners?limit=500", &reseller).await;
    let ancestor = app.get(&format!("/api/v1/partners/{}", world.f.d1), &reseller).await;
    let sibling_users = app.get(&format!("/api/v1/partners/{}/users", world.f.r1b), &reseller).await;
    let tally = authz_matrix::replay(&app, &world, &matrix, Who::is_restricted).await;

    let listed = list.body["data"].as_array().map(Vec::len).unwrap_or(0);
    let leaks = tally.unexpected_allow + tally.list_foreign_ids + usize::from(listed > 1) + usize::from(ancestor.status == 200);
    println!(
        "FIGURE rls_app_filter_off backend={} routes={} identities={} listed={listed} ancestor_get={} sibling_users={} {} leaks_with_app_filter_off={leaks}",
        app.backend_name(),
        matrix.route.len(),
        world.whos.iter().filter(|w| w.is_restricted()).count(),
        ancestor.status,
        sibling_users.status,
        tally.counts(),
    );
    if app.is_postgres() {
        assert_eq!(list.status, 200, "{}", list.text);
        assert_eq!(listed, 1, "RLS must keep the reseller's list to itself: {}", list.text);
        assert_eq!(list.body["data"][0]["id"], world.f.r1a.as_str());
        assert_eq!(ancestor.status, 404, "{}", ancestor.text);
        assert_eq!(sibling_users.status, 404, "{}", sibling_users.text);
        assert!(tally.is_clean(), "with the application filter off, RLS let these through:\n{}", tally.failures.join("\n"));
    } else {
        // SQLite has no second wall: the switch must visibly open the first one.
        assert!(listed > 1, "with the filter off the SQLite list should leak: {}", list.text);
        assert_eq!(ancestor.status, 200, "with the filter off the SQLite read should leak: {}", ancestor.text);
        assert_eq!(sibling_users.status, 200, "with the filter off the SQLite user list should leak: {}", sibling_users.text);
        assert!(tally.unexpected_allow > 0 && tally.list_foreign_ids > 0, "the matrix replay should see the leaks: {}", tally.counts());
    }
}

#[tokio::test]
async fn row_security_alone_keeps_the_resellers_of_a_wide_tree_apart_when_the_application_filter_is_off() {
    if !own_process() {
        println!("SKIP rls wide filter-off: needs nextest's process-per-test mode (the switch is process-wide)");
        return;
    }
    let app = TestApp::spawn().await;
    let w = WideTree::build(&app).await;
    trellis_identity::scope::disable_app_partner_filter_for_tests();
    let first_page = app.get("/api/v1/partners?limit=500", &w.child_key).await;
    let listed = first_page.body["data"].as_array().map_or(0, Vec::len);
    let sibling = app.get(&format!("/api/v1/partners/{}", w.children[8]), &w.child_key).await;
    let parent = app.get(&format!("/api/v1/partners/{}", w.f.d1), &w.child_key).await;
    let by_other_distributor = app.get(&format!("/api/v1/partners/{}", w.children[0]), &w.f.d2_admin.token).await;
    println!(
        "FIGURE rls_wide_filter_off backend={} children={WIDE} child_listed={listed} sibling_get={} parent_get={} other_distributor_get={}",
        app.backend_name(),
        sibling.status,
        parent.status,
        by_other_distributor.status
    );
    if app.is_postgres() {
        let (distributor_sees, _) = list_all(&app, &w.f.d1_admin.token).await;
        assert_eq!(distributor_sees.len(), WIDE + 3, "RLS alone gives the distributor its whole subtree");
        assert_eq!(listed, 1, "RLS must keep a reseller's list to itself: {}", first_page.text);
        assert_eq!(sibling.status, 404, "{}", sibling.text);
        assert_eq!(parent.status, 404, "{}", parent.text);
        assert_eq!(by_other_distributor.status, 404, "{}", by_other_distributor.text);
    } else {
        assert!(listed > 1, "with the filter off the SQLite list should leak: {}", first_page.text);
        assert_eq!(sibling.status, 200, "with the filter off the SQLite read should leak: {}", sibling.text);
    }
}

#[tokio::test]
async fn row_security_keeps_a_commission_dispute_to_its_own_organisation_and_a_deal_dispute_to_the_tree() {
    let app = TestApp::spawn().await;
    if skip_unless_postgres(&app, "rls commission disputes") {
        return;
    }
    let f = trellis_testkit::fixture::Fixture::build(&app).await;
    // A dispute of each subject, of R1a (rows written as the vendor: the policy is what is tested).
    let mut tx = app.state.ctx.db().write_granted(&TEST_FIXTURES).await.expect("transaction");
    for (id, subject_type) in [("dsp_rlscommission", "commission"), ("dsp_rlsdeal", "deal")] {
        tx.execute(sql!(
            "INSERT INTO disputes (workspace_id, id, subject_type, subject_id, partner_id, status, reason, created_at)
             VALUES ($1, $2, $3, 'x', $4, 'open', 'rls', 0)",
            &f.workspace_id,
            id,
            subject_type,
            &f.r1a
        ))
        .await
        .expect("dispute");
    }
    tx.commit().await.expect("commit");
    let seen = |partner: &trellis_core::PartnerId, subject: &str| {
        let security = RowSecurity::Partner(partner.to_string());
        let condition = format!("subject_type = '{subject}' AND id LIKE 'dsp_rls%'");
        let app = &app;
        async move { count_where(app, &security, "disputes", &condition).await }
    };
    assert_eq!(seen(&f.r1a, "commission").await, 1, "the organisation sees its own commission's dispute");
    assert_eq!(seen(&f.d1, "commission").await, 0, "its distributor never does");
    assert_eq!(seen(&f.r1a, "deal").await, 1);
    assert_eq!(seen(&f.d1, "deal").await, 1, "a deal's dispute stays visible to the distributor");
    assert_eq!(seen(&f.r1b, "deal").await, 0);
    let manager = RowSecurity::Manager(f.assigned_manager.user_id.clone());
    assert_eq!(count_where(&app, &manager, "disputes", "id LIKE 'dsp_rls%'").await, 2, "D1's manager sees both");
}
