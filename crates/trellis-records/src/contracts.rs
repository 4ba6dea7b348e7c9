//! Partner contracts: title, start, end, renewal date and the signed document. The vendor's
//! partner managers keep them; anyone who can see the partner can read them. Reminders before
//! the renewal date go out from `reminders`.

use serde_json::json;
use time::Date;
use trellis_core::{ContractId, Error, FileId, PartnerId, Result, Timestamp, Validation};
use trellis_db::{Row, Sql, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::partner_users::require_visible_partner;
use trellis_identity::{Ctx, Scope, ScopedTx, SeenPartner};

use crate::files::{self, FilePurpose};
use crate::{access, dates};

#[derive(Debug, Clone)]
pub struct Contract {
    pub id: ContractId,
    pub partner_id: PartnerId,
    pub title: String,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
    pub renews_on: Option<Date>,
    pub file_id: Option<FileId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Contract {
    /// The date reminders count down to: the renewal date, else the end.
    pub fn decision_date(&self) -> Option<Date> {
        self.renews_on.or(self.ends_on)
    }
}

/// Input of `create`, as received.
#[derive(Debug, Clone, Default)]
pub struct NewContract {
    pub title: String,
    pub starts_on: String,
    pub ends_on: Option<String>,
    pub renews_on: Option<String>,
    pub file_id: Option<FileId>,
}

/// A change; `None` leaves a field, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct ContractPatch {
    pub title: Option<String>,
    pub starts_on: Option<String>,
    pub ends_on: Option<Option<String>>,
    pub renews_on: Option<Option<String>>,
    pub file_id: Option<Option<FileId>>,
}

pub(crate) const COLUMNS: &str = "c.id, c.partner_id, c.title, c.starts_on, c.ends_on, c.renews_on, c.file_id, c.created_at, c.updated_at";

fn date_column(row: &Row, name: &str) -> Result<Option<Date>> {
    match row.get::<Option<String>>(name)? {
        Some(text) => dates::stored(&text).map(Some).ok_or_else(|| Error::Internal(format!("stored date {name} {text}"))),
        None => Ok(None),
    }
}

pub(crate) fn from_row(row: &Row) -> Result<Contract> {
    Ok(Contract {
        id: row.get("id")?,
        partner_id: row.get("partner_id")?,
        title: row.get("title")?,
        starts_on: date_column(row, "starts_on")?.ok_or_else(|| Error::Internal("contract without a start".into()))?,
        ends_on: date_column(row, "ends_on")?,
        renews_on: date_column(row, "renews_on")?,
        file_id: row.get("file_id")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// The dates must be in order: the end and the renewal not before the start.
fn check_order(v: &mut Validation, starts_on: Date, ends_on: Option<Date>, renews_on: Option<Date>) {
    if ends_on.is_some_and(|e| e < starts_on) {
        v.add("ends_on", "must not be before the start");
    }
    if renews_on.is_some_and(|r| r < starts_on) {
        v.add("renews_on", "must not be before the start");
    }
}

async fn find_in(tx: &mut ScopedTx, scope: &Scope, id: &ContractId) -> Result<Contract> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM contracts c WHERE c.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND c.id = ").push_bind(id).push(" AND ");
    tx.push_partner_filter(&mut q, "c.partner_id");
    from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

fn audit_fields(entry: AuditEntry, before: Option<&Contract>, after: &Contract) -> AuditEntry {
    let date = |d: Option<Date>| json!(d.map(dates::format));
    entry
        .change("title", json!(before.map(|b| b.title.clone())), after.title.clone())
        .change("starts_on", json!(before.map(|b| dates::format(b.starts_on))), dates::format(after.starts_on))
        .change("ends_on", date(before.and_then(|b| b.ends_on)), date(after.ends_on))
        .change("renews_on", date(before.and_then(|b| b.renews_on)), date(after.renews_on))
        .change("file_id", json!(before.and_then(|b| b.file_id.clone())), json!(after.file_id))
}

/// Adds a contract to a visible partner (partner managers).
pub async fn create(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, input: NewContract) -> Result<Contract> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    require_visible_partner(&mut tx, scope, partner_id).await?;
    access::require_partner_manager(scope, "manage contracts")?;
    let mut v = Validation::new();
    let title = v.text("title", &input.title, 200);
    let starts_on = dates::required(&mut v, "starts_on", &input.starts_on);
    let ends_on = dates::optional(&mut v, "ends_on", input.ends_on.as_deref());
    let renews_on = dates::optional(&mut v, "renews_on", input.renews_on.as_deref());
    if let (Some(s), Some(e), Some(r)) = (starts_on, ends_on, renews_on) {
        check_order(&mut v, s, e, r);
    }
    v.finish().map_err(Error::Validation)?;
    let (Some(title), Some(starts_on), Some(ends_on), Some(renews_on)) = (title, starts_on, ends_on, renews_on) else {
        return Err(Error::Internal("validated".into()));
    };
    if let Some(file) = &input.file_id {
        files::require_file_of(&mut tx, scope, partner_id, file, FilePurpose::Contract, "file_id").await?;
    }
    let contract = Contract {
        id: ContractId::generate(),
        partner_id: partner_id.clone(),
        title,
        starts_on,
        ends_on,
        renews_on,
        file_id: input.file_id,
        created_at: now,
        updated_at: now,
    };
    tx.execute(sql!(
        "INSERT INTO contracts (workspace_id, id, partner_id, title, starts_on, ends_on, renews_on, file_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        scope.workspace_id(),
        contract.id,
        partner_id,
        contract.title,
        dates::format(starts_on),
        ends_on.map(dates::format),
        renews_on.map(dates::format),
        contract.file_id,
        now
    ))
    .await?;
    let entry = AuditEntry::new("contract.created", "contract", contract.id.as_str()).set("partner_id", partner_id.as_str());
    audit::record(&mut tx, scope, now, audit_fields(entry, None, &contract)).await?;
    tx.commit().await?;
    Ok(contract)
}

/// A visible partner's contracts, latest start first.
pub async fn list(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<Contract>> {
    let mut tx = scope.read(ctx).await?;
    let seen = tx.see_partner(partner_id).await?;
    list_in(&mut tx, scope, &seen).await
}

/// [`list`] of a partner already checked in the caller's transaction.
pub async fn list_in(tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner) -> Result<Vec<Contract>> {
    let partner_id = tx.seen(seen)?;
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM contracts c WHERE c.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND c.partner_id = ").push_bind(partner_id).push(" ORDER BY c.starts_on DESC, c.id DESC LIMIT 500");
    tx.fetch_all(q).await?.iter().map(from_row).collect()
}

/// One contract of a visible partner.
pub async fn get(ctx: &Ctx, scope: &Scope, id: &ContractId) -> Result<Contract> {
    let mut tx = scope.read(ctx).await?;
    find_in(&mut tx, scope, id).await
}

/// Changes a contract (partner managers).
pub async fn update(ctx: &Ctx, scope: &Scope, id: &ContractId, patch: ContractPatch) -> Result<Contract> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = find_in(&mut tx, scope, id).await?;
    access::require_partner_manager(scope, "manage contracts")?;
    let mut v = Validation::new();
    let title = patch.title.as_deref().map(|t| v.text("title", t, 200));
    let starts_on = patch.starts_on.as_deref().map(|s| dates::required(&mut v, "starts_on", s));
    let ends_on = patch.ends_on.as_ref().map(|e| dates::optional(&mut v, "ends_on", e.as_deref()));
    let renews_on = patch.renews_on.as_ref().map(|r| dates::optional(&mut v, "renews_on", r.as_deref()));
    let mut after = before.clone();
    if let Some(Some(title)) = title {
        after.title = title;
    }
    if let Some(Some(starts_on)) = starts_on {
        after.starts_on = starts_on;
    }
    if let Some(Some(ends_on)) = ends_on {
        after.ends_on = ends_on;
    }
    if let Some(Some(renews_on)) = renews_on {
        after.renews_on = renews_on;
    }
    check_order(&mut v, after.starts_on, after.ends_on, after.renews_on);
    v.finish().map_err(Error::Validation)?;
    if let Some(file) = patch.file_id {
        if let Some(file) = &file {
            files::require_file_of(&mut tx, scope, &before.partner_id, file, FilePurpose::Contract, "file_id").await?;
        }
        after.file_id = file;
    }
    after.updated_at = now;
    tx.execute(sql!(
        "UPDATE contracts SET title = $3, starts_on = $4, ends_on = $5, renews_on = $6, file_id = $7, updated_at = $8 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(), id, after.title, dates::format(after.starts_on), after.ends_on.map(dates::format),
        after.renews_on.map(dates::format), after.file_id, now
    ))
    .await?;
    let entry = AuditEntry::new("contract.updated", "contract", id.as_str()).set("partner_id", before.partner_id.as_str());
    audit::record(&mut tx, scope, now, audit_fields(entry, Some(&before), &after)).await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes a contract (partner managers); its document stays with the partner's files.
pub async fn delete(ctx: &Ctx, scope: &Scope, id: &ContractId) -> Result<()> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = find_in(&mut tx, scope, id).await?;
    access::require_partner_manager(scope, "manage contracts")?;
    tx.execute(sql!("DELETE FROM contracts WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), id)).await?;
    tx.execute(sql!("DELETE FROM reminders_sent WHERE workspace_id = $1 AND subject_id = $2", scope.workspace_id(), id)).await?;
    let entry = AuditEntry::new("contract.deleted", "contract", id.as_str()).set("partner_id", before.partner_id.as_str()).change(
        "title",
        before.title.clone(),
        serde_json::Value::Null,
    );
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(())
}
