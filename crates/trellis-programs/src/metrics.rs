//! The metrics of partner programs: the standard metrics this crate contributes to the metric
//! registry (`trellis_directory::metric_registry`), the values staff record
//! (`partner_metric_values`), and a partner's readings of every registered metric.
//!
//! **Adding a metric is defining one [`Metric`] and registering it in the binary** (next to
//! [`COMPUTED`] and [`RECORDED`]); a crate that owns the data a metric is computed from defines it
//! there (`compliant` is the records crate's).

use serde_json::{Value as Json, json};
use trellis_core::{Error, PartnerId, ProgramId, Result, Timestamp, Validation, VendorRole, WorkspaceId};
use trellis_db::{Row, Tx, sql};
use trellis_directory::metric_registry::{Metric, MetricFuture, MetricType, MetricValue, Registry, Source, Subject, Unit};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::partner_users::require_visible_partner;
use trellis_identity::{Actor, Ctx, Scope, ScopedTx, SeenPartner};

/// The metrics computed from the partner's users and enrollments.
pub const COMPUTED: &[Metric] = &[
    Metric {
        name: "active_users",
        label: "Active users",
        unit: Some(Unit { one: "active user", other: "active users" }),
        kind: MetricType::Integer,
        description: "People with a login at the partner organisation",
        per_program: false,
        source: Source::Computed(active_users),
    },
    Metric {
        name: "months_in_program",
        label: "Months in the program",
        unit: Some(Unit { one: "month in the program", other: "months in the program" }),
        kind: MetricType::Integer,
        description: "Whole months since the partner enrolled in the program",
        per_program: true,
        source: Source::Computed(months_in_program),
    },
];

/// The metrics staff record per partner.
pub const RECORDED: &[Metric] = &[
    Metric {
        name: "customer_references",
        label: "Verified customer references",
        unit: Some(Unit { one: "verified customer reference", other: "verified customer references" }),
        kind: MetricType::Integer,
        description: "Customer references the vendor has verified (recorded by staff)",
        per_program: false,
        source: Source::Recorded,
    },
    Metric {
        name: "business_plan_approved",
        label: "Joint business plan agreed for this year",
        unit: None,
        kind: MetricType::Boolean,
        description: "A joint business plan is agreed for this year (recorded by staff)",
        per_program: false,
        source: Source::Recorded,
    },
    Metric {
        name: "marketing_activities",
        label: "Joint marketing activities this year",
        unit: Some(Unit { one: "joint marketing activity", other: "joint marketing activities" }),
        kind: MetricType::Integer,
        description: "Joint marketing activities held this year (recorded by staff)",
        per_program: false,
        source: Source::Recorded,
    },
];

fn active_users<'a>(tx: &'a mut ScopedTx, subject: &'a Subject) -> MetricFuture<'a> {
    Box::pin(async move {
        let n = tx
            .fetch_i64(sql!(
                "SELECT COUNT(*) AS n FROM partner_users WHERE workspace_id = $1 AND partner_id = $2",
                subject.workspace_id,
                subject.partner_id
            ))
            .await?;
        Ok(Some(MetricValue::Integer(n)))
    })
}

/// Whole calendar months from `from` to `to` (a month is complete on the same day of the month).
pub fn whole_months(from: Timestamp, to: Timestamp) -> i64 {
    let (a, b) = (from.to_datetime(), to.to_datetime());
    let mut months = i64::from(b.year() - a.year()) * 12 + i64::from(u8::from(b.month())) - i64::from(u8::from(a.month()));
    if (b.day(), b.time()) < (a.day(), a.time()) {
        months -= 1;
    }
    months.max(0)
}

fn months_in_program<'a>(_tx: &'a mut ScopedTx, subject: &'a Subject) -> MetricFuture<'a> {
    Box::pin(async move {
        Ok(subject.enrollment.as_ref().map(|(_, enrolled_at)| MetricValue::Integer(whole_months(*enrolled_at, subject.now))))
    })
}

/// The metric's value for `subject`, inside the caller's transaction.
pub async fn observe(registry: &Registry, tx: &mut ScopedTx, subject: &Subject, name: &str) -> Result<Option<MetricValue>> {
    let metric = registry.get(name).ok_or_else(|| Error::Internal(format!("unknown metric {name}")))?;
    match metric.source {
        Source::Computed(evaluate) => evaluate(tx, subject).await,
        Source::Recorded => Ok(recorded_in(tx, &subject.workspace_id, &subject.partner_id, metric).await?.map(|r| r.value)),
    }
}

/// How a value is stored in `partner_metric_values.value`.
fn stored(value: MetricValue) -> i64 {
    match value {
        MetricValue::Integer(n) => n,
        MetricValue::Boolean(b) => i64::from(b),
    }
}

fn from_stored(kind: MetricType, stored: i64) -> MetricValue {
    match kind {
        MetricType::Integer => MetricValue::Integer(stored),
        MetricType::Boolean => MetricValue::Boolean(stored != 0),
    }
}

/// A value staff recorded.
#[derive(Debug, Clone)]
struct Recorded {
    value: MetricValue,
    note: Option<String>,
    recorded_by: Option<String>,
    recorded_at: Timestamp,
}

fn recorded_from_row(kind: MetricType, row: &Row) -> Result<Recorded> {
    Ok(Recorded {
        value: from_stored(kind, row.get("value")?),
        note: row.get("note")?,
        recorded_by: row.get("recorded_by")?,
        recorded_at: row.get("recorded_at")?,
    })
}

async fn recorded_in(tx: &mut Tx, workspace_id: &WorkspaceId, partner_id: &PartnerId, metric: &Metric) -> Result<Option<Recorded>> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT value, note, recorded_by, recorded_at FROM partner_metric_values WHERE workspace_id = $1 AND partner_id = $2 AND metric = $3",
            workspace_id,
            partner_id,
            metric.name
        ))
        .await?;
    row.map(|r| recorded_from_row(metric.kind, &r)).transpose()
}

/// A metric's current value for a partner (and program, for per-program metrics), as the
/// partner's metrics page and `GET /api/v1/partners/{id}/metrics` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reading {
    pub metric: &'static str,
    pub kind: MetricType,
    pub description: &'static str,
    /// `computed` or `recorded`.
    pub source: &'static str,
    pub program_id: Option<ProgramId>,
    pub value: Option<MetricValue>,
    pub note: Option<String>,
    pub recorded_by: Option<String>,
    pub recorded_at: Option<Timestamp>,
}

/// Every metric of the registry for a visible partner: partner-level metrics once, per-program
/// metrics once per enrollment.
pub async fn readings(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<Reading>> {
    let mut tx = scope.read(ctx).await?;
    let seen = tx.see_partner(partner_id).await?;
    readings_in(ctx, &mut tx, scope, &seen).await
}

/// [`readings`] of a partner already checked in the caller's transaction.
pub async fn readings_in(ctx: &Ctx, tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner) -> Result<Vec<Reading>> {
    let now = ctx.now();
    let partner_id = tx.seen(seen)?.clone();
    let partner_id = &partner_id;
    let enrollments = tx
        .fetch_all(sql!(
            "SELECT program_id, enrolled_at FROM enrollments WHERE workspace_id = $1 AND partner_id = $2 ORDER BY program_id",
            scope.workspace_id(),
            partner_id
        ))
        .await?
        .iter()
        .map(|r| Ok((r.get::<ProgramId>("program_id")?, r.get::<Timestamp>("enrolled_at")?)))
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for metric in Registry::of(ctx)?.all() {
        let subjects: Vec<Subject> = if metric.per_program {
            enrollments
                .iter()
                .map(|e| Subject {
                    workspace_id: scope.workspace_id().clone(),
                    partner_id: partner_id.clone(),
                    enrollment: Some(e.clone()),
                    now,
                })
                .collect()
        } else {
            vec![Subject { workspace_id: scope.workspace_id().clone(), partner_id: partner_id.clone(), enrollment: None, now }]
        };
        for subject in subjects {
            let (value, recorded) = match metric.source {
                Source::Computed(evaluate) => (evaluate(tx, &subject).await?, None),
                Source::Recorded => {
                    let recorded = recorded_in(tx, scope.workspace_id(), partner_id, metric).await?;
                    (recorded.as_ref().map(|r| r.value), recorded)
                }
            };
            out.push(Reading {
                metric: metric.name,
                kind: metric.kind,
                description: metric.description,
                source: metric.source_name(),
                program_id: subject.enrollment.map(|(program, _)| program),
                value,
                note: recorded.as_ref().and_then(|r| r.note.clone()),
                recorded_by: recorded.as_ref().and_then(|r| r.recorded_by.clone()),
                recorded_at: recorded.as_ref().map(|r| r.recorded_at),
            });
        }
    }
    Ok(out)
}

/// The id recorded as who did something: the user or API key, or none for the system.
pub(crate) fn actor_id(scope: &Scope) -> Option<String> {
    match scope.actor() {
        Actor::User { id, .. } => Some(id.to_string()),
        Actor::ApiKey { id, .. } => Some(id.to_string()),
        Actor::System => None,
    }
}

/// Records a value of a recorded metric for a visible partner (owner, admin, channel manager).
/// An unknown metric is `NotFound`, like an unknown partner.
pub async fn record(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, name: &str, value: &Json, note: Option<&str>) -> Result<Reading> {
    let registry = Registry::of(ctx)?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    require_visible_partner(&mut tx, scope, partner_id).await?;
    let metric = *registry.get(name).ok_or(Error::NotFound)?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "record partner metrics")?;
    let mut v = Validation::new();
    if !metric.is_recorded() {
        v.add("metric", "is computed by Trellis; only recorded metrics take values");
    }
    let parsed = MetricValue::from_json(metric.kind, value);
    if parsed.is_none() {
        v.add("value", if metric.kind == MetricType::Integer { "must be a whole number" } else { "must be true or false" });
    }
    let note = v.optional_text("note", note, 1000).flatten();
    v.finish().map_err(Error::Validation)?;
    let value = parsed.ok_or_else(|| Error::Internal("validated".into()))?;
    let before = recorded_in(&mut tx, scope.workspace_id(), partner_id, &metric).await?;
    let recorded_by = actor_id(scope);
    tx.execute(sql!(
        "INSERT INTO partner_metric_values (workspace_id, partner_id, metric, value, note, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (workspace_id, partner_id, metric) DO UPDATE SET value = excluded.value, note = excluded.note, recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
        scope.workspace_id(), partner_id, metric.name, stored(value), note, recorded_by, now
    ))
    .await?;
    let entry = AuditEntry::new("partner.metric_recorded", "partner", partner_id.as_str())
        .set("metric", metric.name)
        .change("value", before.as_ref().map_or(Json::Null, |b| b.value.to_json()), value.to_json())
        .change("note", json!(before.as_ref().and_then(|b| b.note.clone())), json!(note));
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(Reading {
        metric: metric.name,
        kind: metric.kind,
        description: metric.description,
        source: metric.source_name(),
        program_id: None,
        value: Some(value),
        note,
        recorded_by,
        recorded_at: Some(now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).expect("timestamp")
    }

    #[test]
    fn whole_months_count_only_completed_months() {
        assert_eq!(whole_months(at("2026-01-31T10:00:00Z"), at("2026-02-28T10:00:00Z")), 0);
        assert_eq!(whole_months(at("2026-01-15T10:00:00Z"), at("2026-02-15T10:00:00Z")), 1);
        assert_eq!(whole_months(at("2026-01-15T10:00:00Z"), at("2026-02-15T09:59:59Z")), 0);
        assert_eq!(whole_months(at("2025-11-20T00:00:00Z"), at("2027-01-20T00:00:00Z")), 14);
        assert_eq!(whole_months(at("2027-01-20T00:00:00Z"), at("2025-11-20T00:00:00Z")), 0);
    }
}
