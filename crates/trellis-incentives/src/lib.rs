//! Money: the double-entry ledger every commission, reversal, clawback and payout posts to
//! (issue 10, ADR 0016), and the partners' payout methods, their bank details sealed at rest
//! (ADR 0017). Commission plans, payout runs and their exports, and MDF arrive here with their
//! capabilities; they post through [`ledger::post`] inside their own transactions, and ask
//! [`payout_methods::readiness_in`] and [`payout_methods::decrypt_for_export_in`] where to pay.
//!
//! What this crate does not own: who a commission is for (the deals and tracking crates say so),
//! HTTP (the API and the pages call these services).

pub mod ledger;
pub mod payout_methods;
pub mod secret_box;

/// The system grants this crate declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&trellis_db::SystemGrant] = &[&ledger::LEDGER_VERIFY, &payout_methods::KEY_CHECK];
