//! Benchmark of the console partner page as the audit trail grows (run it with
//! `bench/partner-page.sh`).
//!
//! One workspace with 1,000 partners; its audit trail grows to each size N (default 10,000,
//! 100,000 and 500,000 events: contracts, licences and invitations, each naming one of the other
//! partners, as a busy channel's trail does), while the partner shown keeps its own 30 events. At
//! each size it times the console page of that partner (`GET /console/partners/{id}`: every section in one read transaction, the lifecycle
//! timeline among them) against the partner list (`GET /console/partners`) in the same run, as the
//! vendor owner signed in through the sign-in form, and prints the ratio. It also times the
//! timeline's query alone, and the query it replaced (every event of the timeline's actions in the
//! workspace, matched by text), so the growth the `audit_events.subject_partner_id` index removed is
//! visible next to the page.
//!
//! The target: the ratio does not grow with the trail. Nothing here passes or fails.
//!
//! `cargo run --release -p trellis-testkit --example partner_page_bench -- 10000 100000` picks the
//! sizes; `TRELLIS_TEST_POSTGRES_URL` runs it on PostgreSQL.

use std::time::{Duration, Instant};

use trellis_core::{PartnerId, WorkspaceId, new_id_body};
use trellis_db::{Sql, ToValue, Value, sql};
use trellis_directory::lifecycle::ACTIONS_NAMING_THE_PARTNER;
use trellis_testkit::{TestApp, bench, bulk};

const DEFAULT_SIZES: [usize; 3] = [10_000, 100_000, 500_000];
const PARTNERS: usize = 1_000;
/// The shown partner's own history: what its timeline has to show at every size.
const SHOWN_EVENTS: usize = 30;
const SAMPLES: usize = 15;
const PASSWORD: &str = "a long bench password";
const ACTIONS: [&str; 3] = ["contract.created", "licence.created", "partner_user.invited"];

fn fail(e: impl std::fmt::Debug) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// Median of `SAMPLES` runs of one query.
async fn median_query(app: &TestApp, query: impl Fn() -> Sql) -> Duration {
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        app.query(query()).await;
        samples.push(started.elapsed());
    }
    samples.sort();
    samples[SAMPLES / 2]
}

/// Appends `count` events to the workspace's trail, each naming one of `partners` the way
/// `.set("partner_id", …)` does, with the chain head moved past them (their hashes are not real:
/// the benchmark never verifies the chain).
async fn grow_trail(app: &TestApp, workspace: &WorkspaceId, partners: &[PartnerId], count: usize) -> anyhow::Result<()> {
    let first = app.query_i64(sql!("SELECT last_seq AS n FROM audit_chain_heads WHERE workspace_id = $1", workspace)).await + 1;
    let columns = "workspace_id, seq, id, at, actor_type, action, target_type, target_id, changes, prev_hash, hash, subject_partner_id";
    let rows: Vec<Vec<Value>> = (0..count)
        .map(|n| {
            let partner = &partners[(n * 7919) % partners.len()];
            let action = ACTIONS[n % ACTIONS.len()];
            vec![
                workspace.to_value(),
                (first + n as i64).to_value(),
                format!("aud_{}", new_id_body()).to_value(),
                (1_800_000_000_000_000_i64 + n as i64).to_value(),
                "system".to_value(),
                action.to_value(),
                action.split('.').next().unwrap_or("object").to_value(),
                format!("obj_{}", new_id_body()).to_value(),
                format!(r#"{{"partner_id":[null,"{partner}"]}}"#).to_value(),
                "bench".to_value(),
                "bench".to_value(),
                partner.to_value(),
            ]
        })
        .collect();
    let mut statements: Vec<Sql> = rows.chunks(500).map(|chunk| bulk::insert_rows("audit_events", columns, chunk)).collect();
    statements.push(sql!("UPDATE audit_chain_heads SET last_seq = $2 WHERE workspace_id = $1", workspace, first + count as i64 - 1));
    if app.is_postgres() {
        statements.push(Sql::build("ANALYZE"));
    }
    app.execute(statements).await.map_err(fail)
}

async fn run(sizes: &[usize]) -> anyhow::Result<()> {
    let app = TestApp::spawn().await;
    let backend = app.backend_name();
    let (boot, top) = bench::vendor_with_distributor(&app, "owner@bench.example", PASSWORD).await;
    let partners = bulk::add_resellers(&app, &boot.workspace_id, &top.id, "Reseller", PARTNERS).await;
    let shown = &partners[PARTNERS / 2];
    let others: Vec<PartnerId> = partners.iter().filter(|p| *p != shown).cloned().collect();
    grow_trail(&app, &boot.workspace_id, std::slice::from_ref(shown), SHOWN_EVENTS).await?;
    let session = bench::sign_in(&app, "owner@bench.example", PASSWORD).await?;
    let page = format!("/console/partners/{shown}");
    let new_timeline = || {
        let mut q = Sql::build("SELECT at, action, changes FROM audit_events WHERE workspace_id = ");
        q.push_bind(&boot.workspace_id).push(" AND subject_partner_id = ").push_bind(shown);
        q.push(" AND (target_type = 'partner' OR action IN ").push_in_list(ACTIONS_NAMING_THE_PARTNER);
        q.push(") ORDER BY seq DESC LIMIT 300");
        q
    };
    let replaced_timeline = || {
        let mut q = Sql::build("SELECT at, action, changes FROM audit_events WHERE workspace_id = ");
        q.push_bind(&boot.workspace_id).push(" AND (target_id = ").push_bind(shown).push(" OR (action IN ");
        q.push_in_list(ACTIONS_NAMING_THE_PARTNER).push(" AND changes LIKE ").push_bind(format!("%\"{shown}\"%"));
        q.push(")) ORDER BY seq DESC LIMIT 300");
        q
    };
    let mut trail = 0;
    for &size in sizes {
        let started = Instant::now();
        grow_trail(&app, &boot.workspace_id, &others, size.saturating_sub(trail)).await?;
        trail = trail.max(size);
        println!("trail grown to {trail} events on {backend} in {:.1} s", started.elapsed().as_secs_f64());
        let list = bench::median_page(&app, "/console/partners", &session).await?;
        let partner = bench::median_page(&app, &page, &session).await?;
        let (new_query, old_query) = (median_query(&app, new_timeline).await, median_query(&app, replaced_timeline).await);
        println!(
            "FIGURE partner_page backend={backend} partners={PARTNERS} trail={trail} list_ms={:.2} partner_page_ms={:.2} ratio={:.2} timeline_query_ms={:.2} replaced_query_ms={:.2}",
            ms(list),
            ms(partner),
            partner.as_secs_f64() / list.as_secs_f64(),
            ms(new_query),
            ms(old_query),
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args().skip(1).map(|a| a.replace([',', '_'], "").parse()).collect::<Result<_, _>>()?;
    run(if sizes.is_empty() { &DEFAULT_SIZES } else { &sizes }).await
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
