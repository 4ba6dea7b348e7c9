//! `/console/deals/import`: the vendor's direct opportunities from a CRM export (CSV), as the API's
//! `POST /api/v1/deals/import` does (`trellis_deals::imports`). A file is chosen or pasted and
//! previewed (nothing written): the columns as recognised ("Account Name → customer name") and
//! every row with what the import does and what is wrong; a file without errors can then be
//! imported with the confirm button, whose form carries the previewed text so that what is
//! imported is what was shown (the import reads and checks it again in its own transaction).
//! Owners, admins and channel managers; 403 to other staff, as the service.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use trellis_core::{Error, FieldError, VendorRole};
use trellis_deals::imports::{self, Mapping, Preview, RowAction};
use trellis_web::AppState;

use crate::forms::{FormData, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::pages::{Layout, PageResult, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;
use crate::uploads::UploadForm;

const PATH: &str = "/console/deals/import";
const SECTION: &str = "/console/deals";
const FIELDS: &[&str] = &["file", "csv"];

struct ColumnView {
    header: String,
    field: String,
}

struct RowView {
    line: u64,
    external_id: String,
    customer: String,
    amount: String,
    close: String,
    stage: String,
    action: &'static str,
    action_text: &'static str,
    note: String,
    errors: Vec<String>,
}

struct PreviewView {
    columns: Vec<ColumnView>,
    ignored: Vec<String>,
    rows: Vec<RowView>,
    create: usize,
    unchanged: usize,
    skipped: usize,
    error: usize,
}

#[derive(Template)]
#[template(path = "console/deal_import.html")]
struct ImportPage {
    layout: Layout,
    csrf_token: String,
    form: FormView,
    preview: Option<PreviewView>,
    /// The previewed file, carried by the confirm form.
    csv_text: String,
    /// After an import: what it did.
    result: Option<String>,
    max_rows: usize,
    max_mb: usize,
}

fn require_importer(signed: &Signed) -> Result<(), Error> {
    signed.scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "import direct opportunities")
}

fn action_text(action: RowAction) -> &'static str {
    match action {
        RowAction::Create => "New",
        RowAction::Unchanged => "Already imported",
        RowAction::Skipped => "Skipped",
        RowAction::Error => "Error",
    }
}

fn preview_view(preview: Preview) -> PreviewView {
    PreviewView {
        columns: preview
            .columns
            .iter()
            .filter_map(|c| c.field.map(|f| ColumnView { header: c.header.clone(), field: f.label().to_owned() }))
            .collect(),
        ignored: preview.columns.iter().filter(|c| c.field.is_none() && !c.header.is_empty()).map(|c| c.header.clone()).collect(),
        rows: preview
            .rows
            .into_iter()
            .map(|r| RowView {
                line: r.line,
                external_id: r.external_id.unwrap_or_default(),
                customer: r.customer_name.unwrap_or_default(),
                amount: match (r.amount_minor, &r.currency) {
                    (Some(minor), Some(code)) => crate::display::money(minor, code),
                    _ => String::new(),
                },
                close: r.expected_close_date.unwrap_or_default(),
                stage: r.stage.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                action: r.action.as_str(),
                action_text: action_text(r.action),
                note: r.note.unwrap_or_default(),
                errors: r.errors.into_iter().map(|e| format!("{}: {}", e.field.replace('_', " "), e.message)).collect(),
            })
            .collect(),
        create: preview.counts.create,
        unchanged: preview.counts.unchanged,
        skipped: preview.counts.skipped,
        error: preview.counts.error,
    }
}

async fn page(state: &AppState, signed: &Signed, form: FormView, preview: Option<Preview>, csv_text: String) -> ImportPage {
    ImportPage {
        layout: Layout::signed(state, signed, "Import direct opportunities", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        form,
        preview: preview.map(preview_view),
        csv_text,
        result: None,
        max_rows: imports::MAX_ROWS,
        max_mb: imports::MAX_BYTES / (1024 * 1024),
    }
}

/// `GET /console/deals/import`
async fn show(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    require_importer(&signed)?;
    let mut page = page(&state, &signed, FormView::new("import", FIELDS), None, String::new()).await;
    let count = |name: &str| query.optional(name).and_then(|v| v.parse::<usize>().ok());
    if let Some(created) = count("created") {
        page.result = Some(format!(
            "Imported: {created} new direct opportunities; {} already imported and left as they are; {} closed in the CRM and skipped.",
            count("unchanged").unwrap_or(0),
            count("skipped").unwrap_or(0)
        ));
    }
    Ok(render(&page))
}

/// The form shown again with its errors (422), with the file's preview when it has one.
async fn failed(
    state: &AppState,
    signed: &Signed,
    fields: FormData,
    errors: Vec<FieldError>,
    preview: Option<Preview>,
    csv_text: String,
) -> PageResult {
    // A row's error names its line in its message; a column the mapping lacks names its field.
    let errors = errors
        .into_iter()
        .map(|e| match e.field.split_once('.') {
            Some(("csv", _)) => FieldError { field: String::new(), message: e.message },
            Some(("mapping", field)) => FieldError { field: String::new(), message: format!("{}: {}", field.replace('_', " "), e.message) },
            _ => e,
        })
        .collect();
    let form = FormView::failed("import", FIELDS, fields, errors);
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page(state, signed, form, preview, csv_text).await))
}

/// `POST /console/deals/import/preview` (multipart: a chosen file or pasted text): the preview.
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
    match imports::preview(&state.ctx, &signed.scope, &text, &Mapping::new()).await {
        Ok(preview) => Ok(render(&page(&state, &signed, FormView::new("import", FIELDS), Some(preview), text).await)),
        Err(err) => {
            let errors = field_errors(err, "csv")?;
            failed(&state, &signed, form.fields, errors, None, String::new()).await
        }
    }
}

/// `POST /console/deals/import`: imports the previewed text; a file with row errors is refused
/// whole and shown again.
async fn import(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    require_importer(&signed)?;
    let text = form.value("csv").to_owned();
    if text.trim().is_empty() {
        let errors = vec![FieldError { field: "file".into(), message: "choose a CSV file or paste its text, and preview it first".into() }];
        return failed(&state, &signed, form, errors, None, String::new()).await;
    }
    match imports::import(&state.ctx, &signed.scope, &text, &Mapping::new()).await {
        Ok(done) => Ok(see_other(&format!(
            "{PATH}?created={}&unchanged={}&skipped={}",
            done.counts.create, done.counts.unchanged, done.counts.skipped
        ))),
        Err(err) => {
            let errors = field_errors(err, "csv")?;
            let preview = imports::preview(&state.ctx, &signed.scope, &text, &Mapping::new()).await.ok();
            failed(&state, &signed, form, errors, preview, text).await
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route("/console/deals/import/preview", post(preview))
        .route(PATH, get(show).post(import))
        // A file of up to 5 MB: uploaded, then carried by the confirm form.
        .with_upload_limit()
}
