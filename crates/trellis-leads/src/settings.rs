//! A program's lead settings: the SLA to accept an offer, the open leads a partner may hold, the
//! factors' weights (points; missing factors keep their defaults) and the fitted model in force.
//! A program without a row, and a lead without a program, have the defaults.

use serde_json::json;
use trellis_core::{Error, ProgramId, Result, Timestamp, Validation, WorkspaceId};
use trellis_db::{Tx, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope};

use crate::matching::{Factor, Weights};

/// Hours a partner has to accept an offer unless the program says otherwise.
pub const DEFAULT_SLA_HOURS: i64 = 48;
/// Open leads (offered or accepted) a partner may hold unless its profile or the program says
/// otherwise.
pub const DEFAULT_CAPACITY: i64 = 10;

#[derive(Debug, Clone)]
pub struct LeadSettings {
    pub program_id: Option<ProgramId>,
    pub sla_hours: i64,
    pub capacity: i64,
    /// Whether the program's public lead form takes enquiries.
    pub public_form: bool,
    /// Whether a new lead is offered at once to its best match (a job enqueued with the lead)
    /// rather than waiting in the channel team's inbox.
    pub auto_offer: bool,
    /// The weights as set (points).
    pub weights: Weights,
    /// The fitted model, when one was adopted (it beat the set weights on held-out outcomes).
    pub fitted: Option<Weights>,
    pub fitted_at: Option<Timestamp>,
    pub fit_summary: Option<String>,
}

impl LeadSettings {
    fn defaults(program_id: Option<ProgramId>) -> Self {
        Self {
            program_id,
            sla_hours: DEFAULT_SLA_HOURS,
            capacity: DEFAULT_CAPACITY,
            public_form: false,
            auto_offer: false,
            weights: Weights::default(),
            fitted: None,
            fitted_at: None,
            fit_summary: None,
        }
    }

    /// The weights the matching ranks by: the fitted model when one is in force.
    pub fn in_force(&self) -> &Weights {
        self.fitted.as_ref().unwrap_or(&self.weights)
    }
}

pub(crate) fn weights_json(weights: &Weights) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        Factor::ALL.iter().map(|f| (f.as_str().to_owned(), json!(weights.of(*f)))).collect();
    serde_json::Value::Object(map).to_string()
}

fn weights_of(text: &str) -> Weights {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).unwrap_or_default();
    Weights::manual(Factor::ALL.iter().map(|f| (*f, map.get(f.as_str()).and_then(|v| v.as_f64()).unwrap_or(Weights::default().of(*f)))))
}

/// Fitted weights as stored: `{"intercept": b, factor: log-odds, …}`.
pub(crate) fn fitted_json(weights: &Weights) -> String {
    let mut map: serde_json::Map<String, serde_json::Value> =
        Factor::ALL.iter().map(|f| (f.as_str().to_owned(), json!(weights.of(*f)))).collect();
    map.insert("intercept".into(), json!(weights.intercept()));
    serde_json::Value::Object(map).to_string()
}

fn fitted_of(text: &str) -> Option<Weights> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    let intercept = map.get("intercept")?.as_f64()?;
    let values: Option<Vec<(Factor, f64)>> = Factor::ALL.iter().map(|f| Some((*f, map.get(f.as_str())?.as_f64()?))).collect();
    Some(Weights::fitted(intercept, values?))
}

/// The settings of a program (the defaults without one), in the caller's transaction.
pub async fn of_in(tx: &mut Tx, workspace_id: &WorkspaceId, program_id: Option<&ProgramId>) -> Result<LeadSettings> {
    let Some(program_id) = program_id else { return Ok(LeadSettings::defaults(None)) };
    let row = tx
        .fetch_optional(sql!(
            "SELECT sla_hours, capacity, public_form, auto_offer, weights, fitted_weights, fitted_at, fit_summary FROM lead_settings WHERE workspace_id = $1 AND program_id = $2",
            workspace_id,
            program_id
        ))
        .await?;
    let Some(row) = row else { return Ok(LeadSettings::defaults(Some(program_id.clone()))) };
    let weights: String = row.get("weights")?;
    let fitted: Option<String> = row.get("fitted_weights")?;
    Ok(LeadSettings {
        program_id: Some(program_id.clone()),
        sla_hours: row.get("sla_hours")?,
        capacity: row.get("capacity")?,
        public_form: row.get("public_form")?,
        auto_offer: row.get("auto_offer")?,
        weights: weights_of(&weights),
        fitted: fitted.as_deref().and_then(fitted_of),
        fitted_at: row.get("fitted_at")?,
        fit_summary: row.get("fit_summary")?,
    })
}

/// `GET /api/v1/programs/{id}/lead-settings` (staff).
pub async fn get(ctx: &Ctx, scope: &Scope, program_id: &ProgramId) -> Result<LeadSettings> {
    let mut tx = scope.read(ctx).await?;
    trellis_programs::programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
    if scope.partner().is_some() {
        return Err(Error::forbidden("a program's lead settings are the channel team's"));
    }
    of_in(&mut tx, scope.workspace_id(), Some(program_id)).await
}

/// `PATCH /api/v1/programs/{id}/lead-settings`.
#[derive(Debug, Clone, Default)]
pub struct SettingsPatch {
    pub sla_hours: Option<i64>,
    pub capacity: Option<i64>,
    pub public_form: Option<bool>,
    pub auto_offer: Option<bool>,
    /// Points per factor name; factors not named keep theirs.
    pub weights: Vec<(String, f64)>,
}

/// Changes a program's lead settings (owner, admin, channel manager). Changing the weights drops
/// a fitted model (the next refit starts from the new prior).
pub async fn update(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, patch: SettingsPatch) -> Result<LeadSettings> {
    let mut tx = scope.write(ctx).await?;
    trellis_programs::programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
    crate::leads::require_lead_manager(scope, "change lead settings")?;
    let mut v = Validation::new();
    if patch.sla_hours.is_some_and(|h| !(1..=720).contains(&h)) {
        v.add("sla_hours", "must be between 1 and 720 hours");
    }
    if patch.capacity.is_some_and(|c| !(1..=10_000).contains(&c)) {
        v.add("capacity", "must be between 1 and 10000 open leads");
    }
    let before = of_in(&mut tx, scope.workspace_id(), Some(program_id)).await?;
    let mut points: Vec<(Factor, f64)> = Factor::ALL.iter().map(|f| (*f, before.weights.of(*f))).collect();
    for (name, value) in &patch.weights {
        match Factor::ALL.iter().position(|f| f.as_str() == name) {
            Some(i) if value.is_finite() && (0.0..=100.0).contains(value) => points[i].1 = *value,
            Some(_) => v.add(&format!("weights.{name}"), "must be between 0 and 100 points"),
            None => v.add(&format!("weights.{name}"), format!("unknown factor; one of {}", Factor::ALL.map(|f| f.as_str()).join(", "))),
        }
    }
    v.finish().map_err(Error::Validation)?;
    let weights = Weights::manual(points);
    let now = ctx.now();
    let sla_hours = patch.sla_hours.unwrap_or(before.sla_hours);
    let capacity = patch.capacity.unwrap_or(before.capacity);
    let public_form = patch.public_form.unwrap_or(before.public_form);
    let auto_offer = patch.auto_offer.unwrap_or(before.auto_offer);
    let weights_changed = !patch.weights.is_empty();
    tx.execute(sql!(
        "INSERT INTO lead_settings (workspace_id, program_id, sla_hours, capacity, weights, updated_at, public_form, auto_offer)
         VALUES ($1, $2, $3, $4, $5, $6, $8, $9)
         ON CONFLICT (workspace_id, program_id) DO UPDATE SET sla_hours = $3, capacity = $4, weights = $5, updated_at = $6, public_form = $8,
             auto_offer = $9,
             fitted_weights = CASE WHEN $7 THEN NULL ELSE lead_settings.fitted_weights END,
             fitted_at = CASE WHEN $7 THEN NULL ELSE lead_settings.fitted_at END",
        scope.workspace_id(),
        program_id,
        sla_hours,
        capacity,
        weights_json(&weights),
        now,
        weights_changed,
        public_form,
        auto_offer
    ))
    .await?;
    let entry = AuditEntry::new("program.lead_settings_changed", "program", program_id.as_str())
        .change("sla_hours", before.sla_hours, sla_hours)
        .change("capacity", before.capacity, capacity)
        .change("public_form", before.public_form, public_form)
        .change("auto_offer", before.auto_offer, auto_offer)
        .change("weights", weights_json(&before.weights), weights_json(&weights));
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    let mut read = scope.read(ctx).await?;
    of_in(&mut read, scope.workspace_id(), Some(program_id)).await
}

/// Who sets a partner's own limit of open leads: its own admins, and staff who manage partners
/// (its distributor does not: the limit is the organisation's own commitment).
fn require_limit_setter(scope: &Scope, partner_id: &trellis_core::PartnerId) -> Result<()> {
    match scope.partner() {
        Some((own, trellis_core::PartnerRole::Admin)) if own == partner_id => Ok(()),
        Some(_) => Err(Error::forbidden("only the organisation's own admins set how many leads it takes")),
        None => scope.require_vendor_role(trellis_core::VendorRole::PARTNER_MANAGERS, "set a partner's lead limit"),
    }
}

/// `GET /api/v1/partners/{id}/lead-capacity`: the partner's own limit of open leads (`None`: the
/// program's), for whoever sees the partner.
pub async fn partner_capacity(ctx: &Ctx, scope: &Scope, partner_id: &trellis_core::PartnerId) -> Result<Option<i64>> {
    let mut tx = scope.read(ctx).await?;
    tx.see_partner(partner_id).await?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT capacity FROM lead_partner_limits WHERE workspace_id = $1 AND partner_id = $2",
            scope.workspace_id(),
            partner_id
        ))
        .await?;
    Ok(row.map(|r| r.get::<i64>("capacity")).transpose()?)
}

/// `PUT /api/v1/partners/{id}/lead-capacity` `{capacity}`: 0 to 10000, or `None` for the program's.
pub async fn set_partner_capacity(
    ctx: &Ctx,
    scope: &Scope,
    partner_id: &trellis_core::PartnerId,
    capacity: Option<i64>,
) -> Result<Option<i64>> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    tx.see_partner(partner_id).await?;
    require_limit_setter(scope, partner_id)?;
    if capacity.is_some_and(|c| !(0..=10_000).contains(&c)) {
        return Err(Error::invalid("capacity", "must be between 0 and 10000 open leads, or null for the program's"));
    }
    let before = tx
        .fetch_optional(sql!(
            "SELECT capacity FROM lead_partner_limits WHERE workspace_id = $1 AND partner_id = $2",
            scope.workspace_id(),
            partner_id
        ))
        .await?
        .map(|r| r.get::<i64>("capacity"))
        .transpose()?;
    match capacity {
        Some(capacity) => {
            tx.execute(sql!(
                "INSERT INTO lead_partner_limits (workspace_id, partner_id, capacity, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (workspace_id, partner_id) DO UPDATE SET capacity = $3, updated_at = $4",
                scope.workspace_id(),
                partner_id,
                capacity,
                now
            ))
            .await?;
        }
        None => {
            tx.execute(sql!(
                "DELETE FROM lead_partner_limits WHERE workspace_id = $1 AND partner_id = $2",
                scope.workspace_id(),
                partner_id
            ))
            .await?;
        }
    }
    let entry =
        AuditEntry::new("partner.lead_capacity_changed", "partner", partner_id.as_str()).change("capacity", json!(before), json!(capacity));
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(capacity)
}
