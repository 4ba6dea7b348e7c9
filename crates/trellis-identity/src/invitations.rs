//! Invitations (API.md "Workspace staff"): an invitation offers a membership — a staff role in
//! the workspace, or a role in one partner organisation — to an email address.
//!
//! Inviting touches no account: the answer, the stored row and the email are the same whether or
//! not the address already has an account, so an inviter learns nothing about it. The membership
//! is created when the invitee accepts: with a new account and a password of their own, or —
//! for an address that already has an account — signed in as that account. Accepting never
//! changes an existing account's name or password, and a credential issued before keeps acting
//! as the membership it was issued for (see `auth`).

use trellis_core::{
    Email, Error, InvitationId, PartnerId, PartnerRole, PartnerScopeSetting, Result, Timestamp, UserId, VendorRole, WorkspaceId,
};
use trellis_db::{Row, Sql, SystemGrant, Tx, sql};
use trellis_jobs::{NewEmail, queue_email_with_secret};

use crate::audit::{self, AuditEntry};
use crate::auth::{self, MembershipInfo};
use crate::partner_users::{require_user_manager, require_visible_partner};
use crate::scope::{Scope, ScopedTx, SeenPartner};
use crate::secret::{random_token, sha256_hex};
use crate::{Ctx, password};

/// The invitee is not signed in yet, or acts for no membership: the link's token (or the
/// addressed user's own sign-in) is the credential.
pub const INVITATION_ACCEPTANCE: SystemGrant = SystemGrant {
    name: "invitation_acceptance",
    reason: "the invitee is not signed in yet, or acts for no membership; the link's token is the credential",
};

/// How long an invitation link stays valid.
const INVITATION_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// The membership an invitation offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    Staff { role: VendorRole, partner_scope: PartnerScopeSetting },
    Partner { partner_id: PartnerId, role: PartnerRole },
}

impl Offer {
    fn kind(&self) -> &'static str {
        match self {
            Offer::Staff { .. } => "staff",
            Offer::Partner { .. } => "partner",
        }
    }

    pub fn role(&self) -> &'static str {
        match self {
            Offer::Staff { role, .. } => role.as_str(),
            Offer::Partner { role, .. } => role.as_str(),
        }
    }

    pub fn partner_id(&self) -> Option<&PartnerId> {
        match self {
            Offer::Staff { .. } => None,
            Offer::Partner { partner_id, .. } => Some(partner_id),
        }
    }

    pub fn partner_scope(&self) -> Option<PartnerScopeSetting> {
        match self {
            Offer::Staff { partner_scope, .. } => Some(*partner_scope),
            Offer::Partner { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    /// Waiting for the invitee.
    Invited,
    Accepted,
    Declined,
    Cancelled,
    /// Not answered in time.
    Expired,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Invited => "invited",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Declined => "declined",
            InvitationStatus::Cancelled => "cancelled",
            InvitationStatus::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: InvitationId,
    pub email: Email,
    pub offer: Offer,
    pub status: InvitationStatus,
    pub invited_by: Option<UserId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A new invitation and the one-time token of its link (`/invitations/{token}`), which only the
/// answer that created it and the invitation email carry.
#[derive(Debug, Clone)]
pub struct IssuedInvitation {
    pub invitation: Invitation,
    pub token: String,
}

impl IssuedInvitation {
    /// The invitation's link under the server's public URL: the one place it is built, for the
    /// email, the API's `invitation_url` and the page showing it once.
    pub fn url(&self, ctx: &Ctx) -> String {
        ctx.link(&format!("/invitations/{}", self.token))
    }
}

/// What an invitation email says besides its link.
pub struct InvitationEmail {
    /// Names the email on the outbox page.
    pub kind: &'static str,
    pub subject: String,
    /// What the person is invited to, as a sentence.
    pub what: String,
}

const COLUMNS: &str = "id, email, kind, partner_id, role, partner_scope, status, invited_by, created_at, expires_at";

fn from_row(row: &Row, now: Timestamp) -> Result<Invitation> {
    let kind: String = row.get("kind")?;
    let role: String = row.get("role")?;
    let bad_role = || Error::Internal(format!("stored invitation role {role}"));
    let offer = if kind == "staff" {
        let scope: Option<String> = row.get("partner_scope")?;
        Offer::Staff {
            role: VendorRole::parse(&role).ok_or_else(bad_role)?,
            partner_scope: scope.as_deref().and_then(PartnerScopeSetting::parse).unwrap_or(PartnerScopeSetting::All),
        }
    } else {
        let partner_id: Option<PartnerId> = row.get("partner_id")?;
        Offer::Partner {
            partner_id: partner_id.ok_or_else(|| Error::Internal("partner invitation without partner".into()))?,
            role: PartnerRole::parse(&role).ok_or_else(bad_role)?,
        }
    };
    let expires_at: Timestamp = row.get("expires_at")?;
    let status: String = row.get("status")?;
    let status = match status.as_str() {
        "invited" if expires_at <= now => InvitationStatus::Expired,
        "invited" => InvitationStatus::Invited,
        "accepted" => InvitationStatus::Accepted,
        "declined" => InvitationStatus::Declined,
        "cancelled" => InvitationStatus::Cancelled,
        other => return Err(Error::Internal(format!("stored invitation status {other}"))),
    };
    Ok(Invitation {
        id: row.get("id")?,
        email: row.get("email")?,
        offer,
        status,
        invited_by: row.get("invited_by")?,
        created_at: row.get("created_at")?,
        expires_at,
    })
}

/// Issues an invitation inside the caller's transaction (the caller has checked who may invite).
/// A pending invitation of the same address to the same membership is replaced: sending again
/// is how a lost or expired link is renewed. With `email`, the link is emailed to the invitee;
/// without, the caller sends its own email (an approved application says more than an invitation).
pub(crate) async fn issue(
    ctx: &Ctx,
    tx: &mut Tx,
    scope: &Scope,
    to: &Email,
    name: &str,
    offer: Offer,
    email: Option<InvitationEmail>,
) -> Result<IssuedInvitation> {
    let now = ctx.now();
    let workspace_id = scope.workspace_id();
    let replaced = tx
        .fetch_all(sql!(
            "UPDATE invitations SET status = 'cancelled', decided_at = $5
             WHERE workspace_id = $1 AND email = $2 AND kind = $3 AND COALESCE(partner_id, '') = $4 AND status = 'invited'
             RETURNING id",
            workspace_id,
            to,
            offer.kind(),
            offer.partner_id().map_or("", PartnerId::as_str),
            now
        ))
        .await?
        .iter()
        .map(|row| row.get::<String>("id"))
        .collect::<Result<Vec<_>, _>>()?;
    let id = InvitationId::generate();
    let token = random_token(43);
    let expires_at = now.plus_seconds(INVITATION_TTL_SECONDS);
    tx.execute(sql!(
        "INSERT INTO invitations (workspace_id, id, token_hash, email, kind, partner_id, role, partner_scope, name, invited_by, status, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'invited', $11, $12)",
        workspace_id, id, sha256_hex(&token), to, offer.kind(), offer.partner_id().cloned(), offer.role(),
        offer.partner_scope().map(PartnerScopeSetting::as_str), name, scope.user_id().cloned(), now, expires_at
    ))
    .await?;
    let issued = IssuedInvitation {
        invitation: Invitation {
            id: id.clone(),
            email: to.clone(),
            offer: offer.clone(),
            status: InvitationStatus::Invited,
            invited_by: scope.user_id().cloned(),
            created_at: now,
            expires_at,
        },
        token,
    };
    if let Some(InvitationEmail { kind, subject, what }) = email {
        let link = issued.url(ctx);
        // One text for every invitee: whether the address has an account shows nowhere.
        let text = format!(
            "Hello,\n\n{what}\n\nOpen this link to accept. It works once, within 7 days:\n{link}\n\nNew to Trellis? You choose a password there. Already have a Trellis account with this address? Sign in there to accept; your account stays as it is.\n\nIf you did not expect this email, you can ignore it or decline the invitation behind the link."
        );
        queue_email_with_secret(
            tx,
            workspace_id,
            NewEmail::from_text(kind, to.clone(), subject, text).caused_by(scope.user_id()),
            &link,
            now,
        )
        .await?;
    }
    let action = match offer {
        Offer::Staff { .. } => "member.invited",
        Offer::Partner { .. } => "partner_user.invited",
    };
    let mut entry = AuditEntry::new(action, "invitation", id.as_str())
        .set("email", to.as_str())
        .set("role", offer.role())
        .set("partner_id", serde_json::json!(offer.partner_id()))
        .set("partner_scope", serde_json::json!(offer.partner_scope().map(PartnerScopeSetting::as_str)));
    if !replaced.is_empty() {
        entry = entry.set("replaces", serde_json::json!(replaced));
    }
    audit::record(tx, scope, now, entry).await?;
    Ok(issued)
}

/// What the page behind an invitation link shows before it is answered.
#[derive(Debug, Clone)]
pub struct PendingInvitation {
    pub email: Email,
    /// The inviting workspace (its page carries the workspace's branding).
    pub workspace_id: WorkspaceId,
    pub workspace_name: String,
    /// The partner organisation offered, for a partner-user invitation.
    pub partner_name: Option<String>,
    pub role: String,
    pub expires_at: Timestamp,
    /// The name the inviter gave (an approved applicant's contact name): the new-account form
    /// starts with it, so the invitee is not asked again for what they already told.
    pub name: String,
}

/// Looks up a pending, unexpired invitation by its token (system context: the invitee need not
/// be signed in; the token is the credential).
pub async fn find(ctx: &Ctx, token: &str) -> Result<PendingInvitation> {
    let mut tx = ctx.db.read_granted(&INVITATION_ACCEPTANCE).await?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT i.email, i.workspace_id, i.role, i.expires_at, i.name, w.name AS workspace_name, p.name AS partner_name FROM invitations i
             JOIN workspaces w ON w.id = i.workspace_id
             LEFT JOIN partners p ON p.workspace_id = i.workspace_id AND p.id = i.partner_id
             WHERE i.token_hash = $1 AND i.status = 'invited' AND i.expires_at > $2",
            sha256_hex(token),
            ctx.now()
        ))
        .await?
        .ok_or(Error::NotFound)?;
    Ok(PendingInvitation {
        email: row.get("email")?,
        workspace_id: row.get("workspace_id")?,
        workspace_name: row.get("workspace_name")?,
        partner_name: row.get("partner_name")?,
        role: row.get::<String>("role")?.replace('_', " "),
        expires_at: row.get("expires_at")?,
        name: row.get("name")?,
    })
}

/// Who accepts an invitation.
pub enum Acceptor<'a> {
    /// A signed-in account (its own credential); its address must be the invited one.
    Account { user_id: &'a UserId },
    /// Someone without an account: a new one is made with this password (and name).
    NewAccount { name: Option<&'a str>, password: &'a str },
}

/// An accepted invitation: the account and the membership it now has.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub user_id: UserId,
    pub membership: MembershipInfo,
}

/// How an invitee names the invitation they answer.
enum Named<'a> {
    /// The token of the link (the link is the credential).
    Token(&'a str),
    /// Its id, by the signed-in account it is addressed to (listed after signing in).
    Addressed { id: &'a InvitationId, user_id: &'a UserId },
}

impl Named<'_> {
    /// `WHERE` of the pending invitation named, starting after `WHERE `.
    fn push_filter(&self, q: &mut Sql, now: Timestamp) {
        match self {
            Named::Token(token) => q.push("token_hash = ").push_bind(sha256_hex(token)),
            Named::Addressed { id, user_id } => {
                q.push("email = (SELECT email FROM users WHERE id = ").push_bind(*user_id).push(") AND id = ").push_bind(*id)
            }
        };
        q.push(" AND status = 'invited' AND expires_at > ").push_bind(now);
    }
}

/// Accepts an invitation, once: the membership is created now.
pub async fn accept(ctx: &Ctx, token: &str, acceptor: Acceptor<'_>) -> Result<Accepted> {
    accept_named(ctx, Named::Token(token), acceptor).await
}

/// Accepts an invitation addressed to the signed-in account, named by its id (from
/// [`addressed_to`]): the account's own session is the proof, no link needed.
pub async fn accept_addressed(ctx: &Ctx, user_id: &UserId, id: &InvitationId) -> Result<Accepted> {
    accept_named(ctx, Named::Addressed { id, user_id }, Acceptor::Account { user_id }).await
}

async fn accept_named(ctx: &Ctx, named: Named<'_>, acceptor: Acceptor<'_>) -> Result<Accepted> {
    let hash = match &acceptor {
        Acceptor::NewAccount { password: text, .. } => {
            // Its strength is checked before hashing (outside the transaction); against the
            // invited address and the name once the invitation is read and the account is new.
            password::check_new_password(text, &[])?;
            Some(password::hash_password((*text).to_owned()).await?)
        }
        Acceptor::Account { .. } => None,
    };
    let now = ctx.now();
    let mut tx = ctx.db.write_granted(&INVITATION_ACCEPTANCE).await?;
    let mut q = Sql::build("SELECT workspace_id, name, ");
    q.push(COLUMNS).push(" FROM invitations WHERE ");
    named.push_filter(&mut q, now);
    let row = tx.fetch_optional(q).await?.ok_or(Error::NotFound)?;
    let workspace_id: WorkspaceId = row.get("workspace_id")?;
    let invited_name: String = row.get("name")?;
    let invitation = from_row(&row, now)?;
    let existing = tx.fetch_optional(sql!("SELECT id FROM users WHERE email = $1", invitation.email)).await?;
    let user_id = match (&acceptor, existing) {
        (Acceptor::Account { user_id }, Some(row)) if row.get::<UserId>("id")? == **user_id => (*user_id).clone(),
        // Named by id, an invitation addressed to someone else is not theirs to see.
        (Acceptor::Account { .. }, _) if matches!(named, Named::Addressed { .. }) => return Err(Error::NotFound),
        (Acceptor::Account { .. }, _) => {
            return Err(Error::forbidden("this invitation is for another email address: sign in as that address to accept it"));
        }
        (Acceptor::NewAccount { .. }, Some(_)) => {
            return Err(Error::conflict("an account with this email address exists: sign in to accept the invitation"));
        }
        (Acceptor::NewAccount { name, password: text }, None) => {
            let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(&invited_name);
            password::check_new_password(text, &[invitation.email.as_str(), name])?;
            let id = UserId::generate();
            tx.execute(sql!(
                "INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                id,
                invitation.email,
                name.chars().take(200).collect::<String>(),
                hash,
                now
            ))
            .await?;
            id
        }
    };
    // Claimed with its status, so that two concurrent acceptances of one link cannot both succeed.
    let claimed = tx
        .execute(sql!(
            "UPDATE invitations SET status = 'accepted', user_id = $3, decided_at = $4 WHERE workspace_id = $1 AND id = $2 AND status = 'invited'",
            workspace_id,
            invitation.id,
            user_id,
            now
        ))
        .await?;
    if claimed == 0 {
        return Err(Error::NotFound);
    }
    let scope = Scope::system(workspace_id.clone(), &INVITATION_ACCEPTANCE);
    let entry = match &invitation.offer {
        Offer::Staff { role, partner_scope } => {
            let added = tx.execute(sql!(
                "INSERT INTO members (workspace_id, user_id, role, partner_scope, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                workspace_id,
                user_id,
                role.as_str(),
                partner_scope.as_str(),
                now
            ))
            .await?;
            // Already a member (two invitations, both accepted): the membership stays as it is.
            let action = if added == 0 { "invitation.accepted" } else { "member.added" };
            AuditEntry::new(action, "user", user_id.as_str())
                .set("email", invitation.email.as_str())
                .set("role", role.as_str())
                .set("partner_scope", partner_scope.as_str())
        }
        Offer::Partner { partner_id, role } => {
            let added = tx.execute(sql!(
                "INSERT INTO partner_users (workspace_id, partner_id, user_id, role, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                workspace_id,
                partner_id,
                user_id,
                role.as_str(),
                now
            ))
            .await?;
            let action = if added == 0 { "invitation.accepted" } else { "partner_user.added" };
            AuditEntry::new(action, "user", user_id.as_str())
                .set("email", invitation.email.as_str())
                .set("partner_id", partner_id.as_str())
                .set("role", role.as_str())
        }
    };
    audit::record(&mut tx, &scope, now, entry.set("invitation_id", invitation.id.as_str())).await?;
    let membership = auth::memberships(&mut tx, &user_id)
        .await?
        .into_iter()
        .find(|m| m.workspace_id == workspace_id && m.partner_id.as_ref() == invitation.offer.partner_id())
        .ok_or_else(|| Error::Internal("accepted membership not found".into()))?;
    tx.commit().await?;
    Ok(Accepted { user_id, membership })
}

/// Declines an invitation (the token is the credential: an invitee needs no account to say no).
pub async fn decline(ctx: &Ctx, token: &str) -> Result<()> {
    decline_named(ctx, Named::Token(token)).await
}

/// Declines an invitation addressed to the signed-in account, named by its id.
pub async fn decline_addressed(ctx: &Ctx, user_id: &UserId, id: &InvitationId) -> Result<()> {
    decline_named(ctx, Named::Addressed { id, user_id }).await
}

async fn decline_named(ctx: &Ctx, named: Named<'_>) -> Result<()> {
    let now = ctx.now();
    let mut tx = ctx.db.write_granted(&INVITATION_ACCEPTANCE).await?;
    let mut q = Sql::build("UPDATE invitations SET status = 'declined', decided_at = ");
    q.push_bind(now).push(" WHERE ");
    named.push_filter(&mut q, now);
    q.push(" RETURNING workspace_id, id, email");
    let row = tx.fetch_optional(q).await?.ok_or(Error::NotFound)?;
    let workspace_id: WorkspaceId = row.get("workspace_id")?;
    let id: String = row.get("id")?;
    let email: String = row.get("email")?;
    audit::record(
        &mut tx,
        &Scope::system(workspace_id, &INVITATION_ACCEPTANCE),
        now,
        AuditEntry::new("invitation.declined", "invitation", id).set("email", email),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A pending invitation addressed to a signed-in account, with what it offers in words.
#[derive(Debug, Clone)]
pub struct Addressed {
    pub invitation: Invitation,
    pub workspace_name: String,
    pub partner_name: Option<String>,
}

/// The pending invitations addressed to an account's email, newest first: a person signing in
/// sees what they were invited to and answers there (their own, so system context).
pub async fn addressed_to(ctx: &Ctx, user_id: &UserId) -> Result<Vec<Addressed>> {
    let now = ctx.now();
    let mut tx = ctx.db.read_granted(&INVITATION_ACCEPTANCE).await?;
    let rows = tx
        .fetch_all(sql!(
            "SELECT i.id, i.email, i.kind, i.partner_id, i.role, i.partner_scope, i.status, i.invited_by, i.created_at, i.expires_at,
                    w.name AS workspace_name, p.name AS partner_name
             FROM invitations i JOIN users u ON u.email = i.email
             JOIN workspaces w ON w.id = i.workspace_id
             LEFT JOIN partners p ON p.workspace_id = i.workspace_id AND p.id = i.partner_id
             WHERE u.id = $1 AND i.status = 'invited' AND i.expires_at > $2 ORDER BY i.id DESC",
            user_id,
            now
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Addressed {
                invitation: from_row(row, now)?,
                workspace_name: row.get("workspace_name")?,
                partner_name: row.get("partner_name")?,
            })
        })
        .collect()
}

/// Pending staff invitations of the workspace, newest first (owner/admin).
pub async fn list_staff(ctx: &Ctx, scope: &Scope) -> Result<Vec<Invitation>> {
    scope.require_workspace_admin("see staff invitations")?;
    let now = ctx.now();
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM invitations WHERE workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND kind = 'staff' AND status = 'invited' AND expires_at > ").push_bind(now).push(" ORDER BY id DESC");
    let mut tx = ctx.db.read_granted(&crate::members::STAFF_RECORDS).await?;
    tx.fetch_all(q).await?.iter().map(|row| from_row(row, now)).collect()
}

/// Pending invitations to one partner organisation, newest first (who manages its users).
pub async fn list_for_partner(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<Invitation>> {
    let mut tx = scope.read(ctx).await?;
    let seen = tx.see_partner(partner_id).await?;
    list_for_partner_in(&mut tx, scope, &seen, ctx.now()).await
}

/// [`list_for_partner`] of a partner already checked in the caller's transaction.
pub async fn list_for_partner_in(tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner, now: Timestamp) -> Result<Vec<Invitation>> {
    let partner_id = tx.seen(seen)?;
    require_user_manager(scope, partner_id)?;
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM invitations WHERE workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND kind = 'partner' AND partner_id = ").push_bind(partner_id);
    q.push(" AND status = 'invited' AND expires_at > ").push_bind(now).push(" ORDER BY id DESC");
    tx.fetch_all(q).await?.iter().map(|row| from_row(row, now)).collect()
}

/// Cancels a pending invitation: its link stops working at once. A staff invitation is the
/// owners' and admins'; a partner-user invitation is for whoever manages that partner's users
/// (an invitation to a partner the caller cannot see is 404, like a missing one).
pub async fn cancel(ctx: &Ctx, scope: &Scope, id: &InvitationId) -> Result<()> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM invitations WHERE workspace_id = ").push_bind(scope.workspace_id()).push(" AND id = ").push_bind(id);
    let invitation = from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?, now)?;
    match &invitation.offer {
        Offer::Staff { .. } => {
            if scope.vendor_role().is_none() && !scope.is_system() {
                return Err(Error::NotFound);
            }
            scope.require_workspace_admin("cancel staff invitations")?;
        }
        Offer::Partner { partner_id, .. } => {
            require_visible_partner(&mut tx, scope, partner_id).await?;
            require_user_manager(scope, partner_id)?;
        }
    }
    if invitation.status != InvitationStatus::Invited {
        return Err(Error::conflict(format!("the invitation is {} and can no longer be cancelled", invitation.status.as_str())));
    }
    tx.execute(sql!(
        "UPDATE invitations SET status = 'cancelled', decided_at = $3 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        id,
        now
    ))
    .await?;
    audit::record(
        &mut tx,
        scope,
        now,
        AuditEntry::new("invitation.cancelled", "invitation", id.as_str()).set("email", invitation.email.as_str()),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The users of a partner plus its pending invitations: "invite colleagues" is done once someone
/// was invited, before they answer. The caller has checked that the partner is visible.
pub async fn count_users_and_pending(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId, now: Timestamp) -> Result<i64> {
    Ok(tx
        .fetch_i64(sql!(
            "SELECT (SELECT COUNT(*) FROM partner_users WHERE workspace_id = $1 AND partner_id = $2)
                  + (SELECT COUNT(*) FROM invitations WHERE workspace_id = $1 AND partner_id = $2 AND status = 'invited' AND expires_at > $3) AS n",
            scope.workspace_id(),
            partner_id,
            now
        ))
        .await?)
}
