//! The durable job queue and transactional email: retries with backoff, visible failures,
//! deduplication, atomic claiming by concurrent workers, abandoned jobs, schedules, typed payloads
//! (undecodable ones fail visibly; rows stored before typing still run), and emails
//! delivered to a real SMTP receiver — or kept in the console's outbox without one.
//!
//! Tests drain the queue themselves (`run_due_jobs`, `TestApp::run_jobs`) and move the manual
//! clock to cross retry pauses, so nothing depends on a worker's timing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::json;
use trellis_core::{Email, Error, Timestamp, WorkspaceId};
use trellis_db::sql;
use trellis_identity::Ctx;
use trellis_jobs::{
    DAY, Job, JobOptions, Mailer, NewEmail, Registry, ScheduledJob, enqueue, enqueue_scheduled, queue_email, retry_delay_range,
    run_due_jobs,
};
use trellis_testkit::fixture::{Fixture, PASSWORD};
use trellis_testkit::{TEST_FIXTURES, TestApp};

use crate::pages::{assert_safe_page, sign_in};

/// The test job: its handler sees the decoded `name`.
#[derive(Debug, Serialize, Deserialize)]
struct Probe {
    name: String,
}

impl Job for Probe {
    const KIND: &'static str = "probe";
}

/// A scheduled test job.
#[derive(Debug, Serialize, Deserialize)]
struct DailyProbe {
    period_start: Timestamp,
}

impl Job for DailyProbe {
    const KIND: &'static str = "daily_probe";
}

impl ScheduledJob for DailyProbe {
    fn for_period(period_start: Timestamp) -> Self {
        Self { period_start }
    }
}

/// A registry with one [`Probe`] handler (given the job's id and the probe) and no SMTP server.
fn registry_with(handler: impl Fn(i64, Probe) -> Result<(), Error> + Send + Sync + 'static) -> Registry<Ctx> {
    let mut registry = Registry::new(Mailer::outbox_only());
    let handler = Arc::new(handler);
    registry.register(move |_ctx, run, probe: Probe| {
        let handler = handler.clone();
        Box::pin(async move { handler(run.id, probe) })
    });
    registry
}

async fn enqueue_probe(app: &TestApp, name: &str, dedupe_key: Option<&str>) -> bool {
    let now = app.state.ctx.now();
    let mut tx = app.state.ctx.db().write_granted(&TEST_FIXTURES).await.expect("write");
    let options = JobOptions { dedupe_key: dedupe_key.map(str::to_owned), ..JobOptions::instance_wide(now) };
    let added = enqueue(&mut tx, &Probe { name: name.to_owned() }, options, now).await.expect("enqueue");
    tx.commit().await.expect("commit");
    added
}

#[derive(Debug)]
struct JobState {
    status: String,
    attempts: i64,
    run_at: i64,
    last_error: Option<String>,
    finished_at: Option<i64>,
}

/// The state of the one probe called `name`.
async fn probe_named(app: &TestApp, name: &str) -> JobState {
    let payload = json!({ "name": name }).to_string();
    let rows = app
        .query(sql!(
            "SELECT status, attempts, run_at, last_error, finished_at FROM jobs WHERE kind = $1 AND payload = $2",
            Probe::KIND,
            payload
        ))
        .await;
    assert_eq!(rows.len(), 1, "one probe called {name}");
    let row = &rows[0];
    JobState {
        status: row.get("status").expect("status"),
        attempts: row.get("attempts").expect("attempts"),
        run_at: row.get("run_at").expect("run_at"),
        last_error: row.get("last_error").expect("last_error"),
        finished_at: row.get("finished_at").expect("finished_at"),
    }
}

/// Asserts that the job waits within the backoff range after failed attempt `attempt`, and
/// returns the seconds to move the clock so that it is due.
fn assert_backoff(app: &TestApp, job: &JobState, attempt: i64) -> i64 {
    let waits = (job.run_at - app.state.ctx.now().micros()) as f64 / 1e6;
    let (low, high) = retry_delay_range(attempt);
    assert!((low as f64..=high as f64).contains(&waits), "after attempt {attempt} the job waits {waits} s, not {low}–{high} s");
    high + 1
}

async fn workspace(app: &TestApp) -> WorkspaceId {
    trellis_identity::workspaces::bootstrap(&app.state.ctx, "Mail vendor", "owner@mail-vendor.example", PASSWORD, "EUR")
        .await
        .expect("bootstrap")
        .workspace_id
}

#[tokio::test]
async fn a_job_that_fails_twice_is_retried_with_growing_pauses_and_then_finishes() {
    let app = TestApp::spawn().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let registry = registry_with(move |_, _| {
        if counter.fetch_add(1, Ordering::SeqCst) < 2 { Err(Error::Internal("the partner system timed out".into())) } else { Ok(()) }
    });
    enqueue_probe(&app, "flaky", None).await;
    let ctx = &app.state.ctx;

    assert_eq!(run_due_jobs(ctx, &registry).await.expect("run"), 1);
    let first = probe_named(&app, "flaky").await;
    assert_eq!((first.status.as_str(), first.attempts), ("queued", 1));
    assert_eq!(first.last_error.as_deref(), Some("the partner system timed out"));
    let pause = assert_backoff(&app, &first, 1);
    assert_eq!(run_due_jobs(ctx, &registry).await.expect("run"), 0, "a retry waits for its pause");
    app.clock.advance_seconds(pause);
    assert_eq!(run_due_jobs(ctx, &registry).await.expect("run"), 1);
    let second = probe_named(&app, "flaky").await;
    assert_eq!((second.status.as_str(), second.attempts), ("queued", 2));
    let pause = assert_backoff(&app, &second, 2);
    app.clock.advance_seconds(pause);
    assert_eq!(run_due_jobs(ctx, &registry).await.expect("run"), 1);

    let done = probe_named(&app, "flaky").await;
    assert_eq!((done.status.as_str(), done.attempts), ("done", 3));
    assert!(done.finished_at.is_some());
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(run_due_jobs(ctx, &registry).await.expect("run"), 0, "a finished job never runs again");
}

#[tokio::test]
async fn a_job_that_always_fails_ends_failed_with_its_error_after_its_last_attempt() {
    let app = TestApp::spawn().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let registry = registry_with(move |_, _| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        Err(Error::Internal(format!("refused on attempt {n}")))
    });
    enqueue_probe(&app, "doomed", None).await;
    let max_attempts = app.query_i64(sql!("SELECT max_attempts FROM jobs WHERE kind = 'probe'")).await;

    for _ in 0..max_attempts + 2 {
        run_due_jobs(&app.state.ctx, &registry).await.expect("run");
        app.clock.advance_seconds(retry_delay_range(max_attempts).1 + 1);
    }

    let job = probe_named(&app, "doomed").await;
    assert_eq!((job.status.as_str(), job.attempts), ("failed", max_attempts));
    assert_eq!(job.last_error, Some(format!("refused on attempt {max_attempts}")));
    assert!(job.finished_at.is_some());
    assert_eq!(runs.load(Ordering::SeqCst) as i64, max_attempts, "no attempt after the last one");
}

#[tokio::test]
async fn a_job_with_a_dedupe_key_is_enqueued_and_run_once() {
    let app = TestApp::spawn().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let registry = registry_with(move |_, _| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });

    let first = enqueue_probe(&app, "remind", Some("licence_reminder:lic_1:30")).await;
    let second = enqueue_probe(&app, "remind", Some("licence_reminder:lic_1:30")).await;
    run_due_jobs(&app.state.ctx, &registry).await.expect("run");
    let after_running = enqueue_probe(&app, "remind", Some("licence_reminder:lic_1:30")).await;
    run_due_jobs(&app.state.ctx, &registry).await.expect("run");

    assert!(first && !second && !after_running, "only the first enqueue adds a job");
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'probe'")).await, 1);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_job_whose_stored_payload_does_not_decode_fails_with_the_reason_and_the_worker_goes_on() {
    let app = TestApp::spawn().await;
    let ran = Arc::new(Mutex::new(Vec::new()));
    let record = ran.clone();
    let registry = registry_with(move |_, probe| {
        record.lock().expect("lock").push(probe.name);
        Ok(())
    });
    // Rows as an older or newer build might have left them: a renamed field, and no JSON at all.
    let now = app.state.ctx.now();
    app.execute(vec![
        sql!(
            "INSERT INTO jobs (kind, payload, status, run_at, created_at) VALUES ('probe', '{\"title\": \"renamed\"}', 'queued', $1, $1)",
            now
        ),
        sql!("INSERT INTO jobs (kind, payload, status, run_at, created_at) VALUES ('probe', 'not json', 'queued', $1, $1)", now),
    ])
    .await
    .expect("insert undecodable jobs");
    enqueue_probe(&app, "sound", None).await;

    assert_eq!(run_due_jobs(&app.state.ctx, &registry).await.expect("the worker does not stop"), 3);

    assert_eq!(*ran.lock().expect("lock"), vec!["sound".to_owned()], "only the decodable job reached its handler");
    assert_eq!(probe_named(&app, "sound").await.status, "done");
    let failed =
        app.query(sql!("SELECT id, status, attempts, last_error FROM jobs WHERE kind = 'probe' AND status <> 'done' ORDER BY id")).await;
    let errors: Vec<String> = failed
        .iter()
        .map(|row| {
            let (id, status, attempts) = (
                row.get::<i64>("id").expect("id"),
                row.get::<String>("status").expect("status"),
                row.get::<i64>("attempts").expect("attempts"),
            );
            assert_eq!((status.as_str(), attempts), ("queued", 1), "a failed attempt, retried like any other");
            let error: String = row.get::<Option<String>>("last_error").expect("last_error").expect("an error is stored");
            assert!(error.starts_with(&format!("the payload of job {id} (probe) does not decode: ")), "{error}");
            error
        })
        .collect();
    assert!(errors[0].contains("missing field `name`"), "{}", errors[0]);
    assert!(errors[1].contains("expected ident"), "{}", errors[1]);
    let max_attempts = app.query_i64(sql!("SELECT max_attempts FROM jobs WHERE kind = 'probe' AND payload = 'not json'")).await;
    for _ in 1..max_attempts {
        app.clock.advance_seconds(retry_delay_range(max_attempts).1 + 1);
        run_due_jobs(&app.state.ctx, &registry).await.expect("run");
    }
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'probe' AND status = 'failed'")).await, 2);
}

#[tokio::test]
async fn a_job_enqueued_in_a_transaction_that_rolls_back_is_never_stored() {
    let app = TestApp::spawn().await;
    let now = app.state.ctx.now();

    let mut tx = app.state.ctx.db().write_granted(&TEST_FIXTURES).await.expect("write");
    let added = enqueue(&mut tx, &Probe { name: "ghost".to_owned() }, JobOptions::instance_wide(now), now).await.expect("enqueue");
    assert!(added, "the insert happened inside the transaction");
    drop(tx);

    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM jobs")).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_workers_never_run_the_same_job_twice() {
    let app = TestApp::spawn().await;
    let ran: Arc<Mutex<Vec<i64>>> = Arc::new(Mutex::new(Vec::new()));
    let mut registry: Registry<Ctx> = Registry::new(Mailer::outbox_only());
    let record = ran.clone();
    registry.register(move |_ctx, run, _probe: Probe| {
        let record = record.clone();
        Box::pin(async move {
            // Long enough for the other worker to claim while this job is running.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            record.lock().expect("lock").push(run.id);
            Ok(())
        })
    });
    const JOBS: usize = 40;
    for _ in 0..JOBS {
        enqueue_probe(&app, "count", None).await;
    }
    let ctx = &app.state.ctx;

    let (a, b) = tokio::join!(run_due_jobs(ctx, &registry), run_due_jobs(ctx, &registry));

    let (a, b) = (a.expect("worker a"), b.expect("worker b"));
    let mut ids = ran.lock().expect("lock").clone();
    ids.sort_unstable();
    let runs = ids.len();
    ids.dedup();
    println!("FIGURE job_claims backend={} worker_a={a} worker_b={b} runs={runs} distinct={}", app.backend_name(), ids.len());
    assert_eq!(a + b, JOBS);
    assert_eq!((runs, ids.len()), (JOBS, JOBS), "every job ran exactly once");
    if app.is_postgres() {
        assert!(a > 0 && b > 0, "on PostgreSQL both workers claimed jobs side by side ({a} and {b})");
    }
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM jobs WHERE status = 'done'")).await, JOBS as i64);
}

#[tokio::test]
async fn a_job_whose_worker_died_is_claimed_again_once_its_lock_expires() {
    let app = TestApp::spawn().await;
    let registry = registry_with(|_, _| Ok(()));
    enqueue_probe(&app, "survivor", None).await;
    // A worker claimed it (attempt 1, locked for ten minutes) and then vanished.
    let now = app.state.ctx.now();
    app.execute(vec![sql!(
        "UPDATE jobs SET status = 'running', attempts = 1, locked_until = $1 WHERE kind = 'probe'",
        now.plus_seconds(600)
    )])
    .await
    .expect("simulate a claim");

    assert_eq!(run_due_jobs(&app.state.ctx, &registry).await.expect("run"), 0, "a locked job belongs to its worker");
    app.clock.advance_seconds(601);
    assert_eq!(run_due_jobs(&app.state.ctx, &registry).await.expect("run"), 1);

    let job = probe_named(&app, "survivor").await;
    assert_eq!((job.status.as_str(), job.attempts), ("done", 2));
    assert_eq!(job.last_error.as_deref(), Some("the worker running it stopped before finishing"));
}

#[tokio::test]
async fn a_daily_schedule_enqueues_one_job_per_day_however_often_workers_tick() {
    let app = TestApp::spawn().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let mut registry: Registry<Ctx> = Registry::new(Mailer::outbox_only());
    registry.register(move |_ctx, _run, _probe: DailyProbe| {
        counter.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::ready(Ok(())))
    });
    registry.schedule::<DailyProbe>(DAY);
    let ctx = &app.state.ctx;

    // Two processes tick several times within the same day.
    let mut added = 0;
    for _ in 0..3 {
        added += enqueue_scheduled(ctx, &registry).await.expect("tick");
        added += enqueue_scheduled(ctx, &registry).await.expect("other process ticks");
        run_due_jobs(ctx, &registry).await.expect("run");
        app.clock.advance_seconds(60);
    }
    assert_eq!((added, runs.load(Ordering::SeqCst)), (1, 1));
    app.clock.advance_seconds(DAY);
    added += enqueue_scheduled(ctx, &registry).await.expect("next day");
    run_due_jobs(ctx, &registry).await.expect("run");

    assert_eq!((added, runs.load(Ordering::SeqCst)), (2, 2));
    let rows = app.query(sql!("SELECT dedupe_key, payload FROM jobs WHERE kind = 'daily_probe' ORDER BY id")).await;
    let keys: Vec<String> = rows.iter().map(|r| r.get("dedupe_key").expect("key")).collect();
    assert!(keys.iter().all(|k| k.starts_with("schedule:daily_probe:") && k.ends_with("T00:00:00.000000Z")), "{keys:?}");
    for (row, key) in rows.iter().zip(&keys) {
        let payload: serde_json::Value = serde_json::from_str(&row.get::<String>("payload").expect("payload")).expect("JSON");
        let period_start = key.trim_start_matches("schedule:daily_probe:");
        assert_eq!(payload, json!({ "period_start": period_start }), "the stored shape of a scheduled job's payload");
    }
}

#[tokio::test]
async fn an_email_queued_in_a_transaction_that_rolls_back_is_never_sent() {
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    let workspace_id = workspace(&app).await;
    let now = app.state.ctx.now();

    let mut tx = app.state.ctx.db().write_granted(&TEST_FIXTURES).await.expect("write");
    let to = Email::parse("ghost@partner.example").expect("email");
    queue_email(&mut tx, &workspace_id, NewEmail::from_text("test", to, "Never", "This change is rolled back."), now).await.expect("queue");
    drop(tx);
    let ran = app.run_jobs().await;

    assert_eq!(ran, 0);
    assert!(smtp.messages().is_empty(), "nothing reached the SMTP server");
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM emails")).await, 0);
}

#[tokio::test]
async fn a_staff_invitation_arrives_by_smtp_with_its_link_in_the_text_and_the_html_part() {
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    workspace(&app).await;
    let owner = app.login("owner@mail-vendor.example", PASSWORD).await;

    let added = app.post("/api/v1/members", &owner, json!({"email": "new.admin@mail-vendor.example", "role": "admin"})).await;
    assert_eq!(added.status, 201, "{}", added.text);
    let link = added.body["invitation_url"].as_str().expect("invitation_url").to_owned();
    assert!(smtp.messages().is_empty(), "delivery is background work, after the commit");
    assert_eq!(app.run_jobs().await, 1);

    let received = smtp.messages_to("new.admin@mail-vendor.example");
    assert_eq!(received.len(), 1, "one message for the invitee: {:?}", smtp.messages());
    let mail = &received[0];
    assert_eq!(mail.from, "trellis@test.example");
    assert_eq!(mail.subject().as_deref(), Some("You are invited to Mail vendor on Trellis"));
    assert!(mail.header("Content-Type").is_some_and(|t| t.starts_with("multipart/alternative")), "{}", mail.data);
    let text = mail.text_part().expect("a plain-text part");
    let html = mail.html_part().expect("an HTML part");
    assert!(text.contains(&link), "the text part carries {link}:\n{text}");
    assert!(html.contains(&format!("<a href=\"{link}\">")), "the HTML part links {link}:\n{html}");
    assert!(text.contains("with the role admin"), "{text}");

    let rows = app.query(sql!("SELECT status, sent_at, text_body, html_body, secret FROM emails")).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<String>("status").expect("status"), "sent");
    assert!(rows[0].get::<Option<i64>>("sent_at").expect("sent_at").is_some());
    let stored = format!("{}{}", rows[0].get::<String>("text_body").expect("text"), rows[0].get::<String>("html_body").expect("html"));
    assert!(!stored.contains(&link), "the delivered email's stored copy keeps no working link");
    assert!(rows[0].get::<Option<String>>("secret").expect("secret").is_none());
    let path = link.strip_prefix(&app.base_url).expect("the link points at the public URL");
    let page = app.client.get(format!("{}{path}", app.base_url)).send().await.expect("request");
    assert_eq!(page.status().as_u16(), 200, "the emailed link opens the invitation");
}

#[tokio::test]
async fn a_partner_user_invitation_arrives_by_smtp_with_its_link() {
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    let f = Fixture::build(&app).await;
    app.run_jobs().await;
    let before = smtp.messages().len();

    let invited = app
        .post(&format!("/api/v1/partners/{}/users", f.r1a), &f.r1a_admin.token, json!({"email": "colleague@r1a.example", "role": "sales"}))
        .await;
    assert_eq!(invited.status, 201, "{}", invited.text);
    let link = invited.body["invitation_url"].as_str().expect("invitation_url").to_owned();
    app.run_jobs().await;

    assert_eq!(smtp.messages().len(), before + 1);
    let received = smtp.messages_to("colleague@r1a.example");
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.subject().as_deref(), Some("You are invited to the Vendor partner portal"));
    let text = mail.text_part().expect("text part");
    assert!(text.contains("R1a") && text.contains("with the role sales") && text.contains(&link), "{text}");
    assert!(mail.html_part().expect("html part").contains(&link));
}

#[tokio::test]
async fn an_email_the_smtp_server_refuses_is_retried_then_failed_visibly_and_can_be_sent_again() {
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    workspace(&app).await;
    let owner = app.login("owner@mail-vendor.example", PASSWORD).await;
    smtp.refuse_next(100);
    let added = app.post("/api/v1/members", &owner, json!({"email": "late@mail-vendor.example", "role": "viewer"})).await;
    assert_eq!(added.status, 201, "{}", added.text);

    let max_attempts = app.query_i64(sql!("SELECT max_attempts FROM jobs WHERE kind = 'send_email'")).await;
    app.run_jobs().await;
    let listed = app.get("/api/v1/emails", &owner).await;
    assert_eq!(listed.body["data"][0]["status"], "queued", "{}", listed.text);
    assert!(listed.body["data"][0]["last_error"].as_str().is_some_and(|e| e.contains("451")), "{}", listed.text);
    for _ in 1..max_attempts {
        app.clock.advance_seconds(retry_delay_range(max_attempts).1 + 1);
        app.run_jobs().await;
    }
    // Hours passed without a request: the owner's token ended unused (ADR 0023); they sign in again.
    let owner = app.login("owner@mail-vendor.example", PASSWORD).await;
    let failed = app.get("/api/v1/emails?status=failed", &owner).await;
    assert_eq!(failed.body["data"].as_array().map(Vec::len), Some(1), "{}", failed.text);
    assert_eq!(failed.body["data"][0]["attempts"], max_attempts);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) AS n FROM jobs WHERE status = 'failed'")).await, 1);
    assert!(smtp.messages().is_empty());

    // The server is back; an owner retries the failed job from the console.
    smtp.refuse_next(0);
    let job_id = app.query_i64(sql!("SELECT id FROM jobs WHERE status = 'failed'")).await;
    let web = sign_in(&app, "owner@mail-vendor.example").await;
    let jobs_page = web.get("/console/jobs?status=failed").await;
    assert_eq!(jobs_page.status, 200, "{}", jobs_page.text);
    assert!(jobs_page.text.contains(&format!("/console/jobs/{job_id}/retry")), "the failed job offers a retry");
    let retried = web.submit(&format!("/console/jobs/{job_id}/retry"), &[]).await;
    assert_eq!(retried.status, 303, "{}", retried.text);
    assert_eq!(app.run_jobs().await, 1);

    assert_eq!(smtp.messages_to("late@mail-vendor.example").len(), 1);
    let sent = app.get("/api/v1/emails?status=sent", &owner).await;
    assert_eq!(sent.body["data"].as_array().map(Vec::len), Some(1), "{}", sent.text);
    let audit = app.get("/api/v1/audit-events?action=job.retried", &owner).await;
    assert_eq!(audit.body["data"].as_array().map(Vec::len), Some(1), "{}", audit.text);
}

#[tokio::test]
async fn without_smtp_an_invitation_lands_in_the_outbox_and_shows_on_the_console_outbox_page() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let added = app.post("/api/v1/members", &f.owner.token, json!({"email": "outboxed@vendor.example", "role": "finance"})).await;
    assert_eq!(added.status, 201, "{}", added.text);
    let link = added.body["invitation_url"].as_str().expect("invitation_url").to_owned();

    app.run_jobs().await;

    let listed = app.get("/api/v1/emails?kind=staff_invitation", &f.owner.token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let newest = &listed.body["data"][0];
    assert_eq!((newest["to"].as_str(), newest["status"].as_str()), (Some("outboxed@vendor.example"), Some("outbox")), "{}", listed.text);
    let statuses: BTreeMap<String, usize> =
        app.query(sql!("SELECT status, COUNT(*) AS n FROM emails GROUP BY status")).await.iter().fold(BTreeMap::new(), |mut m, r| {
            m.insert(r.get("status").expect("status"), r.get::<i64>("n").expect("n") as usize);
            m
        });
    assert_eq!(statuses.keys().collect::<Vec<_>>(), vec!["outbox"], "every email waits in the outbox: {statuses:?}");

    let owner = sign_in(&app, &f.owner.email).await;
    let outbox = owner.get("/console/outbox").await;
    assert_eq!(outbox.status, 200, "{}", outbox.text);
    assert_safe_page("/console/outbox", &outbox);
    assert!(outbox.text.contains("outboxed@vendor.example") && outbox.text.contains("You are invited to Vendor on Trellis"));
    assert!(outbox.text.contains("status-outbox"), "the status shows");
    let email_id = newest["id"].as_str().expect("id");
    let detail = owner.get(&format!("/console/outbox/{email_id}")).await;
    assert_eq!(detail.status, 200, "{}", detail.text);
    assert_safe_page("/console/outbox/{id}", &detail);
    assert!(detail.text.contains(&link), "the undelivered invitation shows its link, to pass on by hand");
    assert!(detail.text.contains("Send again"));
    let jobs = owner.get("/console/jobs").await;
    assert_eq!(jobs.status, 200, "{}", jobs.text);
    assert_safe_page("/console/jobs", &jobs);

    let viewer = sign_in(&app, &f.viewer.email).await;
    assert_eq!(viewer.get("/console/outbox").await.status, 403);
    assert_eq!(viewer.get(&format!("/console/outbox/{email_id}")).await.status, 403);
    let partner = sign_in(&app, &f.r1a_admin.email).await;
    assert_eq!(partner.get("/console/outbox").await.status, 404);
    assert_eq!(partner.get("/console/jobs").await.status, 404);
    let other = app.get("/api/v1/emails", &f.other_owner.token).await;
    assert!(
        other.body["data"].as_array().expect("data").iter().all(|e| e["to"] != "outboxed@vendor.example"),
        "another workspace never sees these emails"
    );
}

#[tokio::test]
async fn an_email_kept_in_the_outbox_is_sent_again_on_request_once_smtp_is_there() {
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    let workspace_id = workspace(&app).await;
    let now = app.state.ctx.now();
    // Queued while the instance had no SMTP server, so it stayed in the outbox.
    let mut tx = app.state.ctx.db().write_granted(&TEST_FIXTURES).await.expect("write");
    let to = Email::parse("waiting@partner.example").expect("email");
    let id = queue_email(&mut tx, &workspace_id, NewEmail::from_text("notice", to, "Waiting", "Hello."), now).await.expect("queue");
    tx.commit().await.expect("commit");
    run_due_jobs(&app.state.ctx, &Registry::new(Mailer::outbox_only())).await.expect("run without SMTP");
    let owner = sign_in(&app, "owner@mail-vendor.example").await;
    let still_there = owner.get(&format!("/console/outbox/{id}")).await;
    assert!(still_there.text.contains("status-outbox"), "{}", still_there.text);

    let resent = owner.submit(&format!("/console/outbox/{id}/resend"), &[]).await;
    assert_eq!(resent.status, 303, "{}", resent.text);
    app.run_jobs().await;

    assert_eq!(smtp.messages_to("waiting@partner.example").len(), 1);
    let status: String = app.query(sql!("SELECT status FROM emails WHERE id = $1", id)).await[0].get("status").expect("status");
    assert_eq!(status, "sent");
    let again = owner.submit(&format!("/console/outbox/{id}/resend"), &[]).await;
    assert_eq!(again.status, 409, "a delivered email is not sent twice");
}

#[tokio::test]
async fn jobs_stored_before_jobs_were_typed_still_run_and_fan_out_with_the_same_keys() {
    let app = TestApp::spawn().await;
    let workspace_id = workspace(&app).await;
    let now = app.state.ctx.now();
    // Exactly what the queue stored before jobs were typed: every kind the binary handles.
    let period = "2026-01-05T00:00:00.000000Z";
    let schedule = json!({ "period_start": period }).to_string();
    app.execute(vec![
        sql!("INSERT INTO jobs (kind, payload, status, run_at, created_at) VALUES ('evaluate_tiers', $1, 'queued', $2, $2)", schedule, now),
        sql!("INSERT INTO jobs (kind, payload, status, run_at, created_at) VALUES ('send_reminders', $1, 'queued', $2, $2)", schedule, now),
        sql!(
            "INSERT INTO jobs (workspace_id, kind, payload, status, run_at, created_at) VALUES ($1, 'evaluate_tiers_in_workspace', '{}', 'queued', $2, $2)",
            workspace_id,
            now
        ),
    ])
    .await
    .expect("insert untyped rows");
    let mut tx = app.state.ctx.db().write_granted(&TEST_FIXTURES).await.expect("write");
    let to = Email::parse("legacy@partner.example").expect("email");
    let email_id = queue_email(&mut tx, &workspace_id, NewEmail::from_text("notice", to, "Still", "Delivered."), now).await.expect("queue");
    tx.commit().await.expect("commit");

    let delivery = app.query(sql!("SELECT payload, dedupe_key FROM jobs WHERE kind = 'send_email'")).await;
    assert_eq!(delivery[0].get::<String>("payload").expect("payload"), json!({ "email_id": email_id }).to_string());
    assert_eq!(delivery[0].get::<Option<String>>("dedupe_key").expect("key"), Some(format!("email:{email_id}")));
    app.run_jobs().await;

    let rows = app.query(sql!("SELECT kind, status, last_error, dedupe_key FROM jobs ORDER BY id")).await;
    let summary: Vec<(String, String, Option<String>, Option<String>)> = rows
        .iter()
        .map(|r| {
            (
                r.get("kind").expect("kind"),
                r.get("status").expect("status"),
                r.get("last_error").expect("error"),
                r.get("dedupe_key").expect("key"),
            )
        })
        .collect();
    assert!(summary.iter().all(|(_, status, error, _)| status == "done" && error.is_none()), "every job ran: {summary:#?}");
    let fanned_out: BTreeMap<&str, Option<&str>> =
        summary.iter().skip(4).map(|(kind, _, _, key)| (kind.as_str(), key.as_deref())).collect();
    assert_eq!(
        fanned_out,
        BTreeMap::from([
            ("evaluate_tiers_in_workspace", Some(format!("evaluate_tiers_in_workspace:{workspace_id}:{period}").as_str())),
            ("send_reminders_in_workspace", Some(format!("send_reminders_in_workspace:{workspace_id}:{period}").as_str())),
        ]),
        "the fan-out keeps its dedupe keys: {summary:#?}"
    );
    let status: String = app.query(sql!("SELECT status FROM emails WHERE id = $1", email_id)).await[0].get("status").expect("status");
    assert_eq!(status, "outbox");
}
