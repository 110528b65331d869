//! `spawn_app()` and the requests tests make.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::Duration;

use embhub::auth::Role;
use embhub::config::Settings;
use embhub::domain::OrganizationKind;
use embhub::seed::{OrganizationSeed, ensure_organization};
use embhub::service::clients;
use embhub::startup::Application;
use futures::FutureExt;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use uuid::Uuid;

/// Which database a run uses.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres { admin_url: String },
}

/// The PostgreSQL server's admin URL, when `TEST_DATABASE_URL` names one.
fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// SQLite always; PostgreSQL too when `TEST_DATABASE_URL` names a server.
pub fn backends() -> Vec<Backend> {
    announce_backends();
    let mut all = vec![Backend::Sqlite];
    if let Some(url) = postgres_url() {
        all.push(Backend::Postgres { admin_url: url });
    }
    all
}

/// Says once, at the start of the suite and past the test harness's output
/// capture, which databases the tests run on, so a run that skipped PostgreSQL
/// cannot pass for one that covered it.
fn announce_backends() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::Write;
        let line = if postgres_url().is_some() {
            "api tests: every test runs on SQLite and on PostgreSQL (TEST_DATABASE_URL)"
        } else {
            "api tests: SQLite only; PostgreSQL is skipped (set TEST_DATABASE_URL=postgres://…/postgres to run it; PostgreSQL-only tests are listed as ignored)"
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    });
}

/// Runs `scenario` on a fresh PostgreSQL server and database only (for tests of
/// what only a server can do, e.g. go away). Such tests are `#[ignore]`d without
/// `TEST_DATABASE_URL`; run without it anyway, this fails rather than pass empty.
#[allow(dead_code)]
pub async fn on_postgres_with<C, F, Fut>(configure: C, scenario: F)
where
    C: Fn(&mut Settings),
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    announce_backends();
    let admin_url =
        postgres_url().expect("this test needs TEST_DATABASE_URL (a PostgreSQL server)");
    run_on(Backend::Postgres { admin_url }, &configure, &scenario).await;
}

/// Runs `scenario` once per backend, each on a fresh server and database.
pub async fn each_backend<F, Fut>(scenario: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    each_backend_with(|_| {}, scenario).await;
}

/// Like [`each_backend`], with the server's settings changed by `configure` first.
pub async fn each_backend_with<C, F, Fut>(configure: C, scenario: F)
where
    C: Fn(&mut Settings),
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in backends() {
        run_on(backend, &configure, &scenario).await;
    }
}

async fn run_on<C, F, Fut>(backend: Backend, configure: &C, scenario: &F)
where
    C: Fn(&mut Settings),
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    println!("backend: {backend:?}");
    let app = spawn_app_with(backend.clone(), configure).await;
    let cleanup = app.cleanup.clone();
    let stop = app.stop.clone();
    let outcome = AssertUnwindSafe(scenario(app)).catch_unwind().await;
    if let Some(stop) = stop.lock().ok().and_then(|mut s| s.take()) {
        let _ = stop.send(());
    }
    cleanup.run().await;
    if let Err(panic) = outcome {
        eprintln!("failed on backend {backend:?}");
        std::panic::resume_unwind(panic);
    }
}

/// What must be removed after a run.
#[derive(Clone)]
pub struct Cleanup {
    postgres: Option<(String, String)>,
}

impl Cleanup {
    async fn run(&self) {
        if let Some((admin_url, name)) = &self.postgres {
            // Give the server a moment to close its pool; FORCE handles stragglers.
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Ok(admin) = Database::connect(admin_url.as_str()).await {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
                let _ = admin.close().await;
            }
        }
    }
}

/// A running server and what tests need to talk to it.
pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub db: DatabaseConnection,
    pub data_dir: PathBuf,
    /// A client with the ADMIN role, for arranging organizations.
    pub admin_token: String,
    /// The organization the admin client belongs to.
    pub operator_org: Uuid,
    /// SQL statements the server has run.
    pub statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The server's change feed (for system work a test runs itself).
    pub feed: embhub::feed::ChangeFeed,
    /// The database the server runs on.
    pub database_url: String,
    /// The server's data keys and retention (for sweeps and rotations a test runs).
    pub personal_data: embhub::service::personal_data::PersonalData,
    stop: std::sync::Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>>,
    cleanup: Cleanup,
    _data: tempfile::TempDir,
}

/// A GraphQL response with its HTTP status.
#[derive(Debug)]
pub struct GqlResponse {
    pub status: u16,
    pub body: Value,
}

impl GqlResponse {
    /// The data, asserting there were no errors.
    pub fn data(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.body
        );
        &self.body["data"]
    }

    /// The code of the first error, asserting there was one.
    pub fn error_code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error, got {}", self.body))
    }

    /// The `field` of the first error.
    pub fn error_field(&self) -> &str {
        self.body["errors"][0]["extensions"]["field"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error naming a field, got {}", self.body))
    }
}

/// Client credentials as the CLI would print them.
pub struct Credentials {
    pub client_id: Uuid,
    pub secret: String,
}

/// Starts a server on port 0 with a fresh database on `backend`.
#[allow(dead_code)]
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Like [`spawn_app`], with the settings changed by `configure` before the start.
/// Tests get rate limits high enough never to matter unless they lower them.
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    capture_logs();
    let data = tempfile::tempdir().expect("temporary folder");
    let (url, postgres) = match &backend {
        Backend::Sqlite => (
            format!(
                "sqlite://{}?mode=rwc",
                data.path().join("embhub.db").display()
            ),
            None,
        ),
        Backend::Postgres { admin_url } => {
            let name = format!("embhub_test_{}", Uuid::new_v4().simple());
            let admin = Database::connect(admin_url.as_str())
                .await
                .expect("TEST_DATABASE_URL must name a reachable PostgreSQL server");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create the test database");
            admin.close().await.ok();
            let base = admin_url
                .rsplit_once('/')
                .map(|(base, _)| base)
                .expect("TEST_DATABASE_URL must end with a database name");
            (format!("{base}/{name}"), Some((admin_url.clone(), name)))
        }
    };
    let database_url = url.clone();
    let mut settings = Settings::local(url, data.path().to_path_buf());
    settings.expiry_sweep_interval = Duration::from_secs(3600);
    settings.database.max_connections = 5;
    settings.database.acquire_timeout = Duration::from_secs(5);
    settings.auth.revocation_check_interval = Duration::from_secs(1);
    settings.limits.rate.per_minute = 1_000_000;
    settings.limits.rate.burst = 1_000_000;
    settings.limits.rate.token_per_ip_per_minute = 100_000;
    configure(&mut settings);
    // Production refuses to start on PostgreSQL without a signing key every
    // instance shares (tests/api/instances.rs checks that); a production test
    // server gets one kept in its database, as a real deployment would.
    if settings.production
        && settings.auth.signing_key_file.is_none()
        && settings.auth.key_encryption_key.is_none()
    {
        settings.auth.key_encryption_key =
            Some(embhub::auth::key_store::KeyEncryptionKey::generate());
    }
    // Production also refuses to start without a data key file: give it one.
    if settings.production && settings.personal_data.data_key_file.is_none() {
        settings.personal_data.data_key_file = Some(production_data_key(data.path()));
    }
    let app = Application::build(settings, false)
        .await
        .expect("the application builds");
    let address = format!("http://{}", app.address());
    let db = app.db().clone();
    let statements = app.statement_counter();
    let feed = app.feed();
    let personal_data = app.personal_data().clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stop_rx.await;
    }));

    let operator = ensure_organization(
        &db,
        OrganizationSeed {
            kind: OrganizationKind::Other,
            name: "Test Operator",
            local_name: None,
            acronym: Some("OPS"),
            country_code: None,
            website: None,
            aweb_member: false,
        },
    )
    .await
    .expect("operator organization");
    let mut app = TestApp {
        address,
        http: reqwest::Client::new(),
        db,
        data_dir: data.path().to_path_buf(),
        admin_token: String::new(),
        operator_org: operator.id,
        statements,
        feed,
        database_url,
        personal_data,
        stop: std::sync::Arc::new(std::sync::Mutex::new(Some(stop_tx))),
        cleanup: Cleanup { postgres },
        _data: data,
    };
    app.admin_token = app.token_for(operator.id, &[Role::Admin]).await;
    app
}

/// A second server on a test's database and data folder (so with the same signing
/// key), as a second instance behind a load balancer; stopped when dropped.
#[allow(dead_code)]
pub struct Sibling {
    pub address: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TestApp {
    /// Starts a second instance on this test's database.
    #[allow(dead_code)]
    pub async fn sibling(&self) -> Sibling {
        self.sibling_with(|_| {}).await
    }

    /// Like [`sibling`](Self::sibling), with the settings changed by `configure`.
    #[allow(dead_code)]
    pub async fn sibling_with(&self, configure: impl FnOnce(&mut Settings)) -> Sibling {
        let mut settings = Settings::local(self.database_url.clone(), self.data_dir.clone());
        settings.database.max_connections = 5;
        settings.expiry_sweep_interval = Duration::from_secs(3600);
        settings.limits.rate.per_minute = 1_000_000;
        settings.limits.rate.burst = 1_000_000;
        configure(&mut settings);
        if settings.production && settings.personal_data.data_key_file.is_none() {
            settings.personal_data.data_key_file = Some(production_data_key(&self.data_dir));
        }
        let app = Application::build(settings, false)
            .await
            .expect("the second instance builds");
        let address = format!("http://{}", app.address());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Sibling {
            address,
            _stop: stop,
        }
    }

    /// The PostgreSQL server's admin URL and this run's database, on PostgreSQL.
    #[allow(dead_code)]
    pub fn postgres_database(&self) -> Option<(String, String)> {
        self.cleanup.postgres.clone()
    }

    /// Sends the server its shutdown signal (as SIGTERM would).
    #[allow(dead_code)]
    pub fn shutdown(&self) {
        if let Some(stop) = self.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = stop.send(());
        }
    }

    /// Registers an API client directly, as `embhub client create` does.
    pub async fn create_client(&self, organization_id: Uuid, roles: &[Role]) -> Credentials {
        let created = clients::register(&self.db, organization_id, roles, "test client")
            .await
            .expect("client registration");
        Credentials {
            client_id: created.info.id,
            secret: created.secret,
        }
    }

    /// POSTs a form to `/oauth/token`.
    pub async fn request_token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}/oauth/token", self.address))
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    /// An access token for `credentials`, through the token endpoint.
    pub async fn token(&self, credentials: &Credentials) -> String {
        let id = credentials.client_id.to_string();
        let response = self
            .request_token(&[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &credentials.secret),
            ])
            .await;
        assert_eq!(
            response.status(),
            200,
            "token endpoint refused valid credentials"
        );
        let body: Value = response.json().await.expect("token JSON");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A new client of `organization_id` with `roles`, and its token.
    pub async fn token_for(&self, organization_id: Uuid, roles: &[Role]) -> String {
        let credentials = self.create_client(organization_id, roles).await;
        self.token(&credentials).await
    }

    /// Runs a GraphQL operation with `token` (or none).
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> GqlResponse {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("GraphQL request");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        GqlResponse { status, body }
    }

    /// Creates an organization through the API as the admin; returns (global id, uuid).
    pub async fn create_org(&self, name: &str, country: Option<&str>) -> (String, Uuid) {
        let response = self
            .gql(
                Some(&self.admin_token),
                "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }",
                json!({ "input": {
                    "kind": if country.is_some() { "ELECTION_MANAGEMENT_BODY" } else { "INTERNATIONAL_ORGANIZATION" },
                    "name": name,
                    "countryCode": country,
                }}),
            )
            .await;
        let id = response.data()["createOrganization"]["organization"]["id"]
            .as_str()
            .expect("organization id")
            .to_owned();
        let uuid = global_uuid(&id);
        (id, uuid)
    }

    /// How many SQL statements the server ran for one GraphQL operation.
    pub async fn statements_for(
        &self,
        token: &str,
        query: &str,
        variables: Value,
    ) -> (u64, GqlResponse) {
        use std::sync::atomic::Ordering;
        let before = self.statements.load(Ordering::SeqCst);
        let response = self.gql(Some(token), query, variables).await;
        let after = self.statements.load(Ordering::SeqCst);
        (after - before, response)
    }

    /// Counts the rows of `table`, to check that a rejected mutation wrote nothing.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count query")
            .expect("one row");
        row.try_get::<i64>("", "n").expect("count")
    }
}

/// The UUID inside a global id.
pub fn global_uuid(id: &str) -> Uuid {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id)
        .expect("global ids are base64url");
    let text = String::from_utf8(raw).expect("utf-8");
    let (_, uuid) = text.split_once(':').expect("Type:uuid");
    Uuid::parse_str(uuid).expect("uuid")
}

/// The global id of an object of `type_name`.
pub fn global_id(type_name: &str, uuid: Uuid) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{type_name}:{uuid}"))
}

/// Moves the respond-by of `organization`'s invitations into the past (a state the
/// API would need real time to reach).
pub async fn arrange_past_respond_by(app: &TestApp, organization: Uuid) {
    use embhub::entity::invitation;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let past = chrono::DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    invitation::Entity::update_many()
        .col_expr(invitation::Column::RespondBy, Expr::value(past))
        .filter(invitation::Column::OrganizationId.eq(organization))
        .exec(&app.db)
        .await
        .expect("arrange a passed respond-by");
}

/// Moves the application deadline of the event titled `title` into the past.
pub async fn arrange_past_deadline(app: &TestApp, title: &str) {
    use embhub::entity::event;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let past = chrono::DateTime::parse_from_rfc3339("2001-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    event::Entity::update_many()
        .col_expr(event::Column::ApplicationDeadline, Expr::value(Some(past)))
        .filter(event::Column::Title.eq(title))
        .exec(&app.db)
        .await
        .expect("arrange a passed deadline");
}

/// Everything every test server in this process has logged, at debug level.
static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// A writer appending to [`LOGS`].
struct LogCapture;

impl std::io::Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut logs) = LOGS.lock() {
            logs.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends the servers' logs (JSON, debug level) to [`LOGS`], once per process, so
/// tests can check what the logs contain.
fn capture_logs() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter("debug")
            .with_writer(|| LogCapture)
            .try_init();
    });
}

/// The data key file production test servers in `data_dir` share (created once).
fn production_data_key(data_dir: &std::path::Path) -> PathBuf {
    let path = data_dir.join("production-data-key");
    if !path.exists() {
        let key = embhub::auth::key_store::KeyEncryptionKey::generate();
        std::fs::write(&path, key.to_base64()).expect("write the data key file");
    }
    path
}

/// What the test servers have logged so far.
pub fn captured_logs() -> String {
    LOGS.lock()
        .map(|logs| String::from_utf8_lossy(&logs).into_owned())
        .unwrap_or_default()
}
