//! Named system grants: the one way to open a transaction that row security does not restrict
//! for work no person performs (authentication, the job worker, public pages, operator commands).
//!
//! A grant is a constant declared next to the code that uses it, with its reason; each crate
//! lists the grants it declares in its `SYSTEM_GRANTS`, and a test keeps docs/ARCHITECTURE.md
//! "System context" equal to those lists. `clippy.toml` rejects the raw openers
//! ([`crate::Db::read`], [`crate::Db::write`]) outside the request scope's and these, so an
//! unrestricted transaction always names why it exists (ADR 0009).

/// Why some code may read or write rows of every partner of a workspace (or of every workspace).
#[derive(Debug, PartialEq, Eq)]
pub struct SystemGrant {
    /// The name docs/ARCHITECTURE.md lists it under, e.g. `job_worker`.
    pub name: &'static str,
    /// Why no request scope can do this work.
    pub reason: &'static str,
}
