//! `/graphql`: GraphQL over HTTP, then the schema.
//!
//! Every refusal comes before any database access, cheapest first: method,
//! `Accept` (406), `Content-Type` (415), the access token's signature (401), body
//! size (413) and shape (400), document size (413), syntax (400), the operation's
//! limits (depth, aliases, directives, complexity, page sizes), a mutation over GET
//! (405), the client's rate limit (429). Only then is the client's revocation
//! checked (cached) and the operation run.

use std::time::Instant;

use async_graphql::parser::types::OperationType;
use async_graphql::{ServerError, Variables};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::protocol::{self, GraphqlParams, PostBody, ResponseType};
use super::{AppState, REQUEST_ID};
use crate::auth::Caller;
use crate::error::{AppError, Rejection};
use crate::graphql::limits::QueryAnalyzer;
use crate::service::ServiceContext;

/// How one operation ended, for metrics and the log line.
struct Outcome {
    operation_name: Option<String>,
    kind: &'static str,
    /// `ok`, or the first error's code.
    code: String,
    complexity: Option<usize>,
}

impl Outcome {
    fn refused(code: &str) -> Self {
        Self {
            operation_name: None,
            kind: "unknown",
            code: code.to_owned(),
            complexity: None,
        }
    }
}

/// A response body: a JSON value built here, or an executed operation's answer,
/// already serialized straight from the executor's result (a dashboard answer is
/// tens of kilobytes: converting it to a `serde_json::Value` first doubled the
/// allocations of the whole response).
enum Body {
    Json(Value),
    Serialized(Vec<u8>),
}

impl Body {
    fn into_bytes(self) -> Vec<u8> {
        match self {
            Body::Json(value) => serde_json::to_vec(&value).unwrap_or_else(|_| b"{}".to_vec()),
            Body::Serialized(bytes) => bytes,
        }
    }
}

/// A response and how it ended.
struct Answer {
    status: StatusCode,
    body: Body,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    outcome: Outcome,
}

impl Answer {
    fn error(error: AppError, response_type: ResponseType) -> Self {
        let code = error.code().to_owned();
        Self::from_reply(
            protocol::app_error_reply(error, response_type),
            Outcome::refused(&code),
        )
    }

    fn rejection(rejection: Rejection, response_type: ResponseType) -> Self {
        Self::from_reply(
            protocol::rejection_reply(&rejection, response_type),
            Outcome::refused(rejection.code()),
        )
    }

    fn from_reply(reply: protocol::ErrorReply, outcome: Outcome) -> Self {
        Self {
            status: reply.status,
            body: Body::Json(reply.body),
            headers: reply.headers,
            outcome,
        }
    }

    fn into_response(self, response_type: ResponseType) -> Response {
        let mut response =
            protocol::graphql_bytes(self.status, response_type, self.body.into_bytes());
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

fn unauthenticated(reason: &'static str, response_type: ResponseType) -> Answer {
    tracing::info!(reason, "request refused: not authenticated");
    let mut answer = Answer::error(AppError::Unauthenticated { reason }, response_type);
    answer.headers.push((
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer realm="embhub", error="invalid_token""#),
    ));
    answer
}

/// Verifies the bearer token's signature and claims (no database access for
/// API clients; a person's first use of a token records their sign-in).
async fn verify_token(
    state: &AppState,
    headers: &HeaderMap,
    response_type: ResponseType,
) -> Result<Caller, Box<Answer>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Box::new(unauthenticated("no access token", response_type)));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| Box::new(unauthenticated("expected a Bearer token", response_type)))?;
    match super::people::authenticate(state, token).await {
        Ok((caller, _)) => Ok(caller),
        Err(super::people::AuthFailure::Rejected(rejection)) => {
            tracing::info!(reason = rejection.as_str(), "access token refused");
            Err(Box::new(unauthenticated(
                "invalid or expired access token",
                response_type,
            )))
        }
        Err(super::people::AuthFailure::Failed(err)) => {
            Err(Box::new(Answer::error(err, response_type)))
        }
    }
}

/// Whether the token's client is still active (cached; see `RevocationCache`).
/// A person's token is the issuer's to revoke: it is short-lived and checked
/// against the issuer's keys.
async fn check_active(
    state: &AppState,
    caller: &Caller,
    response_type: ResponseType,
) -> Result<(), Box<Answer>> {
    let Some(client_id) = caller.api_client_id() else {
        return Ok(());
    };
    match state.revocations.is_active(&state.db, client_id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Box::new(unauthenticated(
            "invalid or expired access token",
            response_type,
        ))),
        Err(err) => Err(Box::new(Answer::error(err, response_type))),
    }
}

fn kind_of(operation_type: OperationType) -> &'static str {
    match operation_type {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

/// Runs one operation of an authenticated request.
async fn run_one(
    state: &AppState,
    caller: &Caller,
    params: GraphqlParams,
    response_type: ResponseType,
    via_get: bool,
    request_id: Option<&str>,
) -> Answer {
    let Some(analyzer) = state.schema.data::<QueryAnalyzer>() else {
        return Answer::error(
            AppError::internal(anyhow::anyhow!("the schema carries no query analyzer")),
            response_type,
        );
    };
    let max_document = analyzer.limits().max_document_bytes;
    if params.query.len() > max_document {
        return Answer::rejection(
            Rejection::DocumentTooLarge { max: max_document },
            response_type,
        );
    }
    let variables = Variables::from_json(Value::Object(params.variables));
    let document = match state.documents.parse(&params.query) {
        Ok(document) => document,
        Err(err) => {
            return Answer::rejection(Rejection::ParseFailed(syntax_message(&err)), response_type);
        }
    };
    let analysis = match analyzer.analyze(&document, params.operation_name.as_deref(), &variables) {
        Ok(analysis) => analysis,
        Err(err) => {
            let mut answer = Answer::error(err, response_type);
            answer.outcome.operation_name = params.operation_name.clone();
            return answer;
        }
    };
    let kind = kind_of(analysis.operation_type);
    tracing::Span::current().record(
        "operation",
        analysis.operation_name.as_deref().unwrap_or("anonymous"),
    );
    let outcome = |code: &str| Outcome {
        operation_name: analysis.operation_name.clone(),
        kind,
        code: code.to_owned(),
        complexity: Some(analysis.complexity),
    };
    let refuse = |rejection: Rejection| {
        let mut answer = Answer::rejection(rejection, response_type);
        answer.outcome = outcome(&answer.outcome.code);
        answer
    };
    let is_mutation = analysis.operation_type == OperationType::Mutation;
    if analysis.operation_type == OperationType::Subscription {
        return refuse(Rejection::BadRequest(
            "subscriptions are served over WebSocket at /graphql (subprotocol graphql-transport-ws)"
                .to_owned(),
        ));
    }
    if via_get && analysis.operation_type != OperationType::Query {
        return refuse(Rejection::MethodNotAllowed {
            allow: "POST",
            message: format!("a {kind} must be sent with POST"),
        });
    }
    if let Err(retry_after_secs) = state.rate_limiter.charge(caller.client_id, is_mutation) {
        state.metrics.record_rate_limited("graphql");
        tracing::warn!(retry_after_secs, "client rate limited");
        return refuse(Rejection::RateLimited { retry_after_secs });
    }
    if let Err(answer) = check_active(state, caller, response_type).await {
        let mut answer = *answer;
        answer.outcome = outcome(&answer.outcome.code);
        return answer;
    }

    let mut request = async_graphql::Request::new(params.query).variables(variables);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    let shows_personal_data = crate::graphql::projection::selects_personal_data(&document);
    request.set_parsed_query(document);
    let mut cx = ServiceContext::new(
        state.db.clone(),
        caller.clone(),
        request_id.map(str::to_owned),
        state.feed.clone(),
        state.personal_data.clone(),
    );
    if !shows_personal_data {
        cx = cx.without_personal_data();
    }
    let response =
        crate::graphql::execute(&state.schema, request, cx, state.loader_batch_window).await;
    let (status, body, code) = encode(response, response_type);
    let mut headers = Vec::new();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.push((
            header::RETRY_AFTER,
            HeaderValue::from_static(protocol::RETRY_AFTER_UNAVAILABLE),
        ));
    }
    Answer {
        status,
        body,
        headers,
        outcome: outcome(&code),
    }
}

/// A one-line syntax error: what was expected and where, without the parser's
/// multi-line source excerpt.
pub(super) fn syntax_message(err: &async_graphql::parser::Error) -> String {
    let text = err.to_string();
    let what = text
        .lines()
        .rev()
        .map(|l| l.trim().trim_start_matches("= ").trim())
        .find(|l| !l.is_empty() && !l.starts_with('|') && !l.starts_with("-->"))
        .unwrap_or("invalid document");
    match err.positions().next() {
        Some(pos) => format!(
            "syntax error at line {}, column {}: {what}",
            pos.line, pos.column
        ),
        None => format!("syntax error: {what}"),
    }
}

fn error_code(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.as_str()),
        _ => None,
    }
}

/// An executed operation's result as a `graphql-transport-ws` `next` payload: the
/// same JSON an HTTP answer has.
/// Also says whether it is a request error (nothing ran: the document was refused).
pub(super) fn encode_payload(response: async_graphql::Response) -> (Vec<u8>, bool) {
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let bytes = encode(response, ResponseType::GraphqlResponseJson)
        .1
        .into_bytes();
    (bytes, request_error)
}

/// The status and body of an executed request. A request error (validation failed,
/// nothing ran: no data and no error with a path) has no `data` entry and its
/// errors carry `GRAPHQL_VALIDATION_FAILED` unless they have a code of their own.
fn encode(
    response: async_graphql::Response,
    response_type: ResponseType,
) -> (StatusCode, Body, String) {
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let mut errors = response.errors;
    for error in &mut errors {
        if error_code(error).is_some() {
            continue;
        }
        // Errors without a code come from async-graphql itself, never from our
        // resolvers (AppError always sets one).
        let code = if request_error {
            "GRAPHQL_VALIDATION_FAILED"
        } else if error.message.starts_with("Failed to parse")
            || error.message.starts_with("Invalid value")
        {
            // An argument literal its scalar refuses (found by the fuzzer: a
            // `NaiveDate` of "" reached the resolver as a codeless field error).
            "BAD_USER_INPUT"
        } else {
            tracing::error!(message = %error.message, "uncoded error from the executor");
            error.message = "internal error".to_owned();
            "INTERNAL"
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
    let code = match errors.first() {
        None => "ok".to_owned(),
        Some(error) => error_code(error).unwrap_or("INTERNAL").to_owned(),
    };
    let unavailable = errors
        .iter()
        .any(|e| matches!(error_code(e), Some("SERVICE_UNAVAILABLE")));
    let wire = WireResponse {
        data: (!request_error).then_some(&response.data),
        errors: &errors,
        extensions: &response.extensions,
    };
    let body = serde_json::to_vec(&wire).unwrap_or_else(|err| {
        tracing::error!(error = %err, "could not serialize a response");
        br#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#.to_vec()
    });
    let status = if unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else if request_error {
        response_type.request_error_status()
    } else {
        StatusCode::OK
    };
    (status, Body::Serialized(body), code)
}

/// A GraphQL response as it goes on the wire, borrowing the executor's result.
#[derive(serde::Serialize)]
struct WireResponse<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

/// Everything after the method is known.
async fn handle(state: &AppState, request: Request, via_get: bool) -> (Answer, ResponseType) {
    let (parts, body) = request.into_parts();
    let response_type = match protocol::negotiate(&parts.headers) {
        Ok(t) => t,
        Err(rejection) => {
            // Neither GraphQL type is acceptable; answer in plain JSON anyway.
            return (
                Answer::rejection(rejection, ResponseType::Json),
                ResponseType::Json,
            );
        }
    };
    if !via_get && let Err(rejection) = protocol::check_content_type(&parts.headers) {
        return (Answer::rejection(rejection, response_type), response_type);
    }
    let caller = match verify_token(state, &parts.headers, response_type).await {
        Ok(caller) => caller,
        Err(answer) => return (*answer, response_type),
    };
    tracing::Span::current().record("client_id", tracing::field::display(caller.client_id));
    let request_id = parts.headers.get(&REQUEST_ID).and_then(|v| v.to_str().ok());
    let body = if via_get {
        protocol::parse_get_query(parts.uri.query().unwrap_or("")).map(PostBody::Single)
    } else {
        match protocol::read_body(body, &parts.headers, state.limits.max_body_bytes).await {
            Ok(bytes) => protocol::parse_post_body(&bytes, state.limits.max_batch_size),
            Err(rejection) => Err(rejection),
        }
    };
    let answer = match body {
        Err(rejection) => Answer::rejection(rejection, response_type),
        Ok(PostBody::Single(params)) => {
            run_one(state, &caller, params, response_type, via_get, request_id).await
        }
        Ok(PostBody::Batch(batch)) => {
            let mut bodies = Vec::with_capacity(batch.len());
            let mut outcome = Outcome::refused("ok");
            for params in batch {
                let started = Instant::now();
                let answer =
                    run_one(state, &caller, params, response_type, via_get, request_id).await;
                record(state, &answer.outcome, started);
                if outcome.code == "ok" {
                    outcome.code = answer.outcome.code.clone();
                }
                bodies.push(answer.body.into_bytes());
            }
            outcome.kind = "batch";
            Answer {
                status: StatusCode::OK,
                body: Body::Serialized(json_array(bodies)),
                headers: Vec::new(),
                outcome,
            }
        }
    };
    (answer, response_type)
}

/// Joins serialized JSON values into one JSON array.
fn json_array(items: Vec<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 2);
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&item);
    }
    out.push(b']');
    out
}

fn record(state: &AppState, outcome: &Outcome, started: Instant) {
    if outcome.kind == "batch" {
        return; // each operation of the batch was recorded on its own
    }
    state.metrics.record_operation(
        outcome.operation_name.as_deref(),
        outcome.kind,
        &outcome.code,
        started.elapsed(),
    );
}

async fn respond(state: AppState, request: Request, via_get: bool) -> Response {
    let started = Instant::now();
    let (answer, response_type) = handle(&state, request, via_get).await;
    record(&state, &answer.outcome, started);
    tracing::info!(
        operation = answer.outcome.operation_name.as_deref().unwrap_or("anonymous"),
        kind = answer.outcome.kind,
        outcome = %answer.outcome.code,
        complexity = answer.outcome.complexity,
        status = answer.status.as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "graphql request",
    );
    answer.into_response(response_type)
}

/// POST: every operation.
pub async fn post_graphql(State(state): State<AppState>, request: Request) -> Response {
    respond(state, request, false).await
}

/// GET: queries in the URL, or GraphiQL for a browser when enabled.
pub async fn get_graphql(State(state): State<AppState>, request: Request) -> Response {
    if super::subscriptions::is_upgrade(request.headers()) {
        return super::subscriptions::upgrade(state, request).await;
    }
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let has_query = request.uri().query().is_some_and(|q| !q.is_empty());
    if wants_html && !has_query && state.graphiql {
        return super::graphiql::page();
    }
    respond(state, request, true).await
}

/// Any other method: 405 with `Allow`.
pub async fn other_method(State(state): State<AppState>) -> Response {
    let rejection = Rejection::MethodNotAllowed {
        allow: "GET, POST",
        message: "use POST (or GET for queries)".into(),
    };
    let answer = Answer::rejection(rejection, ResponseType::Json);
    record(&state, &answer.outcome, Instant::now());
    answer.into_response(ResponseType::Json)
}
