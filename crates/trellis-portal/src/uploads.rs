//! Forms that carry a file (`enctype="multipart/form-data"`): their text fields as [`FormData`]
//! (so CSRF checks and form views work as for any form) and at most one file.

use axum::extract::multipart::Multipart;
use axum::extract::{FromRequest, Request};
use axum::response::Response;
use trellis_core::Error;
use trellis_records::files::{FilePurpose, MAX_DOCUMENT_BYTES, Upload};

use crate::forms::FormData;
use crate::pages::error_page;

/// A file chosen in a form.
pub struct ChosenFile {
    pub filename: String,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl ChosenFile {
    pub fn into_upload(self, purpose: FilePurpose) -> Upload {
        Upload { purpose, filename: self.filename, declared_type: self.content_type, bytes: self.bytes }
    }
}

/// A submitted multipart form: its text fields and the file of its `file` input, if one was chosen.
pub struct UploadForm {
    pub fields: FormData,
    pub file: Option<ChosenFile>,
}

fn unreadable(too_large: bool) -> Response {
    if too_large {
        error_page(Error::invalid("file", format!("must be at most {} MiB", MAX_DOCUMENT_BYTES / (1024 * 1024))))
    } else {
        error_page(Error::invalid("form", "could not be read; reload the page and try again"))
    }
}

impl<S: Send + Sync> FromRequest<S> for UploadForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mut multipart = Multipart::from_request(req, state).await.map_err(|_| unreadable(false))?;
        let mut pairs = Vec::new();
        let mut file = None;
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(err) => return Err(unreadable(err.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE)),
            };
            let name = field.name().unwrap_or("").to_owned();
            if name == "file" {
                let filename = field.file_name().unwrap_or("").to_owned();
                let content_type = field.content_type().map(str::to_owned);
                let bytes = field.bytes().await.map_err(|e| unreadable(e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE))?;
                // A file input left empty still sends a part, without a name or bytes.
                if !(filename.is_empty() && bytes.is_empty()) {
                    file = Some(ChosenFile { filename, content_type, bytes: bytes.to_vec() });
                }
            } else {
                let value = field.text().await.map_err(|_| unreadable(false))?;
                pairs.push((name, value));
            }
        }
        let fields = FormData::from_pairs(pairs);
        fields.check_text()?;
        if let Some(file) = &file {
            let refused = trellis_web::input::check_pairs([
                ("file.filename", file.filename.as_str()),
                ("file.content_type", file.content_type.as_deref().unwrap_or("")),
            ]);
            if !refused.is_empty() {
                return Err(error_page(Error::Validation(refused)));
            }
        }
        Ok(Self { fields, file })
    }
}
