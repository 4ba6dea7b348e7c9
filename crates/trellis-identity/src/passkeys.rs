//! Passkeys (WebAuthn Level 3; issue 12, ADR 0027): registering them, signing in with one without
//! typing an address, and confirming who one is with one (step-up).
//!
//! - The ceremonies are webauthn-rs's (`Webauthn`): user verification is always required, so a
//!   passkey proves possession and the person (a PIN or biometrics) at once — a sign-in with a
//!   passkey is two-step by itself, and counts for the workspace's two-step policy.
//! - The relying party is the host of the public URL (`TRELLIS_PUBLIC_URL`): browsers refuse
//!   passkeys for an IP address, so an instance served at `http://127.0.0.1:…` has none (409 with
//!   a message saying so); `http://localhost:…` works for trying.
//! - A ceremony's server half is a row of `passkey_ceremonies`, keyed by the SHA-256 of an id the
//!   client holds, used once (deleted before it is looked at further) and five minutes at most.
//! - Each person gets a random handle (a UUID) when registering their first passkey; a passkey
//!   answers it at a sign-in without an address, and the credential found by its id must belong
//!   to the person that handle names.
//! - The signature counter is saved after each sign-in: an answer whose counter went back (a
//!   copied authenticator) is refused.
//! - Registering needs a recent sign-in (step-up, [`crate::auth::STEP_UP_SECONDS`]): a stolen
//!   session must not leave a way back in. Removing a passkey ends the sessions begun with it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use trellis_core::{Email, Error, Result, Timestamp, UserId};
use trellis_db::{Tx, sql};
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use crate::Ctx;
use crate::auth::{self, AUTHENTICATION, SessionKind, SignedIn};
use crate::scope::RequestMeta;
use crate::secret::{random_token, sha256_hex};
use crate::sign_ins::{self, Method, Outcome};

/// How long a ceremony may take, from its options to the authenticator's answer.
pub const CEREMONY_SECONDS: i64 = 5 * 60;
/// Passkeys one person may have.
pub const MAX_PASSKEYS: i64 = 20;
/// A passkey's name, as the person sees it in their list.
pub const NAME_MAX_CHARS: usize = 60;
/// Sign-in ceremonies begun from one address within [`CEREMONY_SECONDS`] (each writes a row;
/// anyone may begin one).
pub const SIGN_INS_PER_ADDRESS: i64 = 60;
/// Passkey ids start with this.
pub const ID_PREFIX: &str = "pk_";

/// What the person sees of one of their passkeys (never the key).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// A ceremony begun: `ceremony_id` is the client's half (shown once), `options` what the browser
/// passes to `navigator.credentials.create()` or `.get()` (`{"publicKey": …}`, WebAuthn's JSON).
#[derive(Debug, Clone)]
pub struct Started {
    pub ceremony_id: String,
    pub options: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Registration,
    SignIn,
    Confirmation,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Registration => "registration",
            Kind::SignIn => "sign_in",
            Kind::Confirmation => "confirmation",
        }
    }
}

/// Said when a ceremony is unknown, used, expired or not the caller's.
pub const EXPIRED: &str = "This passkey request expired or was already used. Please try again.";
/// Said when an answer is refused, without saying why (the log says).
pub const REFUSED: &str = "That passkey could not be accepted. Please try again, or sign in with your password.";

/// The relying party of this instance: the public URL's host. 409 for an address browsers refuse
/// passkeys for (an IP address).
pub fn relying_party(ctx: &Ctx) -> Result<Webauthn> {
    let unavailable = || {
        Error::conflict(
            "passkeys need the server's public address to be a domain name (TRELLIS_PUBLIC_URL, e.g. http://localhost:8080), not an IP address",
        )
    };
    let url = Url::parse(&ctx.public_url).map_err(|_| unavailable())?;
    let host = url.domain().ok_or_else(unavailable)?.to_owned();
    WebauthnBuilder::new(&host, &url).and_then(|builder| builder.rp_name("Trellis").build()).map_err(|_| unavailable())
}

/// Whether this instance can offer passkeys at all (the pages hide their buttons otherwise).
pub fn available(ctx: &Ctx) -> bool {
    relying_party(ctx).is_ok()
}

fn encode_id(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|err| Error::Internal(format!("passkey state: {err}")))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|err| Error::Internal(format!("passkey state: {err}")))
}

/// The person's handle, made on first use (a random UUID, unique on the instance).
async fn handle_of(tx: &mut Tx, user_id: &UserId) -> Result<Uuid> {
    let row = tx.fetch_one(sql!("SELECT passkey_handle FROM users WHERE id = $1", user_id)).await?;
    if let Some(text) = row.get::<Option<String>>("passkey_handle")? {
        return Uuid::parse_str(&text).map_err(|_| Error::Internal("a stored passkey handle is not a UUID".into()));
    }
    let handle = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let set = tx
        .execute(sql!("UPDATE users SET passkey_handle = $2 WHERE id = $1 AND passkey_handle IS NULL", user_id, handle.to_string()))
        .await?;
    if set == 1 {
        return Ok(handle);
    }
    // Another registration of the person set one meanwhile (it committed first): theirs it is.
    let row = tx.fetch_one(sql!("SELECT passkey_handle FROM users WHERE id = $1", user_id)).await?;
    row.get::<Option<String>>("passkey_handle")?
        .and_then(|text| Uuid::parse_str(&text).ok())
        .ok_or_else(|| Error::Internal("the person's passkey handle could not be set".into()))
}

/// Stores a ceremony's server half; answers the client's half.
async fn keep_ceremony(
    tx: &mut Tx,
    kind: Kind,
    user_id: Option<&UserId>,
    state: String,
    meta: &RequestMeta,
    now: Timestamp,
) -> Result<String> {
    let ceremony_id = random_token(43);
    tx.execute(sql!(
        "INSERT INTO passkey_ceremonies (id_hash, kind, user_id, state, ip, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        sha256_hex(&ceremony_id),
        kind.as_str(),
        user_id.cloned(),
        state,
        meta.ip.as_deref().unwrap_or_default(),
        now,
        now.plus_seconds(CEREMONY_SECONDS)
    ))
    .await?;
    Ok(ceremony_id)
}

/// Takes a ceremony of `kind` (for `user_id`, when it belongs to a person): removed before
/// anything else is looked at, so an answer is tried once. Unknown, used, expired or another
/// person's: `Err(EXPIRED)` as `invalid` on `ceremony_id` (or 401 for a sign-in).
async fn take_ceremony(ctx: &Ctx, kind: Kind, user_id: Option<&UserId>, ceremony_id: &str) -> Result<String> {
    let expired = || match kind {
        Kind::SignIn => Error::Unauthorized,
        _ => Error::invalid("ceremony_id", EXPIRED),
    };
    let now = ctx.now();
    let key = sha256_hex(ceremony_id.trim());
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    let Some(row) =
        tx.fetch_optional(sql!("SELECT kind, user_id, state, expires_at FROM passkey_ceremonies WHERE id_hash = $1", &key)).await?
    else {
        return Err(expired());
    };
    if tx.execute(sql!("DELETE FROM passkey_ceremonies WHERE id_hash = $1", &key)).await? != 1 {
        return Err(expired());
    }
    tx.commit().await?;
    let owner: Option<UserId> = row.get("user_id")?;
    let expires_at: Timestamp = row.get("expires_at")?;
    if row.get::<String>("kind")? != kind.as_str() || owner.as_ref() != user_id || expires_at <= now {
        return Err(expired());
    }
    Ok(row.get("state")?)
}

/// The live session under `key` with when it was last proven, or 401.
async fn session_user(tx: &mut Tx, ctx: &Ctx, key: &str) -> Result<(UserId, Timestamp)> {
    let now = ctx.now();
    let row = tx
        .fetch_optional(sql!(
            "SELECT user_id, authenticated_at FROM sessions WHERE id_hash = $1 AND expires_at > $2 AND last_seen_at >= $3",
            key,
            now,
            now.plus_seconds(-auth::SESSION_IDLE_SECONDS)
        ))
        .await?
        .ok_or(Error::Unauthorized)?;
    Ok((row.get("user_id")?, row.get("authenticated_at")?))
}

/// The person's passkeys as webauthn-rs keeps them, with their ids.
async fn stored(tx: &mut Tx, user_id: &UserId) -> Result<Vec<(String, Passkey)>> {
    let rows = tx.fetch_all(sql!("SELECT id, credential FROM passkeys WHERE user_id = $1 ORDER BY created_at, id", user_id)).await?;
    rows.iter().map(|row| Ok((row.get::<String>("id")?, from_json::<Passkey>(&row.get::<String>("credential")?)?))).collect()
}

/// Begins registering a passkey for the person of the session stored under `session_key`
/// (API.md "Passkeys"): the session must have been proven within the step-up window (403
/// `reauthentication_required`), and the person have fewer than [`MAX_PASSKEYS`] (409). Their
/// passkeys are excluded, so an authenticator that holds one says so instead of making another.
pub async fn start_registration(ctx: &Ctx, session_key: &str, meta: &RequestMeta) -> Result<Started> {
    let webauthn = relying_party(ctx)?;
    let now = ctx.now();
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    let (user_id, authenticated_at) = session_user(&mut tx, ctx, session_key).await?;
    if authenticated_at.plus_seconds(auth::STEP_UP_SECONDS) < now {
        return Err(Error::ReauthenticationRequired);
    }
    let existing = stored(&mut tx, &user_id).await?;
    if existing.len() as i64 >= MAX_PASSKEYS {
        return Err(Error::conflict(format!("you have {MAX_PASSKEYS} passkeys, the most one person may have: remove one first")));
    }
    let person = tx.fetch_one(sql!("SELECT email, name FROM users WHERE id = $1", &user_id)).await?;
    let email: Email = person.get("email")?;
    let name: String = person.get("name")?;
    let display = if name.trim().is_empty() { email.as_str().to_owned() } else { name };
    let handle = handle_of(&mut tx, &user_id).await?;
    let exclude = existing.iter().map(|(_, passkey)| passkey.cred_id().clone()).collect::<Vec<_>>();
    let (mut options, state): (CreationChallengeResponse, PasskeyRegistration) = webauthn
        .start_passkey_registration(handle, email.as_str(), &display, Some(exclude))
        .map_err(|err| Error::Internal(format!("passkey registration: {err}")))?;
    // Ask for a discoverable credential, so that the passkey signs in without an address typed
    // (webauthn-rs asks for none by default); an authenticator that cannot store one still
    // registers, and signs in after the address.
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Preferred);
    }
    prune(&mut tx, now).await?;
    let ceremony_id = keep_ceremony(&mut tx, Kind::Registration, Some(&user_id), to_json(&state)?, meta, now).await?;
    tx.commit().await?;
    Ok(Started { ceremony_id, options: serde_json::to_value(&options).map_err(|err| Error::Internal(err.to_string()))? })
}

/// Finishes a registration with the authenticator's answer (`credential`: the browser's
/// `PublicKeyCredential` as JSON, `toJSON()`), naming the passkey `name` (1 to 60 characters).
/// A bad answer or a credential registered already is 422 on `credential`.
pub async fn finish_registration(
    ctx: &Ctx,
    session_key: &str,
    ceremony_id: &str,
    name: &str,
    credential: &serde_json::Value,
) -> Result<PasskeyInfo> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
        return Err(Error::invalid("name", format!("must be 1 to {NAME_MAX_CHARS} characters, e.g. \"Work laptop\"")));
    }
    let webauthn = relying_party(ctx)?;
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let (user_id, _) = session_user(&mut tx, ctx, session_key).await?;
    drop(tx);
    let state: PasskeyRegistration = from_json(&take_ceremony(ctx, Kind::Registration, Some(&user_id), ceremony_id).await?)?;
    let answer: RegisterPublicKeyCredential = serde_json::from_value(credential.clone())
        .map_err(|_| Error::invalid("credential", "is not an authenticator's answer (PublicKeyCredential JSON)"))?;
    let passkey = webauthn.finish_passkey_registration(&answer, &state).map_err(|err| {
        tracing::info!(%user_id, %err, "passkey registration refused");
        Error::invalid("credential", "was refused: the authenticator's answer does not match this request. Please try again.")
    })?;
    let now = ctx.now();
    let id = format!("{ID_PREFIX}{}", trellis_core::id::new_id_body());
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    let inserted = tx
        .execute(sql!(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
            &id,
            &user_id,
            encode_id(passkey.cred_id().as_ref()),
            name,
            to_json(&passkey)?,
            now
        ))
        .await;
    match inserted {
        Err(err) if err.is_unique("passkeys") => {
            return Err(Error::invalid("credential", "this passkey is registered already"));
        }
        other => other?,
    };
    tx.commit().await?;
    tracing::info!(%user_id, passkey = id, "passkey registered");
    Ok(PasskeyInfo { id, name: name.to_owned(), created_at: now, last_used_at: None })
}

/// The person's passkeys, oldest first.
pub async fn list(ctx: &Ctx, user_id: &UserId) -> Result<Vec<PasskeyInfo>> {
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let rows = tx
        .fetch_all(sql!("SELECT id, name, created_at, last_used_at FROM passkeys WHERE user_id = $1 ORDER BY created_at, id", user_id))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(PasskeyInfo {
                id: row.get("id")?,
                name: row.get("name")?,
                created_at: row.get("created_at")?,
                last_used_at: row.get("last_used_at")?,
            })
        })
        .collect()
}

/// Removes one of the person's passkeys (404 for one that is not theirs); the sessions begun
/// with it end, but the one asking (stored under `keep`). Answers how many ended.
pub async fn remove(ctx: &Ctx, user_id: &UserId, passkey_id: &str, keep: &str) -> Result<u64> {
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    if tx.execute(sql!("DELETE FROM passkeys WHERE id = $1 AND user_id = $2", passkey_id, user_id)).await? != 1 {
        return Err(Error::NotFound);
    }
    let ended = tx
        .execute(sql!("DELETE FROM sessions WHERE passkey_id = $1 AND user_id = $2 AND id_hash <> $3", passkey_id, user_id, keep))
        .await?;
    tx.commit().await?;
    tracing::info!(%user_id, passkey = passkey_id, ended, "passkey removed; the sessions begun with it ended");
    Ok(ended)
}

/// Removes ceremonies nobody finished, as new ones begin (a bounded batch, through their age
/// index).
async fn prune(tx: &mut Tx, now: Timestamp) -> Result<()> {
    tx.execute(sql!(
        "DELETE FROM passkey_ceremonies WHERE id_hash IN (SELECT id_hash FROM passkey_ceremonies WHERE expires_at <= $1 ORDER BY expires_at LIMIT 100)",
        now
    ))
    .await?;
    Ok(())
}

/// Begins a sign-in with a passkey, without an address: the browser offers the passkeys it holds
/// for this site. Anyone may begin one, so an address may hold at most
/// [`SIGN_INS_PER_ADDRESS`] unfinished ones (429).
pub async fn start_sign_in(ctx: &Ctx, meta: &RequestMeta) -> Result<Started> {
    let webauthn = relying_party(ctx)?;
    let now = ctx.now();
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    prune(&mut tx, now).await?;
    let ip = meta.ip.as_deref().unwrap_or_default();
    let recent = tx
        .fetch_i64(sql!(
            "SELECT COUNT(*) AS n FROM passkey_ceremonies WHERE ip = $1 AND created_at > $2",
            ip,
            now.plus_seconds(-CEREMONY_SECONDS)
        ))
        .await?;
    if recent >= SIGN_INS_PER_ADDRESS {
        return Err(Error::RateLimited { retry_after_secs: 60 });
    }
    let (mut options, state): (RequestChallengeResponse, DiscoverableAuthentication) =
        webauthn.start_discoverable_authentication().map_err(|err| Error::Internal(format!("passkey sign-in: {err}")))?;
    // A button asks for the passkey (a modal prompt), not the address field's autofill.
    options.mediation = None;
    let ceremony_id = keep_ceremony(&mut tx, Kind::SignIn, None, to_json(&state)?, meta, now).await?;
    tx.commit().await?;
    Ok(Started { ceremony_id, options: serde_json::to_value(&options).map_err(|err| Error::Internal(err.to_string()))? })
}

/// The passkey an answer names, when it belongs to the person its handle names.
struct Found {
    id: String,
    user_id: UserId,
    email: Email,
    passkey: Passkey,
}

async fn find_passkey(ctx: &Ctx, handle: Uuid, credential_id: &[u8]) -> Result<Option<Found>> {
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT p.id, p.user_id, p.credential, u.email FROM passkeys p JOIN users u ON u.id = p.user_id
              WHERE p.credential_id = $1 AND u.passkey_handle = $2",
            encode_id(credential_id),
            handle.to_string()
        ))
        .await?;
    row.map(|row| {
        Ok(Found {
            id: row.get("id")?,
            user_id: row.get("user_id")?,
            email: row.get("email")?,
            passkey: from_json(&row.get::<String>("credential")?)?,
        })
    })
    .transpose()
}

/// Saves what a sign-in changed of the passkey (its counter, backup state) and when it was used.
async fn note_use(ctx: &Ctx, found: &mut Found, result: &webauthn_rs::prelude::AuthenticationResult) -> Result<()> {
    let now = ctx.now();
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    if result.needs_update() && found.passkey.update_credential(result) == Some(true) {
        tx.execute(sql!("UPDATE passkeys SET credential = $2 WHERE id = $1", &found.id, to_json(&found.passkey)?)).await?;
    }
    tx.execute(sql!("UPDATE passkeys SET last_used_at = $2 WHERE id = $1", &found.id, now)).await?;
    tx.commit().await?;
    Ok(())
}

fn parse_answer(credential: &serde_json::Value) -> Result<PublicKeyCredential> {
    serde_json::from_value(credential.clone()).map_err(|_| Error::Unauthorized)
}

/// Finishes a sign-in: the ceremony is this one's (used once, within five minutes), the answer
/// names a registered passkey of the person its handle names, and its signature, origin, relying
/// party, user verification and counter check out. Then a session begins, marked as begun with
/// this passkey. Anything else is 401 (`Err(Unauthorized)`); a refusal for a known account is in
/// its sign-in history, and counts in its throttle.
pub async fn finish_sign_in(
    ctx: &Ctx,
    ceremony_id: &str,
    credential: &serde_json::Value,
    kind: SessionKind,
    device_token: Option<&str>,
    meta: &RequestMeta,
) -> Result<SignedIn> {
    let webauthn = relying_party(ctx)?;
    let state: DiscoverableAuthentication = from_json(&take_ceremony(ctx, Kind::SignIn, None, ceremony_id).await?)?;
    let answer = parse_answer(credential)?;
    let (handle, credential_id) = webauthn.identify_discoverable_authentication(&answer).map_err(|_| Error::Unauthorized)?;
    let Some(mut found) = find_passkey(ctx, handle, credential_id).await? else {
        tracing::info!("a passkey sign-in named no registered passkey");
        return Err(Error::Unauthorized);
    };
    let email = sign_ins::normalise(found.email.as_str());
    let device = sign_ins::check(ctx, &email, Method::Passkey, device_token, meta).await?;
    let result = match webauthn.finish_discoverable_authentication_v2(&answer, state, &found.passkey) {
        Ok(result) => result,
        Err(err) => {
            tracing::info!(user_id = %found.user_id, %err, "passkey sign-in refused");
            sign_ins::record(ctx, &email, Method::Passkey, Outcome::PasskeyRefused, &device, meta).await?;
            return Err(Error::Unauthorized);
        }
    };
    note_use(ctx, &mut found, &result).await?;
    sign_ins::record(ctx, &email, Method::Passkey, Outcome::Success, &device, meta).await?;
    auth::start_passkey_session(ctx, &found.user_id, &found.id, kind, device_token, meta).await
}

/// Begins confirming who the person of the session is with one of their passkeys (step-up, as
/// [`auth::reauthenticate`] with a password). 409 when they have none.
pub async fn start_confirmation(ctx: &Ctx, session_key: &str, meta: &RequestMeta) -> Result<Started> {
    let webauthn = relying_party(ctx)?;
    let now = ctx.now();
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    let (user_id, _) = session_user(&mut tx, ctx, session_key).await?;
    let passkeys = stored(&mut tx, &user_id).await?.into_iter().map(|(_, passkey)| passkey).collect::<Vec<_>>();
    if passkeys.is_empty() {
        return Err(Error::conflict("you have no passkey: confirm with your password"));
    }
    let (options, state): (RequestChallengeResponse, PasskeyAuthentication) =
        webauthn.start_passkey_authentication(&passkeys).map_err(|err| Error::Internal(format!("passkey confirmation: {err}")))?;
    prune(&mut tx, now).await?;
    let ceremony_id = keep_ceremony(&mut tx, Kind::Confirmation, Some(&user_id), to_json(&state)?, meta, now).await?;
    tx.commit().await?;
    Ok(Started { ceremony_id, options: serde_json::to_value(&options).map_err(|err| Error::Internal(err.to_string()))? })
}

/// Finishes a confirmation: the session's `authenticated_at` becomes now. A refused answer is 422
/// on `credential` and in the person's history.
pub async fn finish_confirmation(
    ctx: &Ctx,
    session_key: &str,
    ceremony_id: &str,
    credential: &serde_json::Value,
    meta: &RequestMeta,
) -> Result<Timestamp> {
    let webauthn = relying_party(ctx)?;
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let (user_id, _) = session_user(&mut tx, ctx, session_key).await?;
    let email: Email = tx.fetch_one(sql!("SELECT email FROM users WHERE id = $1", &user_id)).await?.get("email")?;
    drop(tx);
    let state: PasskeyAuthentication = from_json(&take_ceremony(ctx, Kind::Confirmation, Some(&user_id), ceremony_id).await?)?;
    let refused = || Error::invalid("credential", REFUSED);
    let answer = parse_answer(credential).map_err(|_| refused())?;
    let device = sign_ins::check_signed_in(ctx, email.as_str(), Method::Passkey, session_key, meta).await?;
    let result = match webauthn.finish_passkey_authentication(&answer, &state) {
        Ok(result) => result,
        Err(err) => {
            tracing::info!(%user_id, %err, "passkey confirmation refused");
            sign_ins::record(ctx, email.as_str(), Method::Passkey, Outcome::PasskeyRefused, &device, meta).await?;
            return Err(refused());
        }
    };
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    let used = stored(&mut tx, &user_id).await?.into_iter().find(|(_, passkey)| passkey.cred_id() == result.cred_id());
    drop(tx);
    let Some((id, passkey)) = used else { return Err(refused()) };
    let mut found = Found { id, user_id: user_id.clone(), email: email.clone(), passkey };
    note_use(ctx, &mut found, &result).await?;
    let now = ctx.now();
    let mut tx = ctx.db.write_granted(&AUTHENTICATION).await?;
    tx.execute(sql!("UPDATE sessions SET authenticated_at = $2 WHERE id_hash = $1", session_key, now)).await?;
    tx.commit().await?;
    sign_ins::record(ctx, email.as_str(), Method::Passkey, Outcome::Success, &device, meta).await?;
    Ok(now)
}

/// Whether the person has a passkey (the confirmation page offers it).
pub async fn has_any(ctx: &Ctx, user_id: &UserId) -> Result<bool> {
    let mut tx = ctx.db.read_granted(&AUTHENTICATION).await?;
    Ok(tx.fetch_i64(sql!("SELECT COUNT(*) AS n FROM passkeys WHERE user_id = $1", user_id)).await? > 0)
}
