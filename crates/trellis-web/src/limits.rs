//! How large a request body may be. The server applies [`MAX_BODY_BYTES`] to every route; the
//! routes that take file uploads (API and pages) raise theirs to [`MAX_UPLOAD_BODY_BYTES`].

/// Largest request body of anything but an upload (JSON documents and forms are small).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Largest request body of a file upload: the largest document and room for the multipart
/// envelope. Routes that take uploads raise their body limit to this; everything else keeps
/// [`MAX_BODY_BYTES`].
pub const MAX_UPLOAD_BODY_BYTES: usize = trellis_records::files::MAX_DOCUMENT_BYTES + 64 * 1024;
