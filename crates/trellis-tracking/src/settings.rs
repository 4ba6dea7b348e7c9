//! A program's referral tracking settings (issue 11): the attribution window (the cookie's
//! lifetime and how long a click id attributes), first or last touch for returning customers,
//! and the fraud rules' thresholds ([`crate::fraud`]). Every member of the workspace reads them
//! (as the program itself); owners, admins and channel managers change them (as the program).
//! A change reaches every server's link table within a second (the program's links take a new
//! number of the change feed), and is audited (`program.tracking_updated`).

use serde_json::json;
use trellis_core::{Error, ProgramId, Result, Validation, VendorRole, WorkspaceId};
use trellis_db::{Tx, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope};

use crate::redirects::DEFAULT_WINDOW_DAYS;

/// A program's settings; [`Default`] is what a program without a row has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingSettings {
    pub attribution_window_days: i64,
    pub last_touch: bool,
    pub min_seconds_after_click: i64,
    pub max_clicks_per_hour: i64,
    pub flag_self_referral: bool,
    pub flag_disposable_email: bool,
}

impl Default for TrackingSettings {
    fn default() -> Self {
        Self {
            attribution_window_days: DEFAULT_WINDOW_DAYS,
            last_touch: false,
            min_seconds_after_click: 10,
            max_clicks_per_hour: 1_000,
            flag_self_referral: true,
            flag_disposable_email: true,
        }
    }
}

/// The settings of a program (defaults when it has none); the caller has checked the program.
pub async fn read_in(tx: &mut Tx, workspace_id: &WorkspaceId, program_id: &ProgramId) -> Result<TrackingSettings> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT attribution_window_days, last_touch, min_seconds_after_click, max_clicks_per_hour, flag_self_referral, flag_disposable_email
             FROM tracking_settings WHERE workspace_id = $1 AND program_id = $2",
            workspace_id,
            program_id
        ))
        .await?;
    let Some(row) = row else { return Ok(TrackingSettings::default()) };
    Ok(TrackingSettings {
        attribution_window_days: row.get("attribution_window_days")?,
        last_touch: row.get("last_touch")?,
        min_seconds_after_click: row.get("min_seconds_after_click")?,
        max_clicks_per_hour: row.get("max_clicks_per_hour")?,
        flag_self_referral: row.get("flag_self_referral")?,
        flag_disposable_email: row.get("flag_disposable_email")?,
    })
}

/// A program's settings (404 for a program the workspace does not have).
pub async fn get(ctx: &Ctx, scope: &Scope, program_id: &ProgramId) -> Result<TrackingSettings> {
    trellis_programs::programs::get(ctx, scope, program_id).await?;
    let mut tx = scope.read(ctx).await?;
    read_in(&mut tx, scope.workspace_id(), program_id).await
}

/// A change of some settings; absent fields keep their value.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    pub attribution_window_days: Option<i64>,
    pub last_touch: Option<bool>,
    pub min_seconds_after_click: Option<i64>,
    pub max_clicks_per_hour: Option<i64>,
    pub flag_self_referral: Option<bool>,
    pub flag_disposable_email: Option<bool>,
}

/// Changes a program's settings (module documentation); 422 naming each value out of range,
/// nothing stored then.
pub async fn update(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, change: &SettingsChange) -> Result<TrackingSettings> {
    // The program first (404 for another workspace's), then the role (403).
    trellis_programs::programs::get(ctx, scope, program_id).await?;
    if scope.partner().is_some() {
        return Err(Error::forbidden("partners do not change a program's tracking"));
    }
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "change a program's tracking")?;
    let mut v = Validation::new();
    let mut range = |field: &str, value: Option<i64>, low: i64, high: i64| {
        if value.is_some_and(|n| !(low..=high).contains(&n)) {
            v.add(field, format!("must be {low} to {high}"));
        }
    };
    range("attribution_window_days", change.attribution_window_days, 1, 3650);
    range("min_seconds_after_click", change.min_seconds_after_click, 0, 86_400);
    range("max_clicks_per_hour", change.max_clicks_per_hour, 1, 1_000_000);
    v.finish().map_err(Error::Validation)?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = read_in(&mut tx, scope.workspace_id(), program_id).await?;
    let after = TrackingSettings {
        attribution_window_days: change.attribution_window_days.unwrap_or(before.attribution_window_days),
        last_touch: change.last_touch.unwrap_or(before.last_touch),
        min_seconds_after_click: change.min_seconds_after_click.unwrap_or(before.min_seconds_after_click),
        max_clicks_per_hour: change.max_clicks_per_hour.unwrap_or(before.max_clicks_per_hour),
        flag_self_referral: change.flag_self_referral.unwrap_or(before.flag_self_referral),
        flag_disposable_email: change.flag_disposable_email.unwrap_or(before.flag_disposable_email),
    };
    if after == before {
        return Ok(after);
    }
    tx.execute(sql!(
        "INSERT INTO tracking_settings (workspace_id, program_id, attribution_window_days, last_touch, min_seconds_after_click, max_clicks_per_hour,
                                        flag_self_referral, flag_disposable_email, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (workspace_id, program_id) DO UPDATE SET attribution_window_days = excluded.attribution_window_days,
           last_touch = excluded.last_touch, min_seconds_after_click = excluded.min_seconds_after_click,
           max_clicks_per_hour = excluded.max_clicks_per_hour, flag_self_referral = excluded.flag_self_referral,
           flag_disposable_email = excluded.flag_disposable_email, updated_at = excluded.updated_at",
        scope.workspace_id(),
        program_id,
        after.attribution_window_days,
        after.last_touch,
        after.min_seconds_after_click,
        after.max_clicks_per_hour,
        after.flag_self_referral,
        after.flag_disposable_email,
        now
    ))
    .await?;
    if after.attribution_window_days != before.attribution_window_days || after.last_touch != before.last_touch {
        // The links' table rows carry the window and the touch: the program's links are read again.
        let seq = crate::links::next_change(&mut tx).await?;
        tx.execute(sql!(
            "UPDATE referral_links SET change_seq = $3 WHERE workspace_id = $1 AND program_id = $2",
            scope.workspace_id(),
            program_id,
            seq
        ))
        .await?;
    }
    let entry = AuditEntry::new("program.tracking_updated", "program", program_id.as_str())
        .change("attribution_window_days", before.attribution_window_days, after.attribution_window_days)
        .change("last_touch", before.last_touch, after.last_touch)
        .change("min_seconds_after_click", before.min_seconds_after_click, after.min_seconds_after_click)
        .change("max_clicks_per_hour", before.max_clicks_per_hour, after.max_clicks_per_hour)
        .change("flag_self_referral", before.flag_self_referral, after.flag_self_referral)
        .change("flag_disposable_email", before.flag_disposable_email, after.flag_disposable_email)
        .set("program_id", json!(program_id));
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    crate::links::refresh_table(ctx).await;
    Ok(after)
}
