//! What the console's and the portal's lead pages show of a lead (issue 13): its row in a list,
//! its facts, the SLA as time left, and a match's reasons as bars.

use trellis_core::Timestamp;
use trellis_leads::leads::{Lead, Offer};
use trellis_leads::matching::Reason;
use trellis_leads::statuses::LeadStatus;

use crate::display;

/// A lead in a list.
pub struct LeadRow {
    pub id: String,
    pub company: String,
    pub country: String,
    pub product: String,
    pub value: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub holder: String,
    /// "11 h 20 min left", "overdue" (an offer), or empty.
    pub sla: String,
    /// Less than a quarter of the SLA left: shown as a warning.
    pub sla_urgent: bool,
    pub created: String,
}

/// Time left until `until`, as people say it ("2 days 3 h left", "40 min left", "overdue").
pub fn time_left(now: Timestamp, until: Timestamp) -> String {
    let seconds = (until.micros() - now.micros()) / 1_000_000;
    if seconds <= 0 {
        return "overdue".to_owned();
    }
    let (days, hours, minutes) = (seconds / 86_400, seconds % 86_400 / 3_600, seconds % 3_600 / 60);
    match (days, hours) {
        (0, 0) => format!("{} min left", minutes.max(1)),
        (0, h) => format!("{h} h {minutes} min left"),
        (d, h) => format!("{d} day{} {h} h left", if d == 1 { "" } else { "s" }),
    }
}

impl LeadRow {
    pub fn new(lead: &Lead, now: Timestamp) -> Self {
        let (sla, sla_urgent) = match (lead.status, lead.offer_expires_at) {
            (LeadStatus::Offered, Some(until)) => (time_left(now, until), (until.micros() - now.micros()) < 12 * 3_600 * 1_000_000),
            _ => (String::new(), false),
        };
        Self {
            id: lead.id.to_string(),
            company: lead.company_name.clone(),
            country: display::country_name(&lead.country).to_owned(),
            product: lead.product_interest.clone().unwrap_or_default(),
            value: lead.estimated_value.as_ref().map(|(amount, currency)| display::money(*amount, currency)).unwrap_or_default(),
            status: lead.status.as_str(),
            status_label: lead.status.label(),
            holder: lead.holder_name.clone().unwrap_or_default(),
            sla,
            sla_urgent,
            created: display::day(lead.created_at),
        }
    }
}

/// A lead's facts for its page.
pub struct LeadFacts {
    pub region: String,
    pub domain: String,
    pub contact: String,
    pub notes: String,
    pub source: &'static str,
    pub reason: String,
    pub deal_id: String,
    pub expires: String,
}

impl LeadFacts {
    pub fn new(lead: &Lead) -> Self {
        let contact = match (&lead.contact_name, &lead.contact_email) {
            (Some(name), Some(email)) => format!("{name} <{email}>"),
            (Some(one), None) | (None, Some(one)) => one.clone(),
            (None, None) => String::new(),
        };
        Self {
            region: lead.region.clone().unwrap_or_default(),
            domain: lead.domain.clone().unwrap_or_default(),
            contact,
            notes: lead.notes.clone(),
            source: match lead.source.as_str() {
                "import" => "Imported",
                "form" => "The public lead form",
                _ => "Entered by the channel team",
            },
            reason: lead.status_reason.clone().unwrap_or_default(),
            deal_id: lead.deal_id.as_ref().map(ToString::to_string).unwrap_or_default(),
            expires: lead.offer_expires_at.map(display::time).unwrap_or_default(),
        }
    }
}

/// One factor's part in a match, for a `<meter>`: its contribution out of its weight.
pub struct ReasonView {
    pub label: &'static str,
    /// The partner's value, as a percentage ("100%").
    pub value: String,
    pub contribution: String,
    pub weight: String,
    /// For the meter: contribution and weight as plain numbers.
    pub meter_value: String,
    pub meter_max: String,
}

fn number(x: f64) -> String {
    if (x - x.round()).abs() < 0.05 { format!("{x:.0}") } else { format!("{x:.1}") }
}

pub fn reasons(reasons: &[Reason]) -> Vec<ReasonView> {
    reasons
        .iter()
        .filter(|r| r.weight > 0.0)
        .map(|r| ReasonView {
            label: r.factor.label(),
            value: format!("{:.0}%", r.value * 100.0),
            contribution: number(r.contribution()),
            weight: number(r.weight),
            meter_value: format!("{:.3}", r.contribution().max(0.0)),
            meter_max: format!("{:.3}", r.weight.max(0.001)),
        })
        .collect()
}

/// An offer in a lead's history.
pub struct OfferRow {
    pub partner: String,
    pub outcome: &'static str,
    pub reason: String,
    pub score: String,
    pub offered: String,
    pub by: &'static str,
}

impl OfferRow {
    pub fn new(offer: &Offer) -> Self {
        Self {
            partner: offer.partner_name.clone(),
            outcome: match offer.outcome.as_str() {
                "pending" => "Waiting for an answer",
                "accepted" => "Accepted",
                "declined" => "Declined",
                "expired" => "Not answered in time",
                "returned" => "Returned",
                _ => "Withdrawn",
            },
            reason: offer.reason.clone().unwrap_or_default(),
            score: number(offer.score),
            offered: display::time(offer.offered_at),
            by: if offer.offered_by_user_id.is_some() { "by hand" } else { "by the matching" },
        }
    }
}

pub fn score(x: f64) -> String {
    number(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_as_people_say_it() {
        let now = Timestamp::from_micros(0);
        let at = |seconds: i64| now.plus_seconds(seconds);
        assert_eq!(time_left(now, at(-5)), "overdue");
        assert_eq!(time_left(now, at(30)), "1 min left");
        assert_eq!(time_left(now, at(2 * 3_600 + 20 * 60)), "2 h 20 min left");
        assert_eq!(time_left(now, at(86_400 + 3 * 3_600)), "1 day 3 h left");
        assert_eq!(time_left(now, at(2 * 86_400)), "2 days 0 h left");
    }
}
