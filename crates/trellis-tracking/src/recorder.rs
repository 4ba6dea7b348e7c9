//! The click writer (DESIGN.md: "click recorded asynchronously by the writer in batches"). A
//! redirect hands its click to a bounded queue and answers at once — it never waits for the
//! database and never updates a counter row. One task drains the queue: whatever has arrived
//! (up to [`MAX_BATCH`]) is written in one transaction — the clicks, and per link and UTC day
//! one upsert of the daily count — so under load the batches grow by themselves (group commit
//! without a timer). A graceful shutdown [`Recorder::flush`]es the queue; a crash loses at most
//! the clicks queued but not yet committed (`bench/redirect.sh` counts them).
//!
//! The queue is bounded: when the database is slower than the clicks for long enough to fill
//! it, a redirect waits for room (counted, [`RecorderFigures::waited`]) rather than dropping its
//! click or holding memory without limit — the redirects then go at the writer's pace. A batch that fails is retried with back-off;
//! click ids make the retry harmless (a click already written is neither written nor counted
//! again: a retry reads back which rows it inserted).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use trellis_core::{LinkId, PartnerId, Result, Timestamp, WorkspaceId};

use crate::redirects::LiveLink;
use trellis_db::{Backend, Db, Sql, SystemGrant, ToValue};

/// The click writer records every workspace's clicks.
pub const CLICK_WRITER: SystemGrant = SystemGrant {
    name: "click_writer",
    reason: "the click writer records the clicks of every workspace's referral links in batches, after the redirect has answered; it writes clicks and daily counts and reads nothing",
};

/// The most clicks one transaction writes.
pub const MAX_BATCH: usize = 4096;
/// How many clicks may wait for the writer before further ones are dropped (counted).
pub const QUEUE_CAPACITY: usize = 262_144;
/// Rows per multi-row statement. Profiled with callgrind, binding cost more than SQLite spent
/// inserting: SQLite finds a numbered parameter (`$n`) by a linear scan of the statement's
/// parameters, so a statement's binding grew with the square of its rows (50 rows a statement
/// was the best compromise). On SQLite the writer binds anonymous `?` placeholders instead, which
/// need no lookup.
const ROWS_PER_STATEMENT: usize = 256;
const RETRIES: u32 = 5;

/// One counted click, as the redirect saw it (the link shared with the table, not copied).
#[derive(Debug, Clone)]
pub struct ClickRow {
    pub link: Arc<LiveLink>,
    pub click_id: String,
    pub clicked_at: Timestamp,
    pub ip: String,
    pub user_agent: Option<String>,
    pub referer: Option<String>,
}

enum Message {
    Click(ClickRow),
    Flush(oneshot::Sender<()>),
}

/// What the writer has done since the server started.
#[derive(Debug, Default)]
pub struct RecorderFigures {
    pub queued: AtomicU64,
    pub written: AtomicU64,
    /// Clicks lost because the writer had stopped (never while the server runs).
    pub dropped: AtomicU64,
    /// Redirects that waited for room in the queue (the writer a whole queue behind).
    pub waited: AtomicU64,
    pub batches: AtomicU64,
    /// Clicks given up after [`RETRIES`] failed attempts of their batch.
    pub failed: AtomicU64,
}

/// The sending side; the writer task owns the receiving side.
pub struct Recorder {
    queue: mpsc::Sender<Message>,
    figures: Arc<RecorderFigures>,
}

impl Recorder {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Db) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let figures = Arc::new(RecorderFigures::default());
        tokio::spawn(write_batches(db, receiver, figures.clone()));
        Self { queue, figures }
    }

    /// Queues a click. It waits only when the writer is a whole queue behind (counted in
    /// [`RecorderFigures::waited`]): a counted click is never dropped, and under an overload that
    /// outlasts the queue the redirects slow to the writer's pace instead.
    pub async fn record(&self, click: ClickRow) {
        let click = match self.queue.try_send(Message::Click(click)) {
            Ok(()) => {
                self.figures.queued.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(mpsc::error::TrySendError::Full(click)) => click,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.figures.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        self.figures.waited.fetch_add(1, Ordering::Relaxed);
        if self.queue.send(click).await.is_ok() {
            self.figures.queued.fetch_add(1, Ordering::Relaxed);
        } else {
            self.figures.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits until every click queued before this call is written (or given up).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    pub fn figures(&self) -> &RecorderFigures {
        &self.figures
    }
}

async fn write_batches(db: Db, mut receiver: mpsc::Receiver<Message>, figures: Arc<RecorderFigures>) {
    let mut messages = Vec::with_capacity(MAX_BATCH);
    loop {
        messages.clear();
        if receiver.recv_many(&mut messages, MAX_BATCH).await == 0 {
            return;
        }
        let mut clicks = Vec::with_capacity(messages.len());
        let mut flushes = Vec::new();
        for message in messages.drain(..) {
            match message {
                Message::Click(click) => clicks.push(click),
                Message::Flush(done) => flushes.push(done),
            }
        }
        if !clicks.is_empty() {
            let mut attempt = 0;
            loop {
                match write(&db, &clicks, attempt > 0).await {
                    Ok(()) => {
                        figures.written.fetch_add(clicks.len() as u64, Ordering::Relaxed);
                        figures.batches.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(error) if attempt < RETRIES => {
                        attempt += 1;
                        tracing::warn!(%error, attempt, clicks = clicks.len(), "a batch of clicks could not be written; retrying");
                        tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    }
                    Err(error) => {
                        tracing::error!(%error, clicks = clicks.len(), "a batch of clicks was given up");
                        figures.failed.fetch_add(clicks.len() as u64, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

const DAY_MICROS: i64 = 86_400_000_000;

/// Binds a value: `?` on SQLite (see [`ROWS_PER_STATEMENT`]), `$n` on PostgreSQL.
fn bind(q: &mut Sql, backend: Backend, value: impl ToValue) -> &mut Sql {
    match backend {
        Backend::Sqlite => q.push_bind_anonymous(value),
        Backend::Postgres => q.push_bind(value),
    }
}

/// Writes one batch in one transaction. A retry (`retried`) counts only the clicks it inserts
/// (`RETURNING`), in case the first attempt's commit landed; the first attempt skips that read.
async fn write(db: &Db, clicks: &[ClickRow], retried: bool) -> Result<()> {
    let mut tx = db.write_granted(&CLICK_WRITER).await?;
    let backend = tx.backend();
    let mut inserted: Option<HashSet<String>> = retried.then(|| HashSet::with_capacity(clicks.len()));
    for chunk in clicks.chunks(ROWS_PER_STATEMENT) {
        // A click already written (a retry after a commit that landed) is skipped. On SQLite `OR
        // IGNORE` rather than `ON CONFLICT … DO NOTHING`: a statement that can abort half-way
        // (NOT NULL) keeps a statement journal, which spills to a temporary file — measured 1.5×
        // the rows per second without it. No value bound here can be NULL where it may not.
        let mut q = Sql::build(match backend {
            Backend::Sqlite => {
                "INSERT OR IGNORE INTO clicks (workspace_id, id, link_id, partner_id, clicked_at, ip, user_agent, referer) VALUES "
            }
            Backend::Postgres => "INSERT INTO clicks (workspace_id, id, link_id, partner_id, clicked_at, ip, user_agent, referer) VALUES ",
        });
        for (i, c) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            bind(&mut q, backend, &c.link.workspace_id).push(", ");
            bind(&mut q, backend, c.click_id.as_str()).push(", ");
            bind(&mut q, backend, &c.link.id).push(", ");
            bind(&mut q, backend, &c.link.partner_id).push(", ");
            bind(&mut q, backend, c.clicked_at).push(", ");
            bind(&mut q, backend, c.ip.as_str()).push(", ");
            bind(&mut q, backend, c.user_agent.as_deref()).push(", ");
            bind(&mut q, backend, c.referer.as_deref()).push(")");
        }
        if backend == Backend::Postgres {
            q.push(" ON CONFLICT (workspace_id, id) DO NOTHING");
        }
        match &mut inserted {
            Some(inserted) => {
                q.push(" RETURNING id");
                for row in tx.fetch_all(q).await? {
                    inserted.insert(row.get::<String>("id")?);
                }
            }
            None => {
                tx.execute(q).await?;
            }
        }
    }
    let mut days: HashMap<(&WorkspaceId, &LinkId, &PartnerId, i64), i64> = HashMap::new();
    for c in clicks.iter().filter(|c| inserted.as_ref().is_none_or(|ids| ids.contains(&c.click_id))) {
        *days.entry((&c.link.workspace_id, &c.link.id, &c.link.partner_id, c.clicked_at.micros().div_euclid(DAY_MICROS))).or_default() += 1;
    }
    let days: Vec<_> = days.into_iter().collect();
    for chunk in days.chunks(ROWS_PER_STATEMENT) {
        let mut q = Sql::build("INSERT INTO referral_link_days (workspace_id, link_id, partner_id, day, clicks) VALUES ");
        for (i, ((workspace_id, link_id, partner_id, day), n)) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            bind(&mut q, backend, *workspace_id).push(", ");
            bind(&mut q, backend, *link_id).push(", ");
            bind(&mut q, backend, *partner_id).push(", ");
            bind(&mut q, backend, *day).push(", ");
            bind(&mut q, backend, *n).push(")");
        }
        q.push(" ON CONFLICT (workspace_id, link_id, day) DO UPDATE SET clicks = referral_link_days.clicks + excluded.clicks");
        tx.execute(q).await?;
    }
    tx.commit().await?;
    Ok(())
}
