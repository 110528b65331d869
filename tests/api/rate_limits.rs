//! Per-client rate limits: a token bucket per client, mutations costing more, 429
//! with Retry-After, and a per-address throttle on the token endpoint.

use embhub::auth::Role;
use embhub::config::Settings;
use serde_json::json;

use crate::helpers::{TestApp, each_backend_with};

const VIEWER: &str = "{ viewer { roles } }";

/// A bucket of 4 tokens refilled at 1 a minute (so nothing refills during a test);
/// a mutation costs 3.
fn tight(settings: &mut Settings) {
    settings.limits.rate.per_minute = 1;
    settings.limits.rate.burst = 4;
    settings.limits.rate.mutation_cost = 3;
}

async fn metrics_text(app: &TestApp) -> String {
    app.http
        .get(format!("{}/metrics", app.address))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noisy_client_is_limited_without_slowing_the_others() {
    each_backend_with(tight, |app| async move {
        let noisy = app.token_for(app.operator_org, &[Role::Reader]).await;
        let quiet = app.token_for(app.operator_org, &[Role::Reader]).await;
        for _ in 0..4 {
            assert_eq!(app.gql(Some(&noisy), VIEWER, json!({})).await.status, 200);
        }
        let response = app
            .http
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&noisy)
            .json(&json!({ "query": VIEWER }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");

        // The other client still has its whole budget.
        for _ in 0..4 {
            assert_eq!(app.gql(Some(&quiet), VIEWER, json!({})).await.status, 200);
        }
        assert!(
            metrics_text(&app)
                .await
                .contains(r#"embhub_rate_limited_total{limiter="graphql"} 1"#)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_cost_more_and_a_limited_one_writes_nothing() {
    each_backend_with(tight, |app| async move {
        let admin = app.token_for(app.operator_org, &[Role::Admin]).await;
        let create = |name: &'static str| {
            format!(
                r#"mutation {{ createOrganization(input: {{ kind: OTHER, name: "{name}" }}) {{ organization {{ id }} }} }}"#
            )
        };
        let first = app.gql(Some(&admin), &create("Limited One"), json!({})).await;
        first.data();
        let before = app.count_rows("organizations").await;
        // One token left: not enough for a mutation (3)…
        let second = app.gql(Some(&admin), &create("Limited Two"), json!({})).await;
        assert_eq!(second.status, 429);
        assert_eq!(second.error_code(), "RATE_LIMITED");
        assert_eq!(app.count_rows("organizations").await, before);
        // …but enough for a query.
        assert_eq!(app.gql(Some(&admin), VIEWER, json!({})).await.status, 200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoint_throttles_each_address() {
    each_backend_with(
        // The harness already used one attempt for the admin's token.
        |settings| settings.limits.rate.token_per_ip_per_minute = 4,
        |app| async move {
            let mut statuses = Vec::new();
            for i in 0..5 {
                // A different (unknown) client id each time: the per-client
                // throttle alone would never trigger.
                let id = format!("00000000-0000-0000-0000-00000000000{i}");
                let response = app
                    .request_token(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", &id),
                        ("client_secret", "guess"),
                    ])
                    .await;
                if response.status() == 429 {
                    assert!(response.headers().contains_key("retry-after"));
                }
                statuses.push(response.status().as_u16());
            }
            assert_eq!(statuses, [401, 401, 401, 429, 429]);
            assert!(
                metrics_text(&app)
                    .await
                    .contains(r#"embhub_rate_limited_total{limiter="token_ip"} 2"#)
            );
        },
    )
    .await;
}
