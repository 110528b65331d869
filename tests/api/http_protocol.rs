//! GraphQL over HTTP: media types, methods and the status codes of request errors.

use serde_json::{Value, json};

use crate::helpers::{TestApp, each_backend, each_backend_with};

const CREATE_ORG: &str = r#"mutation { createOrganization(input: { kind: OTHER, name: "Should Not Exist" }) { organization { id } } }"#;

/// POSTs `body` with `content_type` (none if `None`) and the admin's token.
async fn post_raw(app: &TestApp, content_type: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let mut request = app
        .http
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.admin_token)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.send().await.unwrap()
}

async fn code_of(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_types_are_415_and_write_nothing() {
    each_backend(|app| async move {
        let before = app.count_rows("organizations").await;
        let json_body = serde_json::to_vec(&json!({ "query": CREATE_ORG })).unwrap();
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/graphql"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/json; charset=latin1"),
        ] {
            let response = post_raw(&app, content_type, json_body.clone()).await;
            assert_eq!(response.status(), 415, "{content_type:?}");
            assert_eq!(code_of(response).await, "UNSUPPORTED_MEDIA_TYPE");
        }
        // The multipart upload form async-graphql would otherwise accept.
        let operations = json!({ "query": CREATE_ORG }).to_string();
        let form = format!(
            "--b\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n\
             --b\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{}}\r\n--b--\r\n"
        );
        let response = post_raw(
            &app,
            Some("multipart/form-data; boundary=b"),
            form.into_bytes(),
        )
        .await;
        assert_eq!(response.status(), 415);
        assert_eq!(code_of(response).await, "UNSUPPORTED_MEDIA_TYPE");
        assert_eq!(app.count_rows("organizations").await, before);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_type_follows_the_accept_header() {
    each_backend(|app| async move {
        let ask = |accept: Option<&'static str>, query: &'static str| {
            let app = &app;
            async move {
                let mut request = app
                    .http
                    .post(format!("{}/graphql", app.address))
                    .bearer_auth(&app.admin_token)
                    .json(&json!({ "query": query }));
                if let Some(accept) = accept {
                    request = request.header("accept", accept);
                }
                let response = request.send().await.unwrap();
                let content_type = response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (status, content_type, body)
            }
        };
        let (status, content_type, _) = ask(None, "{ __typename }").await;
        assert_eq!(status, 200);
        assert!(
            content_type.starts_with("application/graphql-response+json"),
            "{content_type}"
        );

        let (status, content_type, _) = ask(Some("application/json"), "{ __typename }").await;
        assert_eq!(status, 200);
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );

        // A validation failure: 400 without `data` for graphql-response+json…
        let (status, _, body) = ask(None, "{ noSuchField }").await;
        assert_eq!(status, 400);
        assert!(body.get("data").is_none(), "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );
        // …and 200 for the legacy application/json.
        let (status, _, body) = ask(Some("application/json"), "{ noSuchField }").await;
        assert_eq!(status, 200);
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );

        // A syntax error is a clean 400 with no internal text.
        let (status, _, body) = ask(None, "{ viewer { ").await;
        assert_eq!(status, 400);
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "GRAPHQL_PARSE_FAILED"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            !message.contains("Error(") && !message.contains("-->"),
            "{message}"
        );

        let (status, _, body) = ask(Some("text/html"), "{ __typename }").await;
        assert_eq!(status, 406);
        assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_ACCEPTABLE");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_over_get_is_405_and_writes_nothing() {
    each_backend(|app| async move {
        let before = app.count_rows("organizations").await;
        let response = app
            .http
            .get(format!("{}/graphql", app.address))
            .query(&[("query", CREATE_ORG)])
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "POST");
        assert_eq!(code_of(response).await, "METHOD_NOT_ALLOWED");
        assert_eq!(app.count_rows("organizations").await, before);

        let put = app
            .http
            .put(format!("{}/graphql", app.address))
            .bearer_auth(&app.admin_token)
            .json(&json!({ "query": CREATE_ORG }))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 405);
        assert_eq!(put.headers()["allow"], "GET, POST");
        assert_eq!(app.count_rows("organizations").await, before);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_array_batch_is_refused_and_writes_nothing() {
    each_backend(|app| async move {
        let before = app.count_rows("organizations").await;
        let body =
            serde_json::to_vec(&json!([{ "query": CREATE_ORG }, { "query": CREATE_ORG }])).unwrap();
        let response = post_raw(&app, Some("application/json"), body).await;
        assert_eq!(response.status(), 400);
        assert_eq!(code_of(response).await, "BATCH_NOT_ALLOWED");
        assert_eq!(app.count_rows("organizations").await, before);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_run_when_enabled_up_to_their_limit() {
    each_backend_with(
        |settings| settings.limits.max_batch_size = 2,
        |app| async move {
            let two = serde_json::to_vec(
                &json!([{ "query": "{ __typename }" }, { "query": "{ viewer { roles } }" }]),
            )
            .unwrap();
            let response = post_raw(&app, Some("application/json"), two).await;
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body[1]["data"]["viewer"]["roles"], json!(["ADMIN"]));

            let three = serde_json::to_vec(&vec![json!({ "query": "{ __typename }" }); 3]).unwrap();
            let response = post_raw(&app, Some("application/json"), three).await;
            assert_eq!(response.status(), 400);
            assert_eq!(code_of(response).await, "BATCH_NOT_ALLOWED");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_413_and_writes_nothing() {
    each_backend(|app| async move {
        let before = app.count_rows("organizations").await;
        // A valid mutation padded past the 128 KiB body limit with a variable.
        let body = serde_json::to_vec(&json!({
            "query": CREATE_ORG,
            "variables": { "padding": "x".repeat(200 * 1024) },
        }))
        .unwrap();
        let response = post_raw(&app, Some("application/json"), body).await;
        assert_eq!(response.status(), 413);
        assert_eq!(code_of(response).await, "BODY_TOO_LARGE");

        // A document over 16 KiB inside a body that is not.
        let long_query = format!("{{ __typename {} }}", " ".repeat(20 * 1024));
        let body = serde_json::to_vec(&json!({ "query": long_query })).unwrap();
        let response = post_raw(&app, Some("application/json"), body).await;
        assert_eq!(response.status(), 413);
        assert_eq!(code_of(response).await, "DOCUMENT_TOO_LARGE");
        assert_eq!(app.count_rows("organizations").await, before);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_and_bad_parameters_are_400() {
    each_backend(|app| async move {
        for body in [
            &b"{\"query\":"[..],
            b"NONSENSE",
            br#"{"qeury":"{ __typename }"}"#,
            br#"{"query":"{ __typename }","variables":[7]}"#,
        ] {
            let response = post_raw(&app, Some("application/json"), body.to_vec()).await;
            assert_eq!(response.status(), 400, "{}", String::from_utf8_lossy(body));
            assert_eq!(code_of(response).await, "BAD_REQUEST");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_are_431() {
    each_backend(|app| async move {
        let response = app
            .http
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&app.admin_token)
            .header("x-padding", "x".repeat(20 * 1024))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 431);
        assert_eq!(code_of(response).await, "HEADERS_TOO_LARGE");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_says_nosniff_and_graphiql_cannot_be_framed() {
    each_backend(|app| async move {
        let get = |path: &str, accept: &str| {
            app.http
                .get(format!("{}{path}", app.address))
                .header("accept", accept)
                .send()
        };
        let mut responses = vec![
            get("/healthz", "*/*").await.unwrap(),
            get("/.well-known/jwks.json", "*/*").await.unwrap(),
            get("/graphql", "application/json").await.unwrap(),
            post_raw(&app, Some("text/plain"), b"{}".to_vec()).await,
        ];
        let graphiql = get("/graphql", "text/html").await.unwrap();
        assert_eq!(graphiql.status(), 200);
        let csp = graphiql.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(graphiql.headers()["x-frame-options"], "DENY");
        responses.push(graphiql);
        for response in responses {
            assert_eq!(
                response.headers()["x-content-type-options"],
                "nosniff",
                "{}",
                response.url()
            );
        }
    })
    .await;
}
