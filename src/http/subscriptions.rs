//! GraphQL over WebSocket at `/graphql`, exactly as the `graphql-transport-ws`
//! protocol (graphql-ws's PROTOCOL.md) says.
//!
//! async-graphql's own handler deviates from it (1002/1011 instead of the 44xx close
//! codes, no initialisation timeout, a duplicate id silently replaces the running
//! operation), so the protocol is driven here and async-graphql only executes.
//!
//! - `connection_init` must come within `EMBHUB_WS_INIT_TIMEOUT_SECS` (else 4408)
//!   and only once (4429); it carries `{"Authorization": "Bearer …"}` unless the
//!   upgrade request had the header. A bad or expired token closes with 4403.
//! - `subscribe` before the ack closes with 4401; with an id already running,
//!   4409; an unreadable message, 4400; a connection without the subprotocol, 4406.
//! - Each operation goes through the same checks as over HTTP (document size,
//!   limits, rate limit, revocation); a refusal is an `error` message for its id.
//! - The token's expiry, and the client's revocation (checked every revocation
//!   interval), close the connection with 4403.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::Variables;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::AppState;
use crate::auth::Caller;
use crate::config::SubscriptionSettings;
use crate::error::{AppError, Rejection};
use crate::graphql::limits::QueryAnalyzer;
use crate::service::ServiceContext;

/// Read and write buffer of one socket (grows for a larger message as needed).
const SOCKET_BUFFER_BYTES: usize = 4 * 1024;

/// The only subprotocol spoken.
pub const SUBPROTOCOL: &str = "graphql-transport-ws";

/// The protocol's close codes.
mod close {
    pub const INVALID_MESSAGE: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_SUBSCRIBER: u16 = 4409;
    pub const TOO_MANY_INITIALISATION_REQUESTS: u16 = 4429;
    /// RFC 6455's policy violation: too many connections for one client.
    pub const POLICY_VIOLATION: u16 = 1008;
}

/// Open sockets per API client, for `EMBHUB_WS_MAX_CONNECTIONS_PER_CLIENT`.
#[derive(Default)]
pub struct SocketCounts(Mutex<HashMap<Uuid, usize>>);

/// One counted socket; uncounted when dropped.
struct SocketSlot {
    counts: Arc<SocketCounts>,
    client_id: Uuid,
}

impl SocketCounts {
    fn claim(self: &Arc<Self>, client_id: Uuid, max: usize) -> Option<SocketSlot> {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(client_id).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(SocketSlot {
            counts: self.clone(),
            client_id,
        })
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.client_id) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.client_id);
            }
        }
    }
}

/// Whether a request asks to become a WebSocket.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Upgrades a GET `/graphql` to a `graphql-transport-ws` connection.
pub async fn upgrade(state: AppState, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let offered = parts
        .headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL);
    let header_token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let request_id = parts
        .headers
        .get(&super::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let max = state.subscriptions.max_message_bytes;
    upgrade
        .protocols([SUBPROTOCOL])
        // tungstenite's defaults reserve 128 KiB per socket for reading and as much
        // for writing; subscribers are mostly idle and their messages small, so
        // thousands of sockets would hold hundreds of megabytes for nothing.
        .read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(SOCKET_BUFFER_BYTES)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            let connection = Connection {
                state,
                header_token,
                request_id,
            };
            connection.serve(socket, offered).await;
        })
}

/// A message from the client.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    Complete {
        id: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribePayload {
    query: String,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    extensions: Option<Value>,
}

/// What ends a connection: a close code and its reason.
struct Closing(u16, &'static str);

/// Sent by operation tasks: a message, or "operation `id` is over".
enum Outgoing {
    Text(String),
    Finished(String),
}

/// The authenticated side of a connection, after `connection_ack`.
struct Session {
    caller: Caller,
    /// Unix seconds when the token expires.
    expires_at: u64,
    _slot: SocketSlot,
}

struct Connection {
    state: AppState,
    header_token: Option<String>,
    request_id: Option<String>,
}

impl Connection {
    async fn serve(self, socket: WebSocket, offered: bool) {
        let (mut sink, mut stream) = socket.split();
        if !offered {
            let _ = sink
                .send(close_message(
                    close::SUBPROTOCOL_NOT_ACCEPTABLE,
                    "Subprotocol not acceptable",
                ))
                .await;
            return;
        }
        let settings = self.state.subscriptions.clone();
        // Operation tasks write through this bounded queue: a slow socket makes them
        // wait (and fall behind the feed, then RESYNC), never the feed itself.
        let (out_tx, mut out_rx) = mpsc::channel::<Outgoing>(64);
        let mut operations: HashMap<String, JoinHandle<()>> = HashMap::new();
        let mut session: Option<Session> = None;
        let mut init_received = false;
        let init_deadline = tokio::time::sleep(settings.init_timeout);
        tokio::pin!(init_deadline);
        let mut keepalive = tokio::time::interval(settings.keepalive);
        keepalive.tick().await;
        let mut revocation = tokio::time::interval(self.state.revocations.interval());
        revocation.tick().await;

        let closing: Option<Closing> = loop {
            let expires_at = session.as_ref().map(|s| s.expires_at);
            let client_id = session.as_ref().and_then(|s| s.caller.api_client_id());
            let expiry = async move {
                match expires_at {
                    Some(at) => tokio::time::sleep(until_unix(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut init_deadline, if !init_received => {
                    break Some(Closing(close::INIT_TIMEOUT, "Connection initialisation timeout"));
                }
                () = expiry => {
                    break Some(Closing(close::FORBIDDEN, "Forbidden: the access token expired"));
                }
                _ = revocation.tick(), if client_id.is_some() => {
                    let client_id = client_id.unwrap_or_default();
                    if !matches!(self.state.revocations.is_active(&self.state.db, client_id).await, Ok(true) | Err(_)) {
                        break Some(Closing(close::FORBIDDEN, "Forbidden: the client was revoked"));
                    }
                }
                _ = keepalive.tick() => {
                    if sink.send(json_message(json!({"type": "ping"}))).await.is_err() {
                        break None;
                    }
                }
                Some(outgoing) = out_rx.recv() => match outgoing {
                    Outgoing::Text(message) => {
                        if sink.send(Message::Text(message.into())).await.is_err() {
                            break None;
                        }
                    }
                    Outgoing::Finished(id) => {
                        operations.remove(&id);
                    }
                },
                incoming = stream.next() => {
                    let message = match incoming {
                        Some(Ok(message)) => message,
                        Some(Err(_)) | None => break None,
                    };
                    let text = match message {
                        Message::Text(text) => text,
                        Message::Close(_) => break None,
                        Message::Ping(_) | Message::Pong(_) => continue,
                        Message::Binary(_) => {
                            break Some(Closing(close::INVALID_MESSAGE, "Invalid message received: binary frames are not part of the protocol"));
                        }
                    };
                    let Ok(message) = serde_json::from_str::<ClientMessage>(&text) else {
                        break Some(Closing(close::INVALID_MESSAGE, "Invalid message received"));
                    };
                    match message {
                        ClientMessage::ConnectionInit { payload } => {
                            if init_received {
                                break Some(Closing(close::TOO_MANY_INITIALISATION_REQUESTS, "Too many initialisation requests"));
                            }
                            init_received = true;
                            match self.authenticate(payload.as_ref(), &settings).await {
                                Ok(authenticated) => session = Some(authenticated),
                                Err(closing) => break Some(closing),
                            }
                            if sink.send(json_message(json!({"type": "connection_ack"}))).await.is_err() {
                                break None;
                            }
                        }
                        ClientMessage::Ping { .. } => {
                            if sink.send(json_message(json!({"type": "pong"}))).await.is_err() {
                                break None;
                            }
                        }
                        ClientMessage::Pong { .. } => {}
                        ClientMessage::Subscribe { id, payload } => {
                            let Some(session) = &session else {
                                break Some(Closing(close::UNAUTHORIZED, "Unauthorized"));
                            };
                            if operations.get(&id).is_some_and(|task| !task.is_finished()) {
                                break Some(Closing(close::DUPLICATE_SUBSCRIBER, "Subscriber for this id already exists"));
                            }
                            operations.retain(|_, task| !task.is_finished());
                            if operations.len() >= settings.max_subscriptions_per_connection {
                                let error = AppError::Forbidden {
                                    message: format!(
                                        "at most {} operations may run on one connection",
                                        settings.max_subscriptions_per_connection
                                    ),
                                };
                                if sink.send(Message::Text(error_message(&id, vec![error.to_json()]).into())).await.is_err() {
                                    break None;
                                }
                                continue;
                            }
                            let task = tokio::spawn(run_operation(
                                self.state.clone(),
                                session.caller.clone(),
                                self.request_id.clone(),
                                id.clone(),
                                payload,
                                out_tx.clone(),
                            ));
                            operations.insert(id, task);
                        }
                        ClientMessage::Complete { id } => {
                            if let Some(task) = operations.remove(&id) {
                                task.abort();
                            }
                        }
                    }
                }
            }
        };
        for task in operations.values() {
            task.abort();
        }
        if let Some(Closing(code, reason)) = closing {
            tracing::info!(code, reason, "closing a WebSocket");
            let _ = sink.send(close_message(code, reason)).await;
        }
    }

    /// Checks the token of `connection_init` (or of the upgrade request) and the
    /// client's socket allowance.
    async fn authenticate(
        &self,
        payload: Option<&Value>,
        settings: &SubscriptionSettings,
    ) -> Result<Session, Closing> {
        let from_payload = payload
            .and_then(|p| p.as_object())
            .and_then(|p| {
                p.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                    .map(|(_, v)| v)
            })
            .and_then(Value::as_str);
        let Some(authorization) = from_payload.or(self.header_token.as_deref()) else {
            return Err(Closing(close::FORBIDDEN, "Forbidden: no access token"));
        };
        let token = authorization
            .strip_prefix("Bearer ")
            .or_else(|| authorization.strip_prefix("bearer "))
            .unwrap_or(authorization)
            .trim();
        let (caller, expires_at) = super::people::authenticate(&self.state, token)
            .await
            .map_err(|failure| {
                if let super::people::AuthFailure::Rejected(rejection) = &failure {
                    tracing::info!(
                        reason = rejection.as_str(),
                        "WebSocket access token refused"
                    );
                }
                Closing(
                    close::FORBIDDEN,
                    "Forbidden: invalid or expired access token",
                )
            })?;
        let slot = self
            .state
            .sockets
            .claim(caller.client_id, settings.max_connections_per_client)
            .ok_or(Closing(
                close::POLICY_VIOLATION,
                "too many open connections for this client",
            ))?;
        Ok(Session {
            caller,
            expires_at,
            _slot: slot,
        })
    }
}

/// Runs one operation and streams its results as `next` messages, then
/// `complete`; a refusal before execution is one `error` message.
async fn run_operation(
    state: AppState,
    caller: Caller,
    request_id: Option<String>,
    id: String,
    payload: SubscribePayload,
    out: mpsc::Sender<Outgoing>,
) {
    match prepare(&state, &caller, payload).await {
        Err(error) => {
            let _ = out
                .send(Outgoing::Text(error_message(&id, vec![error])))
                .await;
        }
        Ok(request) => {
            let cx = ServiceContext::new(
                state.db.clone(),
                caller,
                request_id,
                state.feed.clone(),
                state.personal_data.clone(),
            );
            let mut responses = std::pin::pin!(crate::graphql::execute_stream(
                &state.schema,
                request,
                cx,
                state.loader_batch_window,
            ));
            while let Some(response) = responses.next().await {
                let (payload, request_error) = super::graphql::encode_payload(response);
                if request_error {
                    // Refused before anything ran (validation): one `error`
                    // message with the errors, and no `complete`.
                    let errors = serde_json::from_slice::<Value>(&payload)
                        .ok()
                        .and_then(|mut v| v.get_mut("errors").map(Value::take))
                        .and_then(|v| v.as_array().cloned())
                        .unwrap_or_default();
                    let _ = out.send(Outgoing::Text(error_message(&id, errors))).await;
                    let _ = out.send(Outgoing::Finished(id)).await;
                    return;
                }
                let message = format!(
                    r#"{{"id":{},"type":"next","payload":{}}}"#,
                    json!(id),
                    String::from_utf8_lossy(&payload)
                );
                if out.send(Outgoing::Text(message)).await.is_err() {
                    return;
                }
            }
            let _ = out
                .send(Outgoing::Text(
                    json!({"id": id, "type": "complete"}).to_string(),
                ))
                .await;
        }
    }
    let _ = out.send(Outgoing::Finished(id)).await;
}

/// The checks an operation passes before it runs, as over HTTP.
async fn prepare(
    state: &AppState,
    caller: &Caller,
    payload: SubscribePayload,
) -> Result<async_graphql::Request, Value> {
    let Some(analyzer) = state.schema.data::<QueryAnalyzer>() else {
        return Err(
            AppError::internal(anyhow::anyhow!("the schema carries no query analyzer")).to_json(),
        );
    };
    let max_document = analyzer.limits().max_document_bytes;
    if payload.query.len() > max_document {
        return Err(Rejection::DocumentTooLarge { max: max_document }.to_json());
    }
    let variables = match payload.variables {
        None | Some(Value::Null) => Variables::default(),
        Some(Value::Object(map)) => Variables::from_json(Value::Object(map)),
        Some(_) => {
            return Err(
                Rejection::BadRequest("`variables` must be an object".to_owned()).to_json(),
            );
        }
    };
    let document = state
        .documents
        .parse(&payload.query)
        .map_err(|err| Rejection::ParseFailed(super::graphql::syntax_message(&err)).to_json())?;
    let analysis = analyzer
        .analyze(&document, payload.operation_name.as_deref(), &variables)
        .map_err(AppError::to_json)?;
    let is_mutation =
        analysis.operation_type == async_graphql::parser::types::OperationType::Mutation;
    if let Err(retry_after_secs) = state.rate_limiter.charge(caller.client_id, is_mutation) {
        state.metrics.record_rate_limited("graphql-ws");
        return Err(Rejection::RateLimited { retry_after_secs }.to_json());
    }
    let active = match caller.api_client_id() {
        Some(client_id) => state.revocations.is_active(&state.db, client_id).await,
        // A person's token is the issuer's to revoke.
        None => Ok(true),
    };
    match active {
        Ok(true) => {}
        Ok(false) => {
            return Err(AppError::Unauthenticated {
                reason: "invalid or expired access token",
            }
            .to_json());
        }
        Err(err) => return Err(err.to_json()),
    }
    let mut request = async_graphql::Request::new(payload.query).variables(variables);
    if let Some(name) = payload.operation_name {
        request = request.operation_name(name);
    }
    request.set_parsed_query(document);
    Ok(request)
}

fn error_message(id: &str, errors: Vec<Value>) -> String {
    json!({"id": id, "type": "error", "payload": errors}).to_string()
}

fn json_message(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

fn close_message(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// How long until Unix time `at` (zero when past).
fn until_unix(at: u64) -> Duration {
    let now = jsonwebtoken::get_current_timestamp();
    Duration::from_secs(at.saturating_sub(now))
}
