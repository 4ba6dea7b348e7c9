//! Uploaded files: partner logos, contract documents and licence documents. The bytes are stored
//! content-addressed under `<data_dir>/files/<sha256>` (identical uploads share one blob); the
//! `files` row — partner-owned, visible through the scope like the partner — says whose they are.
//!
//! Uploads are checked before anything is stored: the size (1 MiB for a logo, 10 MiB for a
//! document), the type by its magic bytes (PDF, PNG, JPEG; a logo is an image), a declared type
//! that contradicts the content, and the filename (reduced to a safe base name with the right
//! extension). Logos are served publicly, so they are also decoded under limits
//! ([`MAX_LOGO_SIDE`], [`MAX_LOGO_DECODED_BYTES`]: a bomb is refused before it allocates) and
//! stored re-encoded in their format, so only pixels reach the locator — no truncated files,
//! metadata or bytes appended after the image. The blob is written before the row: a failed transaction leaves at most an
//! unreferenced blob, never a row without its bytes.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use trellis_core::{Error, FileId, PartnerId, Result, Timestamp, Validation};
use trellis_db::{Row, Sql, Tx, sql};
use trellis_directory::events::{self, PartnerEventKind};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::partner_users::require_visible_partner;
use trellis_identity::secret::hex;
use trellis_identity::{Actor, Ctx, Scope, ScopedTx};

use crate::access;

/// Largest logo.
pub const MAX_LOGO_BYTES: usize = 1024 * 1024;
/// Widest and tallest logo, in pixels.
pub const MAX_LOGO_SIDE: u32 = 4096;
/// Most memory decoding a logo may take (a 4096 × 4096 RGBA image with 8 bits a channel).
pub const MAX_LOGO_DECODED_BYTES: u64 = 64 * 1024 * 1024;
/// Largest contract or licence document.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// What a file is for; it decides the size limit, the allowed types and who may upload it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilePurpose {
    Logo,
    Contract,
    Licence,
}

impl FilePurpose {
    pub const ALL: &'static [FilePurpose] = &[FilePurpose::Logo, FilePurpose::Contract, FilePurpose::Licence];

    pub fn as_str(self) -> &'static str {
        match self {
            FilePurpose::Logo => "logo",
            FilePurpose::Contract => "contract",
            FilePurpose::Licence => "licence",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str() == text)
    }

    pub fn max_bytes(self) -> usize {
        match self {
            FilePurpose::Logo => MAX_LOGO_BYTES,
            FilePurpose::Contract | FilePurpose::Licence => MAX_DOCUMENT_BYTES,
        }
    }

    fn allows(self, kind: FileKind) -> bool {
        match self {
            FilePurpose::Logo => matches!(kind, FileKind::Png | FileKind::Jpeg),
            FilePurpose::Contract | FilePurpose::Licence => true,
        }
    }

    fn allowed_text(self) -> &'static str {
        match self {
            FilePurpose::Logo => "must be a PNG or JPEG image",
            FilePurpose::Contract | FilePurpose::Licence => "must be a PDF, PNG or JPEG file",
        }
    }
}

/// The types Trellis accepts, recognised by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Png,
    Jpeg,
}

impl FileKind {
    /// The type of `bytes` by their magic number, whatever the upload claimed.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"%PDF-") {
            Some(FileKind::Pdf)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(FileKind::Png)
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            Some(FileKind::Jpeg)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            FileKind::Pdf => &["pdf"],
            FileKind::Png => &["png"],
            FileKind::Jpeg => &["jpg", "jpeg"],
        }
    }

    /// A declared content type agrees when it names this type or says nothing specific.
    fn agrees_with(self, declared: &str) -> bool {
        let declared = declared.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match declared.as_str() {
            "" | "application/octet-stream" | "binary/octet-stream" => true,
            "image/jpg" | "image/pjpeg" => self == FileKind::Jpeg,
            other => other == self.content_type(),
        }
    }
}

/// A file as received, before any check.
#[derive(Debug, Clone)]
pub struct Upload {
    pub purpose: FilePurpose,
    pub filename: String,
    /// The Content-Type the client sent for the part, if any.
    pub declared_type: Option<String>,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredFile {
    pub id: FileId,
    pub partner_id: PartnerId,
    pub purpose: FilePurpose,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_at: Timestamp,
}

impl serde::Serialize for FilePurpose {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Reduces a client's filename to a safe base name: no directories, no control or quoting
/// characters, no leading dots, at most 100 characters before an extension that matches the
/// content.
pub fn sanitise_filename(name: &str, kind: FileKind) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut cleaned = String::new();
    for c in base.chars() {
        let c = if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '(' | ')') {
            c
        } else if c.is_whitespace() {
            ' '
        } else {
            '_'
        };
        if !(c == ' ' && cleaned.ends_with(' ')) {
            cleaned.push(c);
        }
    }
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let lower = cleaned.to_lowercase();
    let extension = kind.extensions().iter().find(|e| lower.ends_with(&format!(".{e}")));
    let (stem, extension) = match extension {
        Some(e) => (&cleaned[..cleaned.len() - e.len() - 1], *e),
        None => (cleaned, kind.extensions()[0]),
    };
    let stem: String = stem.chars().take(100).collect();
    let stem = stem.trim();
    format!("{}.{extension}", if stem.is_empty() { "file" } else { stem })
}

/// Decodes a logo under the limits and encodes its pixels again in the same format; `None` for
/// anything that is not a whole image within them.
fn reencode_logo(bytes: &[u8], kind: FileKind) -> Option<Vec<u8>> {
    let format = match kind {
        FileKind::Png => image::ImageFormat::Png,
        FileKind::Jpeg => image::ImageFormat::Jpeg,
        FileKind::Pdf => return None,
    };
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes));
    reader.set_format(format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_LOGO_SIDE);
    limits.max_image_height = Some(MAX_LOGO_SIDE);
    limits.max_alloc = Some(MAX_LOGO_DECODED_BYTES);
    reader.limits(limits);
    let decoded = reader.decode().ok()?;
    let mut out = std::io::Cursor::new(Vec::new());
    let written = match kind {
        FileKind::Jpeg => decoded.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)),
        _ => decoded.write_to(&mut out, format),
    };
    written.ok().map(|()| out.into_inner())
}

/// A checked logo's pixels, decoded under the limits and encoded again (422 on `file` for
/// anything that is not a whole image within them).
pub(crate) async fn reencoded_logo(source: Vec<u8>, kind: FileKind) -> Result<Vec<u8>> {
    // Decoding is CPU work of up to a few hundred milliseconds: off the async threads.
    tokio::task::spawn_blocking(move || reencode_logo(&source, kind))
        .await
        .map_err(|e| Error::Internal(format!("logo decoder: {e}")))?
        .ok_or_else(|| {
            Error::invalid("file", format!("must be a whole PNG or JPEG image of at most {MAX_LOGO_SIDE} × {MAX_LOGO_SIDE} pixels"))
        })
}

/// Every problem of an upload at once, or its type and safe filename.
pub(crate) fn check(upload: &Upload) -> Result<(FileKind, String)> {
    let mut v = Validation::new();
    let kind = FileKind::sniff(&upload.bytes);
    if upload.bytes.is_empty() {
        v.add("file", "must not be empty");
    } else if upload.bytes.len() > upload.purpose.max_bytes() {
        v.add("file", format!("must be at most {} MiB", upload.purpose.max_bytes() / (1024 * 1024)));
    }
    match kind {
        Some(kind) if !upload.purpose.allows(kind) => v.add("file", upload.purpose.allowed_text()),
        Some(kind) if !upload.declared_type.as_deref().is_none_or(|d| kind.agrees_with(d)) => {
            v.add("file", "its content does not match its declared type")
        }
        Some(_) => {}
        None if !upload.bytes.is_empty() => v.add("file", upload.purpose.allowed_text()),
        None => {}
    }
    v.finish().map_err(Error::Validation)?;
    let kind = kind.ok_or_else(|| Error::Internal("checked".into()))?;
    Ok((kind, sanitise_filename(&upload.filename, kind)))
}

pub(crate) fn blob_path(data_dir: &Path, sha256: &str) -> PathBuf {
    data_dir.join("files").join(sha256)
}

/// Writes a blob unless it exists, through a temporary file and a rename (no half-written blob
/// is ever visible under its name).
pub(crate) async fn write_blob(data_dir: &Path, sha256: &str, bytes: Vec<u8>) -> Result<()> {
    let path = blob_path(data_dir, sha256);
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().ok_or_else(|| std::io::Error::other("blob path without a directory"))?;
        std::fs::create_dir_all(dir)?;
        let temporary = dir.join(format!(".upload-{}", trellis_core::new_id_body()));
        std::fs::write(&temporary, &bytes)?;
        std::fs::rename(&temporary, &path)
    })
    .await
    .map_err(|e| Error::Internal(format!("file writer: {e}")))?
    .map_err(|e| Error::Internal(format!("writing an uploaded file: {e}")))
}

pub(crate) async fn read_blob(data_dir: &Path, sha256: &str) -> Result<Vec<u8>> {
    let path = blob_path(data_dir, sha256);
    tokio::task::spawn_blocking(move || std::fs::read(&path))
        .await
        .map_err(|e| Error::Internal(format!("file reader: {e}")))?
        .map_err(|e| Error::Internal(format!("reading a stored file: {e}")))
}

const COLUMNS: &str = "id, partner_id, purpose, filename, content_type, size, sha256, uploaded_at";

fn from_row(row: &Row) -> Result<StoredFile> {
    let purpose: String = row.get("purpose")?;
    Ok(StoredFile {
        id: row.get("id")?,
        partner_id: row.get("partner_id")?,
        purpose: FilePurpose::parse(&purpose).ok_or_else(|| Error::Internal(format!("stored purpose {purpose}")))?,
        filename: row.get("filename")?,
        content_type: row.get("content_type")?,
        size: row.get("size")?,
        sha256: row.get("sha256")?,
        uploaded_at: row.get("uploaded_at")?,
    })
}

/// Who may upload a file of `purpose` for a visible partner.
async fn require_uploader(tx: &mut Tx, scope: &Scope, partner_id: &PartnerId, purpose: FilePurpose) -> Result<()> {
    match purpose {
        FilePurpose::Logo => access::require_profile_editor(tx, scope, partner_id).await,
        FilePurpose::Licence => access::require_licence_editor(scope, partner_id),
        FilePurpose::Contract => access::require_partner_manager(scope, "upload contract documents"),
    }
}

/// Stores an upload for a partner: 404 for an invisible partner, 403 for a caller who may not
/// upload this kind of file, 422 for a file that fails the checks.
pub async fn store(ctx: &Ctx, scope: &Scope, data_dir: &Path, partner_id: &PartnerId, upload: Upload) -> Result<StoredFile> {
    {
        let mut tx = scope.read(ctx).await?;
        require_visible_partner(&mut tx, scope, partner_id).await?;
        require_uploader(&mut tx, scope, partner_id, upload.purpose).await?;
    }
    let (kind, filename) = check(&upload)?;
    let bytes = match upload.purpose {
        FilePurpose::Logo => reencoded_logo(upload.bytes, kind).await?,
        FilePurpose::Contract | FilePurpose::Licence => upload.bytes,
    };
    let sha256 = hex(&Sha256::digest(&bytes));
    let size = bytes.len() as i64;
    write_blob(data_dir, &sha256, bytes).await?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    require_visible_partner(&mut tx, scope, partner_id).await?;
    let id = FileId::generate();
    let uploaded_by = match scope.actor() {
        Actor::User { id, .. } => Some(id.to_string()),
        Actor::ApiKey { id, .. } => Some(id.to_string()),
        Actor::System => None,
    };
    tx.execute(sql!(
        "INSERT INTO files (workspace_id, id, partner_id, purpose, filename, content_type, size, sha256, uploaded_by, uploaded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        scope.workspace_id(),
        id,
        partner_id,
        upload.purpose.as_str(),
        filename,
        kind.content_type(),
        size,
        sha256,
        uploaded_by,
        now
    ))
    .await?;
    let entry = AuditEntry::new("file.uploaded", "file", id.as_str())
        .set("partner_id", partner_id.as_str())
        .set("purpose", upload.purpose.as_str())
        .set("filename", filename.clone())
        .set("content_type", kind.content_type())
        .set("size", size)
        .set("sha256", sha256.clone());
    audit::record(&mut tx, scope, now, entry).await?;
    // A document (not a logo) ticks the "upload documents" onboarding step of every program.
    if upload.purpose != FilePurpose::Logo {
        events::raise(ctx, &mut tx, scope, partner_id, PartnerEventKind::DocumentUploaded, now).await?;
    }
    tx.commit().await?;
    Ok(StoredFile {
        id,
        partner_id: partner_id.clone(),
        purpose: upload.purpose,
        filename,
        content_type: kind.content_type().to_owned(),
        size,
        sha256,
        uploaded_at: now,
    })
}

/// A file's metadata through the scope's visibility rule (the owning partner must be visible).
pub async fn find_in(tx: &mut ScopedTx, scope: &Scope, id: &FileId) -> Result<StoredFile> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM files WHERE workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND id = ").push_bind(id).push(" AND ");
    tx.push_partner_filter(&mut q, "partner_id");
    from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

/// A file and its bytes, for a caller who can see the owning partner (404 otherwise).
pub async fn download(ctx: &Ctx, scope: &Scope, data_dir: &Path, id: &FileId) -> Result<(StoredFile, Vec<u8>)> {
    let file = {
        let mut tx = scope.read(ctx).await?;
        find_in(&mut tx, scope, id).await?
    };
    let bytes = read_blob(data_dir, &file.sha256).await?;
    Ok((file, bytes))
}

/// The bytes of a file already found visible (the public logo route).
pub(crate) async fn bytes_of(data_dir: &Path, file: &StoredFile) -> Result<Vec<u8>> {
    read_blob(data_dir, &file.sha256).await
}

/// 422 on `field` unless `file_id` is a file of `partner_id` uploaded for `purpose`.
pub(crate) async fn require_file_of(
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_id: &PartnerId,
    file_id: &FileId,
    purpose: FilePurpose,
    field: &str,
) -> Result<()> {
    match find_in(tx, scope, file_id).await {
        Ok(file) if &file.partner_id == partner_id && file.purpose == purpose => Ok(()),
        Ok(_) | Err(Error::NotFound) => {
            Err(Error::invalid(field, format!("must be a {} file uploaded for this partner", purpose.as_str())))
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(purpose: FilePurpose, bytes: &[u8], declared: Option<&str>) -> Upload {
        Upload { purpose, filename: "x".into(), declared_type: declared.map(str::to_owned), bytes: bytes.to_vec() }
    }

    #[test]
    fn filenames_lose_directories_and_odd_characters_and_get_the_right_extension() {
        assert_eq!(sanitise_filename("../../etc/passwd", FileKind::Pdf), "passwd.pdf");
        assert_eq!(sanitise_filename("C:\\Users\\ana\\Lizenz 2026.PDF", FileKind::Pdf), "Lizenz 2026.pdf");
        assert_eq!(sanitise_filename("\"evil\";\r\nname.png", FileKind::Png), "_evil__ name.png");
        assert_eq!(sanitise_filename("...", FileKind::Jpeg), "file.jpg");
        assert_eq!(sanitise_filename("logo.svg", FileKind::Png), "logo.svg.png");
        assert_eq!(sanitise_filename(&"a".repeat(300), FileKind::Pdf).len(), 104);
    }

    #[test]
    fn the_type_comes_from_the_bytes_and_a_contradicting_declaration_is_refused() {
        let pdf = b"%PDF-1.7\n";
        assert!(check(&upload(FilePurpose::Licence, pdf, Some("application/pdf"))).is_ok());
        assert!(check(&upload(FilePurpose::Licence, pdf, Some("application/octet-stream"))).is_ok());
        assert!(check(&upload(FilePurpose::Licence, pdf, Some("image/png"))).is_err());
        assert!(check(&upload(FilePurpose::Licence, b"<html>", Some("application/pdf"))).is_err());
        assert!(check(&upload(FilePurpose::Logo, pdf, None)).is_err(), "a logo is an image");
        assert!(check(&upload(FilePurpose::Logo, &[0xff, 0xd8, 0xff, 0xe0], Some("image/jpg"))).is_ok());
        let big = [b"\x89PNG\r\n\x1a\n".as_slice(), &vec![0; MAX_LOGO_BYTES]].concat();
        assert!(check(&upload(FilePurpose::Logo, &big, None)).is_err());
        assert!(check(&upload(FilePurpose::Licence, &big, None)).is_ok());
    }
}
