//! CORS: a console on a listed origin may call `/graphql` from the browser; any
//! other origin gets nothing reflected, so the browser keeps the answer from it.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, each_backend, each_backend_with};

const CONSOLE: &str = "http://localhost:5173";

fn with_console(settings: &mut embhub::config::Settings) {
    settings.people.cors_origins = vec![CONSOLE.to_owned(), "https://console.example.org".into()];
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, format!("{}/graphql", app.address))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("preflight")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn preflight_from_a_listed_origin_allows_post_get_and_the_bearer_header() {
    each_backend_with(with_console, |app| async move {
        let response = preflight(&app, CONSOLE).await;

        assert!(response.status().is_success(), "{}", response.status());
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            Some(CONSOLE)
        );
        let methods = header(&response, "access-control-allow-methods").unwrap_or_default();
        assert!(
            methods.contains("POST") && methods.contains("GET"),
            "{methods}"
        );
        let allowed = header(&response, "access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            allowed.contains("authorization") && allowed.contains("content-type"),
            "{allowed}"
        );
        assert!(header(&response, "access-control-max-age").is_some());
        // No cookies are involved: credentials mode stays off.
        assert_eq!(header(&response, "access-control-allow-credentials"), None);
    })
    .await;
}

#[tokio::test]
async fn a_listed_origin_reads_the_answer_of_a_real_request() {
    each_backend_with(with_console, |app| async move {
        let response = app
            .http
            .post(format!("{}/graphql", app.address))
            .header("Origin", CONSOLE)
            .bearer_auth(&app.admin_token)
            .json(&json!({ "query": "{ viewer { roles } }" }))
            .send()
            .await
            .expect("request");

        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            Some(CONSOLE)
        );
        let vary = header(&response, "vary")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(vary.contains("origin"), "caches must key on Origin: {vary}");
        let exposed = header(&response, "access-control-expose-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(exposed.contains("x-request-id"), "{exposed}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["data"]["viewer"]["roles"], json!(["ADMIN"]));
    })
    .await;
}

#[tokio::test]
async fn an_unlisted_origin_gets_nothing_reflected() {
    each_backend_with(with_console, |app| async move {
        for origin in [
            "https://evil.example",
            "http://localhost:5174",
            "https://console.example.org.evil.example",
            "null",
        ] {
            let response = preflight(&app, origin).await;
            assert_eq!(
                header(&response, "access-control-allow-origin"),
                None,
                "preflight from {origin}"
            );

            let response = app
                .http
                .post(format!("{}/graphql", app.address))
                .header("Origin", origin)
                .bearer_auth(&app.admin_token)
                .json(&json!({ "query": "{ viewer { roles } }" }))
                .send()
                .await
                .expect("request");
            assert_eq!(
                header(&response, "access-control-allow-origin"),
                None,
                "request from {origin}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn without_configured_origins_no_cors_headers_are_sent() {
    each_backend(|app| async move {
        let response = preflight(&app, CONSOLE).await;

        assert_eq!(response.status(), 405, "OPTIONS is not a GraphQL method");
        assert_eq!(header(&response, "access-control-allow-origin"), None);
        assert_eq!(header(&response, "access-control-allow-methods"), None);
    })
    .await;
}

#[tokio::test]
async fn cors_covers_graphql_only() {
    each_backend_with(with_console, |app| async move {
        let response = app
            .http
            .post(format!("{}/oauth/token", app.address))
            .header("Origin", CONSOLE)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("request");

        assert_eq!(header(&response, "access-control-allow-origin"), None);
    })
    .await;
}
