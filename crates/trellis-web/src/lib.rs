//! What the REST API (`trellis-api`) and the pages (`trellis-portal`) share, so that neither
//! depends on the other (ADR 0010): the state every handler receives, where a request came from,
//! the body limits, the text checks every input passes, the problem documents, and how a stored
//! file is sent. No handler and no route lives here.

pub mod client_address;
pub mod downloads;
pub mod input;
pub mod limits;
pub mod meta;
pub mod problem;

use std::sync::Arc;

use trellis_identity::Ctx;

/// Settings of the web layer.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The address users reach Trellis at, e.g. `https://partners.example.com`; invitation links
    /// are built from it and `https` turns on `Secure` cookies with the `__Host-` prefix.
    pub public_url: String,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted reverse proxy).
    pub trust_forwarded_for: bool,
    /// With `trust_forwarded_for`, which entries of `X-Forwarded-For` were written by our own
    /// proxies (counted from the right; [`client_address`]).
    pub trusted_proxies: client_address::TrustedProxies,
    /// Where uploaded files are kept (`<data_dir>/files/<sha256>`). A web setting rather than part
    /// of `Ctx`: only requests that upload or download files touch it, and the domain functions
    /// that do take it as an argument.
    pub data_dir: std::path::PathBuf,
    /// How long a claim on an `Idempotency-Key` holds before a retry may take it over (the
    /// request that claimed it died); see `trellis_api::middleware::idempotency`.
    pub idempotency_lease_seconds: i64,
    /// Whether emails leave (an SMTP server is configured). Without one they wait in the console's
    /// outbox, and pages say so instead of "it was emailed".
    pub emails_delivered: bool,
}

impl WebConfig {
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// Shared state of every handler (API and pages).
#[derive(Clone)]
pub struct AppState {
    pub ctx: Ctx,
    pub web: Arc<WebConfig>,
}
