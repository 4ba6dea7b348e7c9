//! Tiers of a program: ordered levels (rank, higher is better) with requirements — rules over the
//! named partner metrics of the [`metric registry`](trellis_directory::metric_registry) — and benefits: text plus
//! machine-readable fields later capabilities read (commission override, MDF allowance, content
//! access).

use serde_json::{Value as Json, json};
use trellis_core::{Currency, Error, ProgramId, Result, TierId, Timestamp, Validation, VendorRole, WorkspaceId};
use trellis_db::{Row, Sql, Tx, sql};
use trellis_directory::metric_registry::{MetricType, MetricValue, Registry};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope};

use crate::programs;

/// How a rule compares the observed value with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = ">")]
    MoreThan,
    #[serde(rename = "<=")]
    AtMost,
    #[serde(rename = "<")]
    LessThan,
    #[serde(rename = "=")]
    Equal,
    #[serde(rename = "!=")]
    NotEqual,
}

impl Op {
    pub const ALL: &'static [Op] = &[Op::AtLeast, Op::MoreThan, Op::AtMost, Op::LessThan, Op::Equal, Op::NotEqual];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::AtLeast => ">=",
            Op::MoreThan => ">",
            Op::AtMost => "<=",
            Op::LessThan => "<",
            Op::Equal => "=",
            Op::NotEqual => "!=",
        }
    }

    pub fn parse(text: &str) -> Option<Op> {
        Op::ALL.iter().copied().find(|op| op.as_str() == text)
    }

    /// In words, for explanations: "at least".
    pub fn words(self) -> &'static str {
        match self {
            Op::AtLeast => "at least",
            Op::MoreThan => "more than",
            Op::AtMost => "at most",
            Op::LessThan => "less than",
            Op::Equal => "is",
            Op::NotEqual => "is not",
        }
    }

    /// Booleans compare only for (in)equality.
    pub fn applies_to(self, kind: MetricType) -> bool {
        kind == MetricType::Integer || matches!(self, Op::Equal | Op::NotEqual)
    }

    /// Whether `observed op expected` holds; values of different types never do.
    pub fn holds(self, observed: MetricValue, expected: MetricValue) -> bool {
        match (observed, expected) {
            (MetricValue::Integer(a), MetricValue::Integer(b)) => match self {
                Op::AtLeast => a >= b,
                Op::MoreThan => a > b,
                Op::AtMost => a <= b,
                Op::LessThan => a < b,
                Op::Equal => a == b,
                Op::NotEqual => a != b,
            },
            (MetricValue::Boolean(a), MetricValue::Boolean(b)) => match self {
                Op::Equal => a == b,
                Op::NotEqual => a != b,
                _ => false,
            },
            _ => false,
        }
    }
}

/// `{"metric": "active_users", "op": ">=", "value": 3}`
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rule {
    pub metric: String,
    pub op: Op,
    pub value: MetricValue,
}

/// A tier's requirements: every rule must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Requirements {
    #[serde(default)]
    pub all: Vec<Rule>,
}

/// A marketing-development-funds allowance, in minor units of a currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MdfAllowance {
    pub amount_minor: i64,
    pub currency: String,
}

/// What a tier gives. The text is for people; the other fields are read by the capabilities they
/// belong to (commissions, MDF, content).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Benefits {
    #[serde(default)]
    pub text: String,
    /// Replaces the program's sale commission rate for partners in this tier (basis points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission_override_bps: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mdf_allowance: Option<MdfAllowance>,
    /// Content collections partners in this tier may open.
    #[serde(default)]
    pub content_access: Vec<String>,
}

const MAX_RULES: usize = 20;
const MAX_CONTENT_TAGS: usize = 50;

/// Checks requirements sent by a client against the registry, recording every problem under its
/// path (`requirements.all[0].op`).
pub fn parse_requirements(registry: &Registry, value: &Json, v: &mut Validation) -> Option<Requirements> {
    let Some(object) = value.as_object() else {
        v.add("requirements", "must be an object such as {\"all\": [{\"metric\": \"active_users\", \"op\": \">=\", \"value\": 3}]}");
        return None;
    };
    let mut ok = true;
    for key in object.keys().filter(|k| k.as_str() != "all") {
        v.add(&format!("requirements.{key}"), "is not known; rules go in \"all\"");
        ok = false;
    }
    let rules = match object.get("all") {
        None => &Vec::new(),
        Some(Json::Array(rules)) => rules,
        Some(_) => {
            v.add("requirements.all", "must be a list of rules");
            return None;
        }
    };
    if rules.len() > MAX_RULES {
        // Refused before any rule is read: a long list costs nothing and reports one problem.
        v.add("requirements.all", format!("at most {MAX_RULES} rules"));
        return None;
    }
    let mut all = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        match parse_rule(registry, rule, &format!("requirements.all[{i}]"), v) {
            Some(rule) => all.push(rule),
            None => ok = false,
        }
    }
    ok.then_some(Requirements { all })
}

fn parse_rule(registry: &Registry, rule: &Json, field: &str, v: &mut Validation) -> Option<Rule> {
    let Some(object) = rule.as_object() else {
        v.add(field, "must be an object with metric, op and value");
        return None;
    };
    let mut ok = true;
    for key in object.keys().filter(|k| !matches!(k.as_str(), "metric" | "op" | "value")) {
        v.add(&format!("{field}.{key}"), "is not a field of a rule (metric, op, value)");
        ok = false;
    }
    let metric = match object.get("metric").and_then(Json::as_str) {
        Some(name) => match registry.get(name) {
            Some(metric) => Some(metric),
            None => {
                let known: Vec<&str> = registry.all().iter().map(|m| m.name).collect();
                v.add(&format!("{field}.metric"), format!("is not a known metric; known metrics: {}", known.join(", ")));
                None
            }
        },
        None => {
            v.add(&format!("{field}.metric"), "must name a metric");
            None
        }
    };
    let op = match object.get("op").and_then(Json::as_str).and_then(Op::parse) {
        Some(op) => Some(op),
        None => {
            v.add(&format!("{field}.op"), "must be one of >=, >, <=, <, =, !=");
            None
        }
    };
    let (Some(metric), Some(op)) = (metric, op) else { return None };
    if !op.applies_to(metric.kind) {
        v.add(&format!("{field}.op"), format!("{} is a yes/no metric: use = or !=", metric.name));
        ok = false;
    }
    let value = object.get("value").and_then(|value| MetricValue::from_json(metric.kind, value));
    if value.is_none() {
        let wanted = match metric.kind {
            MetricType::Integer => "must be a whole number",
            MetricType::Boolean => "must be true or false",
        };
        v.add(&format!("{field}.value"), format!("{wanted} ({} is a {} metric)", metric.name, metric.kind.as_str()));
    }
    let value = value?;
    ok.then(|| Rule { metric: metric.name.to_owned(), op, value })
}

/// Checks benefits sent by a client, recording every problem under its path (`benefits.text`).
pub fn parse_benefits(value: &Json, v: &mut Validation) -> Option<Benefits> {
    let Some(object) = value.as_object() else {
        v.add("benefits", "must be an object such as {\"text\": \"…\", \"commission_override_bps\": 2500}");
        return None;
    };
    let mut ok = true;
    let mut benefits = Benefits::default();
    for (key, value) in object {
        let field = format!("benefits.{key}");
        match key.as_str() {
            "text" => match value.as_str() {
                Some(text) if text.trim().chars().count() <= 2000 => benefits.text = text.trim().to_owned(),
                _ => {
                    v.add(&field, "must be a text of at most 2000 characters");
                    ok = false;
                }
            },
            "commission_override_bps" => match value.as_i64() {
                Some(bps) if (0..=10_000).contains(&bps) => benefits.commission_override_bps = Some(bps),
                _ => {
                    v.add(&field, "must be basis points between 0 and 10000 (2500 = 25%)");
                    ok = false;
                }
            },
            "mdf_allowance" => match parse_allowance(value, &field, v) {
                Some(allowance) => benefits.mdf_allowance = Some(allowance),
                None => ok = false,
            },
            "content_access" => match parse_content_access(value) {
                Some(tags) => benefits.content_access = tags,
                None => {
                    v.add(
                        &field,
                        format!("must be a list of at most {MAX_CONTENT_TAGS} distinct names of 1 to 60 lowercase letters, digits, - or _"),
                    );
                    ok = false;
                }
            },
            _ => {
                v.add(&field, "is not a known benefit (text, commission_override_bps, mdf_allowance, content_access)");
                ok = false;
            }
        }
    }
    ok.then_some(benefits)
}

fn parse_allowance(value: &Json, field: &str, v: &mut Validation) -> Option<MdfAllowance> {
    let Some(object) = value.as_object() else {
        v.add(field, "must be an object {\"amount_minor\": 500000, \"currency\": \"EUR\"}");
        return None;
    };
    let mut ok = true;
    for key in object.keys().filter(|k| !matches!(k.as_str(), "amount_minor" | "currency")) {
        v.add(&format!("{field}.{key}"), "is not a field of an allowance (amount_minor, currency)");
        ok = false;
    }
    let amount = object.get("amount_minor").and_then(Json::as_i64).filter(|a| (0..=1_000_000_000_000).contains(a));
    if amount.is_none() {
        v.add(&format!("{field}.amount_minor"), "must be a whole number of minor units (cents) between 0 and 10^12");
    }
    let currency = object.get("currency").and_then(Json::as_str).and_then(|c| Currency::parse(c).ok());
    if currency.is_none() {
        v.add(&format!("{field}.currency"), "must be an ISO 4217 currency code such as EUR");
    }
    match (amount, currency, ok) {
        (Some(amount_minor), Some(currency), true) => Some(MdfAllowance { amount_minor, currency: currency.code().to_owned() }),
        _ => None,
    }
}

fn parse_content_access(value: &Json) -> Option<Vec<String>> {
    let tags = value.as_array().filter(|tags| tags.len() <= MAX_CONTENT_TAGS)?;
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.as_str()?.trim();
        let well_formed =
            (1..=60).contains(&tag.len()) && tag.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !well_formed || out.iter().any(|t| t == tag) {
            return None;
        }
        out.push(tag.to_owned());
    }
    Some(out)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Tier {
    pub id: TierId,
    pub program_id: ProgramId,
    pub name: String,
    pub rank: i64,
    pub requirements: Requirements,
    pub benefits: Benefits,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Input of `create`; requirements and benefits as the client sent them (validated here).
#[derive(Debug, Clone, Default)]
pub struct NewTier {
    pub name: String,
    pub rank: i64,
    pub requirements: Option<Json>,
    pub benefits: Option<Json>,
}

/// A change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TierPatch {
    pub name: Option<String>,
    pub rank: Option<i64>,
    pub requirements: Option<Json>,
    pub benefits: Option<Json>,
}

const COLUMNS: &str = "id, program_id, name, rank, requirements, benefits, created_at, updated_at";

fn from_row(row: &Row) -> Result<Tier> {
    let requirements: String = row.get("requirements")?;
    let benefits: String = row.get("benefits")?;
    let id: TierId = row.get("id")?;
    Ok(Tier {
        requirements: serde_json::from_str(&requirements).map_err(|e| Error::Internal(format!("stored requirements of {id}: {e}")))?,
        benefits: serde_json::from_str(&benefits).map_err(|e| Error::Internal(format!("stored benefits of {id}: {e}")))?,
        id,
        program_id: row.get("program_id")?,
        name: row.get("name")?,
        rank: row.get("rank")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn check_rank(v: &mut Validation, rank: i64) {
    if !(0..=1000).contains(&rank) {
        v.add("rank", "must be between 0 and 1000 (higher is better)");
    }
}

/// 422 when another tier of the program has this rank.
async fn check_rank_free(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    program_id: &ProgramId,
    rank: i64,
    except: Option<&TierId>,
) -> Result<()> {
    let taken = list_in(tx, workspace_id, program_id).await?.into_iter().any(|t| t.rank == rank && Some(&t.id) != except);
    if taken { Err(Error::invalid("rank", "another tier of this program has this rank")) } else { Ok(()) }
}

fn rank_conflict(e: trellis_db::DbError) -> Error {
    if e.is_unique("rank") || e.is_unique("tiers") {
        Error::invalid("rank", "another tier of this program has this rank")
    } else {
        e.into()
    }
}

/// Creates a tier in a program (owner/admin/channel_manager).
pub async fn create(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, input: NewTier) -> Result<Tier> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "manage tiers")?;
    let registry = Registry::of(ctx)?;
    let mut v = Validation::new();
    let name = v.text("name", &input.name, 100);
    check_rank(&mut v, input.rank);
    let requirements = match &input.requirements {
        Some(value) => parse_requirements(registry, value, &mut v),
        None => Some(Requirements::default()),
    };
    let benefits = match &input.benefits {
        Some(value) => parse_benefits(value, &mut v),
        None => Some(Benefits::default()),
    };
    v.finish().map_err(Error::Validation)?;
    let (Some(name), Some(requirements), Some(benefits)) = (name, requirements, benefits) else {
        return Err(Error::Internal("validated".into()));
    };
    check_rank_free(&mut tx, scope.workspace_id(), program_id, input.rank, None).await?;
    let id = TierId::generate();
    tx.execute(sql!(
        "INSERT INTO tiers (workspace_id, id, program_id, name, rank, requirements, benefits, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        scope.workspace_id(), id, program_id, name, input.rank, json!(requirements).to_string(), json!(benefits).to_string(), now
    ))
    .await
    .map_err(rank_conflict)?;
    let entry = AuditEntry::new("tier.created", "tier", id.as_str())
        .set("program_id", program_id.as_str())
        .set("name", name.clone())
        .set("rank", input.rank)
        .set("requirements", json!(requirements))
        .set("benefits", json!(benefits));
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(Tier { id, program_id: program_id.clone(), name, rank: input.rank, requirements, benefits, created_at: now, updated_at: now })
}

/// The tiers of a program, lowest rank first.
pub async fn list_in(tx: &mut Tx, workspace_id: &WorkspaceId, program_id: &ProgramId) -> Result<Vec<Tier>> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM tiers WHERE workspace_id = ").push_bind(workspace_id).push(" AND program_id = ").push_bind(program_id);
    q.push(" ORDER BY rank");
    tx.fetch_all(q).await?.iter().map(from_row).collect()
}

/// The tiers of every program of the workspace, by program then rank: one query where a page needs
/// the tiers of each program.
pub async fn list_all_in(tx: &mut Tx, workspace_id: &WorkspaceId) -> Result<Vec<Tier>> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM tiers WHERE workspace_id = ").push_bind(workspace_id).push(" ORDER BY program_id, rank");
    tx.fetch_all(q).await?.iter().map(from_row).collect()
}

/// The tiers of a program (every member of the workspace may read them: a partner learns what it
/// can grow into).
pub async fn list(ctx: &Ctx, scope: &Scope, program_id: &ProgramId) -> Result<Vec<Tier>> {
    let mut tx = scope.read(ctx).await?;
    programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
    list_in(&mut tx, scope.workspace_id(), program_id).await
}

/// One tier of a program; a tier of another program is `NotFound`.
pub async fn get_in(tx: &mut Tx, workspace_id: &WorkspaceId, program_id: &ProgramId, id: &TierId) -> Result<Tier> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM tiers WHERE workspace_id = ").push_bind(workspace_id).push(" AND program_id = ").push_bind(program_id);
    q.push(" AND id = ").push_bind(id);
    from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

pub async fn get(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, id: &TierId) -> Result<Tier> {
    let mut tx = scope.read(ctx).await?;
    get_in(&mut tx, scope.workspace_id(), program_id, id).await
}

/// Changes a tier (owner/admin/channel_manager). Partners holding it keep it until the next
/// evaluation, which applies the new requirements.
pub async fn update(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, id: &TierId, patch: TierPatch) -> Result<Tier> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = get_in(&mut tx, scope.workspace_id(), program_id, id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "manage tiers")?;
    let registry = Registry::of(ctx)?;
    let mut v = Validation::new();
    let name = patch.name.as_deref().map(|n| v.text("name", n, 100));
    if let Some(rank) = patch.rank {
        check_rank(&mut v, rank);
    }
    let requirements = patch.requirements.as_ref().map(|value| parse_requirements(registry, value, &mut v));
    let benefits = patch.benefits.as_ref().map(|value| parse_benefits(value, &mut v));
    v.finish().map_err(Error::Validation)?;
    let mut after = before.clone();
    if let Some(Some(name)) = name {
        after.name = name;
    }
    if let Some(rank) = patch.rank {
        check_rank_free(&mut tx, scope.workspace_id(), program_id, rank, Some(id)).await?;
        after.rank = rank;
    }
    if let Some(Some(requirements)) = requirements {
        after.requirements = requirements;
    }
    if let Some(Some(benefits)) = benefits {
        after.benefits = benefits;
    }
    after.updated_at = now;
    tx.execute(sql!(
        "UPDATE tiers SET name = $3, rank = $4, requirements = $5, benefits = $6, updated_at = $7 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        id,
        after.name,
        after.rank,
        json!(after.requirements).to_string(),
        json!(after.benefits).to_string(),
        now
    ))
    .await
    .map_err(rank_conflict)?;
    let entry = AuditEntry::new("tier.updated", "tier", id.as_str())
        .change("name", before.name.clone(), after.name.clone())
        .change("rank", before.rank, after.rank)
        .change("requirements", json!(before.requirements), json!(after.requirements))
        .change("benefits", json!(before.benefits), json!(after.benefits));
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes a tier nobody holds (owner/admin/channel_manager); while any partner holds it — by
/// evaluation or by override — it is a conflict. History keeps the tier's name.
pub async fn delete(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, id: &TierId) -> Result<()> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let tier = get_in(&mut tx, scope.workspace_id(), program_id, id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "manage tiers")?;
    let holders = tx
        .fetch_i64(sql!("SELECT COUNT(*) AS n FROM enrollments WHERE workspace_id = $1 AND tier_id = $2", scope.workspace_id(), id))
        .await?;
    if holders > 0 {
        let who = if holders == 1 { "1 partner holds".to_owned() } else { format!("{holders} partners hold") };
        return Err(Error::conflict(format!("{who} this tier; move them to another tier first")));
    }
    tx.execute(sql!("DELETE FROM tiers WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), id)).await?;
    let entry = AuditEntry::new("tier.deleted", "tier", id.as_str())
        .change("program_id", program_id.as_str(), Json::Null)
        .change("name", tier.name, Json::Null)
        .change("rank", tier.rank, Json::Null);
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// How many of the partners the caller can see hold each tier of a program (the console's tier
/// table; staff only: partners do not learn about other partners).
pub async fn holder_counts(ctx: &Ctx, scope: &Scope, program_id: &ProgramId) -> Result<Vec<(TierId, i64)>> {
    scope.require_vendor_role(VendorRole::ALL, "count tier holders")?;
    let mut tx = scope.read(ctx).await?;
    let mut q = Sql::build("SELECT tier_id, COUNT(*) AS n FROM enrollments WHERE workspace_id = ");
    q.push_bind(scope.workspace_id()).push(" AND program_id = ").push_bind(program_id).push(" AND tier_id IS NOT NULL AND ");
    tx.push_partner_filter(&mut q, "partner_id");
    q.push(" GROUP BY tier_id");
    tx.fetch_all(q).await?.iter().map(|row| Ok((row.get("tier_id")?, row.get("n")?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This crate's metrics (the product also registers other crates', such as `compliant`).
    fn registry() -> Registry {
        crate::metrics::COMPUTED.iter().chain(crate::metrics::RECORDED).fold(Registry::new(), |r, m| r.with(*m))
    }

    fn requirements(value: Json) -> std::result::Result<Requirements, Vec<trellis_core::FieldError>> {
        let mut v = Validation::new();
        let parsed = parse_requirements(&registry(), &value, &mut v);
        v.finish().map(|()| parsed.expect("parsed when valid"))
    }

    fn fields(errors: Vec<trellis_core::FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn valid_requirements_round_trip_through_their_stored_form() {
        let value = json!({"all": [{"metric": "active_users", "op": ">=", "value": 3}, {"metric": "business_plan_approved", "op": "=", "value": true}]});
        let parsed = requirements(value.clone()).expect("valid");
        assert_eq!(json!(parsed), value);
        assert_eq!(serde_json::from_value::<Requirements>(value).expect("stored form"), parsed);
    }

    #[test]
    fn every_invalid_rule_is_reported_at_its_path() {
        let errors = requirements(json!({"all": [
            {"metric": "revenue", "op": ">=", "value": 3},
            {"metric": "business_plan_approved", "op": ">=", "value": true},
            {"metric": "active_users", "op": "~", "value": 3},
            {"metric": "active_users", "op": ">=", "value": "three"},
            {"metric": "active_users", "op": ">=", "value": 3, "weight": 2}
        ], "any": []}))
        .expect_err("invalid");
        assert_eq!(
            fields(errors),
            [
                "requirements.any",
                "requirements.all[0].metric",
                "requirements.all[1].op",
                "requirements.all[2].op",
                "requirements.all[3].value",
                "requirements.all[4].weight"
            ]
        );
    }

    #[test]
    fn benefits_check_each_machine_readable_field() {
        let mut v = Validation::new();
        let ok = parse_benefits(
            &json!({"text": "Gold", "commission_override_bps": 2500, "mdf_allowance": {"amount_minor": 500000, "currency": "eur"}, "content_access": ["gold-playbooks"]}),
            &mut v,
        )
        .expect("valid");
        assert!(v.is_empty());
        assert_eq!(ok.mdf_allowance, Some(MdfAllowance { amount_minor: 500000, currency: "EUR".into() }));
        let mut v = Validation::new();
        let bad = parse_benefits(
            &json!({"text": 3, "commission_override_bps": 20000, "mdf_allowance": {"amount_minor": -1, "currency": "EURO"}, "content_access": ["Gold Deck"], "car": true}),
            &mut v,
        );
        assert!(bad.is_none());
        let mut fields: Vec<String> = v.finish().expect_err("invalid").into_iter().map(|e| e.field).collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "benefits.car",
                "benefits.commission_override_bps",
                "benefits.content_access",
                "benefits.mdf_allowance.amount_minor",
                "benefits.mdf_allowance.currency",
                "benefits.text"
            ]
        );
    }

    #[test]
    fn booleans_compare_only_for_equality() {
        assert!(Op::Equal.holds(MetricValue::Boolean(true), MetricValue::Boolean(true)));
        assert!(!Op::AtLeast.holds(MetricValue::Boolean(true), MetricValue::Boolean(false)));
        assert!(Op::AtLeast.holds(MetricValue::Integer(3), MetricValue::Integer(3)));
        assert!(!Op::MoreThan.holds(MetricValue::Integer(3), MetricValue::Integer(3)));
        assert!(!Op::Equal.holds(MetricValue::Integer(1), MetricValue::Boolean(true)));
    }
}
