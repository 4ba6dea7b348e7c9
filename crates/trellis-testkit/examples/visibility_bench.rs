//! Benchmark of partner visibility at distributor scale (run it with `bench/visibility.sh`).
//!
//! For each size N (default 100, 1,000, 10,000 and 50,000), a fresh database gets one workspace with a
//! distributor and N resellers under it, plus 200 partners elsewhere in the tree. It then times
//! `GET /api/v1/partners?limit=50` and a few neighbours as the distributor, as one of its resellers
//! (a subtree of one in a large workspace), as a channel manager limited to the distributor he
//! manages, and as one limited to three resellers of the other distributor (a small portfolio in a
//! large workspace), each against the vendor owner's same request measured in the same run, and prints the
//! ratios; finally it times moving the distributor, with its whole subtree, under another parent
//! (`PATCH /api/v1/partners/{id}`), and back.
//!
//! Issue 7's target: every ratio at most 2 at every size, and the move of a 10,000-reseller subtree
//! under 1 s. Nothing here passes or fails: the numbers are for people.
//!
//! `cargo run --release -p trellis-testkit --example visibility_bench -- 100 1000` picks the sizes;
//! `TRELLIS_TEST_POSTGRES_URL` runs it on PostgreSQL.

use std::time::{Duration, Instant};

use serde_json::json;
use trellis_core::{PartnerId, PartnerType};
use trellis_db::Sql;
use trellis_directory::{NewPartner, partners};
use trellis_identity::{Scope, api_keys, workspaces};
use trellis_testkit::{TestApp, bench, bulk};

const DEFAULT_SIZES: [usize; 4] = [100, 1_000, 10_000, 50_000];
const OTHERS: usize = 200;

fn fail(e: impl std::fmt::Debug) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// The credentials and ids one size's run needs.
struct World {
    owner: String,
    distributor: String,
    reseller: String,
    manager: String,
    small_manager: String,
    distributor_id: PartnerId,
    other_top_id: PartnerId,
    a_reseller_id: String,
}

async fn seed(app: &TestApp, resellers: usize) -> anyhow::Result<World> {
    let ctx = &app.state.ctx;
    let boot = workspaces::bootstrap(ctx, "Bench vendor", "owner@bench.example", "a long bench password", "EUR").await.map_err(fail)?;
    let system = Scope::system(boot.workspace_id.clone(), &trellis_testkit::TEST_FIXTURES);
    let (manager_id, manager) = bench::assigned_manager(app, &boot.workspace_id, "cm@bench.example").await?;
    let (small_manager_id, small_manager) = bench::assigned_manager(app, &boot.workspace_id, "small-cm@bench.example").await?;
    let new = |name: &str, parent: Option<PartnerId>, manager: Option<trellis_core::UserId>| NewPartner {
        name: name.into(),
        contact_email: format!("{}@bench.example", name.to_lowercase().replace(' ', "-")),
        types: vec![PartnerType::Distributor],
        parent_id: parent,
        manager_user_id: manager,
        ..NewPartner::default()
    };
    let other_top = partners::create(ctx, &system, new("Other distributor", None, None)).await.map_err(fail)?;
    let distributor = partners::create(ctx, &system, new("Big distributor", None, Some(manager_id))).await.map_err(fail)?;

    // Resellers and unrelated partners by bulk insert: the triggers on `partners` maintain the
    // ancestry exactly as they do for the service's own inserts.
    let resellers_ids = bulk::add_resellers(app, &boot.workspace_id, &distributor.id, "Reseller", resellers).await;
    let others = bulk::add_resellers(app, &boot.workspace_id, &other_top.id, "Other reseller", OTHERS).await;
    // Three of the other distributor's resellers are the small manager's (the trigger on
    // `partners` copies the manager onto their closure rows).
    let mut assign = Sql::build("UPDATE partners SET manager_user_id = ");
    assign.push_bind(&small_manager_id).push(" WHERE workspace_id = ").push_bind(&boot.workspace_id).push(" AND id IN (");
    for (i, id) in others.iter().take(3).enumerate() {
        assign.push(if i == 0 { "" } else { ", " }).push_bind(id);
    }
    assign.push(")");
    app.execute(vec![assign]).await?;
    let reseller_id = resellers_ids[resellers / 2].clone();
    if app.is_postgres() {
        app.execute(vec![Sql::build("ANALYZE")]).await?;
    }
    let distributor_key = api_keys::create_partner_key(ctx, &system, &distributor.id, "bench", None, None).await.map_err(fail)?.secret;
    let reseller_key = api_keys::create_partner_key(ctx, &system, &reseller_id, "bench", None, None).await.map_err(fail)?.secret;
    Ok(World {
        owner: boot.api_key,
        distributor: distributor_key,
        reseller: reseller_key,
        manager,
        small_manager,
        distributor_id: distributor.id,
        other_top_id: other_top.id,
        a_reseller_id: reseller_id.to_string(),
    })
}

async fn run(resellers: usize) -> anyhow::Result<()> {
    let app = TestApp::spawn().await;
    let backend = app.backend_name();
    let started = Instant::now();
    let w = seed(&app, resellers).await?;
    println!("seeded {resellers} resellers + {OTHERS} others on {backend} in {:.1} s", started.elapsed().as_secs_f64());

    let list = "/api/v1/partners?limit=50".to_owned();
    let first = app.get(&list, &w.distributor).await;
    let cursor = first.body["next_cursor"].as_str().unwrap_or_default().to_owned();
    let owner_first = app.get(&list, &w.owner).await;
    let owner_cursor = owner_first.body["next_cursor"].as_str().unwrap_or_default().to_owned();
    let get_one = format!("/api/v1/partners/{}", w.a_reseller_id);
    let by_parent = format!("/api/v1/partners?limit=50&parent_id={}", w.distributor_id);
    let owner_next = format!("{list}&cursor={owner_cursor}");
    let next = if cursor.is_empty() { list.clone() } else { format!("{list}&cursor={cursor}") };
    let scenarios: [(&str, &str, &str, &str); 7] = [
        ("list", "distributor", &w.distributor, &list),
        ("next_page", "distributor", &w.distributor, &next),
        ("by_parent", "distributor", &w.distributor, &by_parent),
        ("get_one", "distributor", &w.distributor, &get_one),
        ("list", "reseller", &w.reseller, &list),
        ("list", "assigned_manager", &w.manager, &list),
        ("list", "manager_of_three", &w.small_manager, &list),
    ];
    for (what, who, bearer, path) in scenarios {
        let owner_path = match what {
            "next_page" => owner_next.as_str(),
            _ => path,
        };
        let (owner, _) = bench::median_get(&app, owner_path, &w.owner).await?;
        let (caller, listed) = bench::median_get(&app, path, bearer).await?;
        println!(
            "FIGURE visibility backend={backend} resellers={resellers} request={what} caller={who} listed={listed} owner_ms={:.2} caller_ms={:.2} ratio={:.2}",
            ms(owner),
            ms(caller),
            caller.as_secs_f64() / owner.as_secs_f64()
        );
    }

    // Re-parenting the distributor moves its whole subtree in the closure table.
    let mut moves = Vec::new();
    for parent in [json!(w.other_top_id.to_string()), json!(null)] {
        let started = Instant::now();
        let reply = app.patch(&format!("/api/v1/partners/{}", w.distributor_id), &w.owner, json!({ "parent_id": parent })).await;
        moves.push(started.elapsed());
        anyhow::ensure!(reply.status == 200, "move: {} {}", reply.status, reply.text);
    }
    let seen_after = app.get(&get_one, &w.distributor).await.status;
    println!(
        "FIGURE visibility_reparent backend={backend} subtree={} under_other_ms={:.1} back_to_top_ms={:.1} distributor_still_sees_reseller={}",
        resellers + 1,
        ms(moves[0]),
        ms(moves[1]),
        seen_after == 200
    );
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
