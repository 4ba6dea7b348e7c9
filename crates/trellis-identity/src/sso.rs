//! Single sign-on with OpenID Connect (issue 12, ADR 0026): each partner organisation, and the
//! vendor's staff, may sign in through their own identity provider, chosen from the email
//! domain typed at sign-in ("continue with your company account").
//!
//! The rules that keep a provider from reaching beyond its organisation:
//! - a person is known to a connection by the provider's subject (`sub`), never by address; an
//!   address links an existing account only on the first sign-in, only when the provider says it
//!   verified the address (`email_verified: true`), and only for a domain the vendor's owners or
//!   admins assigned to the connection;
//! - a session begun through a provider acts only for that provider's organisation;
//! - a person an admin removed, or the SCIM provisioning deactivated, is not let back in by a
//!   sign-in: just-in-time provisioning adds a membership only on a subject's first sign-in.
//!
//! [`crate::oidc`] holds the protocol's checks.

use trellis_core::{Email, Error, PartnerId, PartnerRole, Result, Timestamp, UserId, VendorRole, WorkspaceId};
use trellis_db::{Row, Tx, sql};

use crate::Ctx;
use crate::audit::{self, AuditEntry};
use crate::auth::{self, AUTHENTICATION, SignedIn};
use crate::oidc::{self, Provider, Refusal};
use crate::scope::{RequestMeta, Scope, ScopedTx};
use crate::secret::{random_token, sha256_hex};
use crate::secret_box;
use crate::sign_ins::{self, Device, Method, Outcome};

/// Where providers send people back.
pub const CALLBACK_PATH: &str = "/sign-in/sso/callback";
/// Where a connection's provider posts back-channel logout tokens (`trellis_api::sso_logout`).
pub fn backchannel_logout_path(connection_id: &str) -> String {
    format!("/sso/{connection_id}/backchannel-logout")
}
/// How long a sign-in may take at the provider.
pub const FLOW_SECONDS: i64 = 10 * 60;
/// Unfinished sign-ins one address may hold (each is a row until it expires).
pub const FLOWS_PER_ADDRESS: i64 = 60;
/// What the client secret is sealed for (secret_box context).
const SECRET_CONTEXT: &str = "sso_client_secret";
const MAX_DOMAINS: usize = 20;
/// The least time between two readings of a provider's keys for a key not seen yet.
const KEYS_REREAD_SECONDS: i64 = 60;

/// An organisation's identity provider as its admins see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: String,
    /// `None`: the vendor's staff.
    pub partner_id: Option<PartnerId>,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub default_role: String,
    pub enabled: bool,
    pub domains: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What an admin sets (`PUT`): everything but the secret and the domains is required; a missing
/// secret keeps the stored one (required the first time); missing domains keep the current ones.
#[derive(Debug, Clone, Default)]
pub struct ConnectionInput {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub default_role: Option<String>,
    pub enabled: Option<bool>,
    pub domains: Option<Vec<String>>,
}

/// Who may see and change an organisation's connection: for a partner, its own admins and the
/// workspace's owners and admins; for the staff, owners and admins.
async fn require_manager(tx: &mut ScopedTx, scope: &Scope, partner_id: Option<&PartnerId>) -> Result<()> {
    match partner_id {
        Some(partner_id) => {
            crate::partner_users::require_visible_partner(tx, scope, partner_id).await?;
            match scope.partner() {
                Some((own, PartnerRole::Admin)) if own == partner_id => Ok(()),
                Some(_) => Err(Error::forbidden("only the partner's own admins manage its single sign-on")),
                None => scope.require_workspace_admin("manage single sign-on"),
            }
        }
        None => scope.require_workspace_admin("manage the staff's single sign-on"),
    }
}

async fn read_connection(tx: &mut Tx, workspace_id: &WorkspaceId, partner_id: Option<&PartnerId>) -> Result<Option<Connection>> {
    let row = match partner_id {
        Some(p) => {
            tx.fetch_optional(sql!(
                "SELECT id, partner_id, name, issuer, client_id, default_role, enabled, created_at, updated_at
                   FROM sso_connections WHERE workspace_id = $1 AND partner_id = $2",
                workspace_id,
                p
            ))
            .await?
        }
        None => {
            tx.fetch_optional(sql!(
                "SELECT id, partner_id, name, issuer, client_id, default_role, enabled, created_at, updated_at
                   FROM sso_connections WHERE workspace_id = $1 AND partner_id IS NULL",
                workspace_id
            ))
            .await?
        }
    };
    let Some(row) = row else { return Ok(None) };
    let id: String = row.get("id")?;
    let domains = tx
        .fetch_all(sql!("SELECT domain FROM sso_domains WHERE connection_id = $1 ORDER BY domain", &id))
        .await?
        .iter()
        .map(|r| r.get::<String>("domain"))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Some(from_row(&row, domains)?))
}

fn from_row(row: &Row, domains: Vec<String>) -> Result<Connection> {
    Ok(Connection {
        id: row.get("id")?,
        partner_id: row.get("partner_id")?,
        name: row.get("name")?,
        issuer: row.get("issuer")?,
        client_id: row.get("client_id")?,
        default_role: row.get("default_role")?,
        enabled: row.get("enabled")?,
        domains,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// The organisation's connection, if it has one.
pub async fn get(ctx: &Ctx, scope: &Scope, partner_id: Option<&PartnerId>) -> Result<Option<Connection>> {
    let mut tx = scope.read(ctx).await?;
    require_manager(&mut tx, scope, partner_id).await?;
    read_connection(&mut tx, scope.workspace_id(), partner_id).await
}

/// Creates or replaces the organisation's connection. Email domains are the vendor's decision
/// (a domain decides whose existing accounts the provider may link): a partner's admin may change
/// everything else, and gets 403 for a change of domains.
pub async fn put(ctx: &Ctx, scope: &Scope, partner_id: Option<&PartnerId>, input: &ConnectionInput) -> Result<(Connection, bool)> {
    scope.require_recent_sign_in(ctx.now())?;
    let now = ctx.now();
    // Who may, before what they sent is looked at.
    let mut tx = scope.write(ctx).await?;
    require_manager(&mut tx, scope, partner_id).await?;
    let mut errors = Vec::new();
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(("name", "give the connection a name of 1 to 100 characters, e.g. \"Okta\""));
    }
    // Exactly as the provider states it (a trailing slash included): ID tokens are compared to it.
    let issuer = input.issuer.trim().to_owned();
    if !oidc::issuer_is_acceptable(&issuer) || issuer.len() > 500 {
        errors.push(("issuer", "the provider's issuer, an https:// address (as its /.well-known/openid-configuration states it)"));
    }
    let client_id = input.client_id.trim();
    if client_id.is_empty() || client_id.len() > 255 {
        errors.push(("client_id", "the client id the provider gave Trellis (1 to 255 characters)"));
    }
    if input.client_secret.as_deref().is_some_and(|s| s.is_empty() || s.len() > 1000) {
        errors.push(("client_secret", "the client secret the provider gave Trellis (1 to 1000 characters)"));
    }
    let default_role = input.default_role.clone().unwrap_or_else(|| if partner_id.is_some() { "member" } else { "viewer" }.to_owned());
    let role_ok = match partner_id {
        Some(_) => PartnerRole::parse(&default_role).is_some(),
        None => VendorRole::parse(&default_role).is_some_and(|r| r != VendorRole::Owner),
    };
    if !role_ok {
        errors.push(("default_role", "a role of the organisation (staff: admin, channel_manager, finance or viewer)"));
    }
    let domains = match &input.domains {
        Some(list) => match clean_domains(list) {
            Ok(list) => Some(list),
            Err(message) => {
                errors.push(("domains", message));
                None
            }
        },
        None => None,
    };
    if !errors.is_empty() {
        return Err(Error::Validation(
            errors.into_iter().map(|(f, m)| trellis_core::FieldError { field: f.to_owned(), message: m.to_owned() }).collect(),
        ));
    }
    let before = read_connection(&mut tx, scope.workspace_id(), partner_id).await?;
    if let Some(domains) = &domains
        && before.as_ref().map(|c| &c.domains) != Some(domains)
        && !(domains.is_empty() && before.is_none())
    {
        scope.require_workspace_admin("choose which email domains sign in through a provider")?;
    }
    let sealed = match &input.client_secret {
        Some(secret) => Some(secret_box::configured(ctx, "single sign-on")?.seal(SECRET_CONTEXT, secret)?),
        None => None,
    };
    let enabled = input.enabled.unwrap_or(true);
    // A subject is a provider's name for a person: another issuer or client may give the same
    // `sub` to someone else, so the links to people are forgotten and made again, on each
    // person's next sign-in, under the rules of a first one.
    let provider_changed = before.as_ref().is_some_and(|c| c.issuer != issuer || c.client_id != client_id);
    if let Some(existing) = before.as_ref().filter(|_| provider_changed) {
        tx.execute(sql!("DELETE FROM sso_identities WHERE connection_id = $1", &existing.id)).await?;
    }
    let (id, created) = match &before {
        Some(existing) => {
            tx.execute(sql!(
                "UPDATE sso_connections SET name = $2, issuer = $3, client_id = $4, client_secret_sealed = COALESCE($5, client_secret_sealed),
                        default_role = $6, enabled = $7, updated_at = $8 WHERE id = $1",
                &existing.id,
                name,
                &issuer,
                client_id,
                sealed,
                &default_role,
                enabled,
                now
            ))
            .await?;
            (existing.id.clone(), false)
        }
        None => {
            let Some(sealed) = sealed else {
                return Err(Error::invalid(
                    "client_secret",
                    "the client secret the provider gave Trellis is needed to create the connection",
                ));
            };
            let id = format!("sso_{}", random_token(24));
            tx.execute(sql!(
                "INSERT INTO sso_connections (id, workspace_id, partner_id, name, issuer, client_id, client_secret_sealed, default_role, enabled, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                &id,
                scope.workspace_id(),
                partner_id.cloned(),
                name,
                &issuer,
                client_id,
                sealed,
                &default_role,
                enabled,
                now
            ))
            .await?;
            (id, true)
        }
    };
    if let Some(domains) = &domains {
        tx.execute(sql!("DELETE FROM sso_domains WHERE connection_id = $1", &id)).await?;
        for domain in domains {
            let taken = tx.fetch_optional(sql!("SELECT connection_id FROM sso_domains WHERE domain = $1", domain)).await?;
            if taken.is_some() {
                return Err(Error::conflict(format!("{domain} already signs in through another identity provider")));
            }
            tx.execute(sql!(
                "INSERT INTO sso_domains (domain, workspace_id, connection_id) VALUES ($1, $2, $3)",
                domain,
                scope.workspace_id(),
                &id
            ))
            .await?;
        }
    }
    let after =
        read_connection(&mut tx, scope.workspace_id(), partner_id).await?.ok_or_else(|| Error::Internal("connection not found".into()))?;
    let mut entry = AuditEntry::new(if created { "sso.connection_created" } else { "sso.connection_updated" }, "sso_connection", &id)
        .set("partner_id", partner_id.map(PartnerId::as_str))
        .set("issuer", after.issuer.as_str())
        .set("client_id", after.client_id.as_str())
        .set("default_role", after.default_role.as_str())
        .set("enabled", after.enabled)
        .set("domains", after.domains.join(","));
    if input.client_secret.is_some() {
        entry = entry.set("client_secret_changed", true);
    }
    if provider_changed {
        entry = entry.set("identities_forgotten", true);
    }
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok((after, created))
}

fn clean_domains(list: &[String]) -> std::result::Result<Vec<String>, &'static str> {
    let mut out: Vec<String> = Vec::new();
    for domain in list {
        let domain = domain.trim().trim_start_matches('@').to_lowercase();
        let valid = domain.len() <= 253
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err("email domains such as northwind.example, without @ or spaces");
        }
        if !out.contains(&domain) {
            out.push(domain);
        }
    }
    if out.len() > MAX_DOMAINS {
        return Err("at most 20 email domains");
    }
    out.sort();
    Ok(out)
}

/// Deletes the organisation's connection: its people can no longer sign in through it, and the
/// sessions they began through it end at once.
pub async fn delete(ctx: &Ctx, scope: &Scope, partner_id: Option<&PartnerId>) -> Result<()> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    require_manager(&mut tx, scope, partner_id).await?;
    let connection = read_connection(&mut tx, scope.workspace_id(), partner_id).await?.ok_or(Error::NotFound)?;
    tx.execute(sql!("DELETE FROM sso_flows WHERE connection_id = $1", &connection.id)).await?;
    tx.execute(sql!("DELETE FROM sso_identities WHERE connection_id = $1", &connection.id)).await?;
    tx.execute(sql!("DELETE FROM sso_domains WHERE connection_id = $1", &connection.id)).await?;
    tx.execute(sql!("DELETE FROM sso_connections WHERE id = $1", &connection.id)).await?;
    audit::record(
        &mut tx,
        scope,
        now,
        AuditEntry::new("sso.connection_deleted", "sso_connection", &connection.id).set("partner_id", partner_id.map(PartnerId::as_str)),
    )
    .await?;
    tx.commit().await?;
    // Sessions of no partner (staff) are not visible to a partner's transaction: they end through
    // the authentication grant, after the scope's checks above.
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    tx.execute(sql!("DELETE FROM sessions WHERE sso_connection_id = $1", &connection.id)).await?;
    tx.commit().await?;
    Ok(())
}

/// A sign-in sent to the provider: where to send the browser, and the value of the cookie that
/// binds the sign-in to this browser.
#[derive(Debug, Clone)]
pub struct Started {
    pub authorization_url: String,
    pub browser_token: String,
}

/// The connection a sign-in with `email` goes through, if its domain has one that is enabled.
async fn connection_for_email(ctx: &Ctx, email: &str) -> Result<Option<ConnectionSecret>> {
    let Some((_, domain)) = email.rsplit_once('@') else { return Ok(None) };
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT c.id FROM sso_domains d JOIN sso_connections c ON c.id = d.connection_id WHERE d.domain = $1 AND c.enabled = $2",
            domain.to_lowercase(),
            true
        ))
        .await?;
    match row {
        Some(row) => connection_secret(&mut tx, &row.get::<String>("id")?).await,
        None => Ok(None),
    }
}

/// A connection as sign-in needs it.
struct ConnectionSecret {
    id: String,
    workspace_id: WorkspaceId,
    partner_id: Option<PartnerId>,
    issuer: String,
    client_id: String,
    client_secret_sealed: String,
    default_role: String,
}

async fn connection_secret(tx: &mut Tx, id: &str) -> Result<Option<ConnectionSecret>> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT id, workspace_id, partner_id, issuer, client_id, client_secret_sealed, default_role FROM sso_connections WHERE id = $1",
            id
        ))
        .await?;
    row.map(|row| {
        Ok(ConnectionSecret {
            id: row.get("id")?,
            workspace_id: row.get("workspace_id")?,
            partner_id: row.get("partner_id")?,
            issuer: row.get("issuer")?,
            client_id: row.get("client_id")?,
            client_secret_sealed: row.get("client_secret_sealed")?,
            default_role: row.get("default_role")?,
        })
    })
    .transpose()
}

/// Starts a sign-in for `email` (the page's "Continue with your company account"): `NotFound` when
/// its domain has no enabled provider. `return_to` is a local path to go to afterwards;
/// `confirm` asks the provider to authenticate the person again (step-up, ADR 0025). Anyone may
/// start one and each writes a row, so an address may hold [`FLOWS_PER_ADDRESS`] unfinished ones
/// (429 beyond).
pub async fn start(ctx: &Ctx, email: &str, return_to: &str, confirm: bool, meta: &RequestMeta) -> Result<Started> {
    let email = email.trim().to_lowercase();
    let connection = connection_for_email(ctx, &email).await?.ok_or(Error::NotFound)?;
    let provider = provider(ctx, &connection.issuer).await?;
    let state = random_token(43);
    let nonce = random_token(43);
    let verifier = random_token(64);
    let browser_token = random_token(43);
    let now = ctx.now();
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    // Sign-ins nobody finished are removed as new ones start.
    tx.execute(sql!("DELETE FROM sso_flows WHERE expires_at <= $1", now)).await?;
    let ip = meta.ip.as_deref().unwrap_or_default();
    let open = tx.fetch_i64(sql!("SELECT COUNT(*) AS n FROM sso_flows WHERE ip = $1 AND expires_at > $2", ip, now)).await?;
    if open >= FLOWS_PER_ADDRESS {
        return Err(Error::RateLimited { retry_after_secs: 60 });
    }
    tx.execute(sql!(
        "INSERT INTO sso_flows (state_hash, connection_id, browser_hash, nonce, pkce_verifier, return_to, created_at, expires_at, ip)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        sha256_hex(&state),
        &connection.id,
        sha256_hex(&browser_token),
        &nonce,
        &verifier,
        local_path(return_to),
        now,
        now.plus_seconds(FLOW_SECONDS),
        ip
    ))
    .await?;
    tx.commit().await?;
    let mut params = vec![
        ("response_type", "code".to_owned()),
        ("client_id", connection.client_id.clone()),
        ("redirect_uri", ctx.link(CALLBACK_PATH)),
        ("scope", "openid email profile".to_owned()),
        ("state", state),
        ("nonce", nonce),
        ("code_challenge", oidc::code_challenge(&verifier)),
        ("code_challenge_method", "S256".to_owned()),
        ("login_hint", email),
    ];
    if confirm {
        params.push(("prompt", "login".to_owned()));
        params.push(("max_age", "0".to_owned()));
    }
    let url = reqwest::Url::parse_with_params(&provider.metadata.authorization_endpoint, &params)
        .map_err(|e| Error::Internal(format!("authorization endpoint: {e}")))?;
    Ok(Started { authorization_url: url.into(), browser_token })
}

/// Only a path on this site, never another origin (`//evil.example`, `/\evil.example`).
fn local_path(path: &str) -> String {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 500
        && !path.chars().any(char::is_control);
    if ok { path.to_owned() } else { "/".to_owned() }
}

async fn provider(ctx: &Ctx, issuer: &str) -> Result<std::sync::Arc<Provider>> {
    oidc::provider(issuer, ctx.now()).await.map_err(|refusal| {
        tracing::warn!(issuer, %refusal, "identity provider unusable");
        Error::forbidden("Your company's identity provider cannot be reached. Try again later or sign in with your password.")
    })
}

/// What the provider sent back to [`CALLBACK_PATH`], and the cookie of the browser.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub browser_token: Option<String>,
}

/// A finished sign-in: the new session, and where to go.
pub struct Finished {
    pub signed_in: SignedIn,
    pub return_to: String,
}

/// Why a sign-in through a provider was refused, in words for the person.
pub const EXPIRED: &str = "This sign-in expired or was already used. Please start again.";
pub const UNVERIFIED: &str = "Your identity provider has not verified your email address, so it cannot sign in to the existing account with that address. Sign in with your password, or ask your administrator.";
pub const REFUSED: &str = "Your identity provider's answer could not be accepted. Please start again, or ask your administrator.";
pub const ENDED: &str = "Your access to this organisation was ended. Ask its administrator.";
pub const NO_EMAIL: &str = "Your identity provider did not share an email address of your organisation's domains. Ask your administrator.";

/// Finishes a sign-in: the state names a flow of this browser that is neither used nor expired
/// (it is used up whatever happens next), the code is exchanged with PKCE's verifier, the ID
/// token passes [`oidc::check_id_token`], and the person is found or provisioned.
pub async fn finish(ctx: &Ctx, callback: &Callback, meta: &RequestMeta) -> Result<Finished> {
    let now = ctx.now();
    let state = callback.state.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| Error::forbidden(EXPIRED))?;
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    let flow = tx.fetch_optional(sql!("SELECT * FROM sso_flows WHERE state_hash = $1", sha256_hex(state))).await?;
    let Some(flow) = flow else { return Err(Error::forbidden(EXPIRED)) };
    // Used once: removed before anything else is looked at.
    if tx.execute(sql!("DELETE FROM sso_flows WHERE state_hash = $1", sha256_hex(state))).await? != 1 {
        return Err(Error::forbidden(EXPIRED));
    }
    tx.commit().await?;
    let expires_at: Timestamp = flow.get("expires_at")?;
    let browser_hash: String = flow.get("browser_hash")?;
    let bound = callback.browser_token.as_deref().is_some_and(|token| crate::secret::same_secret(&sha256_hex(token), &browser_hash));
    if expires_at <= now || !bound {
        return Err(Error::forbidden(EXPIRED));
    }
    if let Some(error) = &callback.error {
        tracing::info!(error, "the identity provider refused the sign-in");
        return Err(Error::forbidden("Your identity provider did not sign you in. Please start again."));
    }
    let code = callback.code.as_deref().filter(|c| !c.is_empty()).ok_or_else(|| Error::forbidden(REFUSED))?;
    let connection_id: String = flow.get("connection_id")?;
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let connection = connection_secret(&mut tx, &connection_id).await?.ok_or_else(|| Error::forbidden(EXPIRED))?;
    drop(tx);
    let secret = secret_box::configured(ctx, "single sign-on")?.open(SECRET_CONTEXT, &connection.client_secret_sealed)?;
    let provider = provider(ctx, &connection.issuer).await?;
    let verifier: String = flow.get("pkce_verifier")?;
    let refused = |refusal: Refusal| {
        tracing::warn!(connection = connection.id, %refusal, "single sign-on refused");
        Error::forbidden(REFUSED)
    };
    let id_token =
        oidc::exchange_code(&provider, &connection.client_id, &secret, code, &ctx.link(CALLBACK_PATH), &verifier).await.map_err(refused)?;
    let claims = verified_claims(ctx, &connection.issuer, &provider, &id_token).await.map_err(refused)?;
    let nonce: String = flow.get("nonce")?;
    let claims = oidc::check_id_token(&claims, &connection.issuer, &connection.client_id, &nonce, now).map_err(refused)?;
    let user_id = match resolve(ctx, &connection, &claims).await {
        Ok(user_id) => user_id,
        Err(err) => {
            if let Some(email) = &claims.email {
                sign_ins::record(ctx, email, Method::Sso, Outcome::SsoRefused, &Device::default(), meta).await?;
            }
            return Err(err);
        }
    };
    let email = claims.email.clone().unwrap_or_default();
    let origin = auth::SsoOrigin {
        connection_id: connection.id.clone(),
        sid: claims.sid.clone(),
        workspace_id: connection.workspace_id.clone(),
        partner_id: connection.partner_id.clone(),
    };
    let signed_in = auth::start_sso_session(ctx, &user_id, &origin, meta).await?;
    let email_for_history: String = if email.is_empty() { user_email(ctx, &user_id).await? } else { email };
    sign_ins::record(ctx, &email_for_history, Method::Sso, Outcome::Success, &Device::default(), meta).await?;
    Ok(Finished { signed_in, return_to: flow.get("return_to")? })
}

async fn user_email(ctx: &Ctx, user_id: &UserId) -> Result<String> {
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    Ok(tx.fetch_one(sql!("SELECT email FROM users WHERE id = $1", user_id)).await?.get("email")?)
}

/// The token's claims once its signature checks out; a key not seen yet makes Trellis read the
/// provider's keys again, once, and at most once a minute (a logout token anyone can post must not
/// make Trellis fetch the provider's keys on every request).
async fn verified_claims(
    ctx: &Ctx,
    issuer: &str,
    provider: &Provider,
    token: &str,
) -> std::result::Result<serde_json::Map<String, serde_json::Value>, Refusal> {
    match oidc::verify_signature(token, provider) {
        Err(Refusal::UnknownKey) if provider.read_at().plus_seconds(KEYS_REREAD_SECONDS) <= ctx.now() => {
            let fresh = oidc::refresh(issuer, ctx.now()).await?;
            oidc::verify_signature(token, &fresh)
        }
        other => other,
    }
}

/// Finds the person a subject is, or links or creates them on the subject's first sign-in, and
/// makes sure they are in the connection's organisation.
async fn resolve(ctx: &Ctx, connection: &ConnectionSecret, claims: &oidc::IdClaims) -> Result<UserId> {
    let now = ctx.now();
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    let known = tx
        .fetch_optional(sql!(
            "SELECT user_id FROM sso_identities WHERE connection_id = $1 AND subject = $2",
            &connection.id,
            &claims.subject
        ))
        .await?;
    if let Some(row) = known {
        let user_id: UserId = row.get("user_id")?;
        if !is_member(&mut tx, connection, &user_id).await? {
            return Err(Error::forbidden(ENDED));
        }
        tx.execute(sql!(
            "UPDATE sso_identities SET last_sign_in_at = $3 WHERE connection_id = $1 AND subject = $2",
            &connection.id,
            &claims.subject,
            now
        ))
        .await?;
        tx.commit().await?;
        return Ok(user_id);
    }
    // The subject's first sign-in: its address decides, within the connection's domains.
    let email = claims.email.as_deref().and_then(|e| Email::parse(e).ok()).ok_or_else(|| Error::forbidden(NO_EMAIL))?;
    let domain = email.as_str().rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
    let ours =
        tx.fetch_optional(sql!("SELECT domain FROM sso_domains WHERE domain = $1 AND connection_id = $2", &domain, &connection.id)).await?;
    if ours.is_none() {
        return Err(Error::forbidden(NO_EMAIL));
    }
    let existing = tx.fetch_optional(sql!("SELECT id FROM users WHERE email = $1", &email)).await?;
    let (user_id, created_account) = match existing {
        Some(row) => {
            if !claims.email_verified {
                return Err(Error::forbidden(UNVERIFIED));
            }
            let user_id: UserId = row.get("id")?;
            let linked = tx
                .fetch_optional(sql!(
                    "SELECT subject FROM sso_identities WHERE connection_id = $1 AND user_id = $2",
                    &connection.id,
                    &user_id
                ))
                .await?;
            if linked.is_some() {
                // Another subject of this provider already is this person.
                return Err(Error::forbidden(REFUSED));
            }
            (user_id, false)
        }
        None => {
            let user_id = UserId::generate();
            let name = claims.name.clone().unwrap_or_else(|| email.as_str().split('@').next().unwrap_or_default().to_owned());
            tx.execute(sql!(
                "INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, NULL, $4, $4)",
                &user_id,
                &email,
                name.chars().take(200).collect::<String>(),
                now
            ))
            .await?;
            (user_id, true)
        }
    };
    let joined = if is_member(&mut tx, connection, &user_id).await? {
        None
    } else if was_removed(&mut tx, connection, &user_id).await? {
        return Err(Error::forbidden(ENDED));
    } else {
        join(&mut tx, connection, &user_id, now).await?;
        Some(connection.default_role.clone())
    };
    tx.execute(sql!(
        "INSERT INTO sso_identities (connection_id, subject, user_id, created_at, last_sign_in_at) VALUES ($1, $2, $3, $4, $4)",
        &connection.id,
        &claims.subject,
        &user_id,
        now
    ))
    .await?;
    let system = Scope::system(connection.workspace_id.clone(), &AUTHENTICATION);
    let mut entry = AuditEntry::new("sso.identity_linked", "user", user_id.as_str())
        .set("connection_id", connection.id.as_str())
        .set("partner_id", connection.partner_id.as_ref().map(PartnerId::as_str))
        .set("subject", claims.subject.as_str())
        .set("email", email.as_str())
        .set("created_account", created_account);
    if let Some(role) = &joined {
        entry = entry.set("joined_with_role", role.as_str());
    }
    audit::record(&mut tx, &system, now, entry).await?;
    tx.commit().await?;
    Ok(user_id)
}

async fn is_member(tx: &mut Tx, connection: &ConnectionSecret, user_id: &UserId) -> Result<bool> {
    let row = match &connection.partner_id {
        Some(p) => {
            tx.fetch_optional(sql!(
                "SELECT role FROM partner_users WHERE workspace_id = $1 AND partner_id = $2 AND user_id = $3",
                &connection.workspace_id,
                p,
                user_id
            ))
            .await?
        }
        None => {
            tx.fetch_optional(sql!("SELECT role FROM members WHERE workspace_id = $1 AND user_id = $2", &connection.workspace_id, user_id))
                .await?
        }
    };
    Ok(row.is_some())
}

/// A person whose role in the partner is parked (deactivated by provisioning, or removed by an
/// admin) is not let back in by a sign-in.
async fn was_removed(tx: &mut Tx, connection: &ConnectionSecret, user_id: &UserId) -> Result<bool> {
    let Some(partner_id) = &connection.partner_id else { return Ok(false) };
    let row = tx
        .fetch_optional(sql!(
            "SELECT parked_role FROM scim_identities WHERE workspace_id = $1 AND partner_id = $2 AND user_id = $3 AND parked_role IS NOT NULL",
            &connection.workspace_id,
            partner_id,
            user_id
        ))
        .await?;
    Ok(row.is_some())
}

async fn join(tx: &mut Tx, connection: &ConnectionSecret, user_id: &UserId, now: Timestamp) -> Result<()> {
    match &connection.partner_id {
        Some(p) => {
            tx.execute(sql!(
                "INSERT INTO partner_users (workspace_id, partner_id, user_id, role, created_at) VALUES ($1, $2, $3, $4, $5)",
                &connection.workspace_id,
                p,
                user_id,
                &connection.default_role,
                now
            ))
            .await?;
        }
        None => {
            // A channel manager who joins this way sees the partners assigned to them.
            let partner_scope = if connection.default_role == VendorRole::ChannelManager.as_str() { "assigned" } else { "all" };
            tx.execute(sql!(
                "INSERT INTO members (workspace_id, user_id, role, partner_scope, created_at) VALUES ($1, $2, $3, $4, $5)",
                &connection.workspace_id,
                user_id,
                &connection.default_role,
                partner_scope,
                now
            ))
            .await?;
        }
    }
    Ok(())
}

/// OpenID Connect Back-Channel Logout: the provider says a person logged out (`sub`) or one of
/// its sessions ended (`sid`); every Trellis session begun through this connection for it ends
/// at once. Answers how many ended. A token that fails a check is `Unauthorized`.
pub async fn back_channel_logout(ctx: &Ctx, connection_id: &str, logout_token: &str) -> Result<u64> {
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let connection = connection_secret(&mut tx, connection_id).await?.ok_or(Error::NotFound)?;
    drop(tx);
    let provider = provider(ctx, &connection.issuer).await?;
    let refused = |refusal: Refusal| {
        tracing::warn!(connection = connection.id, %refusal, "back-channel logout token refused");
        Error::Unauthorized
    };
    let claims = verified_claims(ctx, &connection.issuer, &provider, logout_token).await.map_err(refused)?;
    let claims = oidc::check_logout_token(&claims, &connection.issuer, &connection.client_id, ctx.now()).map_err(refused)?;
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    let mut ended = 0;
    if let Some(sid) = &claims.sid {
        ended += tx.execute(sql!("DELETE FROM sessions WHERE sso_connection_id = $1 AND sso_sid = $2", &connection.id, sid)).await?;
    }
    if let Some(subject) = &claims.subject {
        ended += tx
            .execute(sql!(
                "DELETE FROM sessions WHERE sso_connection_id = $1
                   AND user_id IN (SELECT user_id FROM sso_identities WHERE connection_id = $1 AND subject = $2)",
                &connection.id,
                subject
            ))
            .await?;
    }
    tx.commit().await?;
    Ok(ended)
}

/// The connection of a session begun through a provider, for the "Confirm it's you" page: such a
/// person confirms at their provider.
pub async fn session_connection(ctx: &Ctx, session_key: &str) -> Result<Option<String>> {
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let row = tx.fetch_optional(sql!("SELECT sso_connection_id FROM sessions WHERE id_hash = $1", session_key)).await?;
    Ok(row.map(|r| r.get::<Option<String>>("sso_connection_id")).transpose()?.flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lower_cased_deduplicated_and_checked() {
        assert_eq!(clean_domains(&["@Northwind.example ".into(), "northwind.example".into()]), Ok(vec!["northwind.example".to_owned()]));
        assert!(clean_domains(&["northwind".into()]).is_err());
        assert!(clean_domains(&["a b.example".into()]).is_err());
        assert!(clean_domains(&["-x.example".into()]).is_err());
    }

    #[test]
    fn the_return_path_stays_on_this_site() {
        assert_eq!(local_path("/portal/deals?x=1"), "/portal/deals?x=1");
        assert_eq!(local_path("//evil.example"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
        assert_eq!(local_path("https://evil.example"), "/");
    }
}
