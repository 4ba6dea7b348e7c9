//! The commission status machine (house rule: one transition table per state machine, in its
//! domain crate). The services check every change against [`TRANSITIONS`], the pages offer their
//! buttons from it, and docs/API.md prints it (a test compares the two).
//!
//! A commission starts `pending` (or `on_hold` when its partner's licence has lapsed; a bonus and
//! a clawback start `payable`). Its money sits in one ledger account at a time
//! ([`crate::ledger::Account`]); a transition that moves the money posts one entry, named here.

use trellis_core::{string_enum, transitions};

string_enum!(
    /// Where a commission stands (API.md "Commissions, balances, payouts").
    CommissionStatus {
        Pending => "pending",
        Payable => "payable",
        InPayout => "in_payout",
        Paid => "paid",
        OnHold => "on_hold",
        Reversed => "reversed",
    }
);

string_enum!(
    /// Why a commission is on hold.
    HoldReason {
        LicenceExpired => "licence_expired",
        FraudReview => "fraud_review",
        Manual => "manual",
    }
);

string_enum!(
    /// Who makes a change: finance staff by a button, or Trellis itself (the release clock, a
    /// refund, a payout run, a licence renewal).
    Actor {
        Staff => "staff",
        System => "system",
    }
);

use CommissionStatus::{InPayout, OnHold, Paid, Payable, Pending, Reversed};

/// One allowed change of a commission's status.
pub type Transition = transitions::Transition<CommissionStatus, Actor>;

const fn t(from: CommissionStatus, to: CommissionStatus, actor: Actor, action: &'static str, button: Option<&'static str>) -> Transition {
    Transition::new(from, to, actor, action, button)
}

/// Every status change.
pub const TRANSITIONS: &[Transition] = &[
    t(Pending, Payable, Actor::System, "commission.released", None),
    t(Pending, OnHold, Actor::Staff, "commission.held", Some("Hold")),
    t(Pending, Reversed, Actor::System, "commission.reversed", None),
    t(Payable, OnHold, Actor::Staff, "commission.held", Some("Hold")),
    t(Payable, InPayout, Actor::System, "commission.claimed", None),
    t(Payable, Reversed, Actor::System, "commission.reversed", None),
    t(OnHold, Pending, Actor::Staff, "commission.hold_released", Some("Release")),
    t(OnHold, Payable, Actor::Staff, "commission.hold_released", Some("Release")),
    t(OnHold, Reversed, Actor::Staff, "commission.reversed", Some("Reject")),
    t(InPayout, Payable, Actor::System, "commission.unclaimed", None),
    t(InPayout, Paid, Actor::System, "commission.paid", None),
];

/// The transition from `from` to `to` made by `actor`, if the table has it. The system may make
/// any change of the table (a licence renewal releases holds as staff would).
pub fn find(from: CommissionStatus, to: CommissionStatus, actor: Actor) -> Option<&'static Transition> {
    transitions::find(TRANSITIONS, from, to, |by| by == actor || actor == Actor::System)
}

/// The buttons staff have on a commission in `from`, one per action, in table order.
pub fn buttons(from: CommissionStatus) -> Vec<&'static Transition> {
    let mut out: Vec<&'static Transition> = Vec::new();
    for tr in transitions::buttons(TRANSITIONS, from, |by| by == Actor::Staff) {
        if !out.iter().any(|o| o.button == tr.button) {
            out.push(tr);
        }
    }
    out
}

impl CommissionStatus {
    /// Paid or reversed: nothing changes it again (a refund after payout is a clawback, its own
    /// commission).
    pub fn is_final(self) -> bool {
        matches!(self, Paid | Reversed)
    }

    /// How the pages name it.
    pub fn label(self) -> &'static str {
        match self {
            Pending => "Pending",
            Payable => "Payable",
            InPayout => "In payout",
            Paid => "Paid",
            OnHold => "On hold",
            Reversed => "Reversed",
        }
    }
}

impl HoldReason {
    /// A sentence for the partner and the console.
    pub fn label(self) -> &'static str {
        match self {
            HoldReason::LicenceExpired => "Held until the partner's licence is renewed",
            HoldReason::FraudReview => "Held for review",
            HoldReason::Manual => "Held by the finance team",
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
    fn the_table_has_no_duplicates_and_paid_and_reversed_are_final() {
        for (i, a) in TRANSITIONS.iter().enumerate() {
            assert_ne!(a.from, a.to, "{a:?} is no change");
            assert!(TRANSITIONS[i + 1..].iter().all(|b| (b.from, b.to) != (a.from, a.to)), "{a:?} appears twice");
            assert!(!a.from.is_final(), "{a:?} leaves a final status");
        }
        assert!(find(Payable, Paid, Actor::Staff).is_none(), "money is paid by a payout run, never by a button");
        assert!(find(Pending, Payable, Actor::Staff).is_none(), "only the release clock makes a commission payable");
        assert_eq!(buttons(OnHold).iter().filter_map(|tr| tr.button).collect::<Vec<_>>(), ["Release", "Reject"]);
        assert_eq!(buttons(Payable).iter().filter_map(|tr| tr.button).collect::<Vec<_>>(), ["Hold"]);
        assert!(buttons(InPayout).is_empty());
    }
}
