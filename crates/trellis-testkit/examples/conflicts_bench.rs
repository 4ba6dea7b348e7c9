//! Benchmark of the deal conflict engine's matching core (run it with `bench/conflicts.sh`).
//!
//! Generates N synthetic accounts (default 1,000,000; `engine::synthetic`), builds the in-memory
//! `Index` in one bulk load (timed in wall and CPU seconds, with the resident memory before and
//! after), runs 2,000 labelled queries of every kind through `find` and prints p50/p95 latency and
//! recall/precision per kind, and how ambiguous the acronym queries are. When
//! `TRELLIS_TEST_POSTGRES_URL` is set it loads the same normalised names into a scratch schema with
//! a pg_trgm GIN index and times the same queries as a trigram similarity search, printing its
//! figures and the ratio of the p95s. Targets are printed beside the figures; nothing here passes
//! or fails.

use std::collections::HashMap;
use std::time::{Duration, Instant};

// The schema name is made here from the process id only (no outside text reaches the SQL).
use sqlx::{AssertSqlSafe, Connection};
use trellis_deals::engine::synthetic::{self, LabelledQuery, QueryKind, Tally};
use trellis_deals::engine::{self, DEFAULT_SIMILARITY_THRESHOLD, Index, normalise_name};

const DEFAULT_SIZE: usize = 1_000_000;
const QUERIES: usize = 2_000;
const LIMIT: usize = 10;
const INSERT_BATCH: usize = 5_000;

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// The CPU time of this process so far, both threads of the build included (the machine the
/// benchmark runs on is often shared, so the wall time alone says little).
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // After the command in parentheses: state is field 3, utime and stime fields 14 and 15.
            let fields: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            Some(fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?)
        })
        .map_or(f64::NAN, |ticks| ticks / 100.0)
}

/// The one-minute load average, printed beside the build time.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| s.split_whitespace().next().map(str::to_owned)).unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let size: usize = match std::env::args().nth(1) {
        Some(arg) => arg.replace([',', '_'], "").parse()?,
        None => DEFAULT_SIZE,
    };
    let started = Instant::now();
    let accounts = synthetic::accounts(size, 1);
    let keys: Vec<_> = accounts.iter().map(|a| a.keys()).collect();
    let queries = synthetic::queries(&accounts, QUERIES, 2);
    println!("generated {size} accounts and {} labelled queries in {:.1} s", queries.len(), started.elapsed().as_secs_f64());

    let rss_before = rss_mib();
    let (cpu_before, started) = (cpu_s(), Instant::now());
    let mut index = Index::with_capacity(size);
    index.extend(accounts.iter().map(|a| a.id).zip(&keys));
    let (build, build_cpu) = (started.elapsed(), cpu_s() - cpu_before);
    let rss_after = rss_mib();
    println!(
        "FIGURE conflicts index entries={} build_s={:.2} (target < 5 s) build_cpu_s={build_cpu:.2} load_average={} rss_before_mib={rss_before:.0} rss_after_mib={rss_after:.0} index_mib={:.0} (target < 1024 MiB)",
        index.len(),
        build.as_secs_f64(),
        load_average(),
        rss_after - rss_before
    );

    let query_keys: Vec<_> = queries.iter().map(LabelledQuery::keys).collect();
    let mut latencies = Vec::with_capacity(queries.len());
    let mut tally = Tally::default();
    for (query, keys) in queries.iter().zip(&query_keys) {
        let started = Instant::now();
        let found = index.find(keys, DEFAULT_SIMILARITY_THRESHOLD, LIMIT);
        latencies.push(started.elapsed());
        tally.add(query, &found.iter().map(|m| m.id).collect::<Vec<_>>());
    }
    latencies.sort();
    let ours_p95 = percentile(&latencies, 0.95);
    println!(
        "FIGURE conflicts engine queries={} p50_ms={:.3} p95_ms={:.3} max_ms={:.3}",
        latencies.len(),
        ms(percentile(&latencies, 0.5)),
        ms(ours_p95),
        ms(latencies.last().copied().unwrap_or_default())
    );
    print!("{}", tally.report());
    acronym_ambiguity(&accounts, &queries);
    if let Some(shown) = std::env::var("CONFLICTS_BENCH_MISSES").ok().and_then(|n| n.parse::<usize>().ok()) {
        print_misses(&index, &accounts, &queries, &query_keys, shown);
    }

    if let Some(url) = trellis_testkit::postgres_url() {
        pg_trgm(
            &url,
            &accounts.iter().map(|a| a.id).zip(keys.iter().map(|k| k.name_key.as_str())).collect::<Vec<_>>(),
            &queries,
            &query_keys,
            ours_p95,
        )
        .await?;
    } else {
        println!("(TRELLIS_TEST_POSTGRES_URL not set: no pg_trgm reference)");
    }
    Ok(())
}

/// How many acronym queries name an acronym that several accounts share (in the query's
/// country, when it has one): such a query cannot say which of them it means, so no matcher can
/// report its labelled account alone. Printed so that the acronym figures can be read.
fn acronym_ambiguity(accounts: &[synthetic::Account], queries: &[LabelledQuery]) {
    let mut by_acronym: HashMap<String, Vec<&'static str>> = HashMap::new();
    for account in accounts {
        if let Some(acronym) = engine::acronym(normalise_name(&account.base).split(' ')) {
            by_acronym.entry(acronym).or_default().push(account.country);
        }
    }
    let (mut total, mut unique, mut two, mut more) = (0, 0, 0, 0);
    for query in queries.iter().filter(|q| q.kind == QueryKind::Acronym) {
        let keys = query.keys();
        let Some(acronym) = keys.name_key.split(' ').next() else { continue };
        let sharing = by_acronym
            .get(acronym)
            .map_or(0, |countries| countries.iter().filter(|c| keys.country.as_deref().is_none_or(|q| q == **c)).count());
        total += 1;
        match sharing {
            0 | 1 => unique += 1,
            2 => two += 1,
            _ => more += 1,
        }
    }
    println!(
        "  acronym queries={total}: acronym unique in its country (or overall without one) {unique}, shared by two {two}, by three or more {more}"
    );
}

/// Prints up to `shown` queries of each kind that did not find exactly their labelled account,
/// with what they found (diagnostics: `CONFLICTS_BENCH_MISSES=20 bash bench/conflicts.sh`).
fn print_misses(
    index: &Index<u32>,
    accounts: &[synthetic::Account],
    queries: &[LabelledQuery],
    query_keys: &[trellis_deals::engine::CustomerKeys],
    shown: usize,
) {
    let name = |id: u32| accounts.get(id as usize).map_or_else(String::new, |a| format!("{} [{}]", a.name(), a.country));
    let mut printed: HashMap<QueryKind, usize> = HashMap::new();
    for (query, keys) in queries.iter().zip(query_keys) {
        let found = index.find(keys, DEFAULT_SIMILARITY_THRESHOLD, LIMIT);
        let right = match query.expected {
            Some(id) => found.len() == 1 && found[0].id == id,
            None => found.is_empty(),
        };
        let count = printed.entry(query.kind).or_default();
        if right || *count >= shown {
            continue;
        }
        *count += 1;
        println!(
            "MISS {} {:?} [{}] expected {:?} found {}",
            query.kind.as_str(),
            query.name,
            query.country.as_deref().unwrap_or("-"),
            query.expected.map(name),
            found.iter().map(|m| format!("{} {:?} {:.3}", name(m.id), m.kind, m.score)).collect::<Vec<_>>().join(" | ")
        );
    }
}

/// The same names in PostgreSQL with a pg_trgm GIN index, the same queries as a trigram
/// similarity search (threshold 0.5, best 10), in a scratch schema dropped at the end.
async fn pg_trgm(
    url: &str,
    names: &[(u32, &str)],
    queries: &[LabelledQuery],
    query_keys: &[trellis_deals::engine::CustomerKeys],
    ours_p95: Duration,
) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let available: Option<String> =
        sqlx::query_scalar("SELECT name::text FROM pg_available_extensions WHERE name = 'pg_trgm'").fetch_optional(&mut conn).await?;
    if available.is_none() {
        println!("pg_trgm is not available on this server (postgresql-contrib missing): no reference");
        return Ok(());
    }
    let schema = format!("conflicts_bench_{}", std::process::id());
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute(&mut conn).await?;
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut conn).await?;
    let result = pg_trgm_in(&mut conn, &schema, names, queries, query_keys, ours_p95).await;
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&mut conn).await?;
    result
}

async fn pg_trgm_in(
    conn: &mut sqlx::PgConnection,
    schema: &str,
    names: &[(u32, &str)],
    queries: &[LabelledQuery],
    query_keys: &[trellis_deals::engine::CustomerKeys],
    ours_p95: Duration,
) -> anyhow::Result<()> {
    sqlx::query(AssertSqlSafe(format!("SET search_path = {schema}, public"))).execute(&mut *conn).await?;
    sqlx::query("CREATE TABLE accounts (id bigint PRIMARY KEY, name_key text NOT NULL)").execute(&mut *conn).await?;
    let started = Instant::now();
    for batch in names.chunks(INSERT_BATCH) {
        let ids: Vec<i64> = batch.iter().map(|(id, _)| i64::from(*id)).collect();
        let keys: Vec<&str> = batch.iter().map(|(_, k)| *k).collect();
        sqlx::query("INSERT INTO accounts (id, name_key) SELECT * FROM UNNEST($1::bigint[], $2::text[])")
            .bind(&ids)
            .bind(&keys)
            .execute(&mut *conn)
            .await?;
    }
    let loaded = started.elapsed();
    let started = Instant::now();
    sqlx::query("CREATE INDEX accounts_name_trgm ON accounts USING gin (name_key gin_trgm_ops)").execute(&mut *conn).await?;
    sqlx::query("ANALYZE accounts").execute(&mut *conn).await?;
    println!(
        "pg_trgm: loaded {} names in {:.1} s, GIN index in {:.1} s",
        names.len(),
        loaded.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    sqlx::query("SET pg_trgm.similarity_threshold = 0.5").execute(&mut *conn).await?;
    let mut latencies = Vec::with_capacity(queries.len());
    let mut tally = Tally::default();
    for (query, keys) in queries.iter().zip(query_keys) {
        let started = Instant::now();
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM accounts WHERE name_key % $1 ORDER BY similarity(name_key, $1) DESC LIMIT 10")
                .bind(&keys.name_key)
                .fetch_all(&mut *conn)
                .await?;
        latencies.push(started.elapsed());
        tally.add(query, &ids.iter().filter_map(|id| u32::try_from(*id).ok()).collect::<Vec<_>>());
    }
    latencies.sort();
    let p95 = percentile(&latencies, 0.95);
    println!(
        "FIGURE conflicts pg_trgm queries={} p50_ms={:.3} p95_ms={:.3} max_ms={:.3}",
        latencies.len(),
        ms(percentile(&latencies, 0.5)),
        ms(p95),
        ms(latencies.last().copied().unwrap_or_default())
    );
    print!("{}", tally.report());
    println!("FIGURE conflicts ratio pg_trgm_p95/engine_p95={:.1} (target ≥ 30)", p95.as_secs_f64() / ours_p95.as_secs_f64().max(1e-9));
    Ok(())
}
