//! Benchmark of deal visibility at distributor scale (run it with `bench/deal-list.sh`).
//!
//! For each size N (default 1,000, 10,000 and 50,000), a fresh database gets one workspace with a
//! distributor and N resellers under it, 200 partners under another distributor, and two deals per
//! partner (one in ten won). It then times `GET /api/v1/deals?limit=50` and its neighbours (the
//! next page, oldest first, won deals only, one reseller's deals) as the distributor, as one of
//! its resellers (a single partner with two deals), and as a channel manager limited to the
//! distributor, each against the vendor owner's same request in the same run, and prints the
//! ratios. Issue 9's target: a distributor's pipeline costs what a single partner's does, so no
//! ratio grows with N. Nothing here passes or fails: the numbers are for people.
//!
//! `cargo run --release -p trellis-testkit --example deal_list_bench -- 1000 10000` picks the sizes;
//! `TRELLIS_TEST_POSTGRES_URL` runs it on PostgreSQL.

use std::time::{Duration, Instant};

use trellis_core::PartnerType;
use trellis_db::Sql;
use trellis_directory::{NewPartner, partners};
use trellis_identity::{Scope, api_keys, workspaces};
use trellis_testkit::{TestApp, bench, bulk};

const DEFAULT_SIZES: [usize; 3] = [1_000, 10_000, 50_000];
const OTHERS: usize = 200;
const DEALS_PER_PARTNER: usize = 2;

fn fail(e: impl std::fmt::Debug) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

async fn run(resellers: usize) -> anyhow::Result<()> {
    let app = TestApp::spawn().await;
    let backend = app.backend_name();
    let ctx = &app.state.ctx;
    let started = Instant::now();
    let boot = workspaces::bootstrap(ctx, "Bench vendor", "owner@bench.example", "a long bench password", "EUR").await.map_err(fail)?;
    let system = Scope::system(boot.workspace_id.clone(), &trellis_testkit::TEST_FIXTURES);
    let (manager_id, manager) = bench::assigned_manager(&app, &boot.workspace_id, "cm@bench.example").await?;
    let distributor = |name: &str, manager_user_id| NewPartner {
        name: name.into(),
        contact_email: format!("{}@bench.example", name.to_lowercase().replace(' ', "-")),
        types: vec![PartnerType::Distributor],
        manager_user_id,
        ..NewPartner::default()
    };
    let other_top = partners::create(ctx, &system, distributor("Other distributor", None)).await.map_err(fail)?;
    let big = partners::create(ctx, &system, distributor("Big distributor", Some(manager_id))).await.map_err(fail)?;
    let ids = bulk::add_resellers(&app, &boot.workspace_id, &big.id, "Reseller", resellers).await;
    let others = bulk::add_resellers(&app, &boot.workspace_id, &other_top.id, "Other reseller", OTHERS).await;
    let deals = bulk::add_deals(&app, &boot.workspace_id, &ids, DEALS_PER_PARTNER).await
        + bulk::add_deals(&app, &boot.workspace_id, &others, DEALS_PER_PARTNER).await;
    if app.is_postgres() {
        app.execute(vec![Sql::build("ANALYZE")]).await?;
    }
    let reseller_id = &ids[resellers / 2];
    let distributor_key = api_keys::create_partner_key(ctx, &system, &big.id, "bench", None, None).await.map_err(fail)?.secret;
    let reseller_key = api_keys::create_partner_key(ctx, &system, reseller_id, "bench", None, None).await.map_err(fail)?.secret;
    println!("seeded {resellers} resellers + {OTHERS} others and {deals} deals on {backend} in {:.1} s", started.elapsed().as_secs_f64());

    let list = "/api/v1/deals?limit=50";
    let next_of = |first: &serde_json::Value| match first["next_cursor"].as_str() {
        Some(cursor) => format!("{list}&cursor={cursor}"),
        None => list.to_owned(),
    };
    let distributor_next = next_of(&app.get(list, &distributor_key).await.body);
    let owner_next = next_of(&app.get(list, &boot.api_key).await.body);
    let oldest = format!("{list}&order=oldest");
    let won = format!("{list}&status=won");
    let one_reseller = format!("{list}&partner_id={reseller_id}");
    let scenarios: [(&str, &str, &str, &str, &str); 8] = [
        ("list", "distributor", &distributor_key, list, list),
        ("next_page", "distributor", &distributor_key, &distributor_next, &owner_next),
        ("oldest_first", "distributor", &distributor_key, &oldest, &oldest),
        ("won_only", "distributor", &distributor_key, &won, &won),
        ("one_reseller", "distributor", &distributor_key, &one_reseller, &one_reseller),
        ("list", "reseller", &reseller_key, list, list),
        ("list", "assigned_manager", &manager, list, list),
        ("won_only", "assigned_manager", &manager, &won, &won),
    ];
    for (what, who, bearer, path, owner_path) in scenarios {
        let (owner, _) = bench::median_get(&app, owner_path, &boot.api_key).await?;
        let (caller, listed) = bench::median_get(&app, path, bearer).await?;
        println!(
            "FIGURE deal_list backend={backend} resellers={resellers} request={what} caller={who} listed={listed} owner_ms={:.2} caller_ms={:.2} ratio={:.2}",
            ms(owner),
            ms(caller),
            caller.as_secs_f64() / owner.as_secs_f64()
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args().skip(1).map(|a| a.replace([',', '_'], "").parse()).collect::<Result<_, _>>()?;
    for resellers in if sizes.is_empty() { DEFAULT_SIZES.to_vec() } else { sizes } {
        run(resellers).await?;
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
