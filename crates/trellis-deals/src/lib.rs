//! Deal registration and the direct pipeline: registrations and their conflict check against
//! other partners' live registrations and the vendor's own opportunities, the rules per program
//! (race window, protection, auto-approval), review, protection and its expiry, extension
//! requests, disputes, and the pipeline.

pub mod engine;
