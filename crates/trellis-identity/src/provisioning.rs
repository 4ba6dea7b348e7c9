//! Provisioning of partner users by the organisation's identity provider (SCIM 2.0, API.md
//! "Identity"; ADR 0024). The protocol's shapes live in the API crate; this module owns what a
//! provisioned person is and what creating, replacing, deactivating and deleting one does.
//!
//! A person is in the organisation's SCIM view when they may act for it (`partner_users`) or the
//! provider deactivated them (`scim_identities` with `active` false, the role parked there).
//! Deactivation and deletion end every session of the person in the organisation and revoke the
//! keys they created for it, in the transaction that changes the membership. An existing account
//! (the person also works elsewhere) is added without changing its name or password, and its own
//! name is never shown to the provider: the organisation's view keeps the names it sent.

use trellis_core::{Email, Error, PartnerId, PartnerRole, Result, Timestamp, UserId};
use trellis_db::{Row, Sql, Tx, sql};

use crate::Ctx;
use crate::audit::{self, AuditEntry};
use crate::password;
use crate::scope::{Scope, ScopedTx};

/// The longest name or external id kept (characters).
const MAX_TEXT: usize = 200;

/// A person as the organisation's provider sees them.
#[derive(Debug, Clone)]
pub struct ProvisionedUser {
    pub user_id: UserId,
    pub email: Email,
    pub external_id: Option<String>,
    pub given_name: String,
    pub family_name: String,
    pub formatted_name: String,
    pub display_name: String,
    /// Whether the person may act for the organisation (a membership).
    pub active: bool,
    /// What the provider said of `active`, as it said it; `None` when it did not. A person
    /// invited the usual way has no provider record: `Some(true)`.
    pub stated_active: Option<bool>,
    pub role: PartnerRole,
    /// Whether the role was set by the provider (or the person was invited the usual way); a
    /// role the provider never named is not shown to it.
    pub role_stated: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What the provider sends on create and replace.
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub email: String,
    pub external_id: Option<String>,
    pub given_name: String,
    pub family_name: String,
    pub formatted_name: String,
    pub display_name: String,
    /// `None`: not said (active).
    pub active: Option<bool>,
    /// `None` on create: `member`; on replace: the role stays (a provider that does not send roles
    /// must not demote an admin on every sync).
    pub role: Option<PartnerRole>,
    /// Only for a new account (create); an existing account's password never changes.
    pub password: Option<String>,
}

/// Which people a list asks for (`filter=userName eq "…"`, `externalId eq "…"`).
#[derive(Debug, Clone)]
pub enum UserFilter {
    All,
    Email(String),
    ExternalId(String),
}

/// The organisation a SCIM token speaks for; anything else may not provision.
fn organisation(scope: &Scope) -> Result<PartnerId> {
    match scope.partner() {
        Some((partner_id, PartnerRole::Admin)) => Ok(partner_id.clone()),
        _ => Err(Error::forbidden("provisioning needs the organisation's SCIM token")),
    }
}

/// Checks and trims what the provider sent.
fn clean(input: &UserInput) -> Result<(Email, UserInput)> {
    let email =
        Email::parse(input.email.trim()).map_err(|e| Error::invalid("userName", format!("must be the person's email address: {e}")))?;
    let text = |field: &str, value: &str| -> Result<String> {
        let value = value.trim();
        if value.chars().count() > MAX_TEXT {
            return Err(Error::invalid(field, format!("must be at most {MAX_TEXT} characters")));
        }
        Ok(value.to_owned())
    };
    let external_id = match input.external_id.as_deref().map(str::trim) {
        Some("") | None => None,
        Some(value) => Some(text("externalId", value)?),
    };
    Ok((
        email,
        UserInput {
            email: input.email.trim().to_owned(),
            external_id,
            given_name: text("name.givenName", &input.given_name)?,
            family_name: text("name.familyName", &input.family_name)?,
            formatted_name: text("name.formatted", &input.formatted_name)?,
            display_name: text("displayName", &input.display_name)?,
            active: input.active,
            role: input.role,
            password: input.password.clone(),
        },
    ))
}

/// The name an account created by provisioning carries.
fn account_name(input: &UserInput) -> String {
    let joined = format!("{} {}", input.given_name, input.family_name);
    [input.display_name.as_str(), input.formatted_name.as_str(), joined.trim()]
        .into_iter()
        .find(|n| !n.is_empty())
        .unwrap_or("")
        .chars()
        .take(MAX_TEXT)
        .collect()
}

/// Creates a person in the organisation (`POST /scim/v2/Users`). Someone already in its view is
/// 409 (`uniqueness`), as is an `externalId` another person of it has.
pub async fn create(ctx: &Ctx, scope: &Scope, input: &UserInput) -> Result<ProvisionedUser> {
    let partner_id = organisation(scope)?;
    let (email, input) = clean(input)?;
    // Hashed before the transaction, whether or not an account exists (the answer's time does not
    // tell); an existing account's password is not changed.
    let hash = match input.password.as_deref() {
        Some(text) => {
            let name = account_name(&input);
            password::check_new_password(text, &[email.as_str(), &name]).map_err(|e| rename_field(e, "password"))?;
            Some(password::hash_password(text.to_owned()).await?)
        }
        None => None,
    };
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    crate::partner_users::require_visible_partner(&mut tx, scope, &partner_id).await?;
    let existing = tx.fetch_optional(sql!("SELECT id FROM users WHERE email = $1", email)).await?;
    let (user_id, created_account) = match existing {
        Some(row) => {
            let user_id: UserId = row.get("id")?;
            if find_in(&mut tx, scope, &partner_id, &user_id).await?.is_some() {
                return Err(Error::conflict("a person with this userName is already in the organisation"));
            }
            (user_id, false)
        }
        None => {
            let user_id = UserId::generate();
            tx.execute(sql!(
                "INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                user_id,
                email,
                account_name(&input),
                hash,
                now
            ))
            .await?;
            (user_id, true)
        }
    };
    require_unique_external_id(&mut tx, scope, &partner_id, &user_id, input.external_id.as_deref()).await?;
    let role = input.role.unwrap_or(PartnerRole::Member);
    let active = input.active != Some(false);
    if active {
        tx.execute(sql!(
            "INSERT INTO partner_users (workspace_id, partner_id, user_id, role, created_at) VALUES ($1, $2, $3, $4, $5)",
            scope.workspace_id(),
            partner_id,
            user_id,
            role.as_str(),
            now
        ))
        .await?;
    }
    upsert_identity(&mut tx, scope, &partner_id, &user_id, &input, role, created_account, now).await?;
    audit::record(
        &mut tx,
        scope,
        now,
        AuditEntry::new("partner_user.provisioned", "user", user_id.as_str())
            .set("partner_id", partner_id.as_str())
            .set("email", email.as_str())
            .set("role", role.as_str())
            .set("active", active),
    )
    .await?;
    let user = find_in(&mut tx, scope, &partner_id, &user_id).await?.ok_or_else(|| Error::Internal("provisioned user not found".into()))?;
    tx.commit().await?;
    Ok(user)
}

/// Writes the provider's record of a person: what it sent, and the role parked when it is
/// inactive. Whether the provisioning created the account, and when the record began, stay as
/// first written.
#[allow(clippy::too_many_arguments)]
async fn upsert_identity(
    tx: &mut Tx,
    scope: &Scope,
    partner_id: &PartnerId,
    user_id: &UserId,
    input: &UserInput,
    role: PartnerRole,
    created_account: bool,
    now: Timestamp,
) -> Result<()> {
    tx.execute(sql!(
        "INSERT INTO scim_identities (workspace_id, partner_id, user_id, external_id, given_name, family_name, formatted_name, display_name,
                                      active, role_stated, parked_role, created_account, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
         ON CONFLICT (workspace_id, partner_id, user_id) DO UPDATE SET external_id = excluded.external_id,
             given_name = excluded.given_name, family_name = excluded.family_name, formatted_name = excluded.formatted_name,
             display_name = excluded.display_name, active = excluded.active, role_stated = excluded.role_stated,
             parked_role = excluded.parked_role, updated_at = excluded.updated_at",
        scope.workspace_id(),
        partner_id,
        user_id,
        input.external_id.clone(),
        input.given_name.clone(),
        input.family_name.clone(),
        input.formatted_name.clone(),
        input.display_name.clone(),
        input.active,
        input.role.is_some(),
        (input.active == Some(false)).then(|| role.as_str()),
        created_account,
        now
    ))
    .await?;
    Ok(())
}

/// The field a validation error names, for errors from elsewhere (the password policy).
fn rename_field(err: Error, field: &str) -> Error {
    match err {
        Error::Validation(mut fields) => {
            for f in &mut fields {
                f.field = field.to_owned();
            }
            Error::Validation(fields)
        }
        other => other,
    }
}

async fn require_unique_external_id(
    tx: &mut Tx,
    scope: &Scope,
    partner_id: &PartnerId,
    user_id: &UserId,
    external_id: Option<&str>,
) -> Result<()> {
    let Some(external_id) = external_id else { return Ok(()) };
    let taken = tx
        .fetch_optional(sql!(
            "SELECT user_id FROM scim_identities WHERE workspace_id = $1 AND partner_id = $2 AND external_id = $3 AND user_id <> $4",
            scope.workspace_id(),
            partner_id,
            external_id,
            user_id
        ))
        .await?;
    if taken.is_some() { Err(Error::conflict("another person of the organisation has this externalId")) } else { Ok(()) }
}

/// One person of the organisation (`GET /scim/v2/Users/{id}`); 404 for anyone else.
pub async fn get(ctx: &Ctx, scope: &Scope, user_id: &UserId) -> Result<ProvisionedUser> {
    let partner_id = organisation(scope)?;
    let mut tx = scope.read(ctx).await?;
    find_in(&mut tx, scope, &partner_id, user_id).await?.ok_or(Error::NotFound)
}

/// A page of the organisation's people, ordered by id: `offset` from 0 and at most `count`, with
/// how many there are in all (SCIM's `startIndex`/`count`/`totalResults`).
pub async fn list(ctx: &Ctx, scope: &Scope, filter: &UserFilter, offset: i64, count: i64) -> Result<(i64, Vec<ProvisionedUser>)> {
    let partner_id = organisation(scope)?;
    let mut tx = scope.read(ctx).await?;
    // Counted per side of the disjoint union, each from its own index.
    let mut total = Sql::build("SELECT (SELECT COUNT(*)");
    push_members(&mut total, scope, &partner_id, filter, None);
    total.push(") + (SELECT COUNT(*)");
    push_parked(&mut total, scope, &partner_id, filter, None);
    total.push(") AS n");
    let total = tx.fetch_i64(total).await?;
    if count == 0 {
        return Ok((total, Vec::new()));
    }
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS);
    push_from(&mut q, scope, &partner_id, filter, None, Some((offset, count)));
    q.push(" ORDER BY u.id");
    let rows = tx.fetch_all(q).await?;
    Ok((total, rows.iter().map(from_row).collect::<Result<_>>()?))
}

const COLUMNS: &str =
    "u.id AS user_id, u.email, u.name, pu.role, pu.created_at AS joined_at, si.external_id, si.given_name, si.family_name,
    si.formatted_name, si.display_name, si.active, si.role_stated, si.parked_role, si.created_at, si.updated_at";

/// The organisation's people: its users, and the people its provider deactivated (or an admin
/// removed) whose role is parked, which are never its users too. The union is disjoint, so each
/// side is read in id order from its own primary key (parked people from a partial index) and a
/// page is a merge of the two that stops at the page's end: the first page costs the same in an
/// organisation of ten people or of fifty thousand. A filter or an id narrows both sides by index
/// (a person by id, by address through the unique email, by externalId through its unique index).
fn push_from(q: &mut Sql, scope: &Scope, partner_id: &PartnerId, filter: &UserFilter, user_id: Option<&UserId>, page: Option<(i64, i64)>) {
    q.push(" FROM (SELECT user_id");
    push_members(q, scope, partner_id, filter, user_id);
    q.push(" UNION ALL SELECT user_id");
    push_parked(q, scope, partner_id, filter, user_id);
    if let Some((offset, count)) = page {
        q.push(" ORDER BY user_id LIMIT ").push_bind(count).push(" OFFSET ").push_bind(offset);
    }
    q.push(") m JOIN users u ON u.id = m.user_id LEFT JOIN partner_users pu ON pu.workspace_id = ")
        .push_bind(scope.workspace_id())
        .push(" AND pu.partner_id = ")
        .push_bind(partner_id)
        .push(" AND pu.user_id = m.user_id LEFT JOIN scim_identities si ON si.workspace_id = ")
        .push_bind(scope.workspace_id())
        .push(" AND si.partner_id = ")
        .push_bind(partner_id)
        .push(" AND si.user_id = m.user_id");
}

/// `FROM` the organisation's users, narrowed.
fn push_members(q: &mut Sql, scope: &Scope, partner_id: &PartnerId, filter: &UserFilter, user_id: Option<&UserId>) {
    q.push(" FROM partner_users WHERE workspace_id = ").push_bind(scope.workspace_id()).push(" AND partner_id = ").push_bind(partner_id);
    narrow(q, scope, partner_id, filter, user_id);
}

/// `FROM` the organisation's people with a parked role who are not its users (someone invited
/// back the usual way is a user again, listed once).
fn push_parked(q: &mut Sql, scope: &Scope, partner_id: &PartnerId, filter: &UserFilter, user_id: Option<&UserId>) {
    q.push(" FROM scim_identities p WHERE workspace_id = ")
        .push_bind(scope.workspace_id())
        .push(" AND partner_id = ")
        .push_bind(partner_id)
        .push(" AND parked_role IS NOT NULL AND NOT EXISTS (SELECT 1 FROM partner_users x WHERE x.workspace_id = p.workspace_id")
        .push(" AND x.partner_id = p.partner_id AND x.user_id = p.user_id)");
    narrow(q, scope, partner_id, filter, user_id);
}

fn narrow(q: &mut Sql, scope: &Scope, partner_id: &PartnerId, filter: &UserFilter, user_id: Option<&UserId>) {
    match filter {
        UserFilter::All => {}
        UserFilter::Email(email) => {
            // userName is case-insensitive (RFC 7643 §4.1.1); addresses are stored lower-cased.
            q.push(" AND user_id IN (SELECT id FROM users WHERE email = ").push_bind(email.trim().to_lowercase()).push(")");
        }
        UserFilter::ExternalId(external_id) => {
            q.push(" AND user_id IN (SELECT user_id FROM scim_identities WHERE workspace_id = ")
                .push_bind(scope.workspace_id())
                .push(" AND partner_id = ")
                .push_bind(partner_id)
                .push(" AND external_id = ")
                .push_bind(external_id.clone())
                .push(")");
        }
    }
    if let Some(user_id) = user_id {
        q.push(" AND user_id = ").push_bind(user_id);
    }
}

fn from_row(row: &Row) -> Result<ProvisionedUser> {
    let joined_at: Option<Timestamp> = row.get("joined_at")?;
    let created_at: Option<Timestamp> = row.get("created_at")?;
    let updated_at: Option<Timestamp> = row.get("updated_at")?;
    let active_role: Option<String> = row.get("role")?;
    let parked_role: Option<String> = row.get("parked_role")?;
    let provisioned = created_at.is_some();
    let account_name: String = row.get("name")?;
    let display_name: Option<String> = row.get("display_name")?;
    let since = created_at.or(joined_at).unwrap_or(Timestamp::from_micros(0));
    Ok(ProvisionedUser {
        user_id: row.get("user_id")?,
        email: row.get("email")?,
        external_id: row.get("external_id")?,
        given_name: row.get::<Option<String>>("given_name")?.unwrap_or_default(),
        family_name: row.get::<Option<String>>("family_name")?.unwrap_or_default(),
        formatted_name: row.get::<Option<String>>("formatted_name")?.unwrap_or_default(),
        // A person invited the usual way is known to the organisation by their account's name.
        display_name: if provisioned { display_name.unwrap_or_default() } else { account_name },
        active: active_role.is_some(),
        stated_active: if provisioned { row.get("active")? } else { Some(true) },
        role: active_role.or(parked_role).as_deref().and_then(PartnerRole::parse).unwrap_or(PartnerRole::Member),
        role_stated: if provisioned { row.get::<Option<bool>>("role_stated")?.unwrap_or(false) } else { true },
        created_at: since,
        updated_at: updated_at.unwrap_or(since),
    })
}

async fn find_in(tx: &mut Tx, scope: &Scope, partner_id: &PartnerId, user_id: &UserId) -> Result<Option<ProvisionedUser>> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS);
    push_from(&mut q, scope, partner_id, &UserFilter::All, Some(user_id), None);
    tx.fetch_optional(q).await?.as_ref().map(from_row).transpose()
}

/// Replaces what the provider says of a person (`PUT`, and `PATCH` applied to the current
/// state). `userName` cannot change: an address names an account that may belong to other
/// organisations too, and moving it would hand that account over. Deactivation ends every session
/// of the person in the organisation and revokes the keys they created for it; reactivation
/// restores the role they had.
pub async fn replace(ctx: &Ctx, scope: &Scope, user_id: &UserId, input: &UserInput) -> Result<ProvisionedUser> {
    let partner_id = organisation(scope)?;
    let (email, input) = clean(input)?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = find_in(&mut tx, scope, &partner_id, user_id).await?.ok_or(Error::NotFound)?;
    if email != before.email {
        return Err(Error::invalid("userName", "cannot change: provision the new address as a new person"));
    }
    require_unique_external_id(&mut tx, scope, &partner_id, user_id, input.external_id.as_deref()).await?;
    let role = input.role.unwrap_or(before.role);
    let mut entry = AuditEntry::new("partner_user.provisioning_updated", "user", user_id.as_str()).set("partner_id", partner_id.as_str());
    if role != before.role {
        entry = entry.change("role", before.role.as_str(), role.as_str());
    }
    let active = input.active != Some(false);
    if active != before.active {
        entry = entry.change("active", before.active, active);
    }
    match (before.active, active) {
        (true, true) if role != before.role => {
            tx.execute(sql!(
                "UPDATE partner_users SET role = $4 WHERE workspace_id = $1 AND partner_id = $2 AND user_id = $3",
                scope.workspace_id(),
                partner_id,
                user_id,
                role.as_str()
            ))
            .await?;
        }
        (true, false) => {
            let (sessions, keys) = leave(&mut tx, scope, &partner_id, user_id, now).await?;
            entry = entry.set("sessions_ended", sessions).set("api_keys_revoked", keys);
        }
        (false, true) => {
            tx.execute(sql!(
                "INSERT INTO partner_users (workspace_id, partner_id, user_id, role, created_at) VALUES ($1, $2, $3, $4, $5)",
                scope.workspace_id(),
                partner_id,
                user_id,
                role.as_str(),
                now
            ))
            .await?;
        }
        _ => {}
    }
    // A person invited the usual way gets the provider's record here.
    upsert_identity(&mut tx, scope, &partner_id, user_id, &input, role, false, now).await?;
    // An account this provisioning created follows the provider's name.
    tx.execute(sql!(
        "UPDATE users SET name = $2, updated_at = $3 WHERE id = $1
           AND EXISTS (SELECT 1 FROM scim_identities si WHERE si.workspace_id = $4 AND si.partner_id = $5 AND si.user_id = $1 AND si.created_account = $6)",
        user_id,
        account_name(&input),
        now,
        scope.workspace_id(),
        partner_id,
        true
    ))
    .await?;
    audit::record(&mut tx, scope, now, entry).await?;
    let user = find_in(&mut tx, scope, &partner_id, user_id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(user)
}

/// Deletes a person from the organisation (`DELETE /scim/v2/Users/{id}`): their membership and
/// the provider's record of them go, every session of theirs in the organisation ends and the
/// keys they created for it are revoked. The account stays (its history is the person's).
pub async fn delete(ctx: &Ctx, scope: &Scope, user_id: &UserId) -> Result<()> {
    let partner_id = organisation(scope)?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = find_in(&mut tx, scope, &partner_id, user_id).await?.ok_or(Error::NotFound)?;
    let (sessions, keys) = leave(&mut tx, scope, &partner_id, user_id, now).await?;
    tx.execute(sql!(
        "DELETE FROM scim_identities WHERE workspace_id = $1 AND partner_id = $2 AND user_id = $3",
        scope.workspace_id(),
        partner_id,
        user_id
    ))
    .await?;
    audit::record(
        &mut tx,
        scope,
        now,
        AuditEntry::new("partner_user.deprovisioned", "user", user_id.as_str())
            .set("partner_id", partner_id.as_str())
            .change("role", before.role.as_str(), serde_json::Value::Null)
            .set("sessions_ended", sessions)
            .set("api_keys_revoked", keys),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes a person out of the organisation: no membership, no session acting in it, no key they
/// created for it. Answers how many sessions ended and keys were revoked.
async fn leave(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId, user_id: &UserId, now: Timestamp) -> Result<(u64, u64)> {
    tx.execute(sql!(
        "DELETE FROM partner_users WHERE workspace_id = $1 AND partner_id = $2 AND user_id = $3",
        scope.workspace_id(),
        partner_id,
        user_id
    ))
    .await?;
    crate::partner_users::end_access(tx, scope.workspace_id(), partner_id, user_id, now).await
}

/// Someone the organisation's provider deactivated: out of the organisation until reactivated.
#[derive(Debug, Clone)]
pub struct Deactivated {
    pub user_id: UserId,
    pub email: Email,
    pub display_name: String,
    pub since: Timestamp,
}

/// What the provisioning page shows of an organisation: how many of its people came from its
/// provider, and who it deactivated (most recent first, at most 100). For those who manage the
/// organisation's users.
pub async fn overview(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<(i64, Vec<Deactivated>)> {
    let mut tx = scope.read(ctx).await?;
    crate::partner_users::require_visible_partner(&mut tx, scope, partner_id).await?;
    crate::partner_users::require_user_manager(scope, partner_id)?;
    let provisioned = tx
        .fetch_i64(sql!(
            "SELECT COUNT(*) AS n FROM scim_identities WHERE workspace_id = $1 AND partner_id = $2",
            scope.workspace_id(),
            partner_id
        ))
        .await?;
    let rows = tx
        .fetch_all(sql!(
            "SELECT si.user_id, u.email, si.display_name, si.updated_at FROM scim_identities si JOIN users u ON u.id = si.user_id
              WHERE si.workspace_id = $1 AND si.partner_id = $2 AND si.active = $3 ORDER BY si.updated_at DESC LIMIT 100",
            scope.workspace_id(),
            partner_id,
            false
        ))
        .await?;
    let deactivated = rows
        .iter()
        .map(|row| {
            let display_name: String = row.get("display_name")?;
            Ok(Deactivated { user_id: row.get("user_id")?, email: row.get("email")?, display_name, since: row.get("updated_at")? })
        })
        .collect::<Result<_>>()?;
    Ok((provisioned, deactivated))
}
