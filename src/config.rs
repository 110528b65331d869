//! Settings: one typed struct from flags and environment variables, checked at start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::auth::key_store::KeyEncryptionKey;

mod people;
pub use people::{PeopleArgs, PeopleSettings, parse_origin};

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

    /// Longest a request waits for a free database connection, in milliseconds; past
    /// it the request fails with 503 instead of queueing behind a stuck database.
    #[arg(
        long,
        env = "EMBHUB_DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = 2000,
        global = true
    )]
    pub db_acquire_timeout_ms: u64,

    /// Log format; JSON by default in production, pretty otherwise.
    #[arg(long, env = "EMBHUB_LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,

    /// File holding the data key (32 random bytes in base64, `openssl rand
    /// -base64 32`) that seals participants' personal data, the same on every
    /// instance. Unset: generated in the data folder (refused in production).
    #[arg(long, env = "EMBHUB_DATA_KEY_FILE", global = true)]
    pub data_key_file: Option<PathBuf>,
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
        if !(50..=60_000).contains(&self.db_acquire_timeout_ms) {
            anyhow::bail!("EMBHUB_DB_ACQUIRE_TIMEOUT_MS must be between 50 and 60000");
        }
        Ok(DatabaseSettings {
            url,
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
        })
    }
}

/// A checked database configuration.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    /// How long a request may wait for a pooled connection before failing with 503.
    pub acquire_timeout: Duration,
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

    /// Days after an event's end its participants' personal data is kept (a host
    /// may shorten it per event); then the sweep erases it.
    #[arg(long, env = "EMBHUB_PERSONAL_DATA_RETENTION_DAYS", default_value_t = PersonalDataSettings::DEFAULT_RETENTION_DAYS)]
    pub personal_data_retention_days: u32,

    /// How long a GraphQL batch loader gathers keys before it queries, in ms.
    #[arg(long, env = "EMBHUB_LOADER_BATCH_WINDOW_MS", default_value_t = 2)]
    pub loader_batch_window_ms: u64,

    /// Longest a request may take, in seconds.
    #[arg(long, env = "EMBHUB_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    #[command(flatten)]
    pub auth: AuthArgs,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub subscriptions: SubscriptionArgs,

    #[command(flatten)]
    pub webhooks: WebhookArgs,

    #[command(flatten)]
    pub people: PeopleArgs,
}

/// GraphQL subscriptions over WebSocket.
#[derive(Debug, Clone, Args)]
pub struct SubscriptionArgs {
    /// Seconds a new WebSocket gets to send `connection_init` (closed with 4408 after).
    #[arg(long, env = "EMBHUB_WS_INIT_TIMEOUT_SECS", default_value_t = 10)]
    pub ws_init_timeout_secs: u64,

    /// Most open WebSockets per API client (per instance).
    #[arg(long, env = "EMBHUB_WS_MAX_CONNECTIONS_PER_CLIENT", default_value_t = SubscriptionSettings::default().max_connections_per_client)]
    pub ws_max_connections_per_client: usize,

    /// Most subscriptions running on one WebSocket.
    #[arg(long, env = "EMBHUB_WS_MAX_SUBSCRIPTIONS", default_value_t = SubscriptionSettings::default().max_subscriptions_per_connection)]
    pub ws_max_subscriptions: usize,

    /// Largest message a client may send over a WebSocket, in bytes.
    #[arg(long, env = "EMBHUB_WS_MAX_MESSAGE_BYTES", default_value_t = SubscriptionSettings::default().max_message_bytes)]
    pub ws_max_message_bytes: usize,

    /// Changes a subscriber may fall behind before it is sent RESYNC.
    #[arg(long, env = "EMBHUB_WS_BUFFER", default_value_t = SubscriptionSettings::default().buffer)]
    pub ws_buffer: usize,
}

/// Checked subscription settings.
#[derive(Debug, Clone)]
pub struct SubscriptionSettings {
    /// Closed with 4408 when `connection_init` has not come within this time.
    pub init_timeout: Duration,
    pub max_connections_per_client: usize,
    pub max_subscriptions_per_connection: usize,
    pub max_message_bytes: usize,
    /// Changes a subscriber may lag before it is told to resync.
    pub buffer: usize,
    /// How often the server pings an idle socket (dead peers are found and closed).
    pub keepalive: Duration,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        Self {
            init_timeout: Duration::from_secs(10),
            max_connections_per_client: 20,
            max_subscriptions_per_connection: 50,
            max_message_bytes: 64 * 1024,
            buffer: 1024,
            keepalive: Duration::from_secs(30),
        }
    }
}

impl SubscriptionArgs {
    fn resolve(&self) -> anyhow::Result<SubscriptionSettings> {
        if !(1..=300).contains(&self.ws_init_timeout_secs) {
            anyhow::bail!("EMBHUB_WS_INIT_TIMEOUT_SECS must be between 1 and 300");
        }
        if self.ws_max_connections_per_client == 0 || self.ws_max_subscriptions == 0 {
            anyhow::bail!(
                "EMBHUB_WS_MAX_CONNECTIONS_PER_CLIENT and EMBHUB_WS_MAX_SUBSCRIPTIONS must be at least 1"
            );
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.ws_max_message_bytes) {
            anyhow::bail!("EMBHUB_WS_MAX_MESSAGE_BYTES must be between 1024 and 16777216");
        }
        if !(1..=1_000_000).contains(&self.ws_buffer) {
            anyhow::bail!("EMBHUB_WS_BUFFER must be between 1 and 1000000");
        }
        Ok(SubscriptionSettings {
            init_timeout: Duration::from_secs(self.ws_init_timeout_secs),
            max_connections_per_client: self.ws_max_connections_per_client,
            max_subscriptions_per_connection: self.ws_max_subscriptions,
            max_message_bytes: self.ws_max_message_bytes,
            buffer: self.ws_buffer,
            ..SubscriptionSettings::default()
        })
    }
}

/// Limits against abuse; every default is safe for a public deployment.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Largest request body, in bytes (413 beyond).
    #[arg(long, env = "EMBHUB_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
    pub max_body_bytes: usize,

    /// Largest GraphQL document (the `query` text), in bytes (413 beyond).
    #[arg(long, env = "EMBHUB_MAX_DOCUMENT_BYTES", default_value_t = Limits::default().query.max_document_bytes)]
    pub max_document_bytes: usize,

    /// Deepest nesting of fields in an operation.
    #[arg(long, env = "EMBHUB_MAX_DEPTH", default_value_t = Limits::default().query.max_depth)]
    pub max_depth: usize,

    /// Highest complexity of an operation: each field costs 1 and a paginated field
    /// multiplies the cost of its selection by its page size.
    #[arg(long, env = "EMBHUB_MAX_COMPLEXITY", default_value_t = Limits::default().query.max_complexity)]
    pub max_complexity: usize,

    /// Most aliased fields in an operation.
    #[arg(long, env = "EMBHUB_MAX_ALIASES", default_value_t = Limits::default().query.max_aliases)]
    pub max_aliases: usize,

    /// Most directives in an operation.
    #[arg(long, env = "EMBHUB_MAX_DIRECTIVES", default_value_t = Limits::default().query.max_directives)]
    pub max_directives: usize,

    /// Most operations in one request; 1 turns batching (a JSON array body) off.
    #[arg(long, env = "EMBHUB_MAX_BATCH_SIZE", default_value_t = Limits::default().max_batch_size)]
    pub max_batch_size: usize,

    /// Largest total size of the request headers, in bytes (431 beyond).
    #[arg(long, env = "EMBHUB_MAX_HEADER_BYTES", default_value_t = Limits::default().max_header_bytes)]
    pub max_header_bytes: usize,

    /// GraphQL rate limit: tokens each client earns per minute (a query costs 1).
    #[arg(long, env = "EMBHUB_RATE_LIMIT_PER_MINUTE", default_value_t = Limits::default().rate.per_minute)]
    pub rate_limit_per_minute: u32,

    /// GraphQL rate limit: most tokens a client can save up (its burst).
    #[arg(long, env = "EMBHUB_RATE_LIMIT_BURST", default_value_t = Limits::default().rate.burst)]
    pub rate_limit_burst: u32,

    /// Tokens a mutation costs (a query costs 1).
    #[arg(long, env = "EMBHUB_RATE_LIMIT_MUTATION_COST", default_value_t = Limits::default().rate.mutation_cost)]
    pub rate_limit_mutation_cost: u32,

    /// Token endpoint: attempts per minute for one client id.
    #[arg(long, env = "EMBHUB_TOKEN_RATE_LIMIT_PER_MINUTE", default_value_t = Limits::default().rate.token_per_client_per_minute)]
    pub token_rate_limit_per_minute: u32,

    /// Token endpoint: attempts per minute from one IP address (0 turns it off, e.g.
    /// behind a proxy that hides client addresses).
    #[arg(long, env = "EMBHUB_TOKEN_IP_RATE_LIMIT_PER_MINUTE", default_value_t = Limits::default().rate.token_per_ip_per_minute)]
    pub token_ip_rate_limit_per_minute: u32,

    /// Static bearer token a scraper may use for `/metrics` (ADMIN access tokens
    /// work too; without either, `/metrics` is 401).
    #[arg(long, env = "EMBHUB_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
}

/// Limits on one GraphQL operation, checked before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    pub max_document_bytes: usize,
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_directives: usize,
}

/// Per-client token buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub per_minute: u32,
    pub burst: u32,
    pub mutation_cost: u32,
    pub token_per_client_per_minute: u32,
    pub token_per_ip_per_minute: u32,
}

/// Every limit against abuse, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_batch_size: usize,
    pub max_header_bytes: usize,
    pub query: QueryLimits,
    pub rate: RateLimits,
    pub metrics_token: Option<String>,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Limits::default().query
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 128 * 1024,
            max_batch_size: 1,
            max_header_bytes: 16 * 1024,
            query: QueryLimits {
                max_document_bytes: 16 * 1024,
                max_depth: 10,
                max_complexity: 10_000,
                max_aliases: 20,
                max_directives: 50,
            },
            rate: RateLimits {
                per_minute: 600,
                burst: 120,
                mutation_cost: 5,
                token_per_client_per_minute: 20,
                token_per_ip_per_minute: 60,
            },
            metrics_token: None,
        }
    }
}

impl LimitArgs {
    /// Checks each limit against a range that keeps the server both safe and usable.
    pub fn resolve(&self) -> anyhow::Result<Limits> {
        fn within<T: PartialOrd + std::fmt::Display>(
            name: &str,
            value: T,
            min: T,
            max: T,
        ) -> anyhow::Result<T> {
            if value < min || value > max {
                anyhow::bail!("{name} must be between {min} and {max}");
            }
            Ok(value)
        }
        let limits = Limits {
            max_body_bytes: within("EMBHUB_MAX_BODY_BYTES", self.max_body_bytes, 1024, 16 << 20)?,
            max_batch_size: within("EMBHUB_MAX_BATCH_SIZE", self.max_batch_size, 1, 50)?,
            max_header_bytes: within(
                "EMBHUB_MAX_HEADER_BYTES",
                self.max_header_bytes,
                1024,
                256 * 1024,
            )?,
            query: QueryLimits {
                max_document_bytes: within(
                    "EMBHUB_MAX_DOCUMENT_BYTES",
                    self.max_document_bytes,
                    256,
                    1 << 20,
                )?,
                max_depth: within("EMBHUB_MAX_DEPTH", self.max_depth, 2, 50)?,
                max_complexity: within(
                    "EMBHUB_MAX_COMPLEXITY",
                    self.max_complexity,
                    10,
                    10_000_000,
                )?,
                max_aliases: within("EMBHUB_MAX_ALIASES", self.max_aliases, 0, 1000)?,
                max_directives: within("EMBHUB_MAX_DIRECTIVES", self.max_directives, 0, 1000)?,
            },
            rate: RateLimits {
                per_minute: within(
                    "EMBHUB_RATE_LIMIT_PER_MINUTE",
                    self.rate_limit_per_minute,
                    1,
                    1_000_000,
                )?,
                burst: within(
                    "EMBHUB_RATE_LIMIT_BURST",
                    self.rate_limit_burst,
                    1,
                    1_000_000,
                )?,
                mutation_cost: within(
                    "EMBHUB_RATE_LIMIT_MUTATION_COST",
                    self.rate_limit_mutation_cost,
                    1,
                    1000,
                )?,
                token_per_client_per_minute: within(
                    "EMBHUB_TOKEN_RATE_LIMIT_PER_MINUTE",
                    self.token_rate_limit_per_minute,
                    1,
                    10_000,
                )?,
                token_per_ip_per_minute: within(
                    "EMBHUB_TOKEN_IP_RATE_LIMIT_PER_MINUTE",
                    self.token_ip_rate_limit_per_minute,
                    0,
                    100_000,
                )?,
            },
            metrics_token: self.metrics_token.clone().filter(|t| !t.trim().is_empty()),
        };
        if limits.rate.mutation_cost > limits.rate.burst {
            anyhow::bail!(
                "EMBHUB_RATE_LIMIT_MUTATION_COST must not exceed EMBHUB_RATE_LIMIT_BURST, or no mutation could ever run"
            );
        }
        if limits.query.max_document_bytes > limits.max_body_bytes {
            anyhow::bail!("EMBHUB_MAX_DOCUMENT_BYTES must not exceed EMBHUB_MAX_BODY_BYTES");
        }
        Ok(limits)
    }
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

    /// PEM file (PKCS#8) of the Ed25519 signing key. Unset: kept in the database
    /// under the key-encryption key, or else generated in the data folder.
    #[arg(long, env = "EMBHUB_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,

    /// Key-encryption key: 32 random bytes in base64 (`openssl rand -base64 32`),
    /// the same on every instance. With it the token signing key is kept in the
    /// database, sealed with AES-256-GCM, so all instances on one database share it.
    #[arg(long, env = "EMBHUB_KEY_ENCRYPTION_KEY", hide_env_values = true)]
    pub key_encryption_key: Option<String>,

    /// File holding the key-encryption key (e.g. a Docker secret), instead of
    /// `EMBHUB_KEY_ENCRYPTION_KEY`.
    #[arg(
        long,
        env = "EMBHUB_KEY_ENCRYPTION_KEY_FILE",
        conflicts_with = "key_encryption_key"
    )]
    pub key_encryption_key_file: Option<PathBuf>,

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
    /// How long a GraphQL batch loader gathers keys before it queries.
    pub loader_batch_window: Duration,
    pub database: DatabaseSettings,
    pub data_dir: PathBuf,
    pub auth: AuthSettings,
    pub limits: Limits,
    pub subscriptions: SubscriptionSettings,
    pub webhooks: WebhookSettings,
    /// Browser origins (CORS) and OpenID Connect issuers.
    pub people: PeopleSettings,
    pub personal_data: PersonalDataSettings,
}

/// Participants' personal data: its key and how long it is kept.
#[derive(Debug, Clone)]
pub struct PersonalDataSettings {
    /// The data key file; `None` generates one in the data folder.
    pub data_key_file: Option<PathBuf>,
    /// Days after an event's end personal data is kept.
    pub retention_days: u32,
    /// How often a server reloads the data keys (picking up a rotation's new
    /// key for sealing; an unknown key met while reading reloads at once).
    pub key_refresh: Duration,
}

impl PersonalDataSettings {
    /// The retention when none is configured.
    pub const DEFAULT_RETENTION_DAYS: u32 = 90;
    /// The key reload interval; `embhub keys rotate-data-key` waits longer.
    pub const KEY_REFRESH: Duration = Duration::from_secs(10);

    /// The defaults, with `data_key_file`.
    pub fn new(data_key_file: Option<PathBuf>) -> Self {
        Self {
            data_key_file,
            retention_days: Self::DEFAULT_RETENTION_DAYS,
            key_refresh: Self::KEY_REFRESH,
        }
    }
}

/// Checked token settings.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub issuer: String,
    pub audience: String,
    pub token_ttl: Duration,
    pub signing_key_file: Option<PathBuf>,
    /// Seals the signing key kept in the database (when no key file is given).
    pub key_encryption_key: Option<KeyEncryptionKey>,
    pub verification_key_files: Vec<PathBuf>,
    /// A revoked client's tokens stop working within this interval.
    pub revocation_check_interval: Duration,
}

impl AuthArgs {
    /// The key-encryption key from the variable or the file, checked.
    fn resolve_key_encryption_key(&self) -> anyhow::Result<Option<KeyEncryptionKey>> {
        if let Some(path) = &self.key_encryption_key_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!(
                    "cannot read EMBHUB_KEY_ENCRYPTION_KEY_FILE {}: {e}",
                    path.display()
                )
            })?;
            return KeyEncryptionKey::parse(&text, "EMBHUB_KEY_ENCRYPTION_KEY_FILE").map(Some);
        }
        match self.key_encryption_key.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => KeyEncryptionKey::parse(text, "EMBHUB_KEY_ENCRYPTION_KEY").map(Some),
        }
    }
}

impl Settings {
    /// The defaults of `embhub serve` on `database_url`, listening on a random
    /// loopback port: for embedding the server in tests and benchmarks.
    pub fn local(database_url: String, data_dir: PathBuf) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            production: false,
            request_timeout: Duration::from_secs(30),
            expiry_sweep_interval: Duration::from_secs(60),
            loader_batch_window: Duration::from_millis(2),
            database: DatabaseSettings {
                url: database_url,
                max_connections: 10,
                acquire_timeout: Duration::from_millis(2000),
            },
            data_dir,
            auth: AuthSettings {
                issuer: "embhub".into(),
                audience: "embhub-api".into(),
                token_ttl: Duration::from_secs(900),
                signing_key_file: None,
                key_encryption_key: None,
                verification_key_files: Vec::new(),
                revocation_check_interval: Duration::from_secs(30),
            },
            limits: Limits::default(),
            subscriptions: SubscriptionSettings::default(),
            webhooks: WebhookSettings::default(),
            people: PeopleSettings::default(),
            personal_data: PersonalDataSettings::new(None),
        }
    }

    pub fn from_args(db: &DatabaseArgs, serve: &ServeArgs) -> anyhow::Result<Self> {
        if !(60..=86_400).contains(&serve.auth.token_ttl_secs) {
            anyhow::bail!("EMBHUB_TOKEN_TTL_SECS must be between 60 and 86400");
        }
        if serve.auth.revocation_check_secs > 60 {
            anyhow::bail!("EMBHUB_REVOCATION_CHECK_SECS must be at most 60");
        }
        if serve.loader_batch_window_ms > 100 {
            anyhow::bail!("EMBHUB_LOADER_BATCH_WINDOW_MS must be at most 100");
        }
        if serve.expiry_sweep_secs == 0 {
            anyhow::bail!("EMBHUB_EXPIRY_SWEEP_SECS must be at least 1");
        }
        if !(1..=600).contains(&serve.request_timeout_secs) {
            anyhow::bail!("EMBHUB_REQUEST_TIMEOUT_SECS must be between 1 and 600");
        }
        if !(1..=36_500).contains(&serve.personal_data_retention_days) {
            anyhow::bail!("EMBHUB_PERSONAL_DATA_RETENTION_DAYS must be between 1 and 36500");
        }
        Ok(Self {
            bind: serve.bind,
            production: serve.production,
            request_timeout: Duration::from_secs(serve.request_timeout_secs),
            expiry_sweep_interval: Duration::from_secs(serve.expiry_sweep_secs),
            loader_batch_window: Duration::from_millis(serve.loader_batch_window_ms),
            database: db.resolve()?,
            data_dir: db.data_dir.clone(),
            auth: AuthSettings {
                issuer: serve.auth.token_issuer.clone(),
                audience: serve.auth.token_audience.clone(),
                token_ttl: Duration::from_secs(serve.auth.token_ttl_secs),
                signing_key_file: serve.auth.signing_key_file.clone(),
                key_encryption_key: serve.auth.resolve_key_encryption_key()?,
                verification_key_files: serve.auth.verification_key_files.clone(),
                revocation_check_interval: Duration::from_secs(serve.auth.revocation_check_secs),
            },
            limits: serve.limits.resolve()?,
            subscriptions: serve.subscriptions.resolve()?,
            webhooks: serve.webhooks.resolve()?,
            people: serve.people.resolve()?,
            personal_data: PersonalDataSettings {
                retention_days: serve.personal_data_retention_days,
                ..PersonalDataSettings::new(db.data_key_file.clone())
            },
        })
    }
}

/// How webhooks are delivered.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Allow webhook URLs over plain http and to loopback, private, link-local and
    /// other internal addresses in production mode (always allowed outside it).
    #[arg(long, env = "EMBHUB_WEBHOOKS_ALLOW_PRIVATE")]
    pub webhooks_allow_private: bool,

    /// How often the webhook workers look for new changes and due deliveries, in ms.
    #[arg(long, env = "EMBHUB_WEBHOOK_POLL_MS", default_value_t = WebhookSettings::default().poll_interval.as_millis() as u64)]
    pub webhook_poll_ms: u64,

    /// Longest one delivery attempt may take (connect, send, response headers), in seconds.
    #[arg(long, env = "EMBHUB_WEBHOOK_TIMEOUT_SECS", default_value_t = WebhookSettings::default().timeout.as_secs())]
    pub webhook_timeout_secs: u64,

    /// Delay before the first retry, in ms; each further retry waits twice as
    /// long (at most 512 times this), with ±20% jitter.
    #[arg(long, env = "EMBHUB_WEBHOOK_RETRY_BASE_MS", default_value_t = WebhookSettings::default().retry_base.as_millis() as u64)]
    pub webhook_retry_base_ms: u64,

    /// Attempts per delivery before it is FAILED (the defaults span over 24 hours).
    #[arg(long, env = "EMBHUB_WEBHOOK_MAX_ATTEMPTS", default_value_t = WebhookSettings::default().max_attempts)]
    pub webhook_max_attempts: u32,

    /// Most deliveries one instance sends at once, to all endpoints together.
    #[arg(long, env = "EMBHUB_WEBHOOK_CONCURRENCY", default_value_t = WebhookSettings::default().concurrency)]
    pub webhook_concurrency: usize,

    /// Most deliveries one instance sends at once to one endpoint.
    #[arg(long, env = "EMBHUB_WEBHOOK_ENDPOINT_CONCURRENCY", default_value_t = WebhookSettings::default().endpoint_concurrency)]
    pub webhook_endpoint_concurrency: usize,
}

/// Checked webhook settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Allow http and internal addresses in production (see [`WebhookArgs`]).
    pub allow_private: bool,
    pub poll_interval: Duration,
    pub timeout: Duration,
    pub retry_base: Duration,
    pub max_attempts: u32,
    pub concurrency: usize,
    pub endpoint_concurrency: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            poll_interval: Duration::from_millis(1000),
            timeout: Duration::from_secs(10),
            // 30 s doubling to a cap of 4.3 h: 17 attempts span 27 to 41 hours.
            retry_base: Duration::from_secs(30),
            max_attempts: 17,
            concurrency: 32,
            endpoint_concurrency: 4,
        }
    }
}

impl WebhookArgs {
    /// Checks each setting against a range that keeps delivery bounded.
    pub fn resolve(&self) -> anyhow::Result<WebhookSettings> {
        fn within<T: PartialOrd + std::fmt::Display>(
            name: &str,
            value: T,
            min: T,
            max: T,
        ) -> anyhow::Result<T> {
            if value < min || value > max {
                anyhow::bail!("{name} must be between {min} and {max}");
            }
            Ok(value)
        }
        Ok(WebhookSettings {
            allow_private: self.webhooks_allow_private,
            poll_interval: Duration::from_millis(within(
                "EMBHUB_WEBHOOK_POLL_MS",
                self.webhook_poll_ms,
                10,
                60_000,
            )?),
            timeout: Duration::from_secs(within(
                "EMBHUB_WEBHOOK_TIMEOUT_SECS",
                self.webhook_timeout_secs,
                1,
                60,
            )?),
            retry_base: Duration::from_millis(within(
                "EMBHUB_WEBHOOK_RETRY_BASE_MS",
                self.webhook_retry_base_ms,
                1,
                3_600_000,
            )?),
            max_attempts: within(
                "EMBHUB_WEBHOOK_MAX_ATTEMPTS",
                self.webhook_max_attempts,
                1,
                100,
            )?,
            concurrency: within(
                "EMBHUB_WEBHOOK_CONCURRENCY",
                self.webhook_concurrency,
                1,
                1000,
            )?,
            endpoint_concurrency: within(
                "EMBHUB_WEBHOOK_ENDPOINT_CONCURRENCY",
                self.webhook_endpoint_concurrency,
                1,
                100,
            )?,
        })
    }
}
