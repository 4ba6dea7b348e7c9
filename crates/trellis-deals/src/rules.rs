//! The conflict rules of a program (API.md "Deals": `GET /programs/{id}/conflict-rules`): how long
//! an approved registration protects its customer, the race window, how similar two names must be
//! to count as the same customer, and whether a clean registration from a partner in good
//! standing is approved at once. Every member of the workspace reads them, partners included, in
//! words ([`ConflictRules::in_words`]); workspace admins change them.

use trellis_core::{Error, ProgramId, Result, Timestamp, Validation, VendorRole};
use trellis_db::{Tx, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope};
use trellis_programs::programs::{self, ProgramPatch};

use crate::engine::DEFAULT_SIMILARITY_THRESHOLD;

/// Minutes within which two partners' registrations of one customer are a race.
pub const DEFAULT_RACE_WINDOW_MINUTES: i64 = 10;

/// Days before the end of protection on which the partner is reminded.
pub const REMINDER_DAYS_BEFORE: [i64; 2] = [14, 3];

#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRules {
    pub program_id: ProgramId,
    pub race_window_minutes: i64,
    /// The program's `default_protection_days`: approval protects the customer this long unless
    /// the approver says otherwise.
    pub protection_days: i64,
    /// 0 to 1: names at least this similar are the same customer.
    pub similarity_threshold: f64,
    pub auto_approve: bool,
}

/// One rule as a partner reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `first_registration`, `race`, `direct_pipeline`, `matching`, `auto_approval`, `expiry`.
    pub kind: &'static str,
    /// `protected`, `review` or `approved`: what happens to a registration the rule applies to.
    pub outcome: &'static str,
    pub description: String,
}

/// A change; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct RulesPatch {
    pub race_window_minutes: Option<i64>,
    pub protection_days: Option<i64>,
    pub similarity_threshold: Option<f64>,
    pub auto_approve: Option<bool>,
}

impl ConflictRules {
    /// The threshold as a percentage people read ("88%").
    pub fn threshold_percent(&self) -> i64 {
        (self.similarity_threshold * 100.0).round() as i64
    }

    /// The rules in force, in words a partner can read; the portal and the API show the same.
    pub fn in_words(&self) -> Vec<Rule> {
        let days = plural(self.protection_days, "day");
        let minutes = plural(self.race_window_minutes, "minute");
        vec![
            Rule {
                kind: "first_registration",
                outcome: "protected",
                description: format!(
                    "The first partner to register a customer holds it once approved: for {days} no other partner's registration of that customer is approved without review."
                ),
            },
            Rule {
                kind: "race",
                outcome: "review",
                description: format!(
                    "When two partners register the same customer within {minutes} of each other, both registrations go to review and the earlier one has priority."
                ),
            },
            Rule {
                kind: "direct_pipeline",
                outcome: "review",
                description: "A registration of a customer the vendor's own sales team is already working goes to review.".into(),
            },
            Rule {
                kind: "matching",
                outcome: "review",
                description: format!(
                    "Customers are compared by web domain (from the website or a business email address), by name without legal suffixes such as Inc, GmbH or Ltd, and by similar names: {}% alike or more counts as the same customer.",
                    self.threshold_percent()
                ),
            },
            if self.auto_approve {
                Rule {
                    kind: "auto_approval",
                    outcome: "approved",
                    description: "A registration without any conflict, from an active partner with valid licences and no rejected registration in the last 90 days, is approved at once.".into(),
                }
            } else {
                Rule {
                    kind: "auto_approval",
                    outcome: "review",
                    description: "Every registration is reviewed by the channel team; you are told of the decision by email.".into(),
                }
            },
            Rule {
                kind: "expiry",
                outcome: "protected",
                description: format!(
                    "Protection ends after the approved period unless the deal is won or lost first; you are reminded {} and {} days before, and you may ask for an extension.",
                    REMINDER_DAYS_BEFORE[0], REMINDER_DAYS_BEFORE[1]
                ),
            },
        ]
    }
}

fn plural(n: i64, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// The rules of a program inside the caller's transaction (programs are vendor rows).
pub async fn get_in(tx: &mut Tx, scope: &Scope, program_id: &ProgramId) -> Result<ConflictRules> {
    let program = programs::get_in(tx, scope.workspace_id(), program_id).await?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT race_window_minutes, similarity_threshold_bp, auto_approve FROM deal_rules WHERE workspace_id = $1 AND program_id = $2",
            scope.workspace_id(),
            program_id
        ))
        .await?;
    let mut rules = ConflictRules {
        program_id: program.id,
        race_window_minutes: DEFAULT_RACE_WINDOW_MINUTES,
        protection_days: program.default_protection_days,
        similarity_threshold: DEFAULT_SIMILARITY_THRESHOLD,
        auto_approve: false,
    };
    if let Some(row) = row {
        rules.race_window_minutes = row.get("race_window_minutes")?;
        rules.similarity_threshold = row.get::<i64>("similarity_threshold_bp")? as f64 / 10_000.0;
        rules.auto_approve = row.get("auto_approve")?;
    }
    Ok(rules)
}

/// `GET /programs/{id}/conflict-rules`: any member of the workspace.
pub async fn get(ctx: &Ctx, scope: &Scope, program_id: &ProgramId) -> Result<ConflictRules> {
    let mut tx = scope.read(ctx).await?;
    get_in(&mut tx, scope, program_id).await
}

/// `PATCH /programs/{id}/conflict-rules` (owner, admin): audited as `program.conflict_rules_changed`
/// (and the protection days as the program's own change).
pub async fn update(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, patch: RulesPatch) -> Result<ConflictRules> {
    let now: Timestamp = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = get_in(&mut tx, scope, program_id).await?;
    scope.require_vendor_role(VendorRole::WORKSPACE_ADMINS, "change conflict rules")?;
    let mut v = Validation::new();
    if patch.race_window_minutes.is_some_and(|m| !(0..=1440).contains(&m)) {
        v.add("race_window_minutes", "must be between 0 and 1440");
    }
    if patch.similarity_threshold.is_some_and(|t| !(0.5..=1.0).contains(&t)) {
        v.add("similarity_threshold", "must be between 0.5 and 1");
    }
    if patch.protection_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        v.add("protection_days", "must be between 1 and 3650");
    }
    v.finish().map_err(Error::Validation)?;
    let mut after = before.clone();
    after.race_window_minutes = patch.race_window_minutes.unwrap_or(before.race_window_minutes);
    after.similarity_threshold = patch.similarity_threshold.unwrap_or(before.similarity_threshold);
    after.auto_approve = patch.auto_approve.unwrap_or(before.auto_approve);
    if let Some(days) = patch.protection_days
        && days != before.protection_days
    {
        let patch = ProgramPatch { default_protection_days: Some(days), ..ProgramPatch::default() };
        after.protection_days = programs::update_in(&mut tx, scope, program_id, patch, now).await?.default_protection_days;
    }
    let threshold_bp = (after.similarity_threshold * 10_000.0).round() as i64;
    tx.execute(sql!(
        "INSERT INTO deal_rules (workspace_id, program_id, race_window_minutes, similarity_threshold_bp, auto_approve, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (workspace_id, program_id) DO UPDATE SET race_window_minutes = $3, similarity_threshold_bp = $4, auto_approve = $5, updated_at = $6",
        scope.workspace_id(),
        program_id,
        after.race_window_minutes,
        threshold_bp,
        after.auto_approve,
        now
    ))
    .await?;
    let entry = AuditEntry::new("program.conflict_rules_changed", "program", program_id.as_str())
        .change("race_window_minutes", before.race_window_minutes, after.race_window_minutes)
        .change("similarity_threshold", before.similarity_threshold, after.similarity_threshold)
        .change("auto_approve", before.auto_approve, after.auto_approve);
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(after)
}
