//! Money: commission plans, conversions, commissions and the double-entry ledger every
//! commission, reversal, clawback and payout posts to (issue 10, ADRs 0016 and 0017). Payout runs
//! and their exports, and MDF, arrive here with their capabilities; they post through
//! [`ledger::post`] inside their own transactions.
//!
//! What this crate does not own: deals (their credit split reaches it through
//! [`conversions::DealCredits`], which the binary provides), HTTP (the API and the pages call
//! these services).

pub mod commissions;
pub mod conversions;
pub mod ledger;
pub mod payouts;
pub mod plans;
pub mod statuses;

/// The system grants this crate declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&trellis_db::SystemGrant] = &[&ledger::LEDGER_VERIFY, &commissions::COMMISSION_RELEASE];
