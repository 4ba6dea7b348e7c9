//! What the commission engine asks of a click id (`trellis_incentives::conversions::ClickAttributions`,
//! registered by the binary): the click's link and partner, if the id is one this instance signed,
//! for a link of the conversion's workspace, and the conversion happened inside the program's
//! attribution window after the click. The id alone says which link and when, so a click
//! attributes before its row is written; the link comes from the server's table, or from the
//! database when it was created on another server in the last instants.

use trellis_core::{Result, Timestamp};
use trellis_db::Sql;
use trellis_identity::{Ctx, Scope, ScopedTx};
use trellis_incentives::conversions::{ClickFuture, ClickedLink};

use crate::redirects::{DEFAULT_WINDOW_DAYS, Redirects};

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
    let (workspace_id, partner_id, program_id, window_days, last_touch) = match redirects.link(&facts.link_id) {
        Some(link) => (link.workspace_id.clone(), link.partner_id.clone(), link.program_id.clone(), link.window_days, link.last_touch),
        None => {
            let mut q = Sql::build(
                "SELECT l.workspace_id, l.partner_id, l.program_id, s.attribution_window_days, s.last_touch FROM referral_links l
                 LEFT JOIN tracking_settings s ON s.workspace_id = l.workspace_id AND s.program_id = l.program_id WHERE l.workspace_id = ",
            );
            q.push_bind(scope.workspace_id()).push(" AND l.id = ").push_bind(&facts.link_id);
            let Some(row) = tx.fetch_optional(q).await? else { return Ok(None) };
            (
                row.get("workspace_id")?,
                row.get("partner_id")?,
                row.get("program_id")?,
                row.get::<Option<i64>>("attribution_window_days")?.unwrap_or(DEFAULT_WINDOW_DAYS),
                row.get::<Option<bool>>("last_touch")?.unwrap_or(false),
            )
        }
    };
    if &workspace_id != scope.workspace_id() {
        // Another workspace's link: to this workspace the id means nothing.
        return Ok(None);
    }
    let since_click = (occurred_at.micros() - facts.clicked_at.micros()).div_euclid(1_000_000);
    if since_click < -CLOCK_SKEW_SECONDS || since_click > window_days * 86_400 {
        return Ok(None);
    }
    // The partner must still exist for the caller (a removed partner earns nothing by old clicks).
    if !tx.can_see_partner(&partner_id).await? {
        return Ok(None);
    }
    Ok(Some(ClickedLink { link_id: facts.link_id, partner_id, program_id, clicked_at: facts.clicked_at, last_touch }))
}
