//! Partner agreements: each program has numbered versions of its agreement text; the highest
//! version is in force. A partner's admin accepts it for the organisation, and the acceptance
//! records who, when, from which address and which version. Accepting raises
//! `AgreementAccepted`, on which onboarding completes the program's `accept_agreement` steps.

use trellis_core::{
    AgreementId, Error, PartnerId, PartnerRole, PartnerStatus, ProgramId, Result, Timestamp, UserId, Validation, VendorRole,
};
use trellis_db::{Row, Sql, Tx, sql};
use trellis_directory::events::{self, PartnerEventKind};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::partner_users::require_visible_partner;
use trellis_identity::{Ctx, Scope};
use trellis_programs::programs;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Agreement {
    pub id: AgreementId,
    pub program_id: ProgramId,
    pub version: i64,
    pub title: String,
    pub body: String,
    pub published_at: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct NewAgreement {
    pub title: String,
    pub body: String,
}

/// One partner's acceptance of one agreement version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Acceptance {
    pub partner_id: PartnerId,
    pub agreement_id: AgreementId,
    pub program_id: ProgramId,
    pub version: i64,
    pub user_id: UserId,
    pub user_email: String,
    pub accepted_at: Timestamp,
    pub ip: Option<String>,
}

/// The agreement in force in one program a partner is enrolled in, and whether the partner has
/// accepted that version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AgreementStatus {
    pub program_name: String,
    pub agreement: Agreement,
    pub acceptance: Option<Acceptance>,
}

const COLUMNS: &str = "a.id, a.program_id, a.version, a.title, a.body, a.published_at";

fn from_row(row: &Row) -> Result<Agreement> {
    Ok(Agreement {
        id: row.get("id")?,
        program_id: row.get("program_id")?,
        version: row.get("version")?,
        title: row.get("title")?,
        body: row.get("body")?,
        published_at: row.get("published_at")?,
    })
}

/// Publishes a new version of a program's agreement (owner/admin/channel_manager); it is in force
/// at once. Earlier versions and their acceptances stay as they were.
pub async fn publish(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, input: NewAgreement) -> Result<Agreement> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "publish agreements")?;
    let mut v = Validation::new();
    let title = v.text("title", &input.title, 200);
    let body = v.text("body", &input.body, 100_000);
    v.finish().map_err(Error::Validation)?;
    let (Some(title), Some(body)) = (title, body) else { return Err(Error::Internal("validated".into())) };
    let version = tx
        .fetch_i64(sql!(
            "SELECT CAST(COALESCE(MAX(version), 0) + 1 AS BIGINT) AS n FROM agreements WHERE workspace_id = $1 AND program_id = $2",
            scope.workspace_id(),
            program_id
        ))
        .await?;
    let agreement = Agreement { id: AgreementId::generate(), program_id: program_id.clone(), version, title, body, published_at: now };
    tx.execute(sql!(
        "INSERT INTO agreements (workspace_id, id, program_id, version, title, body, published_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        scope.workspace_id(),
        agreement.id,
        program_id,
        version,
        agreement.title,
        agreement.body,
        now
    ))
    .await
    .map_err(|e| {
        if e.is_unique("version") || e.is_unique("agreements") {
            Error::conflict("another version was published at the same time; try again")
        } else {
            e.into()
        }
    })?;
    let entry = AuditEntry::new("agreement.published", "agreement", agreement.id.as_str())
        .set("program_id", program_id.as_str())
        .set("version", version)
        .set("title", agreement.title.clone());
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(agreement)
}

/// A program's agreement versions, newest first (every member of the workspace may read them).
pub async fn list(ctx: &Ctx, scope: &Scope, program_id: &ProgramId) -> Result<Vec<Agreement>> {
    let mut tx = scope.read(ctx).await?;
    programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM agreements a WHERE a.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND a.program_id = ").push_bind(program_id).push(" ORDER BY a.version DESC");
    tx.fetch_all(q).await?.iter().map(from_row).collect()
}

fn acceptance_from_row(row: &Row, partner_id: &PartnerId, agreement: &Agreement) -> Result<Option<Acceptance>> {
    let accepted_at: Option<Timestamp> = row.get("accepted_at")?;
    let Some(accepted_at) = accepted_at else { return Ok(None) };
    Ok(Some(Acceptance {
        partner_id: partner_id.clone(),
        agreement_id: agreement.id.clone(),
        program_id: agreement.program_id.clone(),
        version: agreement.version,
        user_id: row.get("user_id")?,
        user_email: row.get::<Option<String>>("user_email")?.unwrap_or_default(),
        accepted_at,
        ip: row.get("ip")?,
    }))
}

/// For each program the (visible) partner is enrolled in that has an agreement: the version in
/// force and the partner's acceptance of it.
pub(crate) async fn status_of_partner(tx: &mut Tx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<AgreementStatus>> {
    let rows = tx
        .fetch_all(sql!(
            "SELECT a.id, a.program_id, a.version, a.title, a.body, a.published_at, p.name AS program_name,
                    x.user_id, u.email AS user_email, x.accepted_at, x.ip
             FROM enrollments e
             JOIN programs p ON p.workspace_id = e.workspace_id AND p.id = e.program_id
             JOIN agreements a ON a.workspace_id = e.workspace_id AND a.program_id = e.program_id
             LEFT JOIN agreement_acceptances x ON x.workspace_id = e.workspace_id AND x.partner_id = e.partner_id AND x.agreement_id = a.id
             LEFT JOIN users u ON u.id = x.user_id
             WHERE e.workspace_id = $1 AND e.partner_id = $2
               AND a.version = (SELECT MAX(a2.version) FROM agreements a2 WHERE a2.workspace_id = a.workspace_id AND a2.program_id = a.program_id)
             ORDER BY p.name, a.program_id",
            scope.workspace_id(),
            partner_id
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let agreement = from_row(row)?;
            let acceptance = acceptance_from_row(row, partner_id, &agreement)?;
            Ok(AgreementStatus { program_name: row.get("program_name")?, agreement, acceptance })
        })
        .collect()
}

/// Who may accept an agreement for a partner: a person signed in as one of its admins. Staff may
/// not accept for a partner, and a key is no person.
fn require_acceptor<'a>(scope: &'a Scope, partner_id: &PartnerId) -> Result<&'a UserId> {
    match (scope.partner(), scope.user_id()) {
        (Some((own, PartnerRole::Admin)), Some(user)) if own == partner_id => Ok(user),
        (Some((own, PartnerRole::Admin)), None) if own == partner_id => {
            Err(Error::forbidden("an agreement is accepted by a person signed in, not with an API key"))
        }
        (Some((own, _)), _) if own == partner_id => Err(Error::forbidden("only the partner's admins accept its agreements")),
        _ => Err(Error::forbidden("only the partner's own admins accept its agreements")),
    }
}

/// Accepts the agreement version in force for the caller's organisation (a partner admin, signed
/// in). Accepting again returns the first acceptance. Completes the program's `accept_agreement`
/// steps, which may activate the partner.
pub async fn accept(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, agreement_id: &AgreementId) -> Result<Acceptance> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let status = require_visible_partner(&mut tx, scope, partner_id).await?;
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM agreements a WHERE a.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND a.id = ").push_bind(agreement_id);
    let agreement = from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)?;
    let user_id = require_acceptor(scope, partner_id)?.clone();
    let enrolled = tx
        .fetch_optional(sql!(
            "SELECT 1 AS one FROM enrollments WHERE workspace_id = $1 AND partner_id = $2 AND program_id = $3",
            scope.workspace_id(),
            partner_id,
            agreement.program_id
        ))
        .await?;
    if enrolled.is_none() {
        return Err(Error::conflict("the partner is not enrolled in this agreement's program"));
    }
    if !matches!(status, PartnerStatus::Onboarding | PartnerStatus::Active) {
        return Err(Error::conflict(format!("the partner is {status}")));
    }
    let latest = tx
        .fetch_i64(sql!(
            "SELECT CAST(MAX(version) AS BIGINT) AS n FROM agreements WHERE workspace_id = $1 AND program_id = $2",
            scope.workspace_id(),
            agreement.program_id
        ))
        .await?;
    if agreement.version != latest {
        return Err(Error::conflict(format!("version {latest} of this agreement is in force; accept that one")));
    }
    let meta = scope.meta();
    let inserted = tx
        .execute(sql!(
            "INSERT INTO agreement_acceptances (workspace_id, partner_id, agreement_id, user_id, accepted_at, ip, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            scope.workspace_id(),
            partner_id,
            agreement.id,
            user_id,
            now,
            meta.ip,
            meta.user_agent
        ))
        .await?;
    let row = tx
        .fetch_one(sql!(
            "SELECT x.user_id, u.email AS user_email, x.accepted_at, x.ip FROM agreement_acceptances x JOIN users u ON u.id = x.user_id
             WHERE x.workspace_id = $1 AND x.partner_id = $2 AND x.agreement_id = $3",
            scope.workspace_id(),
            partner_id,
            agreement.id
        ))
        .await?;
    let acceptance = acceptance_from_row(&row, partner_id, &agreement)?.ok_or_else(|| Error::Internal("acceptance just written".into()))?;
    if inserted > 0 {
        let entry = AuditEntry::new("agreement.accepted", "partner", partner_id.as_str())
            .set("agreement_id", agreement.id.as_str())
            .set("program_id", agreement.program_id.as_str())
            .set("version", agreement.version);
        audit::record(&mut tx, scope, now, entry).await?;
        let accepted = PartnerEventKind::AgreementAccepted { program_id: agreement.program_id.clone() };
        events::raise(ctx, &mut tx, scope, partner_id, accepted, now).await?;
    }
    tx.commit().await?;
    Ok(acceptance)
}
