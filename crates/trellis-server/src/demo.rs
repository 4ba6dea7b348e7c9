//! `trellis demo`: a realistic demo workspace. Seeding is idempotent: when the demo workspace
//! exists already it is left as it is, so running the command again is safe. Later capabilities
//! add their demo data here. Everything is created through the domain services in the system
//! context, so the demo also exercises validation and the audit trail.

use trellis_core::{PartnerId, PartnerRole, PartnerScopeSetting, PartnerStatus, PartnerType, Result, UserId, VendorRole, WorkspaceId};
use trellis_db::{SystemGrant, sql};
use trellis_directory::{NewPartner, PartnerPatch, partners};
use trellis_identity::invitations::{self, Acceptor};
use trellis_identity::{Ctx, RequestMeta, Scope, auth, members, partner_users, workspaces};
use trellis_incentives::payout_methods::{self, PayoutMethodInput, PayoutMethodType};
use trellis_incentives::secret_box::SecretKey;
use trellis_programs::programs::{self, ApplicationQuestion};
use trellis_programs::{NewProgram, Program, ProgramPatch};
use trellis_recruitment::agreements::{self, NewAgreement};
use trellis_recruitment::applications::{self, NewApplication};
use trellis_recruitment::onboarding::{self, NewStep};

/// The one password of every demo login.
pub const DEMO_PASSWORD: &str = "trellis-demo-2026";
const OWNER_EMAIL: &str = "olivia.owner@acme.example";
const WORKSPACE_NAME: &str = "Acme Cloud";

/// The key `trellis demo` seals bank details with when no TRELLIS_SECRET_KEY is configured:
/// published here, so fit for demo data only (ADR 0018). `serve` has no such fallback.
const DEMO_SECRET_KEY: &str = "64656d6f64656d6f64656d6f64656d6f64656d6f64656d6f64656d6f64656d6f";

/// The demo's published key (see [`DEMO_SECRET_KEY`]).
pub fn demo_secret_key() -> SecretKey {
    SecretKey::parse_hex(DEMO_SECRET_KEY).expect("the demo key is 64 hex characters")
}

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
    DemoLogin {
        email: "dana@northwind.example",
        what: "partner admin, Northwind Distribution (distributor: opens its resellers, invites their users)",
    },
    DemoLogin { email: "rick@bluepeak.example", what: "partner admin, Bluepeak IT (reseller under Northwind)" },
    DemoLogin { email: "sam@bluepeak.example", what: "partner sales, Bluepeak IT (a seller's home: tier, benefits, channel manager)" },
    DemoLogin {
        email: "maria@harbor-msp.example",
        what: "partner admin, Harbor Managed Services (MSP); an invitation to Thames Tech waits for her",
    },
    DemoLogin { email: "vera@vertex.example", what: "partner admin, Vertex Solutions (onboarding)" },
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

/// Seeding the demo workspace (and the test fixtures built on it) acts for nobody: it creates
/// partners, programs and users, and accepts invitations as their invitees would.
pub const DEMO_SEEDING: SystemGrant = SystemGrant {
    name: "demo_seeding",
    reason: "seeding the demo workspace and the fixtures built on it; accepts invitations as their invitees would",
};

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
    let mut tx = ctx.db().read_granted(&DEMO_SEEDING).await?;
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

/// Accepts an invitation the way its invitee would, for seeding data (the demo, the test
/// fixtures): with a new account and `password`, or — for an address that already has an account
/// (a person in several organisations) — as that account, whose password stays as it is.
pub async fn accept_as_operator(ctx: &Ctx, token: &str, name: Option<&str>, password: &str) -> Result<UserId> {
    let pending = invitations::find(ctx, token).await?;
    let existing =
        ctx.db().read_granted(&DEMO_SEEDING).await?.fetch_optional(sql!("SELECT id FROM users WHERE email = $1", pending.email)).await?;
    let accepted = match existing {
        Some(row) => invitations::accept(ctx, token, Acceptor::Account { user_id: &row.get::<UserId>("id")? }).await?,
        None => invitations::accept(ctx, token, Acceptor::NewAccount { name, password }).await?,
    };
    Ok(accepted.user_id)
}

/// Invitations nobody has answered yet: a new staff member, a new colleague at a reseller, and
/// an existing account (Maria of Harbor) asked to join a second partner, which she must accept
/// herself — the links are in the console's Outbox.
async fn seed_pending_invitations(ctx: &Ctx, system: &Scope, ids: &std::collections::HashMap<&str, PartnerId>) -> Result<()> {
    members::add(ctx, system, "nina.new@acme.example", Some("Nina New"), VendorRole::Finance, None).await?;
    if let Some(bluepeak) = ids.get("Bluepeak IT") {
        partner_users::invite(ctx, system, bluepeak, "pat@bluepeak.example", Some("Pat Presales"), PartnerRole::Sales).await?;
    }
    if let Some(thames) = ids.get("Thames Tech") {
        partner_users::invite(ctx, system, thames, "maria@harbor-msp.example", None, PartnerRole::Member).await?;
    }
    Ok(())
}

async fn seed_workspace(ctx: &Ctx, workspace_id: &WorkspaceId) -> Result<()> {
    let system = Scope::system(workspace_id.clone(), &DEMO_SEEDING);
    let staff: [(&str, &str, VendorRole, PartnerScopeSetting); 5] = [
        ("adam.admin@acme.example", "Adam Admin", VendorRole::Admin, PartnerScopeSetting::All),
        ("carla.channel@acme.example", "Carla Channel", VendorRole::ChannelManager, PartnerScopeSetting::All),
        ("casey.assigned@acme.example", "Casey Assigned", VendorRole::ChannelManager, PartnerScopeSetting::Assigned),
        ("fiona.finance@acme.example", "Fiona Finance", VendorRole::Finance, PartnerScopeSetting::All),
        ("victor.viewer@acme.example", "Victor Viewer", VendorRole::Viewer, PartnerScopeSetting::All),
    ];
    let mut casey = None;
    for (email, name, role, partner_scope) in staff {
        let invitation = members::add(ctx, &system, email, Some(name), role, Some(partner_scope)).await?;
        let user_id = accept_as_operator(ctx, &invitation.token, Some(name), DEMO_PASSWORD).await?;
        if partner_scope == PartnerScopeSetting::Assigned {
            casey = Some(user_id);
        }
    }
    workspaces::update(
        ctx,
        &system,
        workspaces::WorkspacePatch {
            allowed_redirect_domains: Some(vec!["acme.example".into()]),
            distributors_manage_resellers: Some(true),
            // The public pages (application form, locator) show the vendor's accent colour.
            brand_colour: Some(Some("#1d4e89".into())),
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
        let invitation = partner_users::invite(ctx, &system, partner_id, email, Some(name), role).await?;
        accept_as_operator(ctx, &invitation.token, Some(name), DEMO_PASSWORD).await?;
    }
    seed_pending_invitations(ctx, &system, &ids).await?;
    crate::demo_programs::seed(ctx, workspace_id, &ids).await?;
    seed_profiles_contracts_and_licences(ctx, &system, &ids).await?;
    seed_recruitment(ctx, workspace_id).await?;
    crate::demo_deals::seed(ctx, workspace_id, &ids).await?;
    crate::demo_money::seed(ctx, workspace_id, &ids).await?;
    seed_payout_methods(ctx, &system, &ids).await?;
    crate::demo_money::seed_payout_run(ctx, workspace_id).await?;
    crate::demo_tracking::seed(ctx, workspace_id, &ids).await?;
    crate::demo_leads::seed(ctx, workspace_id, &ids).await?;
    seed_sign_ins(ctx).await?;
    seed_provisioning(ctx, &system, &ids).await?;
    seed_single_sign_on(ctx, &system, &ids).await?;
    Ok(())
}

/// Northwind connects its Microsoft Entra ID for single sign-on (issue 12, ADR 0026), switched
/// off until its IT finishes the set-up: the portal's and the console's single sign-on pages show
/// it with its domain, and the sign-in page does not offer it yet (the demo reaches no provider).
async fn seed_single_sign_on(ctx: &Ctx, system: &Scope, ids: &std::collections::HashMap<&str, PartnerId>) -> Result<()> {
    let Some(northwind) = ids.get("Northwind Distribution") else { return Ok(()) };
    let input = trellis_identity::sso::ConnectionInput {
        name: "Microsoft Entra ID".into(),
        issuer: "https://login.microsoftonline.com/4f1c2a9e-demo-northwind/v2.0".into(),
        client_id: "6731de76-14a6-49ae-97bc-6eba6914391e".into(),
        client_secret: Some("demo-secret-never-used".into()),
        default_role: Some(PartnerRole::Sales.as_str().into()),
        enabled: Some(false),
        domains: Some(vec!["northwind.example".into()]),
    };
    trellis_identity::sso::put(ctx, system, Some(northwind), &input).await?;
    Ok(())
}

/// Northwind's identity provider provisions its people (issue 12, ADR 0024): a SCIM token "Okta",
/// Lee created by it, and Pat — who left — deactivated by it: the portal's and the console's
/// provisioning pages show both.
async fn seed_provisioning(ctx: &Ctx, system: &Scope, ids: &std::collections::HashMap<&str, PartnerId>) -> Result<()> {
    use trellis_identity::provisioning::{self, UserInput};
    let Some(northwind) = ids.get("Northwind Distribution") else { return Ok(()) };
    let created = trellis_identity::api_keys::create_scim_token(ctx, system, northwind, "Okta").await?;
    let provider = auth::authenticate_scim(ctx, &created.secret, &RequestMeta::default()).await?;
    let person = |email: &str, given: &str, family: &str, external_id: &str| UserInput {
        email: email.into(),
        external_id: Some(external_id.into()),
        given_name: given.into(),
        family_name: family.into(),
        display_name: format!("{given} {family}"),
        active: Some(true),
        role: Some(PartnerRole::Sales),
        password: Some(DEMO_PASSWORD.into()),
        ..Default::default()
    };
    provisioning::create(ctx, &provider, &person("lee@northwind.example", "Lee", "Logistics", "00u1lee")).await?;
    let pat = person("pat@northwind.example", "Pat", "Former", "00u2pat");
    let created = provisioning::create(ctx, &provider, &pat).await?;
    provisioning::replace(ctx, &provider, &created.user_id, &UserInput { active: Some(false), ..pat }).await?;
    Ok(())
}

/// Sam's sign-in history (issue 12): two wrong passwords tried from an unknown client, then Sam on
/// a phone — the account page and Bluepeak's admin (Users → Sign-ins) show them.
async fn seed_sign_ins(ctx: &Ctx) -> Result<()> {
    let stranger = RequestMeta { ip: Some("203.0.113.9".into()), user_agent: Some("python-requests/2.32".into()) };
    for guess in ["Bluepeak2026!", "summer2026"] {
        match auth::login(ctx, "sam@bluepeak.example", guess, None, auth::SessionKind::Token, None, &stranger).await {
            Err(trellis_core::Error::Unauthorized) => {}
            other => return Err(trellis_core::Error::Internal(format!("a wrong demo password was not refused: {:?}", other.map(|_| ())))),
        }
    }
    let phone = RequestMeta {
        ip: Some("198.51.100.23".into()),
        user_agent: Some("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1".into()),
    };
    let signed_in = auth::login(ctx, "sam@bluepeak.example", DEMO_PASSWORD, None, auth::SessionKind::Browser, None, &phone).await?;
    auth::logout(ctx, &signed_in.token).await
}

/// Northwind's bank account, and Bluepeak's changed a moment ago: the portal and the console show
/// the masked accounts, and Bluepeak's the hold a change starts (ADR 0018).
async fn seed_payout_methods(ctx: &Ctx, system: &Scope, ids: &std::collections::HashMap<&str, PartnerId>) -> Result<()> {
    let accounts = [
        ("Northwind Distribution", "Northwind Distribution GmbH", "DE89 3704 0044 0532 0130 00"),
        ("Bluepeak IT", "Bluepeak IT Ltd", "GB29 NWBK 6016 1331 9268 19"),
        ("Bluepeak IT", "Bluepeak IT Ltd", "GB82 WEST 1234 5698 7654 32"),
    ];
    for (partner, holder, iban) in accounts {
        let Some(partner_id) = ids.get(partner) else { continue };
        let input =
            PayoutMethodInput { method_type: PayoutMethodType::Sepa, account_holder: holder.to_owned(), iban: iban.to_owned(), bic: None };
        payout_methods::set(ctx, system, partner_id, &input).await?;
    }
    Ok(())
}

/// The demo's programs for recruitment: found by slug (another part of the demo may have created
/// them with more settings), else created here.
async fn demo_program(ctx: &Ctx, system: &Scope, slug: &str, name: &str) -> Result<Program> {
    match programs::find_by_slug(ctx, slug).await {
        Ok((workspace_id, program)) if &workspace_id == system.workspace_id() => Ok(program),
        Ok(_) => Err(trellis_core::Error::conflict(format!("the slug {slug} belongs to another workspace"))),
        Err(trellis_core::Error::NotFound) => {
            programs::create(ctx, system, NewProgram { name: name.into(), slug: slug.into(), ..Default::default() }).await
        }
        Err(err) => Err(err),
    }
}

/// A checklist step of the demo: kind, title, required.
type DemoStep = (&'static str, &'static str, bool);

fn demo_application(
    company: &str,
    contact: &str,
    email: &str,
    website: Option<&str>,
    country: &str,
    types: &[PartnerType],
) -> NewApplication {
    NewApplication {
        company_name: company.into(),
        contact_name: contact.into(),
        contact_email: email.into(),
        website: website.map(Into::into),
        country: Some(country.into()),
        types: types.to_vec(),
        ..Default::default()
    }
}

/// Recruitment and onboarding: questions, checklists and agreements on the Resellers and Referral
/// partners programs, pending applications (one a likely duplicate of Brightside Agency), a
/// rejected one, and Vertex Solutions half-way through onboarding.
async fn seed_recruitment(ctx: &Ctx, workspace_id: &WorkspaceId) -> Result<()> {
    let system = Scope::system(workspace_id.clone(), &DEMO_SEEDING);
    let resellers = demo_program(ctx, &system, "resellers", "Resellers").await?;
    let referral = demo_program(ctx, &system, "referral-partners", "Referral partners").await?;
    if resellers.application_questions.is_empty() {
        let questions = vec![
            ApplicationQuestion {
                id: "annual_revenue".into(),
                label: "Annual revenue".into(),
                kind: "select".into(),
                required: true,
                options: vec!["Under $1M".into(), "$1M–$10M".into(), "Over $10M".into()],
            },
            ApplicationQuestion {
                id: "customers".into(),
                label: "Which customers do you serve?".into(),
                kind: "textarea".into(),
                required: false,
                options: Vec::new(),
            },
        ];
        programs::update(ctx, &system, &resellers.id, ProgramPatch { application_questions: Some(questions), ..Default::default() })
            .await?;
    }
    let checklists: [(&Program, &[DemoStep]); 2] = [
        (
            &resellers,
            &[
                (onboarding::ACCEPT_AGREEMENT, "Accept the reseller agreement", true),
                (onboarding::CUSTOM, "Book your kick-off call with your channel manager", true),
                (onboarding::COMPLETE_PROFILE, "Complete your company profile", true),
                (onboarding::INVITE_COLLEAGUES, "Invite your sales team", false),
                (onboarding::UPLOAD_DOCUMENT, "Upload your reseller certificate", false),
            ],
        ),
        (
            &referral,
            &[
                (onboarding::ACCEPT_AGREEMENT, "Accept the referral terms", true),
                (onboarding::CUSTOM, "Watch the program introduction", false),
            ],
        ),
    ];
    for (program, steps) in checklists {
        if !onboarding::list_steps(ctx, &system, &program.id).await?.is_empty() {
            continue;
        }
        for (kind, title, required) in steps {
            let step = NewStep { kind: (*kind).into(), title: (*title).into(), required: Some(*required), ..Default::default() };
            onboarding::create_step(ctx, &system, &program.id, step).await?;
        }
    }
    let texts = [
        (
            &resellers,
            "Acme Cloud Reseller Agreement",
            "1. You resell Acme Cloud subscriptions in your territory at the published prices.\n\n2. Deal registrations are protected for 90 days once approved.\n\n3. Either party may end this agreement with 30 days' notice.",
        ),
        (
            &resellers,
            "Acme Cloud Reseller Agreement (2026 update)",
            "1. You resell Acme Cloud subscriptions in your territory at the published prices.\n\n2. Deal registrations are protected for 90 days once approved.\n\n3. You keep customer data confidential and process it only to serve the customer.\n\n4. Either party may end this agreement with 30 days' notice.",
        ),
        (
            &referral,
            "Acme Cloud Referral Terms",
            "1. You introduce prospects through your referral link.\n\n2. Commissions are paid on paid invoices of referred customers, after a 30-day hold.",
        ),
    ];
    for (program, title, body) in texts {
        agreements::publish(ctx, &system, &program.id, NewAgreement { title: title.into(), body: body.into() }).await?;
    }

    // The demo's applicants come from addresses of their own (the public form limits each one).
    let mut address = 0;
    let mut submit = |slug: &'static str, application: NewApplication| {
        address += 1;
        let meta = RequestMeta { ip: Some(format!("203.0.113.{address}")), user_agent: Some("Trellis demo".into()) };
        async move { applications::submit(ctx, slug, application, &meta).await }
    };
    let mut nimbus = demo_application(
        "Nimbus Networks",
        "Noah Nimbus",
        "noah@nimbus.example",
        Some("https://nimbus.example"),
        "NL",
        &[PartnerType::Reseller, PartnerType::Msp],
    );
    nimbus.answers = [
        ("annual_revenue".to_owned(), "$1M–$10M".to_owned()),
        ("customers".to_owned(), "Mid-sized logistics companies in the Benelux.".to_owned()),
    ]
    .into();
    submit("resellers", nimbus).await?;
    let mut coastal =
        demo_application("Coastal IT Services", "Chloe Coast", "chloe@coastal-it.example", None, "US", &[PartnerType::Reseller]);
    coastal.answers = [("annual_revenue".to_owned(), "Under $1M".to_owned())].into();
    submit("resellers", coastal).await?;
    // Brightside Agency is already a partner: same company domain.
    submit(
        "referral-partners",
        demo_application(
            "Brightside Digital",
            "Ben Bright",
            "ben@brightside.example",
            None,
            "US",
            &[PartnerType::Agency, PartnerType::Referral],
        ),
    )
    .await?;
    submit(
        "referral-partners",
        demo_application("Jo Freelance", "Jo Freelance", "jo.freelance@gmail.com", None, "GB", &[PartnerType::Referral]),
    )
    .await?;
    let shady = submit(
        "referral-partners",
        demo_application("Quick Cash Leads", "Sly Seller", "sly@quickcash.example", None, "US", &[PartnerType::Affiliate]),
    )
    .await?;
    applications::reject(ctx, &system, &shady.partner_id, "We only work with referral partners who serve business customers.").await?;

    // Vertex Solutions: approved, its admin signed up, the agreement accepted and the kick-off
    // call done; the profile is still open. The demo accepts the invitation at once, so the link
    // in the outbox's approval email is spent either way.
    let mut vertex = demo_application(
        "Vertex Solutions",
        "Vera Vertex",
        "vera@vertex.example",
        Some("https://vertex.example"),
        "DE",
        &[PartnerType::Reseller],
    );
    vertex.answers = [("annual_revenue".to_owned(), "$1M–$10M".to_owned())].into();
    let vertex = submit("resellers", vertex).await?;
    applications::approve(ctx, &system, &vertex.partner_id).await?;
    let invitation = ctx
        .db()
        .read_granted(&DEMO_SEEDING)
        .await?
        .fetch_one(sql!(
            "SELECT text_body FROM emails WHERE workspace_id = $1 AND to_address = 'vera@vertex.example' AND kind = 'application_approved'",
            workspace_id
        ))
        .await?
        .get::<String>("text_body")?;
    let token = invitation.split("/invitations/").nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap_or_default().to_owned();
    accept_as_operator(ctx, &token, Some("Vera Vertex"), DEMO_PASSWORD).await?;
    let meta = RequestMeta { ip: Some("203.0.113.77".into()), user_agent: Some("Trellis demo".into()) };
    let signed_in = auth::login(ctx, "vera@vertex.example", DEMO_PASSWORD, None, auth::SessionKind::Token, None, &meta).await?;
    let vera = auth::authenticate_bearer(ctx, &signed_in.token, None, &meta).await?;
    auth::logout(ctx, &signed_in.token).await?;
    let progress = onboarding::progress(ctx, &vera, &vertex.partner_id).await?;
    for agreement in &progress.agreements {
        agreements::accept(ctx, &vera, &vertex.partner_id, &agreement.agreement.id).await?;
    }
    for step in progress.steps.iter().filter(|s| s.step.kind == onboarding::CUSTOM) {
        onboarding::complete_step(ctx, &vera, &vertex.partner_id, &step.step.id).await?;
    }
    Ok(())
}

/// What `trellis demo` prints once the server is about to listen.
pub fn banner(public_url: &str, _workspace: &WorkspaceId) -> String {
    let mut text = format!(
        "\nTrellis demo is running at {public_url}/\n  API docs:           {public_url}/api/docs\n  Apply as a partner: {public_url}/apply/resellers (or /apply/referral-partners)\n  Find a partner:     {public_url}/partners\n\nSign in with any of these (password: {DEMO_PASSWORD}):\n"
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
    use trellis_records::contracts::{self, NewContract};
    use trellis_records::licences::{self, NewLicence};
    use trellis_records::profile_changes::{self, ProposedChanges};
    use trellis_records::profiles::{self, Address, ProfilePatch, Territories};
    use trellis_records::{dates, reminders};

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
