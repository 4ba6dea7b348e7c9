//! The partner status machine (house rule: one transition table per state machine, in its domain
//! crate). `PATCH /api/v1/partners/{id}` checks a requested status against [`TRANSITIONS`], the
//! console partner page offers its buttons from it, and docs/API.md prints it (a test compares
//! the two). Status changes are the vendor's alone: partners, distributors included, may not
//! make them (`partners::update` refuses `status` from any partner caller).
//!
//! Changes that are not made by hand live with their flows and record their own actions:
//! approval and rejection of an application (`applications`), and an onboarding partner becoming
//! active when its required steps are done (`onboarding`, `partner.activated`).

use trellis_core::PartnerStatus::{self, Active, Applied, Onboarding, Rejected, Suspended, Terminated};

/// One allowed change of a partner's status by staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: PartnerStatus,
    pub to: PartnerStatus,
    /// The audit action recorded for the change.
    pub action: &'static str,
    /// The console partner page's button for it; `None` where the page offers the change
    /// elsewhere (applicants are approved or rejected from the applications inbox, which also
    /// enrolls, invites and emails).
    pub button: Option<&'static str>,
}

const fn t(from: PartnerStatus, to: PartnerStatus, action: &'static str, button: Option<&'static str>) -> Transition {
    Transition { from, to, action, button }
}

/// Every status change staff may make by hand. Leaving a status unchanged is no transition
/// (audited as `partner.updated`); terminated and rejected are final.
pub const TRANSITIONS: &[Transition] = &[
    t(Applied, Onboarding, "partner.status_changed", None),
    t(Applied, Active, "partner.status_changed", None),
    t(Applied, Rejected, "partner.status_changed", None),
    t(Applied, Terminated, "partner.terminated", Some("Terminate")),
    t(Onboarding, Active, "partner.status_changed", Some("Activate")),
    t(Onboarding, Suspended, "partner.suspended", Some("Suspend")),
    t(Onboarding, Terminated, "partner.terminated", Some("Terminate")),
    t(Active, Suspended, "partner.suspended", Some("Suspend")),
    t(Active, Terminated, "partner.terminated", Some("Terminate")),
    t(Suspended, Active, "partner.reactivated", Some("Reactivate")),
    t(Suspended, Terminated, "partner.terminated", Some("Terminate")),
];

/// The transition from `from` to `to`, if staff may make it.
pub fn find(from: PartnerStatus, to: PartnerStatus) -> Option<&'static Transition> {
    TRANSITIONS.iter().find(|tr| tr.from == from && tr.to == to)
}

/// The transitions out of `from`, in table order.
pub fn from(from: PartnerStatus) -> impl Iterator<Item = &'static Transition> {
    TRANSITIONS.iter().filter(move |tr| tr.from == from)
}

/// The table as docs/API.md prints it (a Markdown table).
pub fn markdown_table() -> String {
    let mut out = String::from("| From | To | Audit action | Console button |\n| --- | --- | --- | --- |\n");
    for tr in TRANSITIONS {
        out.push_str(&format!("| `{}` | `{}` | `{}` | {} |\n", tr.from, tr.to, tr.action, tr.button.unwrap_or("—")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_no_duplicates_no_self_loops_and_final_states_stay_final() {
        for (i, a) in TRANSITIONS.iter().enumerate() {
            assert_ne!(a.from, a.to, "{a:?} is no change");
            assert!(TRANSITIONS[i + 1..].iter().all(|b| (b.from, b.to) != (a.from, a.to)), "{a:?} appears twice");
            assert!(!matches!(a.from, Terminated | Rejected), "{a:?} leaves a final status");
        }
        assert_eq!(find(Suspended, Active).map(|tr| tr.action), Some("partner.reactivated"));
        assert!(find(Terminated, Active).is_none());
        assert_eq!(from(Active).filter_map(|tr| tr.button).collect::<Vec<_>>(), ["Suspend", "Terminate"]);
    }
}
