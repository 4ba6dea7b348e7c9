//! Imports of the vendor's direct opportunities from a CRM export (API.md "Importing direct
//! opportunities"): one operation, previewed with `dry_run`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use trellis_core::FieldError;
use trellis_deals::imports::{self, Preview};
use trellis_web::AppState;
use trellis_web::limits::MAX_UPLOAD_BODY_BYTES;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, Caller};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportDealsRequest {
    /// The CSV file, header line first (at most 5,000 rows and 5 MB; comma, semicolon or tab).
    pub csv: String,
    /// `{field: "their header"}` for columns the recognised headers do not find; fields:
    /// external_id, customer_name, customer_domain, amount, currency, expected_close_date, stage,
    /// country, description.
    pub mapping: Option<BTreeMap<String, String>>,
    /// `true`: answer what the import would do (200) and write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ImportColumnView {
    pub header: String,
    /// The field the column fills; null: ignored.
    pub field: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportRowErrorView {
    pub field: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct ImportRowView {
    /// The line of the file where the row starts (the header is line 1).
    pub line: u64,
    pub external_id: Option<String>,
    pub customer_name: Option<String>,
    pub customer_domain: Option<String>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub expected_close_date: Option<String>,
    pub stage: Option<String>,
    pub country: Option<String>,
    /// create, unchanged (a deal has the external id), skipped (closed in the CRM) or error.
    pub action: String,
    /// The deal that already has the external id.
    pub deal_id: Option<String>,
    pub note: Option<String>,
    pub errors: Vec<ImportRowErrorView>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportCountsView {
    pub create: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub error: usize,
}

/// What an import of the file would do.
#[derive(Serialize, ToSchema)]
pub struct ImportPreviewView {
    pub columns: Vec<ImportColumnView>,
    pub rows: Vec<ImportRowView>,
    pub counts: ImportCountsView,
}

/// What the import did.
#[derive(Serialize, ToSchema)]
pub struct ImportedDealsView {
    pub created: usize,
    pub unchanged: usize,
    pub skipped: usize,
    /// The deals created, in the file's order.
    pub deals: Vec<String>,
}

fn errors_view(errors: Vec<FieldError>) -> Vec<ImportRowErrorView> {
    errors.into_iter().map(|e| ImportRowErrorView { field: e.field, message: e.message }).collect()
}

impl From<Preview> for ImportPreviewView {
    fn from(p: Preview) -> Self {
        Self {
            columns: p
                .columns
                .into_iter()
                .map(|c| ImportColumnView { header: c.header, field: c.field.map(|f| f.as_str().to_owned()) })
                .collect(),
            rows: p
                .rows
                .into_iter()
                .map(|r| ImportRowView {
                    line: r.line,
                    external_id: r.external_id,
                    customer_name: r.customer_name,
                    customer_domain: r.customer_domain,
                    amount_minor: r.amount_minor,
                    currency: r.currency,
                    expected_close_date: r.expected_close_date,
                    stage: r.stage.map(|s| s.as_str().to_owned()),
                    country: r.country,
                    action: r.action.as_str().to_owned(),
                    deal_id: r.deal_id.map(|id| id.to_string()),
                    note: r.note,
                    errors: errors_view(r.errors),
                })
                .collect(),
            counts: ImportCountsView {
                create: p.counts.create,
                unchanged: p.counts.unchanged,
                skipped: p.counts.skipped,
                error: p.counts.error,
            },
        }
    }
}

/// Import direct opportunities from a CSV export (owner/admin/channel_manager): `dry_run` previews
/// (200, nothing written); otherwise 201, or 422 with the row errors and nothing written.
#[utoipa::path(post, path = "/api/v1/deals/import", tag = "deals", request_body = ImportDealsRequest,
    responses((status = 200, body = ImportPreviewView), (status = 201, body = ImportedDealsView), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn import_deals(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<ImportDealsRequest>,
) -> ApiResult<Response> {
    let mapping = body.mapping.unwrap_or_default();
    if body.dry_run {
        let preview = imports::preview(&state.ctx, &scope, &body.csv, &mapping).await?;
        return Ok(Json(ImportPreviewView::from(preview)).into_response());
    }
    let imported = imports::import(&state.ctx, &scope, &body.csv, &mapping).await?;
    let view = ImportedDealsView {
        created: imported.counts.create,
        unchanged: imported.counts.unchanged,
        skipped: imported.counts.skipped,
        deals: imported.created.iter().map(ToString::to_string).collect(),
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The import's route, with the body limit of an upload (a file of up to 5 MB, as JSON).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_deals)).layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY_BYTES))
}
