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

/// Passwords people pick first; rejected whatever their length (ASVS 6.2.4 asks for a list).
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "qwerty123",
    "iloveyou",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "admin123",
    "letmein1",
    "trustno1",
    "passw0rd",
    "abc12345",
    "11111111",
    "00000000",
    "changeme",
    "trellis123",
    "superman",
    "starwars",
    "whatever",
    "dragon123",
    "monkey123",
    "1q2w3e4r",
    "zaq12wsx",
];

/// Checks a new password: 8 to 256 characters, not a well-known one. No composition rules
/// (ASVS 6.2.5); long passphrases are welcome (6.2.9).
pub fn check_new_password(password: &str) -> Result<()> {
    let length = password.chars().count();
    if length < 8 {
        return Err(Error::invalid("password", "must be at least 8 characters"));
    }
    if length > 256 {
        return Err(Error::invalid("password", "must be at most 256 characters"));
    }
    if COMMON_PASSWORDS.contains(&password.to_lowercase().as_str()) {
        return Err(Error::invalid("password", "is too common; choose another"));
    }
    Ok(())
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

    #[test]
    fn weak_passwords_are_rejected() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("Password123").is_err());
        assert!(check_new_password("a perfectly fine passphrase").is_ok());
    }
}
