//! Configuration: command-line flags, then environment variables (`TRELLIS_*`, `DATABASE_URL`),
//! then an optional TOML file (`--config` / `TRELLIS_CONFIG`), then defaults. Secrets may be read
//! from files: `DATABASE_URL_FILE` holds the database URL (it may carry a password),
//! `TRELLIS_SMTP_PASSWORD_FILE` the SMTP password, `TRELLIS_SECRET_KEY_FILE` the key payout
//! methods are sealed with (ADR 0018; never in the configuration file itself).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use trellis_incentives::secret_box::SecretKey;
use trellis_jobs::{Mailer, SmtpConfig};
use trellis_web::client_address::{ProxyNetwork, TrustedProxies};

/// The settings a TOML file may hold (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bind: Option<String>,
    pub database_url: Option<String>,
    pub database_url_file: Option<PathBuf>,
    pub public_url: Option<String>,
    pub trust_forwarded_for: Option<bool>,
    pub trusted_proxy_hops: Option<usize>,
    pub trusted_proxies: Option<Vec<String>>,
    pub log: Option<String>,
    pub log_format: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub idempotency_lease_seconds: Option<i64>,
    pub smtp_url: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    pub mail_from: Option<String>,
    pub secret_key_file: Option<PathBuf>,
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
    /// Which `X-Forwarded-For` entries to believe when `trust_forwarded_for` is on.
    pub trusted_proxies: TrustedProxies,
    pub log: String,
    pub log_json: bool,
    pub data_dir: PathBuf,
    /// Seconds an `Idempotency-Key` claim holds before a retry may take it over.
    pub idempotency_lease_seconds: i64,
    /// Where email goes; `None` keeps emails in the console's outbox.
    pub smtp: Option<SmtpConfig>,
    /// The sender of every email (required with an SMTP server).
    pub mail_from: Option<String>,
    /// The key payout methods are sealed with; without one none can be set (ADR 0018).
    pub secret_key: Option<SecretKey>,
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
    pub trusted_proxy_hops: Option<usize>,
    pub trusted_proxies: Option<Vec<String>>,
    pub log: Option<String>,
    pub log_format: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub idempotency_lease_seconds: Option<i64>,
    pub smtp_url: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    pub mail_from: Option<String>,
    pub secret_key: Option<String>,
    pub secret_key_file: Option<PathBuf>,
}

/// The trusted proxies of the settings: `trusted_proxies` (networks) or `trusted_proxy_hops`
/// (default 1), only together with `trust_forwarded_for` (issue 6, F4).
fn resolve_trusted_proxies(trust: bool, hops: Option<usize>, networks: Option<Vec<String>>) -> anyhow::Result<TrustedProxies> {
    let networks = networks.map(|list| list.into_iter().filter(|n| !n.trim().is_empty()).collect::<Vec<_>>()).filter(|l| !l.is_empty());
    if !trust && (hops.is_some() || networks.is_some()) {
        anyhow::bail!(
            "TRELLIS_TRUSTED_PROXY_HOPS / trusted_proxy_hops and TRELLIS_TRUSTED_PROXIES / trusted_proxies take effect only with TRELLIS_TRUST_FORWARDED_FOR / trust_forwarded_for = true"
        );
    }
    match (hops, networks) {
        (Some(_), Some(_)) => {
            anyhow::bail!(
                "set either TRELLIS_TRUSTED_PROXY_HOPS / trusted_proxy_hops or TRELLIS_TRUSTED_PROXIES / trusted_proxies, not both"
            )
        }
        (Some(0), None) => anyhow::bail!("TRELLIS_TRUSTED_PROXY_HOPS / trusted_proxy_hops must be at least 1"),
        (Some(hops), None) => Ok(TrustedProxies::Hops(hops)),
        (None, Some(list)) => list
            .iter()
            .map(|n| n.parse::<ProxyNetwork>())
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies::Networks)
            .map_err(|e| anyhow::anyhow!("TRELLIS_TRUSTED_PROXIES / trusted_proxies: {e}")),
        (None, None) => Ok(TrustedProxies::default()),
    }
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
        let secret_key = match (overrides.secret_key, overrides.secret_key_file.or(file.secret_key_file)) {
            (Some(text), _) => Some(text),
            (None, Some(path)) => Some(read_secret_file(&path)?),
            (None, None) => None,
        };
        let secret_key = secret_key
            .filter(|text| !text.trim().is_empty())
            .map(|text| SecretKey::parse_hex(&text).map_err(|e| anyhow::anyhow!("TRELLIS_SECRET_KEY / TRELLIS_SECRET_KEY_FILE: {e}")))
            .transpose()?;
        let trust_forwarded_for = overrides.trust_forwarded_for.or(file.trust_forwarded_for).unwrap_or(false);
        let trusted_proxies = resolve_trusted_proxies(
            trust_forwarded_for,
            overrides.trusted_proxy_hops.or(file.trusted_proxy_hops),
            overrides.trusted_proxies.or(file.trusted_proxies),
        )?;
        Ok(Self {
            bind,
            database_url,
            public_url: public_url.trim_end_matches('/').to_owned(),
            trust_forwarded_for,
            trusted_proxies,
            log: overrides.log.or(file.log).unwrap_or_else(|| "info,sqlx=warn,tower_http=info".to_owned()),
            log_json: log_format == "json",
            data_dir: overrides.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            idempotency_lease_seconds,
            smtp,
            mail_from,
            secret_key,
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

# The address people reach Trellis at. Invitation links are built from it, page forms are taken
# only from its origin; an https:// URL turns on Secure cookies with the __Host- prefix and HSTS.
#                                                        env: TRELLIS_PUBLIC_URL
# public_url = "https://partners.example.com"

# Take the client address from X-Forwarded-For. Only behind a reverse proxy you control.
#                                                        env: TRELLIS_TRUST_FORWARDED_FOR
trust_forwarded_for = false

# With trust_forwarded_for: which X-Forwarded-For entries your own proxies wrote, counted from
# the right (proxies append the address they saw; whatever is left of that came from the client).
# Either the number of proxies in front of Trellis (default 1)…
#                                                        env: TRELLIS_TRUSTED_PROXY_HOPS
# trusted_proxy_hops = 1
# …or the networks your proxies' addresses are in: every entry from the right inside them is
# skipped, the first address outside them is the client's.
#                                  env: TRELLIS_TRUSTED_PROXIES (comma-separated)
# trusted_proxies = ["10.0.0.0/8", "2001:db8:ffff::/48"]

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

# The key partners' bank details (payout methods) are encrypted with: a file holding 64 hex
# characters (32 bytes, e.g. `openssl rand -hex 32`). Or set TRELLIS_SECRET_KEY to the key itself.
# Without a key Trellis runs, but payout methods cannot be set; once some are stored, Trellis
# does not start without the key they were stored with. Back it up apart from the database.
#                                                        env: TRELLIS_SECRET_KEY_FILE
# secret_key_file = "/run/secrets/trellis_secret_key"
"#;

/// The demo on this machine's loopback address is served as `http://localhost:<port>` unless a
/// public URL was chosen: browsers offer passkeys only for a domain name (ADR 0027).
pub fn demo_public_url(bind: &str, public_url: &str) -> String {
    match bind.strip_prefix("127.0.0.1:") {
        Some(port) if public_url == format!("http://{bind}") => format!("http://localhost:{port}"),
        _ => public_url.to_owned(),
    }
}

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
    fn trusted_proxies_default_to_one_hop_and_take_hops_or_networks() {
        let trusting = || Overrides { trust_forwarded_for: Some(true), ..Overrides::default() };
        let default = Settings::resolve(trusting(), FileConfig::default()).expect("resolves");
        assert_eq!(default.trusted_proxies, TrustedProxies::Hops(1));
        let two = Settings::resolve(Overrides { trusted_proxy_hops: Some(2), ..trusting() }, FileConfig::default()).expect("resolves");
        assert_eq!(two.trusted_proxies, TrustedProxies::Hops(2));
        let file: FileConfig =
            toml::from_str("trust_forwarded_for = true\ntrusted_proxies = ['10.0.0.0/8', '2001:db8::1']").expect("parses");
        let networks = Settings::resolve(Overrides::default(), file).expect("resolves");
        let expected = ["10.0.0.0/8".parse().expect("net"), "2001:db8::1/128".parse().expect("net")];
        assert_eq!(networks.trusted_proxies, TrustedProxies::Networks(expected.to_vec()));
    }

    #[test]
    fn trusted_proxies_without_trust_both_at_once_zero_hops_or_a_bad_network_are_refused() {
        let trusting = || Overrides { trust_forwarded_for: Some(true), ..Overrides::default() };
        let cases = [
            Overrides { trusted_proxy_hops: Some(1), ..Overrides::default() },
            Overrides { trusted_proxies: Some(vec!["10.0.0.0/8".into()]), ..Overrides::default() },
            Overrides { trusted_proxy_hops: Some(1), trusted_proxies: Some(vec!["10.0.0.0/8".into()]), ..trusting() },
            Overrides { trusted_proxy_hops: Some(0), ..trusting() },
            Overrides { trusted_proxies: Some(vec!["10.0.0.0/40".into()]), ..trusting() },
            Overrides { trusted_proxies: Some(vec!["proxy.internal".into()]), ..trusting() },
        ];
        for case in cases {
            let shown = format!("{case:?}");
            assert!(Settings::resolve(case, FileConfig::default()).is_err(), "{shown}");
        }
    }

    #[test]
    fn the_secret_key_comes_from_the_environment_or_a_file_and_must_be_64_hex_characters() {
        let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let direct = Settings::resolve(Overrides { secret_key: Some(key.into()), ..Overrides::default() }, FileConfig::default());
        assert!(direct.expect("resolves").secret_key.is_some());
        let dir = std::env::temp_dir().join(format!("trellis-key-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("secret_key");
        std::fs::write(&path, format!("{key}\n")).expect("write");
        let file: FileConfig = toml::from_str(&format!("secret_key_file = {:?}", path.display().to_string())).expect("parses");
        assert!(Settings::resolve(Overrides::default(), file).expect("resolves").secret_key.is_some());
        let short = Overrides { secret_key: Some(key[..32].into()), ..Overrides::default() };
        let err = Settings::resolve(short, FileConfig::default()).expect_err("too short");
        assert!(err.to_string().contains("TRELLIS_SECRET_KEY"), "{err}");
        assert!(Settings::resolve(Overrides::default(), FileConfig::default()).expect("resolves").secret_key.is_none());
        assert!(toml::from_str::<FileConfig>(&format!("secret_key = '{key}'")).is_err(), "the key itself never sits in the file");
    }

    #[test]
    fn unknown_settings_in_the_file_are_an_error() {
        assert!(toml::from_str::<FileConfig>("databse_url = 'x'").is_err());
    }

    #[test]
    fn the_demo_on_loopback_is_served_at_localhost_unless_a_public_url_was_chosen() {
        assert_eq!(demo_public_url("127.0.0.1:8080", "http://127.0.0.1:8080"), "http://localhost:8080");
        assert_eq!(demo_public_url("127.0.0.1:9000", "https://partners.example.com"), "https://partners.example.com");
        assert_eq!(demo_public_url("0.0.0.0:8080", "http://0.0.0.0:8080"), "http://0.0.0.0:8080");
    }
}
