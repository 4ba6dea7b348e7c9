//! Commissions (API.md "Commissions, balances, payouts"): what a partner earns, a row per partner
//! and cause (a lead, a sale, a distributor's override, a bonus) and per adjustment (a reversal of
//! an unpaid commission, a clawback of a paid one, both negative). Statuses follow
//! [`crate::statuses`]; the money follows the ledger: a commission's `account` is the ledger
//! account its money sits in, and every change of it is one posting in the same transaction
//! (`trellis ledger verify` holds the two together).
//!
//! Money is private to each organisation: a partner reads its own commissions (its admins and
//! finance people), never a reseller's — a distributor sees only the overrides it earns itself.
//! Staff read the commissions of the partners they see.

use serde::{Deserialize, Serialize};
use serde_json::json;
use trellis_core::{
    CommissionId, ConversionId, Currency, Error, Page, PartnerId, PartnerRole, ProgramId, Result, Timestamp, UserId, Validation,
    VendorRole, WorkspaceId, string_enum,
};
use trellis_db::{Row, Sql, SystemGrant, sql};
use trellis_directory::events::{HandlerFuture, PartnerEvent, PartnerEventKind};
use trellis_directory::work_queues::{self, CountFuture, WorkQueue};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Membership, Scope, ScopedTx};
use trellis_jobs::{Job, JobOptions, enqueue};

use crate::claims;
use crate::ledger::{self, Account, JournalEntry};
use crate::statuses::{self, Actor, CommissionStatus, HoldReason};

/// The release clock moves commissions whose hold has ended to payable, for every partner.
pub const COMMISSION_RELEASE: SystemGrant = SystemGrant {
    name: "commission_release",
    reason: "the release clock makes commissions payable when their invoice is paid and their hold has ended, and a renewed licence releases the commissions held for it; no person runs it",
};

/// Staff who write money: owners, admins and finance.
pub const MONEY_WRITERS: &[VendorRole] = &[VendorRole::Owner, VendorRole::Admin, VendorRole::Finance];

/// The most commissions one run of the release clock moves; a larger backlog takes more runs.
pub const RELEASE_BATCH: i64 = 500;

/// The largest bonus: 10^12 minor units.
pub const MAX_BONUS_MINOR: i64 = 1_000_000_000_000;

string_enum!(
    /// What a commission pays for.
    CommissionKind {
        Lead => "lead",
        Sale => "sale",
        Override => "override",
        Bonus => "bonus",
        Reversal => "reversal",
        Clawback => "clawback",
    }
);

impl CommissionKind {
    pub fn label(self) -> &'static str {
        match self {
            CommissionKind::Lead => "Lead",
            CommissionKind::Sale => "Sale",
            CommissionKind::Override => "Override",
            CommissionKind::Bonus => "Bonus",
            CommissionKind::Reversal => "Reversal",
            CommissionKind::Clawback => "Clawback",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Commission {
    pub id: CommissionId,
    pub partner_id: PartnerId,
    pub partner_name: String,
    pub program_id: Option<ProgramId>,
    pub conversion_id: Option<ConversionId>,
    pub kind: CommissionKind,
    /// Signed: a reversal or a clawback is negative.
    pub amount_minor: i64,
    pub currency: Currency,
    /// The sale amount the commission is a share of.
    pub basis_minor: Option<i64>,
    pub rate_bps: Option<i64>,
    /// The partner's share of the sale (a deal's credit split).
    pub share_bps: Option<i64>,
    pub plan_version: Option<i64>,
    pub status: CommissionStatus,
    pub hold_reason: Option<HoldReason>,
    /// Why a clawback, reversal or bonus exists (`refund`, `bonus`, `spiff`); the partner sees it.
    pub reason_code: Option<String>,
    pub note: Option<String>,
    pub account: Account,
    pub invoice_id: Option<String>,
    pub invoice_paid_at: Option<Timestamp>,
    /// When the hold ends; `None` while the invoice is unpaid.
    pub payable_at: Option<Timestamp>,
    pub adjusts_commission_id: Option<CommissionId>,
    pub payout_run_id: Option<String>,
    pub created_by_user_id: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub(crate) const COLUMNS: &str =
    "c.id, c.partner_id, p.name AS partner_name, c.program_id, c.conversion_id, c.kind, c.amount_minor, c.currency,
     c.basis_minor, c.rate_bps, c.share_bps, c.plan_version, c.status, c.hold_reason, c.reason_code, c.note, c.account, c.invoice_id,
     c.invoice_paid_at, c.payable_at, c.adjusts_commission_id, c.payout_run_id, c.created_by_user_id, c.created_at, c.updated_at";

/// Commissions are read through the `commission_states` view: a run's claim decides the status
/// and account of the commissions in its range (`claims`).
pub(crate) const FROM: &str = " FROM commission_states c JOIN partners p ON p.workspace_id = c.workspace_id AND p.id = c.partner_id";

fn stored<T>(parsed: Option<T>, what: &str, text: &str) -> Result<T> {
    parsed.ok_or_else(|| Error::Internal(format!("stored commission {what} {text}")))
}

pub(crate) fn from_row(row: &Row) -> Result<Commission> {
    let kind: String = row.get("kind")?;
    let status: String = row.get("status")?;
    let account: String = row.get("account")?;
    let currency: String = row.get("currency")?;
    let hold: Option<String> = row.get("hold_reason")?;
    Ok(Commission {
        id: row.get("id")?,
        partner_id: row.get("partner_id")?,
        partner_name: row.get("partner_name")?,
        program_id: row.get("program_id")?,
        conversion_id: row.get("conversion_id")?,
        kind: stored(CommissionKind::parse(&kind), "kind", &kind)?,
        amount_minor: row.get("amount_minor")?,
        currency: stored(Currency::parse(&currency).ok(), "currency", &currency)?,
        basis_minor: row.get("basis_minor")?,
        rate_bps: row.get("rate_bps")?,
        share_bps: row.get("share_bps")?,
        plan_version: row.get("plan_version")?,
        status: stored(CommissionStatus::parse(&status), "status", &status)?,
        hold_reason: hold.map(|h| stored(HoldReason::parse(&h), "hold reason", &h)).transpose()?,
        reason_code: row.get("reason_code")?,
        note: row.get("note")?,
        account: stored(Account::parse(&account), "account", &account)?,
        invoice_id: row.get("invoice_id")?,
        invoice_paid_at: row.get("invoice_paid_at")?,
        payable_at: row.get("payable_at")?,
        adjusts_commission_id: row.get("adjusts_commission_id")?,
        payout_run_id: row.get("payout_run_id")?,
        created_by_user_id: row.get("created_by_user_id")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// A commission to create (the services fill it; [`insert_in`] writes and posts it).
#[derive(Debug, Clone)]
pub(crate) struct NewCommission {
    pub partner_id: PartnerId,
    pub program_id: Option<ProgramId>,
    pub conversion_id: Option<ConversionId>,
    pub kind: CommissionKind,
    pub amount_minor: i64,
    pub currency: Currency,
    pub basis_minor: Option<i64>,
    pub rate_bps: Option<i64>,
    pub share_bps: Option<i64>,
    pub plan_version: Option<i64>,
    pub status: CommissionStatus,
    pub hold_reason: Option<HoldReason>,
    pub reason_code: Option<String>,
    pub note: Option<String>,
    /// The account the accrual credits: pending for what is earned, payable for a clawback.
    pub account: Account,
    pub invoice_id: Option<String>,
    pub invoice_paid_at: Option<Timestamp>,
    pub payable_at: Option<Timestamp>,
    pub adjusts_commission_id: Option<CommissionId>,
}

/// The partner's money moves from `from` to `to` for a commission of `amount` (signed): a
/// positive one credits `to`, a negative one debits it.
fn movement(
    kind: &str,
    reference: &str,
    partner_id: &PartnerId,
    currency: Currency,
    amount: i64,
    from: Account,
    to: Account,
) -> JournalEntry {
    let entry = JournalEntry::new(kind, "commission", reference);
    if amount > 0 {
        entry.debit(from, partner_id, currency, amount).credit(to, partner_id, currency, amount)
    } else {
        entry.debit(to, partner_id, currency, -amount).credit(from, partner_id, currency, -amount)
    }
}

/// Writes a commission and posts its accrual (the vendor's expense against the partner's
/// `account`), in the caller's transaction.
pub(crate) async fn insert_in(tx: &mut ScopedTx, scope: &Scope, now: Timestamp, new: NewCommission) -> Result<CommissionId> {
    let id = CommissionId::generate();
    let payable_seq =
        if new.status == CommissionStatus::Payable { Some(claims::next_seq(tx, scope, new.currency, now).await?) } else { None };
    tx.execute(sql!(
        "INSERT INTO commissions (workspace_id, id, partner_id, program_id, conversion_id, kind, amount_minor, currency, basis_minor, rate_bps,
            share_bps, plan_version, status, hold_reason, reason_code, note, account, invoice_id, invoice_paid_at, payable_at, adjusts_commission_id,
            created_by_user_id, created_at, updated_at, payable_seq)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $23, $24)",
        scope.workspace_id(),
        &id,
        &new.partner_id,
        new.program_id.clone(),
        new.conversion_id.clone(),
        new.kind.as_str(),
        new.amount_minor,
        new.currency.code(),
        new.basis_minor,
        new.rate_bps,
        new.share_bps,
        new.plan_version,
        new.status.as_str(),
        new.hold_reason.map(|h| h.as_str()),
        new.reason_code.as_deref(),
        new.note.as_deref(),
        new.account.as_str(),
        new.invoice_id.as_deref(),
        new.invoice_paid_at,
        new.payable_at,
        new.adjusts_commission_id.clone(),
        scope.user_id().cloned(),
        now,
        payable_seq
    ))
    .await?;
    let entry =
        movement("commission.accrued", id.as_str(), &new.partner_id, new.currency, new.amount_minor, Account::VendorExpense, new.account);
    ledger::post(tx, scope, now, entry).await?;
    Ok(id)
}

/// Changes a commission's status along the table (409 otherwise) and records the transition's
/// audit event; the caller moves the money when the status change means it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn set_status_in(
    tx: &mut ScopedTx,
    scope: &Scope,
    now: Timestamp,
    commission: &Commission,
    to: CommissionStatus,
    actor: Actor,
    hold_reason: Option<HoldReason>,
    account: Account,
) -> Result<()> {
    let Some(transition) = statuses::find(commission.status, to, actor) else {
        return Err(Error::conflict(format!(
            "a {} commission cannot become {}",
            commission.status.label().to_lowercase(),
            to.label().to_lowercase()
        )));
    };
    // A payable commission may be gathered into a run meanwhile: with the claims taken (no run
    // gathers until this commits), it is read again. One that becomes payable is numbered for
    // the next run.
    if commission.status == CommissionStatus::Payable {
        claims::take(tx, scope, commission.currency, now).await?;
        let current = find_unchecked_in(tx, scope.workspace_id(), &commission.id).await?;
        if current.status != commission.status {
            return Err(Error::conflict(format!("the commission became {} meanwhile", current.status.label().to_lowercase())));
        }
    }
    let payable_seq =
        if to == CommissionStatus::Payable { Some(claims::next_seq(tx, scope, commission.currency, now).await?) } else { None };
    tx.execute(sql!(
        "UPDATE commissions SET status = $3, hold_reason = $4, account = $5, updated_at = $6, payable_seq = $7 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        &commission.id,
        to.as_str(),
        hold_reason.map(|h| h.as_str()),
        account.as_str(),
        now,
        payable_seq
    ))
    .await?;
    let mut entry = AuditEntry::new(transition.action, "commission", commission.id.as_str())
        .set("partner_id", json!(commission.partner_id))
        .change("status", commission.status.as_str(), to.as_str());
    if hold_reason != commission.hold_reason {
        entry = entry.change("hold_reason", json!(commission.hold_reason), json!(hold_reason));
    }
    audit::record(tx, scope, now, entry).await?;
    Ok(())
}

/// Moves a pending commission whose hold has ended to payable: its money from the partner's
/// pending account to its payable account.
pub(crate) async fn release_in(tx: &mut ScopedTx, scope: &Scope, now: Timestamp, commission: &Commission) -> Result<()> {
    let entry = movement(
        "commission.released",
        commission.id.as_str(),
        &commission.partner_id,
        commission.currency,
        commission.amount_minor,
        Account::CommissionPending,
        Account::CommissionPayable,
    );
    ledger::post(tx, scope, now, entry).await?;
    set_status_in(tx, scope, now, commission, CommissionStatus::Payable, Actor::System, None, Account::CommissionPayable).await
}

/// Makes the release clock run at `at` for the workspace (one job per moment; a run releases
/// everything due by then, so a missed or repeated run is harmless).
pub(crate) async fn schedule_release_in(tx: &mut ScopedTx, workspace_id: &WorkspaceId, at: Timestamp, now: Timestamp) -> Result<()> {
    let job = ReleaseDueCommissions { due_at: at };
    let key = format!("commission_release:{}", at.micros() / 1_000_000);
    enqueue(tx, &job, JobOptions::in_workspace(workspace_id, at).dedupe_key(key), now).await?;
    Ok(())
}

/// Either releases a commission at once (its hold already ended) or schedules the clock for it.
pub(crate) async fn release_or_schedule_in(tx: &mut ScopedTx, scope: &Scope, now: Timestamp, id: &CommissionId) -> Result<()> {
    let commission = find_unchecked_in(tx, scope.workspace_id(), id).await?;
    match commission.payable_at {
        Some(at) if commission.status == CommissionStatus::Pending && at <= now => release_in(tx, scope, now, &commission).await,
        Some(at) if commission.status == CommissionStatus::Pending => schedule_release_in(tx, scope.workspace_id(), at, now).await,
        _ => Ok(()),
    }
}

/// The release clock: makes payable every pending commission of the workspace whose hold has
/// ended (at most [`RELEASE_BATCH`] per run; it enqueues its own next run when more wait).
#[derive(Debug, Serialize, Deserialize)]
pub struct ReleaseDueCommissions {
    pub due_at: Timestamp,
}

impl Job for ReleaseDueCommissions {
    const KIND: &'static str = "commission_release";
}

/// Runs [`ReleaseDueCommissions`]: answers how many commissions became payable.
pub async fn release_due(ctx: &Ctx, workspace_id: &WorkspaceId) -> Result<usize> {
    let now = ctx.now();
    let scope = Scope::system(workspace_id.clone(), &COMMISSION_RELEASE);
    let mut tx = scope.write(ctx).await?;
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(FROM).push(" WHERE c.workspace_id = ").push_bind(workspace_id);
    q.push(" AND c.status = 'pending' AND c.payable_at <= ").push_bind(now);
    q.push(" ORDER BY c.payable_at, c.id LIMIT ").push_bind(RELEASE_BATCH);
    let due: Vec<Commission> = tx.fetch_all(q).await?.iter().map(from_row).collect::<Result<_>>()?;
    for commission in &due {
        release_in(&mut tx, &scope, now, commission).await?;
    }
    if i64::try_from(due.len()).unwrap_or(i64::MAX) >= RELEASE_BATCH {
        schedule_release_in(&mut tx, workspace_id, now, now).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

/// A commission by id inside the caller's transaction, without the visibility check (the caller
/// made it, or found it through something it sees).
pub(crate) async fn find_unchecked_in(tx: &mut ScopedTx, workspace_id: &WorkspaceId, id: &CommissionId) -> Result<Commission> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(FROM).push(" WHERE c.workspace_id = ").push_bind(workspace_id).push(" AND c.id = ").push_bind(id);
    from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

/// Appends who may read which commissions: a partner its own organisation's (money is private to
/// each organisation), staff those of the partners they see.
fn push_money_filter(tx: &ScopedTx, scope: &Scope, q: &mut Sql) {
    match scope.membership() {
        Membership::Partner { partner_id, .. } => {
            q.push("c.partner_id = ").push_bind(partner_id);
        }
        _ => tx.push_partner_filter(q, "c.partner_id"),
    }
}

/// The partner roles that read their organisation's money (the portal's navigation offers the
/// earnings pages to them alone).
pub const PARTNER_MONEY_READERS: &[PartnerRole] = PartnerRole::MONEY_MANAGERS;

/// Partner users who read money: their organisation's admins and finance people (403 for the
/// others); every staff role reads it.
pub fn require_money_reader(scope: &Scope) -> Result<()> {
    match scope.membership() {
        Membership::Partner { role, .. } if !PARTNER_MONEY_READERS.contains(role) => {
            Err(Error::forbidden("only a partner's admins and finance people read its money"))
        }
        _ => Ok(()),
    }
}

/// One commission the caller may read (404 for one that is not its money).
pub async fn find_in(tx: &mut ScopedTx, scope: &Scope, id: &CommissionId) -> Result<Commission> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS)
        .push(FROM)
        .push(" WHERE c.workspace_id = ")
        .push_bind(scope.workspace_id())
        .push(" AND c.id = ")
        .push_bind(id)
        .push(" AND ");
    push_money_filter(tx, scope, &mut q);
    let commission = from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)?;
    require_money_reader(scope)?;
    Ok(commission)
}

/// `GET /api/v1/commissions/{id}`.
pub async fn get(ctx: &Ctx, scope: &Scope, id: &CommissionId) -> Result<Commission> {
    let mut tx = scope.read(ctx).await?;
    let commission = find_in(&mut tx, scope, id).await?;
    tx.commit().await?;
    Ok(commission)
}

/// Which commissions a list shows.
#[derive(Debug, Clone, Default)]
pub struct CommissionFilter {
    pub partner_id: Option<PartnerId>,
    pub status: Option<CommissionStatus>,
    pub kind: Option<CommissionKind>,
    pub program_id: Option<ProgramId>,
    pub conversion_id: Option<ConversionId>,
    pub hold_reason: Option<HoldReason>,
    pub currency: Option<Currency>,
    pub created_from: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    pub cursor: Option<CommissionId>,
    pub limit: Option<i64>,
}

/// `GET /api/v1/commissions`: newest first. A filter by a partner whose money the caller may not
/// read is an empty list.
pub async fn list(ctx: &Ctx, scope: &Scope, filter: &CommissionFilter) -> Result<Page<Commission>> {
    let mut tx = scope.read(ctx).await?;
    let page = list_in(&mut tx, scope, filter).await?;
    tx.commit().await?;
    Ok(page)
}

/// [`list`] inside the caller's transaction.
pub async fn list_in(tx: &mut ScopedTx, scope: &Scope, filter: &CommissionFilter) -> Result<Page<Commission>> {
    require_money_reader(scope)?;
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(FROM).push(" WHERE c.workspace_id = ").push_bind(scope.workspace_id()).push(" AND ");
    push_money_filter(tx, scope, &mut q);
    if let Some(partner_id) = &filter.partner_id {
        q.push(" AND c.partner_id = ").push_bind(partner_id);
    }
    if let Some(status) = filter.status {
        q.push(" AND c.status = ").push_bind(status.as_str());
    }
    if let Some(kind) = filter.kind {
        q.push(" AND c.kind = ").push_bind(kind.as_str());
    }
    if let Some(program_id) = &filter.program_id {
        q.push(" AND c.program_id = ").push_bind(program_id);
    }
    if let Some(conversion_id) = &filter.conversion_id {
        q.push(" AND c.conversion_id = ").push_bind(conversion_id);
    }
    if let Some(reason) = filter.hold_reason {
        q.push(" AND c.hold_reason = ").push_bind(reason.as_str());
    }
    if let Some(currency) = filter.currency {
        q.push(" AND c.currency = ").push_bind(currency.code());
    }
    if let Some(from) = filter.created_from {
        q.push(" AND c.created_at >= ").push_bind(from);
    }
    if let Some(before) = filter.created_before {
        q.push(" AND c.created_at < ").push_bind(before);
    }
    if let Some(cursor) = &filter.cursor {
        q.push(" AND c.id < ").push_bind(cursor);
    }
    q.push(" ORDER BY c.id DESC LIMIT ").push_bind(trellis_core::page::fetch_limit(filter.limit));
    let rows: Vec<Commission> = tx.fetch_all(q).await?.iter().map(from_row).collect::<Result<_>>()?;
    Ok(Page::from_rows(rows, filter.limit, |c| c.id.to_string()))
}

/// What was earned in one calendar month (UTC) in one currency: the sum of the commissions
/// created in it, adjustments (negative) included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthTotal {
    pub year: i32,
    /// 1 to 12.
    pub month: u8,
    pub currency: Currency,
    pub amount_minor: i64,
    pub count: i64,
}

/// The most commissions [`monthly_totals`] reads; a partner with more in the period sees the
/// months it read (the chart is an overview, the list is exact).
pub const MONTHLY_TOTALS_ROWS: i64 = 100_000;

/// The caller's earnings per month since `since` (the earnings chart of the portal), oldest first:
/// a partner's own commissions, staff's of the partners they see (optionally one partner).
pub async fn monthly_totals(ctx: &Ctx, scope: &Scope, partner_id: Option<&PartnerId>, since: Timestamp) -> Result<Vec<MonthTotal>> {
    require_money_reader(scope)?;
    let mut tx = scope.read(ctx).await?;
    let mut q = Sql::build("SELECT c.created_at, c.currency, c.amount_minor");
    q.push(FROM).push(" WHERE c.workspace_id = ").push_bind(scope.workspace_id()).push(" AND ");
    push_money_filter(&tx, scope, &mut q);
    if let Some(partner_id) = partner_id {
        q.push(" AND c.partner_id = ").push_bind(partner_id);
    }
    q.push(" AND c.created_at >= ").push_bind(since).push(" ORDER BY c.created_at LIMIT ").push_bind(MONTHLY_TOTALS_ROWS);
    let rows = tx.fetch_all(q).await?;
    tx.commit().await?;
    let mut totals: std::collections::BTreeMap<(i32, u8, String), (i64, i64)> = std::collections::BTreeMap::new();
    for row in &rows {
        let at: Timestamp = row.get("created_at")?;
        let currency: String = row.get("currency")?;
        let amount: i64 = row.get("amount_minor")?;
        let date = at.to_datetime();
        let entry = totals.entry((date.year(), u8::from(date.month()), currency)).or_insert((0, 0));
        entry.0 = entry.0.saturating_add(amount);
        entry.1 += 1;
    }
    totals
        .into_iter()
        .map(|((year, month, currency), (amount_minor, count))| {
            Ok(MonthTotal { year, month, currency: stored(Currency::parse(&currency).ok(), "currency", &currency)?, amount_minor, count })
        })
        .collect()
}

/// A partner's money in one currency, as the balance endpoint answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyBalance {
    pub currency: Currency,
    pub pending_minor: i64,
    /// May be negative after a clawback of paid money.
    pub payable_minor: i64,
    /// In an approved payout run, not yet confirmed paid.
    pub in_payout_minor: i64,
    pub paid_minor: i64,
}

/// `GET /api/v1/partners/{id}/balance`: from the ledger's running balances (404 for a partner
/// whose money is not the caller's).
pub async fn balance(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<CurrencyBalance>> {
    let balances = ledger::balances(ctx, scope, partner_id).await?;
    let mut out: Vec<CurrencyBalance> = Vec::new();
    for b in balances {
        let index = match out.iter().position(|c| c.currency == b.currency) {
            Some(i) => i,
            None => {
                out.push(CurrencyBalance { currency: b.currency, pending_minor: 0, payable_minor: 0, in_payout_minor: 0, paid_minor: 0 });
                out.len() - 1
            }
        };
        let row = &mut out[index];
        match b.account {
            Account::CommissionPending => row.pending_minor += b.amount_minor(),
            Account::CommissionPayable => row.payable_minor += b.amount_minor(),
            Account::PayoutClearing => row.in_payout_minor += b.amount_minor(),
            Account::CommissionPaid => row.paid_minor += b.amount_minor(),
            // What the partner owes back is netted into payable (a clawback posts there).
            Account::ClawbackReceivable => row.payable_minor -= b.amount_minor(),
            Account::VendorExpense => {}
        }
    }
    out.sort_by(|a, b| a.currency.code().cmp(b.currency.code()));
    Ok(out)
}

/// A manual bonus or SPIFF (`POST /api/v1/commissions`).
#[derive(Debug, Clone)]
pub struct NewBonus {
    pub partner_id: PartnerId,
    pub amount_minor: i64,
    pub currency: String,
    /// `bonus` or `spiff`.
    pub reason_code: String,
    /// Why, in words the partner reads.
    pub note: String,
    pub program_id: Option<ProgramId>,
}

/// Awards a bonus or SPIFF: payable at once (no invoice, no hold), or on hold while the partner's
/// licence has lapsed. Owners, admins and finance.
pub async fn award_bonus(ctx: &Ctx, scope: &Scope, input: NewBonus) -> Result<Commission> {
    let now = ctx.now();
    if scope.partner().is_some() {
        return Err(Error::forbidden("partners do not award bonuses"));
    }
    scope.require_vendor_role(MONEY_WRITERS, "award bonuses")?;
    let mut tx = scope.write(ctx).await?;
    tx.see_partner(&input.partner_id).await.map_err(|e| match e {
        Error::NotFound => Error::invalid("partner_id", "no such partner"),
        other => other,
    })?;
    let mut v = Validation::new();
    if !(1..=MAX_BONUS_MINOR).contains(&input.amount_minor) {
        v.add("amount.amount_minor", format!("must be between 1 and {MAX_BONUS_MINOR} minor units"));
    }
    let currency = v.check("amount.currency", Currency::parse(&input.currency));
    if !matches!(input.reason_code.as_str(), "bonus" | "spiff") {
        v.add("kind", "must be bonus or spiff");
    }
    let note = v.text("reason", &input.note, 500);
    if let Some(program_id) = &input.program_id {
        let found = tx
            .fetch_i64(sql!("SELECT COUNT(*) AS n FROM programs WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), program_id))
            .await?;
        if found == 0 {
            v.add("program_id", "no such program");
        }
    }
    v.finish().map_err(Error::Validation)?;
    let (Some(currency), Some(note)) = (currency, note) else { return Err(Error::invalid("amount", "is not valid")) };
    let held = !trellis_records::compliance::is_compliant(&mut tx, scope.workspace_id(), &input.partner_id, now).await?;
    let new = NewCommission {
        partner_id: input.partner_id.clone(),
        program_id: input.program_id.clone(),
        conversion_id: None,
        kind: CommissionKind::Bonus,
        amount_minor: input.amount_minor,
        currency,
        basis_minor: None,
        rate_bps: None,
        share_bps: None,
        plan_version: None,
        status: if held { CommissionStatus::OnHold } else { CommissionStatus::Pending },
        hold_reason: held.then_some(HoldReason::LicenceExpired),
        reason_code: Some(input.reason_code.clone()),
        note: Some(note.clone()),
        account: Account::CommissionPending,
        invoice_id: None,
        invoice_paid_at: None,
        payable_at: Some(now),
        adjusts_commission_id: None,
    };
    let id = insert_in(&mut tx, scope, now, new).await?;
    let entry = AuditEntry::new("commission.awarded", "commission", id.as_str())
        .set("partner_id", json!(input.partner_id))
        .set("kind", input.reason_code.clone())
        .set("amount_minor", input.amount_minor)
        .set("currency", currency.code())
        .set("reason", note);
    audit::record(&mut tx, scope, now, entry).await?;
    release_or_schedule_in(&mut tx, scope, now, &id).await?;
    let commission = find_unchecked_in(&mut tx, scope.workspace_id(), &id).await?;
    tx.commit().await?;
    Ok(commission)
}

/// `POST /api/v1/commissions/{id}/hold`: finance holds a pending or payable commission (fraud
/// review or a manual hold); its money stays where it is, and payout runs leave it out.
pub async fn hold(ctx: &Ctx, scope: &Scope, id: &CommissionId, reason: HoldReason) -> Result<Commission> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let commission = find_in(&mut tx, scope, id).await?;
    if scope.partner().is_some() {
        return Err(Error::forbidden("partners do not hold commissions"));
    }
    scope.require_vendor_role(MONEY_WRITERS, "hold commissions")?;
    lock_in(&mut tx, scope.workspace_id(), id).await?;
    let commission = find_unchecked_in(&mut tx, scope.workspace_id(), &commission.id).await?;
    if reason == HoldReason::LicenceExpired {
        return Err(Error::invalid("reason", "licence holds are Trellis's own; choose fraud_review or manual"));
    }
    set_status_in(&mut tx, scope, now, &commission, CommissionStatus::OnHold, Actor::Staff, Some(reason), commission.account).await?;
    let commission = find_unchecked_in(&mut tx, scope.workspace_id(), id).await?;
    tx.commit().await?;
    Ok(commission)
}

/// `POST /api/v1/commissions/{id}/release`: ends a hold. The commission returns to where its
/// money is: payable, or pending (and payable at once when its hold period has ended).
pub async fn release_hold(ctx: &Ctx, scope: &Scope, id: &CommissionId) -> Result<Commission> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let commission = find_in(&mut tx, scope, id).await?;
    if scope.partner().is_some() {
        return Err(Error::forbidden("partners do not release commissions"));
    }
    scope.require_vendor_role(MONEY_WRITERS, "release commissions")?;
    lock_in(&mut tx, scope.workspace_id(), id).await?;
    let commission = find_unchecked_in(&mut tx, scope.workspace_id(), &commission.id).await?;
    if commission.hold_reason == Some(HoldReason::LicenceExpired)
        && !trellis_records::compliance::is_compliant(&mut tx, scope.workspace_id(), &commission.partner_id, now).await?
    {
        return Err(Error::conflict("the partner's licence has lapsed; the commission is released when it is renewed"));
    }
    unhold_in(&mut tx, scope, now, &commission, Actor::Staff).await?;
    let commission = find_unchecked_in(&mut tx, scope.workspace_id(), id).await?;
    tx.commit().await?;
    Ok(commission)
}

/// The reversal that nets `c` where its money sits: the opposite amount in the same account and
/// status, adjusting `adjusts` (a rejection, an overturned give-back).
fn netting(c: &Commission, reason_code: &str, note: &str, adjusts: CommissionId) -> NewCommission {
    NewCommission {
        partner_id: c.partner_id.clone(),
        program_id: c.program_id.clone(),
        conversion_id: c.conversion_id.clone(),
        kind: CommissionKind::Reversal,
        amount_minor: -c.amount_minor,
        currency: c.currency,
        basis_minor: None,
        rate_bps: None,
        share_bps: None,
        plan_version: c.plan_version,
        status: c.status,
        hold_reason: c.hold_reason,
        reason_code: Some(reason_code.to_owned()),
        note: Some(note.to_owned()),
        account: c.account,
        invoice_id: c.invoice_id.clone(),
        invoice_paid_at: c.invoice_paid_at,
        payable_at: c.payable_at,
        adjusts_commission_id: Some(adjusts),
    }
}

/// Rejects a commission held for review (a fraud rule, or held by hand): finance decided it is
/// not owed. An equal negative `reversal` (reason code `rejected`) nets its money where it sits,
/// and both become `reversed` (`commission.reversed`); a commission held for a lapsed licence is
/// not rejected (409: the renewal decides). Owners, admins and finance.
pub async fn reject(ctx: &Ctx, scope: &Scope, id: &CommissionId, note: &str) -> Result<Commission> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let commission = find_in(&mut tx, scope, id).await?;
    if scope.partner().is_some() {
        return Err(Error::forbidden("partners do not reject commissions"));
    }
    scope.require_vendor_role(MONEY_WRITERS, "reject commissions")?;
    lock_in(&mut tx, scope.workspace_id(), id).await?;
    let c = find_unchecked_in(&mut tx, scope.workspace_id(), &commission.id).await?;
    if c.status != CommissionStatus::OnHold || c.hold_reason == Some(HoldReason::LicenceExpired) || c.amount_minor <= 0 {
        return Err(Error::conflict("only a commission held for review is rejected"));
    }
    let note = if note.trim().is_empty() { "Rejected after review" } else { note.trim() };
    let reversal = insert_in(&mut tx, scope, now, netting(&c, "rejected", note, c.id.clone())).await?;
    for one in [c.clone(), find_unchecked_in(&mut tx, scope.workspace_id(), &reversal).await?] {
        set_status_in(&mut tx, scope, now, &one, CommissionStatus::Reversed, Actor::Staff, one.hold_reason, one.account).await?;
    }
    let commission = find_unchecked_in(&mut tx, scope.workspace_id(), id).await?;
    tx.commit().await?;
    Ok(commission)
}

/// The console home's queue: commissions staff held (for review or by hand) and must release or
/// leave held, for the staff who do (owners, admins, finance); the navigation counts it on
/// "Commissions". Holds for a lapsed licence end by themselves and are not counted.
pub const HELD: WorkQueue = WorkQueue {
    key: "commissions_held",
    title: "Commissions held for review",
    href: "/console/commissions/held",
    nav: Some("/console/commissions"),
    count: count_held,
};

fn count_held<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, _now: Timestamp) -> CountFuture<'a> {
    Box::pin(work_queues::count_for(tx, scope, MONEY_WRITERS, |tx, q| {
        q.push(" FROM commissions c WHERE c.workspace_id = ").push_bind(scope.workspace_id());
        q.push(" AND c.status = 'on_hold' AND c.hold_reason IN ('fraud_review', 'manual') AND ");
        tx.push_partner_filter(q, "c.partner_id");
    }))
}

/// What overturning a dispute of a commission did to it (the dispute table's effect,
/// `trellis_deals::disputes::TRANSITIONS`, decides when this runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisputeOverturn {
    /// A give-back (a clawback or a reversal, negative) not yet in a payout is undone: an equal
    /// positive adjustment of the same original commission, in the same account, and both are
    /// `reversed` (their money nets to zero where it sits; `commission.restored`).
    Restored(CommissionId),
    /// A held commission's hold is released (`commission.hold_released`).
    Released,
    /// Nothing in the ledger changes (paid, in a payout, or nothing to undo): finance follows up
    /// as the dispute's note tells the partner (a correcting bonus, say).
    Unchanged,
}

/// The partner's side of a commission dispute: the commission of the caller's own organisation
/// (404 for another's money, a distributor's reseller's included; 403 for roles that do not read
/// money), its row taken so that two disputes of it run one after the other. Staff do not
/// dispute (403): they decide.
pub async fn for_dispute_in(tx: &mut ScopedTx, scope: &Scope, id: &CommissionId) -> Result<Commission> {
    let commission = find_in(tx, scope, id).await?;
    match scope.membership() {
        Membership::Partner { .. } | Membership::System => {}
        Membership::Staff { .. } => return Err(Error::forbidden("the partner whose commission it is disputes it, not the vendor's staff")),
    }
    lock_in(tx, scope.workspace_id(), &commission.id).await?;
    find_unchecked_in(tx, scope.workspace_id(), id).await
}

/// The effect of an overturned dispute of a commission ([`DisputeOverturn`]), in the caller's
/// transaction (owners, admins and finance; the dispute service checks who resolves). Money
/// moves only through [`insert_in`] and the status table, so `trellis ledger verify` holds.
pub async fn overturn_dispute_in(
    tx: &mut ScopedTx,
    scope: &Scope,
    now: Timestamp,
    id: &CommissionId,
    dispute_id: &str,
    note: &str,
) -> Result<DisputeOverturn> {
    if scope.partner().is_some() {
        return Err(Error::forbidden("partners do not resolve disputes"));
    }
    scope.require_vendor_role(MONEY_WRITERS, "resolve commission disputes")?;
    find_in(tx, scope, id).await?;
    lock_in(tx, scope.workspace_id(), id).await?;
    let c = find_unchecked_in(tx, scope.workspace_id(), id).await?;
    let give_back = matches!(c.kind, CommissionKind::Clawback | CommissionKind::Reversal) && c.amount_minor < 0;
    let unpaid = matches!(c.status, CommissionStatus::Pending | CommissionStatus::Payable | CommissionStatus::OnHold);
    if give_back && unpaid {
        // The restoration adjusts the same original as the give-back, so a later refund of the
        // sale counts the original whole again.
        let adjusts = c.adjusts_commission_id.clone().unwrap_or_else(|| c.id.clone());
        let restored = insert_in(tx, scope, now, netting(&c, "dispute_overturned", note, adjusts)).await?;
        let entry = AuditEntry::new("commission.restored", "commission", restored.as_str())
            .set("partner_id", json!(c.partner_id))
            .set("restores", c.id.as_str())
            .set("amount_minor", -c.amount_minor)
            .set("currency", c.currency.code())
            .set("dispute_id", dispute_id);
        audit::record(tx, scope, now, entry).await?;
        for one in [c.clone(), find_unchecked_in(tx, scope.workspace_id(), &restored).await?] {
            set_status_in(tx, scope, now, &one, CommissionStatus::Reversed, Actor::System, one.hold_reason, one.account).await?;
        }
        return Ok(DisputeOverturn::Restored(restored));
    }
    if c.status == CommissionStatus::OnHold {
        if c.hold_reason == Some(HoldReason::LicenceExpired)
            && !trellis_records::compliance::is_compliant(tx, scope.workspace_id(), &c.partner_id, now).await?
        {
            return Err(Error::conflict("the partner's licence has lapsed; the commission is released when it is renewed"));
        }
        unhold_in(tx, scope, now, &c, Actor::Staff).await?;
        return Ok(DisputeOverturn::Released);
    }
    Ok(DisputeOverturn::Unchanged)
}

/// Takes the commission's row, so two changes of it run one after the other.
pub(crate) async fn lock_in(tx: &mut ScopedTx, workspace_id: &WorkspaceId, id: &CommissionId) -> Result<()> {
    tx.execute(sql!("UPDATE commissions SET updated_at = updated_at WHERE workspace_id = $1 AND id = $2", workspace_id, id)).await?;
    Ok(())
}

async fn unhold_in(tx: &mut ScopedTx, scope: &Scope, now: Timestamp, commission: &Commission, actor: Actor) -> Result<()> {
    let to = if commission.account == Account::CommissionPayable { CommissionStatus::Payable } else { CommissionStatus::Pending };
    set_status_in(tx, scope, now, commission, to, actor, None, commission.account).await?;
    if to == CommissionStatus::Pending {
        release_or_schedule_in(tx, scope, now, &commission.id).await?;
    }
    Ok(())
}

/// A renewed licence releases the partner's commissions held for its lapse. The licence change
/// enqueues this (its transaction may be a partner's, which does not see the vendor's side of the
/// ledger); the job releases the holds when the partner is compliant again.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReleaseLicenceHolds {
    pub partner_id: PartnerId,
}

impl Job for ReleaseLicenceHolds {
    const KIND: &'static str = "commission_licence_holds";
}

/// Enqueues [`ReleaseLicenceHolds`] in the caller's transaction (a licence of the partner changed).
pub async fn schedule_licence_release_in(
    tx: &mut ScopedTx,
    workspace_id: &WorkspaceId,
    partner_id: &PartnerId,
    now: Timestamp,
) -> Result<()> {
    let job = ReleaseLicenceHolds { partner_id: partner_id.clone() };
    enqueue(tx, &job, JobOptions::in_workspace(workspace_id, now), now).await?;
    Ok(())
}

/// The partner-event handler the binary registers: a licence change enqueues
/// [`ReleaseLicenceHolds`] (a renewal releases what its lapse held).
pub fn on_partner_event<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, event: &'a PartnerEvent) -> HandlerFuture<'a> {
    Box::pin(async move {
        match event.kind {
            PartnerEventKind::LicencesChanged => schedule_licence_release_in(tx, scope.workspace_id(), &event.partner_id, event.at).await,
            _ => Ok(()),
        }
    })
}

/// Runs [`ReleaseLicenceHolds`]: answers how many commissions it released.
pub async fn release_licence_holds(ctx: &Ctx, workspace_id: &WorkspaceId, job: &ReleaseLicenceHolds) -> Result<usize> {
    let now = ctx.now();
    let scope = Scope::system(workspace_id.clone(), &COMMISSION_RELEASE);
    let mut tx = scope.write(ctx).await?;
    if !trellis_records::compliance::is_compliant(&mut tx, workspace_id, &job.partner_id, now).await? {
        return Ok(0);
    }
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(FROM).push(" WHERE c.workspace_id = ").push_bind(workspace_id);
    q.push(" AND c.partner_id = ")
        .push_bind(&job.partner_id)
        .push(" AND c.status = 'on_hold' AND c.hold_reason = 'licence_expired' ORDER BY c.id");
    let held: Vec<Commission> = tx.fetch_all(q).await?.iter().map(from_row).collect::<Result<_>>()?;
    for commission in &held {
        unhold_in(&mut tx, &scope, now, commission, Actor::System).await?;
    }
    tx.commit().await?;
    Ok(held.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_movement_credits_the_target_for_earnings_and_debits_it_for_give_backs() {
        let p = PartnerId::generate();
        let eur = Currency::parse("EUR").expect("EUR");
        let earned = movement("commission.accrued", "com_1", &p, eur, 500, Account::VendorExpense, Account::CommissionPending);
        assert_eq!(earned.lines[0].account, Account::VendorExpense);
        assert_eq!(earned.lines[0].side, ledger::Side::Debit);
        assert_eq!(earned.lines[1].account, Account::CommissionPending);
        assert_eq!(earned.lines[1].side, ledger::Side::Credit);
        let clawed = movement("commission.accrued", "com_2", &p, eur, -300, Account::VendorExpense, Account::CommissionPayable);
        assert_eq!(
            (clawed.lines[0].account, clawed.lines[0].side, clawed.lines[0].amount_minor),
            (Account::CommissionPayable, ledger::Side::Debit, 300)
        );
        assert_eq!((clawed.lines[1].account, clawed.lines[1].side), (Account::VendorExpense, ledger::Side::Credit));
    }
}
