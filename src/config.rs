//! Settings: one typed struct from flags and environment variables, checked at start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Where the data lives; shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL (`sqlite://…` or `postgres://…`); defaults to SQLite in the data folder.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Folder for the embedded database and generated keys.
    #[arg(long, env = "EMBHUB_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Most open database connections (PostgreSQL).
    #[arg(
        long,
        env = "EMBHUB_DB_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub db_max_connections: u32,

    /// Log format; JSON by default in production, pretty otherwise.
    #[arg(long, env = "EMBHUB_LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,
}

impl DatabaseArgs {
    /// The database URL to use, creating the data folder for the SQLite default.
    pub fn resolve(&self) -> anyhow::Result<DatabaseSettings> {
        let url = match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ => {
                std::fs::create_dir_all(&self.data_dir).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot create the data folder {}: {e}",
                        self.data_dir.display()
                    )
                })?;
                format!(
                    "sqlite://{}?mode=rwc",
                    self.data_dir.join("embhub.db").display()
                )
            }
        };
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            anyhow::bail!("DATABASE_URL must start with sqlite:, postgres:// or postgresql://");
        }
        if self.db_max_connections == 0 {
            anyhow::bail!("EMBHUB_DB_MAX_CONNECTIONS must be at least 1");
        }
        Ok(DatabaseSettings {
            url,
            max_connections: self.db_max_connections,
        })
    }
}

/// A checked database configuration.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
}

/// Options of `embhub serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "EMBHUB_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Production mode: no GraphiQL, introspection or field suggestions; JSON logs.
    #[arg(long, env = "EMBHUB_PRODUCTION")]
    pub production: bool,

    /// Load the demo data before serving (idempotent).
    #[arg(long)]
    pub demo: bool,

    /// How often invitations past their respond-by are marked EXPIRED, in seconds.
    #[arg(long, env = "EMBHUB_EXPIRY_SWEEP_SECS", default_value_t = 60)]
    pub expiry_sweep_secs: u64,

    /// Longest a request may take, in seconds.
    #[arg(long, env = "EMBHUB_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    #[command(flatten)]
    pub auth: AuthArgs,
}

/// Token settings.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// `iss` of issued tokens, and the only issuer accepted.
    #[arg(long, env = "EMBHUB_TOKEN_ISSUER", default_value = "embhub")]
    pub token_issuer: String,

    /// `aud` of issued tokens, and the only audience accepted.
    #[arg(long, env = "EMBHUB_TOKEN_AUDIENCE", default_value = "embhub-api")]
    pub token_audience: String,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "EMBHUB_TOKEN_TTL_SECS", default_value_t = 900)]
    pub token_ttl_secs: u64,

    /// PEM file (PKCS#8) of the Ed25519 signing key; generated in the data folder if unset.
    #[arg(long, env = "EMBHUB_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,

    /// Further PEM public keys still accepted for verification during a key rotation.
    #[arg(long, env = "EMBHUB_VERIFICATION_KEY_FILES", value_delimiter = ',')]
    pub verification_key_files: Vec<PathBuf>,

    /// How often a token's client is re-checked for revocation, in seconds (at most 60).
    #[arg(long, env = "EMBHUB_REVOCATION_CHECK_SECS", default_value_t = 30)]
    pub revocation_check_secs: u64,
}

/// Everything `serve` needs, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub production: bool,
    pub request_timeout: Duration,
    /// How often invitations past their respond-by are marked EXPIRED.
    pub expiry_sweep_interval: Duration,
    pub database: DatabaseSettings,
    pub data_dir: PathBuf,
    pub auth: AuthSettings,
}

/// Checked token settings.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub issuer: String,
    pub audience: String,
    pub token_ttl: Duration,
    pub signing_key_file: Option<PathBuf>,
    pub verification_key_files: Vec<PathBuf>,
    /// A revoked client's tokens stop working within this interval.
    pub revocation_check_interval: Duration,
}

impl Settings {
    pub fn from_args(db: &DatabaseArgs, serve: &ServeArgs) -> anyhow::Result<Self> {
        if !(60..=86_400).contains(&serve.auth.token_ttl_secs) {
            anyhow::bail!("EMBHUB_TOKEN_TTL_SECS must be between 60 and 86400");
        }
        if serve.auth.revocation_check_secs > 60 {
            anyhow::bail!("EMBHUB_REVOCATION_CHECK_SECS must be at most 60");
        }
        if serve.expiry_sweep_secs == 0 {
            anyhow::bail!("EMBHUB_EXPIRY_SWEEP_SECS must be at least 1");
        }
        if serve.request_timeout_secs == 0 {
            anyhow::bail!("EMBHUB_REQUEST_TIMEOUT_SECS must be at least 1");
        }
        Ok(Self {
            bind: serve.bind,
            production: serve.production,
            request_timeout: Duration::from_secs(serve.request_timeout_secs),
            expiry_sweep_interval: Duration::from_secs(serve.expiry_sweep_secs),
            database: db.resolve()?,
            data_dir: db.data_dir.clone(),
            auth: AuthSettings {
                issuer: serve.auth.token_issuer.clone(),
                audience: serve.auth.token_audience.clone(),
                token_ttl: Duration::from_secs(serve.auth.token_ttl_secs),
                signing_key_file: serve.auth.signing_key_file.clone(),
                verification_key_files: serve.auth.verification_key_files.clone(),
                revocation_check_interval: Duration::from_secs(serve.auth.revocation_check_secs),
            },
        })
    }
}
