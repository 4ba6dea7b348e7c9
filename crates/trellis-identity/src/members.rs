//! Vendor staff (API.md "Workspace staff"). People join through [`crate::invitations`].

use trellis_core::{Email, Error, PartnerScopeSetting, Result, Timestamp, UserId, Validation, VendorRole, WorkspaceId};
use trellis_db::{SystemGrant, Tx, sql};

use crate::audit::{self, AuditEntry};
use crate::invitations::{self, InvitationEmail, IssuedInvitation, Offer};
use crate::scope::Scope;
use crate::{Ctx, api_keys};

/// Staff rows and staff invitations are not partner-owned; the callers check owner/admin.
pub const STAFF_RECORDS: SystemGrant = SystemGrant {
    name: "staff_records",
    reason: "staff memberships and staff invitations are not partner-owned (owner/admin, checked by the caller)",
};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Member {
    pub user_id: UserId,
    pub email: Email,
    pub name: String,
    pub role: VendorRole,
    pub partner_scope: PartnerScopeSetting,
    pub created_at: Timestamp,
}

/// The display name of a workspace.
pub(crate) async fn workspace_name(tx: &mut Tx, workspace_id: &WorkspaceId) -> Result<String> {
    Ok(tx.fetch_one(sql!("SELECT name FROM workspaces WHERE id = $1", workspace_id)).await?.get("name")?)
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

/// Invites a staff member (owner/admin). The membership takes effect when the invitee accepts;
/// until then nothing about the address's account (if any) is read or changed.
pub async fn add(
    ctx: &Ctx,
    scope: &Scope,
    email: &str,
    name: Option<&str>,
    role: VendorRole,
    partner_scope: Option<PartnerScopeSetting>,
) -> Result<IssuedInvitation> {
    scope.require_workspace_admin("add staff")?;
    let mut v = Validation::new();
    let email = v.check("email", Email::parse(email));
    let name = v.optional_text("name", name, 200).flatten();
    let role = v.check("role", parse_role(role).map_err(|_| "must be \"admin\", \"channel_manager\", \"finance\" or \"viewer\""));
    v.finish().map_err(Error::Validation)?;
    let (Some(email), Some(role)) = (email, role) else { return Err(Error::Internal("validated".into())) };
    let partner_scope = partner_scope.unwrap_or(PartnerScopeSetting::All);
    let mut tx = scope.write_granted(ctx, &STAFF_RECORDS).await?;
    // The staff list shows every member to the inviter already: saying so reveals nothing new.
    let exists = tx
        .fetch_optional(sql!(
            "SELECT 1 AS one FROM members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND u.email = $2",
            scope.workspace_id(),
            email
        ))
        .await?;
    if exists.is_some() {
        return Err(Error::conflict("this person is already a member of the workspace"));
    }
    let workspace = workspace_name(&mut tx, scope.workspace_id()).await?;
    let message = InvitationEmail {
        kind: "staff_invitation",
        subject: format!("You are invited to {workspace} on Trellis"),
        what: format!("You are invited to join the staff of {workspace} on Trellis, with the role {}.", role.as_str().replace('_', " ")),
    };
    let offer = Offer::Staff { role, partner_scope };
    let issued = invitations::issue(ctx, &mut tx, scope, &email, name.as_deref().unwrap_or(""), offer, Some(message)).await?;
    tx.commit().await?;
    Ok(issued)
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
    let mut tx = ctx.db.read_granted(&STAFF_RECORDS).await?;
    list_in(&mut tx, scope).await
}

/// [`list`] inside a transaction the caller has open (a page that reads in one transaction):
/// staff memberships are vendor rows, which row security does not restrict for staff.
pub async fn list_in(tx: &mut Tx, scope: &Scope) -> Result<Vec<Member>> {
    if scope.vendor_role().is_none() && !scope.is_system() {
        return Err(Error::forbidden("only workspace staff see the staff list"));
    }
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
    let mut tx = ctx.db.read_granted(&STAFF_RECORDS).await?;
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
    if role.is_some() {
        scope.require_recent_sign_in(now)?;
    }
    let mut tx = scope.write_granted(ctx, &STAFF_RECORDS).await?;
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
    let mut tx = scope.write_granted(ctx, &STAFF_RECORDS).await?;
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

/// A staff member's sign-in history (API.md "Identity": `GET /members/{id}/sign-ins`): owners
/// and admins.
pub async fn sign_in_history(ctx: &Ctx, scope: &Scope, user_id: &UserId) -> Result<Vec<crate::sign_ins::SignIn>> {
    if scope.vendor_role().is_none() {
        return Err(Error::NotFound);
    }
    let mut tx = scope.write_granted(ctx, &STAFF_RECORDS).await?;
    fetch(&mut tx, scope.workspace_id(), user_id).await?;
    scope.require_workspace_admin("see staff sign-ins")?;
    crate::sign_ins::history_in(&mut tx, user_id).await
}

/// Ends every session in which a staff member can act in the workspace (owner/admin), audited.
/// Their API keys stay (revoked one by one, or by removing the member). Answers how many ended.
pub async fn end_sessions(ctx: &Ctx, scope: &Scope, user_id: &UserId) -> Result<u64> {
    if scope.vendor_role().is_none() {
        return Err(Error::NotFound);
    }
    let now = ctx.now();
    let mut tx = scope.write_granted(ctx, &STAFF_RECORDS).await?;
    fetch(&mut tx, scope.workspace_id(), user_id).await?;
    scope.require_workspace_admin("end staff sessions")?;
    let ended = crate::auth::end_sessions_acting_in(&mut tx, scope.workspace_id(), user_id).await?;
    audit::record(&mut tx, scope, now, AuditEntry::new("member.sessions_ended", "user", user_id.as_str()).set("sessions", ended)).await?;
    tx.commit().await?;
    Ok(ended)
}
