//! Health, readiness and the unauthenticated surface.

use serde_json::{Value, json};

use crate::helpers::each_backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer_without_a_token() {
    each_backend(|app| async move {
        for path in ["/healthz", "/readyz"] {
            let response = app
                .http
                .get(format!("{}{path}", app.address))
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert_eq!(
                status,
                200,
                "{path}; the servers' readiness log lines:\n{}",
                crate::helpers::captured_logs()
                    .lines()
                    .filter(|l| l.contains("\"WARN\"")
                        || l.contains("\"ERROR\"")
                        || l.contains("sqlx"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            assert!(
                response.headers().contains_key("x-request-id"),
                "{path} has a request id"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_without_a_token_is_unauthenticated() {
    each_backend(|app| async move {
        let response = app
            .gql(None, "{ organizations { totalCount } }", json!({}))
            .await;
        assert_eq!(response.status, 401);
        assert_eq!(response.error_code(), "UNAUTHENTICATED");

        let raw = app
            .http
            .post(format!("{}/graphql", app.address))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        let challenge = raw.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_is_served_to_browsers_and_queries_work_over_get() {
    each_backend(|app| async move {
        let page = app
            .http
            .get(format!("{}/graphql", app.address))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(
            page.text()
                .await
                .unwrap()
                .to_lowercase()
                .contains("graphiql")
        );

        let response = app
            .http
            .get(format!("{}/graphql", app.address))
            .query(&[("query", "{ viewer { roles } }")])
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"]["viewer"]["roles"], json!(["ADMIN"]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unparsable_request_gets_a_clean_400() {
    each_backend(|app| async move {
        let response = app
            .http
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&app.admin_token)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            !message.contains("Error("),
            "no debug text leaks: {message}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_port_fails_before_the_demo_is_seeded() {
    let busy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("embhub.db");
    let mut settings = embhub::config::Settings::local(
        format!("sqlite://{}?mode=rwc", file.display()),
        data.path().to_path_buf(),
    );
    settings.bind = busy.local_addr().unwrap();

    let failed = embhub::startup::Application::build(settings, true).await;

    let message = format!("{:#}", failed.err().expect("the port is taken"));
    assert!(message.contains("cannot listen on"), "{message}");
    // Nothing was written, so no secret was printed "only this once" in vain.
    assert!(!file.exists(), "the database was opened before binding");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL: a PostgreSQL server to ask for a missing database"
)]
async fn a_missing_postgres_database_is_named_with_how_to_create_it() {
    let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("a URL ending in a database");
    let missing = format!("embhub_missing_{}", uuid::Uuid::new_v4().simple());
    let settings = embhub::config::DatabaseSettings {
        url: format!("{base}/{missing}"),
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(2),
    };

    let failed = embhub::db::connect(&settings).await;

    let message = failed.expect_err("the database is missing").to_string();
    assert!(
        message.contains(&format!("`{missing}` does not exist")),
        "{message}"
    );
    assert!(message.contains("createdb"), "{message}");
    assert!(!message.contains("line "), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL: instances sharing one database are a PostgreSQL setup"
)]
async fn instances_starting_together_migrate_one_database_in_turn() {
    use sea_orm::ConnectionTrait;
    let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("a URL ending in a database");
    let name = format!("embhub_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(admin_url.as_str())
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let settings = embhub::config::DatabaseSettings {
        url: format!("{base}/{name}"),
        max_connections: 2,
        acquire_timeout: std::time::Duration::from_secs(30),
    };
    let (first, second) = tokio::join!(
        embhub::db::connect(&settings),
        embhub::db::connect(&settings)
    );
    let (first, second) = (first.unwrap(), second.unwrap());

    let (a, b) = tokio::join!(embhub::db::migrate(&first), embhub::db::migrate(&second));

    let outcome = format!("{a:?} / {b:?}");
    first.close().await.ok();
    second.close().await.ok();
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .ok();
    assert!(a.is_ok() && b.is_ok(), "{outcome}");
}
