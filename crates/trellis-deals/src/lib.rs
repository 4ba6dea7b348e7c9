//! Deal registration and the direct pipeline: registrations and their conflict check against
//! other partners' live registrations and the vendor's own opportunities, the rules per program
//! (race window, protection, auto-approval), review, protection and its expiry, extension
//! requests, disputes, and the pipeline.

pub mod conflicts;
pub mod deals;
pub mod engine;
pub mod imports;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod protection;
pub mod rules;
pub mod statuses;
// Disputes of decisions and protection extension requests (issue 9).
pub mod disputes;
pub mod extensions;

/// The system grants this crate declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&trellis_db::SystemGrant] = &[&conflicts::CONFLICT_ENGINE, &protection::DEAL_PROTECTION];
