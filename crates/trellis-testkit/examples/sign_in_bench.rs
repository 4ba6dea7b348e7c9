//! The sign-in throttle's cost as the history grows (ADR 0023): the decision made before any
//! password is hashed (`sign_ins::check`) timed on an empty history (the reference) and again
//! after N attempts of 100,000 accounts from 20,000 addresses over 90 days, among them a busy
//! account and a busy address inside the throttle's window; then the daily pruning of the
//! attempts older than 90 days. Prints the ratio, which should stay near 1: the check reads only
//! index ranges inside its window.
//!
//! `cargo run --release -p trellis-testkit --example sign_in_bench -- [attempts]` (default
//! 1,000,000); `TRELLIS_TEST_POSTGRES_URL` runs it on PostgreSQL.
use std::time::Instant;

use trellis_db::Sql;
use trellis_identity::RequestMeta;
use trellis_identity::sign_ins::{self, Method};
use trellis_testkit::TestApp;

/// Checks `rounds` attempts (a busy account's, a fresh account's, from the busy address and from
/// others) and answers the mean seconds per check.
async fn mean_check(app: &TestApp, rounds: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    for i in 0..rounds {
        let (email, ip) = match i % 4 {
            0 => ("busy@bench.example".to_owned(), "203.0.113.7".to_owned()),
            1 => (format!("user{}@bench.example", i * 7919 % 100_000), "203.0.113.7".to_owned()),
            2 => ("busy@bench.example".to_owned(), format!("10.0.{}.{}", (i >> 8) & 255, i & 255)),
            _ => (format!("user{}@bench.example", i * 104_729 % 100_000), format!("10.1.{}.{}", (i >> 8) & 255, i & 255)),
        };
        let meta = RequestMeta { ip: Some(ip), user_agent: None };
        // A throttled answer is an answer too: what is timed is the decision.
        let _ = sign_ins::check(&app.state.ctx, &email, Method::Password, None, &meta).await;
    }
    Ok(started.elapsed().as_secs_f64() / rounds as f64)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map(|a| a.replace([',', '_'], "").parse()).transpose()?.unwrap_or(1_000_000);
    let rounds = 4_000;
    let app = TestApp::spawn().await;
    let empty = mean_check(&app, rounds).await?;

    let now = app.state.ctx.now();
    let day = 86_400_i64 * 1_000_000;
    let mut batch = Vec::new();
    for start in (0..n).step_by(5_000) {
        let mut q = Sql::build("INSERT INTO sign_ins (email, method, outcome, ip, trusted_device, at) VALUES ");
        for i in start..(start + 5_000).min(n) {
            // Spread over 120 days (a quarter older than the 90 kept); every 50th fails; the busy
            // account and address fail 40 times in the last hour.
            let (email, ip, outcome, at) = if i < 40 {
                ("busy@bench.example".to_owned(), "203.0.113.7".to_owned(), "bad_password", now.micros() - (i as i64) * 60_000_000)
            } else {
                let outcome = if i % 50 == 0 { "bad_password" } else { "success" };
                let at = now.micros() - (i as i64 * 7_919 % (120 * day / 1_000_000)) * 1_000_000;
                (
                    format!("user{}@bench.example", i % 100_000),
                    format!("10.{}.{}.{}", (i / 65_536) % 20, (i / 256) % 256, i % 256),
                    outcome,
                    at,
                )
            };
            q.push(if i == start { "(" } else { ", (" });
            q.push_bind(email).push(", 'password', ").push_bind(outcome).push(", ").push_bind(ip).push(", FALSE, ");
            q.push_bind(trellis_core::Timestamp::from_micros(at)).push(")");
        }
        batch.push(q);
        if batch.len() == 20 {
            app.execute(std::mem::take(&mut batch)).await?;
        }
    }
    app.execute(batch).await?;
    if app.is_postgres() {
        app.execute(vec![Sql::build("ANALYZE sign_ins")]).await?;
    }
    let full = mean_check(&app, rounds).await?;

    let older = app.query_i64(trellis_db::sql!("SELECT COUNT(*) AS n FROM sign_ins WHERE at < $1", now.plus_seconds(-90 * 86_400))).await;
    let started = Instant::now();
    let pruned = trellis_identity::housekeeping::prune(&app.state.ctx, now).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let prune_seconds = started.elapsed().as_secs_f64();
    assert_eq!(pruned.sign_ins as i64, older, "pruning deletes exactly the attempts older than 90 days");
    println!(
        "FIGURE sign_in_throttle backend={} attempts={n} check_empty_us={:.0} check_full_us={:.0} ratio={:.2} pruned={} prune_s={:.2} pruned_per_s={:.0}",
        app.backend_name(),
        empty * 1e6,
        full * 1e6,
        full / empty,
        pruned.sign_ins,
        prune_seconds,
        pruned.sign_ins as f64 / prune_seconds.max(1e-9)
    );
    Ok(())
}
