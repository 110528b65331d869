//! The HTTP surface: routes, shared state and cross-cutting layers.

mod calendar;
mod graphiql;
mod graphql;
mod health;
pub mod metrics;
mod oauth;
pub mod people;
pub mod protocol;
pub mod rate_limit;
pub mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sea_orm::DatabaseConnection;
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth::tokens::TokenService;
use crate::config::Limits;
use crate::error::Rejection;
use crate::graphql::EmbhubSchema;
use crate::service::clients::RevocationCache;

pub use metrics::Metrics;
pub use oauth::TokenThrottle;
pub use rate_limit::{ClientRateLimiter, IpThrottle};

/// Shared by every handler: one reference count to clone.
///
/// axum clones the state for every extractor and middleware of every request;
/// cloning the fields one by one (a dozen `Arc`s, the pool, the schema) cost
/// about 3% of a write's CPU in atomic counter traffic between the cores.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl AppState {
    pub fn new(inner: AppStateInner) -> Self {
        Self(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct AppStateInner {
    pub db: DatabaseConnection,
    pub schema: EmbhubSchema,
    pub tokens: Arc<TokenService>,
    pub revocations: Arc<RevocationCache>,
    pub token_throttle: Arc<TokenThrottle>,
    /// Serve GraphiQL to browsers.
    pub graphiql: bool,
    /// Body, batch and header limits (the per-operation ones live in the schema).
    pub limits: Arc<Limits>,
    /// Each client's GraphQL budget.
    pub rate_limiter: Arc<ClientRateLimiter>,
    /// Token-endpoint attempts per source address.
    pub token_ip_throttle: Arc<IpThrottle>,
    pub metrics: Arc<Metrics>,
    /// Longest a request may take before it is stopped with 503 `TIMEOUT`.
    pub request_timeout: Duration,
    /// How long a GraphQL batch loader gathers keys before it queries.
    pub loader_batch_window: Duration,
    /// Documents already parsed, by their text.
    pub documents: crate::graphql::documents::DocumentCache,
    /// Committed changes, for subscribers; mutations announce theirs here.
    pub feed: crate::feed::ChangeFeed,
    /// WebSocket timeouts and limits.
    pub subscriptions: crate::config::SubscriptionSettings,
    /// Open WebSockets per client.
    pub sockets: Arc<subscriptions::SocketCounts>,
    /// Browser origins answered with CORS headers on `/graphql` (none: no CORS).
    pub cors_origins: Arc<Vec<String>>,
    /// Trusted OpenID Connect issuers and the person tokens already verified.
    pub people: Arc<people::PeopleAuth>,
    /// Seal and open participants' personal data, and how long it is kept.
    pub personal_data: crate::service::personal_data::PersonalData,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// All routes with request ids, request tracing, metrics, header and time limits.
pub fn router(state: AppState) -> Router {
    let mut graphql_route = post(graphql::post_graphql)
        .get(graphql::get_graphql)
        .fallback(graphql::other_method);
    if let Some(cors) = cors_layer(&state.cors_origins) {
        graphql_route = graphql_route.layer(cors);
    }
    Router::new()
        .route("/graphql", graphql_route)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/oauth/token", post(oauth::token))
        .route("/.well-known/jwks.json", get(oauth::jwks))
        .route("/calendar/{file}", get(calendar::feed))
        .route("/graphiql/{file}", get(graphiql::asset))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.limits.max_body_bytes,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .layer(middleware::from_fn_with_state(state.clone(), header_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let request_id = request
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // The path only: a GET's query string carries the GraphQL document
                // and variables, which may hold participants' personal data.
                // A calendar feed's path is its secret: never logged.
                let path = request.uri().path();
                let path = if path.starts_with("/calendar/") {
                    "/calendar/…"
                } else {
                    path
                };
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %path,
                    request_id = %request_id,
                    client_id = tracing::field::Empty,
                    operation = tracing::field::Empty,
                )
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        // Every answer is JSON, plain text or our own HTML: no browser may guess
        // another type from the bytes (a JSON error echoing input as script).
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

/// CORS for consoles served from other origins (tower-http's layer, which answers
/// preflights itself and adds `Vary: Origin`): only the listed origins, exactly;
/// for any other origin nothing is reflected, so the browser refuses to hand the
/// answer to the page. Bearer tokens travel in `Authorization`, never in cookies,
/// so credentials mode stays off. `None` without origins: no CORS headers at all.
fn cors_layer(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            // Clients read the request id to report problems, and Retry-After
            // after a 429 or 503.
            .expose_headers([REQUEST_ID, header::RETRY_AFTER, header::WWW_AUTHENTICATE])
            .max_age(Duration::from_secs(600)),
    )
}

/// A refusal outside the GraphQL endpoint's own negotiation, as a GraphQL-shaped
/// JSON error.
fn plain_rejection(rejection: &Rejection) -> Response {
    let status = rejection.fixed_status().unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (
        status,
        axum::Json(json!({ "errors": [rejection.to_json()] })),
    )
        .into_response();
    for (name, value) in protocol::extra_headers(rejection) {
        response.headers_mut().insert(name, value);
    }
    response
}

/// Stops a request that runs longer than `EMBHUB_REQUEST_TIMEOUT_SECS`: its future
/// is dropped, which rolls back an open transaction and returns its database
/// connection to the pool, and the client gets 503 `TIMEOUT` with `Retry-After`.
async fn time_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(state.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout = ?state.request_timeout, "request timed out");
            plain_rejection(&Rejection::Timeout)
        }
    }
}

/// Refuses requests whose headers together exceed `EMBHUB_MAX_HEADER_BYTES` (431).
/// hyper already caps the whole head at about 400 KiB and the URI at 64 KiB; this is
/// the tighter, configurable bound on the headers (a GET's document is bounded by
/// `EMBHUB_MAX_DOCUMENT_BYTES` instead).
async fn header_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let max = state.limits.max_header_bytes;
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size > max {
        let mut response = plain_rejection(&Rejection::HeadersTooLarge { max });
        // When an oversized bearer token is what broke the limit, it is a bad
        // token: say so the way RFC 6750 asks, as every 401 does, so a client
        // knows to fetch a new one.
        let bad_bearer = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .is_some_and(|v| {
                let v = v.as_bytes();
                (v.starts_with(b"Bearer ") || v.starts_with(b"bearer "))
                    && v.len() > crate::auth::tokens::MAX_TOKEN_BYTES
            });
        if bad_bearer {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    r#"Bearer realm="embhub", error="invalid_token", error_description="the access token is too large""#,
                ),
            );
        }
        return response;
    }
    next.run(request).await
}
