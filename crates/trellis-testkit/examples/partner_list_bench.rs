//! Benchmark of the console partner list as the workspace grows (run it with
//! `bench/partner-list.sh`).
//!
//! One distributor with N resellers (default 1,000, 10,000 and 50,000). At each size it times, as
//! the vendor owner signed in through the sign-in form, the list's first page newest first (the
//! reference) against: the first page by name, a page by name from the middle of the list, a page
//! newest first from the middle, and the tier and compliance filters when (almost) nothing
//! matches, and prints each ratio. The target: the sorted pages' ratios do not grow with N. The
//! filters contributed by other capabilities probe each listed partner, so a filter that matches
//! almost nothing reads the whole workspace: their figures say how much that costs. Nothing here
//! passes or fails.
//!
//! `cargo run --release -p trellis-testkit --example partner_list_bench -- 1000 10000` picks the
//! sizes; `TRELLIS_TEST_POSTGRES_URL` runs it on PostgreSQL.

use std::time::{Duration, Instant};

use trellis_testkit::{TestApp, bench, bulk};

const DEFAULT_SIZES: [usize; 3] = [1_000, 10_000, 50_000];
const PASSWORD: &str = "a long bench password";

async fn run(size: usize) -> anyhow::Result<()> {
    let app = TestApp::spawn().await;
    let backend = app.backend_name();
    let (boot, top) = bench::vendor_with_distributor(&app, "owner@bench.example", PASSWORD).await;
    let started = Instant::now();
    let partners = bulk::add_resellers(&app, &boot.workspace_id, &top.id, "Reseller", size).await;
    println!("seeded {size} resellers on {backend} in {:.1} s", started.elapsed().as_secs_f64());
    let session = bench::sign_in(&app, "owner@bench.example", PASSWORD).await?;
    let middle = &partners[size / 2];
    let reference = bench::median_page(&app, "/console/partners", &session).await?;
    let pages = [
        ("by_name", "/console/partners?sort=name".to_owned()),
        ("by_name_middle", format!("/console/partners?sort=name&cursor={middle}&from=1")),
        ("by_name_desc_middle", format!("/console/partners?sort=name_desc&cursor={middle}&from=1")),
        ("newest_middle", format!("/console/partners?cursor={middle}&from=1")),
        ("not_compliant_none_match", "/console/partners?compliance=not_compliant".to_owned()),
        ("tier_none_match", format!("/console/partners?tier=tir_{}", trellis_core::new_id_body())),
    ];
    for (what, path) in pages {
        let took = bench::median_page(&app, &path, &session).await?;
        println!(
            "FIGURE partner_list backend={backend} partners={size} page={what} reference_ms={:.2} page_ms={:.2} ratio={:.2}",
            ms(reference),
            ms(took),
            took.as_secs_f64() / reference.as_secs_f64()
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args().skip(1).map(|a| a.replace([',', '_'], "").parse()).collect::<Result<_, _>>()?;
    for size in if sizes.is_empty() { DEFAULT_SIZES.to_vec() } else { sizes } {
        run(size).await?;
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
