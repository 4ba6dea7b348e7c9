//! Onboarding: each program's checklist of steps, and each partner's progress through the steps
//! of every program it is enrolled in. A partner in status `onboarding` becomes `active` by itself
//! once every required step is done (staff may also activate it directly).
//!
//! Step kinds are strings looked up in [`STEP_KINDS`], a registry later capabilities extend (a
//! payout method, a course) without a migration. Most kinds complete themselves when something
//! happens elsewhere: that code raises a partner event inside its own transaction
//! (`events::raise`), and [`on_partner_event`], which the binary registers, completes the steps
//! in that transaction.

use trellis_core::{Email, Error, PartnerId, PartnerRole, PartnerStatus, ProgramId, Result, StepId, Timestamp, Validation, VendorRole};
use trellis_db::{Row, Sql, Tx, sql};
use trellis_directory::events::{HandlerFuture, PartnerEvent, PartnerEventKind};
use trellis_directory::partners;
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::partner_users::require_visible_partner;
use trellis_identity::{Actor, Ctx, Scope, ScopedTx, SeenPartner, workspaces};
use trellis_jobs::{NewEmail, queue_email};
use trellis_programs::programs;

use crate::agreements::{self, AgreementStatus};

/// Completed when a user of the partner accepts the program's agreement in force.
pub const ACCEPT_AGREEMENT: &str = "accept_agreement";
/// Completed when the partner's profile is saved complete (`PartnerEventKind::ProfileCompleted`).
pub const COMPLETE_PROFILE: &str = "complete_profile";
/// Completed when the partner has at least two users.
pub const INVITE_COLLEAGUES: &str = "invite_colleagues";
/// Completed when the partner uploads a document (`PartnerEventKind::DocumentUploaded`).
pub const UPLOAD_DOCUMENT: &str = "upload_document";
/// Completed by hand: by the partner's users or by staff.
pub const CUSTOM: &str = "custom";

/// What a step kind is and how it gets done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepKind {
    pub kind: &'static str,
    /// What the step asks for, in words.
    pub label: &'static str,
    /// When the step completes, for people.
    pub completes_when: &'static str,
    /// Whether the partner's own users may mark it done by hand (staff always may).
    pub partner_marks_done: bool,
}

/// The known step kinds. A capability that adds one appends it here, raises a partner event when
/// it happens, and [`on_partner_event`] completes the kind's steps on that event.
pub const STEP_KINDS: &[StepKind] = &[
    StepKind {
        kind: ACCEPT_AGREEMENT,
        label: "Accept the partner agreement",
        completes_when: "a user of the partner accepts the program's agreement",
        partner_marks_done: false,
    },
    StepKind {
        kind: COMPLETE_PROFILE,
        label: "Complete your profile",
        completes_when: "the partner's profile is complete",
        partner_marks_done: false,
    },
    StepKind {
        kind: INVITE_COLLEAGUES,
        label: "Invite your colleagues",
        completes_when: "the partner has at least two users",
        partner_marks_done: false,
    },
    StepKind {
        kind: UPLOAD_DOCUMENT,
        label: "Upload your documents",
        completes_when: "the partner uploads a document",
        partner_marks_done: false,
    },
    StepKind { kind: CUSTOM, label: "Custom step", completes_when: "the partner or the vendor marks it done", partner_marks_done: true },
];

/// The registry entry of a kind.
pub fn step_kind(kind: &str) -> Option<&'static StepKind> {
    STEP_KINDS.iter().find(|k| k.kind == kind)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub id: StepId,
    pub program_id: ProgramId,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub required: bool,
    pub position: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Input of [`create_step`]; `None` takes the default (required; after the last step).
#[derive(Debug, Clone, Default)]
pub struct NewStep {
    pub kind: String,
    pub title: String,
    pub description: Option<String>,
    pub required: Option<bool>,
    pub position: Option<i64>,
}

/// A change to a step; `None` leaves a field. The kind is fixed once created: completions
/// already recorded were for that kind.
#[derive(Debug, Clone, Default)]
pub struct StepPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub required: Option<bool>,
    pub position: Option<i64>,
}

const STEP_COLUMNS: &str = "s.id, s.program_id, s.kind, s.title, s.description, s.required, s.position, s.created_at, s.updated_at";

fn step_from_row(row: &Row) -> Result<Step> {
    Ok(Step {
        id: row.get("id")?,
        program_id: row.get("program_id")?,
        kind: row.get("kind")?,
        title: row.get("title")?,
        description: row.get("description")?,
        required: row.get("required")?,
        position: row.get("position")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn check_position(v: &mut Validation, position: Option<i64>) {
    if position.is_some_and(|p| !(0..=10_000).contains(&p)) {
        v.add("position", "must be between 0 and 10000");
    }
}

/// Adds a step to a program's checklist (owner/admin/channel_manager).
pub async fn create_step(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, input: NewStep) -> Result<Step> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "manage onboarding checklists")?;
    let mut v = Validation::new();
    if step_kind(&input.kind).is_none() {
        let known: Vec<String> = STEP_KINDS.iter().map(|k| format!("\"{}\"", k.kind)).collect();
        v.add("kind", format!("must be one of {}", known.join(", ")));
    }
    let title = v.text("title", &input.title, 200);
    let description = v.optional_text("description", input.description.as_deref(), 2000).flatten();
    check_position(&mut v, input.position);
    v.finish().map_err(Error::Validation)?;
    let title = title.ok_or_else(|| Error::Internal("validated".into()))?;
    let position = match input.position {
        Some(p) => p,
        None => {
            tx.fetch_i64(sql!(
                "SELECT CAST(COALESCE(MAX(position), -1) + 1 AS BIGINT) AS n FROM onboarding_steps WHERE workspace_id = $1 AND program_id = $2",
                scope.workspace_id(),
                program_id
            ))
            .await?
        }
    };
    let step = Step {
        id: StepId::generate(),
        program_id: program_id.clone(),
        kind: input.kind,
        title,
        description: description.unwrap_or_default(),
        required: input.required.unwrap_or(true),
        position,
        created_at: now,
        updated_at: now,
    };
    tx.execute(sql!(
        "INSERT INTO onboarding_steps (workspace_id, id, program_id, kind, title, description, required, position, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        scope.workspace_id(),
        step.id,
        program_id,
        step.kind,
        step.title,
        step.description,
        step.required,
        step.position,
        now
    ))
    .await?;
    let entry = AuditEntry::new("onboarding_step.created", "onboarding_step", step.id.as_str())
        .set("program_id", program_id.as_str())
        .set("kind", step.kind.clone())
        .set("title", step.title.clone())
        .set("required", step.required)
        .set("position", step.position);
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(step)
}

/// A program's checklist in order (every member of the workspace may read it).
pub async fn list_steps(ctx: &Ctx, scope: &Scope, program_id: &ProgramId) -> Result<Vec<Step>> {
    let mut tx = scope.read(ctx).await?;
    programs::get_in(&mut tx, scope.workspace_id(), program_id).await?;
    list_steps_in(&mut tx, scope, program_id).await
}

async fn list_steps_in(tx: &mut Tx, scope: &Scope, program_id: &ProgramId) -> Result<Vec<Step>> {
    let mut q = Sql::build("SELECT ");
    q.push(STEP_COLUMNS).push(" FROM onboarding_steps s WHERE s.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND s.program_id = ").push_bind(program_id).push(" ORDER BY s.position, s.id");
    tx.fetch_all(q).await?.iter().map(step_from_row).collect()
}

async fn fetch_step(tx: &mut Tx, scope: &Scope, program_id: &ProgramId, step_id: &StepId) -> Result<Step> {
    let mut q = Sql::build("SELECT ");
    q.push(STEP_COLUMNS).push(" FROM onboarding_steps s WHERE s.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND s.program_id = ").push_bind(program_id).push(" AND s.id = ").push_bind(step_id);
    step_from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

/// Changes a step (owner/admin/channel_manager). Partners whose last missing step stops being
/// required are activated.
pub async fn update_step(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, step_id: &StepId, patch: StepPatch) -> Result<Step> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = fetch_step(&mut tx, scope, program_id, step_id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "manage onboarding checklists")?;
    let mut v = Validation::new();
    let title = patch.title.as_deref().map(|t| v.text("title", t, 200));
    let description = patch.description.as_deref().map(|d| v.optional_text("description", Some(d), 2000));
    check_position(&mut v, patch.position);
    v.finish().map_err(Error::Validation)?;
    let mut after = before.clone();
    if let Some(Some(title)) = title {
        after.title = title;
    }
    if let Some(Some(description)) = description {
        after.description = description.unwrap_or_default();
    }
    after.required = patch.required.unwrap_or(before.required);
    after.position = patch.position.unwrap_or(before.position);
    after.updated_at = now;
    tx.execute(sql!(
        "UPDATE onboarding_steps SET title = $3, description = $4, required = $5, position = $6, updated_at = $7 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(), step_id, after.title, after.description, after.required, after.position, now
    ))
    .await?;
    let entry = AuditEntry::new("onboarding_step.updated", "onboarding_step", step_id.as_str())
        .change("title", before.title.clone(), after.title.clone())
        .change("description", before.description.clone(), after.description.clone())
        .change("required", before.required, after.required)
        .change("position", before.position, after.position);
    audit::record(&mut tx, scope, now, entry).await?;
    activate_finished_partners_of_program(&mut tx, scope, program_id, now).await?;
    tx.commit().await?;
    Ok(after)
}

/// Removes a step and its completions (owner/admin/channel_manager). Partners for whom it was the
/// last missing required step are activated.
pub async fn delete_step(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, step_id: &StepId) -> Result<()> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let before = fetch_step(&mut tx, scope, program_id, step_id).await?;
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "manage onboarding checklists")?;
    let completions = tx
        .execute(sql!("DELETE FROM onboarding_completions WHERE workspace_id = $1 AND step_id = $2", scope.workspace_id(), step_id))
        .await?;
    tx.execute(sql!("DELETE FROM onboarding_steps WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), step_id)).await?;
    let entry = AuditEntry::new("onboarding_step.deleted", "onboarding_step", step_id.as_str())
        .set("program_id", program_id.as_str())
        .change("kind", before.kind.clone(), serde_json::Value::Null)
        .change("title", before.title.clone(), serde_json::Value::Null)
        .set("completions_removed", completions);
    audit::record(&mut tx, scope, now, entry).await?;
    activate_finished_partners_of_program(&mut tx, scope, program_id, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Who completed a step.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CompletedBy {
    /// `user`, `api_key` or `system`.
    pub kind: String,
    pub id: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Completion {
    pub at: Timestamp,
    pub by: CompletedBy,
}

/// One step of a partner's checklist and whether it is done.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepProgress {
    pub step: Step,
    pub program_name: String,
    pub completion: Option<Completion>,
}

/// A partner's onboarding: the steps of every program it is enrolled in, and the agreement in
/// force in each of those programs with the partner's acceptance of it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Progress {
    pub partner_id: PartnerId,
    pub partner_status: PartnerStatus,
    pub steps: Vec<StepProgress>,
    pub agreements: Vec<AgreementStatus>,
}

impl Progress {
    pub fn required_total(&self) -> usize {
        self.steps.iter().filter(|s| s.step.required).count()
    }

    pub fn required_done(&self) -> usize {
        self.steps.iter().filter(|s| s.step.required && s.completion.is_some()).count()
    }
}

/// A visible partner's onboarding progress (anyone who may see the partner).
pub async fn progress(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Progress> {
    let mut tx = scope.read(ctx).await?;
    progress_in(&mut tx, scope, partner_id).await
}

/// [`progress`] inside a transaction.
pub async fn progress_in(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId) -> Result<Progress> {
    let partner_status = require_visible_partner(tx, scope, partner_id).await?;
    read_progress(tx, scope, partner_id, partner_status).await
}

/// [`progress`] of a partner already checked in the caller's transaction (the console partner
/// page reads every section through one check).
pub async fn progress_seen_in(tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner) -> Result<Progress> {
    let partner_id = tx.seen(seen)?.clone();
    read_progress(tx, scope, &partner_id, seen.status()).await
}

async fn read_progress(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId, partner_status: PartnerStatus) -> Result<Progress> {
    let rows = tx
        .fetch_all(sql!(
            "SELECT s.id, s.program_id, s.kind, s.title, s.description, s.required, s.position, s.created_at, s.updated_at,
                    p.name AS program_name, c.completed_at, c.completed_by_type, c.completed_by_id, c.completed_by_email
             FROM enrollments e
             JOIN programs p ON p.workspace_id = e.workspace_id AND p.id = e.program_id
             JOIN onboarding_steps s ON s.workspace_id = e.workspace_id AND s.program_id = e.program_id
             LEFT JOIN onboarding_completions c ON c.workspace_id = e.workspace_id AND c.partner_id = e.partner_id AND c.step_id = s.id
             WHERE e.workspace_id = $1 AND e.partner_id = $2
             ORDER BY p.name, e.program_id, s.position, s.id",
            scope.workspace_id(),
            partner_id
        ))
        .await?;
    let mut steps = Vec::with_capacity(rows.len());
    for row in &rows {
        let completed_at: Option<Timestamp> = row.get("completed_at")?;
        let completion = match completed_at {
            Some(at) => Some(Completion {
                at,
                by: CompletedBy {
                    kind: row.get("completed_by_type")?,
                    id: row.get("completed_by_id")?,
                    email: row.get("completed_by_email")?,
                },
            }),
            None => None,
        };
        steps.push(StepProgress { step: step_from_row(row)?, program_name: row.get("program_name")?, completion });
    }
    let agreements = agreements::status_of_partner(tx, scope, partner_id).await?;
    Ok(Progress { partner_id: partner_id.clone(), partner_status, steps, agreements })
}

fn completed_by(scope: &Scope) -> CompletedBy {
    match scope.actor() {
        Actor::User { id, email } => CompletedBy { kind: "user".into(), id: Some(id.to_string()), email: Some(email.to_string()) },
        Actor::ApiKey { id, user_email } => {
            CompletedBy { kind: "api_key".into(), id: Some(id.to_string()), email: user_email.as_ref().map(Email::to_string) }
        }
        Actor::System => CompletedBy { kind: "system".into(), id: None, email: None },
    }
}

/// Records a step as done for a partner (once; doing it again changes nothing) and audits it.
async fn record_completion(tx: &mut Tx, scope: &Scope, partner_id: &PartnerId, step: &Step, now: Timestamp) -> Result<bool> {
    let by = completed_by(scope);
    let inserted = tx
        .execute(sql!(
            "INSERT INTO onboarding_completions (workspace_id, partner_id, step_id, completed_at, completed_by_type, completed_by_id, completed_by_email)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            scope.workspace_id(), partner_id, step.id, now, by.kind, by.id, by.email
        ))
        .await?;
    if inserted == 0 {
        return Ok(false);
    }
    let entry = AuditEntry::new("onboarding_step.completed", "partner", partner_id.as_str())
        .set("step_id", step.id.as_str())
        .set("program_id", step.program_id.as_str())
        .set("kind", step.kind.clone())
        .set("title", step.title.clone());
    audit::record(tx, scope, now, entry).await?;
    Ok(true)
}

/// Who may mark a step done by hand: staff who manage partners any step; the partner's own users
/// (not read-only members) the kinds partners mark done themselves.
fn require_completer(scope: &Scope, partner_id: &PartnerId, step: &Step) -> Result<()> {
    if scope.has_vendor_role(VendorRole::PARTNER_MANAGERS) {
        return Ok(());
    }
    match scope.partner() {
        Some((own, role)) if own == partner_id && role != PartnerRole::Member => match step_kind(&step.kind) {
            Some(kind) if kind.partner_marks_done => Ok(()),
            Some(kind) => Err(Error::forbidden(format!("this step is done when {}", kind.completes_when))),
            None => Err(Error::forbidden("this step is completed by the vendor")),
        },
        Some((own, _)) if own == partner_id => Err(Error::forbidden("your role may only read")),
        Some(_) => Err(Error::forbidden("only the partner's own users complete its onboarding")),
        None => Err(Error::forbidden("your role may not complete onboarding steps")),
    }
}

/// Marks a step done by hand (staff: any step; the partner's users: `custom` steps) and activates
/// the partner when it was the last required one.
pub async fn complete_step(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, step_id: &StepId) -> Result<Progress> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let status = require_visible_partner(&mut tx, scope, partner_id).await?;
    let mut q = Sql::build("SELECT ");
    q.push(STEP_COLUMNS).push(
        " FROM onboarding_steps s JOIN enrollments e ON e.workspace_id = s.workspace_id AND e.program_id = s.program_id AND e.partner_id = ",
    );
    q.push_bind(partner_id).push(" WHERE s.workspace_id = ").push_bind(scope.workspace_id()).push(" AND s.id = ").push_bind(step_id);
    let step = step_from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)?;
    require_completer(scope, partner_id, &step)?;
    if !matches!(status, PartnerStatus::Onboarding | PartnerStatus::Active) {
        return Err(Error::conflict(format!("the partner is {status}")));
    }
    record_completion(&mut tx, scope, partner_id, &step, now).await?;
    activate_if_finished(&mut tx, scope, partner_id, now).await?;
    let progress = progress_in(&mut tx, scope, partner_id).await?;
    tx.commit().await?;
    Ok(progress)
}

/// Completes onboarding steps on the partner events that do them, inside the raising transaction
/// (registered by the binary in the context's `EventHandlers`):
/// - a profile completed → `complete_profile`, a document uploaded → `upload_document`, of every
///   program;
/// - a user invited → `invite_colleagues` once the partner has at least two users, counting those
///   invited who have not answered yet (the step asks the partner to invite, not to wait);
/// - an agreement accepted → that program's `accept_agreement` steps.
///
/// The raising code has checked what the event needs; a partner the scope cannot see is
/// `NotFound`.
pub fn on_partner_event<'a>(tx: &'a mut ScopedTx, scope: &'a Scope, event: &'a PartnerEvent) -> HandlerFuture<'a> {
    Box::pin(async move {
        let partner_id = &event.partner_id;
        match &event.kind {
            PartnerEventKind::ProfileCompleted => complete_steps_of_kind(tx, scope, partner_id, COMPLETE_PROFILE, event.at).await,
            PartnerEventKind::DocumentUploaded => complete_steps_of_kind(tx, scope, partner_id, UPLOAD_DOCUMENT, event.at).await,
            PartnerEventKind::UserInvited => {
                require_visible_partner(tx, scope, partner_id).await?;
                let users = trellis_identity::invitations::count_users_and_pending(tx, scope, partner_id, event.at).await?;
                if users >= 2 {
                    complete_steps_of_kind(tx, scope, partner_id, INVITE_COLLEAGUES, event.at).await?;
                }
                Ok(())
            }
            PartnerEventKind::AgreementAccepted { program_id } => {
                complete_kind(tx, scope, partner_id, ACCEPT_AGREEMENT, Some(program_id), event.at).await
            }
            PartnerEventKind::LicencesChanged => Ok(()),
        }
    })
}

/// Completes every not yet completed step of `kind` in the programs the partner is enrolled in,
/// and activates an `onboarding` partner whose last required step this was.
async fn complete_steps_of_kind(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId, kind: &str, now: Timestamp) -> Result<()> {
    complete_kind(tx, scope, partner_id, kind, None, now).await
}

/// [`complete_steps_of_kind`], limited to one program's steps when `program_id` is given (an
/// agreement belongs to one program).
async fn complete_kind(
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_id: &PartnerId,
    kind: &str,
    program_id: Option<&ProgramId>,
    now: Timestamp,
) -> Result<()> {
    require_visible_partner(tx, scope, partner_id).await?;
    let mut q = Sql::build("SELECT ");
    q.push(STEP_COLUMNS).push(
        " FROM onboarding_steps s JOIN enrollments e ON e.workspace_id = s.workspace_id AND e.program_id = s.program_id AND e.partner_id = ",
    );
    q.push_bind(partner_id).push(" WHERE s.workspace_id = ").push_bind(scope.workspace_id()).push(" AND s.kind = ").push_bind(kind);
    if let Some(program_id) = program_id {
        q.push(" AND s.program_id = ").push_bind(program_id);
    }
    q.push(" AND NOT EXISTS (SELECT 1 FROM onboarding_completions c WHERE c.workspace_id = s.workspace_id AND c.step_id = s.id AND c.partner_id = ");
    q.push_bind(partner_id).push(") ORDER BY s.position, s.id");
    let steps: Vec<Step> = tx.fetch_all(q).await?.iter().map(step_from_row).collect::<Result<_>>()?;
    for step in &steps {
        record_completion(tx, scope, partner_id, step, now).await?;
    }
    if !steps.is_empty() {
        activate_if_finished(tx, scope, partner_id, now).await?;
    }
    Ok(())
}

/// The number of required steps a partner has not done yet, over every program it is in.
async fn missing_required_steps(tx: &mut Tx, scope: &Scope, partner_id: &PartnerId) -> Result<i64> {
    Ok(tx
        .fetch_i64(sql!(
            "SELECT COUNT(*) AS n FROM enrollments e
             JOIN onboarding_steps s ON s.workspace_id = e.workspace_id AND s.program_id = e.program_id
             WHERE e.workspace_id = $1 AND e.partner_id = $2 AND s.required = TRUE
               AND NOT EXISTS (SELECT 1 FROM onboarding_completions c WHERE c.workspace_id = s.workspace_id AND c.partner_id = e.partner_id AND c.step_id = s.id)",
            scope.workspace_id(),
            partner_id
        ))
        .await?)
}

/// Whether every required step of every program the partner is enrolled in is done.
pub(crate) async fn is_finished(tx: &mut Tx, scope: &Scope, partner_id: &PartnerId) -> Result<bool> {
    Ok(missing_required_steps(tx, scope, partner_id).await? == 0)
}

/// Activates an `onboarding` partner whose required steps are all done: audited, and the partner
/// is emailed. Returns whether it was activated.
pub(crate) async fn activate_if_finished(tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId, now: Timestamp) -> Result<bool> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT name, contact_email, status FROM partners WHERE workspace_id = $1 AND id = $2",
            scope.workspace_id(),
            partner_id
        ))
        .await?
        .ok_or(Error::NotFound)?;
    let status: String = row.get("status")?;
    if status != PartnerStatus::Onboarding.as_str() || !is_finished(tx, scope, partner_id).await? {
        return Ok(false);
    }
    if !partners::move_status_in(tx, scope, partner_id, PartnerStatus::Onboarding, PartnerStatus::Active, now).await? {
        return Ok(false);
    }
    let entry = AuditEntry::new("partner.activated", "partner", partner_id.as_str())
        .change("status", PartnerStatus::Onboarding.as_str(), PartnerStatus::Active.as_str())
        .set("reason", "every required onboarding step is done");
    audit::record(tx, scope, now, entry).await?;
    let name: String = row.get("name")?;
    let contact: String = row.get("contact_email")?;
    if let Ok(to) = Email::parse(&contact) {
        let workspace = workspaces::get_in(tx, scope.workspace_id()).await?;
        let text = format!(
            "Hello,\n\nWelcome aboard: {name} has completed its onboarding and is now an active partner of {}.\n\nSign in to the partner portal to register deals and find everything the program offers.\n\nThe {} partner team",
            workspace.name, workspace.name
        );
        let email = NewEmail::from_text("partner_activated", to, format!("Welcome, {name} is now an active partner"), text)
            .caused_by(scope.user_id());
        queue_email(tx, scope.workspace_id(), email, now).await?;
    }
    Ok(true)
}

/// After a program's checklist changed: activates its `onboarding` partners (those the caller
/// sees) that have now done every required step.
async fn activate_finished_partners_of_program(tx: &mut ScopedTx, scope: &Scope, program_id: &ProgramId, now: Timestamp) -> Result<()> {
    let mut q = Sql::build(
        "SELECT p.id FROM partners p JOIN enrollments e ON e.workspace_id = p.workspace_id AND e.partner_id = p.id WHERE p.workspace_id = ",
    );
    q.push_bind(scope.workspace_id()).push(" AND e.program_id = ").push_bind(program_id).push(" AND p.status = 'onboarding' AND ");
    tx.push_partner_filter(&mut q, "p.id");
    let partners: Vec<PartnerId> = tx.fetch_all(q).await?.iter().map(|r| Ok(r.get::<PartnerId>("id")?)).collect::<Result<_>>()?;
    for partner_id in &partners {
        activate_if_finished(tx, scope, partner_id, now).await?;
    }
    Ok(())
}
