//! People signing in through their organization's OpenID Connect provider: a
//! stand-in provider runs inside the test (discovery document and JWKS over
//! HTTP on 127.0.0.1) and signs tokens with the keys in `fixtures_oidc/`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use embhub::auth::oidc::IssuerConfig;
use embhub::config::Settings;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{TestApp, each_backend_with, global_uuid};

const AUDIENCE: &str = "embhub-api";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures_oidc");

/// A key the stand-in provider signs with.
#[derive(Clone, Copy)]
pub(crate) enum Key {
    RsaA,
    RsaB,
    RsaShort,
    Ec,
    Ed,
}

impl Key {
    fn file(self) -> &'static str {
        match self {
            Key::RsaA => "rsa_a",
            Key::RsaB => "rsa_b",
            Key::RsaShort => "rsa_short",
            Key::Ec => "ec_a",
            Key::Ed => "ed_a",
        }
    }

    fn kid(self) -> String {
        format!("kid-{}", self.file())
    }

    fn alg(self) -> Algorithm {
        match self {
            Key::RsaA | Key::RsaB | Key::RsaShort => Algorithm::RS256,
            Key::Ec => Algorithm::ES256,
            Key::Ed => Algorithm::EdDSA,
        }
    }

    fn pem(self) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{}.pem", self.file())).expect("fixture key")
    }

    fn encoding_key(self) -> EncodingKey {
        let pem = self.pem();
        match self {
            Key::RsaA | Key::RsaB | Key::RsaShort => EncodingKey::from_rsa_pem(&pem),
            Key::Ec => EncodingKey::from_ec_pem(&pem),
            Key::Ed => EncodingKey::from_ed_pem(&pem),
        }
        .expect("fixture key parses")
    }

    /// The public JWK, as the provider publishes it.
    fn jwk(self) -> Value {
        let all: Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{FIXTURES}/public_jwks.json")).expect("fixture"),
        )
        .expect("fixture JSON");
        let mut jwk = all[self.file()].clone();
        jwk["kid"] = json!(self.kid());
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(format!("{:?}", self.alg()));
        jwk
    }
}

struct ProviderState {
    issuer: String,
    keys: std::sync::Mutex<Vec<Key>>,
    jwks_fetches: AtomicUsize,
    down: AtomicBool,
}

/// A stand-in OpenID provider: discovery and JWKS, on 127.0.0.1.
#[derive(Clone)]
pub(crate) struct Provider(Arc<ProviderState>);

async fn discovery(State(provider): State<Provider>) -> Response {
    axum::Json(json!({
        "issuer": provider.0.issuer,
        "jwks_uri": format!("{}/jwks", provider.0.issuer),
    }))
    .into_response()
}

async fn jwks(State(provider): State<Provider>) -> Response {
    provider.0.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if provider.0.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys: Vec<Value> = provider
        .0
        .keys
        .lock()
        .unwrap()
        .iter()
        .map(|k| k.jwk())
        .collect();
    axum::Json(json!({ "keys": keys })).into_response()
}

impl Provider {
    pub(crate) async fn start(keys: &[Key]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let provider = Provider(Arc::new(ProviderState {
            issuer,
            keys: std::sync::Mutex::new(keys.to_vec()),
            jwks_fetches: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        }));
        let router = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(provider.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        provider
    }

    fn issuer(&self) -> &str {
        &self.0.issuer
    }

    fn publish(&self, keys: &[Key]) {
        *self.0.keys.lock().unwrap() = keys.to_vec();
    }

    fn fetches(&self) -> usize {
        self.0.jwks_fetches.load(Ordering::SeqCst)
    }

    /// The issuers file trusting this provider: the organization from the `org`
    /// claim (an acronym), roles from `groups`.
    fn config(&self, extra: Value) -> Vec<IssuerConfig> {
        let mut issuer = json!({
            "issuer": self.issuer(),
            "discovery": true,
            "audience": AUDIENCE,
            "algorithms": ["RS256", "ES256", "EdDSA"],
            "organization": { "claim": "org", "match": "acronym" },
            "roles": { "claim": "groups", "map": {
                "embhub-coordinators": ["COORDINATOR"],
                "embhub-partners": "PARTNER",
                "embhub-readers": "READER"
            } }
        });
        for (k, v) in extra.as_object().into_iter().flatten() {
            issuer[k] = v.clone();
        }
        IssuerConfig::from_json(&json!({ "issuers": [issuer] }).to_string())
            .expect("the test issuers file is valid")
    }

    /// Standard claims of a person of `org` in `groups`, valid for five minutes.
    pub(crate) fn claims(&self, subject: &str, org: &str, groups: &[&str]) -> Value {
        let now = jsonwebtoken::get_current_timestamp();
        json!({
            "iss": self.issuer(), "aud": AUDIENCE, "sub": subject,
            "iat": now, "nbf": now, "exp": now + 300,
            "jti": uuid::Uuid::new_v4().to_string(),
            "org": org, "groups": groups,
            "name": format!("Person {subject}"), "email": format!("{subject}@example.org"),
        })
    }
}

/// Signs `claims` with `key`, as an RFC 9068 access token.
pub(crate) fn sign(key: Key, claims: &Value) -> String {
    let mut header = Header::new(key.alg());
    header.typ = Some("at+jwt".into());
    header.kid = Some(key.kid());
    jsonwebtoken::encode(&header, claims, &key.encoding_key()).expect("sign")
}

pub(crate) fn trust(provider: &Provider, extra: Value) -> impl Fn(&mut Settings) {
    let issuers = provider.config(extra);
    move |settings: &mut Settings| settings.people.oidc_issuers = issuers.clone()
}

/// Creates an organization with `acronym` as the admin; returns its global id.
pub(crate) async fn organization(app: &TestApp, name: &str, acronym: &str) -> String {
    let created = app
        .gql(
            Some(&app.admin_token),
            "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }",
            json!({ "input": { "kind": "ELECTION_MANAGEMENT_BODY", "name": name, "acronym": acronym, "countryCode": "KR" } }),
        )
        .await;
    created.data()["createOrganization"]["organization"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

const VIEWER: &str =
    "{ viewer { clientId roles organization { name } person { id issuer subject name email } } }";
const CREATE_EVENT: &str =
    "mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }";

fn event_input(title: &str) -> Value {
    json!({ "input": { "kind": "FORUM", "title": title, "timeZone": "Asia/Seoul",
        "startDate": "2030-05-04", "endDate": "2030-05-04" } })
}

#[tokio::test]
async fn a_person_signs_in_acts_within_their_organization_and_is_the_audited_actor() {
    let provider = Provider::start(&[Key::RsaA]).await;
    each_backend_with(trust(&provider, json!({})), |app| {
        let provider = provider.clone();
        async move {
            organization(&app, "National Election Commission", "NEC").await;
            let token = sign(
                Key::RsaA,
                &provider.claims("kim", "nec", &["embhub-coordinators", "unrelated"]),
            );

            let viewer = app.gql(Some(&token), VIEWER, json!({})).await;

            let viewer = &viewer.data()["viewer"];
            assert_eq!(
                viewer["clientId"],
                Value::Null,
                "a person is not an API client"
            );
            assert_eq!(viewer["roles"], json!(["COORDINATOR"]));
            assert_eq!(
                viewer["organization"]["name"],
                "National Election Commission"
            );
            assert_eq!(viewer["person"]["issuer"], provider.issuer());
            assert_eq!(viewer["person"]["subject"], "kim");
            assert_eq!(viewer["person"]["name"], "Person kim");
            assert_eq!(viewer["person"]["email"], "kim@example.org");
            let person = global_uuid(viewer["person"]["id"].as_str().unwrap());

            // A write within the role is recorded under the person's name.
            let created = app
                .gql(Some(&token), CREATE_EVENT, event_input("Forum"))
                .await;
            let event = global_uuid(
                created.data()["createEvent"]["event"]["id"]
                    .as_str()
                    .unwrap(),
            );
            let entries = embhub::entity::audit_entry::Entity::find()
                .filter(embhub::entity::audit_entry::Column::EntityId.eq(event))
                .all(&app.db)
                .await
                .unwrap();
            assert_eq!(entries.len(), 1, "{entries:?}");
            assert_eq!(entries[0].actor_person_id, Some(person));
            assert_eq!(entries[0].actor_client_id, None);
            let people = embhub::entity::person::Entity::find()
                .all(&app.db)
                .await
                .unwrap();
            assert_eq!(people.len(), 1, "one sign-in, one person: {people:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_person_is_held_to_their_role_and_their_organization() {
    let provider = Provider::start(&[Key::RsaA]).await;
    each_backend_with(trust(&provider, json!({})), |app| {
        let provider = provider.clone();
        async move {
            organization(&app, "National Election Commission", "NEC").await;
            organization(&app, "Central Election Commission", "CEC").await;
            let reader = sign(Key::RsaA, &provider.claims("lee", "NEC", &["embhub-readers"]));
            let coordinator = sign(Key::RsaA, &provider.claims("kim", "NEC", &["embhub-coordinators"]));
            let other = sign(Key::RsaA, &provider.claims("ivan", "CEC", &["embhub-coordinators"]));

            let refused = app.gql(Some(&reader), CREATE_EVENT, event_input("Forum")).await;
            assert_eq!(refused.error_code(), "FORBIDDEN");
            assert_eq!(app.count_rows("events").await, 0);

            let created = app.gql(Some(&coordinator), CREATE_EVENT, event_input("Forum")).await;
            let event = created.data()["createEvent"]["event"]["id"].as_str().unwrap().to_owned();
            // Another organization's coordinator cannot see the draft, let alone edit it.
            let edited = app
                .gql(
                    Some(&other),
                    "mutation($id: ID!) { updateEvent(input: { id: $id, title: \"Hijacked\" }) { event { title } } }",
                    json!({ "id": event }),
                )
                .await;
            assert_eq!(edited.error_code(), "NOT_FOUND");
            let title = app
                .gql(Some(&coordinator), "query($id: ID!) { event(id: $id) { title } }", json!({ "id": event }))
                .await;
            assert_eq!(title.data()["event"]["title"], "Forum");
        }
    })
    .await;
}

/// A GraphQL request with `token` answered 401 `UNAUTHENTICATED`.
async fn assert_refused(app: &TestApp, token: &str, case: &str) {
    let response = app
        .gql(Some(token), "{ viewer { roles } }", json!({}))
        .await;
    assert_eq!(response.status, 401, "{case}: {}", response.body);
    assert_eq!(response.error_code(), "UNAUTHENTICATED", "{case}");
}

#[tokio::test]
async fn bad_person_tokens_are_refused_and_sign_in_no_one() {
    let provider = Provider::start(&[Key::RsaA, Key::RsaShort]).await;
    let stranger = Provider::start(&[Key::RsaA]).await;
    each_backend_with(trust(&provider, json!({})), |app| {
        let provider = provider.clone();
        let stranger = stranger.clone();
        async move {
            organization(&app, "National Election Commission", "NEC").await;
            let good = provider.claims("kim", "NEC", &["embhub-coordinators"]);
            let now = jsonwebtoken::get_current_timestamp();
            let with = |patch: Value| {
                let mut claims = good.clone();
                for (k, v) in patch.as_object().unwrap() {
                    claims[k] = v.clone();
                }
                claims
            };
            // The control: the same claims, properly signed, are accepted.
            let accepted = app
                .gql(
                    Some(&sign(Key::RsaA, &good)),
                    "{ viewer { roles } }",
                    json!({}),
                )
                .await;
            assert_eq!(accepted.data()["viewer"]["roles"], json!(["COORDINATOR"]));
            embhub::entity::person::Entity::delete_many()
                .exec(&app.db)
                .await
                .unwrap();

            let mut cases: Vec<(&str, String)> = vec![
                (
                    "unknown issuer",
                    sign(
                        Key::RsaA,
                        &stranger.claims("kim", "NEC", &["embhub-coordinators"]),
                    ),
                ),
                (
                    "wrong audience",
                    sign(Key::RsaA, &with(json!({ "aud": "another-api" }))),
                ),
                (
                    "expired",
                    sign(
                        Key::RsaA,
                        &with(json!({ "iat": now - 900, "nbf": now - 900, "exp": now - 300 })),
                    ),
                ),
                (
                    "issued in the future",
                    sign(Key::RsaA, &with(json!({ "iat": now + 600 }))),
                ),
                (
                    "too long a lifetime",
                    sign(Key::RsaA, &with(json!({ "exp": now + 30 * 86_400 }))),
                ),
                ("no exp", sign(Key::RsaA, &with(json!({ "exp": null })))),
                ("no sub", sign(Key::RsaA, &with(json!({ "sub": null })))),
                (
                    "no mapped role",
                    sign(Key::RsaA, &with(json!({ "groups": ["staff"] }))),
                ),
                (
                    "unknown organization",
                    sign(Key::RsaA, &with(json!({ "org": "XYZ" }))),
                ),
                ("RSA key under 2048 bits", sign(Key::RsaShort, &good)),
            ];
            // An unknown kid: a key the provider never published.
            let mut header = Header::new(Algorithm::RS256);
            header.typ = Some("at+jwt".into());
            header.kid = Some("kid-nobody".into());
            cases.push((
                "unknown kid",
                jsonwebtoken::encode(&header, &good, &Key::RsaB.encoding_key()).unwrap(),
            ));
            // A real key signing for a kid that names another key.
            header.kid = Some(Key::RsaA.kid());
            cases.push((
                "signed by another key",
                jsonwebtoken::encode(&header, &good, &Key::RsaB.encoding_key()).unwrap(),
            ));
            // Not an access token (an ID token, say).
            let mut id_token = Header::new(Algorithm::RS256);
            id_token.typ = Some("JWT".into());
            id_token.kid = Some(Key::RsaA.kid());
            cases.push((
                "typ JWT",
                jsonwebtoken::encode(&id_token, &good, &Key::RsaA.encoding_key()).unwrap(),
            ));
            // alg none: no signature at all.
            let b64 = |v: &Value| {
                use base64::Engine;
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
            };
            cases.push((
                "alg none",
                format!(
                    "{}.{}.",
                    b64(&json!({ "alg": "none", "typ": "at+jwt", "kid": Key::RsaA.kid() })),
                    b64(&good)
                ),
            ));
            // HS256 keyed with the provider's public key: the algorithm confusion.
            let mut hmac = Header::new(Algorithm::HS256);
            hmac.typ = Some("at+jwt".into());
            hmac.kid = Some(Key::RsaA.kid());
            let public = Key::RsaA.jwk()["n"].as_str().unwrap().to_owned();
            cases.push((
                "HS256",
                jsonwebtoken::encode(&hmac, &good, &EncodingKey::from_secret(public.as_bytes()))
                    .unwrap(),
            ));
            // A critical header extension we do not understand.
            let mut critical = Header::new(Algorithm::RS256);
            critical.typ = Some("at+jwt".into());
            critical.kid = Some(Key::RsaA.kid());
            critical.crit = Some(vec!["exp".into()]);
            cases.push((
                "crit",
                jsonwebtoken::encode(&critical, &good, &Key::RsaA.encoding_key()).unwrap(),
            ));

            for (case, token) in &cases {
                assert_refused(&app, token, case).await;
            }
            assert_eq!(
                app.count_rows("people").await,
                0,
                "no refused token signs anyone in"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn every_allowed_algorithm_works_and_a_jwks_uri_needs_no_discovery() {
    let provider = Provider::start(&[Key::RsaA, Key::Ec, Key::Ed]).await;
    let jwks_uri = format!("{}/jwks", provider.issuer());
    each_backend_with(
        trust(
            &provider,
            json!({ "discovery": false, "jwks_uri": jwks_uri }),
        ),
        |app| {
            let provider = provider.clone();
            async move {
                organization(&app, "National Election Commission", "NEC").await;
                for key in [Key::RsaA, Key::Ec, Key::Ed] {
                    let token = sign(key, &provider.claims("kim", "NEC", &["embhub-partners"]));
                    let viewer = app
                        .gql(Some(&token), "{ viewer { roles } }", json!({}))
                        .await;
                    assert_eq!(
                        viewer.data()["viewer"]["roles"],
                        json!(["PARTNER"]),
                        "{:?}",
                        key.alg()
                    );
                }
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_rotated_provider_key_is_picked_up() {
    let provider = Provider::start(&[Key::RsaA]).await;
    each_backend_with(
        trust(&provider, json!({ "jwks_min_refresh_secs": 1 })),
        |app| {
            let provider = provider.clone();
            async move {
                provider.publish(&[Key::RsaA]);
                organization(&app, "National Election Commission", "NEC").await;
                let before = sign(
                    Key::RsaA,
                    &provider.claims("kim", "NEC", &["embhub-partners"]),
                );
                app.gql(Some(&before), "{ viewer { roles } }", json!({}))
                    .await
                    .data();

                // The provider rotates to a new key, retiring the old one.
                provider.publish(&[Key::RsaB]);
                tokio::time::sleep(Duration::from_millis(1100)).await;
                let after = sign(
                    Key::RsaB,
                    &provider.claims("kim", "NEC", &["embhub-partners"]),
                );

                let viewer = app
                    .gql(Some(&after), "{ viewer { roles } }", json!({}))
                    .await;
                assert_eq!(viewer.data()["viewer"]["roles"], json!(["PARTNER"]));
                // A new token signed with the retired key no longer verifies.
                let retired = sign(
                    Key::RsaA,
                    &provider.claims("kim", "NEC", &["embhub-partners"]),
                );
                assert_refused(&app, &retired, "retired key").await;
            }
        },
    )
    .await;
}

#[tokio::test]
async fn unknown_kids_refresh_the_keys_at_most_once_a_minute_and_an_outage_spares_cached_keys() {
    let provider = Provider::start(&[Key::RsaA]).await;
    each_backend_with(trust(&provider, json!({})), |app| {
        let provider = provider.clone();
        async move {
            provider.0.down.store(false, Ordering::SeqCst);
            organization(&app, "National Election Commission", "NEC").await;
            let start = provider.fetches();
            let token = sign(
                Key::RsaA,
                &provider.claims("kim", "NEC", &["embhub-partners"]),
            );
            app.gql(Some(&token), "{ viewer { roles } }", json!({}))
                .await
                .data();
            assert_eq!(
                provider.fetches(),
                start + 1,
                "the first token fetches the keys"
            );

            // Tokens naming keys the provider has not published: no fetch within the minute.
            for _ in 0..3 {
                let mut header = Header::new(Algorithm::RS256);
                header.typ = Some("at+jwt".into());
                header.kid = Some(format!("kid-{}", uuid::Uuid::new_v4()));
                let claims = provider.claims("kim", "NEC", &["embhub-partners"]);
                let token =
                    jsonwebtoken::encode(&header, &claims, &Key::RsaA.encoding_key()).unwrap();
                assert_refused(&app, &token, "unknown kid").await;
            }
            assert_eq!(
                provider.fetches(),
                start + 1,
                "no refetch within the minute"
            );

            // The provider goes down: a new token with a cached key still works.
            provider.0.down.store(true, Ordering::SeqCst);
            let fresh = sign(
                Key::RsaA,
                &provider.claims("park", "NEC", &["embhub-partners"]),
            );
            let viewer = app
                .gql(Some(&fresh), "{ viewer { person { subject } } }", json!({}))
                .await;
            assert_eq!(viewer.data()["viewer"]["person"]["subject"], "park");
            provider.0.down.store(false, Ordering::SeqCst);
        }
    })
    .await;
}

#[tokio::test]
async fn a_token_from_an_unconfigured_issuer_is_refused_when_no_issuer_is_trusted() {
    let provider = Provider::start(&[Key::RsaA]).await;
    each_backend_with(
        |_| {},
        |app| {
            let provider = provider.clone();
            async move {
                organization(&app, "National Election Commission", "NEC").await;
                let token = sign(
                    Key::RsaA,
                    &provider.claims("kim", "NEC", &["embhub-coordinators"]),
                );
                assert_refused(&app, &token, "no issuers configured").await;
                assert_eq!(
                    provider.fetches(),
                    0,
                    "an untrusted issuer is never contacted"
                );
            }
        },
    )
    .await;
}
