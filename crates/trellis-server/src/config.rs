//! Configuration: command-line flags, then environment variables (`TRELLIS_*`, `DATABASE_URL`),
//! then an optional TOML file (`--config` / `TRELLIS_CONFIG`), then defaults. Secrets may be read
//! from files: `DATABASE_URL_FILE` holds the database URL (it may carry a password).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

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
        Ok(Self {
            bind,
            database_url,
            public_url: public_url.trim_end_matches('/').to_owned(),
            trust_forwarded_for: overrides.trust_forwarded_for.or(file.trust_forwarded_for).unwrap_or(false),
            log: overrides.log.or(file.log).unwrap_or_else(|| "info,sqlx=warn,tower_http=info".to_owned()),
            log_json: log_format == "json",
            data_dir: overrides.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        })
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

# Log filter (tracing env-filter syntax) and format ("text" or "json").
#                                                        env: TRELLIS_LOG, TRELLIS_LOG_FORMAT
log = "info,sqlx=warn,tower_http=info"
log_format = "text"
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
    fn unknown_settings_in_the_file_are_an_error() {
        assert!(toml::from_str::<FileConfig>("databse_url = 'x'").is_err());
    }
}
