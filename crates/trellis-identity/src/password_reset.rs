//! Password reset by an emailed one-time link (API.md "Identity": `POST /auth/password-reset`,
//! `/complete`; ADR 0023).
//!
//! - Asking always gets the same answer, whether or not an account has the address, and does
//!   about the same work (one transaction, the history row written in both cases): the link goes
//!   only to the address's owner, so the answer reveals nothing.
//! - An address gets at most [`REQUESTS_PER_ACCOUNT`] links an hour and an address (a client) may
//!   ask [`REQUESTS_PER_ADDRESS`] times an hour; more asks are recorded as throttled and send
//!   nothing (the answer stays the same).
//! - The link holds a 256-bit random token, stored as its SHA-256, valid [`RESET_LINK_SECONDS`],
//!   usable once; a new link makes the older ones void. Completing it sets the password (the
//!   policy applies), ends every session of the person and makes their other links void.
//! - The outbox never shows the link to the workspace's admins (it would let them take over the
//!   account): [`crate::background_work`] hides the secret of these emails.

use trellis_core::{Email, Error, Result, UserId};
use trellis_db::sql;
use trellis_jobs::{NewEmail, queue_email_with_secret};

use crate::Ctx;
use crate::auth::{self, AUTHENTICATION};
use crate::password;
use crate::scope::RequestMeta;
use crate::secret::{random_token, sha256_hex};
use crate::sign_ins::{self, Device, Method, Outcome};

/// How long a reset link works.
pub const RESET_LINK_SECONDS: i64 = 30 * 60;
/// Links sent to one address per hour, at most.
pub const REQUESTS_PER_ACCOUNT: i64 = 3;
/// Asks from one network address per hour, at most.
pub const REQUESTS_PER_ADDRESS: i64 = 20;
/// Failed link uses from one network address per 15 minutes before it must wait.
const BAD_LINKS_PER_ADDRESS: i64 = 20;
/// Reset tokens start with this.
pub const RESET_TOKEN_PREFIX: &str = "prt_";
/// The email kind of reset links (the outbox hides their link).
pub const RESET_EMAIL_KIND: &str = "password_reset";

/// Asks for a reset link for `email`. Always `Ok` for a well-formed request: the caller answers
/// 202 whatever happened.
pub async fn request(ctx: &Ctx, email: &str, meta: &RequestMeta) -> Result<()> {
    let normalized = sign_ins::normalise(email);
    let now = ctx.now();
    let ip = meta.ip.as_deref().unwrap_or_default();
    let hour_ago = now.plus_seconds(-3600);
    let mut tx = ctx.db().write_granted(&AUTHENTICATION).await?;
    let for_account = tx
        .fetch_i64(sql!(
            "SELECT COUNT(*) AS n FROM sign_ins WHERE email = $1 AND outcome = 'reset_requested' AND at > $2",
            &normalized,
            hour_ago
        ))
        .await?;
    let from_address = tx
        .fetch_i64(sql!("SELECT COUNT(*) AS n FROM sign_ins WHERE ip = $1 AND outcome = 'reset_requested' AND at > $2", ip, hour_ago))
        .await?;
    let throttled = for_account >= REQUESTS_PER_ACCOUNT || from_address >= REQUESTS_PER_ADDRESS;
    let account = match Email::parse(&normalized) {
        Ok(address) if !throttled => tx.fetch_optional(sql!("SELECT id, email FROM users WHERE email = $1", address)).await?,
        _ => None,
    };
    let outcome = if throttled { Outcome::Throttled } else { Outcome::ResetRequested };
    tx.execute(sql!(
        "INSERT INTO sign_ins (user_id, email, method, outcome, ip, user_agent, at) VALUES ((SELECT id FROM users WHERE email = $1), $1, $2, $3, $4, $5, $6)",
        &normalized,
        Method::PasswordReset.as_str(),
        outcome.as_str(),
        ip,
        meta.user_agent.as_deref().map(|agent| agent.chars().take(512).collect::<String>()),
        now
    ))
    .await?;
    if let Some(row) = account {
        let user_id: UserId = row.get("id")?;
        let address: Email = row.get("email")?;
        // The workspace whose name and outbox the email carries: the person's first membership.
        // A person with none has nothing to sign in to, and gets no link.
        if let Some(membership) = auth::memberships(&mut tx, &user_id).await?.into_iter().next() {
            let token = format!("{RESET_TOKEN_PREFIX}{}", random_token(43));
            tx.execute(sql!("DELETE FROM password_resets WHERE user_id = $1 AND used_at IS NULL", &user_id)).await?;
            tx.execute(sql!(
                "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                sha256_hex(&token),
                &user_id,
                now,
                now.plus_seconds(RESET_LINK_SECONDS)
            ))
            .await?;
            let link = ctx.link(&format!("/password-reset/{token}"));
            let workspace = membership.workspace_name;
            let text = format!(
                "Someone asked to reset the password of your {workspace} account on Trellis ({address}).\n\n\
                 If it was you, choose a new password here within 30 minutes (the link works once):\n{link}\n\n\
                 If it was not you, ignore this email: your password stays as it is, and nobody can use it \
                 without this link. Every session of yours ends when the password is reset."
            );
            let message = NewEmail::from_text(RESET_EMAIL_KIND, address, format!("Reset your {workspace} password"), text);
            queue_email_with_secret(&mut tx, &membership.workspace_id, message, &token, now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A reset link's account, when the link works now (known, unused, not expired).
pub async fn find(ctx: &Ctx, token: &str) -> Result<Option<Email>> {
    if !token.starts_with(RESET_TOKEN_PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    let mut tx = ctx.db().read_granted(&AUTHENTICATION).await?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT u.email FROM password_resets r JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2",
            sha256_hex(token),
            ctx.now()
        ))
        .await?;
    Ok(match row {
        Some(row) => Some(row.get("email")?),
        None => None,
    })
}

/// Sets a new password with a reset link: 422 on `token` when the link is unknown, used or
/// expired (429 after many such tries from one address), 422 on `new_password` when the policy
/// refuses it. Every session of the person ends, and their other links become void.
pub async fn complete(ctx: &Ctx, token: &str, new_password: &str, meta: &RequestMeta) -> Result<UserId> {
    let now = ctx.now();
    let ip = meta.ip.as_deref().unwrap_or_default();
    let mut tx = ctx.db().read_granted(&AUTHENTICATION).await?;
    let bad_links = tx
        .fetch_i64(sql!(
            "SELECT COUNT(*) AS n FROM sign_ins WHERE ip = $1 AND outcome = 'bad_link' AND at > $2",
            ip,
            now.plus_seconds(-15 * 60)
        ))
        .await?;
    if bad_links >= BAD_LINKS_PER_ADDRESS {
        return Err(Error::RateLimited { retry_after_secs: 15 * 60 });
    }
    let row = if token.starts_with(RESET_TOKEN_PREFIX) && token.len() <= 128 {
        tx.fetch_optional(sql!(
            "SELECT r.user_id, r.used_at, r.expires_at, u.email, u.name FROM password_resets r JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1",
            sha256_hex(token)
        ))
        .await?
    } else {
        None
    };
    drop(tx);
    let usable = match &row {
        Some(row) => {
            row.get::<Option<trellis_core::Timestamp>>("used_at")?.is_none() && row.get::<trellis_core::Timestamp>("expires_at")? > now
        }
        None => false,
    };
    let Some(row) = row.filter(|_| usable) else {
        sign_ins::record(ctx, "", Method::PasswordReset, Outcome::BadLink, &Device::default(), meta).await?;
        return Err(Error::invalid("token", "this link does not work any more: ask for a new one"));
    };
    let user_id: UserId = row.get("user_id")?;
    let email: Email = row.get("email")?;
    let name: String = row.get("name")?;
    password::check_new_password(new_password, &[email.as_str(), &name]).map_err(|err| auth::rename_field(err, "new_password"))?;
    let hash = password::hash_password(new_password.to_owned()).await?;
    let mut tx = ctx.db().write_granted(&AUTHENTICATION).await?;
    // Used once: of two requests racing with the same link, one updates the row.
    let claimed = tx
        .execute(sql!("UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL", sha256_hex(token), now))
        .await?;
    if claimed == 0 {
        return Err(Error::invalid("token", "this link does not work any more: ask for a new one"));
    }
    tx.execute(sql!("DELETE FROM password_resets WHERE user_id = $1 AND used_at IS NULL", &user_id)).await?;
    tx.execute(sql!("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1", &user_id, hash, now)).await?;
    let ended = tx.execute(sql!("DELETE FROM sessions WHERE user_id = $1", &user_id)).await?;
    tx.commit().await?;
    sign_ins::record(ctx, email.as_str(), Method::PasswordReset, Outcome::Success, &Device::default(), meta).await?;
    tracing::info!(%user_id, ended, "password reset by link; every session ended");
    Ok(user_id)
}
