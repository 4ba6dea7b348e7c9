//! Response bodies of the API. They are separate from domain types so that the wire format is
//! explicit, documented in OpenAPI, and cannot change by accident when a domain type does.

use serde::Serialize;
use utoipa::ToSchema;

/// A page of a list; `next_cursor` is passed back as `?cursor=` for the next page.
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Page<T> {
    /// A page from `limit + 1` fetched rows: the extra row only says that more exist.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(cursor_of) } else { None };
        Self { data: rows, next_cursor }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PartnerView {
    #[schema(example = "ptn_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub name: String,
    pub contact_email: String,
    pub website: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Any of reseller, distributor, msp, agency, referral, affiliate, technology.
    pub types: Vec<String>,
    /// applied, onboarding, active, suspended, terminated or rejected.
    pub status: String,
    pub parent_id: Option<String>,
    pub manager_user_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<trellis_partners::Partner> for PartnerView {
    fn from(p: trellis_partners::Partner) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name,
            contact_email: p.contact_email,
            website: p.website,
            country: p.country,
            types: p.types.iter().map(|t| t.as_str().to_owned()).collect(),
            status: p.status.as_str().to_owned(),
            parent_id: p.parent_id.map(|x| x.to_string()),
            manager_user_id: p.manager_user_id.map(|x| x.to_string()),
            created_at: p.created_at.to_rfc3339(),
            updated_at: p.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub partner_scope: String,
    pub created_at: String,
    /// Only in the answer that created the member: a one-time link to set a password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_url: Option<String>,
}

impl From<trellis_identity::members::Member> for MemberView {
    fn from(m: trellis_identity::members::Member) -> Self {
        Self {
            user_id: m.user_id.to_string(),
            email: m.email.to_string(),
            name: m.name,
            role: m.role.as_str().to_owned(),
            partner_scope: m.partner_scope.as_str().to_owned(),
            created_at: m.created_at.to_rfc3339(),
            invitation_url: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PartnerUserView {
    pub user_id: String,
    pub partner_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_url: Option<String>,
}

impl From<trellis_identity::partner_users::PartnerUser> for PartnerUserView {
    fn from(u: trellis_identity::partner_users::PartnerUser) -> Self {
        Self {
            user_id: u.user_id.to_string(),
            partner_id: u.partner_id.to_string(),
            email: u.email.to_string(),
            name: u.name,
            role: u.role.as_str().to_owned(),
            created_at: u.created_at.to_rfc3339(),
            invitation_url: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    /// workspace or partner.
    pub kind: String,
    pub user_id: Option<String>,
    pub partner_id: Option<String>,
    pub partner_role: Option<String>,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The secret: only in the answer that created the key, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl From<trellis_identity::api_keys::ApiKey> for ApiKeyView {
    fn from(k: trellis_identity::api_keys::ApiKey) -> Self {
        Self {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            kind: k.kind.to_owned(),
            user_id: k.user_id.map(|x| x.to_string()),
            partner_id: k.partner_id.map(|x| x.to_string()),
            partner_role: k.partner_role.map(|r| r.as_str().to_owned()),
            scopes: k.scopes,
            created_at: k.created_at.to_rfc3339(),
            last_used_at: k.last_used_at.map(|t| t.to_rfc3339()),
            revoked_at: k.revoked_at.map(|t| t.to_rfc3339()),
            key: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SepaDebtorView {
    pub name: String,
    pub iban: String,
    pub bic: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: String,
    pub name: String,
    pub default_currency: String,
    pub allowed_redirect_domains: Vec<String>,
    pub sepa_debtor: Option<SepaDebtorView>,
    pub distributors_manage_resellers: bool,
    pub created_at: String,
}

impl From<trellis_identity::workspaces::Workspace> for WorkspaceView {
    fn from(w: trellis_identity::workspaces::Workspace) -> Self {
        Self {
            id: w.id.to_string(),
            name: w.name,
            default_currency: w.default_currency,
            allowed_redirect_domains: w.allowed_redirect_domains,
            sepa_debtor: w.sepa_debtor.map(|d| SepaDebtorView { name: d.name, iban: d.iban, bic: d.bic }),
            distributors_manage_resellers: w.distributors_manage_resellers,
            created_at: w.created_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditActorView {
    /// user, api_key or system.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    pub at: String,
    pub actor: AuditActorView,
    /// A dotted verb such as `partner.created`.
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// `{"field": [before, after]}`
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl From<trellis_identity::audit::AuditEvent> for AuditEventView {
    fn from(e: trellis_identity::audit::AuditEvent) -> Self {
        Self {
            id: e.id.to_string(),
            at: e.at.to_rfc3339(),
            actor: AuditActorView { kind: e.actor.kind, id: e.actor.id, email: e.actor.email },
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            changes: e.changes,
            ip: e.ip,
            user_agent: e.user_agent,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MembershipView {
    pub workspace_id: String,
    /// staff or partner.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    pub role: String,
}

impl From<&trellis_identity::auth::MembershipInfo> for MembershipView {
    fn from(m: &trellis_identity::auth::MembershipInfo) -> Self {
        Self {
            workspace_id: m.workspace_id.to_string(),
            kind: m.kind.to_owned(),
            partner_id: m.partner_id.as_ref().map(|p| p.to_string()),
            role: m.role.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LoginView {
    /// A Bearer credential for the user (`trs_…`).
    pub token: String,
    pub expires_at: String,
    pub memberships: Vec<MembershipView>,
}

#[derive(Serialize, ToSchema)]
pub struct MeView {
    pub workspace_id: String,
    /// user, api_key or system.
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub user_id: Option<String>,
    /// staff or partner.
    pub kind: String,
    pub role: String,
    pub partner_id: Option<String>,
    pub read_only: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct QuestionView {
    pub id: String,
    pub label: String,
    pub kind: String,
    pub required: bool,
    pub options: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ProgramView {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub currency: String,
    pub description: String,
    pub deal_registration: bool,
    pub referral_links: bool,
    pub default_protection_days: i64,
    pub accepting_applications: bool,
    pub application_questions: Vec<QuestionView>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<trellis_partners::Program> for ProgramView {
    fn from(p: trellis_partners::Program) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name,
            slug: p.slug,
            currency: p.currency,
            description: p.description,
            deal_registration: p.deal_registration,
            referral_links: p.referral_links,
            default_protection_days: p.default_protection_days,
            accepting_applications: p.accepting_applications,
            application_questions: p
                .application_questions
                .into_iter()
                .map(|q| QuestionView { id: q.id, label: q.label, kind: q.kind, required: q.required, options: q.options })
                .collect(),
            created_at: p.created_at.to_rfc3339(),
            updated_at: p.updated_at.to_rfc3339(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Partner profiles, files, contracts, licences, compliance, public locator

fn date_text(date: time::Date) -> String {
    trellis_partners::dates::format(date)
}

#[derive(Serialize, ToSchema)]
pub struct FileView {
    #[schema(example = "fil_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub partner_id: String,
    /// logo, contract or licence.
    pub purpose: String,
    /// The sanitised filename, with the extension of the content's type.
    pub filename: String,
    /// application/pdf, image/png or image/jpeg, from the file's content.
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_at: String,
    /// `GET` it (authenticated) to download the file.
    pub download_url: String,
}

impl From<trellis_partners::files::StoredFile> for FileView {
    fn from(f: trellis_partners::files::StoredFile) -> Self {
        Self {
            download_url: format!("/api/v1/files/{}", f.id),
            id: f.id.to_string(),
            partner_id: f.partner_id.to_string(),
            purpose: f.purpose.as_str().to_owned(),
            filename: f.filename,
            content_type: f.content_type,
            size: f.size,
            sha256: f.sha256,
            uploaded_at: f.uploaded_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AddressView {
    pub label: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

impl From<trellis_partners::profiles::Address> for AddressView {
    fn from(a: trellis_partners::profiles::Address) -> Self {
        Self {
            label: a.label,
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            postal_code: a.postal_code,
            region: a.region,
            country: a.country,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TerritoriesView {
    /// ISO 3166-1 alpha-2 codes.
    pub countries: Vec<String>,
    /// Named regions, e.g. "DACH".
    pub regions: Vec<String>,
}

impl From<trellis_partners::profiles::Territories> for TerritoriesView {
    fn from(t: trellis_partners::profiles::Territories) -> Self {
        Self { countries: t.countries, regions: t.regions }
    }
}

/// The values a change request proposes (only the fields it changes).
#[derive(Serialize, ToSchema)]
pub struct ProposedChangesView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub territories: Option<TerritoriesView>,
}

#[derive(Serialize, ToSchema)]
pub struct ChangeRequestView {
    #[schema(example = "pcr_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub partner_id: String,
    pub partner_name: String,
    /// pending, approved, rejected or superseded (replaced by a newer request of the partner).
    pub status: String,
    pub changes: ProposedChangesView,
    pub requested_at: String,
    pub decided_at: Option<String>,
    /// Why the vendor rejected it.
    pub reason: Option<String>,
}

impl From<trellis_partners::profile_changes::ChangeRequest> for ChangeRequestView {
    fn from(r: trellis_partners::profile_changes::ChangeRequest) -> Self {
        Self {
            id: r.id.to_string(),
            partner_id: r.partner_id.to_string(),
            partner_name: r.partner_name,
            status: r.status.as_str().to_owned(),
            changes: ProposedChangesView { legal_name: r.changes.legal_name, territories: r.changes.territories.map(Into::into) },
            requested_at: r.requested_at.to_rfc3339(),
            decided_at: r.decided_at.map(|t| t.to_rfc3339()),
            reason: r.reason,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProfileView {
    pub partner_id: String,
    /// The partner's (trading) name.
    pub name: String,
    pub legal_name: Option<String>,
    pub website: Option<String>,
    /// An uploaded logo (purpose `logo`).
    pub logo_file_id: Option<String>,
    pub addresses: Vec<AddressView>,
    pub territories: TerritoriesView,
    pub specialisations: Vec<String>,
    pub products: Vec<String>,
    /// Public: shown in the partner locator.
    pub description: String,
    /// Listed in the public partner locator while the partner is active.
    pub locator_opt_in: bool,
    /// Legal name, description, a territory and an address are filled in.
    pub complete: bool,
    /// Changes of the legal name or territories waiting for the vendor.
    pub pending_change_requests: Vec<ChangeRequestView>,
    pub updated_at: Option<String>,
}

impl ProfileView {
    pub fn new(p: trellis_partners::profiles::Profile, pending: Vec<trellis_partners::profile_changes::ChangeRequest>) -> Self {
        Self {
            complete: trellis_partners::profiles::profile_is_complete(&p),
            partner_id: p.partner_id.to_string(),
            name: p.partner_name,
            legal_name: p.legal_name,
            website: p.website,
            logo_file_id: p.logo_file_id.map(|f| f.to_string()),
            addresses: p.addresses.into_iter().map(Into::into).collect(),
            territories: p.territories.into(),
            specialisations: p.specialisations,
            products: p.products,
            description: p.description,
            locator_opt_in: p.locator_opt_in,
            pending_change_requests: pending.into_iter().map(Into::into).collect(),
            updated_at: p.updated_at.map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ContractView {
    #[schema(example = "ctr_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub partner_id: String,
    pub title: String,
    /// YYYY-MM-DD.
    pub starts_on: String,
    pub ends_on: Option<String>,
    /// Reminders go out 30 and 7 days before this date (else before `ends_on`).
    pub renews_on: Option<String>,
    /// The signed document (purpose `contract`).
    pub file_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<trellis_partners::contracts::Contract> for ContractView {
    fn from(c: trellis_partners::contracts::Contract) -> Self {
        Self {
            id: c.id.to_string(),
            partner_id: c.partner_id.to_string(),
            title: c.title,
            starts_on: date_text(c.starts_on),
            ends_on: c.ends_on.map(date_text),
            renews_on: c.renews_on.map(date_text),
            file_id: c.file_id.map(|f| f.to_string()),
            created_at: c.created_at.to_rfc3339(),
            updated_at: c.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LicenceView {
    #[schema(example = "lic_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub partner_id: String,
    /// What the licence is, e.g. "insurance broker".
    pub kind: String,
    pub number: String,
    /// Where it applies, e.g. "DE" or "EU".
    pub jurisdiction: String,
    /// YYYY-MM-DD.
    pub valid_from: String,
    /// YYYY-MM-DD, valid through this day.
    pub valid_until: String,
    /// The licence document (purpose `licence`).
    pub file_id: Option<String>,
    /// Today: valid, expiring (within 30 days), expired or not_yet_valid.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

impl LicenceView {
    pub fn new(l: trellis_partners::licences::Licence, today: time::Date) -> Self {
        Self {
            status: l.status_on(today).as_str().to_owned(),
            id: l.id.to_string(),
            partner_id: l.partner_id.to_string(),
            kind: l.kind,
            number: l.number,
            jurisdiction: l.jurisdiction,
            valid_from: date_text(l.valid_from),
            valid_until: date_text(l.valid_until),
            file_id: l.file_id.map(|f| f.to_string()),
            created_at: l.created_at.to_rfc3339(),
            updated_at: l.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ComplianceView {
    pub partner_id: String,
    /// False while a licence has expired without a valid successor.
    pub compliant: bool,
    /// Why not, one sentence per lapsed licence.
    pub blockers: Vec<String>,
}

impl From<trellis_partners::compliance::Compliance> for ComplianceView {
    fn from(c: trellis_partners::compliance::Compliance) -> Self {
        Self { partner_id: c.partner_id.to_string(), compliant: c.compliant, blockers: c.blockers }
    }
}

/// A partner in the public locator.
#[derive(Serialize, ToSchema)]
pub struct ListedPartnerView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub website: Option<String>,
    /// The partner's logo, served publicly while it is listed.
    pub logo_url: Option<String>,
    /// ISO 3166-1 alpha-2 codes of the countries it serves.
    pub countries: Vec<String>,
    /// Named regions it serves.
    pub regions: Vec<String>,
    pub types: Vec<String>,
    /// Tier names it holds in the vendor's programs.
    pub tiers: Vec<String>,
    pub specialisations: Vec<String>,
}

impl ListedPartnerView {
    pub fn new(p: trellis_partners::locator::ListedPartner, public_url: &str) -> Self {
        Self {
            logo_url: p.logo_file_id.map(|f| format!("{public_url}/partners/logos/{f}")),
            id: p.id.to_string(),
            name: p.name,
            description: p.description,
            website: p.website,
            countries: p.countries,
            regions: p.regions,
            types: p.types.iter().map(|t| t.as_str().to_owned()).collect(),
            tiers: p.tiers,
            specialisations: p.specialisations,
        }
    }
}
