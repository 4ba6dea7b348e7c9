//! Compliance licences of a partner (kind, number, jurisdiction, validity, document). The
//! partner's own admins and the vendor's partner managers add and correct them; only the vendor
//! deletes one (a partner must not make an expired licence disappear). An expired licence without
//! a valid successor makes the partner non-compliant (`compliance`).

use serde_json::json;
use time::Date;
use trellis_core::{Error, FileId, LicenceId, PartnerId, Result, Timestamp, Validation};
use trellis_db::{Row, Sql, sql};
use trellis_directory::events::{self, PartnerEventKind};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::partner_users::require_visible_partner;
use trellis_identity::{Ctx, Scope, ScopedTx, SeenPartner};

use crate::files::{self, FilePurpose};
use crate::{access, dates};

/// Days before the end of validity from which a licence counts as expiring.
pub const EXPIRING_WITHIN_DAYS: i64 = 30;

#[derive(Debug, Clone)]
pub struct Licence {
    pub id: LicenceId,
    pub partner_id: PartnerId,
    pub kind: String,
    pub number: String,
    pub jurisdiction: String,
    pub valid_from: Date,
    pub valid_until: Date,
    pub file_id: Option<FileId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Where a licence stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenceStatus {
    NotYetValid,
    Valid,
    /// Valid, ending within [`EXPIRING_WITHIN_DAYS`].
    Expiring,
    Expired,
}

impl LicenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenceStatus::NotYetValid => "not_yet_valid",
            LicenceStatus::Valid => "valid",
            LicenceStatus::Expiring => "expiring",
            LicenceStatus::Expired => "expired",
        }
    }
}

impl Licence {
    /// Valid through the last day of `valid_until`.
    pub fn status_on(&self, today: Date) -> LicenceStatus {
        if self.valid_until < today {
            LicenceStatus::Expired
        } else if self.valid_from > today {
            LicenceStatus::NotYetValid
        } else if dates::days_between(today, self.valid_until) <= EXPIRING_WITHIN_DAYS {
            LicenceStatus::Expiring
        } else {
            LicenceStatus::Valid
        }
    }

    /// "EU-123 (insurance broker, DE)".
    pub fn label(&self) -> String {
        format!("{} ({}, {})", self.number, self.kind, self.jurisdiction)
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewLicence {
    pub kind: String,
    pub number: String,
    pub jurisdiction: String,
    pub valid_from: String,
    pub valid_until: String,
    pub file_id: Option<FileId>,
}

/// A change; `None` leaves a field, `Some(None)` clears the document.
#[derive(Debug, Clone, Default)]
pub struct LicencePatch {
    pub kind: Option<String>,
    pub number: Option<String>,
    pub jurisdiction: Option<String>,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub file_id: Option<Option<FileId>>,
}

pub(crate) const COLUMNS: &str =
    "l.id, l.partner_id, l.kind, l.number, l.jurisdiction, l.valid_from, l.valid_until, l.file_id, l.created_at, l.updated_at";

pub(crate) fn from_row(row: &Row) -> Result<Licence> {
    let date = |name: &str| -> Result<Date> {
        let text: String = row.get(name)?;
        dates::stored(&text).ok_or_else(|| Error::Internal(format!("stored date {name} {text}")))
    };
    Ok(Licence {
        id: row.get("id")?,
        partner_id: row.get("partner_id")?,
        kind: row.get("kind")?,
        number: row.get("number")?,
        jurisdiction: row.get("jurisdiction")?,
        valid_from: date("valid_from")?,
        valid_until: date("valid_until")?,
        file_id: row.get("file_id")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

async fn find_in(tx: &mut ScopedTx, scope: &Scope, id: &LicenceId) -> Result<Licence> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM licences l WHERE l.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND l.id = ").push_bind(id).push(" AND ");
    tx.push_partner_filter(&mut q, "l.partner_id");
    from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

fn check_validity(v: &mut Validation, from: Date, until: Date) {
    if until < from {
        v.add("valid_until", "must not be before valid_from");
    }
}

fn audit_fields(entry: AuditEntry, before: Option<&Licence>, after: &Licence) -> AuditEntry {
    let text = |f: fn(&Licence) -> String| json!(before.map(f));
    entry
        .change("kind", text(|l| l.kind.clone()), after.kind.clone())
        .change("number", text(|l| l.number.clone()), after.number.clone())
        .change("jurisdiction", text(|l| l.jurisdiction.clone()), after.jurisdiction.clone())
        .change("valid_from", text(|l| dates::format(l.valid_from)), dates::format(after.valid_from))
        .change("valid_until", text(|l| dates::format(l.valid_until)), dates::format(after.valid_until))
        .change("file_id", json!(before.and_then(|b| b.file_id.clone())), json!(after.file_id))
}

/// Adds a licence to a visible partner (its admins, or partner managers).
pub async fn create(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, input: NewLicence) -> Result<Licence> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    require_visible_partner(&mut tx, scope, partner_id).await?;
    access::require_licence_editor(scope, partner_id)?;
    let mut v = Validation::new();
    let kind = v.text("kind", &input.kind, 100);
    let number = v.text("number", &input.number, 100);
    let jurisdiction = v.text("jurisdiction", &input.jurisdiction, 100);
    let valid_from = dates::required(&mut v, "valid_from", &input.valid_from);
    let valid_until = dates::required(&mut v, "valid_until", &input.valid_until);
    if let (Some(from), Some(until)) = (valid_from, valid_until) {
        check_validity(&mut v, from, until);
    }
    v.finish().map_err(Error::Validation)?;
    let (Some(kind), Some(number), Some(jurisdiction), Some(valid_from), Some(valid_until)) =
        (kind, number, jurisdiction, valid_from, valid_until)
    else {
        return Err(Error::Internal("validated".into()));
    };
    if let Some(file) = &input.file_id {
        files::require_file_of(&mut tx, scope, partner_id, file, FilePurpose::Licence, "file_id").await?;
    }
    let licence = Licence {
        id: LicenceId::generate(),
        partner_id: partner_id.clone(),
        kind,
        number,
        jurisdiction,
        valid_from,
        valid_until,
        file_id: input.file_id,
        created_at: now,
        updated_at: now,
    };
    tx.execute(sql!(
        "INSERT INTO licences (workspace_id, id, partner_id, kind, number, jurisdiction, valid_from, valid_until, file_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        scope.workspace_id(), licence.id, partner_id, licence.kind, licence.number, licence.jurisdiction,
        dates::format(valid_from), dates::format(valid_until), licence.file_id, now
    ))
    .await?;
    let entry = AuditEntry::new("licence.created", "licence", licence.id.as_str()).set("partner_id", partner_id.as_str());
    audit::record(&mut tx, scope, now, audit_fields(entry, None, &licence)).await?;
    events::raise(ctx, &mut tx, scope, partner_id, PartnerEventKind::LicencesChanged, now).await?;
    tx.commit().await?;
    Ok(licence)
}

/// A visible partner's licences, latest end first.
pub async fn list(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<Licence>> {
    let mut tx = scope.read(ctx).await?;
    let seen = tx.see_partner(partner_id).await?;
    list_in(&mut tx, scope, &seen).await
}

/// [`list`] of a partner already checked in the caller's transaction.
pub async fn list_in(tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner) -> Result<Vec<Licence>> {
    let partner_id = tx.seen(seen)?;
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM licences l WHERE l.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND l.partner_id = ").push_bind(partner_id).push(" ORDER BY l.valid_until DESC, l.id DESC LIMIT 500");
    tx.fetch_all(q).await?.iter().map(from_row).collect()
}

/// One licence of a visible partner.
pub async fn get(ctx: &Ctx, scope: &Scope, id: &LicenceId) -> Result<Licence> {
    let mut tx = scope.read(ctx).await?;
    find_in(&mut tx, scope, id).await
}

/// Corrects or renews a licence (the partner's admins, or partner managers). A changed end of
/// validity starts a new cycle of reminders.
pub async fn update(ctx: &Ctx, scope: &Scope, id: &LicenceId, patch: LicencePatch) -> Result<Licence> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = find_in(&mut tx, scope, id).await?;
    access::require_licence_editor(scope, &before.partner_id)?;
    let mut v = Validation::new();
    let kind = patch.kind.as_deref().map(|t| v.text("kind", t, 100));
    let number = patch.number.as_deref().map(|t| v.text("number", t, 100));
    let jurisdiction = patch.jurisdiction.as_deref().map(|t| v.text("jurisdiction", t, 100));
    let valid_from = patch.valid_from.as_deref().map(|d| dates::required(&mut v, "valid_from", d));
    let valid_until = patch.valid_until.as_deref().map(|d| dates::required(&mut v, "valid_until", d));
    let mut after = before.clone();
    if let Some(Some(kind)) = kind {
        after.kind = kind;
    }
    if let Some(Some(number)) = number {
        after.number = number;
    }
    if let Some(Some(jurisdiction)) = jurisdiction {
        after.jurisdiction = jurisdiction;
    }
    if let Some(Some(from)) = valid_from {
        after.valid_from = from;
    }
    if let Some(Some(until)) = valid_until {
        after.valid_until = until;
    }
    check_validity(&mut v, after.valid_from, after.valid_until);
    v.finish().map_err(Error::Validation)?;
    if let Some(file) = patch.file_id {
        if let Some(file) = &file {
            files::require_file_of(&mut tx, scope, &before.partner_id, file, FilePurpose::Licence, "file_id").await?;
        }
        after.file_id = file;
    }
    after.updated_at = now;
    tx.execute(sql!(
        "UPDATE licences SET kind = $3, number = $4, jurisdiction = $5, valid_from = $6, valid_until = $7, file_id = $8, updated_at = $9
         WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        id,
        after.kind,
        after.number,
        after.jurisdiction,
        dates::format(after.valid_from),
        dates::format(after.valid_until),
        after.file_id,
        now
    ))
    .await?;
    let entry = AuditEntry::new("licence.updated", "licence", id.as_str()).set("partner_id", before.partner_id.as_str());
    audit::record(&mut tx, scope, now, audit_fields(entry, Some(&before), &after)).await?;
    events::raise(ctx, &mut tx, scope, &after.partner_id, PartnerEventKind::LicencesChanged, now).await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes a licence (partner managers only).
pub async fn delete(ctx: &Ctx, scope: &Scope, id: &LicenceId) -> Result<()> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = find_in(&mut tx, scope, id).await?;
    access::require_partner_manager(scope, "delete licences")?;
    tx.execute(sql!("DELETE FROM licences WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), id)).await?;
    tx.execute(sql!("DELETE FROM reminders_sent WHERE workspace_id = $1 AND subject_id = $2", scope.workspace_id(), id)).await?;
    let entry = AuditEntry::new("licence.deleted", "licence", id.as_str()).set("partner_id", before.partner_id.as_str()).change(
        "number",
        before.number.clone(),
        serde_json::Value::Null,
    );
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(())
}
