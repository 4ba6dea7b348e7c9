//! What matching a lead costs as the partners serving its country grow (issue 13, ADR 0028): N
//! resellers enrolled in the deal program serve Germany (a territory of their profile), as many
//! serve France; a German lead's ranked candidates (`GET /api/v1/leads/{id}/matches`, every
//! candidate scored with its reasons) are timed against reading the lead itself in the same run.
//! Each partner has a track record. A match orders the partners serving the country by the parts
//! of the score SQL reads (region, product, figures) and scores the best 5,000 in full, reading
//! their own rows (profile terms, tier, figures, open leads) in chunks of 500: its cost grows with
//! the candidates of the lead's country, and not with the rest of the table (the French partners
//! add nothing).
//!
//! `cargo run --release -p trellis-testkit --example lead_match_bench -- [sizes…]` (default 1,000
//! 10,000 50,000); `TRELLIS_TEST_POSTGRES_URL` runs it on PostgreSQL. A benchmark: it never fails
//! on a number.
use std::time::Instant;

use trellis_core::Timestamp;
use trellis_db::{ToValue, Value};
use trellis_identity::{RequestMeta, auth};
use trellis_testkit::TestApp;
use trellis_testkit::bulk::{add_resellers, insert_rows};
use trellis_testkit::fixture::{self, Fixture};

fn fail(e: impl std::fmt::Debug) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

async fn run(n: usize) -> anyhow::Result<()> {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let programs = fixture::deal_programs(&app, &f).await;
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    for (country, prefix) in [("de", "German reseller"), ("fr", "French reseller")] {
        let ids = add_resellers(&app, &f.workspace_id, &f.d1, prefix, n).await;
        let terms: Vec<Vec<Value>> = ids
            .iter()
            .map(|id| {
                vec![
                    f.workspace_id.to_value(),
                    id.to_value(),
                    "country".to_value(),
                    country.to_value(),
                    country.to_uppercase().to_value(),
                    0_i64.to_value(),
                ]
            })
            .collect();
        let enrollments: Vec<Vec<Value>> = ids
            .iter()
            .map(|id| vec![f.workspace_id.to_value(), id.to_value(), programs.main.to_value(), now.to_value(), now.to_value()])
            .collect();
        // A track record for each (overall and in its country), so that the pre-selection of a
        // large country orders real figures.
        let upper = country.to_uppercase();
        let stats: Vec<Vec<Value>> = ids
            .iter()
            .enumerate()
            .flat_map(|(i, id)| {
                let (won, lost) = ((i % 7) as i64, (i % 5) as i64);
                ["", upper.as_str()].map(|c| {
                    vec![
                        f.workspace_id.to_value(),
                        id.to_value(),
                        c.to_value(),
                        won.to_value(),
                        lost.to_value(),
                        (30 * (won + lost)).to_value(),
                        ((i % 3) as i64).to_value(),
                        ((i % 2) as i64).to_value(),
                        (600 * ((i % 3) + (i % 2)) as i64).to_value(),
                    ]
                })
            })
            .collect();
        let mut statements: Vec<_> = terms
            .chunks(500)
            .map(|c| insert_rows("partner_profile_terms", "workspace_id, partner_id, kind, match_key, value, position", c))
            .collect();
        statements.extend(
            enrollments.chunks(500).map(|c| insert_rows("enrollments", "workspace_id, partner_id, program_id, enrolled_at, updated_at", c)),
        );
        statements.extend(stats.chunks(500).map(|c| {
            insert_rows(
                "lead_partner_stats",
                "workspace_id, partner_id, country, won, lost, close_days_sum, offers_accepted, offers_refused, response_minutes_sum",
                c,
            )
        }));
        app.execute(statements).await?;
    }
    if app.is_postgres() {
        app.execute(
            ["partners", "partner_profile_terms", "enrollments", "partner_ancestry", "lead_partner_stats"]
                .map(|t| trellis_db::Sql::build("ANALYZE").push(&format!(" {t}")).clone())
                .to_vec(),
        )
        .await?;
    }
    let owner = auth::authenticate_bearer(&app.state.ctx, &f.owner_key, None, &RequestMeta::default()).await.map_err(fail)?;
    let input = trellis_leads::leads::NewLead {
        company_name: "Huber Logistik GmbH".into(),
        country: "DE".into(),
        product_interest: Some("Cloud".into()),
        program_id: Some(programs.main.clone()),
        ..Default::default()
    };
    let lead = trellis_leads::leads::create(&app.state.ctx, &owner, input).await.map_err(fail)?;
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds * 10 {
        trellis_leads::leads::get(&app.state.ctx, &owner, &lead.id).await.map_err(fail)?;
    }
    let read = started.elapsed().as_secs_f64() / (rounds * 10) as f64;
    let started = Instant::now();
    let mut candidates = 0;
    for _ in 0..rounds {
        candidates = trellis_leads::routing::matches(&app.state.ctx, &owner, &lead.id).await.map_err(fail)?.len();
    }
    let matched = started.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "FIGURE lead_matches backend={} serving_country={n} other_country={n} candidates={candidates} read_lead_us={:.0} matches_ms={:.1} ratio={:.0} per_candidate_us={:.1}",
        app.backend_name(),
        read * 1e6,
        matched * 1e3,
        matched / read,
        matched * 1e6 / candidates.max(1) as f64,
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args().skip(1).map(|a| a.replace([',', '_'], "").parse()).collect::<Result<_, _>>()?;
    for n in if sizes.is_empty() { vec![1_000, 10_000, 50_000] } else { sizes } {
        run(n).await?;
    }
    Ok(())
}
