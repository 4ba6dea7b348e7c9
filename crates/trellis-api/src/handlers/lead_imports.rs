//! Imports of leads from a CSV file (docs/API.md "Leads": importing): one operation, previewed
//! with `dry_run`.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use trellis_core::ProgramId;
use trellis_leads::imports::{self, Preview};
use trellis_web::AppState;
use trellis_web::limits::MAX_UPLOAD_BODY_BYTES;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, Caller};
use crate::handlers::deal_imports::{ImportColumnView, ImportRowErrorView};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportLeadsRequest {
    /// The CSV file, header line first (at most 5,000 rows and 5 MB; comma, semicolon or tab).
    pub csv: String,
    /// The program whose partners are the leads' candidates (any program that takes deals when
    /// left out); its currency reads the values.
    #[schema(value_type = Option<String>)]
    pub program_id: Option<ProgramId>,
    /// `true`: answer what the import would do (200) and write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Serialize, ToSchema)]
pub struct LeadImportRowView {
    /// The line of the file where the row starts (the header is line 1).
    pub line: u64,
    pub external_id: String,
    pub company_name: String,
    /// ISO 3166-1 alpha-2 (empty when the row's country was not understood).
    pub country: String,
    /// create, unchanged (a lead has the external id) or error.
    pub action: String,
    /// The lead that already has the external id.
    pub lead_id: Option<String>,
    pub errors: Vec<ImportRowErrorView>,
}

#[derive(Serialize, ToSchema)]
pub struct LeadImportCountsView {
    pub create: usize,
    pub unchanged: usize,
    pub error: usize,
}

/// What an import of the file would do.
#[derive(Serialize, ToSchema)]
pub struct LeadImportPreviewView {
    pub columns: Vec<ImportColumnView>,
    pub rows: Vec<LeadImportRowView>,
    pub counts: LeadImportCountsView,
}

/// What the import did.
#[derive(Serialize, ToSchema)]
pub struct ImportedLeadsView {
    pub created: usize,
    pub unchanged: usize,
    /// The leads created, in the file's order.
    pub leads: Vec<String>,
}

impl From<Preview> for LeadImportPreviewView {
    fn from(p: Preview) -> Self {
        Self {
            columns: p.columns.into_iter().map(|c| ImportColumnView { header: c.header, field: c.field.map(str::to_owned) }).collect(),
            rows: p
                .rows
                .into_iter()
                .map(|r| LeadImportRowView {
                    line: r.line,
                    external_id: r.external_id,
                    company_name: r.company_name,
                    country: r.country,
                    action: r.action.as_str().to_owned(),
                    lead_id: r.lead_id.map(|id| id.to_string()),
                    errors: r.errors.into_iter().map(|e| ImportRowErrorView { field: e.field, message: e.message }).collect(),
                })
                .collect(),
            counts: LeadImportCountsView { create: p.counts.create, unchanged: p.counts.unchanged, error: p.counts.error },
        }
    }
}

/// Import leads from a CSV file (owner/admin/channel_manager): `dry_run` previews (200, nothing
/// written); otherwise 201, or 422 with the row errors and nothing written. Idempotent by the
/// external id: a row whose id a lead carries is left as it is.
#[utoipa::path(post, path = "/api/v1/leads/import", tag = "leads", request_body = ImportLeadsRequest,
    responses((status = 200, body = LeadImportPreviewView), (status = 201, body = ImportedLeadsView), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn import_leads(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<ImportLeadsRequest>,
) -> ApiResult<Response> {
    if body.dry_run {
        let preview = imports::preview(&state.ctx, &scope, &body.csv, body.program_id.as_ref()).await?;
        return Ok(Json(LeadImportPreviewView::from(preview)).into_response());
    }
    let imported = imports::import(&state.ctx, &scope, &body.csv, body.program_id.as_ref()).await?;
    let view = ImportedLeadsView {
        created: imported.counts.create,
        unchanged: imported.counts.unchanged,
        leads: imported.created.iter().map(ToString::to_string).collect(),
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The import's route, with the body limit of an upload (a file of up to 5 MB, as JSON).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_leads)).layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY_BYTES))
}
