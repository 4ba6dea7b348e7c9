//! What SCIM provisioning costs as a partner organisation grows (ADR 0024): finding one person
//! (`GET /Users/{id}` and the provider's `filter=userName eq "…"` before every create) timed in an
//! organisation of a few people (the reference) and again after N more people joined it (a tenth
//! of them deactivated by the provider), with the rest of the instance as large. Finding one
//! person reads index entries of that person only: the ratio should stay near 1. The first page of
//! the whole list is timed too; its `totalResults` counts the organisation, so it grows with it.
//!
//! `cargo run --release -p trellis-testkit --example scim_bench -- [people]` (default 50,000);
//! `TRELLIS_TEST_POSTGRES_URL` runs it on PostgreSQL.
use std::time::Instant;

use trellis_core::{Timestamp, new_id_body};
use trellis_db::{ToValue, Value};
use trellis_identity::provisioning::{self, UserFilter};
use trellis_identity::{RequestMeta, Scope, api_keys, auth};
use trellis_testkit::TestApp;
use trellis_testkit::bulk::insert_rows;
use trellis_testkit::fixture::Fixture;

/// Mean seconds of `rounds` lookups of one person by id and by address, of one first page, and of
/// the count alone (`count=0`, which identity providers send to learn the total).
async fn timings(
    app: &TestApp,
    scim: &Scope,
    user_id: &trellis_core::UserId,
    email: &str,
    rounds: usize,
) -> anyhow::Result<(f64, f64, f64)> {
    let fail = |e: trellis_core::Error| anyhow::anyhow!("{e}");
    let started = Instant::now();
    for _ in 0..rounds {
        provisioning::get(&app.state.ctx, scim, user_id).await.map_err(fail)?;
        let (total, found) = provisioning::list(&app.state.ctx, scim, &UserFilter::Email(email.to_owned()), 0, 100).await.map_err(fail)?;
        assert_eq!((total, found.len()), (1, 1));
    }
    let one = started.elapsed().as_secs_f64() / rounds as f64;
    let started = Instant::now();
    for _ in 0..(rounds / 10).max(1) {
        provisioning::list(&app.state.ctx, scim, &UserFilter::All, 0, 100).await.map_err(fail)?;
    }
    let page = started.elapsed().as_secs_f64() / (rounds / 10).max(1) as f64;
    let started = Instant::now();
    for _ in 0..(rounds / 10).max(1) {
        provisioning::list(&app.state.ctx, scim, &UserFilter::All, 0, 0).await.map_err(fail)?;
    }
    let count = started.elapsed().as_secs_f64() / (rounds / 10).max(1) as f64;
    Ok((one, page, count))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map(|a| a.replace([',', '_'], "").parse()).transpose()?.unwrap_or(50_000);
    let rounds = 1_000;
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let fail = |e: trellis_core::Error| anyhow::anyhow!("{e}");
    let admin = auth::authenticate_bearer(&app.state.ctx, &f.owner_key, None, &RequestMeta::default()).await.map_err(fail)?;
    let token = api_keys::create_scim_token(&app.state.ctx, &admin, &f.r1a, "bench").await.map_err(fail)?;
    let scim = auth::authenticate_scim(&app.state.ctx, &token.secret, &RequestMeta::default()).await.map_err(fail)?;
    let member: trellis_core::UserId = f.r1a_member.user_id.parse()?;
    let (one_small, page_small, _) = timings(&app, &scim, &member, &f.r1a_member.email, rounds).await?;

    // N people join R1a, and as many join the sibling D2 (the rest of the instance grows too).
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    for (partner, label) in [(&f.r1a, "r1a"), (&f.d2, "d2")] {
        let ids: Vec<String> = (0..n).map(|_| format!("usr_{}", new_id_body())).collect();
        let users: Vec<Vec<Value>> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                vec![
                    id.to_value(),
                    format!("p{i}@{label}.bench.example").to_value(),
                    format!("Person {i}").to_value(),
                    now.to_value(),
                    now.to_value(),
                ]
            })
            .collect();
        let members: Vec<Vec<Value>> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 10 != 0)
            .map(|(_, id)| vec![f.workspace_id.to_value(), partner.to_value(), id.to_value(), "member".to_value(), now.to_value()])
            .collect();
        let identities: Vec<Vec<Value>> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 10 == 0)
            .map(|(i, id)| {
                vec![
                    f.workspace_id.to_value(),
                    partner.to_value(),
                    id.to_value(),
                    format!("ext-{label}-{i}").to_value(),
                    false.to_value(),
                    true.to_value(),
                    "member".to_value(),
                    true.to_value(),
                    now.to_value(),
                    now.to_value(),
                ]
            })
            .collect();
        let mut statements: Vec<_> =
            users.chunks(500).map(|c| insert_rows("users", "id, email, name, created_at, updated_at", c)).collect();
        statements
            .extend(members.chunks(500).map(|c| insert_rows("partner_users", "workspace_id, partner_id, user_id, role, created_at", c)));
        statements.extend(identities.chunks(500).map(|c| {
            insert_rows(
                "scim_identities",
                "workspace_id, partner_id, user_id, external_id, active, role_stated, parked_role, created_account, created_at, updated_at",
                c,
            )
        }));
        app.execute(statements).await?;
    }
    if app.is_postgres() {
        app.execute(vec![
            trellis_db::Sql::build("ANALYZE users"),
            trellis_db::Sql::build("ANALYZE partner_users"),
            trellis_db::Sql::build("ANALYZE scim_identities"),
        ])
        .await?;
    }
    let (one_large, page_large, count_large) = timings(&app, &scim, &member, &f.r1a_member.email, rounds).await?;
    println!(
        "FIGURE scim_provisioning backend={} people={n} find_one_small_us={:.0} find_one_large_us={:.0} ratio={:.2} first_page_small_us={:.0} first_page_large_us={:.0} page_ratio={:.1} count_only_large_us={:.0}",
        app.backend_name(),
        one_small * 1e6,
        one_large * 1e6,
        one_large / one_small,
        page_small * 1e6,
        page_large * 1e6,
        page_large / page_small,
        count_large * 1e6
    );
    Ok(())
}
