//! The HTTP surface: routes, shared state and cross-cutting layers.

mod graphql;
mod health;
mod oauth;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, Request};
use axum::routing::{get, post};
use sea_orm::DatabaseConnection;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::tokens::TokenService;
use crate::graphql::EmbhubSchema;
use crate::service::clients::RevocationCache;

pub use oauth::TokenThrottle;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub schema: EmbhubSchema,
    pub tokens: Arc<TokenService>,
    pub revocations: Arc<RevocationCache>,
    pub token_throttle: Arc<TokenThrottle>,
    /// Serve GraphiQL to browsers.
    pub graphiql: bool,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// All routes with request ids and request tracing.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/graphql",
            post(graphql::post_graphql).get(graphql::get_graphql),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/oauth/token", post(oauth::token))
        .route("/.well-known/jwks.json", get(oauth::jwks))
        .with_state(state)
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let request_id = request
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id = %request_id,
                )
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
