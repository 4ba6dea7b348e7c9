//! A workspace's branding on its public pages, served without inline styles (the CSP forbids
//! them): `GET /brand/{workspace_id}/style.css`, a tiny stylesheet setting the accent colour,
//! generated from the validated colour, and `GET /brand/{workspace_id}/logo`, the logo's
//! re-encoded pixels. Both are public (nobody is signed in on the pages that link them) and
//! their URLs carry a version (`?v=`: the colour, the logo's hash), so they can be cached.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use trellis_core::{Error, WorkspaceId};
use trellis_identity::workspaces::{self, BrandLogo};
use trellis_web::AppState;

use crate::pages::{PageResult, path_id};
use crate::routes::{PageRouter, get};

/// The stylesheet URL of a workspace with an accent colour.
pub fn stylesheet_url(workspace_id: &WorkspaceId, colour: &str) -> String {
    format!("/brand/{workspace_id}/style.css?v={}", colour.trim_start_matches('#'))
}

/// The logo URL of a workspace with a logo.
pub fn logo_url(workspace_id: &WorkspaceId, logo: &BrandLogo) -> String {
    format!("/brand/{workspace_id}/logo?v={}", logo.version())
}

/// The stylesheet of an accent colour: the colour of buttons and links, and a band of it atop
/// the header. The stored colour is checked again, so nothing but `#rrggbb` is ever written.
pub fn stylesheet(colour: Option<&str>) -> String {
    match colour.and_then(|c| workspaces::parse_brand_colour(c).ok()) {
        Some(colour) => format!(
            "/* The workspace's accent colour (its branding settings). */\n:root {{ --accent: {colour}; --accent-fg: #fff; }}\n.top {{ border-top: 4px solid {colour}; }}\n"
        ),
        None => "/* No accent colour is set: Trellis's own applies. */\n".to_owned(),
    }
}

/// `GET /brand/{workspace_id}/style.css`
async fn style(State(state): State<AppState>, Path(workspace_id): Path<String>) -> PageResult {
    let workspace_id: WorkspaceId = path_id(&workspace_id)?;
    let brand = workspaces::public_brand(&state.ctx, &workspace_id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            // Versioned by the colour in the URL; a day bounds what an unversioned link keeps.
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ],
        stylesheet(brand.colour.as_deref()),
    )
        .into_response())
}

/// `GET /brand/{workspace_id}/logo`
async fn logo(State(state): State<AppState>, Path(workspace_id): Path<String>) -> PageResult {
    let workspace_id: WorkspaceId = path_id(&workspace_id)?;
    let (logo, bytes) = trellis_records::branding::public_logo(&state.ctx, &state.web.data_dir, &workspace_id).await?;
    let content_type = HeaderValue::from_str(&logo.content_type).map_err(|_| Error::Internal("stored logo type".into()))?;
    let response: Response = (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, HeaderValue::from_static("inline")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
        ],
        bytes,
    )
        .into_response();
    Ok(response)
}

pub fn routes() -> PageRouter {
    PageRouter::new().route("/brand/{workspace_id}/style.css", get(style)).route("/brand/{workspace_id}/logo", get(logo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stylesheet_holds_only_a_checked_colour() {
        assert!(stylesheet(Some("#1f6f5c")).contains("--accent: #1f6f5c;"));
        assert!(!stylesheet(Some("#ffff00")).contains("--accent"), "too light");
        assert!(!stylesheet(Some("red; } body { display: none")).contains("display"));
        assert!(!stylesheet(None).contains("--accent"));
    }
}
