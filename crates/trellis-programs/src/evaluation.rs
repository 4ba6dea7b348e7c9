//! Tier evaluation: every enrollment without a manual override holds the highest-rank tier of its
//! program whose requirements all hold. A change — promotion or demotion — updates the
//! enrollment, writes a tier-history row with the explanation ("why": each requirement with the
//! observed value and whether it passed, for the tier reached and for the next tier up), records
//! an audit event and emails the partner's admins, all in one transaction.
//!
//! Evaluation runs on demand (a program, a partner) and daily through [`evaluate_all`]. Only
//! partners that are active or onboarding are evaluated: a suspended or terminated partner keeps
//! its tier as it was and is not emailed.

use std::collections::BTreeMap;

use serde_json::json;
use trellis_core::{
    Email, Error, Page, PartnerId, ProgramId, Result, TierChangeId, TierId, Timestamp, UserId, VendorRole, WorkspaceId, page,
};
use trellis_db::{Row, Sql, SystemGrant, Tx, sql};
use trellis_directory::metric_registry::{MetricValue, Registry, Subject};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::partner_users::require_visible_partner;
use trellis_identity::{Actor, Ctx, Scope, ScopedTx, SeenPartner};

/// The scheduled tier evaluation of a workspace runs for no person, over every enrollment.
pub const TIER_EVALUATION: SystemGrant = SystemGrant {
    name: "tier_evaluation",
    reason: "the scheduled daily tier evaluation of every enrollment of a workspace (no person runs it)",
};
use trellis_jobs::{NewEmail, queue_email};

use crate::metrics::{self, actor_id};
use crate::programs::{self, Program};
use crate::tiers::{self, Op, Tier};

/// One requirement checked: the rule, the value observed and whether it passed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    pub metric: String,
    pub op: Op,
    pub value: MetricValue,
    /// `None` when the value is unknown (e.g. a recorded metric nobody recorded yet).
    pub observed: Option<MetricValue>,
    pub passed: bool,
}

impl Check {
    /// `active_users at least 3: 4 (met)`
    pub fn sentence(&self) -> String {
        let observed = self.observed.map_or_else(|| "not recorded".to_owned(), |v| v.to_string());
        let verdict = if self.passed { "met" } else { "not met" };
        format!("{} {} {}: {observed} ({verdict})", self.metric, self.op.words(), self.value)
    }
}

impl Check {
    /// The requirement in plain words for the partner, with the metric's label and unit from
    /// the registry: "3 active users needed, you have 1 (2 more to go)", "No compliance blocker:
    /// needed, not yet". Met requirements end in "met"; a metric the registry no longer knows
    /// reads by its name.
    pub fn plain(&self, registry: &Registry) -> String {
        let metric = registry.get(&self.metric);
        let label = metric.map_or(self.metric.as_str(), |m| m.label);
        match (self.value, self.observed) {
            (MetricValue::Boolean(wanted), observed) => {
                let wanted = if self.op == Op::NotEqual { !wanted } else { wanted };
                let needed = if wanted { format!("{label}: needed") } else { format!("{label}: must not hold") };
                match (self.passed, observed) {
                    (true, _) => format!("{needed}, met"),
                    (false, None) => format!("{needed}, not recorded yet"),
                    (false, Some(_)) => format!("{needed}, not yet"),
                }
            }
            (MetricValue::Integer(value), observed) => {
                let unit = metric.and_then(|m| m.unit);
                let count = |n: i64| unit.map_or_else(|| n.to_string(), |u| u.count(n));
                let target = match self.op {
                    Op::AtLeast => count(value),
                    Op::MoreThan => format!("more than {}", count(value)),
                    Op::AtMost => format!("at most {}", count(value)),
                    Op::LessThan => format!("fewer than {}", count(value)),
                    Op::Equal => format!("exactly {}", count(value)),
                    Op::NotEqual => format!("any number but {}", count(value)),
                };
                let verb = if matches!(self.op, Op::AtMost | Op::LessThan) { "allowed" } else { "needed" };
                let head = match unit {
                    Some(_) => capitalised(&format!("{target} {verb}")),
                    None => format!("{label}: {target} {verb}"),
                };
                let have = match observed {
                    Some(MetricValue::Integer(n)) => format!("you have {n}"),
                    Some(other) => format!("you have {other}"),
                    None => "not recorded yet".to_owned(),
                };
                let tail = match (self.passed, observed, self.op) {
                    (true, _, _) => ", met".to_owned(),
                    (false, Some(MetricValue::Integer(n)), Op::AtLeast) => format!(" ({} more to go)", value - n),
                    _ => String::new(),
                };
                format!("{head}, {have}{tail}")
            }
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// A tier's requirements checked for one enrollment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TierCheck {
    pub tier_id: TierId,
    pub name: String,
    pub rank: i64,
    pub requirements: Vec<Check>,
    pub qualifies: bool,
}

/// Why an enrollment holds its tier: the tier reached with its requirements, and the next tier
/// up with the requirements that are not met yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Explanation {
    pub reached: Option<TierCheck>,
    pub next: Option<TierCheck>,
}

/// Every tier of a program checked for one enrollment, lowest rank first.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub tiers: Vec<TierCheck>,
}

impl Assessment {
    /// The highest-rank tier whose requirements all hold.
    pub fn reached(&self) -> Option<&TierCheck> {
        self.tiers.iter().rev().find(|t| t.qualifies)
    }

    /// The lowest tier ranked above `rank` (above nothing: the lowest tier).
    pub fn next_after(&self, rank: Option<i64>) -> Option<&TierCheck> {
        self.tiers.iter().find(|t| rank.is_none_or(|r| t.rank > r))
    }

    pub fn check_of(&self, tier_id: &TierId) -> Option<&TierCheck> {
        self.tiers.iter().find(|t| &t.tier_id == tier_id)
    }

    /// The explanation of the tier evaluation reaches.
    pub fn explanation(&self) -> Explanation {
        let reached = self.reached().cloned();
        let next = self.next_after(reached.as_ref().map(|t| t.rank)).cloned();
        Explanation { reached, next }
    }
}

/// Checks every tier of a program for `subject`, reading each metric once.
pub async fn assess(tx: &mut ScopedTx, registry: &Registry, subject: &Subject, tiers: &[Tier]) -> Result<Assessment> {
    let mut observed: BTreeMap<String, Option<MetricValue>> = BTreeMap::new();
    let mut checks = Vec::with_capacity(tiers.len());
    for tier in tiers {
        let mut requirements = Vec::with_capacity(tier.requirements.all.len());
        for rule in &tier.requirements.all {
            let value = match observed.get(&rule.metric) {
                Some(value) => *value,
                None => {
                    // A rule over a metric that left the registry cannot hold.
                    let value = match registry.get(&rule.metric) {
                        Some(_) => metrics::observe(registry, tx, subject, &rule.metric).await?,
                        None => None,
                    };
                    observed.insert(rule.metric.clone(), value);
                    value
                }
            };
            let passed = value.is_some_and(|v| rule.op.holds(v, rule.value));
            requirements.push(Check { metric: rule.metric.clone(), op: rule.op, value: rule.value, observed: value, passed });
        }
        let qualifies = requirements.iter().all(|c| c.passed);
        checks.push(TierCheck { tier_id: tier.id.clone(), name: tier.name.clone(), rank: tier.rank, requirements, qualifies });
    }
    Ok(Assessment { tiers: checks })
}

/// What a tier-history row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Enrolled,
    Promotion,
    Demotion,
    Override,
    OverrideRemoved,
    Unenrolled,
}

impl ChangeKind {
    pub const ALL: &'static [ChangeKind] = &[
        ChangeKind::Enrolled,
        ChangeKind::Promotion,
        ChangeKind::Demotion,
        ChangeKind::Override,
        ChangeKind::OverrideRemoved,
        ChangeKind::Unenrolled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Enrolled => "enrolled",
            ChangeKind::Promotion => "promotion",
            ChangeKind::Demotion => "demotion",
            ChangeKind::Override => "override",
            ChangeKind::OverrideRemoved => "override_removed",
            ChangeKind::Unenrolled => "unenrolled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ChangeKind::ALL.iter().copied().find(|k| k.as_str() == text)
    }
}

/// A row of a partner's tier history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TierChange {
    pub id: TierChangeId,
    pub partner_id: PartnerId,
    pub program_id: ProgramId,
    pub kind: ChangeKind,
    pub from_tier_id: Option<TierId>,
    pub from_tier_name: Option<String>,
    pub to_tier_id: Option<TierId>,
    pub to_tier_name: Option<String>,
    pub reason: Option<String>,
    pub explanation: Option<Explanation>,
    /// `user`, `api_key` or `system`.
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub created_at: Timestamp,
}

const CHANGE_COLUMNS: &str = "id, partner_id, program_id, kind, from_tier_id, from_tier_name, to_tier_id, to_tier_name, reason, explanation, actor_type, actor_id, created_at";

fn change_from_row(row: &Row) -> Result<TierChange> {
    let kind: String = row.get("kind")?;
    let explanation: Option<String> = row.get("explanation")?;
    Ok(TierChange {
        id: row.get("id")?,
        partner_id: row.get("partner_id")?,
        program_id: row.get("program_id")?,
        kind: ChangeKind::parse(&kind).ok_or_else(|| Error::Internal(format!("stored tier change kind {kind}")))?,
        from_tier_id: row.get("from_tier_id")?,
        from_tier_name: row.get("from_tier_name")?,
        to_tier_id: row.get("to_tier_id")?,
        to_tier_name: row.get("to_tier_name")?,
        reason: row.get("reason")?,
        explanation: explanation
            .map(|text| serde_json::from_str(&text).map_err(|e| Error::Internal(format!("stored explanation: {e}"))))
            .transpose()?,
        actor_type: row.get("actor_type")?,
        actor_id: row.get("actor_id")?,
        created_at: row.get("created_at")?,
    })
}

/// A tier as history names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TierRef {
    pub id: TierId,
    pub name: String,
}

impl From<&Tier> for TierRef {
    fn from(t: &Tier) -> Self {
        Self { id: t.id.clone(), name: t.name.clone() }
    }
}

/// What to write to the history.
pub(crate) struct NewChange {
    pub partner_id: PartnerId,
    pub program_id: ProgramId,
    pub kind: ChangeKind,
    pub from: Option<TierRef>,
    pub to: Option<TierRef>,
    pub reason: Option<String>,
    pub explanation: Option<Explanation>,
}

/// Writes a history row and its audit event inside `tx`.
pub(crate) async fn record_change(tx: &mut Tx, scope: &Scope, change: NewChange, now: Timestamp) -> Result<TierChange> {
    let id = TierChangeId::generate();
    let actor_type = match scope.actor() {
        Actor::User { .. } => "user",
        Actor::ApiKey { .. } => "api_key",
        Actor::System => "system",
    };
    let actor = actor_id(scope);
    let explanation_text = change.explanation.as_ref().map(|e| json!(e).to_string());
    let (from_id, from_name) = (change.from.as_ref().map(|t| t.id.clone()), change.from.as_ref().map(|t| t.name.clone()));
    let (to_id, to_name) = (change.to.as_ref().map(|t| t.id.clone()), change.to.as_ref().map(|t| t.name.clone()));
    tx.execute(sql!(
        "INSERT INTO tier_changes (workspace_id, id, partner_id, program_id, kind, from_tier_id, from_tier_name, to_tier_id, to_tier_name, reason, explanation, actor_type, actor_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        scope.workspace_id(), id, change.partner_id, change.program_id, change.kind.as_str(), from_id, from_name, to_id, to_name,
        change.reason, explanation_text, actor_type, actor, now
    ))
    .await?;
    let action = match change.kind {
        ChangeKind::Enrolled => None,
        ChangeKind::Promotion => Some("partner.tier_promoted"),
        ChangeKind::Demotion => Some("partner.tier_demoted"),
        ChangeKind::Override => Some("partner.tier_overridden"),
        ChangeKind::OverrideRemoved => Some("partner.tier_override_removed"),
        ChangeKind::Unenrolled => None,
    };
    // Enrolling and unenrolling are audited by the enrollment functions themselves.
    if let Some(action) = action {
        let entry = AuditEntry::new(action, "partner", change.partner_id.as_str())
            .set("program_id", change.program_id.as_str())
            .set("tier_change_id", id.as_str())
            .change("tier_id", json!(from_id), json!(to_id))
            .set("reason", json!(change.reason));
        audit::record(tx, scope, now, entry).await?;
    }
    Ok(TierChange {
        id,
        partner_id: change.partner_id,
        program_id: change.program_id,
        kind: change.kind,
        from_tier_id: from_id,
        from_tier_name: from_name,
        to_tier_id: to_id,
        to_tier_name: to_name,
        reason: change.reason,
        explanation: change.explanation,
        actor_type: actor_type.to_owned(),
        actor_id: actor,
        created_at: now,
    })
}

/// The email kind of tier change notifications.
pub const TIER_CHANGED_EMAIL: &str = "tier_changed";

/// Queues the `tier_changed` email to the partner's admins (its contact address when it has no
/// admin yet), inside `tx`.
pub(crate) async fn notify(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    program: &Program,
    change: &TierChange,
    caused_by: Option<&UserId>,
    now: Timestamp,
) -> Result<()> {
    let partner = tx
        .fetch_one(sql!("SELECT name, contact_email FROM partners WHERE workspace_id = $1 AND id = $2", workspace_id, change.partner_id))
        .await?;
    let partner_name: String = partner.get("name")?;
    let mut recipients: Vec<Email> = tx
        .fetch_all(sql!(
            "SELECT u.email FROM partner_users pu JOIN users u ON u.id = pu.user_id
             WHERE pu.workspace_id = $1 AND pu.partner_id = $2 AND pu.role = 'admin' ORDER BY u.email",
            workspace_id,
            change.partner_id
        ))
        .await?
        .iter()
        .map(|r| r.get("email"))
        .collect::<std::result::Result<_, _>>()?;
    if recipients.is_empty() {
        recipients.push(partner.get("contact_email")?);
    }
    let tier_name = |name: &Option<String>| name.clone().unwrap_or_else(|| "no tier".to_owned());
    let (from, to) = (tier_name(&change.from_tier_name), tier_name(&change.to_tier_name));
    let subject = format!("{partner_name} is now {to} in {}", program.name);
    let mut text = format!("Hello,\n\n{partner_name} moved from {from} to {to} in the {} program.", program.name);
    if let Some(reason) = &change.reason {
        text.push_str(&format!("\n\nThe vendor set this tier by hand: {reason}"));
    }
    if let Some(explanation) = &change.explanation {
        if let Some(reached) = explanation.reached.as_ref().filter(|r| !r.requirements.is_empty()) {
            text.push_str(&format!("\n\nWhy {}:", reached.name));
            for check in &reached.requirements {
                text.push_str(&format!("\n- {}", check.sentence()));
            }
        }
        if let Some(next) = &explanation.next {
            text.push_str(&format!("\n\nTo reach {}:", next.name));
            for check in &next.requirements {
                text.push_str(&format!("\n- {}", check.sentence()));
            }
        }
    }
    text.push_str("\n\nYour programs and tiers are on the home page of your partner portal.\n\nTrellis");
    for to in recipients {
        queue_email(tx, workspace_id, NewEmail::from_text(TIER_CHANGED_EMAIL, to, subject.clone(), text.clone()).caused_by(caused_by), now)
            .await?;
    }
    Ok(())
}

/// An enrollment's state as evaluation reads it.
struct EnrollmentState {
    tier_id: Option<TierId>,
    overridden: bool,
    enrolled_at: Timestamp,
}

async fn enrollment_state(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    partner_id: &PartnerId,
    program_id: &ProgramId,
) -> Result<Option<EnrollmentState>> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT tier_id, tier_overridden, enrolled_at FROM enrollments WHERE workspace_id = $1 AND partner_id = $2 AND program_id = $3",
            workspace_id,
            partner_id,
            program_id
        ))
        .await?;
    row.map(|r| {
        Ok(EnrollmentState { tier_id: r.get("tier_id")?, overridden: r.get("tier_overridden")?, enrolled_at: r.get("enrolled_at")? })
    })
    .transpose()
}

/// What evaluating one enrollment did.
pub(crate) enum Outcome {
    Overridden,
    Unchanged,
    Changed(Box<TierChange>),
}

/// Evaluates one enrollment inside the write transaction `tx` and applies a change: the
/// enrollment's tier, the history row with its explanation, the audit event and the email.
pub(crate) async fn evaluate_enrollment_in(
    tx: &mut ScopedTx,
    registry: &Registry,
    scope: &Scope,
    program: &Program,
    tiers: &[Tier],
    partner_id: &PartnerId,
    now: Timestamp,
) -> Result<Outcome> {
    let workspace_id = scope.workspace_id();
    let Some(state) = enrollment_state(tx, workspace_id, partner_id, &program.id).await? else { return Err(Error::NotFound) };
    if state.overridden {
        return Ok(Outcome::Overridden);
    }
    let subject = Subject {
        workspace_id: workspace_id.clone(),
        partner_id: partner_id.clone(),
        enrollment: Some((program.id.clone(), state.enrolled_at)),
        now,
    };
    let assessment = assess(tx, registry, &subject, tiers).await?;
    let target = assessment.reached().map(|t| t.tier_id.clone());
    if target == state.tier_id {
        return Ok(Outcome::Unchanged);
    }
    let rank_of = |id: &Option<TierId>| id.as_ref().and_then(|id| tiers.iter().find(|t| &t.id == id)).map(|t| t.rank);
    let kind = if rank_of(&target) > rank_of(&state.tier_id) { ChangeKind::Promotion } else { ChangeKind::Demotion };
    let tier_ref = |id: &Option<TierId>| id.as_ref().and_then(|id| tiers.iter().find(|t| &t.id == id)).map(TierRef::from);
    // The guard makes a concurrent evaluation or override that got there first win: this one
    // then changes nothing (PostgreSQL re-checks the condition after the other commits).
    let updated = tx
        .execute(sql!(
            "UPDATE enrollments SET tier_id = $4, updated_at = $5
             WHERE workspace_id = $1 AND partner_id = $2 AND program_id = $3 AND tier_overridden = FALSE AND COALESCE(tier_id, '') = $6",
            workspace_id,
            partner_id,
            program.id,
            target,
            now,
            state.tier_id.as_ref().map_or("", TierId::as_str)
        ))
        .await?;
    if updated == 0 {
        return Ok(Outcome::Unchanged);
    }
    let change = NewChange {
        partner_id: partner_id.clone(),
        program_id: program.id.clone(),
        kind,
        from: tier_ref(&state.tier_id),
        to: tier_ref(&target),
        reason: None,
        explanation: Some(assessment.explanation()),
    };
    let change = record_change(tx, scope, change, now).await?;
    notify(tx, workspace_id, program, &change, scope.user_id(), now).await?;
    Ok(Outcome::Changed(Box::new(change)))
}

/// What an evaluation run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    /// Enrollments looked at (of active or onboarding partners).
    pub evaluated: usize,
    pub promoted: usize,
    pub demoted: usize,
    pub unchanged: usize,
    /// Enrollments left alone because of a manual override.
    pub overridden: usize,
    pub changes: Vec<TierChange>,
}

impl Summary {
    fn add(&mut self, outcome: Outcome) {
        self.evaluated += 1;
        match outcome {
            Outcome::Overridden => self.overridden += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Changed(change) => {
                if change.kind == ChangeKind::Promotion {
                    self.promoted += 1;
                } else {
                    self.demoted += 1;
                }
                self.changes.push(*change);
            }
        }
    }

    fn merge(&mut self, other: Summary) {
        self.evaluated += other.evaluated;
        self.promoted += other.promoted;
        self.demoted += other.demoted;
        self.unchanged += other.unchanged;
        self.overridden += other.overridden;
        self.changes.extend(other.changes);
    }
}

/// The partners (visible to the scope) enrolled in a program whose tier evaluation may change.
async fn candidates(
    tx: &mut ScopedTx,
    scope: &Scope,
    program_id: &ProgramId,
    partner: Option<&PartnerId>,
) -> Result<Vec<(PartnerId, bool)>> {
    let mut q = Sql::build(
        "SELECT e.partner_id, e.tier_overridden FROM enrollments e JOIN partners p ON p.workspace_id = e.workspace_id AND p.id = e.partner_id WHERE e.workspace_id = ",
    );
    q.push_bind(scope.workspace_id()).push(" AND e.program_id = ").push_bind(program_id);
    q.push(" AND p.status IN ('active', 'onboarding') AND ");
    tx.push_partner_filter(&mut q, "e.partner_id");
    if let Some(partner) = partner {
        q.push(" AND e.partner_id = ").push_bind(partner);
    }
    q.push(" ORDER BY e.partner_id");
    tx.fetch_all(q).await?.iter().map(|r| Ok((r.get("partner_id")?, r.get("tier_overridden")?))).collect()
}

/// Evaluates a program's enrollments, optionally of one partner. Reading decides which
/// enrollments change; each change is then re-evaluated and applied in a write transaction of
/// its own, so a large program never holds the (SQLite single-writer) lock for long.
async fn evaluate_program_in(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, partner: Option<&PartnerId>) -> Result<Summary> {
    let now = ctx.now();
    let registry = Registry::of(ctx)?;
    let mut summary = Summary::default();
    let (program, tiers, to_change) = {
        let mut tx = scope.read(ctx).await?;
        let program = programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
        let tiers = tiers::list_in(&mut tx, scope.workspace_id(), program_id).await?;
        let mut to_change = Vec::new();
        for (partner_id, overridden) in candidates(&mut tx, scope, program_id, partner).await? {
            if overridden {
                summary.add(Outcome::Overridden);
                continue;
            }
            let Some(state) = enrollment_state(&mut tx, scope.workspace_id(), &partner_id, program_id).await? else { continue };
            let subject = Subject {
                workspace_id: scope.workspace_id().clone(),
                partner_id: partner_id.clone(),
                enrollment: Some((program_id.clone(), state.enrolled_at)),
                now,
            };
            let assessment = assess(&mut tx, registry, &subject, &tiers).await?;
            if assessment.reached().map(|t| &t.tier_id) == state.tier_id.as_ref() {
                summary.add(Outcome::Unchanged);
            } else {
                to_change.push(partner_id);
            }
        }
        (program, tiers, to_change)
    };
    for partner_id in to_change {
        let mut tx = scope.write(ctx).await?;
        let outcome = evaluate_enrollment_in(&mut tx, registry, scope, &program, &tiers, &partner_id, now).await?;
        tx.commit().await?;
        summary.add(outcome);
    }
    Ok(summary)
}

/// `POST /api/v1/programs/{id}/evaluate-tiers`: evaluates the enrollments of a program of the
/// partners the caller can see (owner, admin, channel manager).
pub async fn evaluate_program(ctx: &Ctx, scope: &Scope, program_id: &ProgramId) -> Result<Summary> {
    programs::get(ctx, scope, program_id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "evaluate tiers")?;
    evaluate_program_in(ctx, scope, program_id, None).await
}

/// `POST /api/v1/partners/{id}/evaluate-tiers`: evaluates every enrollment of a visible partner
/// (owner, admin, channel manager).
pub async fn evaluate_partner(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Summary> {
    let program_ids: Vec<ProgramId> = {
        let mut tx = scope.read(ctx).await?;
        require_visible_partner(&mut tx, scope, partner_id).await?;
        scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "evaluate tiers")?;
        tx.fetch_all(sql!(
            "SELECT program_id FROM enrollments WHERE workspace_id = $1 AND partner_id = $2 ORDER BY program_id",
            scope.workspace_id(),
            partner_id
        ))
        .await?
        .iter()
        .map(|r| r.get("program_id"))
        .collect::<std::result::Result<_, _>>()?
    };
    let mut summary = Summary::default();
    for program_id in program_ids {
        summary.merge(evaluate_program_in(ctx, scope, &program_id, Some(partner_id)).await?);
    }
    Ok(summary)
}

/// The scheduled run: evaluates every program of a workspace in the system context. The job
/// queue's scheduler calls it daily for each workspace; running it twice changes nothing more.
pub async fn evaluate_all(ctx: &Ctx, workspace_id: &WorkspaceId) -> Result<Summary> {
    let system = Scope::system(workspace_id.clone(), &TIER_EVALUATION);
    let mut summary = Summary::default();
    for program in programs::list(ctx, &system).await? {
        summary.merge(evaluate_program_in(ctx, &system, &program.id, None).await?);
    }
    Ok(summary)
}

/// Filters of the tier history.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub program_id: Option<ProgramId>,
    pub before: Option<TierChangeId>,
    /// Changes on the page (50 unless named).
    pub limit: Option<i64>,
}

/// A visible partner's tier history, newest first.
pub async fn history(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, filter: &HistoryFilter) -> Result<Page<TierChange>> {
    let mut tx = scope.read(ctx).await?;
    let seen = tx.see_partner(partner_id).await?;
    history_in(&mut tx, scope, &seen, filter).await
}

/// [`history`] of a partner already checked in the caller's transaction.
pub async fn history_in(tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner, filter: &HistoryFilter) -> Result<Page<TierChange>> {
    let partner_id = tx.seen(seen)?;
    let mut q = Sql::build("SELECT ");
    q.push(CHANGE_COLUMNS).push(" FROM tier_changes WHERE workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND partner_id = ").push_bind(partner_id);
    if let Some(program_id) = &filter.program_id {
        q.push(" AND program_id = ").push_bind(program_id);
    }
    if let Some(before) = &filter.before {
        q.push(" AND id < ").push_bind(before);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(page::fetch_limit(filter.limit));
    let rows = tx.fetch_all(q).await?.iter().map(change_from_row).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(rows, filter.limit, |c| c.id.to_string()))
}

/// Where a partner stands in one program: its tier, whether it was set by hand, and what the
/// tier above needs (the portal home and the console's partner page show it).
#[derive(Debug, Clone)]
pub struct Standing {
    pub program_id: ProgramId,
    pub program_name: String,
    pub tier: Option<Tier>,
    pub overridden: bool,
    pub override_reason: Option<String>,
    pub enrolled_at: Timestamp,
    /// The current tier's requirements as they stand now.
    pub current: Option<TierCheck>,
    /// The next tier above the current one, with each requirement checked.
    pub next: Option<TierCheck>,
}

/// Where a visible partner stands in each program it is enrolled in.
pub async fn standings(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<Standing>> {
    let mut tx = scope.read(ctx).await?;
    let seen = tx.see_partner(partner_id).await?;
    standings_in(ctx, &mut tx, scope, &seen).await
}

/// [`standings`] of a partner already checked in the caller's transaction.
pub async fn standings_in(ctx: &Ctx, tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner) -> Result<Vec<Standing>> {
    let now = ctx.now();
    let registry = Registry::of(ctx)?;
    let partner_id = tx.seen(seen)?.clone();
    let partner_id = &partner_id;
    let rows = tx
        .fetch_all(sql!(
            "SELECT e.program_id, p.name AS program_name, e.tier_id, e.tier_overridden, e.override_reason, e.enrolled_at
             FROM enrollments e JOIN programs p ON p.workspace_id = e.workspace_id AND p.id = e.program_id
             WHERE e.workspace_id = $1 AND e.partner_id = $2 ORDER BY p.name, e.program_id",
            scope.workspace_id(),
            partner_id
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let program_id: ProgramId = row.get("program_id")?;
        let tier_id: Option<TierId> = row.get("tier_id")?;
        let enrolled_at: Timestamp = row.get("enrolled_at")?;
        let tiers = tiers::list_in(tx, scope.workspace_id(), &program_id).await?;
        let subject = Subject {
            workspace_id: scope.workspace_id().clone(),
            partner_id: partner_id.clone(),
            enrollment: Some((program_id.clone(), enrolled_at)),
            now,
        };
        let assessment = assess(tx, registry, &subject, &tiers).await?;
        let tier = tier_id.as_ref().and_then(|id| tiers.iter().find(|t| &t.id == id)).cloned();
        out.push(Standing {
            program_name: row.get("program_name")?,
            current: tier_id.as_ref().and_then(|id| assessment.check_of(id)).cloned(),
            next: assessment.next_after(tier.as_ref().map(|t| t.rank)).cloned(),
            tier,
            overridden: row.get("tier_overridden")?,
            override_reason: row.get("override_reason")?,
            enrolled_at,
            program_id,
        });
    }
    Ok(out)
}
