//! `/portal/onboarding`: the organisation's onboarding checklist across its programs, the
//! agreement in force in each with an "I accept" form for its admins, and "mark done" for the
//! steps partners complete by hand. The portal home shows a summary card.

use askama::Template;
use axum::extract::{Path, State};
use trellis_core::{Error, PartnerId, PartnerRole, PartnerStatus};
use trellis_identity::Scope;
use trellis_recruitment::agreements;
use trellis_recruitment::onboarding::{self, Progress, step_kind};
use trellis_web::AppState;

use super::profile_details;
use crate::display;
use crate::forms::UrlQuery;
use crate::guards::{PartnerForm, PartnerPage};
use crate::pages::{Layout, PageResult, path_id, render, see_other};
use crate::routes::{PageRouter, get, post};

const SECTION: &str = "/portal/onboarding";

/// A step as the partner sees it.
struct StepItem {
    id: String,
    title: String,
    description: String,
    program_name: String,
    required: bool,
    /// "Done on … by …", when done.
    done: Option<String>,
    completes_when: String,
    can_mark_done: bool,
    /// Where in the portal the step is done, and the link's words.
    link: Option<(&'static str, &'static str)>,
    /// What the step waits on that the partner cannot do: the vendor's approval of the profile's
    /// legal name or territories.
    waiting_on: Vec<profile_details::PendingRow>,
}

/// The agreement in force in one of the partner's programs.
struct AgreementItem {
    id: String,
    program_name: String,
    title: String,
    version: i64,
    body: String,
    /// "Accepted on … by …", when accepted.
    accepted: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/onboarding.html")]
struct OnboardingPage {
    layout: Layout,
    csrf_token: String,
    status: PartnerStatus,
    steps: Vec<StepItem>,
    agreements: Vec<AgreementItem>,
    required_total: usize,
    required_done: usize,
    is_admin: bool,
}

fn by_whom(kind: &str, email: Option<&str>) -> String {
    match (kind, email) {
        (_, Some(email)) => email.to_owned(),
        ("system", None) => "Trellis".to_owned(),
        _ => "an API key".to_owned(),
    }
}

/// Where a step of a known kind is done in the portal.
fn link_of(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        onboarding::COMPLETE_PROFILE => Some(("/portal/profile/edit", "Complete your profile")),
        onboarding::INVITE_COLLEAGUES => Some(("/portal/users", "Invite a colleague")),
        onboarding::UPLOAD_DOCUMENT => Some(("/portal/licences", "Upload a document")),
        onboarding::ACCEPT_AGREEMENT => Some(("#agreements", "Read the agreement")),
        _ => None,
    }
}

fn steps_of(progress: &Progress, role: PartnerRole, pending: &[profile_details::PendingRow]) -> Vec<StepItem> {
    progress
        .steps
        .iter()
        .map(|s| {
            let kind = step_kind(&s.step.kind);
            StepItem {
                id: s.step.id.to_string(),
                title: s.step.title.clone(),
                description: s.step.description.clone(),
                program_name: s.program_name.clone(),
                required: s.step.required,
                done: s
                    .completion
                    .as_ref()
                    .map(|c| format!("Done {} by {}", display::time(c.at), by_whom(&c.by.kind, c.by.email.as_deref()))),
                completes_when: kind.map_or("", |k| k.completes_when).to_owned(),
                can_mark_done: s.completion.is_none() && role != PartnerRole::Member && kind.is_some_and(|k| k.partner_marks_done),
                link: if s.completion.is_none() { link_of(&s.step.kind) } else { None },
                waiting_on: if s.completion.is_none() && s.step.kind == onboarding::COMPLETE_PROFILE {
                    pending.to_vec()
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

/// `GET /portal/onboarding`
async fn show_onboarding(
    State(state): State<AppState>,
    PartnerPage { signed, partner_id: own, role }: PartnerPage,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let progress = onboarding::progress(&state.ctx, &signed.scope, &own).await?;
    let pending = profile_details::pending_rows(&state, &signed.scope, &own).await?;
    let page = OnboardingPage {
        layout: Layout::signed(&state, &signed, "Onboarding", SECTION).await.with_notice(&query),
        csrf_token: signed.session.csrf_token.clone(),
        status: progress.partner_status,
        steps: steps_of(&progress, role, &pending),
        agreements: progress
            .agreements
            .iter()
            .map(|a| AgreementItem {
                id: a.agreement.id.to_string(),
                program_name: a.program_name.clone(),
                title: a.agreement.title.clone(),
                version: a.agreement.version,
                body: a.agreement.body.clone(),
                accepted: a.acceptance.as_ref().map(|x| format!("Accepted {} by {}", display::time(x.accepted_at), x.user_email)),
            })
            .collect(),
        required_total: progress.required_total(),
        required_done: progress.required_done(),
        is_admin: role == PartnerRole::Admin,
    };
    Ok(render(&page))
}

/// `POST /portal/onboarding/steps/{step_id}/complete`: marks a step the partner does by hand done.
async fn complete_step(
    State(state): State<AppState>,
    Path(step_id): Path<String>,
    PartnerForm { signed, partner_id: own, .. }: PartnerForm,
) -> PageResult {
    onboarding::complete_step(&state.ctx, &signed.scope, &own, &path_id(&step_id)?).await?;
    Ok(see_other("/portal/onboarding?notice=step_completed"))
}

/// `POST /portal/onboarding/agreements/{agreement_id}/accept` (the organisation's admins).
async fn accept_agreement(
    State(state): State<AppState>,
    Path(agreement_id): Path<String>,
    PartnerForm { signed, partner_id: own, .. }: PartnerForm,
) -> PageResult {
    agreements::accept(&state.ctx, &signed.scope, &own, &path_id(&agreement_id)?).await?;
    Ok(see_other("/portal/onboarding?notice=agreement_accepted"))
}

/// The portal home's onboarding card: how far the organisation is and what comes next.
pub struct OnboardingCard {
    /// Still onboarding (else an active partner with an agreement version to accept).
    pub onboarding: bool,
    pub required_total: usize,
    pub required_done: usize,
    pub next_step: Option<String>,
    pub agreements_to_accept: usize,
}

/// The card while the organisation is onboarding; for an active one only when an agreement (a
/// new version) waits for acceptance — an active partner is not told to finish onboarding.
pub async fn home_card(state: &AppState, scope: &Scope, partner_id: &PartnerId) -> Result<Option<OnboardingCard>, Error> {
    let progress = onboarding::progress(&state.ctx, scope, partner_id).await?;
    let agreements_to_accept = progress.agreements.iter().filter(|a| a.acceptance.is_none()).count();
    let next_step = progress.steps.iter().find(|s| s.step.required && s.completion.is_none()).map(|s| s.step.title.clone());
    let onboarding = progress.partner_status == PartnerStatus::Onboarding;
    Ok((onboarding || agreements_to_accept > 0).then(|| OnboardingCard {
        onboarding,
        required_total: progress.required_total(),
        required_done: progress.required_done(),
        next_step,
        agreements_to_accept,
    }))
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(SECTION, get(show_onboarding))
        .route("/portal/onboarding/steps/{step_id}/complete", post(complete_step))
        .route("/portal/onboarding/agreements/{agreement_id}/accept", post(accept_agreement))
}
