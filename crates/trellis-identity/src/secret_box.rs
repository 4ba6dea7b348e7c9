//! Sealing values at rest (ADR 0018): AES-256-GCM (`ring::aead`, already in the tree through
//! rustls) under the instance's secret key, `TRELLIS_SECRET_KEY`, with a fresh random 96-bit nonce
//! per value. A sealed value is `v1:` and the hex of nonce, ciphertext and tag; the version names
//! the format (and, once keys rotate, the key), so a later format can sit beside this one.
//!
//! Each value is sealed for a context (the row and column it belongs to) passed as associated
//! data: a sealed value copied into another partner's row, or from the holder's column into the
//! IBAN's, does not open.
//!
//! The binary puts the key into the context (`Ctx::with_extension`) when one is configured;
//! [`configured`] answers 409 naming the setting when none is, so an installation without payout
//! methods or authenticator apps runs without a key. Payout methods (ADR 0018) and TOTP seeds
//! (ADR 0023) are sealed with it.

use std::fmt;
use std::sync::Arc;

use crate::Ctx;
use crate::secret::hex;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use trellis_core::values::InvalidValue;
use trellis_core::{Error, Result};

/// The prefix of every value sealed by this version.
const V1: &str = "v1:";

/// The AES-256-GCM key values are sealed with. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretKey {
    key: Arc<LessSafeKey>,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// A key of 32 bytes written as 64 hexadecimal characters (`openssl rand -hex 32`); white
    /// space around it is ignored.
    pub fn parse_hex(text: &str) -> Result<Self, InvalidValue> {
        let invalid = InvalidValue("must be 64 hexadecimal characters (32 bytes), e.g. the output of `openssl rand -hex 32`");
        let bytes = from_hex(text.trim()).filter(|b| b.len() == 32).ok_or(invalid.clone())?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| invalid)?;
        Ok(Self { key: Arc::new(LessSafeKey::new(key)) })
    }

    /// `plain` sealed for `context` (module documentation).
    pub fn seal(&self, context: &str, plain: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| Error::Internal("the system's random source failed".into()))?;
        let mut sealed = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut sealed)
            .map_err(|_| Error::Internal("sealing a value failed".into()))?;
        Ok(format!("{V1}{}{}", hex(&nonce), hex(&sealed)))
    }

    /// The plain text of a value sealed for `context`. A value sealed with another key or for
    /// another context, or altered, is an internal error: the stored data and the configured key
    /// disagree, which no request can mend.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String> {
        let unreadable = || Error::Internal(format!("a sealed value of {context} does not open with the configured TRELLIS_SECRET_KEY"));
        let bytes = sealed.strip_prefix(V1).and_then(from_hex).filter(|b| b.len() > NONCE_LEN).ok_or_else(unreadable)?;
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unreadable())?;
        let mut rest = rest.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut rest).map_err(|_| unreadable())?;
        String::from_utf8(plain.to_vec()).map_err(|_| unreadable())
    }
}

/// The key the binary configured; 409 naming the setting and what needs it (`what`, e.g.
/// "payout methods") when there is none.
pub fn configured<'a>(ctx: &'a Ctx, what: &str) -> Result<&'a SecretKey> {
    ctx.extension::<SecretKey>().map_err(|_| {
        Error::conflict(format!(
            "{what} need TRELLIS_SECRET_KEY: the server has no key to encrypt them with (see the README's configuration)"
        ))
    })
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn key() -> SecretKey {
        SecretKey::parse_hex(KEY).expect("a valid key")
    }

    #[test]
    fn a_sealed_value_opens_in_its_context_only() {
        let sealed = key().seal("payout_methods.iban:wks_a:ptn_a", "DE89370400440532013000").expect("sealed");
        assert!(sealed.starts_with("v1:") && !sealed.contains("DE89"), "{sealed}");
        assert_eq!(key().open("payout_methods.iban:wks_a:ptn_a", &sealed).expect("opens"), "DE89370400440532013000");
        assert!(key().open("payout_methods.iban:wks_a:ptn_b", &sealed).is_err(), "another row's context");
        let other = SecretKey::parse_hex(&KEY.replace("00", "ff")).expect("another key");
        assert!(other.open("payout_methods.iban:wks_a:ptn_a", &sealed).is_err(), "another key");
    }

    #[test]
    fn every_sealing_takes_a_fresh_nonce_and_an_altered_value_does_not_open() {
        let (a, b) = (key().seal("c", "same").expect("a"), key().seal("c", "same").expect("b"));
        assert_ne!(a, b);
        let mut altered = a.into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'0' { b'1' } else { b'0' };
        assert!(key().open("c", &String::from_utf8(altered).expect("ascii")).is_err());
        assert!(key().open("c", "v1:00").is_err() && key().open("c", "v2:").is_err());
    }

    #[test]
    fn a_key_is_64_hex_characters() {
        assert!(SecretKey::parse_hex(&format!(" {KEY}\n")).is_ok());
        assert!(SecretKey::parse_hex(&KEY[..62]).is_err());
        assert!(SecretKey::parse_hex(&KEY.replace('a', "g")).is_err());
        assert_eq!(format!("{:?}", key()), "SecretKey(…)");
    }
}
