//! The sign-in history and the throttle that reads it (ADR 0023).
//!
//! Every attempt to prove who one is — signing in, changing one's password, asking for a reset —
//! is a row of `sign_ins`: the person sees their own, their partner's admins and the vendor's
//! admins see theirs. The throttle decides from those rows, before any password is hashed:
//!
//! - **A device that signed in to the account before** (a device cookie in browsers, a
//!   `device_token` for API clients, as OWASP's "Slow Down Online Guessing Attacks with Device
//!   Cookies") is never slowed down by what others do; only its own failures count, and after
//!   [`DEVICE_FAILURES`] of them in an hour it is treated like any other client.
//! - **Any other client** waits after [`FREE_FAILURES_PER_ACCOUNT`] failures of the account since
//!   its last successful sign-in from such a client (within an hour): 30 s, then twice as long for
//!   each further failure, at most 15 minutes — never a lock-out, and the owner's own devices are
//!   not affected.
//! - **An address** that failed on [`FREE_ACCOUNTS_PER_ADDRESS`] different accounts within 15
//!   minutes (password spraying) makes other clients behind it wait the same way. One person
//!   mistyping their own password many times slows down only their account, so an office behind
//!   one proxy is not locked out by one client; colleagues with a device cookie are never slowed.
//!
//! Counting reads only failures in the window, through indexes on (email | address | device,
//! outcome, time): the back-off itself bounds how many such rows an hour can hold.

use trellis_core::{Error, Result, Timestamp, UserId};
use trellis_db::{Tx, sql};

use crate::Ctx;
use crate::auth::AUTHENTICATION;
use crate::scope::RequestMeta;
use crate::secret::{random_token, sha256_hex};

/// Failures of an account (from clients it does not know) allowed before it makes them wait.
pub const FREE_FAILURES_PER_ACCOUNT: i64 = 5;
/// Different accounts one address may fail on within [`ADDRESS_WINDOW_SECONDS`] before it waits.
pub const FREE_ACCOUNTS_PER_ADDRESS: i64 = 10;
/// Failures of a known device after which it is trusted no more (within an hour).
pub const DEVICE_FAILURES: i64 = 10;
/// The first wait; it doubles with each further failure…
const BACKOFF_BASE_SECONDS: i64 = 30;
/// …up to this.
const BACKOFF_MAX_SECONDS: i64 = 15 * 60;
/// Account and device failures are counted over this window (and since the last success).
const ACCOUNT_WINDOW_SECONDS: i64 = 3600;
/// Address failures are counted over this window.
const ADDRESS_WINDOW_SECONDS: i64 = 15 * 60;
/// A device stays known this long after it last signed in.
const DEVICE_TRUST_SECONDS: i64 = 180 * 24 * 3600;
/// Device tokens (the `trellis_device` cookie, `device_token` in the API) start with this.
pub const DEVICE_TOKEN_PREFIX: &str = "trd_";

/// How an attempt proved (or tried to prove) who it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Password,
    PasswordChange,
    PasswordReset,
    /// Through an organisation's identity provider (`identity::sso`).
    Sso,
    /// With a passkey (`identity::passkeys`).
    Passkey,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::PasswordChange => "password_change",
            Method::PasswordReset => "password_reset",
            Method::Sso => "sso",
            Method::Passkey => "passkey",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    BadPassword,
    Throttled,
    /// The password was right and the second factor's code was not.
    MfaFailed,
    /// A reset link was asked for (and sent when the account exists).
    ResetRequested,
    /// A reset link that is unknown, used or expired was tried.
    BadLink,
    /// An identity provider signed the person in and Trellis refused (an unverified address for
    /// an existing account, a person whose access ended).
    SsoRefused,
    /// A passkey's answer for the account was refused (a bad signature, no user verification, a
    /// signature counter that went back).
    PasskeyRefused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::BadPassword => "bad_password",
            Outcome::Throttled => "throttled",
            Outcome::MfaFailed => "mfa_failed",
            Outcome::ResetRequested => "reset_requested",
            Outcome::BadLink => "bad_link",
            Outcome::SsoRefused => "sso_refused",
            Outcome::PasskeyRefused => "passkey_refused",
        }
    }
}

/// The device an attempt came from: the hash of the device token it presented, and whether that
/// device signed in to the account before (and has not failed too often since).
#[derive(Debug, Clone, Default)]
pub struct Device {
    hash: Option<String>,
    trusted: bool,
}

impl Device {
    pub fn is_trusted(&self) -> bool {
        self.trusted
    }
}

/// The wait before `failures` may try again, counting from the last failure.
fn backoff_seconds(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = (failures - free).min(20) as u32;
    BACKOFF_BASE_SECONDS.saturating_mul(1_i64 << doublings).min(BACKOFF_MAX_SECONDS)
}

/// Whether `last` plus the back-off lies ahead: the seconds left, rounded up.
fn still_waiting(now: Timestamp, last: Option<Timestamp>, wait_seconds: i64) -> Option<u64> {
    let free_at = last?.plus_seconds(wait_seconds);
    (wait_seconds > 0 && free_at > now).then(|| ((free_at.micros() - now.micros() + 999_999) / 1_000_000).max(1) as u64)
}

/// Decides whether an attempt for `email` (normalised) may go on, before any password is hashed.
/// A throttled attempt is 429 with the seconds to wait, and recorded (the person sees it in their
/// history) unless one was recorded for the account or the address within the minute. Answers the device the attempt came from, for [`record`].
pub async fn check(ctx: &Ctx, email: &str, method: Method, device_token: Option<&str>, meta: &RequestMeta) -> Result<Device> {
    let now = ctx.now();
    let ip = meta.ip.as_deref().unwrap_or_default();
    let mut tx = ctx.db().read_granted(&AUTHENTICATION).await?;
    let device = device_for(&mut tx, email, device_token, now).await?;
    if device.trusted {
        return Ok(device);
    }
    // Failures since the account's last success from a client it did not know (by row order:
    // attempts within one microsecond still count), within the window. A success of a known
    // device does not reset the count: the owner signing in on their phone must not hand an
    // attacker a fresh allowance.
    let account_since = now.plus_seconds(-ACCOUNT_WINDOW_SECONDS);
    let row = tx
        .fetch_one(sql!(
            "SELECT MAX(id) AS last FROM sign_ins WHERE email = $1 AND outcome = 'success' AND trusted_device = FALSE AND at > $2",
            email,
            account_since
        ))
        .await?;
    let after_success: i64 = row.get::<Option<i64>>("last")?.unwrap_or(0);
    let row = tx
        .fetch_one(sql!(
            "SELECT COUNT(*) AS n, MAX(at) AS last FROM sign_ins
             WHERE email = $1 AND outcome IN ('bad_password', 'mfa_failed') AND trusted_device = FALSE AND at > $2 AND id > $3",
            email,
            account_since,
            after_success
        ))
        .await?;
    let account_wait = still_waiting(now, row.get("last")?, backoff_seconds(row.get::<i64>("n")?, FREE_FAILURES_PER_ACCOUNT));
    let row = tx
        .fetch_one(sql!(
            "SELECT COUNT(DISTINCT email) AS n, MAX(at) AS last FROM sign_ins WHERE ip = $1 AND outcome IN ('bad_password', 'mfa_failed') AND trusted_device = FALSE AND at > $2",
            ip,
            now.plus_seconds(-ADDRESS_WINDOW_SECONDS)
        ))
        .await?;
    let address_wait = still_waiting(now, row.get("last")?, backoff_seconds(row.get::<i64>("n")?, FREE_ACCOUNTS_PER_ADDRESS));
    let Some(retry_after_secs) = account_wait.max(address_wait) else { return Ok(device) };
    // One throttled row a minute per account and per address is enough for the history, and keeps
    // a flood of refused requests from becoming a flood of writes.
    let recorded_lately = tx
        .fetch_optional(sql!(
            "SELECT 1 AS seen FROM sign_ins WHERE email = $1 AND outcome = 'throttled' AND at > $3
             UNION ALL SELECT 1 AS seen FROM sign_ins WHERE ip = $2 AND outcome = 'throttled' AND at > $3 LIMIT 1",
            email,
            ip,
            now.plus_seconds(-60)
        ))
        .await?
        .is_some();
    drop(tx);
    if !recorded_lately {
        record(ctx, email, method, Outcome::Throttled, &device, meta).await?;
    }
    Err(Error::RateLimited { retry_after_secs })
}

/// Decides whether a signed-in person may try their current password again (changing it): the
/// session is their own device, so neither the account's other failures nor the address's count;
/// its own failures do, with the same back-off as an account's. `session_key` is the session's
/// stored key. Throttled attempts are recorded and 429.
pub async fn check_signed_in(ctx: &Ctx, email: &str, method: Method, session_key: &str, meta: &RequestMeta) -> Result<Device> {
    let now = ctx.now();
    let device = Device { hash: Some(sha256_hex(session_key)), trusted: true };
    let mut tx = ctx.db().read_granted(&AUTHENTICATION).await?;
    let row = tx
        .fetch_one(sql!(
            "SELECT COUNT(*) AS n, MAX(at) AS last FROM sign_ins WHERE device_hash = $1 AND outcome IN ('bad_password', 'mfa_failed') AND at > $2",
            device.hash.as_deref(),
            now.plus_seconds(-ACCOUNT_WINDOW_SECONDS)
        ))
        .await?;
    drop(tx);
    match still_waiting(now, row.get("last")?, backoff_seconds(row.get::<i64>("n")?, FREE_FAILURES_PER_ACCOUNT)) {
        Some(retry_after_secs) => {
            record(ctx, email, method, Outcome::Throttled, &device, meta).await?;
            Err(Error::RateLimited { retry_after_secs })
        }
        None => Ok(device),
    }
}

/// The device behind `token` as seen by the account `email`: trusted when it signed in to that
/// account within [`DEVICE_TRUST_SECONDS`] and has failed fewer than [`DEVICE_FAILURES`] times in
/// the last hour.
async fn device_for(tx: &mut Tx, email: &str, token: Option<&str>, now: Timestamp) -> Result<Device> {
    let Some(token) = token.filter(|t| t.starts_with(DEVICE_TOKEN_PREFIX) && t.len() <= 128) else {
        return Ok(Device::default());
    };
    let hash = sha256_hex(token);
    let known = tx
        .fetch_optional(sql!(
            "SELECT 1 AS known FROM sign_in_devices d JOIN users u ON u.id = d.user_id WHERE d.id_hash = $1 AND u.email = $2 AND d.last_used_at > $3",
            &hash,
            email,
            now.plus_seconds(-DEVICE_TRUST_SECONDS)
        ))
        .await?
        .is_some();
    let trusted = known && {
        let row = tx
            .fetch_one(sql!(
                "SELECT COUNT(*) AS n FROM sign_ins WHERE device_hash = $1 AND outcome IN ('bad_password', 'mfa_failed') AND at > $2",
                &hash,
                now.plus_seconds(-ACCOUNT_WINDOW_SECONDS)
            ))
            .await?;
        row.get::<i64>("n")? < DEVICE_FAILURES
    };
    Ok(Device { hash: Some(hash), trusted })
}

/// Records one attempt in its own transaction (it must stay when the caller's work fails).
pub async fn record(ctx: &Ctx, email: &str, method: Method, outcome: Outcome, device: &Device, meta: &RequestMeta) -> Result<()> {
    let mut tx = ctx.db().write_granted(&AUTHENTICATION).await?;
    tx.execute(sql!(
        "INSERT INTO sign_ins (user_id, email, method, outcome, ip, user_agent, device_hash, trusted_device, at)
         VALUES ((SELECT id FROM users WHERE email = $1), $1, $2, $3, $4, $5, $6, $7, $8)",
        email,
        method.as_str(),
        outcome.as_str(),
        meta.ip.as_deref().unwrap_or_default(),
        meta.user_agent.as_deref().map(|agent| agent.chars().take(512).collect::<String>()),
        device.hash,
        device.trusted,
        ctx.now()
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Remembers the device of a successful sign-in for `user_id`, inside the caller's transaction.
/// Answers the device token to hand back: the one presented when it had the right form, else a
/// new one (one token per browser may be known to several accounts).
pub(crate) async fn remember_device(tx: &mut Tx, user_id: &UserId, presented: Option<&str>, now: Timestamp) -> Result<String> {
    let token = match presented.filter(|t| t.starts_with(DEVICE_TOKEN_PREFIX) && t.len() <= 128) {
        Some(token) => token.to_owned(),
        None => format!("{DEVICE_TOKEN_PREFIX}{}", random_token(32)),
    };
    tx.execute(sql!(
        "INSERT INTO sign_in_devices (id_hash, user_id, created_at, last_used_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (id_hash, user_id) DO UPDATE SET last_used_at = excluded.last_used_at",
        sha256_hex(&token),
        user_id,
        now
    ))
    .await?;
    Ok(token)
}

/// One attempt of a person's sign-in history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignIn {
    pub at: Timestamp,
    pub method: String,
    pub outcome: String,
    pub ip: String,
    pub user_agent: Option<String>,
}

/// How many attempts a history shows at most (the newest).
pub const HISTORY_LIMIT: i64 = 100;

/// The newest attempts on a person's account, newest first. Callers check who may see them.
pub(crate) async fn history_in(tx: &mut Tx, user_id: &UserId) -> Result<Vec<SignIn>> {
    let rows = tx
        .fetch_all(sql!(
            "SELECT at, method, outcome, ip, user_agent FROM sign_ins WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
            user_id,
            HISTORY_LIMIT
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(SignIn {
                at: row.get("at")?,
                method: row.get("method")?,
                outcome: row.get("outcome")?,
                ip: row.get("ip")?,
                user_agent: row.get("user_agent")?,
            })
        })
        .collect()
}

/// The signed-in person's own history.
pub async fn own_history(ctx: &Ctx, user_id: &UserId) -> Result<Vec<SignIn>> {
    let mut tx = ctx.db().read_granted(&AUTHENTICATION).await?;
    history_in(&mut tx, user_id).await
}

/// The normalised form of an address typed at sign-in (trimmed, lower case), also for addresses
/// that are not valid: the throttle counts what was typed.
pub fn normalise(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_the_first_failure_over_the_allowance_and_stops_at_fifteen_minutes() {
        assert_eq!(backoff_seconds(4, 5), 0);
        assert_eq!(backoff_seconds(5, 5), 30);
        assert_eq!(backoff_seconds(6, 5), 60);
        assert_eq!(backoff_seconds(9, 5), 480);
        assert_eq!(backoff_seconds(10, 5), 900);
        assert_eq!(backoff_seconds(10_000, 5), 900);
    }

    #[test]
    fn a_wait_that_has_passed_is_no_wait() {
        let now = Timestamp::from_micros(1_000_000_000_000);
        assert_eq!(still_waiting(now, Some(now.plus_seconds(-31)), 30), None);
        assert_eq!(still_waiting(now, Some(now.plus_seconds(-10)), 30), Some(20));
        assert_eq!(still_waiting(now, None, 30), None);
        assert_eq!(still_waiting(now, Some(now), 0), None);
    }
}
