//! A partner's statements (issue 10: "a statement per partner and payout, printable HTML"): the
//! portal's list (`/portal/statements`) and one statement, the same printable page in the portal
//! (`/portal/statements/{run_id}`) and the console (`/console/partners/{id}/statements/{run_id}`).
//! Both read `payouts::statement`, whose rule is the API's: a partner's own admins and finance
//! people and staff who see the partner; 404 for anyone else (a distributor asking for its
//! reseller's), 403 for the partner's other roles. The page names the vendor, the partner (with
//! its first address when its profile has one), the payout's dates, the commissions it paid
//! (clawbacks netted in) with their totals, and the payout method on file, masked, when the
//! caller may read it. A print style sheet (`@media print` in app.css) leaves out the navigation
//! and the buttons; the Print button is `data-print` in app.js (no inline scripts).

use trellis_core::{Error, PartnerId, PayoutRunId};
use trellis_identity::{Scope, workspaces};
use trellis_incentives::payouts::{self, RunStatus, Statement};
use trellis_records::profiles;
use trellis_web::AppState;

use crate::display;
use crate::money_views::{CommissionRow, signed_money};

/// A statement as a row of the portal's list.
pub struct StatementRow {
    pub run_id: String,
    /// The day it was paid (or approved, while the bank has not confirmed it).
    pub date: String,
    pub status: &'static str,
    pub status_code: &'static str,
    pub amount: String,
    pub commissions: i64,
}

/// How a statement's payout stands, in words.
pub fn status_label(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Paid => "Paid",
        RunStatus::Approved => "Approved: on its way",
        RunStatus::Draft => "Draft",
        RunStatus::Cancelled => "Cancelled",
    }
}

/// The badge colour (the commission statuses' classes).
pub fn status_code(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Paid => "paid",
        RunStatus::Approved => "in_payout",
        RunStatus::Draft => "pending",
        RunStatus::Cancelled => "reversed",
    }
}

impl StatementRow {
    pub fn new(s: &Statement) -> Self {
        Self {
            run_id: s.payout_run_id.to_string(),
            date: s.paid_at.or(s.approved_at).map(display::day).unwrap_or_default(),
            status: status_label(s.status),
            status_code: status_code(s.status),
            amount: signed_money(s.amount_minor, s.currency),
            commissions: s.commission_count,
        }
    }
}

/// The printable statement (template `statement.html`).
pub struct StatementView {
    pub vendor: String,
    pub partner: String,
    /// The partner's legal name when it differs from its trading name.
    pub legal_name: String,
    /// The lines of the partner's first address; empty without one.
    pub address: Vec<String>,
    pub run_id: String,
    pub currency: String,
    pub status: &'static str,
    pub status_code: &'static str,
    pub approved_at: String,
    pub paid_at: String,
    pub total: String,
    /// What the earning commissions add up to, and what the give-backs take away.
    pub earned: String,
    pub given_back: String,
    pub has_give_backs: bool,
    pub rows: Vec<CommissionRow>,
    /// `Holder · DE•••• 3000`, when the caller may read the payout method.
    pub method: String,
    /// Where the commissions' rows link to (`/portal/commissions`); empty for no links (the
    /// console has no page of one commission).
    pub commission_base: &'static str,
}

/// One statement as its page shows it: 404 or 403 as `payouts::statement`; the partner's
/// profile, the payout method and the workspace's name are added when the caller may read them.
pub async fn statement_view(
    state: &AppState,
    scope: &Scope,
    partner_id: &PartnerId,
    run_id: &PayoutRunId,
    commission_base: &'static str,
) -> Result<StatementView, Error> {
    let detail = payouts::statement(&state.ctx, scope, partner_id, run_id).await?;
    let s = &detail.statement;
    let vendor = workspaces::get(&state.ctx, scope).await.map(|w| w.name).unwrap_or_default();
    let profile = profiles::get(&state.ctx, scope, partner_id).await.ok();
    let partner_name = match &profile {
        Some(p) => p.partner_name.clone(),
        None => detail.commissions.first().map(|c| c.partner_name.clone()).unwrap_or_default(),
    };
    let legal_name = profile.as_ref().and_then(|p| p.legal_name.clone()).filter(|l| !l.trim().is_empty() && *l != partner_name);
    let address = profile
        .as_ref()
        .and_then(|p| p.addresses.first())
        .map(|a| {
            let mut lines = vec![a.line1.clone()];
            lines.extend(a.line2.clone().filter(|l| !l.trim().is_empty()));
            let region = a.region.clone().filter(|r| !r.trim().is_empty()).map(|r| format!(", {r}")).unwrap_or_default();
            lines.push(format!("{} {}{region}", a.postal_code, a.city));
            lines.push(display::country_name(&a.country).to_owned());
            lines
        })
        .unwrap_or_default();
    let method = trellis_incentives::payout_methods::get(&state.ctx, scope, partner_id)
        .await
        .map(|m| format!("{} · {}", m.account_holder, m.iban_masked))
        .unwrap_or_default();
    let earned: i64 = detail.commissions.iter().map(|c| c.amount_minor).filter(|a| *a > 0).sum();
    let given_back: i64 = detail.commissions.iter().map(|c| c.amount_minor).filter(|a| *a < 0).sum();
    Ok(StatementView {
        vendor,
        partner: partner_name,
        legal_name: legal_name.unwrap_or_default(),
        address,
        run_id: s.payout_run_id.to_string(),
        currency: s.currency.code().to_owned(),
        status: status_label(s.status),
        status_code: status_code(s.status),
        approved_at: s.approved_at.map(display::day).unwrap_or_default(),
        paid_at: s.paid_at.map(display::day).unwrap_or_default(),
        total: signed_money(s.amount_minor, s.currency),
        earned: signed_money(earned, s.currency),
        given_back: signed_money(given_back, s.currency),
        has_give_backs: given_back != 0,
        rows: detail.commissions.iter().map(|c| CommissionRow::new(c, false)).collect(),
        method,
        commission_base,
    })
}
