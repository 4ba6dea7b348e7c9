//! The background work of the binary: the job handlers and periodic schedules of every
//! capability, registered in one place. `trellis serve` and `trellis demo` run them with
//! `trellis_jobs::spawn_worker`; `TestApp` uses the same registry and drains it on demand.
//!
//! A capability adds its kinds here with plain `async fn(&Ctx, &Job) -> Result<()>` functions of
//! its domain crate, e.g.
//! `registry.register("evaluate_tiers", |ctx, job| Box::pin(tiers::evaluate_all(ctx, job)));`
//! and `registry.schedule("evaluate_tiers", trellis_jobs::DAY);`.

use trellis_jobs::{Mailer, Registry};

/// Every job handler and schedule, delivering email with `mailer`.
pub fn registry(mailer: Mailer) -> Registry {
    Registry::new(mailer)
}
