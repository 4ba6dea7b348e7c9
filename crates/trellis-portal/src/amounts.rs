//! Money and rates as people type them, and back: a commission rate is typed as a percent
//! ("12.5", "12.5%", "12,5") and stored as basis points (1250); an allowance is typed in major
//! units of its currency ("5,000.00", "5 000", "€5.000,00", "EUR 5000") and stored as minor units
//! (500000). No floats: the digits are read as text and scaled with checked integer arithmetic.
//!
//! Separators are read leniently, the way people write numbers in different countries: spaces and
//! apostrophes group thousands; of `.` and `,` the last one is the decimal mark when both appear; a
//! mark that appears more than once groups; in an amount, a lone mark followed by exactly three
//! digits groups when the currency has fewer decimals ("5.000" and "5,000" are five thousand
//! euros, not five). Every refusal is a sentence for the field's error. trellis-core has no money
//! parsing to reuse; its `Currency` gives the exponent.

use trellis_core::Currency;

/// A percent typed by a person as basis points: "12.5%" → 1250. At most two decimals, between
/// 0% and 100%.
pub fn percent_to_bps(text: &str) -> Result<i64, String> {
    const WANTED: &str = "must be a percent such as 12.5 or 12.5%";
    let number = text.trim();
    let number = number.strip_suffix('%').unwrap_or(number);
    let value = decimal(number, 2, false).map_err(|problem| match problem {
        Problem::NotANumber => WANTED.to_owned(),
        Problem::TooManyDecimals => "may have at most two decimals (such as 12.25%)".to_owned(),
    })?;
    match value {
        Some(bps) if (0..=10_000).contains(&bps) => Ok(bps),
        _ => Err("must be between 0% and 100%".to_owned()),
    }
}

/// Basis points as the percent a person types: 1250 → "12.5" (the form shows the % beside it).
pub fn bps_to_percent(bps: i64) -> String {
    crate::display::percent_bps(bps).trim_end_matches('%').to_owned()
}

/// An amount of `currency` typed by a person as minor units: "€5,000.00" → 500000. The
/// currency's code or symbol may be typed along; not negative, at most `max_minor`.
pub fn money_to_minor(text: &str, currency: Currency, max_minor: i64) -> Result<i64, String> {
    let code = currency.code();
    let wanted = format!(
        "must be an amount in {code} such as {}",
        minor_to_money(500_000 * 10_i64.pow(u32::from(currency.exponent())) / 100, currency)
    );
    let mut number = text.trim().to_owned();
    for mark in [Some(code), crate::display::currency_symbol(code)].into_iter().flatten() {
        if number.get(..mark.len()).is_some_and(|start| start.eq_ignore_ascii_case(mark)) {
            number = number[mark.len()..].to_owned();
        } else if number.len().checked_sub(mark.len()).and_then(|at| number.get(at..)).is_some_and(|end| end.eq_ignore_ascii_case(mark)) {
            number.truncate(number.len() - mark.len());
        }
        number = number.trim().to_owned();
    }
    if let Some(rest) = number.strip_prefix(['-', '−']) {
        return if decimal(rest, currency.exponent(), true).is_ok() { Err("may not be negative".to_owned()) } else { Err(wanted) };
    }
    let value = decimal(&number, currency.exponent(), true).map_err(|problem| match problem {
        Problem::NotANumber => wanted.clone(),
        Problem::TooManyDecimals if currency.exponent() == 0 => format!("is counted in whole {code}, without decimals"),
        Problem::TooManyDecimals => format!("may have at most {} decimals in {code}", currency.exponent()),
    })?;
    match value {
        Some(minor) if minor <= max_minor => Ok(minor),
        _ => Err(format!("may be at most {}", crate::display::money(max_minor, code))),
    }
}

/// Minor units as the amount a person types, without the currency: 500000 EUR → "5,000.00".
pub fn minor_to_money(minor: i64, currency: Currency) -> String {
    let exponent = u32::from(currency.exponent());
    let unit = 10_i64.pow(exponent);
    let whole = crate::display::thousands(minor / unit);
    let sign = if minor < 0 && minor / unit == 0 { "-" } else { "" };
    if exponent == 0 { whole } else { format!("{sign}{whole}.{:0width$}", (minor % unit).abs(), width = exponent as usize) }
}

#[derive(Debug, PartialEq, Eq)]
enum Problem {
    NotANumber,
    TooManyDecimals,
}

/// A non-negative decimal number scaled by 10^`decimals`; `Ok(None)` when it overflows.
/// `lone_mark_groups`: whether "5.000" may mean five thousand (amounts; never percents).
fn decimal(text: &str, decimals: u8, lone_mark_groups: bool) -> Result<Option<i64>, Problem> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace() && !matches!(c, '\'' | '’')).collect();
    let compact = compact.strip_prefix('+').unwrap_or(&compact);
    if compact.is_empty() || !compact.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',') {
        return Err(Problem::NotANumber);
    }
    let (whole, fraction) = split_decimal_mark(compact, decimals, lone_mark_groups)?;
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > usize::from(decimals) {
        return Err(Problem::TooManyDecimals);
    }
    let scale = 10_i64.pow(u32::from(decimals));
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        match whole.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return Ok(None),
        }
    };
    let fraction_scaled: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<width$}", width = usize::from(decimals)).parse().map_err(|_| Problem::NotANumber)?
    };
    Ok(whole.checked_mul(scale).and_then(|w| w.checked_add(fraction_scaled)))
}

/// The whole digits (grouping removed) and the fraction digits of a number made of digits, `.`
/// and `,` only.
fn split_decimal_mark(text: &str, decimals: u8, lone_mark_groups: bool) -> Result<(String, &str), Problem> {
    let dots = text.matches('.').count();
    let commas = text.matches(',').count();
    let (group, mark): (Option<char>, Option<char>) = match (dots, commas) {
        (0, 0) => (None, None),
        (_, 0) | (0, _) => {
            let sep = if dots > 0 { '.' } else { ',' };
            let count = dots.max(commas);
            let (before, after) = text.rsplit_once(sep).unwrap_or((text, ""));
            let looks_grouped = lone_mark_groups && after.len() == 3 && decimals < 3 && !before.trim_start_matches('0').is_empty();
            if count > 1 || looks_grouped { (Some(sep), None) } else { (None, Some(sep)) }
        }
        _ => {
            let last_dot = text.rfind('.').unwrap_or(0);
            let last_comma = text.rfind(',').unwrap_or(0);
            let (mark, group) = if last_dot > last_comma { ('.', ',') } else { (',', '.') };
            if text.matches(mark).count() > 1 {
                return Err(Problem::NotANumber);
            }
            (Some(group), Some(mark))
        }
    };
    let (whole, fraction) = match mark {
        Some(mark) => text.rsplit_once(mark).unwrap_or((text, "")),
        None => (text, ""),
    };
    if fraction.contains(['.', ',']) {
        return Err(Problem::NotANumber);
    }
    let whole = match group {
        Some(group) => {
            let groups: Vec<&str> = whole.split(group).collect();
            let first_ok = (1..=3).contains(&groups[0].len());
            if !first_ok || groups[1..].iter().any(|g| g.len() != 3) {
                return Err(Problem::NotANumber);
            }
            groups.concat()
        }
        None => whole.to_owned(),
    };
    if whole.is_empty() && fraction.is_empty() {
        return Err(Problem::NotANumber);
    }
    Ok((whole, fraction))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").expect("EUR")
    }

    #[test]
    fn percents_are_read_as_people_write_them() {
        assert_eq!(percent_to_bps("12.5"), Ok(1250));
        assert_eq!(percent_to_bps("12.5%"), Ok(1250));
        assert_eq!(percent_to_bps(" 12,5 % "), Ok(1250));
        assert_eq!(percent_to_bps("25"), Ok(2500));
        assert_eq!(percent_to_bps("0.05"), Ok(5));
        assert_eq!(percent_to_bps("100"), Ok(10_000));
        assert_eq!(percent_to_bps("0"), Ok(0));
        assert_eq!(percent_to_bps(".5"), Ok(50));
        assert_eq!(percent_to_bps("12.50"), Ok(1250));
    }

    #[test]
    fn nonsense_and_out_of_range_percents_are_refused_with_a_reason() {
        assert_eq!(percent_to_bps("abc%"), Err("must be a percent such as 12.5 or 12.5%".to_owned()));
        assert_eq!(percent_to_bps("%"), Err("must be a percent such as 12.5 or 12.5%".to_owned()));
        assert_eq!(percent_to_bps("12.5.5"), Err("must be a percent such as 12.5 or 12.5%".to_owned()));
        assert_eq!(percent_to_bps("1e3"), Err("must be a percent such as 12.5 or 12.5%".to_owned()));
        assert_eq!(percent_to_bps("-5"), Err("must be a percent such as 12.5 or 12.5%".to_owned()));
        assert_eq!(percent_to_bps("12.345"), Err("may have at most two decimals (such as 12.25%)".to_owned()));
        assert_eq!(percent_to_bps("100.01"), Err("must be between 0% and 100%".to_owned()));
        assert_eq!(percent_to_bps("2500"), Err("must be between 0% and 100%".to_owned()));
        assert_eq!(percent_to_bps("99999999999999999999"), Err("must be between 0% and 100%".to_owned()));
    }

    #[test]
    fn rates_read_back_as_they_were_typed() {
        assert_eq!(bps_to_percent(1250), "12.5");
        assert_eq!(bps_to_percent(2500), "25");
        assert_eq!(bps_to_percent(5), "0.05");
        for bps in [0, 1, 99, 1250, 3333, 10_000] {
            assert_eq!(percent_to_bps(&bps_to_percent(bps)), Ok(bps));
        }
    }

    #[test]
    fn money_is_read_with_its_separators_and_currency() {
        let max = 1_000_000_000_000;
        assert_eq!(money_to_minor("5,000.00", eur(), max), Ok(500_000));
        assert_eq!(money_to_minor("5000", eur(), max), Ok(500_000));
        assert_eq!(money_to_minor("5 000", eur(), max), Ok(500_000));
        assert_eq!(money_to_minor("5\u{a0}000,50", eur(), max), Ok(500_050));
        assert_eq!(money_to_minor("€5,000.00", eur(), max), Ok(500_000));
        assert_eq!(money_to_minor("5.000,00 €", eur(), max), Ok(500_000));
        assert_eq!(money_to_minor("EUR 5000", eur(), max), Ok(500_000));
        assert_eq!(money_to_minor("5000 eur", eur(), max), Ok(500_000));
        assert_eq!(money_to_minor("5.000", eur(), max), Ok(500_000));
        assert_eq!(money_to_minor("5,000", eur(), max), Ok(500_000));
        assert_eq!(money_to_minor("1,234,567.89", eur(), max), Ok(123_456_789));
        assert_eq!(money_to_minor("5'000.5", eur(), max), Ok(500_050));
        assert_eq!(money_to_minor("12,5", eur(), max), Ok(1_250));
        assert_eq!(money_to_minor("0.125", Currency::parse("KWD").expect("KWD"), max), Ok(125));
        assert_eq!(money_to_minor("¥5,000", Currency::parse("JPY").expect("JPY"), max), Ok(5_000));
    }

    #[test]
    fn nonsense_money_is_refused_with_a_reason() {
        let max = 1_000_000_000_000;
        let wanted = Err("must be an amount in EUR such as 5,000.00".to_owned());
        assert_eq!(money_to_minor("five", eur(), max), wanted);
        assert_eq!(money_to_minor("$5", eur(), max), wanted);
        assert_eq!(money_to_minor("5,00,0", eur(), max), wanted);
        assert_eq!(money_to_minor("5.000.00", eur(), max), wanted);
        assert_eq!(money_to_minor("€", eur(), max), wanted);
        assert_eq!(money_to_minor("-5", eur(), max), Err("may not be negative".to_owned()));
        assert_eq!(money_to_minor("5.123", Currency::parse("USD").expect("USD"), max), Ok(512_300));
        assert_eq!(money_to_minor("0.125", eur(), max), Err("may have at most 2 decimals in EUR".to_owned()));
        assert_eq!(
            money_to_minor("5.5", Currency::parse("JPY").expect("JPY"), max),
            Err("is counted in whole JPY, without decimals".to_owned())
        );
        assert_eq!(money_to_minor("20,000,000,000", eur(), max), Err("may be at most €10,000,000,000.00".to_owned()));
        assert_eq!(money_to_minor("999999999999999999999", eur(), max), Err("may be at most €10,000,000,000.00".to_owned()));
    }

    #[test]
    fn money_reads_back_as_it_is_typed() {
        assert_eq!(minor_to_money(500_000, eur()), "5,000.00");
        assert_eq!(minor_to_money(5, eur()), "0.05");
        assert_eq!(minor_to_money(5_000, Currency::parse("JPY").expect("JPY")), "5,000");
        for minor in [0, 1, 99, 500_050, 123_456_789] {
            assert_eq!(money_to_minor(&minor_to_money(minor, eur()), eur(), i64::MAX), Ok(minor));
        }
    }
}
