//! The audit trail: append-only events, written in the same transaction as the change they record,
//! each hash-chained to the previous event of its workspace so that `trellis audit verify` detects
//! an edited, deleted, inserted or reordered row.
//!
//! `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical JSON of the row)`; the first event's `prev_hash` is
//! 64 zeros. Appends lock the workspace's row in `audit_chain_heads` (UPDATE … RETURNING) so that
//! concurrent PostgreSQL transactions cannot fork the chain; SQLite writers are serialised anyway.
//! A transaction locks and reads the head once, at its first event, keeps it (`Tx::chain_head`)
//! and stores it once, just before it commits: one statement per event after the first.

use std::collections::HashMap;

use serde_json::{Map, Value as Json, json};
use trellis_core::{AuditEventId, Page, Result, Timestamp, VendorRole, WorkspaceId, page};
use trellis_db::{ChainHead, Db, Sql, SystemGrant, Tx, sql};

use crate::Ctx;
use crate::scope::{Actor, Scope, ScopedTx};
use crate::secret::sha256_hex;

/// The audit log is workspace-wide; its list is for owners/admins (checked) and verification is
/// an operator command.
pub const AUDIT_LOG: SystemGrant = SystemGrant {
    name: "audit_log",
    reason: "the audit log is workspace-wide: listed by owners/admins (checked), verified by an operator command",
};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One change to record.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: String,
    /// `{"field": [before, after]}`
    pub changes: Map<String, Json>,
}

impl AuditEntry {
    pub fn new(action: &'static str, target_type: &'static str, target_id: impl Into<String>) -> Self {
        Self { action, target_type, target_id: target_id.into(), changes: Map::new() }
    }

    /// Records a field's value before and after; unchanged fields are skipped.
    pub fn change(mut self, field: &str, before: impl Into<Json>, after: impl Into<Json>) -> Self {
        let (before, after) = (before.into(), after.into());
        if before != after {
            self.changes.insert(field.to_owned(), json!([before, after]));
        }
        self
    }

    /// Records a created object's field (before is null).
    pub fn set(self, field: &str, after: impl Into<Json>) -> Self {
        self.change(field, Json::Null, after)
    }
}

/// The partner an event is about, stored beside it in `audit_events.subject_partner_id` (indexed
/// with the sequence, so a partner's timeline reads its own events and no others): the target
/// when that is a partner, otherwise the partner its changes name (`.set("partner_id", …)`, the
/// convention of the events of every partner-owned object). It is derived from fields the hash
/// covers, so `audit verify` checks it instead of hashing it; migration 20261206000001 filled it
/// in for earlier events with the same rule. (Not `partner_id`: the trail is the vendor's, not a
/// partner-owned table under row security.)
fn subject_partner(target_type: &str, target_id: &str, changes: &Json) -> Option<String> {
    if target_type == "partner" {
        return Some(target_id.to_owned());
    }
    changes.get("partner_id")?.get(1)?.as_str().map(str::to_owned)
}

struct Canonical<'a> {
    workspace_id: &'a str,
    seq: i64,
    id: &'a str,
    at: i64,
    actor_type: &'a str,
    actor_id: Option<&'a str>,
    actor_email: Option<&'a str>,
    action: &'a str,
    target_type: &'a str,
    target_id: &'a str,
    changes: &'a str,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
}

impl Canonical<'_> {
    fn hash(&self, prev_hash: &str) -> String {
        let row = json!([
            self.workspace_id,
            self.seq,
            self.id,
            self.at,
            self.actor_type,
            self.actor_id,
            self.actor_email,
            self.action,
            self.target_type,
            self.target_id,
            self.changes,
            self.ip,
            self.user_agent
        ]);
        sha256_hex(&format!("{prev_hash}\n{row}"))
    }
}

fn actor_parts(actor: &Actor) -> (&'static str, Option<String>, Option<String>) {
    match actor {
        Actor::User { id, email } => ("user", Some(id.to_string()), Some(email.to_string())),
        Actor::ApiKey { id, user_email } => ("api_key", Some(id.to_string()), user_email.as_ref().map(|e| e.to_string())),
        Actor::System => ("system", None, None),
    }
}

/// Takes the workspace's audit head for the rest of `tx`, unless it holds it already: every
/// writing transaction of a workspace takes it (at its first event at the latest), so those that
/// take it first come one after the other — money that must not change while a payout run
/// gathers (`trellis-incentives` claims) relies on it. Answers the head as it stands.
pub async fn hold_head(tx: &mut Tx, scope: &Scope) -> Result<(i64, String)> {
    let workspace_id = scope.workspace_id();
    if let Some((last_seq, last_hash)) = tx.chain_head(workspace_id.as_str()) {
        return Ok((last_seq, last_hash.to_owned()));
    }
    // The head row is locked (UPDATE) and stays locked to the commit; the transaction keeps the
    // head and stores it once (`Tx::chain_head`).
    let head = tx
        .fetch_optional(sql!(
            "UPDATE audit_chain_heads SET last_seq = last_seq WHERE workspace_id = $1 RETURNING last_seq, last_hash",
            workspace_id
        ))
        .await?;
    let (seq, hash) = match head {
        Some(row) => (row.get::<i64>("last_seq")?, row.get::<String>("last_hash")?),
        None => {
            tx.execute(sql!("INSERT INTO audit_chain_heads (workspace_id, last_seq, last_hash) VALUES ($1, 0, $2)", workspace_id, GENESIS))
                .await?;
            (0, GENESIS.to_owned())
        }
    };
    let store = sql!("UPDATE audit_chain_heads SET last_seq = $2, last_hash = $3 WHERE workspace_id = $1", workspace_id, seq, &hash);
    tx.set_chain_head(ChainHead { key: workspace_id.to_string(), seq, hash: hash.clone(), store }).await?;
    Ok((seq, hash))
}

/// Appends an event inside `tx`, the transaction that makes the change.
pub async fn record(tx: &mut Tx, scope: &Scope, at: Timestamp, entry: AuditEntry) -> Result<AuditEventId> {
    let workspace_id = scope.workspace_id();
    let (last_seq, prev_hash) = hold_head(tx, scope).await?;
    let seq = last_seq + 1;
    let id = AuditEventId::generate();
    let (actor_type, actor_id, actor_email) = actor_parts(scope.actor());
    let changes = Json::Object(entry.changes);
    let subject_partner_id = subject_partner(entry.target_type, &entry.target_id, &changes);
    let changes = changes.to_string();
    let meta = scope.meta();
    let canonical = Canonical {
        workspace_id: workspace_id.as_str(),
        seq,
        id: id.as_str(),
        at: at.micros(),
        actor_type,
        actor_id: actor_id.as_deref(),
        actor_email: actor_email.as_deref(),
        action: entry.action,
        target_type: entry.target_type,
        target_id: &entry.target_id,
        changes: &changes,
        ip: meta.ip.as_deref(),
        user_agent: meta.user_agent.as_deref(),
    };
    let hash = canonical.hash(&prev_hash);
    tx.execute(sql!(
        "INSERT INTO audit_events (workspace_id, seq, id, at, actor_type, actor_id, actor_email, action, target_type, target_id, changes, ip, user_agent, prev_hash, hash, subject_partner_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        workspace_id, seq, id, at, actor_type, actor_id, actor_email, entry.action, entry.target_type,
        entry.target_id, changes, meta.ip, meta.user_agent, prev_hash, hash, subject_partner_id
    ))
    .await?;
    let store = sql!("UPDATE audit_chain_heads SET last_seq = $2, last_hash = $3 WHERE workspace_id = $1", workspace_id, seq, &hash);
    tx.set_chain_head(ChainHead { key: workspace_id.to_string(), seq, hash, store }).await?;
    Ok(id)
}

/// An audit event as read back.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub at: Timestamp,
    pub actor: AuditActor,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub changes: Json,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditActor {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Filters of the audit list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub target_id: Option<String>,
    pub action: Option<String>,
    pub since: Option<Timestamp>,
    pub actor_id: Option<String>,
    /// `user`, `api_key` or `system`.
    pub actor_type: Option<String>,
    /// The kind of object, e.g. `partner`.
    pub target_type: Option<String>,
    /// Return events older than this id (the cursor).
    pub before_id: Option<AuditEventId>,
    /// Events on the page (50 unless named).
    pub limit: Option<i64>,
}

/// Who reads the audit log: the workspace's owners and admins.
pub const READERS: &[VendorRole] = VendorRole::WORKSPACE_ADMINS;

/// Lists events newest first (owner/admin only).
pub async fn list(db: &Db, scope: &Scope, filter: &AuditFilter) -> Result<Page<AuditEvent>> {
    scope.require_vendor_role(READERS, "read the audit log")?;
    let mut tx = db.read_granted(&AUDIT_LOG).await?;
    list_in(&mut tx, scope, filter).await
}

/// Lists events newest first with the names of what they mention (owner/admin only): the page and
/// its names are read in one transaction, the names in one query per kind of object
/// ([`Names`]), within the caller's visibility.
pub async fn list_named(db: &Db, scope: &Scope, filter: &AuditFilter) -> Result<(Page<AuditEvent>, Names)> {
    scope.require_vendor_role(READERS, "read the audit log")?;
    let mut tx = scope.scoped(db.read_granted(&AUDIT_LOG).await?);
    let page = list_in(&mut tx, scope, filter).await?;
    let names = names_in(&mut tx, &references(&page.items)).await?;
    Ok((page, names))
}

/// Every filter has an index ending in `seq` (migration 20261206000010_audit_filters), so a page
/// reads its events from one index in order, whatever the size of the trail.
async fn list_in(tx: &mut Tx, scope: &Scope, filter: &AuditFilter) -> Result<Page<AuditEvent>> {
    let mut q = Sql::build(
        "SELECT id, at, actor_type, actor_id, actor_email, action, target_type, target_id, changes, ip, user_agent FROM audit_events WHERE workspace_id = ",
    );
    q.push_bind(scope.workspace_id());
    if let Some(target) = &filter.target_id {
        q.push(" AND target_id = ").push_bind(target);
    }
    if let Some(action) = &filter.action {
        q.push(" AND action = ").push_bind(action);
    }
    if let Some(since) = filter.since {
        q.push(" AND at >= ").push_bind(since);
    }
    if let Some(actor) = &filter.actor_id {
        q.push(" AND actor_id = ").push_bind(actor);
    }
    if let Some(actor_type) = &filter.actor_type {
        q.push(" AND actor_type = ").push_bind(actor_type);
    }
    if let Some(target_type) = &filter.target_type {
        q.push(" AND target_type = ").push_bind(target_type);
    }
    if let Some(before) = &filter.before_id {
        q.push(" AND seq < (SELECT seq FROM audit_events WHERE workspace_id = ");
        q.push_bind(scope.workspace_id()).push(" AND id = ").push_bind(before).push(")");
    }
    q.push(" ORDER BY seq DESC LIMIT ").push_bind(page::fetch_limit(filter.limit));
    let rows = tx.fetch_all(q).await?;
    let events = rows
        .iter()
        .map(|row| {
            let changes: String = row.get("changes")?;
            Ok(AuditEvent {
                id: row.get("id")?,
                at: row.get("at")?,
                actor: AuditActor { kind: row.get("actor_type")?, id: row.get("actor_id")?, email: row.get("actor_email")? },
                action: row.get("action")?,
                target_type: row.get("target_type")?,
                target_id: row.get("target_id")?,
                changes: serde_json::from_str(&changes).unwrap_or(Json::Null),
                ip: row.get("ip")?,
                user_agent: row.get("user_agent")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(events, filter.limit, |e| e.id.to_string()))
}

/// The kinds of object whose names the log shows; every other object keeps a neutral label.
const NAMED_KINDS: &[&str] = &["partner", "user", "program", "tier", "api_key"];

/// The kind, among those the log names, called `kind` (`None` for kinds that keep a neutral label).
pub fn named_kind(kind: &str) -> Option<&'static str> {
    NAMED_KINDS.iter().copied().find(|k| *k == kind)
}

/// The kind of object a change's id field names (`partner_id` → partner), for the fields whose
/// values are replaced by names.
pub fn id_field_kind(field: &str) -> Option<&'static str> {
    match field {
        "partner_id" | "parent_id" => Some("partner"),
        "user_id" | "manager_user_id" => Some("user"),
        "program_id" => Some("program"),
        "tier_id" => Some("tier"),
        _ => None,
    }
}

/// The objects a page of events mentions: targets, acting users, and ids its changes name.
fn references(events: &[AuditEvent]) -> Vec<(&'static str, String)> {
    let mut refs = Vec::new();
    for e in events {
        if let Some(kind) = NAMED_KINDS.iter().find(|k| **k == e.target_type) {
            refs.push((*kind, e.target_id.clone()));
        }
        if e.actor.kind == "user"
            && let Some(id) = &e.actor.id
        {
            refs.push(("user", id.clone()));
        }
        if let Json::Object(fields) = &e.changes {
            for (field, change) in fields {
                let Some(kind) = id_field_kind(field) else { continue };
                for value in change.as_array().into_iter().flatten() {
                    if let Some(id) = value.as_str() {
                        refs.push((kind, id.to_owned()));
                    }
                }
            }
        }
    }
    refs.sort();
    refs.dedup();
    refs
}

/// The names of objects an audit page mentions, by id (ids are unique across kinds: each kind has
/// its prefix). An object the caller may not see, or that no longer exists, has no name here and
/// keeps its neutral label ([`Names::label`]).
#[derive(Debug, Clone, Default)]
pub struct Names {
    by_id: HashMap<String, String>,
}

impl Names {
    /// The object's name, if the caller may see it.
    pub fn get(&self, id: &str) -> Option<&str> {
        self.by_id.get(id).map(String::as_str)
    }

    /// The object's name, or the neutral `partner ptn_…` when it has none here.
    pub fn label(&self, kind: &str, id: &str) -> String {
        match self.get(id) {
            Some(name) => name.to_owned(),
            None => format!("{} {id}", kind.replace('_', " ")),
        }
    }
}

/// The names of `refs` (`(kind, id)`) the caller sees, in the caller's own read transaction (row
/// security as the caller and the visibility rule): what a page shows beside ids it got elsewhere.
pub async fn names(ctx: &Ctx, scope: &Scope, refs: &[(&'static str, String)]) -> Result<Names> {
    let mut tx = scope.read(ctx).await?;
    let names = names_in(&mut tx, refs).await?;
    tx.commit().await?;
    Ok(names)
}

/// One query per kind of object, bounded by the page: partners (and the partner API keys and
/// partner users) through the caller's visibility rule, staff of this workspace, its programs and
/// tiers. Users are instance-wide, so a user is named only as this workspace's staff member or as
/// a user of a partner the caller sees.
async fn names_in(tx: &mut ScopedTx, refs: &[(&'static str, String)]) -> Result<Names> {
    let mut names = Names::default();
    let workspace_id = tx.workspace_id().clone();
    for kind in NAMED_KINDS {
        let ids: Vec<&String> = refs.iter().filter(|(k, _)| k == kind).map(|(_, id)| id).collect();
        if ids.is_empty() {
            continue;
        }
        let mut q = match *kind {
            "partner" => Sql::build("SELECT partners.id AS id, partners.name AS name FROM partners WHERE partners.workspace_id = "),
            "program" => Sql::build("SELECT id, name FROM programs WHERE workspace_id = "),
            "tier" => Sql::build("SELECT id, name FROM tiers WHERE workspace_id = "),
            "api_key" => Sql::build("SELECT k.id AS id, k.name AS name FROM api_keys k WHERE k.workspace_id = "),
            _ => Sql::build(
                "SELECT u.id AS id, CASE WHEN u.name = '' THEN u.email ELSE u.name || ' (' || u.email || ')' END AS name FROM users u WHERE ",
            ),
        };
        let column = match *kind {
            "partner" => "partners.id",
            "api_key" => "k.id",
            "user" => "u.id",
            _ => "id",
        };
        if *kind != "user" {
            q.push_bind(&workspace_id).push(" AND ");
        }
        q.push(column).push(" IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_bind(id.as_str());
        }
        q.push(")");
        match *kind {
            "partner" => {
                q.push(" AND ");
                tx.push_partner_filter(&mut q, "partners.id");
            }
            "api_key" => {
                q.push(" AND (k.partner_id IS NULL OR ");
                tx.push_partner_filter(&mut q, "k.partner_id");
                q.push(")");
            }
            "user" => {
                q.push(" AND (EXISTS (SELECT 1 FROM members m WHERE m.workspace_id = ").push_bind(&workspace_id);
                q.push(" AND m.user_id = u.id) OR EXISTS (SELECT 1 FROM partner_users pu WHERE pu.workspace_id = ")
                    .push_bind(&workspace_id);
                q.push(" AND pu.user_id = u.id AND ");
                tx.push_partner_filter(&mut q, "pu.partner_id");
                q.push("))");
            }
            _ => {}
        }
        for row in tx.fetch_all(q).await? {
            names.by_id.insert(row.get("id")?, row.get("name")?);
        }
    }
    Ok(names)
}

/// Columns whose values the log's pickers list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distinct {
    Action,
    TargetType,
}

/// The distinct actions (or kinds of object) of the workspace's trail, sorted, for the console's
/// pickers (owner/admin only). Read from the trail rather than from a list in the code, so the
/// picker offers exactly what can be found, including actions older versions recorded. The query
/// walks the (workspace, action, seq) or (workspace, target_type, seq) index one value at a time
/// (a recursive "next greater value" probe), so it costs one index probe per distinct value — a
/// few dozen — however many events there are, on both backends.
pub async fn distinct_values(db: &Db, scope: &Scope, column: Distinct) -> Result<Vec<String>> {
    scope.require_vendor_role(READERS, "read the audit log")?;
    let column = match column {
        Distinct::Action => "action",
        Distinct::TargetType => "target_type",
    };
    let mut q = Sql::build("WITH RECURSIVE v (value) AS (SELECT MIN(");
    q.push(column).push(") FROM audit_events WHERE workspace_id = ").push_bind(scope.workspace_id());
    q.push(" UNION ALL SELECT (SELECT MIN(").push(column).push(") FROM audit_events WHERE workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND ").push(column).push(" > v.value) FROM v WHERE v.value IS NOT NULL)");
    q.push(" SELECT value FROM v WHERE value IS NOT NULL LIMIT 500");
    let mut tx = db.read_granted(&AUDIT_LOG).await?;
    tx.fetch_all(q).await?.iter().map(|row| Ok(row.get("value")?)).collect()
}

/// The outcome of verifying one workspace's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub workspace_id: WorkspaceId,
    pub events: i64,
    /// The first broken link, as `(seq, what)`.
    pub broken_at: Option<(i64, String)>,
}

/// Verifies every workspace's chain (operator command, system context).
pub async fn verify_all(db: &Db) -> Result<Vec<ChainReport>> {
    let mut tx = db.read_granted(&AUDIT_LOG).await?;
    let workspaces = tx.fetch_all(sql!("SELECT id FROM workspaces ORDER BY id")).await?;
    let mut reports = Vec::new();
    for row in workspaces {
        let workspace_id: WorkspaceId = row.get("id")?;
        reports.push(verify_workspace(&mut tx, workspace_id).await?);
    }
    Ok(reports)
}

async fn verify_workspace(tx: &mut Tx, workspace_id: WorkspaceId) -> Result<ChainReport> {
    let rows = tx
        .fetch_all(sql!(
            "SELECT seq, id, at, actor_type, actor_id, actor_email, action, target_type, target_id, changes, ip, user_agent, prev_hash, hash,
                 subject_partner_id
             FROM audit_events WHERE workspace_id = $1 ORDER BY seq",
            workspace_id
        ))
        .await?;
    let head = tx.fetch_optional(sql!("SELECT last_seq, last_hash FROM audit_chain_heads WHERE workspace_id = $1", workspace_id)).await?;
    let mut expected_prev = GENESIS.to_owned();
    let mut broken_at = None;
    for (index, row) in rows.iter().enumerate() {
        let seq: i64 = row.get("seq")?;
        let (id, actor_type, action, target_type, target_id, changes, prev_hash, hash): (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
        ) = (
            row.get("id")?,
            row.get("actor_type")?,
            row.get("action")?,
            row.get("target_type")?,
            row.get("target_id")?,
            row.get("changes")?,
            row.get("prev_hash")?,
            row.get("hash")?,
        );
        let (actor_id, actor_email, ip, user_agent): (Option<String>, Option<String>, Option<String>, Option<String>) =
            (row.get("actor_id")?, row.get("actor_email")?, row.get("ip")?, row.get("user_agent")?);
        let canonical = Canonical {
            workspace_id: workspace_id.as_str(),
            seq,
            id: &id,
            at: row.get("at")?,
            actor_type: &actor_type,
            actor_id: actor_id.as_deref(),
            actor_email: actor_email.as_deref(),
            action: &action,
            target_type: &target_type,
            target_id: &target_id,
            changes: &changes,
            ip: ip.as_deref(),
            user_agent: user_agent.as_deref(),
        };
        let problem = if seq != index as i64 + 1 {
            Some(format!("expected sequence number {}, found {seq} (a row was deleted or inserted)", index + 1))
        } else if prev_hash != expected_prev {
            Some("prev_hash does not match the previous event (reordered or removed rows)".to_owned())
        } else if canonical.hash(&prev_hash) != hash {
            Some("the event's content does not match its hash (edited)".to_owned())
        } else if row.get::<Option<String>>("subject_partner_id")?
            != subject_partner(&target_type, &target_id, &serde_json::from_str(&changes).unwrap_or(Json::Null))
        {
            Some("the event's partner does not match its target and changes (edited)".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            broken_at = Some((seq, problem));
            break;
        }
        expected_prev = hash;
    }
    if broken_at.is_none() {
        let count = rows.len() as i64;
        let head_ok = match &head {
            Some(h) => h.get::<i64>("last_seq")? == count && h.get::<String>("last_hash")? == expected_prev,
            None => count == 0,
        };
        if !head_ok {
            broken_at = Some((count, "the chain head does not match the last event (events removed from the end)".to_owned()));
        }
    }
    Ok(ChainReport { workspace_id, events: rows.len() as i64, broken_at })
}
