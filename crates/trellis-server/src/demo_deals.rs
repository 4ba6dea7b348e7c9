//! The demo's deals: registrations in every status, a partner that resells one deal and refers
//! another, a live race between two resellers of Globex Distribution, a registration that runs
//! into Acme's own direct pipeline, a deal shared with a referral partner, and (in Thames Tech) a
//! partner whose lapsed licence blocks registration; an open dispute of a rejection.

use std::collections::HashMap;

use trellis_core::{Error, PartnerId, ProgramId, Result, WorkspaceId};
use trellis_deals::deals::{self, DealRole, DealSource, DealStage, Decision, NewDeal};
use trellis_deals::rules::{self, RulesPatch};
use trellis_deals::statuses::DealStatus;
use trellis_identity::{Ctx, Scope};

struct SeedDeal {
    partner: Option<&'static str>,
    program: &'static str,
    role: DealRole,
    customer: &'static str,
    domain: &'static str,
    country: &'static str,
    amount_minor: i64,
    currency: &'static str,
    stage: DealStage,
    /// Where the demo leaves it, with the note of the decision.
    outcome: &'static [(DealStatus, &'static str)],
}

const fn d(partner: &'static str, customer: &'static str, domain: &'static str, country: &'static str, amount_minor: i64) -> SeedDeal {
    SeedDeal {
        partner: Some(partner),
        program: "resellers",
        role: DealRole::Resell,
        customer,
        domain,
        country,
        amount_minor,
        currency: "EUR",
        stage: DealStage::Qualification,
        outcome: &[],
    }
}

const DEALS: &[SeedDeal] = &[
    SeedDeal {
        stage: DealStage::Proposal,
        outcome: &[(DealStatus::Approved, "")],
        ..d("Bluepeak IT", "Initech AG", "initech.example", "DE", 4_800_000)
    },
    SeedDeal {
        program: "referral-partners",
        role: DealRole::Referral,
        ..d("Bluepeak IT", "Umbrella Health GmbH", "umbrella-health.example", "DE", 1_200_000)
    },
    SeedDeal {
        stage: DealStage::Closing,
        outcome: &[(DealStatus::Approved, ""), (DealStatus::Won, "")],
        ..d("Rheinland Systems", "Hooli Europe GmbH", "hooli.example", "DE", 8_500_000)
    },
    SeedDeal {
        outcome: &[(
            DealStatus::Rejected,
            "Stark Industries is a named account of Acme's enterprise team; it is not open for registration.",
        )],
        ..d("Alpine Solutions", "Stark Industries AG", "stark.example", "AT", 12_000_000)
    },
    SeedDeal { currency: "GBP", ..d("Highland Networks", "Wayne Enterprises Ltd", "wayne.example", "GB", 6_000_000) },
    SeedDeal { currency: "GBP", ..d("Emerald Cloud", "Wayne Enterprises", "www.wayne.example", "IE", 5_500_000) },
    SeedDeal {
        partner: None,
        currency: "USD",
        stage: DealStage::Negotiation,
        ..d("", "Cyberdyne Systems", "cyberdyne.example", "US", 25_000_000)
    },
    SeedDeal { currency: "USD", ..d("Harbor Managed Services", "Cyberdyne Systems, Inc.", "cyberdyne.example", "US", 9_000_000) },
    SeedDeal {
        outcome: &[(DealStatus::NeedsInfo, "Which Acme Cloud products, and how many seats? Please add them to the description.")],
        ..d("Emerald Cloud", "Soylent Foods", "soylent.example", "IE", 2_000_000)
    },
    SeedDeal {
        currency: "USD",
        outcome: &[(DealStatus::Approved, ""), (DealStatus::Lost, "The customer chose a competitor on price.")],
        ..d("Pacific Edge IT", "Tyrell Corporation", "tyrell.example", "US", 3_000_000)
    },
    SeedDeal {
        currency: "USD",
        outcome: &[(DealStatus::Approved, ""), (DealStatus::Expired, "")],
        ..d("Summit MSP", "Oscorp Industries", "oscorp.example", "US", 4_000_000)
    },
    SeedDeal { currency: "CAD", ..d("Maple Leaf Resellers", "Initrode Ltd", "initrode.example", "CA", 1_500_000) },
    SeedDeal { currency: "AUD", ..d("Sunrise Systems", "Vandelay Industries", "vandelay.example", "AU", 2_750_000) },
];

fn program_of(programs: &HashMap<String, ProgramId>, slug: &str) -> Result<ProgramId> {
    programs.get(slug).cloned().ok_or_else(|| Error::Internal(format!("demo program {slug}")))
}

pub(crate) async fn seed(ctx: &Ctx, workspace_id: &WorkspaceId, ids: &HashMap<&str, PartnerId>) -> Result<()> {
    let system = Scope::system(workspace_id.clone(), &crate::demo::DEMO_SEEDING);
    let programs: HashMap<String, ProgramId> =
        trellis_programs::programs::list(ctx, &system).await?.into_iter().map(|p| (p.slug.clone(), p.id)).collect();
    // Referral partners' clean registrations are approved at once; resellers' are reviewed.
    rules::update(
        ctx,
        &system,
        &program_of(&programs, "referral-partners")?,
        RulesPatch { auto_approve: Some(true), ..RulesPatch::default() },
    )
    .await?;
    let mut registered = HashMap::new();
    for seed in DEALS {
        let partner_id = match seed.partner {
            Some(name) => Some(ids.get(name).cloned().ok_or_else(|| Error::Internal(format!("demo partner {name}")))?),
            None => None,
        };
        let input = NewDeal {
            customer_name: seed.customer.into(),
            customer_domain: Some(seed.domain.into()),
            country: Some(seed.country.into()),
            amount_minor: Some(seed.amount_minor),
            currency: Some(seed.currency.into()),
            partner_role: partner_id.as_ref().map(|_| seed.role),
            program_id: Some(program_of(&programs, seed.program)?),
            stage: Some(seed.stage),
            source: if partner_id.is_none() { Some(DealSource::Direct) } else { None },
            partner_id,
            description: Some(format!("{} for {}", seed.stage.as_str(), seed.customer)),
            ..NewDeal::default()
        };
        let deal = deals::register(ctx, &system, input).await?.deal;
        for (status, note) in seed.outcome {
            let decision = Decision { protected_days: None, note: (!note.is_empty()).then(|| (*note).to_owned()) };
            deals::transition(ctx, &system, &deal.id, *status, decision).await?;
        }
        registered.insert(seed.customer, deal.id);
    }
    // Alpine disputes the rejection of Stark Industries: the dispute waits in the console.
    if let Some(stark) = registered.get("Stark Industries AG") {
        let reason = "We have worked with Stark's Vienna office since March; Acme's enterprise team has no contact there.";
        trellis_deals::disputes::open(ctx, &system, stark, reason).await?;
    }
    // Kettle & Co introduced Hooli to Rheinland: 15% of the credit.
    if let (Some(hooli), Some(kettle)) = (registered.get("Hooli Europe GmbH"), ids.get("Kettle & Co Marketing")) {
        deals::attach_partner(ctx, &system, hooli, kettle, DealRole::Referral, 1_500).await?;
    }
    Ok(())
}
