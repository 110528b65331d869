//! Building the application and running it until a shutdown signal.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::auth::keys::{KeySet, SigningKeySource};
use crate::auth::tokens::TokenService;
use crate::config::Settings;
use crate::feed::{ChangeFeed, FeedTasks};
use crate::graphql::{SchemaOptions, build_schema};
use crate::http::{
    self, AppState, AppStateInner, ClientRateLimiter, IpThrottle, Metrics, TokenThrottle,
};
use crate::service::clients::RevocationCache;
use crate::service::personal_data::{self, DataKeySource, DataKeys, PersonalData};
use crate::service::{invitations, webhooks};
use crate::{db, seed};

/// A bound, migrated, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    db: DatabaseConnection,
    address: SocketAddr,
    statements: Arc<AtomicU64>,
    expiry_sweep_interval: Duration,
    feed: ChangeFeed,
    feed_tasks: FeedTasks,
    /// Fan-out and delivery of webhooks, run beside the server.
    webhooks: webhooks::Workers,
    /// Participants' personal data: keys and retention.
    personal_data: PersonalData,
    /// How often the data keys are reloaded (a rotation's new key).
    data_key_refresh: Duration,
    /// How long in-flight requests get to finish after a shutdown signal.
    drain_timeout: std::time::Duration,
}

impl Application {
    /// Connects, migrates, loads keys and binds; `seed_demo` loads the demo world.
    pub async fn build(settings: Settings, seed_demo: bool) -> anyhow::Result<Self> {
        // Settings that cannot work are refused before anything else happens.
        let key_source = SigningKeySource::choose(&settings)?;
        let data_key_source = DataKeySource::choose(
            settings.personal_data.data_key_file.as_deref(),
            &settings.data_dir,
            settings.production,
        )?;
        let data_key = data_key_source.load()?;
        // Bind first: a busy port must fail before anything is written (the demo
        // seed prints secrets "shown only this once").
        let listener = TcpListener::bind(settings.bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
        let mut db = db::connect(&settings.database).await?;
        // Taken before the statement counter is attached: the webhook workers'
        // statements are not requests' (tests assert requests' counts).
        let webhook_db = db.clone();
        let statements = db::count_statements(&mut db);
        db::migrate(&db).await?;
        let data_keys = DataKeys::load_or_create(&webhook_db, data_key).await?;
        let sealed = personal_data::rotation::seal_legacy(&webhook_db, &data_keys, 500)
            .await
            .map_err(|e| anyhow::anyhow!("cannot seal personal data stored in the clear: {e:?}"))?;
        if sealed > 0 {
            tracing::info!(
                rows = sealed,
                "sealed personal data stored before encryption"
            );
        }
        let personal_data = PersonalData {
            keys: data_keys,
            retention_days: settings.personal_data.retention_days,
        };
        if seed_demo {
            let created = seed::demo(&db, &personal_data).await?;
            seed::print_clients(&created, false);
        }
        let signing_key = key_source.signing_key(&db).await?;
        let keys = KeySet::load(&signing_key, &settings.auth.verification_key_files)?;
        let tokens = TokenService::new(
            keys,
            settings.auth.issuer.clone(),
            settings.auth.audience.clone(),
            settings.auth.token_ttl,
        );
        if let Some(clash) = settings
            .people
            .oidc_issuers
            .iter()
            .find(|i| i.issuer == settings.auth.issuer)
        {
            anyhow::bail!(
                "the OpenID Connect issuer {:?} is embhub's own token issuer (EMBHUB_TOKEN_ISSUER)",
                clash.issuer
            );
        }
        let people = crate::auth::oidc::OidcIssuers::new(settings.people.oidc_issuers.clone())?;
        let limits = settings.limits.clone();
        let (feed, feed_tasks) = ChangeFeed::start(db.clone(), settings.subscriptions.buffer);
        let webhook_urls =
            webhooks::UrlPolicy::new(settings.production, settings.webhooks.allow_private);
        let webhooks = webhooks::Workers::new(webhook_db, settings.webhooks.clone(), webhook_urls)?;
        let state = AppState::new(AppStateInner {
            db: db.clone(),
            schema: build_schema(SchemaOptions {
                production: settings.production,
                limits: limits.query,
                webhook_urls,
            }),
            tokens: Arc::new(tokens),
            revocations: Arc::new(RevocationCache::new(
                settings.auth.revocation_check_interval,
            )),
            token_throttle: Arc::new(TokenThrottle::new(
                NonZeroU32::new(limits.rate.token_per_client_per_minute).unwrap_or(NonZeroU32::MIN),
            )),
            graphiql: !settings.production,
            rate_limiter: Arc::new(ClientRateLimiter::new(&limits.rate)),
            token_ip_throttle: Arc::new(IpThrottle::new(limits.rate.token_per_ip_per_minute)),
            metrics: Arc::new(Metrics::new()),
            request_timeout: settings.request_timeout,
            loader_batch_window: settings.loader_batch_window,
            documents: Default::default(),
            feed: feed.clone(),
            subscriptions: settings.subscriptions.clone(),
            sockets: Default::default(),
            cors_origins: Arc::new(settings.people.cors_origins.clone()),
            people: Arc::new(http::people::PeopleAuth::new(people)),
            limits: Arc::new(limits),
            personal_data: personal_data.clone(),
        });
        let router = http::router(state);
        let address = listener.local_addr()?;
        Ok(Self {
            listener,
            router,
            db,
            address,
            statements,
            expiry_sweep_interval: settings.expiry_sweep_interval,
            feed,
            feed_tasks,
            webhooks,
            personal_data,
            data_key_refresh: settings.personal_data.key_refresh,
            // A request is stopped at the request timeout anyway; a little more lets
            // its response reach the client.
            drain_timeout: settings.request_timeout + std::time::Duration::from_secs(5),
        })
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The database pool, for tests and operator tasks.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Participants' personal data: keys and retention (for tests and tools).
    pub fn personal_data(&self) -> &PersonalData {
        &self.personal_data
    }

    /// Committed changes as this instance hears them.
    pub fn feed(&self) -> ChangeFeed {
        self.feed.clone()
    }

    /// How many SQL statements the server has run so far.
    pub fn statement_counter(&self) -> Arc<AtomicU64> {
        self.statements.clone()
    }

    /// Serves until SIGINT or SIGTERM, letting in-flight requests finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then stops accepting connections and lets
    /// in-flight requests finish (for at most the request timeout and 5 seconds).
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(address = %self.address, "embhub listening");
        let sweeper = tokio::spawn(sweep_expired_invitations(
            self.db.clone(),
            self.feed.clone(),
            self.expiry_sweep_interval,
            self.personal_data.retention_days,
        ));
        let key_reloads = tokio::spawn(reload_data_keys(
            self.personal_data.keys.clone(),
            self.data_key_refresh,
        ));
        let webhooks = self.webhooks.start();
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            stop.await;
            let _ = stopping_tx.send(());
        };
        let server = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal);
        let drain_timeout = self.drain_timeout;
        let deadline = async move {
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(drain_timeout).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            result = server => result?,
            () = deadline => {
                tracing::warn!(?drain_timeout, "requests still running after the drain timeout; stopping anyway");
            }
        }
        sweeper.abort();
        key_reloads.abort();
        drop(self.feed_tasks);
        webhooks.stop();
        self.db.close().await.ok();
        tracing::info!("embhub stopped");
        Ok(())
    }
}

/// Writes EXPIRED on invitations past their respond-by, periodically. Reads are
/// already correct without it (they compute the status); the sweep makes the
/// stored status, filters by index and webhooks agree. Each round then erases
/// the personal data whose retention ended (see
/// [`personal_data::retention`]); both run once across instances.
async fn sweep_expired_invitations(
    db: DatabaseConnection,
    feed: ChangeFeed,
    every: Duration,
    retention_days: u32,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        ticks.tick().await;
        match invitations::sweep_expired(&db, &feed).await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "invitations expired"),
            Err(err) => tracing::warn!(error = ?err, "invitation expiry sweep failed"),
        }
        let today = chrono::Utc::now().date_naive();
        match personal_data::retention::sweep(&db, &feed, retention_days, today).await {
            Ok(swept) if swept.participants == 0 => {}
            Ok(swept) => tracing::info!(
                delegations = swept.delegations,
                participants = swept.participants,
                "personal data erased at the end of its retention"
            ),
            Err(err) => tracing::warn!(error = ?err, "personal data retention sweep failed"),
        }
    }
}

/// Reloads the data keys periodically, so this server seals with a rotation's
/// new key soon after it is added.
async fn reload_data_keys(keys: DataKeys, every: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        ticks.tick().await;
        if let Err(err) = keys.reload().await {
            tracing::warn!(error = ?err, "reloading the data keys failed");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; draining in-flight requests");
}
