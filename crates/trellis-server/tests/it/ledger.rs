//! The double-entry ledger (issue 10, ADR 0016; notes/reliability.md T-E1, T-E8): balanced entries
//! post and the running balances follow; anything else is refused and changes nothing; postings
//! are append-only in the database itself; random sequences of entries keep every balance equal
//! to the sum of its postings; `trellis ledger verify` finds a tampered balance or posting and
//! exits 1; concurrent postings to one balance all land; and money stays private to each
//! organisation (a reseller's sibling and its distributor read none of it), in the application
//! and, on PostgreSQL, in row security alone.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use trellis_core::{Currency, Error, PartnerId};
use trellis_db::{RowSecurity, Sql, sql};
use trellis_identity::Scope;
use trellis_identity::scope::RequestMeta;
use trellis_incentives::ledger::{self, Account, JournalEntry, LedgerReport, PostedEntry};
use trellis_testkit::TestApp;
use trellis_testkit::fixture::Fixture;

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

async fn scope_of(app: &TestApp, token: &str) -> Scope {
    trellis_identity::auth::authenticate_bearer(&app.state.ctx, token, None, &RequestMeta::default()).await.expect("scope")
}

/// Posts `entry` as `scope` in a transaction of its own, committed only when the posting succeeds.
async fn post(app: &TestApp, scope: &Scope, entry: JournalEntry) -> Result<PostedEntry, Error> {
    let ctx = &app.state.ctx;
    let mut tx = scope.write(ctx).await?;
    let posted = ledger::post(&mut tx, scope, ctx.now(), entry).await?;
    tx.commit().await?;
    Ok(posted)
}

/// A commission of `amount` earned by `partner`: the vendor's expense against the partner's pending.
fn accrual(partner: &PartnerId, reference: &str, amount: i64) -> JournalEntry {
    JournalEntry::new("commission.accrued", "commission", reference).debit(Account::VendorExpense, partner, eur(), amount).credit(
        Account::CommissionPending,
        partner,
        eur(),
        amount,
    )
}

/// Pending becomes payable.
fn made_payable(partner: &PartnerId, reference: &str, amount: i64) -> JournalEntry {
    JournalEntry::new("commission.payable", "commission", reference).debit(Account::CommissionPending, partner, eur(), amount).credit(
        Account::CommissionPayable,
        partner,
        eur(),
        amount,
    )
}

/// Balance amounts by account as the holder reads them (owed to the partner is positive).
async fn amounts(app: &TestApp, scope: &Scope, partner: &PartnerId) -> Result<BTreeMap<String, i64>, Error> {
    Ok(ledger::balances(&app.state.ctx, scope, partner).await?.into_iter().map(|b| (b.account.to_string(), b.amount_minor())).collect())
}

/// (postings, balance rows, audit events) of a workspace.
async fn counts(app: &TestApp, f: &Fixture) -> (i64, i64, i64) {
    let ws = &f.workspace_id;
    (
        app.query_i64(sql!("SELECT COUNT(*) AS n FROM ledger_postings WHERE workspace_id = $1", ws)).await,
        app.query_i64(sql!("SELECT COUNT(*) AS n FROM ledger_balances WHERE workspace_id = $1", ws)).await,
        app.query_i64(sql!("SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = $1", ws)).await,
    )
}

async fn verified(app: &TestApp) -> LedgerReport {
    ledger::verify(&app.state.ctx).await.expect("verify")
}

#[tokio::test]
async fn balanced_entries_post_and_the_balances_follow() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let finance = scope_of(&app, &f.finance.token).await;

    let accrued = post(&app, &finance, accrual(&f.r1a, "com_1", 1000)).await.expect("accrual");
    let payable = post(&app, &finance, made_payable(&f.r1a, "com_1", 600)).await.expect("payable");
    post(&app, &finance, accrual(&f.r1b, "com_2", 250)).await.expect("another partner's accrual");

    assert_eq!(accrued.amount_minor, 1000);
    assert_eq!(
        payable.balances.iter().map(|b| (b.account, b.amount_minor())).collect::<Vec<_>>(),
        [(Account::CommissionPending, 400), (Account::CommissionPayable, 600)]
    );
    let owner = scope_of(&app, &f.owner.token).await;
    let r1a = amounts(&app, &owner, &f.r1a).await.expect("balances");
    assert_eq!(
        r1a,
        BTreeMap::from([
            ("commission_payable".to_owned(), 600),
            ("commission_pending".to_owned(), 400),
            ("vendor_expense".to_owned(), 1000)
        ])
    );
    let audited = app
        .query(sql!(
            "SELECT target_id, subject_partner_id FROM audit_events WHERE workspace_id = $1 AND action = 'ledger.posted' ORDER BY seq",
            f.workspace_id
        ))
        .await;
    assert_eq!(audited.len(), 3, "one audit event per entry");
    assert_eq!(audited[0].get::<String>("target_id").expect("target"), accrued.id.to_string());
    assert_eq!(audited[0].get::<String>("subject_partner_id").expect("partner"), f.r1a.to_string());
    let report = verified(&app).await;
    println!("FIGURE ledger_post backend={} {}", app.backend_name(), report.summary());
    assert!(report.is_clean(), "{report:?}");
    assert_eq!((report.entries, report.postings, report.balances), (3, 6, 5));
}

#[tokio::test]
async fn a_refused_entry_changes_nothing_and_only_finance_admins_and_the_system_post() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let finance = scope_of(&app, &f.finance.token).await;
    post(&app, &finance, accrual(&f.r1a, "com_1", 1000)).await.expect("accrual");
    let before = counts(&app, &f).await;
    let usd = Currency::parse("USD").expect("USD");

    let unbalanced = JournalEntry::new("commission.accrued", "commission", "com_2")
        .debit(Account::VendorExpense, &f.r1a, eur(), 500)
        .credit(Account::CommissionPending, &f.r1a, eur(), 499);
    let mixed = JournalEntry::new("commission.accrued", "commission", "com_3").debit(Account::VendorExpense, &f.r1a, eur(), 500).credit(
        Account::CommissionPending,
        &f.r1a,
        usd,
        500,
    );
    let other_workspace = accrual(&f.other_partner, "com_4", 500);
    let refusals = [
        ("unbalanced", post(&app, &finance, unbalanced).await),
        ("zero", post(&app, &finance, accrual(&f.r1a, "com_5", 0)).await),
        ("negative", post(&app, &finance, accrual(&f.r1a, "com_6", -10)).await),
        ("too large", post(&app, &finance, accrual(&f.r1a, "com_7", ledger::MAX_LINE_MINOR + 1)).await),
        ("mixed currencies", post(&app, &finance, mixed).await),
        ("another workspace's partner", post(&app, &finance, other_workspace).await),
        ("posted twice", post(&app, &finance, accrual(&f.r1a, "com_1", 1000)).await),
        ("a partner", post(&app, &scope_of(&app, &f.r1a_admin.token).await, accrual(&f.r1a, "com_8", 5)).await),
        ("a channel manager", post(&app, &scope_of(&app, &f.channel_manager.token).await, accrual(&f.r1a, "com_9", 5)).await),
    ];

    let mut shown = Vec::new();
    for (what, outcome) in &refusals {
        let code = match outcome {
            Err(Error::Validation(_)) => "422",
            Err(Error::Conflict(_)) => "409",
            Err(Error::Forbidden(_)) => "403",
            other => panic!("{what}: expected a refusal, got {other:?}"),
        };
        shown.push(format!("{}={code}", what.replace(' ', "_")));
    }
    let after = counts(&app, &f).await;
    println!("FIGURE ledger_refusals backend={} {} changed_rows={}", app.backend_name(), shown.join(" "), usize::from(after != before));
    assert_eq!(shown[0], "unbalanced=422");
    assert_eq!(shown[6], "posted_twice=409");
    assert_eq!(shown[7], "a_partner=403");
    assert_eq!(after, before, "(postings, balances, audit events) changed after refused entries");
    assert!(verified(&app).await.is_clean());

    // The system posts (payout runs and commission jobs run for no person).
    let system = Scope::system(f.workspace_id.clone(), &trellis_testkit::TEST_FIXTURES);
    post(&app, &system, accrual(&f.r1a, "com_10", 5)).await.expect("the system posts");
}

/// Posts `entries` as one step of `scope` (ADR 0019) in a transaction committed only on success.
async fn post_many(app: &TestApp, scope: &Scope, entries: &[JournalEntry]) -> Result<ledger::PostedMany, Error> {
    let ctx = &app.state.ctx;
    let mut tx = scope.write(ctx).await?;
    let step = trellis_identity::audit::AuditEntry::new("ledger.step", "test", "step");
    let posted = ledger::post_many(&mut tx, scope, ctx.now(), step, entries).await?;
    tx.commit().await?;
    Ok(posted)
}

/// A step of many entries moves the balances as the entries one by one would, audited once; one
/// bad entry among good ones refuses the whole step and changes nothing.
#[tokio::test]
async fn a_step_of_many_entries_posts_them_all_once_or_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let finance = scope_of(&app, &f.finance.token).await;
    // 1,203 entries: more than two statements' worth of lines and balance rows.
    let mut entries: Vec<JournalEntry> = Vec::new();
    for i in 0..401 {
        entries.push(accrual(&f.r1a, &format!("com_a{i}"), 100 + i));
        entries.push(accrual(&f.r1b, &format!("com_b{i}"), 7));
        entries.push(made_payable(&f.r1a, &format!("com_a{i}"), 50));
    }
    let before = counts(&app, &f).await;
    for (what, bad) in [
        (
            "unbalanced",
            JournalEntry::new("x.y", "commission", "bad").debit(Account::VendorExpense, &f.r1a, eur(), 2).credit(
                Account::CommissionPending,
                &f.r1a,
                eur(),
                1,
            ),
        ),
        ("another workspace's partner", accrual(&f.other_partner, "com_o", 5)),
        ("posted twice within the step", accrual(&f.r1a, "com_a7", 1)),
    ] {
        let mut with_bad = entries.clone();
        with_bad.insert(600, bad);
        let refused = post_many(&app, &finance, &with_bad).await;
        assert!(matches!(refused, Err(Error::Validation(_) | Error::Conflict(_))), "{what}: {refused:?}");
        assert_eq!(counts(&app, &f).await, before, "{what}: a refused step changed (postings, balances, audit events)");
    }
    let partner = scope_of(&app, &f.r1a_admin.token).await;
    assert!(matches!(post_many(&app, &partner, &entries).await, Err(Error::Forbidden(_))), "partners never post");

    let posted = post_many(&app, &finance, &entries).await.expect("the step posts");
    let accrued_a: i64 = (0..401).map(|i| 100 + i).sum();
    assert_eq!(posted.entries, 1203);
    assert_eq!(posted.totals.get("EUR").copied(), Some(accrued_a + 401 * 7 + 401 * 50));
    let after = counts(&app, &f).await;
    assert_eq!(after, (before.0 + 2 * 1203, before.1 + 5, before.2 + 1), "(postings, balance rows, one audit event for the step)");
    let owner = scope_of(&app, &f.owner.token).await;
    assert_eq!(
        amounts(&app, &owner, &f.r1a).await.expect("balances"),
        BTreeMap::from([
            ("commission_payable".to_owned(), 401 * 50),
            ("commission_pending".to_owned(), accrued_a - 401 * 50),
            ("vendor_expense".to_owned(), accrued_a)
        ])
    );
    assert!(matches!(post_many(&app, &finance, &entries[..3]).await, Err(Error::Conflict(_))), "a step posted again is refused");
    assert!(verified(&app).await.is_clean());
}

#[tokio::test]
async fn the_database_refuses_to_update_or_delete_postings() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let finance = scope_of(&app, &f.finance.token).await;
    let posted = post(&app, &finance, accrual(&f.r1a, "com_1", 1000)).await.expect("accrual");

    let update = app
        .execute(vec![sql!(
            "UPDATE ledger_postings SET amount_minor = 1 WHERE workspace_id = $1 AND entry_id = $2",
            f.workspace_id,
            posted.id
        )])
        .await;
    let delete = app.execute(vec![sql!("DELETE FROM ledger_postings WHERE workspace_id = $1", f.workspace_id)]).await;

    assert!(update.as_ref().err().is_some_and(|e| e.to_string().contains("append-only")), "{update:?}");
    assert!(delete.as_ref().err().is_some_and(|e| e.to_string().contains("append-only")), "{delete:?}");
    let mut privileges = "n/a (sqlite triggers)".to_owned();
    if app.is_postgres() {
        let truncate = app.execute(vec![sql!("TRUNCATE ledger_postings")]).await;
        assert!(truncate.as_ref().err().is_some_and(|e| e.to_string().contains("append-only")), "{truncate:?}");
        let rows = app
            .query(sql!(
                "SELECT has_table_privilege('trellis_app', 'ledger_postings', 'UPDATE') AS up,
                        has_table_privilege('trellis_app', 'ledger_postings', 'DELETE') AS del,
                        has_table_privilege('trellis_app', 'ledger_postings', 'INSERT') AS ins"
            ))
            .await;
        let get = |c: &str| rows[0].get::<bool>(c).expect("privilege");
        assert!(!get("up") && !get("del"), "the runtime role may change postings");
        assert!(get("ins"), "the runtime role may add postings");
        privileges = "none".to_owned();
    }
    println!(
        "FIGURE ledger_append_only backend={} update_blocked={} delete_blocked={} app_role_update_privilege={privileges}",
        app.backend_name(),
        update.is_err(),
        delete.is_err()
    );
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM ledger_postings WHERE workspace_id = $1", f.workspace_id)).await, 2);
    assert!(verified(&app).await.is_clean());
}

/// One generated entry: lines of (account, partner, amount) and its currency; `skew` moves the
/// last line by that many minor units (0: balanced).
#[derive(Debug, Clone)]
struct GeneratedEntry {
    lines: Vec<(usize, usize, i64)>,
    currency: usize,
    skew: i64,
}

fn generated_entries() -> impl Strategy<Value = Vec<GeneratedEntry>> {
    let entry = (
        prop::collection::vec((0..Account::ALL.len(), 0usize..4, 1i64..5_000_000), 1..5),
        0usize..2,
        prop_oneof![4 => Just(0i64), 1 => -3i64..4],
    )
        .prop_map(|(lines, currency, skew)| GeneratedEntry { lines, currency, skew });
    prop::collection::vec(entry, 1..10)
}

#[derive(Default)]
struct Stats {
    cases: AtomicUsize,
    posted: AtomicUsize,
    refused: AtomicUsize,
    divergences: AtomicUsize,
}

/// Posts the generated entries (each debit line balanced by one credit to the first partner's
/// pending commission, and moved by its skew), keeping the expected balances in a model; then the
/// stored balances, the sums of the postings and the model must agree, and verify is clean.
async fn run_case(
    app: &TestApp,
    f: &Fixture,
    model: &mut BTreeMap<(PartnerId, String, String), i64>,
    reference: &AtomicUsize,
    entries: &[GeneratedEntry],
    stats: &Stats,
) -> Result<(), String> {
    let partners = [&f.r1a, &f.r1b, &f.d1, &f.p3];
    let currencies = [eur(), Currency::parse("JPY").expect("JPY")];
    let finance = scope_of(app, &f.finance.token).await;
    for generated in entries {
        let currency = currencies[generated.currency];
        let n = reference.fetch_add(1, Ordering::SeqCst);
        let mut entry = JournalEntry::new("commission.accrued", "commission", format!("com_{n}"));
        let mut total = 0;
        for (account, partner, amount) in &generated.lines {
            entry = entry.debit(Account::ALL[*account], partners[*partner], currency, *amount);
            total += amount;
        }
        entry = entry.credit(Account::CommissionPending, partners[0], currency, total + generated.skew);
        match post(app, &finance, entry.clone()).await {
            Ok(_) if generated.skew == 0 => {
                stats.posted.fetch_add(1, Ordering::Relaxed);
                for line in &entry.lines {
                    *model.entry((line.partner_id.clone(), line.account.to_string(), currency.to_string())).or_default() +=
                        line.signed_minor();
                }
            }
            Ok(posted) => return Err(format!("an entry skewed by {} was posted: {posted:?}", generated.skew)),
            Err(_) if generated.skew != 0 => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => return Err(format!("a balanced entry was refused: {e:?}")),
        }
    }
    let stored = app
        .query(sql!("SELECT partner_id, account, currency, balance_minor FROM ledger_balances WHERE workspace_id = $1", f.workspace_id))
        .await;
    let sums = app
        .query(sql!(
            "SELECT partner_id, account, currency, CAST(SUM(amount_minor) AS BIGINT) AS total FROM ledger_postings
             WHERE workspace_id = $1 GROUP BY partner_id, account, currency",
            f.workspace_id
        ))
        .await;
    let read = |rows: &[trellis_db::Row], column: &str| -> BTreeMap<(PartnerId, String, String), i64> {
        rows.iter()
            .map(|r| {
                let key = (r.get("partner_id").expect("partner"), r.get("account").expect("account"), r.get("currency").expect("currency"));
                (key, r.get::<i64>(column).expect("amount"))
            })
            .filter(|(_, v)| *v != 0)
            .collect()
    };
    let expected: BTreeMap<_, _> = model.iter().filter(|(_, v)| **v != 0).map(|(k, v)| (k.clone(), *v)).collect();
    let (stored, sums) = (read(&stored, "balance_minor"), read(&sums, "total"));
    let report = ledger::verify(&app.state.ctx).await.map_err(|e| e.to_string())?;
    stats.cases.fetch_add(1, Ordering::Relaxed);
    if stored != expected || sums != expected || !report.is_clean() {
        stats.divergences.fetch_add(1, Ordering::Relaxed);
        return Err(format!("model {expected:?}\nbalances {stored:?}\npostings {sums:?}\n{report:?}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sequences_of_entries_keep_every_balance_equal_to_its_postings() {
    let app = Arc::new(TestApp::spawn().await);
    let f = Arc::new(Fixture::build(&app).await);
    let case_count = if app.is_postgres() { 24 } else { 48 };
    let stats = Arc::new(Stats::default());
    let handle = tokio::runtime::Handle::current();
    let (runner_app, runner_f, runner_stats) = (app.clone(), f.clone(), stats.clone());

    // Cases accumulate in one workspace (the model carries over), as a ledger does.
    let outcome = tokio::task::spawn_blocking(move || {
        let config = Config { cases: case_count, max_shrink_iters: 16, failure_persistence: None, ..Config::default() };
        let mut runner = TestRunner::new(config);
        let model = std::sync::Mutex::new(BTreeMap::new());
        let reference = AtomicUsize::new(0);
        runner
            .run(&generated_entries(), |entries| {
                let mut model = model.lock().expect("model");
                handle
                    .block_on(run_case(&runner_app, &runner_f, &mut model, &reference, &entries, &runner_stats))
                    .map_err(TestCaseError::fail)
            })
            .map_err(|e| e.to_string())
    })
    .await
    .expect("the property runner finished");

    let load = |a: &AtomicUsize| a.load(Ordering::Relaxed);
    let report = verified(&app).await;
    println!(
        "FIGURE ledger_property backend={} cases={} entries_posted={} skewed_refused={} divergences={} postings={} balances={}",
        app.backend_name(),
        load(&stats.cases),
        load(&stats.posted),
        load(&stats.refused),
        load(&stats.divergences),
        report.postings,
        report.balances
    );
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    assert!(load(&stats.cases) >= case_count as usize);
    assert!(load(&stats.refused) > 0, "the generator should skew some entries");
}

/// Runs `trellis ledger verify` on the app's database: (exit code, stdout).
async fn verify_command(app: &TestApp) -> (i32, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(["ledger", "verify"])
        .env("DATABASE_URL", app.database_url())
        .env("TRELLIS_DATA_DIR", &app.data_dir)
        .env("TRELLIS_LOG", "error")
        .output()
        .await
        .expect("run trellis ledger verify");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test]
async fn a_tampered_balance_or_posting_is_reported_and_the_command_exits_1() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let finance = scope_of(&app, &f.finance.token).await;
    post(&app, &finance, accrual(&f.r1a, "com_1", 1000)).await.expect("accrual");
    let posted = post(&app, &finance, made_payable(&f.r1a, "com_1", 600)).await.expect("payable");
    post(&app, &finance, accrual(&f.r1b, "com_2", 250)).await.expect("accrual");

    let (clean_code, clean_out) = verify_command(&app).await;
    assert_eq!(clean_code, 0, "{clean_out}");
    assert_eq!(clean_out.lines().count(), 1, "one line when clean: {clean_out}");
    assert!(clean_out.starts_with("ledger ok: 3 entries, 6 postings, 5 balances"), "{clean_out}");

    // Someone with database access adds a euro to R1a's payable balance.
    app.execute(vec![sql!(
        "UPDATE ledger_balances SET balance_minor = balance_minor - 100
         WHERE workspace_id = $1 AND partner_id = $2 AND account = 'commission_payable'",
        f.workspace_id,
        f.r1a
    )])
    .await
    .expect("tamper with a balance");
    let report = verified(&app).await;
    let (code, out) = verify_command(&app).await;
    println!("FIGURE ledger_tamper kind=balance detected={} exit={code}", usize::from(!report.is_clean()));
    assert_eq!(report.differences.len(), 1, "{report:?}");
    let difference = &report.differences[0];
    assert_eq!(
        (difference.partner_id.as_str(), difference.account.as_str(), difference.stored_minor, difference.recomputed_minor),
        (f.r1a.as_str(), "commission_payable", Some(-700), Some(-600))
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("balance {} {} commission_payable EUR: stored -700, postings sum to -600", f.workspace_id, f.r1a)),
        "{out}"
    );
    assert!(out.lines().last().is_some_and(|l| l.starts_with("ledger BROKEN")), "{out}");

    // A posting edited behind the triggers' back: its entry no longer balances.
    let mut tamper = if app.is_postgres() {
        vec![sql!("ALTER TABLE ledger_postings DISABLE TRIGGER USER")]
    } else {
        vec![sql!("DROP TRIGGER ledger_postings_no_update")]
    };
    tamper.push(sql!(
        "UPDATE ledger_postings SET amount_minor = amount_minor - 1 WHERE workspace_id = $1 AND entry_id = $2 AND line = 2",
        f.workspace_id,
        posted.id
    ));
    app.execute(tamper).await.expect("tamper with a posting");
    let report = verified(&app).await;
    println!("FIGURE ledger_tamper kind=posting detected={} problems={}", usize::from(!report.is_clean()), report.problems().len());
    assert_eq!(report.entry_problems.len(), 1, "{report:?}");
    assert_eq!(report.entry_problems[0].entry_id, posted.id.to_string());
    assert!(report.entry_problems[0].problem.contains("sum to -1"), "{report:?}");
    assert_eq!(verify_command(&app).await.0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_postings_to_one_balance_all_land() {
    let app = Arc::new(TestApp::spawn().await);
    let f = Arc::new(Fixture::build(&app).await);
    let finance = Arc::new(scope_of(&app, &f.finance.token).await);
    let writers = 16;

    let mut tasks = Vec::new();
    for i in 0..writers {
        let (app, f, finance) = (app.clone(), f.clone(), finance.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..3 {
                post(&app, &finance, accrual(&f.r1a, &format!("com_{i}_{round}"), 100 + i)).await.expect("posting");
            }
        }));
    }
    for task in futures_util::future::join_all(tasks).await {
        task.expect("writer");
    }

    let expected: i64 = (0..writers).map(|i| 3 * (100 + i)).sum();
    let owner = scope_of(&app, &f.owner.token).await;
    let balances = amounts(&app, &owner, &f.r1a).await.expect("balances");
    let report = verified(&app).await;
    println!(
        "FIGURE ledger_concurrency backend={} writers={writers} entries={} pending={} expected={expected} lost={}",
        app.backend_name(),
        report.entries,
        balances["commission_pending"],
        expected - balances["commission_pending"]
    );
    assert_eq!(balances["commission_pending"], expected);
    assert_eq!(balances["vendor_expense"], expected);
    assert_eq!(report.entries, 3 * writers);
    assert!(report.is_clean(), "{report:?}");
}

#[expect(clippy::disallowed_methods, reason = "the test of row security itself opens transactions with a chosen RowSecurity")]
async fn rows_seen_as(app: &TestApp, security: &RowSecurity, table: &str, condition: &str) -> i64 {
    let mut tx = app.state.ctx.db().read(security).await.expect("transaction");
    let mut q = Sql::build("SELECT COUNT(*) AS n FROM ");
    q.push(table).push(" WHERE ").push(condition);
    let n = tx.fetch_i64(q).await.expect("count");
    tx.commit().await.expect("end transaction");
    n
}

#[tokio::test]
async fn a_partner_reads_its_own_money_and_not_a_siblings_or_its_resellers() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let finance = scope_of(&app, &f.finance.token).await;
    post(&app, &finance, accrual(&f.r1a, "com_1", 1000)).await.expect("r1a");
    post(&app, &finance, accrual(&f.r1b, "com_2", 2000)).await.expect("r1b");
    post(&app, &finance, accrual(&f.d1, "com_3", 300)).await.expect("d1 (an override)");
    let (r1a_admin, r1b_admin, d1_admin, r1a_member) = (
        scope_of(&app, &f.r1a_admin.token).await,
        scope_of(&app, &f.r1b_admin.token).await,
        scope_of(&app, &f.d1_admin.token).await,
        scope_of(&app, &f.r1a_member.token).await,
    );

    let own = amounts(&app, &r1a_admin, &f.r1a).await.expect("own balance");
    let distributor_own = amounts(&app, &d1_admin, &f.d1).await.expect("the distributor's own");
    let sibling = amounts(&app, &r1b_admin, &f.r1a).await;
    let reseller = amounts(&app, &d1_admin, &f.r1a).await;
    let member = amounts(&app, &r1a_member, &f.r1a).await;
    let staff = amounts(&app, &scope_of(&app, &f.viewer.token).await, &f.r1a).await.expect("staff");

    assert_eq!(own, BTreeMap::from([("commission_pending".to_owned(), 1000)]), "a partner reads its partner-facing accounts");
    assert_eq!(distributor_own, BTreeMap::from([("commission_pending".to_owned(), 300)]));
    assert!(matches!(sibling, Err(Error::NotFound)), "a sibling: {sibling:?}");
    assert!(matches!(reseller, Err(Error::NotFound)), "the distributor reading its reseller's money: {reseller:?}");
    assert!(matches!(member, Err(Error::Forbidden(_))), "a member who is not admin or finance: {member:?}");
    assert_eq!(staff.get("vendor_expense"), Some(&1000), "staff read the vendor's side too");

    // The second wall: row security alone, with no application filter in the query.
    let mut figure = "n/a (sqlite has no row security)".to_owned();
    if app.is_postgres() {
        let d1 = RowSecurity::Partner(f.d1.to_string());
        let r1a = RowSecurity::Partner(f.r1a.to_string());
        let manager = RowSecurity::Manager(f.assigned_manager.user_id.clone());
        for table in ["ledger_balances", "ledger_postings"] {
            let foreign_for_d1 = rows_seen_as(&app, &d1, table, &format!("partner_id <> '{}'", f.d1)).await;
            let own_for_d1 = rows_seen_as(&app, &d1, table, "TRUE").await;
            let vendor_side_for_r1a = rows_seen_as(&app, &r1a, table, "account = 'vendor_expense'").await;
            let own_for_r1a = rows_seen_as(&app, &r1a, table, "TRUE").await;
            let managed = rows_seen_as(&app, &manager, table, "TRUE").await;
            figure = format!(
                "{figure} {table}:d1_foreign={foreign_for_d1},d1_own={own_for_d1},r1a_vendor_side={vendor_side_for_r1a},r1a_own={own_for_r1a},manager={managed}"
            );
            assert_eq!(foreign_for_d1, 0, "{table}: row security lets the distributor read its resellers' money");
            assert_eq!(own_for_d1, 1, "{table}: the distributor reads its own pending commission");
            assert_eq!(vendor_side_for_r1a, 0, "{table}: a partner reads the vendor's side of its entries");
            assert_eq!(own_for_r1a, 1, "{table}");
            // The manager of D1 manages its subtree: every row of D1, R1a and R1b.
            assert_eq!(managed, 6, "{table}: the restricted manager reads the money of the partners they manage");
        }
        figure = figure.trim_start_matches("n/a (sqlite has no row security)").trim().to_owned();
    }
    println!("FIGURE ledger_privacy backend={} sibling=404 distributor_reading_reseller=404 member=403 rls={figure}", app.backend_name());
}
