//! Benchmark B4 of payout runs (run it with `bench/payouts.sh`; issue 10).
//!
//! A fresh database gets one workspace with P resellers (default 50,000), each with a SEPA payout
//! method (one set through `payout_methods::set`, its sealed row copied to the others; one partner
//! in a hundred has none and is skipped), and N payable commissions (default 2,000,000; one in ten
//! a clawback) spread evenly over them, each with its accrual journal entry (two ledger postings:
//! the vendor's expense against the partner's payable account) and the balances summed from those
//! postings — bulk SQL, so the seeded state passes `ledger verify`, which runs at the end.
//!
//! It then times `payouts::create` (the draft run: the sums per partner, readiness, items, skips,
//! the claimed range) against the floor — a plain `SELECT partner_id, currency,
//! SUM(amount_minor) … GROUP BY partner_id, currency` over the same payable commission rows in the
//! same database — alternating (floor, create, cancel untimed, …), and prints the median ratio and
//! the rows per second of the run; then the last draft is approved by a second staff member
//! (timed: a ledger entry per item) and marked paid (timed). Targets (issue 10): run ≤ 2× the floor
//! and ≥ 1M rows/s. Nothing here fails on a number; a ledger that does not verify fails.
//!
//! `cargo run --release -p trellis-testkit --example payouts_bench -- [commissions] [partners] [pairs]`
//! (defaults 2000000 50000 3); `TRELLIS_TEST_POSTGRES_URL` runs it on PostgreSQL.

use std::time::{Duration, Instant};

use trellis_core::VendorRole;
use trellis_db::{Sql, sql};
use trellis_identity::scope::RequestMeta;
use trellis_identity::{Scope, api_keys, auth, members};
use trellis_incentives::payout_methods::{self, PayoutMethodInput, PayoutMethodType};
use trellis_incentives::{ledger, payouts};
use trellis_testkit::{TEST_FIXTURES, TestApp, bench, bulk};

fn arg(n: usize, default: usize) -> anyhow::Result<usize> {
    Ok(match std::env::args().nth(n) {
        Some(a) => a.replace([',', '_'], "").parse()?,
        None => default,
    })
}

fn fail(e: impl std::fmt::Debug) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// When the seeded rows were made (microseconds; any fixed past time).
const SEEDED_AT: i64 = 1_800_000_000_000_000;

/// `i` as 26 digits: the body of an id (`com_…`, `jnl_…`) that parses.
fn padded(postgres: bool) -> &'static str {
    if postgres { "lpad(CAST(i AS TEXT), 26, '0')" } else { "printf('%026d', i)" }
}

/// The numbers 0..n as a relation `n(i)` (a CTE prefix on SQLite, a FROM item on PostgreSQL).
fn numbers(postgres: bool, n: usize) -> (String, String) {
    if postgres {
        (String::new(), format!("generate_series(CAST(0 AS BIGINT), {}) AS n(i)", n - 1))
    } else {
        (format!("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {}) ", n - 1), "n".to_owned())
    }
}

async fn seed(app: &TestApp, workspace: &str, top: &str, commissions: usize, partners: usize) -> anyhow::Result<()> {
    let postgres = app.is_postgres();
    let (with, from) = numbers(postgres, commissions);
    let pad = padded(postgres);
    let mut index = Sql::build(
        "CREATE TABLE bench_partner_index AS SELECT ROW_NUMBER() OVER (ORDER BY id) - 1 AS k, id AS partner_id FROM partners WHERE workspace_id = ",
    );
    index.push_bind(workspace).push(" AND parent_id = ").push_bind(top);
    let mut methods = Sql::build(
        "INSERT INTO payout_methods (workspace_id, partner_id, id, type, account_holder_sealed, iban_sealed, iban_country, iban_last4, bic,
            created_at, updated_at, cooling_off_until)
         SELECT m.workspace_id, p.partner_id, 'pm_' || substr(p.partner_id, 5), m.type, m.account_holder_sealed, m.iban_sealed, m.iban_country,
            m.iban_last4, m.bic, m.created_at, m.updated_at, m.cooling_off_until
         FROM bench_partner_index p JOIN payout_methods m ON m.workspace_id = ",
    );
    methods.push_bind(workspace).push(" AND m.partner_id = (SELECT partner_id FROM bench_partner_index WHERE k = 1)");
    methods.push(" WHERE p.k % 100 <> 0 AND p.k <> 1");
    let mut rows = Sql::build("");
    rows.push(&with).push(
        "INSERT INTO commissions (workspace_id, id, partner_id, kind, amount_minor, currency, status, account, payable_seq, created_at, updated_at) SELECT ",
    );
    rows.push_bind(workspace).push(", 'com_' || ").push(pad);
    rows.push(
        ", p.partner_id, CASE WHEN i % 10 = 9 THEN 'clawback' ELSE 'sale' END,
           CASE WHEN i % 10 = 9 THEN -(100 + (i * 7919) % 4000) ELSE 100 + (i * 7919) % 10000 END, 'EUR', 'payable', 'commission_payable', 1, ",
    );
    rows.push(&format!("{SEEDED_AT}, {SEEDED_AT} FROM {from} JOIN bench_partner_index p ON p.k = i % {partners}"));
    let mut postings = Sql::build(
        "INSERT INTO ledger_postings (workspace_id, entry_id, line, kind, account, partner_id, currency, amount_minor, reference_type, reference_id,
            created_at)
         SELECT c.workspace_id, 'jnl_' || substr(c.id, 5), l.line, 'commission.accrued',
            CASE l.line WHEN 1 THEN 'vendor_expense' ELSE 'commission_payable' END, c.partner_id, c.currency,
            CASE l.line WHEN 1 THEN c.amount_minor ELSE -c.amount_minor END, 'commission', c.id, c.created_at
         FROM commissions c CROSS JOIN (SELECT 1 AS line UNION ALL SELECT 2) l WHERE c.workspace_id = ",
    );
    postings.push_bind(workspace);
    let mut balances = Sql::build(
        "INSERT INTO ledger_balances (workspace_id, partner_id, account, currency, balance_minor, updated_at)
         SELECT workspace_id, partner_id, account, currency, SUM(amount_minor), MAX(created_at) FROM ledger_postings WHERE workspace_id = ",
    );
    balances.push_bind(workspace).push(" GROUP BY workspace_id, partner_id, account, currency");
    // The seeded commissions became payable together: number 1 of the workspace's EUR claims.
    let mut claims = Sql::build("INSERT INTO payout_claims (workspace_id, currency, claimed_at, last_seq, claimed_through) VALUES (");
    claims.push_bind(workspace).push(&format!(", 'EUR', {SEEDED_AT}, 1, 0)"));
    for (what, statement) in [
        ("partner index", index),
        ("payout methods", methods),
        ("commissions", rows),
        ("postings", postings),
        ("balances", balances),
        ("claims", claims),
    ] {
        let started = Instant::now();
        app.execute(vec![statement]).await.map_err(|e| anyhow::anyhow!("seeding {what}: {e}"))?;
        println!("  seeded {what} in {:.1} s", started.elapsed().as_secs_f64());
    }
    app.execute(vec![Sql::build("ANALYZE")]).await?;
    Ok(())
}

/// The floor: a plain GROUP BY over the payable commission rows, every group fetched.
async fn floor(app: &TestApp, workspace: &str) -> anyhow::Result<(Duration, usize)> {
    let started = Instant::now();
    let mut tx = app.state.ctx.db().read_granted(&TEST_FIXTURES).await?;
    let rows = tx
        .fetch_all(sql!(
            "SELECT partner_id, currency, CAST(SUM(amount_minor) AS BIGINT) AS total FROM commissions
             WHERE workspace_id = $1 AND status = 'payable' GROUP BY partner_id, currency",
            workspace
        ))
        .await?;
    tx.commit().await?;
    Ok((started.elapsed(), rows.len()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (commissions, partners, pairs) = (arg(1, 2_000_000)?, arg(2, 50_000)?, arg(3, 3)?);
    anyhow::ensure!(partners >= 2 && commissions >= partners && pairs >= 1, "needs commissions >= partners >= 2 and a pair");
    let app = TestApp::spawn().await;
    let backend = app.backend_name();
    let ctx = &app.state.ctx;
    let started = Instant::now();
    let (boot, top) = bench::vendor_with_distributor(&app, "owner@bench.example", "a long bench password").await;
    let workspace = boot.workspace_id.to_string();
    let ids = bulk::add_resellers(&app, &boot.workspace_id, &top.id, "Payee", partners).await;
    let owner = auth::authenticate_bearer(ctx, &boot.api_key, None, &RequestMeta::default()).await.map_err(fail)?;
    let system = Scope::system(boot.workspace_id.clone(), &TEST_FIXTURES);
    let invitation = members::add(ctx, &system, "finance@bench.example", None, VendorRole::Finance, None).await.map_err(fail)?;
    trellis_server::demo::accept_as_operator(ctx, &invitation.token, None, "bench-password-2").await.map_err(fail)?;
    let approver_key =
        api_keys::create_for_member_by_operator(ctx, &boot.workspace_id, "finance@bench.example", "bench").await.map_err(fail)?;
    let approver = auth::authenticate_bearer(ctx, &approver_key, None, &RequestMeta::default()).await.map_err(fail)?;
    // The partner the others copy their method from is the one of index 1 (index 0 has none).
    let mut first = app
        .query(sql!(
            "SELECT id FROM partners WHERE workspace_id = $1 AND parent_id = $2 ORDER BY id LIMIT 1 OFFSET 1",
            &workspace,
            top.id.as_str()
        ))
        .await;
    let model: trellis_core::PartnerId = first.remove(0).get("id")?;
    let input = PayoutMethodInput {
        method_type: PayoutMethodType::Sepa,
        account_holder: "Bench Payee GmbH".into(),
        iban: "DE89370400440532013000".into(),
        bic: None,
    };
    payout_methods::set(ctx, &owner, &model, &input).await.map_err(fail)?;
    seed(&app, &workspace, top.id.as_str(), commissions, partners).await?;
    println!(
        "B4 payouts on {backend}: {commissions} payable commissions ({} postings) over {} partners seeded in {:.1} s; {pairs} pairs",
        2 * commissions,
        ids.len(),
        started.elapsed().as_secs_f64()
    );

    let (mut ratios, mut rates) = (Vec::new(), Vec::new());
    let mut draft = None;
    for pair in 1..=pairs {
        let (floor_time, groups) = floor(&app, &workspace).await?;
        let started = Instant::now();
        let run = payouts::create(ctx, &owner, "EUR").await.map_err(fail)?;
        let run_time = started.elapsed();
        let ratio = run_time.as_secs_f64() / floor_time.as_secs_f64();
        let rate = commissions as f64 / run_time.as_secs_f64();
        println!(
            "FIGURE payouts_pair backend={backend} pair={pair} rows={commissions} partners={partners} groups={groups} floor_ms={:.0} create_ms={:.0} ratio={ratio:.2} rows_per_s={rate:.0} items={} skipped={}",
            floor_time.as_secs_f64() * 1000.0,
            run_time.as_secs_f64() * 1000.0,
            run.items.len(),
            run.skipped.len()
        );
        ratios.push(ratio);
        rates.push(rate);
        if pair < pairs {
            payouts::cancel(ctx, &owner, &run.run.id).await.map_err(fail)?;
        } else {
            draft = Some(run);
        }
    }
    let run = draft.ok_or_else(|| anyhow::anyhow!("no run"))?;
    let started = Instant::now();
    payouts::approve(ctx, &approver, &run.run.id).await.map_err(fail)?;
    let approve_time = started.elapsed();
    let started = Instant::now();
    let paid = payouts::mark_paid(ctx, &owner, &run.run.id).await.map_err(fail)?;
    let paid_time = started.elapsed();
    println!(
        "FIGURE payouts backend={backend} rows={commissions} partners={partners} pairs={pairs} ratio_median={:.2} rows_per_s_median={:.0} items={} total_minor={} approve_ms={:.0} mark_paid_ms={:.0}",
        median(ratios),
        median(rates),
        paid.items.len(),
        paid.run.total_minor,
        approve_time.as_secs_f64() * 1000.0,
        paid_time.as_secs_f64() * 1000.0
    );
    let started = Instant::now();
    let report = ledger::verify(ctx).await.map_err(fail)?;
    println!("ledger verify ({:.1} s): {}", started.elapsed().as_secs_f64(), report.summary());
    let problems = report.problems();
    anyhow::ensure!(problems.is_empty(), "the ledger does not verify: {:?}", &problems[..problems.len().min(5)]);
    Ok(())
}
