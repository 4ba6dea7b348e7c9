//! The writing half of background work: jobs and emails are inserted in the transaction of the
//! change that causes them (a transactional outbox), so a rolled-back change enqueues nothing and
//! a committed one cannot lose its email. The worker that runs jobs and delivers emails over SMTP
//! is `trellis-jobs`, which re-exports everything here.
//!
//! This lives in the identity crate, beside `audit::record`, because identity itself queues
//! emails (invitations) and `trellis-jobs` depends on identity for `Ctx` and `Scope`
//! (docs/decisions/0005-job-queue-and-email.md).

use trellis_core::{Email, EmailId, Result, Timestamp, WorkspaceId};
use trellis_db::{Tx, sql};

/// The job kind that delivers one email.
pub const SEND_EMAIL: &str = "send_email";

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The workspace the job works for (`None` for instance-wide work such as a schedule).
    pub workspace_id: Option<WorkspaceId>,
    /// What to run, e.g. `send_email`, `evaluate_tiers`: the kind a handler is registered for.
    pub kind: &'static str,
    pub payload: serde_json::Value,
    /// Not before this time.
    pub run_at: Timestamp,
    /// A job with a dedupe key is enqueued at most once, ever (e.g. `licence_reminder:lic_…:30`).
    pub dedupe_key: Option<String>,
}

/// Enqueues a job inside `tx`; with a dedupe key already used, nothing happens and the answer is
/// false.
pub async fn enqueue(tx: &mut Tx, job: NewJob, now: Timestamp) -> Result<bool> {
    let inserted = tx
        .execute(sql!(
            "INSERT INTO jobs (workspace_id, kind, payload, dedupe_key, status, run_at, created_at) VALUES ($1, $2, $3, $4, 'queued', $5, $6)
             ON CONFLICT (dedupe_key) DO NOTHING",
            job.workspace_id,
            job.kind,
            job.payload.to_string(),
            job.dedupe_key,
            job.run_at,
            now
        ))
        .await?;
    Ok(inserted == 1)
}

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
    /// An email whose HTML body is the text, escaped, with paragraphs and line breaks kept and
    /// `http(s)://` addresses turned into links.
    pub fn from_text(kind: &'static str, to: Email, subject: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let html = text
            .split("\n\n")
            .map(|paragraph| format!("<p>{}</p>", link_urls(&escape_html(paragraph)).replace('\n', "<br>\n")))
            .collect::<Vec<_>>()
            .join("\n");
        let html = format!("<!doctype html>\n<html><body>\n{html}\n</body></html>\n");
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

/// Wraps the `http://` and `https://` addresses of already escaped HTML in links. An address ends
/// at whitespace or at `&lt;`, `&gt;` and `&quot;`; escaping made every other character safe in
/// an attribute.
fn link_urls(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped;
    while let Some(start) = ["https://", "http://"].iter().filter_map(|scheme| rest.find(scheme)).min() {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let mut end = candidate.find(char::is_whitespace).unwrap_or(candidate.len());
        for stop in ["&lt;", "&gt;", "&quot;", "&#39;"] {
            if let Some(at) = candidate[..end].find(stop) {
                end = at;
            }
        }
        // A sentence's full stop or comma after an address is not part of it.
        let url = candidate[..end].trim_end_matches(['.', ',', ';', ':', ')', '!', '?']);
        out.push_str(&format!("<a href=\"{url}\">{url}</a>"));
        rest = &candidate[url.len()..];
    }
    out.push_str(rest);
    out
}

/// Writes an email to the outbox and enqueues its delivery, inside the caller's transaction.
pub async fn queue_email(tx: &mut Tx, workspace_id: &WorkspaceId, email: NewEmail, now: Timestamp) -> Result<EmailId> {
    insert_email(tx, workspace_id, email, None, now).await
}

/// Like [`queue_email`] for an email that carries a one-time secret (an invitation link): once the
/// email is delivered, the stored copy of the secret is replaced by a placeholder, so the outbox
/// does not keep a working link. Until then the outbox shows it: without SMTP, an administrator
/// passes it on by hand.
pub async fn queue_email_with_secret(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    email: NewEmail,
    secret: &str,
    now: Timestamp,
) -> Result<EmailId> {
    insert_email(tx, workspace_id, email, Some(secret), now).await
}

async fn insert_email(tx: &mut Tx, workspace_id: &WorkspaceId, email: NewEmail, secret: Option<&str>, now: Timestamp) -> Result<EmailId> {
    let id = EmailId::generate();
    tx.execute(sql!(
        "INSERT INTO emails (workspace_id, id, kind, to_address, subject, text_body, html_body, status, created_at, secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9)",
        workspace_id,
        id,
        email.kind,
        email.to,
        email.subject,
        email.text,
        email.html,
        now,
        secret
    ))
    .await?;
    enqueue(tx, send_email_job(workspace_id, &id, now), now).await?;
    Ok(id)
}

/// The delivery job of one email; its dedupe key makes delivery happen once.
pub fn send_email_job(workspace_id: &WorkspaceId, email_id: &EmailId, now: Timestamp) -> NewJob {
    NewJob {
        workspace_id: Some(workspace_id.clone()),
        kind: SEND_EMAIL,
        payload: serde_json::json!({ "email_id": email_id }),
        run_at: now,
        dedupe_key: Some(send_email_dedupe_key(email_id)),
    }
}

pub fn send_email_dedupe_key(email_id: &EmailId) -> String {
    format!("email:{email_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_html_body_escapes_the_text_and_links_its_addresses() {
        let to = Email::parse("ana@example.com").expect("email");
        let email = NewEmail::from_text("t", to, "s", "Hi <Ana> & co,\n\nOpen https://x.example/a?b=1&c=2.\nThanks");
        assert!(email.html.contains("<p>Hi &lt;Ana&gt; &amp; co,</p>"), "{}", email.html);
        assert!(
            email.html.contains(r#"Open <a href="https://x.example/a?b=1&amp;c=2">https://x.example/a?b=1&amp;c=2</a>.<br>"#),
            "{}",
            email.html
        );
    }

    #[test]
    fn an_address_stops_at_escaped_quotes_and_angle_brackets() {
        assert_eq!(
            link_urls("see &lt;http://a.example/x&gt; now"),
            r#"see &lt;<a href="http://a.example/x">http://a.example/x</a>&gt; now"#
        );
        assert_eq!(link_urls("no links here"), "no links here");
    }
}
