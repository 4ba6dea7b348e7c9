//! Validated values: email addresses, domains, ISO-4217 currencies and IBANs. Each constructor
//! normalises (trim, lowercase where case carries no meaning) and rejects what is not valid.

use std::fmt;

/// An email address, trimmed and lowercased. Validation is deliberately structural (one `@`, a
/// dotted domain, no spaces): deliverability is proven by the invitation mail, not by a regex.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub &'static str);

impl Email {
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let text = text.trim().to_lowercase();
        let Some((local, domain)) = text.split_once('@') else {
            return Err(InvalidValue("must be an email address"));
        };
        let valid = !local.is_empty()
            && local.len() <= 64
            && text.len() <= 254
            && !text.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
            && Domain::parse(domain).is_ok();
        if valid { Ok(Self(text)) } else { Err(InvalidValue("must be an email address")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A DNS domain name (ASCII, lowercase, at least two labels), e.g. `example.com`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Domain(String);

impl Domain {
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let text = text.trim().trim_end_matches('.').to_lowercase();
        let labels: Vec<&str> = text.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if text.len() <= 253 && labels.len() >= 2 && labels.iter().all(label_ok) {
            Ok(Self(text))
        } else {
            Err(InvalidValue("must be a domain name such as example.com"))
        }
    }

    /// A domain from a website address: `https://www.example.com/about` → `www.example.com`.
    pub fn from_website(url: &str) -> Result<Self, InvalidValue> {
        let rest = url.trim();
        let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let host = host.split(':').next().unwrap_or("");
        Self::parse(host)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO-4217 currency code with its minor-unit exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// Currencies Trellis accepts, with their minor-unit exponents (ISO 4217).
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PHP", 2),
    ("PLN", 2),
    ("RON", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

impl Currency {
    /// The codes Trellis accepts, in code order.
    pub fn codes() -> impl Iterator<Item = &'static str> {
        CURRENCIES.iter().map(|(code, _)| *code)
    }

    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let upper = text.trim().to_ascii_uppercase();
        CURRENCIES
            .iter()
            .find(|(code, _)| *code == upper)
            .map(|(code, exponent)| {
                let b = code.as_bytes();
                Currency { code: [b[0], b[1], b[2]], exponent: *exponent }
            })
            .ok_or(InvalidValue("must be a supported ISO-4217 currency code such as USD or EUR"))
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// An IBAN whose ISO 13616 mod-97 checksum holds, stored without spaces in upper case.
#[derive(Clone, PartialEq, Eq)]
pub struct Iban(String);

impl Iban {
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        let shape_ok = (15..=34).contains(&compact.len())
            && compact.bytes().all(|b| b.is_ascii_alphanumeric())
            && compact.as_bytes()[..2].iter().all(u8::is_ascii_alphabetic)
            && compact.as_bytes()[2..4].iter().all(u8::is_ascii_digit);
        if !shape_ok {
            return Err(InvalidValue("must be an IBAN"));
        }
        let rearranged = compact[4..].bytes().chain(compact[..4].bytes());
        let mut remainder: u32 = 0;
        for b in rearranged {
            let value = if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') + 10 };
            remainder = if value >= 10 { (remainder * 100 + value) % 97 } else { (remainder * 10 + value) % 97 };
        }
        if remainder == 1 { Ok(Self(compact)) } else { Err(InvalidValue("the IBAN check digits do not match")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Shown after entry: country code and the last four characters only.
    pub fn masked(&self) -> String {
        let tail = &self.0[self.0.len() - 4..];
        format!("{}•••• {}", &self.0[..2], tail)
    }
}

impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Ana@Example.COM ").map(|e| e.to_string()), Ok("ana@example.com".into()));
        assert!(Email::parse("ana@localhost").is_err());
        assert!(Email::parse("ana example.com").is_err());
        assert!(Email::parse("a b@example.com").is_err());
    }

    #[test]
    fn domains_come_from_websites() {
        assert_eq!(
            Domain::from_website("https://www.Example.com:443/about?x").map(|d| d.as_str().to_owned()),
            Ok("www.example.com".into())
        );
        assert!(Domain::parse("-bad.com").is_err());
    }

    #[test]
    fn currencies_know_their_exponent() {
        assert_eq!(Currency::parse("jpy").map(|c| c.exponent()), Ok(0));
        assert_eq!(Currency::parse("EUR").map(|c| c.code().to_owned()), Ok("EUR".into()));
        assert!(Currency::parse("EURO").is_err());
    }

    #[test]
    fn iban_checksum_is_verified() {
        assert!(Iban::parse("DE89 3704 0044 0532 0130 00").is_ok());
        assert!(Iban::parse("GB82 WEST 1234 5698 7654 32").is_ok());
        assert!(Iban::parse("DE89 3704 0044 0532 0130 01").is_err());
        assert_eq!(Iban::parse("DE89370400440532013000").map(|i| i.masked()), Ok("DE•••• 3000".into()));
    }
}
