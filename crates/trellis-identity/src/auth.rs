//! Authentication: sign-in with throttling, sessions (browser cookies and API bearer tokens),
//! API keys, and building the request [`Scope`] from whichever credential was presented.

use trellis_core::{
    Email, Error, PartnerId, PartnerRole, PartnerScopeSetting, PartnerStatus, Result, Timestamp, UserId, VendorRole, WorkspaceId,
};
use trellis_db::{SystemGrant, Tx, sql};

use crate::Ctx;
use crate::api_keys::{self, KEY_PREFIX};
use crate::password;
use crate::scope::{Actor, Membership, RequestMeta, Scope, ScopedTx, Visibility};
use crate::secret::{random_token, sha256_hex};
use crate::sign_ins::{self, Method, Outcome};
use crate::{secret_box, totp};

/// Finding a credential, its memberships and the sign-in throttle, and writing sessions, happen
/// before a scope exists.
pub const AUTHENTICATION: SystemGrant = SystemGrant {
    name: "authentication",
    reason: "credential lookup, memberships, sign-in throttle and session writes happen before a scope exists",
};

/// Bearer tokens from `POST /api/v1/auth/login` start with this.
pub const TOKEN_PREFIX: &str = "trs_";
/// Sessions and tokens end after this long, used or not (ASVS 7.3.2).
pub const SESSION_ABSOLUTE_SECONDS: i64 = 12 * 3600;
/// …and once unused for longer than this (NIST SP 800-63B-4, AAL2: one hour of inactivity).
pub const SESSION_IDLE_SECONDS: i64 = 3600;
/// A session's `last_seen_at` is written at most this often (not on every request).
const SESSION_TOUCH_SECONDS: i64 = 60;
/// Session ids (shown in lists; the secret's hash stays the key) start with this.
pub const SESSION_ID_PREFIX: &str = "ses_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Browser,
    Token,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Browser => "browser",
            SessionKind::Token => "token",
        }
    }
}

/// One membership of a user, as listed at sign-in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MembershipInfo {
    pub workspace_id: WorkspaceId,
    #[serde(skip)]
    pub workspace_name: String,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<PartnerId>,
    #[serde(skip)]
    pub partner_name: Option<String>,
    pub role: String,
}

impl MembershipInfo {
    /// The `Trellis-Membership` header value naming this membership.
    pub fn header_value(&self) -> String {
        match &self.partner_id {
            Some(p) => format!("{}/{}", self.workspace_id, p),
            None => self.workspace_id.to_string(),
        }
    }
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub csrf_token: String,
    pub user_id: UserId,
    pub expires_at: Timestamp,
    pub memberships: Vec<MembershipInfo>,
    /// The device token to keep (the `trellis_device` cookie, the API's `device_token`): with it
    /// this device keeps signing in while others' failures slow the account down.
    pub device_token: String,
}

/// Every membership of a user that can be used now (partners that are suspended, terminated or
/// rejected are left out, which ends their users' access at once).
pub(crate) async fn memberships(tx: &mut Tx, user_id: &UserId) -> Result<Vec<MembershipInfo>> {
    let staff = tx
        .fetch_all(sql!(
            "SELECT m.workspace_id, w.name, m.role FROM members m JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = $1 ORDER BY w.name, m.workspace_id",
            user_id
        ))
        .await?;
    let partner = tx
        .fetch_all(sql!(
            "SELECT pu.workspace_id, w.name AS workspace_name, pu.partner_id, p.name AS partner_name, pu.role, p.status FROM partner_users pu
             JOIN partners p ON p.workspace_id = pu.workspace_id AND p.id = pu.partner_id
             JOIN workspaces w ON w.id = pu.workspace_id
             WHERE pu.user_id = $1 ORDER BY w.name, p.name",
            user_id
        ))
        .await?;
    let mut out = Vec::new();
    for row in staff {
        out.push(MembershipInfo {
            workspace_id: row.get("workspace_id")?,
            workspace_name: row.get("name")?,
            kind: "staff",
            partner_id: None,
            partner_name: None,
            role: row.get("role")?,
        });
    }
    for row in partner {
        let status: String = row.get("status")?;
        if !PartnerStatus::parse(&status).is_some_and(PartnerStatus::allows_access) {
            continue;
        }
        out.push(MembershipInfo {
            workspace_id: row.get("workspace_id")?,
            workspace_name: row.get("workspace_name")?,
            kind: "partner",
            partner_id: row.get("partner_id")?,
            partner_name: row.get("partner_name")?,
            role: row.get("role")?,
        });
    }
    Ok(out)
}

/// Signs a person in (the API, `POST /auth/login`). Wrong credentials are 401 with the same
/// answer (and the same time spent) whether or not the account exists; the throttle
/// ([`sign_ins::check`]) answers 429 before any password is hashed. An account with an
/// authenticator app needs its code (or a recovery code) in `totp`: without one the answer is
/// [`Error::MfaRequired`], with a wrong one 401. `device_token` is the device cookie (or the API's
/// `device_token`) the client presented; a successful sign-in answers the one to keep.
pub async fn login(
    ctx: &Ctx,
    email: &str,
    password_text: &str,
    totp_code: Option<&str>,
    kind: SessionKind,
    device_token: Option<&str>,
    meta: &RequestMeta,
) -> Result<SignedIn> {
    match sign_in(ctx, email, password_text, totp_code, kind, device_token, meta).await? {
        FirstStep::SignedIn(signed_in) => Ok(*signed_in),
        FirstStep::SecondFactor { .. } => Err(Error::MfaRequired),
    }
}

/// What the password step of a sign-in leads to.
pub enum FirstStep {
    SignedIn(Box<SignedIn>),
    /// The password was right; the account needs its second factor. `challenge` (sealed with the
    /// instance's key, valid [`CHALLENGE_SECONDS`]) names the account for
    /// [`complete_second_factor`], so that the sign-in page does not carry the password on.
    SecondFactor {
        challenge: String,
    },
}

/// How long the code of a second factor may follow the password.
pub const CHALLENGE_SECONDS: i64 = 5 * 60;
const CHALLENGE_CONTEXT: &str = "sign_in_challenge";

/// The password step of a sign-in (the sign-in page; [`login`] for the API): as [`login`], but an
/// account with an authenticator app and no `totp_code` answers [`FirstStep::SecondFactor`].
pub async fn sign_in(
    ctx: &Ctx,
    email: &str,
    password_text: &str,
    totp_code: Option<&str>,
    kind: SessionKind,
    device_token: Option<&str>,
    meta: &RequestMeta,
) -> Result<FirstStep> {
    let normalized = sign_ins::normalise(email);
    let device = sign_ins::check(ctx, &normalized, Method::Password, device_token, meta).await?;
    let found = match Email::parse(&normalized) {
        Ok(email) => {
            let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
            tx.fetch_optional(sql!("SELECT id, password_hash FROM users WHERE email = $1", email)).await?
        }
        Err(_) => None,
    };
    let (user_id, hash) = match &found {
        Some(row) => (Some(row.get::<UserId>("id")?), row.get::<Option<String>>("password_hash")?),
        None => (None, None),
    };
    let valid = password::verify_password(password_text.to_owned(), hash).await;
    let Some(user_id) = user_id.filter(|_| valid) else {
        sign_ins::record(ctx, &normalized, Method::Password, Outcome::BadPassword, &device, meta).await?;
        return Err(Error::Unauthorized);
    };
    if totp::active_for(ctx, &user_id).await? {
        let Some(code) = totp_code else {
            let expires = ctx.now().plus_seconds(CHALLENGE_SECONDS);
            let plain = format!("{user_id} {} {}", expires.micros(), kind.as_str());
            let challenge = secret_box::configured(ctx, "authenticator apps")?.seal(CHALLENGE_CONTEXT, &plain)?;
            return Ok(FirstStep::SecondFactor { challenge });
        };
        second_factor(ctx, &user_id, &normalized, code, &device, meta).await?;
    }
    sign_ins::record(ctx, &normalized, Method::Password, Outcome::Success, &device, meta).await?;
    Ok(FirstStep::SignedIn(Box::new(start_session(ctx, &user_id, kind, device_token, meta).await?)))
}

/// Checks and uses up a second factor's code; a wrong one is recorded (it counts in the
/// throttle like a wrong password) and 401.
async fn second_factor(ctx: &Ctx, user_id: &UserId, email: &str, code: &str, device: &sign_ins::Device, meta: &RequestMeta) -> Result<()> {
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    if totp::verify(ctx, &mut tx, user_id, code).await? {
        tx.commit().await?;
        return Ok(());
    }
    drop(tx);
    sign_ins::record(ctx, email, Method::Password, Outcome::MfaFailed, device, meta).await?;
    Err(Error::Unauthorized)
}

/// The second step of a sign-in on the sign-in page: the code for the account `challenge` names
/// (throttled like the password step). An expired or forged challenge is 401.
pub async fn complete_second_factor(
    ctx: &Ctx,
    challenge: &str,
    code: &str,
    device_token: Option<&str>,
    meta: &RequestMeta,
) -> Result<SignedIn> {
    let key = secret_box::configured(ctx, "authenticator apps")?;
    let plain = key.open(CHALLENGE_CONTEXT, challenge).map_err(|_| Error::Unauthorized)?;
    let mut parts = plain.split(' ');
    let (Some(user_id), Some(expires), Some(kind)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::Unauthorized);
    };
    let expires = Timestamp::from_micros(expires.parse().map_err(|_| Error::Unauthorized)?);
    if expires <= ctx.now() {
        return Err(Error::Unauthorized);
    }
    let user_id: UserId = user_id.parse().map_err(|_| Error::Unauthorized)?;
    let kind = if kind == "token" { SessionKind::Token } else { SessionKind::Browser };
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let email: Email = tx.fetch_one(sql!("SELECT email FROM users WHERE id = $1", &user_id)).await?.get("email")?;
    drop(tx);
    let device = sign_ins::check(ctx, email.as_str(), Method::Password, device_token, meta).await?;
    second_factor(ctx, &user_id, email.as_str(), code, &device, meta).await?;
    sign_ins::record(ctx, email.as_str(), Method::Password, Outcome::Success, &device, meta).await?;
    start_session(ctx, &user_id, kind, device_token, meta).await
}

/// The key a session is stored under: the SHA-256 of its token or cookie, never the secret itself.
pub fn session_key(token: &str) -> String {
    sha256_hex(token)
}

/// Changes a person's password (API.md "Identity": `POST /auth/password`). The current password
/// must be right — a wrong one is a failed attempt on the account in its sign-in history, and
/// throttled like a sign-in — and the new one must pass [`password::check_new_password`]; then
/// every other session of the person ends (the one making the change, stored under `keep`,
/// stays). API keys stay: they are not signed in with the password. Answers how many sessions
/// ended.
pub async fn change_password(ctx: &Ctx, user_id: &UserId, keep: &str, current: &str, new: &str, meta: &RequestMeta) -> Result<u64> {
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let row = tx.fetch_one(sql!("SELECT email, name, password_hash FROM users WHERE id = $1", user_id)).await?;
    drop(tx);
    let email: Email = row.get("email")?;
    let name: String = row.get("name")?;
    // The session making the change is the person's own device: it is slowed down by its own
    // failures only, never by what others try on the account or from the address.
    let device = sign_ins::check_signed_in(ctx, email.as_str(), Method::PasswordChange, keep, meta).await?;
    if !password::verify_password(current.to_owned(), row.get("password_hash")?).await {
        sign_ins::record(ctx, email.as_str(), Method::PasswordChange, Outcome::BadPassword, &device, meta).await?;
        return Err(Error::invalid("current_password", "is not your current password"));
    }
    password::check_new_password(new, &[email.as_str(), &name]).map_err(|err| rename_field(err, "new_password"))?;
    let hash = password::hash_password(new.to_owned()).await?;
    let now = ctx.now();
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    tx.execute(sql!("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1", user_id, hash, now)).await?;
    let ended = end_other_sessions(&mut tx, user_id, keep).await?;
    tx.commit().await?;
    sign_ins::record(ctx, email.as_str(), Method::PasswordChange, Outcome::Success, &device, meta).await?;
    tracing::info!(%user_id, ended, "password changed; the other sessions ended");
    Ok(ended)
}

/// How long a proof of who one is lasts for what needs a recent one (step-up re-authentication:
/// approving payouts, changing payout methods, creating keys, changing roles).
pub const STEP_UP_SECONDS: i64 = 5 * 60;

/// Confirms who the person behind a session is ("Confirm it's you", `POST /auth/reauthenticate`):
/// their password, and the code of their authenticator app when they have one (a recovery code
/// works too). Throttled like a password change (the session's own failures only); a wrong
/// password is a failed attempt in the person's history. Answers the new `authenticated_at`.
pub async fn reauthenticate(ctx: &Ctx, key: &str, password_text: &str, totp_code: Option<&str>, meta: &RequestMeta) -> Result<Timestamp> {
    let now = ctx.now();
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT s.user_id, u.email, u.password_hash FROM sessions s JOIN users u ON u.id = s.user_id
              WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at >= $3",
            key,
            now,
            now.plus_seconds(-SESSION_IDLE_SECONDS)
        ))
        .await?
        .ok_or(Error::Unauthorized)?;
    drop(tx);
    let user_id: UserId = row.get("user_id")?;
    let email: Email = row.get("email")?;
    let device = sign_ins::check_signed_in(ctx, email.as_str(), Method::Password, key, meta).await?;
    if !password::verify_password(password_text.to_owned(), row.get("password_hash")?).await {
        sign_ins::record(ctx, email.as_str(), Method::Password, Outcome::BadPassword, &device, meta).await?;
        return Err(Error::invalid("password", "is not your password"));
    }
    if totp::active_for(ctx, &user_id).await? {
        let Some(code) = totp_code.map(str::trim).filter(|c| !c.is_empty()) else {
            return Err(Error::invalid("totp", "enter the code of your authenticator app (or a recovery code)"));
        };
        if second_factor(ctx, &user_id, email.as_str(), code, &device, meta).await.is_err() {
            return Err(Error::invalid("totp", "is not the current code of your authenticator app"));
        }
    }
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    tx.execute(sql!("UPDATE sessions SET authenticated_at = $2 WHERE id_hash = $1", key, now)).await?;
    tx.commit().await?;
    sign_ins::record(ctx, email.as_str(), Method::Password, Outcome::Success, &device, meta).await?;
    Ok(now)
}

/// The same validation errors, reported on `field`.
pub(crate) fn rename_field(err: Error, field: &str) -> Error {
    match err {
        Error::Validation(errors) => Error::Validation(
            errors.into_iter().map(|e| trellis_core::FieldError { field: field.to_owned(), message: e.message }).collect(),
        ),
        other => other,
    }
}

/// Ends every session of the person but the one stored under `keep` (the one asking), in the
/// caller's transaction: a change of password or of the second factor signs everyone else out.
pub(crate) async fn end_other_sessions(tx: &mut Tx, user_id: &UserId, keep: &str) -> Result<u64> {
    Ok(tx.execute(sql!("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2", user_id, keep)).await?)
}

/// Creates a session for a user who has proven who they are. Its id is new (no fixation). The
/// device the person signed in from is remembered ([`sign_ins::remember_device`]).
pub async fn start_session(
    ctx: &Ctx,
    user_id: &UserId,
    kind: SessionKind,
    device_token: Option<&str>,
    meta: &RequestMeta,
) -> Result<SignedIn> {
    open_session(ctx, user_id, kind, device_token, meta, Begun::Password).await
}

/// Where a session begun through an identity provider comes from (`identity::sso`): it acts only
/// for the provider's organisation, and the provider's logout (`sid`) ends it.
#[derive(Debug, Clone)]
pub struct SsoOrigin {
    pub connection_id: String,
    pub sid: Option<String>,
    pub workspace_id: WorkspaceId,
    pub partner_id: Option<PartnerId>,
}

/// A browser session for a person who signed in through `origin`'s provider, bound to that
/// organisation. 403 when the organisation cannot be used now (a suspended partner).
pub async fn start_sso_session(ctx: &Ctx, user_id: &UserId, origin: &SsoOrigin, meta: &RequestMeta) -> Result<SignedIn> {
    open_session(ctx, user_id, SessionKind::Browser, None, meta, Begun::Provider(origin)).await
}

/// A session for a person who signed in with the passkey `passkey_id` (`identity::passkeys`):
/// removing that passkey ends it, and it counts as two-step for the workspace's policy.
pub async fn start_passkey_session(
    ctx: &Ctx,
    user_id: &UserId,
    passkey_id: &str,
    kind: SessionKind,
    device_token: Option<&str>,
    meta: &RequestMeta,
) -> Result<SignedIn> {
    open_session(ctx, user_id, kind, device_token, meta, Begun::Passkey(passkey_id)).await
}

/// How a session began: its row says so, for what depends on it.
enum Begun<'a> {
    Password,
    Provider(&'a SsoOrigin),
    Passkey(&'a str),
}

async fn open_session(
    ctx: &Ctx,
    user_id: &UserId,
    kind: SessionKind,
    device_token: Option<&str>,
    meta: &RequestMeta,
    begun: Begun<'_>,
) -> Result<SignedIn> {
    let now = ctx.now();
    let token = match kind {
        SessionKind::Token => format!("{TOKEN_PREFIX}{}", random_token(43)),
        SessionKind::Browser => random_token(43),
    };
    let csrf_token = random_token(32);
    let expires_at = now.plus_seconds(SESSION_ABSOLUTE_SECONDS);
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    let mut memberships = memberships(&mut tx, user_id).await?;
    let (origin, passkey_id) = match begun {
        Begun::Password => (None, None),
        Begun::Provider(origin) => (Some(origin), None),
        Begun::Passkey(id) => (None, Some(id)),
    };
    if let Some(origin) = origin {
        memberships.retain(|m| m.workspace_id == origin.workspace_id && m.partner_id == origin.partner_id);
        if memberships.is_empty() {
            return Err(Error::forbidden("This organisation cannot sign in now. Ask its administrator."));
        }
    }
    // A browser session starts in the first membership and switches on /memberships. A token is
    // bound to its membership when the user has exactly one, so that a membership added later
    // (an accepted invitation) never breaks a client that sends no Trellis-Membership header.
    let first = match kind {
        SessionKind::Browser => memberships.first(),
        SessionKind::Token => memberships.first().filter(|_| memberships.len() == 1),
    };
    let id = format!("{SESSION_ID_PREFIX}{}", random_token(26));
    tx.execute(sql!(
        "INSERT INTO sessions (id_hash, id, user_id, kind, csrf_token, workspace_id, partner_id, ip, user_agent, created_at, last_seen_at, authenticated_at, expires_at,
                               sso_connection_id, sso_sid, passkey_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10, $11, $12, $13, $14)",
        sha256_hex(&token), id, user_id, kind.as_str(), csrf_token,
        first.map(|m| m.workspace_id.clone()), first.and_then(|m| m.partner_id.clone()),
        meta.ip, meta.user_agent.as_deref().map(|agent| agent.chars().take(512).collect::<String>()), now, expires_at,
        origin.map(|o| o.connection_id.clone()), origin.and_then(|o| o.sid.clone()), passkey_id
    ))
    .await?;
    let device_token = sign_ins::remember_device(&mut tx, user_id, device_token, now).await?;
    tx.commit().await?;
    Ok(SignedIn { token, csrf_token, user_id: user_id.clone(), expires_at, memberships, device_token })
}

/// One of a person's live sessions (API.md "Identity": `GET /auth/sessions`).
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: String,
    pub kind: &'static str,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session the request was made with.
    pub current: bool,
}

/// The person's sessions that still work (neither past their absolute end nor idle too long),
/// the most recently used first. `current` is the stored key of the session asking.
pub async fn list_sessions(ctx: &Ctx, user_id: &UserId, current: &str) -> Result<Vec<SessionInfo>> {
    let now = ctx.now();
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let rows = tx
        .fetch_all(sql!(
            "SELECT id_hash, id, kind, created_at, last_seen_at, expires_at, ip, user_agent FROM sessions
             WHERE user_id = $1 AND expires_at > $2 AND last_seen_at >= $3 ORDER BY last_seen_at DESC, id LIMIT 200",
            user_id,
            now,
            now.plus_seconds(-SESSION_IDLE_SECONDS)
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.get("kind")?;
            Ok(SessionInfo {
                current: row.get::<String>("id_hash")? == current,
                id: row.get("id")?,
                kind: if kind == "token" { "token" } else { "browser" },
                created_at: row.get("created_at")?,
                last_seen_at: row.get("last_seen_at")?,
                expires_at: row.get("expires_at")?,
                ip: row.get("ip")?,
                user_agent: row.get("user_agent")?,
            })
        })
        .collect()
}

/// Ends one of the person's own sessions by its id: 404 when they have none by that id.
pub async fn end_own_session(ctx: &Ctx, user_id: &UserId, session_id: &str) -> Result<()> {
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    let ended = tx.execute(sql!("DELETE FROM sessions WHERE id = $1 AND user_id = $2", session_id, user_id)).await?;
    if ended == 0 {
        return Err(Error::NotFound);
    }
    tx.commit().await?;
    tracing::info!(%user_id, session_id, "session ended by its person");
    Ok(())
}

/// Ends the sessions of `user_id` that can act in `workspace_id` — those bound to it and tokens
/// bound to none (they choose a membership per request) — in the caller's transaction, after it
/// checked that it may manage that person. Answers how many ended.
pub(crate) async fn end_sessions_acting_in(tx: &mut Tx, workspace_id: &WorkspaceId, user_id: &UserId) -> Result<u64> {
    Ok(tx
        .execute(sql!("DELETE FROM sessions WHERE user_id = $1 AND (workspace_id = $2 OR workspace_id IS NULL)", user_id, workspace_id))
        .await?)
}

/// Moves a session's `last_seen_at` to now when it is older than [`SESSION_TOUCH_SECONDS`]: the
/// idle timeout counts from there, and at most one write a minute per session.
async fn touch_session(ctx: &Ctx, key: &str, last_seen_at: Timestamp) -> Result<()> {
    let now = ctx.now();
    if last_seen_at > now.plus_seconds(-SESSION_TOUCH_SECONDS) {
        return Ok(());
    }
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    tx.execute(sql!("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2", key, now)).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends one session (logout). Unknown tokens are ignored.
pub async fn logout(ctx: &Ctx, token: &str) -> Result<()> {
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    tx.execute(sql!("DELETE FROM sessions WHERE id_hash = $1", sha256_hex(token))).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends a person's browser sessions acting in a workspace, and every session of theirs when no
/// membership is left (staff removed).
pub(crate) async fn end_sessions_in_workspace(tx: &mut Tx, workspace_id: &WorkspaceId, user_id: &UserId) -> Result<()> {
    tx.execute(sql!("DELETE FROM sessions WHERE user_id = $1 AND workspace_id = $2", user_id, workspace_id)).await?;
    if memberships(tx, user_id).await?.is_empty() {
        tx.execute(sql!("DELETE FROM sessions WHERE user_id = $1", user_id)).await?;
    }
    Ok(())
}

/// Ends every session acting for a partner and revokes its keys (suspended or terminated).
pub async fn cut_off_partner(tx: &mut ScopedTx, workspace_id: &WorkspaceId, partner_id: &PartnerId, now: Timestamp) -> Result<()> {
    tx.execute(sql!("DELETE FROM sessions WHERE workspace_id = $1 AND partner_id = $2", workspace_id, partner_id)).await?;
    api_keys::revoke_all_of_partner(tx, workspace_id, partner_id, now).await?;
    Ok(())
}

/// Builds the scope of a staff member or partner user acting as `membership`.
async fn scope_for_user(tx: &mut Tx, user_id: &UserId, email: Email, membership: &MembershipInfo, meta: &RequestMeta) -> Result<Scope> {
    let actor = Actor::User { id: user_id.clone(), email };
    let scope = build_scope(tx, actor, Some(user_id.clone()), membership, false, meta).await?;
    let pending = mfa_enrolment_pending(tx, user_id, membership).await?;
    Ok(scope.with_mfa_enrolment_pending(pending))
}

/// Whether the workspace requires two-step sign-in of this membership (staff, or a partner's
/// admin, as its settings say) and the person has no authenticator app in force. People sign in
/// with keys too: a key is not a sign-in and the policy does not apply to it. One indexed read.
async fn mfa_enrolment_pending(tx: &mut Tx, user_id: &UserId, membership: &MembershipInfo) -> Result<bool> {
    let is_partner_admin = membership.partner_id.is_some() && membership.role == PartnerRole::Admin.as_str();
    let row = tx
        .fetch_one(sql!(
            "SELECT w.mfa_required_staff, w.mfa_required_partner_admins,
                    (SELECT COUNT(*) FROM totp_authenticators t WHERE t.user_id = $2 AND t.confirmed_at IS NOT NULL) AS factors
               FROM workspaces w WHERE w.id = $1",
            membership.workspace_id,
            user_id
        ))
        .await?;
    let required = if membership.partner_id.is_none() {
        row.get::<bool>("mfa_required_staff")?
    } else {
        is_partner_admin && row.get::<bool>("mfa_required_partner_admins")?
    };
    Ok(required && row.get::<i64>("factors")? == 0)
}

async fn build_scope(
    tx: &mut Tx,
    actor: Actor,
    user_id: Option<UserId>,
    m: &MembershipInfo,
    read_only: bool,
    meta: &RequestMeta,
) -> Result<Scope> {
    let workspace_id = m.workspace_id.clone();
    let (membership, visibility) = match &m.partner_id {
        None => {
            let user_id = user_id.ok_or(Error::Unauthorized)?;
            let role = VendorRole::parse(&m.role).ok_or(Error::Unauthorized)?;
            let row = tx
                .fetch_one(sql!("SELECT partner_scope FROM members WHERE workspace_id = $1 AND user_id = $2", workspace_id, user_id))
                .await?;
            let setting: String = row.get("partner_scope")?;
            let partner_scope = PartnerScopeSetting::parse(&setting).unwrap_or(PartnerScopeSetting::All);
            let visibility = if role == VendorRole::ChannelManager && partner_scope == PartnerScopeSetting::Assigned {
                Visibility::Managed(user_id.clone())
            } else {
                Visibility::All
            };
            (Membership::Staff { user_id, role, partner_scope }, visibility)
        }
        Some(partner_id) => {
            let role = PartnerRole::parse(&m.role).ok_or(Error::Unauthorized)?;
            (Membership::Partner { partner_id: partner_id.clone(), role, user_id }, Visibility::Subtree(partner_id.clone()))
        }
    };
    Ok(Scope::new(workspace_id, actor, membership, visibility, read_only, meta.clone()))
}

/// Picks the membership a request acts as: the one named by the `Trellis-Membership` header, or
/// the only one. Several without a header is `MembershipRequired`; a header naming none is 401.
fn choose<'a>(memberships: &'a [MembershipInfo], header: Option<&str>) -> Result<&'a MembershipInfo> {
    match header.map(str::trim) {
        Some(value) => memberships.iter().find(|m| m.header_value() == value).ok_or(Error::Unauthorized),
        None => match memberships {
            [] => Err(Error::forbidden("this account has no membership in any workspace")),
            [only] => Ok(only),
            _ => Err(Error::MembershipRequired),
        },
    }
}

/// Authenticates `Authorization: Bearer …` (an API key or a sign-in token).
pub async fn authenticate_bearer(ctx: &Ctx, credential: &str, membership_header: Option<&str>, meta: &RequestMeta) -> Result<Scope> {
    let now = ctx.now();
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    if credential.starts_with(KEY_PREFIX) {
        let record = api_keys::find_by_secret(&mut tx, credential).await?.ok_or(Error::Unauthorized)?;
        let key = record.key;
        if key.scopes.iter().any(|s| s == api_keys::SCIM_SCOPE) {
            // A SCIM token works at /scim/v2 only ([`authenticate_scim`]).
            return Err(Error::Unauthorized);
        }
        let read_only = !key.scopes.iter().any(|s| s == "write");
        let actor_email;
        let membership = match (&key.user_id, &key.partner_id) {
            (Some(user_id), None) => {
                let row = tx
                    .fetch_optional(sql!(
                        "SELECT m.role, u.email FROM members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND m.user_id = $2",
                        record.workspace_id, user_id
                    ))
                    .await?
                    .ok_or(Error::Unauthorized)?;
                actor_email = Some(row.get::<Email>("email")?);
                MembershipInfo {
                    workspace_id: record.workspace_id.clone(),
                    workspace_name: String::new(),
                    kind: "staff",
                    partner_id: None,
                    partner_name: None,
                    role: row.get("role")?,
                }
            }
            (None, Some(partner_id)) => {
                let row = tx
                    .fetch_one(sql!("SELECT status FROM partners WHERE workspace_id = $1 AND id = $2", record.workspace_id, partner_id))
                    .await?;
                let status: String = row.get("status")?;
                if !PartnerStatus::parse(&status).is_some_and(PartnerStatus::allows_access) {
                    return Err(Error::Unauthorized);
                }
                actor_email = None;
                let role = key.partner_role.map_or("member", PartnerRole::as_str).to_owned();
                MembershipInfo {
                    workspace_id: record.workspace_id.clone(),
                    workspace_name: String::new(),
                    kind: "partner",
                    partner_id: Some(partner_id.clone()),
                    partner_name: None,
                    role,
                }
            }
            _ => return Err(Error::Unauthorized),
        };
        let actor = Actor::ApiKey { id: key.id.clone(), user_email: actor_email };
        let scope = build_scope(&mut tx, actor, key.user_id.clone(), &membership, read_only, meta).await?;
        drop(tx);
        api_keys::touch(ctx, &record.workspace_id, &key).await?;
        return Ok(scope);
    }
    if !credential.starts_with(TOKEN_PREFIX) {
        return Err(Error::Unauthorized);
    }
    let key = sha256_hex(credential);
    let row = tx
        .fetch_optional(sql!(
            "SELECT s.user_id, s.workspace_id, s.partner_id, s.last_seen_at, s.authenticated_at, s.passkey_id, u.email FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = $1 AND s.kind = 'token' AND s.expires_at > $2 AND s.last_seen_at >= $3",
            &key,
            now,
            now.plus_seconds(-SESSION_IDLE_SECONDS)
        ))
        .await?
        .ok_or(Error::Unauthorized)?;
    let last_seen_at: Timestamp = row.get("last_seen_at")?;
    let user_id: UserId = row.get("user_id")?;
    let email: Email = row.get("email")?;
    let bound_workspace: Option<WorkspaceId> = row.get("workspace_id")?;
    let bound_partner: Option<PartnerId> = row.get("partner_id")?;
    let all = memberships(&mut tx, &user_id).await?;
    let chosen = match (membership_header, bound_workspace) {
        // A token issued while its user had one membership keeps acting as it; when that
        // membership is gone, so is the token's right to act.
        (None, Some(workspace)) => {
            all.iter().find(|m| m.workspace_id == workspace && m.partner_id == bound_partner).ok_or(Error::Unauthorized)?
        }
        (header, _) => choose(&all, header)?,
    };
    let scope = scope_for_user(&mut tx, &user_id, email, chosen, meta).await?.with_authenticated_at(row.get("authenticated_at")?);
    // A passkey is two factors at once (ADR 0027): its sessions meet the two-step policy.
    let scope = if row.get::<Option<String>>("passkey_id")?.is_some() { scope.with_mfa_enrolment_pending(false) } else { scope };
    drop(tx);
    touch_session(ctx, &key, last_seen_at).await?;
    Ok(scope)
}

/// Authenticates a partner organisation's SCIM token (`/scim/v2`, API.md "Identity"): the scope
/// of that organisation's admins. Any other credential, a revoked token or a partner that may not
/// sign in (suspended, terminated) is 401.
pub async fn authenticate_scim(ctx: &Ctx, credential: &str, meta: &RequestMeta) -> Result<Scope> {
    if !credential.starts_with(KEY_PREFIX) {
        return Err(Error::Unauthorized);
    }
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let record = api_keys::find_by_secret(&mut tx, credential).await?.ok_or(Error::Unauthorized)?;
    let key = record.key;
    let Some(partner_id) = key.partner_id.as_ref().filter(|_| key.scopes.iter().any(|s| s == api_keys::SCIM_SCOPE)) else {
        return Err(Error::Unauthorized);
    };
    let row =
        tx.fetch_one(sql!("SELECT status FROM partners WHERE workspace_id = $1 AND id = $2", record.workspace_id, partner_id)).await?;
    let status: String = row.get("status")?;
    if !PartnerStatus::parse(&status).is_some_and(PartnerStatus::allows_access) {
        return Err(Error::Unauthorized);
    }
    let membership = MembershipInfo {
        workspace_id: record.workspace_id.clone(),
        workspace_name: String::new(),
        kind: "partner",
        partner_id: Some(partner_id.clone()),
        partner_name: None,
        role: PartnerRole::Admin.as_str().to_owned(),
    };
    let actor = Actor::ApiKey { id: key.id.clone(), user_email: None };
    let scope = build_scope(&mut tx, actor, None, &membership, false, meta).await?;
    drop(tx);
    api_keys::touch(ctx, &record.workspace_id, &key).await?;
    Ok(scope)
}

/// The person behind a sign-in token, whatever their memberships (none yet, or several): for
/// what a person does for themselves rather than for a membership, such as accepting an
/// invitation. 401 for anything but a live sign-in token.
pub async fn token_user(ctx: &Ctx, credential: &str) -> Result<UserId> {
    if !credential.starts_with(TOKEN_PREFIX) {
        return Err(Error::Unauthorized);
    }
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT user_id FROM sessions WHERE id_hash = $1 AND kind = 'token' AND expires_at > $2 AND last_seen_at >= $3",
            sha256_hex(credential),
            ctx.now(),
            ctx.now().plus_seconds(-SESSION_IDLE_SECONDS)
        ))
        .await?
        .ok_or(Error::Unauthorized)?;
    Ok(row.get("user_id")?)
}

/// A signed-in browser session.
#[derive(Debug, Clone)]
pub struct BrowserSession {
    /// The session's stored key ([`session_key`] of its cookie), to end the others.
    pub key: String,
    pub user_id: UserId,
    pub email: Email,
    pub name: String,
    pub csrf_token: String,
    pub memberships: Vec<MembershipInfo>,
    /// The membership the session acts as, when it still exists.
    pub current: Option<MembershipInfo>,
    /// The scope of `current`.
    pub scope: Option<Scope>,
}

/// Looks up a browser session cookie; `None` when missing or expired.
pub async fn authenticate_browser(ctx: &Ctx, token: &str, meta: &RequestMeta) -> Result<Option<BrowserSession>> {
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let key = session_key(token);
    let Some(row) = tx
        .fetch_optional(sql!(
            "SELECT s.user_id, s.csrf_token, s.workspace_id, s.partner_id, s.last_seen_at, s.authenticated_at, s.sso_connection_id, s.passkey_id, u.email, u.name
               FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = $1 AND s.kind = 'browser' AND s.expires_at > $2 AND s.last_seen_at >= $3",
            &key,
            ctx.now(),
            ctx.now().plus_seconds(-SESSION_IDLE_SECONDS)
        ))
        .await?
    else {
        return Ok(None);
    };
    let user_id: UserId = row.get("user_id")?;
    let email: Email = row.get("email")?;
    let workspace_id: Option<WorkspaceId> = row.get("workspace_id")?;
    let partner_id: Option<PartnerId> = row.get("partner_id")?;
    let mut all = memberships(&mut tx, &user_id).await?;
    let current = all.iter().find(|m| Some(&m.workspace_id) == workspace_id.as_ref() && m.partner_id == partner_id).cloned();
    // A session begun through an identity provider acts only for its organisation; that
    // provider, not Trellis, asks for the second factor (ADR 0026).
    let through_provider = row.get::<Option<String>>("sso_connection_id")?.is_some();
    if through_provider {
        all.retain(|m| Some(m) == current.as_ref());
    }
    let scope = match &current {
        Some(m) => {
            let scope =
                scope_for_user(&mut tx, &user_id, email.clone(), m, meta).await?.with_authenticated_at(row.get("authenticated_at")?);
            // A passkey is two factors at once (ADR 0027): its sessions meet the policy too.
            let two_step_elsewhere = through_provider || row.get::<Option<String>>("passkey_id")?.is_some();
            Some(if two_step_elsewhere { scope.with_mfa_enrolment_pending(false) } else { scope })
        }
        None => None,
    };
    drop(tx);
    touch_session(ctx, &key, row.get("last_seen_at")?).await?;
    Ok(Some(BrowserSession {
        key,
        user_id,
        email,
        name: row.get("name")?,
        csrf_token: row.get("csrf_token")?,
        memberships: all,
        current,
        scope,
    }))
}

/// Switches a browser session to another of the user's memberships.
pub async fn switch_membership(ctx: &Ctx, token: &str, session: &BrowserSession, header_value: &str) -> Result<()> {
    let chosen = session.memberships.iter().find(|m| m.header_value() == header_value).ok_or(Error::NotFound)?;
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    tx.execute(sql!(
        "UPDATE sessions SET workspace_id = $2, partner_id = $3 WHERE id_hash = $1",
        sha256_hex(token),
        chosen.workspace_id,
        chosen.partner_id
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}
