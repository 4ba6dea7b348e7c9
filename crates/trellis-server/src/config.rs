//! Configuration: command-line flags, then environment variables (`TRELLIS_*`, `DATABASE_URL`),
//! then an optional TOML file (`--config` / `TRELLIS_CONFIG`), then defaults. Secrets may be read
//! from files: `DATABASE_URL_FILE` holds the database URL (it may carry a password),
//! `TRELLIS_SMTP_PASSWORD_FILE` the SMTP password.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use trellis_jobs::{Mailer, SmtpConfig};

/// The settings a TOML file may hold (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bind: Option<String>,
    pub database_url: Option<String>,
    pub database_url_file: Option<PathBuf>,
    pub public_url: Option<String>,
    pub trust_forwarded_for: Option<bool>,
    pub log: Option<String>,
    pub log_format: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub idempotency_lease_seconds: Option<i64>,
    pub smtp_url: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    pub mail_from: Option<String>,
}

impl FileConfig {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else { return Ok(Self::default()) };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading the configuration file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing the configuration file {}", path.display()))
    }
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: String,
    pub database_url: String,
    pub public_url: String,
    pub trust_forwarded_for: bool,
    pub log: String,
    pub log_json: bool,
    pub data_dir: PathBuf,
    /// Seconds an `Idempotency-Key` claim holds before a retry may take it over.
    pub idempotency_lease_seconds: i64,
    /// Where email goes; `None` keeps emails in the console's outbox.
    pub smtp: Option<SmtpConfig>,
    /// The sender of every email (required with an SMTP server).
    pub mail_from: Option<String>,
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://trellis.db";
pub const DEFAULT_DATA_DIR: &str = "./trellis-data";

/// Reads a secret from a file, trimming the trailing newline editors add.
pub fn read_secret_file(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the secret file {}", path.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// Values given on the command line or in the environment (clap reads both).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub bind: Option<String>,
    pub database_url: Option<String>,
    pub database_url_file: Option<PathBuf>,
    pub public_url: Option<String>,
    pub trust_forwarded_for: Option<bool>,
    pub log: Option<String>,
    pub log_format: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub idempotency_lease_seconds: Option<i64>,
    pub smtp_url: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    pub mail_from: Option<String>,
}

impl Settings {
    pub fn resolve(overrides: Overrides, file: FileConfig) -> anyhow::Result<Self> {
        let bind = overrides.bind.or(file.bind).unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let url_file = overrides.database_url_file.or(file.database_url_file);
        let database_url = match (overrides.database_url, url_file, file.database_url) {
            (Some(url), _, _) => url,
            (None, Some(path), _) => read_secret_file(&path)?,
            (None, None, Some(url)) => url,
            (None, None, None) => DEFAULT_DATABASE_URL.to_owned(),
        };
        let public_url = overrides.public_url.or(file.public_url).unwrap_or_else(|| format!("http://{bind}"));
        let log_format = overrides.log_format.or(file.log_format).unwrap_or_else(|| "text".to_owned());
        if log_format != "text" && log_format != "json" {
            anyhow::bail!("log format must be \"text\" or \"json\", not {log_format:?}");
        }
        let smtp = match overrides.smtp_url.or(file.smtp_url).filter(|url| !url.trim().is_empty()) {
            Some(url) => {
                let mut smtp = SmtpConfig::parse_url(url.trim()).map_err(|e| anyhow::anyhow!("TRELLIS_SMTP_URL / smtp_url: {e}"))?;
                if let Some(path) = overrides.smtp_password_file.or(file.smtp_password_file) {
                    smtp.password = Some(read_secret_file(&path)?);
                }
                Some(smtp)
            }
            None => None,
        };
        let idempotency_lease_seconds = overrides
            .idempotency_lease_seconds
            .or(file.idempotency_lease_seconds)
            .unwrap_or(trellis_api::middleware::IDEMPOTENCY_LEASE_SECONDS);
        if !(1..=3600).contains(&idempotency_lease_seconds) {
            anyhow::bail!("the idempotency lease must be 1 to 3600 seconds, not {idempotency_lease_seconds}");
        }
        let mail_from = overrides.mail_from.or(file.mail_from).filter(|from| !from.trim().is_empty());
        if smtp.is_some() && mail_from.is_none() {
            anyhow::bail!(
                "an SMTP server needs a sender address: set TRELLIS_MAIL_FROM / mail_from, e.g. \"Acme Partners <partners@acme.example>\""
            );
        }
        Ok(Self {
            bind,
            database_url,
            public_url: public_url.trim_end_matches('/').to_owned(),
            trust_forwarded_for: overrides.trust_forwarded_for.or(file.trust_forwarded_for).unwrap_or(false),
            log: overrides.log.or(file.log).unwrap_or_else(|| "info,sqlx=warn,tower_http=info".to_owned()),
            log_json: log_format == "json",
            data_dir: overrides.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            idempotency_lease_seconds,
            smtp,
            mail_from,
        })
    }

    /// The mailer of these settings: SMTP when configured, the outbox otherwise. Call it inside
    /// the runtime (the SMTP connection pool runs a task).
    pub fn mailer(&self) -> anyhow::Result<Mailer> {
        match (&self.smtp, &self.mail_from) {
            (Some(smtp), Some(from)) => Mailer::smtp(smtp, from).map_err(|e| anyhow::anyhow!("TRELLIS_MAIL_FROM / mail_from: {e}")),
            _ => Ok(Mailer::outbox_only()),
        }
    }
}

/// The commented example printed by `trellis config example`.
pub const EXAMPLE: &str = r#"# Trellis configuration file (TOML). Every setting is optional.
# Precedence: command-line flag > environment variable > this file > default.
# Point Trellis at this file with `--config trellis.toml` or TRELLIS_CONFIG=trellis.toml.

# Address and port to listen on.                       env: TRELLIS_BIND
bind = "127.0.0.1:8080"

# Database. sqlite://FILE (created if missing; the default) or postgres://user:pass@host/db.
#                                                        env: DATABASE_URL
database_url = "sqlite://trellis.db"

# Read the database URL from a file instead (keeps the password out of this file and the
# environment; e.g. a Docker or systemd secret).          env: DATABASE_URL_FILE
# database_url_file = "/run/secrets/trellis_database_url"

# The address people reach Trellis at. Invitation links are built from it; an https:// URL turns
# on Secure cookies with the __Host- prefix and HSTS.     env: TRELLIS_PUBLIC_URL
# public_url = "https://partners.example.com"

# Take the client address from X-Forwarded-For. Only behind a reverse proxy you control.
#                                                        env: TRELLIS_TRUST_FORWARDED_FOR
trust_forwarded_for = false

# Where uploaded files (logos, contract and licence documents) are kept; created if missing.
# Back it up with the database.                          env: TRELLIS_DATA_DIR
data_dir = "./trellis-data"

# Seconds a request holds its Idempotency-Key: a retry sooner is told 409 with Retry-After; once
# it passes (the request died with the server), a retry runs the request.
#                                                        env: TRELLIS_IDEMPOTENCY_LEASE_SECONDS
idempotency_lease_seconds = 30

# Log filter (tracing env-filter syntax) and format ("text" or "json").
#                                                        env: TRELLIS_LOG, TRELLIS_LOG_FORMAT
log = "info,sqlx=warn,tower_http=info"
log_format = "text"

# Email (invitations, applications, reminders) goes through an SMTP server. Without one, emails
# stay in the console's outbox (Outbox page), where an administrator can read and pass them on.
#   smtp://user:password@host:587                STARTTLS, required (the default for smtp://)
#   smtps://user:password@host:465               TLS from the start
#   smtp://127.0.0.1:25?tls=none                 plain, only for a server on this machine
# Percent-encode special characters of the user and password (@ is %40).
#                                                        env: TRELLIS_SMTP_URL
# smtp_url = "smtp://partners%40acme.example@smtp.acme.example:587"

# Read the SMTP password from a file instead of the URL.  env: TRELLIS_SMTP_PASSWORD_FILE
# smtp_password_file = "/run/secrets/trellis_smtp_password"

# The sender of every email; required with an SMTP server.
#                                                        env: TRELLIS_MAIL_FROM
# mail_from = "Acme Partners <partners@acme.example>"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_flags_win_over_the_file() {
        let file: FileConfig = toml::from_str(EXAMPLE).expect("example parses");
        let settings = Settings::resolve(Overrides { bind: Some("0.0.0.0:9000".into()), ..Overrides::default() }, file).expect("resolves");
        assert_eq!(settings.bind, "0.0.0.0:9000");
        assert_eq!(settings.database_url, "sqlite://trellis.db");
        assert_eq!(settings.public_url, "http://0.0.0.0:9000");
        assert_eq!(settings.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    }

    #[test]
    fn the_database_url_can_come_from_a_secret_file() {
        let dir = std::env::temp_dir().join(format!("trellis-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("url");
        std::fs::write(&path, "postgres://u:secret@db/trellis\n").expect("write");
        let settings = Settings::resolve(Overrides { database_url_file: Some(path), ..Overrides::default() }, FileConfig::default())
            .expect("resolves");
        assert_eq!(settings.database_url, "postgres://u:secret@db/trellis");
    }

    #[test]
    fn smtp_settings_combine_the_url_the_password_file_and_the_sender() {
        let dir = std::env::temp_dir().join(format!("trellis-smtp-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("smtp_password");
        std::fs::write(&path, "from-the-file\n").expect("write");
        let file: FileConfig = toml::from_str(
            "smtp_url = 'smtp://mailer:from-the-url@smtp.acme.example'\nmail_from = 'Acme Partners <partners@acme.example>'",
        )
        .expect("parses");
        let settings = Settings::resolve(Overrides { smtp_password_file: Some(path), ..Overrides::default() }, file).expect("resolves");
        let smtp = settings.smtp.expect("smtp configured");
        assert_eq!((smtp.host.as_str(), smtp.port, smtp.password.as_deref()), ("smtp.acme.example", 587, Some("from-the-file")));
        assert_eq!(settings.mail_from.as_deref(), Some("Acme Partners <partners@acme.example>"));
    }

    #[test]
    fn an_smtp_server_without_a_sender_or_with_a_bad_url_is_refused() {
        let without_sender = Overrides { smtp_url: Some("smtp://smtp.acme.example".into()), ..Overrides::default() };
        let err = Settings::resolve(without_sender, FileConfig::default()).expect_err("needs a sender");
        assert!(err.to_string().contains("TRELLIS_MAIL_FROM"), "{err}");
        let bad = Overrides { smtp_url: Some("smtp://smtp.acme.example?tls=sometimes".into()), ..Overrides::default() };
        assert!(Settings::resolve(bad, FileConfig::default()).is_err());
        let none = Settings::resolve(Overrides::default(), FileConfig::default()).expect("resolves");
        assert!(none.smtp.is_none(), "without a URL, emails stay in the outbox");
    }

    #[test]
    fn unknown_settings_in_the_file_are_an_error() {
        assert!(toml::from_str::<FileConfig>("databse_url = 'x'").is_err());
    }
}
