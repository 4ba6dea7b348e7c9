//! How values read on pages: times, role names, partner types.

use trellis_core::{PartnerType, Timestamp};

/// `2026-11-21 13:16 UTC`: minutes are precise enough for people; the API has the full time.
pub fn time(at: Timestamp) -> String {
    let t = at.to_datetime();
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
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

#[cfg(test)]
mod tests {
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
