//! Webhooks as an organization's system meets them: a local receiver that checks
//! every signature the way a Standard Webhooks library does (written here from the
//! specification, not with the server's code), retries, what never reaches it
//! (rolled-back changes, what its organization may not see, internal addresses in
//! production), a dead receiver beside a busy API, and who may manage endpoints.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use embhub::auth::Role;
use embhub::config::Settings;
use hmac::{Hmac, Mac};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::fixtures::{Member, member, published_event};
use crate::helpers::{TestApp, each_backend_with, global_uuid};

const CREATE: &str = "mutation($input: CreateWebhookEndpointInput!) {
    createWebhookEndpoint(input: $input) { secret endpoint { id url eventTypes active version description } } }";
const UPDATE: &str = "mutation($input: UpdateWebhookEndpointInput!) {
    updateWebhookEndpoint(input: $input) { endpoint { id url active disabledReason consecutiveFailures failingSince version } } }";
const DELIVERIES: &str = "query($endpoint: ID!, $filter: WebhookDeliveryFilter) {
    webhookDeliveries(endpointId: $endpoint, filter: $filter) { totalCount nodes {
        id webhookId eventType status attempts lastResponseStatus lastResponseTimeMs lastError
        nextAttemptAt deliveredAt payload } } }";
const ENDPOINTS: &str = "{ webhookEndpoints { totalCount nodes { id url active disabledReason
    consecutiveFailures eventTypes previousSecretExpiresAt } } }";
const SEND: &str =
    "mutation($id: ID!) { sendInvitation(input: { id: $id }) { invitation { id status } } }";
const DRAFT_INVITE: &str = "mutation($input: InviteOrganizationsInput!) {
    inviteOrganizations(input: $input) { invitations { id status } } }";
const UPDATE_EVENT: &str =
    "mutation($input: UpdateEventInput!) { updateEvent(input: $input) { event { id version } } }";

/// Fast workers for tests: polls every 20 ms, retries after 20 ms, 40 ms, …
fn fast(settings: &mut Settings) {
    settings.webhooks.poll_interval = Duration::from_millis(20);
    settings.webhooks.retry_base = Duration::from_millis(20);
    settings.webhooks.max_attempts = 4;
    settings.webhooks.timeout = Duration::from_secs(5);
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Ok,
    /// 500 for the first `n` requests of each `webhook-id`, then 200.
    FailFirst(usize),
    AlwaysFail,
    /// Never answers: the request stays open until the sender gives up.
    Hang,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    webhook_id: String,
    body: Value,
    /// Which of the receiver's secrets (by index) one of the signatures verifies with.
    verified_with: Vec<usize>,
    /// How many `v1,` signatures the request carried.
    signatures: usize,
    /// Whether `webhook-timestamp` was within five minutes of the receiver's clock.
    fresh: bool,
    /// When it arrived.
    at: std::time::Instant,
}

#[derive(Default)]
struct ReceiverState {
    answer: Mutex<Option<Answer>>,
    secrets: Mutex<Vec<String>>,
    received: Mutex<Vec<Received>>,
    held: AtomicUsize,
}

/// A local HTTP server playing an organization's system.
#[derive(Clone)]
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    async fn start(answer: Answer) -> Self {
        let state = Arc::new(ReceiverState::default());
        *state.answer.lock().unwrap() = Some(answer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let router = axum::Router::new()
            .route("/hooks", axum::routing::post(receive))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, state }
    }

    fn trust(&self, secret: &str) {
        self.state.secrets.lock().unwrap().push(secret.to_owned());
    }

    fn answer(&self, answer: Answer) {
        *self.state.answer.lock().unwrap() = Some(answer);
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// The change kinds received, in arrival order.
    fn kinds(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| r.body["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn held(&self) -> usize {
        self.state.held.load(Ordering::SeqCst)
    }
}

/// Verifies a Standard Webhooks signature header from the specification: the key
/// is the base64 after `whsec_`; the signed content is `{id}.{timestamp}.{body}`;
/// the header lists `v1,<base64 HMAC-SHA256>` entries separated by spaces.
fn verifying_secrets(
    secrets: &[String],
    id: &str,
    timestamp: &str,
    body: &[u8],
    header: &str,
) -> Vec<usize> {
    let offered: Vec<&str> = header
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .collect();
    secrets
        .iter()
        .enumerate()
        .filter(|(_, secret)| {
            let key = STANDARD
                .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
                .expect("base64 secret");
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.as_bytes());
            mac.update(b".");
            mac.update(body);
            let expected = STANDARD.encode(mac.finalize().into_bytes());
            offered.contains(&expected.as_str())
        })
        .map(|(index, _)| index)
        .collect()
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let secrets = state.secrets.lock().unwrap().clone();
    let now = chrono::Utc::now().timestamp();
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (now - t).abs() <= 300);
    let received = Received {
        webhook_id: id.clone(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        verified_with: verifying_secrets(&secrets, &id, &timestamp, &body, &signature),
        signatures: signature
            .split(' ')
            .filter(|s| s.starts_with("v1,"))
            .count(),
        fresh,
        at: std::time::Instant::now(),
    };
    let seen = {
        let mut all = state.received.lock().unwrap();
        all.push(received);
        all.iter().filter(|r| r.webhook_id == id).count()
    };
    let answer = state.answer.lock().unwrap().unwrap_or(Answer::Ok);
    match answer {
        Answer::Ok => StatusCode::NO_CONTENT,
        Answer::FailFirst(n) if seen <= n => StatusCode::INTERNAL_SERVER_ERROR,
        Answer::FailFirst(_) => StatusCode::OK,
        Answer::AlwaysFail => StatusCode::INTERNAL_SERVER_ERROR,
        Answer::Hang => {
            state.held.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<StatusCode>().await
        }
    }
}

/// Waits until `check` holds; fails the test after 30 s (a liveness bound, far
/// above what any of these takes, not a performance claim).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db
        .query_one_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
}

/// Waits until every committed change is fanned out and every delivery settled
/// (delivered or failed), so a test can assert what did *not* arrive.
async fn settle(app: &TestApp) {
    eventually("the outbox is drained", || async {
        count(app, "SELECT COUNT(*) AS n FROM webhook_outbox").await == 0
            && count(
                app,
                "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'PENDING'",
            )
            .await
                == 0
    })
    .await;
}

/// Registers an endpoint for `owner` at `receiver`; returns its id and has the
/// receiver trust its secret.
async fn endpoint(app: &TestApp, owner: &Member, receiver: &Receiver, kinds: &[&str]) -> String {
    let created = app
        .gql(
            Some(&owner.token),
            CREATE,
            json!({ "input": { "url": receiver.url, "eventTypes": kinds } }),
        )
        .await;
    let payload = &created.data()["createWebhookEndpoint"];
    receiver.trust(payload["secret"].as_str().unwrap());
    payload["endpoint"]["id"].as_str().unwrap().to_owned()
}

/// The NEC (host), the UK's commission (partner) and a published event.
async fn world(app: &TestApp) -> (Member, Member, String) {
    let host = member(
        app,
        "National Election Commission",
        Some("KR"),
        &[Role::Coordinator],
    )
    .await;
    let uk = member(app, "Electoral Commission", Some("GB"), &[Role::Partner]).await;
    let event = published_event(app, &host, json!({})).await;
    (host, uk, event)
}

/// A DRAFT invitation of `invitee` to `event`.
async fn draft_invitation(app: &TestApp, host: &Member, event: &str, invitee: &Member) -> String {
    let response = app
        .gql(
            Some(&host.token),
            DRAFT_INVITE,
            json!({ "input": { "eventId": event, "organizationIds": [invitee.id],
                "seatsOffered": 2, "respondBy": "2030-04-01T00:00:00Z", "send": false } }),
        )
        .await;
    response.data()["inviteOrganizations"]["invitations"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_and_retried_with_the_same_webhook_id_until_the_receiver_answers() {
    each_backend_with(fast, |app| async move {
        let (host, uk, event) = world(&app).await;
        let receiver = Receiver::start(Answer::FailFirst(2)).await;
        let hook = endpoint(&app, &uk, &receiver, &["INVITATION_SENT"]).await;
        let invitation = draft_invitation(&app, &host, &event, &uk).await;

        app.gql(Some(&host.token), SEND, json!({ "id": invitation }))
            .await
            .data();

        eventually("the third attempt is answered", || async {
            receiver.received().len() >= 3
        })
        .await;
        settle(&app).await;
        let received = receiver.received();
        assert_eq!(received.len(), 3, "two failures and one success");
        assert!(
            received
                .iter()
                .all(|r| r.webhook_id == received[0].webhook_id),
            "every retry carries the same webhook-id"
        );
        for attempt in &received {
            assert_eq!(attempt.verified_with, [0], "each signature verifies");
            assert!(attempt.fresh, "webhook-timestamp is the sending time");
        }
        let body = &received[0].body;
        assert_eq!(body["type"], "INVITATION_SENT");
        assert_eq!(body["data"]["subjectType"], "Invitation");
        assert_eq!(body["data"]["subjectId"], invitation);
        assert_eq!(
            body["data"]["subjectUuid"],
            global_uuid(&invitation).to_string()
        );
        assert_eq!(body["data"]["eventId"], event);
        assert_eq!(body["data"]["summary"], json!({ "status": "SENT" }));
        // The id in the payload is one the API resolves.
        let node = app
            .gql(
                Some(&uk.token),
                "query($id: ID!) { node(id: $id) { ... on Invitation { status } } }",
                json!({ "id": body["data"]["subjectId"] }),
            )
            .await;
        assert_eq!(node.data()["node"]["status"], "SENT");

        let log = app
            .gql(Some(&uk.token), DELIVERIES, json!({ "endpoint": hook }))
            .await;
        let deliveries = &log.data()["webhookDeliveries"];
        assert_eq!(deliveries["totalCount"], 1);
        let delivery = &deliveries["nodes"][0];
        assert_eq!(delivery["status"], "DELIVERED");
        assert_eq!(delivery["attempts"], 3);
        assert_eq!(delivery["lastResponseStatus"], 200);
        assert_eq!(delivery["webhookId"], received[0].webhook_id.as_str());
        assert!(delivery["lastResponseTimeMs"].is_i64());
        assert!(delivery["lastError"].is_null());
        assert!(delivery["nextAttemptAt"].is_null());
        assert!(delivery["deliveredAt"].is_string());
        assert_eq!(delivery["payload"], *body);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_was_rolled_back_or_refused_is_never_delivered() {
    each_backend_with(fast, |app| async move {
        let (host, _uk, event) = world(&app).await;
        let receiver = Receiver::start(Answer::Ok).await;
        endpoint(&app, &host, &receiver, &["EVENT_UPDATED"]).await;

        // A conflicting change (stale version) is refused and changes nothing.
        let stale = app
            .gql(
                Some(&host.token),
                UPDATE_EVENT,
                json!({ "input": { "id": event, "venue": "Seoul", "expectedVersion": 1 } }),
            )
            .await;
        assert_eq!(stale.error_code(), "CONFLICT");
        // An audit entry whose transaction rolls back (as any failing mutation's
        // does) is never fanned out.
        use sea_orm::TransactionTrait;
        let txn = app.db.begin().await.unwrap();
        embhub::service::audit::record_system(
            &txn,
            vec![embhub::service::audit::Change {
                action: "event.update",
                entity_type: "Event",
                entity_id: global_uuid(&event),
                before: None,
                after: Some(json!({ "status": "PUBLISHED" })),
                event_id: None,
            }],
        )
        .await
        .unwrap();
        txn.rollback().await.unwrap();
        // One change that does happen, after them.
        app.gql(
            Some(&host.token),
            UPDATE_EVENT,
            json!({ "input": { "id": event, "venue": "Seoul" } }),
        )
        .await
        .data();

        eventually("the committed change arrives", || async {
            !receiver.received().is_empty()
        })
        .await;
        settle(&app).await;
        assert_eq!(receiver.kinds(), ["EVENT_UPDATED"]);
        assert_eq!(
            count(&app, "SELECT COUNT(*) AS n FROM webhook_deliveries").await,
            1
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_does_not_slow_or_change_mutations() {
    each_backend_with(
        |settings| {
            fast(settings);
            // Requests stay open for the whole test.
            settings.webhooks.timeout = Duration::from_secs(60);
            settings.webhooks.endpoint_concurrency = 2;
            // No revocation re-check in the middle of the counted requests.
            settings.auth.revocation_check_interval = Duration::from_secs(60);
        },
        |app| async move {
            let (host, _uk, event) = world(&app).await;
            let change =
                |n: usize| json!({ "input": { "id": event, "venue": format!("Hall {n}") } });
            let (before, first) = app
                .statements_for(&host.token, UPDATE_EVENT, change(0))
                .await;
            first.data();

            let receiver = Receiver::start(Answer::Hang).await;
            endpoint(&app, &host, &receiver, &[]).await;
            for n in 1..3 {
                app.gql(Some(&host.token), UPDATE_EVENT, change(n))
                    .await
                    .data();
            }
            eventually("the receiver holds requests open", || async {
                receiver.held() >= 2
            })
            .await;

            // While every sending slot of the endpoint hangs, mutations run as
            // before: each succeeds, with the same statements as without webhooks.
            for n in 3..23 {
                let (statements, response) = app
                    .statements_for(&host.token, UPDATE_EVENT, change(n))
                    .await;
                assert!(response.body.get("errors").is_none(), "{}", response.body);
                assert_eq!(
                    statements, before,
                    "the same statements as without webhooks"
                );
            }
            eventually("the changes wait as pending deliveries", || async {
                count(
                    &app,
                    "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'PENDING'",
                )
                .await
                    == 22
            })
            .await;
            assert_eq!(
                receiver.held(),
                2,
                "at most two requests per endpoint at once"
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_receive_only_the_changes_they_may_see() {
    each_backend_with(fast, |app| async move {
        let host = member(
            &app,
            "National Election Commission",
            Some("KR"),
            &[Role::Coordinator],
        )
        .await;
        let uk = member(&app, "Electoral Commission", Some("GB"), &[Role::Partner]).await;
        let us = member(
            &app,
            "Election Assistance Commission",
            Some("US"),
            &[Role::Partner],
        )
        .await;
        let (to_host, to_uk, to_us) = (
            Receiver::start(Answer::Ok).await,
            Receiver::start(Answer::Ok).await,
            Receiver::start(Answer::Ok).await,
        );
        endpoint(&app, &host, &to_host, &[]).await;
        endpoint(&app, &uk, &to_uk, &[]).await;
        endpoint(&app, &us, &to_us, &[]).await;

        let event = published_event(&app, &host, json!({})).await;
        let invitation = draft_invitation(&app, &host, &event, &uk).await;
        settle(&app).await;
        // A draft invitation does not exist for its invitee.
        assert!(!to_uk.kinds().contains(&"INVITATION_CREATED".to_owned()));
        app.gql(Some(&host.token), SEND, json!({ "id": invitation }))
            .await
            .data();
        settle(&app).await;

        let sorted = |receiver: &Receiver| {
            let mut kinds = receiver.kinds();
            kinds.sort();
            kinds
        };
        assert_eq!(
            sorted(&to_host),
            [
                "EVENT_CREATED",
                "EVENT_PUBLISHED",
                "INVITATION_CREATED",
                "INVITATION_SENT"
            ]
        );
        // The UK sees the published event and the invitation once it is sent.
        assert_eq!(sorted(&to_uk), ["EVENT_PUBLISHED", "INVITATION_SENT"]);
        // The US sees the public event, nothing of another country's invitation.
        assert_eq!(sorted(&to_us), ["EVENT_PUBLISHED"]);
        for receiver in [&to_host, &to_uk, &to_us] {
            assert!(receiver.received().iter().all(|r| r.verified_with == [0]));
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_before_any_endpoint_exists_are_neither_queued_nor_delivered() {
    each_backend_with(fast, |app| async move {
        let (host, uk, event) = world(&app).await;
        // Nobody could receive these: the audited writes queue nothing.
        assert_eq!(
            count(&app, "SELECT COUNT(*) AS n FROM webhook_outbox").await,
            0
        );
        assert!(count(&app, "SELECT COUNT(*) AS n FROM audit_entries").await >= 2);

        let to_host = Receiver::start(Answer::Ok).await;
        endpoint(&app, &host, &to_host, &[]).await;
        draft_invitation(&app, &host, &event, &uk).await;
        settle(&app).await;
        assert_eq!(to_host.kinds(), ["INVITATION_CREATED"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_sent_by_inviting_again_is_announced_as_sent() {
    each_backend_with(fast, |app| async move {
        let (host, uk, event) = world(&app).await;
        let receiver = Receiver::start(Answer::Ok).await;
        endpoint(&app, &uk, &receiver, &["INVITATION_SENT"]).await;
        let invitation = draft_invitation(&app, &host, &event, &uk).await;

        // Inviting an organization again with `send: true` sends its draft.
        let sent = app
            .gql(
                Some(&host.token),
                DRAFT_INVITE,
                json!({ "input": { "eventId": event, "organizationIds": [uk.id],
                    "seatsOffered": 2, "respondBy": "2030-04-01T00:00:00Z", "send": true } }),
            )
            .await;
        let sent = &sent.data()["inviteOrganizations"]["invitations"][0];
        assert_eq!(
            (sent["id"].as_str(), sent["status"].as_str()),
            (Some(invitation.as_str()), Some("SENT"))
        );

        eventually("the invitee hears of it", || async {
            !receiver.received().is_empty()
        })
        .await;
        settle(&app).await;
        assert_eq!(receiver.kinds(), ["INVITATION_SENT"]);
        assert_eq!(receiver.received()[0].body["data"]["subjectId"], invitation);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_co_hosts_invitation_reaches_the_invitee_as_the_hosts_would() {
    each_backend_with(fast, |app| async move {
        let (host, uk, event) = world(&app).await;
        let aweb = member(&app, "Association of World Election Bodies", None, &[Role::Coordinator]).await;
        let us = member(&app, "Election Assistance Commission", Some("US"), &[Role::Partner]).await;
        let (to_uk, to_aweb, to_us) = (
            Receiver::start(Answer::Ok).await,
            Receiver::start(Answer::Ok).await,
            Receiver::start(Answer::Ok).await,
        );
        let invitation_kinds = ["INVITATION_SENT", "INVITATION_WITHDRAWN", "CO_HOST_PERMISSIONS_CHANGED"];
        endpoint(&app, &uk, &to_uk, &invitation_kinds).await;
        endpoint(&app, &aweb, &to_aweb, &invitation_kinds).await;
        endpoint(&app, &us, &to_us, &invitation_kinds).await;
        app.gql(
            Some(&host.token),
            "mutation($input: AddCoHostInput!) { addCoHost(input: $input) { event { id } } }",
            json!({ "input": { "eventId": event, "organizationId": aweb.id, "permissions": ["INVITE"] } }),
        )
        .await
        .data();
        app.gql(
            Some(&host.token),
            "mutation($input: UpdateCoHostPermissionsInput!) { updateCoHostPermissions(input: $input) { event { id } } }",
            json!({ "input": { "eventId": event, "organizationId": aweb.id, "permissions": ["INVITE", "VIEW_ACTIVITY"] } }),
        )
        .await
        .data();

        // A-WEB drafts, sends and withdraws the UK's invitation.
        let invitation = draft_invitation(&app, &aweb, &event, &uk).await;
        app.gql(Some(&aweb.token), SEND, json!({ "id": invitation })).await.data();
        app.gql(
            Some(&aweb.token),
            "mutation($id: ID!) { withdrawInvitation(input: { id: $id }) { invitation { status } } }",
            json!({ "id": invitation }),
        )
        .await
        .data();
        settle(&app).await;

        // The invitee hears of it as of a host's invitation; the grant reaches the
        // co-host only (a partner of the published event hears nothing of it).
        // (Deliveries are not ordered: the README says so; `timestamp` orders them.)
        let mut uk_kinds = to_uk.kinds();
        uk_kinds.sort();
        assert_eq!(uk_kinds, ["INVITATION_SENT", "INVITATION_WITHDRAWN"]);
        assert!(
            to_uk.received().iter().all(|r| r.body["data"]["subjectId"] == invitation.as_str()),
            "both about the invitation A-WEB sent"
        );
        let mut aweb_kinds = to_aweb.kinds();
        aweb_kinds.sort();
        assert_eq!(aweb_kinds, ["CO_HOST_PERMISSIONS_CHANGED", "INVITATION_SENT", "INVITATION_WITHDRAWN"]);
        assert!(to_us.kinds().is_empty(), "{:?}", to_us.kinds());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_webhook_urls_that_are_not_https_or_lead_inside() {
    each_backend_with(
        |settings| settings.production = true,
        |app| async move {
            let uk = member(&app, "Electoral Commission", Some("GB"), &[Role::Partner]).await;
            for url in [
                "https://127.0.0.1/hooks",
                "https://169.254.169.254/latest/meta-data/",
                "https://[fd00:ec2::254]/",
                "https://10.0.0.8/hooks",
                "https://localhost:8443/hooks",
                "http://example.com/hooks",
            ] {
                let refused = app
                    .gql(Some(&uk.token), CREATE, json!({ "input": { "url": url } }))
                    .await;
                assert_eq!(refused.error_code(), "BAD_USER_INPUT", "{url}");
                assert_eq!(refused.error_field(), "url", "{url}");
            }
            assert_eq!(app.count_rows("webhook_endpoints").await, 0);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_checks_the_address_again_when_it_delivers() {
    each_backend_with(
        |settings| {
            fast(settings);
            settings.production = true;
        },
        |app| async move {
            let (host, _uk, event) = world(&app).await;
            let receiver = Receiver::start(Answer::Ok).await;
            // An endpoint saved before the rules applied (say, outside production).
            let local = receiver.url.replace("http://", "https://");
            let id = uuid::Uuid::now_v7();
            let saved = chrono::Utc::now();
            use sea_orm::{ActiveModelTrait, Set};
            embhub::entity::webhook_endpoint::ActiveModel {
                id: Set(id),
                organization_id: Set(host.uuid),
                url: Set(local),
                signing_secret: Set("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
                event_types: Set(json!([])),
                active: Set(true),
                version: Set(1),
                created_at: Set(saved),
                updated_at: Set(saved),
                description: Set(None),
                consecutive_failures: Set(0),
                failing_since: Set(None),
                disabled_at: Set(None),
                disabled_reason: Set(None),
                previous_signing_secret: Set(None),
                previous_secret_expires_at: Set(None),
            }
            .insert(&app.db)
            .await
            .unwrap();
            app.gql(
                Some(&host.token),
                UPDATE_EVENT,
                json!({ "input": { "id": event, "venue": "Seoul" } }),
            )
            .await
            .data();

            let hook = crate::helpers::global_id("WebhookEndpoint", id);
            eventually("the delivery is attempted", || async {
                let log = app
                    .gql(Some(&host.token), DELIVERIES, json!({ "endpoint": hook }))
                    .await;
                log.data()["webhookDeliveries"]["nodes"][0]["attempts"]
                    .as_i64()
                    .unwrap_or(0)
                    >= 1
            })
            .await;
            let log = app
                .gql(Some(&host.token), DELIVERIES, json!({ "endpoint": hook }))
                .await;
            let delivery = &log.data()["webhookDeliveries"]["nodes"][0];
            assert!(
                delivery["lastError"].as_str().unwrap().contains("loopback"),
                "{delivery}"
            );
            assert!(delivery["lastResponseStatus"].is_null());
            assert!(receiver.received().is_empty(), "nothing reached 127.0.0.1");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_may_allow_internal_receivers_explicitly() {
    each_backend_with(
        |settings| {
            fast(settings);
            settings.production = true;
            settings.webhooks.allow_private = true;
        },
        |app| async move {
            let (host, _uk, event) = world(&app).await;
            let receiver = Receiver::start(Answer::Ok).await;
            endpoint(&app, &host, &receiver, &["EVENT_UPDATED"]).await;
            app.gql(
                Some(&host.token),
                UPDATE_EVENT,
                json!({ "input": { "id": event, "venue": "Seoul" } }),
            )
            .await
            .data();
            eventually("the change arrives", || async {
                !receiver.received().is_empty()
            })
            .await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_endpoints_are_refused_field_by_field_and_nothing_is_stored() {
    each_backend_with(fast, |app| async move {
        let uk = member(&app, "Electoral Commission", Some("GB"), &[Role::Partner]).await;
        let refused = app
            .gql(
                Some(&uk.token),
                CREATE,
                json!({ "input": { "url": "ftp://example.com/",
                    "eventTypes": ["INVITATION_SENT", "INVITATION_TELEPORTED"] } }),
            )
            .await;
        let mut fields: Vec<&str> = refused.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["extensions"]["field"].as_str().unwrap())
            .collect();
        fields.sort_unstable();
        assert_eq!(fields, ["eventTypes", "url"]);
        assert!(
            refused.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["extensions"]["code"] == "BAD_USER_INPUT")
        );
        assert_eq!(app.count_rows("webhook_endpoints").await, 0);

        let kinds = app
            .gql(Some(&uk.token), "{ webhookEventTypes }", json!({}))
            .await;
        let kinds = kinds.data()["webhookEventTypes"]
            .as_array()
            .unwrap()
            .clone();
        assert!(kinds.contains(&json!("INVITATION_SENT")));
        assert!(kinds.contains(&json!("EVENT_RESCHEDULED")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owning_organizations_coordinators_and_partners_manage_its_webhooks() {
    each_backend_with(fast, |app| async move {
        let (host, uk, event) = world(&app).await;
        let receiver = Receiver::start(Answer::Ok).await;
        let hook = endpoint(&app, &uk, &receiver, &[]).await;
        let invitation = draft_invitation(&app, &host, &event, &uk).await;
        app.gql(Some(&host.token), SEND, json!({ "id": invitation }))
            .await
            .data();
        settle(&app).await;
        let delivery = app
            .gql(Some(&uk.token), DELIVERIES, json!({ "endpoint": hook }))
            .await
            .data()["webhookDeliveries"]["nodes"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let uk_reader = app.token_for(uk.uuid, &[Role::Reader]).await;
        let us = member(
            &app,
            "Election Assistance Commission",
            Some("US"),
            &[Role::Coordinator],
        )
        .await;
        let attempts = [
            (CREATE, json!({ "input": { "url": receiver.url } })),
            (UPDATE, json!({ "input": { "id": hook, "active": false } })),
            (
                "mutation($id: ID!) { deleteWebhookEndpoint(input: { id: $id }) { deletedId } }",
                json!({ "id": hook }),
            ),
            (
                "mutation($id: ID!) { rotateWebhookSecret(input: { id: $id }) { secret } }",
                json!({ "id": hook }),
            ),
            (
                "mutation($id: ID!) { redeliverWebhook(input: { deliveryId: $id }) { delivery { id } } }",
                json!({ "id": delivery }),
            ),
            (DELIVERIES, json!({ "endpoint": hook })),
            (ENDPOINTS, json!({})),
        ];
        for (operation, variables) in &attempts {
            // A reader of the UK and the operator's ADMIN have no webhook role.
            for token in [&uk_reader, &app.admin_token] {
                let refused = app.gql(Some(token), operation, variables.clone()).await;
                assert_eq!(refused.error_code(), "FORBIDDEN", "{operation}");
            }
        }
        // Another organization's coordinator cannot see the UK's endpoint at all.
        for (operation, variables) in &attempts[1..6] {
            let refused = app.gql(Some(&us.token), operation, variables.clone()).await;
            assert_eq!(refused.error_code(), "NOT_FOUND", "{operation}");
        }
        let theirs = app.gql(Some(&us.token), ENDPOINTS, json!({})).await;
        assert_eq!(theirs.data()["webhookEndpoints"]["totalCount"], 0);

        // Nothing changed; a coordinator of the UK sees the endpoint too.
        let uk_coordinator = app.token_for(uk.uuid, &[Role::Coordinator]).await;
        let own = app.gql(Some(&uk_coordinator), ENDPOINTS, json!({})).await;
        let endpoints = &own.data()["webhookEndpoints"];
        assert_eq!(endpoints["totalCount"], 1);
        assert_eq!(endpoints["nodes"][0]["active"], true);
        assert_eq!(app.count_rows("webhook_endpoints").await, 1);
        assert_eq!(app.count_rows("webhook_deliveries").await, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_shown_once_and_never_logged_or_audited() {
    each_backend_with(fast, |app| async move {
        let (host, _uk, event) = world(&app).await;
        let receiver = Receiver::start(Answer::Ok).await;
        let hook = endpoint(&app, &host, &receiver, &["EVENT_UPDATED"]).await;
        let rotated = app
            .gql(
                Some(&host.token),
                "mutation($id: ID!) { rotateWebhookSecret(input: { id: $id }) {
                    secret endpoint { previousSecretExpiresAt } } }",
                json!({ "id": hook }),
            )
            .await;
        let rotated = &rotated.data()["rotateWebhookSecret"];
        let new_secret = rotated["secret"].as_str().unwrap().to_owned();
        assert!(new_secret.starts_with("whsec_"));
        assert!(rotated["endpoint"]["previousSecretExpiresAt"].is_string());
        receiver.trust(&new_secret);

        app.gql(
            Some(&host.token),
            UPDATE_EVENT,
            json!({ "input": { "id": event, "venue": "Seoul" } }),
        )
        .await
        .data();
        eventually("the change arrives", || async {
            !receiver.received().is_empty()
        })
        .await;
        // During the grace period both secrets sign: receivers holding either accept.
        let received = &receiver.received()[0];
        assert_eq!(received.signatures, 2);
        assert_eq!(received.verified_with, [0, 1]);

        let secrets = receiver.state.secrets.lock().unwrap().clone();
        let logs = crate::helpers::captured_logs();
        let audited = count(
            &app,
            "SELECT COUNT(*) AS n FROM audit_entries WHERE CAST(after AS TEXT) LIKE '%whsec_%' \
             OR CAST(before AS TEXT) LIKE '%whsec_%'",
        )
        .await;
        assert_eq!(audited, 0, "no secret in the audit log");
        for secret in &secrets {
            assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_for_all_its_retries_is_disabled_and_can_be_enabled_again() {
    each_backend_with(
        |settings| {
            fast(settings);
            settings.webhooks.max_attempts = 3;
        },
        |app| async move {
            let (host, _uk, event) = world(&app).await;
            let receiver = Receiver::start(Answer::AlwaysFail).await;
            let hook = endpoint(&app, &host, &receiver, &["EVENT_UPDATED"]).await;
            app.gql(
                Some(&host.token),
                UPDATE_EVENT,
                json!({ "input": { "id": event, "venue": "Seoul" } }),
            )
            .await
            .data();

            eventually("the endpoint is disabled", || async {
                let listed = app.gql(Some(&host.token), ENDPOINTS, json!({})).await;
                listed.data()["webhookEndpoints"]["nodes"][0]["active"] == false
            })
            .await;
            let listed = app.gql(Some(&host.token), ENDPOINTS, json!({})).await;
            let disabled = &listed.data()["webhookEndpoints"]["nodes"][0];
            let reason = disabled["disabledReason"].as_str().unwrap();
            assert!(
                reason.contains("3 delivery attempts in a row failed"),
                "{reason}"
            );
            assert!(reason.contains("HTTP 500"), "{reason}");
            assert_eq!(receiver.received().len(), 3);
            let log = app
                .gql(Some(&host.token), DELIVERIES, json!({ "endpoint": hook }))
                .await;
            let delivery = log.data()["webhookDeliveries"]["nodes"][0].clone();
            assert_eq!(delivery["status"], "FAILED");
            assert_eq!(delivery["attempts"], 3);
            assert_eq!(delivery["lastResponseStatus"], 500);
            assert!(delivery["nextAttemptAt"].is_null());

            // Redelivery waits for the owner to enable the endpoint again.
            const REDELIVER: &str =
                "mutation($id: ID!) { redeliverWebhook(input: { deliveryId: $id }) {
                delivery { status attempts webhookId } } }";
            let early = app
                .gql(
                    Some(&host.token),
                    REDELIVER,
                    json!({ "id": delivery["id"] }),
                )
                .await;
            assert_eq!(early.error_code(), "CONFLICT");
            let enabled = app
                .gql(
                    Some(&host.token),
                    UPDATE,
                    json!({ "input": { "id": hook, "active": true } }),
                )
                .await;
            let enabled = &enabled.data()["updateWebhookEndpoint"]["endpoint"];
            assert_eq!(enabled["active"], true);
            assert!(enabled["disabledReason"].is_null());
            assert_eq!(enabled["consecutiveFailures"], 0);

            receiver.answer(Answer::Ok);
            let again = app
                .gql(
                    Some(&host.token),
                    REDELIVER,
                    json!({ "id": delivery["id"] }),
                )
                .await;
            let again = &again.data()["redeliverWebhook"]["delivery"];
            assert_eq!(again["status"], "PENDING");
            assert_eq!(again["webhookId"], delivery["webhookId"]);
            eventually("the redelivery arrives", || async {
                receiver.received().len() == 4
            })
            .await;
            settle(&app).await;
            let log = app
                .gql(Some(&host.token), DELIVERIES, json!({ "endpoint": hook }))
                .await;
            assert_eq!(
                log.data()["webhookDeliveries"]["nodes"][0]["status"],
                "DELIVERED"
            );
        },
    )
    .await;
}

/// Two `embhub serve` instances on one PostgreSQL database, each running the
/// webhook workers: every change reaches the receiver exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL (a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres)"
)]
async fn two_instances_deliver_each_change_exactly_once() {
    crate::helpers::on_postgres_with(fast, |app| async move {
        // Both instances poll every 20 ms, so both take part.
        let second = app.sibling_with(fast).await;
        let (host, _uk, event) = world(&app).await;
        let receiver = Receiver::start(Answer::Ok).await;
        endpoint(&app, &host, &receiver, &["EVENT_UPDATED"]).await;

        // One event per instance: concurrent changes to one event conflict.
        let other_event = published_event(&app, &host, json!({ "title": "Forum" })).await;

        const CHANGES: usize = 300;
        let mut writers = Vec::new();
        for (half, (address, event)) in [
            (app.address.clone(), event),
            (second.address.clone(), other_event),
        ]
        .into_iter()
        .enumerate()
        {
            let (http, token) = (app.http.clone(), host.token.clone());
            writers.push(tokio::spawn(async move {
                for n in 0..CHANGES / 2 {
                    let response: Value = http
                        .post(format!("{address}/graphql"))
                        .bearer_auth(&token)
                        .json(&json!({ "query": UPDATE_EVENT, "variables": { "input": {
                            "id": event, "venue": format!("Hall {half}-{n}") } } }))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    assert!(response.get("errors").is_none(), "{response}");
                }
            }));
        }
        for writer in writers {
            writer.await.unwrap();
        }
        eventually("every change arrives", || async {
            receiver.received().len() >= CHANGES
        })
        .await;
        settle(&app).await;
        let mut per_id: HashMap<String, usize> = HashMap::new();
        for received in receiver.received() {
            *per_id.entry(received.webhook_id).or_default() += 1;
        }
        assert_eq!(per_id.len(), CHANGES, "one delivery per change");
        let repeated: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            repeated.is_empty(),
            "delivered more than once: {repeated:?}"
        );
        drop(second);
    })
    .await;
}

/// Not a test: how long a committed change takes to reach a receiver with the
/// default settings (one-second polls). Run with
/// `cargo test --test api measure_webhook_delay -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run explicitly with --ignored --nocapture"]
async fn measure_webhook_delay_from_commit_to_receiver() {
    each_backend_with(
        |_| {},
        |app| async move {
            let (host, _uk, event) = world(&app).await;
            let receiver = Receiver::start(Answer::Ok).await;
            endpoint(&app, &host, &receiver, &["EVENT_UPDATED"]).await;
            let mut delays = Vec::new();
            for n in 0..30 {
                let arrived = receiver.received().len();
                app.gql(
                    Some(&host.token),
                    UPDATE_EVENT,
                    json!({ "input": { "id": event, "venue": format!("Hall {n}") } }),
                )
                .await
                .data();
                let committed = std::time::Instant::now();
                eventually("the change arrives", || async {
                    receiver.received().len() > arrived
                })
                .await;
                delays.push(receiver.received()[arrived].at.duration_since(committed));
                // Changes at varying moments of the poll cycle.
                tokio::time::sleep(Duration::from_millis(137 * (n % 7))).await;
            }
            delays.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "commit to delivery over {} changes: min {:.0} ms, median {:.0} ms, p90 {:.0} ms, max {:.0} ms",
                delays.len(),
                ms(delays[0]),
                ms(delays[delays.len() / 2]),
                ms(delays[delays.len() * 9 / 10]),
                ms(delays[delays.len() - 1]),
            );
        },
    )
    .await;
}
