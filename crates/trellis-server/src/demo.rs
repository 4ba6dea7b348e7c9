//! `trellis demo`: a realistic demo workspace. Seeding is idempotent: when the demo workspace
//! exists already it is left as it is, so running the command again is safe. Later capabilities
//! add their demo data here. Everything is created through the domain services in the system
//! context, so the demo also exercises validation and the audit trail.

use trellis_core::{PartnerRole, PartnerScopeSetting, PartnerStatus, PartnerType, Result, VendorRole, WorkspaceId};
use trellis_db::{RowSecurity, sql};
use trellis_identity::{Ctx, Scope, members, partner_users, workspaces};
use trellis_partners::{NewPartner, PartnerPatch, partners};

/// The one password of every demo login.
pub const DEMO_PASSWORD: &str = "trellis-demo-2026";
const OWNER_EMAIL: &str = "olivia.owner@acme.example";
const WORKSPACE_NAME: &str = "Acme Cloud";

/// A demo login to print.
pub struct DemoLogin {
    pub email: &'static str,
    pub what: &'static str,
}

pub const LOGINS: &[DemoLogin] = &[
    DemoLogin { email: OWNER_EMAIL, what: "vendor owner" },
    DemoLogin { email: "adam.admin@acme.example", what: "vendor admin" },
    DemoLogin { email: "carla.channel@acme.example", what: "channel manager (all partners)" },
    DemoLogin { email: "casey.assigned@acme.example", what: "channel manager (assigned partners only)" },
    DemoLogin { email: "fiona.finance@acme.example", what: "finance" },
    DemoLogin { email: "victor.viewer@acme.example", what: "viewer" },
    DemoLogin { email: "dana@northwind.example", what: "partner admin, Northwind Distribution (distributor)" },
    DemoLogin { email: "rick@bluepeak.example", what: "partner admin, Bluepeak IT (reseller under Northwind)" },
    DemoLogin { email: "sam@bluepeak.example", what: "partner sales, Bluepeak IT" },
    DemoLogin { email: "maria@harbor-msp.example", what: "partner admin, Harbor Managed Services (MSP)" },
];

struct SeedPartner {
    name: &'static str,
    domain: &'static str,
    country: &'static str,
    types: &'static [PartnerType],
    parent: Option<&'static str>,
    assigned: bool,
    status: PartnerStatus,
}

const fn p(
    name: &'static str,
    domain: &'static str,
    country: &'static str,
    types: &'static [PartnerType],
    parent: Option<&'static str>,
) -> SeedPartner {
    SeedPartner { name, domain, country, types, parent, assigned: false, status: PartnerStatus::Active }
}

use PartnerType::{Affiliate, Agency, Distributor, Msp, Referral, Reseller, Technology};

const PARTNERS: &[SeedPartner] = &[
    SeedPartner { assigned: true, ..p("Northwind Distribution", "northwind.example", "DE", &[Distributor], None) },
    SeedPartner { assigned: true, ..p("Bluepeak IT", "bluepeak.example", "DE", &[Reseller, Referral], Some("Northwind Distribution")) },
    p("Rheinland Systems", "rheinland.example", "DE", &[Reseller], Some("Northwind Distribution")),
    p("Alpine Solutions", "alpine.example", "AT", &[Reseller, Msp], Some("Northwind Distribution")),
    p("Danube Digital", "danube.example", "AT", &[Reseller], Some("Northwind Distribution")),
    p("Globex Distribution", "globex.example", "GB", &[Distributor], None),
    p("Thames Tech", "thames.example", "GB", &[Reseller], Some("Globex Distribution")),
    p("Highland Networks", "highland.example", "GB", &[Reseller], Some("Globex Distribution")),
    p("Emerald Cloud", "emerald.example", "IE", &[Reseller, Msp], Some("Globex Distribution")),
    p("Harbor Managed Services", "harbor-msp.example", "US", &[Msp], None),
    p("Summit MSP", "summit-msp.example", "US", &[Msp], None),
    p("Pacific Edge IT", "pacificedge.example", "US", &[Msp, Reseller], None),
    p("Brightside Agency", "brightside.example", "US", &[Agency], None),
    p("Kettle & Co Marketing", "kettle.example", "GB", &[Agency, Referral], None),
    p("Lumen Creative", "lumen.example", "FR", &[Agency], None),
    p("Ana Costa Consulting", "anacosta.example", "PT", &[Referral], None),
    p("Referral Rocket", "referralrocket.example", "US", &[Referral, Affiliate], None),
    p("SaaS Reviews Weekly", "saasreviews.example", "US", &[Affiliate], None),
    p("DevTools Digest", "devtoolsdigest.example", "CA", &[Affiliate], None),
    p("Nordic Integrations", "nordic-int.example", "SE", &[Technology], None),
    p("Stackbridge", "stackbridge.example", "NL", &[Technology, Referral], None),
    p("Maple Leaf Resellers", "mapleleaf.example", "CA", &[Reseller], None),
    p("Sunrise Systems", "sunrise.example", "AU", &[Reseller, Msp], None),
    SeedPartner { status: PartnerStatus::Suspended, ..p("Shady Deals Ltd", "shadydeals.example", "GB", &[Affiliate], None) },
    SeedPartner { status: PartnerStatus::Terminated, ..p("Old Partner GmbH", "oldpartner.example", "DE", &[Reseller], None) },
];

/// Creates the demo workspace unless it exists; returns its id.
pub async fn seed(ctx: &Ctx) -> anyhow::Result<WorkspaceId> {
    if let Some(existing) = find_existing(ctx).await? {
        return Ok(existing);
    }
    let created =
        workspaces::bootstrap(ctx, WORKSPACE_NAME, OWNER_EMAIL, DEMO_PASSWORD, "USD").await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let workspace_id = created.workspace_id;
    seed_workspace(ctx, &workspace_id).await.map_err(|e| anyhow::anyhow!("seeding the demo workspace: {e:?}"))?;
    Ok(workspace_id)
}

async fn find_existing(ctx: &Ctx) -> Result<Option<WorkspaceId>> {
    let mut tx = ctx.db.read(&RowSecurity::Unrestricted).await?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT w.id FROM workspaces w JOIN members m ON m.workspace_id = w.id JOIN users u ON u.id = m.user_id WHERE w.name = $1 AND u.email = $2 AND m.role = 'owner'",
            WORKSPACE_NAME, OWNER_EMAIL
        ))
        .await?;
    Ok(match row {
        Some(row) => Some(row.get("id")?),
        None => None,
    })
}

async fn seed_workspace(ctx: &Ctx, workspace_id: &WorkspaceId) -> Result<()> {
    let system = Scope::system(workspace_id.clone());
    let staff: [(&str, &str, VendorRole, PartnerScopeSetting); 5] = [
        ("adam.admin@acme.example", "Adam Admin", VendorRole::Admin, PartnerScopeSetting::All),
        ("carla.channel@acme.example", "Carla Channel", VendorRole::ChannelManager, PartnerScopeSetting::All),
        ("casey.assigned@acme.example", "Casey Assigned", VendorRole::ChannelManager, PartnerScopeSetting::Assigned),
        ("fiona.finance@acme.example", "Fiona Finance", VendorRole::Finance, PartnerScopeSetting::All),
        ("victor.viewer@acme.example", "Victor Viewer", VendorRole::Viewer, PartnerScopeSetting::All),
    ];
    let mut casey = None;
    for (email, name, role, partner_scope) in staff {
        let (member, invitation) = members::add(ctx, &system, email, Some(name), role, Some(partner_scope)).await?;
        members::accept_invitation(ctx, &invitation.token, Some(name), DEMO_PASSWORD).await?;
        if partner_scope == PartnerScopeSetting::Assigned {
            casey = Some(member.user_id);
        }
    }
    workspaces::update(
        ctx,
        &system,
        workspaces::WorkspacePatch {
            allowed_redirect_domains: Some(vec!["acme.example".into()]),
            distributors_manage_resellers: Some(true),
            ..Default::default()
        },
    )
    .await?;
    let mut ids = std::collections::HashMap::new();
    for seed in PARTNERS {
        let partner = partners::create(
            ctx,
            &system,
            NewPartner {
                name: seed.name.into(),
                contact_email: format!("partners@{}", seed.domain),
                website: Some(format!("https://www.{}", seed.domain)),
                country: Some(seed.country.into()),
                types: seed.types.to_vec(),
                parent_id: seed.parent.and_then(|name| ids.get(name).cloned()),
                manager_user_id: if seed.assigned { casey.clone() } else { None },
            },
        )
        .await?;
        if seed.status != PartnerStatus::Active {
            partners::update(ctx, &system, &partner.id, PartnerPatch { status: Some(seed.status), ..Default::default() }).await?;
        }
        ids.insert(seed.name, partner.id);
    }
    let people: [(&str, &str, &str, PartnerRole); 5] = [
        ("Northwind Distribution", "dana@northwind.example", "Dana Northwind", PartnerRole::Admin),
        ("Bluepeak IT", "rick@bluepeak.example", "Rick Bluepeak", PartnerRole::Admin),
        ("Bluepeak IT", "sam@bluepeak.example", "Sam Sales", PartnerRole::Sales),
        ("Harbor Managed Services", "maria@harbor-msp.example", "Maria Harbor", PartnerRole::Admin),
        ("Thames Tech", "tom@thames.example", "Tom Thames", PartnerRole::Admin),
    ];
    for (partner, email, name, role) in people {
        let Some(partner_id) = ids.get(partner) else { continue };
        let (_, invitation) = partner_users::invite(ctx, &system, partner_id, email, Some(name), role).await?;
        members::accept_invitation(ctx, &invitation.token, Some(name), DEMO_PASSWORD).await?;
    }
    seed_profiles_contracts_and_licences(ctx, &system, &ids).await?;
    Ok(())
}

/// What `trellis demo` prints once the server is about to listen.
pub fn banner(public_url: &str, _workspace: &WorkspaceId) -> String {
    let mut text = format!(
        "\nTrellis demo is running at {public_url}/\n  API docs: {public_url}/api/docs\n\nSign in with any of these (password: {DEMO_PASSWORD}):\n"
    );
    for login in LOGINS {
        text.push_str(&format!("  {:<32} {}\n", login.email, login.what));
    }
    text.push_str("\nStop with Ctrl-C. Running `trellis demo` again keeps the same data.\n");
    text
}

/// Where a demo partner is: legal form, a street, postal code and city, and the named region.
fn locale(country: &str) -> (&'static str, &'static str, &'static str, &'static str, &'static str) {
    match country {
        "DE" => ("GmbH", "Friedrichstraße 68", "10117", "Berlin", "DACH"),
        "AT" => ("GmbH", "Mariahilfer Straße 47", "1060", "Wien", "DACH"),
        "GB" => ("Ltd", "12 Bishopsgate", "EC2N 4AJ", "London", "UK & Ireland"),
        "IE" => ("Ltd", "4 Grand Canal Square", "D02 X525", "Dublin", "UK & Ireland"),
        "US" => ("Inc.", "500 Market Street", "94105", "San Francisco", "North America"),
        "CA" => ("Ltd.", "200 Bay Street", "M5J 2J2", "Toronto", "North America"),
        "FR" => ("SAS", "18 rue de la Paix", "75002", "Paris", "Western Europe"),
        "PT" => ("Lda", "Avenida da Liberdade 110", "1250-146", "Lisboa", "Southern Europe"),
        "SE" => ("AB", "Kungsgatan 8", "111 43", "Stockholm", "Nordics"),
        "NL" => ("B.V.", "Keizersgracht 241", "1016 EA", "Amsterdam", "Benelux"),
        "AU" => ("Pty Ltd", "1 Macquarie Place", "2000", "Sydney", "APAC"),
        _ => ("Ltd", "1 Main Street", "0000", "Capital", "Global"),
    }
}

/// What a demo partner does, by its first type: a description and specialisations.
fn speciality(types: &[PartnerType]) -> (&'static str, &'static [&'static str]) {
    match types.first() {
        Some(Distributor) => {
            ("Two-tier distribution with a reseller network, logistics and first-line support.", &["Distribution", "Reseller enablement"])
        }
        Some(Reseller) => ("Sells, deploys and supports Acme Cloud for small and mid-sized companies.", &["Cloud migration", "Backup"]),
        Some(Msp) => ("Runs Acme Cloud as a managed service with 24/7 monitoring.", &["Managed services", "Security"]),
        Some(Agency) => ("Builds campaigns and websites on Acme Cloud for marketing teams.", &["Web design", "Marketing automation"]),
        Some(Referral) => ("Independent advisers who introduce Acme Cloud to their clients.", &["Consulting"]),
        Some(Affiliate) => ("Reviews and tutorials for developers and IT buyers.", &["Content"]),
        Some(Technology) => ("Integrates Acme Cloud with ERP and CRM systems.", &["Integrations", "API"]),
        None => ("", &[]),
    }
}

/// Profiles (most partners listed in the public locator), contracts and licences: a licence that
/// expires in about 20 days, a lapsed one that makes Thames Tech non-compliant, a contract up for
/// renewal, and a pending change of Bluepeak IT's legal name. Reminders due today are queued.
async fn seed_profiles_contracts_and_licences(
    ctx: &Ctx,
    system: &Scope,
    ids: &std::collections::HashMap<&'static str, trellis_core::PartnerId>,
) -> Result<()> {
    use trellis_partners::contracts::{self, NewContract};
    use trellis_partners::licences::{self, NewLicence};
    use trellis_partners::profile_changes::{self, ProposedChanges};
    use trellis_partners::profiles::{self, Address, ProfilePatch, Territories};
    use trellis_partners::{dates, reminders};

    // Left without a profile, to show what an incomplete one looks like.
    const WITHOUT_PROFILE: [&str; 2] = ["Danube Digital", "Stackbridge"];
    // Listed partners opt in; these two prefer not to be found publicly.
    const NOT_LISTED: [&str; 2] = ["SaaS Reviews Weekly", "DevTools Digest"];
    for seed in PARTNERS.iter().filter(|p| p.status == PartnerStatus::Active && !WITHOUT_PROFILE.contains(&p.name)) {
        let Some(id) = ids.get(seed.name) else { continue };
        let (legal_form, street, postal_code, city, region) = locale(seed.country);
        let (description, specialisations) = speciality(seed.types);
        let patch = ProfilePatch {
            legal_name: Some(format!("{} {legal_form}", seed.name)),
            addresses: Some(vec![Address {
                label: "Head office".into(),
                line1: street.into(),
                line2: None,
                city: city.into(),
                postal_code: postal_code.into(),
                region: None,
                country: seed.country.into(),
            }]),
            territories: Some(Territories { countries: vec![seed.country.into()], regions: vec![region.into()] }),
            specialisations: Some(specialisations.iter().map(|s| (*s).to_owned()).collect()),
            products: Some(vec!["Acme Cloud".into()]),
            description: Some(description.into()),
            locator_opt_in: Some(!NOT_LISTED.contains(&seed.name)),
            ..ProfilePatch::default()
        };
        profiles::update(ctx, system, id, patch).await?;
    }

    let today = dates::today(ctx.now());
    let day = |offset: i64| dates::format(dates::add_days(today, offset));
    let partner = |name: &str| ids.get(name).cloned().ok_or_else(|| trellis_core::Error::Internal(format!("demo partner {name}")));
    let licences_to_seed = [
        ("Bluepeak IT", "insurance broker", "DE-IB-20931", "DE", day(-345), day(20)),
        ("Thames Tech", "consumer credit", "FCA-778120", "GB", day(-377), day(-12)),
        ("Northwind Distribution", "export control", "BAFA-4471", "DE", day(-100), day(265)),
        ("Harbor Managed Services", "SOC 2 Type II", "SOC2-2026-118", "US", day(-60), day(305)),
    ];
    for (name, kind, number, jurisdiction, valid_from, valid_until) in licences_to_seed {
        let input = NewLicence {
            kind: kind.into(),
            number: number.into(),
            jurisdiction: jurisdiction.into(),
            valid_from,
            valid_until,
            file_id: None,
        };
        licences::create(ctx, system, &partner(name)?, input).await?;
    }
    let contracts_to_seed = [
        ("Northwind Distribution", "Distribution agreement", day(-340), None, Some(day(25))),
        ("Globex Distribution", "Distribution agreement", day(-165), Some(day(565)), Some(day(200))),
        ("Harbor Managed Services", "MSP agreement", day(-30), None, Some(day(335))),
    ];
    for (name, title, starts_on, ends_on, renews_on) in contracts_to_seed {
        contracts::create(ctx, system, &partner(name)?, NewContract { title: title.into(), starts_on, ends_on, renews_on, file_id: None })
            .await?;
    }
    let changes = ProposedChanges { legal_name: Some("Bluepeak IT Solutions GmbH".into()), territories: None };
    profile_changes::request(ctx, system, &partner("Bluepeak IT")?, changes).await?;
    reminders::send_due_reminders(ctx, system.workspace_id()).await?;
    Ok(())
}
