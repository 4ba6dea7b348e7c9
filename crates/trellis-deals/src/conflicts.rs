//! The conflict check: a registration against other partners' live registrations and the
//! vendor's direct pipeline, through an in-memory index per workspace.
//!
//! The index is a cache of the `deals` table (DESIGN.md "Scale-out"): every write that changes
//! what the index holds takes the workspace's row of `deal_index_heads` (`UPDATE … RETURNING`)
//! and stamps the deals it changed with the new sequence number. Taking that row serialises
//! those writes, on PostgreSQL across servers too, so sequence order is commit order; a check
//! first catches up on the deals stamped after what the index has seen, in the registration's
//! own transaction after taking the row, so it sees every registration committed before it,
//! whichever server took it. Between registrations, [`follow`] catches each loaded workspace up
//! every [`FOLLOW_INTERVAL`], so a server's index follows the others' writes within a second.
//!
//! Reading other partners' deals is the named grant [`CONFLICT_ENGINE`]; the registration lifts
//! its caller's row security for that last part of its transaction only
//! (`ScopedTx::into_granted`), after the caller's own checks and insert.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use trellis_core::{DealId, PartnerId, Result, Timestamp, WorkspaceId};
use trellis_db::{Row, Sql, SystemGrant, Tx, sql};
use trellis_identity::{Ctx, Scope};

use crate::engine::{CustomerKeys, Index, MatchKind};
use crate::rules::ConflictRules;
use crate::statuses::DealStatus;

/// The conflict engine's cross-partner reads and the other side of a race.
pub const CONFLICT_ENGINE: SystemGrant = SystemGrant {
    name: "conflict_engine",
    reason: "a registration is compared with every partner's live registrations and the direct pipeline, and the earlier side of a race is sent to review; partners learn only that and why their registration conflicts",
};

/// How often a server catches its loaded indexes up with other servers' writes.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

/// The most conflicts one registration records.
const MAX_CONFLICTS: usize = 20;

/// What kind of conflict (API.md: `conflicts[].kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    SameDomain,
    SameName,
    SimilarName,
    DirectPipeline,
    Race,
}

impl ConflictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::SameDomain => "same_domain",
            ConflictKind::SameName => "same_name",
            ConflictKind::SimilarName => "similar_name",
            ConflictKind::DirectPipeline => "direct_pipeline",
            ConflictKind::Race => "race",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::SameDomain, Self::SameName, Self::SimilarName, Self::DirectPipeline, Self::Race].into_iter().find(|k| k.as_str() == text)
    }

    /// How the pages name it.
    pub fn label(self) -> &'static str {
        match self {
            ConflictKind::SameDomain => "Same web domain",
            ConflictKind::SameName => "Same company name",
            ConflictKind::SimilarName => "Similar company name",
            ConflictKind::DirectPipeline => "Vendor's direct pipeline",
            ConflictKind::Race => "Registered within the race window",
        }
    }
}

/// What the index keeps of a deal beside its keys: enough to decide whether it is live and
/// whose it is, nothing a partner may not learn being ever shown from it.
#[derive(Debug, Clone)]
struct Entry {
    deal_id: DealId,
    partner_id: Option<PartnerId>,
    status: DealStatus,
    protected_until: Option<Timestamp>,
    created_at: Timestamp,
}

impl Entry {
    /// API.md: a live registration is submitted, under review, needing information, or approved
    /// with its protection running; a direct opportunity is live while open (approved).
    fn is_live(&self, now: Timestamp) -> bool {
        match self.status {
            DealStatus::Submitted | DealStatus::UnderReview | DealStatus::NeedsInfo => true,
            DealStatus::Approved => self.partner_id.is_none() || self.protected_until.is_some_and(|until| until > now),
            _ => false,
        }
    }
}

/// From how many new deals a catch-up adds them in bulk: below it, the second thread of
/// [`Index::extend`] costs more than it saves (the follower catches up every 250 ms).
const BULK_LOAD: usize = 1024;

#[derive(Default)]
struct WorkspaceIndex {
    /// The highest `index_seq` applied.
    seen_seq: i64,
    index: Index<u32>,
    entries: HashMap<u32, Entry>,
    slots: HashMap<DealId, u32>,
    next_slot: u32,
}

impl WorkspaceIndex {
    fn apply(&mut self, row: &IndexedDeal) {
        let slot = match self.slots.get(&row.entry.deal_id) {
            Some(slot) => *slot,
            None => {
                let slot = self.next_slot;
                self.next_slot += 1;
                self.slots.insert(row.entry.deal_id.clone(), slot);
                slot
            }
        };
        // Closed deals leave the index: they never conflict again (a dispute re-opening one
        // stamps it anew).
        if row.entry.status.is_closed() {
            self.index.remove(slot);
            self.entries.remove(&slot);
            self.slots.remove(&row.entry.deal_id);
        } else {
            self.index.insert(slot, &row.keys);
            self.entries.insert(slot, row.entry.clone());
        }
        self.seen_seq = self.seen_seq.max(row.seq);
    }

    /// [`apply`](Self::apply) for rows read at once (a start-up load, a catch-up): deals new to
    /// the index are added in bulk ([`Index::extend`]), the rest one by one.
    fn apply_all(&mut self, rows: &[IndexedDeal]) {
        let mut added = Vec::new();
        for row in rows {
            if row.entry.status.is_closed() || self.slots.contains_key(&row.entry.deal_id) {
                self.apply(row);
                continue;
            }
            let slot = self.next_slot;
            self.next_slot += 1;
            self.slots.insert(row.entry.deal_id.clone(), slot);
            self.entries.insert(slot, row.entry.clone());
            added.push((slot, &row.keys));
            self.seen_seq = self.seen_seq.max(row.seq);
        }
        if added.len() >= BULK_LOAD {
            self.index.extend(added);
        } else {
            for (slot, keys) in added {
                self.index.insert(slot, keys);
            }
        }
    }
}

/// The in-memory indexes of this server, one per workspace, loaded on first use (and at start
/// by [`ConflictIndex::load_all`]). The binary puts one in the context.
#[derive(Default)]
pub struct ConflictIndex {
    workspaces: Mutex<HashMap<WorkspaceId, Arc<tokio::sync::Mutex<WorkspaceIndex>>>>,
}

struct IndexedDeal {
    seq: i64,
    keys: CustomerKeys,
    entry: Entry,
}

const INDEXED_COLUMNS: &str =
    "id, partner_id, status, protected_until, created_at, customer_name, customer_domain, customer_email, country, index_seq";

fn indexed(row: &Row) -> Result<IndexedDeal> {
    let name: String = row.get("customer_name")?;
    let domain: Option<String> = row.get("customer_domain")?;
    let email: Option<String> = row.get("customer_email")?;
    let country: Option<String> = row.get("country")?;
    let status: String = row.get("status")?;
    Ok(IndexedDeal {
        seq: row.get("index_seq")?,
        keys: CustomerKeys::new(&name, domain.as_deref(), email.as_deref(), country.as_deref()),
        entry: Entry {
            deal_id: row.get("id")?,
            partner_id: row.get("partner_id")?,
            status: DealStatus::parse(&status).ok_or_else(|| trellis_core::Error::Internal(format!("stored deal status {status}")))?,
            protected_until: row.get("protected_until")?,
            created_at: row.get("created_at")?,
        },
    })
}

impl ConflictIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// The index the binary put in the context.
    pub fn of(ctx: &Ctx) -> Result<&Self> {
        ctx.extension::<Self>()
    }

    fn workspace(&self, workspace_id: &WorkspaceId) -> Arc<tokio::sync::Mutex<WorkspaceIndex>> {
        let mut map = self.workspaces.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        map.entry(workspace_id.clone()).or_default().clone()
    }

    /// Builds the index of every workspace (at start, so the first registration does not pay it).
    pub async fn load_all(&self, ctx: &Ctx) -> Result<usize> {
        let mut tx = ctx.db().read_granted(&CONFLICT_ENGINE).await?;
        let rows = tx.fetch_all(sql!("SELECT id FROM workspaces ORDER BY id")).await?;
        let mut loaded = 0;
        for row in rows {
            let workspace_id: WorkspaceId = row.get("id")?;
            let index = self.workspace(&workspace_id);
            let mut index = index.lock().await;
            catch_up(&mut tx, &workspace_id, &mut index).await?;
            loaded += index.entries.len();
        }
        Ok(loaded)
    }

    /// Catches every loaded workspace up with writes made since (by any server).
    pub async fn follow_once(&self, ctx: &Ctx) -> Result<()> {
        let loaded: Vec<(WorkspaceId, Arc<tokio::sync::Mutex<WorkspaceIndex>>)> = {
            let map = self.workspaces.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        if loaded.is_empty() {
            return Ok(());
        }
        let mut tx = ctx.db().read_granted(&CONFLICT_ENGINE).await?;
        for (workspace_id, index) in loaded {
            let mut index = index.lock().await;
            catch_up(&mut tx, &workspace_id, &mut index).await?;
        }
        Ok(())
    }

    /// How many live and pending deals the index of a workspace holds (for tests and the bench).
    pub async fn len(&self, workspace_id: &WorkspaceId) -> usize {
        self.workspace(workspace_id).lock().await.entries.len()
    }
}

/// Builds every workspace's index, then runs [`ConflictIndex::follow_once`] every
/// [`FOLLOW_INTERVAL`] until the process ends.
pub async fn follow(ctx: Ctx) {
    match ConflictIndex::of(&ctx) {
        Ok(index) => match index.load_all(&ctx).await {
            Ok(deals) => tracing::info!(deals, "conflict index built"),
            Err(error) => tracing::warn!(%error, "the conflict index could not be built; it loads per workspace on first use"),
        },
        Err(_) => return,
    }
    let mut ticker = tokio::time::interval(FOLLOW_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Ok(index) = ConflictIndex::of(&ctx) else { return };
        if let Err(error) = index.follow_once(&ctx).await {
            tracing::warn!(%error, "the conflict index could not catch up");
        }
    }
}

async fn catch_up(tx: &mut Tx, workspace_id: &WorkspaceId, index: &mut WorkspaceIndex) -> Result<()> {
    let mut q = Sql::build("SELECT ");
    q.push(INDEXED_COLUMNS).push(" FROM deals WHERE workspace_id = ").push_bind(workspace_id);
    q.push(" AND index_seq > ").push_bind(index.seen_seq).push(" ORDER BY index_seq");
    let rows = tx.fetch_all(q).await?.iter().map(indexed).collect::<Result<Vec<_>>>()?;
    index.apply_all(&rows);
    Ok(())
}

/// Takes the workspace's index head and returns the next sequence number: the deals a write
/// changes are stamped with it. Held until the transaction ends.
pub(crate) async fn next_seq(tx: &mut Tx, workspace_id: &WorkspaceId) -> Result<i64> {
    let row = tx
        .fetch_one(sql!(
            "INSERT INTO deal_index_heads (workspace_id, seq) VALUES ($1, 1)
             ON CONFLICT (workspace_id) DO UPDATE SET seq = deal_index_heads.seq + 1 RETURNING seq",
            workspace_id
        ))
        .await?;
    Ok(row.get("seq")?)
}

/// Stamps a deal whose status, protection or keys changed, so every index picks the change up.
pub(crate) async fn stamp(tx: &mut Tx, workspace_id: &WorkspaceId, deal_id: &DealId) -> Result<()> {
    let seq = next_seq(tx, workspace_id).await?;
    stamp_with(tx, workspace_id, deal_id, seq).await
}

/// Stamps a deal with a sequence number this transaction already took.
pub(crate) async fn stamp_with(tx: &mut Tx, workspace_id: &WorkspaceId, deal_id: &DealId, seq: i64) -> Result<()> {
    tx.execute(sql!("UPDATE deals SET index_seq = $3 WHERE workspace_id = $1 AND id = $2", workspace_id, deal_id, seq)).await?;
    Ok(())
}

/// One conflict the check found.
#[derive(Debug, Clone)]
pub struct Found {
    pub other_deal_id: DealId,
    pub other_partner_id: Option<PartnerId>,
    pub other_status: DealStatus,
    pub kind: ConflictKind,
    pub score: f64,
    /// Minutes between the other registration and this one.
    pub minutes_apart: i64,
    pub other_protected_until: Option<Timestamp>,
}

/// What a new deal is checked as.
pub(crate) struct Candidate<'a> {
    pub deal_id: &'a DealId,
    pub partner_id: Option<&'a PartnerId>,
    pub keys: &'a CustomerKeys,
}

/// Checks a new deal inside its transaction, whose caller's row security has been lifted for
/// [`CONFLICT_ENGINE`]: takes the index head (stamping the new deal), catches the index up and
/// answers the conflicts, strongest first, and the sequence number the transaction's other
/// changes of indexed deals are stamped with ([`stamp_with`]).
pub(crate) async fn check(
    ctx: &Ctx,
    tx: &mut Tx,
    scope: &Scope,
    candidate: &Candidate<'_>,
    rules: Option<&ConflictRules>,
    now: Timestamp,
) -> Result<(i64, Vec<Found>)> {
    let (seq, mut found) = check_all(ctx, tx, scope, std::slice::from_ref(candidate), rules, now).await?;
    Ok((seq, found.pop().unwrap_or_default()))
}

/// [`check`] for several new deals of one transaction (an import of direct opportunities): the
/// head is taken once and the index caught up once, before any of them is stamped, so the index
/// only ever holds committed deals (catching up again after stamping the first would load this
/// transaction's own rows, and lose a deal of another transaction that takes the same sequence
/// number after a rollback). Each candidate is compared with the committed deals only, not with
/// the other candidates: the caller passes candidates that cannot conflict with each other (one
/// side's deals — the vendor's own opportunities never conflict among themselves).
pub(crate) async fn check_all(
    ctx: &Ctx,
    tx: &mut Tx,
    scope: &Scope,
    candidates: &[Candidate<'_>],
    rules: Option<&ConflictRules>,
    now: Timestamp,
) -> Result<(i64, Vec<Vec<Found>>)> {
    let workspace_id = scope.workspace_id();
    let seq = next_seq(tx, workspace_id).await?;
    let index = ConflictIndex::of(ctx)?.workspace(workspace_id);
    let mut index = index.lock().await;
    // Catch up before stamping the new deals: the index only ever holds committed deals (this
    // transaction may still roll back, and then its sequence number is taken again).
    catch_up(tx, workspace_id, &mut index).await?;
    drop(index);
    for candidate in candidates {
        tx.execute(sql!("UPDATE deals SET index_seq = $3 WHERE workspace_id = $1 AND id = $2", workspace_id, candidate.deal_id, seq))
            .await?;
    }
    let index = ConflictIndex::of(ctx)?.workspace(workspace_id);
    let index = index.lock().await;
    let threshold = rules.map_or(crate::engine::DEFAULT_SIMILARITY_THRESHOLD, |r| r.similarity_threshold);
    let race_window = rules.map_or(crate::rules::DEFAULT_RACE_WINDOW_MINUTES, |r| r.race_window_minutes);
    let found = candidates.iter().map(|candidate| find(&index, candidate, threshold, race_window, now)).collect();
    Ok((seq, found))
}

/// The live deals of the index a candidate conflicts with, strongest first.
fn find(index: &WorkspaceIndex, candidate: &Candidate<'_>, threshold: f64, race_window: i64, now: Timestamp) -> Vec<Found> {
    let mut found = Vec::new();
    for m in index.index.find(candidate.keys, threshold, MAX_CONFLICTS * 4) {
        let Some(entry) = index.entries.get(&m.id) else { continue };
        if &entry.deal_id == candidate.deal_id || !entry.is_live(now) {
            continue;
        }
        // A partner's own registrations and the vendor's own opportunities do not conflict with
        // themselves.
        if entry.partner_id.as_ref() == candidate.partner_id {
            continue;
        }
        let minutes_apart = (now.micros() - entry.created_at.micros()).max(0) / 60_000_000;
        let kind = if entry.partner_id.is_none() {
            ConflictKind::DirectPipeline
        } else if candidate.partner_id.is_some() && minutes_apart < race_window {
            ConflictKind::Race
        } else {
            match m.kind {
                MatchKind::SameDomain => ConflictKind::SameDomain,
                MatchKind::SameName => ConflictKind::SameName,
                MatchKind::SimilarName => ConflictKind::SimilarName,
            }
        };
        found.push(Found {
            other_deal_id: entry.deal_id.clone(),
            other_partner_id: entry.partner_id.clone(),
            other_status: entry.status,
            kind,
            score: m.score,
            minutes_apart,
            other_protected_until: entry.protected_until,
        });
        if found.len() == MAX_CONFLICTS {
            break;
        }
    }
    found
}

/// The sentence a partner reads about a conflict of its registration with an earlier one. It
/// never names the other partner, its deal or its amount.
pub fn reason_for_later(found: &Found, keys: &CustomerKeys, race_window: i64) -> String {
    let standing = match (found.other_status, found.other_protected_until) {
        (DealStatus::Approved, Some(until)) => format!("it is approved and protected until {}", crate::deals::date_of(until)),
        (DealStatus::Approved, None) => "it is open".to_owned(),
        _ => "it is waiting for review".to_owned(),
    };
    match found.kind {
        ConflictKind::DirectPipeline => {
            "The vendor's own sales team is already working with this customer; your registration goes to review.".to_owned()
        }
        ConflictKind::Race => format!(
            "Another partner registered the same customer {} before you, within the {}-minute race window: both registrations go to review, and the earlier one has priority.",
            minutes(found.minutes_apart),
            race_window
        ),
        ConflictKind::SameDomain => format!(
            "Another partner registered a customer with the same web domain ({}) before you; {standing}.",
            keys.domain.as_deref().unwrap_or("the same domain")
        ),
        ConflictKind::SameName => format!("Another partner registered a customer with the same name before you; {standing}."),
        ConflictKind::SimilarName => format!(
            "Another partner registered a customer with a very similar name ({}% alike) before you; {standing}.",
            (found.score * 100.0).round() as i64
        ),
    }
}

/// The sentence the earlier side of a race reads.
pub fn reason_for_earlier(minutes_apart: i64, race_window: i64) -> String {
    format!(
        "Another partner registered the same customer {} after you, within the {race_window}-minute race window: both registrations go to review; yours came first and has priority.",
        minutes(minutes_apart)
    )
}

fn minutes(n: i64) -> String {
    match n {
        0 => "less than a minute".to_owned(),
        1 => "1 minute".to_owned(),
        n => format!("{n} minutes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::synthetic;

    fn rows(n: usize) -> Vec<IndexedDeal> {
        synthetic::accounts(n, 7)
            .iter()
            .enumerate()
            .map(|(i, account)| IndexedDeal {
                seq: i as i64 + 1,
                keys: account.keys(),
                entry: Entry {
                    deal_id: DealId::generate(),
                    partner_id: None,
                    // Every tenth deal is closed: a catch-up takes it out, never in.
                    status: if i % 10 == 9 { DealStatus::Lost } else { DealStatus::Submitted },
                    protected_until: None,
                    created_at: Timestamp::from_micros(1_800_000_000_000_000),
                },
            })
            .collect()
    }

    #[test]
    fn a_bulk_catch_up_holds_what_one_deal_at_a_time_holds() {
        let rows = rows(BULK_LOAD * 2);
        let mut bulk = WorkspaceIndex::default();
        bulk.apply_all(&rows);
        let mut one_by_one = WorkspaceIndex::default();
        for row in &rows {
            one_by_one.apply(row);
        }

        assert_eq!(bulk.seen_seq, one_by_one.seen_seq);
        assert_eq!(bulk.entries.len(), rows.len() - rows.len() / 10);
        let deal = |index: &WorkspaceIndex, slot: u32| index.entries.get(&slot).map(|e| e.deal_id.clone());
        for row in &rows {
            let found = |index: &WorkspaceIndex| {
                index.index.find(&row.keys, 0.85, 5).into_iter().map(|m| (deal(index, m.id), m.kind)).collect::<Vec<_>>()
            };
            assert_eq!(found(&bulk), found(&one_by_one), "{:?}", row.keys);
        }
    }
}
