//! The demo's leads (issue 13): the channel team's inbox with a new lead waiting, offers out to
//! the best matches with their SLA running, an accepted lead ready to be converted, one converted
//! into a deal registration, and one a partner declined with a reason that the engine passed on
//! to the next candidate; the resellers program's public lead form is open (`/leads/resellers`)
//! and, once the demo's leads are in, the program offers each new lead at once to its best match.
//! Deal records are refreshed first, so the matches' win rates come from the demo's own deals.

use std::collections::HashMap;

use trellis_core::{Error, PartnerId, Result, WorkspaceId};
use trellis_identity::{Ctx, Scope};
use trellis_leads::leads::{self, NewLead};
use trellis_leads::routing::{self, Conversion};
use trellis_leads::statuses::LeadStatus;

use crate::demo::DEMO_SEEDING;

struct SeedLead {
    company: &'static str,
    contact: &'static str,
    email: &'static str,
    country: &'static str,
    region: Option<&'static str>,
    product: &'static str,
    value_minor: i64,
    notes: &'static str,
    /// What happens after it is offered to the engine's best match.
    then: Then,
}

#[derive(PartialEq)]
enum Then {
    /// Left in the inbox, not offered yet.
    Waiting,
    /// Offered, the SLA running.
    Offered,
    Accepted,
    Converted,
    /// Declined with this reason; the engine offers it to the next candidate.
    Declined(&'static str),
}

const LEADS: &[SeedLead] = &[
    SeedLead {
        company: "Kessler Maschinenbau GmbH",
        contact: "Jonas Kessler",
        email: "j.kessler@kessler-maschinenbau.example",
        country: "DE",
        region: Some("DACH"),
        product: "Cloud migration",
        value_minor: 6_000_000,
        notes: "Moving 40 servers off premises before the summer; asked for a local partner at the Hannover fair.",
        then: Then::Offered,
    },
    SeedLead {
        company: "Nordlicht Energie AG",
        contact: "Svenja Brandt",
        email: "s.brandt@nordlicht-energie.example",
        country: "DE",
        region: None,
        product: "Managed services",
        value_minor: 9_500_000,
        notes: "Inbound request from the website: 24/7 monitoring for their trading systems.",
        then: Then::Waiting,
    },
    SeedLead {
        company: "Vega Retail GmbH",
        contact: "Lukas Hofer",
        email: "l.hofer@vega-retail.example",
        country: "AT",
        region: Some("DACH"),
        product: "Backup",
        value_minor: 1_800_000,
        notes: "",
        then: Then::Accepted,
    },
    SeedLead {
        company: "Orion Freight Ltd",
        contact: "Amelia Price",
        email: "amelia.price@orion-freight.example",
        country: "GB",
        region: Some("UK & Ireland"),
        product: "Security",
        value_minor: 4_200_000,
        notes: "Needs ISO 27001 support as part of the project.",
        then: Then::Declined("We have no security specialist free until March."),
    },
    SeedLead {
        company: "Fjord Analytics Ltd",
        contact: "Niamh Byrne",
        email: "niamh@fjord-analytics.example",
        country: "IE",
        region: None,
        product: "Cloud migration",
        value_minor: 2_600_000,
        notes: "",
        then: Then::Converted,
    },
];

pub(crate) async fn seed(ctx: &Ctx, workspace_id: &WorkspaceId, _ids: &HashMap<&'static str, PartnerId>) -> Result<()> {
    let system = Scope::system(workspace_id.clone(), &DEMO_SEEDING);
    routing::refresh_stats(ctx, workspace_id).await?;
    let resellers = trellis_programs::programs::list(ctx, &system)
        .await?
        .into_iter()
        .find(|p| p.slug == "resellers")
        .map(|p| p.id)
        .ok_or_else(|| Error::Internal("demo program resellers".into()))?;
    // The public lead form of the resellers program is open: /leads/resellers.
    let open = trellis_leads::settings::SettingsPatch { public_form: Some(true), ..Default::default() };
    trellis_leads::settings::update(ctx, &system, &resellers, open).await?;
    for seed in LEADS {
        let input = NewLead {
            company_name: seed.company.into(),
            contact_name: Some(seed.contact.into()),
            contact_email: Some(seed.email.into()),
            domain: seed.email.split('@').nth(1).map(|d| format!("www.{d}")),
            country: seed.country.into(),
            region: seed.region.map(str::to_owned),
            product_interest: Some(seed.product.into()),
            estimated_value: Some((seed.value_minor, None)),
            notes: Some(seed.notes.into()),
            program_id: Some(resellers.clone()),
            external_id: None,
        };
        let lead = leads::create(ctx, &system, input).await?;
        if seed.then == Then::Waiting {
            continue;
        }
        let offered = routing::offer(ctx, &system, &lead.id, None).await?;
        if offered.lead.status != LeadStatus::Offered {
            continue;
        }
        match &seed.then {
            Then::Accepted => {
                routing::accept(ctx, &system, &lead.id).await?;
            }
            Then::Converted => {
                routing::accept(ctx, &system, &lead.id).await?;
                let conversion =
                    Conversion { expected_close_date: None, description: Some("Converted from a lead".into()), amount_minor: None };
                routing::convert(ctx, &system, &lead.id, conversion).await?;
            }
            Then::Declined(reason) => {
                routing::give_back(ctx, &system, &lead.id, LeadStatus::Declined, reason).await?;
            }
            Then::Waiting | Then::Offered => {}
        }
    }
    // From now on the program offers each new lead at once (an enquiry through the public form
    // goes straight to its best match); the lead above still waits, as it came in before.
    let automatic = trellis_leads::settings::SettingsPatch { auto_offer: Some(true), ..Default::default() };
    trellis_leads::settings::update(ctx, &system, &resellers, automatic).await?;
    Ok(())
}
