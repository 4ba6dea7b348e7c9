//! What the binary plugs into the context for the domain crates (`Ctx::with_extension`): the
//! metric registry, with every crate's metrics in the order the API and the pages list them, and
//! the handlers of partner events. Like the job handlers ([`crate::jobs::registry`]) they are
//! registered here, in the one crate that sees every capability, so that a crate can contribute a
//! metric or act on another crate's event without depending on it (ADR 0011).

use trellis_directory::events::EventHandlers;
use trellis_directory::metric_registry::Registry;
use trellis_identity::Ctx;
use trellis_programs::metrics;
use trellis_records::compliance;
use trellis_recruitment::onboarding;

/// Every metric tier requirements may use: computed ones first, then those staff record.
pub fn metric_registry() -> Registry {
    metrics::COMPUTED.iter().chain([&compliance::COMPLIANT]).chain(metrics::RECORDED).fold(Registry::new(), |r, m| r.with(*m))
}

/// What runs inside the transaction that raises a partner event.
pub fn partner_event_handlers() -> EventHandlers {
    EventHandlers::new().with(onboarding::on_partner_event)
}

/// `ctx` with the metric registry and the partner event handlers.
pub fn install(ctx: Ctx) -> Ctx {
    ctx.with_extension(metric_registry()).with_extension(partner_event_handlers())
}
