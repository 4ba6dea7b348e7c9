//! Partner users: the people of a partner organisation and their roles. A partner admin invites
//! colleagues; vendor staff who manage partners may too.

use trellis_core::{Email, Error, PartnerId, PartnerRole, PartnerStatus, Result, Timestamp, UserId, Validation, VendorRole, WorkspaceId};
use trellis_db::{Tx, sql};

use crate::Ctx;
use crate::audit::{self, AuditEntry};
use crate::invitations::{self, InvitationEmail, IssuedInvitation, Offer};
use crate::members::workspace_name;
use crate::scope::{Scope, ScopedTx, SeenPartner};

/// 404 unless the partner exists in the workspace and is visible to the caller; its status.
pub async fn require_visible_partner(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId) -> Result<PartnerStatus> {
    debug_assert_eq!(scope.workspace_id(), tx.workspace_id(), "the transaction of another workspace");
    Ok(tx.see_partner(partner_id).await?.status())
}

/// Every email address that speaks for a partner: its contact address and its users' (at most
/// 1,000), as stored. The fraud rules of referral tracking compare a customer's address with them.
pub async fn all_addresses_in(tx: &mut Tx, workspace_id: &WorkspaceId, partner_id: &PartnerId) -> Result<Vec<String>> {
    let rows = tx
        .fetch_all(sql!(
            "SELECT contact_email AS email FROM partners WHERE workspace_id = $1 AND id = $2
             UNION SELECT u.email FROM partner_users pu JOIN users u ON u.id = pu.user_id WHERE pu.workspace_id = $1 AND pu.partner_id = $2
             LIMIT 1000",
            workspace_id,
            partner_id
        ))
        .await?;
    Ok(rows.iter().map(|r| r.get("email")).collect::<Result<_, _>>()?)
}

/// The network addresses a partner's users signed in from (successful sign-ins only, at most
/// `limit` distinct ones), for the same rules.
pub async fn sign_in_addresses_in(tx: &mut Tx, workspace_id: &WorkspaceId, partner_id: &PartnerId, limit: i64) -> Result<Vec<String>> {
    let rows = tx
        .fetch_all(sql!(
            "SELECT DISTINCT si.ip FROM partner_users pu JOIN sign_ins si ON si.user_id = pu.user_id
             WHERE pu.workspace_id = $1 AND pu.partner_id = $2 AND si.outcome = 'success' AND si.ip <> '' LIMIT $3",
            workspace_id,
            partner_id,
            limit
        ))
        .await?;
    Ok(rows.iter().map(|r| r.get("ip")).collect::<Result<_, _>>()?)
}

/// The addresses of a partner's admins, or its contact address when it has no admin: who hears
/// of changes to the organisation's own records (its profile, its payout method).
pub async fn admin_addresses_in(tx: &mut Tx, workspace_id: &WorkspaceId, partner_id: &PartnerId) -> Result<Vec<Email>> {
    let rows = tx
        .fetch_all(sql!(
            "SELECT u.email FROM partner_users pu JOIN users u ON u.id = pu.user_id
             WHERE pu.workspace_id = $1 AND pu.partner_id = $2 AND pu.role = 'admin' ORDER BY u.email",
            workspace_id,
            partner_id
        ))
        .await?;
    let mut emails: Vec<Email> = rows.iter().map(|r| r.get("email")).collect::<Result<_, _>>()?;
    if emails.is_empty() {
        let contact = tx
            .fetch_optional(sql!("SELECT contact_email FROM partners WHERE workspace_id = $1 AND id = $2", workspace_id, partner_id))
            .await?;
        if let Some(row) = contact {
            emails.push(row.get("contact_email")?);
        }
    }
    Ok(emails)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PartnerUser {
    pub user_id: UserId,
    pub partner_id: PartnerId,
    pub email: Email,
    pub name: String,
    pub role: PartnerRole,
    pub created_at: Timestamp,
}

/// Who may manage a partner's users: its own admins, and staff who manage partners.
pub(crate) fn require_user_manager(scope: &Scope, partner_id: &PartnerId) -> Result<()> {
    match scope.partner() {
        Some((own, PartnerRole::Admin)) if own == partner_id => Ok(()),
        Some(_) => Err(Error::forbidden("only the partner's admins manage its users")),
        None => scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "manage partner users"),
    }
}

/// Who may invite people to a partner: those of [`require_user_manager`], and a distributor's
/// admins for its resellers when the workspace lets distributors manage resellers
/// (`distributors_manage_resellers`), as for their profiles (`trellis_records::access`). The
/// partner is already checked visible: one that is not the caller's own is a descendant, and a
/// sibling's reseller was a 404 before this is asked.
async fn require_user_inviter(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId) -> Result<()> {
    match scope.partner() {
        Some((own, PartnerRole::Admin)) if own != partner_id => {
            if crate::workspaces::distributors_manage_resellers(tx, scope.workspace_id()).await? {
                Ok(())
            } else {
                Err(Error::forbidden("this workspace does not let distributors manage resellers"))
            }
        }
        _ => require_user_manager(scope, partner_id),
    }
}

pub async fn list(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<PartnerUser>> {
    let mut tx = scope.read(ctx).await?;
    let seen = tx.see_partner(partner_id).await?;
    list_in(&mut tx, scope, &seen).await
}

/// [`list`] of a partner already checked in the caller's transaction.
pub async fn list_in(tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner) -> Result<Vec<PartnerUser>> {
    let partner_id = tx.seen(seen)?;
    let rows = tx
        .fetch_all(sql!(
            "SELECT pu.user_id, pu.partner_id, u.email, u.name, pu.role, pu.created_at FROM partner_users pu JOIN users u ON u.id = pu.user_id
             WHERE pu.workspace_id = $1 AND pu.partner_id = $2 ORDER BY u.email",
            scope.workspace_id(),
            partner_id
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let role: String = row.get("role")?;
            Ok(PartnerUser {
                user_id: row.get("user_id")?,
                partner_id: row.get("partner_id")?,
                email: row.get("email")?,
                name: row.get("name")?,
                role: PartnerRole::parse(&role).unwrap_or(PartnerRole::Member),
                created_at: row.get("created_at")?,
            })
        })
        .collect()
}

/// Invites a person to a partner organisation. The membership takes effect when they accept;
/// until then nothing about the address's account (if any) is read or changed.
pub async fn invite(
    ctx: &Ctx,
    scope: &Scope,
    partner_id: &PartnerId,
    email: &str,
    name: Option<&str>,
    role: PartnerRole,
) -> Result<IssuedInvitation> {
    let mut tx = scope.write(ctx).await?;
    let issued = invite_within(ctx, &mut tx, scope, partner_id, email, name, role).await?;
    tx.commit().await?;
    Ok(issued)
}

/// [`invite`] inside the caller's transaction (onboarding notes the new invitation in the same one).
pub async fn invite_within(
    ctx: &Ctx,
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_id: &PartnerId,
    email: &str,
    name: Option<&str>,
    role: PartnerRole,
) -> Result<IssuedInvitation> {
    let mut v = Validation::new();
    let email = v.check("email", Email::parse(email));
    let name = v.optional_text("name", name, 200).flatten();
    v.finish().map_err(Error::Validation)?;
    let email = email.ok_or_else(|| Error::Internal("validated".into()))?;
    require_visible_partner(tx, scope, partner_id).await?;
    require_user_inviter(tx, scope, partner_id).await?;
    if let Some((_, creator)) = scope.partner()
        && !creator.may_grant(role)
    {
        return Err(Error::forbidden("you may not grant a role above your own"));
    }
    let workspace = workspace_name(tx, scope.workspace_id()).await?;
    let partner: String = tx
        .fetch_one(sql!("SELECT name FROM partners WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), partner_id))
        .await?
        .get("name")?;
    let message = InvitationEmail {
        kind: "partner_invitation",
        subject: format!("You are invited to the {workspace} partner portal"),
        what: format!("You are invited to join {partner} in the {workspace} partner portal on Trellis, with the role {}.", role.as_str()),
    };
    invite_in(ctx, tx, scope, partner_id, &email, name.as_deref().unwrap_or(""), role, Some(message)).await
}

/// Changes a partner user's role.
pub async fn update_role(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, user_id: &UserId, role: PartnerRole) -> Result<()> {
    let now = ctx.now();
    scope.require_recent_sign_in(now)?;
    let mut tx = scope.write(ctx).await?;
    require_visible_partner(&mut tx, scope, partner_id).await?;
    let before = current_role(&mut tx, scope, partner_id, user_id).await?;
    require_user_manager(scope, partner_id)?;
    if before == PartnerRole::Admin && role != PartnerRole::Admin {
        require_another_admin(&mut tx, scope, partner_id, user_id).await?;
    }
    tx.execute(sql!(
        "UPDATE partner_users SET role = $4 WHERE workspace_id = $1 AND partner_id = $2 AND user_id = $3",
        scope.workspace_id(),
        partner_id,
        user_id,
        role.as_str()
    ))
    .await?;
    audit::record(
        &mut tx,
        scope,
        now,
        AuditEntry::new("partner_user.updated", "user", user_id.as_str()).set("partner_id", partner_id.as_str()).change(
            "role",
            before.as_str(),
            role.as_str(),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a user from a partner; their sessions for that partner end at once.
pub async fn remove(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, user_id: &UserId) -> Result<()> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    require_visible_partner(&mut tx, scope, partner_id).await?;
    let before = current_role(&mut tx, scope, partner_id, user_id).await?;
    require_user_manager(scope, partner_id)?;
    if before == PartnerRole::Admin {
        require_another_admin(&mut tx, scope, partner_id, user_id).await?;
    }
    tx.execute(sql!(
        "DELETE FROM partner_users WHERE workspace_id = $1 AND partner_id = $2 AND user_id = $3",
        scope.workspace_id(),
        partner_id,
        user_id
    ))
    .await?;
    // A provisioned person stays known to the organisation's identity provider, as inactive
    // with the role they had (SCIM lists them; reactivation restores it).
    tx.execute(sql!(
        "UPDATE scim_identities SET parked_role = $4, updated_at = $5
         WHERE workspace_id = $1 AND partner_id = $2 AND user_id = $3 AND parked_role IS NULL",
        scope.workspace_id(),
        partner_id,
        user_id,
        before.as_str(),
        now
    ))
    .await?;
    let (sessions, keys) = end_access(&mut tx, scope.workspace_id(), partner_id, user_id, now).await?;
    audit::record(
        &mut tx,
        scope,
        now,
        AuditEntry::new("partner_user.removed", "user", user_id.as_str())
            .set("partner_id", partner_id.as_str())
            .change("role", before.as_str(), serde_json::Value::Null)
            .set("sessions_ended", sessions)
            .set("api_keys_revoked", keys),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends what a person who left an organisation could still use of it: every session of theirs
/// acting for it and the keys they created for it (a copied secret must not outlive the
/// membership). Answers how many sessions ended and keys were revoked.
pub(crate) async fn end_access(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    partner_id: &PartnerId,
    user_id: &UserId,
    now: Timestamp,
) -> Result<(u64, u64)> {
    let sessions = tx
        .execute(sql!(
            "DELETE FROM sessions WHERE user_id = $1 AND workspace_id = $2 AND partner_id = $3",
            user_id,
            workspace_id,
            partner_id
        ))
        .await?;
    let keys = crate::api_keys::revoke_all_created_by(tx, workspace_id, partner_id, user_id, now).await?;
    Ok((sessions, keys))
}

async fn current_role(tx: &mut Tx, scope: &Scope, partner_id: &PartnerId, user_id: &UserId) -> Result<PartnerRole> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT role FROM partner_users WHERE workspace_id = $1 AND partner_id = $2 AND user_id = $3",
            scope.workspace_id(),
            partner_id,
            user_id
        ))
        .await?
        .ok_or(Error::NotFound)?;
    let role: String = row.get("role")?;
    Ok(PartnerRole::parse(&role).unwrap_or(PartnerRole::Member))
}

/// A partner keeps at least one admin, so it can always manage itself.
async fn require_another_admin(tx: &mut Tx, scope: &Scope, partner_id: &PartnerId, user_id: &UserId) -> Result<()> {
    let others = tx
        .fetch_i64(sql!(
            "SELECT COUNT(*) AS n FROM partner_users WHERE workspace_id = $1 AND partner_id = $2 AND role = 'admin' AND user_id <> $3",
            scope.workspace_id(),
            partner_id,
            user_id
        ))
        .await?;
    if others == 0 { Err(Error::conflict("the partner must keep at least one admin")) } else { Ok(()) }
}

/// Invites a person to a partner organisation inside the caller's transaction: an approved
/// applicant is invited as its organisation's first admin in the transaction that approves it
/// (which sends its own email: `message` is `None`). The caller has checked that the partner is
/// visible and that it may manage its users. A person who already is a user of the partner is
/// 409: its users list shows them to the inviter already.
#[allow(clippy::too_many_arguments)]
pub async fn invite_in(
    ctx: &Ctx,
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_id: &PartnerId,
    email: &Email,
    name: &str,
    role: PartnerRole,
    message: Option<InvitationEmail>,
) -> Result<IssuedInvitation> {
    let exists = tx
        .fetch_optional(sql!(
            "SELECT 1 AS one FROM partner_users pu JOIN users u ON u.id = pu.user_id WHERE pu.workspace_id = $1 AND pu.partner_id = $2 AND u.email = $3",
            scope.workspace_id(),
            partner_id,
            email
        ))
        .await?;
    if exists.is_some() {
        return Err(Error::conflict("this person is already a user of the partner"));
    }
    invitations::issue(ctx, tx, scope, email, name, Offer::Partner { partner_id: partner_id.clone(), role }, message).await
}

/// The partner of `user_id` that the caller sees, for what its admins and the vendor's staff may
/// do about that person: the caller's own partner when the person is one of its users, else any
/// partner of the person the caller sees (404 when none: the person is not visible).
async fn partner_of_user(tx: &mut ScopedTx, scope: &Scope, user_id: &UserId) -> Result<PartnerId> {
    let rows = tx
        .fetch_all(sql!(
            "SELECT partner_id FROM partner_users WHERE workspace_id = $1 AND user_id = $2 ORDER BY partner_id LIMIT 50",
            scope.workspace_id(),
            user_id
        ))
        .await?;
    let mut visible = None;
    for row in rows {
        let partner_id: PartnerId = row.get("partner_id")?;
        if scope.partner().is_some_and(|(own, _)| own == &partner_id) {
            return Ok(partner_id);
        }
        if visible.is_none() && tx.can_see_partner(&partner_id).await? {
            visible = Some(partner_id);
        }
    }
    visible.ok_or(Error::NotFound)
}

/// A partner user's sign-in history (API.md "Identity": `GET /partner-users/{id}/sign-ins`): for
/// the admins of the person's partner and the vendor's owners and admins.
pub async fn sign_in_history(ctx: &Ctx, scope: &Scope, user_id: &UserId) -> Result<Vec<crate::sign_ins::SignIn>> {
    let mut tx = scope.read(ctx).await?;
    let partner_id = partner_of_user(&mut tx, scope, user_id).await?;
    match scope.partner() {
        Some((own, PartnerRole::Admin)) if own == &partner_id => {}
        Some(_) => return Err(Error::forbidden("only the partner's admins see its users' sign-ins")),
        None => scope.require_workspace_admin("see partner users' sign-ins")?,
    }
    crate::sign_ins::history_in(&mut tx, user_id).await
}

/// Ends every session in which a partner user can act in the workspace (their API keys are
/// the partner's and stay): for those who manage the partner's users. Audited. Answers how many
/// sessions ended.
pub async fn end_sessions(ctx: &Ctx, scope: &Scope, user_id: &UserId) -> Result<u64> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let partner_id = partner_of_user(&mut tx, scope, user_id).await?;
    require_user_manager(scope, &partner_id)?;
    // Sessions bound to no membership (a token of a person with several) are nobody's partner
    // rows, which row security would hide from a partner's transaction.
    let mut tx = tx.into_granted(&crate::auth::AUTHENTICATION).await?;
    let ended = crate::auth::end_sessions_acting_in(&mut tx, scope.workspace_id(), user_id).await?;
    audit::record(
        &mut tx,
        scope,
        now,
        AuditEntry::new("partner_user.sessions_ended", "user", user_id.as_str())
            .set("partner_id", partner_id.as_str())
            .set("sessions", ended),
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}
