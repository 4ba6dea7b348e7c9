//! How programs, tiers and their explanations read on pages, shared by the console (program
//! editor, the partner page's "Programs & tiers" card) and the portal home.

use trellis_directory::metric_registry::Registry;
use trellis_programs::evaluation::{ChangeKind, Standing, TierChange, TierCheck};
use trellis_programs::tiers::Benefits;

use crate::display;

/// A requirement as a sentence and whether it passed: for staff the rule as written
/// ("active_users at least 3: 4 (met)"), for the partner in plain words ("3 active users needed,
/// you have 4, met").
pub struct CheckRow {
    pub text: String,
    pub passed: bool,
}

/// A tier's requirements checked for one partner.
pub struct TierCheckRow {
    pub name: String,
    pub qualifies: bool,
    pub checks: Vec<CheckRow>,
}

impl From<&TierCheck> for TierCheckRow {
    fn from(t: &TierCheck) -> Self {
        Self {
            name: t.name.clone(),
            qualifies: t.qualifies,
            checks: t.requirements.iter().map(|c| CheckRow { text: c.sentence(), passed: c.passed }).collect(),
        }
    }
}

impl TierCheckRow {
    /// The requirements in plain words, with the metrics' labels and units (the portal).
    pub fn plain(t: &TierCheck, registry: &Registry) -> Self {
        Self {
            name: t.name.clone(),
            qualifies: t.qualifies,
            checks: t.requirements.iter().map(|c| CheckRow { text: c.plain(registry), passed: c.passed }).collect(),
        }
    }
}

/// Benefits as lines for people: the text, then each machine-readable benefit in words, the
/// content the tier opens last ("Content: silver-kit, playbooks").
pub fn benefit_lines(benefits: &Benefits) -> Vec<String> {
    let mut lines = perk_lines(benefits);
    if !benefits.content_access.is_empty() {
        lines.push(format!("Content: {}", benefits.content_access.join(", ")));
    }
    lines
}

/// The benefits but the content access: the text, the commission rate ("Commission rate
/// 12.5%"), the marketing funds ("Marketing funds up to €5,000.00").
pub fn perk_lines(benefits: &Benefits) -> Vec<String> {
    let mut lines = Vec::new();
    if !benefits.text.is_empty() {
        lines.push(benefits.text.clone());
    }
    if let Some(bps) = benefits.commission_override_bps {
        lines.push(format!("Commission rate {}", display::percent_bps(bps)));
    }
    if let Some(mdf) = &benefits.mdf_allowance {
        lines.push(format!("Marketing funds up to {}", display::money(mdf.amount_minor, &mdf.currency)));
    }
    lines
}

/// Where a partner stands in one program.
pub struct StandingRow {
    pub program_id: String,
    pub program_name: String,
    pub tier_name: Option<String>,
    pub overridden: bool,
    pub override_reason: Option<String>,
    pub since: String,
    pub benefits: Vec<String>,
    /// The content the tier gives access to, by name. There is no content library yet (issue
    /// 8): the names are shown as they are, not as links to pages that do not exist.
    pub content: Vec<String>,
    /// Whether the explanation speaks to the partner ("You qualify for Gold…") rather than to
    /// staff about the partner.
    pub to_partner: bool,
    /// The current tier's requirements as they stand now (a demotion is coming when not met).
    pub current: Option<TierCheckRow>,
    /// What the next tier up needs.
    pub next: Option<TierCheckRow>,
}

impl From<Standing> for StandingRow {
    fn from(s: Standing) -> Self {
        Self {
            program_id: s.program_id.to_string(),
            program_name: s.program_name,
            tier_name: s.tier.as_ref().map(|t| t.name.clone()),
            overridden: s.overridden,
            override_reason: s.override_reason,
            since: display::time(s.enrolled_at),
            benefits: s.tier.as_ref().map(|t| benefit_lines(&t.benefits)).unwrap_or_default(),
            content: Vec::new(),
            to_partner: false,
            current: s.current.as_ref().map(TierCheckRow::from),
            next: s.next.as_ref().map(TierCheckRow::from),
        }
    }
}

impl StandingRow {
    /// The standing as the partner reads it on the portal: requirements in plain words, the
    /// content the tier opens apart from the other benefits.
    pub fn for_partner(s: Standing, registry: &Registry) -> Self {
        let current = s.current.as_ref().map(|t| TierCheckRow::plain(t, registry));
        let next = s.next.as_ref().map(|t| TierCheckRow::plain(t, registry));
        let benefits = s.tier.as_ref().map(|t| perk_lines(&t.benefits)).unwrap_or_default();
        let content = s.tier.as_ref().map(|t| t.benefits.content_access.clone()).unwrap_or_default();
        Self { benefits, content, to_partner: true, current, next, ..Self::from(s) }
    }
}

/// A row of a tier history.
pub struct ChangeRow {
    pub program_name: String,
    pub what: String,
    pub reason: Option<String>,
    pub at: String,
    pub by: &'static str,
    /// The explanation of a promotion or demotion.
    pub reached: Option<TierCheckRow>,
    pub next: Option<TierCheckRow>,
}

impl ChangeRow {
    pub fn new(change: &TierChange, program_name: String) -> Self {
        let tier = |name: &Option<String>| name.clone().unwrap_or_else(|| "no tier".to_owned());
        let (from, to) = (tier(&change.from_tier_name), tier(&change.to_tier_name));
        let what = match change.kind {
            ChangeKind::Enrolled => format!("Enrolled at {to}"),
            ChangeKind::Promotion => format!("Promoted from {from} to {to}"),
            ChangeKind::Demotion => format!("Demoted from {from} to {to}"),
            ChangeKind::Override if from == to => format!("{to} set by hand"),
            ChangeKind::Override => format!("Set by hand from {from} to {to}"),
            ChangeKind::OverrideRemoved => format!("Override of {to} removed"),
            ChangeKind::Unenrolled => format!("Left the program at {from}"),
        };
        let explanation = change.explanation.as_ref();
        Self {
            program_name,
            what,
            reason: change.reason.clone(),
            at: display::time(change.created_at),
            by: match change.actor_type.as_str() {
                "system" => "Trellis",
                "api_key" => "API key",
                _ => "staff",
            },
            reached: explanation.and_then(|e| e.reached.as_ref()).map(TierCheckRow::from),
            next: explanation.and_then(|e| e.next.as_ref()).map(TierCheckRow::from),
        }
    }
}
