//! `GET /files/{id}`: a partner's file for a signed-in browser (console and portal link here),
//! with the visibility rule of the API download: whoever can see the owning partner.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use trellis_api::AppState;
use trellis_api::handlers::files::{attachment_header, file_response};
use trellis_core::FileId;
use trellis_records::files;

use crate::pages::{PageResult, path_id};
use crate::session::Signed;

async fn download(State(state): State<AppState>, signed: Signed, Path(id): Path<String>) -> PageResult {
    let id: FileId = path_id(&id)?;
    let (file, bytes) = files::download(&state.ctx, &signed.scope, &state.web.data_dir, &id).await?;
    Ok(file_response(&file, bytes, attachment_header(&file.filename)))
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/files/{id}", get(download))
}
