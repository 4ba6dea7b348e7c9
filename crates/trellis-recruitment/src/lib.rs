//! Recruitment: applications from the public form and their decision, onboarding checklists
//! (completed from partner events) and partner agreements; and the areas a caller may use
//! ([`capabilities`]), here because this crate sees every crate the navigation covers.

pub mod agreements;
pub mod applications;
pub mod capabilities;
pub mod onboarding;

/// The system grants this crate declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&trellis_db::SystemGrant] = &[&applications::PUBLIC_APPLICATION_FORM];
