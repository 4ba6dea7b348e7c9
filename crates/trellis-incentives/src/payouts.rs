//! Payout runs (API.md "Commissions, balances, payouts"): finance gathers the payable balances of
//! one currency into a draft, a second person approves it (four eyes), and once the bank has paid
//! it, finance marks it paid; a draft or approved run may be cancelled.
//!
//! - **Gathering** sums each partner's payable commissions in the currency (clawbacks included,
//!   held commissions left out). A partner is paid when its sum is positive, at least its minimum
//!   (the lowest `min_payout` of the plans of the programs it is enrolled in), it has a payout
//!   method and is not in a cooling-off period after changing it; the others are listed as skipped
//!   with the reason. A negative sum (a clawback larger than what was earned since) is skipped and
//!   carries into the next run.
//! - **Claiming** is by ranges of numbers (`claims`, ADR 0020): the run takes the workspace's
//!   audit head and the currency's claim row before it reads anything, sums the payable
//!   commissions numbered after the watermark, and writes one item per partner paid with that
//!   range; no commission row is written. A second run started at once waits and then finds
//!   nothing new; a commission is paid once. The partners it leaves out (skipped, or summing to
//!   zero) go to the backlog with the number their unclaimed commissions start after, which the
//!   next run reads again; a cancelled run's commissions are numbered again after the watermark.
//! - **Money** ([`RUN_TRANSITIONS`], ADR 0019): approval moves each item's amount from the
//!   partner's payable account to payout clearing, marking paid from clearing to paid; cancelling
//!   an approved run moves it back — one ledger entry per item, posted together as one step
//!   (`ledger::post_many`) audited once by the run's own event. Commissions follow their item
//!   (`in_payout`, then `paid`; `payable` again on cancel) through the `commission_states` view.

use std::collections::{BTreeMap, HashMap};

use trellis_core::{CommissionId, Currency, Error, Page, PartnerId, PayoutRunId, Result, Timestamp, UserId, string_enum};
use trellis_db::{Row, Sql, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope, ScopedTx};

use crate::claims;
use crate::commissions::MONEY_WRITERS;
use crate::ledger::{self, Account, JournalEntry};
use crate::{payout_methods, plans};

/// Rows per multi-row statement of a run (items, skips, claimed partners).
const BATCH: usize = 500;

string_enum!(
    /// Where a run stands.
    RunStatus {
        Draft => "draft",
        Approved => "approved",
        Paid => "paid",
        Cancelled => "cancelled",
    }
);

string_enum!(
    /// Why a partner with payable money is not in a run.
    SkipReason {
        NoPayoutMethod => "no_payout_method",
        NegativeBalance => "negative_balance",
        CoolingOff => "cooling_off",
        BelowMinimum => "below_minimum",
    }
);

impl SkipReason {
    pub fn label(self) -> &'static str {
        match self {
            SkipReason::NoPayoutMethod => "No payout method",
            SkipReason::NegativeBalance => "Negative balance (a clawback carries over)",
            SkipReason::CoolingOff => "Payout method changed recently (cooling-off)",
            SkipReason::BelowMinimum => "Below the minimum payout",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PayoutItem {
    pub partner_id: PartnerId,
    pub partner_name: String,
    pub amount_minor: i64,
    pub commission_count: i64,
}

#[derive(Debug, Clone)]
pub struct PayoutSkip {
    pub partner_id: PartnerId,
    pub partner_name: String,
    pub reason: SkipReason,
    pub balance_minor: i64,
}

#[derive(Debug, Clone)]
pub struct PayoutRun {
    pub id: PayoutRunId,
    pub currency: Currency,
    pub status: RunStatus,
    pub total_minor: i64,
    pub item_count: i64,
    pub created_by_user_id: Option<UserId>,
    pub approved_by_user_id: Option<UserId>,
    pub created_at: Timestamp,
    pub approved_at: Option<Timestamp>,
    pub paid_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
}

/// A run with its items and skipped partners.
#[derive(Debug, Clone)]
pub struct RunDetail {
    pub run: PayoutRun,
    pub items: Vec<PayoutItem>,
    pub skipped: Vec<PayoutSkip>,
}

const RUN_COLUMNS: &str = "id, currency, status, total_minor, item_count, created_by_user_id, approved_by_user_id, created_at, approved_at, paid_at, cancelled_at";

fn run_from_row(row: &Row) -> Result<PayoutRun> {
    let currency: String = row.get("currency")?;
    let status: String = row.get("status")?;
    Ok(PayoutRun {
        id: row.get("id")?,
        currency: Currency::parse(&currency).map_err(|_| Error::Internal(format!("stored currency {currency}")))?,
        status: RunStatus::parse(&status).ok_or_else(|| Error::Internal(format!("stored run status {status}")))?,
        total_minor: row.get("total_minor")?,
        item_count: row.get("item_count")?,
        created_by_user_id: row.get("created_by_user_id")?,
        approved_by_user_id: row.get("approved_by_user_id")?,
        created_at: row.get("created_at")?,
        approved_at: row.get("approved_at")?,
        paid_at: row.get("paid_at")?,
        cancelled_at: row.get("cancelled_at")?,
    })
}

/// Runs are the vendor's: partners never see them (404; 403 for the list).
fn require_staff(scope: &Scope, missing: Error) -> Result<()> {
    if scope.partner().is_some() { Err(missing) } else { Ok(()) }
}

async fn find_run_in(tx: &mut ScopedTx, scope: &Scope, id: &PayoutRunId) -> Result<PayoutRun> {
    let mut q = Sql::build("SELECT ");
    q.push(RUN_COLUMNS).push(" FROM payout_runs WHERE workspace_id = ").push_bind(scope.workspace_id()).push(" AND id = ").push_bind(id);
    run_from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

async fn detail_in(tx: &mut ScopedTx, scope: &Scope, run: PayoutRun) -> Result<RunDetail> {
    let items = tx
        .fetch_all(sql!(
            "SELECT i.partner_id, p.name AS partner_name, i.amount_minor, i.commission_count FROM payout_items i
             JOIN partners p ON p.workspace_id = i.workspace_id AND p.id = i.partner_id
             WHERE i.workspace_id = $1 AND i.payout_run_id = $2 ORDER BY p.name, i.partner_id",
            scope.workspace_id(),
            &run.id
        ))
        .await?
        .iter()
        .map(|r| {
            Ok(PayoutItem {
                partner_id: r.get("partner_id")?,
                partner_name: r.get("partner_name")?,
                amount_minor: r.get("amount_minor")?,
                commission_count: r.get("commission_count")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let skipped = tx
        .fetch_all(sql!(
            "SELECT s.partner_id, p.name AS partner_name, s.reason, s.balance_minor FROM payout_skips s
             JOIN partners p ON p.workspace_id = s.workspace_id AND p.id = s.partner_id
             WHERE s.workspace_id = $1 AND s.payout_run_id = $2 ORDER BY p.name, s.partner_id",
            scope.workspace_id(),
            &run.id
        ))
        .await?
        .iter()
        .map(|r| {
            let reason: String = r.get("reason")?;
            Ok(PayoutSkip {
                partner_id: r.get("partner_id")?,
                partner_name: r.get("partner_name")?,
                reason: SkipReason::parse(&reason).ok_or_else(|| Error::Internal(format!("stored skip reason {reason}")))?,
                balance_minor: r.get("balance_minor")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RunDetail { run, items, skipped })
}

/// `GET /api/v1/payout-runs/{id}` (staff).
pub async fn get(ctx: &Ctx, scope: &Scope, id: &PayoutRunId) -> Result<RunDetail> {
    require_staff(scope, Error::NotFound)?;
    answer(scope.read(ctx).await?, scope, id).await
}

/// `GET /api/v1/payout-runs` (staff): newest first.
pub async fn list(ctx: &Ctx, scope: &Scope, cursor: Option<&PayoutRunId>, limit: Option<i64>) -> Result<Page<PayoutRun>> {
    require_staff(scope, Error::forbidden("payout runs are the vendor's"))?;
    let mut tx = scope.read(ctx).await?;
    let mut q = Sql::build("SELECT ");
    q.push(RUN_COLUMNS).push(" FROM payout_runs WHERE workspace_id = ").push_bind(scope.workspace_id());
    if let Some(cursor) = cursor {
        q.push(" AND id < ").push_bind(cursor);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(trellis_core::page::fetch_limit(limit));
    let rows: Vec<PayoutRun> = tx.fetch_all(q).await?.iter().map(run_from_row).collect::<Result<_>>()?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, limit, |r| r.id.to_string()))
}

/// The lowest `min_payout` in `currency` of the plans in force of each partner's programs.
async fn minimums_in(tx: &mut ScopedTx, scope: &Scope, currency: Currency, now: Timestamp) -> Result<HashMap<PartnerId, i64>> {
    let programs: Vec<trellis_core::ProgramId> = tx
        .fetch_all(sql!("SELECT DISTINCT program_id FROM commission_plans WHERE workspace_id = $1", scope.workspace_id()))
        .await?
        .iter()
        .map(|r| r.get("program_id"))
        .collect::<std::result::Result<_, _>>()?;
    let mut program_minimum = HashMap::new();
    for program_id in programs {
        if let Some(version) = plans::in_force_at(tx, scope, &program_id, now).await?
            && version.plan.currency == currency
            && let Some(min) = version.plan.min_payout_minor
        {
            program_minimum.insert(program_id, min);
        }
    }
    let mut out: HashMap<PartnerId, i64> = HashMap::new();
    if program_minimum.is_empty() {
        return Ok(out);
    }
    for row in tx.fetch_all(sql!("SELECT partner_id, program_id FROM enrollments WHERE workspace_id = $1", scope.workspace_id())).await? {
        let program_id: trellis_core::ProgramId = row.get("program_id")?;
        if let Some(min) = program_minimum.get(&program_id) {
            let partner_id: PartnerId = row.get("partner_id")?;
            let entry = out.entry(partner_id).or_insert(*min);
            *entry = (*entry).min(*min);
        }
    }
    Ok(out)
}

/// Why a partner with `total` payable is not paid, or `None` when it is.
fn skip_reason(
    total: i64,
    partner_id: &PartnerId,
    ready: &HashMap<PartnerId, payout_methods::Readiness>,
    minimums: &HashMap<PartnerId, i64>,
    now: Timestamp,
) -> Option<SkipReason> {
    let readiness = ready.get(partner_id);
    if total < 0 {
        Some(SkipReason::NegativeBalance)
    } else if !readiness.is_some_and(|r| r.has_method) {
        Some(SkipReason::NoPayoutMethod)
    } else if readiness.and_then(|r| r.cooling_off_until).is_some_and(|until| until > now) {
        Some(SkipReason::CoolingOff)
    } else if minimums.get(partner_id).is_some_and(|min| total < *min) {
        Some(SkipReason::BelowMinimum)
    } else {
        None
    }
}

/// What a run gathers for one partner: the sum and number of its unclaimed payable commissions,
/// and the number after which they start.
#[derive(Debug, Clone, Copy)]
struct Gathered {
    total: i64,
    count: i64,
    after: i64,
}

/// `POST /api/v1/payout-runs` (owners, admins, finance): a draft run of `currency` (module
/// documentation).
pub async fn create(ctx: &Ctx, scope: &Scope, currency: &str) -> Result<RunDetail> {
    require_staff(scope, Error::forbidden("payout runs are the vendor's"))?;
    scope.require_vendor_role(MONEY_WRITERS, "create payout runs")?;
    let currency = Currency::parse(currency).map_err(|e| Error::invalid("currency", e.to_string()))?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    // The claims first: a second run of the currency, and every change of a payable commission,
    // waits here until this one commits (`claims`).
    let row = claims::take(&mut tx, scope, currency, now).await?;
    let (watermark, through) = (row.claimed_through, row.last_seq);
    let id = PayoutRunId::generate();
    // Each partner's unclaimed payable commissions: those numbered after the watermark, and for
    // a partner an earlier run left out, its backlog since then.
    let mut gathered: BTreeMap<PartnerId, Gathered> = BTreeMap::new();
    for row in tx
        .fetch_all(sql!(
            "SELECT partner_id, CAST(SUM(amount_minor) AS BIGINT) AS total, COUNT(*) AS n FROM commissions
             WHERE workspace_id = $1 AND currency = $2 AND status = 'payable' AND payable_seq > $3 GROUP BY partner_id",
            scope.workspace_id(),
            currency.code(),
            watermark
        ))
        .await?
    {
        gathered.insert(row.get("partner_id")?, Gathered { total: row.get("total")?, count: row.get("n")?, after: watermark });
    }
    let backlog = claims::backlog_in(&mut tx, scope, currency, watermark).await?;
    for entry in &backlog {
        let g = gathered.entry(entry.partner_id.clone()).or_insert(Gathered { total: 0, count: 0, after: watermark });
        g.total = g.total.checked_add(entry.total_minor).ok_or_else(|| Error::invalid("currency", "a partner's total is too large"))?;
        g.count += entry.count;
        g.after = entry.after_seq;
    }
    let minimums = minimums_in(&mut tx, scope, currency, now).await?;
    let partners: Vec<PartnerId> = gathered.keys().cloned().collect();
    let ready = payout_methods::readiness_in(&mut tx, scope, &partners).await?;
    let mut skipped: Vec<(PartnerId, SkipReason, i64)> = Vec::new();
    let mut items: Vec<(PartnerId, Gathered)> = Vec::new();
    // Whose commissions stay payable (in the backlog, from where their unclaimed numbers start).
    let mut left: Vec<(PartnerId, i64)> = Vec::new();
    for (partner_id, g) in gathered {
        match skip_reason(g.total, &partner_id, &ready, &minimums, now) {
            None if g.total > 0 => items.push((partner_id, g)),
            reason => {
                if let Some(reason) = reason.filter(|_| g.total != 0) {
                    skipped.push((partner_id.clone(), reason, g.total));
                }
                if g.count > 0 {
                    left.push((partner_id, g.after));
                }
            }
        }
    }
    claims::replace_backlog(&mut tx, scope, currency, &backlog, &left).await?;
    claims::claim_through(&mut tx, scope, currency, through).await?;
    let total = items
        .iter()
        .try_fold(0i64, |sum, (_, g)| sum.checked_add(g.total))
        .ok_or_else(|| Error::invalid("currency", "the run's total is too large"))?;
    let item_count = i64::try_from(items.len()).unwrap_or(i64::MAX);
    tx.execute(sql!(
        "INSERT INTO payout_runs (workspace_id, id, currency, status, total_minor, item_count, created_by_user_id, created_at, updated_at)
         VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $7)",
        scope.workspace_id(),
        &id,
        currency.code(),
        total,
        item_count,
        scope.user_id().cloned(),
        now
    ))
    .await?;
    for chunk in items.chunks(BATCH) {
        let mut q = Sql::build(
            "INSERT INTO payout_items (workspace_id, payout_run_id, partner_id, currency, amount_minor, commission_count, run_status, after_seq, through_seq) VALUES ",
        );
        for (i, (partner_id, g)) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .push_bind(scope.workspace_id())
                .push(", ")
                .push_bind(&id)
                .push(", ")
                .push_bind(partner_id);
            q.push(", ").push_bind(currency.code()).push(", ").push_bind(g.total).push(", ").push_bind(g.count).push(", 'draft', ");
            q.push_bind(g.after).push(", ").push_bind(through).push(")");
        }
        tx.execute(q).await?;
    }
    for chunk in skipped.chunks(BATCH) {
        let mut q = Sql::build("INSERT INTO payout_skips (workspace_id, payout_run_id, partner_id, reason, balance_minor) VALUES ");
        for (i, (partner_id, reason, balance)) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .push_bind(scope.workspace_id())
                .push(", ")
                .push_bind(&id)
                .push(", ")
                .push_bind(partner_id);
            q.push(", ").push_bind(reason.as_str()).push(", ").push_bind(*balance).push(")");
        }
        tx.execute(q).await?;
    }
    let entry = AuditEntry::new("payout_run.created", "payout_run", id.as_str())
        .set("currency", currency.code())
        .set("total_minor", total)
        .set("items", item_count)
        .set("skipped", i64::try_from(skipped.len()).unwrap_or(i64::MAX));
    audit::record(&mut tx, scope, now, entry).await?;
    let run = find_run_in(&mut tx, scope, &id).await?;
    let detail = detail_in(&mut tx, scope, run).await?;
    tx.commit().await?;
    Ok(detail)
}

/// The run as it stands, read in the transaction that changed it, which then commits.
async fn answer(mut tx: ScopedTx, scope: &Scope, id: &PayoutRunId) -> Result<RunDetail> {
    let run = find_run_in(&mut tx, scope, id).await?;
    let detail = detail_in(&mut tx, scope, run).await?;
    tx.commit().await?;
    Ok(detail)
}

/// The money a run's change moves: each item's amount, one ledger entry of `kind` per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunMoney {
    pub kind: &'static str,
    pub from: Account,
    pub to: Account,
}

/// One allowed change of a run's status: the run's transition table (house rule), used by the
/// API, the console's buttons and docs/API.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunTransition {
    pub from: RunStatus,
    pub to: RunStatus,
    /// The audit action of the change.
    pub action: &'static str,
    /// The console's button for it.
    pub button: &'static str,
    /// The money it moves, if any.
    pub money: Option<RunMoney>,
    /// Where the run's commissions stand afterwards (a cancelled run's are `payable` again and
    /// leave the run).
    pub commission_status: &'static str,
    pub commission_account: Account,
}

const fn rt(
    from: RunStatus,
    to: RunStatus,
    action: &'static str,
    button: &'static str,
    money: Option<RunMoney>,
    commission_status: &'static str,
    commission_account: Account,
) -> RunTransition {
    RunTransition { from, to, action, button, money, commission_status, commission_account }
}

/// Every change of a run's status. Approval is by another person than the run's creator (four
/// eyes); marking a paid run paid again answers it as it is.
pub const RUN_TRANSITIONS: &[RunTransition] = &[
    rt(
        RunStatus::Draft,
        RunStatus::Approved,
        "payout_run.approved",
        "Approve",
        Some(RunMoney { kind: "payout.approved", from: Account::CommissionPayable, to: Account::PayoutClearing }),
        "in_payout",
        Account::PayoutClearing,
    ),
    rt(
        RunStatus::Approved,
        RunStatus::Paid,
        "payout_run.paid",
        "Mark paid",
        Some(RunMoney { kind: "payout.paid", from: Account::PayoutClearing, to: Account::CommissionPaid }),
        "paid",
        Account::CommissionPaid,
    ),
    rt(RunStatus::Draft, RunStatus::Cancelled, "payout_run.cancelled", "Cancel run", None, "payable", Account::CommissionPayable),
    rt(
        RunStatus::Approved,
        RunStatus::Cancelled,
        "payout_run.cancelled",
        "Cancel run",
        Some(RunMoney { kind: "payout.cancelled", from: Account::PayoutClearing, to: Account::CommissionPayable }),
        "payable",
        Account::CommissionPayable,
    ),
];

/// The change of a run from `from` to `to`, if the table has it.
pub fn run_transition(from: RunStatus, to: RunStatus) -> Option<&'static RunTransition> {
    RUN_TRANSITIONS.iter().find(|t| t.from == from && t.to == to)
}

/// The run table as docs/API.md prints it (a Markdown table).
pub fn run_markdown_table() -> String {
    let mut out = String::from(
        "| From | To | Audit action | Button | Money (one ledger entry per item) | Commissions become |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for t in RUN_TRANSITIONS {
        let money = t.money.map(|m| format!("`{}`: `{}` → `{}`", m.kind, m.from, m.to)).unwrap_or_else(|| "—".to_owned());
        out.push_str(&format!("| `{}` | `{}` | `{}` | {} | {money} | `{}` |\n", t.from, t.to, t.action, t.button, t.commission_status));
    }
    out
}

/// Moves run `id` to `to` by [`RUN_TRANSITIONS`] in one transaction: the run's row taken, the
/// four-eyes rule for approval, the items' money moved as one ledger step audited once (the
/// step's event is the change's), the commissions and items following in bulk.
async fn change(ctx: &Ctx, scope: &Scope, id: &PayoutRunId, to: RunStatus, what: &str) -> Result<RunDetail> {
    require_staff(scope, Error::NotFound)?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let run = find_run_in(&mut tx, scope, id).await?;
    scope.require_vendor_role(MONEY_WRITERS, what)?;
    if to == RunStatus::Cancelled {
        // The commissions given back are numbered for the next run: as a run's gathering does,
        // this takes the claims first.
        claims::take(&mut tx, scope, run.currency, now).await?;
    }
    tx.execute(sql!("UPDATE payout_runs SET updated_at = updated_at WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), id))
        .await?;
    let run = find_run_in(&mut tx, scope, id).await?;
    if run.status == RunStatus::Paid && to == RunStatus::Paid {
        return answer(tx, scope, id).await;
    }
    let Some(transition) = run_transition(run.status, to) else {
        let allowed: Vec<&str> = RUN_TRANSITIONS.iter().filter(|t| t.to == to).map(|t| t.from.as_str()).collect();
        return Err(Error::conflict(format!("this run is {}: only a run that is {} can be {to}", run.status, allowed.join(" or "))));
    };
    if to == RunStatus::Approved && run.created_by_user_id.is_some() && run.created_by_user_id.as_ref() == scope.user_id() {
        return Err(Error::forbidden("you created this run: another person approves it (four eyes)"));
    }
    let step = AuditEntry::new(transition.action, "payout_run", id.as_str()).change("status", run.status.as_str(), to.as_str());
    match transition.money {
        Some(money) => {
            let entries: Vec<JournalEntry> = tx
                .fetch_all(sql!(
                    "SELECT partner_id, amount_minor FROM payout_items WHERE workspace_id = $1 AND payout_run_id = $2 ORDER BY partner_id",
                    scope.workspace_id(),
                    &run.id
                ))
                .await?
                .iter()
                .map(|row| {
                    let partner_id: PartnerId = row.get("partner_id")?;
                    let amount: i64 = row.get("amount_minor")?;
                    Ok(JournalEntry::new(money.kind, "payout_item", format!("{}:{}", run.id, partner_id))
                        .debit(money.from, &partner_id, run.currency, amount)
                        .credit(money.to, &partner_id, run.currency, amount))
                })
                .collect::<Result<_>>()?;
            ledger::post_many(&mut tx, scope, now, step, &entries).await?;
        }
        None => {
            audit::record(&mut tx, scope, now, step).await?;
        }
    }
    // The commissions follow their item (`commission_states`); a cancelled run's leave its range.
    if to == RunStatus::Cancelled {
        let mut ranges: BTreeMap<(i64, i64), Vec<PartnerId>> = BTreeMap::new();
        for row in tx
            .fetch_all(sql!(
                "SELECT partner_id, after_seq, through_seq FROM payout_items WHERE workspace_id = $1 AND payout_run_id = $2 ORDER BY partner_id",
                scope.workspace_id(),
                id
            ))
            .await?
        {
            ranges.entry((row.get("after_seq")?, row.get("through_seq")?)).or_default().push(row.get("partner_id")?);
        }
        claims::renumber(&mut tx, scope, run.currency, now, &ranges).await?;
    }
    let (stamp, by) = match to {
        RunStatus::Approved => ("approved_at", Some("approved_by_user_id")),
        RunStatus::Paid => ("paid_at", Some("paid_by_user_id")),
        RunStatus::Cancelled => ("cancelled_at", Some("cancelled_by_user_id")),
        RunStatus::Draft => return Err(Error::Internal("no change leads back to draft".into())),
    };
    let mut items = Sql::build("UPDATE payout_items SET run_status = ");
    items.push_bind(to.as_str());
    if to != RunStatus::Cancelled {
        items.push(", ").push(stamp).push(" = ").push_bind(now);
    }
    items.push(" WHERE workspace_id = ").push_bind(scope.workspace_id()).push(" AND payout_run_id = ").push_bind(id);
    tx.execute(items).await?;
    let mut runs = Sql::build("UPDATE payout_runs SET status = ");
    runs.push_bind(to.as_str()).push(", ").push(stamp).push(" = ").push_bind(now).push(", updated_at = ").push_bind(now);
    if let Some(by) = by {
        runs.push(", ").push(by).push(" = ").push_bind(scope.user_id().cloned());
    }
    runs.push(" WHERE workspace_id = ").push_bind(scope.workspace_id()).push(" AND id = ").push_bind(id);
    tx.execute(runs).await?;
    answer(tx, scope, id).await
}

/// `POST /api/v1/payout-runs/{id}/approve`: a draft is approved by another person than the one
/// who created it (four eyes); its money moves to payout clearing.
pub async fn approve(ctx: &Ctx, scope: &Scope, id: &PayoutRunId) -> Result<RunDetail> {
    scope.require_recent_sign_in(ctx.now())?;
    change(ctx, scope, id, RunStatus::Approved, "approve payout runs").await
}

/// `POST /api/v1/payout-runs/{id}/mark-paid`: the bank paid an approved run; its commissions are
/// `paid`. Safe to repeat: a paid run answers as it is.
pub async fn mark_paid(ctx: &Ctx, scope: &Scope, id: &PayoutRunId) -> Result<RunDetail> {
    change(ctx, scope, id, RunStatus::Paid, "mark payout runs paid").await
}

/// `POST /api/v1/payout-runs/{id}/cancel`: a draft or approved run is cancelled; its commissions
/// are payable again (an approved run's money moves back from clearing).
pub async fn cancel(ctx: &Ctx, scope: &Scope, id: &PayoutRunId) -> Result<RunDetail> {
    change(ctx, scope, id, RunStatus::Cancelled, "cancel payout runs").await
}

/// The ids of the commissions each partner's item of a run pays (staff), oldest first; a
/// cancelled run has none left (they are payable again).
pub async fn commission_ids(ctx: &Ctx, scope: &Scope, id: &PayoutRunId) -> Result<HashMap<PartnerId, Vec<CommissionId>>> {
    require_staff(scope, Error::NotFound)?;
    let mut tx = scope.read(ctx).await?;
    let rows = tx
        .fetch_all(sql!(
            "SELECT c.partner_id, c.id FROM payout_items i JOIN commissions c ON c.workspace_id = i.workspace_id AND c.partner_id = i.partner_id
               AND c.currency = i.currency AND c.status = 'payable' AND c.payable_seq > i.after_seq AND c.payable_seq <= i.through_seq
             WHERE i.workspace_id = $1 AND i.payout_run_id = $2 AND i.run_status <> 'cancelled' ORDER BY c.partner_id, c.id",
            scope.workspace_id(),
            id
        ))
        .await?;
    tx.commit().await?;
    let mut ids: HashMap<PartnerId, Vec<CommissionId>> = HashMap::new();
    for row in rows {
        ids.entry(row.get("partner_id")?).or_default().push(row.get("id")?);
    }
    Ok(ids)
}

/// A text a spreadsheet would run as a formula starts with `'` (OWASP "CSV injection").
fn formula_safe(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() }
}

/// `GET /api/v1/payout-runs/{id}/export?format=csv`: one line per item (partner, amount, number
/// of commissions), amounts as decimal numbers of the currency.
pub async fn export_csv(ctx: &Ctx, scope: &Scope, id: &PayoutRunId) -> Result<String> {
    let detail = get(ctx, scope, id).await?;
    let exponent = u32::from(detail.run.currency.exponent());
    let decimal = |minor: i64| {
        let scale = 10i64.pow(exponent);
        if exponent == 0 {
            minor.to_string()
        } else {
            format!("{}.{:0width$}", minor / scale, (minor % scale).abs(), width = exponent as usize)
        }
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| Error::Internal(format!("writing the export: {e}"));
    writer.write_record(["partner_id", "partner_name", "amount", "currency", "commissions", "payout_run_id"]).map_err(csv_error)?;
    for item in &detail.items {
        writer
            .write_record([
                item.partner_id.as_str(),
                formula_safe(&item.partner_name).as_str(),
                decimal(item.amount_minor).as_str(),
                detail.run.currency.code(),
                item.commission_count.to_string().as_str(),
                detail.run.id.as_str(),
            ])
            .map_err(csv_error)?;
    }
    let bytes = writer.into_inner().map_err(|e| Error::Internal(format!("writing the export: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(format!("the export is not UTF-8: {e}")))
}

/// `GET /api/v1/payout-runs/{id}/export?format=sepa`: the run as a SEPA credit transfer file
/// (pain.001.001.09, [`crate::sepa`]) paying each item from the workspace's debtor account to the
/// partner's payout method. Owners, admins and finance only (it opens the sealed bank details);
/// only an approved or paid run (a draft is not yet agreed to be paid), only in euros, and only
/// once the workspace has a debtor account. Every export is audited with its totals and masked
/// account numbers, in the transaction that read the accounts.
pub async fn export_sepa(ctx: &Ctx, scope: &Scope, id: &PayoutRunId) -> Result<String> {
    require_staff(scope, Error::NotFound)?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let run = find_run_in(&mut tx, scope, id).await?;
    scope.require_vendor_role(payout_methods::STAFF, "export payment files")?;
    if !matches!(run.status, RunStatus::Approved | RunStatus::Paid) {
        return Err(Error::conflict(format!("only an approved or paid run is exported for the bank; this one is {}", run.status)));
    }
    if run.currency.code() != "EUR" {
        return Err(Error::conflict(format!(
            "SEPA credit transfers are in euros and this run is in {}: export it as CSV",
            run.currency.code()
        )));
    }
    let workspace = trellis_identity::workspaces::get_in(&mut tx, scope.workspace_id()).await?;
    let Some(debtor) = workspace.sepa_debtor else {
        return Err(Error::conflict(
            "set the account payouts are paid from first (Settings in the console, or sepa_debtor of PATCH /api/v1/workspace)",
        ));
    };
    let debtor = crate::sepa::Debtor {
        name: debtor.name,
        iban: trellis_core::Iban::parse(&debtor.iban).map_err(|e| Error::Internal(format!("the stored debtor IBAN: {e}")))?,
        bic: debtor
            .bic
            .map(|b| trellis_core::Bic::parse(&b).map_err(|e| Error::Internal(format!("the stored debtor BIC: {e}"))))
            .transpose()?,
    };
    let detail = detail_in(&mut tx, scope, run).await?;
    let partners: Vec<PartnerId> = detail.items.iter().map(|i| i.partner_id.clone()).collect();
    let mut accounts: HashMap<PartnerId, payout_methods::PayoutAccount> =
        payout_methods::decrypt_for_export_in(ctx, &mut tx, scope, &partners)
            .await?
            .into_iter()
            .map(|a| (a.partner_id.clone(), a))
            .collect();
    let remittance = format!("Commission payout {} {}", detail.run.id, workspace.name);
    let mut transfers = Vec::with_capacity(detail.items.len());
    for item in &detail.items {
        let Some(account) = accounts.remove(&item.partner_id) else {
            return Err(Error::conflict(format!("{} ({}) has no payout method any more", item.partner_name, item.partner_id)));
        };
        transfers.push(crate::sepa::Transfer {
            end_to_end_id: item.partner_id.to_string(),
            amount_minor: item.amount_minor,
            creditor_name: account.account_holder,
            iban: account.iban,
            bic: account.bic,
            remittance: remittance.clone(),
        });
    }
    let (xml, totals) = crate::sepa::credit_transfer(detail.run.id.as_str(), now, &debtor, &transfers);
    if totals.control_sum_minor != detail.run.total_minor {
        return Err(Error::Internal(format!(
            "the payment file of {} sums to {} and the run to {}",
            detail.run.id, totals.control_sum_minor, detail.run.total_minor
        )));
    }
    let entry = AuditEntry::new("payout_run.exported", "payout_run", id.as_str())
        .set("format", "sepa")
        .set("transactions", totals.transactions)
        .set("control_sum_minor", totals.control_sum_minor)
        .set("debtor_iban", debtor.iban.masked())
        .set("creditor_ibans", transfers.iter().map(|t| t.iban.masked()).collect::<Vec<_>>());
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(xml)
}

/// One payout to a partner: its item of a run (approved or paid; drafts and cancelled runs paid
/// nothing).
#[derive(Debug, Clone)]
pub struct Statement {
    pub payout_run_id: PayoutRunId,
    pub partner_id: PartnerId,
    pub currency: Currency,
    pub amount_minor: i64,
    pub commission_count: i64,
    pub status: RunStatus,
    pub approved_at: Option<Timestamp>,
    pub paid_at: Option<Timestamp>,
}

/// A statement with the commissions it pays (clawbacks netted in).
#[derive(Debug, Clone)]
pub struct StatementDetail {
    pub statement: Statement,
    pub commissions: Vec<crate::commissions::Commission>,
}

/// Whose statements the caller reads: a partner its own organisation's (admins and finance),
/// staff those of the partners they see; 404 otherwise (a distributor asking for its reseller's).
async fn see_money_in(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId) -> Result<()> {
    tx.see_partner(partner_id).await?;
    if !tx.can_see_money_of(partner_id).await? {
        return Err(Error::NotFound);
    }
    crate::commissions::require_money_reader(scope)
}

const STATEMENT_SELECT: &str =
    "SELECT i.payout_run_id, i.partner_id, i.currency, i.amount_minor, i.commission_count, i.run_status AS status,
     i.approved_at, i.paid_at FROM payout_items i WHERE i.run_status IN ('approved', 'paid') AND i.workspace_id = ";

fn statement_from_row(row: &Row) -> Result<Statement> {
    let currency: String = row.get("currency")?;
    let status: String = row.get("status")?;
    Ok(Statement {
        payout_run_id: row.get("payout_run_id")?,
        partner_id: row.get("partner_id")?,
        currency: Currency::parse(&currency).map_err(|_| Error::Internal(format!("stored currency {currency}")))?,
        amount_minor: row.get("amount_minor")?,
        commission_count: row.get("commission_count")?,
        status: RunStatus::parse(&status).ok_or_else(|| Error::Internal(format!("stored run status {status}")))?,
        approved_at: row.get("approved_at")?,
        paid_at: row.get("paid_at")?,
    })
}

/// `GET /api/v1/partners/{id}/statements`: the partner's payouts, newest first (at most 500).
pub async fn statements(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<Statement>> {
    let mut tx = scope.read(ctx).await?;
    see_money_in(&mut tx, scope, partner_id).await?;
    let mut q = Sql::build(STATEMENT_SELECT);
    q.push_bind(scope.workspace_id()).push(" AND i.partner_id = ").push_bind(partner_id).push(" ORDER BY i.payout_run_id DESC LIMIT 500");
    let rows: Vec<Statement> = tx.fetch_all(q).await?.iter().map(statement_from_row).collect::<Result<_>>()?;
    tx.commit().await?;
    Ok(rows)
}

/// `GET /api/v1/partners/{id}/statements/{run_id}`: one payout with its commissions.
pub async fn statement(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, run_id: &PayoutRunId) -> Result<StatementDetail> {
    let mut tx = scope.read(ctx).await?;
    see_money_in(&mut tx, scope, partner_id).await?;
    let mut q = Sql::build(STATEMENT_SELECT);
    q.push_bind(scope.workspace_id()).push(" AND i.partner_id = ").push_bind(partner_id).push(" AND i.payout_run_id = ").push_bind(run_id);
    let statement = statement_from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)?;
    let mut q = Sql::build("SELECT ");
    q.push(crate::commissions::COLUMNS).push(crate::commissions::FROM).push(" WHERE c.workspace_id = ").push_bind(scope.workspace_id());
    // The item's range finds its commissions by the partner's numbers, whatever its history.
    let range = tx
        .fetch_one(sql!(
            "SELECT after_seq, through_seq FROM payout_items WHERE workspace_id = $1 AND payout_run_id = $2 AND partner_id = $3",
            scope.workspace_id(),
            run_id,
            partner_id
        ))
        .await?;
    q.push(" AND c.partner_id = ").push_bind(partner_id).push(" AND c.currency = ").push_bind(statement.currency.code());
    q.push(" AND c.payable_seq > ")
        .push_bind(range.get::<i64>("after_seq")?)
        .push(" AND c.payable_seq <= ")
        .push_bind(range.get::<i64>("through_seq")?);
    q.push(" AND c.payout_run_id = ").push_bind(run_id).push(" ORDER BY c.id");
    let commissions = tx.fetch_all(q).await?.iter().map(crate::commissions::from_row).collect::<Result<_>>()?;
    tx.commit().await?;
    Ok(StatementDetail { statement, commissions })
}
