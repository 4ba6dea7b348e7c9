//! Tiers of a program: ordered levels (rank, higher is better) with requirements (rules over named
//! partner metrics) and benefits (text plus machine-readable fields later capabilities read).

use serde_json::{Value as Json, json};
use trellis_core::{Error, ProgramId, Result, TierId, Timestamp, Validation, VendorRole, WorkspaceId};
use trellis_db::{Row, Sql, Tx, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope};

use crate::programs;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Tier {
    pub id: TierId,
    pub program_id: ProgramId,
    pub name: String,
    pub rank: i64,
    pub requirements: Json,
    pub benefits: Json,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct NewTier {
    pub name: String,
    pub rank: i64,
    pub requirements: Option<Json>,
    pub benefits: Option<Json>,
}

const COLUMNS: &str = "id, program_id, name, rank, requirements, benefits, created_at, updated_at";

fn from_row(row: &Row) -> Result<Tier> {
    let requirements: String = row.get("requirements")?;
    let benefits: String = row.get("benefits")?;
    Ok(Tier {
        id: row.get("id")?,
        program_id: row.get("program_id")?,
        name: row.get("name")?,
        rank: row.get("rank")?,
        requirements: serde_json::from_str(&requirements).unwrap_or(Json::Null),
        benefits: serde_json::from_str(&benefits).unwrap_or(Json::Null),
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// Creates a tier in a program (owner/admin/channel_manager).
pub async fn create(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, input: NewTier) -> Result<Tier> {
    let now = ctx.now();
    let mut tx = ctx.db.write(&scope.row_security()).await?;
    programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
    scope.require_vendor_role(&[VendorRole::Owner, VendorRole::Admin, VendorRole::ChannelManager], "manage tiers")?;
    let mut v = Validation::new();
    let name = v.text("name", &input.name, 100);
    if !(0..=1000).contains(&input.rank) {
        v.add("rank", "must be between 0 and 1000");
    }
    let requirements = input.requirements.unwrap_or_else(|| json!({"all": []}));
    let benefits = input.benefits.unwrap_or_else(|| json!({}));
    if !requirements.is_object() {
        v.add("requirements", "must be an object");
    }
    if !benefits.is_object() {
        v.add("benefits", "must be an object");
    }
    v.finish().map_err(Error::Validation)?;
    let name = name.ok_or_else(|| Error::Internal("validated".into()))?;
    let id = TierId::generate();
    tx.execute(sql!(
        "INSERT INTO tiers (workspace_id, id, program_id, name, rank, requirements, benefits, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        scope.workspace_id(), id, program_id, name, input.rank, requirements.to_string(), benefits.to_string(), now
    ))
    .await
    .map_err(|e| if e.is_unique("rank") || e.is_unique("tiers") { Error::invalid("rank", "another tier of this program has this rank") } else { e.into() })?;
    let entry = AuditEntry::new("tier.created", "tier", id.as_str())
        .set("program_id", program_id.as_str())
        .set("name", name.clone())
        .set("rank", input.rank);
    audit::record(&mut tx, scope, now, entry).await?;
    let tier =
        Tier { id, program_id: program_id.clone(), name, rank: input.rank, requirements, benefits, created_at: now, updated_at: now };
    tx.commit().await?;
    Ok(tier)
}

/// The tiers of a program, lowest rank first.
pub async fn list_in(tx: &mut Tx, workspace_id: &WorkspaceId, program_id: &ProgramId) -> Result<Vec<Tier>> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM tiers WHERE workspace_id = ").push_bind(workspace_id).push(" AND program_id = ").push_bind(program_id);
    q.push(" ORDER BY rank");
    tx.fetch_all(q).await?.iter().map(from_row).collect()
}

pub async fn list(ctx: &Ctx, scope: &Scope, program_id: &ProgramId) -> Result<Vec<Tier>> {
    let mut tx = ctx.db.read(&scope.row_security()).await?;
    programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
    list_in(&mut tx, scope.workspace_id(), program_id).await
}
