//! Lead distribution (issue 13): leads the vendor passes to partners, offered to the partner most
//! likely to win each, with the reasons shown (ADR 0028).
//!
//! - [`matching`]: the explainable scoring model (factors, default weights, weights fitted to the
//!   workspace's outcomes) that ranks candidate partners for a lead.
//! - [`imports`]: leads from a CSV file, previewed and idempotent by the external id.
//! - [`leads`]: leads, their visibility (through the partner holding each), creation and closing.
//! - [`routing`]: candidates and their facts, offers with an SLA, the partner's answers, conversion
//!   into a deal registration, and the SLA clock's jobs.
//! - [`public_form`]: a program's public lead form (rate limit, honeypot).
//! - [`refit`]: the daily refit, adopting a fitted model only where it ranks held-out outcomes
//!   better than the weights as set.
//! - [`settings`]: a program's SLA, capacity and weights.
//! - [`statuses`]: the transition table.

pub mod imports;
pub mod leads;
pub mod matching;
pub mod public_form;
pub mod refit;
pub mod routing;
pub mod settings;
pub mod statuses;

/// The system grants this crate declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&trellis_db::SystemGrant] = &[&routing::LEAD_ROUTING, &public_form::PUBLIC_LEAD_FORM];
