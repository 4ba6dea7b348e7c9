//! `/console/programs/{id}/onboarding`: a program's onboarding checklist (add, edit, reorder,
//! remove steps) and its partner agreement (every published version; publish a new one).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{Error, ProgramId, StepId};
use trellis_programs::{Program, programs};
use trellis_recruitment::agreements::{self, Agreement, NewAgreement};
use trellis_recruitment::onboarding::{self, NewStep, STEP_KINDS, Step, StepPatch, step_kind};
use trellis_web::AppState;

use super::staff_role;
use crate::display;
use crate::forms::{Choice, FormData, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const SECTION: &str = "/console/applications?status=applied";
const STEP_FIELDS: &[&str] = &["kind", "title", "description", "required", "position"];
const AGREEMENT_FIELDS: &[&str] = &["title", "body"];

/// A step as the checklist shows it.
struct StepRow {
    id: String,
    title: String,
    description: String,
    kind_label: String,
    completes_when: String,
    required: bool,
    position: i64,
}

impl From<Step> for StepRow {
    fn from(s: Step) -> Self {
        let kind = step_kind(&s.kind);
        Self {
            id: s.id.to_string(),
            title: s.title,
            description: s.description,
            kind_label: kind.map_or_else(|| display::words(&s.kind), |k| display::words(k.kind)),
            completes_when: kind.map_or("", |k| k.completes_when).to_owned(),
            required: s.required,
            position: s.position,
        }
    }
}

/// An agreement version as the page shows it.
struct AgreementRow {
    version: i64,
    title: String,
    body: String,
    published: String,
}

impl From<Agreement> for AgreementRow {
    fn from(a: Agreement) -> Self {
        Self { version: a.version, title: a.title, body: a.body, published: display::time(a.published_at) }
    }
}

#[derive(Template)]
#[template(path = "console/onboarding.html")]
struct ChecklistPage {
    layout: Layout,
    csrf_token: String,
    program: Program,
    steps: Vec<StepRow>,
    /// Newest version first; the first is in force.
    agreements: Vec<AgreementRow>,
    can_edit: bool,
    new_step: FormView,
    kinds: Vec<Choice>,
    new_agreement: FormView,
}

/// A blank "add a step" form: a required custom step.
fn new_step_form() -> FormView {
    FormView::filled("step", STEP_FIELDS, vec![("kind", onboarding::CUSTOM.to_owned()), ("required", "1".to_owned())])
}

fn kind_choices() -> Vec<Choice> {
    STEP_KINDS.iter().map(|k| Choice { value: k.kind.to_owned(), label: format!("{} (done when {})", k.label, k.completes_when) }).collect()
}

async fn checklist_page(state: &AppState, signed: &Signed, program_id: &ProgramId) -> Result<ChecklistPage, Error> {
    let role = staff_role(&signed.scope)?;
    let program = programs::get(&state.ctx, &signed.scope, program_id).await?;
    let steps = onboarding::list_steps(&state.ctx, &signed.scope, program_id).await?;
    let versions = agreements::list(&state.ctx, &signed.scope, program_id).await?;
    Ok(ChecklistPage {
        layout: Layout::signed(state, signed, format!("{}: onboarding", program.name), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        program,
        steps: steps.into_iter().map(StepRow::from).collect(),
        agreements: versions.into_iter().map(AgreementRow::from).collect(),
        can_edit: role.manages_partners(),
        new_step: new_step_form(),
        kinds: kind_choices(),
        new_agreement: FormView::new("agreement", AGREEMENT_FIELDS),
    })
}

fn checklist_path(program_id: &ProgramId) -> String {
    format!("/console/programs/{program_id}/onboarding")
}

/// `GET /console/programs/{id}/onboarding`
async fn show_checklist(
    State(state): State<AppState>,
    StaffPage { signed, .. }: StaffPage,
    Path(id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let mut page = checklist_page(&state, &signed, &path_id(&id)?).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// A position typed in a form: blank is none; anything else but a whole number is reported.
fn read_position(form: &FormData) -> Result<Option<i64>, Error> {
    form.optional("position").map(|p| p.parse::<i64>().map_err(|_| Error::invalid("position", "must be a whole number"))).transpose()
}

/// `POST /console/programs/{id}/onboarding/steps`
async fn create_step(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let program_id: ProgramId = path_id(&id)?;
    let created = match read_position(&form) {
        Ok(position) => {
            let input = NewStep {
                kind: form.value("kind").to_owned(),
                title: form.value("title").to_owned(),
                description: form.optional("description").map(str::to_owned),
                required: Some(form.is_checked("required")),
                position,
            };
            onboarding::create_step(&state.ctx, &signed.scope, &program_id, input).await
        }
        Err(err) => Err(err),
    };
    match created {
        Ok(_) => Ok(see_other(&format!("{}?notice=step_added#checklist", checklist_path(&program_id)))),
        Err(err) => {
            let errors = field_errors(err, "")?;
            let mut page = checklist_page(&state, &signed, &program_id).await?;
            page.new_step = FormView::failed("step", STEP_FIELDS, form, errors);
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Template)]
#[template(path = "console/onboarding_step.html")]
struct StepPage {
    layout: Layout,
    csrf_token: String,
    program: Program,
    step: StepRow,
    form: FormView,
}

async fn step_page(
    state: &AppState,
    signed: &Signed,
    program_id: &ProgramId,
    step_id: &StepId,
    form: Option<FormView>,
) -> Result<StepPage, Error> {
    staff_role(&signed.scope)?;
    let program = programs::get(&state.ctx, &signed.scope, program_id).await?;
    let step = onboarding::list_steps(&state.ctx, &signed.scope, program_id)
        .await?
        .into_iter()
        .find(|s| &s.id == step_id)
        .ok_or(Error::NotFound)?;
    let mut values =
        vec![("title", step.title.clone()), ("description", step.description.clone()), ("position", step.position.to_string())];
    if step.required {
        values.push(("required", "1".to_owned()));
    }
    Ok(StepPage {
        layout: Layout::signed(state, signed, format!("Edit step: {}", step.title), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        form: form.unwrap_or_else(|| FormView::filled("step", STEP_FIELDS, values)),
        program,
        step: step.into(),
    })
}

/// `GET /console/programs/{id}/onboarding/steps/{step_id}`
async fn show_step(
    State(state): State<AppState>,
    StaffPage { signed, .. }: StaffPage,
    Path((id, step_id)): Path<(String, String)>,
) -> PageResult {
    Ok(render(&step_page(&state, &signed, &path_id(&id)?, &path_id(&step_id)?, None).await?))
}

/// `POST /console/programs/{id}/onboarding/steps/{step_id}`
async fn update_step(
    State(state): State<AppState>,
    Path((id, step_id)): Path<(String, String)>,
    StaffForm { signed, form }: StaffForm,
) -> PageResult {
    let (program_id, step_id): (ProgramId, StepId) = (path_id(&id)?, path_id(&step_id)?);
    let updated = match read_position(&form) {
        Ok(position) => {
            let patch = StepPatch {
                title: Some(form.value("title").to_owned()),
                description: Some(form.value("description").to_owned()),
                required: Some(form.is_checked("required")),
                position,
            };
            onboarding::update_step(&state.ctx, &signed.scope, &program_id, &step_id, patch).await
        }
        Err(err) => Err(err),
    };
    match updated {
        Ok(_) => Ok(see_other(&format!("{}?notice=step_saved#checklist", checklist_path(&program_id)))),
        Err(err) => {
            let errors = field_errors(err, "")?;
            let failed = FormView::failed("step", STEP_FIELDS, form, errors);
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &step_page(&state, &signed, &program_id, &step_id, Some(failed)).await?))
        }
    }
}

/// `POST /console/programs/{id}/onboarding/steps/{step_id}/delete`
async fn delete_step(
    State(state): State<AppState>,
    Path((id, step_id)): Path<(String, String)>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let program_id: ProgramId = path_id(&id)?;
    onboarding::delete_step(&state.ctx, &signed.scope, &program_id, &path_id(&step_id)?).await?;
    Ok(see_other(&format!("{}?notice=step_deleted#checklist", checklist_path(&program_id))))
}

/// `POST /console/programs/{id}/onboarding/agreements`: publishes a new version.
async fn publish_agreement(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let program_id: ProgramId = path_id(&id)?;
    let input = NewAgreement { title: form.value("title").to_owned(), body: form.value("body").to_owned() };
    match agreements::publish(&state.ctx, &signed.scope, &program_id, input).await {
        Ok(_) => Ok(see_other(&format!("{}?notice=agreement_published#agreement", checklist_path(&program_id)))),
        Err(err) => {
            let errors = field_errors(err, "title")?;
            let mut page = checklist_page(&state, &signed, &program_id).await?;
            page.new_agreement = FormView::failed("agreement", AGREEMENT_FIELDS, form, errors);
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route("/console/programs/{id}/onboarding", get(show_checklist))
        .route("/console/programs/{id}/onboarding/steps", post(create_step))
        .route("/console/programs/{id}/onboarding/steps/{step_id}", get(show_step).post(update_step))
        .route("/console/programs/{id}/onboarding/steps/{step_id}/delete", post(delete_step))
        .route("/console/programs/{id}/onboarding/agreements", post(publish_agreement))
}
