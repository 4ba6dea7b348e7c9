//! A program's public lead form (`/leads/{slug}`, `POST /api/v1/public/programs/{slug}/leads`):
//! a prospect asks to be put in touch with a partner. Open only where the channel team opened it
//! (`lead_settings.public_form`) on a program that takes deal registrations; unknown and closed
//! forms are alike (404). Rate limited per client address and per program (counted in
//! `lead_form_attempts`, as the application form counts its own), with a honeypot: a submission
//! that fills it runs the same statements and is answered alike, but what it wrote is rolled back
//! to a savepoint, so a bot cannot tell it was caught, not even by the timing. A real one is a
//! `new` lead in the channel team's inbox (source `form`), and the prospect is thanked by email.

use serde_json::json;
use trellis_core::{Email, Error, ProgramId, Result, Validation, WorkspaceId, new_id_body};
use trellis_db::{SystemGrant, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, RequestMeta, Scope, workspaces};
use trellis_jobs::{NewEmail, queue_email};
use trellis_programs::programs::{self, Program};

use crate::leads::{self, LeadSource, NewLead};

/// The prospect is not signed in; the program's slug names the workspace.
pub const PUBLIC_LEAD_FORM: SystemGrant = SystemGrant {
    name: "public_lead_form",
    reason: "a prospect asking to be put in touch is not signed in; the program's slug names the workspace, and only the lead is written",
};

/// Submissions an address may make in [`ATTEMPT_WINDOW_SECONDS`], and a program may receive.
pub const MAX_ATTEMPTS_PER_ADDRESS: i64 = 20;
pub const MAX_ATTEMPTS_PER_PROGRAM: i64 = 500;
pub const ATTEMPT_WINDOW_SECONDS: i64 = 3_600;

/// What the form asks.
#[derive(Debug, Clone, Default)]
pub struct Enquiry {
    pub company_name: String,
    pub contact_name: String,
    pub contact_email: String,
    pub country: String,
    pub region: Option<String>,
    pub product_interest: Option<String>,
    pub notes: Option<String>,
    /// A field people do not see and bots fill in.
    pub honeypot: Option<String>,
}

/// The program behind a public lead form, and its workspace: 404 unless the form is open.
pub async fn open_form(ctx: &Ctx, slug: &str) -> Result<(WorkspaceId, Program)> {
    let (workspace_id, program) = programs::find_by_slug(ctx, slug).await?;
    let mut tx = ctx.db().read_granted(&PUBLIC_LEAD_FORM).await?;
    let open = crate::settings::of_in(&mut tx, &workspace_id, Some(&program.id)).await?.public_form;
    if !(open && program.deal_registration) {
        return Err(Error::NotFound);
    }
    Ok((workspace_id, program))
}

async fn throttle(ctx: &Ctx, scope: &Scope, program_id: &ProgramId, ip: &str) -> Result<()> {
    let now = ctx.now();
    let since = now.plus_seconds(-ATTEMPT_WINDOW_SECONDS);
    let mut tx = scope.write(ctx).await?;
    for (column, value, max) in
        [("ip", ip.to_owned(), MAX_ATTEMPTS_PER_ADDRESS), ("program_id", program_id.to_string(), MAX_ATTEMPTS_PER_PROGRAM)]
    {
        let mut q = trellis_db::Sql::build("SELECT COUNT(*) AS n, MIN(at) AS oldest FROM lead_form_attempts WHERE workspace_id = ");
        q.push_bind(scope.workspace_id()).push(&format!(" AND {column} = ")).push_bind(value).push(" AND at > ").push_bind(since);
        let row = tx.fetch_one(q).await?;
        if row.get::<i64>("n")? >= max {
            let oldest: Option<trellis_core::Timestamp> = row.get("oldest")?;
            let free_at = oldest.unwrap_or(now).plus_seconds(ATTEMPT_WINDOW_SECONDS);
            return Err(Error::RateLimited { retry_after_secs: ((free_at.micros() - now.micros()) / 1_000_000).max(1) as u64 });
        }
    }
    tx.execute(sql!(
        "INSERT INTO lead_form_attempts (workspace_id, id, program_id, ip, at) VALUES ($1, $2, $3, $4, $5)",
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

/// Takes an enquiry of the form of program `slug`.
pub async fn submit(ctx: &Ctx, slug: &str, enquiry: Enquiry, meta: &RequestMeta) -> Result<()> {
    let (workspace_id, program) = open_form(ctx, slug).await?;
    let scope = Scope::system(workspace_id.clone(), &PUBLIC_LEAD_FORM).with_meta(meta.clone());
    throttle(ctx, &scope, &program.id, meta.ip.as_deref().unwrap_or("")).await?;
    let caught_by_honeypot = enquiry.honeypot.as_deref().is_some_and(|h| !h.trim().is_empty());
    let mut v = Validation::new();
    let contact_name = v.text("contact_name", &enquiry.contact_name, 200);
    let email = v.check("contact_email", Email::parse(&enquiry.contact_email));
    let input = NewLead {
        company_name: enquiry.company_name,
        contact_name: contact_name.clone(),
        contact_email: Some(enquiry.contact_email.clone()),
        domain: None,
        country: enquiry.country,
        region: enquiry.region,
        product_interest: enquiry.product_interest,
        estimated_value: None,
        notes: enquiry.notes,
        program_id: Some(program.id.clone()),
        external_id: None,
    };
    let checked = match leads::check_input(&input) {
        Ok(checked) => Some(checked),
        Err(Error::Validation(errors)) => {
            for e in errors {
                v.add(&e.field, e.message);
            }
            None
        }
        Err(other) => return Err(other),
    };
    v.finish().map_err(Error::Validation)?;
    let (Some(checked), Some(contact_name), Some(email)) = (checked, contact_name, email) else {
        return Err(Error::Internal("validated".into()));
    };
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    tx.execute(sql!("SAVEPOINT enquiry")).await?;
    let lead = leads::insert_in(&mut tx, &scope, checked, Some(&program.id), LeadSource::Form, now).await?;
    let workspace = workspaces::get_in(&mut tx, &workspace_id).await?;
    let text = format!(
        "Hello {contact_name},\n\nThank you for your interest in {vendor}. We pass your enquiry to the partner best placed to help you, who will contact you at this address.\n\nThe {vendor} team",
        vendor = workspace.name
    );
    let subject = format!("Your enquiry to {}", workspace.name);
    queue_email(&mut tx, &workspace_id, NewEmail::from_text("lead_enquiry_received", email, subject, text), now).await?;
    if caught_by_honeypot {
        tx.execute(sql!("ROLLBACK TO SAVEPOINT enquiry")).await?;
        let entry = AuditEntry::new("lead.discarded", "program", program.id.as_str()).set("reason", "honeypot");
        audit::record(&mut tx, &scope, now, entry).await?;
    } else {
        tx.execute(sql!("RELEASE SAVEPOINT enquiry")).await?;
        let entry = AuditEntry::new("lead.enquiry_received", "lead", lead.id.as_str()).set("program_id", json!(program.id));
        audit::record(&mut tx, &scope, now, entry).await?;
    }
    tx.commit().await?;
    Ok(())
}
