//! Transactional email, the writing half: an email is written to the `emails` outbox and its
//! [`SendEmail`] job enqueued in the transaction of the change that causes it, so a rolled-back
//! change sends nothing and a committed one cannot lose its email. Delivery is [`crate::email`].

use serde::{Deserialize, Serialize};
use trellis_core::{Email, EmailId, Result, Timestamp, UserId, WorkspaceId};
use trellis_db::{Tx, sql};

use crate::job::{Job, JobOptions, enqueue};

/// Delivers one email of the outbox, with the handler every [`crate::Registry`] has. The job's
/// workspace is the email's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendEmail {
    pub email_id: EmailId,
}

impl Job for SendEmail {
    const KIND: &'static str = "send_email";
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
    /// The signed-in person whose request queued the email (`emails.caused_by_user_id`): a
    /// channel manager's outbox lists the emails they caused. `None` for the system's emails.
    pub caused_by: Option<UserId>,
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
        Self { kind, to, subject: subject.into(), text, html, caused_by: None }
    }

    /// The email as caused by `user` (the request's signed-in person, `Scope::user_id`).
    pub fn caused_by(mut self, user: Option<&UserId>) -> Self {
        self.caused_by = user.cloned();
        self
    }
}

pub(crate) fn escape_html(text: &str) -> String {
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
        "INSERT INTO emails (workspace_id, id, kind, to_address, subject, text_body, html_body, status, created_at, secret, caused_by_user_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9, $10)",
        workspace_id,
        id,
        email.kind,
        email.to,
        email.subject,
        email.text,
        email.html,
        now,
        secret,
        email.caused_by
    ))
    .await?;
    enqueue_delivery(tx, workspace_id, &id, now).await?;
    Ok(id)
}

/// Enqueues the delivery of an email, once: the dedupe key names the email.
async fn enqueue_delivery(tx: &mut Tx, workspace_id: &WorkspaceId, email_id: &EmailId, now: Timestamp) -> Result<()> {
    let options = JobOptions::in_workspace(workspace_id, now).dedupe_key(delivery_dedupe_key(email_id));
    enqueue(tx, &SendEmail { email_id: email_id.clone() }, options, now).await?;
    Ok(())
}

/// Enqueues a fresh delivery of an email that failed or was kept in the outbox, inside the
/// caller's transaction (which sets the email back to `queued`). The finished delivery job holds
/// the dedupe key, so it is replaced.
pub async fn queue_delivery_again(tx: &mut Tx, workspace_id: &WorkspaceId, email_id: &EmailId, now: Timestamp) -> Result<()> {
    tx.execute(sql!("DELETE FROM jobs WHERE dedupe_key = $1 AND status IN ('done', 'failed')", delivery_dedupe_key(email_id))).await?;
    enqueue_delivery(tx, workspace_id, email_id, now).await
}

fn delivery_dedupe_key(email_id: &EmailId) -> String {
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
