//! Test kit: [`TestApp`] runs the real application on a random local port with a fresh database
//! (a SQLite file, or a PostgreSQL schema when `TRELLIS_TEST_POSTGRES_URL` is set), and
//! [`fixture::Fixture`] builds the standard organisation tree with one identity per role.
//!
//! Background jobs do not run by themselves in a `TestApp`: a test drains the queue with
//! [`TestApp::run_jobs`] when it chooses (with the manual clock, retries wait until the test moves
//! the clock), so what a test observes never depends on a worker's timing. Emails go to the
//! outbox, or with [`TestApp::spawn_with_smtp`] to a real SMTP receiver ([`smtp::SmtpReceiver`]).

pub mod bench;
pub mod bulk;
pub mod fixture;
pub mod smtp;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::Method;
use serde_json::Value;
use trellis_core::{Clock, ManualClock, SystemClock};
use trellis_identity::Ctx;
use trellis_incentives::secret_box::SecretKey;
use trellis_jobs::{Mailer, Registry, SmtpConfig};
use trellis_web::{AppState, WebConfig};

use crate::smtp::SmtpReceiver;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Tests build fixtures and inspect rows across partners, outside any request (and create and
/// drop their own PostgreSQL schemas).
pub const TEST_FIXTURES: trellis_db::SystemGrant = trellis_db::SystemGrant {
    name: "test_fixtures",
    reason: "tests build fixtures and inspect rows across partners outside any request, and create and drop their schemas",
};

/// The key a [`TestApp`] seals payout methods with (ADR 0018); [`TestApp::spawn_without_secret_key`]
/// starts one without any.
pub const TEST_SECRET_KEY: &str = "7e57000000000000000000000000000000000000000000000000000000007e57";

/// The system grants this crate declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&trellis_db::SystemGrant] = &[&TEST_FIXTURES];

/// A fresh database for one test (a SQLite file, or a PostgreSQL schema when
/// `TRELLIS_TEST_POSTGRES_URL` is set), removed when dropped. [`TestApp`] makes one; a test that
/// runs the `trellis` binary itself makes its own with [`TestDatabase::create`].
pub enum TestDatabase {
    Sqlite(std::path::PathBuf),
    Postgres { admin_url: String, schema: String },
}

/// An HTTP client for a test that talks to a server it started itself (no redirects followed).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http client")
}

impl TestDatabase {
    /// Creates the database and returns the URL the application connects with.
    pub async fn create() -> (String, Self) {
        match postgres_url() {
            Some(admin_url) => Self::create_postgres(admin_url).await,
            None => Self::create_sqlite(),
        }
    }

    /// A fresh SQLite file, whatever the environment says (for a test that compares backends).
    pub fn create_sqlite() -> (String, Self) {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name("trellis-test")));
        (format!("sqlite://{}", path.display()), TestDatabase::Sqlite(path))
    }

    /// A fresh schema on the PostgreSQL server of `admin_url`; the returned URL puts it first on
    /// the search path.
    pub async fn create_postgres(admin_url: String) -> (String, Self) {
        let schema = unique_name("t");
        let db = trellis_db::Db::connect(&trellis_db::DbConfig::new(&admin_url)).await.expect("connect to TRELLIS_TEST_POSTGRES_URL");
        let mut tx = db.write_granted(&TEST_FIXTURES).await.expect("admin tx");
        tx.execute(trellis_db::Sql::build("CREATE SCHEMA ").push(&schema).clone()).await.expect("create schema");
        tx.commit().await.expect("commit schema");
        db.close().await;
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        // The application name tags the app's connections so that clean-up can end them.
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}&application_name={schema}");
        (url, TestDatabase::Postgres { admin_url, schema })
    }
}

/// The application under test, served on `127.0.0.1:<random port>`.
pub struct TestApp {
    pub base_url: String,
    pub state: AppState,
    pub clock: ManualClock,
    pub client: reqwest::Client,
    /// The binary's job handlers and schedules (`trellis_server::jobs::registry`).
    pub jobs: Arc<Registry<Ctx>>,
    database: TestDatabase,
    /// The URL the app connected with (a sibling server connects with it too).
    database_url: String,
    /// The app's data directory (uploaded files), removed when the app is dropped.
    pub data_dir: std::path::PathBuf,
    server: tokio::task::JoinHandle<()>,
}

/// A response: status and parsed JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

/// The PostgreSQL URL the suite runs against, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("TRELLIS_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())
}

/// [`TEST_SECRET_KEY`], parsed.
pub fn test_secret_key() -> SecretKey {
    SecretKey::parse_hex(TEST_SECRET_KEY).expect("the test key is 64 hex characters")
}

fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}_{}_{}_{}", std::process::id(), nanos % 1_000_000_000, COUNTER.fetch_add(1, Ordering::SeqCst))
}

impl TestApp {
    /// Starts the app with a fresh database; emails stay in the outbox (no SMTP server).
    pub async fn spawn() -> Self {
        Self::spawn_with_mailer(Mailer::outbox_only()).await
    }

    /// Starts the app without a secret key, as a server without `TRELLIS_SECRET_KEY` runs.
    pub async fn spawn_without_secret_key() -> Self {
        Self::spawn_with(Mailer::outbox_only(), None, None).await
    }

    /// Starts the app with its email delivered over SMTP to a receiver started for the test.
    pub async fn spawn_with_smtp() -> (Self, SmtpReceiver) {
        let receiver = SmtpReceiver::start().await;
        let config = SmtpConfig::parse_url(&receiver.url()).expect("the receiver's URL parses");
        let mailer = Mailer::smtp(&config, "Trellis <trellis@test.example>").expect("mailer");
        (Self::spawn_with_mailer(mailer).await, receiver)
    }

    /// Starts the app as if behind reverse proxies: `X-Forwarded-For` is trusted with these
    /// proxies (the test's own connection, from 127.0.0.1, plays the nearest proxy).
    pub async fn spawn_behind_proxies(trusted_proxies: trellis_web::client_address::TrustedProxies) -> Self {
        Self::spawn_with(Mailer::outbox_only(), Some(trusted_proxies), Some(test_secret_key())).await
    }

    /// Starts the app with its public URL at `http://localhost:<port>` (it still listens on
    /// 127.0.0.1): passkeys need a domain name, browsers and webauthn-rs refuse IP addresses.
    pub async fn spawn_at_localhost() -> Self {
        Self::spawn_at(Mailer::outbox_only(), None, Some(test_secret_key()), "localhost").await
    }

    async fn spawn_with_mailer(mailer: Mailer) -> Self {
        Self::spawn_with(mailer, None, Some(test_secret_key())).await
    }

    async fn spawn_with(
        mailer: Mailer,
        trusted_proxies: Option<trellis_web::client_address::TrustedProxies>,
        secret_key: Option<SecretKey>,
    ) -> Self {
        Self::spawn_at(mailer, trusted_proxies, secret_key, "127.0.0.1").await
    }

    async fn spawn_at(
        mailer: Mailer,
        trusted_proxies: Option<trellis_web::client_address::TrustedProxies>,
        secret_key: Option<SecretKey>,
        public_host: &str,
    ) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (url, database) = TestDatabase::create().await;
        let clock = ManualClock::starting_at(SystemClock.now());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a local port");
        let port = listener.local_addr().expect("local addr").port();
        let base_url = format!("http://{public_host}:{port}");
        let data_dir = std::env::temp_dir().join(unique_name("trellis-data"));
        let web = WebConfig {
            public_url: base_url.clone(),
            trust_forwarded_for: trusted_proxies.is_some(),
            trusted_proxies: trusted_proxies.unwrap_or_default(),
            data_dir: data_dir.clone(),
            idempotency_lease_seconds: trellis_api::middleware::IDEMPOTENCY_LEASE_SECONDS,
            emails_delivered: mailer.delivers(),
        };
        let state =
            trellis_server::connect(&url, web, Arc::new(clock.clone()) as Arc<dyn Clock>, secret_key).await.expect("connect and migrate");
        // No index follower here: one server needs none (a registration catches its index up in
        // its own transaction), and its polling would count in the tests that count a page's
        // transactions. A sibling server starts its own (the two-server test).
        let router = trellis_server::build_router(state.clone());
        let server = tokio::spawn(async move {
            let _ = trellis_server::serve(listener, router).await;
        });
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http client");
        let jobs = Arc::new(trellis_server::jobs::registry(mailer));
        Self { base_url, state, clock, client, jobs, database, database_url: url, data_dir, server }
    }

    /// A second Trellis server on this app's database (same URL, same clock), served on another
    /// port with its own in-memory indexes, as a second instance behind a load balancer is. It
    /// stops when dropped; the database stays this app's.
    pub async fn spawn_sibling(&self) -> SiblingServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a local port");
        let base_url = format!("http://{}", listener.local_addr().expect("local addr"));
        let web = WebConfig { public_url: base_url.clone(), ..(*self.state.web).clone() };
        let secret_key = self.state.ctx.extension::<SecretKey>().ok().cloned();
        let state = trellis_server::connect(&self.database_url, web, Arc::new(self.clock.clone()) as Arc<dyn Clock>, secret_key)
            .await
            .expect("connect the sibling");
        trellis_server::start_indexes(&state.ctx);
        let router = trellis_server::build_router(state.clone());
        let server = tokio::spawn(async move {
            let _ = trellis_server::serve(listener, router).await;
        });
        SiblingServer { base_url, state, client: self.client.clone(), server }
    }

    /// Runs every job due at the test clock's time (emails included) and returns how many ran.
    pub async fn run_jobs(&self) -> usize {
        trellis_jobs::run_due_jobs(&self.state.ctx, &self.jobs).await.expect("run due jobs")
    }

    /// Enqueues the periodic jobs of the current period (as the worker's tick does), then runs
    /// every due job; returns how many ran.
    pub async fn run_scheduled_jobs(&self) -> usize {
        trellis_jobs::enqueue_scheduled(&self.state.ctx, &self.jobs).await.expect("enqueue scheduled jobs");
        self.run_jobs().await
    }

    pub fn backend_name(&self) -> &'static str {
        match self.database {
            TestDatabase::Sqlite(_) => "sqlite",
            TestDatabase::Postgres { .. } => "postgres",
        }
    }

    /// The URL the app connected with, for a test that runs the `trellis` binary on its database.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.database, TestDatabase::Postgres { .. })
    }

    /// Runs a query directly on the database, outside any scope (test set-up and inspection only).
    pub async fn query(&self, sql: trellis_db::Sql) -> Vec<trellis_db::Row> {
        let text = sql.text().to_owned();
        let mut tx = self.state.ctx.db().read_granted(&TEST_FIXTURES).await.expect("read transaction");
        let rows = tx.fetch_all(sql).await.unwrap_or_else(|e| panic!("query {text:?} failed: {e}"));
        // End it now rather than on drop (lazy rollback): an open transaction would block the
        // schema clean-up when this is the test's last statement.
        tx.commit().await.expect("end read transaction");
        rows
    }

    /// Runs one integer query (e.g. a `COUNT(*)`) directly on the database.
    pub async fn query_i64(&self, sql: trellis_db::Sql) -> i64 {
        let text = sql.text().to_owned();
        let mut tx = self.state.ctx.db().read_granted(&TEST_FIXTURES).await.expect("read transaction");
        let n = tx.fetch_i64(sql).await.unwrap_or_else(|e| panic!("query {text:?} failed: {e}"));
        tx.commit().await.expect("end read transaction");
        n
    }

    /// Runs statements in one write transaction directly on the database; the first error is returned.
    pub async fn execute(&self, statements: Vec<trellis_db::Sql>) -> Result<(), trellis_db::DbError> {
        let mut tx = self.state.ctx.db().write_granted(&TEST_FIXTURES).await?;
        for statement in statements {
            tx.execute(statement).await?;
        }
        tx.commit().await
    }

    /// Sends a request with an optional bearer credential and JSON body.
    pub async fn send(&self, method: Method, path: &str, bearer: Option<&str>, body: Option<&Value>) -> Reply {
        self.send_with(method, path, bearer, body, &[]).await
    }

    /// Like [`TestApp::send`] with extra headers.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base_url));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request reaches the server");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, body, text, headers }
    }

    /// Sends a raw body with an explicit `Content-Type` (or none), for malformed-input tests.
    pub async fn send_raw(&self, method: Method, path: &str, bearer: Option<&str>, content_type: Option<&str>, body: &str) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base_url)).body(body.to_owned());
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("request reaches the server");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, body, text, headers }
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Reply {
        self.send(Method::GET, path, Some(bearer), None).await
    }

    pub async fn post(&self, path: &str, bearer: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(bearer), Some(&body)).await
    }

    pub async fn patch(&self, path: &str, bearer: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(bearer), Some(&body)).await
    }

    pub async fn delete(&self, path: &str, bearer: &str) -> Reply {
        self.send(Method::DELETE, path, Some(bearer), None).await
    }

    /// A `DELETE` with a JSON body (turning an authenticator off names one of its codes).
    pub async fn delete_with(&self, path: &str, bearer: &str, body: Value) -> Reply {
        self.send(Method::DELETE, path, Some(bearer), Some(&body)).await
    }

    /// Signs in through the API and returns the bearer token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let reply =
            self.send(Method::POST, "/api/v1/auth/login", None, Some(&serde_json::json!({"email": email, "password": password}))).await;
        assert_eq!(reply.status, 200, "login of {email} failed: {}", reply.text);
        reply.body["token"].as_str().expect("token").to_owned()
    }
}

/// A second server on a [`TestApp`]'s database ([`TestApp::spawn_sibling`]).
pub struct SiblingServer {
    pub base_url: String,
    pub state: AppState,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl SiblingServer {
    pub async fn send(&self, method: Method, path: &str, bearer: Option<&str>, body: Option<&Value>) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base_url));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request reaches the sibling server");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, body, text, headers }
    }

    pub async fn post(&self, path: &str, bearer: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(bearer), Some(&body)).await
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Reply {
        self.send(Method::GET, path, Some(bearer), None).await
    }
}

impl Drop for SiblingServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_dir_all(&self.data_dir);
        // The database is removed when the `database` field drops, after this.
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self {
            TestDatabase::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            TestDatabase::Postgres { admin_url, schema } => {
                // Drop runs inside the test's runtime: clean up from a thread with its own.
                let (admin_url, schema) = (admin_url.clone(), schema.clone());
                let _ = std::thread::spawn(move || {
                    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                    runtime.block_on(async move {
                        if let Ok(db) = trellis_db::Db::connect(&trellis_db::DbConfig::new(&admin_url)).await {
                            if let Ok(mut tx) = db.write_granted(&TEST_FIXTURES).await {
                                // The app's pool cannot run while the test's runtime waits here, so
                                // a connection it left in a transaction (a read dropped without
                                // commit is rolled back lazily) would hold locks and block the drop:
                                // end the app's own connections first, and never wait forever.
                                let mut end = trellis_db::Sql::build(
                                    "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = ",
                                );
                                end.push_bind(schema.as_str()).push(" AND pid <> pg_backend_pid()");
                                let _ = tx.fetch_all(end).await;
                                let _ = tx.execute(trellis_db::Sql::build("SET LOCAL lock_timeout = '10s'")).await;
                                let mut sql = trellis_db::Sql::build("DROP SCHEMA IF EXISTS ");
                                sql.push(&schema).push(" CASCADE");
                                if tx.execute(sql).await.is_ok() {
                                    let _ = tx.commit().await;
                                }
                            }
                            db.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}
