//! Transactional email, the delivering half: messages are written to the `emails` outbox in the
//! transaction of the change ([`crate::queue_email`]), and the [`SendEmail`] job delivers them
//! over SMTP as multipart/alternative (plain text and HTML) — or leaves them in the outbox,
//! visible in the console, when no SMTP server is configured.

use std::fmt;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use trellis_core::{EmailId, Error, Result, WorkspaceId};
use trellis_db::sql;

use crate::job::JobContext;
use crate::outbox::{SendEmail, escape_html};
use crate::worker::{JOB_WORKER, JobRun};

/// What replaces a delivered email's one-time secret in the stored copy.
pub const SECRET_PLACEHOLDER: &str = "[link removed after delivery]";

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text: only for a server on the same machine or a test receiver.
    None,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

impl SmtpSecurity {
    fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::None => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        }
    }
}

/// Where and how to deliver email.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl SmtpConfig {
    /// Parses `smtp://[user[:password]@]host[:port][?tls=starttls|tls|none]` (`smtps://` means
    /// `tls=tls`). Without `tls`, `smtp://` requires STARTTLS. User and password are
    /// percent-decoded; the port defaults to 587, 465 or 25 by security.
    pub fn parse_url(text: &str) -> Result<Self, String> {
        let url = url::Url::parse(text).map_err(|e| format!("the SMTP URL is not a URL: {e}"))?;
        let mut security = match url.scheme() {
            "smtp" => SmtpSecurity::StartTls,
            "smtps" => SmtpSecurity::Tls,
            other => return Err(format!("the SMTP URL must start with smtp:// or smtps://, not {other}://")),
        };
        for (name, value) in url.query_pairs() {
            match (name.as_ref(), value.as_ref()) {
                ("tls", "starttls") => security = SmtpSecurity::StartTls,
                ("tls", "tls") => security = SmtpSecurity::Tls,
                ("tls", "none") => security = SmtpSecurity::None,
                ("tls", other) => return Err(format!("tls must be starttls, tls or none, not {other:?}")),
                (other, _) => return Err(format!("unknown SMTP URL parameter {other:?} (only tls is known)")),
            }
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or("the SMTP URL names no host")?;
        let decode = |part: &str| -> Result<String, String> {
            percent_decode(part).ok_or_else(|| "the SMTP URL's user or password is not valid percent-encoded UTF-8".to_owned())
        };
        let username = Some(url.username()).filter(|u| !u.is_empty()).map(decode).transpose()?;
        let password = url.password().map(decode).transpose()?;
        Ok(Self {
            host: host.trim_start_matches('[').trim_end_matches(']').to_owned(),
            port: url.port().unwrap_or(security.default_port()),
            security,
            username,
            password,
        })
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Delivers emails over SMTP, or keeps them in the outbox when there is no SMTP server.
pub struct Mailer {
    smtp: Option<Smtp>,
}

impl Mailer {
    /// No SMTP server: emails stay in the outbox (status `outbox`), shown in the console.
    pub fn outbox_only() -> Self {
        Self { smtp: None }
    }

    /// Delivers through `config` with `from` (e.g. `Acme Partners <partners@acme.example>`) as
    /// the sender. Call it inside a Tokio runtime: the SMTP connection pool runs a task.
    pub fn smtp(config: &SmtpConfig, from: &str) -> Result<Self, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("the sender address {from:?} is not valid: {e}"))?;
        let tls = |host: &str| TlsParameters::new(host.to_owned()).map_err(|e| format!("TLS set-up for {host} failed: {e}"));
        let tls = match config.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls(&config.host)?),
            SmtpSecurity::Tls => Tls::Wrapper(tls(&config.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
            .port(config.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(30)));
        if let Some(username) = &config.username {
            builder = builder.credentials(Credentials::new(username.clone(), config.password.clone().unwrap_or_default()));
        }
        Ok(Self { smtp: Some(Smtp { transport: builder.build(), from }) })
    }

    /// True when emails are delivered rather than kept in the outbox.
    pub fn delivers(&self) -> bool {
        self.smtp.is_some()
    }
}

impl Smtp {
    async fn send(&self, email_id: &EmailId, to: &str, subject: &str, text: &str, html: &str) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("the recipient {to:?} is not valid: {e}"))?;
        // A stable Message-ID: a retried delivery is recognisably the same message.
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{email_id}@{}>", self.from.email.domain())))
            .multipart(MultiPart::alternative_plain_html(text.to_owned(), html.to_owned()))
            .map_err(|e| format!("the message could not be built: {e}"))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| format!("SMTP: {e}"))
    }
}

/// The [`SendEmail`] handler: delivers the outbox row named by the job, at most once per success.
pub(crate) async fn deliver<C: JobContext>(ctx: &C, mailer: &Mailer, run: &JobRun, job: SendEmail) -> Result<()> {
    let workspace_id: &WorkspaceId = run.workspace()?;
    let SendEmail { email_id } = job;
    let mut tx = ctx.db().read_granted(&JOB_WORKER).await?;
    let row = tx
        .fetch_optional(sql!(
            "SELECT to_address, subject, text_body, html_body, status, secret FROM emails WHERE workspace_id = $1 AND id = $2",
            workspace_id,
            email_id
        ))
        .await?;
    tx.commit().await?;
    let row = row.ok_or_else(|| Error::Internal(format!("email {email_id} does not exist")))?;
    let status: String = row.get("status")?;
    if status != "queued" {
        // Delivered (or parked in the outbox) by an earlier run of this job.
        return Ok(());
    }
    let Some(smtp) = &mailer.smtp else {
        let mut tx = ctx.db().write_granted(&JOB_WORKER).await?;
        tx.execute(sql!(
            "UPDATE emails SET status = 'outbox' WHERE workspace_id = $1 AND id = $2 AND status = 'queued'",
            workspace_id,
            email_id
        ))
        .await?;
        tx.commit().await?;
        return Ok(());
    };
    let (to, subject, text, html): (String, String, String, String) =
        (row.get("to_address")?, row.get("subject")?, row.get("text_body")?, row.get("html_body")?);
    let secret: Option<String> = row.get("secret")?;
    // The network call happens outside any transaction (no writer held while waiting on SMTP).
    let sent = smtp.send(&email_id, &to, &subject, &text, &html).await;
    let now = ctx.now();
    let mut tx = ctx.db().write_granted(&JOB_WORKER).await?;
    match &sent {
        Ok(()) => {
            let (text, html) = match &secret {
                Some(secret) => (
                    text.replace(secret.as_str(), SECRET_PLACEHOLDER),
                    html.replace(secret.as_str(), SECRET_PLACEHOLDER).replace(&escape_html(secret), SECRET_PLACEHOLDER),
                ),
                None => (text, html),
            };
            tx.execute(sql!(
                "UPDATE emails SET status = 'sent', sent_at = $3, attempts = attempts + 1, last_error = NULL, text_body = $4, html_body = $5, secret = NULL
                 WHERE workspace_id = $1 AND id = $2",
                workspace_id,
                email_id,
                now,
                text,
                html
            ))
            .await?;
        }
        Err(message) => {
            let status = if run.is_last_attempt() { "failed" } else { "queued" };
            tx.execute(sql!(
                "UPDATE emails SET status = $3, attempts = attempts + 1, last_error = $4 WHERE workspace_id = $1 AND id = $2",
                workspace_id,
                email_id,
                status,
                message
            ))
            .await?;
        }
    }
    tx.commit().await?;
    sent.map_err(Error::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_name_host_port_security_and_decoded_credentials() {
        let config = SmtpConfig::parse_url("smtp://mailer%40acme.example:p%40ss%3Aword@smtp.acme.example").expect("parses");
        assert_eq!(config.host, "smtp.acme.example");
        assert_eq!(config.port, 587);
        assert_eq!(config.security, SmtpSecurity::StartTls);
        assert_eq!(config.username.as_deref(), Some("mailer@acme.example"));
        assert_eq!(config.password.as_deref(), Some("p@ss:word"));
        assert!(!format!("{config:?}").contains("p@ss"), "the password never reaches a log");

        let wrapped = SmtpConfig::parse_url("smtps://smtp.acme.example").expect("parses");
        assert_eq!((wrapped.port, wrapped.security, wrapped.username), (465, SmtpSecurity::Tls, None));
        let local = SmtpConfig::parse_url("smtp://127.0.0.1:2525?tls=none").expect("parses");
        assert_eq!((local.host.as_str(), local.port, local.security), ("127.0.0.1", 2525, SmtpSecurity::None));
    }

    #[test]
    fn malformed_smtp_urls_say_what_is_wrong() {
        assert!(SmtpConfig::parse_url("http://smtp.acme.example").expect_err("wrong scheme").contains("smtp://"));
        assert!(SmtpConfig::parse_url("smtp://smtp.acme.example?tls=maybe").expect_err("unknown tls").contains("starttls"));
        assert!(SmtpConfig::parse_url("smtp://smtp.acme.example?secure=1").expect_err("unknown parameter").contains("secure"));
        assert!(SmtpConfig::parse_url("not a url").is_err());
    }

    // The connection pool starts a task, so a mailer is built inside a runtime.
    #[tokio::test]
    async fn a_mailer_needs_a_valid_sender() {
        let config = SmtpConfig::parse_url("smtp://127.0.0.1:2525?tls=none").expect("parses");
        assert!(Mailer::smtp(&config, "Acme Partners <partners@acme.example>").is_ok_and(|m| m.delivers()));
        assert!(Mailer::smtp(&config, "not an address").is_err());
        let secured = SmtpConfig::parse_url("smtps://smtp.acme.example").expect("parses");
        assert!(Mailer::smtp(&secured, "partners@acme.example").is_ok(), "TLS parameters build with the bundled roots and ring");
        assert!(!Mailer::outbox_only().delivers());
    }
}
