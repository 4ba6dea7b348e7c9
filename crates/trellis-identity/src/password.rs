//! Password hashing with Argon2id at the OWASP parameters (m = 19 MiB, t = 2, p = 1), run on the
//! blocking pool so that a login never stalls the async runtime. Unknown accounts are verified
//! against a dummy hash so that response time does not tell whether an account exists.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use trellis_core::{Error, Result};

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The strength a new password must reach on zxcvbn's scale: three, guessed only after some
/// 10^8 to 10^10 tries — out of reach of an online attacker, and of an offline one against an
/// Argon2id hash.
const MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;
/// Parts of the account's email address or name this long or longer may not be in its password.
const PERSONAL_PART_MIN: usize = 4;

/// Checks a new password (issue 12): 8 to 256 characters; not containing the account's email
/// address or name (`personal`: what is known of them, when it is known); and not easy to guess,
/// as zxcvbn estimates it — a common or breached password (its lists of 30,000 are shipped in the
/// binary), words and names, repeats (`aaaaaaaa`), sequences (`abcdefgh`), keyboard patterns,
/// dates and l33t spellings — with zxcvbn's own advice in the message. No composition rules
/// (ASVS 6.2.5); long passphrases are welcome (6.2.9).
pub fn check_new_password(password: &str, personal: &[&str]) -> Result<()> {
    let length = password.chars().count();
    if length < 8 {
        return Err(Error::invalid("password", "must be at least 8 characters"));
    }
    if length > 256 {
        return Err(Error::invalid("password", "must be at most 256 characters"));
    }
    let lower = password.to_lowercase();
    let parts = personal_parts(personal);
    if parts.iter().any(|part| lower.contains(part.as_str())) {
        return Err(Error::invalid("password", "must not contain your email address or name"));
    }
    let inputs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if estimate.score() >= MIN_SCORE {
        return Ok(());
    }
    let mut message = String::from("is too easy to guess");
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            message.push_str(&format!(": {}", warning.to_string().trim_end_matches('.').to_lowercase()));
        }
        message.push('.');
        for suggestion in feedback.suggestions() {
            message.push_str(&format!(" {suggestion}"));
        }
    }
    if !message.ends_with('.') {
        message.push_str(". Add another word or two: a few uncommon words together are easy to remember and hard to guess.");
    }
    Err(Error::invalid("password", message))
}

/// The email address, its local part and that part's words, the labels of its domain, and the
/// words of the name,
/// in lower case, those of [`PERSONAL_PART_MIN`] characters or more.
fn personal_parts(personal: &[&str]) -> Vec<String> {
    let mut parts = Vec::new();
    for text in personal {
        let text = text.trim().to_lowercase();
        if let Some((local, domain)) = text.split_once('@') {
            parts.push(text.clone());
            parts.push(local.to_owned());
            parts.extend(local.split(|c: char| !c.is_alphanumeric()).map(str::to_owned));
            parts.extend(domain.split('.').filter(|label| !matches!(*label, "com" | "org" | "net" | "example")).map(str::to_owned));
        } else {
            parts.extend(text.split(|c: char| !c.is_alphanumeric()).map(str::to_owned));
        }
    }
    parts.retain(|p| p.chars().count() >= PERSONAL_PART_MIN);
    parts.sort();
    parts.dedup();
    parts
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(crate::secret::random_token(16).as_bytes()).map_err(|e| Error::Internal(format!("salt: {e}")))?;
        argon2().hash_password(password.as_bytes(), &salt).map(|hash| hash.to_string()).map_err(|e| Error::Internal(format!("hash: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(format!("hash task: {e}")))?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::encode_b64(b"trellis-dummy-salt")
            .unwrap_or_else(|_| SaltString::from_b64("AAAAAAAAAAAAAAAAAAAAAA").expect("static salt"));
        argon2().hash_password(b"not a password anyone has", &salt).map(|h| h.to_string()).unwrap_or_default()
    })
}

/// Verifies `password` against `stored`; with no stored hash it still spends the same time.
pub async fn verify_password(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match &stored {
            Some(hash) => (hash.as_str(), true),
            None => (dummy_hash(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else { return false };
        argon2().verify_password(password.as_bytes(), &parsed).is_ok() && real
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_use_argon2id_owasp_parameters_and_verify() {
        let hash = hash_password("correct horse battery".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_password("correct horse battery".into(), Some(hash.clone())).await);
        assert!(!verify_password("wrong horse battery".into(), Some(hash)).await);
        assert!(!verify_password("anything".into(), None).await);
    }

    fn refusal(password: &str, personal: &[&str]) -> String {
        match check_new_password(password, personal) {
            Err(Error::Validation(errors)) => errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; "),
            other => panic!("{password:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn weak_repetitive_common_and_personal_passwords_are_refused_with_advice() {
        assert_eq!(refusal("short", &[]), "must be at least 8 characters");
        for weak in ["aaaaaaaa", "abcdefgh", "        ", "Password123", "qwertyuiop", "iloveyou2", "12345678910"] {
            assert!(refusal(weak, &[]).starts_with("is too easy to guess"), "{weak}: {}", refusal(weak, &[]));
        }
        let email = "maria.lopez@northwind.example";
        assert_eq!(refusal("maria.lopez@northwind.example", &[email]), "must not contain your email address or name");
        assert_eq!(refusal("northwind rocks 2026!", &[email]), "must not contain your email address or name");
        assert_eq!(refusal("Lopez-family-1977", &[email, "María López"]), "must not contain your email address or name");
        let common = refusal("password1", &[]);
        assert!(common.contains("common"), "the advice says why: {common}");
    }

    #[test]
    fn passphrases_and_the_fixtures_passwords_are_accepted() {
        for strong in
            ["a perfectly fine passphrase", "correct horse battery staple", "fixture-password-1", "trellis-demo-2026", "Z8#qv!m2Lp"]
        {
            assert!(check_new_password(strong, &["someone@acme.example", "Some One"]).is_ok(), "{strong}");
        }
    }
}
