//! The workspace's branding on its public pages: the logo. (The accent colour is a plain setting,
//! `identity::workspaces`.) A logo goes through the checks of a partner logo (`files`: at most
//! 1 MiB, PNG or JPEG by its bytes — no SVG, which could carry script —, decoded under limits and
//! re-encoded so only pixels are served) and is stored content-addressed under the data
//! directory like every file; the workspace row names it by its hash. It belongs to no partner,
//! so it has no `files` row.

use std::path::Path;

use sha2::{Digest, Sha256};
use trellis_core::{Error, Result, WorkspaceId};
use trellis_identity::workspaces::{self, BrandLogo, Workspace, WorkspacePatch};
use trellis_identity::{Ctx, Scope};

use crate::files::{self, FilePurpose, Upload};

/// Replaces the workspace's logo (owner/admin): 403 for anyone else before the file is looked
/// at, 422 on `file` for a file that fails the checks (nothing changes).
pub async fn store_logo(ctx: &Ctx, scope: &Scope, data_dir: &Path, upload: Upload) -> Result<Workspace> {
    scope.require_workspace_admin("change the workspace's branding")?;
    let upload = Upload { purpose: FilePurpose::Logo, ..upload };
    let (kind, _) = files::check(&upload)?;
    let bytes = files::reencoded_logo(upload.bytes, kind).await?;
    let sha256 = trellis_identity::secret::hex(&Sha256::digest(&bytes));
    files::write_blob(data_dir, &sha256, bytes).await?;
    let logo = BrandLogo { sha256, content_type: kind.content_type().to_owned() };
    workspaces::update(ctx, scope, WorkspacePatch { brand_logo: Some(Some(logo)), ..WorkspacePatch::default() }).await
}

/// Removes the workspace's logo (owner/admin); its blob stays with the other files.
pub async fn remove_logo(ctx: &Ctx, scope: &Scope) -> Result<Workspace> {
    workspaces::update(ctx, scope, WorkspacePatch { brand_logo: Some(None), ..WorkspacePatch::default() }).await
}

/// The current logo of a workspace and its bytes, for its public pages; 404 without one.
pub async fn public_logo(ctx: &Ctx, data_dir: &Path, workspace_id: &WorkspaceId) -> Result<(BrandLogo, Vec<u8>)> {
    let logo = workspaces::public_brand(ctx, workspace_id).await?.logo.ok_or(Error::NotFound)?;
    let bytes = files::read_blob(data_dir, &logo.sha256).await?;
    Ok((logo, bytes))
}
