//! A partner's lifecycle timeline for the console: applied → approved → onboarding steps → active
//! → tier changes, and the profile, contract and compliance events in between — read from the
//! audit trail, so it is exactly what happened, when, and who did it.
//!
//! Events about the partner are those whose target is the partner, and those of
//! [`ACTIONS_NAMING_THE_PARTNER`] whose changes name it (a contract, a change request, a user):
//! the audit trail stores each event's partner (`audit_events.subject_partner_id`, derived from
//! exactly that), so the timeline reads the partner's own events through its index, never the
//! trail.
//! Capabilities that record partner events under another target add their actions to that list.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use trellis_core::{Error, PartnerId, Result, Timestamp};
use trellis_db::{Sql, sql};
use trellis_identity::{Ctx, Scope, ScopedTx, SeenPartner};

/// Actions recorded against another target whose changes carry the partner's id.
pub const ACTIONS_NAMING_THE_PARTNER: &[&str] = &[
    "partner_user.invited",
    "partner_user.removed",
    "profile_change.requested",
    "profile_change.approved",
    "profile_change.rejected",
    "contract.created",
    "contract.deleted",
    "licence.created",
    "licence.updated",
    "licence.deleted",
];

/// Events shown at most (the newest).
const MAX_ENTRIES: i64 = 300;

/// One line of the timeline.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub at: Timestamp,
    /// What part of the lifecycle: applied, approved, onboarding, active, status, tier, program,
    /// profile, contract, compliance, people or other.
    pub phase: &'static str,
    pub title: String,
    pub detail: Option<String>,
    /// Who did it: an email, "API key", or "Trellis" for the system.
    pub actor: String,
}

fn text(value: &Json) -> Option<String> {
    match value {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The `[before, after]` pair of a changed field.
fn pair(changes: &Json, field: &str) -> Option<(Option<String>, Option<String>)> {
    let values = changes.get(field)?.as_array()?;
    Some((values.first().and_then(text), values.get(1).and_then(text)))
}

fn after(changes: &Json, field: &str) -> Option<String> {
    pair(changes, field).and_then(|(_, a)| a)
}

fn words(code: &str) -> String {
    code.replace(['.', '_'], " ")
}

/// Turns one audit event into a timeline line; `names` resolves tier and program ids.
fn describe(action: &str, changes: &Json, names: &BTreeMap<String, String>) -> (&'static str, String, Option<String>) {
    let name_of = |id: Option<String>| id.map(|i| names.get(&i).cloned().unwrap_or(i));
    let status = pair(changes, "status");
    match action {
        "partner.created" => match after(changes, "status").as_deref() {
            Some("applied") => ("applied", "Applied".to_owned(), None),
            Some(status) => ("created", format!("Created by the vendor as {status}"), None),
            None => ("created", "Created".to_owned(), None),
        },
        "application.submitted" => ("applied", "Applied".to_owned(), None),
        "partner.approved" | "application.approved" => ("approved", "Application approved".to_owned(), None),
        "partner.rejected" | "application.rejected" => ("rejected", "Application rejected".to_owned(), after(changes, "reason")),
        "partner.enrolled" => (
            "program",
            format!("Enrolled in {}", name_of(after(changes, "program_id")).unwrap_or_else(|| "a program".to_owned())),
            name_of(after(changes, "tier_id")).map(|t| format!("Tier: {t}")),
        ),
        "partner.profile_completed" => ("profile", "Profile completed".to_owned(), None),
        "partner.profile_updated" => {
            let fields: Vec<String> = changes.as_object().map(|o| o.keys().map(|k| words(k)).collect()).unwrap_or_default();
            ("profile", "Profile updated".to_owned(), (!fields.is_empty()).then(|| fields.join(", ")))
        }
        "profile_change.requested" => ("profile", "Asked to change the legal name or territories".to_owned(), None),
        "profile_change.approved" => ("profile", "Profile change approved".to_owned(), None),
        "profile_change.rejected" => ("profile", "Profile change rejected".to_owned(), after(changes, "reason")),
        "contract.created" => ("contract", format!("Contract added: {}", after(changes, "title").unwrap_or_default()), None),
        "contract.deleted" => ("contract", "Contract removed".to_owned(), pair(changes, "title").and_then(|(b, _)| b)),
        "licence.created" => ("compliance", format!("Licence added: {}", after(changes, "number").unwrap_or_default()), None),
        "licence.updated" => {
            ("compliance", "Licence updated".to_owned(), after(changes, "valid_until").map(|d| format!("valid until {d}")))
        }
        "licence.deleted" => ("compliance", "Licence removed".to_owned(), pair(changes, "number").and_then(|(b, _)| b)),
        "licence.expired" => ("compliance", "Licence expired: not compliant".to_owned(), after(changes, "licence")),
        "partner_user.invited" => ("people", format!("User invited: {}", after(changes, "email").unwrap_or_default()), None),
        "partner_user.removed" => ("people", "User removed".to_owned(), None),
        "onboarding_step.completed" => (
            "onboarding",
            format!("Onboarding step done: {}", after(changes, "title").unwrap_or_default()),
            after(changes, "program_id").and_then(|p| names.get(&p).cloned()),
        ),
        _ if action.starts_with("onboarding.") || action == "agreement.accepted" => {
            let step = ["step", "title", "name", "kind"].iter().find_map(|f| after(changes, f));
            ("onboarding", words(action.split_once('.').map_or(action, |(_, verb)| verb)).to_string(), step)
        }
        _ if pair(changes, "tier_id").is_some() => {
            let (before, now) = pair(changes, "tier_id").unwrap_or_default();
            let title = match (name_of(before), name_of(now)) {
                (Some(b), Some(a)) => format!("Tier: {b} → {a}"),
                (None, Some(a)) => format!("Tier: {a}"),
                (Some(b), None) => format!("Tier removed: {b}"),
                (None, None) => "Tier changed".to_owned(),
            };
            ("tier", title, after(changes, "reason").or_else(|| after(changes, "why")))
        }
        _ if status.is_some() => {
            let (before, now) = status.unwrap_or_default();
            let phase = match now.as_deref() {
                Some("active") => "active",
                Some("onboarding") => "onboarding",
                Some("applied") => "applied",
                _ => "status",
            };
            let title = match (before, now) {
                (Some(b), Some(a)) => format!("Status: {b} → {a}"),
                (_, Some(a)) => format!("Status: {a}"),
                _ => "Status changed".to_owned(),
            };
            (phase, title, None)
        }
        _ if action.starts_with("tier") => ("tier", words(action), None),
        _ => ("other", words(action), None),
    }
}

/// The timeline of a visible partner, oldest first (staff only: partners have their own pages).
pub async fn timeline(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Vec<TimelineEntry>> {
    let mut tx = scope.read(ctx).await?;
    let seen = tx.see_partner(partner_id).await?;
    timeline_in(&mut tx, scope, &seen).await
}

/// [`timeline`] of a partner already checked in the caller's transaction.
pub async fn timeline_in(tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner) -> Result<Vec<TimelineEntry>> {
    if scope.partner().is_some() {
        return Err(Error::NotFound);
    }
    let partner_id = tx.seen(seen)?;
    // The events of this partner only, through the (workspace, partner, seq) index: what a
    // timeline costs grows with the partner's own history, not with the trail.
    let mut q = Sql::build("SELECT at, actor_type, actor_email, action, changes FROM audit_events WHERE workspace_id = ");
    q.push_bind(scope.workspace_id()).push(" AND subject_partner_id = ").push_bind(partner_id);
    q.push(" AND (target_type = 'partner' OR action IN ").push_in_list(ACTIONS_NAMING_THE_PARTNER);
    q.push(") ORDER BY seq DESC LIMIT ").push_bind(MAX_ENTRIES);
    let rows = tx.fetch_all(q).await?;
    let mut names = BTreeMap::new();
    for row in tx.fetch_all(sql!("SELECT id, name FROM tiers WHERE workspace_id = $1", scope.workspace_id())).await? {
        names.insert(row.get::<String>("id")?, row.get::<String>("name")?);
    }
    for row in tx.fetch_all(sql!("SELECT id, name FROM programs WHERE workspace_id = $1", scope.workspace_id())).await? {
        names.insert(row.get::<String>("id")?, row.get::<String>("name")?);
    }
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows.iter().rev() {
        let action: String = row.get("action")?;
        let changes: String = row.get("changes")?;
        let changes: Json = serde_json::from_str(&changes).unwrap_or(Json::Null);
        let actor_type: String = row.get("actor_type")?;
        let actor = match (actor_type.as_str(), row.get::<Option<String>>("actor_email")?) {
            ("system", _) => "Trellis".to_owned(),
            (_, Some(email)) => email,
            ("api_key", None) => "API key".to_owned(),
            _ => "someone".to_owned(),
        };
        let (phase, title, detail) = describe(&action, &changes, &names);
        entries.push(TimelineEntry { at: row.get("at")?, phase, title, detail, actor });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lifecycle_events_read_as_phases() {
        let names = BTreeMap::from([("tir_a".to_owned(), "Silver".to_owned()), ("tir_b".to_owned(), "Gold".to_owned())]);
        let applied = describe("partner.created", &json!({"status": [null, "applied"]}), &names);
        let active = describe("partner.status_changed", &json!({"status": ["onboarding", "active"]}), &names);
        let tier = describe("tier.changed", &json!({"tier_id": ["tir_a", "tir_b"], "why": ["", "3 active users"]}), &names);
        assert_eq!((applied.0, applied.1.as_str()), ("applied", "Applied"));
        assert_eq!((active.0, active.1.as_str()), ("active", "Status: onboarding → active"));
        assert_eq!((tier.0, tier.1.as_str(), tier.2.as_deref()), ("tier", "Tier: Silver → Gold", Some("3 active users")));
        assert_eq!(describe("something.new", &json!({}), &names).0, "other");
        let names = BTreeMap::from([("prg_a".to_owned(), "Resellers".to_owned())]);
        let step = describe("onboarding_step.completed", &json!({"title": [null, "Kick-off call"], "program_id": [null, "prg_a"]}), &names);
        assert_eq!((step.0, step.1.as_str(), step.2.as_deref()), ("onboarding", "Onboarding step done: Kick-off call", Some("Resellers")));
    }
}
