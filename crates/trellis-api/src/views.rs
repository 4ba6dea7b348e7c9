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
    /// The wire form of a domain page (`trellis_core::Page`), each item as its view.
    pub fn of<D>(page: trellis_core::Page<D>, view: impl FnMut(D) -> T) -> Self {
        let page = page.map(view);
        Self { data: page.items, next_cursor: page.next_cursor }
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

impl From<trellis_directory::Partner> for PartnerView {
    fn from(p: trellis_directory::Partner) -> Self {
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
        }
    }
}

/// An invitation to join the workspace's staff or a partner organisation. Nothing in it says
/// whether the address already has an account.
#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    #[schema(example = "inv_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub invitation_id: String,
    pub email: String,
    /// staff or partner.
    pub kind: String,
    pub role: String,
    /// Staff invitations: all or assigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_scope: Option<String>,
    /// Partner-user invitations: the partner organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    /// invited (waiting for the invitee), accepted, declined, cancelled or expired.
    pub status: String,
    /// Only in the answer that created the invitation: the one-time link to accept it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_url: Option<String>,
    pub invited_by: Option<String>,
    pub created_at: String,
    pub expires_at: String,
}

impl From<trellis_identity::invitations::Invitation> for InvitationView {
    fn from(i: trellis_identity::invitations::Invitation) -> Self {
        Self {
            invitation_id: i.id.to_string(),
            email: i.email.to_string(),
            kind: match i.offer {
                trellis_identity::invitations::Offer::Staff { .. } => "staff",
                trellis_identity::invitations::Offer::Partner { .. } => "partner",
            }
            .to_owned(),
            role: i.offer.role().to_owned(),
            partner_scope: i.offer.partner_scope().map(|s| s.as_str().to_owned()),
            partner_id: i.offer.partner_id().map(ToString::to_string),
            status: i.status.as_str().to_owned(),
            invitation_url: None,
            invited_by: i.invited_by.map(|u| u.to_string()),
            created_at: i.created_at.to_rfc3339(),
            expires_at: i.expires_at.to_rfc3339(),
        }
    }
}

/// An accepted invitation: the account and the membership it now has.
#[derive(Serialize, ToSchema)]
pub struct AcceptedInvitationView {
    pub user_id: String,
    pub membership: MembershipView,
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
    /// The accent colour of the public pages, `#rrggbb`.
    pub brand_colour: Option<String>,
    /// The path of the public pages' logo on this instance (`/brand/{id}/logo?v=…`).
    pub brand_logo_url: Option<String>,
    /// Two-step sign-in required of staff, and of partners' admins.
    pub mfa_required_staff: bool,
    pub mfa_required_partner_admins: bool,
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
            brand_logo_url: w.brand_logo.as_ref().map(|l| format!("/brand/{}/logo?v={}", w.id, l.version())),
            brand_colour: w.brand_colour,
            mfa_required_staff: w.mfa_required_staff,
            mfa_required_partner_admins: w.mfa_required_partner_admins,
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
    /// This client's device token (`trd_…`): sent back as `device_token` at the next sign-in, it
    /// keeps this client signing in while others' failed attempts slow the account down.
    pub device_token: String,
}

impl From<trellis_identity::auth::SignedIn> for LoginView {
    fn from(signed_in: trellis_identity::auth::SignedIn) -> Self {
        Self {
            memberships: signed_in.memberships.iter().map(MembershipView::from).collect(),
            token: signed_in.token,
            expires_at: signed_in.expires_at.to_rfc3339(),
            device_token: signed_in.device_token,
        }
    }
}

/// One of the signed-in person's sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// `ses_…`
    pub id: String,
    /// `browser` or `token`.
    pub kind: String,
    pub created_at: String,
    pub last_seen_at: String,
    /// When it ends however much it is used (it also ends after an hour unused).
    pub expires_at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session this request was made with.
    pub current: bool,
}

impl From<trellis_identity::auth::SessionInfo> for SessionView {
    fn from(s: trellis_identity::auth::SessionInfo) -> Self {
        Self {
            id: s.id,
            kind: s.kind.to_owned(),
            created_at: s.created_at.to_rfc3339(),
            last_seen_at: s.last_seen_at.to_rfc3339(),
            expires_at: s.expires_at.to_rfc3339(),
            ip: s.ip,
            user_agent: s.user_agent,
            current: s.current,
        }
    }
}

/// One attempt of a sign-in history.
#[derive(Serialize, ToSchema)]
pub struct SignInView {
    pub at: String,
    /// `password`, `password_change`, `password_reset`, `sso` (an organisation's identity provider)
    /// or `passkey`.
    pub method: String,
    /// `success`, `bad_password`, `throttled`, `reset_requested`, `bad_link`, `mfa_failed`,
    /// `sso_refused` or `passkey_refused`.
    pub outcome: String,
    pub ip: String,
    pub user_agent: Option<String>,
}

impl From<trellis_identity::sign_ins::SignIn> for SignInView {
    fn from(s: trellis_identity::sign_ins::SignIn) -> Self {
        Self { at: s.at.to_rfc3339(), method: s.method, outcome: s.outcome, ip: s.ip, user_agent: s.user_agent }
    }
}

/// How many sessions a revocation ended.
#[derive(Serialize, ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: u64,
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

impl From<trellis_programs::Program> for ProgramView {
    fn from(p: trellis_programs::Program) -> Self {
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

#[derive(Serialize, ToSchema)]
pub struct TierView {
    pub id: String,
    pub program_id: String,
    pub name: String,
    /// Higher is better; unique within the program.
    pub rank: i64,
    /// `{"all": [{"metric": "active_users", "op": ">=", "value": 3}]}`: every rule must hold.
    #[schema(value_type = Object)]
    pub requirements: serde_json::Value,
    /// `{"text", "commission_override_bps"?, "mdf_allowance"?: {"amount_minor", "currency"}, "content_access": []}`
    #[schema(value_type = Object)]
    pub benefits: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
}

impl From<trellis_programs::tiers::Tier> for TierView {
    fn from(t: trellis_programs::tiers::Tier) -> Self {
        Self {
            id: t.id.to_string(),
            program_id: t.program_id.to_string(),
            name: t.name,
            rank: t.rank,
            requirements: serde_json::json!(t.requirements),
            benefits: serde_json::json!(t.benefits),
            created_at: t.created_at.to_rfc3339(),
            updated_at: t.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EnrollmentView {
    pub partner_id: String,
    pub program_id: String,
    pub program_name: String,
    pub tier_id: Option<String>,
    pub tier_name: Option<String>,
    /// Set by hand: evaluation leaves the tier alone until the override is removed.
    pub tier_overridden: bool,
    pub override_reason: Option<String>,
    pub enrolled_at: String,
    pub updated_at: String,
}

impl From<trellis_programs::enrollments::Enrollment> for EnrollmentView {
    fn from(e: trellis_programs::enrollments::Enrollment) -> Self {
        Self {
            partner_id: e.partner_id.to_string(),
            program_id: e.program_id.to_string(),
            program_name: e.program_name,
            tier_id: e.tier_id.map(|t| t.to_string()),
            tier_name: e.tier_name,
            tier_overridden: e.tier_overridden,
            override_reason: e.override_reason,
            enrolled_at: e.enrolled_at.to_rfc3339(),
            updated_at: e.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TierChangeView {
    pub id: String,
    pub partner_id: String,
    pub program_id: String,
    /// enrolled, promotion, demotion, override, override_removed or unenrolled.
    pub kind: String,
    pub from_tier_id: Option<String>,
    pub from_tier_name: Option<String>,
    pub to_tier_id: Option<String>,
    pub to_tier_name: Option<String>,
    /// The reason staff gave for an override.
    pub reason: Option<String>,
    /// For promotions and demotions: `{"reached": {tier_id, name, rank, qualifies, requirements: [{metric, op, value, observed, passed}]}, "next": {…}}`.
    #[schema(value_type = Option<Object>)]
    pub why: Option<serde_json::Value>,
    /// user, api_key or system.
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub created_at: String,
}

impl From<trellis_programs::evaluation::TierChange> for TierChangeView {
    fn from(c: trellis_programs::evaluation::TierChange) -> Self {
        Self {
            id: c.id.to_string(),
            partner_id: c.partner_id.to_string(),
            program_id: c.program_id.to_string(),
            kind: c.kind.as_str().to_owned(),
            from_tier_id: c.from_tier_id.map(|t| t.to_string()),
            from_tier_name: c.from_tier_name,
            to_tier_id: c.to_tier_id.map(|t| t.to_string()),
            to_tier_name: c.to_tier_name,
            reason: c.reason,
            why: c.explanation.map(|e| serde_json::json!(e)),
            actor_type: c.actor_type,
            actor_id: c.actor_id,
            created_at: c.created_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EvaluationSummaryView {
    /// Enrollments of active or onboarding partners looked at.
    pub evaluated: usize,
    pub promoted: usize,
    pub demoted: usize,
    pub unchanged: usize,
    /// Left alone because of a manual override.
    pub overridden: usize,
    pub changes: Vec<TierChangeView>,
}

impl From<trellis_programs::evaluation::Summary> for EvaluationSummaryView {
    fn from(s: trellis_programs::evaluation::Summary) -> Self {
        Self {
            evaluated: s.evaluated,
            promoted: s.promoted,
            demoted: s.demoted,
            unchanged: s.unchanged,
            overridden: s.overridden,
            changes: s.changes.into_iter().map(TierChangeView::from).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MetricView {
    /// The name tier rules use, e.g. `active_users`.
    pub name: String,
    /// integer or boolean.
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    /// computed (by Trellis) or recorded (by staff, `PUT /api/v1/partners/{id}/metrics/{metric}`).
    pub source: String,
    /// Whether the value depends on the program (e.g. months_in_program).
    pub per_program: bool,
}

impl From<&trellis_directory::metric_registry::Metric> for MetricView {
    fn from(m: &trellis_directory::metric_registry::Metric) -> Self {
        Self {
            name: m.name.to_owned(),
            kind: m.kind.as_str().to_owned(),
            description: m.description.to_owned(),
            source: m.source_name().to_owned(),
            per_program: m.per_program,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MetricReadingView {
    pub metric: String,
    /// integer or boolean.
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    /// computed or recorded.
    pub source: String,
    /// For per-program metrics: the enrollment's program.
    pub program_id: Option<String>,
    /// An integer or a boolean; null when unknown (a recorded metric nobody recorded yet).
    #[schema(value_type = Option<Value>)]
    pub value: Option<serde_json::Value>,
    pub note: Option<String>,
    /// The user or API key that recorded the value.
    pub recorded_by: Option<String>,
    pub recorded_at: Option<String>,
}

impl From<trellis_programs::metrics::Reading> for MetricReadingView {
    fn from(r: trellis_programs::metrics::Reading) -> Self {
        Self {
            metric: r.metric.to_owned(),
            kind: r.kind.as_str().to_owned(),
            description: r.description.to_owned(),
            source: r.source.to_owned(),
            program_id: r.program_id.map(|p| p.to_string()),
            value: r.value.map(|v| v.to_json()),
            note: r.note,
            recorded_by: r.recorded_by,
            recorded_at: r.recorded_at.map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EmailView {
    #[schema(example = "eml_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    /// What the email is about, e.g. `staff_invitation`, `partner_invitation`.
    pub kind: String,
    pub to: String,
    pub subject: String,
    /// queued (waiting for delivery), sent, failed (gave up after retries) or outbox (no SMTP
    /// server is configured; kept for an administrator).
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

impl From<trellis_identity::background_work::EmailSummary> for EmailView {
    fn from(e: trellis_identity::background_work::EmailSummary) -> Self {
        Self {
            id: e.id.to_string(),
            kind: e.kind,
            to: e.to,
            subject: e.subject,
            status: e.status,
            attempts: e.attempts,
            last_error: e.last_error,
            created_at: e.created_at.to_rfc3339(),
            sent_at: e.sent_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// The answer to a public application: the new partner's id (the one `approve`/`reject` take).
#[derive(Serialize, ToSchema)]
pub struct SubmittedApplicationView {
    #[schema(example = "ptn_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub application_id: String,
    /// Always `applied`.
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct DuplicateView {
    /// same_email or same_domain.
    pub kind: String,
    /// The email address or company domain both share.
    pub value: String,
    pub partner_id: String,
    pub partner_name: String,
    pub partner_status: String,
    pub application_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ApplicationView {
    #[schema(example = "apl_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub partner_id: String,
    pub program_id: String,
    pub program_name: String,
    /// applied, approved or rejected.
    pub status: String,
    /// The partner's status (applied until the application is decided).
    pub partner_status: String,
    pub company_name: String,
    pub contact_name: String,
    pub contact_email: String,
    pub website: Option<String>,
    pub country: Option<String>,
    pub types: Vec<String>,
    /// `{question_id: answer}`.
    #[schema(value_type = Object)]
    pub answers: std::collections::BTreeMap<String, String>,
    /// True when the email address or a company domain matches an existing partner or application.
    pub likely_duplicate: bool,
    pub duplicates: Vec<DuplicateView>,
    pub rejection_reason: Option<String>,
    pub created_at: String,
    pub decided_at: Option<String>,
}

impl From<trellis_recruitment::applications::Application> for ApplicationView {
    fn from(a: trellis_recruitment::applications::Application) -> Self {
        Self {
            id: a.id.to_string(),
            partner_id: a.partner_id.to_string(),
            program_id: a.program_id.to_string(),
            program_name: a.program_name,
            status: a.status.as_str().to_owned(),
            partner_status: a.partner_status.as_str().to_owned(),
            company_name: a.company_name,
            contact_name: a.contact_name,
            contact_email: a.contact_email,
            website: a.website,
            country: a.country,
            types: a.types.iter().map(|t| t.as_str().to_owned()).collect(),
            answers: a.answers,
            likely_duplicate: !a.duplicates.is_empty(),
            duplicates: a
                .duplicates
                .into_iter()
                .map(|d| DuplicateView {
                    kind: d.kind,
                    value: d.value,
                    partner_id: d.partner_id.to_string(),
                    partner_name: d.partner_name,
                    partner_status: d.partner_status,
                    application_id: d.application_id.map(|x| x.to_string()),
                })
                .collect(),
            rejection_reason: a.rejection_reason,
            created_at: a.created_at.to_rfc3339(),
            decided_at: a.decided_at.map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OnboardingStepView {
    #[schema(example = "stp_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub program_id: String,
    /// accept_agreement, complete_profile, invite_colleagues, upload_document or custom.
    pub kind: String,
    pub title: String,
    pub description: String,
    pub required: bool,
    pub position: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<trellis_recruitment::onboarding::Step> for OnboardingStepView {
    fn from(s: trellis_recruitment::onboarding::Step) -> Self {
        Self {
            id: s.id.to_string(),
            program_id: s.program_id.to_string(),
            kind: s.kind,
            title: s.title,
            description: s.description,
            required: s.required,
            position: s.position,
            created_at: s.created_at.to_rfc3339(),
            updated_at: s.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CompletedByView {
    /// user, api_key or system.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StepProgressView {
    pub step_id: String,
    pub program_id: String,
    pub program_name: String,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub required: bool,
    pub done: bool,
    pub completed_at: Option<String>,
    pub completed_by: Option<CompletedByView>,
}

#[derive(Serialize, ToSchema)]
pub struct AgreementView {
    #[schema(example = "agr_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub program_id: String,
    pub version: i64,
    pub title: String,
    pub body: String,
    pub published_at: String,
}

impl From<trellis_recruitment::agreements::Agreement> for AgreementView {
    fn from(a: trellis_recruitment::agreements::Agreement) -> Self {
        Self {
            id: a.id.to_string(),
            program_id: a.program_id.to_string(),
            version: a.version,
            title: a.title,
            body: a.body,
            published_at: a.published_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AcceptanceView {
    pub partner_id: String,
    pub agreement_id: String,
    pub program_id: String,
    pub version: i64,
    pub user_id: String,
    pub user_email: String,
    pub accepted_at: String,
    pub ip: Option<String>,
}

impl From<trellis_recruitment::agreements::Acceptance> for AcceptanceView {
    fn from(a: trellis_recruitment::agreements::Acceptance) -> Self {
        Self {
            partner_id: a.partner_id.to_string(),
            agreement_id: a.agreement_id.to_string(),
            program_id: a.program_id.to_string(),
            version: a.version,
            user_id: a.user_id.to_string(),
            user_email: a.user_email,
            accepted_at: a.accepted_at.to_rfc3339(),
            ip: a.ip,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AgreementStatusView {
    pub program_name: String,
    /// The version in force.
    pub agreement: AgreementView,
    /// The partner's acceptance of that version, if any.
    pub acceptance: Option<AcceptanceView>,
}

#[derive(Serialize, ToSchema)]
pub struct OnboardingView {
    pub partner_id: String,
    pub partner_status: String,
    pub required_steps: usize,
    pub required_done: usize,
    /// The steps of every program the partner is enrolled in.
    pub steps: Vec<StepProgressView>,
    /// The agreement in force in each of those programs that has one.
    pub agreements: Vec<AgreementStatusView>,
}

impl From<trellis_recruitment::onboarding::Progress> for OnboardingView {
    fn from(p: trellis_recruitment::onboarding::Progress) -> Self {
        Self {
            partner_id: p.partner_id.to_string(),
            partner_status: p.partner_status.as_str().to_owned(),
            required_steps: p.required_total(),
            required_done: p.required_done(),
            steps: p
                .steps
                .into_iter()
                .map(|s| StepProgressView {
                    step_id: s.step.id.to_string(),
                    program_id: s.step.program_id.to_string(),
                    program_name: s.program_name,
                    kind: s.step.kind,
                    title: s.step.title,
                    description: s.step.description,
                    required: s.step.required,
                    done: s.completion.is_some(),
                    completed_at: s.completion.as_ref().map(|c| c.at.to_rfc3339()),
                    completed_by: s.completion.map(|c| CompletedByView { kind: c.by.kind, id: c.by.id, email: c.by.email }),
                })
                .collect(),
            agreements: p
                .agreements
                .into_iter()
                .map(|a| AgreementStatusView {
                    program_name: a.program_name,
                    agreement: a.agreement.into(),
                    acceptance: a.acceptance.map(Into::into),
                })
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Partner profiles, files, contracts, licences, compliance, public locator

fn date_text(date: time::Date) -> String {
    trellis_records::dates::format(date)
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

impl From<trellis_records::files::StoredFile> for FileView {
    fn from(f: trellis_records::files::StoredFile) -> Self {
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

impl From<trellis_records::profiles::Address> for AddressView {
    fn from(a: trellis_records::profiles::Address) -> Self {
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

impl From<trellis_records::profiles::Territories> for TerritoriesView {
    fn from(t: trellis_records::profiles::Territories) -> Self {
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

impl From<trellis_records::profile_changes::ChangeRequest> for ChangeRequestView {
    fn from(r: trellis_records::profile_changes::ChangeRequest) -> Self {
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
    pub fn new(p: trellis_records::profiles::Profile, pending: Vec<trellis_records::profile_changes::ChangeRequest>) -> Self {
        Self {
            complete: trellis_records::profiles::profile_is_complete(&p),
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

impl From<trellis_records::contracts::Contract> for ContractView {
    fn from(c: trellis_records::contracts::Contract) -> Self {
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
    pub fn new(l: trellis_records::licences::Licence, today: time::Date) -> Self {
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

impl From<trellis_records::compliance::Compliance> for ComplianceView {
    fn from(c: trellis_records::compliance::Compliance) -> Self {
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
    pub fn new(p: trellis_records::locator::ListedPartner, public_url: &str) -> Self {
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
