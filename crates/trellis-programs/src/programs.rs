//! Partner programs (API.md "Programs, tiers, applications"): a workspace runs several (Resellers,
//! Referral partners, Affiliates…), each with its own settings. Tiers, enrollments, onboarding
//! steps and application questions hang off a program.

use serde_json::json;
use trellis_core::{Currency, Error, ProgramId, Result, Timestamp, Validation, VendorRole, WorkspaceId};
use trellis_db::{Row, Sql, SystemGrant, Tx, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope, workspaces};

/// A public URL (`/apply/{slug}`) names its program, and so its workspace, before any scope exists.
pub const PROGRAM_SLUGS: SystemGrant =
    SystemGrant { name: "program_slugs", reason: "a public URL (/apply/{slug}) names its program and workspace before any scope exists" };

/// A custom question of the program's application form.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApplicationQuestion {
    /// Stable key of the answer, e.g. `annual_revenue`.
    pub id: String,
    pub label: String,
    /// `text`, `textarea` or `select`.
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    /// The choices of a `select`.
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Program {
    pub id: ProgramId,
    pub name: String,
    pub slug: String,
    pub currency: String,
    pub description: String,
    pub deal_registration: bool,
    pub referral_links: bool,
    pub default_protection_days: i64,
    pub accepting_applications: bool,
    pub application_questions: Vec<ApplicationQuestion>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Input of `create`; `None` takes the default.
#[derive(Debug, Clone, Default)]
pub struct NewProgram {
    pub name: String,
    pub slug: String,
    pub currency: Option<String>,
    pub description: Option<String>,
    pub deal_registration: Option<bool>,
    pub referral_links: Option<bool>,
    pub default_protection_days: Option<i64>,
    pub accepting_applications: Option<bool>,
    pub application_questions: Option<Vec<ApplicationQuestion>>,
}

/// A change; `None` leaves a field as it is. The slug and currency are fixed once created
/// (public links and money depend on them).
#[derive(Debug, Clone, Default)]
pub struct ProgramPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub deal_registration: Option<bool>,
    pub referral_links: Option<bool>,
    pub default_protection_days: Option<i64>,
    pub accepting_applications: Option<bool>,
    pub application_questions: Option<Vec<ApplicationQuestion>>,
}

const COLUMNS: &str = "id, name, slug, currency, description, deal_registration, referral_links, default_protection_days, accepting_applications, application_questions, created_at, updated_at";

fn from_row(row: &Row) -> Result<Program> {
    let questions: String = row.get("application_questions")?;
    Ok(Program {
        id: row.get("id")?,
        name: row.get("name")?,
        slug: row.get("slug")?,
        currency: row.get("currency")?,
        description: row.get("description")?,
        deal_registration: row.get("deal_registration")?,
        referral_links: row.get("referral_links")?,
        default_protection_days: row.get("default_protection_days")?,
        accepting_applications: row.get("accepting_applications")?,
        application_questions: serde_json::from_str(&questions).map_err(|e| Error::Internal(format!("stored questions: {e}")))?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// Slugs: 3 to 60 characters of a–z, 0–9 and inner hyphens (they appear in URLs).
pub fn check_slug(slug: &str) -> std::result::Result<String, &'static str> {
    let slug = slug.trim().to_lowercase();
    let ok = (3..=60).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok { Ok(slug) } else { Err("must be 3 to 60 lowercase letters, digits or inner hyphens") }
}

/// Custom questions a program may ask (and so answers an application may carry).
pub const MAX_QUESTIONS: usize = 30;
/// Choices of one `select` question, and the length of each.
const MAX_OPTIONS: usize = 50;
const MAX_OPTION_CHARS: usize = 200;

fn check_questions(v: &mut Validation, questions: &[ApplicationQuestion]) {
    if questions.len() > MAX_QUESTIONS {
        v.add("application_questions", format!("at most {MAX_QUESTIONS} questions"));
        return;
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, q) in questions.iter().enumerate() {
        let field = format!("application_questions[{i}]");
        if q.id.is_empty() || q.id.len() > 60 || !q.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            v.add(&format!("{field}.id"), "must be 1 to 60 lowercase letters, digits or underscores");
        } else if !seen.insert(q.id.clone()) {
            v.add(&format!("{field}.id"), "is used by another question");
        }
        if q.label.trim().is_empty() || q.label.chars().count() > 300 {
            v.add(&format!("{field}.label"), "must be 1 to 300 characters");
        }
        match q.kind.as_str() {
            "text" | "textarea" => {}
            "select" if !q.options.is_empty() => {}
            "select" => v.add(&format!("{field}.options"), "a select needs at least one option"),
            _ => v.add(&format!("{field}.kind"), "must be \"text\", \"textarea\" or \"select\""),
        }
        if q.options.len() > MAX_OPTIONS {
            v.add(&format!("{field}.options"), format!("at most {MAX_OPTIONS} choices"));
        } else if q.options.iter().any(|o| o.trim().is_empty() || o.chars().count() > MAX_OPTION_CHARS) {
            v.add(&format!("{field}.options"), format!("each choice must be 1 to {MAX_OPTION_CHARS} characters"));
        }
    }
}

fn check_protection_days(v: &mut Validation, days: Option<i64>) {
    if days.is_some_and(|d| !(0..=3650).contains(&d)) {
        v.add("default_protection_days", "must be between 0 and 3650");
    }
}

pub async fn create(ctx: &Ctx, scope: &Scope, input: NewProgram) -> Result<Program> {
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "manage programs")?;
    let mut v = Validation::new();
    let name = v.text("name", &input.name, 200);
    let slug = v.check("slug", check_slug(&input.slug));
    let currency = input.currency.as_deref().map(|c| v.check("currency", Currency::parse(c)));
    let description = v.optional_text("description", input.description.as_deref(), 5000).flatten();
    check_protection_days(&mut v, input.default_protection_days);
    let questions = input.application_questions.unwrap_or_default();
    check_questions(&mut v, &questions);
    v.finish().map_err(Error::Validation)?;
    let (Some(name), Some(slug)) = (name, slug) else { return Err(Error::Internal("validated".into())) };
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let currency = match currency.flatten() {
        Some(c) => c.code().to_owned(),
        None => workspaces::get_in(&mut tx, scope.workspace_id()).await?.default_currency,
    };
    let taken = tx.fetch_optional(sql!("SELECT 1 AS one FROM program_slugs WHERE slug = $1", slug)).await?;
    if taken.is_some() {
        return Err(Error::invalid("slug", "is already taken"));
    }
    let id = ProgramId::generate();
    let program = Program {
        id: id.clone(),
        name,
        slug,
        currency,
        description: description.unwrap_or_default(),
        deal_registration: input.deal_registration.unwrap_or(true),
        referral_links: input.referral_links.unwrap_or(false),
        default_protection_days: input.default_protection_days.unwrap_or(90),
        accepting_applications: input.accepting_applications.unwrap_or(true),
        application_questions: questions,
        created_at: now,
        updated_at: now,
    };
    tx.execute(sql!(
        "INSERT INTO programs (workspace_id, id, name, slug, currency, description, deal_registration, referral_links, default_protection_days, accepting_applications, application_questions, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
        scope.workspace_id(), id, program.name, program.slug, program.currency, program.description, program.deal_registration,
        program.referral_links, program.default_protection_days, program.accepting_applications,
        json!(program.application_questions).to_string(), now
    ))
    .await?;
    tx.execute(sql!(
        "INSERT INTO program_slugs (slug, workspace_id, program_id) VALUES ($1, $2, $3)",
        program.slug,
        scope.workspace_id(),
        id
    ))
    .await
    .map_err(|e| if e.is_unique("slug") || e.is_unique("program_slugs") { Error::invalid("slug", "is already taken") } else { e.into() })?;
    let entry = AuditEntry::new("program.created", "program", id.as_str())
        .set("name", program.name.clone())
        .set("slug", program.slug.clone())
        .set("currency", program.currency.clone());
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(program)
}

/// Reads a program of the caller's workspace (programs are not partner-owned: every member of
/// the workspace may read them).
pub async fn get_in(tx: &mut Tx, workspace_id: &WorkspaceId, id: &ProgramId) -> Result<Program> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM programs WHERE workspace_id = ").push_bind(workspace_id).push(" AND id = ").push_bind(id);
    from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

pub async fn get(ctx: &Ctx, scope: &Scope, id: &ProgramId) -> Result<Program> {
    let mut tx = scope.read(ctx).await?;
    get_in(&mut tx, scope.workspace_id(), id).await
}

/// The programs of the workspace, newest first.
pub async fn list(ctx: &Ctx, scope: &Scope) -> Result<Vec<Program>> {
    let mut tx = scope.read(ctx).await?;
    list_in(&mut tx, scope.workspace_id()).await
}

/// [`list`] inside the caller's transaction (programs are vendor rows every member may read).
pub async fn list_in(tx: &mut Tx, workspace_id: &WorkspaceId) -> Result<Vec<Program>> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM programs WHERE workspace_id = ").push_bind(workspace_id).push(" ORDER BY id DESC LIMIT 500");
    tx.fetch_all(q).await?.iter().map(from_row).collect()
}

/// The program behind a public slug, with its workspace (public pages: system context).
pub async fn find_by_slug(ctx: &Ctx, slug: &str) -> Result<(WorkspaceId, Program)> {
    let mut tx = ctx.db().read_granted(&PROGRAM_SLUGS).await?;
    let row = tx
        .fetch_optional(sql!("SELECT workspace_id, program_id FROM program_slugs WHERE slug = $1", slug.trim().to_lowercase()))
        .await?
        .ok_or(Error::NotFound)?;
    let workspace_id: WorkspaceId = row.get("workspace_id")?;
    let program_id: ProgramId = row.get("program_id")?;
    let program = get_in(&mut tx, &workspace_id, &program_id).await?;
    Ok((workspace_id, program))
}

pub async fn update(ctx: &Ctx, scope: &Scope, id: &ProgramId, patch: ProgramPatch) -> Result<Program> {
    let mut tx = scope.write(ctx).await?;
    let after = update_in(&mut tx, scope, id, patch, ctx.now()).await?;
    tx.commit().await?;
    Ok(after)
}

/// [`update`] inside the caller's write transaction (the deal rules change a program's
/// protection days with their own settings, in one transaction).
pub async fn update_in(tx: &mut Tx, scope: &Scope, id: &ProgramId, patch: ProgramPatch, now: Timestamp) -> Result<Program> {
    let before = get_in(tx, scope.workspace_id(), id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "manage programs")?;
    let mut v = Validation::new();
    let name = patch.name.as_deref().map(|n| v.text("name", n, 200));
    let description = patch.description.as_deref().map(|d| v.optional_text("description", Some(d), 5000));
    check_protection_days(&mut v, patch.default_protection_days);
    if let Some(questions) = &patch.application_questions {
        check_questions(&mut v, questions);
    }
    v.finish().map_err(Error::Validation)?;
    let mut after = before.clone();
    if let Some(Some(name)) = name {
        after.name = name;
    }
    if let Some(Some(description)) = description {
        after.description = description.unwrap_or_default();
    }
    after.deal_registration = patch.deal_registration.unwrap_or(before.deal_registration);
    after.referral_links = patch.referral_links.unwrap_or(before.referral_links);
    after.default_protection_days = patch.default_protection_days.unwrap_or(before.default_protection_days);
    after.accepting_applications = patch.accepting_applications.unwrap_or(before.accepting_applications);
    if let Some(questions) = patch.application_questions {
        after.application_questions = questions;
    }
    after.updated_at = now;
    tx.execute(sql!(
        "UPDATE programs SET name = $3, description = $4, deal_registration = $5, referral_links = $6, default_protection_days = $7, accepting_applications = $8, application_questions = $9, updated_at = $10
         WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(), id, after.name, after.description, after.deal_registration, after.referral_links,
        after.default_protection_days, after.accepting_applications, json!(after.application_questions).to_string(), now
    ))
    .await?;
    let entry = AuditEntry::new("program.updated", "program", id.as_str())
        .change("name", before.name.clone(), after.name.clone())
        .change("description", before.description.clone(), after.description.clone())
        .change("deal_registration", before.deal_registration, after.deal_registration)
        .change("referral_links", before.referral_links, after.referral_links)
        .change("default_protection_days", before.default_protection_days, after.default_protection_days)
        .change("accepting_applications", before.accepting_applications, after.accepting_applications)
        .change("application_questions", json!(before.application_questions), json!(after.application_questions));
    audit::record(tx, scope, now, entry).await?;
    Ok(after)
}
