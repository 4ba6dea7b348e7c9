//! Demo programs and tiers: "Resellers" (Registered, Silver, Gold) and "Referral partners"
//! (Referrer, Ambassador), most demo partners enrolled (Bluepeak IT in both: a hybrid partner),
//! recorded metrics, and a tier history made by a real evaluation — promotions, a demotion with
//! its explanation, and an override with a reason.

use std::collections::HashMap;

use serde_json::{Value, json};
use trellis_core::{Error, PartnerId, PartnerRole, PartnerType, ProgramId, Result, TierId, WorkspaceId};
use trellis_directory::partners;
use trellis_identity::{Ctx, Scope, partner_users};
use trellis_programs::enrollments::{self, NewEnrollment};
use trellis_programs::tiers::{self, NewTier};
use trellis_programs::{NewProgram, evaluation, metrics, programs};

/// A program found by its slug in this workspace, or created (another capability's demo data may
/// have created it first).
async fn program(ctx: &Ctx, system: &Scope, name: &str, slug: &str, description: &str) -> Result<ProgramId> {
    match programs::find_by_slug(ctx, slug).await {
        Ok((workspace, program)) if &workspace == system.workspace_id() => return Ok(program.id),
        Ok(_) | Err(Error::NotFound) => {}
        Err(err) => return Err(err),
    }
    let input = NewProgram { name: name.into(), slug: slug.into(), description: Some(description.into()), ..NewProgram::default() };
    Ok(programs::create(ctx, system, input).await?.id)
}

/// Adds the tiers unless the program has some already; returns them by name.
async fn ladder(ctx: &Ctx, system: &Scope, program: &ProgramId, tiers: Vec<(&str, i64, Value, Value)>) -> Result<HashMap<String, TierId>> {
    let mut existing = tiers::list(ctx, system, program).await?;
    if existing.is_empty() {
        for (name, rank, requirements, benefits) in tiers {
            let input = NewTier { name: name.into(), rank, requirements: Some(requirements), benefits: Some(benefits) };
            existing.push(tiers::create(ctx, system, program, input).await?);
        }
    }
    Ok(existing.into_iter().map(|t| (t.name, t.id)).collect())
}

/// Enrolls a partner unless it is enrolled already.
async fn enroll(ctx: &Ctx, system: &Scope, partner: &PartnerId, program: &ProgramId, tier: Option<&TierId>) -> Result<()> {
    match enrollments::enroll(ctx, system, partner, NewEnrollment { program_id: program.clone(), tier_id: tier.cloned() }).await {
        Ok(_) | Err(Error::Conflict(_)) => Ok(()),
        Err(err) => Err(err),
    }
}

pub(crate) async fn seed(ctx: &Ctx, workspace_id: &WorkspaceId, ids: &HashMap<&str, PartnerId>) -> Result<()> {
    let system = Scope::system(workspace_id.clone(), &crate::demo::DEMO_SEEDING);
    let resellers = program(
        ctx,
        &system,
        "Resellers",
        "resellers",
        "For partners who resell Acme Cloud: deal registration with protection, margins that grow with your tier.",
    )
    .await?;
    let reseller_tiers = ladder(
        ctx,
        &system,
        &resellers,
        vec![
            ("Registered", 0, json!({"all": []}), json!({"text": "Deal registration, the partner portal and sales playbooks.", "content_access": ["basics"]})),
            (
                "Silver",
                10,
                json!({"all": [{"metric": "active_users", "op": ">=", "value": 2}, {"metric": "compliant", "op": "=", "value": true}]}),
                json!({"text": "Better margins and co-marketing support.", "commission_override_bps": 1500,
                       "mdf_allowance": {"amount_minor": 250_000, "currency": "USD"}, "content_access": ["basics", "silver-playbooks"]}),
            ),
            (
                "Gold",
                20,
                json!({"all": [{"metric": "active_users", "op": ">=", "value": 3}, {"metric": "customer_references", "op": ">=", "value": 2},
                               {"metric": "business_plan_approved", "op": "=", "value": true}, {"metric": "compliant", "op": "=", "value": true}]}),
                json!({"text": "Top margins, a named channel manager and early access to the roadmap.", "commission_override_bps": 2500,
                       "mdf_allowance": {"amount_minor": 1_000_000, "currency": "USD"}, "content_access": ["basics", "silver-playbooks", "gold-briefings"]}),
            ),
        ],
    )
    .await?;
    let referral = program(
        ctx,
        &system,
        "Referral partners",
        "referral-partners",
        "For consultants, agencies and affiliates who introduce customers: a share of first-year revenue.",
    )
    .await?;
    ladder(
        ctx,
        &system,
        &referral,
        vec![
            ("Referrer", 0, json!({"all": []}), json!({"text": "20% of the first year's revenue of every referred customer.", "commission_override_bps": 2000})),
            (
                "Ambassador",
                10,
                json!({"all": [{"metric": "marketing_activities", "op": ">=", "value": 2}, {"metric": "compliant", "op": "=", "value": true}]}),
                json!({"text": "25% of first-year revenue and featured placement in the partner locator.", "commission_override_bps": 2500,
                       "content_access": ["ambassador-kit"]}),
            ),
        ],
    )
    .await?;

    // Harbor grows to three people, enough people for Gold.
    if let Some(harbor) = ids.get("Harbor Managed Services") {
        for (email, name) in [("lee@harbor-msp.example", "Lee Harbor"), ("kim@harbor-msp.example", "Kim Harbor")] {
            match partner_users::invite(ctx, &system, harbor, email, Some(name), PartnerRole::Sales).await {
                Ok(invitation) => {
                    crate::demo::accept_as_operator(ctx, &invitation.token, Some(name), crate::demo::DEMO_PASSWORD).await?;
                }
                Err(Error::Conflict(_)) => {}
                Err(err) => return Err(err),
            }
        }
    }

    // Most partners enroll: sellers in Resellers, introducers in Referral partners, Bluepeak IT
    // (reseller and referral partner) in both. Thames Tech starts at Silver by hand and the first
    // evaluation moves it down, so the demo history shows a demotion and its why.
    let listed = partners::list(ctx, &system, &trellis_directory::PartnerFilter { limit: Some(500), ..Default::default() }).await?.items;
    for partner in listed.iter().filter(|p| p.status.allows_access()) {
        let sells = partner.types.iter().any(|t| matches!(t, PartnerType::Reseller | PartnerType::Distributor | PartnerType::Msp));
        let introduces = partner.types.iter().any(|t| matches!(t, PartnerType::Referral | PartnerType::Affiliate | PartnerType::Agency));
        if sells {
            let start = if partner.name == "Thames Tech" { reseller_tiers.get("Silver") } else { None };
            enroll(ctx, &system, &partner.id, &resellers, start).await?;
        }
        if introduces {
            enroll(ctx, &system, &partner.id, &referral, None).await?;
        }
    }

    let recorded: [(&str, &str, Value, &str); 7] = [
        ("Harbor Managed Services", "customer_references", json!(4), "Reference calls done by Carla in October"),
        ("Harbor Managed Services", "business_plan_approved", json!(true), "2027 plan signed off"),
        ("Bluepeak IT", "customer_references", json!(1), "Initech case study"),
        ("Northwind Distribution", "customer_references", json!(3), "Three DACH reference customers"),
        ("Northwind Distribution", "business_plan_approved", json!(true), "Part of the distribution contract"),
        ("Kettle & Co Marketing", "marketing_activities", json!(3), "Two webinars and a newsletter feature"),
        ("Referral Rocket", "marketing_activities", json!(1), "One comparison article"),
    ];
    for (partner, metric, value, note) in recorded {
        if let Some(id) = ids.get(partner) {
            metrics::record(ctx, &system, id, metric, &value, Some(note)).await?;
        }
    }

    evaluation::evaluate_all(ctx, workspace_id).await?;

    if let (Some(northwind), Some(gold)) = (ids.get("Northwind Distribution"), reseller_tiers.get("Gold")) {
        let reason = "Master distributor for DACH: Gold is agreed in the 2027 distribution contract.";
        enrollments::override_tier(ctx, &system, northwind, &resellers, gold.as_str(), reason).await?;
    }
    Ok(())
}
