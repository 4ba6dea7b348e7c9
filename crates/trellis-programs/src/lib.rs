//! Partner programs and tiers: programs, their tiers and requirements, enrollments, the metrics
//! this crate contributes and the values staff record, and tier evaluation over the metric
//! registry the binary built.

pub mod enrollments;
pub mod evaluation;
pub mod metrics;
pub mod programs;
pub mod tiers;

pub use programs::{NewProgram, Program, ProgramPatch};

/// The system grants this crate declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&trellis_db::SystemGrant] = &[&programs::PROGRAM_SLUGS, &evaluation::TIER_EVALUATION];
