//! The "Onboarding" card of a partner's console page: the checklist of every program the partner
//! is in, how far it is ("3 of 5 required steps done"), who did each step and when, what an open
//! step waits for, a "Mark done" button for staff who manage partners (the steps staff complete,
//! such as a kick-off call, and any other they confirm by hand), and, while the partner is
//! onboarding, the Activate action with what it skips.

use axum::extract::{Path, State};
use trellis_core::{Error, PartnerId, PartnerStatus, StepId};
use trellis_identity::{Scope, ScopedTx, SeenPartner};
use trellis_recruitment::onboarding::{self, CUSTOM, Progress};
use trellis_web::AppState;

use crate::display;
use crate::guards::StaffForm;
use crate::pages::{PageResult, path_id, see_other};
use crate::routes::{PageRouter, post};

/// One step as the card shows it.
pub(super) struct StepRow {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) program: String,
    pub(super) required: bool,
    /// "Done on 3 Dec 2026 by ana@vendor.example".
    pub(super) done: Option<String>,
    /// What completes it, for an open step ("when a user of the partner accepts …").
    pub(super) waits_for: String,
    /// Staff are expected to complete it (a custom step): its button is the primary one.
    pub(super) staff_step: bool,
}

pub(super) struct OnboardingCard {
    pub(super) steps: Vec<StepRow>,
    pub(super) required_done: usize,
    pub(super) required_total: usize,
    /// 0–100, for the progress bar.
    pub(super) percent: usize,
    pub(super) can_mark: bool,
    /// While the partner is onboarding: the confirmation of activating it now.
    pub(super) activate_confirm: Option<String>,
}

/// The card of a visible partner; `None` when it has no onboarding steps in any program.
pub(super) async fn card(
    tx: &mut ScopedTx,
    scope: &Scope,
    seen: &SeenPartner,
    partner_name: &str,
) -> Result<Option<OnboardingCard>, Error> {
    let progress: Progress = onboarding::progress_seen_in(tx, scope, seen).await?;
    if progress.steps.is_empty() {
        return Ok(None);
    }
    let (required_done, required_total) = (progress.required_done(), progress.required_total());
    let missing = required_total - required_done;
    let can_mark = scope.has_vendor_role(trellis_core::VendorRole::PARTNER_MANAGERS)
        && matches!(progress.partner_status, PartnerStatus::Onboarding | PartnerStatus::Active);
    let activate_confirm = (can_mark && progress.partner_status == PartnerStatus::Onboarding).then(|| match missing {
        0 => format!("Activate {partner_name}?"),
        1 => format!("Activate {partner_name} now? 1 required onboarding step is not done yet."),
        n => format!("Activate {partner_name} now? {n} required onboarding steps are not done yet."),
    });
    let steps = progress
        .steps
        .into_iter()
        .map(|s| StepRow {
            id: s.step.id.to_string(),
            done: s.completion.map(|c| {
                let who =
                    c.by.email.unwrap_or_else(|| if c.by.kind == "system" { "Trellis".to_owned() } else { display::words(&c.by.kind) });
                format!("Done on {} by {who}", display::time(c.at))
            }),
            waits_for: onboarding::step_kind(&s.step.kind).map_or("the vendor marks it done", |k| k.completes_when).to_owned(),
            staff_step: s.step.kind == CUSTOM,
            required: s.step.required,
            program: s.program_name,
            title: s.step.title,
        })
        .collect();
    Ok(Some(OnboardingCard {
        steps,
        required_done,
        required_total,
        percent: (required_done * 100).checked_div(required_total).unwrap_or(100),
        can_mark,
        activate_confirm,
    }))
}

/// `POST /console/partners/{id}/onboarding/{step_id}/complete`: staff mark a step done (and the
/// partner becomes active when it was its last required step).
async fn complete_step(
    State(state): State<AppState>,
    Path((id, step_id)): Path<(String, String)>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let id: PartnerId = path_id(&id)?;
    let step_id: StepId = path_id(&step_id)?;
    onboarding::complete_step(&state.ctx, &signed.scope, &id, &step_id).await?;
    Ok(see_other(&format!("/console/partners/{id}?notice=step_completed#onboarding")))
}

pub fn routes() -> PageRouter {
    PageRouter::new().route("/console/partners/{id}/onboarding/{step_id}/complete", post(complete_step))
}
