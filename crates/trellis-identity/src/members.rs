//! Vendor staff (API.md "Workspace staff") and invitations to set a password.

use trellis_core::{Email, Error, InvitationId, PartnerScopeSetting, Result, Timestamp, UserId, Validation, VendorRole, WorkspaceId};
use trellis_db::{RowSecurity, Tx, sql};

use crate::audit::{self, AuditEntry};
use crate::outbox::{self, NewEmail};
use crate::scope::Scope;
use crate::secret::{random_token, sha256_hex};
use crate::{Ctx, api_keys, password, workspaces};

/// How long an invitation link stays valid.
const INVITATION_TTL_SECONDS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Member {
    pub user_id: UserId,
    pub email: Email,
    pub name: String,
    pub role: VendorRole,
    pub partner_scope: PartnerScopeSetting,
    pub created_at: Timestamp,
}

/// A one-time invitation; `token` goes into the URL `/invitations/{token}`.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: InvitationId,
    pub token: String,
}

impl Invitation {
    pub fn path(&self) -> String {
        format!("/invitations/{}", self.token)
    }
}

/// What an invitation email says besides its link.
pub(crate) struct InvitationEmail {
    /// Names the email on the outbox page.
    pub kind: &'static str,
    pub subject: String,
    /// What the person was added to, as a sentence.
    pub what: String,
}

/// Queues the email that carries an invitation link, in the transaction that creates it.
pub(crate) async fn queue_invitation_email(
    ctx: &Ctx,
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    invitation: &Invitation,
    to: &Email,
    email: InvitationEmail,
) -> Result<()> {
    let InvitationEmail { kind, subject, what } = email;
    let link = ctx.link(&invitation.path());
    let text = format!(
        "Hello,\n\n{what}\n\nOpen this link to set your password and sign in. It works once, within 7 days:\n{link}\n\nIf you already have a Trellis password, the link simply adds the invitation to your account.\n\nIf you did not expect this email, you can ignore it."
    );
    outbox::queue_email_with_secret(tx, workspace_id, NewEmail::from_text(kind, to.clone(), subject, text), &link, ctx.now()).await?;
    Ok(())
}

/// The display name of a workspace.
pub(crate) async fn workspace_name(tx: &mut Tx, workspace_id: &WorkspaceId) -> Result<String> {
    Ok(tx.fetch_one(sql!("SELECT name FROM workspaces WHERE id = $1", workspace_id)).await?.get("name")?)
}

pub(crate) async fn create_invitation(tx: &mut Tx, workspace_id: &WorkspaceId, user_id: &UserId, now: Timestamp) -> Result<Invitation> {
    let id = InvitationId::generate();
    let token = random_token(43);
    tx.execute(sql!(
        "INSERT INTO invitations (token_hash, id, user_id, workspace_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        sha256_hex(&token),
        id,
        user_id,
        workspace_id,
        now,
        now.plus_seconds(INVITATION_TTL_SECONDS)
    ))
    .await?;
    Ok(Invitation { id, token })
}

/// What an invitation link shows before it is accepted.
#[derive(Debug, Clone)]
pub struct PendingInvitation {
    pub email: Email,
    pub workspace_name: String,
    /// False when the person already has a password (they just sign in).
    pub needs_password: bool,
}

/// Looks up an unused, unexpired invitation (system context: the invitee is not signed in).
pub async fn find_invitation(ctx: &Ctx, token: &str) -> Result<PendingInvitation> {
    let mut tx = ctx.db.read(&RowSecurity::Unrestricted).await?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT u.email, u.password_hash, w.name FROM invitations i JOIN users u ON u.id = i.user_id JOIN workspaces w ON w.id = i.workspace_id
             WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.expires_at > $2",
            sha256_hex(token), ctx.now()
        ))
        .await?
        .ok_or(Error::NotFound)?;
    let hash: Option<String> = row.get("password_hash")?;
    Ok(PendingInvitation { email: row.get("email")?, workspace_name: row.get("name")?, needs_password: hash.is_none() })
}

/// Accepts an invitation: sets the password (and name) of a person who has none yet. Single use.
pub async fn accept_invitation(ctx: &Ctx, token: &str, name: Option<&str>, new_password: &str) -> Result<UserId> {
    let pending = find_invitation(ctx, token).await?;
    if pending.needs_password {
        password::check_new_password(new_password)?;
    }
    let hash = if pending.needs_password { Some(password::hash_password(new_password.to_owned()).await?) } else { None };
    let now = ctx.now();
    let mut tx = ctx.db.write(&RowSecurity::Unrestricted).await?;
    let row = tx
        .fetch_optional(sql!(
            "UPDATE invitations SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id, workspace_id",
            sha256_hex(token), now
        ))
        .await?
        .ok_or(Error::NotFound)?;
    let user_id: UserId = row.get("user_id")?;
    let workspace_id: WorkspaceId = row.get("workspace_id")?;
    if let Some(hash) = hash {
        tx.execute(sql!(
            "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1 AND password_hash IS NULL",
            user_id,
            hash,
            now
        ))
        .await?;
    }
    if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) {
        tx.execute(sql!(
            "UPDATE users SET name = $2, updated_at = $3 WHERE id = $1",
            user_id,
            name.chars().take(200).collect::<String>(),
            now
        ))
        .await?;
    }
    let scope = Scope::system(workspace_id);
    audit::record(&mut tx, &scope, now, AuditEntry::new("invitation.accepted", "user", user_id.as_str())).await?;
    tx.commit().await?;
    Ok(user_id)
}

fn parse_role(role: VendorRole) -> Result<VendorRole> {
    if role == VendorRole::Owner {
        return Err(Error::invalid(
            "role",
            "must be \"admin\", \"channel_manager\", \"finance\" or \"viewer\"; ownership is transferred by the owner",
        ));
    }
    Ok(role)
}

/// Adds a staff member (owner/admin) and returns the invitation to set a password.
pub async fn add(
    ctx: &Ctx,
    scope: &Scope,
    email: &str,
    name: Option<&str>,
    role: VendorRole,
    partner_scope: Option<PartnerScopeSetting>,
) -> Result<(Member, Invitation)> {
    scope.require_workspace_admin("add staff")?;
    let mut v = Validation::new();
    let email = v.check("email", Email::parse(email));
    let name = v.optional_text("name", name, 200).flatten();
    let role = v.check("role", parse_role(role).map_err(|_| "must be \"admin\", \"channel_manager\", \"finance\" or \"viewer\""));
    v.finish().map_err(Error::Validation)?;
    let (Some(email), Some(role)) = (email, role) else { return Err(Error::Internal("validated".into())) };
    let partner_scope = partner_scope.unwrap_or(PartnerScopeSetting::All);
    let now = ctx.now();
    let mut tx = ctx.db.write(&RowSecurity::Unrestricted).await?;
    let user_id = workspaces::ensure_user(&mut tx, &email, name.as_deref().unwrap_or(""), None, now).await?;
    let exists = tx
        .fetch_optional(sql!("SELECT 1 AS one FROM members WHERE workspace_id = $1 AND user_id = $2", scope.workspace_id(), user_id))
        .await?;
    if exists.is_some() {
        return Err(Error::conflict("this person is already a member of the workspace"));
    }
    tx.execute(sql!(
        "INSERT INTO members (workspace_id, user_id, role, partner_scope, created_at) VALUES ($1, $2, $3, $4, $5)",
        scope.workspace_id(),
        user_id,
        role.as_str(),
        partner_scope.as_str(),
        now
    ))
    .await?;
    let invitation = create_invitation(&mut tx, scope.workspace_id(), &user_id, now).await?;
    let workspace = workspace_name(&mut tx, scope.workspace_id()).await?;
    queue_invitation_email(
        ctx,
        &mut tx,
        scope.workspace_id(),
        &invitation,
        &email,
        InvitationEmail {
            kind: "staff_invitation",
            subject: format!("You are invited to {workspace} on Trellis"),
            what: format!("You have been added to the staff of {workspace} on Trellis, with the role {}.", role.as_str().replace('_', " ")),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        scope,
        now,
        AuditEntry::new("member.added", "user", user_id.as_str())
            .set("email", email.as_str())
            .set("role", role.as_str())
            .set("partner_scope", partner_scope.as_str()),
    )
    .await?;
    let member = fetch(&mut tx, scope.workspace_id(), &user_id).await?;
    tx.commit().await?;
    Ok((member, invitation))
}

async fn fetch(tx: &mut Tx, workspace_id: &WorkspaceId, user_id: &UserId) -> Result<Member> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT m.user_id, u.email, u.name, m.role, m.partner_scope, m.created_at FROM members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND m.user_id = $2",
            workspace_id, user_id
        ))
        .await?
        .ok_or(Error::NotFound)?;
    member_from_row(&row)
}

fn member_from_row(row: &trellis_db::Row) -> Result<Member> {
    let role: String = row.get("role")?;
    let partner_scope: String = row.get("partner_scope")?;
    Ok(Member {
        user_id: row.get("user_id")?,
        email: row.get("email")?,
        name: row.get("name")?,
        role: VendorRole::parse(&role).ok_or_else(|| Error::Internal(format!("stored role {role}")))?,
        partner_scope: PartnerScopeSetting::parse(&partner_scope).unwrap_or(PartnerScopeSetting::All),
        created_at: row.get("created_at")?,
    })
}

/// Every staff member (any staff role may read the list).
pub async fn list(ctx: &Ctx, scope: &Scope) -> Result<Vec<Member>> {
    if scope.vendor_role().is_none() && !scope.is_system() {
        return Err(Error::forbidden("only workspace staff see the staff list"));
    }
    let mut tx = ctx.db.read(&RowSecurity::Unrestricted).await?;
    let rows = tx
        .fetch_all(sql!(
            "SELECT m.user_id, u.email, u.name, m.role, m.partner_scope, m.created_at FROM members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 ORDER BY u.email",
            scope.workspace_id()
        ))
        .await?;
    rows.iter().map(member_from_row).collect()
}

/// One staff member.
pub async fn get(ctx: &Ctx, scope: &Scope, user_id: &UserId) -> Result<Member> {
    if scope.vendor_role().is_none() && !scope.is_system() {
        return Err(Error::NotFound);
    }
    let mut tx = ctx.db.read(&RowSecurity::Unrestricted).await?;
    fetch(&mut tx, scope.workspace_id(), user_id).await
}

/// Changes a member's role or partner scope (owner/admin; only an owner touches owners).
pub async fn update(
    ctx: &Ctx,
    scope: &Scope,
    user_id: &UserId,
    role: Option<VendorRole>,
    partner_scope: Option<PartnerScopeSetting>,
) -> Result<Member> {
    if scope.vendor_role().is_none() && !scope.is_system() {
        return Err(Error::NotFound);
    }
    let now = ctx.now();
    let mut tx = ctx.db.write(&RowSecurity::Unrestricted).await?;
    let before = fetch(&mut tx, scope.workspace_id(), user_id).await?;
    scope.require_workspace_admin("change staff roles")?;
    let touches_owner = before.role == VendorRole::Owner || role == Some(VendorRole::Owner);
    if touches_owner && !scope.has_vendor_role(&[VendorRole::Owner]) {
        return Err(Error::forbidden("only an owner may grant or change ownership"));
    }
    if before.role == VendorRole::Owner && role.is_some_and(|r| r != VendorRole::Owner) {
        require_another_owner(&mut tx, scope.workspace_id(), user_id).await?;
    }
    let new_role = role.unwrap_or(before.role);
    let new_scope = partner_scope.unwrap_or(before.partner_scope);
    tx.execute(sql!(
        "UPDATE members SET role = $3, partner_scope = $4 WHERE workspace_id = $1 AND user_id = $2",
        scope.workspace_id(),
        user_id,
        new_role.as_str(),
        new_scope.as_str()
    ))
    .await?;
    audit::record(
        &mut tx,
        scope,
        now,
        AuditEntry::new("member.updated", "user", user_id.as_str()).change("role", before.role.as_str(), new_role.as_str()).change(
            "partner_scope",
            before.partner_scope.as_str(),
            new_scope.as_str(),
        ),
    )
    .await?;
    let member = fetch(&mut tx, scope.workspace_id(), user_id).await?;
    tx.commit().await?;
    Ok(member)
}

/// Removes a member: their keys in this workspace are revoked and their sessions end at once.
pub async fn remove(ctx: &Ctx, scope: &Scope, user_id: &UserId) -> Result<()> {
    if scope.vendor_role().is_none() && !scope.is_system() {
        return Err(Error::NotFound);
    }
    let now = ctx.now();
    let mut tx = ctx.db.write(&RowSecurity::Unrestricted).await?;
    let before = fetch(&mut tx, scope.workspace_id(), user_id).await?;
    scope.require_workspace_admin("remove staff")?;
    if before.role == VendorRole::Owner {
        if !scope.has_vendor_role(&[VendorRole::Owner]) {
            return Err(Error::forbidden("only an owner may remove an owner"));
        }
        require_another_owner(&mut tx, scope.workspace_id(), user_id).await?;
    }
    tx.execute(sql!("DELETE FROM members WHERE workspace_id = $1 AND user_id = $2", scope.workspace_id(), user_id)).await?;
    tx.execute(sql!(
        "UPDATE partners SET manager_user_id = NULL WHERE workspace_id = $1 AND manager_user_id = $2",
        scope.workspace_id(),
        user_id
    ))
    .await?;
    let keys = api_keys::revoke_all_of_member(&mut tx, scope.workspace_id(), user_id, now).await?;
    crate::auth::end_sessions_in_workspace(&mut tx, scope.workspace_id(), user_id).await?;
    audit::record(
        &mut tx,
        scope,
        now,
        AuditEntry::new("member.removed", "user", user_id.as_str())
            .change("role", before.role.as_str(), serde_json::Value::Null)
            .set("api_keys_revoked", keys),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn require_another_owner(tx: &mut Tx, workspace_id: &WorkspaceId, user_id: &UserId) -> Result<()> {
    let others = tx
        .fetch_i64(sql!(
            "SELECT COUNT(*) AS n FROM members WHERE workspace_id = $1 AND role = 'owner' AND user_id <> $2",
            workspace_id,
            user_id
        ))
        .await?;
    if others == 0 { Err(Error::conflict("the workspace must keep at least one owner")) } else { Ok(()) }
}
