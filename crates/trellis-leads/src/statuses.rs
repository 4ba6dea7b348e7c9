//! The lead status machine (house rule: one transition table per state machine, in its domain
//! crate). The services check every change against [`TRANSITIONS`], the pages offer their buttons
//! from it, and docs/API.md prints it (a test compares the two).

use trellis_core::{string_enum, transitions};

string_enum!(
    /// Where a lead stands (API.md "Leads").
    LeadStatus {
        New => "new",
        Offered => "offered",
        Accepted => "accepted",
        Converted => "converted",
        Declined => "declined",
        Expired => "expired",
        Returned => "returned",
        Closed => "closed",
    }
);

string_enum!(
    /// Who makes a change: the channel team, the partner the lead is offered to (or that accepted
    /// it), or Trellis itself (the matching engine, the SLA clock).
    Actor {
        Staff => "staff",
        Partner => "partner",
        System => "system",
    }
);

use LeadStatus::{Accepted, Closed, Converted, Declined, Expired, New, Offered, Returned};

/// One allowed change of a lead's status.
pub type Transition = transitions::Transition<LeadStatus, Actor>;

const fn t(from: LeadStatus, to: LeadStatus, actor: Actor, action: &'static str, button: Option<&'static str>) -> Transition {
    Transition::new(from, to, actor, action, button)
}

/// Every status change. A lead starts `new`; after a decline, an expiry or a return the engine
/// offers it to the next candidate not yet offered (the `→ offered` rows by the system), and it
/// stays declined, expired or returned for the channel team when no candidate is left.
pub const TRANSITIONS: &[Transition] = &[
    t(New, Offered, Actor::Staff, "lead.offered", Some("Offer")),
    t(New, Offered, Actor::System, "lead.offered", None),
    t(Offered, Offered, Actor::Staff, "lead.reassigned", Some("Reassign")),
    t(Offered, Accepted, Actor::Partner, "lead.accepted", Some("Accept")),
    t(Offered, Declined, Actor::Partner, "lead.declined", Some("Decline")),
    t(Offered, Expired, Actor::System, "lead.expired", None),
    t(Accepted, Converted, Actor::Partner, "lead.converted", Some("Convert to a deal")),
    t(Accepted, Returned, Actor::Partner, "lead.returned", Some("Return")),
    t(Accepted, Offered, Actor::Partner, "lead.passed_on", Some("Pass on to a reseller")),
    t(Declined, Offered, Actor::Staff, "lead.offered", Some("Offer")),
    t(Declined, Offered, Actor::System, "lead.offered", None),
    t(Expired, Offered, Actor::Staff, "lead.offered", Some("Offer")),
    t(Expired, Offered, Actor::System, "lead.offered", None),
    t(Returned, Offered, Actor::Staff, "lead.offered", Some("Offer")),
    t(Returned, Offered, Actor::System, "lead.offered", None),
    t(New, Closed, Actor::Staff, "lead.closed", Some("Close")),
    t(Offered, Closed, Actor::Staff, "lead.closed", Some("Close")),
    t(Accepted, Closed, Actor::Staff, "lead.closed", Some("Close")),
    t(Declined, Closed, Actor::Staff, "lead.closed", Some("Close")),
    t(Expired, Closed, Actor::Staff, "lead.closed", Some("Close")),
    t(Returned, Closed, Actor::Staff, "lead.closed", Some("Close")),
];

/// The transition from `from` to `to` made by `actor`, if the table has it. The system (jobs,
/// demo seeding) may make any; staff may not act for the partner (accepting a lead commits the
/// partner's people to work it).
pub fn find(from: LeadStatus, to: LeadStatus, actor: Actor) -> Option<&'static Transition> {
    transitions::find(TRANSITIONS, from, to, |by| by == actor || actor == Actor::System)
}

/// The changes `actor` may make by a button from `from`, in table order.
pub fn buttons(from: LeadStatus, actor: Actor) -> impl Iterator<Item = &'static Transition> {
    transitions::buttons(TRANSITIONS, from, move |by| by == actor)
}

impl LeadStatus {
    /// Final: converted into a deal or closed by the channel team.
    pub fn is_final(self) -> bool {
        matches!(self, Converted | Closed)
    }

    /// With the vendor, waiting for the channel team (never offered, or given back with no
    /// candidate left).
    pub fn awaits_staff(self) -> bool {
        matches!(self, New | Declined | Expired | Returned)
    }

    /// How the pages name it.
    pub fn label(self) -> &'static str {
        match self {
            New => "New",
            Offered => "Offered",
            Accepted => "Accepted",
            Converted => "Converted",
            Declined => "Declined",
            Expired => "Expired",
            Returned => "Returned",
            Closed => "Closed",
        }
    }
}

/// The table as docs/API.md prints it (a Markdown table).
pub fn markdown_table() -> String {
    transitions::markdown_table(TRANSITIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_no_duplicates_and_converted_and_closed_are_final() {
        for (i, a) in TRANSITIONS.iter().enumerate() {
            assert!(TRANSITIONS[i + 1..].iter().all(|b| (b.from, b.to, b.actor) != (a.from, a.to, a.actor)), "{a:?} appears twice");
            assert!(!a.from.is_final(), "{a:?} leaves a final status");
        }
        assert!(find(Offered, Accepted, Actor::Staff).is_none(), "staff do not accept for a partner");
        assert!(find(Offered, Expired, Actor::Staff).is_none(), "only the SLA clock expires an offer");
        assert_eq!(find(Accepted, Converted, Actor::Partner).map(|tr| tr.action), Some("lead.converted"));
        assert_eq!(buttons(Offered, Actor::Partner).filter_map(|tr| tr.button).collect::<Vec<_>>(), ["Accept", "Decline"]);
        assert_eq!(buttons(Offered, Actor::Staff).filter_map(|tr| tr.button).collect::<Vec<_>>(), ["Reassign", "Close"]);
    }
}
