//! The demo's money: commission plans for both programs (Resellers: 20% of sales for 12 months,
//! a 30-day hold, a 5% distributor override, Gold at 25%; Referral partners: $50 a lead and 10%
//! of sales for life, no hold), and conversions that leave commissions in every state a finance
//! team meets — payable (Rheinland's won Hooli deal and Northwind's override on it), pending inside
//! the hold, waiting for an unpaid invoice, partly reversed by a refund, a lead, a SPIFF, and one
//! held because Thames Tech's licence has lapsed. Once the payout methods are in, a paid payout
//! run: Northwind's override paid (its statement in the portal), the others with payable money
//! listed as left out with the reason.

use std::collections::HashMap;

use serde_json::json;
use trellis_core::{Error, PartnerId, ProgramId, Result, Timestamp, WorkspaceId};
use trellis_deals::deals::{self, DealFilter};
use trellis_deals::statuses::DealStatus;
use trellis_identity::{Ctx, Scope};
use trellis_incentives::commissions::{self, NewBonus};
use trellis_incentives::conversions::{self, NewConversion};
use trellis_incentives::plans;

const DAY: i64 = 86_400;

fn partner(ids: &HashMap<&str, PartnerId>, name: &str) -> Result<String> {
    ids.get(name).map(|p| p.to_string()).ok_or_else(|| Error::Internal(format!("demo partner {name}")))
}

fn sale(invoice: &str, customer: &str, amount_minor: i64, occurred_at: Timestamp) -> NewConversion {
    NewConversion {
        kind: "sale".into(),
        invoice_id: invoice.into(),
        customer_external_id: customer.into(),
        amount: Some((amount_minor, "USD".into())),
        occurred_at: Some(occurred_at.to_rfc3339()),
        ..NewConversion::default()
    }
}

pub(crate) async fn seed(ctx: &Ctx, workspace_id: &WorkspaceId, ids: &HashMap<&str, PartnerId>) -> Result<()> {
    let system = Scope::system(workspace_id.clone(), &crate::demo::DEMO_SEEDING);
    let programs: HashMap<String, ProgramId> =
        trellis_programs::programs::list(ctx, &system).await?.into_iter().map(|p| (p.slug.clone(), p.id)).collect();
    let program = |slug: &str| programs.get(slug).cloned().ok_or_else(|| Error::Internal(format!("demo program {slug}")));
    let resellers = program("resellers")?;
    let referral = program("referral-partners")?;
    let gold = trellis_programs::tiers::list(ctx, &system, &resellers).await?.into_iter().find(|t| t.name == "Gold").map(|t| t.id);
    let mut reseller_plan = json!({
        "sale": {"percent_bps": 2000, "recurring_months": 12},
        "hold_days": 30,
        "min_payout": {"amount_minor": 10_000, "currency": "USD"},
        "parent_override_bps": 500,
    });
    if let Some(gold) = gold {
        reseller_plan["tier_overrides"] = json!([{"tier_id": gold, "sale_percent_bps": 2500}]);
    }
    // In force from four months back, so the sales of the last weeks earn by them.
    let now = ctx.now();
    let since = Some(now.plus_seconds(-120 * DAY));
    plans::put_effective(ctx, &system, &resellers, &reseller_plan, since).await?;
    let referral_plan = json!({"lead": {"flat": {"amount_minor": 5000, "currency": "USD"}}, "sale": {"percent_bps": 1000, "recurring_months": null}, "hold_days": 0});
    plans::put_effective(ctx, &system, &referral, &referral_plan, since).await?;

    // Rheinland's won Hooli deal, invoiced and paid 40 days ago: payable, with Northwind's override.
    let won = deals::list(ctx, &system, &DealFilter { statuses: vec![DealStatus::Won], limit: Some(50), ..DealFilter::default() }).await?;
    if let Some(hooli) = won.items.iter().find(|d| d.customer_name == "Hooli Europe GmbH") {
        let input = NewConversion {
            deal_id: Some(hooli.id.to_string()),
            ..sale("INV-2026-0101", "hooli", hooli.amount.amount_minor, now.plus_seconds(-40 * DAY))
        };
        conversions::record(ctx, &system, &input).await?;
    }
    // Bluepeak: a sale paid ten days ago (inside the hold), partly refunded; another waiting for its invoice.
    let bluepeak = partner(ids, "Bluepeak IT")?;
    let paid = NewConversion {
        partner_id: Some(bluepeak.clone()),
        program_id: Some(resellers.to_string()),
        ..sale("INV-2026-0142", "initech", 1_200_000, now.plus_seconds(-10 * DAY))
    };
    conversions::record(ctx, &system, &paid).await?;
    let refund = NewConversion {
        kind: "refund".into(),
        invoice_id: "CN-2026-0007".into(),
        customer_external_id: "initech".into(),
        refunds_invoice_id: Some("INV-2026-0142".into()),
        amount: Some((200_000, "USD".into())),
        ..NewConversion::default()
    };
    conversions::record(ctx, &system, &refund).await?;
    let open = NewConversion {
        partner_id: Some(bluepeak.clone()),
        program_id: Some(resellers.to_string()),
        invoice_status: Some("open".into()),
        ..sale("INV-2026-0188", "wayne-enterprises", 640_000, now.plus_seconds(-2 * DAY))
    };
    conversions::record(ctx, &system, &open).await?;
    // Alpine's sale, paid long ago: payable.
    let alpine = NewConversion {
        partner_id: Some(partner(ids, "Alpine Solutions")?),
        ..sale("INV-2026-0077", "stark-industries", 2_150_000, now.plus_seconds(-45 * DAY))
    };
    conversions::record(ctx, &system, &alpine).await?;
    // Thames Tech's licence has lapsed: its new commission waits on hold.
    let thames = NewConversion {
        partner_id: Some(partner(ids, "Thames Tech")?),
        ..sale("INV-2026-0203", "cyberdyne", 980_000, now.plus_seconds(-3 * DAY))
    };
    conversions::record(ctx, &system, &thames).await?;
    // Referral partners: a lead (payable at once) and a sale for life.
    let ana = partner(ids, "Ana Costa Consulting")?;
    let lead = NewConversion {
        kind: "lead".into(),
        invoice_id: "LEAD-4411".into(),
        customer_external_id: "soylent".into(),
        partner_id: Some(ana),
        occurred_at: Some(now.plus_seconds(-5 * DAY).to_rfc3339()),
        ..NewConversion::default()
    };
    conversions::record(ctx, &system, &lead).await?;
    conversions::record(ctx, &system, &sale("INV-2026-0211", "soylent", 450_000, now.plus_seconds(-DAY))).await?;
    commissions::award_bonus(
        ctx,
        &system,
        NewBonus {
            partner_id: partner(ids, "Danube Digital")?.parse().map_err(|_| Error::Internal("demo partner id".into()))?,
            amount_minor: 50_000,
            currency: "USD".into(),
            reason_code: "spiff".into(),
            note: "Q4 launch SPIFF: first three Trellis Cloud deals".into(),
            program_id: Some(resellers),
        },
    )
    .await?;
    Ok(())
}

/// A payout run of the payable dollars, approved and marked paid: Northwind, whose account is
/// set, is paid its override; Rheinland, Alpine, Danube and Ana Costa have no account yet and are
/// left out with that reason (their money stays payable for the next run).
pub(crate) async fn seed_payout_run(ctx: &Ctx, workspace_id: &WorkspaceId) -> Result<()> {
    let system = Scope::system(workspace_id.clone(), &crate::demo::DEMO_SEEDING);
    let run = trellis_incentives::payouts::create(ctx, &system, "USD").await?;
    if run.items.is_empty() {
        return Ok(());
    }
    trellis_incentives::payouts::approve(ctx, &system, &run.run.id).await?;
    trellis_incentives::payouts::mark_paid(ctx, &system, &run.run.id).await?;
    Ok(())
}
