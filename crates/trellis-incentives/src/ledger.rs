//! The double-entry ledger (ADR 0016): append-only postings in integer minor units, each journal
//! entry balanced in one currency, and running balances per (workspace, partner, account,
//! currency) updated in the transaction that posts.
//!
//! - [`post`] writes one [`JournalEntry`] inside the caller's transaction: it refuses an entry
//!   whose debits and credits differ, a line of zero, negative or excessive amount, lines in
//!   different currencies, an unknown partner and a second entry of the same kind for the same
//!   reference, all before anything is written; then it records one audit event, appends the
//!   postings and moves the balances. Any error means the caller drops its transaction (as with
//!   every service error), so nothing of a refused entry is ever committed.
//! - [`post_many`] posts many entries as one step (a payout run's), with the same refusals,
//!   multi-row statements and one audit event for the step (ADR 0019).
//! - [`balances`] reads one partner's balances. Money is private to each organisation: a partner
//!   reads its own organisation's partner-facing accounts ([`Account::PARTNER_FACING`]), never a
//!   reseller's or a sibling's (a distributor sees its resellers' records, not their money);
//!   staff read every account of the partners they see. PostgreSQL row security says the same.
//! - [`verify`] recomputes everything from the postings (`trellis ledger verify`).
//!
//! Concurrency: a posting never reads a balance and writes it back. Each balance moves by one
//! atomic `INSERT … ON CONFLICT DO UPDATE SET balance = balance + delta`, which on PostgreSQL
//! takes the row's lock and adds to the latest committed value (no lost update under READ
//! COMMITTED), in one fixed order (partner, account) so two entries cannot deadlock on each
//! other's rows; the audit event is recorded first, so the workspace's audit head is always taken
//! before any balance row. SQLite serialises writers anyway (one writer, `BEGIN IMMEDIATE`).
//! Later balance-checked writes (a payout that must not exceed the payable balance) read the
//! balance this statement answers, under the lock it holds.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use trellis_core::{Currency, Error, JournalEntryId, PartnerId, PartnerRole, Result, Timestamp, Validation, VendorRole, string_enum};
use trellis_db::{Sql, SystemGrant, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Membership, Scope, ScopedTx};

/// `trellis ledger verify` reads every workspace's postings and balances.
pub const LEDGER_VERIFY: SystemGrant =
    SystemGrant { name: "ledger_verify", reason: "the ledger is verified as a whole, every workspace and partner, by an operator command" };

/// The largest amount one line may carry: 10^15 minor units (ten trillion euros). Far above any
/// commission or payout, and low enough that the sums of an entry's lines are checked, not wrapped.
pub const MAX_LINE_MINOR: i64 = 1_000_000_000_000_000;

/// Staff who may post: owners, admins and finance (and the system). Partners never post.
pub const POSTERS: &[VendorRole] = &[VendorRole::Owner, VendorRole::Admin, VendorRole::Finance];

string_enum!(
    /// An account of the chart. Every account is kept per partner: the vendor's expense and its
    /// payout clearing too (the vendor's side of that partner's entries), so no balance row is
    /// shared by every posting of a workspace.
    ///
    /// - `commission_pending`: earned, not yet payable (invoice unpaid or inside the hold period);
    ///   credit-normal.
    /// - `commission_payable`: payable at the next payout run, negative after a clawback of paid
    ///   money; credit-normal.
    /// - `commission_paid`: paid out to the partner, in total; credit-normal.
    /// - `clawback_receivable`: money the partner owes back (a clawback after payout), netted at
    ///   the next run; debit-normal.
    /// - `payout_clearing`: approved for payment, not yet confirmed paid; credit-normal.
    /// - `vendor_expense`: the vendor's commission expense for the partner; debit-normal.
    Account {
        CommissionPending => "commission_pending",
        CommissionPayable => "commission_payable",
        CommissionPaid => "commission_paid",
        ClawbackReceivable => "clawback_receivable",
        PayoutClearing => "payout_clearing",
        VendorExpense => "vendor_expense",
    }
);

impl Account {
    /// What a partner reads of its own money; the vendor's side of its entries stays the vendor's.
    /// The row-security policies of migration 20261206000040 name the same list (a test checks).
    pub const PARTNER_FACING: &'static [Account] =
        &[Account::CommissionPending, Account::CommissionPayable, Account::CommissionPaid, Account::ClawbackReceivable];

    pub fn is_partner_facing(self) -> bool {
        Self::PARTNER_FACING.contains(&self)
    }

    /// True when the account's normal balance is a credit (what the vendor owes or has paid the
    /// partner): its amount as people read it is the stored balance negated.
    pub fn is_credit_normal(self) -> bool {
        !matches!(self, Account::ClawbackReceivable | Account::VendorExpense)
    }
}

string_enum!(
    /// The side of a line. Stored signed: a debit positive, a credit negative.
    Side {
        Debit => "debit",
        Credit => "credit",
    }
);

/// One line of a journal entry: an amount (positive; the side gives its direction) on one
/// partner's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub account: Account,
    pub partner_id: PartnerId,
    pub currency: Currency,
    pub side: Side,
    pub amount_minor: i64,
}

impl Line {
    /// The stored, signed amount: debit positive, credit negative.
    pub fn signed_minor(&self) -> i64 {
        match self.side {
            Side::Debit => self.amount_minor,
            Side::Credit => -self.amount_minor,
        }
    }
}

/// A journal entry to post: what it records (`kind`, e.g. `commission.accrued`), what it is
/// about (`reference_type`/`reference_id`, e.g. a commission), and its lines. One entry of a
/// kind per reference: posting it again is refused (409), so a retry never doubles money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub kind: String,
    pub reference_type: String,
    pub reference_id: String,
    pub lines: Vec<Line>,
}

impl JournalEntry {
    pub fn new(kind: impl Into<String>, reference_type: impl Into<String>, reference_id: impl Into<String>) -> Self {
        Self { kind: kind.into(), reference_type: reference_type.into(), reference_id: reference_id.into(), lines: Vec::new() }
    }

    pub fn debit(self, account: Account, partner_id: &PartnerId, currency: Currency, amount_minor: i64) -> Self {
        self.line(Side::Debit, account, partner_id, currency, amount_minor)
    }

    pub fn credit(self, account: Account, partner_id: &PartnerId, currency: Currency, amount_minor: i64) -> Self {
        self.line(Side::Credit, account, partner_id, currency, amount_minor)
    }

    fn line(mut self, side: Side, account: Account, partner_id: &PartnerId, currency: Currency, amount_minor: i64) -> Self {
        self.lines.push(Line { account, partner_id: partner_id.clone(), currency, side, amount_minor });
        self
    }
}

/// A balance: the sum of one partner's postings to one account in one currency, debit positive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub partner_id: PartnerId,
    pub account: Account,
    pub currency: Currency,
    /// Debit positive, as stored.
    pub balance_minor: i64,
}

impl Balance {
    /// The amount as the account's holder reads it: what is owed to (or was paid to) the partner
    /// for the credit-normal accounts, the balance itself for the others.
    pub fn amount_minor(&self) -> i64 {
        if self.account.is_credit_normal() { self.balance_minor.saturating_neg() } else { self.balance_minor }
    }
}

/// A posted entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedEntry {
    pub id: JournalEntryId,
    pub currency: Currency,
    /// The sum of the debits (= of the credits).
    pub amount_minor: i64,
    /// The balances the entry moved, after it, in the order they were moved.
    pub balances: Vec<Balance>,
}

/// An entry's lines checked, and what it does to each balance.
#[derive(Debug)]
struct Checked {
    currency: Currency,
    total_minor: i64,
    /// Net change per (partner, account); the map's order is the order balance rows are taken.
    deltas: BTreeMap<(PartnerId, Account), i64>,
}

/// A dotted lowercase name (`commission.accrued`, `commission`), at most 64 characters.
fn is_name(text: &str) -> bool {
    text.len() <= 64
        && !text.is_empty()
        && text.split('.').all(|part| {
            part.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// Checks an entry without touching the database: every refusal of [`post`] except an unknown
/// partner, a repeated reference and a balance that would overflow.
fn check(entry: &JournalEntry) -> Result<Checked> {
    let mut v = Validation::new();
    if !is_name(&entry.kind) {
        v.add("kind", "must be a dotted lowercase name such as commission.accrued (at most 64 characters)");
    }
    if !is_name(&entry.reference_type) {
        v.add("reference_type", "must be a lowercase name such as commission (at most 64 characters)");
    }
    let reference_id = &entry.reference_id;
    if reference_id.is_empty() || reference_id.len() > 128 || reference_id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        v.add("reference_id", "must be 1 to 128 characters without spaces or control characters");
    }
    if entry.lines.len() < 2 {
        v.add("lines", "a journal entry has at least two lines");
    }
    let currency = entry.lines.first().map(|l| l.currency);
    for (i, line) in entry.lines.iter().enumerate() {
        if line.amount_minor <= 0 {
            v.add(&format!("lines[{i}].amount_minor"), "must be a positive number of minor units (the side says debit or credit)");
        } else if line.amount_minor > MAX_LINE_MINOR {
            v.add(&format!("lines[{i}].amount_minor"), format!("must be at most {MAX_LINE_MINOR} minor units"));
        }
        if let Some(first) = currency
            && line.currency != first
        {
            v.add(&format!("lines[{i}].currency"), format!("every line of an entry is in one currency ({first}), not {}", line.currency));
        }
    }
    v.finish().map_err(Error::Validation)?;
    let currency = currency.ok_or_else(|| Error::invalid("lines", "a journal entry has at least two lines"))?;
    let overflow = || Error::invalid("lines", "the entry's total is too large");
    let (mut debits, mut credits) = (0i64, 0i64);
    let mut deltas: BTreeMap<(PartnerId, Account), i64> = BTreeMap::new();
    for line in &entry.lines {
        match line.side {
            Side::Debit => debits = debits.checked_add(line.amount_minor).ok_or_else(overflow)?,
            Side::Credit => credits = credits.checked_add(line.amount_minor).ok_or_else(overflow)?,
        }
        let delta = deltas.entry((line.partner_id.clone(), line.account)).or_insert(0);
        *delta = delta.checked_add(line.signed_minor()).ok_or_else(overflow)?;
    }
    if debits != credits {
        return Err(Error::invalid(
            "lines",
            format!("the entry does not balance: debits {debits} and credits {credits} differ (a journal entry's lines sum to zero)"),
        ));
    }
    deltas.retain(|_, delta| *delta != 0);
    Ok(Checked { currency, total_minor: debits, deltas })
}

/// Posts `entry` inside the caller's transaction (module documentation): owners, admins, finance
/// and the system may post ([`POSTERS`]); partners never do (403). On any error the caller must
/// drop the transaction.
pub async fn post(tx: &mut ScopedTx, scope: &Scope, now: Timestamp, entry: JournalEntry) -> Result<PostedEntry> {
    if matches!(scope.membership(), Membership::Partner { .. }) {
        return Err(Error::forbidden("partners do not post to the ledger"));
    }
    scope.require_vendor_role(POSTERS, "post to the ledger")?;
    let checked = check(&entry)?;
    let workspace_id = scope.workspace_id().clone();

    let partners: BTreeSet<&PartnerId> = entry.lines.iter().map(|l| &l.partner_id).collect();
    let partners: Vec<&PartnerId> = partners.into_iter().collect();
    let mut q = Sql::build("SELECT id FROM partners WHERE workspace_id = ");
    q.push_bind(&workspace_id).push(" AND id IN ").push_in_list(&partners).push(" AND ");
    tx.push_partner_filter(&mut q, "partners.id");
    let found: BTreeSet<PartnerId> = tx.fetch_all(q).await?.iter().map(|r| r.get("id")).collect::<Result<_, _>>()?;
    if let Some(i) = entry.lines.iter().position(|l| !found.contains(&l.partner_id)) {
        return Err(Error::invalid(&format!("lines[{i}].partner_id"), "no such partner"));
    }

    let existing = tx
        .fetch_optional(sql!(
            "SELECT entry_id FROM ledger_postings WHERE workspace_id = $1 AND kind = $2 AND reference_type = $3 AND reference_id = $4 AND line = 1",
            &workspace_id,
            &entry.kind,
            &entry.reference_type,
            &entry.reference_id
        ))
        .await?;
    if let Some(row) = existing {
        let id: String = row.get("entry_id")?;
        return Err(already_posted(&entry, Some(&id)));
    }

    let id = JournalEntryId::generate();
    // The audit head first: every posting takes it before any balance row (the lock order).
    let lines: Vec<serde_json::Value> = entry
        .lines
        .iter()
        .map(|l| json!({"account": l.account, "partner_id": l.partner_id, "side": l.side, "amount_minor": l.amount_minor}))
        .collect();
    let audited = AuditEntry::new("ledger.posted", "journal_entry", id.as_str())
        .set("partner_id", json!(entry.lines[0].partner_id))
        .set("kind", entry.kind.clone())
        .set("reference_type", entry.reference_type.clone())
        .set("reference_id", entry.reference_id.clone())
        .set("currency", checked.currency.code())
        .set("amount_minor", checked.total_minor)
        .set("lines", lines);
    audit::record(tx, scope, now, audited).await?;

    let mut insert = Sql::build(
        "INSERT INTO ledger_postings (workspace_id, entry_id, line, kind, account, partner_id, currency, amount_minor, reference_type, reference_id, created_at) VALUES ",
    );
    for (i, line) in entry.lines.iter().enumerate() {
        let number = i64::try_from(i + 1).map_err(|_| Error::invalid("lines", "too many lines"))?;
        insert.push(if i == 0 { "(" } else { ", (" });
        insert.push_bind(&workspace_id).push(", ").push_bind(&id).push(", ").push_bind(number).push(", ").push_bind(&entry.kind);
        insert.push(", ").push_bind(line.account.as_str()).push(", ").push_bind(&line.partner_id);
        insert.push(", ").push_bind(line.currency.code()).push(", ").push_bind(line.signed_minor());
        insert.push(", ").push_bind(&entry.reference_type).push(", ").push_bind(&entry.reference_id).push(", ").push_bind(now).push(")");
    }
    tx.execute(insert).await.map_err(|e| if e.is_unique("ledger_postings") { already_posted(&entry, None) } else { e.into() })?;

    let mut balances = Vec::with_capacity(checked.deltas.len());
    for ((partner_id, account), delta) in &checked.deltas {
        // The bounds keep `balance + delta` inside i64 (SQLite would turn an overflow into a REAL).
        let (low, high) = if *delta > 0 { (i64::MIN, i64::MAX - delta) } else { (i64::MIN - delta, i64::MAX) };
        let row = tx
            .fetch_optional(sql!(
                "INSERT INTO ledger_balances (workspace_id, partner_id, account, currency, balance_minor, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (workspace_id, partner_id, account, currency) DO UPDATE
                   SET balance_minor = ledger_balances.balance_minor + excluded.balance_minor, updated_at = excluded.updated_at
                   WHERE ledger_balances.balance_minor BETWEEN $7 AND $8
                 RETURNING balance_minor",
                &workspace_id,
                partner_id,
                account.as_str(),
                checked.currency.code(),
                *delta,
                now,
                low,
                high
            ))
            .await?;
        let Some(row) = row else {
            return Err(Error::invalid("lines", format!("the {account} balance of {partner_id} in {} would overflow", checked.currency)));
        };
        balances.push(Balance {
            partner_id: partner_id.clone(),
            account: *account,
            currency: checked.currency,
            balance_minor: row.get("balance_minor")?,
        });
    }
    Ok(PostedEntry { id, currency: checked.currency, amount_minor: checked.total_minor, balances })
}

/// Lines per multi-row statement of [`post_many`] (11 parameters each: far below either database's
/// limit).
const MANY_BATCH: usize = 500;

/// What [`post_many`] posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedMany {
    pub entries: i64,
    /// The sum of the entries' debits (= of their credits) per currency code.
    pub totals: BTreeMap<String, i64>,
}

/// Posts many entries inside the caller's transaction as one step (a payout run's approval moves
/// tens of thousands of partners' money at once): the same refusals as [`post`], each entry
/// checked before anything is written, then multi-row inserts and one upsert per balance row
/// moved (the entries' deltas summed first), so the cost is a few statements per 500 lines
/// rather than a round trip per entry. The step is audited once: `step` — the caller's event,
/// e.g. `payout_run.approved` — is recorded first (the audit head before any balance row, the
/// lock order of [`post`]) with the number of entries and their totals; each entry is in the
/// postings with its id, kind and reference. On any error the caller must drop the transaction.
pub async fn post_many(tx: &mut ScopedTx, scope: &Scope, now: Timestamp, step: AuditEntry, entries: &[JournalEntry]) -> Result<PostedMany> {
    if matches!(scope.membership(), Membership::Partner { .. }) {
        return Err(Error::forbidden("partners do not post to the ledger"));
    }
    scope.require_vendor_role(POSTERS, "post to the ledger")?;
    let overflow = || Error::invalid("lines", "the entries' total is too large");
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    let mut deltas: BTreeMap<(PartnerId, Account, String), i64> = BTreeMap::new();
    for entry in entries {
        let checked = check(entry)?;
        let total = totals.entry(checked.currency.code().to_owned()).or_insert(0);
        *total = total.checked_add(checked.total_minor).ok_or_else(overflow)?;
        for ((partner_id, account), delta) in checked.deltas {
            let sum = deltas.entry((partner_id, account, checked.currency.code().to_owned())).or_insert(0);
            *sum = sum.checked_add(delta).ok_or_else(overflow)?;
        }
    }
    deltas.retain(|_, delta| *delta != 0);
    let workspace_id = scope.workspace_id().clone();

    let partners: Vec<&PartnerId> =
        entries.iter().flat_map(|e| e.lines.iter().map(|l| &l.partner_id)).collect::<BTreeSet<_>>().into_iter().collect();
    for chunk in partners.chunks(MANY_BATCH) {
        let mut q = Sql::build("SELECT id FROM partners WHERE workspace_id = ");
        q.push_bind(&workspace_id).push(" AND id IN ").push_in_list(chunk).push(" AND ");
        tx.push_partner_filter(&mut q, "partners.id");
        let found: BTreeSet<PartnerId> = tx.fetch_all(q).await?.iter().map(|r| r.get("id")).collect::<Result<_, _>>()?;
        if let Some(missing) = chunk.iter().find(|p| !found.contains(**p)) {
            return Err(Error::invalid("lines.partner_id", format!("no such partner: {missing}")));
        }
    }

    let entry_count = i64::try_from(entries.len()).map_err(|_| Error::invalid("entries", "too many entries"))?;
    let totals_json: serde_json::Map<String, serde_json::Value> = totals.iter().map(|(c, t)| (c.clone(), json!(t))).collect();
    audit::record(
        tx,
        scope,
        now,
        step.set("journal_entries", entry_count).set("amount_minor_by_currency", serde_json::Value::Object(totals_json)),
    )
    .await?;

    let lines: Vec<(&JournalEntry, JournalEntryId, i64, &Line)> = entries
        .iter()
        .flat_map(|entry| {
            let id = JournalEntryId::generate();
            entry.lines.iter().zip(1i64..).map(move |(line, number)| (entry, id.clone(), number, line))
        })
        .collect();
    for chunk in lines.chunks(MANY_BATCH) {
        let mut insert = Sql::build(
            "INSERT INTO ledger_postings (workspace_id, entry_id, line, kind, account, partner_id, currency, amount_minor, reference_type, reference_id, created_at) VALUES ",
        );
        for (i, (entry, id, number, line)) in chunk.iter().enumerate() {
            insert.push(if i == 0 { "(" } else { ", (" });
            insert.push_bind(&workspace_id).push(", ").push_bind(id).push(", ").push_bind(*number).push(", ").push_bind(&entry.kind);
            insert.push(", ").push_bind(line.account.as_str()).push(", ").push_bind(&line.partner_id);
            insert.push(", ").push_bind(line.currency.code()).push(", ").push_bind(line.signed_minor());
            insert
                .push(", ")
                .push_bind(&entry.reference_type)
                .push(", ")
                .push_bind(&entry.reference_id)
                .push(", ")
                .push_bind(now)
                .push(")");
        }
        tx.execute(insert)
            .await
            .map_err(|e| if e.is_unique("ledger_postings") { Error::conflict("one of the entries is already posted") } else { e.into() })?;
    }

    let deltas: Vec<((PartnerId, Account, String), i64)> = deltas.into_iter().collect();
    for chunk in deltas.chunks(MANY_BATCH) {
        let mut upsert =
            Sql::build("INSERT INTO ledger_balances (workspace_id, partner_id, account, currency, balance_minor, updated_at) VALUES ");
        for (i, ((partner_id, account, currency), delta)) in chunk.iter().enumerate() {
            upsert.push(if i == 0 { "(" } else { ", (" });
            upsert.push_bind(&workspace_id).push(", ").push_bind(partner_id).push(", ").push_bind(account.as_str());
            upsert.push(", ").push_bind(currency).push(", ").push_bind(*delta).push(", ").push_bind(now).push(")");
        }
        // The bounds keep `balance + delta` inside i64, as in `post` (written so that neither side
        // of a comparison overflows, and without the literal -2^63, which SQLite reads as a REAL).
        upsert.push(
            " ON CONFLICT (workspace_id, partner_id, account, currency) DO UPDATE
               SET balance_minor = ledger_balances.balance_minor + excluded.balance_minor, updated_at = excluded.updated_at
               WHERE (excluded.balance_minor > 0 AND ledger_balances.balance_minor <= 9223372036854775807 - excluded.balance_minor)
                  OR (excluded.balance_minor < 0 AND ledger_balances.balance_minor >= (-9223372036854775807 - 1) - excluded.balance_minor)
             RETURNING partner_id",
        );
        let moved = tx.fetch_all(upsert).await?.len();
        if moved != chunk.len() {
            return Err(Error::invalid("lines", "a balance would overflow"));
        }
    }
    Ok(PostedMany { entries: entry_count, totals })
}

fn already_posted(entry: &JournalEntry, id: Option<&str>) -> Error {
    let posted = id.map(|id| format!(" as {id}")).unwrap_or_default();
    Error::conflict(format!("{} of {} {} is already posted{posted}", entry.kind, entry.reference_type, entry.reference_id))
}

/// One partner's balances (every currency), in its own read transaction.
pub async fn balances(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<Balance>> {
    let mut tx = scope.read(ctx).await?;
    let out = balances_in(&mut tx, scope, partner_id).await?;
    tx.commit().await?;
    Ok(out)
}

/// [`balances`] inside the caller's transaction. 404 for a partner the caller does not see or
/// whose money is not the caller's (a distributor asking for its reseller's); then 403 for a
/// partner user who is not its organisation's admin or finance. Staff read every account, a
/// partner its partner-facing ones.
pub async fn balances_in(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<Balance>> {
    tx.see_partner(partner_id).await?;
    if !tx.can_see_money_of(partner_id).await? {
        return Err(Error::NotFound);
    }
    if let Membership::Partner { role, .. } = scope.membership()
        && !matches!(role, PartnerRole::Admin | PartnerRole::Finance)
    {
        return Err(Error::forbidden("only a partner's admins and finance people read its money"));
    }
    let mut q = Sql::build("SELECT account, currency, balance_minor FROM ledger_balances WHERE workspace_id = ");
    q.push_bind(scope.workspace_id()).push(" AND partner_id = ").push_bind(partner_id);
    if scope.partner().is_some() {
        let facing: Vec<&str> = Account::PARTNER_FACING.iter().map(|a| a.as_str()).collect();
        q.push(" AND account IN ").push_in_list(&facing);
    }
    q.push(" ORDER BY currency, account");
    tx.fetch_all(q)
        .await?
        .iter()
        .map(|row| {
            let account: String = row.get("account")?;
            let currency: String = row.get("currency")?;
            Ok(Balance {
                partner_id: partner_id.clone(),
                account: Account::parse(&account).ok_or_else(|| Error::Internal(format!("stored ledger account {account}")))?,
                currency: Currency::parse(&currency).map_err(|_| Error::Internal(format!("stored currency {currency}")))?,
                balance_minor: row.get("balance_minor")?,
            })
        })
        .collect()
}

/// A journal entry that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryProblem {
    pub workspace_id: String,
    pub entry_id: String,
    pub problem: String,
}

/// A stored balance that differs from the sum of its postings (`None`: no row, or no postings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceDifference {
    pub workspace_id: String,
    pub partner_id: String,
    pub account: String,
    pub currency: String,
    pub stored_minor: Option<i64>,
    pub recomputed_minor: Option<i64>,
}

/// A partner and currency whose commission records and ledger balances disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommissionDifference {
    pub workspace_id: String,
    /// The partner and the currency.
    pub subject: String,
    pub problem: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerReport {
    pub entries: i64,
    pub postings: i64,
    pub balances: i64,
    pub commissions: i64,
    pub entry_problems: Vec<EntryProblem>,
    pub differences: Vec<BalanceDifference>,
    pub commission_differences: Vec<CommissionDifference>,
}

impl LedgerReport {
    pub fn is_clean(&self) -> bool {
        self.entry_problems.is_empty() && self.differences.is_empty() && self.commission_differences.is_empty()
    }

    /// One line: the counts, and how many problems.
    pub fn summary(&self) -> String {
        let counts =
            format!("{} entries, {} postings, {} balances, {} commissions", self.entries, self.postings, self.balances, self.commissions);
        if self.is_clean() {
            format!("ledger ok: {counts}; every entry balances, every balance equals its postings and every commission its record")
        } else {
            format!(
                "ledger BROKEN: {counts}; {} entries do not hold together, {} balances differ from their postings, {} commissions from their records",
                self.entry_problems.len(),
                self.differences.len(),
                self.commission_differences.len()
            )
        }
    }

    /// One line per problem, for the operator.
    pub fn problems(&self) -> Vec<String> {
        let shown = |v: Option<i64>| v.map_or_else(|| "none".to_owned(), |v| v.to_string());
        let entries = self.entry_problems.iter().map(|p| format!("entry   {} {}: {}", p.workspace_id, p.entry_id, p.problem));
        let balances = self.differences.iter().map(|d| {
            format!(
                "balance {} {} {} {}: stored {}, postings sum to {}",
                d.workspace_id,
                d.partner_id,
                d.account,
                d.currency,
                shown(d.stored_minor),
                shown(d.recomputed_minor)
            )
        });
        let commissions =
            self.commission_differences.iter().map(|c| format!("commissions {} {}: {}", c.workspace_id, c.subject, c.problem));
        entries.chain(balances).chain(commissions).collect()
    }
}

/// Recomputes the ledger from its postings, every workspace (`trellis ledger verify`): every
/// entry has lines numbered 1…n (none missing), one currency and one kind, and sums to zero; every
/// stored balance equals the sum of its postings, and every sum of postings has its balance row;
/// and every commission's postings put its amount in the account its record names (credited
/// there, debited to the vendor's expense) and nowhere else.
pub async fn verify(ctx: &Ctx) -> Result<LedgerReport> {
    let mut tx = ctx.db().read_granted(&LEDGER_VERIFY).await?;
    let mut report = LedgerReport {
        postings: tx.fetch_i64(sql!("SELECT COUNT(*) AS n FROM ledger_postings")).await?,
        entries: tx.fetch_i64(sql!("SELECT COUNT(*) AS n FROM (SELECT DISTINCT workspace_id, entry_id FROM ledger_postings) e")).await?,
        balances: tx.fetch_i64(sql!("SELECT COUNT(*) AS n FROM ledger_balances")).await?,
        ..LedgerReport::default()
    };
    let entries = tx
        .fetch_all(sql!(
            "SELECT workspace_id, entry_id, CAST(SUM(amount_minor) AS BIGINT) AS total, COUNT(*) AS lines, MAX(line) AS last_line,
                    COUNT(DISTINCT currency) AS currencies, COUNT(DISTINCT kind) AS kinds
             FROM ledger_postings GROUP BY workspace_id, entry_id
             HAVING SUM(amount_minor) <> 0 OR COUNT(*) < 2 OR MAX(line) <> COUNT(*) OR COUNT(DISTINCT currency) <> 1 OR COUNT(DISTINCT kind) <> 1
             ORDER BY workspace_id, entry_id"
        ))
        .await?;
    for row in entries {
        let (total, lines, last_line, currencies, kinds): (i64, i64, i64, i64, i64) =
            (row.get("total")?, row.get("lines")?, row.get("last_line")?, row.get("currencies")?, row.get("kinds")?);
        let mut problems = Vec::new();
        if total != 0 {
            problems.push(format!("its lines sum to {total}, not 0"));
        }
        if lines < 2 {
            problems.push(format!("it has {lines} line"));
        }
        if last_line != lines {
            problems.push(format!("lines are missing ({lines} of {last_line})"));
        }
        if currencies != 1 {
            problems.push(format!("its lines are in {currencies} currencies"));
        }
        if kinds != 1 {
            problems.push(format!("its lines name {kinds} kinds"));
        }
        report.entry_problems.push(EntryProblem {
            workspace_id: row.get("workspace_id")?,
            entry_id: row.get("entry_id")?,
            problem: problems.join("; "),
        });
    }
    let differences = tx
        .fetch_all(sql!(
            "SELECT COALESCE(s.workspace_id, b.workspace_id) AS workspace_id, COALESCE(s.partner_id, b.partner_id) AS partner_id,
                    COALESCE(s.account, b.account) AS account, COALESCE(s.currency, b.currency) AS currency,
                    s.total AS recomputed, b.balance_minor AS stored
             FROM (SELECT workspace_id, partner_id, account, currency, CAST(SUM(amount_minor) AS BIGINT) AS total
                   FROM ledger_postings GROUP BY workspace_id, partner_id, account, currency) s
             FULL OUTER JOIN ledger_balances b
               ON b.workspace_id = s.workspace_id AND b.partner_id = s.partner_id AND b.account = s.account AND b.currency = s.currency
             WHERE s.total IS NULL OR b.balance_minor IS NULL OR s.total <> b.balance_minor
             ORDER BY 1, 2, 3, 4"
        ))
        .await?;
    for row in differences {
        let (stored, recomputed): (Option<i64>, Option<i64>) = (row.get("stored")?, row.get("recomputed")?);
        // A balance row at zero with no postings is a balance netted to zero, not a difference.
        if stored.unwrap_or(0) == recomputed.unwrap_or(0) && recomputed.is_none() {
            continue;
        }
        report.differences.push(BalanceDifference {
            workspace_id: row.get("workspace_id")?,
            partner_id: row.get("partner_id")?,
            account: row.get("account")?,
            currency: row.get("currency")?,
            stored_minor: stored,
            recomputed_minor: recomputed,
        });
    }
    report.commissions = tx.fetch_i64(sql!("SELECT COUNT(*) AS n FROM commissions")).await?;
    // Per partner and currency with commissions: the amounts of the commissions whose record puts
    // their money in an account equal that account's balance (credit-normal: negated), and the
    // vendor's expense equals all of them. The account is the one their run's item gives them
    // (`commission_states`).
    let recorded = tx
        .fetch_all(sql!(
            "SELECT workspace_id, partner_id, currency, account, CAST(SUM(amount_minor) AS BIGINT) AS total
             FROM commission_states GROUP BY workspace_id, partner_id, currency, account ORDER BY 1, 2, 3, 4"
        ))
        .await?;
    let mut expected: BTreeMap<(String, String, String), BTreeMap<String, i64>> = BTreeMap::new();
    for row in recorded {
        let key: (String, String, String) = (row.get("workspace_id")?, row.get("partner_id")?, row.get("currency")?);
        let (account, total): (String, i64) = (row.get("account")?, row.get("total")?);
        let accounts = expected.entry(key).or_default();
        *accounts.entry(account).or_insert(0) -= total;
        *accounts.entry(Account::VendorExpense.as_str().to_owned()).or_insert(0) += total;
    }
    let balances = tx
        .fetch_all(sql!(
            "SELECT b.workspace_id, b.partner_id, b.currency, b.account, b.balance_minor FROM ledger_balances b
             WHERE b.account IN ('commission_pending', 'commission_payable', 'payout_clearing', 'commission_paid', 'vendor_expense')
               AND EXISTS (SELECT 1 FROM commissions c WHERE c.workspace_id = b.workspace_id AND c.partner_id = b.partner_id AND c.currency = b.currency)"
        ))
        .await?;
    let mut held: BTreeMap<(String, String, String), BTreeMap<String, i64>> = BTreeMap::new();
    for row in balances {
        let key: (String, String, String) = (row.get("workspace_id")?, row.get("partner_id")?, row.get("currency")?);
        let (account, balance): (String, i64) = (row.get("account")?, row.get("balance_minor")?);
        held.entry(key).or_default().insert(account, balance);
    }
    for (key, accounts) in &expected {
        let wanted: BTreeMap<&String, &i64> = accounts.iter().filter(|(_, v)| **v != 0).collect();
        let empty = BTreeMap::new();
        let found: BTreeMap<&String, &i64> = held.get(key).unwrap_or(&empty).iter().filter(|(_, v)| **v != 0).collect();
        if wanted != found {
            let shown = |m: &BTreeMap<&String, &i64>| m.iter().map(|(a, v)| format!("{a} {v}")).collect::<Vec<_>>().join(", ");
            report.commission_differences.push(CommissionDifference {
                workspace_id: key.0.clone(),
                subject: format!("{} {}", key.1, key.2),
                problem: format!("the commission records put [{}] in the ledger; its balances hold [{}]", shown(&wanted), shown(&found)),
            });
        }
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::parse("EUR").expect("EUR")
    }

    fn partner() -> PartnerId {
        PartnerId::generate()
    }

    fn fields(err: Error) -> Vec<String> {
        match err {
            Error::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_balanced_entry_nets_its_lines_per_balance_in_a_fixed_order() {
        let (a, b) = (partner(), partner());
        let entry = JournalEntry::new("commission.accrued", "commission", "com_1")
            .debit(Account::VendorExpense, &b, eur(), 700)
            .credit(Account::CommissionPending, &b, eur(), 700)
            .debit(Account::VendorExpense, &a, eur(), 300)
            .credit(Account::CommissionPending, &a, eur(), 300);
        let checked = check(&entry).expect("balanced");
        assert_eq!(checked.total_minor, 1000);
        let keys: Vec<_> = checked.deltas.iter().map(|((p, acc), d)| (p.clone(), *acc, *d)).collect();
        let (first, second) = if a < b { (&a, &b) } else { (&b, &a) };
        assert_eq!(keys[0].0, *first);
        assert_eq!(keys[2].0, *second);
        assert_eq!(keys.iter().map(|k| k.2).sum::<i64>(), 0);
    }

    #[test]
    fn an_unbalanced_entry_is_refused() {
        let p = partner();
        let entry = JournalEntry::new("commission.accrued", "commission", "com_1").debit(Account::VendorExpense, &p, eur(), 500).credit(
            Account::CommissionPending,
            &p,
            eur(),
            499,
        );
        assert_eq!(fields(check(&entry).expect_err("unbalanced")), ["lines"]);
    }

    #[test]
    fn zero_negative_excessive_and_mixed_currency_lines_are_refused_with_their_field() {
        let p = partner();
        let usd = Currency::parse("USD").expect("USD");
        let entry = JournalEntry::new("commission.accrued", "commission", "com_1")
            .debit(Account::VendorExpense, &p, eur(), 0)
            .credit(Account::CommissionPending, &p, eur(), -5)
            .debit(Account::VendorExpense, &p, eur(), MAX_LINE_MINOR + 1)
            .credit(Account::CommissionPending, &p, usd, 10);
        assert_eq!(
            fields(check(&entry).expect_err("refused")),
            ["lines[0].amount_minor", "lines[1].amount_minor", "lines[2].amount_minor", "lines[3].currency"]
        );
    }

    #[test]
    fn a_sum_that_would_overflow_is_refused_not_wrapped() {
        let p = partner();
        let mut entry = JournalEntry::new("payout.paid", "payout", "pay_1");
        for _ in 0..10_000 {
            entry = entry.debit(Account::PayoutClearing, &p, eur(), MAX_LINE_MINOR);
        }
        entry = entry.credit(Account::CommissionPaid, &p, eur(), 1);
        assert_eq!(fields(check(&entry).expect_err("overflow")), ["lines"]);
    }

    #[test]
    fn an_entry_needs_two_lines_a_kind_and_a_reference() {
        let p = partner();
        let entry = JournalEntry::new("Commission Accrued", "", "has space").debit(Account::VendorExpense, &p, eur(), 1);
        assert_eq!(fields(check(&entry).expect_err("refused")), ["kind", "reference_type", "reference_id", "lines"]);
        assert!(is_name("commission.accrued") && is_name("payout_run") && !is_name("a..b") && !is_name("1x"));
    }

    #[test]
    fn the_row_security_policies_name_the_partner_facing_accounts() {
        let migration = include_str!("../../../migrations/postgres/20261206000040_ledger.sql");
        let listed: Vec<String> = Account::PARTNER_FACING.iter().map(|a| format!("''{a}''")).collect();
        let expected = format!("account IN ({})", listed.join(", "));
        assert!(migration.contains(&expected), "the policy should read {expected}");
        assert!(Account::ALL.iter().all(|a| migration.contains(&format!("'{a}'"))), "the CHECK lists every account");
    }

    proptest! {
        /// Any set of lines whose debits equal its credits is accepted, and its net changes sum to
        /// zero; moving one line by one minor unit makes it refused.
        #[test]
        fn balanced_lines_are_accepted_and_any_difference_refused(amounts in prop::collection::vec(1i64..1_000_000, 1..8), nudge in 0usize..8) {
            let ps = [partner(), partner(), partner()];
            let accounts = Account::ALL;
            let mut entry = JournalEntry::new("commission.accrued", "commission", "com_p");
            for (i, amount) in amounts.iter().enumerate() {
                entry = entry.debit(accounts[i % accounts.len()], &ps[i % 3], eur(), *amount);
            }
            let total: i64 = amounts.iter().sum();
            entry = entry.credit(Account::CommissionPending, &ps[0], eur(), total);
            let checked = check(&entry).expect("balanced");
            prop_assert_eq!(checked.total_minor, total);
            prop_assert_eq!(checked.deltas.values().sum::<i64>(), 0);
            let i = nudge % entry.lines.len();
            entry.lines[i].amount_minor += 1;
            prop_assert!(check(&entry).is_err());
        }
    }
}
