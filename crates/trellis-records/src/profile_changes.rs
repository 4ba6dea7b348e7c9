//! Profile change requests: a partner's change of its legal name or territories waits here until
//! the vendor approves it (the change applies) or rejects it with a reason. A partner has at most
//! one pending request: a newer one carries the older one's changes on and supersedes it.

use serde_json::json;
use trellis_core::{ChangeRequestId, Error, Page, PartnerId, Result, Timestamp, Validation, VendorRole, page};
use trellis_db::{Row, Sql, Tx, sql};
use trellis_directory::work_queues::{self, CountFuture, WorkQueue};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::partner_users::require_visible_partner;
use trellis_identity::{Ctx, Scope, ScopedTx, SeenPartner};
use trellis_jobs::{NewEmail, queue_email};

use crate::profiles::{self, Profile, ProfilePatch, Territories};
use crate::{access, notify};

/// The values a request proposes (only the fields it changes).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProposedChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub territories: Option<Territories>,
}

impl ProposedChanges {
    pub fn is_empty(&self) -> bool {
        self.legal_name.is_none() && self.territories.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeStatus {
    Pending,
    Approved,
    Rejected,
    /// Replaced by a newer request of the same partner, which carries its changes on.
    Superseded,
}

impl ChangeStatus {
    pub const ALL: &'static [ChangeStatus] =
        &[ChangeStatus::Pending, ChangeStatus::Approved, ChangeStatus::Rejected, ChangeStatus::Superseded];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Pending => "pending",
            ChangeStatus::Approved => "approved",
            ChangeStatus::Rejected => "rejected",
            ChangeStatus::Superseded => "superseded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone)]
pub struct ChangeRequest {
    pub id: ChangeRequestId,
    pub partner_id: PartnerId,
    pub partner_name: String,
    pub status: ChangeStatus,
    pub changes: ProposedChanges,
    pub requested_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    /// Why it was rejected.
    pub reason: Option<String>,
}

/// Filters of the request list.
#[derive(Debug, Clone, Default)]
pub struct ChangeFilter {
    pub status: Option<ChangeStatus>,
    pub partner_id: Option<PartnerId>,
    pub before: Option<ChangeRequestId>,
    /// Requests on the page (50 unless named).
    pub limit: Option<i64>,
}

const SELECT: &str = "SELECT r.id, r.partner_id, p.name AS partner_name, r.status, r.changes, r.requested_at, r.decided_at, r.reason
     FROM profile_change_requests r JOIN partners p ON p.workspace_id = r.workspace_id AND p.id = r.partner_id WHERE r.workspace_id = ";

fn from_row(row: &Row) -> Result<ChangeRequest> {
    let status: String = row.get("status")?;
    let changes: String = row.get("changes")?;
    Ok(ChangeRequest {
        id: row.get("id")?,
        partner_id: row.get("partner_id")?,
        partner_name: row.get("partner_name")?,
        status: ChangeStatus::parse(&status).ok_or_else(|| Error::Internal(format!("stored status {status}")))?,
        changes: serde_json::from_str(&changes).map_err(|e| Error::Internal(format!("stored changes: {e}")))?,
        requested_at: row.get("requested_at")?,
        decided_at: row.get("decided_at")?,
        reason: row.get("reason")?,
    })
}

/// Requests of the partners the caller can see, newest first.
/// The change requests waiting for the vendor, as a work queue (console home and navigation), for
/// those who decide them.
pub const TO_DECIDE: WorkQueue = WorkQueue {
    key: "profile_changes",
    title: "Profile changes to approve",
    href: "/console/profile-changes",
    nav: Some("/console/profile-changes"),
    count: count_to_decide,
};

fn count_to_decide<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, _now: Timestamp) -> CountFuture<'a> {
    Box::pin(work_queues::count_for(tx, scope, VendorRole::PARTNER_MANAGERS, |tx, q| {
        q.push(" FROM profile_change_requests r WHERE r.workspace_id = ").push_bind(scope.workspace_id());
        q.push(" AND r.status = ").push_bind(ChangeStatus::Pending.as_str()).push(" AND ");
        tx.push_partner_filter(q, "r.partner_id");
    }))
}

/// The pending change requests of a partner already checked in the caller's transaction, newest
/// first (at most 500: a partner asks for one change of each kind at a time).
pub async fn pending_in(tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner) -> Result<Vec<ChangeRequest>> {
    let partner_id = tx.seen(seen)?;
    let mut q = Sql::build(SELECT);
    q.push_bind(scope.workspace_id()).push(" AND r.partner_id = ").push_bind(partner_id);
    q.push(" AND r.status = ").push_bind(ChangeStatus::Pending.as_str()).push(" ORDER BY r.id DESC LIMIT 500");
    tx.fetch_all(q).await?.iter().map(from_row).collect()
}

pub async fn list(ctx: &Ctx, scope: &Scope, filter: &ChangeFilter) -> Result<Page<ChangeRequest>> {
    // Filtering by a partner the caller cannot see finds nothing: the visibility rule below applies
    // to the same column.
    let mut tx = scope.read(ctx).await?;
    let mut q = Sql::build(SELECT);
    q.push_bind(scope.workspace_id()).push(" AND ");
    tx.push_partner_filter(&mut q, "r.partner_id");
    if let Some(status) = filter.status {
        q.push(" AND r.status = ").push_bind(status.as_str());
    }
    if let Some(partner) = &filter.partner_id {
        q.push(" AND r.partner_id = ").push_bind(partner);
    }
    if let Some(before) = &filter.before {
        q.push(" AND r.id < ").push_bind(before);
    }
    q.push(" ORDER BY r.id DESC LIMIT ").push_bind(page::fetch_limit(filter.limit));
    let rows = tx.fetch_all(q).await?.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(rows, filter.limit, |r| r.id.to_string()))
}

async fn find_in(tx: &mut ScopedTx, scope: &Scope, id: &ChangeRequestId) -> Result<ChangeRequest> {
    let mut q = Sql::build(SELECT);
    q.push_bind(scope.workspace_id()).push(" AND r.id = ").push_bind(id).push(" AND ");
    tx.push_partner_filter(&mut q, "r.partner_id");
    from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

/// One request of a partner the caller can see.
pub async fn get(ctx: &Ctx, scope: &Scope, id: &ChangeRequestId) -> Result<ChangeRequest> {
    let mut tx = scope.read(ctx).await?;
    find_in(&mut tx, scope, id).await
}

/// Asks the vendor to change a visible partner's legal name and/or territories (profile editors;
/// staff may file one on a partner's behalf). `None` when nothing differs from the profile.
pub async fn request(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, changes: ProposedChanges) -> Result<Option<ChangeRequest>> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    require_visible_partner(&mut tx, scope, partner_id).await?;
    access::require_profile_editor(&mut tx, scope, partner_id).await?;
    let cleaned =
        profiles::clean(ProfilePatch { legal_name: changes.legal_name, territories: changes.territories, ..ProfilePatch::default() })?;
    let current = profiles::load_in(&mut tx, scope.workspace_id(), partner_id).await?;
    let submitted = ProposedChanges { legal_name: cleaned.legal_name, territories: cleaned.territories };
    let created = request_in(&mut tx, scope, &current, submitted, now).await?;
    tx.commit().await?;
    Ok(created)
}

/// Files the submitted values as the partner's pending request, merged over an earlier pending
/// one (which is superseded). A submitted value equal to the profile's withdraws that part.
pub(crate) async fn request_in(
    tx: &mut Tx,
    scope: &Scope,
    current: &Profile,
    submitted: ProposedChanges,
    now: Timestamp,
) -> Result<Option<ChangeRequest>> {
    let workspace_id = scope.workspace_id();
    let partner_id = &current.partner_id;
    let pending = tx
        .fetch_optional(sql!(
            "SELECT r.id, r.partner_id, p.name AS partner_name, r.status, r.changes, r.requested_at, r.decided_at, r.reason
             FROM profile_change_requests r JOIN partners p ON p.workspace_id = r.workspace_id AND p.id = r.partner_id
             WHERE r.workspace_id = $1 AND r.partner_id = $2 AND r.status = 'pending' ORDER BY r.id DESC",
            workspace_id,
            partner_id
        ))
        .await?
        .as_ref()
        .map(from_row)
        .transpose()?;
    let mut merged = pending.as_ref().map(|p| p.changes.clone()).unwrap_or_default();
    if let Some(legal_name) = submitted.legal_name {
        merged.legal_name = (Some(&legal_name) != current.legal_name.as_ref()).then_some(legal_name);
    }
    if let Some(territories) = submitted.territories {
        merged.territories = (territories != current.territories).then_some(territories);
    }
    if let Some(pending) = &pending {
        if pending.changes == merged {
            return Ok(Some(pending.clone()));
        }
        tx.execute(sql!(
            "UPDATE profile_change_requests SET status = 'superseded', decided_at = $3 WHERE workspace_id = $1 AND id = $2",
            workspace_id,
            pending.id,
            now
        ))
        .await?;
        let entry = AuditEntry::new("profile_change.superseded", "profile_change_request", pending.id.as_str())
            .set("partner_id", partner_id.as_str())
            .change("status", "pending", "superseded");
        audit::record(tx, scope, now, entry).await?;
    }
    if merged.is_empty() {
        return Ok(None);
    }
    let id = ChangeRequestId::generate();
    let changes = serde_json::to_string(&merged).map_err(|e| Error::Internal(e.to_string()))?;
    tx.execute(sql!(
        "INSERT INTO profile_change_requests (workspace_id, id, partner_id, changes, status, requested_at) VALUES ($1, $2, $3, $4, 'pending', $5)",
        workspace_id,
        id,
        partner_id,
        changes,
        now
    ))
    .await?;
    let mut entry =
        AuditEntry::new("profile_change.requested", "profile_change_request", id.as_str()).set("partner_id", partner_id.as_str());
    if let Some(legal_name) = &merged.legal_name {
        entry = entry.change("legal_name", json!(current.legal_name), legal_name.clone());
    }
    if let Some(territories) = &merged.territories {
        entry = entry.change("territories", json!(current.territories), json!(territories));
    }
    audit::record(tx, scope, now, entry).await?;
    if let Some(manager) = notify::manager(tx, workspace_id, partner_id).await? {
        let text = format!(
            "{} asks to change its {}.\n\nReview the request in the console under Profile changes: approve it to apply the change, or reject it with a reason.",
            current.partner_name,
            describe(&merged)
        );
        let email = NewEmail::from_text(
            "profile_change_requested",
            manager,
            format!("{} asks to change its {}", current.partner_name, describe(&merged)),
            text,
        )
        .caused_by(scope.user_id());
        queue_email(tx, workspace_id, email, now).await?;
    }
    Ok(Some(ChangeRequest {
        id,
        partner_id: partner_id.clone(),
        partner_name: current.partner_name.clone(),
        status: ChangeStatus::Pending,
        changes: merged,
        requested_at: now,
        decided_at: None,
        reason: None,
    }))
}

/// "legal name", "territories" or "legal name and territories".
fn describe(changes: &ProposedChanges) -> &'static str {
    match (changes.legal_name.is_some(), changes.territories.is_some()) {
        (true, true) => "legal name and territories",
        (true, false) => "legal name",
        _ => "territories",
    }
}

/// The request, found visible, checked decidable by the caller and still pending.
async fn decidable(tx: &mut ScopedTx, scope: &Scope, id: &ChangeRequestId) -> Result<ChangeRequest> {
    let request = find_in(tx, scope, id).await?;
    access::require_partner_manager(scope, "decide profile change requests")?;
    if request.status != ChangeStatus::Pending {
        return Err(Error::conflict(format!("the request is {}, not pending", request.status.as_str())));
    }
    Ok(request)
}

async fn tell_partner(tx: &mut Tx, scope: &Scope, request: &ChangeRequest, subject: String, text: String, now: Timestamp) -> Result<()> {
    for to in notify::partner_admins(tx, scope.workspace_id(), &request.partner_id).await? {
        queue_email(
            tx,
            scope.workspace_id(),
            NewEmail::from_text("profile_change_decided", to, subject.clone(), text.clone()).caused_by(scope.user_id()),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Approves a pending request (partner managers): its changes apply to the profile.
pub async fn approve(ctx: &Ctx, scope: &Scope, id: &ChangeRequestId) -> Result<ChangeRequest> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let mut request = decidable(&mut tx, scope, id).await?;
    let before = profiles::load_in(&mut tx, scope.workspace_id(), &request.partner_id).await?;
    let mut after = before.clone();
    if let Some(legal_name) = &request.changes.legal_name {
        after.legal_name = Some(legal_name.clone());
    }
    if let Some(territories) = &request.changes.territories {
        after.territories = territories.clone();
    }
    if after != before {
        profiles::save_in(ctx, &mut tx, scope, &before, &mut after, now).await?;
    }
    tx.execute(sql!(
        "UPDATE profile_change_requests SET status = 'approved', decided_at = $3 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        id,
        now
    ))
    .await?;
    let entry = AuditEntry::new("profile_change.approved", "profile_change_request", id.as_str())
        .set("partner_id", request.partner_id.as_str())
        .change("status", "pending", "approved");
    audit::record(&mut tx, scope, now, entry).await?;
    let subject = format!("Your change of the {} was approved", describe(&request.changes));
    let text = format!(
        "The vendor approved the change of the {} of {}. Your profile shows it now.",
        describe(&request.changes),
        request.partner_name
    );
    tell_partner(&mut tx, scope, &request, subject, text, now).await?;
    tx.commit().await?;
    request.status = ChangeStatus::Approved;
    request.decided_at = Some(now);
    Ok(request)
}

/// Rejects a pending request with a reason the partner sees (partner managers).
pub async fn reject(ctx: &Ctx, scope: &Scope, id: &ChangeRequestId, reason: &str) -> Result<ChangeRequest> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let mut request = decidable(&mut tx, scope, id).await?;
    let mut v = Validation::new();
    let reason = v.text("reason", reason, 1000);
    v.finish().map_err(Error::Validation)?;
    let reason = reason.ok_or_else(|| Error::Internal("validated".into()))?;
    tx.execute(sql!(
        "UPDATE profile_change_requests SET status = 'rejected', decided_at = $3, reason = $4 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        id,
        now,
        reason
    ))
    .await?;
    let entry = AuditEntry::new("profile_change.rejected", "profile_change_request", id.as_str())
        .set("partner_id", request.partner_id.as_str())
        .change("status", "pending", "rejected")
        .set("reason", reason.clone());
    audit::record(&mut tx, scope, now, entry).await?;
    let subject = format!("Your change of the {} was not approved", describe(&request.changes));
    let text = format!(
        "The vendor did not approve the change of the {} of {}.\n\nReason: {reason}\n\nYour profile is unchanged.",
        describe(&request.changes),
        request.partner_name
    );
    tell_partner(&mut tx, scope, &request, subject, text, now).await?;
    tx.commit().await?;
    request.status = ChangeStatus::Rejected;
    request.decided_at = Some(now);
    request.reason = Some(reason);
    Ok(request)
}
