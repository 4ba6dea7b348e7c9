//! What the pipeline pages read beside the list itself: how many deals a filter matches, the
//! amounts by stage (the console's chart), the customer names a caller has registered before
//! (the registration form's suggestions), the programs a registration may name, and the console
//! home's work queue of registrations to review. Every read keeps the deals' visibility rule
//! ([`deals::push_visible`]); a partner's reads walk its own listing rows (`deal_ancestry`), as
//! [`deals::list_in`] does.

use trellis_core::{PartnerId, Result, Timestamp, VendorRole};
use trellis_db::Sql;
use trellis_directory::work_queues::{self, CountFuture, WorkQueue};
use trellis_identity::{Ctx, Membership, Scope, ScopedTx};
use trellis_programs::programs::{self, Program};

use crate::deals::{self, DealFilter, DealStage};
use crate::statuses::DealStatus;

/// `FROM … WHERE` of the deals the caller sees (`d`, with its partner `p`), as the list reads them.
fn push_visible_from(tx: &ScopedTx, scope: &Scope, q: &mut Sql) -> &'static str {
    match scope.membership() {
        Membership::Partner { partner_id, .. } => {
            q.push(" FROM deal_ancestry da JOIN deals d ON d.workspace_id = da.workspace_id AND d.id = da.deal_id");
            q.push(" WHERE da.workspace_id = ").push_bind(scope.workspace_id()).push(" AND da.ancestor_id = ").push_bind(partner_id);
            "da.deal_id"
        }
        _ => {
            q.push(" FROM deals d WHERE d.workspace_id = ").push_bind(scope.workspace_id()).push(" AND ");
            deals::push_visible(tx, scope, q);
            "d.id"
        }
    }
}

/// How many deals `filter` matches for the caller (its cursor ignored), counted up to `cap` + 1.
pub async fn count_in(tx: &mut ScopedTx, scope: &Scope, filter: &DealFilter, cap: i64) -> Result<i64> {
    let filter = DealFilter { cursor: None, ..filter.clone() };
    let mut q = Sql::build("SELECT COUNT(*) AS n FROM (SELECT 1 AS one");
    let order_column = push_visible_from(tx, scope, &mut q);
    deals::push_filter(&mut q, &filter, order_column);
    q.push(" LIMIT ").push_bind(cap + 1).push(") capped");
    Ok(tx.fetch_i64(q).await?)
}

/// The open pipeline of one stage in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageTotal {
    pub stage: DealStage,
    pub currency: String,
    pub deals: i64,
    pub amount_minor: i64,
}

/// The amounts of the deals `filter` matches, by stage and currency (stages in sales-cycle order).
/// Closed deals (won, lost, rejected, expired) are not pipeline, whatever the filter says.
pub async fn stage_totals_in(tx: &mut ScopedTx, scope: &Scope, filter: &DealFilter) -> Result<Vec<StageTotal>> {
    let filter = DealFilter { cursor: None, ..filter.clone() };
    let mut q = Sql::build("SELECT d.stage, d.currency, COUNT(*) AS n, CAST(SUM(d.amount_minor) AS BIGINT) AS total");
    let order_column = push_visible_from(tx, scope, &mut q);
    deals::push_filter(&mut q, &filter, order_column);
    let open: Vec<&str> = DealStatus::ALL.iter().filter(|s| !s.is_closed()).map(|s| s.as_str()).collect();
    q.push(" AND d.status IN ").push_in_list(&open);
    q.push(" GROUP BY d.stage, d.currency");
    let mut totals = Vec::new();
    for row in tx.fetch_all(q).await? {
        let stage: String = row.get("stage")?;
        let Some(stage) = DealStage::parse(&stage) else { continue };
        totals.push(StageTotal { stage, currency: row.get("currency")?, deals: row.get("n")?, amount_minor: row.get("total")? });
    }
    totals.sort_by_key(|t| (DealStage::ALL.iter().position(|s| *s == t.stage), t.currency.clone()));
    Ok(totals)
}

/// Customer names of deals the caller sees that start with `prefix` (case-insensitive), each once,
/// alphabetically, at most `limit`: the registration form suggests them, so a partner types an
/// account the way it registered it before.
pub async fn customer_names(ctx: &Ctx, scope: &Scope, prefix: &str, limit: i64) -> Result<Vec<String>> {
    let mut tx = scope.read(ctx).await?;
    customer_names_in(&mut tx, scope, prefix, limit).await
}

/// [`customer_names`] in the caller's transaction.
pub async fn customer_names_in(tx: &mut ScopedTx, scope: &Scope, prefix: &str, limit: i64) -> Result<Vec<String>> {
    let escaped: String =
        prefix.trim().to_lowercase().chars().flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
    let mut q = Sql::build("SELECT DISTINCT d.customer_name");
    push_visible_from(tx, scope, &mut q);
    q.push(" AND LOWER(d.customer_name) LIKE ").push_bind(format!("{escaped}%")).push(" ESCAPE '\\'");
    q.push(" ORDER BY d.customer_name LIMIT ").push_bind(limit.clamp(1, 1000));
    tx.fetch_all(q).await?.iter().map(|row| Ok(row.get("customer_name")?)).collect()
}

/// The programs a registration may name: for a partner (or staff registering on its behalf) the
/// programs it is enrolled in that take deal registrations; with no partner, every such program
/// of the workspace. By name.
pub async fn registration_programs(ctx: &Ctx, scope: &Scope, partner_id: Option<&PartnerId>) -> Result<Vec<Program>> {
    let mut tx = scope.read(ctx).await?;
    let mut all: Vec<Program> =
        programs::list_in(&mut tx, scope.workspace_id()).await?.into_iter().filter(|p| p.deal_registration).collect();
    if let Some(partner_id) = partner_id {
        tx.see_partner(partner_id).await?;
        let rows = tx
            .fetch_all(trellis_db::sql!(
                "SELECT program_id FROM enrollments WHERE workspace_id = $1 AND partner_id = $2",
                scope.workspace_id(),
                partner_id
            ))
            .await?;
        let enrolled: Vec<String> = rows.iter().map(|r| r.get("program_id")).collect::<Result<_, _>>()?;
        all.retain(|p| enrolled.iter().any(|e| e == p.id.as_str()));
    }
    all.sort_by_key(|p| p.name.to_lowercase());
    Ok(all)
}

/// The console home's queue: registrations waiting for the channel team's decision (submitted or
/// under review), for staff who decide them; the navigation counts it on "Deals".
pub const TO_REVIEW: WorkQueue = WorkQueue {
    key: "deals_to_review",
    title: "Deal registrations to review",
    href: "/console/deals/review",
    nav: Some("/console/deals"),
    count: count_to_review,
};

fn count_to_review<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, _now: Timestamp) -> CountFuture<'a> {
    Box::pin(work_queues::count_for(tx, scope, VendorRole::PARTNER_MANAGERS, |tx, q| {
        q.push(" FROM deals d WHERE d.workspace_id = ").push_bind(scope.workspace_id());
        let waiting: Vec<&str> = DealStatus::ALL.iter().filter(|s| s.awaits_review()).map(|s| s.as_str()).collect();
        q.push(" AND d.status IN ").push_in_list(&waiting).push(" AND ");
        deals::push_visible(tx, scope, q);
    }))
}
