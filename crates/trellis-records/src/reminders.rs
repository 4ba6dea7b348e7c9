//! Reminders before a licence expires (30 and 7 days ahead, and once when it has lapsed) and
//! before a contract's renewal date (30 and 7 days ahead), emailed to the partner's admins and
//! its channel manager. The daily scheduled run calls [`send_due_reminders`] per workspace.
//!
//! Each reminder is sent once: a row in `reminders_sent` (subject, stage, due date) is claimed with
//! `INSERT … ON CONFLICT DO NOTHING` in the same transaction that queues the emails, so a repeated
//! or concurrent run sends nothing twice. A run that missed days sends the stage that applies now
//! (a licence found 5 days before expiry gets the 7-day reminder, not both). Changing the date
//! starts a new cycle, since the due date is part of the key.

use time::Date;
use trellis_core::{ContractId, Email, LicenceId, PartnerId, Result, Timestamp, WorkspaceId};
use trellis_db::{SystemGrant, Tx, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope};

/// The daily reminder run is work no person performs, over every partner of a workspace.
pub const REMINDERS: SystemGrant =
    SystemGrant { name: "reminders", reason: "the daily run that queues licence and contract reminders for every partner of a workspace" };
use trellis_jobs::{NewEmail, queue_email};

use crate::{dates, notify};

/// The first reminder goes out this many days ahead, the second [`LAST_CALL_DAYS`] ahead.
pub const FIRST_REMINDER_DAYS: i64 = 30;
pub const LAST_CALL_DAYS: i64 = 7;

/// Which reminder applies `days_left` days before the date (negative: after it).
fn stage(days_left: i64) -> &'static str {
    if days_left < 0 {
        "expired"
    } else if days_left <= LAST_CALL_DAYS {
        "7_days"
    } else {
        "30_days"
    }
}

/// Claims a reminder; true when it had not been sent yet.
async fn claim(tx: &mut Tx, workspace_id: &WorkspaceId, subject_id: &str, stage: &str, due_on: Date, now: Timestamp) -> Result<bool> {
    let inserted = tx
        .execute(sql!(
            "INSERT INTO reminders_sent (workspace_id, subject_id, stage, due_on, sent_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            workspace_id,
            subject_id,
            stage,
            dates::format(due_on),
            now
        ))
        .await?;
    Ok(inserted == 1)
}

async fn send(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    to: &[Email],
    kind: &'static str,
    subject: &str,
    text: &str,
    now: Timestamp,
) -> Result<usize> {
    for address in to {
        queue_email(tx, workspace_id, NewEmail::from_text(kind, address.clone(), subject, text), now).await?;
    }
    Ok(to.len())
}

fn in_days(days: i64) -> String {
    match days {
        0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        n => format!("in {n} days"),
    }
}

/// Queues every licence and contract reminder of the workspace that is due and not yet sent;
/// returns the number of emails queued. Runs in the system context (no person acts).
pub async fn send_due_reminders(ctx: &Ctx, workspace_id: &WorkspaceId) -> Result<usize> {
    let system = Scope::system(workspace_id.clone(), &REMINDERS);
    let now = ctx.now();
    let today = dates::today(now);
    let horizon = dates::format(dates::add_days(today, FIRST_REMINDER_DAYS));
    let today_text = dates::format(today);
    let mut tx = system.write(ctx).await?;
    let mut queued = 0;

    // Licences ending within the horizon or already lapsed, of partners that still work with the
    // vendor, unless the lapse notice went out already. `renewed`: a later licence of the same kind
    // and jurisdiction exists (no countdown needed); `replaced`: one is valid today (not lapsed).
    let licences = tx
        .fetch_all(sql!(
            "SELECT l.id, l.partner_id, l.kind, l.number, l.jurisdiction, l.valid_until, p.name AS partner_name,
                    CASE WHEN EXISTS (SELECT 1 FROM licences r WHERE r.workspace_id = l.workspace_id AND r.partner_id = l.partner_id AND r.id <> l.id
                        AND LOWER(r.kind) = LOWER(l.kind) AND LOWER(r.jurisdiction) = LOWER(l.jurisdiction) AND r.valid_until > l.valid_until)
                        THEN 1 ELSE 0 END AS renewed,
                    CASE WHEN EXISTS (SELECT 1 FROM licences r WHERE r.workspace_id = l.workspace_id AND r.partner_id = l.partner_id AND r.id <> l.id
                        AND LOWER(r.kind) = LOWER(l.kind) AND LOWER(r.jurisdiction) = LOWER(l.jurisdiction) AND r.valid_from <= $3 AND r.valid_until >= $3)
                        THEN 1 ELSE 0 END AS replaced
             FROM licences l JOIN partners p ON p.workspace_id = l.workspace_id AND p.id = l.partner_id
             WHERE l.workspace_id = $1 AND l.valid_until <= $2 AND p.status IN ('applied', 'onboarding', 'active')
               AND NOT EXISTS (SELECT 1 FROM reminders_sent s WHERE s.workspace_id = l.workspace_id AND s.subject_id = l.id
                               AND s.due_on = l.valid_until AND s.stage = 'expired')
             ORDER BY l.valid_until, l.id",
            workspace_id,
            horizon,
            today_text
        ))
        .await?;
    for row in licences {
        let id: LicenceId = row.get("id")?;
        let partner_id: PartnerId = row.get("partner_id")?;
        let until_text: String = row.get("valid_until")?;
        let Some(valid_until) = dates::stored(&until_text) else { continue };
        let days_left = dates::days_between(today, valid_until);
        let stage = stage(days_left);
        let settled = if stage == "expired" { row.get::<i64>("replaced")? == 1 } else { row.get::<i64>("renewed")? == 1 };
        if !claim(&mut tx, workspace_id, id.as_str(), stage, valid_until, now).await? || settled {
            continue;
        }
        let (partner_name, number, kind, jurisdiction): (String, String, String, String) =
            (row.get("partner_name")?, row.get("number")?, row.get("kind")?, row.get("jurisdiction")?);
        let label = format!("{number} ({kind}, {jurisdiction})");
        let to = notify::partner_and_manager(&mut tx, workspace_id, &partner_id).await?;
        if stage == "expired" {
            let subject = format!("Licence {number} of {partner_name} has expired");
            let text = format!(
                "The licence {label} of {partner_name} expired on {until_text}.\n\n{partner_name} is not compliant until a valid licence is on file: upload the renewed licence in the partner portal under Licences."
            );
            queued += send(&mut tx, workspace_id, &to, "licence_expired", &subject, &text, now).await?;
            let entry = AuditEntry::new("licence.expired", "partner", partner_id.as_str())
                .set("licence_id", id.as_str())
                .set("licence", label)
                .set("valid_until", until_text.clone())
                .change("compliant", true, false);
            audit::record(&mut tx, &system, now, entry).await?;
        } else {
            let subject = format!("Licence {number} of {partner_name} expires {}", in_days(days_left));
            let text = format!(
                "The licence {label} of {partner_name} is valid until {until_text} ({} from today).\n\nUpload the renewed licence in the partner portal under Licences before then, so that {partner_name} stays compliant.",
                match days_left {
                    1 => "1 day".to_owned(),
                    n => format!("{n} days"),
                }
            );
            queued += send(&mut tx, workspace_id, &to, "licence_reminder", &subject, &text, now).await?;
        }
    }

    let contracts = tx
        .fetch_all(sql!(
            "SELECT c.id, c.partner_id, c.title, COALESCE(c.renews_on, c.ends_on) AS due_on,
                    CASE WHEN c.renews_on IS NULL THEN 0 ELSE 1 END AS renews, p.name AS partner_name
             FROM contracts c JOIN partners p ON p.workspace_id = c.workspace_id AND p.id = c.partner_id
             WHERE c.workspace_id = $1 AND COALESCE(c.renews_on, c.ends_on) >= $3 AND COALESCE(c.renews_on, c.ends_on) <= $2
               AND p.status IN ('applied', 'onboarding', 'active')
               AND NOT EXISTS (SELECT 1 FROM reminders_sent s WHERE s.workspace_id = c.workspace_id AND s.subject_id = c.id
                               AND s.due_on = COALESCE(c.renews_on, c.ends_on) AND s.stage = '7_days')
             ORDER BY due_on, c.id",
            workspace_id,
            horizon,
            today_text
        ))
        .await?;
    for row in contracts {
        let id: ContractId = row.get("id")?;
        let partner_id: PartnerId = row.get("partner_id")?;
        let due_text: String = row.get("due_on")?;
        let Some(due_on) = dates::stored(&due_text) else { continue };
        let days_left = dates::days_between(today, due_on);
        if !claim(&mut tx, workspace_id, id.as_str(), stage(days_left), due_on, now).await? {
            continue;
        }
        let (partner_name, title): (String, String) = (row.get("partner_name")?, row.get("title")?);
        let what = if row.get::<i64>("renews")? == 1 { "renews" } else { "ends" };
        let subject = format!("Contract \"{title}\" with {partner_name} {what} {}", in_days(days_left));
        let text = format!(
            "The contract \"{title}\" between {partner_name} and the vendor {what} on {due_text}.\n\nIf anything should change before then, talk to each other now: the partner through its channel manager, the channel manager in the console under the partner's contracts."
        );
        let to = notify::partner_and_manager(&mut tx, workspace_id, &partner_id).await?;
        queued += send(&mut tx, workspace_id, &to, "contract_reminder", &subject, &text, now).await?;
    }
    tx.commit().await?;
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stage_is_the_latest_one_reached() {
        assert_eq!(stage(30), "30_days");
        assert_eq!(stage(8), "30_days");
        assert_eq!(stage(7), "7_days");
        assert_eq!(stage(0), "7_days");
        assert_eq!(stage(-1), "expired");
    }
}
