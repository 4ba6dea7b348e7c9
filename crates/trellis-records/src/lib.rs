//! A partner's records: its profile and the changes to it the vendor decides, uploaded files,
//! contracts, licences and the compliance they add up to, the reminders of what expires, and the
//! public partner locator over opted-in profiles, and the workspace's logo on its public pages.
//! Contributes the `compliant` metric ([`compliance::COMPLIANT`]) and raises the profile and
//! document partner events.

mod access;
pub mod branding;
pub mod compliance;
pub mod contracts;
pub mod dates;
pub mod files;
pub mod licences;
pub mod locator;
mod notify;
pub mod profile_changes;
pub mod profiles;
pub mod reminders;

/// The system grants this crate declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&trellis_db::SystemGrant] = &[&locator::PUBLIC_LOCATOR, &reminders::REMINDERS];
