//! Uploading and downloading partner files (logos, contract and licence documents).

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use trellis_core::{FieldError, FileId, PartnerId};
use trellis_records::files::{self, FilePurpose, Upload};
use trellis_web::AppState;
use trellis_web::downloads::{attachment_header, file_response};
use trellis_web::limits::MAX_UPLOAD_BODY_BYTES;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, path_id};
use crate::views::FileView;

/// The multipart form of an upload.
#[derive(ToSchema)]
pub struct UploadForm {
    /// logo (PNG or JPEG, at most 1 MiB), contract or licence (PDF, PNG or JPEG, at most 10 MiB).
    pub purpose: String,
    /// The file; its filename and Content-Type are taken from the part. The type is checked
    /// against the content.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

fn multipart_error(err: &MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large()
    } else {
        ApiError::malformed(format!("the multipart body could not be read: {}", err.body_text()))
    }
}

/// The parts of a multipart upload.
struct Parts {
    purpose: Option<String>,
    /// Its filename, declared type and bytes.
    file: Option<(String, Option<String>, Vec<u8>)>,
    /// The names of the other parts, unchecked.
    unknown: Vec<String>,
}

/// The parts of a multipart upload: the `purpose` field, if sent, and the `file` part (its
/// filename, declared type and bytes), text checked like any other input, and the names of any
/// other part.
async fn read_parts(mut multipart: Multipart) -> ApiResult<Parts> {
    let mut purpose = None;
    let mut file = None;
    let mut unknown = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| multipart_error(&e))? {
        match field.name() {
            Some("purpose") => purpose = Some(field.text().await.map_err(|e| multipart_error(&e))?),
            Some("file") => {
                let filename = field.file_name().unwrap_or("").to_owned();
                let declared_type = field.content_type().map(str::to_owned);
                let bytes = field.bytes().await.map_err(|e| multipart_error(&e))?;
                file = Some((filename, declared_type, bytes.to_vec()));
            }
            // Like an unknown JSON field: refused, never ignored (the document lists the parts).
            // The name is checked for control characters below before it is echoed.
            other => unknown.push(other.unwrap_or("").to_owned()),
        }
    }
    // The text of the form, like any other text input: no control characters.
    let mut texts = vec![("purpose", purpose.as_deref().unwrap_or(""))];
    if let Some((filename, declared_type, _)) = &file {
        texts.push(("file.filename", filename));
        texts.push(("file.content_type", declared_type.as_deref().unwrap_or("")));
    }
    let refused = trellis_web::input::check_pairs(texts);
    if !refused.is_empty() {
        return Err(ApiError::validation(refused));
    }
    Ok(Parts { purpose, file, unknown })
}

fn file_required() -> FieldError {
    FieldError { field: "file".into(), message: "a file part is required".into() }
}

/// Reads a multipart upload: the `purpose` field and the `file` part.
pub(crate) async fn read_upload(multipart: Multipart) -> ApiResult<Upload> {
    let Parts { purpose, file, unknown } = read_parts(multipart).await?;
    let mut errors = unknown_parts(unknown, "purpose, file");
    let purpose = match purpose.as_deref().map(str::trim) {
        Some(text) => FilePurpose::parse(text),
        None => None,
    };
    if purpose.is_none() {
        errors.push(FieldError { field: "purpose".into(), message: "must be \"logo\", \"contract\" or \"licence\"".into() });
    }
    if file.is_none() {
        errors.push(file_required());
    }
    match (purpose, file) {
        (Some(purpose), Some((filename, declared_type, bytes))) if errors.is_empty() => {
            Ok(Upload { purpose, filename, declared_type, bytes })
        }
        _ => Err(ApiError::validation(errors)),
    }
}

/// Reads a multipart upload of a logo: its `file` part; any other part is refused, as in
/// [`read_upload`].
pub(crate) async fn read_logo(multipart: Multipart) -> ApiResult<Upload> {
    let Parts { purpose, file, mut unknown } = read_parts(multipart).await?;
    if purpose.is_some() {
        unknown.push("purpose".to_owned());
    }
    let mut errors = unknown_parts(unknown, "file");
    match file {
        Some((filename, declared_type, bytes)) if errors.is_empty() => {
            Ok(Upload { purpose: FilePurpose::Logo, filename, declared_type, bytes })
        }
        Some(_) => Err(ApiError::validation(errors)),
        None => {
            errors.push(file_required());
            Err(ApiError::validation(errors))
        }
    }
}

/// A field error per part an upload does not take, named by the part when its name is fit to echo.
fn unknown_parts(unknown: Vec<String>, parts: &str) -> Vec<FieldError> {
    unknown
        .into_iter()
        .map(|name| {
            let field = if trellis_core::text::check_text("field", &name).is_ok() { name } else { "field".to_owned() };
            FieldError { field, message: format!("is not a part of this upload ({parts})") }
        })
        .collect()
}

/// Upload a file for a partner (multipart/form-data: `purpose`, `file`). Logos: the partner's
/// profile editors; licence documents: its admins; contract documents: the vendor's partner
/// managers. The answer's `id` is what `logo_file_id` and `file_id` fields take.
#[utoipa::path(post, path = "/api/v1/partners/{id}/files", tag = "files", params(("id" = String, Path)),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = FileView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn upload_partner_file(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<FileView>)> {
    let partner_id: PartnerId = path_id(&id)?;
    let multipart = multipart.map_err(|_| ApiError::malformed("send the file as multipart/form-data with the fields purpose and file"))?;
    let upload = read_upload(multipart).await?;
    let stored = files::store(&state.ctx, &scope, &state.web.data_dir, &partner_id, upload).await?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// Download a file (anyone who can see the partner it belongs to; 404 otherwise).
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "files", params(("id" = String, Path)),
    responses((status = 200, description = "The file's bytes, as an attachment", content_type = "application/octet-stream"), (status = 404, body = Problem)))]
pub async fn download_file(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let id: FileId = path_id(&id)?;
    let (file, bytes) = files::download(&state.ctx, &scope, &state.web.data_dir, &id).await?;
    Ok(file_response(&file, bytes, attachment_header(&file.filename)))
}

/// The file routes; uploads may be larger than the JSON body limit.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_partner_file))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY_BYTES))
        .routes(routes!(download_file))
}
