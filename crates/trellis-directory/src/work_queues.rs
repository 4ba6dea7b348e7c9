//! The work queues: what waits for someone on the channel team (applications to review, profile
//! changes to approve, licences lapsing, emails that failed, and later deals to review and payouts
//! to approve). The console home lists them with their counts and the navigation shows a count
//! where something waits; neither knows the modules.
//!
//! It lives here, beside the metric registry, so that every crate can contribute a queue without
//! depending on the others: **adding a queue is defining one [`WorkQueue`] and registering it in
//! the binary** (`trellis_server::extensions`). A queue's counter runs inside the caller's read
//! transaction, so it counts only what the caller sees, and answers `None` for a caller whose role
//! does not work that queue. Counts stop at [`COUNT_CAP`]: a count costs at most that many index
//! entries however long the queue is ("99+").

use std::future::Future;
use std::pin::Pin;

use trellis_core::{Result, Timestamp, VendorRole};
use trellis_db::Sql;
use trellis_identity::{Ctx, Scope, ScopedTx};

/// Counts stop here; the pages show "99+".
pub const COUNT_CAP: i64 = 99;

/// What a counter answers: the number waiting (at most [`COUNT_CAP`] + 1), or `None` when the
/// queue is not for this caller.
pub type CountFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<i64>>> + Send + 'a>>;

/// Counts a queue inside the caller's read transaction at `now`.
pub type Counter = for<'a> fn(&'a mut ScopedTx, &'a Scope, Timestamp) -> CountFuture<'a>;

/// One queue of the registry.
#[derive(Debug, Clone, Copy)]
pub struct WorkQueue {
    /// Stable name, e.g. `applications`.
    pub key: &'static str,
    /// What waits, in a few words: "Applications to review".
    pub title: &'static str,
    /// Where the work is done: the filtered list.
    pub href: &'static str,
    /// The navigation link whose count this queue adds to (`/console/applications`), or `None`
    /// when the queue shows on the home page only (its count is not cheap enough for every page).
    pub nav: Option<&'static str>,
    pub count: Counter,
}

/// A queue with something in it, for one caller.
#[derive(Debug, Clone, Copy)]
pub struct Waiting {
    pub queue: WorkQueue,
    /// At most [`COUNT_CAP`] + 1.
    pub count: i64,
}

impl Waiting {
    /// "7", or "99+" past the cap.
    pub fn count_text(&self) -> String {
        count_text(self.count)
    }
}

/// "7", or "99+" past the cap.
pub fn count_text(count: i64) -> String {
    if count > COUNT_CAP { format!("{COUNT_CAP}+") } else { count.to_string() }
}

/// The queues the binary registered, in the order the console home lists them.
#[derive(Debug, Clone, Default)]
pub struct WorkQueues {
    queues: Vec<WorkQueue>,
}

impl WorkQueues {
    pub fn new() -> Self {
        Self { queues: Vec::new() }
    }

    /// The registry the binary put in the context.
    pub fn of(ctx: &Ctx) -> Result<&Self> {
        ctx.extension::<Self>()
    }

    /// The registry with one more queue; keys are unique.
    pub fn with(mut self, queue: WorkQueue) -> Self {
        assert!(self.queues.iter().all(|q| q.key != queue.key), "the work queue {} is registered twice", queue.key);
        self.queues.push(queue);
        self
    }

    pub fn all(&self) -> &[WorkQueue] {
        &self.queues
    }
}

/// Every queue for this caller with its count, empty ones included (a person sees that nothing
/// waits), in registry order; `navigation_only` counts only the queues shown in the navigation.
/// One read transaction for all of them.
pub async fn waiting(ctx: &Ctx, scope: &Scope, navigation_only: bool) -> Result<Vec<Waiting>> {
    let queues = WorkQueues::of(ctx)?;
    let now = ctx.now();
    let mut tx = scope.read(ctx).await?;
    let mut out = Vec::new();
    for queue in queues.all().iter().filter(|q| !navigation_only || q.nav.is_some()) {
        if let Some(count) = (queue.count)(&mut tx, scope, now).await? {
            out.push(Waiting { queue: *queue, count });
        }
    }
    Ok(out)
}

/// What every counter is: for a caller with one of `roles` (`None` for the others), counts the
/// rows `rows` selects — it appends ` FROM … WHERE …` to `SELECT 1 AS one`, filtering with the
/// transaction's visibility rule — stopping after [`COUNT_CAP`] + 1 of them.
pub async fn count_for(
    tx: &mut ScopedTx,
    scope: &Scope,
    roles: &[VendorRole],
    rows: impl FnOnce(&ScopedTx, &mut Sql) + Send,
) -> Result<Option<i64>> {
    if !scope.has_vendor_role(roles) {
        return Ok(None);
    }
    let mut q = Sql::build("SELECT COUNT(*) AS n FROM (SELECT 1 AS one");
    rows(tx, &mut q);
    q.push(" LIMIT ").push_bind(COUNT_CAP + 1).push(") capped");
    Ok(Some(tx.fetch_i64(q).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_past_the_cap_read_as_the_cap_and_a_plus() {
        assert_eq!(count_text(0), "0");
        assert_eq!(count_text(COUNT_CAP), "99");
        assert_eq!(count_text(COUNT_CAP + 1), "99+");
    }
}
