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
/// balancer stops sending traffic until it recovers. The check gets at most the
/// request timeout or 5 seconds, whichever is shorter, so a hung database cannot
/// hang the probe.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let limit = state.request_timeout.min(std::time::Duration::from_secs(5));
    let ready = tokio::time::timeout(limit, db::is_ready(&state.db))
        .await
        .unwrap_or(false);
    if ready {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable" })),
        )
    }
}
