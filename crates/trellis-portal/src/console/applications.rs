//! `/console/applications`: the applications inbox (pending first by default, with likely
//! duplicates flagged), an application's page with its answers and what it may duplicate, and the
//! approve and reject-with-reason forms.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{ApplicationId, Error, Page, ProgramId};
use trellis_programs::programs;
use trellis_recruitment::applications::{self, Application, ApplicationFilter, ApplicationStatus};
use trellis_web::AppState;

use super::staff_role;
use crate::display;
use crate::forms::{Choice, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::listing::{PAGE_SIZE, page_url};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const PATH: &str = "/console/applications";
/// The navigation opens the inbox on the applications waiting for a decision.
const SECTION: &str = "/console/applications?status=applied";
const FILTER_FIELDS: &[&str] = &["status", "program_id"];
const REJECT_FIELDS: &[&str] = &["reason"];

/// An application as a row of the inbox.
struct ApplicationRow {
    id: String,
    company: String,
    program: String,
    contact: String,
    submitted: String,
    status: &'static str,
    likely_duplicate: bool,
}

impl From<Application> for ApplicationRow {
    fn from(a: Application) -> Self {
        Self {
            id: a.id.to_string(),
            company: a.company_name,
            program: a.program_name,
            contact: format!("{} <{}>", a.contact_name, a.contact_email),
            submitted: display::time(a.created_at),
            status: a.status.as_str(),
            likely_duplicate: !a.duplicates.is_empty(),
        }
    }
}

/// A program with a link to its onboarding checklist.
struct ProgramLink {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "console/applications.html")]
struct ApplicationsPage {
    layout: Layout,
    filters: FormView,
    statuses: Vec<Choice>,
    programs: Vec<Choice>,
    rows: Vec<ApplicationRow>,
    next_page: Option<String>,
    first_page: Option<String>,
    checklists: Vec<ProgramLink>,
}

/// `GET /console/applications?status=&program_id=&cursor=`
async fn list_applications(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let status = query.optional("status").and_then(ApplicationStatus::parse);
    let program_id = query.optional("program_id").and_then(|p| ProgramId::parse(p).ok());
    let cursor = query.optional("cursor").and_then(|c| ApplicationId::parse(c).ok());
    let filter = ApplicationFilter { status, program_id: program_id.clone(), before: cursor.clone(), limit: Some(PAGE_SIZE) };
    let Page { items: rows, next_cursor: next } = applications::list(&state.ctx, &signed.scope, &filter).await?;
    let program_list = programs::list(&state.ctx, &signed.scope).await?;
    let status_text = status.map_or("", ApplicationStatus::as_str).to_owned();
    let program_text = program_id.as_ref().map(ProgramId::to_string).unwrap_or_default();
    let filters_of = |cursor: &str| page_url(PATH, &[("status", &status_text), ("program_id", &program_text), ("cursor", cursor)]);
    let page = ApplicationsPage {
        layout: Layout::signed(&state, &signed, "Applications", SECTION).await.with_notice(&query),
        filters: FormView::filled("filter", FILTER_FIELDS, vec![("status", status_text.clone()), ("program_id", program_text.clone())]),
        statuses: Choice::all_of(ApplicationStatus::ALL, ApplicationStatus::as_str),
        programs: program_list.iter().map(|p| Choice { value: p.id.to_string(), label: p.name.clone() }).collect(),
        rows: rows.into_iter().map(ApplicationRow::from).collect(),
        next_page: next.map(|c| filters_of(&c)),
        first_page: cursor.map(|_| filters_of("")),
        checklists: program_list.into_iter().map(|p| ProgramLink { id: p.id.to_string(), name: p.name }).collect(),
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "console/application.html")]
struct ApplicationPage {
    layout: Layout,
    csrf_token: String,
    application: Application,
    types_text: String,
    submitted: String,
    decided: Option<String>,
    /// Each question's label and the answer given.
    answers: Vec<(String, String)>,
    can_review: bool,
    reject: FormView,
}

async fn application_page(state: &AppState, signed: &Signed, id: &ApplicationId, reject: FormView) -> Result<ApplicationPage, Error> {
    let role = staff_role(&signed.scope)?;
    let application = applications::get(&state.ctx, &signed.scope, id).await?;
    let program = programs::get(&state.ctx, &signed.scope, &application.program_id).await?;
    let mut answers: Vec<(String, String)> =
        program.application_questions.iter().filter_map(|q| application.answers.get(&q.id).map(|a| (q.label.clone(), a.clone()))).collect();
    // Answers to questions the program no longer asks are still shown, under their key.
    answers.extend(
        application
            .answers
            .iter()
            .filter(|(key, _)| !program.application_questions.iter().any(|q| &&q.id == key))
            .map(|(key, answer)| (display::words(key), answer.clone())),
    );
    Ok(ApplicationPage {
        layout: Layout::signed(state, signed, application.company_name.clone(), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        types_text: display::partner_types(&application.types),
        submitted: display::time(application.created_at),
        decided: application.decided_at.map(display::time),
        answers,
        can_review: role.manages_partners() && application.status == ApplicationStatus::Applied,
        reject,
        application,
    })
}

/// `GET /console/applications/{id}`
async fn show_application(
    State(state): State<AppState>,
    StaffPage { signed, .. }: StaffPage,
    Path(id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let mut page = application_page(&state, &signed, &path_id(&id)?, FormView::new("reject", REJECT_FIELDS)).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// `POST /console/applications/{id}/approve`
async fn approve(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    let id: ApplicationId = path_id(&id)?;
    let application = applications::get(&state.ctx, &signed.scope, &id).await?;
    applications::approve(&state.ctx, &signed.scope, &application.partner_id).await?;
    let notice = if state.web.emails_delivered { "application_approved" } else { "application_approved_outbox" };
    Ok(see_other(&format!("{PATH}/{id}?notice={notice}")))
}

/// `POST /console/applications/{id}/reject`: the reason is required and emailed to the applicant.
async fn reject(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: ApplicationId = path_id(&id)?;
    let application = applications::get(&state.ctx, &signed.scope, &id).await?;
    match applications::reject(&state.ctx, &signed.scope, &application.partner_id, form.value("reason")).await {
        Ok(_) => {
            let notice = if state.web.emails_delivered { "application_rejected" } else { "application_rejected_outbox" };
            Ok(see_other(&format!("{PATH}/{id}?notice={notice}")))
        }
        Err(err) => {
            let errors = field_errors(err, "reason")?;
            let page = application_page(&state, &signed, &id, FormView::failed("reject", REJECT_FIELDS, form, errors)).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(PATH, get(list_applications))
        .route("/console/applications/{id}", get(show_application))
        .route("/console/applications/{id}/approve", post(approve))
        .route("/console/applications/{id}/reject", post(reject))
}
