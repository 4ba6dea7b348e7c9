//! Compliance: a partner is compliant unless one of its licences has expired without a valid
//! successor (a licence of the same kind and jurisdiction valid today). Later capabilities read
//! [`compliance_blockers`] / [`is_compliant`] to block deal registration, commissions or tiers.
//! Also the vendor's expiry dashboard: what expires or renews soon, and who is not compliant.

use time::Date;
use trellis_core::{PartnerId, PartnerStatus, Result, Timestamp, VendorRole, WorkspaceId};
use trellis_db::Sql;
use trellis_directory::metric_registry::{Metric, MetricFuture, MetricType, MetricValue, Source, Subject};
use trellis_directory::partners::PartnerCondition;
use trellis_directory::work_queues::{self, CountFuture, WorkQueue};
use trellis_identity::{Ctx, Scope, ScopedTx, SeenPartner};

use crate::contracts::{self, Contract};
use crate::dates;
use crate::licences::{self, Licence};

/// Appends the condition "licence `l` has expired and has no successor valid on `today`".
fn push_lapsed(q: &mut Sql, today: Date) {
    let today = q.bind(dates::format(today));
    q.push(&format!(
        " AND l.valid_until < {today} AND NOT EXISTS (SELECT 1 FROM licences r WHERE r.workspace_id = l.workspace_id AND r.partner_id = l.partner_id
           AND LOWER(r.kind) = LOWER(l.kind) AND LOWER(r.jurisdiction) = LOWER(l.jurisdiction) AND r.valid_from <= {today} AND r.valid_until >= {today})"
    ));
}

/// Appends " AND NOT EXISTS (a lapsed licence of the partner `{partner}.id`)": the rule of
/// [`compliance_blockers`] as a condition of a query over `partners` (one probe of the partner's
/// licences through the index `licences_by_partner` per row the query walks).
pub fn push_compliant(q: &mut Sql, partner: &str, today: Date) {
    q.push(&format!(
        " AND NOT EXISTS (SELECT 1 FROM licences l WHERE l.workspace_id = {partner}.workspace_id AND l.partner_id = {partner}.id"
    ));
    push_lapsed(q, today);
    q.push(")");
}

/// Why a partner is not compliant at `now`, one sentence per lapsed licence, e.g.
/// "licence EU-123 (insurance broker, DE) expired on 2026-10-01"; empty when compliant. The caller
/// has checked that the partner is visible (this reads inside its transaction).
pub async fn compliance_blockers(
    tx: &mut ScopedTx,
    workspace_id: &WorkspaceId,
    partner_id: &PartnerId,
    now: Timestamp,
) -> Result<Vec<String>> {
    let mut q = Sql::build("SELECT ");
    q.push(licences::COLUMNS).push(" FROM licences l WHERE l.workspace_id = ").push_bind(workspace_id);
    q.push(" AND l.partner_id = ").push_bind(partner_id);
    push_lapsed(&mut q, dates::today(now));
    q.push(" ORDER BY l.valid_until, l.id");
    let lapsed: Vec<Licence> = tx.fetch_all(q).await?.iter().map(licences::from_row).collect::<Result<_>>()?;
    Ok(lapsed.iter().map(blocker_text).collect())
}

/// True when nothing blocks the partner (see [`compliance_blockers`]).
pub async fn is_compliant(tx: &mut ScopedTx, workspace_id: &WorkspaceId, partner_id: &PartnerId, now: Timestamp) -> Result<bool> {
    Ok(compliance_blockers(tx, workspace_id, partner_id, now).await?.is_empty())
}

/// The `compliant` metric this crate contributes to the metric registry: tier requirements may ask
/// for it (a lapsed licence can block a tier).
pub const COMPLIANT: Metric = Metric {
    name: "compliant",
    label: "No compliance blocker (such as an expired licence)",
    unit: None,
    kind: MetricType::Boolean,
    description: "No compliance blocker, such as an expired compliance licence",
    per_program: false,
    source: Source::Computed(compliant),
};

fn compliant<'a>(tx: &'a mut ScopedTx, subject: &'a Subject) -> MetricFuture<'a> {
    Box::pin(async move {
        let blockers = compliance_blockers(tx, &subject.workspace_id, &subject.partner_id, subject.now).await?;
        Ok(Some(MetricValue::Boolean(blockers.is_empty())))
    })
}

fn blocker_text(licence: &Licence) -> String {
    format!("licence {} expired on {}", licence.label(), dates::format(licence.valid_until))
}

/// A partner's compliance as the API and pages show it.
#[derive(Debug, Clone)]
pub struct Compliance {
    pub partner_id: PartnerId,
    pub compliant: bool,
    pub blockers: Vec<String>,
}

/// The compliance of a visible partner.
pub async fn get(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Compliance> {
    let mut tx = scope.read(ctx).await?;
    let seen = tx.see_partner(partner_id).await?;
    get_in(&mut tx, scope, &seen, ctx.now()).await
}

/// [`get`] of a partner already checked in the caller's transaction.
pub async fn get_in(tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner, now: Timestamp) -> Result<Compliance> {
    let partner_id = tx.seen(seen)?.clone();
    let blockers = compliance_blockers(tx, scope.workspace_id(), &partner_id, now).await?;
    Ok(Compliance { partner_id, compliant: blockers.is_empty(), blockers })
}

/// The partner list's condition "compliant at `now`" (or, with `compliant` false, "not
/// compliant"), for `PartnerFilter::conditions`: one probe of the partner's licences per listed
/// partner, with the rule of [`compliance_blockers`].
pub fn partner_condition(compliant: bool, now: Timestamp) -> PartnerCondition {
    let today = dates::today(now);
    PartnerCondition::new(move |q| {
        q.push(if compliant { " AND NOT" } else { " AND" });
        q.push(" EXISTS (SELECT 1 FROM licences l WHERE l.workspace_id = partners.workspace_id AND l.partner_id = partners.id");
        push_lapsed(q, today);
        q.push(")");
    })
}

/// Which of `partner_ids` (a page of the partner list) are not compliant at `now`; partners the
/// caller may not see are never in the answer.
pub async fn non_compliant_among_in(
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_ids: &[PartnerId],
    now: Timestamp,
) -> Result<std::collections::HashSet<PartnerId>> {
    if partner_ids.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    let mut q = Sql::build("SELECT DISTINCT l.partner_id FROM licences l WHERE l.workspace_id = ");
    q.push_bind(scope.workspace_id()).push(" AND l.partner_id IN ");
    q.push_in_list(partner_ids).push(" AND ");
    tx.push_partner_filter(&mut q, "l.partner_id");
    push_lapsed(&mut q, dates::today(now));
    tx.fetch_all(q).await?.iter().map(|row| Ok(row.get("partner_id")?)).collect()
}

/// A licence or contract on the dashboard, with its partner.
#[derive(Debug, Clone)]
pub struct Due<T> {
    pub item: T,
    pub partner_name: String,
    /// Days from today to the date that matters (negative when past).
    pub days: i64,
}

/// A partner that is not compliant, and why.
#[derive(Debug, Clone)]
pub struct NonCompliant {
    pub partner_id: PartnerId,
    pub partner_name: String,
    pub blockers: Vec<String>,
}

/// The vendor's expiry dashboard over the partners the caller can see.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub within_days: i64,
    /// Licences ending within `within_days` (soonest first).
    pub expiring_licences: Vec<Due<Licence>>,
    /// Licences expired without a valid successor.
    pub lapsed_licences: Vec<Due<Licence>>,
    /// Contracts whose renewal (else end) date falls within `within_days`.
    pub renewing_contracts: Vec<Due<Contract>>,
    pub non_compliant: Vec<NonCompliant>,
}

/// Partners whose licences and contracts no longer matter to the dashboard.
const CLOSED: [PartnerStatus; 2] = [PartnerStatus::Terminated, PartnerStatus::Rejected];

fn push_open_partner(q: &mut Sql, tx: &ScopedTx, column: &str) {
    q.push(" AND p.status NOT IN ");
    let closed: Vec<&str> = CLOSED.iter().map(|s| s.as_str()).collect();
    q.push_in_list(&closed).push(" AND ");
    tx.push_partner_filter(q, column);
}

/// How far ahead the work queues look for licences and contracts (the first reminder's reach).
const QUEUE_DAYS: i64 = 30;

/// Licences of open partners that expire within 30 days, as a work queue (console home and the
/// compliance link), for those who manage partners. Bounded by the date window.
pub const LAPSING: WorkQueue = WorkQueue {
    key: "licences_lapsing",
    title: "Licences expiring within 30 days",
    href: "/console/compliance",
    nav: Some("/console/compliance"),
    count: count_lapsing,
};

/// Licences that lapsed without a valid successor (their partner is not compliant), as a work
/// queue on the console home only: the count reads the workspace's expired licences.
pub const LAPSED: WorkQueue = WorkQueue {
    key: "licences_lapsed",
    title: "Lapsed licences",
    href: "/console/compliance#lapsed-heading",
    nav: None,
    count: count_lapsed,
};

/// Contracts to renew or end within 30 days, as a work queue (console home and the compliance
/// link).
pub const RENEWING: WorkQueue = WorkQueue {
    key: "contracts_renewing",
    title: "Contracts up for renewal within 30 days",
    href: "/console/compliance#renewing-heading",
    nav: Some("/console/compliance"),
    count: count_renewing,
};

fn count_lapsing<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, now: Timestamp) -> CountFuture<'a> {
    Box::pin(work_queues::count_for(tx, scope, VendorRole::PARTNER_MANAGERS, move |tx, q| {
        let today = dates::today(now);
        q.push(LICENCES_OF_PARTNERS).push_bind(scope.workspace_id()).push(" AND l.valid_until >= ").push_bind(dates::format(today));
        q.push(" AND l.valid_until <= ").push_bind(dates::format(dates::add_days(today, QUEUE_DAYS)));
        push_open_partner(q, tx, "l.partner_id");
    }))
}

fn count_lapsed<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, now: Timestamp) -> CountFuture<'a> {
    Box::pin(work_queues::count_for(tx, scope, VendorRole::PARTNER_MANAGERS, move |tx, q| {
        q.push(LICENCES_OF_PARTNERS).push_bind(scope.workspace_id());
        push_lapsed(q, dates::today(now));
        push_open_partner(q, tx, "l.partner_id");
    }))
}

fn count_renewing<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, now: Timestamp) -> CountFuture<'a> {
    Box::pin(work_queues::count_for(tx, scope, VendorRole::PARTNER_MANAGERS, move |tx, q| {
        let today = dates::today(now);
        q.push(" FROM contracts c JOIN partners p ON p.workspace_id = c.workspace_id AND p.id = c.partner_id WHERE c.workspace_id = ");
        // COALESCE(renews_on, ends_on) in the window, written so that each half uses its index
        // (contracts_by_renewal, contracts_by_end): this count runs on every console page.
        let (from, to) = (q.bind(dates::format(today)), q.bind(dates::format(dates::add_days(today, QUEUE_DAYS))));
        q.push_bind(scope.workspace_id()).push(&format!(
            " AND ((c.renews_on >= {from} AND c.renews_on <= {to}) OR (c.renews_on IS NULL AND c.ends_on >= {from} AND c.ends_on <= {to}))"
        ));
        push_open_partner(q, tx, "c.partner_id");
    }))
}

/// Licences with their partner, of a workspace (the workspace id is bound next).
const LICENCES_OF_PARTNERS: &str =
    " FROM licences l JOIN partners p ON p.workspace_id = l.workspace_id AND p.id = l.partner_id WHERE l.workspace_id = ";

/// The dashboard for staff (any vendor role); `within_days` is the look-ahead (30, 60 or 90).
pub async fn dashboard(ctx: &Ctx, scope: &Scope, within_days: i64) -> Result<Dashboard> {
    scope.require_vendor_role(
        &[VendorRole::Owner, VendorRole::Admin, VendorRole::ChannelManager, VendorRole::Finance, VendorRole::Viewer],
        "see the compliance dashboard",
    )?;
    let today = dates::today(ctx.now());
    let horizon = dates::format(dates::add_days(today, within_days));
    let workspace_id = scope.workspace_id();
    let mut tx = scope.read(ctx).await?;

    let mut q = Sql::build("SELECT ");
    q.push(licences::COLUMNS).push(", p.name AS partner_name").push(LICENCES_OF_PARTNERS);
    q.push_bind(workspace_id).push(" AND l.valid_until >= ").push_bind(dates::format(today));
    q.push(" AND l.valid_until <= ").push_bind(horizon.clone());
    push_open_partner(&mut q, &tx, "l.partner_id");
    q.push(" ORDER BY l.valid_until, p.name LIMIT 500");
    let mut expiring_licences = Vec::new();
    for row in tx.fetch_all(q).await? {
        let licence = licences::from_row(&row)?;
        let days = dates::days_between(today, licence.valid_until);
        expiring_licences.push(Due { item: licence, partner_name: row.get("partner_name")?, days });
    }

    let mut q = Sql::build("SELECT ");
    q.push(licences::COLUMNS).push(", p.name AS partner_name").push(LICENCES_OF_PARTNERS);
    q.push_bind(workspace_id);
    push_lapsed(&mut q, today);
    push_open_partner(&mut q, &tx, "l.partner_id");
    q.push(" ORDER BY p.name, l.valid_until LIMIT 500");
    let mut lapsed_licences = Vec::new();
    let mut non_compliant: Vec<NonCompliant> = Vec::new();
    for row in tx.fetch_all(q).await? {
        let licence = licences::from_row(&row)?;
        let partner_name: String = row.get("partner_name")?;
        match non_compliant.iter_mut().find(|n| n.partner_id == licence.partner_id) {
            Some(entry) => entry.blockers.push(blocker_text(&licence)),
            None => non_compliant.push(NonCompliant {
                partner_id: licence.partner_id.clone(),
                partner_name: partner_name.clone(),
                blockers: vec![blocker_text(&licence)],
            }),
        }
        let days = dates::days_between(today, licence.valid_until);
        lapsed_licences.push(Due { item: licence, partner_name, days });
    }

    let mut q = Sql::build("SELECT ");
    q.push(contracts::COLUMNS).push(", p.name AS partner_name FROM contracts c JOIN partners p ON p.workspace_id = c.workspace_id AND p.id = c.partner_id WHERE c.workspace_id = ");
    q.push_bind(workspace_id).push(" AND COALESCE(c.renews_on, c.ends_on) >= ").push_bind(dates::format(today));
    q.push(" AND COALESCE(c.renews_on, c.ends_on) <= ").push_bind(horizon);
    push_open_partner(&mut q, &tx, "c.partner_id");
    q.push(" ORDER BY COALESCE(c.renews_on, c.ends_on), p.name LIMIT 500");
    let mut renewing_contracts = Vec::new();
    for row in tx.fetch_all(q).await? {
        let contract = contracts::from_row(&row)?;
        let days = contract.decision_date().map_or(0, |d| dates::days_between(today, d));
        renewing_contracts.push(Due { item: contract, partner_name: row.get("partner_name")?, days });
    }
    Ok(Dashboard { within_days, expiring_licences, lapsed_licences, renewing_contracts, non_compliant })
}
