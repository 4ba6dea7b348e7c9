//! Holding a request's last commit open so that something can be written in the same transaction
//! after the code that made the change has returned (the idempotency record of an
//! `Idempotency-Key` request: its stored response commits with the effect, or neither does).
//!
//! Inside [`hold_commits`], [`crate::Tx::commit`] of a write transaction does not commit: it parks
//! the transaction, and the caller of `hold_commits` finishes it with [`HeldCommit::take`]. Opening
//! another transaction in the same task first commits the parked one for real (a read must see
//! it, and SQLite has one writer), after running the *flush mark* statement in it, so that a commit
//! made early is never mistaken for one that did not happen.

use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::DbResult;
use crate::sql::Sql;
use crate::tx::Tx;

tokio::task_local! {
    static HELD: HeldCommit;
}

/// The parking place of one task's write commits; cheap to clone.
#[derive(Clone)]
pub struct HeldCommit {
    inner: Arc<Mutex<State>>,
}

struct State {
    parked: Option<Tx>,
    /// Run in every transaction committed for real inside the scope.
    flush_mark: Sql,
    /// Transactions of the scope committed for real (before the last one).
    flushed: u32,
}

impl HeldCommit {
    fn new(flush_mark: Sql) -> Self {
        Self { inner: Arc::new(Mutex::new(State { parked: None, flush_mark, flushed: 0 })) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The parked transaction: the scope's last write, not committed yet. The caller commits it
    /// (with whatever it adds) or drops it (rolling the change back).
    pub fn take(&self) -> Option<Tx> {
        self.lock().parked.take()
    }

    /// How many write transactions of the scope were committed for real before the end because
    /// the code opened another transaction after committing.
    pub fn flushed(&self) -> u32 {
        self.lock().flushed
    }
}

/// Runs `work` with its write commits held: see the module documentation. Returns what `work`
/// returned and the parking place holding its last write, if any.
pub async fn hold_commits<F: Future>(flush_mark: Sql, work: F) -> (F::Output, HeldCommit) {
    let held = HeldCommit::new(flush_mark);
    let output = HELD.scope(held.clone(), work).await;
    (output, held)
}

/// What [`park`] did with a committed write transaction.
pub(crate) enum Parking {
    /// Parked: the scope's owner commits it.
    Parked,
    /// No scope holds commits: commit it now.
    NoScope(Tx),
    /// Another transaction is parked already (two were open at once): commit this one for real,
    /// after running the flush mark in it.
    Occupied(Tx, Sql),
}

/// Called by `Tx::commit` for a write transaction: parks it when a scope holds commits.
pub(crate) fn park(tx: Tx) -> Parking {
    let mut tx = Some(tx);
    let outcome = HELD.try_with(|held| {
        let mut state = held.lock();
        if state.parked.is_none() {
            state.parked = tx.take();
            None
        } else {
            state.flushed += 1;
            Some(state.flush_mark.clone())
        }
    });
    match (outcome, tx) {
        (Ok(None), _) => Parking::Parked,
        (Ok(Some(mark)), Some(tx)) => Parking::Occupied(tx, mark),
        (Err(_), Some(tx)) => Parking::NoScope(tx),
        (_, None) => Parking::Parked,
    }
}

/// Called before a transaction opens: commits the parked one for real, with the flush mark.
pub(crate) async fn flush() -> DbResult<()> {
    let Ok((Some(mut tx), mark)) = HELD.try_with(|held| {
        let mut state = held.lock();
        let parked = state.parked.take();
        if parked.is_some() {
            state.flushed += 1;
        }
        (parked, state.flush_mark.clone())
    }) else {
        return Ok(());
    };
    tx.execute(mark).await?;
    tx.commit_now().await
}
