//! Click ids (`trellis_click`): self-describing and signed, so a conversion can be attributed by
//! its click id the moment the redirect has answered, before the click's row is written (the
//! lesson of performance.md §1: a freshly recorded click may not be queryable yet).
//!
//! `clk_` and, in lowercase Crockford base32, 49 bytes: a version byte, the click's time (Unix
//! seconds), the link (its id's 128 bits), a keyed tag of the visitor's address (the fraud rules
//! compare it with the customer's address without the address being in the id), six random bytes
//! and a 12-byte HMAC-SHA256 of all of it. The key is the instance's (`click_keys`), shared by
//! every server of one database.
//!
//! Version 2 tags the address with SipHash-2-4 under a key derived from the instance's (a keyed
//! pseudo-random function, as the HMAC of version 1, at a twentieth of its cost: the redirect
//! issues an id per visit, and the profile showed the two HMACs as its largest cost). Version 1
//! ids, tagged with HMAC-SHA256, still read.

use std::hash::Hasher;

use ring::hmac;
use siphasher::sip::SipHasher24;
use trellis_core::{LinkId, Timestamp};

const VERSION: u8 = 2;
const VERSION_HMAC_TAGS: u8 = 1;
const BODY: usize = 1 + 8 + 16 + 6 + 6;
const TAG: usize = 12;
const PREFIX: &str = "clk_";
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// The instance's click signing key.
#[derive(Clone)]
pub struct ClickKey {
    mac: hmac::Key,
    /// The SipHash key of version 2's address tags, derived from the instance's.
    address_key: [u8; 16],
}

impl ClickKey {
    pub fn new(secret: &[u8]) -> Self {
        let mac = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let mut address_key = [0u8; 16];
        address_key.copy_from_slice(&hmac::sign(&mac, b"click address tag key").as_ref()[..16]);
        Self { mac, address_key }
    }

    /// A tag of a visitor's address in an id of `version`: equal addresses give equal tags, and
    /// the address cannot be read back from it without the key.
    fn address_tag(&self, version: u8, address: &str) -> [u8; 6] {
        let mut tag = [0u8; 6];
        if version == VERSION_HMAC_TAGS {
            let mut input = b"address:".to_vec();
            input.extend_from_slice(address.as_bytes());
            tag.copy_from_slice(&hmac::sign(&self.mac, &input).as_ref()[..6]);
        } else {
            let mut hasher = SipHasher24::new_with_key(&self.address_key);
            hasher.write(address.as_bytes());
            tag.copy_from_slice(&hasher.finish().to_be_bytes()[..6]);
        }
        tag
    }

    /// Whether the click was made from `address`.
    pub fn clicked_from(&self, facts: &ClickFacts, address: &str) -> bool {
        self.address_tag(facts.version, address) == facts.address_tag
    }

    /// A new click id for a click on `link_id` at `at` from `address`.
    pub fn issue(&self, link_id: &LinkId, at: Timestamp, address: &str) -> String {
        let mut bytes = [0u8; BODY + TAG];
        bytes[0] = VERSION;
        bytes[1..9].copy_from_slice(&at.micros().div_euclid(1_000_000).to_be_bytes());
        bytes[9..25].copy_from_slice(&link_id.to_u128().to_be_bytes());
        bytes[25..31].copy_from_slice(&self.address_tag(VERSION, address));
        bytes[31..37].copy_from_slice(&rand::random::<[u8; 6]>());
        let tag = hmac::sign(&self.mac, &bytes[..BODY]);
        bytes[BODY..].copy_from_slice(&tag.as_ref()[..TAG]);
        let mut id = String::with_capacity(PREFIX.len() + (BODY + TAG) * 8 / 5 + 1);
        id.push_str(PREFIX);
        encode_into(&bytes, &mut id);
        id
    }

    /// What a click id says, if this instance signed it; `None` for anything else (a forged,
    /// altered or foreign id is treated as no click at all).
    pub fn read(&self, click_id: &str) -> Option<ClickFacts> {
        let bytes = decode(click_id.strip_prefix(PREFIX)?)?;
        if bytes.len() != BODY + TAG || !matches!(bytes[0], VERSION | VERSION_HMAC_TAGS) {
            return None;
        }
        let (body, tag) = bytes.split_at(BODY);
        let expected = hmac::sign(&self.mac, body);
        // Constant-time comparison of the truncated tag.
        if !ring_eq(&expected.as_ref()[..TAG], tag) {
            return None;
        }
        let seconds = i64::from_be_bytes(body[1..9].try_into().ok()?);
        let link = u128::from_be_bytes(body[9..25].try_into().ok()?);
        let mut address_tag = [0u8; 6];
        address_tag.copy_from_slice(&body[25..31]);
        Some(ClickFacts {
            link_id: LinkId::from_u128(link),
            clicked_at: Timestamp::from_micros(seconds.saturating_mul(1_000_000)),
            version: body[0],
            address_tag,
        })
    }
}

fn ring_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a signed click id tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickFacts {
    pub link_id: LinkId,
    pub clicked_at: Timestamp,
    version: u8,
    /// Compared by [`ClickKey::clicked_from`].
    address_tag: [u8; 6],
}

fn encode_into(bytes: &[u8], out: &mut String) {
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 0x1f) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 0x1f) as usize] as char);
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|a| *a == c)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    // The padding of the last character must be zero: one id has one spelling.
    (buffer & ((1 << bits) - 1) == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_id_reads_back_and_any_change_is_refused() {
        let key = ClickKey::new(b"0123456789abcdef0123456789abcdef");
        let link = LinkId::generate();
        let at = Timestamp::from_micros(1_800_000_000_000_000);
        let id = key.issue(&link, at, "203.0.113.9");
        let facts = key.read(&id).expect("our own id");
        assert_eq!(facts.link_id, link);
        assert_eq!(facts.clicked_at, at);
        assert!(key.clicked_from(&facts, "203.0.113.9"));
        assert!(!key.clicked_from(&facts, "203.0.113.10"));
        assert_ne!(key.issue(&link, at, "203.0.113.9"), id, "two clicks get two ids");

        // Every single-character change is refused.
        for i in PREFIX.len()..id.len() {
            let mut changed = id.clone().into_bytes();
            changed[i] = if changed[i] == b'0' { b'1' } else { b'0' };
            let changed = String::from_utf8(changed).expect("ascii");
            assert!(key.read(&changed).is_none(), "{changed} was read");
        }
        assert!(ClickKey::new(b"another key of thirty-two bytes!").read(&id).is_none(), "another instance's id");
        for junk in ["", "clk_", "clk_U", "cnv_01", &id[..id.len() - 1]] {
            assert!(key.read(junk).is_none(), "{junk}");
        }
    }

    #[test]
    fn an_id_of_version_one_with_its_hmac_address_tag_still_reads() {
        let key = ClickKey::new(b"0123456789abcdef0123456789abcdef");
        let link = LinkId::generate();
        let mut bytes = vec![VERSION_HMAC_TAGS];
        bytes.extend_from_slice(&1_800_000_000i64.to_be_bytes());
        bytes.extend_from_slice(&link.to_u128().to_be_bytes());
        bytes.extend_from_slice(&key.address_tag(VERSION_HMAC_TAGS, "198.51.100.7"));
        bytes.extend_from_slice(&[7; 6]);
        let tag = hmac::sign(&key.mac, &bytes);
        bytes.extend_from_slice(&tag.as_ref()[..TAG]);
        let mut id = PREFIX.to_owned();
        encode_into(&bytes, &mut id);
        let facts = key.read(&id).expect("a version 1 id");
        assert_eq!(facts.link_id, link);
        assert!(key.clicked_from(&facts, "198.51.100.7") && !key.clicked_from(&facts, "198.51.100.8"));
    }
}
