//! Liveness and readiness for load balancers and orchestrators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use crate::db;

/// The process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers and all migrations are applied; 503 otherwise, so a load
/// balancer stops sending traffic until it recovers. With the database down this
/// takes at most `EMBHUB_DB_ACQUIRE_TIMEOUT_MS`; a database that accepts the
/// connection but never answers is cut off by the request timeout.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if db::is_ready(&state.db).await {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable" })),
        )
    }
}
