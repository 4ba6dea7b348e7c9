//! `/console/leads/import`: leads from a CSV file, as the API's `POST /api/v1/leads/import` does
//! (`trellis_leads::imports`): a chosen or pasted file is previewed (nothing written) with the
//! columns as recognised and every row's action and errors; a file without errors is imported
//! with the confirm button, whose form carries the previewed text. Owners, admins and channel
//! managers; 403 to other staff, as the service.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use trellis_core::{Error, FieldError, ProgramId};
use trellis_deals::imports::{MAX_BYTES, MAX_ROWS};
use trellis_leads::imports::{self, Preview, RowAction};
use trellis_web::AppState;

use crate::forms::{Choice, FormData, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::pages::{Layout, PageResult, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;
use crate::uploads::UploadForm;

const PATH: &str = "/console/leads/import";
const SECTION: &str = "/console/leads";
const FIELDS: &[&str] = &["file", "csv", "program_id"];

struct RowView {
    line: u64,
    external_id: String,
    company: String,
    country: String,
    action: &'static str,
    action_text: &'static str,
    errors: Vec<String>,
}

struct PreviewView {
    columns: Vec<(String, String)>,
    ignored: Vec<String>,
    rows: Vec<RowView>,
    create: usize,
    unchanged: usize,
    error: usize,
}

#[derive(Template)]
#[template(path = "console/lead_import.html")]
struct ImportPage {
    layout: Layout,
    csrf_token: String,
    form: FormView,
    programs: Vec<Choice>,
    preview: Option<PreviewView>,
    csv_text: String,
    program_id: String,
    result: Option<String>,
    max_rows: usize,
    max_mb: usize,
}

fn require_importer(signed: &Signed) -> Result<(), Error> {
    if super::staff_role(&signed.scope)?.manages_partners() { Ok(()) } else { Err(Error::forbidden("your role may not import leads")) }
}

fn preview_view(preview: Preview) -> PreviewView {
    PreviewView {
        columns: preview.columns.iter().filter_map(|c| c.field.map(|f| (c.header.clone(), f.replace('_', " ")))).collect(),
        ignored: preview.columns.iter().filter(|c| c.field.is_none() && !c.header.is_empty()).map(|c| c.header.clone()).collect(),
        rows: preview
            .rows
            .into_iter()
            .map(|r| RowView {
                line: r.line,
                external_id: r.external_id,
                company: r.company_name,
                country: r.country,
                action: r.action.as_str(),
                action_text: match r.action {
                    RowAction::Create => "New",
                    RowAction::Unchanged => "Already imported",
                    RowAction::Error => "Error",
                },
                errors: r.errors.into_iter().map(|e| format!("{}: {}", e.field.replace('_', " "), e.message)).collect(),
            })
            .collect(),
        create: preview.counts.create,
        unchanged: preview.counts.unchanged,
        error: preview.counts.error,
    }
}

async fn page(state: &AppState, signed: &Signed, form: FormView, preview: Option<Preview>, csv_text: String) -> Result<ImportPage, Error> {
    let scope = &signed.scope;
    let mut tx = scope.read(&state.ctx).await?;
    let programs = trellis_programs::programs::list_in(&mut tx, scope.workspace_id()).await?;
    drop(tx);
    Ok(ImportPage {
        layout: Layout::signed(state, signed, "Import leads", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        program_id: form.value("program_id").to_owned(),
        form,
        programs: programs
            .iter()
            .filter(|p| p.deal_registration)
            .map(|p| Choice { value: p.id.to_string(), label: p.name.clone() })
            .collect(),
        preview: preview.map(preview_view),
        csv_text,
        result: None,
        max_rows: MAX_ROWS,
        max_mb: MAX_BYTES / (1024 * 1024),
    })
}

fn program_of(fields: &FormData) -> Option<ProgramId> {
    fields.optional("program_id").and_then(|p| p.parse().ok())
}

/// `GET /console/leads/import`
async fn show(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    require_importer(&signed)?;
    let mut shown = page(&state, &signed, FormView::new("import", FIELDS), None, String::new()).await?;
    let count = |name: &str| query.optional(name).and_then(|v| v.parse::<usize>().ok());
    if let Some(created) = count("created") {
        shown.result = Some(format!(
            "Imported: {created} new leads (they wait in the inbox to be offered); {} already imported and left as they are.",
            count("unchanged").unwrap_or(0)
        ));
    }
    Ok(render(&shown))
}

async fn failed(
    state: &AppState,
    signed: &Signed,
    fields: FormData,
    errors: Vec<FieldError>,
    preview: Option<Preview>,
    csv_text: String,
) -> PageResult {
    let errors = errors
        .into_iter()
        .map(|e| match e.field.split_once('.') {
            Some(("csv", _)) => FieldError { field: String::new(), message: e.message },
            _ => e,
        })
        .collect();
    let form = FormView::failed("import", FIELDS, fields, errors);
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page(state, signed, form, preview, csv_text).await?))
}

/// `POST /console/leads/import/preview` (multipart: a chosen file or pasted text).
async fn preview(State(state): State<AppState>, StaffForm { signed, form }: StaffForm<UploadForm>) -> PageResult {
    require_importer(&signed)?;
    let text = match form.file {
        Some(file) => match String::from_utf8(file.bytes) {
            Ok(text) => text,
            Err(_) => {
                let errors = vec![FieldError { field: "file".into(), message: "must be a CSV file saved as UTF-8".into() }];
                return failed(&state, &signed, form.fields, errors, None, String::new()).await;
            }
        },
        None => form.fields.value("csv").to_owned(),
    };
    if text.trim().is_empty() {
        let errors = vec![FieldError { field: "file".into(), message: "choose a CSV file or paste its text".into() }];
        return failed(&state, &signed, form.fields, errors, None, String::new()).await;
    }
    let program = program_of(&form.fields);
    match imports::preview(&state.ctx, &signed.scope, &text, program.as_ref()).await {
        Ok(preview) => {
            let filled = FormView::filled("import", FIELDS, vec![("program_id", form.fields.value("program_id").to_owned())]);
            Ok(render(&page(&state, &signed, filled, Some(preview), text).await?))
        }
        Err(err) => {
            let errors = field_errors(err, "csv")?;
            failed(&state, &signed, form.fields, errors, None, String::new()).await
        }
    }
}

/// `POST /console/leads/import`: imports the previewed text; a file with row errors is refused.
async fn import(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    require_importer(&signed)?;
    let text = form.value("csv").to_owned();
    if text.trim().is_empty() {
        let errors = vec![FieldError { field: "file".into(), message: "choose a CSV file or paste its text, and preview it first".into() }];
        return failed(&state, &signed, form, errors, None, String::new()).await;
    }
    let program = program_of(&form);
    match imports::import(&state.ctx, &signed.scope, &text, program.as_ref()).await {
        Ok(done) => Ok(see_other(&format!("{PATH}?created={}&unchanged={}", done.counts.create, done.counts.unchanged))),
        Err(err) => {
            let errors = field_errors(err, "csv")?;
            let preview = imports::preview(&state.ctx, &signed.scope, &text, program.as_ref()).await.ok();
            failed(&state, &signed, form, errors, preview, text).await
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route("/console/leads/import/preview", post(preview))
        .route(PATH, get(show).post(import))
        // A file of up to 5 MB: uploaded, then carried by the confirm form.
        .with_upload_limit()
}
