//! Commission plans (API.md "Programs": `PUT /programs/{id}/commission-plan`): what a program
//! pays for a lead and a sale, for how long a customer's sales keep earning, the tier overrides, a
//! distributor's override on its resellers' sales, the minimum payout and the hold period.
//!
//! Plans are versioned: every change that alters the plan adds a version effective from the
//! moment it is saved, and a conversion is paid by the version in force when it happened
//! (`conversions` records the version it applied). A PUT of the plan as it stands adds nothing.

use serde_json::{Value as Json, json};
use trellis_core::{Currency, Error, ProgramId, Result, TierId, Timestamp, UserId, Validation, VendorRole};
use trellis_db::{Row, Tx, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Membership, Scope};
use trellis_programs::{programs, tiers};

/// Who writes plans: owners, admins and finance (API.md "Conventions").
pub const PLAN_WRITERS: &[VendorRole] = &[VendorRole::Owner, VendorRole::Admin, VendorRole::Finance];

/// The longest hold period a plan may set.
pub const MAX_HOLD_DAYS: i64 = 365;

/// The largest flat amount or minimum payout: 10^12 minor units.
pub const MAX_PLAN_MINOR: i64 = 1_000_000_000_000;

/// How long a customer's sales keep earning after its first sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recurrence {
    /// `recurring_months: null` (or absent): every sale of the customer, for life.
    Lifetime,
    /// `recurring_months: 0`: the customer's first sale only; `n`: sales in the `n` months from it.
    Months(i64),
}

impl Recurrence {
    /// Whether a sale at `at` earns, for a customer whose first sale was at `first_sale_at`
    /// (`None`: this is its first).
    pub fn earns(self, first_sale_at: Option<Timestamp>, at: Timestamp) -> bool {
        match (self, first_sale_at) {
            (_, None) | (Recurrence::Lifetime, _) => true,
            (Recurrence::Months(0), Some(_)) => false,
            (Recurrence::Months(months), Some(first)) => at < add_months(first, months),
        }
    }
}

/// `at` plus whole calendar months (the 31st becomes the month's last day).
pub fn add_months(at: Timestamp, months: i64) -> Timestamp {
    let dt = at.to_datetime();
    let total = i64::from(dt.year()) * 12 + i64::from(u8::from(dt.month())) - 1 + months;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let Ok(year) = i32::try_from(year) else { return Timestamp::from_micros(i64::MAX) };
    let month = time::Month::try_from(u8::try_from(month0 + 1).unwrap_or(1)).unwrap_or(time::Month::January);
    let day = dt.day().min(time::util::days_in_month(month, year));
    match time::Date::from_calendar_date(year, month, day) {
        Ok(date) => Timestamp::from_datetime(dt.replace_date(date)),
        Err(_) => Timestamp::from_micros(i64::MAX),
    }
}

/// The sale part of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleTerms {
    pub percent_bps: i64,
    pub recurrence: Recurrence,
}

/// A tier's own sale rate in this plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierOverride {
    pub tier_id: TierId,
    pub sale_percent_bps: i64,
}

/// A program's commission plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The program's currency: every amount of the plan is in it.
    pub currency: Currency,
    pub lead_flat_minor: Option<i64>,
    pub sale: Option<SaleTerms>,
    pub hold_days: i64,
    pub min_payout_minor: Option<i64>,
    pub parent_override_bps: Option<i64>,
    pub tier_overrides: Vec<TierOverride>,
}

impl Plan {
    /// The plan as the API shows it (and as it is stored).
    pub fn document(&self) -> Json {
        let money = |minor: i64| json!({"amount_minor": minor, "currency": self.currency.code()});
        let mut doc = serde_json::Map::new();
        if let Some(flat) = self.lead_flat_minor {
            doc.insert("lead".into(), json!({"flat": money(flat)}));
        }
        if let Some(sale) = self.sale {
            let months = match sale.recurrence {
                Recurrence::Lifetime => Json::Null,
                Recurrence::Months(n) => json!(n),
            };
            doc.insert("sale".into(), json!({"percent_bps": sale.percent_bps, "recurring_months": months}));
        }
        doc.insert("hold_days".into(), json!(self.hold_days));
        if let Some(min) = self.min_payout_minor {
            doc.insert("min_payout".into(), money(min));
        }
        if let Some(bps) = self.parent_override_bps {
            doc.insert("parent_override_bps".into(), json!(bps));
        }
        let overrides: Vec<Json> =
            self.tier_overrides.iter().map(|o| json!({"tier_id": o.tier_id, "sale_percent_bps": o.sale_percent_bps})).collect();
        doc.insert("tier_overrides".into(), Json::Array(overrides));
        Json::Object(doc)
    }

    /// The sale rate for a partner holding `tier` (with the tier's own benefit override): the
    /// plan's override for the tier, else the tier's `commission_override_bps`, else the plan's.
    pub fn sale_rate_bps(&self, tier_id: Option<&TierId>, tier_benefit_bps: Option<i64>) -> Option<i64> {
        let sale = self.sale?;
        let planned = tier_id.and_then(|t| self.tier_overrides.iter().find(|o| &o.tier_id == t)).map(|o| o.sale_percent_bps);
        Some(planned.or(tier_benefit_bps).unwrap_or(sale.percent_bps))
    }
}

/// `amount × bps / 10000 × share / 10000`, rounded once to the minor unit, half to even
/// (API.md "Conventions"). `None` when it does not fit (never for amounts within limits).
pub fn commission_of(amount_minor: i64, rate_bps: i64, share_bps: i64) -> Option<i64> {
    let numerator = i128::from(amount_minor) * i128::from(rate_bps) * i128::from(share_bps);
    i64::try_from(round_half_even(numerator, 100_000_000)).ok()
}

/// `part / whole` of `amount`, rounded half to even: a partial refund's share of a commission.
pub fn proportion_of(amount_minor: i64, part: i64, whole: i64) -> Option<i64> {
    if whole <= 0 {
        return None;
    }
    i64::try_from(round_half_even(i128::from(amount_minor) * i128::from(part), i128::from(whole))).ok()
}

/// `numerator / denominator` (denominator > 0) rounded to the nearest integer, ties to even.
fn round_half_even(numerator: i128, denominator: i128) -> i128 {
    let (quotient, remainder) = (numerator.div_euclid(denominator), numerator.rem_euclid(denominator));
    match (remainder * 2).cmp(&denominator) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => quotient + (quotient & 1),
    }
}

/// One version of a program's plan.
#[derive(Debug, Clone)]
pub struct PlanVersion {
    pub program_id: ProgramId,
    pub version: i64,
    pub plan: Plan,
    pub effective_from: Timestamp,
    pub created_by_user_id: Option<UserId>,
    pub created_at: Timestamp,
}

fn money_field(value: &Json, field: &str, currency: Currency, v: &mut Validation) -> Option<i64> {
    let amount = value.get("amount_minor").and_then(Json::as_i64);
    let code = value.get("currency").and_then(Json::as_str);
    let fields_ok = value.as_object().is_some_and(|o| o.keys().all(|k| k == "amount_minor" || k == "currency"));
    match (amount, code) {
        (Some(amount), Some(code)) if fields_ok => {
            if !(0..=MAX_PLAN_MINOR).contains(&amount) {
                v.add(&format!("{field}.amount_minor"), format!("must be between 0 and {MAX_PLAN_MINOR} minor units"));
                return None;
            }
            if !code.eq_ignore_ascii_case(currency.code()) {
                v.add(&format!("{field}.currency"), format!("must be the program's currency, {currency}"));
                return None;
            }
            Some(amount)
        }
        _ => {
            v.add(field, format!("must be money such as {{\"amount_minor\": 5000, \"currency\": \"{currency}\"}}"));
            None
        }
    }
}

fn bps_field(value: &Json, field: &str, v: &mut Validation) -> Option<i64> {
    match value.as_i64() {
        Some(bps) if (0..=10_000).contains(&bps) => Some(bps),
        _ => {
            v.add(field, "must be basis points between 0 and 10000 (2000 = 20%)");
            None
        }
    }
}

/// Checks a plan sent by a client for a program in `currency` whose tiers are `tier_ids`,
/// recording every problem under its path (`sale.percent_bps`, `tier_overrides[1].tier_id`).
pub fn parse(value: &Json, currency: Currency, tier_ids: &[TierId], v: &mut Validation) -> Option<Plan> {
    let Some(object) = value.as_object() else {
        v.add("plan", "must be an object such as {\"sale\": {\"percent_bps\": 2000}, \"hold_days\": 30}");
        return None;
    };
    let errors_before = v.error_count();
    let mut plan = Plan {
        currency,
        lead_flat_minor: None,
        sale: None,
        hold_days: 30,
        min_payout_minor: None,
        parent_override_bps: None,
        tier_overrides: Vec::new(),
    };
    for (key, value) in object {
        match key.as_str() {
            "lead" => match value.as_object() {
                Some(lead) if lead.len() == 1 && lead.contains_key("flat") => {
                    plan.lead_flat_minor = money_field(&lead["flat"], "lead.flat", currency, v);
                }
                _ if value.is_null() => {}
                _ => v.add("lead", "must be {\"flat\": {\"amount_minor\": …, \"currency\": …}}"),
            },
            "sale" => match value.as_object() {
                Some(sale) => {
                    let percent = match sale.get("percent_bps") {
                        Some(bps) => bps_field(bps, "sale.percent_bps", v),
                        None => {
                            v.add("sale.percent_bps", "is required: the share of each sale, in basis points");
                            None
                        }
                    };
                    let recurrence = match sale.get("recurring_months") {
                        None | Some(Json::Null) => Some(Recurrence::Lifetime),
                        Some(months) => match months.as_i64() {
                            Some(n) if (0..=600).contains(&n) => Some(Recurrence::Months(n)),
                            _ => {
                                v.add(
                                    "sale.recurring_months",
                                    "must be null (for life) or a number of months from 0 (first sale only) to 600",
                                );
                                None
                            }
                        },
                    };
                    for other in sale.keys().filter(|k| *k != "percent_bps" && *k != "recurring_months") {
                        v.add(&format!("sale.{other}"), "is not part of a sale plan (percent_bps, recurring_months)");
                    }
                    if let (Some(percent_bps), Some(recurrence)) = (percent, recurrence) {
                        plan.sale = Some(SaleTerms { percent_bps, recurrence });
                    }
                }
                None if value.is_null() => {}
                None => v.add("sale", "must be {\"percent_bps\": 2000, \"recurring_months\": 12|null}"),
            },
            "hold_days" => match value.as_i64() {
                Some(days) if (0..=MAX_HOLD_DAYS).contains(&days) => plan.hold_days = days,
                _ => v.add("hold_days", format!("must be a number of days from 0 to {MAX_HOLD_DAYS}")),
            },
            "min_payout" if value.is_null() => {}
            "min_payout" => plan.min_payout_minor = money_field(value, "min_payout", currency, v),
            "parent_override_bps" if value.is_null() => {}
            "parent_override_bps" => plan.parent_override_bps = bps_field(value, "parent_override_bps", v),
            "tier_overrides" if value.is_null() => {}
            "tier_overrides" => match value.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let field = format!("tier_overrides[{i}]");
                        let tier = item.get("tier_id").and_then(Json::as_str);
                        let bps = item.get("sale_percent_bps");
                        let shape_ok = item.as_object().is_some_and(|o| o.keys().all(|k| k == "tier_id" || k == "sale_percent_bps"));
                        match (tier, bps) {
                            (Some(tier), Some(bps)) if shape_ok => {
                                let known = tier_ids.iter().find(|t| t.as_str() == tier);
                                let bps = bps_field(bps, &format!("{field}.sale_percent_bps"), v);
                                match known {
                                    None => v.add(&format!("{field}.tier_id"), "is not a tier of this program"),
                                    Some(t) if plan.tier_overrides.iter().any(|o| &o.tier_id == t) => {
                                        v.add(&format!("{field}.tier_id"), "is listed twice")
                                    }
                                    Some(t) => {
                                        if let Some(sale_percent_bps) = bps {
                                            plan.tier_overrides.push(TierOverride { tier_id: t.clone(), sale_percent_bps });
                                        }
                                    }
                                }
                            }
                            _ => v.add(&field, "must be {\"tier_id\": \"tir_…\", \"sale_percent_bps\": 2500}"),
                        }
                    }
                }
                None => v.add("tier_overrides", "must be a list of {\"tier_id\", \"sale_percent_bps\"}"),
            },
            other => {
                v.add(other, "is not part of a commission plan (lead, sale, hold_days, min_payout, parent_override_bps, tier_overrides)")
            }
        }
    }
    if plan.sale.is_none() && !plan.tier_overrides.is_empty() {
        v.add("tier_overrides", "override the sale rate, so the plan needs a sale part");
    }
    if plan.sale.is_none() && plan.parent_override_bps.is_some() {
        v.add("parent_override_bps", "is a share of sales, so the plan needs a sale part");
    }
    (v.error_count() == errors_before).then(|| {
        plan.tier_overrides.sort_by(|a, b| a.tier_id.cmp(&b.tier_id));
        plan
    })
}

fn from_row(row: &Row, currency: Currency, program_id: &ProgramId) -> Result<PlanVersion> {
    let document: String = row.get("document")?;
    let value: Json = serde_json::from_str(&document).map_err(|e| Error::Internal(format!("stored commission plan: {e}")))?;
    let tier_ids: Vec<TierId> = value
        .get("tier_overrides")
        .and_then(Json::as_array)
        .map(|items| items.iter().filter_map(|i| i.get("tier_id").and_then(Json::as_str)).filter_map(|t| t.parse().ok()).collect())
        .unwrap_or_default();
    let mut v = Validation::new();
    let plan =
        parse(&value, currency, &tier_ids, &mut v).ok_or_else(|| Error::Internal("a stored commission plan no longer parses".into()))?;
    Ok(PlanVersion {
        program_id: program_id.clone(),
        version: row.get("version")?,
        plan,
        effective_from: row.get("effective_from")?,
        created_by_user_id: row.get("created_by_user_id")?,
        created_at: row.get("created_at")?,
    })
}

fn program_currency(program: &programs::Program) -> Result<Currency> {
    Currency::parse(&program.currency).map_err(|_| Error::Internal(format!("stored program currency {}", program.currency)))
}

/// The version in force at `at` (the latest effective at or before it); `None` when the program
/// had no plan then.
pub async fn in_force_at(tx: &mut Tx, scope: &Scope, program_id: &ProgramId, at: Timestamp) -> Result<Option<PlanVersion>> {
    let program = programs::get_in(tx, scope.workspace_id(), program_id).await?;
    let currency = program_currency(&program)?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT version, document, effective_from, created_by_user_id, created_at FROM commission_plans
             WHERE workspace_id = $1 AND program_id = $2 AND effective_from <= $3 ORDER BY version DESC LIMIT 1",
            scope.workspace_id(),
            program_id,
            at
        ))
        .await?;
    row.map(|row| from_row(&row, currency, program_id)).transpose()
}

/// One version of a program's plan.
pub async fn version_in(tx: &mut Tx, scope: &Scope, program_id: &ProgramId, version: i64) -> Result<PlanVersion> {
    let program = programs::get_in(tx, scope.workspace_id(), program_id).await?;
    let currency = program_currency(&program)?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT version, document, effective_from, created_by_user_id, created_at FROM commission_plans
             WHERE workspace_id = $1 AND program_id = $2 AND version = $3",
            scope.workspace_id(),
            program_id,
            version
        ))
        .await?
        .ok_or_else(|| Error::Internal(format!("commission plan version {version} of {program_id} is missing")))?;
    from_row(&row, currency, program_id)
}

/// `GET /api/v1/programs/{id}/commission-plan`: the plan in force now (404 when the program has
/// none). Staff read every program's plan; partners the plans of the programs they are in.
pub async fn current(ctx: &Ctx, scope: &Scope, program_id: &ProgramId) -> Result<PlanVersion> {
    let mut tx = scope.read(ctx).await?;
    if let Membership::Partner { partner_id, .. } = scope.membership() {
        let enrolled = tx
            .fetch_i64(sql!(
                "SELECT COUNT(*) AS n FROM enrollments WHERE workspace_id = $1 AND partner_id = $2 AND program_id = $3",
                scope.workspace_id(),
                partner_id,
                program_id
            ))
            .await?;
        if enrolled == 0 {
            return Err(Error::NotFound);
        }
    }
    let found = in_force_at(&mut tx, scope, program_id, ctx.now()).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(found)
}

/// Every version of a program's plan, newest first (staff).
pub async fn history(ctx: &Ctx, scope: &Scope, program_id: &ProgramId) -> Result<Vec<PlanVersion>> {
    if scope.partner().is_some() {
        return Err(Error::NotFound);
    }
    let mut tx = scope.read(ctx).await?;
    let program = programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
    let currency = program_currency(&program)?;
    let rows = tx
        .fetch_all(sql!(
            "SELECT version, document, effective_from, created_by_user_id, created_at FROM commission_plans
             WHERE workspace_id = $1 AND program_id = $2 ORDER BY version DESC LIMIT 100",
            scope.workspace_id(),
            program_id
        ))
        .await?;
    rows.iter().map(|row| from_row(row, currency, program_id)).collect()
}

/// `PUT /api/v1/programs/{id}/commission-plan`: a new version effective now, unless the plan
/// sent is the one in force (then nothing changes). Audited with the plan before and after.
pub async fn put(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, value: &Json) -> Result<PlanVersion> {
    put_effective(ctx, scope, program_id, value, None).await
}

/// [`put`] effective from `effective_from` (default now): a plan may be backdated, to pay
/// conversions recorded late (a first plan set up after the sales it pays), but never before the
/// version it follows nor into the future.
pub async fn put_effective(
    ctx: &Ctx,
    scope: &Scope,
    program_id: &ProgramId,
    value: &Json,
    effective_from: Option<Timestamp>,
) -> Result<PlanVersion> {
    let now = ctx.now();
    if effective_from.is_some_and(|at| at > now) {
        return Err(Error::invalid("effective_from", "must not be in the future"));
    }
    let effective = effective_from.unwrap_or(now);
    let mut tx = scope.write(ctx).await?;
    let program = programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
    if scope.partner().is_some() {
        return Err(Error::forbidden("partners do not set commission plans"));
    }
    scope.require_vendor_role(PLAN_WRITERS, "set commission plans")?;
    let currency = program_currency(&program)?;
    let tier_ids: Vec<TierId> = tiers::list_in(&mut tx, scope.workspace_id(), program_id).await?.into_iter().map(|t| t.id).collect();
    let mut v = Validation::new();
    let plan = parse(value, currency, &tier_ids, &mut v);
    v.finish().map_err(Error::Validation)?;
    let plan = plan.ok_or_else(|| Error::invalid("plan", "is not a commission plan"))?;
    // The program's row is the plan's lock: two saves cannot both take the next version.
    tx.execute(sql!("UPDATE programs SET updated_at = updated_at WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), program_id))
        .await?;
    let before = in_force_at(&mut tx, scope, program_id, now).await?;
    if let Some(before) = before.as_ref().filter(|b| b.plan == plan && effective_from.is_none()) {
        let unchanged = before.clone();
        tx.commit().await?;
        return Ok(unchanged);
    }
    let latest = tx
        .fetch_optional(sql!(
            "SELECT MAX(version) AS version FROM commission_plans WHERE workspace_id = $1 AND program_id = $2",
            scope.workspace_id(),
            program_id
        ))
        .await?
        .map(|row| row.get::<Option<i64>>("version"))
        .transpose()?
        .flatten();
    let version = latest.unwrap_or(0) + 1;
    let latest_effective = tx
        .fetch_optional(sql!(
            "SELECT MAX(effective_from) AS at FROM commission_plans WHERE workspace_id = $1 AND program_id = $2",
            scope.workspace_id(),
            program_id
        ))
        .await?
        .map(|row| row.get::<Option<Timestamp>>("at"))
        .transpose()?
        .flatten();
    if latest_effective.is_some_and(|at| effective < at) {
        return Err(Error::invalid("effective_from", "must not be before the version in force from then on; plans change forward"));
    }
    let document = plan.document();
    tx.execute(sql!(
        "INSERT INTO commission_plans (workspace_id, program_id, version, document, effective_from, created_by_user_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        scope.workspace_id(),
        program_id,
        version,
        document.to_string(),
        effective,
        scope.user_id().cloned(),
        now
    ))
    .await?;
    let entry = AuditEntry::new("commission_plan.updated", "program", program_id.as_str())
        .change("plan", before.map(|b| b.plan.document()).unwrap_or(Json::Null), document)
        .set("version", version)
        .set("effective_from", effective.to_rfc3339());
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(PlanVersion {
        program_id: program_id.clone(),
        version,
        plan,
        effective_from: effective,
        created_by_user_id: scope.user_id().cloned(),
        created_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").expect("EUR")
    }

    fn parsed(value: Json, tiers: &[TierId]) -> std::result::Result<Plan, Vec<String>> {
        let mut v = Validation::new();
        let plan = parse(&value, eur(), tiers, &mut v);
        match v.finish() {
            Ok(()) => Ok(plan.expect("a plan when nothing was recorded")),
            Err(errors) => Err(errors.into_iter().map(|e| e.field).collect()),
        }
    }

    #[test]
    fn a_full_plan_reads_back_as_the_same_document() {
        let gold = TierId::generate();
        let doc = json!({
            "lead": {"flat": {"amount_minor": 5000, "currency": "EUR"}},
            "sale": {"percent_bps": 2000, "recurring_months": 12},
            "hold_days": 30,
            "min_payout": {"amount_minor": 10000, "currency": "EUR"},
            "parent_override_bps": 500,
            "tier_overrides": [{"tier_id": gold.as_str(), "sale_percent_bps": 2500}]
        });
        let plan = parsed(doc.clone(), std::slice::from_ref(&gold)).expect("valid");
        assert_eq!(plan.document(), doc);
        assert_eq!(plan.sale_rate_bps(Some(&gold), Some(3000)), Some(2500), "the plan's tier override comes first");
        assert_eq!(plan.sale_rate_bps(Some(&TierId::generate()), Some(3000)), Some(3000), "then the tier's own benefit");
        assert_eq!(plan.sale_rate_bps(None, None), Some(2000));
    }

    #[test]
    fn every_mistake_is_reported_under_its_path() {
        let doc = json!({
            "lead": {"flat": {"amount_minor": -1, "currency": "EUR"}},
            "sale": {"percent_bps": 20000, "recurring_months": -2, "cap": 1},
            "hold_days": 400,
            "min_payout": {"amount_minor": 100, "currency": "USD"},
            "tier_overrides": [{"tier_id": "tir_unknown", "sale_percent_bps": 100}],
            "bonus": true
        });
        assert_eq!(
            parsed(doc, &[]).expect_err("invalid"),
            [
                "bonus",
                "hold_days",
                "lead.flat.amount_minor",
                "min_payout.currency",
                "sale.percent_bps",
                "sale.recurring_months",
                "sale.cap",
                "tier_overrides[0].tier_id"
            ]
        );
    }

    #[test]
    fn recurrence_counts_calendar_months_from_the_first_sale() {
        let first = Timestamp::parse("2026-01-31T10:00:00Z").expect("time");
        let months = Recurrence::Months(1);
        assert!(months.earns(None, first));
        assert!(months.earns(Some(first), Timestamp::parse("2026-02-27T10:00:00Z").expect("time")));
        assert!(!months.earns(Some(first), Timestamp::parse("2026-02-28T10:00:00Z").expect("time")), "31 Jan + 1 month is 28 Feb");
        assert!(!Recurrence::Months(0).earns(Some(first), first), "0 months: the first sale only");
        assert!(Recurrence::Lifetime.earns(Some(first), Timestamp::parse("2046-01-01").expect("time")));
    }

    #[test]
    fn commissions_round_once_half_to_even() {
        assert_eq!(commission_of(12_345, 2000, 10_000), Some(2469));
        // 0.5 of a cent rounds to the even neighbour, both ways.
        assert_eq!(commission_of(25, 2000, 10_000), Some(5));
        assert_eq!(commission_of(1, 5000, 10_000), Some(0));
        assert_eq!(commission_of(3, 5000, 10_000), Some(2));
        assert_eq!(commission_of(10_001, 2000, 5000), Some(1000));
        assert_eq!(proportion_of(1000, 1, 3), Some(333));
        assert_eq!(proportion_of(1000, 1, 0), None);
    }
}
