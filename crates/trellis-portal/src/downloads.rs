//! `GET /files/{id}`: a partner's file for a signed-in browser (console and portal link here),
//! with the visibility rule of the API download: whoever can see the owning partner.

use axum::extract::{Path, State};
use trellis_core::FileId;
use trellis_records::files;
use trellis_web::AppState;
use trellis_web::downloads::{attachment_header, file_response};

use crate::pages::{PageResult, path_id};
use crate::routes::{PageRouter, get};
use crate::session::Signed;

async fn download(State(state): State<AppState>, signed: Signed, Path(id): Path<String>) -> PageResult {
    let id: FileId = path_id(&id)?;
    let (file, bytes) = files::download(&state.ctx, &signed.scope, &state.web.data_dir, &id).await?;
    Ok(file_response(&file, bytes, attachment_header(&file.filename)))
}

/// A CSV export made for the signed-in person (a filtered list): a UTF-8 attachment, private to
/// them, never cached by shared caches.
pub(crate) fn csv_file(filename: &str, body: String) -> axum::response::Response {
    private_attachment(filename, "text/csv; charset=utf-8", body)
}

/// A file made for the signed-in person (an export): an attachment of `content_type`, private to
/// them, never cached by shared caches.
pub(crate) fn private_attachment(filename: &str, content_type: &'static str, body: String) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_DISPOSITION, attachment_header(filename));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    response
}

pub fn routes() -> PageRouter {
    PageRouter::new().route("/files/{id}", get(download))
}
