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

/// The length of each country's IBANs, from the SWIFT IBAN registry (ISO 13616). A country that
/// is not listed issues no IBANs.
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HN", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

/// Countries whose BBAN (the IBAN after its check digits) is digits only (SWIFT IBAN registry).
/// Mod 97 catches any one digit changed, but a letter put in a digit's place lengthens the number
/// it checks, and one such change in 97 passes; for these countries the shape refuses it.
const IBAN_NUMERIC_BBAN: &[&str] = &[
    "AE", "AT", "BA", "BE", "CZ", "DE", "DK", "EE", "ES", "FI", "FO", "GL", "HR", "HU", "IL", "LT", "ME", "NO", "PL", "PT", "RS", "SE",
    "SI", "SK", "TL", "TN",
];

/// An IBAN of a country that issues them, with that country's length, and whose ISO 13616 mod-97
/// checksum holds; stored without spaces in upper case.
#[derive(Clone, PartialEq, Eq)]
pub struct Iban(String);

impl Iban {
    /// Parses an IBAN as people write it: spaces anywhere, either case.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        let shape_ok = compact.len() >= 4
            && compact.bytes().all(|b| b.is_ascii_alphanumeric())
            && compact.as_bytes()[..2].iter().all(u8::is_ascii_alphabetic)
            && compact.as_bytes()[2..4].iter().all(u8::is_ascii_digit);
        if !shape_ok {
            return Err(InvalidValue("must be an IBAN: a country code, two check digits and the account number"));
        }
        let country = &compact[..2];
        let Some((_, length)) = IBAN_LENGTHS.iter().find(|(code, _)| *code == country) else {
            return Err(InvalidValue("must be an IBAN of a country that issues them"));
        };
        if compact.len() != *length {
            return Err(InvalidValue("has the wrong number of characters for its country"));
        }
        if IBAN_NUMERIC_BBAN.contains(&country) && !compact.bytes().skip(4).all(|b| b.is_ascii_digit()) {
            return Err(InvalidValue("the IBAN's account number must be digits only in this country"));
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

    /// The ISO 3166 country code it starts with.
    pub fn country(&self) -> &str {
        &self.0[..2]
    }

    /// Its last four characters, which the masked form shows.
    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    /// Shown after entry: country code and the last four characters only.
    pub fn masked(&self) -> String {
        Self::mask(self.country(), self.last4())
    }

    /// The masked form from its two parts, for stores that keep only those (payout methods).
    pub fn mask(country: &str, last4: &str) -> String {
        format!("{country}•••• {last4}")
    }
}

impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// A BIC (ISO 9362): four letters or digits for the institution, a two-letter country code, two
/// letters or digits for the location, and optionally three for the branch; stored in upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bic(String);

impl Bic {
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let bic = text.trim().to_ascii_uppercase();
        let b = bic.as_bytes();
        let shape_ok =
            (b.len() == 8 || b.len() == 11) && b.iter().all(u8::is_ascii_alphanumeric) && b[4..6].iter().all(u8::is_ascii_alphabetic);
        if shape_ok { Ok(Self(bic)) } else { Err(InvalidValue("must be a BIC of 8 or 11 letters and digits, e.g. COBADEFFXXX")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
        assert_eq!(Iban::parse("de89 3704 0044 0532 0130 00").map(|i| i.as_str().to_owned()), Ok("DE89370400440532013000".into()));
    }

    #[test]
    fn an_iban_needs_its_countrys_length_and_a_known_country() {
        // Valid checksums, wrong shapes: DE is 22 characters, XX issues no IBANs.
        assert_eq!(
            Iban::parse("DE75 5121 0800 1245 1261 990").map(|_| ()),
            Err(InvalidValue("has the wrong number of characters for its country"))
        );
        assert!(Iban::parse("XX82 WEST 1234 5698 7654 32").is_err());
        assert!(Iban::parse("NO93 8601 1117 947").is_ok());
        assert!(Iban::parse("MT84 MALT 0110 0001 2345 MTLC AST0 01S").is_ok());
        assert!(Iban::parse("").is_err() && Iban::parse("DE").is_err());
    }

    #[test]
    fn bics_have_the_iso_9362_shape() {
        assert_eq!(Bic::parse(" cobadeffxxx ").map(|b| b.as_str().to_owned()), Ok("COBADEFFXXX".into()));
        assert!(Bic::parse("COBADEFF").is_ok());
        assert!(Bic::parse("COBA12FF").is_err(), "the country is letters");
        assert!(Bic::parse("COBADEFFX").is_err() && Bic::parse("COBA DEFF").is_err());
    }

    /// The check digits that make `country` + `bban` a valid IBAN (ISO 13616: 98 minus the
    /// remainder of the rearranged number with "00" in their place).
    fn with_check_digits(country: &str, bban: &str) -> String {
        let rearranged = format!("{bban}{country}00");
        let remainder = rearranged.bytes().fold(0u32, |r, b| {
            let value = if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') + 10 };
            if value >= 10 { (r * 100 + value) % 97 } else { (r * 10 + value) % 97 }
        });
        format!("{country}{:02}{bban}", 98 - remainder)
    }

    const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    proptest::proptest! {
        /// Every valid IBAN with any one character changed is refused: by the shape (letters where
        /// digits belong, an unknown country, another country's length) or by the checksum. For
        /// countries whose account numbers may hold letters, a change inside the account number
        /// keeps the kind of character (digit for digit, letter for letter): a letter for a digit
        /// lengthens the number mod 97 checks, and one such change in 97 passes (ISO 7064 promises
        /// single substitutions within the digits only).
        #[test]
        fn any_one_character_changed_is_refused(
            country in 0usize..IBAN_LENGTHS.len(),
            bban_seed in proptest::collection::vec(0usize..36, 30),
            position_seed in 0usize..64,
            replacement in 1usize..36,
        ) {
            let (code, length) = IBAN_LENGTHS[country];
            let numeric = IBAN_NUMERIC_BBAN.contains(&code);
            let bban: String = bban_seed[..length - 4]
                .iter()
                .map(|i| char::from(if numeric { ALPHANUMERIC[i % 10] } else { ALPHANUMERIC[*i] }))
                .collect();
            let valid = with_check_digits(code, &bban);
            proptest::prop_assert!(Iban::parse(&valid).is_ok(), "{valid} is valid");

            let position = position_seed % length;
            let mut bytes = valid.clone().into_bytes();
            let original = bytes[position];
            let same_kind_only = position >= 4 && !numeric;
            bytes[position] = if same_kind_only && original.is_ascii_digit() {
                ALPHANUMERIC[(usize::from(original - b'0') + replacement % 9 + 1) % 10]
            } else if same_kind_only {
                ALPHANUMERIC[10 + (usize::from(original - b'A') + replacement % 25 + 1) % 26]
            } else {
                let index = ALPHANUMERIC.iter().position(|c| *c == original).unwrap_or(0);
                ALPHANUMERIC[(index + replacement) % 36]
            };
            let changed = String::from_utf8(bytes).unwrap_or_default();
            proptest::prop_assert_ne!(&changed, &valid);
            proptest::prop_assert!(Iban::parse(&changed).is_err(), "{valid} changed to {changed} was accepted");
        }
    }
}
