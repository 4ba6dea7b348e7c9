//! Partners: partner organisations, their types and statuses, and the distributor → reseller
//! hierarchy. Every function takes the caller's `Scope` and applies its one visibility rule to
//! lists and single reads alike; an invisible partner is `NotFound`.

pub mod agreements;
pub mod applications;
pub mod compliance;
pub mod enrollments;
pub mod evaluation;
pub mod metrics;
pub mod onboarding;
pub mod partners;
pub mod programs;
pub mod tiers;

pub use partners::{NewPartner, Partner, PartnerFilter, PartnerPatch};
pub use programs::{NewProgram, Program, ProgramPatch};
