//! Deals (API.md "Deals"): a partner's registration, or an opportunity of the vendor's direct
//! pipeline, with the partner's role on that deal. Registration checks eligibility (an active,
//! compliant partner enrolled in a program that takes registrations) and conflicts
//! ([`crate::conflicts`]) in one transaction; the review decides, approval protects the customer
//! for a while, and the pipeline follows the deal to won or lost.
//!
//! Visibility: a partner sees the deals it or its descendants registered and those it is credited
//! on (`deal_ancestry`, one primary-key probe per deal, and its pipeline walks its own rows);
//! staff see every deal, a restricted channel manager those of the partners they manage and the
//! direct pipeline.

use std::collections::HashMap;

use serde_json::json;
use trellis_core::{
    Currency, DealId, Domain, Email, Error, Page, PartnerId, PartnerRole, PartnerStatus, ProgramId, Result, Timestamp, UserId, Validation,
    VendorRole, string_enum,
};
use trellis_db::{Row, Sql, Tx, sql};
use trellis_directory::countries;
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Membership, Scope, ScopedTx};
use trellis_records::{compliance, dates};

use crate::conflicts::{self, CONFLICT_ENGINE, Candidate, ConflictKind};
use crate::engine::CustomerKeys;
use crate::rules::{self, ConflictRules};
use crate::statuses::{self, Actor, DealStatus};

string_enum!(
    /// Who brought the deal.
    DealSource {
        Partner => "partner",
        Direct => "direct",
    }
);

string_enum!(
    /// The partner's role on one deal: the same partner resells one deal and refers another.
    DealRole {
        Resell => "resell",
        Referral => "referral",
        Influence => "influence",
    }
);

string_enum!(
    /// Where a deal stands in the sales cycle.
    DealStage {
        Prospecting => "prospecting",
        Qualification => "qualification",
        Proposal => "proposal",
        Negotiation => "negotiation",
        Closing => "closing",
    }
);

/// Days without a rejected registration that a partner's good standing needs (auto-approval).
pub const GOOD_STANDING_DAYS: i64 = 90;

/// The largest amount a deal may carry, in minor units (a typo guard).
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone)]
pub struct Deal {
    pub id: DealId,
    pub source: DealSource,
    pub partner_id: Option<PartnerId>,
    pub partner_name: Option<String>,
    pub partner_role: Option<DealRole>,
    pub partner_credit_bps: i64,
    pub program_id: Option<ProgramId>,
    pub status: DealStatus,
    pub stage: DealStage,
    pub customer_name: String,
    pub customer_domain: Option<String>,
    pub customer_email: Option<String>,
    pub country: Option<String>,
    pub amount: Money,
    pub expected_close_date: Option<String>,
    pub description: String,
    pub external_id: Option<String>,
    pub protected_until: Option<Timestamp>,
    pub decision_note: Option<String>,
    pub registered_by_user_id: Option<UserId>,
    pub closed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A conflict as the caller may see it: the other deal's id only when the caller may see that
/// deal (staff), never for a partner whose conflict is with another partner.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub deal_id: Option<DealId>,
    pub kind: ConflictKind,
    pub reason: String,
    pub score: f64,
    pub earlier: bool,
}

/// A further partner credited on a deal.
#[derive(Debug, Clone)]
pub struct DealPartner {
    pub partner_id: PartnerId,
    pub partner_name: String,
    pub role: DealRole,
    pub credit_bps: i64,
}

/// A deal with what the caller may see of its conflicts and credited partners.
#[derive(Debug, Clone)]
pub struct DealDetail {
    pub deal: Deal,
    pub conflicts: Vec<Conflict>,
    pub partners: Vec<DealPartner>,
}

/// `POST /api/v1/deals`.
#[derive(Debug, Clone, Default)]
pub struct NewDeal {
    pub customer_name: String,
    pub customer_domain: Option<String>,
    pub customer_email: Option<String>,
    pub country: Option<String>,
    pub amount_minor: Option<i64>,
    /// Defaults to the program's currency (the workspace's for a direct opportunity without one).
    pub currency: Option<String>,
    pub expected_close_date: Option<String>,
    pub partner_role: Option<DealRole>,
    pub description: Option<String>,
    pub program_id: Option<ProgramId>,
    pub stage: Option<DealStage>,
    /// Staff registering on a partner's behalf.
    pub partner_id: Option<PartnerId>,
    /// Staff recording a direct opportunity.
    pub source: Option<DealSource>,
    /// A direct opportunity's id in the vendor's CRM (imports are idempotent by it).
    pub external_id: Option<String>,
}

/// `PATCH /api/v1/deals/{id}`: the pipeline fields.
#[derive(Debug, Clone, Default)]
pub struct DealPatch {
    pub stage: Option<DealStage>,
    pub amount_minor: Option<i64>,
    pub expected_close_date: Option<Option<String>>,
    pub description: Option<String>,
}

/// Which deals a list shows.
#[derive(Debug, Clone, Default)]
pub struct DealFilter {
    pub statuses: Vec<DealStatus>,
    pub partner_id: Option<PartnerId>,
    pub program_id: Option<ProgramId>,
    pub stage: Option<DealStage>,
    pub source: Option<DealSource>,
    /// Created at or before this time (the pipeline's "older than" filter).
    pub created_before: Option<Timestamp>,
    /// Oldest first (the review queue); newest first otherwise.
    pub oldest_first: bool,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

const COLUMNS: &str =
    "d.id, d.source, d.partner_id, p.name AS partner_name, d.partner_role, d.partner_credit_bps, d.program_id, d.status, d.stage,
     d.customer_name, d.customer_domain, d.customer_email, d.country, d.amount_minor, d.currency, d.expected_close_date, d.description,
     d.external_id, d.protected_until, d.decision_note, d.registered_by_user_id, d.closed_at, d.created_at, d.updated_at";

const FROM: &str = " FROM deals d LEFT JOIN partners p ON p.workspace_id = d.workspace_id AND p.id = d.partner_id";

fn parse_stored<T>(text: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T> {
    parse(text).ok_or_else(|| Error::Internal(format!("stored {what} {text}")))
}

fn from_row(row: &Row) -> Result<Deal> {
    let source: String = row.get("source")?;
    let role: Option<String> = row.get("partner_role")?;
    let status: String = row.get("status")?;
    let stage: String = row.get("stage")?;
    Ok(Deal {
        id: row.get("id")?,
        source: parse_stored(&source, DealSource::parse, "deal source")?,
        partner_id: row.get("partner_id")?,
        partner_name: row.get("partner_name")?,
        partner_role: role.map(|r| parse_stored(&r, DealRole::parse, "deal role")).transpose()?,
        partner_credit_bps: row.get("partner_credit_bps")?,
        program_id: row.get("program_id")?,
        status: parse_stored(&status, DealStatus::parse, "deal status")?,
        stage: parse_stored(&stage, DealStage::parse, "deal stage")?,
        customer_name: row.get("customer_name")?,
        customer_domain: row.get("customer_domain")?,
        customer_email: row.get("customer_email")?,
        country: row.get("country")?,
        amount: Money { amount_minor: row.get("amount_minor")?, currency: row.get("currency")? },
        expected_close_date: row.get("expected_close_date")?,
        description: row.get("description")?,
        external_id: row.get("external_id")?,
        protected_until: row.get("protected_until")?,
        decision_note: row.get("decision_note")?,
        registered_by_user_id: row.get("registered_by_user_id")?,
        closed_at: row.get("closed_at")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// `YYYY-MM-DD` of a timestamp (UTC).
pub fn date_of(at: Timestamp) -> String {
    dates::format(dates::today(at))
}

/// Appends the visibility rule of deals (`d`) for the caller: a partner's own listing rows, one
/// primary-key probe; staff through the deal's partner, the direct pipeline to every staff member.
pub fn push_visible(tx: &ScopedTx, scope: &Scope, q: &mut Sql) {
    match scope.membership() {
        Membership::Partner { partner_id, .. } => {
            q.push("EXISTS (SELECT 1 FROM deal_ancestry da WHERE da.workspace_id = d.workspace_id AND da.ancestor_id = ")
                .push_bind(partner_id)
                .push(" AND da.deal_id = d.id LIMIT 1 OFFSET 0)");
        }
        _ => {
            q.push("(d.partner_id IS NULL OR ");
            tx.push_partner_filter(q, "d.partner_id");
            q.push(")");
        }
    }
}

/// One deal the caller may see, in its transaction; 404 otherwise.
pub async fn find_in(tx: &mut ScopedTx, scope: &Scope, id: &DealId) -> Result<Deal> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(FROM).push(" WHERE d.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND d.id = ").push_bind(id).push(" AND ");
    push_visible(tx, scope, &mut q);
    from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

/// `GET /api/v1/deals/{id}` with its conflicts and credited partners.
pub async fn get(ctx: &Ctx, scope: &Scope, id: &DealId) -> Result<DealDetail> {
    let mut tx = scope.read(ctx).await?;
    let deal = find_in(&mut tx, scope, id).await?;
    detail_in(&mut tx, scope, deal).await
}

/// The conflicts and credited partners of a deal the caller sees.
pub async fn detail_in(tx: &mut ScopedTx, scope: &Scope, deal: Deal) -> Result<DealDetail> {
    let conflicts = conflicts_in(tx, scope, &deal.id).await?;
    let mut q = Sql::build(
        "SELECT dp.partner_id, p.name AS partner_name, dp.role, dp.credit_bps FROM deal_partners dp
         JOIN partners p ON p.workspace_id = dp.workspace_id AND p.id = dp.partner_id WHERE dp.workspace_id = ",
    );
    q.push_bind(scope.workspace_id()).push(" AND dp.deal_id = ").push_bind(&deal.id).push(" AND ");
    tx.push_partner_filter(&mut q, "dp.partner_id");
    q.push(" ORDER BY dp.created_at, dp.partner_id");
    let partners = tx
        .fetch_all(q)
        .await?
        .iter()
        .map(|row| {
            let role: String = row.get("role")?;
            Ok(DealPartner {
                partner_id: row.get("partner_id")?,
                partner_name: row.get("partner_name")?,
                role: parse_stored(&role, DealRole::parse, "deal role")?,
                credit_bps: row.get("credit_bps")?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(DealDetail { deal, conflicts, partners })
}

/// What a deal credits, for commissions: whether it is won, its program, and each credited
/// partner with its share in basis points (the registering partner first). `None` for a deal the
/// caller does not see or a direct opportunity's missing partner.
#[derive(Debug, Clone)]
pub struct DealCredits {
    pub won: bool,
    pub program_id: Option<ProgramId>,
    pub partners: Vec<(PartnerId, i64)>,
}

/// [`DealCredits`] of a deal the caller sees, inside its transaction.
pub async fn credits_in(tx: &mut ScopedTx, scope: &Scope, deal_id: &DealId) -> Result<Option<DealCredits>> {
    let deal = match find_in(tx, scope, deal_id).await {
        Ok(deal) => deal,
        Err(Error::NotFound) => return Ok(None),
        Err(other) => return Err(other),
    };
    let mut partners = Vec::new();
    if let Some(partner_id) = &deal.partner_id {
        partners.push((partner_id.clone(), deal.partner_credit_bps));
    }
    let rows = tx
        .fetch_all(sql!(
            "SELECT partner_id, credit_bps FROM deal_partners WHERE workspace_id = $1 AND deal_id = $2 ORDER BY created_at, partner_id",
            scope.workspace_id(),
            deal_id
        ))
        .await?;
    for row in rows {
        partners.push((row.get("partner_id")?, row.get("credit_bps")?));
    }
    partners.retain(|(_, bps)| *bps > 0);
    Ok(Some(DealCredits { won: deal.status == DealStatus::Won, program_id: deal.program_id, partners }))
}

/// The conflicts recorded on a deal; the other deal's id only where the caller sees that deal.
pub async fn conflicts_in(tx: &mut ScopedTx, scope: &Scope, deal_id: &DealId) -> Result<Vec<Conflict>> {
    Ok(conflicts_of_in(tx, scope, std::slice::from_ref(deal_id)).await?.remove(deal_id).unwrap_or_default())
}

/// [`conflicts_in`] of several deals in one query (a page of the review queue), by deal; a deal
/// without conflicts has no entry. The caller has read `deal_ids` through its visibility rule.
pub async fn conflicts_of_in(tx: &mut ScopedTx, scope: &Scope, deal_ids: &[DealId]) -> Result<HashMap<DealId, Vec<Conflict>>> {
    let mut found: HashMap<DealId, Vec<Conflict>> = HashMap::new();
    if deal_ids.is_empty() {
        return Ok(found);
    }
    let mut q = Sql::build(
        "SELECT c.deal_id, c.other_deal_id, c.kind, c.reason, c.score_bp, c.earlier, (SELECT 1 FROM deals d WHERE d.workspace_id = c.workspace_id AND d.id = c.other_deal_id AND ",
    );
    push_visible(tx, scope, &mut q);
    q.push(") AS other_visible FROM deal_conflicts c WHERE c.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND c.deal_id IN ").push_in_list(deal_ids).push(" ORDER BY c.deal_id, c.created_at, c.other_deal_id");
    for row in tx.fetch_all(q).await? {
        let kind: String = row.get("kind")?;
        let visible: Option<i64> = row.get("other_visible")?;
        found.entry(row.get("deal_id")?).or_default().push(Conflict {
            deal_id: if visible.is_some() { Some(row.get("other_deal_id")?) } else { None },
            kind: parse_stored(&kind, ConflictKind::parse, "conflict kind")?,
            reason: row.get("reason")?,
            score: row.get::<i64>("score_bp")? as f64 / 10_000.0,
            earlier: row.get("earlier")?,
        });
    }
    Ok(found)
}

/// `GET /api/v1/deals`: the deals the caller sees, newest first (or oldest first for the review
/// queue). A partner's list walks its own listing rows (`deal_ancestry`), so it costs a page
/// whatever the size of its subtree or of the table.
pub async fn list(ctx: &Ctx, scope: &Scope, filter: &DealFilter) -> Result<Page<Deal>> {
    let mut tx = scope.read(ctx).await?;
    list_in(&mut tx, scope, filter).await
}

/// [`list`] inside the caller's transaction.
pub async fn list_in(tx: &mut ScopedTx, scope: &Scope, filter: &DealFilter) -> Result<Page<Deal>> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS);
    let order_column = match scope.membership() {
        Membership::Partner { partner_id, .. } => {
            q.push(" FROM deal_ancestry da JOIN deals d ON d.workspace_id = da.workspace_id AND d.id = da.deal_id");
            q.push(" LEFT JOIN partners p ON p.workspace_id = d.workspace_id AND p.id = d.partner_id");
            q.push(" WHERE da.workspace_id = ").push_bind(scope.workspace_id()).push(" AND da.ancestor_id = ").push_bind(partner_id);
            "da.deal_id"
        }
        _ => {
            q.push(FROM).push(" WHERE d.workspace_id = ").push_bind(scope.workspace_id()).push(" AND ");
            push_visible(tx, scope, &mut q);
            "d.id"
        }
    };
    push_filter(&mut q, filter, order_column);
    let direction = if filter.oldest_first { "ASC" } else { "DESC" };
    q.push(&format!(" ORDER BY {order_column} {direction} LIMIT ")).push_bind(trellis_core::page::fetch_limit(filter.limit));
    let rows: Vec<Deal> = tx.fetch_all(q).await?.iter().map(from_row).collect::<Result<_>>()?;
    Ok(Page::from_rows(rows, filter.limit, |d| d.id.to_string()))
}

pub(crate) fn push_filter(q: &mut Sql, filter: &DealFilter, order_column: &str) {
    if !filter.statuses.is_empty() {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        q.push(" AND d.status IN ").push_in_list(&statuses);
    }
    if let Some(partner_id) = &filter.partner_id {
        q.push(" AND d.partner_id = ").push_bind(partner_id);
    }
    if let Some(program_id) = &filter.program_id {
        q.push(" AND d.program_id = ").push_bind(program_id);
    }
    if let Some(stage) = filter.stage {
        q.push(" AND d.stage = ").push_bind(stage.as_str());
    }
    if let Some(source) = filter.source {
        q.push(" AND d.source = ").push_bind(source.as_str());
    }
    if let Some(before) = filter.created_before {
        q.push(" AND d.created_at <= ").push_bind(before);
    }
    if let Some(cursor) = &filter.cursor {
        let op = if filter.oldest_first { ">" } else { "<" };
        q.push(&format!(" AND {order_column} {op} ")).push_bind(cursor.as_str());
    }
}

/// Who may register deals, change the pipeline and mark won or lost for a partner: its admins
/// and sales people, and those of its ancestors (a distributor's sales team works its
/// resellers' deals); staff who manage partners.
fn may_work_deals_of(scope: &Scope) -> bool {
    match scope.membership() {
        Membership::Partner { role, .. } => matches!(role, PartnerRole::Admin | PartnerRole::Sales),
        Membership::Staff { role, .. } => role.manages_partners(),
        Membership::System => true,
    }
}

fn require_deal_worker(scope: &Scope) -> Result<()> {
    if may_work_deals_of(scope) { Ok(()) } else { Err(Error::forbidden("your role may not work on deals")) }
}

/// The program a partner registers in: the one named, or its only program that takes deal
/// registrations. Refuses, with a reason the partner can act on, a partner that is not active,
/// not compliant or not enrolled in such a program.
async fn eligible_program(
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_id: &PartnerId,
    wanted: Option<&ProgramId>,
    now: Timestamp,
) -> Result<ProgramId> {
    let seen = tx.see_partner(partner_id).await?;
    let status = seen.status();
    if status != PartnerStatus::Active {
        return Err(Error::conflict(format!(
            "only active partners can register deals; this partner organisation is {}",
            status.as_str().replace('_', " ")
        )));
    }
    let blockers = compliance::compliance_blockers(tx, scope.workspace_id(), partner_id, now).await?;
    if !blockers.is_empty() {
        return Err(Error::conflict(format!("deal registration is blocked until this is renewed: {}", blockers.join("; "))));
    }
    let rows = tx
        .fetch_all(sql!(
            "SELECT e.program_id FROM enrollments e JOIN programs pr ON pr.workspace_id = e.workspace_id AND pr.id = e.program_id
             WHERE e.workspace_id = $1 AND e.partner_id = $2 AND pr.deal_registration = $3 ORDER BY pr.name, e.program_id",
            scope.workspace_id(),
            partner_id,
            true
        ))
        .await?;
    let programs: Vec<ProgramId> = rows.iter().map(|r| r.get("program_id")).collect::<Result<_, _>>()?;
    match wanted {
        Some(wanted) if programs.contains(wanted) => Ok(wanted.clone()),
        Some(_) => Err(Error::invalid("program_id", "the partner is not enrolled in this program, or it does not take deal registrations")),
        None => match programs.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(Error::conflict("the partner is not enrolled in any program that takes deal registrations")),
            _ => Err(Error::invalid("program_id", "the partner is enrolled in several programs that take deal registrations; name one")),
        },
    }
}

/// Good standing for auto-approval: no registration of the partner rejected in the last
/// [`GOOD_STANDING_DAYS`] (activity and compliance are already required to register at all).
async fn in_good_standing(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId, now: Timestamp) -> Result<bool> {
    let since = now.plus_seconds(-GOOD_STANDING_DAYS * 86_400);
    let rejected = tx
        .fetch_i64(sql!(
            "SELECT COUNT(*) AS n FROM deals WHERE workspace_id = $1 AND partner_id = $2 AND status = 'rejected' AND updated_at >= $3",
            scope.workspace_id(),
            partner_id,
            since
        ))
        .await?;
    Ok(rejected == 0)
}

pub(crate) struct Checked {
    customer_name: String,
    customer_domain: Option<String>,
    customer_email: Option<String>,
    country: Option<String>,
    amount_minor: i64,
    currency: Option<String>,
    expected_close_date: Option<String>,
    description: String,
    external_id: Option<String>,
}

/// The checks of a registration's fields that need no database (an import's preview runs them
/// per row, so it answers what the import would).
pub(crate) fn check_input(input: &NewDeal) -> Result<Checked> {
    let mut v = Validation::new();
    let customer_name = v.text("customer_name", &input.customer_name, 200);
    let customer_domain = match input.customer_domain.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(text) => v.check("customer_domain", Domain::from_website(text)).map(|d| Some(d.as_str().to_owned())),
        None => Some(None),
    };
    let customer_email = match input.customer_email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(text) => v.check("customer_email", Email::parse(text)).map(|e| Some(e.as_str().to_owned())),
        None => Some(None),
    };
    let country = match input.country.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => match countries::parse(code) {
            Some(code) => Some(Some(code.to_owned())),
            None => {
                v.add("country", "must be an ISO 3166-1 alpha-2 country code, such as DE");
                None
            }
        },
        None => Some(None),
    };
    let amount_minor = match input.amount_minor {
        Some(amount) if (0..=MAX_AMOUNT_MINOR).contains(&amount) => Some(amount),
        Some(_) => {
            v.add("amount", "must be zero or more (and less than a quadrillion)");
            None
        }
        None => {
            v.add("amount", "is required");
            None
        }
    };
    let currency = match input.currency.as_deref() {
        Some(code) => v.check("amount.currency", Currency::parse(code)).map(|c| Some(c.code().to_owned())),
        None => Some(None),
    };
    let expected_close_date =
        dates::optional(&mut v, "expected_close_date", input.expected_close_date.as_deref()).map(|d| d.map(dates::format));
    let description = v.optional_text("description", input.description.as_deref(), 5000);
    let external_id = v.optional_text("external_id", input.external_id.as_deref(), 200);
    v.finish().map_err(Error::Validation)?;
    match (customer_name, customer_domain, customer_email, country, amount_minor, currency, expected_close_date, description, external_id) {
        (
            Some(customer_name),
            Some(customer_domain),
            Some(customer_email),
            Some(country),
            Some(amount_minor),
            Some(currency),
            Some(expected_close_date),
            Some(description),
            Some(external_id),
        ) => Ok(Checked {
            customer_name,
            customer_domain,
            customer_email,
            country,
            amount_minor,
            currency,
            expected_close_date,
            description: description.unwrap_or_default(),
            external_id,
        }),
        _ => Err(Error::Internal("validated".into())),
    }
}

/// Who registers what.
enum Registrant {
    /// A partner's registration (by the partner, or by staff on its behalf).
    Partner { partner_id: PartnerId, program_id: ProgramId, role: DealRole },
    /// An opportunity of the vendor's own sales team.
    Direct { program_id: Option<ProgramId> },
}

/// `POST /api/v1/deals`: registers a deal and checks it for conflicts, in one transaction. An
/// ineligible partner gets a clear reason and nothing is stored.
pub async fn register(ctx: &Ctx, scope: &Scope, input: NewDeal) -> Result<DealDetail> {
    let mut tx = scope.write(ctx).await?;
    let pending = register_in(ctx, &mut tx, scope, input).await?;
    finish(ctx, tx, scope, pending).await
}

/// Runs the conflict check of a registration inserted by [`register_in`] and commits: the last
/// part of the transaction is the conflict engine's ([`CONFLICT_ENGINE`]).
async fn finish(ctx: &Ctx, tx: ScopedTx, scope: &Scope, pending: Pending) -> Result<DealDetail> {
    let (tx, deal, found) = check_and_settle(ctx, tx, scope, pending).await?;
    tx.commit().await?;
    // Answer the conflicts as GET answers them: the other deal's id where the caller may see it
    // (staff always; a partner when the other deal is its own or a descendant's), and only there.
    let conflicts = if found.is_empty() {
        Vec::new()
    } else {
        let mut read = scope.read(ctx).await?;
        conflicts_in(&mut read, scope, &deal.id).await?
    };
    Ok(DealDetail { deal, conflicts, partners: Vec::new() })
}

/// The conflict check of a registration inserted by [`register_in`] and what it settles; answers
/// the transaction (its last part the conflict engine's) not yet committed.
async fn check_and_settle(ctx: &Ctx, tx: ScopedTx, scope: &Scope, pending: Pending) -> Result<(Tx, Deal, Vec<conflicts::Found>)> {
    let now = ctx.now();
    let mut tx = tx.into_granted(&CONFLICT_ENGINE).await?;
    let candidate = Candidate { deal_id: &pending.deal.id, partner_id: pending.deal.partner_id.as_ref(), keys: &pending.keys };
    let (seq, found) = conflicts::check(ctx, &mut tx, scope, &candidate, pending.rules.as_ref(), now).await?;
    let deal = settle(ctx, &mut tx, scope, pending, seq, &found, now).await?;
    Ok((tx, deal, found))
}

/// Registers a deal as [`register`] does, inside the caller's transaction, and answers that
/// transaction not yet committed (its last part the conflict engine's): the caller records what
/// the registration settles atomically with it (a lead's conversion, `trellis_leads`). The
/// conflicts are read back with [`get`] after the commit.
pub async fn register_within(ctx: &Ctx, tx: ScopedTx, scope: &Scope, input: NewDeal) -> Result<(Tx, Deal)> {
    let mut tx = tx;
    let pending = register_in(ctx, &mut tx, scope, input).await?;
    let (tx, deal, _) = check_and_settle(ctx, tx, scope, pending).await?;
    Ok((tx, deal))
}

/// Registers direct opportunities in the caller's transaction (an import,
/// [`crate::imports::import`]): each is validated and inserted as [`register`] does, then all are
/// checked at once ([`conflicts::check_all`]: one head, one catch-up; the vendor's opportunities
/// never conflict with each other) and recorded as [`register`] records one (conflicts, the
/// `deal.registered` event). Answers the transaction, its last part the conflict engine's, not
/// yet committed, so the caller adds its own record and commits.
pub(crate) async fn register_direct_batch_in(ctx: &Ctx, tx: ScopedTx, scope: &Scope, inputs: Vec<NewDeal>) -> Result<(Tx, Vec<Deal>)> {
    let now = ctx.now();
    let mut tx = tx;
    let mut pending = Vec::with_capacity(inputs.len());
    for input in inputs {
        if input.source != Some(DealSource::Direct) || input.partner_id.is_some() {
            return Err(Error::Internal("a batch registers direct opportunities only".into()));
        }
        pending.push(register_in(ctx, &mut tx, scope, input).await?);
    }
    let mut tx = tx.into_granted(&CONFLICT_ENGINE).await?;
    let candidates: Vec<Candidate<'_>> =
        pending.iter().map(|p| Candidate { deal_id: &p.deal.id, partner_id: None, keys: &p.keys }).collect();
    // Direct opportunities without a program have no program rules (as in `register`).
    let (seq, found) = conflicts::check_all(ctx, &mut tx, scope, &candidates, None, now).await?;
    drop(candidates);
    let mut deals = Vec::with_capacity(pending.len());
    for (p, found) in pending.into_iter().zip(found) {
        deals.push(settle(ctx, &mut tx, scope, p, seq, &found, now).await?);
    }
    Ok((tx, deals))
}

/// Records what the conflict check found for a registration (its conflicts, the race's other
/// side, the review a conflict sends a partner's registration to), stamps it and writes its
/// `deal.registered` event, in the check's transaction.
async fn settle(
    ctx: &Ctx,
    tx: &mut Tx,
    scope: &Scope,
    pending: Pending,
    seq: i64,
    found: &[conflicts::Found],
    now: Timestamp,
) -> Result<Deal> {
    let Pending { deal, keys, rules } = pending;
    let race_window = rules.as_ref().map_or(rules::DEFAULT_RACE_WINDOW_MINUTES, |r| r.race_window_minutes);
    let mut deal = deal;
    for f in found {
        let reason = conflicts::reason_for_later(f, &keys, race_window);
        insert_conflict(tx, scope, &deal.id, deal.partner_id.as_ref(), f, &reason, true, now).await?;
        if f.kind == ConflictKind::Race {
            raise_race(ctx, tx, scope, f, &deal, seq, race_window, now).await?;
        }
    }
    if deal.source == DealSource::Partner {
        let status = if !found.is_empty() {
            DealStatus::UnderReview
        } else if deal.status == DealStatus::Approved {
            DealStatus::Approved
        } else {
            DealStatus::Submitted
        };
        if status != deal.status {
            // Auto-approval was decided before the check; a conflict sends it to review instead.
            deal.status = status;
            deal.protected_until = None;
            tx.execute(sql!(
                "UPDATE deals SET status = $3, protected_until = NULL WHERE workspace_id = $1 AND id = $2",
                scope.workspace_id(),
                &deal.id,
                status.as_str()
            ))
            .await?;
        }
    }
    conflicts::stamp_with(tx, scope.workspace_id(), &deal.id, seq).await?;
    let entry = AuditEntry::new("deal.registered", "deal", deal.id.as_str())
        .set("partner_id", json!(deal.partner_id))
        .set("source", deal.source.as_str())
        .set("status", deal.status.as_str())
        .set("customer_name", deal.customer_name.clone())
        .set("amount_minor", deal.amount.amount_minor)
        .set("currency", deal.amount.currency.clone())
        .set("conflicts", json!(found.iter().map(|f| f.other_deal_id.as_str()).collect::<Vec<_>>()));
    audit::record(tx, scope, now, entry).await?;
    if deal.status == DealStatus::Approved && deal.source == DealSource::Partner {
        crate::protection::schedule_in(tx, scope.workspace_id(), &deal, now).await?;
    }
    Ok(deal)
}

/// A registration inserted in the caller's transaction, waiting for its conflict check.
pub(crate) struct Pending {
    deal: Deal,
    keys: CustomerKeys,
    rules: Option<ConflictRules>,
}

#[allow(clippy::too_many_arguments)]
async fn insert_conflict(
    tx: &mut Tx,
    scope: &Scope,
    deal_id: &DealId,
    partner_id: Option<&PartnerId>,
    found: &conflicts::Found,
    reason: &str,
    earlier: bool,
    now: Timestamp,
) -> Result<()> {
    tx.execute(sql!(
        "INSERT INTO deal_conflicts (workspace_id, deal_id, other_deal_id, partner_id, kind, score_bp, earlier, reason, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (workspace_id, deal_id, other_deal_id) DO NOTHING",
        scope.workspace_id(),
        deal_id,
        &found.other_deal_id,
        partner_id.cloned(),
        found.kind.as_str(),
        (found.score * 10_000.0).round() as i64,
        earlier,
        reason,
        now
    ))
    .await?;
    Ok(())
}

/// The race rule's other side: the earlier registration learns of the later one and, unless a
/// person already decided it, goes to review too (its priority is in its conflict entry).
#[allow(clippy::too_many_arguments)]
async fn raise_race(
    ctx: &Ctx,
    tx: &mut Tx,
    scope: &Scope,
    found: &conflicts::Found,
    later: &Deal,
    seq: i64,
    race_window: i64,
    now: Timestamp,
) -> Result<()> {
    let other = conflicts::Found {
        other_deal_id: later.id.clone(),
        other_partner_id: later.partner_id.clone(),
        other_status: later.status,
        kind: ConflictKind::Race,
        score: found.score,
        minutes_apart: found.minutes_apart,
        other_protected_until: None,
    };
    let reason = conflicts::reason_for_earlier(found.minutes_apart, race_window);
    insert_conflict(tx, scope, &found.other_deal_id, found.other_partner_id.as_ref(), &other, &reason, false, now).await?;
    let moved = tx
        .execute(sql!(
            "UPDATE deals SET status = 'under_review', protected_until = NULL, updated_at = $3
             WHERE workspace_id = $1 AND id = $2 AND (status = 'submitted' OR (status = 'approved' AND approved_by_user_id IS NULL))",
            scope.workspace_id(),
            &found.other_deal_id,
            now
        ))
        .await?;
    if moved > 0 {
        conflicts::stamp_with(tx, scope.workspace_id(), &found.other_deal_id, seq).await?;
        let system = Scope::system(scope.workspace_id().clone(), &CONFLICT_ENGINE);
        let entry = AuditEntry::new("deal.race_detected", "deal", found.other_deal_id.as_str())
            .set("partner_id", json!(found.other_partner_id))
            .change("status", found.other_status.as_str(), DealStatus::UnderReview.as_str())
            .set("later_deal_id", later.id.as_str());
        audit::record(tx, &system, now, entry).await?;
        if let Some(partner_id) = &found.other_partner_id {
            let link = crate::notify::deal_link(ctx, &found.other_deal_id, false);
            crate::notify::race_to_review_in(tx, scope.workspace_id(), partner_id, &link, &reason, now).await?;
        }
    }
    Ok(())
}

/// Validates and inserts a registration in the caller's transaction (eligibility, program,
/// currency, auto-approval decided before the conflict check); [`finish`] checks and commits.
pub(crate) async fn register_in(ctx: &Ctx, tx: &mut ScopedTx, scope: &Scope, input: NewDeal) -> Result<Pending> {
    let now = ctx.now();
    let checked = check_input(&input)?;
    let registrant = match (scope.membership(), input.source, &input.partner_id) {
        (Membership::Partner { partner_id, role, .. }, None | Some(DealSource::Partner), None) => {
            if !matches!(role, PartnerRole::Admin | PartnerRole::Sales) {
                return Err(Error::forbidden("only a partner's admins and sales people register deals"));
            }
            let program_id = eligible_program(tx, scope, partner_id, input.program_id.as_ref(), now).await?;
            Registrant::Partner { partner_id: partner_id.clone(), program_id, role: input.partner_role.unwrap_or(DealRole::Resell) }
        }
        (Membership::Partner { .. }, _, _) => {
            return Err(Error::forbidden("a partner registers deals for its own organisation only"));
        }
        (_, Some(DealSource::Direct), None) => {
            scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "record direct opportunities")?;
            if input.partner_role.is_some() {
                return Err(Error::invalid("partner_role", "a direct opportunity has no partner"));
            }
            if let Some(program_id) = &input.program_id {
                trellis_programs::programs::get_in(tx, scope.workspace_id(), program_id)
                    .await
                    .map_err(|_| Error::invalid("program_id", "no such program"))?;
            }
            Registrant::Direct { program_id: input.program_id.clone() }
        }
        (_, Some(DealSource::Direct), Some(_)) => return Err(Error::invalid("partner_id", "a direct opportunity has no partner")),
        (_, _, Some(partner_id)) => {
            scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "register deals on a partner's behalf")?;
            // A body id that names no partner the caller sees is a field error, as elsewhere.
            tx.see_partner(partner_id).await.map_err(|e| match e {
                Error::NotFound => Error::invalid("partner_id", "no such partner"),
                other => other,
            })?;
            let program_id = eligible_program(tx, scope, partner_id, input.program_id.as_ref(), now).await?;
            Registrant::Partner { partner_id: partner_id.clone(), program_id, role: input.partner_role.unwrap_or(DealRole::Resell) }
        }
        (_, _, None) => {
            return Err(Error::invalid(
                "partner_id",
                "staff register on a partner's behalf (partner_id) or record a direct opportunity (source: \"direct\")",
            ));
        }
    };
    let (partner_id, program_id, role) = match &registrant {
        Registrant::Partner { partner_id, program_id, role } => (Some(partner_id.clone()), Some(program_id.clone()), Some(*role)),
        Registrant::Direct { program_id } => (None, program_id.clone(), None),
    };
    let rules = match &program_id {
        Some(program_id) => Some(rules::get_in(tx, scope, program_id).await?),
        None => None,
    };
    let currency = match (&checked.currency, &program_id) {
        (Some(code), _) => code.clone(),
        (None, Some(program_id)) => trellis_programs::programs::get_in(tx, scope.workspace_id(), program_id).await?.currency,
        (None, None) => trellis_identity::workspaces::get_in(tx, scope.workspace_id()).await?.default_currency,
    };
    let source = if partner_id.is_some() { DealSource::Partner } else { DealSource::Direct };
    // Auto-approval is decided here and undone by the conflict check when anything conflicts.
    let auto_approved = match (&partner_id, &rules) {
        (Some(partner_id), Some(rules)) if rules.auto_approve => in_good_standing(tx, scope, partner_id, now).await?,
        _ => false,
    };
    let (status, protected_until) = match source {
        DealSource::Direct => (DealStatus::Approved, None),
        DealSource::Partner if auto_approved => {
            let days = rules.as_ref().map_or(90, |r| r.protection_days);
            (DealStatus::Approved, Some(now.plus_seconds(days * 86_400)))
        }
        DealSource::Partner => (DealStatus::Submitted, None),
    };
    if let Some(external_id) = &checked.external_id {
        let taken = tx
            .fetch_optional(sql!("SELECT id FROM deals WHERE workspace_id = $1 AND external_id = $2", scope.workspace_id(), external_id))
            .await?;
        if taken.is_some() {
            return Err(Error::invalid("external_id", "another deal has this external id"));
        }
    }
    let keys = CustomerKeys::new(
        &checked.customer_name,
        checked.customer_domain.as_deref(),
        checked.customer_email.as_deref(),
        checked.country.as_deref(),
    );
    let deal = Deal {
        id: DealId::generate(),
        source,
        partner_id: partner_id.clone(),
        partner_name: None,
        partner_role: role,
        partner_credit_bps: 10_000,
        program_id,
        status,
        stage: input.stage.unwrap_or(DealStage::Qualification),
        customer_name: checked.customer_name,
        customer_domain: checked.customer_domain,
        customer_email: checked.customer_email,
        country: checked.country,
        amount: Money { amount_minor: checked.amount_minor, currency },
        expected_close_date: checked.expected_close_date,
        description: checked.description,
        external_id: checked.external_id,
        protected_until,
        decision_note: None,
        registered_by_user_id: scope.user_id().cloned(),
        closed_at: None,
        created_at: now,
        updated_at: now,
    };
    tx.execute(sql!(
        "INSERT INTO deals (workspace_id, id, source, partner_id, partner_role, partner_credit_bps, program_id, status, stage, customer_name,
            customer_domain, customer_email, country, name_key, domain_key, amount_minor, currency, expected_close_date, description, external_id,
            protected_until, registered_by_user_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 10000, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22)",
        scope.workspace_id(),
        &deal.id,
        deal.source.as_str(),
        &deal.partner_id,
        deal.partner_role.map(|r| r.as_str()),
        &deal.program_id,
        deal.status.as_str(),
        deal.stage.as_str(),
        &deal.customer_name,
        &deal.customer_domain,
        &deal.customer_email,
        &deal.country,
        &keys.name_key,
        &keys.domain,
        deal.amount.amount_minor,
        &deal.amount.currency,
        &deal.expected_close_date,
        &deal.description,
        &deal.external_id,
        deal.protected_until,
        &deal.registered_by_user_id,
        now
    ))
    .await?;
    let mut deal = deal;
    if let Some(partner_id) = &deal.partner_id {
        let row =
            tx.fetch_one(sql!("SELECT name FROM partners WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), partner_id)).await?;
        deal.partner_name = Some(row.get("name")?);
    }
    Ok(Pending { deal, keys, rules })
}

/// The actor kind of the caller for the transition table.
fn actor_of(scope: &Scope) -> Actor {
    match scope.membership() {
        Membership::Partner { .. } => Actor::Partner,
        Membership::Staff { .. } => Actor::Staff,
        Membership::System => Actor::System,
    }
}

/// A partner caller may act on a deal its organisation or a descendant registered (not on one it
/// is only credited on).
async fn require_registrant_side(tx: &mut ScopedTx, scope: &Scope, deal: &Deal) -> Result<()> {
    if scope.partner().is_none() {
        return Ok(());
    }
    match &deal.partner_id {
        Some(partner_id) if tx.can_see_partner(partner_id).await? => Ok(()),
        _ => Err(Error::forbidden("only the registering partner's side may change this deal")),
    }
}

/// A decision on a deal.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    /// Approval: protection days instead of the program's.
    pub protected_days: Option<i64>,
    /// Rejection, request for information, loss: the reason the partner reads.
    pub note: Option<String>,
}

/// Moves a deal along the transition table: approve, reject, ask for information (staff), send
/// back for review after giving information, mark won or lost (the registering side or staff).
pub async fn transition(ctx: &Ctx, scope: &Scope, id: &DealId, to: DealStatus, decision: Decision) -> Result<DealDetail> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = find_in(&mut tx, scope, id).await?;
    let actor = actor_of(scope);
    match actor {
        Actor::Staff => {
            if to == DealStatus::Won || to == DealStatus::Lost {
                require_deal_worker(scope)?;
            } else {
                scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "decide deal registrations")?;
            }
        }
        _ => {
            require_deal_worker(scope)?;
            require_registrant_side(&mut tx, scope, &before).await?;
            // A decision of the channel team (approve, reject, ask for information) is the
            // channel team's in every state: 403, not the 409 of a state that does not allow it.
            if actor == Actor::Partner && !statuses::TRANSITIONS.iter().any(|tr| tr.to == to && tr.actor == actor) {
                return Err(Error::forbidden(format!("only the channel team may make a deal {}", to.label().to_lowercase())));
            }
        }
    }
    let direct_close =
        before.source == DealSource::Direct && matches!(to, DealStatus::Won | DealStatus::Lost) && before.status == DealStatus::Approved;
    let transition = statuses::find(before.status, to, actor).filter(|tr| tr.actor != Actor::System || actor == Actor::System);
    let action = match (transition, direct_close) {
        (Some(tr), _) => tr.action,
        (None, true) => {
            if to == DealStatus::Won {
                "deal.won"
            } else {
                "deal.lost"
            }
        }
        (None, false) => {
            return Err(Error::conflict(format!(
                "a deal that is {} cannot become {}",
                before.status.label().to_lowercase(),
                to.label().to_lowercase()
            )));
        }
    };
    let mut v = Validation::new();
    let note = v.optional_text("reason", decision.note.as_deref(), 2000);
    if to == DealStatus::Rejected && decision.note.as_deref().map(str::trim).unwrap_or_default().is_empty() {
        v.add("reason", "is required: the partner reads why");
    }
    if to == DealStatus::NeedsInfo && decision.note.as_deref().map(str::trim).unwrap_or_default().is_empty() {
        v.add("reason", "is required: say what information is needed");
    }
    if decision.protected_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        v.add("protected_days", "must be between 1 and 3650");
    }
    v.finish().map_err(Error::Validation)?;
    let note = note.flatten();
    let mut after = before.clone();
    after.status = to;
    after.updated_at = now;
    match to {
        DealStatus::Approved => {
            let days = match (decision.protected_days, &before.program_id) {
                (Some(days), _) => days,
                (None, Some(program_id)) => rules::get_in(&mut tx, scope, program_id).await?.protection_days,
                (None, None) => 90,
            };
            after.protected_until = Some(now.plus_seconds(days * 86_400));
            after.decision_note = None;
        }
        DealStatus::Won | DealStatus::Lost => {
            after.closed_at = Some(now);
            after.decision_note = note.clone().or(before.decision_note.clone());
        }
        DealStatus::Rejected | DealStatus::NeedsInfo => after.decision_note = note.clone(),
        _ => {}
    }
    let approved_by = if to == DealStatus::Approved { scope.user_id().cloned() } else { None };
    tx.execute(sql!(
        "UPDATE deals SET status = $3, protected_until = $4, decision_note = $5, closed_at = $6, updated_at = $7,
            approved_by_user_id = CASE WHEN $3 = 'approved' THEN $8 ELSE approved_by_user_id END
         WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        id,
        to.as_str(),
        after.protected_until,
        &after.decision_note,
        after.closed_at,
        now,
        approved_by
    ))
    .await?;
    conflicts::stamp(&mut tx, scope.workspace_id(), id).await?;
    let mut entry = AuditEntry::new(action, "deal", id.as_str()).set("partner_id", json!(before.partner_id)).change(
        "status",
        before.status.as_str(),
        to.as_str(),
    );
    if before.protected_until != after.protected_until {
        entry = entry.change("protected_until", json!(before.protected_until), json!(after.protected_until));
    }
    if let Some(note) = &note {
        entry = entry.set("reason", note.clone());
    }
    audit::record(&mut tx, scope, now, entry).await?;
    if to == DealStatus::Approved && before.source == DealSource::Partner {
        crate::protection::schedule_in(&mut tx, scope.workspace_id(), &after, now).await?;
    }
    crate::notify::status_changed_in(ctx, &mut tx, scope, &after, note.as_deref(), now).await?;
    let detail = detail_in(&mut tx, scope, after).await?;
    tx.commit().await?;
    Ok(detail)
}

/// `PATCH /api/v1/deals/{id}`: stage, amount, expected close date, description of an open deal
/// (the registering side, or staff).
pub async fn update(ctx: &Ctx, scope: &Scope, id: &DealId, patch: DealPatch) -> Result<DealDetail> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = find_in(&mut tx, scope, id).await?;
    require_deal_worker(scope)?;
    require_registrant_side(&mut tx, scope, &before).await?;
    if matches!(before.status, DealStatus::Won | DealStatus::Lost | DealStatus::Rejected) {
        return Err(Error::conflict(format!("a {} deal is closed; its pipeline no longer changes", before.status.label().to_lowercase())));
    }
    let mut v = Validation::new();
    if patch.amount_minor.is_some_and(|a| !(0..=MAX_AMOUNT_MINOR).contains(&a)) {
        v.add("amount", "must be zero or more (and less than a quadrillion)");
    }
    let close = match &patch.expected_close_date {
        Some(date) => dates::optional(&mut v, "expected_close_date", date.as_deref()).map(|d| Some(d.map(dates::format))),
        None => Some(None),
    };
    let description = patch.description.as_deref().map(|d| v.optional_text("description", Some(d), 5000));
    v.finish().map_err(Error::Validation)?;
    let mut after = before.clone();
    if let Some(stage) = patch.stage {
        after.stage = stage;
    }
    if let Some(amount) = patch.amount_minor {
        after.amount.amount_minor = amount;
    }
    if let (Some(_), Some(Some(date))) = (&patch.expected_close_date, close) {
        after.expected_close_date = date;
    }
    if let Some(Some(description)) = description {
        after.description = description.unwrap_or_default();
    }
    after.updated_at = now;
    tx.execute(sql!(
        "UPDATE deals SET stage = $3, amount_minor = $4, expected_close_date = $5, description = $6, updated_at = $7 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        id,
        after.stage.as_str(),
        after.amount.amount_minor,
        &after.expected_close_date,
        &after.description,
        now
    ))
    .await?;
    let entry = AuditEntry::new("deal.updated", "deal", id.as_str())
        .set("partner_id", json!(before.partner_id))
        .change("stage", before.stage.as_str(), after.stage.as_str())
        .change("amount_minor", before.amount.amount_minor, after.amount.amount_minor)
        .change("expected_close_date", json!(before.expected_close_date), json!(after.expected_close_date))
        .change("description", before.description.clone(), after.description.clone());
    audit::record(&mut tx, scope, now, entry).await?;
    let detail = detail_in(&mut tx, scope, after).await?;
    tx.commit().await?;
    Ok(detail)
}

/// `POST /api/v1/deals/{id}/partners` (staff): credits a further partner on a partner's deal;
/// the registering partner keeps the rest of the credit, and the credits sum to at most 10000.
pub async fn attach_partner(
    ctx: &Ctx,
    scope: &Scope,
    id: &DealId,
    partner_id: &PartnerId,
    role: DealRole,
    credit_bps: i64,
) -> Result<DealDetail> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let deal = find_in(&mut tx, scope, id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "credit partners on deals")?;
    let mut v = Validation::new();
    if role == DealRole::Resell {
        v.add("role", "a further partner influences or refers the deal (\"influence\" or \"referral\")");
    }
    if !(1..=10_000).contains(&credit_bps) {
        v.add("credit_bps", "must be between 1 and 10000");
    }
    if deal.partner_id.as_ref() == Some(partner_id) {
        v.add("partner_id", "is the registering partner");
    }
    v.finish().map_err(Error::Validation)?;
    if deal.source == DealSource::Direct {
        return Err(Error::conflict("a direct opportunity has no registering partner to share credit with"));
    }
    if !tx.can_see_partner(partner_id).await? {
        return Err(Error::invalid("partner_id", "no such partner"));
    }
    if deal.partner_credit_bps - credit_bps < 0 {
        return Err(Error::invalid("credit_bps", format!("the credits would exceed 10000: {} remain", deal.partner_credit_bps)));
    }
    let inserted = tx
        .execute(sql!(
            "INSERT INTO deal_partners (workspace_id, deal_id, partner_id, role, credit_bps, created_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (workspace_id, deal_id, partner_id) DO NOTHING",
            scope.workspace_id(),
            id,
            partner_id,
            role.as_str(),
            credit_bps,
            now
        ))
        .await?;
    if inserted == 0 {
        return Err(Error::invalid("partner_id", "this partner is already credited on the deal"));
    }
    tx.execute(sql!(
        "UPDATE deals SET partner_credit_bps = partner_credit_bps - $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        id,
        credit_bps,
        now
    ))
    .await?;
    let entry = AuditEntry::new("deal.partner_attached", "deal", id.as_str())
        .set("partner_id", json!(deal.partner_id))
        .set("attached_partner_id", partner_id.as_str())
        .set("role", role.as_str())
        .set("credit_bps", credit_bps)
        .change("partner_credit_bps", deal.partner_credit_bps, deal.partner_credit_bps - credit_bps);
    audit::record(&mut tx, scope, now, entry).await?;
    let deal = find_in(&mut tx, scope, id).await?;
    let detail = detail_in(&mut tx, scope, deal).await?;
    tx.commit().await?;
    Ok(detail)
}
