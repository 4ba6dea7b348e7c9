//! Partner events: what happened to a partner that other capabilities act on inside the same
//! transaction (a profile completed, a document uploaded, a user invited, an agreement accepted).
//! The code that makes the change raises the event with [`raise`] before it commits; the handlers
//! the binary registered ([`EventHandlers`], put in the context with `Ctx::with_extension`) run in
//! that transaction, so the change and what follows from it (an onboarding step ticked, the
//! partner activated) commit together or not at all.
//!
//! This lets a crate react to another's changes without either depending on the other: the
//! records crate raises `ProfileCompleted` and recruitment's onboarding handles it (ADR 0011).

use std::future::Future;
use std::pin::Pin;

use trellis_core::{PartnerId, ProgramId, Result, Timestamp};
use trellis_identity::ScopedTx;
use trellis_identity::{Ctx, Scope};

/// Something that happened to a partner, raised inside the transaction that made it happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerEvent {
    pub partner_id: PartnerId,
    pub kind: PartnerEventKind,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartnerEventKind {
    /// The partner's profile became complete (raised once, by the change that completed it).
    ProfileCompleted,
    /// A document (a contract or licence file, not a logo) was uploaded for the partner.
    DocumentUploaded,
    /// A person was invited to the partner organisation.
    UserInvited,
    /// A user of the partner accepted, for the first time, the agreement in force in a program.
    AgreementAccepted { program_id: ProgramId },
    /// A licence of the partner was added or changed: its compliance may have changed.
    LicencesChanged,
}

/// What a handler returns.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// Acts on an event inside the raising transaction, with the raising caller's scope (so what it
/// reads and writes stays within what the caller may see). An error rolls the change back.
pub type Handler = for<'a> fn(&'a mut ScopedTx, &'a Scope, &'a PartnerEvent) -> HandlerFuture<'a>;

/// The handlers of partner events, run in the order they were added. The binary builds it.
#[derive(Debug, Clone, Default)]
pub struct EventHandlers {
    handlers: Vec<Handler>,
}

impl EventHandlers {
    pub fn new() -> Self {
        Self::default()
    }

    /// The handlers with one more, which sees every event (and ignores the kinds it does not
    /// act on).
    pub fn with(mut self, handler: Handler) -> Self {
        self.handlers.push(handler);
        self
    }
}

/// Runs every registered handler on `kind` for `partner_id`, inside `tx`.
pub async fn raise(
    ctx: &Ctx,
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_id: &PartnerId,
    kind: PartnerEventKind,
    at: Timestamp,
) -> Result<()> {
    let event = PartnerEvent { partner_id: partner_id.clone(), kind, at };
    for handler in &ctx.extension::<EventHandlers>()?.handlers {
        handler(tx, scope, &event).await?;
    }
    Ok(())
}
