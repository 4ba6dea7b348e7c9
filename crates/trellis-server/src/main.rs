//! `trellis`: the one binary. See `trellis --help` and README.md.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use trellis_core::SystemClock;
use trellis_server::config::{self, FileConfig, Overrides, Settings};
use trellis_web::WebConfig;

#[derive(Parser)]
#[command(name = "trellis", version, about = "Trellis: open-source partner relationship management")]
struct Cli {
    /// A TOML configuration file (see `trellis config example`).
    #[arg(long, env = "TRELLIS_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// sqlite://FILE (default sqlite://trellis.db) or postgres://…
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// A file holding the database URL (for secrets managers).
    #[arg(long, env = "DATABASE_URL_FILE", global = true)]
    database_url_file: Option<PathBuf>,
    /// Log filter, e.g. "info" or "debug,sqlx=warn".
    #[arg(long, env = "TRELLIS_LOG", global = true)]
    log: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "TRELLIS_LOG_FORMAT", global = true)]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Default)]
struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "TRELLIS_BIND")]
    bind: Option<String>,
    /// The address people reach Trellis at (invitation links; page forms are taken only from its
    /// origin; https turns on Secure cookies).
    #[arg(long, env = "TRELLIS_PUBLIC_URL")]
    public_url: Option<String>,
    /// Take the client address from X-Forwarded-For (only behind your own reverse proxy).
    #[arg(long, env = "TRELLIS_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: Option<bool>,
    /// With --trust-forwarded-for: how many reverse proxies stand in front of Trellis (default 1);
    /// the client is that many X-Forwarded-For entries from the right.
    #[arg(long, env = "TRELLIS_TRUSTED_PROXY_HOPS")]
    trusted_proxy_hops: Option<usize>,
    /// With --trust-forwarded-for: the networks of your proxies (CIDRs, comma-separated), instead
    /// of a hop count; the client is the rightmost X-Forwarded-For entry outside them.
    #[arg(long, env = "TRELLIS_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Option<Vec<String>>,
    /// Where uploaded files are kept (default ./trellis-data).
    #[arg(long, env = "TRELLIS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Seconds a request holds its Idempotency-Key before a retry may take the key over (default 30).
    #[arg(long, env = "TRELLIS_IDEMPOTENCY_LEASE_SECONDS")]
    idempotency_lease_seconds: Option<i64>,
    /// The SMTP server for email: smtp://user:password@host:587 (STARTTLS), smtps://…:465 (TLS),
    /// or smtp://host:25?tls=none. Without one, emails stay in the console's outbox.
    #[arg(long, env = "TRELLIS_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// A file holding the SMTP password (wins over a password in the URL).
    #[arg(long, env = "TRELLIS_SMTP_PASSWORD_FILE")]
    smtp_password_file: Option<PathBuf>,
    /// The sender of every email, e.g. "Acme Partners <partners@acme.example>" (required with SMTP).
    #[arg(long, env = "TRELLIS_MAIL_FROM")]
    mail_from: Option<String>,
    /// The key partners' bank details are encrypted with: 64 hex characters (`openssl rand -hex
    /// 32`). Without it payout methods cannot be set; `trellis demo` then uses a published demo key.
    #[arg(long, env = "TRELLIS_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// A file holding that key (secrets managers).
    #[arg(long, env = "TRELLIS_SECRET_KEY_FILE")]
    secret_key_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (applies pending migrations first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a workspace and its owner; prints one JSON line with a workspace API key.
    Bootstrap {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        owner_email: String,
        #[arg(long, env = "TRELLIS_OWNER_PASSWORD", hide_env_values = true, required_unless_present = "owner_password_file")]
        owner_password: Option<String>,
        /// Read the owner's password from a file instead (secrets managers).
        #[arg(long, env = "TRELLIS_OWNER_PASSWORD_FILE")]
        owner_password_file: Option<PathBuf>,
        #[arg(long, default_value = "USD")]
        default_currency: String,
    },
    /// API key operations.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Run the server with a demo workspace (SQLite file trellis-demo.db unless --database-url).
    Demo(ServeArgs),
    /// Audit trail operations.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Money ledger operations.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the OpenAPI document (as served at /api/openapi.json), to generate a client or check
    /// the document without a running server or a database.
    Openapi,
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a workspace key acting as an existing staff member; prints {"api_key": "trl_…"}.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        user_email: String,
        #[arg(long, default_value = "operator")]
        name: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify every workspace's hash chain; exits 1 if any is broken.
    Verify,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Recompute every balance from the postings and check that every entry balances; prints a
    /// one-line summary, and exits 1 listing the differences if anything does not hold.
    Verify,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a commented example configuration file.
    Example,
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a person at a terminal, never in a file, a pipe or a log collector.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if settings.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Config(ConfigCommand::Example) = &cli.command {
        print!("{}", config::EXAMPLE);
        return Ok(());
    }
    if let Command::Openapi = &cli.command {
        println!("{}", serde_json::to_string_pretty(&trellis_api::router().1)?);
        return Ok(());
    }
    let serve_args = match &cli.command {
        Command::Serve(a) | Command::Demo(a) => a.clone(),
        _ => ServeArgs::default(),
    };
    let mut database_url = cli.database_url.clone();
    if matches!(cli.command, Command::Demo(_)) && database_url.is_none() && cli.database_url_file.is_none() {
        database_url = Some("sqlite://trellis-demo.db".to_owned());
    }
    let overrides = Overrides {
        bind: serve_args.bind,
        database_url,
        database_url_file: cli.database_url_file.clone(),
        public_url: serve_args.public_url,
        trust_forwarded_for: serve_args.trust_forwarded_for,
        trusted_proxy_hops: serve_args.trusted_proxy_hops,
        trusted_proxies: serve_args.trusted_proxies,
        log: cli.log.clone(),
        log_format: cli.log_format.clone(),
        data_dir: serve_args.data_dir,
        idempotency_lease_seconds: serve_args.idempotency_lease_seconds,
        smtp_url: serve_args.smtp_url,
        smtp_password_file: serve_args.smtp_password_file,
        mail_from: serve_args.mail_from,
        secret_key: serve_args.secret_key,
        secret_key_file: serve_args.secret_key_file,
    };
    let mut settings = Settings::resolve(overrides, FileConfig::load(cli.config.as_deref())?)?;
    if matches!(cli.command, Command::Demo(_)) {
        settings.public_url = config::demo_public_url(&settings.bind, &settings.public_url);
    }
    init_logging(&settings);
    if settings.public_url.contains("://0.0.0.0") || settings.public_url.contains("://[::]") {
        // Browsers never send this origin, so every page form would be refused.
        tracing::warn!(
            public_url = %settings.public_url,
            "the public URL is the listen address, which browsers cannot use: set --public-url / TRELLIS_PUBLIC_URL to the address people open, or page forms (sign-in included) are refused"
        );
    }
    let web = WebConfig {
        public_url: settings.public_url.clone(),
        trust_forwarded_for: settings.trust_forwarded_for,
        trusted_proxies: settings.trusted_proxies.clone(),
        data_dir: settings.data_dir.clone(),
        idempotency_lease_seconds: settings.idempotency_lease_seconds,
        emails_delivered: settings.mailer()?.delivers(),
    };
    let secret_key = match (&cli.command, &settings.secret_key) {
        (Command::Demo(_), None) => {
            tracing::warn!("no TRELLIS_SECRET_KEY: the demo seals bank details with its published demo key, fit for demo data only");
            Some(trellis_server::demo::demo_secret_key())
        }
        (_, key) => key.clone(),
    };
    let state = trellis_server::connect(&settings.database_url, web, Arc::new(SystemClock), secret_key)
        .await
        .with_context(|| "connecting to the database (check --database-url / DATABASE_URL)")?;
    match cli.command {
        Command::Serve(_) => run_server(&settings, state).await,
        Command::Demo(_) => {
            trellis_server::check_secret_key(&state.ctx).await?;
            let logins = trellis_server::demo::seed(&state.ctx).await?;
            let listener = tokio::net::TcpListener::bind(&settings.bind).await.with_context(|| format!("binding {}", settings.bind))?;
            start_job_worker(&settings, &state)?;
            trellis_server::start_indexes(&state.ctx);
            println!("{}", trellis_server::demo::banner(&settings.public_url, &logins));
            let ctx = state.ctx.clone();
            trellis_server::serve(listener, trellis_server::build_router(state)).await?;
            trellis_server::flush_clicks(&ctx).await;
            Ok(())
        }
        Command::Migrate => {
            println!("migrations applied to {}", redact(&settings.database_url));
            Ok(())
        }
        Command::Bootstrap { workspace, owner_email, owner_password, owner_password_file, default_currency } => {
            let owner_password = match (owner_password, owner_password_file) {
                (Some(password), _) => password,
                (None, Some(path)) => config::read_secret_file(&path)?,
                (None, None) => anyhow::bail!("--owner-password or --owner-password-file is required"),
            };
            let created = trellis_identity::workspaces::bootstrap(&state.ctx, &workspace, &owner_email, &owner_password, &default_currency)
                .await
                .map_err(describe)?;
            println!("{}", serde_json::to_string(&created)?);
            Ok(())
        }
        Command::ApiKey(ApiKeyCommand::Create { workspace, user_email, name }) => {
            let workspace_id = trellis_core::WorkspaceId::parse(&workspace).context("--workspace must be a workspace id (wks_…)")?;
            let secret = trellis_identity::api_keys::create_for_member_by_operator(&state.ctx, &workspace_id, &user_email, &name)
                .await
                .map_err(describe)?;
            println!("{}", serde_json::json!({ "api_key": secret }));
            Ok(())
        }
        Command::Audit(AuditCommand::Verify) => {
            let reports = trellis_identity::audit::verify_all(state.ctx.db()).await.map_err(describe)?;
            let mut broken = false;
            for report in reports {
                match report.broken_at {
                    None => println!("ok      {} ({} events)", report.workspace_id, report.events),
                    Some((seq, what)) => {
                        broken = true;
                        println!("BROKEN  {} at event {seq}: {what}", report.workspace_id);
                    }
                }
            }
            if broken {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Ledger(LedgerCommand::Verify) => {
            let report = trellis_incentives::ledger::verify(&state.ctx).await.map_err(describe)?;
            for problem in report.problems() {
                println!("{problem}");
            }
            println!("{}", report.summary());
            if !report.is_clean() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Config(_) | Command::Openapi => Ok(()),
    }
}

/// Starts the background job worker (email delivery, schedules) of `serve` and `demo`.
fn start_job_worker(settings: &Settings, state: &trellis_web::AppState) -> anyhow::Result<()> {
    let mailer = settings.mailer()?;
    match &settings.smtp {
        Some(smtp) => tracing::info!(host = %smtp.host, port = smtp.port, security = ?smtp.security, "emails are delivered over SMTP"),
        None => tracing::info!("no SMTP server is configured (TRELLIS_SMTP_URL): emails stay in the console's outbox"),
    }
    trellis_jobs::spawn_worker(state.ctx.clone(), Arc::new(trellis_server::jobs::registry(mailer)));
    Ok(())
}

async fn run_server(settings: &Settings, state: trellis_web::AppState) -> anyhow::Result<()> {
    trellis_server::check_secret_key(&state.ctx).await?;
    let listener = tokio::net::TcpListener::bind(&settings.bind).await.with_context(|| format!("binding {}", settings.bind))?;
    start_job_worker(settings, &state)?;
    trellis_server::start_indexes(&state.ctx);
    tracing::info!(url = %settings.public_url, database = %redact(&settings.database_url), "trellis is listening");
    let ctx = state.ctx.clone();
    trellis_server::serve(listener, trellis_server::build_router(state)).await?;
    trellis_server::flush_clicks(&ctx).await;
    Ok(())
}

/// Turns a domain error into a message for the operator.
fn describe(err: trellis_core::Error) -> anyhow::Error {
    match err {
        trellis_core::Error::Validation(errors) => {
            anyhow::anyhow!(errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))
        }
        other => anyhow::anyhow!(other.to_string()),
    }
}

/// The database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}
