//! Conversions (API.md "Referral tracking": `POST /conversions`, `POST /invoices/{id}/paid`):
//! leads, sales and refunds reported by the vendor's billing or CRM, and what they earn.
//!
//! - **Exactly once per `(kind, invoice_id)`.** The conversion's row is written first, under its
//!   unique index, before anything is earned: a retry finds it and gets the first answer back
//!   (200), a different request for the same pair is 409, and two racing requests cannot both
//!   earn (the loser of the index waits for the winner and answers as a retry).
//! - **Attribution**, in this order: the deal named (its credited partners and their split), the
//!   click id (a referral link's click inside its program's attribution window, read through
//!   [`ClickAttributions`]) — for a new customer, or for a returning one where the program
//!   attributes to the last touch —, the customer's earlier attribution (customers keep their
//!   partner for recurring sales: first touch), the `partner_id` sent. An unknown, forged or
//!   expired click id attributes nothing and is kept on the conversion.
//! - **What it earns** follows the plan in force when the conversion happened ([`plans`]): a lead
//!   its flat amount, a sale its rate (the tier's, when the plan or the tier overrides it) while
//!   the customer's recurrence lasts, and the partner's distributor its override. A partner whose
//!   licence has lapsed earns `on_hold` (`licence_expired`).
//! - **Payable only once paid.** A sale's commissions wait for its invoice (`invoice_status:
//!   open`, then `POST /invoices/{id}/paid`) and then for the plan's hold; a lead's hold starts
//!   when it happened. The release clock ([`commissions::ReleaseDueCommissions`]) moves them; with
//!   no hold they are payable in the same transaction.
//! - **Refunds** (partial too) reverse the unpaid part of each commission of the sale in
//!   proportion, and claw back what was paid or is being paid: a negative commission, payable at
//!   once, with reason code `refund`, netted at the next payout run.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use trellis_core::{
    CommissionId, ConversionId, Currency, DealId, Error, LinkId, Page, PartnerId, ProgramId, Result, TierId, Timestamp, Validation,
    string_enum,
};
use trellis_db::{Row, Sql, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope, ScopedTx};

use crate::commissions::{self, Commission, CommissionKind, MONEY_WRITERS, NewCommission};
use crate::ledger::Account;
use crate::plans::{self, Plan, PlanVersion};
use crate::statuses::{Actor, CommissionStatus, HoldReason};

/// The largest sale or refund: 10^15 minor units.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000_000;

string_enum!(
    /// What a conversion reports.
    ConversionKind {
        Lead => "lead",
        Sale => "sale",
        Refund => "refund",
    }
);

string_enum!(
    /// How a conversion found its partner.
    Attribution {
        Deal => "deal",
        Click => "click",
        Customer => "customer",
        Partner => "partner",
        None => "none",
    }
);

/// A won deal's credited partners, as the deals capability reports them.
#[derive(Debug, Clone)]
pub struct DealCredit {
    pub won: bool,
    pub program_id: Option<ProgramId>,
    /// Each credited partner and its share in basis points (the shares sum to at most 10000).
    pub partners: Vec<(PartnerId, i64)>,
}

pub type DealCreditFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<DealCredit>>> + Send + 'a>>;

/// How this crate reads a deal's credit split without depending on the deals crate: the binary
/// puts one in the context (`Ctx::with_extension`, ADR 0011). `None`: no deal the caller sees.
pub struct DealCredits {
    pub read: for<'a> fn(&'a mut ScopedTx, &'a Scope, &'a DealId) -> DealCreditFuture<'a>,
}

/// A referral link's click, as the tracking capability reads a click id.
#[derive(Debug, Clone)]
pub struct ClickedLink {
    pub link_id: LinkId,
    pub partner_id: PartnerId,
    pub program_id: Option<ProgramId>,
    pub clicked_at: Timestamp,
    /// The program attributes a returning customer to the last click (else the first touch).
    pub last_touch: bool,
}

pub type ClickFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<ClickedLink>>> + Send + 'a>>;

/// How this crate reads a click id without depending on the tracking crate: the binary puts one
/// in the context (ADR 0011). `None`: no valid click of a link of this workspace inside its
/// attribution window at `occurred_at`.
pub struct ClickAttributions {
    pub read: for<'a> fn(&'a Ctx, &'a mut ScopedTx, &'a Scope, &'a str, Timestamp) -> ClickFuture<'a>,
}

/// A fraud rule a conversion tripped (issue 11): its commissions are held for review
/// (`on_hold`, `fraud_review`) with the rule and what it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudFlag {
    /// `self_referral`, `click_flood`, `fast_conversion` or `disposable_email`.
    pub rule: &'static str,
    pub detail: String,
}

/// What the fraud rules look at.
#[derive(Debug, Clone, Copy)]
pub struct ScreenInput<'a> {
    pub partner_id: &'a PartnerId,
    pub program_id: &'a ProgramId,
    /// The click id the conversion names, when it was attributed by it.
    pub click_id: Option<&'a str>,
    pub customer_email: Option<&'a str>,
    pub customer_ip: Option<&'a str>,
    pub occurred_at: Timestamp,
}

pub type ScreenFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<FraudFlag>>> + Send + 'a>>;

/// The fraud rules, read without depending on the tracking crate that keeps them (the binary
/// registers them; without them nothing is flagged).
pub struct ConversionScreens {
    pub screen: for<'a> fn(&'a Ctx, &'a mut ScopedTx, &'a Scope, ScreenInput<'a>) -> ScreenFuture<'a>,
}

/// A conversion as the vendor's system sent it (strings as sent; [`record`] checks them).
#[derive(Debug, Clone, Default)]
pub struct NewConversion {
    pub kind: String,
    pub invoice_id: String,
    pub customer_external_id: String,
    pub click_id: Option<String>,
    pub partner_id: Option<String>,
    pub program_id: Option<String>,
    pub deal_id: Option<String>,
    /// `(amount_minor, currency)`.
    pub amount: Option<(i64, String)>,
    pub invoice_status: Option<String>,
    pub refunds_invoice_id: Option<String>,
    pub customer_email: Option<String>,
    pub customer_ip: Option<String>,
    pub occurred_at: Option<String>,
}

/// The request checked.
#[derive(Debug, Clone)]
struct Parsed {
    kind: ConversionKind,
    invoice_id: String,
    customer: String,
    click_id: Option<String>,
    partner_id: Option<PartnerId>,
    program_id: Option<ProgramId>,
    deal_id: Option<DealId>,
    amount: Option<(i64, Currency)>,
    invoice_paid: bool,
    refunds_invoice_id: Option<String>,
    customer_email: Option<String>,
    customer_ip: Option<String>,
    occurred_at: Option<Timestamp>,
}

impl Parsed {
    /// What tells two requests for the same `(kind, invoice_id)` apart: everything sent, as
    /// understood (so `"usd"` and `"USD"` are the same request).
    fn digest(&self) -> String {
        let canonical = json!([
            self.kind.as_str(),
            self.invoice_id,
            self.customer,
            self.click_id,
            self.partner_id,
            self.program_id,
            self.deal_id,
            self.amount.map(|(a, c)| json!([a, c.code()])),
            self.invoice_paid,
            self.refunds_invoice_id,
            self.customer_email,
            self.customer_ip,
            self.occurred_at.map(|t| t.micros()),
        ]);
        format!("{:x}", Sha256::digest(canonical.to_string().as_bytes()))
    }
}

fn reference(v: &mut Validation, field: &str, text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 128 || text.chars().any(char::is_control) {
        v.add(field, "must be 1 to 128 characters without control characters");
        None
    } else {
        Some(text.to_owned())
    }
}

fn id_of<T: std::str::FromStr>(v: &mut Validation, field: &str, text: Option<&str>) -> Option<T> {
    let text = text?;
    let parsed = text.parse().ok();
    if parsed.is_none() {
        v.add(field, "is not an id of the right kind");
    }
    parsed
}

fn parse(input: &NewConversion, now: Timestamp) -> Result<Parsed> {
    let mut v = Validation::new();
    let kind = ConversionKind::parse(&input.kind);
    if kind.is_none() {
        v.add("kind", "must be lead, sale or refund");
    }
    let invoice_id = reference(&mut v, "invoice_id", &input.invoice_id);
    let customer = reference(&mut v, "customer_external_id", &input.customer_external_id);
    let click_id = input.click_id.as_deref().and_then(|c| reference(&mut v, "click_id", c));
    let partner_id = id_of(&mut v, "partner_id", input.partner_id.as_deref());
    let program_id = id_of(&mut v, "program_id", input.program_id.as_deref());
    let deal_id = id_of(&mut v, "deal_id", input.deal_id.as_deref());
    let amount = match &input.amount {
        Some((minor, code)) => {
            let currency = v.check("amount.currency", Currency::parse(code));
            if !(1..=MAX_AMOUNT_MINOR).contains(minor) {
                v.add("amount.amount_minor", format!("must be between 1 and {MAX_AMOUNT_MINOR} minor units"));
            }
            currency.map(|c| (*minor, c))
        }
        None => None,
    };
    if matches!(kind, Some(ConversionKind::Sale | ConversionKind::Refund)) && input.amount.is_none() {
        v.add("amount", "is required for a sale or a refund");
    }
    let invoice_paid = match input.invoice_status.as_deref() {
        None | Some("paid") => true,
        Some("open") => false,
        Some(_) => {
            v.add("invoice_status", "must be open or paid");
            true
        }
    };
    if input.invoice_status.is_some() && kind != Some(ConversionKind::Sale) {
        v.add("invoice_status", "applies to sales only");
    }
    let refunds_invoice_id = input.refunds_invoice_id.as_deref().and_then(|r| reference(&mut v, "refunds_invoice_id", r));
    match kind {
        Some(ConversionKind::Refund) if input.refunds_invoice_id.is_none() => {
            v.add("refunds_invoice_id", "is required for a refund: the sale's invoice")
        }
        Some(ConversionKind::Lead | ConversionKind::Sale) if input.refunds_invoice_id.is_some() => {
            v.add("refunds_invoice_id", "applies to refunds only")
        }
        _ => {}
    }
    if kind == Some(ConversionKind::Refund) && (input.partner_id.is_some() || input.deal_id.is_some()) {
        v.add("partner_id", "a refund belongs to the partner of the sale it refunds; send refunds_invoice_id only");
    }
    let customer_email = v.optional_text("customer_email", input.customer_email.as_deref(), 254).flatten();
    if customer_email.as_deref().is_some_and(|e| !e.contains('@')) {
        v.add("customer_email", "must be an email address");
    }
    let customer_ip =
        input.customer_ip.as_deref().map(str::trim).filter(|ip| !ip.is_empty()).and_then(|ip| match ip.parse::<std::net::IpAddr>() {
            Ok(addr) => Some(addr.to_string()),
            Err(_) => {
                v.add("customer_ip", "must be an IPv4 or IPv6 address");
                None
            }
        });
    let occurred_at = match input.occurred_at.as_deref() {
        None => None,
        Some(text) => match Timestamp::parse(text) {
            Some(at) if at <= now.plus_seconds(300) => Some(at),
            Some(_) => {
                v.add("occurred_at", "must not be in the future");
                None
            }
            None => {
                v.add("occurred_at", "must be an RFC 3339 time such as 2026-12-06T10:00:00Z");
                None
            }
        },
    };
    v.finish().map_err(Error::Validation)?;
    let (Some(kind), Some(invoice_id), Some(customer)) = (kind, invoice_id, customer) else {
        return Err(Error::invalid("kind", "is not valid"));
    };
    Ok(Parsed {
        kind,
        invoice_id,
        customer,
        click_id,
        partner_id,
        program_id,
        deal_id,
        amount,
        invoice_paid,
        refunds_invoice_id,
        customer_email,
        customer_ip,
        occurred_at,
    })
}

/// What `POST /conversions` answers, the first time and to every retry.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// True when this request created the conversion (201); false for a retry (200).
    pub created: bool,
    /// The first answer, as stored.
    pub answer: Json,
}

/// A stored conversion.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub id: ConversionId,
    pub kind: ConversionKind,
    pub invoice_id: String,
    pub customer_external_id: String,
    pub partner_id: Option<PartnerId>,
    pub partner_name: Option<String>,
    pub program_id: Option<ProgramId>,
    pub plan_version: Option<i64>,
    pub attribution: Attribution,
    pub deal_id: Option<DealId>,
    pub click_id: Option<String>,
    /// The referral link whose click attributed it.
    pub link_id: Option<LinkId>,
    /// The fraud rules it tripped: `(rule, detail)`.
    pub flags: Vec<(String, String)>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub invoice_status: Option<String>,
    pub invoice_paid_at: Option<Timestamp>,
    pub refunds_invoice_id: Option<String>,
    pub occurred_at: Timestamp,
    pub created_at: Timestamp,
}

const CONVERSION_COLUMNS: &str = "v.id, v.kind, v.invoice_id, v.customer_external_id, v.partner_id, p.name AS partner_name, v.program_id, v.plan_version,
     v.attribution, v.deal_id, v.click_id, v.link_id, v.fraud_flags, v.amount_minor, v.currency, v.invoice_status, v.invoice_paid_at, v.refunds_invoice_id, v.occurred_at,
     v.created_at";

const CONVERSION_FROM: &str = " FROM conversions v LEFT JOIN partners p ON p.workspace_id = v.workspace_id AND p.id = v.partner_id";

fn conversion_from_row(row: &Row) -> Result<Conversion> {
    let kind: String = row.get("kind")?;
    let attribution: String = row.get("attribution")?;
    Ok(Conversion {
        id: row.get("id")?,
        kind: ConversionKind::parse(&kind).ok_or_else(|| Error::Internal(format!("stored conversion kind {kind}")))?,
        invoice_id: row.get("invoice_id")?,
        customer_external_id: row.get("customer_external_id")?,
        partner_id: row.get("partner_id")?,
        partner_name: row.get("partner_name")?,
        program_id: row.get("program_id")?,
        plan_version: row.get("plan_version")?,
        attribution: Attribution::parse(&attribution).ok_or_else(|| Error::Internal(format!("stored attribution {attribution}")))?,
        deal_id: row.get("deal_id")?,
        click_id: row.get("click_id")?,
        link_id: row.get("link_id")?,
        flags: {
            let text: String = row.get("fraud_flags")?;
            let flags: Vec<Json> = serde_json::from_str(&text).map_err(|e| Error::Internal(format!("stored fraud flags: {e}")))?;
            flags
                .iter()
                .map(|f| (f["rule"].as_str().unwrap_or_default().to_owned(), f["detail"].as_str().unwrap_or_default().to_owned()))
                .collect()
        },
        amount_minor: row.get("amount_minor")?,
        currency: row.get("currency")?,
        invoice_status: row.get("invoice_status")?,
        invoice_paid_at: row.get("invoice_paid_at")?,
        refunds_invoice_id: row.get("refunds_invoice_id")?,
        occurred_at: row.get("occurred_at")?,
        created_at: row.get("created_at")?,
    })
}

/// Staff read conversions (those of the partners they see); partners do not (the vendor's
/// billing records): 403 for the list, 404 for one.
fn require_staff(scope: &Scope, missing: Error) -> Result<()> {
    if scope.partner().is_some() { Err(missing) } else { Ok(()) }
}

/// Which conversions a list shows.
#[derive(Debug, Clone, Default)]
pub struct ConversionFilter {
    pub partner_id: Option<PartnerId>,
    pub kind: Option<ConversionKind>,
    pub invoice_id: Option<String>,
    pub cursor: Option<ConversionId>,
    pub limit: Option<i64>,
}

/// `GET /api/v1/conversions` (staff): newest first.
pub async fn list(ctx: &Ctx, scope: &Scope, filter: &ConversionFilter) -> Result<Page<Conversion>> {
    require_staff(scope, Error::forbidden("conversions are the vendor's records"))?;
    let mut tx = scope.read(ctx).await?;
    let mut q = Sql::build("SELECT ");
    q.push(CONVERSION_COLUMNS).push(CONVERSION_FROM).push(" WHERE v.workspace_id = ").push_bind(scope.workspace_id());
    // A restricted manager's filter is false for a conversion nobody attributed.
    q.push(" AND ");
    tx.push_partner_filter(&mut q, "v.partner_id");
    if let Some(partner_id) = &filter.partner_id {
        q.push(" AND v.partner_id = ").push_bind(partner_id);
    }
    if let Some(kind) = filter.kind {
        q.push(" AND v.kind = ").push_bind(kind.as_str());
    }
    if let Some(invoice_id) = &filter.invoice_id {
        q.push(" AND (v.invoice_id = ").push_bind(invoice_id).push(" OR v.refunds_invoice_id = ").push_bind(invoice_id).push(")");
    }
    if let Some(cursor) = &filter.cursor {
        q.push(" AND v.id < ").push_bind(cursor);
    }
    q.push(" ORDER BY v.id DESC LIMIT ").push_bind(trellis_core::page::fetch_limit(filter.limit));
    let rows: Vec<Conversion> = tx.fetch_all(q).await?.iter().map(conversion_from_row).collect::<Result<_>>()?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, filter.limit, |c| c.id.to_string()))
}

/// `GET /api/v1/conversions/{id}` (staff) with its commissions as they stand now.
pub async fn get(ctx: &Ctx, scope: &Scope, id: &ConversionId) -> Result<(Conversion, Vec<Commission>)> {
    require_staff(scope, Error::NotFound)?;
    let mut tx = scope.read(ctx).await?;
    let mut q = Sql::build("SELECT ");
    q.push(CONVERSION_COLUMNS).push(CONVERSION_FROM).push(" WHERE v.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND v.id = ").push_bind(id);
    q.push(" AND ");
    tx.push_partner_filter(&mut q, "v.partner_id");
    let conversion = conversion_from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)?;
    let filter = commissions::CommissionFilter { conversion_id: Some(id.clone()), limit: Some(500), ..Default::default() };
    let earned = commissions::list_in(&mut tx, scope, &filter).await?.items;
    tx.commit().await?;
    Ok((conversion, earned))
}

/// `POST /api/v1/conversions` (owners, admins, finance): records a lead, sale or refund and what
/// it earns, exactly once per `(kind, invoice_id)` (module documentation).
pub async fn record(ctx: &Ctx, scope: &Scope, input: &NewConversion) -> Result<Recorded> {
    if scope.partner().is_some() {
        return Err(Error::forbidden("conversions come from the vendor's systems, not from partners"));
    }
    scope.require_vendor_role(MONEY_WRITERS, "record conversions")?;
    let now = ctx.now();
    let parsed = parse(input, now)?;
    let digest = parsed.digest();
    let mut tx = scope.write(ctx).await?;
    if let Some(retry) = earlier(&mut tx, scope, &parsed, &digest).await? {
        return Ok(retry);
    }
    let id = ConversionId::generate();
    let occurred_at = parsed.occurred_at.unwrap_or(now);
    // The row first: the unique index decides which of two racing requests earns.
    let inserted = tx
        .execute(sql!(
            "INSERT INTO conversions (workspace_id, id, kind, invoice_id, customer_external_id, attribution, click_id, amount_minor, currency,
                invoice_status, invoice_paid_at, refunds_invoice_id, customer_email, customer_ip, occurred_at, request_digest, answer, created_at)
             VALUES ($1, $2, $3, $4, $5, 'none', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, '{}', $16)",
            scope.workspace_id(),
            &id,
            parsed.kind.as_str(),
            &parsed.invoice_id,
            &parsed.customer,
            parsed.click_id.as_deref(),
            parsed.amount.map(|(a, _)| a),
            parsed.amount.map(|(_, c)| c.code().to_owned()),
            (parsed.kind == ConversionKind::Sale).then_some(if parsed.invoice_paid { "paid" } else { "open" }),
            (parsed.kind == ConversionKind::Sale && parsed.invoice_paid).then_some(occurred_at),
            parsed.refunds_invoice_id.as_deref(),
            parsed.customer_email.as_deref(),
            parsed.customer_ip.as_deref(),
            occurred_at,
            &digest,
            now
        ))
        .await;
    if let Err(e) = inserted {
        if e.is_unique("conversions") {
            drop(tx);
            // Another request recorded the same conversion meanwhile: answer as to a retry.
            let mut tx = scope.read(ctx).await?;
            return earlier(&mut tx, scope, &parsed, &digest)
                .await?
                .ok_or_else(|| Error::conflict("the conversion is being recorded; retry"));
        }
        return Err(e.into());
    }
    let earned = match parsed.kind {
        ConversionKind::Refund => refund_in(&mut tx, scope, now, &id, &parsed).await?,
        ConversionKind::Lead | ConversionKind::Sale => earn_in(ctx, &mut tx, scope, now, &id, &parsed, occurred_at).await?,
    };
    let mut created = Vec::with_capacity(earned.commission_ids.len());
    for commission_id in &earned.commission_ids {
        commissions::release_or_schedule_in(&mut tx, scope, now, commission_id).await?;
        created.push(commissions::find_unchecked_in(&mut tx, scope.workspace_id(), commission_id).await?);
    }
    let answer = json!({
        "id": id,
        "kind": parsed.kind.as_str(),
        "invoice_id": parsed.invoice_id,
        "customer_external_id": parsed.customer,
        "partner_id": earned.partner_id,
        "program_id": earned.program_id,
        "attribution": earned.attribution.as_str(),
        "amount": parsed.amount.map(|(a, c)| json!({"amount_minor": a, "currency": c.code()})),
        "occurred_at": occurred_at.to_rfc3339(),
        "commissions": created.iter().map(commission_summary).collect::<Vec<_>>(),
        "flags": flags_json(&earned.flags),
    });
    tx.execute(sql!(
        "UPDATE conversions SET partner_id = $3, program_id = $4, plan_version = $5, attribution = $6, deal_id = $7, answer = $8, link_id = $9, fraud_flags = $10
         WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        &id,
        earned.partner_id.clone(),
        earned.program_id.clone(),
        earned.plan_version,
        earned.attribution.as_str(),
        earned.deal_id.clone(),
        answer.to_string(),
        earned.link_id.clone(),
        flags_json(&earned.flags).to_string()
    ))
    .await?;
    let entry = AuditEntry::new("conversion.recorded", "conversion", id.as_str())
        .set("partner_id", json!(earned.partner_id))
        .set("kind", parsed.kind.as_str())
        .set("invoice_id", parsed.invoice_id.clone())
        .set("attribution", earned.attribution.as_str())
        .set("commission_ids", json!(earned.commission_ids));
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(Recorded { created: true, answer })
}

/// The fraud rules a conversion tripped, as its answer and its row hold them.
fn flags_json(flags: &[FraudFlag]) -> Json {
    Json::Array(flags.iter().map(|f| json!({"rule": f.rule, "detail": f.detail})).collect())
}

/// One commission in a conversion's answer.
pub fn commission_summary(c: &Commission) -> Json {
    json!({
        "id": c.id,
        "partner_id": c.partner_id,
        "kind": c.kind.as_str(),
        "amount": {"amount_minor": c.amount_minor, "currency": c.currency.code()},
        "status": c.status.as_str(),
    })
}

/// The earlier conversion of the same `(kind, invoice_id)`: its first answer when the request is
/// the same, 409 when it differs; `None` when there is none.
async fn earlier(tx: &mut ScopedTx, scope: &Scope, parsed: &Parsed, digest: &str) -> Result<Option<Recorded>> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT request_digest, answer FROM conversions WHERE workspace_id = $1 AND kind = $2 AND invoice_id = $3",
            scope.workspace_id(),
            parsed.kind.as_str(),
            &parsed.invoice_id
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let stored: String = row.get("request_digest")?;
    if stored != digest {
        return Err(Error::conflict(format!(
            "a {} with invoice_id {} was already recorded with different details; a correction is a refund",
            parsed.kind, parsed.invoice_id
        )));
    }
    let answer: String = row.get("answer")?;
    let answer = serde_json::from_str(&answer).map_err(|e| Error::Internal(format!("stored conversion answer: {e}")))?;
    Ok(Some(Recorded { created: false, answer }))
}

/// What a conversion earned.
struct Earned {
    partner_id: Option<PartnerId>,
    program_id: Option<ProgramId>,
    plan_version: Option<i64>,
    attribution: Attribution,
    deal_id: Option<DealId>,
    link_id: Option<LinkId>,
    flags: Vec<FraudFlag>,
    commission_ids: Vec<CommissionId>,
}

impl Earned {
    fn nothing(attribution: Attribution) -> Self {
        Self {
            partner_id: None,
            program_id: None,
            plan_version: None,
            attribution,
            deal_id: None,
            link_id: None,
            flags: Vec::new(),
            commission_ids: Vec::new(),
        }
    }
}

/// The customer's earlier attribution.
struct Customer {
    partner_id: PartnerId,
    program_id: ProgramId,
    deal_id: Option<DealId>,
    first_sale_at: Option<Timestamp>,
}

async fn customer_in(tx: &mut ScopedTx, scope: &Scope, customer: &str) -> Result<Option<Customer>> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT partner_id, program_id, deal_id, first_sale_at FROM commission_customers WHERE workspace_id = $1 AND customer_external_id = $2",
            scope.workspace_id(),
            customer
        ))
        .await?;
    row.map(|row| {
        Ok(Customer {
            partner_id: row.get("partner_id")?,
            program_id: row.get("program_id")?,
            deal_id: row.get("deal_id")?,
            first_sale_at: row.get("first_sale_at")?,
        })
    })
    .transpose()
}

async fn deal_credit_in(ctx: &Ctx, tx: &mut ScopedTx, scope: &Scope, deal_id: &DealId) -> Result<DealCredit> {
    let credits = ctx.extension::<DealCredits>()?;
    let credit = (credits.read)(tx, scope, deal_id).await?.ok_or_else(|| Error::invalid("deal_id", "no such deal"))?;
    if !credit.won {
        return Err(Error::conflict("the deal is not won: commissions are paid on won deals"));
    }
    if credit.partners.is_empty() {
        return Err(Error::invalid("deal_id", "the deal has no partner to credit (a direct opportunity)"));
    }
    Ok(credit)
}

/// The program a partner's conversion earns in: the one named, else the only program the partner
/// is enrolled in that has a commission plan.
async fn program_of(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId, named: Option<&ProgramId>) -> Result<Option<ProgramId>> {
    if let Some(program_id) = named {
        let enrolled = tx
            .fetch_i64(sql!(
                "SELECT COUNT(*) AS n FROM enrollments WHERE workspace_id = $1 AND partner_id = $2 AND program_id = $3",
                scope.workspace_id(),
                partner_id,
                program_id
            ))
            .await?;
        if enrolled == 0 {
            return Err(Error::invalid("program_id", "the partner is not enrolled in this program"));
        }
        return Ok(Some(program_id.clone()));
    }
    let rows = tx
        .fetch_all(sql!(
            "SELECT DISTINCT e.program_id FROM enrollments e JOIN commission_plans cp ON cp.workspace_id = e.workspace_id AND cp.program_id = e.program_id
             WHERE e.workspace_id = $1 AND e.partner_id = $2 ORDER BY e.program_id LIMIT 2",
            scope.workspace_id(),
            partner_id
        ))
        .await?;
    match rows.as_slice() {
        [] => Ok(None),
        [only] => Ok(Some(only.get("program_id")?)),
        _ => Err(Error::invalid("program_id", "the partner earns in several programs: say which one this conversion belongs to")),
    }
}

/// The partner's tier in the program and that tier's own sale-rate benefit.
async fn tier_of(
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_id: &PartnerId,
    program_id: &ProgramId,
) -> Result<(Option<TierId>, Option<i64>)> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT tier_id FROM enrollments WHERE workspace_id = $1 AND partner_id = $2 AND program_id = $3",
            scope.workspace_id(),
            partner_id,
            program_id
        ))
        .await?;
    let tier_id: Option<TierId> = row.map(|r| r.get("tier_id")).transpose()?.flatten();
    let Some(tier_id) = tier_id else { return Ok((None, None)) };
    let tier = trellis_programs::tiers::get_in(tx, scope.workspace_id(), program_id, &tier_id).await?;
    Ok((Some(tier_id), tier.benefits.commission_override_bps))
}

async fn parent_of(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId) -> Result<Option<PartnerId>> {
    let row = tx
        .fetch_optional(sql!("SELECT parent_id FROM partners WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), partner_id))
        .await?;
    Ok(row.map(|r| r.get("parent_id")).transpose()?.flatten())
}

/// How a conversion was attributed: how, in which program, by which deal, and the credited
/// partners with their shares in basis points.
type Attributed = (Attribution, Option<ProgramId>, Option<DealId>, Vec<(PartnerId, i64)>);

/// A lead or a sale: attributes it and creates its commissions (module documentation).
async fn earn_in(
    ctx: &Ctx,
    tx: &mut ScopedTx,
    scope: &Scope,
    now: Timestamp,
    id: &ConversionId,
    parsed: &Parsed,
    occurred_at: Timestamp,
) -> Result<Earned> {
    let customer = customer_in(tx, scope, &parsed.customer).await?;
    let click = match (&parsed.click_id, &parsed.deal_id) {
        (Some(click_id), None) => match ctx.extension::<ClickAttributions>() {
            Ok(clicks) => (clicks.read)(ctx, tx, scope, click_id, occurred_at).await?,
            // A binary without referral tracking attributes nothing by clicks.
            Err(_) => None,
        },
        _ => None,
    };
    // A click attributes a new customer, and a returning one where its program takes the last
    // touch; otherwise the customer keeps its first partner.
    let click = click.filter(|c| customer.is_none() || c.last_touch);
    let mut link_id = None;
    let (attribution, program_id, deal_id, credited): Attributed = if let Some(deal_id) = &parsed.deal_id {
        let credit = deal_credit_in(ctx, tx, scope, deal_id).await?;
        let program_id = match (&credit.program_id, &parsed.program_id) {
            (Some(p), _) | (None, Some(p)) => Some(p.clone()),
            (None, None) => program_of(tx, scope, &credit.partners[0].0, None).await?,
        };
        (Attribution::Deal, program_id, Some(deal_id.clone()), credit.partners)
    } else if let Some(click) = &click {
        let program_id = match &click.program_id {
            Some(p) => Some(p.clone()),
            None => program_of(tx, scope, &click.partner_id, parsed.program_id.as_ref()).await?,
        };
        link_id = Some(click.link_id.clone());
        (Attribution::Click, program_id, None, vec![(click.partner_id.clone(), 10_000)])
    } else if let Some(customer) = &customer {
        let credited = match &customer.deal_id {
            Some(deal_id) => deal_credit_in(ctx, tx, scope, deal_id).await?.partners,
            None => vec![(customer.partner_id.clone(), 10_000)],
        };
        (Attribution::Customer, Some(customer.program_id.clone()), customer.deal_id.clone(), credited)
    } else if let Some(partner_id) = &parsed.partner_id {
        tx.see_partner(partner_id).await.map_err(|e| match e {
            Error::NotFound => Error::invalid("partner_id", "no such partner"),
            other => other,
        })?;
        let program_id = program_of(tx, scope, partner_id, parsed.program_id.as_ref()).await?;
        (Attribution::Partner, program_id, None, vec![(partner_id.clone(), 10_000)])
    } else {
        return Ok(Earned::nothing(Attribution::None));
    };
    let first_partner = credited[0].0.clone();
    let mut earned = Earned {
        partner_id: Some(first_partner.clone()),
        program_id: program_id.clone(),
        plan_version: None,
        attribution,
        deal_id: deal_id.clone(),
        link_id,
        flags: Vec::new(),
        commission_ids: Vec::new(),
    };
    let Some(program_id) = program_id else { return Ok(earned) };
    if customer.is_some() && click.is_some() {
        // Last touch: the returning customer now belongs to the click's partner.
        tx.execute(sql!(
            "UPDATE commission_customers SET partner_id = $3, program_id = $4, deal_id = NULL WHERE workspace_id = $1 AND customer_external_id = $2",
            scope.workspace_id(),
            &parsed.customer,
            &first_partner,
            &program_id
        ))
        .await?;
    }
    if customer.is_none() {
        tx.execute(sql!(
            "INSERT INTO commission_customers (workspace_id, customer_external_id, partner_id, program_id, deal_id, first_conversion_id, first_sale_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            scope.workspace_id(),
            &parsed.customer,
            &first_partner,
            &program_id,
            deal_id.clone(),
            id,
            (parsed.kind == ConversionKind::Sale).then_some(occurred_at),
            now
        ))
        .await?;
    } else if parsed.kind == ConversionKind::Sale && customer.as_ref().is_some_and(|c| c.first_sale_at.is_none()) {
        tx.execute(sql!(
            "UPDATE commission_customers SET first_sale_at = $3 WHERE workspace_id = $1 AND customer_external_id = $2",
            scope.workspace_id(),
            &parsed.customer,
            occurred_at
        ))
        .await?;
    }
    let Some(version) = plans::in_force_at(tx, scope, &program_id, occurred_at).await? else { return Ok(earned) };
    earned.plan_version = Some(version.version);
    if let Some((_, currency)) = parsed.amount
        && currency != version.plan.currency
    {
        return Err(Error::invalid(
            "amount.currency",
            format!("must be the program's currency, {}, until exchange rates exist", version.plan.currency),
        ));
    }
    if let Ok(screens) = ctx.extension::<ConversionScreens>() {
        let input = ScreenInput {
            partner_id: &first_partner,
            program_id: &program_id,
            click_id: if attribution == Attribution::Click { parsed.click_id.as_deref() } else { None },
            customer_email: parsed.customer_email.as_deref(),
            customer_ip: parsed.customer_ip.as_deref(),
            occurred_at,
        };
        earned.flags = (screens.screen)(ctx, tx, scope, input).await?;
    }
    let review = (!earned.flags.is_empty()).then(|| {
        let rules: Vec<String> = earned.flags.iter().map(|f| f.detail.clone()).collect();
        format!("Held for review: {}", rules.join("; "))
    });
    let terms = Terms { version: &version, program_id: &program_id, conversion_id: id, parsed, occurred_at, review: review.as_deref() };
    match parsed.kind {
        ConversionKind::Lead => {
            let Some(flat) = version.plan.lead_flat_minor.filter(|f| *f > 0) else { return Ok(earned) };
            for (partner_id, share) in &credited {
                let amount = plans::commission_of(flat, 10_000, *share).unwrap_or(0);
                if let Some(cid) = terms.create(tx, scope, now, partner_id, CommissionKind::Lead, amount, None, *share).await? {
                    earned.commission_ids.push(cid);
                }
            }
        }
        ConversionKind::Sale => {
            let Some(sale) = version.plan.sale else { return Ok(earned) };
            let first_sale_at = customer.as_ref().and_then(|c| c.first_sale_at);
            if !sale.recurrence.earns(first_sale_at, occurred_at) {
                return Ok(earned);
            }
            let Some((amount, _)) = parsed.amount else { return Ok(earned) };
            for (partner_id, share) in &credited {
                let (tier_id, benefit) = tier_of(tx, scope, partner_id, &program_id).await?;
                let rate = version.plan.sale_rate_bps(tier_id.as_ref(), benefit).unwrap_or(sale.percent_bps);
                let value = plans::commission_of(amount, rate, *share).unwrap_or(0);
                if let Some(cid) = terms.create(tx, scope, now, partner_id, CommissionKind::Sale, value, Some(rate), *share).await? {
                    earned.commission_ids.push(cid);
                }
                if let Some(bps) = version.plan.parent_override_bps.filter(|b| *b > 0)
                    && let Some(parent) = parent_of(tx, scope, partner_id).await?
                {
                    let value = plans::commission_of(amount, bps, *share).unwrap_or(0);
                    if let Some(cid) = terms.create(tx, scope, now, &parent, CommissionKind::Override, value, Some(bps), *share).await? {
                        earned.commission_ids.push(cid);
                    }
                }
            }
        }
        ConversionKind::Refund => {}
    }
    Ok(earned)
}

/// What every commission of one lead or sale shares.
struct Terms<'a> {
    version: &'a PlanVersion,
    program_id: &'a ProgramId,
    conversion_id: &'a ConversionId,
    parsed: &'a Parsed,
    occurred_at: Timestamp,
    /// Why the conversion's commissions are held for review (the fraud rules it tripped).
    review: Option<&'a str>,
}

impl Terms<'_> {
    fn plan(&self) -> &Plan {
        &self.version.plan
    }

    #[allow(clippy::too_many_arguments)]
    async fn create(
        &self,
        tx: &mut ScopedTx,
        scope: &Scope,
        now: Timestamp,
        partner_id: &PartnerId,
        kind: CommissionKind,
        amount_minor: i64,
        rate_bps: Option<i64>,
        share_bps: i64,
    ) -> Result<Option<CommissionId>> {
        if amount_minor <= 0 {
            return Ok(None);
        }
        let held = !trellis_records::compliance::is_compliant(tx, scope.workspace_id(), partner_id, now).await?;
        let hold_seconds = self.plan().hold_days * 86_400;
        let (invoice_id, paid_at, payable_at) = match self.parsed.kind {
            // A lead has no invoice: its hold starts when it happened.
            ConversionKind::Lead => (None, None, Some(self.occurred_at.plus_seconds(hold_seconds))),
            _ => {
                let paid_at = self.parsed.invoice_paid.then_some(self.occurred_at);
                (Some(self.parsed.invoice_id.clone()), paid_at, paid_at.map(|p| p.plus_seconds(hold_seconds)))
            }
        };
        let new = NewCommission {
            partner_id: partner_id.clone(),
            program_id: Some(self.program_id.clone()),
            conversion_id: Some(self.conversion_id.clone()),
            kind,
            amount_minor,
            currency: self.plan().currency,
            basis_minor: self.parsed.amount.map(|(a, _)| a),
            rate_bps,
            share_bps: Some(share_bps),
            plan_version: Some(self.version.version),
            status: if held || self.review.is_some() { CommissionStatus::OnHold } else { CommissionStatus::Pending },
            // A lapsed licence holds until its renewal; a tripped fraud rule until finance decides.
            hold_reason: if held { Some(HoldReason::LicenceExpired) } else { self.review.map(|_| HoldReason::FraudReview) },
            reason_code: None,
            note: self.review.map(str::to_owned),
            account: Account::CommissionPending,
            invoice_id,
            invoice_paid_at: paid_at,
            payable_at,
            adjusts_commission_id: None,
        };
        commissions::insert_in(tx, scope, now, new).await.map(Some)
    }
}

/// A refund: reverses the unpaid part of each commission of the sale in proportion, and claws
/// back what is paid or being paid.
async fn refund_in(tx: &mut ScopedTx, scope: &Scope, now: Timestamp, id: &ConversionId, parsed: &Parsed) -> Result<Earned> {
    let sale_invoice = parsed.refunds_invoice_id.clone().unwrap_or_default();
    let row = tx
        .fetch_optional(sql!(
            "SELECT id, partner_id, program_id, plan_version, attribution, deal_id, link_id, amount_minor, currency FROM conversions
             WHERE workspace_id = $1 AND kind = 'sale' AND invoice_id = $2",
            scope.workspace_id(),
            &sale_invoice
        ))
        .await?
        .ok_or_else(|| Error::invalid("refunds_invoice_id", "no sale was recorded with this invoice"))?;
    let sale_id: ConversionId = row.get("id")?;
    // The sale's row is the refunds' lock: two refunds of one sale run one after the other.
    tx.execute(sql!("UPDATE conversions SET answer = answer WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), &sale_id)).await?;
    let sale_amount: i64 = row.get::<Option<i64>>("amount_minor")?.unwrap_or(0);
    let sale_currency: Option<String> = row.get("currency")?;
    let attribution: String = row.get("attribution")?;
    let (refund_amount, currency) = parsed.amount.ok_or_else(|| Error::invalid("amount", "is required for a refund"))?;
    if sale_currency.as_deref() != Some(currency.code()) {
        return Err(Error::invalid("amount.currency", format!("must be the sale's currency, {}", sale_currency.unwrap_or_default())));
    }
    let refunded_before = tx
        .fetch_i64(sql!(
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS n FROM conversions
             WHERE workspace_id = $1 AND kind = 'refund' AND refunds_invoice_id = $2 AND id <> $3",
            scope.workspace_id(),
            &sale_invoice,
            id
        ))
        .await?;
    let refundable = sale_amount - refunded_before;
    if refund_amount > refundable {
        return Err(Error::invalid(
            "amount.amount_minor",
            format!("exceeds what remains refundable of the sale ({refundable} minor units)"),
        ));
    }
    let whole = refunded_before + refund_amount == sale_amount;
    let mut earned = Earned {
        partner_id: row.get("partner_id")?,
        program_id: row.get("program_id")?,
        plan_version: row.get("plan_version")?,
        attribution: Attribution::parse(&attribution).unwrap_or(Attribution::None),
        deal_id: row.get("deal_id")?,
        // A refund counts against the link its sale came through.
        link_id: row.get("link_id")?,
        flags: Vec::new(),
        commission_ids: Vec::new(),
    };
    let mut q = Sql::build("SELECT ");
    q.push(commissions::COLUMNS).push(commissions::FROM).push(" WHERE c.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND c.conversion_id = ").push_bind(&sale_id).push(" AND c.amount_minor > 0 ORDER BY c.id");
    let originals: Vec<Commission> = tx.fetch_all(q).await?.iter().map(commissions::from_row).collect::<Result<_>>()?;
    let note = format!("Refund of invoice {sale_invoice}");
    for original in originals {
        commissions::lock_in(tx, scope.workspace_id(), &original.id).await?;
        let original = commissions::find_unchecked_in(tx, scope.workspace_id(), &original.id).await?;
        if original.status == CommissionStatus::Reversed {
            continue;
        }
        let adjusted = tx
            .fetch_i64(sql!(
                "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS n FROM commissions WHERE workspace_id = $1 AND adjusts_commission_id = $2",
                scope.workspace_id(),
                &original.id
            ))
            .await?;
        let remaining = original.amount_minor + adjusted;
        let share = if whole {
            remaining
        } else {
            plans::proportion_of(original.amount_minor, refund_amount, sale_amount).unwrap_or(0).min(remaining)
        };
        if share <= 0 {
            continue;
        }
        let unpaid = matches!(original.status, CommissionStatus::Pending | CommissionStatus::Payable | CommissionStatus::OnHold);
        let new = NewCommission {
            partner_id: original.partner_id.clone(),
            program_id: original.program_id.clone(),
            conversion_id: Some(id.clone()),
            kind: if unpaid { CommissionKind::Reversal } else { CommissionKind::Clawback },
            amount_minor: -share,
            currency: original.currency,
            basis_minor: Some(refund_amount),
            rate_bps: original.rate_bps,
            share_bps: original.share_bps,
            plan_version: original.plan_version,
            status: if unpaid { original.status } else { CommissionStatus::Payable },
            hold_reason: if unpaid { original.hold_reason } else { None },
            reason_code: Some("refund".to_owned()),
            note: Some(note.clone()),
            account: if unpaid { original.account } else { Account::CommissionPayable },
            invoice_id: original.invoice_id.clone(),
            invoice_paid_at: original.invoice_paid_at,
            payable_at: if unpaid { original.payable_at } else { Some(now) },
            adjusts_commission_id: Some(original.id.clone()),
        };
        let adjustment = commissions::insert_in(tx, scope, now, new).await?;
        if unpaid && share == remaining {
            // Nothing of it is left: the commission and its reversals are reversed together
            // (their money nets to zero where it sits).
            let mut q = Sql::build("SELECT ");
            q.push(commissions::COLUMNS).push(commissions::FROM).push(" WHERE c.workspace_id = ").push_bind(scope.workspace_id());
            q.push(" AND (c.id = ")
                .push_bind(&original.id)
                .push(" OR c.adjusts_commission_id = ")
                .push_bind(&original.id)
                .push(") ORDER BY c.id");
            let together: Vec<Commission> = tx.fetch_all(q).await?.iter().map(commissions::from_row).collect::<Result<_>>()?;
            for c in together.iter().filter(|c| c.status != CommissionStatus::Reversed) {
                commissions::set_status_in(tx, scope, now, c, CommissionStatus::Reversed, Actor::System, c.hold_reason, c.account).await?;
            }
        }
        earned.commission_ids.push(adjustment);
    }
    Ok(earned)
}

/// What `POST /invoices/{id}/paid` answers.
#[derive(Debug, Clone)]
pub struct InvoicePaid {
    pub invoice_id: String,
    pub conversion_id: ConversionId,
    pub paid_at: Timestamp,
    /// False when the invoice was already paid (a repeat changes nothing).
    pub changed: bool,
    pub commissions: Vec<Commission>,
}

/// What a referral link brought: its leads and sales (all time), what they earned its partner
/// per currency (`None` for a partner's people who do not read money), and the leads and sales
/// per UTC day (days since 1970-01-01) from `since`. The caller has checked that it may read the
/// link; this reads through the link's index (`conversions_by_link`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFigures {
    pub leads: i64,
    pub sales: i64,
    pub earnings: Option<Vec<(String, i64)>>,
    /// `(day, kind, count)`.
    pub per_day: Vec<(i64, String, i64)>,
}

pub async fn link_figures_in(
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_id: &PartnerId,
    link_id: &LinkId,
    since: i64,
) -> Result<LinkFigures> {
    let mut figures = LinkFigures::default();
    let rows = tx
        .fetch_all(sql!(
            "SELECT kind, COUNT(*) AS n FROM conversions WHERE workspace_id = $1 AND link_id = $2 GROUP BY kind",
            scope.workspace_id(),
            link_id
        ))
        .await?;
    for row in rows {
        let kind: String = row.get("kind")?;
        let n: i64 = row.get("n")?;
        match kind.as_str() {
            "lead" => figures.leads = n,
            "sale" => figures.sales = n,
            _ => {}
        }
    }
    let rows = tx
        .fetch_all(sql!(
            "SELECT occurred_at / 86400000000 AS day, kind, COUNT(*) AS n FROM conversions
             WHERE workspace_id = $1 AND link_id = $2 AND occurred_at >= $3 AND kind IN ('lead', 'sale')
             GROUP BY occurred_at / 86400000000, kind",
            scope.workspace_id(),
            link_id,
            since
        ))
        .await?;
    for row in rows {
        figures.per_day.push((row.get("day")?, row.get("kind")?, row.get("n")?));
    }
    if commissions::require_money_reader(scope).is_ok() {
        let rows = tx
            .fetch_all(sql!(
                "SELECT c.currency, CAST(SUM(c.amount_minor) AS BIGINT) AS amount FROM conversions v
                 JOIN commissions c ON c.workspace_id = v.workspace_id AND c.conversion_id = v.id
                 WHERE v.workspace_id = $1 AND v.link_id = $2 AND c.partner_id = $3
                 GROUP BY c.currency ORDER BY c.currency",
                scope.workspace_id(),
                link_id,
                partner_id
            ))
            .await?;
        figures.earnings = Some(rows.iter().map(|r| Ok((r.get("currency")?, r.get("amount")?))).collect::<Result<_>>()?);
    }
    Ok(figures)
}

/// `POST /api/v1/invoices/{invoice_id}/paid` (owners, admins, finance): the sale's invoice is
/// paid; its commissions become payable once the plan's hold has passed (at once with no hold).
/// Idempotent: a paid invoice stays as it was. 404 for an invoice no sale names.
pub async fn mark_invoice_paid(ctx: &Ctx, scope: &Scope, invoice_id: &str) -> Result<InvoicePaid> {
    // Partners do not see the vendor's invoices; staff see those of the partners they see.
    require_staff(scope, Error::NotFound)?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let mut q = Sql::build("SELECT v.id FROM conversions v WHERE v.workspace_id = ");
    q.push_bind(scope.workspace_id()).push(" AND v.kind = 'sale' AND v.invoice_id = ").push_bind(invoice_id).push(" AND ");
    tx.push_partner_filter(&mut q, "v.partner_id");
    tx.fetch_optional(q).await?.ok_or(Error::NotFound)?;
    scope.require_vendor_role(MONEY_WRITERS, "mark invoices paid")?;
    let paid = mark_paid_in(&mut tx, scope, now, invoice_id, now).await?;
    tx.commit().await?;
    Ok(paid)
}

/// [`mark_invoice_paid`] inside the caller's transaction, paid at `paid_at`.
pub async fn mark_paid_in(tx: &mut ScopedTx, scope: &Scope, now: Timestamp, invoice_id: &str, paid_at: Timestamp) -> Result<InvoicePaid> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT id, program_id, plan_version FROM conversions WHERE workspace_id = $1 AND kind = 'sale' AND invoice_id = $2",
            scope.workspace_id(),
            invoice_id
        ))
        .await?
        .ok_or(Error::NotFound)?;
    let conversion_id: ConversionId = row.get("id")?;
    // Takes the sale's row: of two marks at once, one changes it and the other finds it paid.
    tx.execute(sql!(
        "UPDATE conversions SET invoice_status = invoice_status WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        &conversion_id
    ))
    .await?;
    let state = tx
        .fetch_optional(sql!(
            "SELECT invoice_status, invoice_paid_at FROM conversions WHERE workspace_id = $1 AND id = $2",
            scope.workspace_id(),
            &conversion_id
        ))
        .await?
        .ok_or(Error::NotFound)?;
    let status: Option<String> = state.get("invoice_status")?;
    if status.as_deref() == Some("paid") {
        let at: Option<Timestamp> = state.get("invoice_paid_at")?;
        let commissions = invoice_commissions_in(tx, scope, invoice_id).await?;
        return Ok(InvoicePaid {
            invoice_id: invoice_id.to_owned(),
            conversion_id,
            paid_at: at.unwrap_or(paid_at),
            changed: false,
            commissions,
        });
    }
    tx.execute(sql!(
        "UPDATE conversions SET invoice_status = 'paid', invoice_paid_at = $3 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        &conversion_id,
        paid_at
    ))
    .await?;
    let program_id: Option<ProgramId> = row.get("program_id")?;
    let plan_version: Option<i64> = row.get("plan_version")?;
    if let (Some(program_id), Some(version)) = (program_id, plan_version) {
        let plan = plans::version_in(tx, scope, &program_id, version).await?;
        tx.execute(sql!(
            "UPDATE commissions SET invoice_paid_at = $3, payable_at = $4, updated_at = $5
             WHERE workspace_id = $1 AND invoice_id = $2 AND invoice_paid_at IS NULL",
            scope.workspace_id(),
            invoice_id,
            paid_at,
            paid_at.plus_seconds(plan.plan.hold_days * 86_400),
            now
        ))
        .await?;
    }
    let entry = AuditEntry::new("invoice.paid", "conversion", conversion_id.as_str())
        .set("invoice_id", invoice_id)
        .set("paid_at", paid_at.to_rfc3339());
    audit::record(tx, scope, now, entry).await?;
    for commission in invoice_commissions_in(tx, scope, invoice_id).await? {
        if commission.status == CommissionStatus::Pending {
            commissions::release_or_schedule_in(tx, scope, now, &commission.id).await?;
        }
    }
    let commissions = invoice_commissions_in(tx, scope, invoice_id).await?;
    Ok(InvoicePaid { invoice_id: invoice_id.to_owned(), conversion_id, paid_at, changed: true, commissions })
}

/// The commissions of a sale's invoice and their reversals and clawbacks, oldest first.
async fn invoice_commissions_in(tx: &mut ScopedTx, scope: &Scope, invoice_id: &str) -> Result<Vec<Commission>> {
    let mut q = Sql::build("SELECT ");
    q.push(commissions::COLUMNS).push(commissions::FROM).push(" WHERE c.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND c.invoice_id = ").push_bind(invoice_id).push(" ORDER BY c.id");
    tx.fetch_all(q).await?.iter().map(commissions::from_row).collect()
}

/// The most rows one upload of paid invoices may hold.
pub const MAX_PAID_ROWS: usize = 5000;

/// What a row of an upload of paid invoices does, or why it cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaidRowOutcome {
    /// The invoice becomes paid.
    Pays,
    /// Already paid: the row changes nothing.
    AlreadyPaid,
    /// The row is refused, with the reason.
    Refused(String),
}

/// A row of an upload of paid invoices.
#[derive(Debug, Clone)]
pub struct PaidRow {
    /// The row's line in the file (the header is line 1).
    pub line: usize,
    pub invoice_id: String,
    pub paid_at: Option<Timestamp>,
    pub outcome: PaidRowOutcome,
}

/// What an upload of paid invoices does (the preview) or did.
#[derive(Debug, Clone, Default)]
pub struct PaidUpload {
    pub rows: Vec<PaidRow>,
    pub paying: usize,
    pub already_paid: usize,
    pub refused: usize,
}

/// Reads a CSV of paid invoices for billing systems that cannot call the API: a header row with
/// `invoice_id` (also `invoice`, `invoice_number`) and optionally `paid_at` (RFC 3339 or a date;
/// default now), comma or semicolon separated. With `apply` false nothing is written (the
/// preview); with `apply` true every row that pays is marked paid in one transaction (owners,
/// admins, finance), and the refused rows are left out. Safe to upload twice: paid rows stay paid.
pub async fn paid_invoices_csv(ctx: &Ctx, scope: &Scope, csv_text: &str, apply: bool) -> Result<PaidUpload> {
    if scope.partner().is_some() {
        return Err(Error::forbidden("invoices are marked paid by the vendor"));
    }
    scope.require_vendor_role(MONEY_WRITERS, "mark invoices paid")?;
    let now = ctx.now();
    let delimiter = if csv_text.lines().next().is_some_and(|h| h.matches(';').count() > h.matches(',').count()) { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .delimiter(delimiter)
        .from_reader(csv_text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::invalid("file", format!("is not a CSV file: {e}")))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let column = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let invoice_column = column(&["invoice_id", "invoice", "invoice_number"])
        .ok_or_else(|| Error::invalid("file", "needs a header row with an invoice_id column (and optionally paid_at)"))?;
    let paid_column = column(&["paid_at", "paid_on", "paid"]);
    let mut upload = PaidUpload::default();
    let mut seen = std::collections::HashSet::new();
    let mut tx = if apply { scope.write(ctx).await? } else { scope.read(ctx).await? };
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        if upload.rows.len() >= MAX_PAID_ROWS {
            return Err(Error::invalid("file", format!("holds more than {MAX_PAID_ROWS} rows; split it")));
        }
        let record = record.map_err(|e| Error::invalid("file", format!("line {line} cannot be read: {e}")))?;
        let invoice_id = record.get(invoice_column).unwrap_or("").to_owned();
        let paid_text = paid_column.and_then(|c| record.get(c)).unwrap_or("");
        let paid_at = if paid_text.is_empty() { None } else { Timestamp::parse(paid_text) };
        let outcome = if invoice_id.is_empty() {
            PaidRowOutcome::Refused("no invoice id".into())
        } else if invoice_id.chars().count() > 128 || invoice_id.chars().any(char::is_control) {
            PaidRowOutcome::Refused("the invoice id is longer than 128 characters or holds control characters".into())
        } else if !paid_text.is_empty() && paid_at.is_none() {
            PaidRowOutcome::Refused(format!("paid_at {paid_text:?} is not a date or an RFC 3339 time"))
        } else if paid_at.is_some_and(|at| at > now.plus_seconds(300)) {
            PaidRowOutcome::Refused("paid_at is in the future".into())
        } else if !seen.insert(invoice_id.clone()) {
            PaidRowOutcome::Refused("the invoice is listed twice in this file".into())
        } else {
            let status = tx
                .fetch_optional(sql!(
                    "SELECT invoice_status FROM conversions WHERE workspace_id = $1 AND kind = 'sale' AND invoice_id = $2",
                    scope.workspace_id(),
                    &invoice_id
                ))
                .await?;
            match status {
                None => PaidRowOutcome::Refused("no sale was recorded with this invoice".into()),
                Some(row) if row.get::<Option<String>>("invoice_status")?.as_deref() == Some("paid") => PaidRowOutcome::AlreadyPaid,
                Some(_) => PaidRowOutcome::Pays,
            }
        };
        match &outcome {
            PaidRowOutcome::Pays => upload.paying += 1,
            PaidRowOutcome::AlreadyPaid => upload.already_paid += 1,
            PaidRowOutcome::Refused(_) => upload.refused += 1,
        }
        if apply && outcome == PaidRowOutcome::Pays {
            mark_paid_in(&mut tx, scope, now, &invoice_id, paid_at.unwrap_or(now)).await?;
        }
        upload.rows.push(PaidRow { line, invoice_id, paid_at, outcome });
    }
    tx.commit().await?;
    Ok(upload)
}
