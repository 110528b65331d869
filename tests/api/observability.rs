//! `/metrics`: operations by name and outcome, latency, pool usage.

use serde_json::json;

use crate::helpers::{each_backend, each_backend_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_operations_by_name_and_outcome() {
    each_backend(|app| async move {
        app.gql(Some(&app.admin_token), "query Viewer { viewer { roles } }", json!({}))
            .await
            .data();
        app.gql(Some(&app.admin_token), "query Deep { nope }", json!({}))
            .await;
        let response = app
            .http
            .get(format!("{}/metrics", app.address))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
        let text = response.text().await.unwrap();
        for expected in [
            r#"embhub_graphql_operations_total{operation="Viewer",kind="query",outcome="ok"} 1"#,
            r#"embhub_graphql_operations_total{operation="Deep",kind="query",outcome="GRAPHQL_VALIDATION_FAILED"} 1"#,
            r#"embhub_graphql_operation_duration_seconds_count{operation="Viewer",kind="query"} 1"#,
            r#"embhub_http_requests_total{route="/graphql",method="POST",status="200"}"#,
            "embhub_db_pool_max_connections",
            r#"embhub_db_pool_connections{state="idle"}"#,
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
        // No token, no query text, no variables in the metrics.
        assert!(!text.contains(&app.admin_token));
        assert!(!text.contains("roles"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_answer_only_admins_and_the_scrape_token() {
    each_backend(|app| async move {
        let url = format!("{}/metrics", app.address);
        assert_eq!(app.http.get(&url).send().await.unwrap().status(), 401);
        let coordinator = app
            .token_for(app.operator_org, &[embhub::auth::Role::Coordinator])
            .await;
        let not_admin = app
            .http
            .get(&url)
            .bearer_auth(&coordinator)
            .send()
            .await
            .unwrap();
        assert_eq!(not_admin.status(), 401);
        let admin = app
            .http
            .get(&url)
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(admin.status(), 200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_require_a_token() {
    each_backend_with(
        |settings| settings.limits.metrics_token = Some("scrape-secret".into()),
        |app| async move {
            let url = format!("{}/metrics", app.address);
            assert_eq!(app.http.get(&url).send().await.unwrap().status(), 401);
            let wrong = app.http.get(&url).bearer_auth("nope").send().await.unwrap();
            assert_eq!(wrong.status(), 401);
            let right = app
                .http
                .get(&url)
                .bearer_auth("scrape-secret")
                .send()
                .await
                .unwrap();
            assert_eq!(right.status(), 200);
        },
    )
    .await;
}
