//! What the commission engine asks of a click id (`trellis_incentives::conversions::ClickAttributions`,
//! registered by the binary): the click's link and partner, if the id is one this instance signed,
//! for a link of the conversion's workspace, and the conversion happened inside the program's
//! attribution window after the click. The id alone says which link and when, so a click
//! attributes before its row is written; the link comes from the server's table, or from the
//! database when it was created on another server in the last instants.

use trellis_core::{Result, Timestamp};
use trellis_identity::{Ctx, Scope, ScopedTx};
use trellis_incentives::conversions::{ClickFuture, ClickedLink};

use crate::redirects::Redirects;

/// A click's conversion may not precede it by more than this (clocks of two servers disagree a
/// little); earlier than that, the id is not this conversion's click.
const CLOCK_SKEW_SECONDS: i64 = 300;

/// The `ClickAttributions::read` the binary registers.
pub fn read<'a>(ctx: &'a Ctx, tx: &'a mut ScopedTx, scope: &'a Scope, click_id: &'a str, occurred_at: Timestamp) -> ClickFuture<'a> {
    Box::pin(read_click(ctx, tx, scope, click_id, occurred_at))
}

async fn read_click(ctx: &Ctx, tx: &mut ScopedTx, scope: &Scope, click_id: &str, occurred_at: Timestamp) -> Result<Option<ClickedLink>> {
    let redirects = Redirects::of(ctx)?;
    let Some(facts) = redirects.read_click(click_id) else { return Ok(None) };
    let Some(link) = redirects.link_in(tx, scope.workspace_id(), &facts.link_id).await? else { return Ok(None) };
    if &link.workspace_id != scope.workspace_id() {
        // Another workspace's link (from the table): to this workspace the id means nothing.
        return Ok(None);
    }
    let since_click = (occurred_at.micros() - facts.clicked_at.micros()).div_euclid(1_000_000);
    if since_click < -CLOCK_SKEW_SECONDS || since_click > link.window_days * 86_400 {
        return Ok(None);
    }
    // The partner must still exist for the caller (a removed partner earns nothing by old clicks).
    if !tx.can_see_partner(&link.partner_id).await? {
        return Ok(None);
    }
    Ok(Some(ClickedLink {
        link_id: facts.link_id,
        partner_id: link.partner_id.clone(),
        program_id: link.program_id.clone(),
        clicked_at: facts.clicked_at,
        last_touch: link.last_touch,
    }))
}
