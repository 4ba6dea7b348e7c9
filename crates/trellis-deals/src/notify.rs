//! Who hears about a deal: the partner's admins and the person who registered it (emails on
//! status changes, protection ending, disputes and extension decisions), and the channel manager
//! of the partner for what waits for the channel team.

use trellis_core::{DealId, Email, PartnerId, Result, Timestamp, UserId, WorkspaceId};
use trellis_db::{Tx, sql};
use trellis_identity::{Ctx, Scope};
use trellis_jobs::{NewEmail, queue_email};

use crate::deals::{Deal, DealSource, date_of};
use crate::statuses::DealStatus;

/// A partner's admins and the person who registered the deal when named; the partner's contact
/// address when that is nobody.
async fn partner_recipients(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    partner_id: &PartnerId,
    registrant: Option<&UserId>,
) -> Result<Vec<Email>> {
    let rows = tx
        .fetch_all(sql!(
            "SELECT DISTINCT u.email FROM partner_users pu JOIN users u ON u.id = pu.user_id
             WHERE pu.workspace_id = $1 AND pu.partner_id = $2 AND (pu.role = 'admin' OR pu.user_id = $3) ORDER BY u.email",
            workspace_id,
            partner_id,
            registrant.cloned()
        ))
        .await?;
    let mut emails: Vec<Email> = rows.iter().map(|r| r.get("email")).collect::<Result<_, _>>()?;
    if emails.is_empty()
        && let Some(row) = tx
            .fetch_optional(sql!("SELECT contact_email FROM partners WHERE workspace_id = $1 AND id = $2", workspace_id, partner_id))
            .await?
    {
        emails.push(row.get("contact_email")?);
    }
    Ok(emails)
}

/// Queues one email to a partner's people.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn to_partner_in(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    partner_id: &PartnerId,
    kind: &'static str,
    subject: &str,
    text: &str,
    caused_by: Option<&UserId>,
    now: Timestamp,
) -> Result<()> {
    for to in partner_recipients(tx, workspace_id, partner_id, None).await? {
        queue_email(tx, workspace_id, NewEmail::from_text(kind, to, subject, text).caused_by(caused_by), now).await?;
    }
    Ok(())
}

/// The earlier side of a race learns that its registration went to review.
pub(crate) async fn race_to_review_in(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    partner_id: &PartnerId,
    link: &str,
    reason: &str,
    now: Timestamp,
) -> Result<()> {
    let text = format!("{reason}\n\nThe channel team will decide shortly. The deal: {link}");
    to_partner_in(tx, workspace_id, partner_id, "deal_under_review", "Your deal registration is under review", &text, None, now).await
}

/// A decision on a partner's deal, emailed to the partner (staff's own changes of direct
/// opportunities and the partner's own won/lost tell nobody).
pub(crate) async fn status_changed_in(
    ctx: &Ctx,
    tx: &mut Tx,
    scope: &Scope,
    deal: &Deal,
    note: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let (DealSource::Partner, Some(partner_id)) = (deal.source, &deal.partner_id) else { return Ok(()) };
    if scope.partner().is_some() {
        return Ok(());
    }
    let customer = &deal.customer_name;
    let (kind, subject, body) = match deal.status {
        DealStatus::Approved => (
            "deal_approved",
            format!("Deal registration approved: {customer}"),
            format!(
                "Your registration of {customer} is approved and protected until {}.",
                deal.protected_until.map(date_of).unwrap_or_default()
            ),
        ),
        DealStatus::Rejected => (
            "deal_rejected",
            format!("Deal registration rejected: {customer}"),
            format!(
                "Your registration of {customer} was rejected: {}\n\nIf you think this is wrong, you can dispute the decision on the deal's page.",
                note.unwrap_or("no reason given")
            ),
        ),
        DealStatus::NeedsInfo => (
            "deal_needs_info",
            format!("More information needed: {customer}"),
            format!("The channel team needs more information about your registration of {customer}: {}", note.unwrap_or_default()),
        ),
        DealStatus::Won | DealStatus::Lost | DealStatus::UnderReview => (
            "deal_status_changed",
            format!("Deal {}: {customer}", deal.status.label().to_lowercase()),
            format!("The channel team marked your deal with {customer} as {}.", deal.status.label().to_lowercase()),
        ),
        _ => return Ok(()),
    };
    let text = format!("{body}\n\nThe deal: {}", deal_link(ctx, &deal.id, false));
    for to in partner_recipients(tx, scope.workspace_id(), partner_id, deal.registered_by_user_id.as_ref()).await? {
        queue_email(tx, scope.workspace_id(), NewEmail::from_text(kind, to, subject.clone(), text.clone()).caused_by(scope.user_id()), now)
            .await?;
    }
    Ok(())
}

/// The absolute link of a deal's page for `ctx`'s public address.
pub fn deal_link(ctx: &Ctx, deal_id: &DealId, staff: bool) -> String {
    ctx.link(&if staff { format!("/console/deals/{deal_id}") } else { format!("/portal/deals/{deal_id}") })
}

// Disputes and extension requests: what waits for the channel team goes to the partner's channel
// manager (the nearest ancestor's, for a reseller whose distributor is managed), or to the
// workspace's owners and admins when no one manages the partner.

/// The channel manager of `partner_id` or its nearest managed ancestor; the workspace's owners and
/// admins when there is none.
async fn channel_team(tx: &mut Tx, workspace_id: &WorkspaceId, partner_id: &PartnerId) -> Result<Vec<Email>> {
    let manager = tx
        .fetch_optional(sql!(
            "SELECT u.email FROM partner_ancestry pa JOIN users u ON u.id = pa.ancestor_manager_user_id
             WHERE pa.workspace_id = $1 AND pa.descendant_id = $2 AND pa.ancestor_manager_user_id IS NOT NULL
             ORDER BY pa.depth LIMIT 1",
            workspace_id,
            partner_id
        ))
        .await?;
    if let Some(row) = manager {
        return Ok(vec![row.get("email")?]);
    }
    let rows = tx
        .fetch_all(sql!(
            "SELECT u.email FROM members m JOIN users u ON u.id = m.user_id
             WHERE m.workspace_id = $1 AND m.role IN ('owner', 'admin') ORDER BY u.email",
            workspace_id
        ))
        .await?;
    rows.iter().map(|r| r.get("email").map_err(Into::into)).collect()
}

/// Queues one email to the channel team of a partner (see [`channel_team`]).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn to_channel_team_in(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    partner_id: &PartnerId,
    kind: &'static str,
    subject: &str,
    text: &str,
    caused_by: Option<&UserId>,
    now: Timestamp,
) -> Result<()> {
    for to in channel_team(tx, workspace_id, partner_id).await? {
        queue_email(tx, workspace_id, NewEmail::from_text(kind, to, subject, text).caused_by(caused_by), now).await?;
    }
    Ok(())
}
