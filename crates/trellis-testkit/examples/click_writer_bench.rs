//! The click writer alone (ADR 0021): N clicks of 100 links queued at once, then flushed; prints
//! the clicks written per second. What B1 (`bench/redirect.sh`) cannot separate from the
//! redirects it serves; run it under `valgrind --tool=callgrind` or `strace -c` to see where a
//! click's write goes.
//!
//! `cargo run --release -p trellis-testkit --example click_writer_bench -- [clicks]` (default
//! 200,000); `TRELLIS_TEST_POSTGRES_URL` runs it on PostgreSQL.
use std::sync::Arc;
use std::time::Instant;

use trellis_core::LinkId;
use trellis_db::Sql;
use trellis_testkit::TestApp;
use trellis_tracking::recorder::ClickRow;
use trellis_tracking::redirects::Redirects;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map(|a| a.replace([',', '_'], "").parse()).transpose()?.unwrap_or(200_000);
    let app = TestApp::spawn().await;
    let (boot, partner) = trellis_testkit::bench::vendor_with_distributor(&app, "owner@writer.example", "a long bench password").await;
    let mut ids = Vec::new();
    let mut q = Sql::build(
        "INSERT INTO referral_links (workspace_id, id, partner_id, code, destination_url, utm, change_seq, created_at, updated_at) VALUES ",
    );
    for i in 0..100 {
        let id = LinkId::generate();
        q.push(if i == 0 { "(" } else { ", (" });
        q.push_bind(&boot.workspace_id).push(", ").push_bind(&id).push(", ").push_bind(&partner.id);
        q.push(", ").push_bind(format!("w{i}")).push(", 'https://www.example.com/', '{}', 1, 0, 0)");
        ids.push(id);
    }
    app.execute(vec![q]).await?;
    let redirects = Redirects::of(&app.state.ctx).map_err(|e| anyhow::anyhow!("{e}"))?;
    redirects.follow_once(app.state.ctx.db()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let links: Vec<Arc<_>> = ids.iter().map(|id| redirects.link(id).expect("a link just loaded")).collect();
    let now = app.state.ctx.now();
    let started = Instant::now();
    for i in 0..n {
        let link = links[i % links.len()].clone();
        let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        let click_id = redirects.key().issue(&link.id, now, &ip);
        redirects.recorder().record(ClickRow { link, click_id, clicked_at: now, ip, user_agent: Some("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1".into()), referer: None }).await;
    }
    let queued = started.elapsed();
    redirects.recorder().flush().await;
    let total = started.elapsed();
    println!(
        "FIGURE click_writer backend={} clicks={n} queued_in={:.2}s written_in={:.2}s rows_per_s={:.0}",
        app.backend_name(),
        queued.as_secs_f64(),
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64()
    );
    Ok(())
}
