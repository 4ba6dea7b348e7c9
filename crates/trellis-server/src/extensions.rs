//! What the binary plugs into the context for the domain crates (`Ctx::with_extension`): the
//! metric registry, with every crate's metrics in the order the API and the pages list them, the
//! handlers of partner events, and the configured secret key. Like the job handlers ([`crate::jobs::registry`]) they are
//! registered here, in the one crate that sees every capability, so that a crate can contribute a
//! metric or act on another crate's event without depending on it (ADR 0011).

use trellis_core::{DealId, PartnerStatus, Timestamp};
use trellis_directory::events::EventHandlers;
use trellis_directory::metric_registry::Registry;
use trellis_directory::work_queues::{self, COUNT_CAP, CountFuture, WorkQueue, WorkQueues};
use trellis_identity::background_work::{self, Backlog};
use trellis_identity::{Ctx, Scope, ScopedTx};
use trellis_incentives::conversions::{ClickAttributions, ConversionScreens, DealCredit, DealCreditFuture, DealCredits};
use trellis_incentives::secret_box::SecretKey;
use trellis_programs::metrics;
use trellis_records::compliance;
use trellis_records::profile_changes;
use trellis_recruitment::applications;
use trellis_recruitment::onboarding;

/// Every metric tier requirements may use: computed ones first, then those staff record.
pub fn metric_registry() -> Registry {
    metrics::COMPUTED
        .iter()
        .chain([&compliance::COMPLIANT])
        .chain(trellis_deals::metrics::METRICS)
        .chain(metrics::RECORDED)
        .fold(Registry::new(), |r, m| r.with(*m))
}

/// What runs inside the transaction that raises a partner event.
pub fn partner_event_handlers() -> EventHandlers {
    EventHandlers::new().with(onboarding::on_partner_event).with(trellis_incentives::commissions::on_partner_event)
}

/// What waits for the channel team, in the order the console home lists it: decisions first,
/// then compliance, then what went wrong with email and jobs.
pub fn work_queues() -> WorkQueues {
    [
        applications::TO_REVIEW,
        trellis_deals::pipeline::TO_REVIEW,
        profile_changes::TO_DECIDE,
        trellis_deals::disputes::TO_RESOLVE,
        trellis_deals::disputes::COMMISSIONS_TO_RESOLVE,
        trellis_deals::extensions::TO_DECIDE,
        trellis_incentives::commissions::HELD,
        ONBOARDING,
        compliance::LAPSED,
        compliance::LAPSING,
        compliance::RENEWING,
        FAILED_EMAILS,
        OUTBOX_EMAILS,
        FAILED_JOBS,
    ]
    .into_iter()
    .fold(WorkQueues::new(), WorkQueues::with)
}

/// Partners still onboarding: the console home links to them (their checklists say what waits).
const ONBOARDING: WorkQueue = WorkQueue {
    key: "partners_onboarding",
    title: "Partners onboarding",
    href: "/console/partners?status=onboarding",
    nav: None,
    count: count_onboarding,
};

fn count_onboarding<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, _now: Timestamp) -> CountFuture<'a> {
    Box::pin(work_queues::count_for(tx, scope, trellis_core::VendorRole::PARTNER_MANAGERS, |tx, q| {
        q.push(" FROM partners WHERE partners.workspace_id = ").push_bind(scope.workspace_id());
        q.push(" AND status = ").push_bind(PartnerStatus::Onboarding.as_str()).push(" AND ");
        tx.push_partner_filter(q, "partners.id");
    }))
}

// The email and job queues are identity's (below the directory, which defines the registry), so
// they are adapted here.
const FAILED_EMAILS: WorkQueue = WorkQueue {
    key: "emails_failed",
    title: "Emails that failed",
    href: "/console/outbox?status=failed",
    nav: Some("/console/outbox"),
    count: failed_emails,
};
const OUTBOX_EMAILS: WorkQueue = WorkQueue {
    key: "emails_in_outbox",
    title: "Emails waiting in the outbox (no SMTP server)",
    href: "/console/outbox?status=outbox",
    nav: None,
    count: outbox_emails,
};
const FAILED_JOBS: WorkQueue = WorkQueue {
    key: "jobs_failed",
    title: "Background jobs that failed",
    href: "/console/jobs?status=failed",
    nav: Some("/console/outbox"),
    count: failed_jobs,
};

fn failed_emails<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, _now: Timestamp) -> CountFuture<'a> {
    Box::pin(background_work::backlog_in(tx, scope, Backlog::FailedEmails, COUNT_CAP))
}

fn outbox_emails<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, _now: Timestamp) -> CountFuture<'a> {
    Box::pin(background_work::backlog_in(tx, scope, Backlog::OutboxEmails, COUNT_CAP))
}

fn failed_jobs<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, _now: Timestamp) -> CountFuture<'a> {
    Box::pin(background_work::backlog_in(tx, scope, Backlog::FailedJobs, COUNT_CAP))
}

/// `ctx` with the metric registry, the partner event handlers, the work queues, the deal
/// conflict index of this process and, when one is configured, the key payout methods are sealed
/// with (without it, setting one answers 409 naming `TRELLIS_SECRET_KEY`).
pub fn install(ctx: Ctx, secret_key: Option<SecretKey>) -> Ctx {
    let ctx = ctx
        .with_extension(metric_registry())
        .with_extension(partner_event_handlers())
        .with_extension(work_queues())
        .with_extension(trellis_deals::conflicts::ConflictIndex::new())
        .with_extension(DealCredits { read: deal_credits })
        .with_extension(ClickAttributions { read: trellis_tracking::attribution::read })
        .with_extension(ConversionScreens { screen: trellis_tracking::fraud::screen });
    match secret_key {
        Some(key) => ctx.with_extension(key),
        None => ctx,
    }
}

/// Commissions on won deals read the deal's credit split through this (ADR 0011: the incentives
/// crate does not depend on the deals crate).
fn deal_credits<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, deal_id: &'a DealId) -> DealCreditFuture<'a> {
    Box::pin(async move {
        Ok(trellis_deals::deals::credits_in(tx, scope, deal_id).await?.map(|c| DealCredit {
            won: c.won,
            program_id: c.program_id,
            partners: c.partners,
        }))
    })
}
