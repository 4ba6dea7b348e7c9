//! How a stored file (a logo, a contract or licence document) is answered, the same by the API
//! (`GET /api/v1/files/{id}`) and the pages (`/files/{id}`, the locator's logos).

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use trellis_records::files::StoredFile;

/// `Content-Disposition: attachment` with an ASCII fallback name and the UTF-8 name (RFC 6266).
pub fn attachment_header(filename: &str) -> HeaderValue {
    let ascii: String =
        filename.chars().map(|c| if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' { c } else { '_' }).collect();
    let encoded: String = filename
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// A stored file as a download: its type, `attachment`, never cached by shared caches, never sniffed.
pub fn file_response(file: &StoredFile, bytes: Vec<u8>, disposition: HeaderValue) -> Response {
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&file.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    response
}
