//! Subscriptions over WebSocket (`graphql-transport-ws`): who hears which change,
//! in which order, and every way the protocol ends a connection.

use std::time::Duration;

use embhub::auth::Role;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::fixtures::{Member, invite, member, published_event};
use crate::helpers::{TestApp, each_backend, each_backend_with};

/// How long a test waits for a message it expects.
const PATIENCE: Duration = Duration::from_secs(10);

/// A `graphql-transport-ws` client, as a partner's system would run one.
struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// `next` messages of other subscriptions met while waiting for one: the
    /// protocol orders messages within a subscription, not across them.
    pending: Vec<Value>,
}

impl Ws {
    /// Opens a socket offering `subprotocol` (none when `None`).
    async fn open(app: &TestApp, subprotocol: Option<&str>) -> Self {
        let url = format!("{}/graphql", app.address.replacen("http", "ws", 1));
        let mut request = url.into_client_request().unwrap();
        if let Some(subprotocol) = subprotocol {
            request
                .headers_mut()
                .insert("sec-websocket-protocol", subprotocol.parse().unwrap());
        }
        let (stream, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the WebSocket upgrade");
        Self {
            stream,
            pending: Vec::new(),
        }
    }

    /// Opens a socket, initialises it with `token` and waits for the ack.
    async fn connected(app: &TestApp, token: &str) -> Self {
        let mut ws = Self::open(app, Some("graphql-transport-ws")).await;
        ws.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }))
            .await;
        assert_eq!(ws.recv().await["type"], "connection_ack");
        ws
    }

    async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe",
            "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next protocol message (server pings answered and skipped).
    async fn recv(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("a message in time")
                .expect("the socket is open")
                .expect("a readable frame");
            match frame {
                Message::Text(text) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON message");
                    if message["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return message;
                }
                Message::Close(frame) => panic!("closed unexpectedly: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The payload of the next `next` message for `id`.
    async fn next_for(&mut self, id: &str) -> Value {
        if let Some(at) = self.pending.iter().position(|m| m["id"] == id) {
            return self.pending.remove(at)["payload"].clone();
        }
        loop {
            let message = self.recv().await;
            assert_eq!(message["type"], "next", "{message}");
            if message["id"] == id {
                return message["payload"].clone();
            }
            self.pending.push(message);
        }
    }

    /// Waits for the server to close the socket; its close code and reason.
    async fn closed(&mut self) -> (u16, String) {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("the server closes in time");
            match frame {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None => return (1005, String::new()),
                Some(Ok(_)) => continue,
                Some(Err(err)) => panic!("socket failed instead of closing: {err}"),
            }
        }
    }
}

const INVITATIONS: &str = "subscription($eventId: ID) { invitationChanged(eventId: $eventId) {
    kind at eventId invitationId invitation { id status organization { name } event { title } } } }";
const EVENTS: &str = "subscription($eventId: ID) { eventChanged(eventId: $eventId) {
    kind eventId event { id title startDate endDate } } }";
const RESCHEDULE: &str =
    "mutation($input: RescheduleEventInput!) { rescheduleEvent(input: $input) { event { id } } }";

/// The host, the UK partner and the Brazilian partner.
async fn three(app: &TestApp) -> (Member, Member, Member) {
    let host = member(
        app,
        "National Election Commission",
        Some("KR"),
        &[Role::Coordinator],
    )
    .await;
    let uk = member(app, "Electoral Commission", Some("GB"), &[Role::Partner]).await;
    let br = member(
        app,
        "Superior Electoral Court",
        Some("BR"),
        &[Role::Partner],
    )
    .await;
    (host, uk, br)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_hears_exactly_the_changes_it_may_see_in_order() {
    each_backend(|app| async move {
        let (host, uk, br) = three(&app).await;
        let program = published_event(&app, &host, json!({})).await;
        let forum = published_event(&app, &host, json!({ "title": "Forum" })).await;
        invite(&app, &host, &program, &[&uk.id], 2, 0).await;

        let mut uk_ws = Ws::connected(&app, &uk.token).await;
        uk_ws
            .subscribe("events", EVENTS, json!({ "eventId": program }))
            .await;
        uk_ws.subscribe("invitations", INVITATIONS, json!({})).await;
        let mut br_ws = Ws::connected(&app, &br.token).await;
        br_ws.subscribe("invitations", INVITATIONS, json!({})).await;
        // Subscriptions start when their first poll registers with the feed; a
        // round trip on each socket makes sure they have.
        for ws in [&mut uk_ws, &mut br_ws] {
            ws.send(json!({ "type": "ping" })).await;
            assert_eq!(ws.recv().await["type"], "pong");
        }

        // A mutation that fails writes nothing and announces nothing.
        let refused = app
            .gql(
                Some(&host.token),
                RESCHEDULE,
                json!({ "input": { "id": program, "startDate": "2030-06-10", "endDate": "2030-06-01",
                    "dateStatus": "CONFIRMED", "reason": "backwards" } }),
            )
            .await;
        assert!(!refused.body["errors"].is_null(), "{}", refused.body);

        app.gql(
            Some(&host.token),
            RESCHEDULE,
            json!({ "input": { "id": program, "startDate": "2030-06-01", "endDate": "2030-06-07",
                "dateStatus": "CONFIRMED", "reason": "the election moved" } }),
        )
        .await
        .data();
        // A draft to the UK (the UK may not see it), then sent (now it may).
        let drafted = app
            .gql(
                Some(&host.token),
                crate::fixtures::INVITE,
                json!({ "input": { "eventId": forum, "organizationIds": [uk.id], "seatsOffered": 1,
                    "fundedSeats": 0, "fundingCovers": [], "send": false } }),
            )
            .await;
        let draft = drafted.data()["inviteOrganizations"]["invitations"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.gql(
            Some(&host.token),
            "mutation($id: ID!) { sendInvitation(input: { id: $id }) { invitation { status } } }",
            json!({ "id": draft }),
        )
        .await
        .data();

        let moved = uk_ws.next_for("events").await;
        let moved = &moved["data"]["eventChanged"];
        assert_eq!(moved["kind"], "EVENT_RESCHEDULED");
        assert_eq!(moved["eventId"], program.as_str());
        assert_eq!(moved["event"]["startDate"], "2030-06-01");
        let sent = uk_ws.next_for("invitations").await;
        let sent = &sent["data"]["invitationChanged"];
        assert_eq!(sent["kind"], "INVITATION_SENT", "the draft was never heard");
        assert_eq!(sent["invitationId"], draft.as_str());
        assert_eq!(sent["invitation"]["status"], "SENT");
        assert_eq!(sent["invitation"]["event"]["title"], "Forum");
        assert!(sent["at"].is_string());

        // Brazil heard nothing of the UK's invitations: the first thing it hears is
        // its own invitation, sent after all of the above.
        let to_brazil = invite(&app, &host, &forum, &[&br.id], 1, 0).await;
        let heard = br_ws.next_for("invitations").await;
        assert_eq!(heard["data"]["invitationChanged"]["kind"], "INVITATION_SENT");
        assert_eq!(
            heard["data"]["invitationChanged"]["invitationId"],
            to_brazil[0].as_str()
        );
        // ... and the UK does not hear Brazil's.
        uk_ws.send(json!({ "type": "ping" })).await;
        assert_eq!(uk_ws.recv().await["type"], "pong");
        assert!(uk_ws.pending.is_empty(), "{:?}", uk_ws.pending);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_hears_what_it_sends_and_each_answer() {
    each_backend(|app| async move {
        let (host, uk, _) = three(&app).await;
        let program = published_event(&app, &host, json!({})).await;
        let mut ws = Ws::connected(&app, &host.token).await;
        ws.subscribe("1", INVITATIONS, json!({ "eventId": program }))
            .await;
        ws.send(json!({ "type": "ping" })).await;
        assert_eq!(ws.recv().await["type"], "pong");

        let invitation = invite(&app, &host, &program, &[&uk.id], 2, 0).await;
        crate::fixtures::accept(&app, &uk.token, &invitation[0]).await;

        let kinds: Vec<String> = [ws.next_for("1").await, ws.next_for("1").await]
            .iter()
            .map(|m| {
                m["data"]["invitationChanged"]["kind"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(kinds, ["INVITATION_SENT", "INVITATION_ACCEPTED"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_run_over_the_socket_and_subscriptions_are_refused_over_http() {
    each_backend(|app| async move {
        let (_, uk, _) = three(&app).await;
        let mut ws = Ws::connected(&app, &uk.token).await;
        ws.subscribe("q", "{ viewer { organization { name } } }", json!({}))
            .await;
        let answer = ws.next_for("q").await;
        assert_eq!(
            answer["data"]["viewer"]["organization"]["name"],
            "Electoral Commission"
        );
        assert_eq!(ws.recv().await, json!({ "id": "q", "type": "complete" }));

        // An operation refused before it runs is one `error` message.
        ws.subscribe("bad", "subscription { nothingLikeThis }", json!({}))
            .await;
        let refused = ws.recv().await;
        assert_eq!(refused["type"], "error", "{refused}");
        assert_eq!(refused["id"], "bad");
        assert!(refused["payload"][0]["message"].is_string());

        let over_http = app.gql(Some(&uk.token), INVITATIONS, json!({})).await;
        assert_eq!(over_http.status, 400, "{}", over_http.body);
        assert!(
            over_http.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("WebSocket")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_or_missing_token_closes_with_4403() {
    each_backend(|app| async move {
        let mut forged = Ws::open(&app, Some("graphql-transport-ws")).await;
        forged
            .send(json!({ "type": "connection_init", "payload": { "Authorization": "Bearer not.a.token" } }))
            .await;
        assert_eq!(forged.closed().await.0, 4403);

        let mut missing = Ws::open(&app, Some("graphql-transport-ws")).await;
        missing.send(json!({ "type": "connection_init" })).await;
        assert_eq!(missing.closed().await.0, 4403);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_init_in_time_closes_with_4408() {
    each_backend_with(
        |settings| settings.subscriptions.init_timeout = Duration::from_millis(300),
        |app| async move {
            let mut ws = Ws::open(&app, Some("graphql-transport-ws")).await;
            let (code, reason) = ws.closed().await;
            assert_eq!(code, 4408);
            assert_eq!(reason, "Connection initialisation timeout");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_init_closes_with_4429() {
    each_backend(|app| async move {
        let (_, uk, _) = three(&app).await;
        let mut ws = Ws::connected(&app, &uk.token).await;
        ws.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", uk.token) } }))
            .await;
        assert_eq!(
            ws.closed().await,
            (4429, "Too many initialisation requests".to_owned())
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_subscription_id_closes_with_4409() {
    each_backend(|app| async move {
        let (_, uk, _) = three(&app).await;
        let mut ws = Ws::connected(&app, &uk.token).await;
        ws.subscribe("same", INVITATIONS, json!({})).await;
        ws.subscribe("same", EVENTS, json!({})).await;
        assert_eq!(ws.closed().await.0, 4409);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_message_closes_with_4400() {
    each_backend(|app| async move {
        let (_, uk, _) = three(&app).await;
        let mut not_json = Ws::connected(&app, &uk.token).await;
        not_json.send_text("{ this is not json").await;
        assert_eq!(not_json.closed().await.0, 4400);

        let mut unknown = Ws::connected(&app, &uk.token).await;
        unknown.send(json!({ "type": "start", "id": "1" })).await;
        assert_eq!(unknown.closed().await.0, 4400);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_before_the_ack_closes_with_4401() {
    each_backend(|app| async move {
        let mut ws = Ws::open(&app, Some("graphql-transport-ws")).await;
        ws.subscribe("1", INVITATIONS, json!({})).await;
        assert_eq!(ws.closed().await, (4401, "Unauthorized".to_owned()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_subprotocol_closes_with_4406() {
    each_backend(|app| async move {
        let mut none = Ws::open(&app, None).await;
        assert_eq!(none.closed().await.0, 4406);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_answered_with_pongs() {
    each_backend(|app| async move {
        let (_, uk, _) = three(&app).await;
        let mut ws = Ws::connected(&app, &uk.token).await;
        ws.send(json!({ "type": "ping", "payload": { "n": 1 } }))
            .await;
        assert_eq!(ws.recv().await["type"], "pong");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tokens_expiry_closes_the_socket_with_4403() {
    each_backend_with(
        |settings| settings.auth.token_ttl = Duration::from_secs(2),
        |app| async move {
            let org = app.create_org("Electoral Commission", Some("GB")).await.1;
            let expiring = app.token_for(org, &[Role::Partner]).await;
            let mut ws = Ws::connected(&app, &expiring).await;
            let (code, reason) = ws.closed().await;
            assert_eq!(code, 4403);
            assert!(reason.contains("expired"), "{reason}");
        },
    )
    .await;
}

/// With the usual token lifetime, so that on a busy machine the token cannot
/// expire before the revocation is noticed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_revocation_closes_the_socket_with_4403() {
    each_backend(|app| async move {
        let org = app.create_org("Electoral Commission", Some("GB")).await.1;
        let credentials = app.create_client(org, &[Role::Partner]).await;
        let token = app.token(&credentials).await;
        let mut revoked = Ws::connected(&app, &token).await;
        embhub::service::clients::revoke(&app.db, credentials.client_id)
            .await
            .unwrap();
        let (code, reason) = revoked.closed().await;
        assert_eq!(code, 4403);
        assert!(reason.contains("revoked"), "{reason}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holds_a_bounded_number_of_sockets_and_subscriptions() {
    each_backend_with(
        |settings| {
            settings.subscriptions.max_connections_per_client = 2;
            settings.subscriptions.max_subscriptions_per_connection = 1;
        },
        |app| async move {
            let (_, uk, _) = three(&app).await;
            let mut first = Ws::connected(&app, &uk.token).await;
            let _second = Ws::connected(&app, &uk.token).await;
            let mut third = Ws::open(&app, Some("graphql-transport-ws")).await;
            third
                .send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", uk.token) } }))
                .await;
            assert_eq!(third.closed().await.0, 1008);

            first.subscribe("a", INVITATIONS, json!({})).await;
            first.subscribe("b", EVENTS, json!({})).await;
            let refused = first.recv().await;
            assert_eq!(refused["type"], "error");
            assert_eq!(refused["id"], "b");
            assert_eq!(refused["payload"][0]["extensions"]["code"], "FORBIDDEN");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL: instances sharing one database are a PostgreSQL setup"
)]
async fn a_subscriber_on_one_instance_hears_changes_made_through_another() {
    crate::helpers::on_postgres_with(
        |_| {},
        |app| async move {
            let (host, uk, _) = three(&app).await;
            let program = published_event(&app, &host, json!({})).await;
            let mut ws = Ws::connected(&app, &uk.token).await;
            ws.subscribe("1", INVITATIONS, json!({})).await;
            ws.send(json!({ "type": "ping" })).await;
            assert_eq!(ws.recv().await["type"], "pong");

            // The host talks to the other instance, with a token the first issued.
            let other = app.sibling().await;
            let response = app
                .http
                .post(format!("{}/graphql", other.address))
                .bearer_auth(&host.token)
                .json(
                    &json!({ "query": crate::fixtures::INVITE, "variables": { "input": {
                    "eventId": program, "organizationIds": [uk.id], "seatsOffered": 1,
                    "fundedSeats": 0, "fundingCovers": [], "send": true } } }),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            let invitation = body["data"]["inviteOrganizations"]["invitations"][0]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_owned();

            let heard = ws.next_for("1").await;
            assert_eq!(
                heard["data"]["invitationChanged"]["kind"],
                "INVITATION_SENT"
            );
            assert_eq!(
                heard["data"]["invitationChanged"]["invitationId"],
                invitation.as_str()
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_hears_published_events_but_no_invitations() {
    each_backend(|app| async move {
        let (host, uk, _) = three(&app).await;
        let program = published_event(&app, &host, json!({})).await;
        let reader_org = app.create_org("Observer Network", None).await.1;
        let reader = app.token_for(reader_org, &[Role::Reader]).await;
        let mut ws = Ws::connected(&app, &reader).await;
        ws.subscribe("invitations", INVITATIONS, json!({})).await;
        ws.subscribe("events", EVENTS, json!({ "eventId": program }))
            .await;
        ws.send(json!({ "type": "ping" })).await;
        assert_eq!(ws.recv().await["type"], "pong");

        invite(&app, &host, &program, &[&uk.id], 1, 0).await;
        app.gql(
            Some(&host.token),
            RESCHEDULE,
            json!({ "input": { "id": program, "startDate": "2030-06-01", "endDate": "2030-06-07",
                "dateStatus": "CONFIRMED", "reason": "the election moved" } }),
        )
        .await
        .data();

        // The first thing the reader hears is the reschedule: the invitation,
        // sent before it, was never the reader's to hear.
        let heard = ws.next_for("events").await;
        assert_eq!(heard["data"]["eventChanged"]["kind"], "EVENT_RESCHEDULED");
    })
    .await;
}
