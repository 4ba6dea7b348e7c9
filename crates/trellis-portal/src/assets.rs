//! Static assets compiled into the binary (`include_bytes!`: no files needed at run time, no CDN).
//! URLs carry a content hash so they can be cached for a year.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::routes::{PageRouter, get};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset { name: "app.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("../static/app.css") },
    Asset { name: "app.js", content_type: "text/javascript; charset=utf-8", bytes: include_bytes!("../static/app.js") },
];

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// `/static/{name}?v={hash}` for templates.
pub fn asset_url(name: &str) -> String {
    static VERSIONS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    let versions = VERSIONS.get_or_init(|| ASSETS.iter().map(|a| (a.name, format!("{:x}", fnv1a(a.bytes) & 0xffff_ffff))).collect());
    let version = versions.iter().find(|(n, _)| *n == name).map_or("0", |(_, v)| v.as_str());
    format!("/static/{name}?v={version}")
}

async fn serve_asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
            ],
            asset.bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new().route("/static/{name}", get(serve_asset))
}
