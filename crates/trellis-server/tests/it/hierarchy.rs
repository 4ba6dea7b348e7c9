//! The hierarchy visibility rule as a property (notes/reliability.md T-A2): for random partner
//! forests (≤ 25 partners, depth ≤ 6), a channel manager limited to the partners they manage, and
//! random re-parenting steps, three answers must agree for every observer and every partner:
//!
//! 1. the set-based rule the list uses (`GET /api/v1/partners`, and `partners::list` with the
//!    same caller's scope),
//! 2. the per-object rule (`GET /api/v1/partners/{id}` and `ScopedTx::can_see_partner`),
//! 3. a reference model written here: walk a partner's ancestors; the observer sees it when the
//!    observer is one of them (a partner) or manages one of them (an assigned channel manager).
//!
//! Re-parenting is applied through `PATCH /api/v1/partners/{id}` and must take effect on the very
//! next request; moving a partner under its own subtree must be refused with 422 and change nothing.
//! One app serves every case; each case gets a fresh workspace.
//!
//! Beside the random forests: one fixed tree six levels deep, and a distributor with 10,000
//! resellers (the wide tree, also used by the row-security test in rls.rs).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;
use trellis_core::{PartnerId, PartnerScopeSetting, PartnerType, VendorRole};
use trellis_directory::{NewPartner, PartnerFilter, partners};
use trellis_identity::{RequestMeta, Scope, api_keys, auth, members, workspaces};
use trellis_testkit::fixture::Fixture;
use trellis_testkit::{TEST_FIXTURES, TestApp, bulk};

const MAX_PARTNERS: usize = 25;
const MAX_DEPTH: usize = 6;

/// One generated case: the forest (each partner's parent has a lower index), which partners the
/// channel manager manages, and re-parenting steps `(partner, new parent or None)`.
#[derive(Debug, Clone)]
struct Case {
    parents: Vec<Option<usize>>,
    managed: Vec<bool>,
    moves: Vec<(usize, Option<usize>)>,
}

fn cases() -> impl Strategy<Value = Case> {
    (1..=MAX_PARTNERS)
        .prop_flat_map(|n| {
            (
                proptest::collection::vec((0u8..4, any::<u16>()), n),
                proptest::collection::vec(proptest::bool::weighted(0.2), n),
                proptest::collection::vec((any::<u16>(), any::<u16>()), 0..=4),
            )
        })
        .prop_map(|(shape, managed, moves)| {
            let n = shape.len();
            let mut parents: Vec<Option<usize>> = Vec::with_capacity(n);
            let mut depth: Vec<usize> = Vec::with_capacity(n);
            for (i, (root_die, pick)) in shape.iter().enumerate() {
                let candidates: Vec<usize> = (0..i).filter(|j| depth[*j] < MAX_DEPTH).collect();
                let parent =
                    if *root_die == 0 || candidates.is_empty() { None } else { Some(candidates[usize::from(*pick) % candidates.len()]) };
                depth.push(parent.map_or(1, |p| depth[p] + 1));
                parents.push(parent);
            }
            let moves = moves
                .iter()
                .map(|(x, p)| {
                    let target = usize::from(*p) % (n + 1);
                    (usize::from(*x) % n, (target < n).then_some(target))
                })
                .collect();
            Case { parents, managed, moves }
        })
}

// ---------------------------------------------------------------------------------------------
// The reference model

fn ancestors_or_self(parents: &[Option<usize>], q: usize) -> Vec<usize> {
    let mut out = vec![q];
    let mut at = q;
    while let Some(p) = parents[at] {
        assert!(out.len() <= parents.len(), "the model has a cycle");
        out.push(p);
        at = p;
    }
    out
}

fn seen_by_partner(parents: &[Option<usize>], observer: usize) -> BTreeSet<usize> {
    (0..parents.len()).filter(|q| ancestors_or_self(parents, *q).contains(&observer)).collect()
}

fn seen_by_manager(parents: &[Option<usize>], managed: &[bool]) -> BTreeSet<usize> {
    (0..parents.len()).filter(|q| ancestors_or_self(parents, *q).iter().any(|a| managed[*a])).collect()
}

// ---------------------------------------------------------------------------------------------
// Running a case

#[derive(Default)]
struct Stats {
    cases: AtomicUsize,
    partners: AtomicUsize,
    checks: AtomicUsize,
    requests: AtomicUsize,
    divergences: AtomicUsize,
    reparent_stale_access: AtomicUsize,
    moves_applied: AtomicUsize,
    moves_refused: AtomicUsize,
}

struct Observer {
    label: String,
    key: String,
    expected: BTreeSet<usize>,
}

/// Compares the three answers for every observer; returns the divergences.
async fn check(app: &TestApp, ids: &[PartnerId], observers: &[Observer], parents: &[Option<usize>], stats: &Stats) -> Vec<String> {
    stats.checks.fetch_add(1, Ordering::Relaxed);
    let ctx = &app.state.ctx;
    let mut divergences = Vec::new();
    for observer in observers {
        let expected: BTreeSet<String> = observer.expected.iter().map(|q| ids[*q].to_string()).collect();
        // (1) the list, over HTTP…
        let listed = app.get("/api/v1/partners?limit=500", &observer.key).await;
        stats.requests.fetch_add(1, Ordering::Relaxed);
        let rows: Vec<String> = listed.body["data"]
            .as_array()
            .map(|rows| rows.iter().filter_map(|p| p["id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let listed: BTreeSet<String> = rows.iter().cloned().collect();
        // A partner under two partners the manager manages is still listed once.
        if rows.len() != listed.len() || !rows.windows(2).all(|pair| pair[0] > pair[1]) {
            divergences.push(format!("{}: the list repeats a partner or is not newest first: {rows:?}", observer.label));
        }
        if listed != expected {
            divergences.push(format!("{}: list {listed:?} but the model says {expected:?}", observer.label));
        }
        // …and in-process with the scope the same credential gets.
        let scope = match auth::authenticate_bearer(ctx, &observer.key, None, &RequestMeta::default()).await {
            Ok(scope) => scope,
            Err(err) => {
                divergences.push(format!("{}: the key no longer authenticates: {err}", observer.label));
                continue;
            }
        };
        let filter = PartnerFilter { limit: Some(500), ..PartnerFilter::default() };
        let domain: BTreeSet<String> =
            partners::list(ctx, &scope, &filter).await.map(|l| l.items.into_iter().map(|p| p.id.to_string()).collect()).unwrap_or_default();
        if domain != expected {
            divergences.push(format!("{}: partners::list {domain:?} but the model says {expected:?}", observer.label));
        }
        // (2) every partner of the case, one by one.
        for (q, id) in ids.iter().enumerate() {
            let visible = observer.expected.contains(&q);
            let reply = app.get(&format!("/api/v1/partners/{id}"), &observer.key).await;
            stats.requests.fetch_add(1, Ordering::Relaxed);
            let wanted = if visible { 200 } else { 404 };
            if reply.status != wanted {
                divergences.push(format!("{}: GET partner #{q} answered {} but the model says {wanted}", observer.label, reply.status));
            } else if visible {
                let parent = parents[q].map(|p| ids[p].to_string());
                if reply.body["parent_id"].as_str().map(str::to_owned) != parent {
                    divergences.push(format!(
                        "{}: partner #{q} has parent {} but the model says {parent:?}",
                        observer.label, reply.body["parent_id"]
                    ));
                }
            }
            let seen = match scope.read(ctx).await {
                Ok(mut tx) => tx.can_see_partner(id).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if seen.as_ref() != Ok(&visible) {
                divergences.push(format!("{}: ScopedTx::can_see_partner(#{q}) = {seen:?} but the model says {visible}", observer.label));
            }
        }
    }
    divergences
}

fn observers(case_parents: &[Option<usize>], managed: &[bool], keys: &[String], manager_key: &str, owner_key: &str) -> Vec<Observer> {
    let n = case_parents.len();
    let mut out: Vec<Observer> = (0..n)
        .map(|i| Observer { label: format!("partner #{i}"), key: keys[i].clone(), expected: seen_by_partner(case_parents, i) })
        .collect();
    out.push(Observer {
        label: "assigned channel manager".into(),
        key: manager_key.to_owned(),
        expected: seen_by_manager(case_parents, managed),
    });
    out.push(Observer { label: "owner".into(), key: owner_key.to_owned(), expected: (0..n).collect() });
    out
}

async fn run_case(app: &TestApp, number: usize, case: &Case, stats: &Stats) -> Result<(), String> {
    let ctx = &app.state.ctx;
    let n = case.parents.len();
    stats.cases.fetch_add(1, Ordering::Relaxed);
    stats.partners.fetch_add(n, Ordering::Relaxed);
    let tag = format!("{}-{number}", std::process::id());
    let boot = workspaces::bootstrap(ctx, &format!("Case {tag}"), &format!("owner-{tag}@hierarchy.example"), "case-password-1", "EUR")
        .await
        .map_err(|e| format!("bootstrap: {e}"))?;
    let system = Scope::system(boot.workspace_id.clone(), &TEST_FIXTURES);
    let manager_email = format!("cm-{tag}@hierarchy.example");
    let invitation = members::add(ctx, &system, &manager_email, None, VendorRole::ChannelManager, Some(PartnerScopeSetting::Assigned))
        .await
        .map_err(|e| format!("add manager: {e}"))?;
    let manager_id = trellis_server::demo::accept_as_operator(ctx, &invitation.token, None, "case-password-1")
        .await
        .map_err(|e| format!("accept: {e}"))?;
    let manager_key =
        api_keys::create_for_member_by_operator(ctx, &boot.workspace_id, &manager_email, "cm").await.map_err(|e| format!("cm key: {e}"))?;

    let mut ids: Vec<PartnerId> = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    for i in 0..n {
        let input = NewPartner {
            name: format!("P{i}"),
            contact_email: format!("p{i}@case.example"),
            types: vec![PartnerType::Reseller, PartnerType::Distributor],
            parent_id: case.parents[i].map(|p| ids[p].clone()),
            manager_user_id: case.managed[i].then(|| manager_id.clone()),
            ..NewPartner::default()
        };
        let partner = partners::create(ctx, &system, input).await.map_err(|e| format!("create #{i}: {e}"))?;
        let key =
            api_keys::create_partner_key(ctx, &system, &partner.id, "observer", None, None).await.map_err(|e| format!("key #{i}: {e}"))?;
        ids.push(partner.id);
        keys.push(key.secret);
    }

    let mut parents = case.parents.clone();
    let first = check(app, &ids, &observers(&parents, &case.managed, &keys, &manager_key, &boot.api_key), &parents, stats).await;
    stats.divergences.fetch_add(first.len(), Ordering::Relaxed);
    if !first.is_empty() {
        return Err(first.join("\n"));
    }

    for (step, (x, new_parent)) in case.moves.iter().enumerate() {
        // Refused when the new parent is the partner itself or one of its descendants.
        let cycle = new_parent.is_some_and(|p| ancestors_or_self(&parents, p).contains(x));
        let body = json!({"parent_id": new_parent.map(|p| ids[p].to_string())});
        let reply = app.patch(&format!("/api/v1/partners/{}", ids[*x]), &boot.api_key, body).await;
        stats.requests.fetch_add(1, Ordering::Relaxed);
        if cycle {
            stats.moves_refused.fetch_add(1, Ordering::Relaxed);
            if reply.status != 422 || reply.body["errors"][0]["field"] != "parent_id" {
                let problem = format!("move {step}: #{x} under its own subtree #{new_parent:?} answered {} {}", reply.status, reply.text);
                stats.divergences.fetch_add(1, Ordering::Relaxed);
                return Err(problem);
            }
        } else {
            stats.moves_applied.fetch_add(1, Ordering::Relaxed);
            if reply.status != 200 {
                stats.divergences.fetch_add(1, Ordering::Relaxed);
                return Err(format!("move {step}: #{x} → {new_parent:?} answered {} {}", reply.status, reply.text));
            }
            parents[*x] = *new_parent;
        }
        // The very next requests must see the new tree.
        let after = check(app, &ids, &observers(&parents, &case.managed, &keys, &manager_key, &boot.api_key), &parents, stats).await;
        stats.divergences.fetch_add(after.len(), Ordering::Relaxed);
        stats.reparent_stale_access.fetch_add(after.len(), Ordering::Relaxed);
        if !after.is_empty() {
            return Err(format!("after move {step} (#{x} → {new_parent:?}):\n{}", after.join("\n")));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_visibility_matches_an_ancestor_walk_across_random_forests_and_reparenting() {
    let app = Arc::new(TestApp::spawn().await);
    // Each case builds a workspace and up to 25 partners with keys: keep CI time modest.
    let case_count = if app.is_postgres() { 8 } else { 24 };
    let stats = Arc::new(Stats::default());
    let started = std::time::Instant::now();
    let handle = tokio::runtime::Handle::current();
    let (runner_app, runner_stats) = (app.clone(), stats.clone());

    let outcome = tokio::task::spawn_blocking(move || {
        let config = Config { cases: case_count, max_shrink_iters: 24, failure_persistence: None, ..Config::default() };
        let mut runner = TestRunner::new(config);
        let number = AtomicUsize::new(0);
        runner
            .run(&cases(), |case| {
                let k = number.fetch_add(1, Ordering::SeqCst);
                handle.block_on(run_case(&runner_app, k, &case, &runner_stats)).map_err(TestCaseError::fail)
            })
            .map_err(|e| e.to_string())
    })
    .await
    .expect("the property runner finished");

    let load = |a: &AtomicUsize| a.load(Ordering::Relaxed);
    println!(
        "FIGURE hierarchy backend={} cases={} partners={} checks={} moves_applied={} moves_refused={} requests={} divergences={} reparent_stale_access={} seconds={:.1}",
        app.backend_name(),
        load(&stats.cases),
        load(&stats.partners),
        load(&stats.checks),
        load(&stats.moves_applied),
        load(&stats.moves_refused),
        load(&stats.requests),
        load(&stats.divergences),
        load(&stats.reparent_stale_access),
        started.elapsed().as_secs_f64()
    );
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    assert_eq!(load(&stats.divergences), 0);
    assert!(load(&stats.cases) >= case_count as usize, "the runner ran {} cases", load(&stats.cases));
}

// ---------------------------------------------------------------------------------------------
// Deep and wide trees

/// A chain six partners deep (P0 ← P1 ← … ← P5) with a leaf branching off each of P0…P4 (P6…P10),
/// the channel manager managing P2. The moves lift the lower half of the chain (P3 with P4, P5, P9,
/// P10) to the top, hang it under the leaf P8 (the chain is then eight deep), try to move P0 under
/// its own deepest descendant P5 (refused), and move the leaf P9 across under P7.
fn deep_case() -> Case {
    let mut parents: Vec<Option<usize>> = (0..6usize).map(|i| i.checked_sub(1)).collect();
    parents.extend((0..5).map(Some));
    let mut managed = vec![false; parents.len()];
    managed[2] = true;
    Case { parents, managed, moves: vec![(3, None), (3, Some(8)), (0, Some(5)), (9, Some(7))] }
}

#[tokio::test]
async fn partner_visibility_matches_the_ancestor_walk_in_a_tree_six_deep() {
    let app = TestApp::spawn().await;
    let stats = Stats::default();
    let case = deep_case();
    let depth = (0..case.parents.len()).map(|q| ancestors_or_self(&case.parents, q).len()).max();
    assert_eq!(depth, Some(6), "the case is six levels deep");
    let outcome = run_case(&app, 0, &case, &stats).await;
    println!(
        "FIGURE hierarchy_deep backend={} depth=6 partners={} moves_applied={} moves_refused={} requests={} divergences={}",
        app.backend_name(),
        case.parents.len(),
        stats.moves_applied.load(Ordering::Relaxed),
        stats.moves_refused.load(Ordering::Relaxed),
        stats.requests.load(Ordering::Relaxed),
        stats.divergences.load(Ordering::Relaxed)
    );
    outcome.unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(stats.moves_refused.load(Ordering::Relaxed), 1, "moving P0 under P5 is refused");
}

/// The fixture's D1 with this many more resellers under it.
pub(crate) const WIDE: usize = 10_000;

/// The fixture with [`WIDE`] resellers added under D1, and a partner key of two of them.
pub(crate) struct WideTree {
    pub f: Fixture,
    pub children: Vec<PartnerId>,
    /// Keys of `children[7]` and `children[8]`.
    pub child_key: String,
    pub sibling_key: String,
}

impl WideTree {
    pub(crate) async fn build(app: &TestApp) -> Self {
        let f = Fixture::build(app).await;
        let children = bulk::add_resellers(app, &f.workspace_id, &f.d1, "Wide reseller", WIDE).await;
        let system = Scope::system(f.workspace_id.clone(), &TEST_FIXTURES);
        let key = |id: PartnerId| {
            let ctx = app.state.ctx.clone();
            let system = system.clone();
            async move { api_keys::create_partner_key(&ctx, &system, &id, "wide", None, None).await.expect("partner key").secret }
        };
        let child_key = key(children[7].clone()).await;
        let sibling_key = key(children[8].clone()).await;
        Self { f, children, child_key, sibling_key }
    }
}

/// Every id of `GET /api/v1/partners`, following the cursor.
pub(crate) async fn list_all(app: &TestApp, bearer: &str) -> (BTreeSet<String>, usize) {
    let mut ids = BTreeSet::new();
    let mut pages = 0;
    let mut path = "/api/v1/partners?limit=500".to_owned();
    loop {
        let reply = app.get(&path, bearer).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        pages += 1;
        for row in reply.body["data"].as_array().expect("data") {
            assert!(ids.insert(row["id"].as_str().expect("id").to_owned()), "a partner listed twice");
        }
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/partners?limit=500&cursor={cursor}"),
            None => return (ids, pages),
        }
    }
}

#[tokio::test]
async fn a_distributor_with_ten_thousand_resellers_sees_them_all_and_each_reseller_only_itself() {
    let app = TestApp::spawn().await;
    let w = WideTree::build(&app).await;
    let f = &w.f;
    let mut expected: BTreeSet<String> = w.children.iter().map(ToString::to_string).collect();
    expected.extend([f.d1.to_string(), f.r1a.to_string(), f.r1b.to_string()]);

    let started = std::time::Instant::now();
    let (by_distributor, pages) = list_all(&app, &f.d1_admin.token).await;
    let distributor_seconds = started.elapsed().as_secs_f64();
    assert_eq!(by_distributor.len(), expected.len(), "the distributor lists its whole subtree");
    assert!(by_distributor == expected, "the distributor's list is exactly its subtree");
    let (by_manager, _) = list_all(&app, &f.assigned_manager.token).await;
    assert!(by_manager == expected, "the channel manager of D1 lists exactly D1's subtree");

    let (by_child, _) = list_all(&app, &w.child_key).await;
    assert_eq!(by_child, BTreeSet::from([w.children[7].to_string()]), "a reseller lists only itself");
    for (who, bearer) in [("a sibling", &w.child_key), ("R1a", &f.r1a_admin.token), ("D2", &f.d2_admin.token)] {
        for target in [&w.children[8], &w.children[WIDE - 1], &f.d1] {
            let reply = app.get(&format!("/api/v1/partners/{target}"), bearer).await;
            assert_eq!(reply.status, 404, "{who} reads {target}: {}", reply.text);
        }
    }
    for target in [&w.children[0], &w.children[WIDE / 2], &w.children[WIDE - 1]] {
        assert_eq!(app.get(&format!("/api/v1/partners/{target}"), &f.d1_admin.token).await.status, 200);
        assert_eq!(app.get(&format!("/api/v1/partners/{target}"), &f.assigned_manager.token).await.status, 200);
    }

    // Re-parenting inside the wide tree takes effect on the next request.
    let moved = app.patch(&format!("/api/v1/partners/{}", w.children[7]), &f.owner_key, json!({"parent_id": w.children[8]})).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    let (by_new_parent, _) = list_all(&app, &w.sibling_key).await;
    assert_eq!(by_new_parent, BTreeSet::from([w.children[7].to_string(), w.children[8].to_string()]));
    assert_eq!(app.get(&format!("/api/v1/partners/{}", w.children[8]), &w.child_key).await.status, 404, "never the parent");
    let (after_move, _) = list_all(&app, &f.d1_admin.token).await;
    assert!(after_move == expected, "the distributor still sees the moved reseller, now two levels down");
    println!(
        "FIGURE hierarchy_wide backend={} children={WIDE} distributor_listed={} pages={pages} distributor_list_seconds={distributor_seconds:.2}",
        app.backend_name(),
        by_distributor.len()
    );
}
