//! Calendar dates (contract and licence dates): `YYYY-MM-DD`, stored as that text, which sorts and
//! compares as a date on both backends. "Today" is the UTC date of the injected clock.

use time::Date;
use time::macros::{date, format_description};
use trellis_core::{Timestamp, Validation};

/// The dates a contract or licence may carry: `0000-01-01` or `9999-12-31` are typing mistakes or
/// stand-ins for "never", which reminders and sorting would take at their word.
pub const EARLIEST: Date = date!(1900 - 01 - 01);
pub const LATEST: Date = date!(2199 - 12 - 31);

/// Parses a `YYYY-MM-DD` date given as input, between [`EARLIEST`] and [`LATEST`].
pub fn parse(text: &str) -> Option<Date> {
    stored(text).filter(|d| (EARLIEST..=LATEST).contains(d))
}

/// Reads a stored `YYYY-MM-DD` date, without the input range: rows written before the range
/// existed stay readable.
pub fn stored(text: &str) -> Option<Date> {
    Date::parse(text.trim(), format_description!("[year]-[month]-[day]")).ok()
}

/// `YYYY-MM-DD`.
pub fn format(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// The UTC date of a moment.
pub fn today(now: Timestamp) -> Date {
    now.to_datetime().date()
}

/// The date `days` after `date` (saturating at the calendar's ends).
pub fn add_days(date: Date, days: i64) -> Date {
    date.checked_add(time::Duration::days(days)).unwrap_or(date)
}

/// Whole days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: Date, to: Date) -> i64 {
    (to - from).whole_days()
}

/// A required date field, or the error recorded under `field`.
pub fn required(v: &mut Validation, field: &str, text: &str) -> Option<Date> {
    let parsed = parse(text);
    if parsed.is_none() {
        v.add(field, "must be a date such as 2026-12-31, between 1900-01-01 and 2199-12-31");
    }
    parsed
}

/// An optional date field: blank or missing is `Some(None)`, invalid is `None` with the error recorded.
pub fn optional(v: &mut Validation, field: &str, text: Option<&str>) -> Option<Option<Date>> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Some(None),
        Some(t) => required(v, field, t).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_count_days() {
        let date = parse("2026-02-28").expect("parses");
        assert_eq!(format(add_days(date, 1)), "2026-03-01");
        assert_eq!(days_between(date, add_days(date, 30)), 30);
        assert!(parse("2026-13-01").is_none());
        assert!(parse("28.02.2026").is_none());
        assert!(parse("0000-01-01").is_none() && parse("9999-12-31").is_none() && parse("1899-12-31").is_none());
        assert_eq!(parse("1900-01-01"), Some(EARLIEST));
        assert_eq!(parse("2199-12-31"), Some(LATEST));
    }
}
