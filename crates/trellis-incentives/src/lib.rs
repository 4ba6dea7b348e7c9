//! Money: commission plans, conversions, commissions, payout runs and the double-entry ledger
//! every commission, reversal, clawback and payout posts to (issue 10, ADRs 0016 and 0017), and
//! the partners' payout methods, their bank details sealed at rest (ADR 0018). They post through
//! [`ledger::post`] inside their own transactions; payout runs ask
//! [`payout_methods::readiness_in`] and [`payout_methods::decrypt_for_export_in`] where to pay.
//!
//! What this crate does not own: deals (their credit split reaches it through
//! [`conversions::DealCredits`], which the binary provides), HTTP (the API and the pages call
//! these services).

mod claims;
pub mod commissions;
pub mod conversions;
pub mod ledger;
pub mod payout_methods;
pub mod payouts;
pub mod plans;
/// Sealing at rest lives in identity (TOTP seeds are sealed too, ADR 0023); the old path stays.
pub use trellis_identity::secret_box;
pub mod sepa;
pub mod statuses;

/// The system grants this crate declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&trellis_db::SystemGrant] =
    &[&ledger::LEDGER_VERIFY, &commissions::COMMISSION_RELEASE, &payout_methods::KEY_CHECK];
