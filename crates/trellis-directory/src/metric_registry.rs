//! The metric registry: the named partner metrics tier requirements are written over
//! (`{"metric": "active_users", "op": ">=", "value": 3}`), each with a type, a description and
//! where its value comes from — computed by an evaluator over the database, or recorded by staff.
//!
//! It lives here, below the crates that contribute metrics, so that each of them can: the
//! programs crate its standard metrics, the records crate `compliant`, and later the deals and
//! training crates won revenue or certified people, without depending on each other. **Adding a
//! metric is defining one [`Metric`] and registering it in the binary**
//! (`trellis_server::extensions`); rule validation, tier evaluation, explanations, the API and the
//! pages pick it up from the registry.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde_json::{Value as Json, json};
use trellis_core::{PartnerId, ProgramId, Result, Timestamp, WorkspaceId};
use trellis_identity::Ctx;
use trellis_identity::ScopedTx;

/// The type of a metric's values; it decides which comparisons a rule may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricType {
    Integer,
    Boolean,
}

impl MetricType {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Integer => "integer",
            MetricType::Boolean => "boolean",
        }
    }
}

/// A metric's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricValue {
    Integer(i64),
    Boolean(bool),
}

impl MetricValue {
    pub fn kind(self) -> MetricType {
        match self {
            MetricValue::Integer(_) => MetricType::Integer,
            MetricValue::Boolean(_) => MetricType::Boolean,
        }
    }

    /// A JSON value of the given type: an integer, or `true`/`false`.
    pub fn from_json(kind: MetricType, value: &Json) -> Option<Self> {
        match kind {
            MetricType::Integer => value.as_i64().map(MetricValue::Integer),
            MetricType::Boolean => value.as_bool().map(MetricValue::Boolean),
        }
    }

    pub fn to_json(self) -> Json {
        match self {
            MetricValue::Integer(n) => json!(n),
            MetricValue::Boolean(b) => json!(b),
        }
    }
}

impl serde::Serialize for MetricValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// The form rules store a value in: an integer or `true`/`false`.
impl<'de> serde::Deserialize<'de> for MetricValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match Json::deserialize(d)? {
            Json::Bool(b) => Ok(MetricValue::Boolean(b)),
            other => other
                .as_i64()
                .map(MetricValue::Integer)
                .ok_or_else(|| serde::de::Error::custom("a metric value is an integer or a boolean")),
        }
    }
}

/// `3`, `yes`, `no`: how a value reads in explanations and emails.
impl fmt::Display for MetricValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricValue::Integer(n) => write!(f, "{n}"),
            MetricValue::Boolean(true) => f.write_str("yes"),
            MetricValue::Boolean(false) => f.write_str("no"),
        }
    }
}

/// Whom a metric is read for: a partner, in one of its programs when the metric depends on the
/// program (`months_in_program`).
#[derive(Debug, Clone)]
pub struct Subject {
    pub workspace_id: WorkspaceId,
    pub partner_id: PartnerId,
    /// The enrollment's program and enrollment date; `None` for a partner-level reading.
    pub enrollment: Option<(ProgramId, Timestamp)>,
    pub now: Timestamp,
}

/// What an evaluator returns: the value, or `None` when it is unknown (a rule over an unknown
/// value does not hold).
pub type MetricFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<MetricValue>>> + Send + 'a>>;

/// Computes a metric inside the caller's transaction (which has checked the partner is visible).
pub type Evaluator = for<'a> fn(&'a mut ScopedTx, &'a Subject) -> MetricFuture<'a>;

/// Where a metric's value comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// Computed by Trellis from the database.
    Computed(Evaluator),
    /// Recorded per partner by staff (`PUT /api/v1/partners/{id}/metrics/{metric}`).
    Recorded,
}

/// What one of an integer metric's values counts, singular and plural: `month`, `months`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    pub one: &'static str,
    pub other: &'static str,
}

impl Unit {
    /// `1 month`, `3 months`.
    pub fn count(&self, n: i64) -> String {
        format!("{n} {}", if n == 1 { self.one } else { self.other })
    }
}

/// One entry of the registry.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Stable name used in requirement rules, e.g. `active_users`.
    pub name: &'static str,
    /// How people read the metric (pages, partner-facing explanations): "Active users"; for a
    /// yes/no metric, the statement that holds when it is yes ("No compliance blocker").
    pub label: &'static str,
    /// What an integer metric counts, where that is known (`active user`/`active users`), so a
    /// requirement reads "3 active users needed, you have 1".
    pub unit: Option<Unit>,
    pub kind: MetricType,
    pub description: &'static str,
    /// Whether the value depends on the program the partner is enrolled in.
    pub per_program: bool,
    pub source: Source,
}

impl Metric {
    pub fn is_recorded(&self) -> bool {
        matches!(self.source, Source::Recorded)
    }

    /// `computed` or `recorded`.
    pub fn source_name(&self) -> &'static str {
        if self.is_recorded() { "recorded" } else { "computed" }
    }
}

/// The metrics rules are checked against. The binary builds it, registering the metrics of every
/// crate in the order the API and the pages list them, and puts it in the context
/// (`Ctx::with_extension`); [`Registry::of`] finds it there.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    metrics: Vec<Metric>,
}

impl Registry {
    /// A registry without metrics.
    pub fn new() -> Self {
        Self { metrics: Vec::new() }
    }

    /// The registry the binary put in the context.
    pub fn of(ctx: &Ctx) -> Result<&Self> {
        ctx.extension::<Self>()
    }

    /// The registry with one more metric. Names are unique: adding a known name is a
    /// programming error.
    pub fn with(mut self, metric: Metric) -> Self {
        assert!(self.get(metric.name).is_none(), "the metric {} is registered twice", metric.name);
        self.metrics.push(metric);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }

    pub fn all(&self) -> &[Metric] {
        &self.metrics
    }
}
