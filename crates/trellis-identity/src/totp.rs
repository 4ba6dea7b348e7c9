//! A second factor: authenticator apps (TOTP, RFC 6238) and recovery codes (API.md "Identity",
//! ADR 0023).
//!
//! - RFC 6238 with its defaults, which every authenticator app reads from an `otpauth://` link:
//!   HMAC-SHA-1 (`ring`'s, kept for exactly this), 6 digits, 30-second steps; a code of the step
//!   before or after is accepted too (clocks drift), and each step's code works once: the newest
//!   step used is stored, and a code of that step or an earlier one is refused.
//! - The seed (160 random bits) is sealed at rest with the instance's secret key
//!   ([`crate::secret_box`]) for the user's row: a copied value does not open for another person.
//! - Setting up takes two steps: the seed is shown once (as a link the app reads and as text),
//!   and the app's first code confirms it. Then ten recovery codes are shown, once; each works
//!   once, in place of a code, and is stored as its SHA-256.
//! - Turning it on or off ends every other session of the person (the one used stays).

use ring::hmac;
use trellis_core::{Email, Error, Result, Timestamp, UserId};
use trellis_db::{Tx, sql};

use crate::Ctx;
use crate::auth::AUTHENTICATION;
use crate::secret::{random_token, sha256_hex};
use crate::secret_box;

/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Recovery codes issued when the authenticator is confirmed.
pub const RECOVERY_CODES: usize = 10;
const DIGITS: u32 = 6;
const SEED_BYTES: usize = 20;
/// What the secret box calls seeds (with the user id: the associated data of a sealed seed).
const SEED_CONTEXT: &str = "totp_authenticators.sealed_seed";

/// The RFC 4226 value of `seed` at `counter`: HMAC-SHA-1, dynamic truncation, 6 digits.
fn hotp(seed: &[u8], counter: u64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, seed);
    let digest = hmac::sign(&key, &counter.to_be_bytes());
    let bytes = digest.as_ref();
    let offset = usize::from(bytes[bytes.len() - 1] & 0x0f);
    let value = u32::from_be_bytes([bytes[offset] & 0x7f, bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]]);
    value % 10_u32.pow(DIGITS)
}

/// The step a time falls in.
fn step_of(at: Timestamp) -> i64 {
    at.micros().div_euclid(1_000_000).div_euclid(STEP_SECONDS)
}

/// The code of `seed` at the step `step` (zero-padded to six digits).
pub fn code_at_step(seed: &[u8], step: i64) -> String {
    format!("{:06}", hotp(seed, step.max(0) as u64))
}

/// RFC 4648 base32 without padding: how apps take a seed typed by hand.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0_u32, 0_u32);
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            out.push(char::from(ALPHABET[((buffer >> (bits - 5)) & 31) as usize]));
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
}

/// A seed being set up: what the app needs.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The seed in base32, for typing into an app.
    pub secret: String,
    /// `otpauth://totp/…`: what a QR code carries.
    pub otpauth_url: String,
}

/// Whether a person has a confirmed authenticator (their sign-in needs a code).
pub async fn is_active(tx: &mut Tx, user_id: &UserId) -> Result<bool> {
    Ok(tx
        .fetch_optional(sql!("SELECT 1 AS active FROM totp_authenticators WHERE user_id = $1 AND confirmed_at IS NOT NULL", user_id))
        .await?
        .is_some())
}

/// Whether the signed-in person has a confirmed authenticator.
pub async fn active_for(ctx: &Ctx, user_id: &UserId) -> Result<bool> {
    let mut tx = ctx.db().read_granted(&AUTHENTICATION).await?;
    is_active(&mut tx, user_id).await
}

/// Starts setting up an authenticator: a new seed, not in force until [`confirm`]. 409 when one
/// is in force already (turn it off first) or when the server has no secret key.
pub async fn enrol(ctx: &Ctx, user_id: &UserId, issuer: &str) -> Result<Enrolment> {
    let key = secret_box::configured(ctx, "authenticator apps")?;
    let mut seed = [0_u8; SEED_BYTES];
    rand::fill(&mut seed);
    let sealed = key.seal(&format!("{SEED_CONTEXT}:{user_id}"), &crate::secret::hex(&seed))?;
    let now = ctx.now();
    let mut tx = ctx.db().write_granted(&AUTHENTICATION).await?;
    if is_active(&mut tx, user_id).await? {
        return Err(Error::conflict("an authenticator app is already set up: turn it off first to set up another"));
    }
    let email: Email = tx.fetch_one(sql!("SELECT email FROM users WHERE id = $1", user_id)).await?.get("email")?;
    tx.execute(sql!(
        "INSERT INTO totp_authenticators (user_id, sealed_seed, confirmed_at, last_step, created_at) VALUES ($1, $2, NULL, 0, $3)
         ON CONFLICT (user_id) DO UPDATE SET sealed_seed = excluded.sealed_seed, confirmed_at = NULL, last_step = 0, created_at = excluded.created_at",
        user_id,
        sealed,
        now
    ))
    .await?;
    tx.commit().await?;
    Ok(enrolment(&seed, issuer, &email))
}

/// What an app needs to take `seed`.
fn enrolment(seed: &[u8], issuer: &str, email: &Email) -> Enrolment {
    let secret = base32(seed);
    let label = format!("{issuer}:{email}");
    let otpauth_url = format!(
        "otpauth://totp/{}?secret={secret}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        percent(&label),
        percent(issuer)
    );
    Enrolment { secret, otpauth_url }
}

/// The authenticator being set up (started, not confirmed yet), for showing it again.
pub async fn pending(ctx: &Ctx, user_id: &UserId, issuer: &str) -> Result<Option<Enrolment>> {
    let mut tx = ctx.db().read_granted(&AUTHENTICATION).await?;
    let Some((seed, _)) = seed_of(ctx, &mut tx, user_id, false).await? else { return Ok(None) };
    let email: Email = tx.fetch_one(sql!("SELECT email FROM users WHERE id = $1", user_id)).await?.get("email")?;
    Ok(Some(enrolment(&seed, issuer, &email)))
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for the `otpauth` link.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The person's seed, opened; `None` when they have none (`confirmed` says which one to read).
async fn seed_of(ctx: &Ctx, tx: &mut Tx, user_id: &UserId, confirmed: bool) -> Result<Option<(Vec<u8>, i64)>> {
    let Some(row) =
        tx.fetch_optional(sql!("SELECT sealed_seed, last_step, confirmed_at FROM totp_authenticators WHERE user_id = $1", user_id)).await?
    else {
        return Ok(None);
    };
    if row.get::<Option<Timestamp>>("confirmed_at")?.is_some() != confirmed {
        return Ok(None);
    }
    let key = secret_box::configured(ctx, "authenticator apps")?;
    let hex = key.open(&format!("{SEED_CONTEXT}:{user_id}"), &row.get::<String>("sealed_seed")?)?;
    let seed = from_hex(&hex).ok_or_else(|| Error::Internal("a sealed seed that is not hex".into()))?;
    Ok(Some((seed, row.get("last_step")?)))
}

/// The step among now's and its neighbours whose code `code` is, newer than `last_step`.
fn matching_step(seed: &[u8], code: &str, now: Timestamp, last_step: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let current = step_of(now);
    [current - 1, current, current + 1]
        .into_iter()
        .filter(|step| *step > last_step)
        .find(|step| crate::secret::same_secret(&code_at_step(seed, *step), &code))
}

/// Whether `code` has the form of an app's code (six digits; spaces do not matter).
fn is_app_code(code: &str) -> bool {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == DIGITS as usize && digits.chars().all(|c| c.is_ascii_digit())
}

/// Characters of a recovery code (shown as two groups of five).
const RECOVERY_CODE_CHARS: usize = 10;

/// A recovery code as typed (spaces, dashes and case do not matter), for hashing.
fn normalise_recovery(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase()
}

/// Confirms the seed being set up with the app's first code: it is in force from now on, every
/// other session of the person ends, and ten recovery codes are answered (shown once). 422 on
/// `code` for a wrong code; 409 when nothing is being set up.
pub async fn confirm(ctx: &Ctx, user_id: &UserId, code: &str, keep: &str) -> Result<Vec<String>> {
    if !is_app_code(code) {
        return Err(Error::invalid("code", "must be the 6 digits the app shows"));
    }
    let now = ctx.now();
    let mut tx = ctx.db().write_granted(&AUTHENTICATION).await?;
    let (seed, _) = seed_of(ctx, &mut tx, user_id, false)
        .await?
        .ok_or_else(|| Error::conflict("no authenticator app is being set up: start with POST /api/v1/auth/totp"))?;
    let step = matching_step(&seed, code, now, 0).ok_or_else(|| Error::invalid("code", "is not the code the app shows now"))?;
    tx.execute(sql!(
        "UPDATE totp_authenticators SET confirmed_at = $2, last_step = $3 WHERE user_id = $1 AND confirmed_at IS NULL",
        user_id,
        now,
        step
    ))
    .await?;
    tx.execute(sql!("DELETE FROM recovery_codes WHERE user_id = $1", user_id)).await?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let raw = random_token(RECOVERY_CODE_CHARS).to_lowercase();
        let code = format!("{}-{}", &raw[..5], &raw[5..10]);
        tx.execute(sql!(
            "INSERT INTO recovery_codes (user_id, code_hash, used_at) VALUES ($1, $2, NULL)",
            user_id,
            sha256_hex(&normalise_recovery(&code))
        ))
        .await?;
        codes.push(code);
    }
    crate::auth::end_other_sessions(&mut tx, user_id, keep).await?;
    tx.commit().await?;
    tracing::info!(%user_id, "authenticator app confirmed; the other sessions ended");
    Ok(codes)
}

/// Checks a second factor for `user_id` and uses it up: a code of the app (once per step) or an
/// unused recovery code. Inside the caller's transaction, so that two requests with the same code
/// cannot both pass.
pub async fn verify(ctx: &Ctx, tx: &mut Tx, user_id: &UserId, code: &str) -> Result<bool> {
    let Some((seed, last_step)) = seed_of(ctx, tx, user_id, true).await? else { return Ok(false) };
    if let Some(step) = matching_step(&seed, code, ctx.now(), last_step) {
        let moved =
            tx.execute(sql!("UPDATE totp_authenticators SET last_step = $2 WHERE user_id = $1 AND last_step < $2", user_id, step)).await?;
        return Ok(moved == 1);
    }
    let recovery = normalise_recovery(code);
    if recovery.len() != RECOVERY_CODE_CHARS {
        return Ok(false);
    }
    let used = tx
        .execute(sql!(
            "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
            user_id,
            sha256_hex(&recovery),
            ctx.now()
        ))
        .await?;
    Ok(used == 1)
}

/// How many recovery codes the person has left.
pub async fn recovery_codes_left(ctx: &Ctx, user_id: &UserId) -> Result<i64> {
    let mut tx = ctx.db().read_granted(&AUTHENTICATION).await?;
    Ok(tx.fetch_i64(sql!("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL", user_id)).await?)
}

/// Turns the authenticator off with a code of it (or a recovery code): the account signs in with
/// its password alone again, and every other session of the person ends. 422 on `code` for a
/// wrong code; 409 when none is set up.
pub async fn disable(ctx: &Ctx, user_id: &UserId, code: &str, keep: &str) -> Result<()> {
    if !is_app_code(code) && normalise_recovery(code).len() != RECOVERY_CODE_CHARS {
        return Err(Error::invalid("code", "must be the 6 digits the app shows, or a recovery code"));
    }
    let mut tx = ctx.db().write_granted(&AUTHENTICATION).await?;
    if !is_active(&mut tx, user_id).await? {
        return Err(Error::conflict("no authenticator app is set up"));
    }
    if !verify(ctx, &mut tx, user_id, code).await? {
        return Err(Error::invalid("code", "is not a code of your authenticator app or an unused recovery code"));
    }
    tx.execute(sql!("DELETE FROM totp_authenticators WHERE user_id = $1", user_id)).await?;
    tx.execute(sql!("DELETE FROM recovery_codes WHERE user_id = $1", user_id)).await?;
    crate::auth::end_other_sessions(&mut tx, user_id, keep).await?;
    tx.commit().await?;
    tracing::info!(%user_id, "authenticator app turned off; the other sessions ended");
    Ok(())
}

/// Refuses a key that cannot open the stored seeds (or no key while some are stored): the
/// people with an authenticator could not sign in. The binary checks it before serving.
pub async fn check_key(ctx: &Ctx) -> Result<()> {
    let mut tx = ctx.db().read_granted(&AUTHENTICATION).await?;
    let newest = tx.fetch_optional(sql!("SELECT user_id, confirmed_at FROM totp_authenticators ORDER BY created_at DESC LIMIT 1")).await?;
    let Some(row) = newest else { return Ok(()) };
    let user_id: UserId = row.get("user_id")?;
    let confirmed = row.get::<Option<Timestamp>>("confirmed_at")?.is_some();
    if ctx.extension::<secret_box::SecretKey>().is_err() {
        return Err(Error::conflict(
            "authenticator seeds are stored encrypted and TRELLIS_SECRET_KEY is not set: set it (or TRELLIS_SECRET_KEY_FILE) to the key they were stored with",
        ));
    }
    seed_of(ctx, &mut tx, &user_id, confirmed).await.map(|_| ()).map_err(|_| {
        Error::conflict("TRELLIS_SECRET_KEY does not open the stored authenticator seeds: it is not the key they were stored with")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (the seed is the ASCII of "12345678901234567890"), cut to
    /// six digits as apps show them.
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let seed = b"12345678901234567890";
        for (seconds, eight_digits) in [
            (59_i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let step = step_of(Timestamp::from_micros(seconds * 1_000_000));
            assert_eq!(code_at_step(seed, step), eight_digits[2..], "at {seconds}");
        }
    }

    #[test]
    fn base32_is_rfc_4648_without_padding() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn a_code_of_a_neighbouring_step_passes_once_and_older_ones_never() {
        let seed = b"12345678901234567890";
        let now = Timestamp::from_micros(1_111_111_111 * 1_000_000);
        let current = step_of(now);
        let before = code_at_step(seed, current - 1);
        assert_eq!(matching_step(seed, &before, now, 0), Some(current - 1));
        assert_eq!(matching_step(seed, &before, now, current - 1), None, "used");
        assert_eq!(matching_step(seed, &code_at_step(seed, current - 2), now, 0), None, "too old");
        assert_eq!(matching_step(seed, &format!(" {} ", code_at_step(seed, current + 1)), now, current), Some(current + 1));
        assert_eq!(matching_step(seed, "12345", now, 0), None);
    }
}
