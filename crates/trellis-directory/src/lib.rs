//! The partner directory: partner organisations, their types and statuses (the transitions of
//! [`statuses`], the lifecycle timeline), and the distributor → reseller hierarchy. Every function
//! takes the caller's `Scope` and applies its one visibility rule to lists and single reads alike;
//! an invisible partner is `NotFound`.
//!
//! Also what the business crates above share without depending on each other (ADR 0011): the
//! partner events raised inside a change's transaction ([`events`]), the metric registry tier
//! rules are written over ([`metric_registry`]), the work queues the console home and the
//! navigation count ([`work_queues`]), and the country codes ([`countries`]).

pub mod contacts;
pub mod countries;
pub mod events;
pub mod lifecycle;
pub mod metric_registry;
pub mod partners;
pub mod statuses;
pub mod work_queues;

pub use partners::{NewPartner, Partner, PartnerFilter, PartnerPatch};
