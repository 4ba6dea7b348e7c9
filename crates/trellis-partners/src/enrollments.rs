//! Enrollments: a partner's membership in a program and its tier there. Enrollments are
//! partner-owned rows (visible through the scope like the partner itself).

use trellis_core::{Error, PartnerId, ProgramId, Result, TierId, Timestamp};
use trellis_db::{Row, Sql, Tx, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope};

use crate::programs;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Enrollment {
    pub partner_id: PartnerId,
    pub program_id: ProgramId,
    pub tier_id: Option<TierId>,
    pub tier_overridden: bool,
    pub override_reason: Option<String>,
    pub enrolled_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "partner_id, program_id, tier_id, tier_overridden, override_reason, enrolled_at, updated_at";

fn from_row(row: &Row) -> Result<Enrollment> {
    Ok(Enrollment {
        partner_id: row.get("partner_id")?,
        program_id: row.get("program_id")?,
        tier_id: row.get("tier_id")?,
        tier_overridden: row.get("tier_overridden")?,
        override_reason: row.get("override_reason")?,
        enrolled_at: row.get("enrolled_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// Enrolls a partner in a program inside `tx` (the caller has checked who may do it and that the
/// partner is visible), at `tier_id` or, when `None`, at the program's lowest tier if it has any.
/// Enrolling twice is a conflict.
pub async fn enroll_in(
    tx: &mut Tx,
    scope: &Scope,
    partner_id: &PartnerId,
    program_id: &ProgramId,
    tier_id: Option<&TierId>,
    now: Timestamp,
) -> Result<Enrollment> {
    programs::get_in(tx, scope.workspace_id(), program_id)
        .await
        .map_err(|_| Error::invalid("program_id", "must be a program of this workspace"))?;
    let tiers = crate::tiers::list_in(tx, scope.workspace_id(), program_id).await?;
    let tier_id = match tier_id {
        Some(t) if tiers.iter().any(|x| &x.id == t) => Some(t.clone()),
        Some(_) => return Err(Error::invalid("tier_id", "must be a tier of the program")),
        None => tiers.first().map(|t| t.id.clone()),
    };
    let exists = tx
        .fetch_optional(sql!(
            "SELECT 1 AS one FROM enrollments WHERE workspace_id = $1 AND partner_id = $2 AND program_id = $3",
            scope.workspace_id(),
            partner_id,
            program_id
        ))
        .await?;
    if exists.is_some() {
        return Err(Error::conflict("the partner is already enrolled in this program"));
    }
    tx.execute(sql!(
        "INSERT INTO enrollments (workspace_id, partner_id, program_id, tier_id, enrolled_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        scope.workspace_id(),
        partner_id,
        program_id,
        tier_id,
        now
    ))
    .await?;
    let entry = AuditEntry::new("partner.enrolled", "partner", partner_id.as_str())
        .set("program_id", program_id.as_str())
        .set("tier_id", serde_json::json!(tier_id));
    audit::record(tx, scope, now, entry).await?;
    Ok(Enrollment {
        partner_id: partner_id.clone(),
        program_id: program_id.clone(),
        tier_id,
        tier_overridden: false,
        override_reason: None,
        enrolled_at: now,
        updated_at: now,
    })
}

/// A visible partner's enrollments.
pub async fn list_for_partner(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<Enrollment>> {
    let mut tx = ctx.db.read(&scope.row_security()).await?;
    trellis_identity::partner_users::require_visible_partner(&mut tx, scope, partner_id).await?;
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM enrollments WHERE workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND partner_id = ").push_bind(partner_id).push(" ORDER BY program_id");
    tx.fetch_all(q).await?.iter().map(from_row).collect()
}
