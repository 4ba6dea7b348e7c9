//! Public identifiers: a type prefix and a UUIDv7 in lowercase Crockford base32 (26 characters),
//! e.g. `ptn_01jgx2m5k8b3q7r9t0vwxyz123`. The encoding is fixed-width and its alphabet is in ASCII
//! order, so ids sort in creation order as plain bytes; list cursors and "newest first" rely on it.

use std::fmt;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const ENCODED_LEN: usize = 26;

/// Encodes 128 bits as 26 base32 characters (the first character carries only 3 bits).
fn encode_u128(value: u128) -> String {
    let mut out = [0u8; ENCODED_LEN];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (ENCODED_LEN - 1 - i);
        *slot = ALPHABET[((value >> shift) & 0x1f) as usize];
    }
    out.iter().map(|b| *b as char).collect()
}

/// The value of a valid body (the inverse of [`encode_u128`]).
fn decode_u128(body: &str) -> u128 {
    body.bytes().fold(0u128, |acc, b| (acc << 5) | ALPHABET.iter().position(|a| *a == b).unwrap_or(0) as u128)
}

fn is_valid_body(body: &str) -> bool {
    body.len() == ENCODED_LEN && body.bytes().all(|b| ALPHABET.contains(&b)) && body.as_bytes()[0] <= b'7'
}

/// A fresh time-ordered id body (UUIDv7).
pub fn new_id_body() -> String {
    encode_u128(uuid::Uuid::now_v7().as_u128())
}

/// Error returned when a string is not a valid id of the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {expected} id")]
pub struct InvalidId {
    pub expected: &'static str,
}

macro_rules! public_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, new_id_body()))
            }

            /// Parses an id received from outside (path, body, database).
            pub fn parse(text: &str) -> Result<Self, InvalidId> {
                match text.strip_prefix(concat!($prefix, "_")) {
                    Some(body) if is_valid_body(body) => Ok(Self(text.to_owned())),
                    _ => Err(InvalidId { expected: $prefix }),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }

            /// The 128 bits the id stands for, for compact encodings that carry an id (click ids).
            pub fn to_u128(&self) -> u128 {
                decode_u128(&self.0[$prefix.len() + 1..])
            }

            /// The id of those 128 bits (the inverse of [`Self::to_u128`]).
            pub fn from_u128(value: u128) -> Self {
                Self(format!("{}_{}", $prefix, encode_u128(value)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

public_id!(/// A workspace (one vendor, the tenant).
    WorkspaceId, "wks");
public_id!(/// A person with one login across the instance.
    UserId, "usr");
public_id!(/// A partner organisation inside a workspace.
    PartnerId, "ptn");
public_id!(/// An API key (the id, never the secret).
    ApiKeyId, "key");
public_id!(/// An audit event.
    AuditEventId, "aud");
public_id!(/// A pending invitation to set a password.
    InvitationId, "inv");
public_id!(/// A partner program.
    ProgramId, "prg");
public_id!(/// A tier of a program.
    TierId, "tir");
public_id!(/// A partner application to a program.
    ApplicationId, "apl");
public_id!(/// An onboarding step of a program.
    StepId, "stp");
public_id!(/// A version of a program's partner agreement.
    AgreementId, "agr");
public_id!(/// An uploaded file (logo, contract, licence document).
    FileId, "fil");
public_id!(/// A partner contract.
    ContractId, "ctr");
public_id!(/// A compliance licence of a partner.
    LicenceId, "lic");
public_id!(/// An email in the outbox.
    EmailId, "eml");
public_id!(/// A requested change to a partner profile awaiting the vendor.
    ChangeRequestId, "pcr");
public_id!(/// A tier change in a partner's history.
    TierChangeId, "tch");
public_id!(/// A deal: a partner's registration or an opportunity of the vendor's direct pipeline.
    DealId, "deal");
public_id!(/// A dispute of a decision (a rejected deal registration; later a commission).
    DisputeId, "dsp");
public_id!(/// A partner's request to extend a deal's protection.
    ExtensionRequestId, "ext");
public_id!(/// A journal entry of the money ledger (its balanced lines are `ledger_postings` rows).
    JournalEntryId, "jnl");
public_id!(/// A lead, sale or refund reported by the vendor's systems.
    ConversionId, "cnv");
public_id!(/// What a partner earns (or gives back: a reversal or a clawback).
    CommissionId, "com");
public_id!(/// A payout run: what is paid to partners in one currency at once.
    PayoutRunId, "pay");
public_id!(/// A partner's referral link (`/r/{code}`).
    LinkId, "lnk");
public_id!(/// A partner's payout method (the bank account its payouts go to); it keeps its id when replaced.
    PayoutMethodId, "pm");
public_id!(/// A lead the vendor passes to partners.
    LeadId, "lead");
public_id!(/// One offer of a lead to one partner (accepted, declined, expired or returned).
    LeadOfferId, "lof");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_sort_in_creation_order() {
        let first = PartnerId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = PartnerId::generate();
        assert_eq!(PartnerId::parse(first.as_str()), Ok(first.clone()));
        assert!(first.as_str() < second.as_str());
        assert_eq!(first.as_str().len(), 4 + ENCODED_LEN);
        assert_eq!(PartnerId::from_u128(first.to_u128()), first);
        assert_ne!(first.to_u128(), second.to_u128());
    }

    #[test]
    fn ids_of_another_type_or_malformed_are_rejected() {
        let partner = PartnerId::generate();
        assert!(UserId::parse(partner.as_str()).is_err());
        assert!(PartnerId::parse("ptn_").is_err());
        assert!(PartnerId::parse("ptn_01JGX2M5K8B3Q7R9T0VWXYZ123").is_err());
        assert!(PartnerId::parse("ptn_81jgx2m5k8b3q7r9t0vwxyz123").is_err());
    }

    #[test]
    fn encoding_is_fixed_width_and_order_preserving() {
        let values = [0u128, 1, 31, 32, u64::MAX as u128, u128::MAX - 1, u128::MAX];
        for pair in values.windows(2) {
            assert!(encode_u128(pair[0]) < encode_u128(pair[1]));
        }
        assert_eq!(encode_u128(u128::MAX).len(), ENCODED_LEN);
    }
}
