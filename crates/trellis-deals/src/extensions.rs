//! Protection extension requests (API.md "Deals", "Disputes and extension requests"): the
//! registering partner asks for more days of protection of an approved deal while its protection
//! runs; the channel team approves (the end moves by the days asked, from its current end, and the
//! protection jobs are scheduled for the new end — those of the old end find the deal moved and do
//! nothing) or denies, with an optional note. One request of a deal is open at a time.
//!
//! Visibility is the deal's partner's (`deal_extension_requests.partner_id`), as for disputes.

use serde_json::json;
use trellis_core::{DealId, Error, ExtensionRequestId, Page, PartnerId, Result, Timestamp, UserId, Validation, VendorRole, string_enum};
use trellis_db::{Row, Sql, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope, ScopedTx};

use crate::conflicts;
use crate::deals::{self, date_of};
use crate::disputes::{registrant_deal, require_partner_deal_worker};
use crate::statuses::DealStatus;

/// The most days one request may ask for.
pub const MAX_DAYS: i64 = 365;

string_enum!(
    /// Where a request stands.
    ExtensionStatus {
        Open => "open",
        Approved => "approved",
        Denied => "denied",
    }
);

#[derive(Debug, Clone)]
pub struct ExtensionRequest {
    pub id: ExtensionRequestId,
    pub deal_id: DealId,
    pub partner_id: PartnerId,
    pub partner_name: String,
    pub customer_name: String,
    /// The deal's protection end now (moved by an approval).
    pub protected_until: Option<Timestamp>,
    pub days: i64,
    pub reason: String,
    pub status: ExtensionStatus,
    pub note: Option<String>,
    pub requested_by_user_id: Option<UserId>,
    pub decided_by_user_id: Option<UserId>,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
}

const COLUMNS: &str =
    "r.id, r.deal_id, r.partner_id, p.name AS partner_name, d.customer_name, d.protected_until, r.days, r.reason, r.status,
     r.note, r.requested_by_user_id, r.decided_by_user_id, r.created_at, r.decided_at";

const FROM: &str = " FROM deal_extension_requests r JOIN partners p ON p.workspace_id = r.workspace_id AND p.id = r.partner_id
     JOIN deals d ON d.workspace_id = r.workspace_id AND d.id = r.deal_id";

fn from_row(row: &Row) -> Result<ExtensionRequest> {
    let status: String = row.get("status")?;
    Ok(ExtensionRequest {
        id: row.get("id")?,
        deal_id: row.get("deal_id")?,
        partner_id: row.get("partner_id")?,
        partner_name: row.get("partner_name")?,
        customer_name: row.get("customer_name")?,
        protected_until: row.get("protected_until")?,
        days: row.get("days")?,
        reason: row.get("reason")?,
        status: ExtensionStatus::parse(&status).ok_or_else(|| Error::Internal(format!("stored extension status {status}")))?,
        note: row.get("note")?,
        requested_by_user_id: row.get("requested_by_user_id")?,
        decided_by_user_id: row.get("decided_by_user_id")?,
        created_at: row.get("created_at")?,
        decided_at: row.get("decided_at")?,
    })
}

/// One request the caller sees; 404 otherwise.
pub async fn find_in(tx: &mut ScopedTx, scope: &Scope, id: &ExtensionRequestId) -> Result<ExtensionRequest> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(FROM).push(" WHERE r.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND r.id = ").push_bind(id).push(" AND ");
    tx.push_partner_filter(&mut q, "r.partner_id");
    from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

/// `GET /api/v1/extension-requests/{id}`.
pub async fn get(ctx: &Ctx, scope: &Scope, id: &ExtensionRequestId) -> Result<ExtensionRequest> {
    let mut tx = scope.read(ctx).await?;
    find_in(&mut tx, scope, id).await
}

/// Which requests a list shows.
#[derive(Debug, Clone, Default)]
pub struct ExtensionFilter {
    pub status: Option<ExtensionStatus>,
    pub deal_id: Option<DealId>,
    /// The queue: oldest first. Newest first otherwise.
    pub oldest_first: bool,
    pub cursor: Option<ExtensionRequestId>,
    pub limit: Option<i64>,
}

/// The requests the caller sees: the staff queue (`status: open`, oldest first), or one deal's.
pub async fn list(ctx: &Ctx, scope: &Scope, filter: &ExtensionFilter) -> Result<Page<ExtensionRequest>> {
    let mut tx = scope.read(ctx).await?;
    list_in(&mut tx, scope, filter).await
}

/// [`list`] inside the caller's transaction.
pub async fn list_in(tx: &mut ScopedTx, scope: &Scope, filter: &ExtensionFilter) -> Result<Page<ExtensionRequest>> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(FROM).push(" WHERE r.workspace_id = ").push_bind(scope.workspace_id()).push(" AND ");
    tx.push_partner_filter(&mut q, "r.partner_id");
    if let Some(status) = filter.status {
        q.push(" AND r.status = ").push_bind(status.as_str());
    }
    if let Some(deal_id) = &filter.deal_id {
        q.push(" AND r.deal_id = ").push_bind(deal_id);
    }
    if let Some(cursor) = &filter.cursor {
        q.push(if filter.oldest_first { " AND r.id > " } else { " AND r.id < " }).push_bind(cursor);
    }
    let direction = if filter.oldest_first { "ASC" } else { "DESC" };
    q.push(&format!(" ORDER BY r.id {direction} LIMIT ")).push_bind(trellis_core::page::fetch_limit(filter.limit));
    let rows: Vec<ExtensionRequest> = tx.fetch_all(q).await?.iter().map(from_row).collect::<Result<_>>()?;
    Ok(Page::from_rows(rows, filter.limit, |r| r.id.to_string()))
}

/// `GET /api/v1/deals/{id}/extension-requests`: a deal's requests, newest first (404 for a deal
/// the caller does not see).
pub async fn list_for_deal(ctx: &Ctx, scope: &Scope, deal_id: &DealId) -> Result<Vec<ExtensionRequest>> {
    let mut tx = scope.read(ctx).await?;
    deals::find_in(&mut tx, scope, deal_id).await?;
    let filter = ExtensionFilter { deal_id: Some(deal_id.clone()), limit: Some(trellis_core::page::MAX_PAGE_SIZE), ..Default::default() };
    Ok(list_in(&mut tx, scope, &filter).await?.items)
}

/// `POST /api/v1/deals/{id}/extension-requests`: the registering side asks for `days` more days
/// of protection of an approved deal whose protection is still running.
pub async fn request(ctx: &Ctx, scope: &Scope, deal_id: &DealId, days: i64, reason: &str) -> Result<ExtensionRequest> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    deals::find_in(&mut tx, scope, deal_id).await?;
    require_partner_deal_worker(scope, "ask for longer protection")?;
    let deal = registrant_deal(&mut tx, scope, deal_id).await?;
    let mut v = Validation::new();
    if !(1..=MAX_DAYS).contains(&days) {
        v.add("days", format!("must be between 1 and {MAX_DAYS}"));
    }
    let reason = v.text("reason", reason, 2000);
    v.finish().map_err(Error::Validation)?;
    let reason = reason.unwrap_or_default();
    let running = deal.status == DealStatus::Approved && deal.protected_until.is_some_and(|until| until > now);
    if !running {
        return Err(Error::conflict(format!(
            "only an approved deal whose protection is still running can be extended; this deal is {}",
            deal.status.label().to_lowercase()
        )));
    }
    let partner_id = deal.partner_id.clone().ok_or_else(|| Error::Internal("a partner's deal has a partner".into()))?;
    // Takes the deal's row, so two requests cannot both find none open.
    tx.execute(sql!("UPDATE deals SET index_seq = index_seq WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), deal_id)).await?;
    let open = tx
        .fetch_i64(sql!(
            "SELECT COUNT(*) AS n FROM deal_extension_requests WHERE workspace_id = $1 AND deal_id = $2 AND status = 'open'",
            scope.workspace_id(),
            deal_id
        ))
        .await?;
    if open > 0 {
        return Err(Error::conflict("an extension request of this deal is already open; the channel team will answer it"));
    }
    let id = ExtensionRequestId::generate();
    tx.execute(sql!(
        "INSERT INTO deal_extension_requests (workspace_id, id, deal_id, partner_id, days, reason, status, requested_by_user_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8)",
        scope.workspace_id(),
        &id,
        deal_id,
        &partner_id,
        days,
        &reason,
        scope.user_id().cloned(),
        now
    ))
    .await?;
    let entry = AuditEntry::new("deal.extension_requested", "deal", deal_id.as_str())
        .set("partner_id", json!(partner_id))
        .set("extension_request_id", id.as_str())
        .set("days", days)
        .set("reason", reason.clone());
    audit::record(&mut tx, scope, now, entry).await?;
    let text = format!(
        "{} asks for {days} more days of protection of its deal with {} (protected until {}):\n\n{reason}\n\nApprove or deny it: {}",
        deal.partner_name.clone().unwrap_or_default(),
        deal.customer_name,
        deal.protected_until.map(date_of).unwrap_or_default(),
        ctx.link("/console/extension-requests")
    );
    crate::notify::to_channel_team_in(
        &mut tx,
        scope.workspace_id(),
        &partner_id,
        "extension_requested",
        &format!("Protection extension asked: {}", deal.customer_name),
        &text,
        scope.user_id(),
        now,
    )
    .await?;
    let request = find_in(&mut tx, scope, &id).await?;
    tx.commit().await?;
    Ok(request)
}

/// `POST /api/v1/extension-requests/{id}/approve` (owner, admin, channel manager): the deal's
/// protection end moves by the days asked, from its current end.
pub async fn approve(ctx: &Ctx, scope: &Scope, id: &ExtensionRequestId, note: Option<&str>) -> Result<ExtensionRequest> {
    decide(ctx, scope, id, ExtensionStatus::Approved, note).await
}

/// `POST /api/v1/extension-requests/{id}/deny` (owner, admin, channel manager): the protection
/// stays as it is.
pub async fn deny(ctx: &Ctx, scope: &Scope, id: &ExtensionRequestId, note: Option<&str>) -> Result<ExtensionRequest> {
    decide(ctx, scope, id, ExtensionStatus::Denied, note).await
}

async fn decide(ctx: &Ctx, scope: &Scope, id: &ExtensionRequestId, to: ExtensionStatus, note: Option<&str>) -> Result<ExtensionRequest> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = find_in(&mut tx, scope, id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "decide protection extensions")?;
    let mut v = Validation::new();
    let note = v.optional_text("note", note, 2000).flatten();
    v.finish().map_err(Error::Validation)?;
    if before.status != ExtensionStatus::Open {
        return Err(Error::conflict(format!("this request was already {}", before.status)));
    }
    let deal = deals::find_in(&mut tx, scope, &before.deal_id).await?;
    let mut extended = None;
    if to == ExtensionStatus::Approved {
        let (DealStatus::Approved, Some(until)) = (deal.status, deal.protected_until) else {
            return Err(Error::conflict(format!(
                "the deal is {} now; only an approved deal's protection can be extended",
                deal.status.label().to_lowercase()
            )));
        };
        let new_until = until.plus_seconds(before.days * 86_400);
        tx.execute(sql!(
            "UPDATE deals SET protected_until = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
            scope.workspace_id(),
            &deal.id,
            new_until,
            now
        ))
        .await?;
        conflicts::stamp(&mut tx, scope.workspace_id(), &deal.id).await?;
        let mut after = deal.clone();
        after.protected_until = Some(new_until);
        crate::protection::schedule_in(&mut tx, scope.workspace_id(), &after, now).await?;
        let entry = AuditEntry::new("deal.protection_extended", "deal", deal.id.as_str())
            .set("partner_id", json!(deal.partner_id))
            .change("protected_until", json!(until), json!(new_until))
            .set("extension_request_id", id.as_str())
            .set("days", before.days);
        audit::record(&mut tx, scope, now, entry).await?;
        extended = Some(new_until);
    } else {
        let mut entry = AuditEntry::new("deal.extension_denied", "deal", deal.id.as_str())
            .set("partner_id", json!(deal.partner_id))
            .set("extension_request_id", id.as_str());
        if let Some(note) = &note {
            entry = entry.set("note", note.clone());
        }
        audit::record(&mut tx, scope, now, entry).await?;
    }
    let updated = tx
        .execute(sql!(
            "UPDATE deal_extension_requests SET status = $3, note = $4, decided_by_user_id = $5, decided_at = $6
             WHERE workspace_id = $1 AND id = $2 AND status = 'open'",
            scope.workspace_id(),
            id,
            to.as_str(),
            &note,
            scope.user_id().cloned(),
            now
        ))
        .await?;
    if updated == 0 {
        return Err(Error::conflict("this request was decided meanwhile"));
    }
    let customer = &deal.customer_name;
    let note_text = note.as_deref().map(|n| format!("\n\nNote from the channel team: {n}")).unwrap_or_default();
    let (kind, subject, body) = match extended {
        Some(until) => (
            "extension_approved",
            format!("Protection extended: {customer}"),
            format!("Your deal with {customer} is now protected until {} ({} more days).{note_text}", date_of(until), before.days),
        ),
        None => (
            "extension_denied",
            format!("Protection extension denied: {customer}"),
            format!(
                "The channel team denied your request for longer protection of your deal with {customer}; it stays protected until {}.{note_text}",
                deal.protected_until.map(date_of).unwrap_or_default()
            ),
        ),
    };
    let text = format!("{body}\n\nThe deal: {}", crate::notify::deal_link(ctx, &deal.id, false));
    crate::notify::to_partner_in(&mut tx, scope.workspace_id(), &before.partner_id, kind, &subject, &text, scope.user_id(), now).await?;
    let request = find_in(&mut tx, scope, id).await?;
    tx.commit().await?;
    Ok(request)
}

/// Open extension requests (the console home's work queue).
pub const TO_DECIDE: trellis_directory::work_queues::WorkQueue = trellis_directory::work_queues::WorkQueue {
    key: "extension_requests",
    title: "Extension requests",
    href: "/console/extension-requests",
    nav: None,
    count: count_open,
};

fn count_open<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, _now: Timestamp) -> trellis_directory::work_queues::CountFuture<'a> {
    Box::pin(trellis_directory::work_queues::count_for(tx, scope, VendorRole::PARTNER_MANAGERS, |tx, q| {
        q.push(" FROM deal_extension_requests r WHERE r.workspace_id = ")
            .push_bind(scope.workspace_id())
            .push(" AND r.status = 'open' AND ");
        tx.push_partner_filter(q, "r.partner_id");
    }))
}
