//! `/metrics` in the Prometheus (OpenMetrics) text format.
//!
//! `prometheus-client` (the Prometheus project's own Rust client) keeps its metrics
//! in a registry value rather than a process-wide global, so each `Application` —
//! and each test server in one test process — counts only its own requests.
//!
//! Operation names come from clients, so they are sanitized and capped: after
//! [`MAX_OPERATION_NAMES`] distinct names, new ones are counted as `other`, and a
//! client cannot grow the label set (and the server's memory) without bound.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sea_orm::DatabaseConnection;

use super::AppState;

/// Distinct operation names tracked before the rest are counted as `other`.
pub const MAX_OPERATION_NAMES: usize = 500;

const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
    /// `query`, `mutation`, `subscription`, or `unknown` (refused before parsing).
    kind: String,
    /// `ok`, or the code of the first error.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLatencyLabels {
    operation: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimiterLabels {
    /// `graphql` (per client), `token_client` or `token_ip`.
    limiter: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    /// `idle` or `in_use`.
    state: String,
}

/// Every metric embhub exports.
pub struct Metrics {
    registry: Registry,
    operations: Family<OperationLabels, Counter>,
    operation_latency: Family<OperationLatencyLabels, Histogram, fn() -> Histogram>,
    http_requests: Family<HttpLabels, Counter>,
    http_latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    rate_limited: Family<LimiterLabels, Counter>,
    pool_connections: Family<PoolLabels, Gauge>,
    pool_max: Gauge,
    operation_names: Mutex<HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("embhub");
        let operations = Family::<OperationLabels, Counter>::default();
        registry.register(
            "graphql_operations",
            "GraphQL operations by name, type and outcome",
            operations.clone(),
        );
        let operation_latency =
            Family::<OperationLatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "graphql_operation_duration_seconds",
            "Time to answer a GraphQL operation",
            operation_latency.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            http_requests.clone(),
        );
        let http_latency =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            http_latency.clone(),
        );
        let rate_limited = Family::<LimiterLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit",
            rate_limited.clone(),
        );
        let pool_connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Open database connections by state",
            pool_connections.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "Most database connections the pool may open",
            pool_max.clone(),
        );
        Self {
            registry,
            operations,
            operation_latency,
            http_requests,
            http_latency,
            rate_limited,
            pool_connections,
            pool_max,
            operation_names: Mutex::new(HashSet::new()),
        }
    }

    /// A label-safe operation name: `anonymous`, the name, or `other` once the
    /// label set is full or the name is odd.
    fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return "anonymous".to_owned();
        };
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return "other".to_owned();
        }
        let Ok(mut names) = self.operation_names.lock() else {
            return "other".to_owned();
        };
        if names.contains(name) {
            return name.to_owned();
        }
        if names.len() >= MAX_OPERATION_NAMES {
            return "other".to_owned();
        }
        names.insert(name.to_owned());
        name.to_owned()
    }

    /// Counts one GraphQL operation and how long it took.
    pub fn record_operation(
        &self,
        name: Option<&str>,
        kind: &str,
        outcome: &str,
        elapsed: Duration,
    ) {
        let operation = self.operation_label(name);
        self.operations
            .get_or_create(&OperationLabels {
                operation: operation.clone(),
                kind: kind.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.operation_latency
            .get_or_create(&OperationLatencyLabels {
                operation,
                kind: kind.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one refusal by `limiter`.
    pub fn record_rate_limited(&self, limiter: &str) {
        self.rate_limited
            .get_or_create(&LimiterLabels {
                limiter: limiter.to_owned(),
            })
            .inc();
    }

    fn record_http(&self, route: &str, method: &str, status: StatusCode, elapsed: Duration) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status: status.as_str().to_owned(),
            })
            .inc();
        self.http_latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition, with the pool gauges read now.
    pub fn render(&self, db: &DatabaseConnection) -> String {
        let (open, idle, max) = crate::db::pool_usage(db);
        self.pool_connections
            .get_or_create(&PoolLabels {
                state: "idle".into(),
            })
            .set(i64::from(idle));
        self.pool_connections
            .get_or_create(&PoolLabels {
                state: "in_use".into(),
            })
            .set(i64::from(open.saturating_sub(idle)));
        self.pool_max.set(i64::from(max));
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            tracing::error!("metrics encoding failed");
        }
        text
    }
}

/// Known routes keep their path as a label; anything else is `other`, so scanning
/// for random paths does not create new series.
fn route_label(path: &str) -> &'static str {
    match path {
        "/graphql" => "/graphql",
        "/oauth/token" => "/oauth/token",
        "/.well-known/jwks.json" => "/.well-known/jwks.json",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        _ if path.starts_with("/calendar/") => "/calendar",
        _ => "other",
    }
}

/// Middleware: counts every HTTP request by route, method and status, with latency.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(request.uri().path());
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "other",
    };
    let response = next.run(request).await;
    state
        .metrics
        .record_http(route, method, response.status(), started.elapsed());
    response
}

/// Whether `given` is the configured metrics token (constant time: the
/// comparison of digests gives no timing hint about the token).
fn is_metrics_token(given: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Whether `given` is a valid access token of an active ADMIN client.
async fn is_admin_token(state: &AppState, given: &str) -> bool {
    match state.tokens.verify(given) {
        Ok(caller) if caller.is_admin() => state
            .revocations
            .is_active(&state.db, caller.client_id)
            .await
            .unwrap_or(false),
        _ => false,
    }
}

/// `GET /metrics`: for a scraper holding `EMBHUB_METRICS_TOKEN`, or an ADMIN
/// client's access token. Nothing about the service answers without a token.
pub async fn metrics(State(state): State<AppState>, request: Request) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let allowed = match given {
        None => false,
        Some(given) => {
            state
                .limits
                .metrics_token
                .as_deref()
                .is_some_and(|expected| is_metrics_token(given, expected))
                || is_admin_token(&state, given).await
        }
    };
    if !allowed {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            "metrics need the metrics token or an ADMIN access token\n",
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="embhub-metrics""#),
        );
        return response;
    }
    let mut response = state.metrics.render(&state.db).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_sanitized_and_capped() {
        let metrics = Metrics::new();
        assert_eq!(metrics.operation_label(None), "anonymous");
        assert_eq!(metrics.operation_label(Some("Events")), "Events");
        assert_eq!(metrics.operation_label(Some("bad name\"}")), "other");
        for i in 0..MAX_OPERATION_NAMES {
            metrics.operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(metrics.operation_label(Some("OneTooMany")), "other");
        assert_eq!(metrics.operation_label(Some("Events")), "Events");
    }
}
