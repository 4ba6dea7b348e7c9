//! Partners: partner organisations, their types and statuses, and the distributor → reseller
//! hierarchy. Every function takes the caller's `Scope` and applies its one visibility rule to
//! lists and single reads alike; an invisible partner is `NotFound`.

mod access;
pub mod agreements;
pub mod applications;
pub mod capabilities;
pub mod compliance;
pub mod contracts;
pub mod countries;
pub mod dates;
pub mod enrollments;
pub mod evaluation;
pub mod events;
pub mod files;
pub mod licences;
pub mod lifecycle;
pub mod locator;
pub mod metric_registry;
pub mod metrics;
mod notify;
pub mod onboarding;
pub mod partners;
pub mod profile_changes;
pub mod profiles;
pub mod programs;
pub mod reminders;
pub mod statuses;
pub mod tiers;

pub use partners::{NewPartner, Partner, PartnerFilter, PartnerPatch};
pub use programs::{NewProgram, Program, ProgramPatch};
