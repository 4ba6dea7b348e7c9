//! Referral tracking (issue 11): partners' referral links, the `/r/{code}` redirect served from
//! memory, clicks recorded in batches and attributed by a signed, self-describing click id.
//!
//! - [`destinations`]: where a link may send people (the workspace's allowed domains; no open
//!   redirect).
//! - [`click_ids`]: the signed click id a redirect hands out; a conversion is attributed by it the
//!   moment the redirect has answered, before its row exists.
//! - [`links`]: links as partners and staff create, list and disable them; per-link figures.
//! - [`redirects`]: the in-memory table of live links every server keeps (and follows other
//!   servers' changes of, within a second), and what one visit answers.
//! - [`recorder`]: the click writer — a bounded queue, one transaction per drained batch, the
//!   daily counts moved once per batch, flushed on a graceful shutdown.
//! - [`attribution`]: what the commission engine asks of a click id (`ClickAttributions`).
//! - [`fraud`]: the rules that hold a conversion's commissions for review (`ConversionScreens`),
//!   with their thresholds per program in [`settings`] beside the attribution window.
//!
//! HTTP is not here: the binary answers `/r/{code}` from [`redirects::Redirects::visit`], the API
//! and the pages call [`links`].

pub mod attribution;
pub mod click_ids;
pub mod destinations;
pub mod fraud;
pub mod links;
pub mod recorder;
pub mod redirects;
pub mod settings;

/// The system grants this crate declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&trellis_db::SystemGrant] = &[&redirects::LINK_TABLE, &recorder::CLICK_WRITER];
