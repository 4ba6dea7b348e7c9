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
    crate::demo_programs::seed(ctx, workspace_id, &ids).await?;
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
