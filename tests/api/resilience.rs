//! Failure behaviour: an exhausted pool, a request that runs too long, a database
//! that goes away and comes back, and a shutdown with requests in flight.
//!
//! Waits here poll for a state (bounded), they never assert how long anything took.

use std::time::Duration;

use embhub::config::Settings;
use sea_orm::{ConnectionTrait, Database, DatabaseTransaction, TransactionTrait};
use serde_json::{Value, json};

use crate::helpers::{GqlResponse, TestApp, each_backend_with, global_id, on_postgres_with};

const COUNT: &str = "{ organizations { totalCount } }";

fn rename(app: &TestApp, name: &str) -> (String, Value) {
    (
        "mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { organization { name } } }".to_owned(),
        json!({ "input": { "id": global_id("Organization", app.operator_org), "name": name } }),
    )
}

fn create(name: &str) -> String {
    format!(
        r#"mutation {{ createOrganization(input: {{ kind: OTHER, name: "{name}" }}) {{ organization {{ id }} }} }}"#
    )
}

async fn count_named(app: &TestApp, name: &str) -> i64 {
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            app.db.get_database_backend(),
            match app.db.get_database_backend() {
                sea_orm::DbBackend::Postgres => {
                    "SELECT COUNT(*) AS n FROM organizations WHERE name = $1"
                }
                _ => "SELECT COUNT(*) AS n FROM organizations WHERE name = ?",
            },
            [name.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn status_of(app: &TestApp, path: &str) -> u16 {
    app.http
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Polls `done` up to ~20 s.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

fn assert_unavailable(response: &GqlResponse) {
    assert_eq!(response.status, 503, "{}", response.body);
    assert_eq!(
        response.error_code(),
        "SERVICE_UNAVAILABLE",
        "{}",
        response.body
    );
    let message = response.body["errors"][0]["message"].as_str().unwrap();
    assert!(
        !message.contains("sqlx") && !message.contains("Error"),
        "{message}"
    );
}

/// Takes the write lock on the operator organization's row (SQLite: the database's
/// write lock) in a transaction of the test's own.
async fn lock_operator_row(app: &TestApp) -> DatabaseTransaction {
    let tx = app.db.begin().await.unwrap();
    let sql = "UPDATE organizations SET version = version";
    tx.execute_unprepared(sql).await.unwrap();
    tx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_fails_fast_with_503_and_recovers() {
    each_backend_with(
        |settings: &mut Settings| settings.database.acquire_timeout = Duration::from_millis(300),
        |app| async move {
            let (_, _, max) = embhub::db::pool_usage(&app.db);
            let mut held = Vec::new();
            for _ in 0..max {
                held.push(app.db.begin().await.unwrap());
            }

            let response = app.gql(Some(&app.admin_token), COUNT, json!({})).await;
            assert_unavailable(&response);
            let raw = app
                .http
                .post(format!("{}/graphql", app.address))
                .bearer_auth(&app.admin_token)
                .json(&json!({ "query": create("Pool Exhausted") }))
                .send()
                .await
                .unwrap();
            assert_eq!(raw.status(), 503);
            assert!(raw.headers().contains_key("retry-after"));
            assert_eq!(status_of(&app, "/readyz").await, 503);

            drop(held);
            eventually("the pool serves again", || async {
                app.gql(Some(&app.admin_token), COUNT, json!({}))
                    .await
                    .status
                    == 200
            })
            .await;
            assert_eq!(
                count_named(&app, "Pool Exhausted").await,
                0,
                "nothing written"
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_timeout_gets_a_clean_error_and_releases_its_connection() {
    each_backend_with(
        |settings: &mut Settings| {
            settings.request_timeout = Duration::from_millis(700);
            settings.database.acquire_timeout = Duration::from_secs(5);
        },
        |app| async move {
            let all_released = || async {
                let (open, idle, _) = embhub::db::pool_usage(&app.db);
                open == idle
            };
            if app.db.get_database_backend() == sea_orm::DbBackend::Postgres {
                // A mutation stuck behind a row lock, holding its connection. (SQLite
                // refuses such a write at once as busy: 503 SERVICE_UNAVAILABLE.)
                let lock = lock_operator_row(&app).await;
                let (query, variables) = rename(&app, "Renamed By A Timed-Out Request");
                let response = app.gql(Some(&app.admin_token), &query, variables).await;
                assert_eq!(response.status, 503, "{}", response.body);
                assert_eq!(response.error_code(), "TIMEOUT");
                lock.rollback().await.unwrap();
                eventually(
                    "the timed-out request's connection is released",
                    all_released,
                )
                .await;
                assert_eq!(count_named(&app, "Renamed By A Timed-Out Request").await, 0);
            }

            // A request waiting for a connection longer than the request may take.
            let (_, _, max) = embhub::db::pool_usage(&app.db);
            let mut held = Vec::new();
            for _ in 0..max {
                held.push(app.db.begin().await.unwrap());
            }
            let raw = app
                .http
                .post(format!("{}/graphql", app.address))
                .bearer_auth(&app.admin_token)
                .json(&json!({ "query": create("Created By A Timed-Out Request") }))
                .send()
                .await
                .unwrap();
            assert_eq!(raw.status(), 503);
            assert!(raw.headers().contains_key("retry-after"));
            let body: Value = raw.json().await.unwrap();
            assert_eq!(body["errors"][0]["extensions"]["code"], "TIMEOUT");
            drop(held);

            eventually("every connection is back in the pool", all_released).await;
            assert_eq!(count_named(&app, "Created By A Timed-Out Request").await, 0);
            assert_eq!(
                app.gql(Some(&app.admin_token), COUNT, json!({}))
                    .await
                    .status,
                200
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL: SQLite has no server to lose"
)]
async fn the_service_recovers_by_itself_when_postgres_comes_back() {
    on_postgres_with(
        |settings: &mut Settings| settings.database.acquire_timeout = Duration::from_millis(500),
        |app| async move {
            let (admin_url, name) = app
                .postgres_database()
                .expect("runs on PostgreSQL only");
            let admin = Database::connect(admin_url.as_str()).await.unwrap();
            // The database goes away: no new connections, existing ones killed.
            admin
                .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"))
                .await
                .unwrap();
            admin
                .execute_unprepared(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                ))
                .await
                .unwrap();

            assert_eq!(status_of(&app, "/readyz").await, 503);
            for _ in 0..3 {
                assert_unavailable(&app.gql(Some(&app.admin_token), COUNT, json!({})).await);
            }
            assert_unavailable(
                &app.gql(Some(&app.admin_token), &create("Written During Outage"), json!({}))
                    .await,
            );

            // It comes back; the service follows without a restart.
            admin
                .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
                .await
                .unwrap();
            admin.close().await.ok();
            eventually("/readyz is 200 again", || async {
                status_of(&app, "/readyz").await == 200
            })
            .await;
            assert_eq!(app.gql(Some(&app.admin_token), COUNT, json!({})).await.status, 200);
            app.gql(Some(&app.admin_token), &create("Written After Outage"), json!({}))
                .await
                .data();
            assert_eq!(count_named(&app, "Written During Outage").await, 0);
            assert_eq!(count_named(&app, "Written After Outage").await, 1);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_requests_finish() {
    each_backend_with(
        |settings: &mut Settings| settings.database.acquire_timeout = Duration::from_secs(20),
        |app| async move {
            // Every connection is taken, so the request waits inside the server.
            let (_, _, max) = embhub::db::pool_usage(&app.db);
            let mut held = Vec::new();
            for _ in 0..max {
                held.push(app.db.begin().await.unwrap());
            }
            let in_flight = {
                let request = app
                    .http
                    .post(format!("{}/graphql", app.address))
                    .bearer_auth(&app.admin_token)
                    .json(&json!({ "query": create("Created While Draining") }));
                tokio::spawn(async move { request.send().await })
            };
            // Only orders the steps (the request reaches the server first); nothing
            // is asserted about time.
            tokio::time::sleep(Duration::from_millis(1000)).await;

            app.shutdown();
            eventually("new connections are refused", || async {
                reqwest::Client::new()
                    .get(format!("{}/healthz", app.address))
                    .send()
                    .await
                    .is_err()
            })
            .await;

            drop(held);
            let response = in_flight
                .await
                .unwrap()
                .expect("the in-flight request is answered");
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            assert!(
                body["data"]["createOrganization"]["organization"]["id"].is_string(),
                "{body}"
            );
        },
    )
    .await;
}
