//! Time: an injectable clock (tests move it to cross hold periods and expiries) and `Timestamp`,
//! microseconds since the Unix epoch in UTC. Both backends store timestamps as BIGINT
//! microseconds (docs/decisions/0002-timestamps-as-epoch-micros.md) so that they sort and compare
//! identically on SQLite and PostgreSQL.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub const fn micros(self) -> i64 {
        self.0
    }

    pub fn from_datetime(at: OffsetDateTime) -> Self {
        Self((at.unix_timestamp_nanos() / 1_000) as i64)
    }

    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds.saturating_mul(1_000_000)))
    }

    /// RFC 3339 in UTC with microsecond precision, e.g. `2026-11-21T13:16:06.123456Z`.
    pub fn to_rfc3339(self) -> String {
        let at = self.to_datetime();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.microsecond()
        )
    }

    /// Parses RFC 3339 (any offset) or a plain `YYYY-MM-DD` date (midnight UTC).
    pub fn parse(text: &str) -> Option<Self> {
        if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
            return Some(Self::from_datetime(at));
        }
        let date = time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
        Some(Self::from_datetime(date.midnight().assume_utc()))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

/// Reads what [`Timestamp::parse`] reads (stored job payloads hold RFC 3339 from `Serialize`).
impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not an RFC 3339 time or a date")))
    }
}

/// Where "now" comes from. Production uses [`SystemClock`]; tests use [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(OffsetDateTime::now_utc())
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn starting_at(at: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(at.micros())))
    }

    pub fn advance_seconds(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1_000_000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_fixed_width_and_round_trips() {
        let at = Timestamp::from_micros(1_763_730_966_000_001);
        let text = at.to_rfc3339();
        assert_eq!(text, "2025-11-21T13:16:06.000001Z");
        assert_eq!(Timestamp::parse(&text), Some(at));
    }

    #[test]
    fn plain_dates_parse_as_midnight_utc() {
        let at = Timestamp::parse("2026-01-02").expect("date parses");
        assert_eq!(at.to_rfc3339(), "2026-01-02T00:00:00.000000Z");
        assert_eq!(Timestamp::parse("yesterday"), None);
    }

    #[test]
    fn json_holds_the_rfc3339_text_and_reads_it_back() {
        let at = Timestamp::from_micros(1_763_730_966_000_001);
        let json = serde_json::to_string(&at).expect("serializes");
        assert_eq!(json, r#""2025-11-21T13:16:06.000001Z""#);
        assert_eq!(serde_json::from_str::<Timestamp>(&json).expect("deserializes"), at);
        let wrong = serde_json::from_str::<Timestamp>(r#""yesterday""#).expect_err("not a time");
        assert!(wrong.to_string().contains("\"yesterday\" is not an RFC 3339 time"), "{wrong}");
    }
}
