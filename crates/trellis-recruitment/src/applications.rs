//! Recruitment: applications through a program's public form, and their review.
//!
//! An application creates a partner in status `applied` and an application record with the
//! answers to the program's custom questions. The public form is rate limited per client address
//! and per program (counted in `application_attempts`, like sign-in attempts), carries a honeypot
//! field (filled: the answer looks like success, in the same time, and no application is stored),
//! and each application is
//! compared with the workspace's partners and earlier applications: a shared email address or
//! company domain marks it as a likely duplicate for the reviewer. Staff who manage partners
//! approve (the partner enters the program and onboarding, the applicant becomes its first admin
//! and is emailed an invitation) or reject with a reason (the applicant is emailed the reason).
//!
//! The public form has no signed-in caller: it runs in the system scope of the program's workspace
//! ([`PUBLIC_APPLICATION_FORM`], docs/ARCHITECTURE.md "System context").

use std::collections::BTreeMap;

use serde_json::json;
use trellis_core::{
    ApplicationId, Domain, Email, Error, Page, PartnerId, PartnerRole, PartnerStatus, PartnerType, PartnerTypes, ProgramId, Result,
    Timestamp, Validation, VendorRole, WorkspaceId, new_id_body, page,
};
use trellis_db::{Row, Sql, SystemGrant, Tx, sql};
use trellis_directory::partners::{self, Partner, clean_country, clean_website};
use trellis_directory::work_queues::{self, CountFuture, WorkQueue};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::partner_users::{self, require_visible_partner};
use trellis_identity::{Ctx, RequestMeta, Scope, ScopedTx, workspaces};

/// The applicant of the public form is not signed in; the program's slug names the workspace.
pub const PUBLIC_APPLICATION_FORM: SystemGrant =
    SystemGrant { name: "public_application_form", reason: "the applicant is not signed in; the program's slug names the workspace" };
use trellis_jobs::{NewEmail, queue_email};
use trellis_programs::enrollments;
use trellis_programs::programs::{self, Program};

use crate::onboarding;

/// The public form accepts at most this many submissions from one client address…
pub const MAX_ATTEMPTS_PER_ADDRESS: i64 = 20;
/// …and this many for one program, from all addresses together…
pub const MAX_ATTEMPTS_PER_PROGRAM: i64 = 500;
/// …within this sliding window.
pub const ATTEMPT_WINDOW_SECONDS: i64 = 3600;

/// Email providers whose domain says nothing about the applicant's company: an address there is
/// compared as a whole, never by its domain.
const GENERIC_EMAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.de",
    "hotmail.fr",
    "live.com",
    "msn.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.de",
    "yahoo.fr",
    "ymail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "gmx.de",
    "gmx.net",
    "gmx.com",
    "web.de",
    "t-online.de",
    "freenet.de",
    "mail.com",
    "mail.ru",
    "yandex.ru",
    "yandex.com",
    "zoho.com",
    "fastmail.com",
    "hey.com",
    "tutanota.com",
    "qq.com",
    "163.com",
    "126.com",
    "naver.com",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "libero.it",
    "comcast.net",
    "verizon.net",
    "att.net",
];

/// Whether an email domain belongs to a public email provider rather than to a company.
pub fn is_generic_email_domain(domain: &str) -> bool {
    GENERIC_EMAIL_DOMAINS.contains(&domain)
}

/// A company's domain as compared: lowercase, without a leading `www.`.
fn company_domain(domain: &str) -> String {
    let domain = domain.to_lowercase();
    domain.strip_prefix("www.").map(str::to_owned).unwrap_or(domain)
}

/// The company domains an email address and a website name (a generic provider's domain is none).
fn domains_of(email: &str, website: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(domain) = website.and_then(|w| Domain::from_website(w).ok()) {
        out.push(company_domain(domain.as_str()));
    }
    if let Ok(email) = Email::parse(email)
        && !is_generic_email_domain(email.domain())
    {
        let domain = company_domain(email.domain());
        if !out.contains(&domain) {
            out.push(domain);
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    Applied,
    Approved,
    Rejected,
}

impl ApplicationStatus {
    pub const ALL: &'static [ApplicationStatus] = &[ApplicationStatus::Applied, ApplicationStatus::Approved, ApplicationStatus::Rejected];

    pub const fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::Applied => "applied",
            ApplicationStatus::Approved => "approved",
            ApplicationStatus::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.as_str() == text)
    }
}

impl<'de> serde::Deserialize<'de> for ApplicationStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown value \"{text}\", expected \"applied\", \"approved\" or \"rejected\""))
        })
    }
}

/// What an application has in common with an existing partner (or that partner's application).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DuplicateMatch {
    /// `same_email` (the same contact address) or `same_domain` (the same company domain, from
    /// the website or a non-generic email address).
    pub kind: String,
    /// The address or domain both have.
    pub value: String,
    pub partner_id: PartnerId,
    pub partner_name: String,
    pub partner_status: String,
    pub application_id: Option<ApplicationId>,
}

/// An application as reviewers see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Application {
    pub id: ApplicationId,
    pub partner_id: PartnerId,
    pub program_id: ProgramId,
    pub program_name: String,
    pub status: ApplicationStatus,
    pub partner_status: PartnerStatus,
    pub company_name: String,
    pub contact_name: String,
    pub contact_email: String,
    pub website: Option<String>,
    pub country: Option<String>,
    pub types: Vec<PartnerType>,
    /// `{question_id: answer}` for the questions answered.
    pub answers: BTreeMap<String, String>,
    pub duplicates: Vec<DuplicateMatch>,
    pub rejection_reason: Option<String>,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
}

/// An application as submitted through the public form or API.
#[derive(Debug, Clone, Default)]
pub struct NewApplication {
    pub company_name: String,
    pub contact_name: String,
    pub contact_email: String,
    pub website: Option<String>,
    pub country: Option<String>,
    pub types: Vec<PartnerType>,
    pub answers: BTreeMap<String, String>,
    /// The honeypot: a field people do not see and bots fill in.
    pub honeypot: Option<String>,
}

/// What the applicant is told: the new partner and application. For a submission caught by the
/// honeypot these are the ids of rows that were rolled back: made up, nothing of them is kept.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub partner_id: PartnerId,
    pub application_id: ApplicationId,
}

/// Filters of the applications inbox.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    pub status: Option<ApplicationStatus>,
    pub program_id: Option<ProgramId>,
    pub before: Option<ApplicationId>,
    pub limit: Option<i64>,
}

/// Who reads applications: staff who manage partners, and viewers (who read everything).
pub const READERS: &[VendorRole] = &[VendorRole::Owner, VendorRole::Admin, VendorRole::ChannelManager, VendorRole::Viewer];

/// The applications inbox as a work queue (console home and navigation): applications waiting
/// for a decision, for those who decide them.
pub const TO_REVIEW: WorkQueue = WorkQueue {
    key: "applications",
    title: "Applications to review",
    href: "/console/applications?status=applied",
    nav: Some("/console/applications?status=applied"),
    count: count_to_review,
};

fn count_to_review<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, _now: Timestamp) -> CountFuture<'a> {
    Box::pin(work_queues::count_for(tx, scope, VendorRole::PARTNER_MANAGERS, |tx, q| {
        q.push(" FROM applications a WHERE a.workspace_id = ").push_bind(scope.workspace_id()).push(" AND a.status = ");
        q.push_bind(ApplicationStatus::Applied.as_str()).push(" AND ");
        tx.push_partner_filter(q, "a.partner_id");
    }))
}

/// Applications received in each of the last `weeks` weeks up to `now`, oldest week first (the
/// console home's chart), over the partners the caller sees; reads the window's applications
/// through the (workspace, created) index.
pub async fn weekly_counts(ctx: &Ctx, scope: &Scope, weeks: i64) -> Result<Vec<i64>> {
    scope.require_vendor_role(READERS, "read applications")?;
    const WEEK: i64 = 7 * 24 * 3600 * 1_000_000;
    let since = ctx.now().micros() - weeks * WEEK;
    let mut tx = scope.read(ctx).await?;
    let mut q = Sql::build("SELECT (a.created_at - ");
    let since_bind = q.bind(since);
    q.push(&since_bind).push(") / ").push_bind(WEEK).push(" AS week, COUNT(*) AS n FROM applications a WHERE a.workspace_id = ");
    q.push_bind(scope.workspace_id()).push(" AND a.created_at >= ").push(&since_bind).push(" AND ");
    tx.push_partner_filter(&mut q, "a.partner_id");
    q.push(" GROUP BY week");
    let mut counts = vec![0; usize::try_from(weeks).unwrap_or(0)];
    for row in tx.fetch_all(q).await? {
        let week: i64 = row.get("week")?;
        if let Some(slot) = usize::try_from(week).ok().and_then(|w| counts.get_mut(w)) {
            *slot += row.get::<i64>("n")?;
        }
    }
    Ok(counts)
}

/// The program behind a public form: unknown and closed programs are alike (404).
pub async fn open_program(ctx: &Ctx, slug: &str) -> Result<(WorkspaceId, Program)> {
    let (workspace_id, program) = programs::find_by_slug(ctx, slug).await?;
    if !program.accepting_applications {
        return Err(Error::NotFound);
    }
    Ok((workspace_id, program))
}

/// Refuses a submission (429) when its address or its program has sent too many within the
/// window; otherwise counts it, whatever becomes of it next (invalid, honeypot or accepted).
async fn throttle(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, ip: &str) -> Result<()> {
    let now = ctx.now();
    let since = now.plus_seconds(-ATTEMPT_WINDOW_SECONDS);
    let mut tx = scope.write(ctx).await?;
    let by_address = tx
        .fetch_one(sql!(
            "SELECT COUNT(*) AS n, MIN(at) AS oldest FROM application_attempts WHERE workspace_id = $1 AND ip = $2 AND at > $3",
            scope.workspace_id(),
            ip,
            since
        ))
        .await?;
    let by_program = tx
        .fetch_one(sql!(
            "SELECT COUNT(*) AS n, MIN(at) AS oldest FROM application_attempts WHERE workspace_id = $1 AND program_id = $2 AND at > $3",
            scope.workspace_id(),
            program_id,
            since
        ))
        .await?;
    for (row, max) in [(&by_address, MAX_ATTEMPTS_PER_ADDRESS), (&by_program, MAX_ATTEMPTS_PER_PROGRAM)] {
        if row.get::<i64>("n")? >= max {
            let oldest: Option<Timestamp> = row.get("oldest")?;
            let free_at = oldest.unwrap_or(now).plus_seconds(ATTEMPT_WINDOW_SECONDS);
            let retry = ((free_at.micros() - now.micros()) / 1_000_000).max(1) as u64;
            return Err(Error::RateLimited { retry_after_secs: retry });
        }
    }
    tx.execute(sql!(
        "INSERT INTO application_attempts (workspace_id, id, program_id, ip, at) VALUES ($1, $2, $3, $4, $5)",
        scope.workspace_id(),
        new_id_body(),
        program_id,
        ip,
        now
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks the answers against the program's questions: required ones present, choices among the
/// options, no answers to questions the program does not ask. Keeps the non-empty answers.
fn check_answers(v: &mut Validation, program: &Program, answers: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut kept = BTreeMap::new();
    if answers.len() > programs::MAX_QUESTIONS {
        v.add("answers", format!("at most {} answers", programs::MAX_QUESTIONS));
        return kept;
    }
    for question in &program.application_questions {
        let field = format!("answers.{}", question.id);
        let answer = answers.get(&question.id).map(|a| a.trim()).unwrap_or("");
        if answer.is_empty() {
            if question.required {
                v.add(&field, "is required");
            }
            continue;
        }
        let max = if question.kind == "textarea" { 5000 } else { 500 };
        if question.kind == "select" && !question.options.iter().any(|o| o == answer) {
            v.add(&field, "must be one of the offered choices");
        } else if answer.chars().count() > max {
            v.add(&field, format!("must be at most {max} characters"));
        } else {
            kept.insert(question.id.clone(), answer.to_owned());
        }
    }
    for key in answers.keys() {
        if !program.application_questions.iter().any(|q| &q.id == key) {
            v.add(&format!("answers.{key}"), "is not a question of this program");
        }
    }
    kept
}

/// The workspace's partners (any status, applicants included) sharing the applicant's email
/// address or a company domain.
async fn find_duplicates(tx: &mut Tx, workspace_id: &WorkspaceId, email: &Email, domains: &[String]) -> Result<Vec<DuplicateMatch>> {
    let mut q = Sql::build(
        "SELECT p.id, p.name, p.status, p.contact_email, p.website, a.id AS application_id FROM partners p
         LEFT JOIN applications a ON a.workspace_id = p.workspace_id AND a.partner_id = p.id WHERE p.workspace_id = ",
    );
    q.push_bind(workspace_id).push(" AND (LOWER(p.contact_email) = ").push_bind(email.as_str());
    // A coarse filter in SQL (domains are letters, digits, dots and hyphens: nothing to escape),
    // checked exactly below.
    for domain in domains {
        q.push(" OR LOWER(p.contact_email) LIKE ").push_bind(format!("%@{domain}"));
        q.push(" OR LOWER(p.website) LIKE ").push_bind(format!("%{domain}%"));
    }
    q.push(") ORDER BY p.id DESC LIMIT 200");
    let mut matches = Vec::new();
    for row in tx.fetch_all(q).await? {
        let contact: String = row.get("contact_email")?;
        let website: Option<String> = row.get("website")?;
        let (kind, value) = if contact.eq_ignore_ascii_case(email.as_str()) {
            ("same_email", email.to_string())
        } else if let Some(shared) = domains_of(&contact, website.as_deref()).into_iter().find(|d| domains.contains(d)) {
            ("same_domain", shared)
        } else {
            continue;
        };
        matches.push(DuplicateMatch {
            kind: kind.to_owned(),
            value,
            partner_id: row.get("id")?,
            partner_name: row.get("name")?,
            partner_status: row.get("status")?,
            application_id: row.get("application_id")?,
        });
        if matches.len() == 10 {
            break;
        }
    }
    Ok(matches)
}

/// Takes an application from the public form (no caller: the system context of the program's
/// workspace, with the request's origin for the audit trail and the rate limit).
///
/// A submission that fills the honeypot must not be told apart from a real one, not even by its
/// timing (issue 6): it is validated the same way (and refused the same way when invalid), and
/// runs the same transaction with the same statements, except that everything of the application
/// itself — partner, application, email — is written inside a savepoint that is rolled back
/// instead of released; what it commits is one audit event, `application.discarded`, where a real
/// one commits `partner.applied`. Both answer alike; the honeypot's ids are of rows never kept.
pub async fn submit(ctx: &Ctx, slug: &str, input: NewApplication, meta: &RequestMeta) -> Result<Receipt> {
    let (workspace_id, program) = open_program(ctx, slug).await?;
    let scope = Scope::system(workspace_id.clone(), &PUBLIC_APPLICATION_FORM).with_meta(meta.clone());
    throttle(ctx, &scope, &program.id, meta.ip.as_deref().unwrap_or("")).await?;
    // A bot: answered as if it worked, nothing of it kept (it was counted by the rate limit above).
    let caught_by_honeypot = input.honeypot.as_deref().is_some_and(|h| !h.trim().is_empty());
    let mut v = Validation::new();
    let company_name = v.text("company_name", &input.company_name, 200);
    let contact_name = v.text("contact_name", &input.contact_name, 200);
    let email = v.check("contact_email", Email::parse(&input.contact_email));
    let website = clean_website(&mut v, input.website.as_deref());
    let country = clean_country(&mut v, input.country.as_deref());
    partners::check_types(&mut v, &input.types);
    let answers = check_answers(&mut v, &program, &input.answers);
    v.finish().map_err(Error::Validation)?;
    let (Some(company_name), Some(contact_name), Some(email), Some(website), Some(country)) =
        (company_name, contact_name, email, website, country)
    else {
        return Err(Error::Internal("validated".into()));
    };
    let types: PartnerTypes = input.types.iter().copied().collect();
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    tx.execute(sql!("SAVEPOINT application")).await?;
    let domains = domains_of(email.as_str(), website.as_deref());
    let duplicates = find_duplicates(&mut tx, &workspace_id, &email, &domains).await?;
    let applicant = partners::Applicant { name: company_name.clone(), contact_email: email.clone(), website, country, types };
    let partner_id = partners::insert_applicant_in(&mut tx, &scope, &applicant, now).await?;
    let application_id = ApplicationId::generate();
    tx.execute(sql!(
        "INSERT INTO applications (workspace_id, id, partner_id, program_id, status, contact_name, contact_email, answers, duplicates, ip, created_at)
         VALUES ($1, $2, $3, $4, 'applied', $5, $6, $7, $8, $9, $10)",
        workspace_id, application_id, partner_id, program.id, contact_name, email, json!(answers).to_string(),
        json!(duplicates).to_string(), meta.ip, now
    ))
    .await?;
    let workspace = workspaces::get_in(&mut tx, &workspace_id).await?;
    let text = format!(
        "Hello {contact_name},\n\nThank you for applying to the {program} program of {vendor} on behalf of {company_name}.\n\nWe review every application and will write to you at this address once we have decided.\n\nThe {vendor} partner team",
        program = program.name,
        vendor = workspace.name
    );
    let subject = format!("We received your application to {}", program.name);
    queue_email(&mut tx, &workspace_id, NewEmail::from_text("application_received", email.clone(), subject, text), now).await?;
    let entry = if caught_by_honeypot {
        tx.execute(sql!("ROLLBACK TO SAVEPOINT application")).await?;
        AuditEntry::new("application.discarded", "program", program.id.as_str()).set("reason", "honeypot")
    } else {
        tx.execute(sql!("RELEASE SAVEPOINT application")).await?;
        AuditEntry::new("partner.applied", "partner", partner_id.as_str())
            .set("name", company_name.clone())
            .set("contact_email", email.as_str())
            .set("types", json!(types.to_vec()))
            .set("status", PartnerStatus::Applied.as_str())
            .set("program_id", program.id.as_str())
            .set("application_id", application_id.as_str())
            .set("likely_duplicate_of", json!(duplicates.iter().map(|d| d.partner_id.as_str()).collect::<Vec<_>>()))
    };
    audit::record(&mut tx, &scope, now, entry).await?;
    tx.commit().await?;
    Ok(Receipt { partner_id, application_id })
}

const COLUMNS: &str =
    "a.id, a.partner_id, a.program_id, pr.name AS program_name, a.status, a.contact_name, a.contact_email, a.answers, a.duplicates,
    a.rejection_reason, a.created_at, a.decided_at, p.name AS company_name, p.website, p.country, p.types, p.status AS partner_status";
const FROM: &str = " FROM applications a JOIN partners p ON p.workspace_id = a.workspace_id AND p.id = a.partner_id
    JOIN programs pr ON pr.workspace_id = a.workspace_id AND pr.id = a.program_id WHERE a.workspace_id = ";

fn from_row(row: &Row) -> Result<Application> {
    let status: String = row.get("status")?;
    let partner_status: String = row.get("partner_status")?;
    let answers: String = row.get("answers")?;
    let duplicates: String = row.get("duplicates")?;
    Ok(Application {
        id: row.get("id")?,
        partner_id: row.get("partner_id")?,
        program_id: row.get("program_id")?,
        program_name: row.get("program_name")?,
        status: ApplicationStatus::parse(&status).ok_or_else(|| Error::Internal(format!("stored application status {status}")))?,
        partner_status: PartnerStatus::parse(&partner_status).ok_or_else(|| Error::Internal(format!("stored status {partner_status}")))?,
        company_name: row.get("company_name")?,
        contact_name: row.get("contact_name")?,
        contact_email: row.get("contact_email")?,
        website: row.get("website")?,
        country: row.get("country")?,
        types: PartnerTypes::from_mask(row.get("types")?).to_vec(),
        answers: serde_json::from_str(&answers).map_err(|e| Error::Internal(format!("stored answers: {e}")))?,
        duplicates: serde_json::from_str(&duplicates).map_err(|e| Error::Internal(format!("stored duplicates: {e}")))?,
        rejection_reason: row.get("rejection_reason")?,
        created_at: row.get("created_at")?,
        decided_at: row.get("decided_at")?,
    })
}

/// Applications whose partner the caller sees, newest first (owner, admin, channel manager, viewer).
pub async fn list(ctx: &Ctx, scope: &Scope, filter: &ApplicationFilter) -> Result<Page<Application>> {
    scope.require_vendor_role(READERS, "read applications")?;
    let mut tx = scope.read(ctx).await?;
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(FROM).push_bind(scope.workspace_id()).push(" AND ");
    tx.push_partner_filter(&mut q, "a.partner_id");
    if let Some(status) = filter.status {
        q.push(" AND a.status = ").push_bind(status.as_str());
    }
    if let Some(program_id) = &filter.program_id {
        q.push(" AND a.program_id = ").push_bind(program_id);
    }
    if let Some(before) = &filter.before {
        q.push(" AND a.id < ").push_bind(before);
    }
    q.push(" ORDER BY a.id DESC LIMIT ").push_bind(page::fetch_limit(filter.limit));
    let rows = tx.fetch_all(q).await?.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(rows, filter.limit, |a| a.id.to_string()))
}

async fn fetch_visible(tx: &mut ScopedTx, scope: &Scope, condition: &str, value: &str) -> Result<Application> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(FROM).push_bind(scope.workspace_id()).push(condition).push_bind(value).push(" AND ");
    tx.push_partner_filter(&mut q, "a.partner_id");
    from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

/// One application. Applications are staff records: a partner caller gets 404.
pub async fn get(ctx: &Ctx, scope: &Scope, id: &ApplicationId) -> Result<Application> {
    if scope.vendor_role().is_none() && !scope.is_system() {
        return Err(Error::NotFound);
    }
    let mut tx = scope.read(ctx).await?;
    let application = fetch_visible(&mut tx, scope, " AND a.id = ", id.as_str()).await?;
    scope.require_vendor_role(READERS, "read applications")?;
    Ok(application)
}

/// The application of a visible partner, for a decision: 404 when invisible, 403 for a role
/// that may not decide, 409 unless it still waits for one.
async fn pending_application(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId) -> Result<Application> {
    require_visible_partner(tx, scope, partner_id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "review applications")?;
    let application = match fetch_visible(tx, scope, " AND a.partner_id = ", partner_id.as_str()).await {
        Ok(application) => application,
        Err(Error::NotFound) => return Err(Error::conflict("this partner did not apply through a program")),
        Err(err) => return Err(err),
    };
    if application.status != ApplicationStatus::Applied || application.partner_status != PartnerStatus::Applied {
        return Err(Error::conflict(format!("the application was already {}", application.status.as_str())));
    }
    Ok(application)
}

fn decided_by(scope: &Scope) -> Option<String> {
    scope.user_id().map(ToString::to_string)
}

/// Approves an application: the partner is enrolled in the program it applied to and moves to
/// `onboarding` (or straight to `active` when the program has no required onboarding steps); the
/// applicant is invited as the partner's admin and emailed the invitation link
/// ([`trellis_identity::invitations::IssuedInvitation::url`]). All in one transaction.
pub async fn approve(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Partner> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let application = pending_application(&mut tx, scope, partner_id).await?;
    enrollments::enroll_in(&mut tx, scope, partner_id, &application.program_id, None, now).await?;
    let contact = Email::parse(&application.contact_email).map_err(|e| Error::Internal(format!("stored contact email: {e}")))?;
    let invitation =
        partner_users::invite_in(ctx, &mut tx, scope, partner_id, &contact, &application.contact_name, PartnerRole::Admin, None).await?;
    let status = if onboarding::is_finished(&mut tx, scope, partner_id).await? { PartnerStatus::Active } else { PartnerStatus::Onboarding };
    if !partners::move_status_in(&mut tx, scope, partner_id, PartnerStatus::Applied, status, now).await? {
        return Err(Error::conflict("the application was already decided"));
    }
    tx.execute(sql!(
        "UPDATE applications SET status = 'approved', decided_at = $3, decided_by = $4 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        application.id,
        now,
        decided_by(scope)
    ))
    .await?;
    let entry = AuditEntry::new("partner.approved", "partner", partner_id.as_str())
        .change("status", PartnerStatus::Applied.as_str(), status.as_str())
        .set("application_id", application.id.as_str())
        .set("program_id", application.program_id.as_str());
    audit::record(&mut tx, scope, now, entry).await?;
    let workspace = workspaces::get_in(&mut tx, scope.workspace_id()).await?;
    let next = match status {
        PartnerStatus::Active => "Your organisation is active right away.".to_owned(),
        _ => "Once signed in, the portal shows the onboarding steps that make your organisation an active partner.".to_owned(),
    };
    let text = format!(
        "Hello {name},\n\nGood news: the application of {company} to the {program} program of {vendor} was approved, and you are invited to be its first administrator.\n\nAccept here (the link works once and expires in 7 days): new to Trellis, you choose a password; with a Trellis account for this address already, you sign in:\n{url}\n\n{next}\n\nThe {vendor} partner team",
        name = application.contact_name,
        company = application.company_name,
        program = application.program_name,
        vendor = workspace.name,
        url = invitation.url(ctx),
    );
    let subject = format!("Welcome to the {} program", application.program_name);
    queue_email(
        &mut tx,
        scope.workspace_id(),
        NewEmail::from_text("application_approved", contact, subject, text).caused_by(scope.user_id()),
        now,
    )
    .await?;
    // Read back in the same transaction: the answer must not need another one (ADR 0006).
    let partner = partners::fetch_visible(&mut tx, scope, partner_id).await?;
    tx.commit().await?;
    Ok(partner)
}

/// Rejects an application with a reason the applicant is emailed.
pub async fn reject(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, reason: &str) -> Result<Partner> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let application = pending_application(&mut tx, scope, partner_id).await?;
    let mut v = Validation::new();
    let reason = v.text("reason", reason, 2000);
    v.finish().map_err(Error::Validation)?;
    let reason = reason.ok_or_else(|| Error::Internal("validated".into()))?;
    if !partners::move_status_in(&mut tx, scope, partner_id, PartnerStatus::Applied, PartnerStatus::Rejected, now).await? {
        return Err(Error::conflict("the application was already decided"));
    }
    tx.execute(sql!(
        "UPDATE applications SET status = 'rejected', rejection_reason = $3, decided_at = $4, decided_by = $5 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(), application.id, reason, now, decided_by(scope)
    ))
    .await?;
    let entry = AuditEntry::new("partner.rejected", "partner", partner_id.as_str())
        .change("status", PartnerStatus::Applied.as_str(), PartnerStatus::Rejected.as_str())
        .set("application_id", application.id.as_str())
        .set("reason", reason.clone());
    audit::record(&mut tx, scope, now, entry).await?;
    let workspace = workspaces::get_in(&mut tx, scope.workspace_id()).await?;
    if let Ok(contact) = Email::parse(&application.contact_email) {
        let text = format!(
            "Hello {name},\n\nThank you for your interest in the {program} program of {vendor}. We have decided not to accept the application of {company} at this time, for this reason:\n\n{reason}\n\nThe {vendor} partner team",
            name = application.contact_name,
            program = application.program_name,
            vendor = workspace.name,
            company = application.company_name,
        );
        let subject = format!("Your application to the {} program", application.program_name);
        queue_email(
            &mut tx,
            scope.workspace_id(),
            NewEmail::from_text("application_rejected", contact, subject, text).caused_by(scope.user_id()),
            now,
        )
        .await?;
    }
    // Read back in the same transaction: the answer must not need another one (ADR 0006).
    let partner = partners::fetch_visible(&mut tx, scope, partner_id).await?;
    tx.commit().await?;
    Ok(partner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_domains_come_from_the_website_and_non_generic_addresses() {
        assert_eq!(domains_of("ana@acme.example", Some("https://www.acme.example/about")), vec!["acme.example".to_owned()]);
        assert_eq!(domains_of("ana@gmail.com", None), Vec::<String>::new());
        assert_eq!(domains_of("ana@gmail.com", Some("https://shop.example")), vec!["shop.example".to_owned()]);
        assert_eq!(
            domains_of("ana@sales.acme.example", Some("acme.example")),
            vec!["acme.example".to_owned(), "sales.acme.example".to_owned()]
        );
        assert!(is_generic_email_domain("gmail.com") && !is_generic_email_domain("acme.example"));
    }
}
