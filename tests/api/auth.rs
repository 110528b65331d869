//! The token endpoint and the verification of every kind of bad token.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use embhub::auth::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, each_backend, each_backend_with};

const VIEWER: &str = "{ viewer { clientId roles organization { name } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_credentials_get_a_bearer_token_by_form_or_basic_auth() {
    each_backend(|app| async move {
        let credentials = app
            .create_client(app.operator_org, &[Role::Coordinator, Role::Reader])
            .await;
        let id = credentials.client_id.to_string();

        let by_form = app
            .request_token(&[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &credentials.secret),
            ])
            .await;
        assert_eq!(by_form.status(), 200);
        assert_eq!(by_form.headers()["cache-control"], "no-store");
        let body: Value = by_form.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        assert_eq!(body["scope"], "coordinator reader");
        let token = body["access_token"].as_str().unwrap();

        let basic = app
            .http
            .post(format!("{}/oauth/token", app.address))
            .basic_auth(&id, Some(&credentials.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status(), 200);

        let viewer = app.gql(Some(token), VIEWER, json!({})).await;
        assert_eq!(
            viewer.data()["viewer"]["roles"],
            json!(["COORDINATOR", "READER"])
        );
        assert_eq!(
            viewer.data()["viewer"]["organization"]["name"],
            "Test Operator"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_errors_follow_rfc_6749() {
    each_backend(|app| async move {
        let credentials = app.create_client(app.operator_org, &[Role::Partner]).await;
        let id = credentials.client_id.to_string();
        type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
        let cases: Vec<Case> = vec![
            (
                vec![("client_id", &id), ("client_secret", &credentials.secret)],
                400,
                "invalid_request",
            ),
            (
                vec![
                    ("grant_type", "password"),
                    ("client_id", &id),
                    ("client_secret", &credentials.secret),
                ],
                400,
                "unsupported_grant_type",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", "wrong"),
                ],
                401,
                "invalid_client",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", "not-a-client"),
                    ("client_secret", "x"),
                ],
                401,
                "invalid_client",
            ),
            (
                vec![("grant_type", "client_credentials")],
                401,
                "invalid_client",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &credentials.secret),
                    ("scope", "admin"),
                ],
                400,
                "invalid_scope",
            ),
        ];
        for (form, status, error) in cases {
            let response = app.request_token(&form).await;
            assert_eq!(response.status().as_u16(), status, "{form:?}");
            if status == 401 {
                assert!(
                    response.headers().contains_key("www-authenticate"),
                    "{form:?}"
                );
            }
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], error, "{form:?}");
        }
        let json_body = app
            .http
            .post(format!("{}/oauth/token", app.address))
            .json(&json!({ "grant_type": "client_credentials" }))
            .send()
            .await
            .unwrap();
        assert_eq!(json_body.status(), 400);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_for_one_client_are_throttled() {
    each_backend(|app| async move {
        let credentials = app.create_client(app.operator_org, &[Role::Partner]).await;
        let id = credentials.client_id.to_string();
        let mut statuses = Vec::new();
        for _ in 0..25 {
            let response = app
                .request_token(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", "guess"),
                ])
                .await;
            statuses.push(response.status().as_u16());
        }
        assert!(statuses.contains(&429), "{statuses:?}");
        // Other clients are not affected.
        app.token_for(app.operator_org, &[Role::Reader]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_of_a_client_id_shares_one_throttle() {
    each_backend_with(
        |settings| settings.limits.rate.token_per_client_per_minute = 5,
        |app| async move {
            let credentials = app.create_client(app.operator_org, &[Role::Partner]).await;
            let id = credentials.client_id;
            let spellings = [
                id.hyphenated().to_string(),
                id.hyphenated().to_string().to_uppercase(),
                id.simple().to_string(),
                id.braced().to_string(),
                id.urn().to_string(),
            ];
            // Five wrong guesses spread over five spellings use up the one bucket.
            for spelling in &spellings {
                let response = app
                    .request_token(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", spelling),
                        ("client_secret", "guess"),
                    ])
                    .await;
                assert_eq!(response.status(), 401, "{spelling}");
            }
            // During the lock-out no spelling gets through, not even with the secret.
            for spelling in &spellings {
                let response = app
                    .request_token(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", spelling),
                        ("client_secret", &credentials.secret),
                    ])
                    .await;
                assert_eq!(response.status(), 429, "{spelling}");
            }
            // Ids that are no UUID name no client and never reach the database.
            let response = app
                .request_token(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "admin"),
                    ("client_secret", "guess"),
                ])
                .await;
            assert_eq!(response.status(), 401);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_issued_in_the_future_or_living_too_long_are_refused() {
    each_backend(|app| async move {
        let credentials = app.create_client(app.operator_org, &[Role::Admin]).await;
        let kid = kid(&app).await;
        let now = jsonwebtoken::get_current_timestamp();
        let claims = |iat: u64, exp: u64| {
            json!({
                "iss": "embhub", "aud": "embhub-api", "sub": credentials.client_id.to_string(),
                "client_id": credentials.client_id.to_string(), "iat": iat, "nbf": now - 1, "exp": exp,
                "jti": "t", "org": app.operator_org, "roles": ["ADMIN"], "scope": "admin",
            })
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(kid);
        // The control: our own lifetime (900 s) from now.
        let good = sign(&app, &header, &claims(now, now + 900));
        assert_eq!(app.gql(Some(&good), VIEWER, json!({})).await.status, 200);

        let year_5000 = 95_617_584_000;
        for (what, token) in [
            ("iat a day ahead", sign(&app, &header, &claims(now + 86_400, now + 86_400 + 600))),
            ("exp in year 5000", sign(&app, &header, &claims(now, year_5000))),
            ("lifetime of a day", sign(&app, &header, &claims(now - 10, now + 86_400))),
        ] {
            let response = app.gql(Some(&token), VIEWER, json!({})).await;
            assert_eq!(response.status, 401, "{what} must be refused");
            assert_eq!(response.error_code(), "UNAUTHENTICATED", "{what}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_bearer_token_is_refused_with_www_authenticate() {
    each_backend(|app| async move {
        for size in [12 * 1024, 100 * 1024] {
            let response = app
                .http
                .post(format!("{}/graphql", app.address))
                .bearer_auth("A".repeat(size))
                .json(&json!({ "query": VIEWER }))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert!(status == 401 || status == 431, "{size}: {status}");
            let challenge = response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(challenge.starts_with("Bearer "), "{size}: {challenge}");
            assert!(challenge.contains("invalid_token"), "{size}: {challenge}");
        }
    })
    .await;
}

/// Signs `claims` with the server's own key under `header`.
fn sign(app: &TestApp, header: &Header, claims: &Value) -> String {
    let pem =
        std::fs::read(app.data_dir.join("keys/token-signing-key.pem")).expect("generated key");
    let key = EncodingKey::from_ed_pem(&pem).expect("PKCS#8 Ed25519 key");
    jsonwebtoken::encode(header, claims, &key).expect("signing")
}

async fn kid(app: &TestApp) -> String {
    let jwks: Value = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    jwks["keys"][0]["kid"].as_str().unwrap().to_owned()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_tokens_are_all_refused_with_401() {
    each_backend(|app| async move {
        let credentials = app.create_client(app.operator_org, &[Role::Admin]).await;
        let kid = kid(&app).await;
        let now = jsonwebtoken::get_current_timestamp();
        let claims = |overrides: Value| {
            let mut base = json!({
                "iss": "embhub", "aud": "embhub-api", "sub": credentials.client_id.to_string(),
                "client_id": credentials.client_id.to_string(), "iat": now, "nbf": now, "exp": now + 600,
                "jti": "t", "org": app.operator_org, "roles": ["ADMIN"], "scope": "admin",
            });
            for (k, v) in overrides.as_object().unwrap() {
                if v.is_null() {
                    base.as_object_mut().unwrap().remove(k);
                } else {
                    base[k] = v.clone();
                }
            }
            base
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(kid.clone());

        // The control: a well-formed token we sign ourselves is accepted.
        let good = sign(&app, &header, &claims(json!({})));
        assert!(app.gql(Some(&good), VIEWER, json!({})).await.status == 200);

        let mut hostile: Vec<(&str, String)> = vec![
            ("expired", sign(&app, &header, &claims(json!({ "exp": now - 3600, "iat": now - 4000, "nbf": now - 4000 })))),
            ("not yet valid", sign(&app, &header, &claims(json!({ "nbf": now + 3600 })))),
            ("wrong issuer", sign(&app, &header, &claims(json!({ "iss": "evil" })))),
            ("wrong audience", sign(&app, &header, &claims(json!({ "aud": "other-api" })))),
            ("no audience", sign(&app, &header, &claims(json!({ "aud": null })))),
            ("no issuer", sign(&app, &header, &claims(json!({ "iss": null })))),
            ("no nbf", sign(&app, &header, &claims(json!({ "nbf": null })))),
        ];
        let mut wrong_typ = header.clone();
        wrong_typ.typ = Some("JWT".into());
        hostile.push(("wrong typ", sign(&app, &wrong_typ, &claims(json!({})))));
        let mut unknown_kid = header.clone();
        unknown_kid.kid = Some("not-our-key".into());
        hostile.push(("unknown kid", sign(&app, &unknown_kid, &claims(json!({})))));

        let none_header = json!({ "alg": "none", "typ": "at+jwt", "kid": kid });
        hostile.push(("alg none", format!("{}.{}.", b64(&none_header), b64(&claims(json!({}))))));

        let jwks: Value = app.http.get(format!("{}/.well-known/jwks.json", app.address)).send().await.unwrap().json().await.unwrap();
        let public_x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
        let mut hs_header = Header::new(Algorithm::HS256);
        hs_header.typ = Some("at+jwt".into());
        hs_header.kid = Some(kid.clone());
        for secret in [public_x.as_bytes().to_vec(), URL_SAFE_NO_PAD.decode(&public_x).unwrap()] {
            let forged = jsonwebtoken::encode(&hs_header, &claims(json!({})), &EncodingKey::from_secret(&secret)).unwrap();
            hostile.push(("HS256 with the public key", forged));
        }

        let parts: Vec<&str> = good.split('.').collect();
        let elevated = claims(json!({ "roles": ["ADMIN", "COORDINATOR"], "org": uuid::Uuid::now_v7() }));
        hostile.push(("payload altered", format!("{}.{}.{}", parts[0], b64(&elevated), parts[2])));
        hostile.push(("signature removed", format!("{}.{}.", parts[0], parts[1])));
        hostile.push(("malformed base64", format!("{}.{}!!.{}", parts[0], parts[1], parts[2])));
        hostile.push(("not a JWT", "hello".to_owned()));
        hostile.push(("100 KB token", format!("{}.{}.{}", parts[0], "A".repeat(100 * 1024), parts[2])));
        hostile.push(("standard base64 signature", format!("{}.{}.{}", parts[0], parts[1], STANDARD.encode("x"))));

        for (what, token) in hostile {
            let response = app.gql(Some(&token), VIEWER, json!({})).await;
            if what == "100 KB token" {
                // Refused before it is even read: the headers are over the limit.
                assert_eq!(response.status, 431, "{what} must be refused");
                assert_eq!(response.error_code(), "HEADERS_TOO_LARGE", "{what}");
                continue;
            }
            assert_eq!(response.status, 401, "{what} must be refused");
            assert_eq!(response.error_code(), "UNAUTHENTICATED", "{what}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_clients_tokens_stop_working_and_it_gets_no_new_ones() {
    each_backend(|app| async move {
        let credentials = app.create_client(app.operator_org, &[Role::Reader]).await;
        let token = app.token(&credentials).await;
        assert_eq!(app.gql(Some(&token), VIEWER, json!({})).await.status, 200);

        embhub::service::clients::revoke(&app.db, credentials.client_id)
            .await
            .unwrap();
        // The test server re-checks revocation every second.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let refused = app.gql(Some(&token), VIEWER, json!({})).await;
        assert_eq!(refused.status, 401);
        let id = credentials.client_id.to_string();
        let new_token = app
            .request_token(&[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &credentials.secret),
            ])
            .await;
        assert_eq!(new_token.status(), 401);
    })
    .await;
}
