//! Random secrets (session tokens, API keys, invitation tokens) and their stored form. High-entropy
//! secrets are stored as SHA-256 only: a slow hash adds nothing when guessing is already hopeless
//! (ASVS 6.5.2 reasoning), and lookups stay one indexed equality.

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

/// `chars` random alphanumeric characters from a CSPRNG (43 characters ≈ 256 bits).
pub fn random_token(chars: usize) -> String {
    rand::rng().sample_iter(Alphanumeric).take(chars).map(char::from).collect()
}

/// Lowercase hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time comparison of two strings (CSRF tokens).
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
