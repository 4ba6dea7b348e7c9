//! `/r/{code}` from memory. Every server keeps the live links of all workspaces in a table keyed
//! by code (built at start, about 200 bytes a link: 100,000 links are some 20 MB) and follows the
//! link change feed every [`FOLLOW_INTERVAL`], so a link created or disabled on one server
//! redirects (or stops) on the others within a second. A visit reads the table, signs a click id
//! and hands the click to the [`Recorder`]; it never waits for the database (only, under an
//! overload that outlasts the writer's queue, for room in that queue).
//!
//! Not counted (still redirected, with a click id): known bots and crawlers by user agent
//! (`isbot`'s maintained patterns), and a repeat of the same address on the same link within
//! an hour — remembered per server, so behind a load balancer without address affinity a repeat
//! reaching another server is counted there once more.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use trellis_core::{Error, LinkId, PartnerId, ProgramId, Result, Timestamp, WorkspaceId};
use trellis_db::{Db, Row, Sql, SystemGrant, Tx, sql};
use trellis_identity::{Ctx, ScopedTx};
use url::Url;

use crate::click_ids::{ClickFacts, ClickKey};
use crate::destinations::Location;
use crate::links::stored_utm;
use crate::recorder::{ClickRow, Recorder};

/// Every server reads every workspace's live links into memory.
pub const LINK_TABLE: SystemGrant = SystemGrant {
    name: "link_table",
    reason: "every server keeps the live referral links of all workspaces in memory to answer /r/{code} without a query, and reads and creates the instance's click signing key; it reads codes, destinations, owners and programs' attribution settings and shows none of it to anyone",
};

/// How often a server catches its link table up with other servers' changes.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);
/// A repeat of one address on one link within this many seconds is not counted again.
pub const REPEAT_WINDOW_SECONDS: i64 = 3_600;
/// Default attribution window (API.md: 90 days), used where a program sets none.
pub const DEFAULT_WINDOW_DAYS: i64 = 90;

/// A live link as the redirect needs it.
#[derive(Debug)]
pub struct LiveLink {
    pub workspace_id: WorkspaceId,
    pub id: LinkId,
    pub partner_id: PartnerId,
    pub program_id: Option<ProgramId>,
    pub code: String,
    location: Location,
    pub disabled: bool,
    /// The attribution window of the link's program, in days (the cookie's lifetime).
    pub window_days: i64,
    /// The program attributes a returning customer to the last click (else the first).
    pub last_touch: bool,
}

#[derive(Default)]
struct Table {
    by_code: HashMap<String, Arc<LiveLink>>,
    by_id: HashMap<u128, Arc<LiveLink>>,
    seen: i64,
}

impl Table {
    fn apply(&mut self, link: LiveLink, seq: i64) {
        let link = Arc::new(link);
        if let Some(before) = self.by_id.get(&link.id.to_u128())
            && before.code != link.code
        {
            self.by_code.remove(&before.code);
        }
        if link.disabled {
            self.by_code.remove(&link.code);
        } else {
            self.by_code.insert(link.code.clone(), link.clone());
        }
        self.by_id.insert(link.id.to_u128(), link);
        self.seen = self.seen.max(seq);
    }
}

/// What a visit answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub location: String,
    pub click_id: String,
    /// The first-party cookie's lifetime: the program's attribution window.
    pub cookie_max_age_seconds: i64,
    pub counted: Counted,
}

/// Whether a visit's click was handed to the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Yes,
    Bot,
    Repeat,
}

/// One visit of `/r/{code}`.
#[derive(Debug, Clone, Copy)]
pub struct Visit<'a> {
    pub code: &'a str,
    pub address: &'a str,
    pub user_agent: Option<&'a str>,
    pub referer: Option<&'a str>,
    pub at: Timestamp,
}

const REPEAT_SHARDS: usize = 16;
/// The most visits one generation of a shard remembers: 16 shards of two generations hold at most
/// some 2 million visits (about 40 MB), however many visitors come.
const REPEAT_GENERATION_CAPACITY: usize = 65_536;

/// The recent visits of one shard, each a keyed 64-bit hash of (link, address) with the second
/// it was seen, in two generations. A generation turns when the current one is a repeat window
/// old — so every visit younger than the window is in one of the two — or when it is full: under
/// a flood of distinct visitors memory stays bounded and a repeat older than the flood's last
/// minute or so is counted again. Nothing is ever scanned: a visit costs a lookup or two and an
/// insert, whatever the traffic.
#[derive(Default)]
struct RecentVisits {
    current: HashMap<u64, i64>,
    previous: HashMap<u64, i64>,
    current_since: i64,
}

impl RecentVisits {
    /// Whether `key` was seen within the window before `now` (seconds); remembers it if not.
    fn seen_within_window(&mut self, key: u64, now: i64) -> bool {
        let last = self.current.get(&key).or_else(|| self.previous.get(&key));
        if last.is_some_and(|last| now - last < REPEAT_WINDOW_SECONDS) {
            return true;
        }
        if now - self.current_since >= REPEAT_WINDOW_SECONDS || self.current.len() >= REPEAT_GENERATION_CAPACITY {
            self.previous = std::mem::take(&mut self.current);
            self.current_since = now;
        }
        self.current.insert(key, now);
        false
    }
}

/// The redirect's state: the link table, the click key, the bot patterns, the recent visits and
/// the click writer. Registered in the [`Ctx`] by the binary.
pub struct Redirects {
    table: RwLock<Table>,
    key: ClickKey,
    bots: isbot::Bots,
    recent: Vec<Mutex<RecentVisits>>,
    hasher: RandomState,
    recorder: Recorder,
    figures: VisitFigures,
}

/// What the redirects of this server answered since it started: with the writer's figures, the
/// benchmark checks that every counted click was written (written = counted).
#[derive(Debug, Default)]
pub struct VisitFigures {
    pub redirected: AtomicU64,
    pub bots: AtomicU64,
    pub repeats: AtomicU64,
    pub not_found: AtomicU64,
}

impl Redirects {
    /// Reads (or creates) the instance's click key, builds the link table and starts the click
    /// writer.
    pub async fn start(db: &Db, now: Timestamp) -> Result<Arc<Self>> {
        let mut tx = db.write_granted(&LINK_TABLE).await?;
        let secret = click_secret(&mut tx, now).await?;
        tx.commit().await?;
        let redirects = Arc::new(Self {
            table: RwLock::new(Table::default()),
            key: ClickKey::new(&secret),
            bots: isbot::Bots::default(),
            recent: (0..REPEAT_SHARDS).map(|_| Mutex::new(RecentVisits::default())).collect(),
            hasher: RandomState::new(),
            recorder: Recorder::start(db.clone()),
            figures: VisitFigures::default(),
        });
        redirects.follow_once(db).await?;
        Ok(redirects)
    }

    /// The instance registered in the context.
    pub fn of(ctx: &Ctx) -> Result<&Arc<Self>> {
        ctx.extension::<Arc<Self>>()
    }

    pub fn key(&self) -> &ClickKey {
        &self.key
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    pub fn figures(&self) -> &VisitFigures {
        &self.figures
    }

    /// A link by id, disabled ones included (their earlier clicks still attribute).
    pub fn link(&self, id: &LinkId) -> Option<Arc<LiveLink>> {
        self.table.read().unwrap_or_else(|p| p.into_inner()).by_id.get(&id.to_u128()).cloned()
    }

    /// A link of `workspace_id` by id for a reader in a transaction: from the table, else (made
    /// on another server in the last instants) from the database; disabled ones included.
    pub async fn link_in(&self, tx: &mut ScopedTx, workspace_id: &WorkspaceId, id: &LinkId) -> Result<Option<Arc<LiveLink>>> {
        if let Some(link) = self.link(id) {
            return Ok(Some(link));
        }
        let mut q = Sql::build("SELECT ");
        q.push(LIVE_COLUMNS).push(" WHERE l.workspace_id = ").push_bind(workspace_id).push(" AND l.id = ").push_bind(id);
        tx.fetch_optional(q).await?.map(|row| live_from_row(&row).map(|(link, _)| Arc::new(link))).transpose()
    }

    /// How many live links the table holds (for tests and the benchmark).
    pub fn live_links(&self) -> usize {
        self.table.read().unwrap_or_else(|p| p.into_inner()).by_code.len()
    }

    /// Answers one visit: `None` for an unknown or disabled code.
    pub async fn visit(&self, visit: &Visit<'_>) -> Option<Answer> {
        let Some(link) = self.table.read().unwrap_or_else(|p| p.into_inner()).by_code.get(visit.code).cloned() else {
            self.figures.not_found.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let click_id = self.key.issue(&link.id, visit.at, visit.address);
        let location = link.location.with_click(&click_id);
        let counted = if visit.user_agent.is_none_or(|ua| ua.trim().is_empty() || self.bots.is_bot(ua)) {
            self.figures.bots.fetch_add(1, Ordering::Relaxed);
            Counted::Bot
        } else if self.is_repeat(&link.id, visit.address, visit.at) {
            self.figures.repeats.fetch_add(1, Ordering::Relaxed);
            Counted::Repeat
        } else {
            self.recorder
                .record(ClickRow {
                    link: link.clone(),
                    click_id: click_id.clone(),
                    clicked_at: visit.at,
                    ip: visit.address.to_owned(),
                    user_agent: visit.user_agent.map(|ua| truncate(ua, 512)),
                    referer: visit.referer.map(|r| truncate(r, 1_000)),
                })
                .await;
            Counted::Yes
        };
        // Counted once the click is queued: a request dropped while it waited was never answered.
        self.figures.redirected.fetch_add(1, Ordering::Relaxed);
        Some(Answer { location, click_id, cookie_max_age_seconds: link.window_days * 86_400, counted })
    }

    /// Whether the address visited the link within the repeat window (and remembers this visit
    /// when it did not).
    fn is_repeat(&self, link_id: &LinkId, address: &str, at: Timestamp) -> bool {
        let key = self.hasher.hash_one((link_id.to_u128(), address));
        let shard = &self.recent[(key % REPEAT_SHARDS as u64) as usize];
        let now = at.micros().div_euclid(1_000_000);
        shard.lock().unwrap_or_else(|p| p.into_inner()).seen_within_window(key, now)
    }

    /// What a click id says, if this instance signed it.
    pub fn read_click(&self, click_id: &str) -> Option<ClickFacts> {
        self.key.read(click_id)
    }

    /// Catches the table up with link changes made since (by any server).
    pub async fn follow_once(&self, db: &Db) -> Result<()> {
        let seen = self.table.read().unwrap_or_else(|p| p.into_inner()).seen;
        let mut tx = db.read_granted(&LINK_TABLE).await?;
        let mut q = Sql::build("SELECT ");
        q.push(LIVE_COLUMNS).push(" WHERE l.change_seq > ").push_bind(seen).push(" ORDER BY l.change_seq");
        let rows = tx.fetch_all(q).await?;
        drop(tx);
        if rows.is_empty() {
            return Ok(());
        }
        let links = rows.iter().map(live_from_row).collect::<Result<Vec<_>>>()?;
        let mut table = self.table.write().unwrap_or_else(|p| p.into_inner());
        for (link, seq) in links {
            table.apply(link, seq);
        }
        Ok(())
    }
}

/// Follows the link change feed every [`FOLLOW_INTERVAL`] until the process ends.
pub async fn follow(ctx: Ctx) {
    let mut ticker = tokio::time::interval(FOLLOW_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Ok(redirects) = Redirects::of(&ctx) else { return };
        if let Err(error) = redirects.follow_once(ctx.db()).await {
            tracing::warn!(%error, "the link table could not catch up");
        }
    }
}

const LIVE_COLUMNS: &str =
    "l.workspace_id, l.id, l.partner_id, l.program_id, l.code, l.destination_url, l.utm, l.disabled_at, l.change_seq,
    s.attribution_window_days, s.last_touch
    FROM referral_links l LEFT JOIN tracking_settings s ON s.workspace_id = l.workspace_id AND s.program_id = l.program_id";

fn live_from_row(row: &Row) -> Result<(LiveLink, i64)> {
    let destination: String = row.get("destination_url")?;
    let destination = Url::parse(&destination).map_err(|e| Error::Internal(format!("stored destination: {e}")))?;
    let utm = stored_utm(&row.get::<String>("utm")?)?;
    let disabled_at: Option<Timestamp> = row.get("disabled_at")?;
    let window_days: Option<i64> = row.get("attribution_window_days")?;
    let last_touch: Option<bool> = row.get("last_touch")?;
    let link = LiveLink {
        workspace_id: row.get("workspace_id")?,
        id: row.get("id")?,
        partner_id: row.get("partner_id")?,
        program_id: row.get("program_id")?,
        code: row.get("code")?,
        location: Location::new(&destination, &utm),
        disabled: disabled_at.is_some(),
        window_days: window_days.unwrap_or(DEFAULT_WINDOW_DAYS),
        last_touch: last_touch.unwrap_or(false),
    };
    Ok((link, row.get("change_seq")?))
}

/// The instance's click signing secret: read, or created by the first server that needs it (a
/// concurrent first start keeps whichever row landed).
async fn click_secret(tx: &mut Tx, now: Timestamp) -> Result<Vec<u8>> {
    let fresh: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    tx.execute(sql!("INSERT INTO click_keys (id, secret, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING", fresh, now)).await?;
    let secret: String = tx.fetch_one(sql!("SELECT secret FROM click_keys WHERE id = 1")).await?.get("secret")?;
    (0..secret.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(secret.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<std::result::Result<Vec<u8>, _>>()
        .map_err(|e| Error::Internal(format!("stored click key: {e}")))
}

/// At most `max` characters of `text`.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visit_repeats_within_the_window_across_a_generations_turn_and_not_after_it() {
        const W: i64 = REPEAT_WINDOW_SECONDS;
        let mut recent = RecentVisits::default();
        assert!(!recent.seen_within_window(7, 1_000));
        assert!(recent.seen_within_window(7, 1_000 + W - 1));
        assert!(!recent.seen_within_window(9, 1_000 + W - 5));
        // A window after the generation began, the next new visitor turns it.
        assert!(!recent.seen_within_window(8, 1_000 + W + 10));
        assert!(recent.seen_within_window(9, 1_000 + W + 100), "seen 105 s ago, before the turn");
        assert!(!recent.seen_within_window(7, 1_000 + W + 20), "seen more than a window ago");
        assert!(recent.seen_within_window(7, 1_000 + W + 30));
    }

    #[test]
    fn a_flood_of_distinct_visitors_keeps_at_most_two_generations() {
        let mut recent = RecentVisits::default();
        for key in 0..(3 * REPEAT_GENERATION_CAPACITY as u64) {
            assert!(!recent.seen_within_window(key, 5));
        }
        assert!(recent.current.len() + recent.previous.len() <= 2 * REPEAT_GENERATION_CAPACITY);
        // The latest visitors are still repeats.
        assert!(recent.seen_within_window(3 * REPEAT_GENERATION_CAPACITY as u64 - 1, 6));
    }
}
