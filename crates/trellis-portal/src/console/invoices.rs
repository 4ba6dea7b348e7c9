//! `/console/invoices/paid`: paid invoices from a billing system that cannot call the API, as a
//! CSV file (`invoice_id`, optionally `paid_at`). The file is previewed first (nothing written):
//! every row with what it does — pays the invoice, already paid, or refused with its reason and
//! line; the confirm button then pays the rows that pay, in one transaction
//! (`conversions::paid_invoices_csv` with `apply`); its form carries the previewed text. Uploading
//! the same file again changes nothing: paid rows stay paid. Owners, admins and finance; 403 to
//! other staff, as the service.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use trellis_core::{Error, FieldError};
use trellis_incentives::commissions::MONEY_WRITERS;
use trellis_incentives::conversions::{self, MAX_PAID_ROWS, PaidRowOutcome, PaidUpload};
use trellis_web::AppState;

use super::commissions::SECTION;
use crate::display;
use crate::forms::{FormData, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::pages::{Layout, PageResult, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;
use crate::uploads::UploadForm;

const PATH: &str = "/console/invoices/paid";
const FIELDS: &[&str] = &["file", "csv"];

struct RowView {
    line: usize,
    invoice_id: String,
    paid_at: String,
    outcome: &'static str,
    outcome_text: &'static str,
    reason: String,
}

struct PreviewView {
    rows: Vec<RowView>,
    paying: usize,
    already_paid: usize,
    refused: usize,
}

fn preview_view(upload: PaidUpload) -> PreviewView {
    PreviewView {
        rows: upload
            .rows
            .into_iter()
            .map(|r| {
                let (outcome, outcome_text, reason) = match r.outcome {
                    PaidRowOutcome::Pays => ("pays", "Pays", String::new()),
                    PaidRowOutcome::AlreadyPaid => ("already", "Already paid", String::new()),
                    PaidRowOutcome::Refused(reason) => ("refused", "Refused", reason),
                };
                RowView {
                    line: r.line,
                    invoice_id: r.invoice_id,
                    paid_at: r.paid_at.map(display::time).unwrap_or_else(|| "now".to_owned()),
                    outcome,
                    outcome_text,
                    reason,
                }
            })
            .collect(),
        paying: upload.paying,
        already_paid: upload.already_paid,
        refused: upload.refused,
    }
}

#[derive(Template)]
#[template(path = "console/invoices_paid.html")]
struct InvoicesPage {
    layout: Layout,
    csrf_token: String,
    form: FormView,
    preview: Option<PreviewView>,
    /// The previewed file, carried by the confirm form.
    csv_text: String,
    /// After a confirm: what it did.
    result: Option<String>,
    max_rows: usize,
}

fn require_writer(signed: &Signed) -> Result<(), Error> {
    if signed.scope.partner().is_some() {
        return Err(Error::NotFound);
    }
    signed.scope.require_vendor_role(MONEY_WRITERS, "mark invoices paid")
}

async fn page(state: &AppState, signed: &Signed, form: FormView, preview: Option<PaidUpload>, csv_text: String) -> InvoicesPage {
    InvoicesPage {
        layout: Layout::signed(state, signed, "Paid invoices", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        form,
        preview: preview.map(preview_view),
        csv_text,
        result: None,
        max_rows: MAX_PAID_ROWS,
    }
}

/// `GET /console/invoices/paid`
async fn show(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    require_writer(&signed)?;
    let mut page = page(&state, &signed, FormView::new("invoices", FIELDS), None, String::new()).await;
    let count = |name: &str| query.optional(name).and_then(|v| v.parse::<usize>().ok());
    if let Some(paid) = count("paid") {
        page.result = Some(format!(
            "Done: {paid} invoices marked paid; {} were paid already and left as they are; {} rows were refused and left out.",
            count("already").unwrap_or(0),
            count("refused").unwrap_or(0)
        ));
    }
    Ok(render(&page))
}

async fn failed(state: &AppState, signed: &Signed, fields: FormData, errors: Vec<FieldError>) -> PageResult {
    let form = FormView::failed("invoices", FIELDS, fields, errors);
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page(state, signed, form, None, String::new()).await))
}

/// `POST /console/invoices/paid/preview` (multipart: a chosen file or pasted text): the preview.
async fn preview(State(state): State<AppState>, StaffForm { signed, form }: StaffForm<UploadForm>) -> PageResult {
    require_writer(&signed)?;
    let text = match form.file {
        Some(file) => match String::from_utf8(file.bytes) {
            Ok(text) => text,
            Err(_) => {
                let errors = vec![FieldError { field: "file".into(), message: "must be a CSV file saved as UTF-8".into() }];
                return failed(&state, &signed, form.fields, errors).await;
            }
        },
        None => form.fields.value("csv").to_owned(),
    };
    if text.trim().is_empty() {
        let errors = vec![FieldError { field: "file".into(), message: "choose a CSV file or paste its text".into() }];
        return failed(&state, &signed, form.fields, errors).await;
    }
    match conversions::paid_invoices_csv(&state.ctx, &signed.scope, &text, false).await {
        Ok(upload) => Ok(render(&page(&state, &signed, FormView::new("invoices", FIELDS), Some(upload), text).await)),
        Err(err) => {
            let errors = field_errors(err, "file")?;
            failed(&state, &signed, form.fields, errors).await
        }
    }
}

/// `POST /console/invoices/paid`: pays the previewed rows that pay (the refused ones are left out).
async fn apply(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    require_writer(&signed)?;
    let text = form.value("csv").to_owned();
    if text.trim().is_empty() {
        let errors = vec![FieldError { field: "file".into(), message: "choose a CSV file or paste its text, and preview it first".into() }];
        return failed(&state, &signed, form, errors).await;
    }
    match conversions::paid_invoices_csv(&state.ctx, &signed.scope, &text, true).await {
        Ok(done) => Ok(see_other(&format!("{PATH}?paid={}&already={}&refused={}", done.paying, done.already_paid, done.refused))),
        Err(err) => {
            let errors = field_errors(err, "file")?;
            failed(&state, &signed, form, errors).await
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route("/console/invoices/paid/preview", post(preview))
        .route(PATH, get(show).post(apply))
        // A CSV file: uploaded, then carried by the confirm form.
        .with_upload_limit()
}
