//! Enrollments: a partner's membership in a program and its tier there. A partner may be enrolled
//! in several programs (a reseller in one, a referral partner in another). Enrollments are
//! partner-owned rows, visible through the scope like the partner itself; staff who manage
//! partners enroll, unenroll and override tiers.

use trellis_core::{Error, PartnerId, PartnerRole, PartnerStatus, ProgramId, Result, TierId, Timestamp, Validation, VendorRole};
use trellis_db::{Row, Sql, sql};
use trellis_directory::metric_registry::Registry;
use trellis_directory::partners::{self, NewPartner, Partner, PartnerCondition};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::partner_users::require_visible_partner;
use trellis_identity::{Ctx, Scope, ScopedTx};

use crate::evaluation::{self, ChangeKind, NewChange, TierRef};
use crate::{programs, tiers};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Enrollment {
    pub partner_id: PartnerId,
    pub program_id: ProgramId,
    pub program_name: String,
    pub tier_id: Option<TierId>,
    pub tier_name: Option<String>,
    /// A manual override sticks until removed; evaluation leaves the tier alone meanwhile.
    pub tier_overridden: bool,
    pub override_reason: Option<String>,
    pub enrolled_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What to enroll a partner in.
#[derive(Debug, Clone)]
pub struct NewEnrollment {
    pub program_id: ProgramId,
    /// The starting tier; `None` is the program's lowest tier.
    pub tier_id: Option<TierId>,
}

const SELECT: &str = "SELECT e.partner_id, e.program_id, p.name AS program_name, e.tier_id, t.name AS tier_name, e.tier_overridden, e.override_reason, e.enrolled_at, e.updated_at
     FROM enrollments e JOIN programs p ON p.workspace_id = e.workspace_id AND p.id = e.program_id
     LEFT JOIN tiers t ON t.workspace_id = e.workspace_id AND t.id = e.tier_id WHERE e.workspace_id = ";

fn from_row(row: &Row) -> Result<Enrollment> {
    Ok(Enrollment {
        partner_id: row.get("partner_id")?,
        program_id: row.get("program_id")?,
        program_name: row.get("program_name")?,
        tier_id: row.get("tier_id")?,
        tier_name: row.get("tier_name")?,
        tier_overridden: row.get("tier_overridden")?,
        override_reason: row.get("override_reason")?,
        enrolled_at: row.get("enrolled_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// Enrolls a partner in a program inside `tx` (the caller has checked who may do it and that the
/// partner is visible), at `tier_id` or, when `None`, at the program's lowest tier if it has any.
/// Enrolling twice is a conflict. Writes the audit event and the first tier-history row.
pub async fn enroll_in(
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_id: &PartnerId,
    program_id: &ProgramId,
    tier_id: Option<&TierId>,
    now: Timestamp,
) -> Result<Enrollment> {
    let program = programs::get_in(tx, scope.workspace_id(), program_id).await.map_err(|e| match e {
        Error::NotFound => Error::invalid("program_id", "must be a program of this workspace"),
        other => other,
    })?;
    let tiers = tiers::list_in(tx, scope.workspace_id(), program_id).await?;
    let tier = match tier_id {
        Some(t) => Some(tiers.iter().find(|x| &x.id == t).ok_or_else(|| Error::invalid("tier_id", "must be a tier of the program"))?),
        None => tiers.first(),
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
    let tier_id = tier.map(|t| t.id.clone());
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
    let change = NewChange {
        partner_id: partner_id.clone(),
        program_id: program_id.clone(),
        kind: ChangeKind::Enrolled,
        from: None,
        to: tier.map(TierRef::from),
        reason: None,
        explanation: None,
    };
    evaluation::record_change(tx, scope, change, now).await?;
    Ok(Enrollment {
        partner_id: partner_id.clone(),
        program_id: program_id.clone(),
        program_name: program.name,
        tier_name: tier.map(|t| t.name.clone()),
        tier_id,
        tier_overridden: false,
        override_reason: None,
        enrolled_at: now,
        updated_at: now,
    })
}

/// Creates a partner (`partners::create_in`) and, when `enrollment` names a program, enrolls it
/// there in the same transaction (`POST /api/v1/partners` with `program_id`/`tier_id`).
pub async fn create_enrolled(ctx: &Ctx, scope: &Scope, input: NewPartner, enrollment: Option<NewEnrollment>) -> Result<Partner> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let partner = partners::create_in(&mut tx, scope, input, now).await?;
    if let Some(enrollment) = &enrollment {
        enroll_new_partner(&mut tx, scope, &partner.id, enrollment, now).await?;
    }
    tx.commit().await?;
    Ok(partner)
}

/// The first user of a partner being created, invited in the creating transaction.
#[derive(Debug, Clone)]
pub struct FirstUser {
    pub email: String,
    pub name: Option<String>,
    pub role: PartnerRole,
}

/// [`create_enrolled`] that also invites the partner's first user, all in one transaction: the
/// console's new partner form. Errors of the invitation name the fields `user_email`,
/// `user_name` and `user_role`, so a form can put them next to its own fields; nothing is
/// stored when any part fails.
pub async fn create_with_first_user(
    ctx: &Ctx,
    scope: &Scope,
    input: NewPartner,
    enrollment: Option<NewEnrollment>,
    first_user: Option<FirstUser>,
) -> Result<(Partner, Option<trellis_identity::invitations::IssuedInvitation>)> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let partner = partners::create_in(&mut tx, scope, input, now).await?;
    if let Some(enrollment) = &enrollment {
        enroll_new_partner(&mut tx, scope, &partner.id, enrollment, now).await?;
    }
    let issued = match &first_user {
        Some(user) => {
            Some(partners::invite_user_in(ctx, &mut tx, scope, &partner.id, &user.email, user.name.as_deref(), user.role).await.map_err(
                |err| match err {
                    Error::Validation(errors) => Error::Validation(
                        errors.into_iter().map(|e| trellis_core::FieldError { field: format!("user_{}", e.field), ..e }).collect(),
                    ),
                    other => other,
                },
            )?)
        }
        None => None,
    };
    tx.commit().await?;
    Ok((partner, issued))
}

/// Enrolls a partner being created, inside the creating transaction. A distributor creating a
/// reseller may name the program; the tier is the vendor's to choose (the reseller starts at the
/// lowest tier).
async fn enroll_new_partner(
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_id: &PartnerId,
    input: &NewEnrollment,
    now: Timestamp,
) -> Result<Enrollment> {
    if scope.partner().is_some() && input.tier_id.is_some() {
        return Err(Error::invalid("tier_id", "is set by the vendor"));
    }
    enroll_in(tx, scope, partner_id, &input.program_id, input.tier_id.as_ref(), now).await
}

/// `POST /api/v1/partners/{id}/enrollments` (owner, admin, channel manager).
pub async fn enroll(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, input: NewEnrollment) -> Result<Enrollment> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    require_visible_partner(&mut tx, scope, partner_id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "enroll partners in programs")?;
    let enrollment = enroll_in(&mut tx, scope, partner_id, &input.program_id, input.tier_id.as_ref(), now).await?;
    tx.commit().await?;
    Ok(enrollment)
}

async fn get_in(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId, program_id: &ProgramId) -> Result<Enrollment> {
    let mut q = Sql::build(SELECT);
    q.push_bind(scope.workspace_id()).push(" AND e.partner_id = ").push_bind(partner_id);
    q.push(" AND e.program_id = ").push_bind(program_id).push(" AND ");
    tx.push_partner_filter(&mut q, "e.partner_id");
    from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

/// One enrollment of a visible partner.
pub async fn get(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, program_id: &ProgramId) -> Result<Enrollment> {
    let mut tx = scope.read(ctx).await?;
    require_visible_partner(&mut tx, scope, partner_id).await?;
    get_in(&mut tx, scope, partner_id, program_id).await
}

/// A visible partner's enrollments, by program name.
pub async fn list_for_partner(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<Enrollment>> {
    let mut tx = scope.read(ctx).await?;
    require_visible_partner(&mut tx, scope, partner_id).await?;
    let mut q = Sql::build(SELECT);
    q.push_bind(scope.workspace_id()).push(" AND e.partner_id = ").push_bind(partner_id).push(" AND ");
    tx.push_partner_filter(&mut q, "e.partner_id");
    q.push(" ORDER BY p.name, e.program_id");
    tx.fetch_all(q).await?.iter().map(from_row).collect()
}

/// `DELETE /api/v1/partners/{id}/enrollments/{program_id}` (owner, admin, channel manager): the
/// partner leaves the program; its tier history stays.
pub async fn unenroll(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, program_id: &ProgramId) -> Result<()> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    require_visible_partner(&mut tx, scope, partner_id).await?;
    let enrollment = get_in(&mut tx, scope, partner_id, program_id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "unenroll partners")?;
    tx.execute(sql!(
        "DELETE FROM enrollments WHERE workspace_id = $1 AND partner_id = $2 AND program_id = $3",
        scope.workspace_id(),
        partner_id,
        program_id
    ))
    .await?;
    let entry = AuditEntry::new("partner.unenrolled", "partner", partner_id.as_str())
        .change("program_id", program_id.as_str(), serde_json::Value::Null)
        .change("tier_id", serde_json::json!(enrollment.tier_id), serde_json::Value::Null);
    audit::record(&mut tx, scope, now, entry).await?;
    let from = match (enrollment.tier_id, enrollment.tier_name) {
        (Some(id), Some(name)) => Some(TierRef { id, name }),
        _ => None,
    };
    let change = NewChange {
        partner_id: partner_id.clone(),
        program_id: program_id.clone(),
        kind: ChangeKind::Unenrolled,
        from,
        to: None,
        reason: None,
        explanation: None,
    };
    evaluation::record_change(&mut tx, scope, change, now).await?;
    tx.commit().await?;
    Ok(())
}

/// `PUT /api/v1/partners/{id}/enrollments/{program_id}/tier` (owner, admin, channel manager):
/// sets the tier by hand with a reason. The override sticks through evaluations until removed;
/// it is audited, written to the tier history, and the partner's admins are emailed when the
/// tier changes.
pub async fn override_tier(
    ctx: &Ctx,
    scope: &Scope,
    partner_id: &PartnerId,
    program_id: &ProgramId,
    tier_id: &str,
    reason: &str,
) -> Result<Enrollment> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    require_visible_partner(&mut tx, scope, partner_id).await?;
    let before = get_in(&mut tx, scope, partner_id, program_id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "override tiers")?;
    let program = programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
    let tiers = tiers::list_in(&mut tx, scope.workspace_id(), program_id).await?;
    let mut v = Validation::new();
    let tier = TierId::parse(tier_id.trim()).ok().and_then(|id| tiers.iter().find(|t| t.id == id));
    if tier.is_none() {
        v.add("tier_id", "must be a tier of the program");
    }
    let reason = v.text("reason", reason, 1000);
    v.finish().map_err(Error::Validation)?;
    let (Some(tier), Some(reason)) = (tier, reason) else { return Err(Error::Internal("validated".into())) };
    tx.execute(sql!(
        "UPDATE enrollments SET tier_id = $4, tier_overridden = TRUE, override_reason = $5, updated_at = $6 WHERE workspace_id = $1 AND partner_id = $2 AND program_id = $3",
        scope.workspace_id(),
        partner_id,
        program_id,
        tier.id,
        reason,
        now
    ))
    .await?;
    let from = match (&before.tier_id, &before.tier_name) {
        (Some(id), Some(name)) => Some(TierRef { id: id.clone(), name: name.clone() }),
        _ => None,
    };
    let tier_changed = before.tier_id.as_ref() != Some(&tier.id);
    let change = NewChange {
        partner_id: partner_id.clone(),
        program_id: program_id.clone(),
        kind: ChangeKind::Override,
        from,
        to: Some(TierRef::from(tier)),
        reason: Some(reason.clone()),
        explanation: None,
    };
    let change = evaluation::record_change(&mut tx, scope, change, now).await?;
    if tier_changed {
        evaluation::notify(&mut tx, scope.workspace_id(), &program, &change, scope.user_id(), now).await?;
    }
    let after = get_in(&mut tx, scope, partner_id, program_id).await?;
    tx.commit().await?;
    Ok(after)
}

/// `DELETE /api/v1/partners/{id}/enrollments/{program_id}/tier` (owner, admin, channel manager):
/// removes a manual override and evaluates the enrollment again at once. Without an override it
/// changes nothing.
pub async fn remove_override(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, program_id: &ProgramId) -> Result<Enrollment> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let status = require_visible_partner(&mut tx, scope, partner_id).await?;
    let before = get_in(&mut tx, scope, partner_id, program_id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "override tiers")?;
    if !before.tier_overridden {
        return Ok(before);
    }
    tx.execute(sql!(
        "UPDATE enrollments SET tier_overridden = FALSE, override_reason = NULL, updated_at = $4 WHERE workspace_id = $1 AND partner_id = $2 AND program_id = $3",
        scope.workspace_id(),
        partner_id,
        program_id,
        now
    ))
    .await?;
    let current = match (&before.tier_id, &before.tier_name) {
        (Some(id), Some(name)) => Some(TierRef { id: id.clone(), name: name.clone() }),
        _ => None,
    };
    let change = NewChange {
        partner_id: partner_id.clone(),
        program_id: program_id.clone(),
        kind: ChangeKind::OverrideRemoved,
        from: current.clone(),
        to: current,
        reason: before.override_reason.clone(),
        explanation: None,
    };
    evaluation::record_change(&mut tx, scope, change, now).await?;
    if matches!(status, PartnerStatus::Active | PartnerStatus::Onboarding) {
        let program = programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
        let tiers = tiers::list_in(&mut tx, scope.workspace_id(), program_id).await?;
        evaluation::evaluate_enrollment_in(&mut tx, Registry::of(ctx)?, scope, &program, &tiers, partner_id, now).await?;
    }
    let after = get_in(&mut tx, scope, partner_id, program_id).await?;
    tx.commit().await?;
    Ok(after)
}

/// Whether the caller manages enrollments of partners (for pages to offer the forms).
pub fn may_manage(scope: &Scope) -> bool {
    scope.has_vendor_role(VendorRole::PARTNER_MANAGERS)
}

/// How many partners hold each tier of each program, and how many hold none yet (the console
/// home's chart), over the partners the caller sees; programs by name, tiers by rank. It counts
/// the enrollments the caller sees: proportional to them, like the partner counts by status.
#[derive(Debug, Clone)]
pub struct TierCount {
    pub program_name: String,
    /// `None`: enrolled without a tier yet.
    pub tier_name: Option<String>,
    pub count: i64,
}

pub async fn tier_counts(ctx: &Ctx, scope: &Scope) -> Result<Vec<TierCount>> {
    if scope.vendor_role().is_none() && !scope.is_system() {
        return Err(Error::NotFound);
    }
    let mut tx = scope.read(ctx).await?;
    let mut q = Sql::build(
        "SELECT p.name AS program_name, t.name AS tier_name, COUNT(*) AS n
         FROM enrollments e JOIN programs p ON p.workspace_id = e.workspace_id AND p.id = e.program_id
         LEFT JOIN tiers t ON t.workspace_id = e.workspace_id AND t.id = e.tier_id WHERE e.workspace_id = ",
    );
    q.push_bind(scope.workspace_id()).push(" AND ");
    tx.push_partner_filter(&mut q, "e.partner_id");
    // Highest tier first, "no tier yet" last, on both backends (they order NULLs differently).
    q.push(" GROUP BY p.id, p.name, t.id, t.name ORDER BY p.name, p.id, COALESCE(MIN(t.rank), -1) DESC");
    tx.fetch_all(q)
        .await?
        .iter()
        .map(|row| Ok(TierCount { program_name: row.get("program_name")?, tier_name: row.get("tier_name")?, count: row.get("n")? }))
        .collect()
}

/// The partner list's condition "holds tier `tier_id`" (in the tier's program), for
/// `PartnerFilter::conditions`: one probe of the enrollment index per listed partner.
pub fn holds_tier(tier_id: &TierId) -> PartnerCondition {
    let tier_id = tier_id.clone();
    PartnerCondition::new(move |q| {
        q.push(" AND EXISTS (SELECT 1 FROM enrollments e WHERE e.workspace_id = partners.workspace_id AND e.partner_id = partners.id AND e.tier_id = ")
            .push_bind(&tier_id)
            .push(")");
    })
}

/// The tiers held by each of `partner_ids` (a page of the partner list), "Program: Tier" by
/// program name; partners the caller may not see, or in no program, are absent.
pub async fn tiers_of_in(
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_ids: &[PartnerId],
) -> Result<std::collections::HashMap<PartnerId, Vec<Enrollment>>> {
    let mut by_partner: std::collections::HashMap<PartnerId, Vec<Enrollment>> = std::collections::HashMap::new();
    if partner_ids.is_empty() {
        return Ok(by_partner);
    }
    let mut q = Sql::build(SELECT);
    q.push_bind(scope.workspace_id()).push(" AND e.partner_id IN ");
    q.push_in_list(partner_ids).push(" AND ");
    tx.push_partner_filter(&mut q, "e.partner_id");
    q.push(" ORDER BY p.name, p.id");
    for row in tx.fetch_all(q).await? {
        let enrollment = from_row(&row)?;
        by_partner.entry(enrollment.partner_id.clone()).or_default().push(enrollment);
    }
    Ok(by_partner)
}
