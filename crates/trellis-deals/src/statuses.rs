//! The deal status machine (house rule: one transition table per state machine, in its domain
//! crate). The services check every change against [`TRANSITIONS`], the pages offer their buttons
//! from it, and docs/API.md prints it (a test compares the two).

use trellis_core::{string_enum, transitions};

string_enum!(
    /// Where a deal stands (API.md "Deals").
    DealStatus {
        Submitted => "submitted",
        UnderReview => "under_review",
        NeedsInfo => "needs_info",
        Approved => "approved",
        Rejected => "rejected",
        Won => "won",
        Lost => "lost",
        Expired => "expired",
    }
);

string_enum!(
    /// Who makes a change: the channel team, the partner that registered the deal (or staff on its
    /// behalf), or Trellis itself (the conflict engine, the protection clock, a dispute's outcome).
    Actor {
        Staff => "staff",
        Partner => "partner",
        System => "system",
    }
);

use DealStatus::{Approved, Expired, Lost, NeedsInfo, Rejected, Submitted, UnderReview, Won};

/// One allowed change of a deal's status.
pub type Transition = transitions::Transition<DealStatus, Actor>;

const fn t(from: DealStatus, to: DealStatus, actor: Actor, action: &'static str, button: Option<&'static str>) -> Transition {
    Transition::new(from, to, actor, action, button)
}

/// Every status change. A registration starts `submitted` (or `under_review` when it conflicts,
/// or `approved` when the program approves clean registrations automatically); a direct
/// opportunity starts `approved` and stays open until won or lost.
pub const TRANSITIONS: &[Transition] = &[
    t(Submitted, Approved, Actor::Staff, "deal.approved", Some("Approve")),
    t(Submitted, Rejected, Actor::Staff, "deal.rejected", Some("Reject")),
    t(Submitted, NeedsInfo, Actor::Staff, "deal.info_requested", Some("Ask for information")),
    t(Submitted, UnderReview, Actor::System, "deal.race_detected", None),
    t(UnderReview, Approved, Actor::Staff, "deal.approved", Some("Approve")),
    t(UnderReview, Rejected, Actor::Staff, "deal.rejected", Some("Reject")),
    t(UnderReview, NeedsInfo, Actor::Staff, "deal.info_requested", Some("Ask for information")),
    t(NeedsInfo, UnderReview, Actor::Partner, "deal.info_provided", Some("Send for review")),
    t(NeedsInfo, Approved, Actor::Staff, "deal.approved", Some("Approve")),
    t(NeedsInfo, Rejected, Actor::Staff, "deal.rejected", Some("Reject")),
    t(Approved, UnderReview, Actor::System, "deal.race_detected", None),
    t(Approved, Won, Actor::Partner, "deal.won", Some("Mark won")),
    t(Approved, Lost, Actor::Partner, "deal.lost", Some("Mark lost")),
    t(Approved, Expired, Actor::System, "deal.expired", None),
    t(Expired, Won, Actor::Partner, "deal.won", Some("Mark won")),
    t(Expired, Lost, Actor::Partner, "deal.lost", Some("Mark lost")),
    t(Rejected, UnderReview, Actor::System, "deal.reopened", None),
];

/// The transition from `from` to `to` made by `actor`, if the table has it. Staff may also make
/// a partner's changes (on its behalf); the system (jobs, demo seeding) any.
pub fn find(from: DealStatus, to: DealStatus, actor: Actor) -> Option<&'static Transition> {
    transitions::find(TRANSITIONS, from, to, |by| by == actor || actor == Actor::System || (actor == Actor::Staff && by == Actor::Partner))
}

/// The changes `actor` may make by a button from `from`, in table order.
pub fn buttons(from: DealStatus, actor: Actor) -> impl Iterator<Item = &'static Transition> {
    transitions::buttons(TRANSITIONS, from, move |by| by == actor || (actor == Actor::Staff && by == Actor::Partner))
}

impl DealStatus {
    /// Final: nothing but a dispute (of a rejection) changes it again.
    pub fn is_closed(self) -> bool {
        matches!(self, Won | Lost | Rejected | Expired)
    }

    /// Waiting for the channel team's decision.
    pub fn awaits_review(self) -> bool {
        matches!(self, Submitted | UnderReview)
    }

    /// How the pages name it.
    pub fn label(self) -> &'static str {
        match self {
            Submitted => "Submitted",
            UnderReview => "Under review",
            NeedsInfo => "Needs information",
            Approved => "Approved",
            Rejected => "Rejected",
            Won => "Won",
            Lost => "Lost",
            Expired => "Expired",
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
    fn the_table_has_no_duplicates_and_won_and_lost_are_final() {
        for (i, a) in TRANSITIONS.iter().enumerate() {
            assert_ne!(a.from, a.to, "{a:?} is no change");
            assert!(TRANSITIONS[i + 1..].iter().all(|b| (b.from, b.to) != (a.from, a.to)), "{a:?} appears twice");
            assert!(!matches!(a.from, Won | Lost), "{a:?} leaves a final status");
        }
        assert!(find(Submitted, Approved, Actor::Partner).is_none(), "a partner cannot approve its own deal");
        assert_eq!(find(Approved, Won, Actor::Staff).map(|tr| tr.action), Some("deal.won"), "staff act on a partner's behalf");
        assert!(find(Rejected, UnderReview, Actor::Staff).is_none(), "only a dispute's outcome re-opens a rejection");
        assert_eq!(
            buttons(UnderReview, Actor::Staff).filter_map(|tr| tr.button).collect::<Vec<_>>(),
            ["Approve", "Reject", "Ask for information"]
        );
    }
}
