//! The "Programs & tiers" card of a partner's console page: its enrollments and tiers with what
//! the next tier needs, manual overrides with a reason, the recorded metrics, the tier history
//! with the why of each change, and the forms that change them (`/console/partners/{id}/…`).

use axum::extract::{Path, State};
use serde_json::json;
use trellis_core::{Error, PartnerId, ProgramId};
use trellis_directory::metric_registry::Registry;
use trellis_identity::{Scope, ScopedTx, SeenPartner};
use trellis_programs::enrollments::{self, NewEnrollment};
use trellis_programs::evaluation::{self, HistoryFilter};
use trellis_programs::metrics;
use trellis_programs::{programs, tiers};
use trellis_web::AppState;

use super::partners::show_failed_card;
use crate::display;
use crate::forms::{Choice, FormView, field_errors};
use crate::guards::StaffForm;
use crate::pages::{PageResult, path_id, see_other};
use crate::routes::{PageRouter, post};
use crate::tiers::{ChangeRow, StandingRow};

pub(super) const ENROLL_FIELDS: &[&str] = &["program_id", "tier_id"];
pub(super) const OVERRIDE_FIELDS: &[&str] = &["tier_id", "reason"];
pub(super) const METRIC_FIELDS: &[&str] = &["metric", "value", "note"];
/// History rows the card shows; the API pages through all of them.
const HISTORY_ROWS: i64 = 20;

/// An enrollment with its override form and the tiers it may be set to.
pub(super) struct EnrollmentCard {
    pub(super) standing: StandingRow,
    pub(super) tiers: Vec<Choice>,
    pub(super) override_form: FormView,
}

/// A tier choice of the enroll form, grouped by program.
pub(super) struct ProgramTiers {
    pub(super) program: String,
    pub(super) tiers: Vec<Choice>,
}

/// A metric's value as the card shows it.
pub(super) struct ReadingRow {
    pub(super) metric: &'static str,
    pub(super) description: &'static str,
    pub(super) value: String,
    pub(super) program: Option<String>,
    pub(super) recorded: Option<String>,
}

pub(super) struct ProgramsCard {
    pub(super) enrollments: Vec<EnrollmentCard>,
    pub(super) history: Vec<ChangeRow>,
    pub(super) readings: Vec<ReadingRow>,
    pub(super) can_manage: bool,
    /// Programs the partner is not enrolled in yet.
    pub(super) programs: Vec<Choice>,
    pub(super) program_tiers: Vec<ProgramTiers>,
    pub(super) enroll: FormView,
    pub(super) recorded_metrics: Vec<Choice>,
    pub(super) metric: FormView,
}

/// The card for a visible partner, with blank forms.
pub(super) async fn card(state: &AppState, tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner) -> Result<ProgramsCard, Error> {
    let can_manage = enrollments::may_manage(scope);
    let standings = evaluation::standings_in(&state.ctx, tx, scope, seen).await?;
    let all_programs = programs::list_in(tx, scope.workspace_id()).await?;
    let all_tiers = tiers::list_all_in(tx, scope.workspace_id()).await?;
    let mut tier_choices = Vec::with_capacity(all_programs.len());
    for program in &all_programs {
        // Highest rank first, as the override picker lists them.
        let choices: Vec<Choice> = all_tiers
            .iter()
            .rev()
            .filter(|t| t.program_id == program.id)
            .map(|t| Choice { value: t.id.to_string(), label: format!("{} ({})", t.name, program.name) })
            .collect();
        tier_choices.push((program, choices));
    }
    let enrollments: Vec<EnrollmentCard> = standings
        .into_iter()
        .map(|standing| {
            let tiers = tier_choices.iter().find(|(p, _)| p.id == standing.program_id).map(|(_, c)| c.clone()).unwrap_or_default();
            let current = standing.tier.as_ref().map(|t| t.id.to_string()).unwrap_or_default();
            EnrollmentCard {
                standing: StandingRow::from(standing),
                tiers,
                override_form: FormView::filled("override", OVERRIDE_FIELDS, vec![("tier_id", current)]),
            }
        })
        .collect();
    let enrolled = |id: &ProgramId| enrollments.iter().any(|e| e.standing.program_id == id.as_str());
    let program_tiers = tier_choices
        .iter()
        .filter(|(p, choices)| !enrolled(&p.id) && !choices.is_empty())
        .map(|(p, choices)| ProgramTiers { program: p.name.clone(), tiers: choices.clone() })
        .collect();
    let program_name = |id: &ProgramId| all_programs.iter().find(|p| &p.id == id).map_or_else(|| id.to_string(), |p| p.name.clone());
    let changes =
        evaluation::history_in(tx, scope, seen, &HistoryFilter { limit: Some(HISTORY_ROWS), ..HistoryFilter::default() }).await?.items;
    let readings = metrics::readings_in(&state.ctx, tx, scope, seen).await?;
    Ok(ProgramsCard {
        history: changes.iter().map(|c| ChangeRow::new(c, program_name(&c.program_id))).collect(),
        readings: readings
            .into_iter()
            .map(|r| ReadingRow {
                metric: r.metric,
                description: r.description,
                value: r.value.map_or_else(|| "not recorded".to_owned(), |v| v.to_string()),
                program: r.program_id.as_ref().map(program_name),
                recorded: r.recorded_at.map(|at| match &r.note {
                    Some(note) => format!("{} — {note}", display::time(at)),
                    None => display::time(at),
                }),
            })
            .collect(),
        programs: all_programs
            .iter()
            .filter(|p| !enrolled(&p.id))
            .map(|p| Choice { value: p.id.to_string(), label: p.name.clone() })
            .collect(),
        enrollments,
        can_manage,
        program_tiers,
        enroll: FormView::new("enroll", ENROLL_FIELDS),
        recorded_metrics: Registry::of(&state.ctx)?
            .all()
            .iter()
            .filter(|m| m.is_recorded())
            .map(|m| Choice { value: m.name.to_owned(), label: format!("{} ({})", m.name, m.kind.as_str()) })
            .collect(),
        metric: FormView::new("metric", METRIC_FIELDS),
    })
}

/// `POST /console/partners/{id}/enrollments`
async fn enroll(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let enrolled = match (form.optional_id("program_id"), form.optional_id("tier_id")) {
        (Ok(Some(program_id)), Ok(tier_id)) => {
            enrollments::enroll(&state.ctx, &signed.scope, &id, NewEnrollment { program_id, tier_id }).await
        }
        (Ok(None), _) => Err(Error::invalid("program_id", "choose a program")),
        (Err(err), _) | (_, Err(err)) => Err(err),
    };
    match enrolled {
        Ok(_) => Ok(see_other(&format!("/console/partners/{id}?notice=enrolled#programs"))),
        Err(err) => {
            let errors = field_errors(err, "program_id")?;
            show_failed_card(&state, &signed, &id, |card| card.enroll = FormView::failed("enroll", ENROLL_FIELDS, form, errors)).await
        }
    }
}

/// `POST /console/partners/{id}/enrollments/{program_id}/remove`
async fn unenroll(
    State(state): State<AppState>,
    Path((id, program_id)): Path<(String, String)>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    enrollments::unenroll(&state.ctx, &signed.scope, &id, &path_id(&program_id)?).await?;
    Ok(see_other(&format!("/console/partners/{id}?notice=unenrolled#programs")))
}

/// `POST /console/partners/{id}/enrollments/{program_id}/tier`: sets the tier by hand.
async fn override_tier(
    State(state): State<AppState>,
    Path((id, program_id)): Path<(String, String)>,
    StaffForm { signed, form }: StaffForm,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let program_id: ProgramId = path_id(&program_id)?;
    match enrollments::override_tier(&state.ctx, &signed.scope, &id, &program_id, form.value("tier_id"), form.value("reason")).await {
        Ok(_) => Ok(see_other(&format!("/console/partners/{id}?notice=tier_overridden#programs"))),
        Err(err) => {
            let errors = field_errors(err, "reason")?;
            show_failed_card(&state, &signed, &id, |card| {
                if let Some(e) = card.enrollments.iter_mut().find(|e| e.standing.program_id == program_id.as_str()) {
                    e.override_form = FormView::failed("override", OVERRIDE_FIELDS, form, errors);
                }
            })
            .await
        }
    }
}

/// `POST /console/partners/{id}/enrollments/{program_id}/tier/remove`: removes the override and
/// evaluates the tier again.
async fn remove_override(
    State(state): State<AppState>,
    Path((id, program_id)): Path<(String, String)>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    enrollments::remove_override(&state.ctx, &signed.scope, &id, &path_id(&program_id)?).await?;
    Ok(see_other(&format!("/console/partners/{id}?notice=override_removed#programs")))
}

/// A typed form value: a whole number, or yes/no as a boolean; anything else as text, which the
/// service reports as invalid.
fn metric_value(text: &str) -> serde_json::Value {
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        return json!(n);
    }
    match text.to_lowercase().as_str() {
        "yes" | "true" => json!(true),
        "no" | "false" => json!(false),
        _ => json!(text),
    }
}

/// `POST /console/partners/{id}/metrics`: records a value of a recorded metric.
async fn record_metric(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let recorded = match form.optional("metric") {
        Some(metric) => {
            metrics::record(&state.ctx, &signed.scope, &id, metric, &metric_value(form.value("value")), form.optional("note")).await
        }
        None => Err(Error::invalid("metric", "choose a metric")),
    };
    match recorded {
        Ok(_) => Ok(see_other(&format!("/console/partners/{id}?notice=metric_recorded#programs"))),
        // An unknown metric name is a hand-edited form: say so next to the field.
        Err(Error::NotFound) if form.optional("metric").is_some() => {
            let errors = vec![trellis_core::FieldError { field: "metric".into(), message: "is not one of the offered choices".into() }];
            show_failed_card(&state, &signed, &id, |card| card.metric = FormView::failed("metric", METRIC_FIELDS, form, errors)).await
        }
        Err(err) => {
            let errors = field_errors(err, "metric")?;
            show_failed_card(&state, &signed, &id, |card| card.metric = FormView::failed("metric", METRIC_FIELDS, form, errors)).await
        }
    }
}

/// `POST /console/partners/{id}/evaluate-tiers`
async fn evaluate(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    evaluation::evaluate_partner(&state.ctx, &signed.scope, &id).await?;
    Ok(see_other(&format!("/console/partners/{id}?notice=tiers_evaluated#programs")))
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route("/console/partners/{id}/enrollments", post(enroll))
        .route("/console/partners/{id}/enrollments/{program_id}/remove", post(unenroll))
        .route("/console/partners/{id}/enrollments/{program_id}/tier", post(override_tier))
        .route("/console/partners/{id}/enrollments/{program_id}/tier/remove", post(remove_override))
        .route("/console/partners/{id}/metrics", post(record_metric))
        .route("/console/partners/{id}/evaluate-tiers", post(evaluate))
}
