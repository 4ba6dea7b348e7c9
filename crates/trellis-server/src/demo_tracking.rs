//! The demo's referral tracking: acme.example as the allowed destination, two links of Ana Costa
//! Consulting (a vanity one for a newsletter and one for a LinkedIn post) with two weeks of clicks
//! recorded through the real redirect and writer, a lead and a sale attributed by their click ids,
//! and a lead from a disposable mailbox held for review in the console's hold queue.

use std::collections::HashMap;

use trellis_core::{Error, PartnerId, ProgramId, Result, WorkspaceId};
use trellis_identity::{Ctx, Scope};
use trellis_incentives::conversions::{self, NewConversion};
use trellis_tracking::links::{self, NewLink};
use trellis_tracking::redirects::{Redirects, Visit};

const DAY: i64 = 86_400;
const BROWSER: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

pub(crate) async fn seed(ctx: &Ctx, workspace_id: &WorkspaceId, ids: &HashMap<&str, PartnerId>) -> Result<()> {
    let system = Scope::system(workspace_id.clone(), &crate::demo::DEMO_SEEDING);
    let mut tx = ctx.db().write_granted(&crate::demo::DEMO_SEEDING).await?;
    tx.execute(trellis_db::sql!("UPDATE workspaces SET allowed_redirect_domains = '[\"acme.example\"]' WHERE id = $1", workspace_id))
        .await?;
    tx.commit().await?;
    let ana = ids.get("Ana Costa Consulting").ok_or_else(|| Error::Internal("demo partner Ana Costa Consulting".into()))?;
    let referral: ProgramId = trellis_programs::programs::list(ctx, &system)
        .await?
        .into_iter()
        .find(|p| p.slug == "referral-partners")
        .map(|p| p.id)
        .ok_or_else(|| Error::Internal("demo program referral-partners".into()))?;
    let link = |name: &str, code: Option<&str>, destination: &str, campaign: &str| NewLink {
        destination_url: destination.into(),
        partner_id: Some(ana.to_string()),
        program_id: Some(referral.to_string()),
        code: code.map(str::to_owned),
        name: Some(name.into()),
        utm: vec![("utm_source".into(), "ana-costa".into()), ("utm_campaign".into(), campaign.into())],
    };
    let newsletter =
        links::create(ctx, &system, &link("Spring newsletter", Some("ana-spring"), "https://www.acme.example/cloud/pricing", "spring"))
            .await?;
    let linkedin = links::create(ctx, &system, &link("LinkedIn post", None, "https://www.acme.example/cloud", "linkedin")).await?;

    // Two weeks of visitors through the real redirect: more on weekdays, a few bots and repeats.
    let redirects = Redirects::of(ctx)?;
    let now = ctx.now();
    // Visits spread over the hours before `now`'s time of day, never into the day before: the demo
    // shows fourteen days whenever it is seeded (just after midnight UTC as well).
    let seconds_into_day = (now.micros() / 1_000_000).rem_euclid(DAY);
    let mut clicks = Vec::new();
    for day in 0..14_i64 {
        for (code, per_day) in [(&newsletter.code, 6 + (day * 7) % 9), (&linkedin.code, 2 + (day * 5) % 4)] {
            for n in 0..per_day {
                let address = format!("198.51.{}.{}", day, n + 10);
                let at = now.plus_seconds(-(13 - day) * DAY - (3_600 * (n % 9)).min(seconds_into_day));
                let visit = Visit { code, address: &address, user_agent: Some(BROWSER), referer: None, at };
                if let Some(answer) = redirects.visit(&visit).await {
                    clicks.push((answer.click_id, at));
                }
            }
        }
    }
    redirects.recorder().flush().await;

    // A lead and a sale through clicks (minutes after them), and a lead from a throwaway address.
    let attributed = |kind: &str, invoice: &str, customer: &str, (click, at): &(String, trellis_core::Timestamp)| NewConversion {
        kind: kind.into(),
        invoice_id: invoice.into(),
        customer_external_id: customer.into(),
        click_id: Some(click.clone()),
        amount: (kind == "sale").then(|| (390_000, "USD".into())),
        occurred_at: Some(at.plus_seconds(600).to_rfc3339()),
        customer_email: Some(format!("buyer@{customer}.example")),
        ..NewConversion::default()
    };
    let picks: Vec<&(String, trellis_core::Timestamp)> = [5_usize, 40, 70].iter().filter_map(|i| clicks.get(*i)).collect();
    if let [first, second, third] = picks.as_slice() {
        conversions::record(ctx, &system, &attributed("lead", "LEAD-5102", "umbrella", first)).await?;
        conversions::record(ctx, &system, &attributed("sale", "INV-2026-0230", "initrode", second)).await?;
        let throwaway =
            NewConversion { customer_email: Some("deals@mailinator.com".into()), ..attributed("lead", "LEAD-5140", "gringotts", third) };
        conversions::record(ctx, &system, &throwaway).await?;
    }
    Ok(())
}
