//! Benchmark B2 of conversion ingestion (run it with `bench/conversions.sh`; issue 10).
//!
//! Our ingestion — `POST /api/v1/conversions` over HTTP from C concurrent clients, each sale
//! answered 201 only once its conversion, two commissions (20% to a reseller, a 5% override to
//! its distributor), their ledger postings and audit events are committed — against the raw
//! single-row insert rate of the same row at the same durability on the same database: C
//! concurrent tasks inserting one copy of a stored conversion row each, one transaction per row,
//! through the same connection pools (SQLite: WAL, `synchronous=FULL`, one writer connection;
//! PostgreSQL: `synchronous_commit` as the server has it). The two alternate (raw, ours, raw,
//! ours, …) and the median of the per-pair ratios is printed. Target (issue 10): ≥ 1×, which
//! needs group commit. Then every request is posted again: duplicates must create zero rows (the
//! conversion, commission, posting and audit counts must not move, and each answer must carry the
//! first answer's id). Nothing here fails on a number; a duplicate that creates a row fails.
//!
//! `cargo run --release -p trellis-testkit --example conversions_bench -- [requests] [clients] [pairs]`
//! (defaults 2000, 8, 5); `TRELLIS_TEST_POSTGRES_URL` runs it on PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trellis_core::new_id_body;
use trellis_db::{Sql, sql};
use trellis_testkit::{TEST_FIXTURES, TestApp, bench};

fn arg(n: usize, default: usize) -> anyhow::Result<usize> {
    Ok(match std::env::args().nth(n) {
        Some(a) => a.replace([',', '_'], "").parse()?,
        None => default,
    })
}

fn check(reply: &trellis_testkit::Reply, what: &str) -> anyhow::Result<Value> {
    anyhow::ensure!(reply.status == 200 || reply.status == 201, "{what}: {} {}", reply.status, reply.text);
    Ok(reply.body.clone())
}

/// C tasks share `bodies` and post them until none is left; answers the conversion ids in order.
async fn post_all(app: &Arc<TestApp>, key: &Arc<String>, bodies: &Arc<Vec<Value>>, clients: usize) -> anyhow::Result<Vec<String>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (app, key, bodies, next) = (app.clone(), key.clone(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let reply = app.post("/api/v1/conversions", &key, body.clone()).await;
                let id = check(&reply, "a conversion")?["id"].as_str().unwrap_or_default().to_owned();
                ids.push((i, id));
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = vec![String::new(); bodies.len()];
    for task in tasks {
        for (i, id) in task.await?? {
            ids[i] = id;
        }
    }
    Ok(ids)
}

/// C tasks insert `rows` copies of the template conversion, one transaction (one commit) each.
async fn raw_inserts(app: &Arc<TestApp>, workspace: &str, template: &str, round: usize, rows: usize, clients: usize) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (app, next, workspace, template) = (app.clone(), next.clone(), workspace.to_owned(), template.to_owned());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= rows {
                    break;
                }
                let id = format!("cnv_{}", new_id_body());
                let invoice = format!("RAW-{round}-{i}");
                let mut tx = app.state.ctx.db().write_granted(&TEST_FIXTURES).await?;
                tx.execute(sql!(
                    "INSERT INTO conversions (workspace_id, id, kind, invoice_id, customer_external_id, partner_id, program_id, plan_version,
                        attribution, deal_id, click_id, amount_minor, currency, invoice_status, invoice_paid_at, refunds_invoice_id, customer_email,
                        customer_ip, occurred_at, request_digest, answer, created_at)
                     SELECT workspace_id, $3, kind, $4, $5, partner_id, program_id, plan_version, attribution, deal_id, click_id, amount_minor,
                        currency, invoice_status, invoice_paid_at, refunds_invoice_id, customer_email, customer_ip, occurred_at, request_digest,
                        answer, created_at
                     FROM conversions WHERE workspace_id = $1 AND id = $2",
                    &workspace,
                    &template,
                    &id,
                    &invoice,
                    &format!("raw-{invoice}")
                ))
                .await?;
                tx.commit().await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn count(app: &TestApp, table: &str, workspace: &str) -> i64 {
    let mut q = Sql::build("SELECT COUNT(*) AS n FROM ");
    q.push(table).push(" WHERE workspace_id = ").push_bind(workspace);
    app.query_i64(q).await
}

async fn counts(app: &TestApp, workspace: &str) -> [i64; 4] {
    [
        count(app, "conversions", workspace).await,
        count(app, "commissions", workspace).await,
        count(app, "ledger_postings", workspace).await,
        count(app, "audit_events", workspace).await,
    ]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (requests, clients, pairs) = (arg(1, 2000)?, arg(2, 8)?, arg(3, 5)?);
    let app = Arc::new(TestApp::spawn().await);
    let backend = app.backend_name();
    let (boot, distributor) = bench::vendor_with_distributor(&app, "owner@bench.example", "a long bench password").await;
    let key = Arc::new(boot.api_key.clone());
    let workspace = boot.workspace_id.to_string();
    let program = check(&app.post("/api/v1/programs", &key, json!({"name": "Bench", "slug": "bench"})).await, "a program")?["id"].clone();
    let reseller = check(
        &app.post(
            "/api/v1/partners",
            &key,
            json!({"name": "Bench reseller", "contact_email": "r@bench.example", "types": ["reseller"], "parent_id": distributor.id.as_str()}),
        )
        .await,
        "a reseller",
    )?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    check(&app.post(&format!("/api/v1/partners/{reseller}/enrollments"), &key, json!({"program_id": program})).await, "the enrollment")?;
    let plan = json!({"sale": {"percent_bps": 2000}, "hold_days": 0, "parent_override_bps": 500});
    let reply = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/programs/{}/commission-plan", program.as_str().unwrap_or_default()),
            Some(&key),
            Some(&plan),
        )
        .await;
    check(&reply, "the plan")?;
    let body = |round: &str, n: usize| {
        let invoice = format!("INV-{round}-{n}");
        json!({"kind": "sale", "invoice_id": invoice, "customer_external_id": format!("cust-{invoice}"), "partner_id": reseller,
               "amount": {"amount_minor": 1000 + (n * 7919) % 90_000, "currency": "EUR"}})
    };
    // Warm-up (and the template row the raw inserts copy).
    let warm: Arc<Vec<Value>> = Arc::new((0..200).map(|n| body("warm", n)).collect());
    let template = post_all(&app, &key, &warm, clients).await?[0].clone();
    raw_inserts(&app, &workspace, &template, 0, 200, clients).await?;
    println!("B2 conversions on {backend}: {requests} requests per round, {clients} clients, {pairs} pairs (raw single-row inserts, ours)");

    let mut ratios = Vec::new();
    let mut all_bodies: Vec<Value> = Vec::new();
    let mut all_ids: Vec<String> = Vec::new();
    let (mut raw_rates, mut our_rates) = (Vec::new(), Vec::new());
    for pair in 1..=pairs {
        let started = Instant::now();
        raw_inserts(&app, &workspace, &template, pair, requests, clients).await?;
        let raw = started.elapsed();
        let bodies: Arc<Vec<Value>> = Arc::new((0..requests).map(|n| body(&pair.to_string(), n)).collect());
        let started = Instant::now();
        let ids = post_all(&app, &key, &bodies, clients).await?;
        let ours = started.elapsed();
        let (raw_rate, our_rate) = (rate(requests, raw), rate(requests, ours));
        println!(
            "FIGURE conversions_pair backend={backend} pair={pair} clients={clients} raw_rows_per_s={raw_rate:.0} ours_per_s={our_rate:.0} ratio={:.3}",
            our_rate / raw_rate
        );
        ratios.push(our_rate / raw_rate);
        raw_rates.push(raw_rate);
        our_rates.push(our_rate);
        all_bodies.extend(bodies.iter().cloned());
        all_ids.extend(ids);
    }
    println!(
        "FIGURE conversions backend={backend} clients={clients} requests={requests} pairs={pairs} raw_rows_per_s={:.0} ours_per_s={:.0} ratio_median={:.3} ratio_min={:.3} ratio_max={:.3}",
        median(raw_rates),
        median(our_rates),
        median(ratios.clone()),
        ratios.iter().copied().fold(f64::INFINITY, f64::min),
        ratios.iter().copied().fold(0.0, f64::max)
    );

    // Duplicates: every request of the timed rounds again, concurrently; zero rows.
    let before = counts(&app, &workspace).await;
    let bodies = Arc::new(all_bodies);
    let started = Instant::now();
    let again = post_all(&app, &key, &bodies, clients).await?;
    let duplicates = rate(bodies.len(), started.elapsed());
    let after = counts(&app, &workspace).await;
    let other_ids = again.iter().zip(&all_ids).filter(|(a, b)| a != b).count();
    println!(
        "FIGURE conversions_duplicates backend={backend} posted={} per_s={duplicates:.0} new_conversions={} new_commissions={} new_postings={} new_audit_events={} answers_with_another_id={other_ids}",
        bodies.len(),
        after[0] - before[0],
        after[1] - before[1],
        after[2] - before[2],
        after[3] - before[3]
    );
    anyhow::ensure!(before == after && other_ids == 0, "duplicates created rows or were answered with another id: {before:?} -> {after:?}");
    // Ours and the raw copies (the warm-up's 200 of each included); two commissions per sale.
    let ours = i64::try_from(pairs * requests + 200)?;
    anyhow::ensure!(
        after[0] == 2 * ours && after[1] == 2 * ours,
        "stored {} conversions and {} commissions for {ours} sales",
        after[0],
        after[1]
    );
    Ok(())
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}
