//! API keys (API.md "Conventions"): `trl_` + 40 random characters, stored as SHA-256 only, shown
//! once. A workspace key acts as the staff member who owns it, with that member's current role; a
//! partner key acts as one partner organisation with the role it was given. Revocation takes
//! effect on the next request because every request looks the key up.

use trellis_core::{ApiKeyId, Error, Page, PartnerId, PartnerRole, Result, Timestamp, UserId, Validation, VendorRole, WorkspaceId, page};
use trellis_db::{Row, Sql, Tx, sql};

use crate::Ctx;
use crate::audit::{self, AuditEntry};
use crate::scope::{Membership, Scope, ScopedTx, SeenPartner};
use crate::secret::{random_token, sha256_hex};

pub const KEY_PREFIX: &str = "trl_";

#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the secret, to recognise a key (`trl_AbCd…`).
    pub prefix: String,
    pub kind: &'static str,
    pub user_id: Option<UserId>,
    pub partner_id: Option<PartnerId>,
    pub partner_role: Option<PartnerRole>,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// A created key and its secret (returned once).
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

/// Parses `scopes`: a subset of `read`, `write`; default both; `write` implies `read`.
pub fn parse_scopes(scopes: Option<&[String]>) -> Result<Vec<&'static str>> {
    let Some(list) = scopes else { return Ok(vec!["read", "write"]) };
    let mut write = false;
    for s in list {
        match s.as_str() {
            "read" => {}
            "write" => write = true,
            other => return Err(Error::invalid("scopes", format!("unknown scope \"{other}\", expected \"read\" or \"write\""))),
        }
    }
    if list.is_empty() {
        return Err(Error::invalid("scopes", "must name at least one scope"));
    }
    Ok(if write { vec!["read", "write"] } else { vec!["read"] })
}

fn new_secret() -> (String, String, String) {
    let secret = format!("{KEY_PREFIX}{}", random_token(40));
    let prefix = secret[..8].to_owned();
    let hash = sha256_hex(&secret);
    (secret, prefix, hash)
}

pub(crate) async fn insert_workspace_key(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    user_id: &UserId,
    name: &str,
    scopes: &[&str],
    created_by: Option<&UserId>,
    now: Timestamp,
) -> Result<(ApiKeyId, String)> {
    let id = ApiKeyId::generate();
    let (secret, prefix, hash) = new_secret();
    tx.execute(sql!(
        "INSERT INTO api_keys (workspace_id, id, name, secret_hash, display_prefix, user_id, scopes, created_by_user_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        workspace_id,
        id,
        name,
        hash,
        prefix,
        user_id,
        scopes.join(","),
        created_by.unwrap_or(user_id),
        now
    ))
    .await?;
    Ok((id, secret))
}

const COLUMNS: &str = "id, name, display_prefix, user_id, partner_id, partner_role, scopes, created_at, last_used_at, revoked_at";

fn from_row(row: &Row) -> Result<ApiKey> {
    let partner_id: Option<PartnerId> = row.get("partner_id")?;
    let role: Option<String> = row.get("partner_role")?;
    let scopes: String = row.get("scopes")?;
    Ok(ApiKey {
        id: row.get("id")?,
        name: row.get("name")?,
        prefix: row.get("display_prefix")?,
        kind: if partner_id.is_some() { "partner" } else { "workspace" },
        user_id: row.get("user_id")?,
        partner_id,
        partner_role: role.as_deref().and_then(PartnerRole::parse),
        scopes: scopes.split(',').map(str::to_owned).collect(),
        created_at: row.get("created_at")?,
        last_used_at: row.get("last_used_at")?,
        revoked_at: row.get("revoked_at")?,
    })
}

fn validate_name(name: &str) -> Result<String> {
    let mut v = Validation::new();
    let name = v.text("name", name, 100);
    v.finish().map_err(Error::Validation)?;
    name.ok_or_else(|| Error::Internal("validated".into()))
}

/// A workspace key for the calling staff member.
pub async fn create_workspace_key(ctx: &Ctx, scope: &Scope, name: &str, scopes: Option<&[String]>) -> Result<CreatedKey> {
    let Membership::Staff { user_id, .. } = scope.membership() else {
        return Err(Error::forbidden("only workspace staff have workspace keys; partners create partner keys"));
    };
    let name = validate_name(name)?;
    let scopes = parse_scopes(scopes)?;
    let now = ctx.now();
    scope.require_recent_sign_in(now)?;
    let mut tx = scope.write(ctx).await?;
    let (id, secret) = insert_workspace_key(&mut tx, scope.workspace_id(), user_id, &name, &scopes, Some(user_id), now).await?;
    audit::record(
        &mut tx,
        scope,
        now,
        AuditEntry::new("api_key.created", "api_key", id.as_str())
            .set("name", name.clone())
            .set("scopes", scopes.join(","))
            .set("user_id", user_id.as_str()),
    )
    .await?;
    let key = fetch(&mut tx, scope.workspace_id(), &id).await?;
    tx.commit().await?;
    Ok(CreatedKey { key, secret })
}

/// A partner key: by workspace owner/admin (role admin unless asked lower) or by that partner's
/// admins (at most their own role).
pub async fn create_partner_key(
    ctx: &Ctx,
    scope: &Scope,
    partner_id: &PartnerId,
    name: &str,
    scopes: Option<&[String]>,
    role: Option<PartnerRole>,
) -> Result<CreatedKey> {
    scope.require_recent_sign_in(ctx.now())?;
    let mut tx = scope.write(ctx).await?;
    crate::partner_users::require_visible_partner(&mut tx, scope, partner_id).await?;
    let creator_role = match scope.partner() {
        Some((own, role)) if own == partner_id && role == PartnerRole::Admin => role,
        _ if scope.has_vendor_role(VendorRole::WORKSPACE_ADMINS) => PartnerRole::Admin,
        _ => return Err(Error::forbidden("only workspace admins and the partner's admins may create its keys")),
    };
    let role = role.unwrap_or(creator_role);
    if !creator_role.may_grant(role) {
        return Err(Error::forbidden("a key may not carry more than its creator's role"));
    }
    let name = validate_name(name)?;
    let scopes = parse_scopes(scopes)?;
    let created = insert_partner_key(ctx, &mut tx, scope, partner_id, &name, role, &scopes).await?;
    tx.commit().await?;
    Ok(created)
}

/// The scope of a partner organisation's SCIM token (API.md "Identity"): alone on its key, it
/// works at `/scim/v2` only, and nothing else works there.
pub const SCIM_SCOPE: &str = "scim";

/// A SCIM token for a partner organisation: by workspace owner/admin or by that partner's own
/// admins (not a distributor's for its reseller: provisioning is the organisation's own).
pub async fn create_scim_token(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, name: &str) -> Result<CreatedKey> {
    scope.require_recent_sign_in(ctx.now())?;
    let mut tx = scope.write(ctx).await?;
    crate::partner_users::require_visible_partner(&mut tx, scope, partner_id).await?;
    match scope.partner() {
        Some((own, PartnerRole::Admin)) if own == partner_id => {}
        Some(_) => return Err(Error::forbidden("only the partner's own admins create its SCIM tokens")),
        None => scope.require_workspace_admin("create SCIM tokens")?,
    }
    let name = validate_name(name)?;
    let created = insert_partner_key(ctx, &mut tx, scope, partner_id, &name, PartnerRole::Admin, &[SCIM_SCOPE]).await?;
    tx.commit().await?;
    Ok(created)
}

/// A partner organisation's SCIM tokens, revoked ones too, newest first (at most 100): for those
/// who may create them ([`create_scim_token`]).
pub async fn list_scim_tokens(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<ApiKey>> {
    let mut tx = scope.read(ctx).await?;
    crate::partner_users::require_visible_partner(&mut tx, scope, partner_id).await?;
    match scope.partner() {
        Some((own, PartnerRole::Admin)) if own == partner_id => {}
        Some(_) => return Err(Error::forbidden("only the partner's own admins see its SCIM tokens")),
        None => scope.require_workspace_admin("see SCIM tokens")?,
    }
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS)
        .push(" FROM api_keys WHERE workspace_id = ")
        .push_bind(scope.workspace_id())
        .push(" AND partner_id = ")
        .push_bind(partner_id)
        .push(" AND scopes = ")
        .push_bind(SCIM_SCOPE)
        .push(" ORDER BY id DESC LIMIT 100");
    tx.fetch_all(q).await?.iter().map(from_row).collect()
}

async fn insert_partner_key(
    ctx: &Ctx,
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_id: &PartnerId,
    name: &str,
    role: PartnerRole,
    scopes: &[&str],
) -> Result<CreatedKey> {
    let now = ctx.now();
    let id = ApiKeyId::generate();
    let (secret, prefix, hash) = new_secret();
    tx.execute(sql!(
        "INSERT INTO api_keys (workspace_id, id, name, secret_hash, display_prefix, partner_id, partner_role, scopes, created_by_user_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        scope.workspace_id(), id, name, hash, prefix, partner_id, role.as_str(), scopes.join(","), scope.user_id().cloned(), now
    ))
    .await?;
    audit::record(
        tx,
        scope,
        now,
        AuditEntry::new("api_key.created", "api_key", id.as_str())
            .set("name", name)
            .set("partner_id", partner_id.as_str())
            .set("partner_role", role.as_str())
            .set("scopes", scopes.join(",")),
    )
    .await?;
    let key = fetch(tx, scope.workspace_id(), &id).await?;
    Ok(CreatedKey { key, secret })
}

async fn fetch(tx: &mut Tx, workspace_id: &WorkspaceId, id: &ApiKeyId) -> Result<ApiKey> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM api_keys WHERE workspace_id = ").push_bind(workspace_id).push(" AND id = ").push_bind(id);
    from_row(&tx.fetch_one(q).await?)
}

/// The partner users who see and manage their organisation's keys: its admins.
pub const PARTNER_KEY_MANAGERS: &[PartnerRole] = &[PartnerRole::Admin];

/// The keys the caller may see: staff their own (owner/admin every key of the workspace);
/// partner admins their organisation's keys. Revoked keys are listed with `revoked_at`.
pub async fn list(ctx: &Ctx, scope: &Scope, before: Option<&ApiKeyId>, limit: Option<i64>) -> Result<Page<ApiKey>> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM api_keys WHERE workspace_id = ").push_bind(scope.workspace_id());
    match scope.membership() {
        Membership::Staff { role, user_id, .. } => {
            if !role.is_workspace_admin() {
                q.push(" AND user_id = ").push_bind(user_id);
            }
        }
        Membership::Partner { partner_id, role, .. } => {
            if !PARTNER_KEY_MANAGERS.contains(role) {
                return Err(Error::forbidden("only partner admins manage keys"));
            }
            q.push(" AND partner_id = ").push_bind(partner_id);
        }
        Membership::System => {}
    }
    if let Some(before) = before {
        q.push(" AND id < ").push_bind(before);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(page::fetch_limit(limit));
    let mut tx = scope.read(ctx).await?;
    let rows = tx.fetch_all(q).await?.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(rows, limit, |k| k.id.to_string()))
}

/// Revokes a key: its owner, a workspace owner/admin, or for a partner key that partner's admins.
/// A key the caller may not see is 404.
pub async fn revoke(ctx: &Ctx, scope: &Scope, id: &ApiKeyId) -> Result<()> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let key = fetch(&mut tx, scope.workspace_id(), id).await?;
    let visible = match (scope.membership(), &key.partner_id) {
        (Membership::System, _) => true,
        (Membership::Staff { role, user_id, .. }, _) => role.is_workspace_admin() || key.user_id.as_ref() == Some(user_id),
        (Membership::Partner { partner_id, .. }, Some(key_partner)) => partner_id == key_partner,
        (Membership::Partner { .. }, None) => false,
    };
    if !visible {
        return Err(Error::NotFound);
    }
    if let Some((_, role)) = scope.partner()
        && role != PartnerRole::Admin
    {
        return Err(Error::forbidden("only partner admins manage keys"));
    }
    if key.revoked_at.is_none() {
        tx.execute(sql!("UPDATE api_keys SET revoked_at = $3 WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), id, now)).await?;
        audit::record(&mut tx, scope, now, AuditEntry::new("api_key.revoked", "api_key", id.as_str()).change("revoked", false, true))
            .await?;
    }
    Ok(tx.commit().await?)
}

/// A key found by its secret, for authentication.
pub(crate) struct KeyRecord {
    pub workspace_id: WorkspaceId,
    pub key: ApiKey,
}

pub(crate) async fn find_by_secret(tx: &mut Tx, secret: &str) -> Result<Option<KeyRecord>> {
    let mut q = Sql::build("SELECT workspace_id, ");
    q.push(COLUMNS).push(" FROM api_keys WHERE secret_hash = ").push_bind(sha256_hex(secret)).push(" AND revoked_at IS NULL");
    let Some(row) = tx.fetch_optional(q).await? else { return Ok(None) };
    Ok(Some(KeyRecord { workspace_id: row.get("workspace_id")?, key: from_row(&row)? }))
}

/// `last_used_at` is kept to the minute: one write per key per minute, not one per request.
pub(crate) async fn touch(ctx: &Ctx, workspace_id: &WorkspaceId, key: &ApiKey) -> Result<()> {
    let now = ctx.now();
    if key.last_used_at.is_some_and(|at| at.plus_seconds(60) > now) {
        return Ok(());
    }
    let mut tx = ctx.db.write_granted(&crate::auth::AUTHENTICATION).await?;
    tx.execute(sql!("UPDATE api_keys SET last_used_at = $3 WHERE workspace_id = $1 AND id = $2", workspace_id, key.id, now)).await?;
    tx.commit().await?;
    Ok(())
}

/// Revokes every key of a staff member in a workspace (member removed).
pub(crate) async fn revoke_all_of_member(tx: &mut Tx, workspace_id: &WorkspaceId, user_id: &UserId, now: Timestamp) -> Result<u64> {
    Ok(tx
        .execute(sql!(
            "UPDATE api_keys SET revoked_at = $3 WHERE workspace_id = $1 AND user_id = $2 AND revoked_at IS NULL",
            workspace_id,
            user_id,
            now
        ))
        .await?)
}

/// Revokes the keys a person created for a partner organisation (they left it: what they saw of
/// a secret must not outlive their membership), SCIM tokens included.
pub(crate) async fn revoke_all_created_by(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    partner_id: &PartnerId,
    user_id: &UserId,
    now: Timestamp,
) -> Result<u64> {
    Ok(tx
        .execute(sql!(
            "UPDATE api_keys SET revoked_at = $4 WHERE workspace_id = $1 AND partner_id = $2 AND created_by_user_id = $3 AND revoked_at IS NULL",
            workspace_id,
            partner_id,
            user_id,
            now
        ))
        .await?)
}

/// Revokes every key of a partner (suspended or terminated).
pub(crate) async fn revoke_all_of_partner(tx: &mut Tx, workspace_id: &WorkspaceId, partner_id: &PartnerId, now: Timestamp) -> Result<u64> {
    Ok(tx
        .execute(sql!(
            "UPDATE api_keys SET revoked_at = $3 WHERE workspace_id = $1 AND partner_id = $2 AND revoked_at IS NULL",
            workspace_id,
            partner_id,
            now
        ))
        .await?)
}

/// `trellis api-key create`: a workspace key for an existing staff member, by an operator with
/// direct database access (system context). Returns the secret.
pub async fn create_for_member_by_operator(ctx: &Ctx, workspace_id: &WorkspaceId, email: &str, name: &str) -> Result<String> {
    let email = trellis_core::Email::parse(email).map_err(|e| Error::invalid("user_email", e.to_string()))?;
    let name = validate_name(name)?;
    let now = ctx.now();
    let mut tx = ctx.db.write_granted(&crate::workspaces::OPERATOR_CLI).await?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT m.user_id FROM members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND u.email = $2",
            workspace_id,
            email
        ))
        .await?
        .ok_or_else(|| Error::invalid("user_email", "is not a staff member of that workspace"))?;
    let user_id: UserId = row.get("user_id")?;
    let (id, secret) = insert_workspace_key(&mut tx, workspace_id, &user_id, &name, &["read", "write"], None, now).await?;
    let scope = Scope::system(workspace_id.clone(), &crate::workspaces::OPERATOR_CLI);
    audit::record(
        &mut tx,
        &scope,
        now,
        AuditEntry::new("api_key.created", "api_key", id.as_str()).set("name", name).set("user_id", user_id.as_str()).set("by", "operator"),
    )
    .await?;
    tx.commit().await?;
    Ok(secret)
}

/// The keys of one partner, newest first (revoked ones with `revoked_at`): for workspace
/// owners/admins and that partner's own admins, the people who may create and revoke them. An
/// invisible partner is 404. A partner has a handful of keys; 500 bounds the answer all the same.
pub async fn list_for_partner(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<ApiKey>> {
    let mut tx = scope.read(ctx).await?;
    let seen = tx.see_partner(partner_id).await?;
    list_for_partner_in(&mut tx, scope, &seen).await
}

/// [`list_for_partner`] of a partner already checked in the caller's transaction.
pub async fn list_for_partner_in(tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner) -> Result<Vec<ApiKey>> {
    let partner_id = tx.seen(seen)?;
    let own_admin = scope.partner().is_some_and(|(own, role)| own == partner_id && role == PartnerRole::Admin);
    if !own_admin && !scope.has_vendor_role(VendorRole::WORKSPACE_ADMINS) {
        return Err(Error::forbidden("only workspace admins and the partner's admins manage its keys"));
    }
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM api_keys WHERE workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND partner_id = ").push_bind(partner_id).push(" ORDER BY id DESC LIMIT 500");
    tx.fetch_all(q).await?.iter().map(from_row).collect()
}
