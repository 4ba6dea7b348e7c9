//! Transactional email: messages are written to the `emails` outbox in the transaction of the
//! change, and a `send_email` job delivers them over SMTP (or leaves them in the outbox, visible in
//! the console, when no SMTP server is configured).

use trellis_core::{Email, EmailId, Result, Timestamp, WorkspaceId};
use trellis_db::{Tx, sql};

use crate::{NewJob, enqueue};

/// The job kind that delivers one email.
pub const SEND_EMAIL: &str = "send_email";

/// An email to send, with a plain-text and an HTML body.
#[derive(Debug, Clone)]
pub struct NewEmail {
    /// What the email is about, e.g. `application_received` (for the outbox page and tests).
    pub kind: &'static str,
    pub to: Email,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl NewEmail {
    /// An email whose HTML body is the text, escaped, with paragraphs and line breaks kept.
    pub fn from_text(kind: &'static str, to: Email, subject: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let html = text
            .split("\n\n")
            .map(|paragraph| format!("<p>{}</p>", escape_html(paragraph).replace('\n', "<br>\n")))
            .collect::<Vec<_>>()
            .join("\n");
        let html = format!("<!doctype html>\n<html><body style=\"font-family: sans-serif; line-height: 1.5\">\n{html}\n</body></html>\n");
        Self { kind, to, subject: subject.into(), text, html }
    }
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Writes an email to the outbox and enqueues its delivery, inside the caller's transaction.
pub async fn queue_email(tx: &mut Tx, workspace_id: &WorkspaceId, email: NewEmail, now: Timestamp) -> Result<EmailId> {
    let id = EmailId::generate();
    tx.execute(sql!(
        "INSERT INTO emails (workspace_id, id, kind, to_address, subject, text_body, html_body, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8)",
        workspace_id,
        id,
        email.kind,
        email.to,
        email.subject,
        email.text,
        email.html,
        now
    ))
    .await?;
    let job = NewJob {
        workspace_id: Some(workspace_id.clone()),
        kind: SEND_EMAIL,
        payload: serde_json::json!({ "email_id": id }),
        run_at: now,
        dedupe_key: Some(format!("email:{id}")),
    };
    enqueue(tx, job, now).await?;
    Ok(id)
}
