//! Benchmark of the public partner locator at 10,000 partners (run it with `bench/locator.sh`).
//!
//! Seeds one workspace with 10,000 partners (most active and listed, with territories,
//! specialisations and tiers), then times sequential requests to `GET /api/v1/public/partners`
//! with typical filters against `GET /healthz` (the same HTTP stack and one database round trip)
//! measured in the same run, and prints the ratio. Nothing here passes or fails: the numbers are
//! for people, and a ratio stays comparable across machines.

use std::time::{Duration, Instant};

use trellis_core::{PartnerType, PartnerTypes, TierId, Timestamp, new_id_body};
use trellis_db::{Sql, ToValue};
use trellis_identity::{Scope, workspaces};
use trellis_programs::{NewProgram, programs, tiers};
use trellis_testkit::{TestApp, bulk};

const PARTNERS: usize = 10_000;
const REQUESTS: usize = 300;
const COUNTRIES: [&str; 20] =
    ["DE", "AT", "CH", "FR", "GB", "IE", "US", "CA", "NL", "BE", "SE", "NO", "DK", "FI", "ES", "PT", "IT", "PL", "AU", "JP"];
const REGIONS: [&str; 6] = ["DACH", "Nordics", "Benelux", "UK & Ireland", "North America", "APAC"];
const SPECIALISATIONS: [&str; 10] = [
    "Cloud migration",
    "Backup",
    "Security",
    "Managed services",
    "Integrations",
    "Web design",
    "Consulting",
    "Training",
    "ERP",
    "Analytics",
];
const BATCH: usize = 400;

/// A deterministic pseudo-random number (xorshift), so every run seeds the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

async fn seed(app: &TestApp) -> anyhow::Result<trellis_core::WorkspaceId> {
    let ctx = &app.state.ctx;
    let boot = workspaces::bootstrap(ctx, "Bench vendor", "owner@bench.example", "a long bench password", "EUR")
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let system = Scope::system(boot.workspace_id.clone(), &trellis_testkit::TEST_FIXTURES);
    let program =
        programs::create(ctx, &system, NewProgram { name: "Resellers".into(), slug: "bench-resellers".into(), ..Default::default() })
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut tier_ids: Vec<TierId> = Vec::new();
    for (rank, name) in ["Registered", "Silver", "Gold"].iter().enumerate() {
        let tier =
            tiers::create(ctx, &system, &program.id, tiers::NewTier { name: (*name).into(), rank: rank as i64, ..Default::default() })
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        tier_ids.push(tier.id);
    }
    let ws = boot.workspace_id.to_string();
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut partners, mut profiles, mut terms, mut enrollments) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for n in 0..PARTNERS {
        let id = format!("ptn_{}", new_id_body());
        let types: PartnerTypes = [PartnerType::ALL[rng.next(PartnerType::ALL.len())]].into_iter().collect();
        let status = if rng.next(10) == 0 { "suspended" } else { "active" };
        let name = format!(
            "{} {} {n}",
            ["Alpha", "Blue", "Cedar", "Delta", "Echo", "Fjord", "Gamma", "Harbor"][rng.next(8)],
            ["IT", "Systems", "Cloud", "Partners"][rng.next(4)]
        );
        partners.push(vec![
            ws.to_value(),
            id.to_value(),
            name.to_value(),
            format!("p{n}@bench.example").to_value(),
            types.mask().to_value(),
            status.to_value(),
            now.to_value(),
            now.to_value(),
        ]);
        profiles.push(vec![
            ws.to_value(),
            id.to_value(),
            format!("Partner number {n}, serving its customers well.").to_value(),
            (rng.next(5) != 0).to_value(),
            now.to_value(),
        ]);
        let mut countries: Vec<&str> = (0..1 + rng.next(3)).map(|_| COUNTRIES[rng.next(COUNTRIES.len())]).collect();
        countries.dedup();
        let mut position = 0i64;
        let mut seen = std::collections::BTreeSet::new();
        for country in countries {
            if seen.insert(("country", country.to_lowercase())) {
                terms.push(vec![
                    ws.to_value(),
                    id.to_value(),
                    "country".to_value(),
                    country.to_lowercase().to_value(),
                    country.to_value(),
                    position.to_value(),
                ]);
                position += 1;
            }
        }
        let region = REGIONS[rng.next(REGIONS.len())];
        terms.push(vec![
            ws.to_value(),
            id.to_value(),
            "region".to_value(),
            region.to_lowercase().to_value(),
            region.to_value(),
            0i64.to_value(),
        ]);
        for _ in 0..1 + rng.next(2) {
            let s = SPECIALISATIONS[rng.next(SPECIALISATIONS.len())];
            if seen.insert(("specialisation", s.to_lowercase())) {
                terms.push(vec![
                    ws.to_value(),
                    id.to_value(),
                    "specialisation".to_value(),
                    s.to_lowercase().to_value(),
                    s.to_value(),
                    0i64.to_value(),
                ]);
            }
        }
        enrollments.push(vec![
            ws.to_value(),
            id.to_value(),
            program.id.to_value(),
            tier_ids[rng.next(tier_ids.len())].to_value(),
            now.to_value(),
            now.to_value(),
        ]);
    }
    let mut statements = Vec::new();
    for chunk in partners.chunks(BATCH) {
        statements.push(bulk::insert_rows(
            "partners",
            "workspace_id, id, name, contact_email, types, status, created_at, updated_at",
            chunk,
        ));
    }
    for chunk in profiles.chunks(BATCH) {
        statements.push(bulk::insert_rows("partner_profiles", "workspace_id, partner_id, description, locator_opt_in, updated_at", chunk));
    }
    for chunk in terms.chunks(BATCH) {
        statements.push(bulk::insert_rows("partner_profile_terms", "workspace_id, partner_id, kind, match_key, value, position", chunk));
    }
    for chunk in enrollments.chunks(BATCH) {
        statements.push(bulk::insert_rows("enrollments", "workspace_id, partner_id, program_id, tier_id, enrolled_at, updated_at", chunk));
    }
    app.execute(statements).await?;
    if app.is_postgres() {
        app.execute(vec![Sql::build("ANALYZE")]).await?;
    }
    Ok(boot.workspace_id)
}

/// Mean and 95th percentile of `REQUESTS` sequential GETs of `path` (after a warm-up).
async fn time(app: &TestApp, path: &str) -> anyhow::Result<(Duration, Duration, usize)> {
    let url = format!("{}{path}", app.base_url);
    let mut listed = 0;
    for _ in 0..20 {
        let response = app.client.get(&url).send().await?;
        anyhow::ensure!(response.status().is_success(), "{path}: {}", response.status());
        let body: serde_json::Value = response.json().await?;
        listed = body["data"].as_array().map_or(0, Vec::len);
    }
    let mut samples = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let started = Instant::now();
        let response = app.client.get(&url).send().await?;
        let _ = response.bytes().await?;
        samples.push(started.elapsed());
    }
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / REQUESTS as u32;
    Ok((mean, samples[REQUESTS * 95 / 100], listed))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = TestApp::spawn().await;
    let started = Instant::now();
    let workspace = seed(&app).await?;
    println!("seeded {PARTNERS} partners on {} in {:.1} s", app.backend_name(), started.elapsed().as_secs_f64());
    let (reference, reference_p95, _) = time(&app, "/healthz").await?;
    println!("FIGURE locator_reference path=/healthz mean_ms={:.3} p95_ms={:.3}", ms(reference), ms(reference_p95));
    let first = format!("/api/v1/public/partners?workspace={workspace}&limit=50");
    let page = app.client.get(format!("{}{first}", app.base_url)).send().await?.json::<serde_json::Value>().await?;
    let deep_cursor = page["next_cursor"].as_str().unwrap_or_default().to_owned();
    let scenarios = [
        ("first_page", first.clone()),
        ("next_page", format!("{first}&cursor={deep_cursor}")),
        ("country", format!("{first}&country=DE")),
        ("region", format!("{first}&region=nordics")),
        ("type_and_tier", format!("{first}&type=reseller&tier=gold")),
        ("specialisation", format!("{first}&specialisation=backup")),
        ("country_tier_specialisation", format!("{first}&country=JP&tier=gold&specialisation=erp")),
        ("text", format!("{first}&q=harbor%20cloud%2099")),
    ];
    for (name, path) in scenarios {
        let (mean, p95, listed) = time(&app, &path).await?;
        println!(
            "FIGURE locator scenario={name} partners={PARTNERS} listed={listed} mean_ms={:.3} p95_ms={:.3} ratio_to_healthz={:.2} backend={}",
            ms(mean),
            ms(p95),
            mean.as_secs_f64() / reference.as_secs_f64(),
            app.backend_name()
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
