//! The shape of a status machine's transition table (house rule: one table per state machine, in
//! its domain crate). A domain crate declares its statuses, who may act, and the rows; this gives
//! every table the same row, lookup, buttons and the Markdown that docs/API.md prints (each
//! crate's test compares the two). Who may make a row's change for whom differs per machine
//! (staff act for a partner on a deal, never on a lead), so the crate says it.

use std::fmt::Display;

/// One allowed change of a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition<S, A> {
    pub from: S,
    pub to: S,
    /// Who makes the change.
    pub actor: A,
    /// The audit action recorded for the change.
    pub action: &'static str,
    /// The button the pages offer for it; `None` for changes no person makes by a button.
    pub button: Option<&'static str>,
}

impl<S, A> Transition<S, A> {
    pub const fn new(from: S, to: S, actor: A, action: &'static str, button: Option<&'static str>) -> Self {
        Transition { from, to, actor, action, button }
    }
}

/// The row from `from` to `to` whose actor the caller may stand in for (`acts_as(row's actor)`).
pub fn find<S: PartialEq, A: Copy>(
    table: &'static [Transition<S, A>],
    from: S,
    to: S,
    acts_as: impl Fn(A) -> bool,
) -> Option<&'static Transition<S, A>> {
    table.iter().find(|tr| tr.from == from && tr.to == to && acts_as(tr.actor))
}

/// The rows with a button from `from` whose actor the caller may stand in for, in table order.
pub fn buttons<S: PartialEq, A: Copy>(
    table: &'static [Transition<S, A>],
    from: S,
    acts_as: impl Fn(A) -> bool,
) -> impl Iterator<Item = &'static Transition<S, A>> {
    table.iter().filter(move |tr| tr.from == from && tr.button.is_some() && acts_as(tr.actor))
}

/// The table as docs/API.md prints it (a Markdown table).
pub fn markdown_table<S: Display, A: Display>(table: &[Transition<S, A>]) -> String {
    let mut out = String::from("| From | To | By | Audit action | Button |\n| --- | --- | --- | --- | --- |\n");
    for tr in table {
        out.push_str(&format!("| `{}` | `{}` | {} | `{}` | {} |\n", tr.from, tr.to, tr.actor, tr.action, tr.button.unwrap_or("—")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[Transition<&str, &str>] = &[
        Transition::new("open", "done", "staff", "thing.done", Some("Finish")),
        Transition::new("open", "gone", "system", "thing.expired", None),
        Transition::new("open", "held", "partner", "thing.held", Some("Hold")),
    ];

    #[test]
    fn rows_are_found_for_the_actors_the_caller_stands_in_for_and_printed_in_table_order() {
        assert_eq!(find(TABLE, "open", "done", |by| by == "staff").map(|tr| tr.action), Some("thing.done"));
        assert!(find(TABLE, "open", "done", |by| by == "partner").is_none());
        assert!(find(TABLE, "done", "open", |_| true).is_none());
        let anyone: Vec<_> = buttons(TABLE, "open", |_| true).filter_map(|tr| tr.button).collect();
        assert_eq!(anyone, ["Finish", "Hold"], "changes without a button are no button");
        let table = markdown_table(TABLE);
        assert_eq!(table.lines().count(), 5);
        assert!(table.ends_with("| `open` | `held` | partner | `thing.held` | Hold |\n"), "{table}");
        assert!(table.contains("| `open` | `gone` | system | `thing.expired` | — |"), "{table}");
    }
}
