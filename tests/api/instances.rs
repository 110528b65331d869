//! Several `embhub serve` instances on one database: one token signing key for all
//! (kept in the database, sealed under the key-encryption key), a refused
//! production start that would give each instance its own, and periodic work that
//! runs once across instances.

use std::time::Duration;

use embhub::auth::Role;
use embhub::auth::key_store::KeyEncryptionKey;
use embhub::config::Settings;
use embhub::startup::Application;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::fixtures::{invite, member, published_event};
use crate::helpers::{TestApp, arrange_past_respond_by, each_backend_with, on_postgres_with};

const VIEWER: &str = "{ viewer { roles organization { name } } }";

/// Where `app`'s database is, for a second instance to use.
fn database_url(app: &TestApp) -> String {
    match app.postgres_database() {
        Some((admin_url, name)) => {
            let (base, _) = admin_url.rsplit_once('/').expect("a database URL");
            format!("{base}/{name}")
        }
        None => format!(
            "sqlite://{}?mode=rwc",
            app.data_dir.join("embhub.db").display()
        ),
    }
}

/// The settings of another instance on `url`, with its own data folder.
fn settings_on(
    url: String,
    data_dir: &std::path::Path,
    kek: Option<&KeyEncryptionKey>,
) -> Settings {
    let mut settings = Settings::local(url, data_dir.to_path_buf());
    settings.expiry_sweep_interval = Duration::from_secs(3600);
    settings.database.max_connections = 3;
    settings.limits.rate.per_minute = 1_000_000;
    settings.limits.rate.burst = 1_000_000;
    settings.limits.rate.token_per_ip_per_minute = 100_000;
    settings.auth.key_encryption_key = kek.cloned();
    settings
}

/// The data key file of `app`'s server, which every other instance on its
/// database needs too (participants' personal data is sealed under it).
fn shared_data_key(app: &crate::helpers::TestApp) -> std::path::PathBuf {
    let production = app.data_dir.join("production-data-key");
    if production.exists() {
        production
    } else {
        app.data_dir.join("keys").join("data-key")
    }
}

/// A second server, stopped when dropped.
struct Instance {
    address: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _data: tempfile::TempDir,
}

impl Instance {
    async fn start(configure: impl FnOnce(&std::path::Path) -> Settings) -> Self {
        let data = tempfile::tempdir().expect("temporary folder");
        let app = Application::build(configure(data.path()), false)
            .await
            .expect("the second instance builds");
        let address = format!("http://{}", app.address());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Self {
            address,
            stop: Some(stop),
            _data: data,
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn viewer(http: &reqwest::Client, address: &str, token: &str) -> reqwest::Response {
    http.post(format!("{address}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .expect("GraphQL request")
}

async fn jwks(http: &reqwest::Client, address: &str) -> Value {
    http.get(format!("{address}/.well-known/jwks.json"))
        .send()
        .await
        .expect("JWKS request")
        .json()
        .await
        .expect("JWKS JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL: several instances share one PostgreSQL database"
)]
async fn a_token_issued_by_one_instance_is_accepted_by_another() {
    let kek = KeyEncryptionKey::generate();
    let production = |settings: &mut Settings| {
        settings.production = true;
        settings.auth.key_encryption_key = Some(kek.clone());
    };
    on_postgres_with(production, |app| {
        let kek = kek.clone();
        async move {
            let url = database_url(&app);
            // Every instance needs the same data key file too (see helpers.rs).
            let data_key = app.data_dir.join("production-data-key");
            let second = Instance::start(|dir| {
                let mut settings = settings_on(url, dir, Some(&kek));
                settings.production = true;
                settings.personal_data.data_key_file = Some(data_key);
                settings
            })
            .await;
            // Neither instance keeps a key file: the key is the database's.
            assert!(!app.data_dir.join("keys").exists());

            // Issued by the first, accepted by the second.
            let answer = viewer(&app.http, &second.address, &app.admin_token).await;
            assert_eq!(answer.status(), 200);
            let body: Value = answer.json().await.unwrap();
            assert_eq!(body["data"]["viewer"]["roles"], json!(["ADMIN"]), "{body}");

            // Issued by the second, accepted by the first.
            let credentials = app.create_client(app.operator_org, &[Role::Reader]).await;
            let issued: Value = app
                .http
                .post(format!("{}/oauth/token", second.address))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &credentials.client_id.to_string()),
                    ("client_secret", &credentials.secret),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let token = issued["access_token"].as_str().expect("a token").to_owned();
            let answer = app.gql(Some(&token), VIEWER, json!({})).await;
            assert_eq!(answer.data()["viewer"]["roles"], json!(["READER"]));

            // One key, published alike; the database holds it only sealed.
            let first_keys = jwks(&app.http, &app.address).await;
            assert_eq!(first_keys, jwks(&app.http, &second.address).await);
            assert_eq!(first_keys["keys"].as_array().unwrap().len(), 1);
            let stored = app
                .db
                .query_one_raw(sea_orm::Statement::from_string(
                    app.db.get_database_backend(),
                    "SELECT kid, sealed_private_key FROM token_signing_keys",
                ))
                .await
                .unwrap()
                .expect("one stored key");
            assert_eq!(
                stored.try_get::<String>("", "kid").unwrap(),
                first_keys["keys"][0]["kid"].as_str().unwrap()
            );
            assert!(
                !stored
                    .try_get::<String>("", "sealed_private_key")
                    .unwrap()
                    .contains("PRIVATE KEY")
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL: the refusal is for production on PostgreSQL"
)]
async fn production_on_postgres_refuses_to_start_without_a_shared_key() {
    on_postgres_with(
        |_: &mut Settings| {},
        |app| async move {
            let data = tempfile::tempdir().unwrap();
            let mut settings = settings_on(database_url(&app), data.path(), None);
            settings.production = true;
            let refused = match Application::build(settings, false).await {
                Ok(_) => panic!("a production instance started with a key of its own"),
                Err(error) => error.to_string(),
            };
            assert!(refused.contains("EMBHUB_KEY_ENCRYPTION_KEY"), "{refused}");
            assert!(refused.contains("EMBHUB_SIGNING_KEY_FILE"), "{refused}");
            assert!(refused.contains("openssl rand -base64 32"), "{refused}");
            // Refused before anything was generated or stored.
            assert!(!data.path().join("keys").exists());

            // A key file is enough too, and outside production the data folder's key
            // still works (a single instance, as on a laptop).
            let mut outside = settings_on(database_url(&app), data.path(), None);
            outside.production = false;
            outside.personal_data.data_key_file = Some(shared_data_key(&app));
            Application::build(outside, false)
                .await
                .expect("outside production the generated key is used");
            assert!(data.path().join("keys").exists());
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_encryption_key_is_a_clear_startup_error() {
    let kek = KeyEncryptionKey::generate();
    let configure = |settings: &mut Settings| settings.auth.key_encryption_key = Some(kek.clone());
    each_backend_with(configure, |app| {
        let kek = kek.clone();
        async move {
            let url = database_url(&app);
            let data = tempfile::tempdir().unwrap();
            let wrong = KeyEncryptionKey::generate();
            // The same data key (personal data), another key-encryption key.
            let mut wrong_settings = settings_on(url.clone(), data.path(), Some(&wrong));
            wrong_settings.personal_data.data_key_file = Some(shared_data_key(&app));
            let refused = match Application::build(wrong_settings, false).await {
                Ok(_) => panic!("an instance started with the wrong key-encryption key"),
                Err(error) => error.to_string(),
            };
            assert!(
                refused.contains("cannot decrypt the token signing key"),
                "{refused}"
            );
            assert!(refused.contains("EMBHUB_KEY_ENCRYPTION_KEY"), "{refused}");

            // The right one shares the first instance's key (on SQLite too).
            let data_key = shared_data_key(&app);
            let second = Instance::start(|dir| {
                let mut settings = settings_on(url, dir, Some(&kek));
                settings.personal_data.data_key_file = Some(data_key);
                settings
            })
            .await;
            assert_eq!(
                jwks(&app.http, &app.address).await,
                jwks(&app.http, &second.address).await
            );
            let answer = viewer(&app.http, &second.address, &app.admin_token).await;
            assert_eq!(answer.status(), 200);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL: instances share one PostgreSQL database"
)]
async fn sweeps_on_two_instances_expire_each_invitation_once() {
    on_postgres_with(|_: &mut Settings| {}, |app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let mut partners = Vec::new();
        for (name, country) in [("Central Election Commission", "UZ"), ("The Electoral Commission", "GB"),
            ("Central Election Commission of BiH", "BA"), ("Superior Electoral Court", "BR"),
            ("Central Election Commission of Georgia", "GE"), ("Election Commission of Nepal", "NP")] {
            partners.push(member(&app, name, Some(country), &[Role::Partner]).await);
        }
        let event = published_event(&app, &host, json!({})).await;
        let ids: Vec<&str> = partners.iter().map(|p| p.id.as_str()).collect();
        invite(&app, &host, &event, &ids, 2, 0).await;
        for partner in &partners {
            arrange_past_respond_by(&app, partner.uuid).await;
        }

        // Each instance has its own pool; their sweeps start at the same moment.
        let other = Database::connect(database_url(&app).as_str()).await.unwrap();
        let sweep = embhub::service::invitations::sweep_expired;
        let (a, b, c, d) = tokio::join!(
            sweep(&app.db, &app.feed),
            sweep(&other, &app.feed),
            sweep(&app.db, &app.feed),
            sweep(&other, &app.feed)
        );
        let total: u64 = [a, b, c, d].into_iter().map(|r| r.expect("a sweep")).sum();
        assert_eq!(total, 6, "each invitation expired once");

        let audited = app
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                "SELECT entity_id, COUNT(*) AS n FROM audit_entries WHERE action = 'invitation.expire' GROUP BY entity_id",
            ))
            .await
            .unwrap();
        assert_eq!(audited.len(), 6);
        for row in audited {
            assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1, "one audit entry per invitation");
        }
        let expired = app.count_rows("invitations WHERE status = 'EXPIRED'").await;
        assert_eq!(expired, 6);
        other.close().await.ok();
    })
    .await;
}
