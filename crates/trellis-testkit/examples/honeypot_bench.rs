//! Benchmark of the application form's honeypot (run it with `bench/honeypot.sh`): does a
//! submission that fills the honeypot answer in the same time as a real one (issue 6)?
//!
//! Starts the app (SQLite, or PostgreSQL when `TRELLIS_TEST_POSTGRES_URL` is set) behind a
//! pretend proxy, so that every submission can come from its own address (`X-Forwarded-For`) and
//! the per-address limit never answers instead; the clock moves on between submissions so that
//! the per-program limit does not either. Then it alternates real and honeypot submissions of
//! the same shape — through the page (`POST /apply/{slug}`) and through the API — and prints
//! the median and p90 of each kind and the honeypot/real ratios, measured in the same run.
//! Nothing here passes or fails: the numbers are for people.

use std::time::{Duration, Instant};

use serde_json::json;
use trellis_identity::{Scope, workspaces};
use trellis_programs::{NewProgram, programs};
use trellis_testkit::TestApp;
use trellis_web::client_address::TrustedProxies;

const WARM_UP: usize = 30;
const DEFAULT_SAMPLES: usize = 400;
const SLUG: &str = "bench-resellers";
const CSRF: &str = "bench-form-token";

/// One submission's form fields; `honeypot` fills the hidden field.
fn form_body(n: usize, honeypot: bool) -> String {
    let fax = if honeypot { "%2B1+555+0100" } else { "" };
    format!(
        "csrf_token={CSRF}&company_name=Company+{n}&contact_name=Ada+Lovelace&contact_email=ada%40company{n}.example&website=https%3A%2F%2Fcompany{n}.example&country=DE&types=reseller&company_fax={fax}"
    )
}

/// The address submission `n` comes from: its own, so the per-address limit never applies.
fn address(n: usize) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)
}

/// Sends submission `n` through the page or the API and returns how long the answer took.
async fn submit(app: &TestApp, n: usize, honeypot: bool, page: bool) -> anyhow::Result<Duration> {
    // Keep the per-program limit (500 an hour) from answering: 10 s of clock per submission.
    app.clock.advance_seconds(10);
    let request = if page {
        app.client
            .post(format!("{}/apply/{SLUG}", app.base_url))
            .header("cookie", format!("trellis_apply_csrf={CSRF}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(n, honeypot))
    } else {
        let mut body = json!({
            "company_name": format!("Company {n}"), "contact_name": "Ada Lovelace",
            "contact_email": format!("ada@company{n}.example"), "website": format!("https://company{n}.example"),
            "country": "DE", "types": ["reseller"],
        });
        if honeypot {
            body["company_fax"] = json!("+1 555 0100");
        }
        app.client.post(format!("{}/api/v1/public/programs/{SLUG}/applications", app.base_url)).json(&body)
    };
    let request = request.header("x-forwarded-for", address(n));
    let started = Instant::now();
    let response = request.send().await?;
    let status = response.status().as_u16();
    let _ = response.bytes().await?;
    let took = started.elapsed();
    let expected = if page { 303 } else { 201 };
    anyhow::ensure!(status == expected, "submission {n} (honeypot {honeypot}, page {page}) answered {status}");
    Ok(took)
}

/// (median, p90) of sorted samples.
fn summary(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 9 / 10])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let samples: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(DEFAULT_SAMPLES);
    let app = TestApp::spawn_behind_proxies(TrustedProxies::Hops(1)).await;
    let boot = workspaces::bootstrap(&app.state.ctx, "Bench vendor", "owner@bench.example", "a long bench password", "EUR")
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let system = Scope::system(boot.workspace_id.clone(), &trellis_testkit::TEST_FIXTURES);
    programs::create(&app.state.ctx, &system, NewProgram { name: "Resellers".into(), slug: SLUG.into(), ..Default::default() })
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut n = 0;
    for page in [true, false] {
        for _ in 0..WARM_UP {
            for honeypot in [false, true] {
                submit(&app, n, honeypot, page).await?;
                n += 1;
            }
        }
        let (mut real, mut caught) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
        for i in 0..samples {
            // Alternate which kind goes first, so neither always follows the other.
            let order = if i % 2 == 0 { [false, true] } else { [true, false] };
            for honeypot in order {
                let took = submit(&app, n, honeypot, page).await?;
                n += 1;
                if honeypot { caught.push(took) } else { real.push(took) }
            }
        }
        let (real_median, real_p90) = summary(&mut real);
        let (caught_median, caught_p90) = summary(&mut caught);
        let via = if page { "page" } else { "api" };
        let backend = app.backend_name();
        println!(
            "FIGURE honeypot via={via} kind=real samples={samples} median_ms={:.3} p90_ms={:.3} backend={backend}",
            ms(real_median),
            ms(real_p90)
        );
        println!(
            "FIGURE honeypot via={via} kind=honeypot samples={samples} median_ms={:.3} p90_ms={:.3} backend={backend}",
            ms(caught_median),
            ms(caught_p90)
        );
        println!(
            "FIGURE honeypot via={via} ratio_median={:.3} ratio_p90={:.3} (honeypot / real; 1.0 = indistinguishable) backend={backend}",
            caught_median.as_secs_f64() / real_median.as_secs_f64(),
            caught_p90.as_secs_f64() / real_p90.as_secs_f64()
        );
    }
    let kept = app.query_i64(trellis_db::sql!("SELECT COUNT(*) AS n FROM applications")).await;
    println!("applications kept: {kept} (the real submissions only)");
    Ok(())
}
