//! `Idempotency-Key` after a crash (issue 6, F5): a claim whose request died is answered 409 with
//! `Retry-After` until its lease ends and then runs once; the stored answer commits with the
//! change, so that killing the server at any moment leaves each key either answered or unused.
//!
//! The crash test runs the real `trellis` binary and kills it with SIGKILL during bursts of
//! idempotent POSTs. CI runs a few kills; `TRELLIS_CRASH_KILLS=50 cargo nextest run -E
//! 'test(/killed/)' --no-capture` runs the long version and prints its figures.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use trellis_core::Clock;
use trellis_db::sql;
use trellis_identity::secret::sha256_hex;
use trellis_testkit::fixture::Fixture;
use trellis_testkit::{TEST_FIXTURES, TestApp, TestDatabase};

fn new_partner(name: &str) -> Value {
    json!({"name": name, "contact_email": "contact@crash.example", "types": ["reseller"]})
}

#[tokio::test]
async fn a_key_claimed_by_a_request_that_died_answers_409_with_retry_after_until_its_lease_ends_then_runs_once() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let body = new_partner("Orphaned Claim Ltd");
    let request_hash = sha256_hex(&format!("POST /api/v1/partners\n{}", serde_json::to_string(&body).expect("json")));
    // What a server killed after claiming the key, before its change committed, leaves behind.
    let now = app.clock.now();
    app.execute(vec![sql!(
        "INSERT INTO idempotency_keys (workspace_id, principal, key, request_hash, status, response_body, created_at, lease_until, claim) VALUES ($1, $2, 'orphan-1', $3, 0, '', $4, $5, 'dead-request')",
        f.workspace_id, f.owner.user_id, request_hash, now, now.plus_seconds(30)
    )])
    .await
    .expect("leave a claim behind");
    let key = [("idempotency-key", "orphan-1")];
    let count = || app.query_i64(sql!("SELECT COUNT(*) AS n FROM partners WHERE name = 'Orphaned Claim Ltd'"));

    let during_lease = app.send_with(Method::POST, "/api/v1/partners", Some(&f.owner.token), Some(&body), &key).await;
    assert_eq!(during_lease.status, 409, "{}", during_lease.text);
    assert_eq!(during_lease.body["code"], "conflict");
    let retry_after: i64 = during_lease
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a 409 while in progress carries Retry-After in seconds");
    assert!((1..=30).contains(&retry_after), "Retry-After {retry_after} is within the lease");
    assert_eq!(count().await, 0);

    app.clock.advance_seconds(31);
    let after_lease = app.send_with(Method::POST, "/api/v1/partners", Some(&f.owner.token), Some(&body), &key).await;
    assert_eq!(after_lease.status, 201, "after the lease the retry runs: {}", after_lease.text);
    let replayed = app.send_with(Method::POST, "/api/v1/partners", Some(&f.owner.token), Some(&body), &key).await;
    assert_eq!(replayed.status, 201);
    assert_eq!(replayed.headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    assert_eq!(replayed.body["id"], after_lease.body["id"]);
    assert_eq!(count().await, 1, "the key ran its request exactly once");

    // Another body under a key whose claim expired is still the other request's key.
    app.clock.advance_seconds(31);
    let other = app.send_with(Method::POST, "/api/v1/partners", Some(&f.owner.token), Some(&new_partner("Other Ltd")), &key).await;
    assert_eq!(other.status, 422, "{}", other.text);
    assert_eq!(other.body["code"], "idempotency_key_reused");
}

#[tokio::test]
async fn the_stored_answer_commits_in_the_same_transaction_as_the_change() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let body = new_partner("Atomic Answer Ltd");
    let key = [("idempotency-key", "atomic-1")];

    let first = app.send_with(Method::POST, "/api/v1/partners", Some(&f.owner.token), Some(&body), &key).await;
    assert_eq!(first.status, 201, "{}", first.text);
    // The answer was stored with the change, not after it: the key's row is final (no claim
    // left running, no "committed apart" mark) and holds exactly the answer the client got.
    let rows = app.query(sql!("SELECT status, response_body FROM idempotency_keys WHERE key = 'atomic-1'")).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<i64>("status").expect("status"), 201);
    let stored: Value = serde_json::from_str(&rows[0].get::<String>("response_body").expect("body")).expect("stored JSON");
    assert_eq!(stored, first.body);
}

/// The `trellis` binary serving one database on a free local port.
struct Server {
    child: tokio::process::Child,
    base_url: String,
}

impl Server {
    async fn start(database_url: &str, data_dir: &std::path::Path, lease_seconds: u32) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let bind = format!("127.0.0.1:{port}");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_trellis"))
            .args(["serve", "--bind", &bind])
            .env("DATABASE_URL", database_url)
            .env("TRELLIS_DATA_DIR", data_dir)
            .env("TRELLIS_IDEMPOTENCY_LEASE_SECONDS", lease_seconds.to_string())
            .env("TRELLIS_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the trellis binary");
        let base_url = format!("http://{bind}");
        let client = trellis_testkit::http_client();
        let started = Instant::now();
        loop {
            if let Ok(reply) = client.get(format!("{base_url}/healthz")).send().await
                && reply.status().is_success()
            {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, base_url }
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = self.child.wait().await;
    }
}

/// One idempotent request of a burst: what was sent, and what came back before the kill.
#[derive(Clone)]
struct Attempt {
    key: String,
    name: String,
    answered: Option<(u16, Value)>,
}

/// What the crash rounds saw, printed at the end.
#[derive(Default, Debug)]
struct Figures {
    attempts: usize,
    answered_before_kill: usize,
    cut_off_by_kill: usize,
    replayed_on_retry: usize,
    ran_on_retry: usize,
    in_progress_409s: usize,
    longest_wait_ms: u128,
}

async fn post(
    client: &reqwest::Client,
    base_url: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> Option<(u16, Value, reqwest::header::HeaderMap)> {
    let reply = client
        .post(format!("{base_url}/api/v1/partners"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .ok()?;
    let status = reply.status().as_u16();
    let headers = reply.headers().clone();
    let body = reply.json::<Value>().await.unwrap_or(Value::Null);
    Some((status, body, headers))
}

#[tokio::test]
async fn killed_during_idempotent_bursts_every_key_replays_or_creates_exactly_one_object() {
    let kills: u32 = std::env::var("TRELLIS_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let lease_seconds = 2;
    let (database_url, _database) = TestDatabase::create().await;
    let data_dir = std::env::temp_dir().join(format!("trellis-crash-{}", std::process::id()));
    let bootstrap = tokio::process::Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(["bootstrap", "--workspace", "Crash Test", "--owner-email", "owner@crash.example"])
        .env("DATABASE_URL", &database_url)
        .env("TRELLIS_OWNER_PASSWORD", "money must never be lost")
        .env("TRELLIS_LOG", "error")
        .output()
        .await
        .expect("run trellis bootstrap");
    assert!(bootstrap.status.success(), "bootstrap: {}", String::from_utf8_lossy(&bootstrap.stderr));
    let printed: Value = serde_json::from_slice(&bootstrap.stdout).expect("bootstrap prints JSON");
    let token = printed["api_key"].as_str().expect("api_key").to_owned();
    let client = trellis_testkit::http_client();
    let mut figures = Figures::default();
    let mut all_names = BTreeSet::new();
    let mut server = Server::start(&database_url, &data_dir, lease_seconds).await;

    for round in 0..kills {
        let attempts: Arc<Mutex<Vec<Attempt>>> = Arc::default();
        let mut workers = Vec::new();
        for worker in 0..8 {
            let (client, base_url, token, attempts) = (client.clone(), server.base_url.clone(), token.clone(), attempts.clone());
            workers.push(tokio::spawn(async move {
                for n in 0.. {
                    let key = format!("crash-{round}-{worker}-{n}");
                    let index = {
                        let mut list = attempts.lock().expect("attempts");
                        list.push(Attempt { key: key.clone(), name: key.clone(), answered: None });
                        list.len() - 1
                    };
                    let Some((status, body, _)) = post(&client, &base_url, &token, &key, &new_partner(&key)).await else { return };
                    attempts.lock().expect("attempts")[index].answered = Some((status, body));
                }
            }));
        }
        // Kill somewhere between 150 and 450 ms into the burst, differently each round.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(150 + u64::from(nanos % 300))).await;
        server.kill().await;
        for worker in workers {
            let _ = worker.await;
        }
        server = Server::start(&database_url, &data_dir, lease_seconds).await;

        let attempts = attempts.lock().expect("attempts").clone();
        figures.attempts += attempts.len();
        for attempt in &attempts {
            all_names.insert(attempt.name.clone());
            if let Some((status, _)) = &attempt.answered {
                assert_eq!(*status, 201, "before the kill {} answered {status}", attempt.key);
                figures.answered_before_kill += 1;
            } else {
                figures.cut_off_by_kill += 1;
            }
            // Retry as a careful client does: same key, same body, waiting as told.
            let started = Instant::now();
            let retried = loop {
                let (status, body, headers) = post(&client, &server.base_url, &token, &attempt.key, &new_partner(&attempt.name))
                    .await
                    .expect("the restarted server answers");
                if status != 409 {
                    break (status, body, headers);
                }
                figures.in_progress_409s += 1;
                let Some(wait) = headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok()) else {
                    panic!("409 for {} without Retry-After: {body}", attempt.key);
                };
                assert!(
                    started.elapsed() < Duration::from_secs(u64::from(lease_seconds) + 3),
                    "{} is still blocked past its lease: {body}",
                    attempt.key
                );
                tokio::time::sleep(Duration::from_secs(wait)).await;
            };
            figures.longest_wait_ms = figures.longest_wait_ms.max(started.elapsed().as_millis());
            let (status, body, headers) = retried;
            assert_eq!(status, 201, "the retry of {} answered {status}: {body}", attempt.key);
            let replayed = headers.get("idempotent-replayed").is_some();
            if replayed {
                figures.replayed_on_retry += 1;
            } else {
                figures.ran_on_retry += 1;
            }
            if let Some((_, first)) = &attempt.answered {
                assert!(replayed, "a key answered before the kill replays its answer ({})", attempt.key);
                assert_eq!(&body, first, "the replay of {} is the first answer", attempt.key);
            }
        }
    }

    // Exactly one partner per key: none lost, none duplicated.
    let db = trellis_db::Db::connect(&trellis_db::DbConfig::new(&database_url)).await.expect("connect");
    let mut tx = db.read_granted(&TEST_FIXTURES).await.expect("read");
    let rows = tx.fetch_all(sql!("SELECT name, COUNT(*) AS n FROM partners WHERE name LIKE 'crash-%' GROUP BY name")).await.expect("count");
    drop(tx);
    db.close().await;
    let counts: BTreeMap<String, i64> =
        rows.iter().map(|r| (r.get::<String>("name").expect("name"), r.get::<i64>("n").expect("n"))).collect();
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    let missing: Vec<_> = all_names.iter().filter(|name| !counts.contains_key(*name)).collect();
    println!(
        "idempotency crash test ({}): kills={kills} {figures:?}, duplicated={}, missing={}",
        db_kind(&database_url),
        duplicated.len(),
        missing.len()
    );
    assert!(duplicated.is_empty(), "keys that created more than one partner: {duplicated:?}");
    assert!(missing.is_empty(), "keys that created nothing: {missing:?}");
    assert_eq!(counts.len(), all_names.len());
    assert!(figures.attempts > 0);
    server.kill().await;
    let _ = std::fs::remove_dir_all(&data_dir);
}

fn db_kind(url: &str) -> &'static str {
    if url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" }
}

#[tokio::test]
async fn a_partner_callers_idempotent_request_stores_its_answer_under_row_security() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let path = format!("/api/v1/partners/{}/api-keys", f.r1a);
    let body = json!({"name": "integration"});
    let key = [("idempotency-key", "partner-key-1")];

    let first = app.send_with(Method::POST, &path, Some(&f.r1a_admin.token), Some(&body), &key).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = app.send_with(Method::POST, &path, Some(&f.r1a_admin.token), Some(&body), &key).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    assert_eq!(again.body, first.body, "the replay is the first answer, secret included");
    let keys = app.query_i64(sql!("SELECT COUNT(*) AS n FROM api_keys WHERE name = 'integration' AND partner_id = $1", f.r1a)).await;
    assert_eq!(keys, 1);
}
