//! How values read on pages: times, role names, partner types.

use trellis_core::{PartnerType, Timestamp};
use trellis_incentives::payout_methods::PayoutMethod;

/// `2026-11-21 13:16 UTC`: minutes are precise enough for people; the API has the full time.
pub fn time(at: Timestamp) -> String {
    let t = at.to_datetime();
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

/// `9 Dec 2026`: a day people read without knowing the date order of any country.
pub fn day(at: Timestamp) -> String {
    let t = at.to_datetime();
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][usize::from(u8::from(t.month())) - 1];
    format!("{} {month} {}", t.day(), t.year())
}

/// A payout method as the portal's page and the console's partner page show it: masked, with the
/// hold after a change of account in words while it runs.
pub struct PayoutMethodSummary {
    pub account_holder: String,
    pub iban_masked: String,
    pub bic: Option<String>,
    pub changed: String,
    /// "Payouts resume on 9 Dec 2026 after a change of account", while the hold runs.
    pub hold: Option<String>,
}

pub fn payout_method(method: &PayoutMethod, now: Timestamp) -> PayoutMethodSummary {
    PayoutMethodSummary {
        account_holder: method.account_holder.clone(),
        iban_masked: method.iban_masked.clone(),
        bic: method.bic.clone(),
        changed: time(method.updated_at),
        hold: method
            .cooling_off_until
            .filter(|until| *until > now)
            .map(|until| format!("Payouts resume on {} after a change of account", day(until))),
    }
}

/// `channel_manager` → `channel manager`.
pub fn words(code: &str) -> String {
    code.replace('_', " ")
}

pub fn partner_types(types: &[PartnerType]) -> String {
    types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
}

/// A partner user as a row of a users table.
pub struct UserRow {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: &'static str,
    /// The organisation's only admin: it keeps them (the service refuses removing or demoting
    /// them), so the table offers neither and says why.
    pub only_admin: bool,
}

/// The rows of an organisation's users, the only admin marked.
pub fn user_rows(users: Vec<trellis_identity::partner_users::PartnerUser>) -> Vec<UserRow> {
    let admins = users.iter().filter(|u| u.role == trellis_core::PartnerRole::Admin).count();
    users
        .into_iter()
        .map(|u| UserRow {
            user_id: u.user_id.to_string(),
            email: u.email.to_string(),
            only_admin: admins == 1 && u.role == trellis_core::PartnerRole::Admin,
            name: u.name,
            role: u.role.as_str(),
        })
        .collect()
}

/// A calendar date as people read it: `2026-11-21` (ISO, unambiguous across countries).
pub fn date(date: time::Date) -> String {
    trellis_records::dates::format(date)
}

/// "today", "tomorrow", "in 12 days", "3 days ago".
pub fn days_from_today(days: i64) -> String {
    match days {
        0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        -1 => "yesterday".to_owned(),
        n if n > 1 => format!("in {n} days"),
        n => format!("{} days ago", -n),
    }
}

/// A country by name (a code the list does not know stays a code); templates call it for the
/// codes they show.
pub fn country_name(code: &str) -> &str {
    trellis_directory::countries::name(code)
}

/// Countries by name (codes the list does not know stay codes).
pub fn country_names(codes: &[String]) -> Vec<String> {
    codes.iter().map(|c| trellis_directory::countries::name(c).to_owned()).collect()
}

/// A pending invitation, as the staff page lists it.
pub struct InvitationRow {
    pub id: String,
    pub email: String,
    pub role: String,
    pub expires: String,
}

impl From<trellis_identity::invitations::Invitation> for InvitationRow {
    fn from(i: trellis_identity::invitations::Invitation) -> Self {
        Self { id: i.id.to_string(), email: i.email.to_string(), role: words(i.offer.role()), expires: time(i.expires_at) }
    }
}

/// Every country as a picker's choice, by name (the code is what is stored).
pub fn country_choices() -> Vec<crate::forms::Choice> {
    let mut choices: Vec<crate::forms::Choice> = trellis_directory::countries::COUNTRIES
        .iter()
        .map(|(code, name)| crate::forms::Choice { value: (*code).to_owned(), label: (*name).to_owned() })
        .collect();
    choices.sort_by(|a, b| a.label.cmp(&b.label));
    choices
}

/// A count as people read it: 2,340.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The symbol written before an amount of the currency; currencies without a well-known symbol
/// are written with their code (`CHF 12.00`).
pub(crate) fn currency_symbol(code: &str) -> Option<&'static str> {
    Some(match code {
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        "JPY" | "CNY" => "¥",
        "INR" => "₹",
        "KRW" => "₩",
        "ILS" => "₪",
        _ => return None,
    })
}

/// Money as people read it: `€5,000.00`, `$1,200.00`, `¥5,000`, `CHF 12.50` — minor units shown
/// with the currency's decimals (ISO 4217), thousands grouped by commas. Every page shows money
/// through this one function.
pub fn money(amount_minor: i64, currency: &str) -> String {
    let exponent = trellis_core::Currency::parse(currency).map(|c| c.exponent()).unwrap_or(2);
    let unit = 10_i64.pow(u32::from(exponent));
    let magnitude = amount_minor.unsigned_abs();
    let unit_u = unit.unsigned_abs();
    let whole = thousands(i64::try_from(magnitude / unit_u).unwrap_or(i64::MAX));
    let number = if exponent == 0 { whole } else { format!("{whole}.{:0width$}", magnitude % unit_u, width = usize::from(exponent)) };
    let sign = if amount_minor < 0 { "-" } else { "" };
    match currency_symbol(currency) {
        Some(symbol) => format!("{sign}{symbol}{number}"),
        None => format!("{sign}{currency} {number}"),
    }
}

/// A rate in basis points as a percent: 1250 → `12.5%`, 1000 → `10%`, 125 → `1.25%`.
pub fn percent_bps(bps: i64) -> String {
    let whole = bps / 100;
    let cents = (bps % 100).abs();
    let sign = if bps < 0 && whole == 0 { "-" } else { "" };
    match cents {
        0 => format!("{sign}{whole}%"),
        c if c % 10 == 0 => format!("{sign}{whole}.{}%", c / 10),
        c => format!("{sign}{whole}.{c:02}%"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_has_its_symbol_its_decimals_and_grouping() {
        assert_eq!(super::money(500_000, "EUR"), "€5,000.00");
        assert_eq!(super::money(120_000, "USD"), "$1,200.00");
        assert_eq!(super::money(5_000, "JPY"), "¥5,000");
        assert_eq!(super::money(5, "USD"), "$0.05");
        assert_eq!(super::money(1_250, "CHF"), "CHF 12.50");
        assert_eq!(super::money(-123_456_789, "GBP"), "-£1,234,567.89");
        assert_eq!(super::money(1_234_567, "KWD"), "KWD 1,234.567");
    }

    #[test]
    fn rates_read_as_percents() {
        assert_eq!(super::percent_bps(1250), "12.5%");
        assert_eq!(super::percent_bps(1000), "10%");
        assert_eq!(super::percent_bps(125), "1.25%");
        assert_eq!(super::percent_bps(5), "0.05%");
    }

    #[test]
    fn thousands_are_grouped_by_commas() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(2340), "2,340");
        assert_eq!(super::thousands(10_000), "10,000");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
        assert_eq!(super::thousands(-1000), "-1,000");
    }
}

/// "Chrome on Android" from a User-Agent header: enough for a person to recognise their device
/// in a list of sessions or sign-ins (the full header is in the API).
pub fn device(user_agent: Option<&str>) -> String {
    let Some(agent) = user_agent.filter(|a| !a.trim().is_empty()) else { return "Unknown device".to_owned() };
    let browser = [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
        .iter()
        .find(|(marker, _)| agent.contains(marker))
        .map(|(_, name)| *name);
    let system =
        [("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Linux", "Linux")]
            .iter()
            .find(|(marker, _)| agent.contains(marker))
            .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => s.to_owned(),
        (None, None) => agent.chars().take(60).collect(),
    }
}

/// A sign-in attempt in words: what was tried and how it went.
pub fn sign_in_outcome(method: &str, outcome: &str) -> &'static str {
    match (method, outcome) {
        ("password", "success") => "Signed in",
        ("password", "bad_password") => "Wrong password",
        ("password_change", "success") => "Password changed",
        ("password_change", "bad_password") => "Wrong current password when changing it",
        ("password_reset", "success") => "Password reset with an emailed link",
        ("password_reset", "reset_requested") => "Reset link asked for",
        ("password_reset", "bad_link") => "Reset link that no longer works",
        ("sso", "success") => "Signed in with the company account",
        ("sso", "sso_refused") => "Company account sign-in refused",
        ("passkey", "success") => "Signed in with a passkey",
        ("passkey", "passkey_refused") => "Passkey refused",
        (_, "throttled") => "Slowed down: too many failed attempts",
        _ => "Other attempt",
    }
}

#[cfg(test)]
mod device_tests {
    use super::device;

    #[test]
    fn common_agents_read_as_browser_on_system() {
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";
        assert_eq!(device(Some(android)), "Chrome on Android");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(device(Some(iphone)), "Safari on iPhone");
        assert_eq!(device(Some("curl/8.5.0")), "curl/8.5.0");
        assert_eq!(device(None), "Unknown device");
    }
}
