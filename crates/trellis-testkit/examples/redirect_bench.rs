//! Benchmark B1 of the referral redirect (run it with `bench/redirect.sh`; issue 11).
//!
//! Our `GET /r/{code}` — the real Trellis router on a real port, with L links in its table and
//! the click writer recording into the database — against a bare axum handler answering a
//! constant 302 on the same runtime (another port of this process), both under `wrk` (closed
//! loop, C connections, one thread) for S seconds a round, alternating bare, ours, bare, ours…;
//! the codes requested follow a Zipf distribution (s = 1) over the L links, each request from its
//! own address (`X-Forwarded-For`, which the server is told to trust) with a browser's user agent.
//! Prints each pair's throughput and p99 and the medians of the ratios. Then the writer is flushed
//! (what a graceful shutdown does) and the clicks in the database are compared with the redirects
//! answered less bots and repeats: zero may be missing. Targets (issue 11): ≥ 0.85× the bare
//! throughput on SQLite, ≥ 0.75× on PostgreSQL, p99 within 2× — a benchmark: it fails only when a
//! counted click is missing, never on a number.
//!
//! `cargo run --release -p trellis-testkit --example redirect_bench -- [links] [seconds] [pairs] [connections]`
//! (defaults 100000, 5, 3, 64); `TRELLIS_TEST_POSTGRES_URL` runs it on PostgreSQL.

use std::fmt::Write as _;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use trellis_core::{LinkId, PartnerId};
use trellis_db::{Sql, sql};
use trellis_testkit::TestApp;
use trellis_tracking::redirects::Redirects;

fn arg(n: usize, default: usize) -> anyhow::Result<usize> {
    Ok(match std::env::args().nth(n) {
        Some(a) => a.replace([',', '_'], "").parse()?,
        None => default,
    })
}

/// What `wrk --latency` reported.
struct Round {
    requests_per_s: f64,
    p99_ms: f64,
    requests: u64,
    errors: u64,
}

fn to_ms(text: &str) -> f64 {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len()));
    let value: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        "m" => value * 60_000.0,
        _ => f64::NAN,
    }
}

fn wrk(url: &str, script: &str, seconds: usize, connections: usize) -> anyhow::Result<Round> {
    let out = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s", script, url])
        .output()
        .map_err(|e| anyhow::anyhow!("wrk could not run ({e}): install it (Debian: apt-get install wrk)"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    anyhow::ensure!(out.status.success(), "wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    let mut round = Round { requests_per_s: 0.0, p99_ms: f64::NAN, requests: 0, errors: 0 };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rate] => round.requests_per_s = rate.parse()?,
            ["99%", latency] => round.p99_ms = to_ms(latency),
            [n, "requests", "in", ..] => round.requests = n.parse()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => round.errors += n.parse::<u64>()?,
            ["Socket", "errors:", rest @ ..] => {
                round.errors += rest.iter().filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok()).sum::<u64>();
            }
            _ => {}
        }
    }
    Ok(round)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// `count` paths `/r/l{i}` with i drawn from a Zipf distribution (s = 1) over `links` codes,
/// by inverting its cumulative weights (a fixed seed: every run requests the same sequence).
fn zipf_paths(links: usize, count: usize) -> Vec<String> {
    let mut cumulative = Vec::with_capacity(links);
    let mut total = 0.0;
    for rank in 1..=links {
        total += 1.0 / rank as f64;
        cumulative.push(total);
    }
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let target = (state >> 11) as f64 / (1u64 << 53) as f64 * total;
            let rank = cumulative.partition_point(|c| *c < target);
            format!("/r/l{rank}")
        })
        .collect()
}

/// A wrk script requesting the paths in turn, each from a new address (the request's number from
/// `start`: each round starts a million further, so no address repeats across rounds), with a
/// browser's agent.
fn script(paths: &[String], start: usize) -> String {
    let mut lua = String::from("local paths = {");
    for p in paths {
        let _ = write!(lua, "\"{p}\",");
    }
    lua.push_str(
        "}\nlocal i = START\nrequest = function()\n  i = i + 1\n  local ip = string.format(\"10.%d.%d.%d\", math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256)\n  return wrk.format(\"GET\", paths[(i % #paths) + 1], {[\"User-Agent\"] = \"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1\", [\"X-Forwarded-For\"] = ip})\nend\n",
    );
    lua.replace("START", &start.to_string())
}

async fn bare() -> impl IntoResponse {
    (StatusCode::FOUND, [(header::LOCATION, "https://www.example.com/")])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let links = arg(1, 100_000)?;
    let seconds = arg(2, 5)?;
    let pairs = arg(3, 3)?;
    let connections = arg(4, 64)?;
    let app = TestApp::spawn_behind_proxies(trellis_web::client_address::TrustedProxies::Hops(1)).await;
    let backend = app.backend_name();

    // L links of one partner, by bulk SQL, then loaded into the table as a server starts.
    let started = Instant::now();
    let (boot, partner) = trellis_testkit::bench::vendor_with_distributor(&app, "owner@redirect.example", "a long bench password").await;
    let (workspace, partner): (trellis_core::WorkspaceId, PartnerId) = (boot.workspace_id, partner.id);
    for chunk in (0..links).collect::<Vec<_>>().chunks(500) {
        let mut q = Sql::build(
            "INSERT INTO referral_links (workspace_id, id, partner_id, code, destination_url, utm, change_seq, created_at, updated_at) VALUES ",
        );
        for (n, i) in chunk.iter().enumerate() {
            q.push(if n == 0 { "(" } else { ", (" });
            q.push_bind(&workspace).push(", ").push_bind(LinkId::generate()).push(", ").push_bind(&partner);
            q.push(", ").push_bind(format!("l{i}")).push(", ").push_bind(format!("https://www.example.com/p/{i}"));
            q.push(", '{\"utm_source\":\"partner\"}', 1, 0, 0)");
        }
        app.execute(vec![q]).await?;
    }
    let redirects = Redirects::of(&app.state.ctx).map_err(|e| anyhow::anyhow!("{e}"))?;
    redirects.follow_once(app.state.ctx.db()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(redirects.live_links() == links, "the table holds {} links", redirects.live_links());
    println!(
        "B1 redirect on {backend}: {links} links (seeded and loaded in {:.1} s), {seconds} s rounds, {pairs} pairs, {connections} connections",
        started.elapsed().as_secs_f64()
    );

    let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare_url = format!("http://{}", bare_listener.local_addr()?);
    tokio::spawn(async move { axum::serve(bare_listener, Router::new().route("/r/{code}", get(bare))).await });

    let dir = std::env::temp_dir().join(format!("trellis-redirect-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let paths = zipf_paths(links, 20_000);
    let mut rounds = 0;
    let mut next_script = || -> anyhow::Result<String> {
        rounds += 1;
        let lua = dir.join(format!("zipf-{rounds}.lua"));
        std::fs::write(&lua, script(&paths, rounds << 20))?;
        Ok(lua.to_string_lossy().into_owned())
    };

    // Warm both (and the writer) before timing.
    wrk(&bare_url, &next_script()?, 1, connections)?;
    wrk(&app.base_url, &next_script()?, 1, connections)?;
    let (mut ratios, mut p99_ratios) = (Vec::new(), Vec::new());
    let mut answered = 0;
    // Each round starts with the writer caught up: a backlog left by our round would take CPU
    // from the bare handler's next round and flatter the ratio. How long the writer takes to
    // catch up after our round is printed (how far behind the redirects it was).
    redirects.recorder().flush().await;
    for pair in 1..=pairs {
        let b = wrk(&bare_url, &next_script()?, seconds, connections)?;
        let o = wrk(&app.base_url, &next_script()?, seconds, connections)?;
        let catching_up = Instant::now();
        redirects.recorder().flush().await;
        let writer_behind_ms = catching_up.elapsed().as_millis();
        anyhow::ensure!(o.errors == 0 && b.errors == 0, "errors: bare {}, ours {}", b.errors, o.errors);
        answered += o.requests;
        let (ratio, p99) = (o.requests_per_s / b.requests_per_s, o.p99_ms / b.p99_ms);
        println!(
            "FIGURE redirect_pair backend={backend} pair={pair} bare_per_s={:.0} ours_per_s={:.0} ratio={ratio:.3} bare_p99_ms={:.2} ours_p99_ms={:.2} p99_ratio={p99:.2} writer_behind_ms={writer_behind_ms}",
            b.requests_per_s, o.requests_per_s, b.p99_ms, o.p99_ms
        );
        ratios.push(ratio);
        p99_ratios.push(p99);
    }
    println!(
        "FIGURE redirect backend={backend} links={links} pairs={pairs} ratio_median={:.3} p99_ratio_median={:.2} answered_timed={answered}",
        median(ratios),
        median(p99_ratios)
    );

    // What a graceful shutdown does: flush the writer, then count.
    let flushed = Instant::now();
    redirects.recorder().flush().await;
    let figures = redirects.figures();
    let (redirected, bots, repeats) =
        (figures.redirected.load(Ordering::Relaxed), figures.bots.load(Ordering::Relaxed), figures.repeats.load(Ordering::Relaxed));
    let written = figures_written(&app).await?;
    let writer = redirects.recorder().figures();
    let (batches, dropped, waited) =
        (writer.batches.load(Ordering::Relaxed), writer.dropped.load(Ordering::Relaxed), writer.waited.load(Ordering::Relaxed));
    let expected = redirected - bots - repeats;
    println!(
        "FIGURE redirect_clicks backend={backend} redirected={redirected} bots={bots} repeats={repeats} expected={expected} persisted={written} lost={} dropped={dropped} waited_for_the_writer={waited} batches={batches} mean_batch={:.0} flush_ms={}",
        expected.saturating_sub(written),
        written as f64 / batches.max(1) as f64,
        flushed.elapsed().as_millis()
    );
    let _ = std::fs::remove_dir_all(&dir);
    anyhow::ensure!(written == expected, "{} counted clicks are missing after the flush", expected.saturating_sub(written));
    Ok(())
}

async fn figures_written(app: &TestApp) -> anyhow::Result<u64> {
    Ok(u64::try_from(app.query_i64(sql!("SELECT COUNT(*) AS n FROM clicks")).await)?)
}
