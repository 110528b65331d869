//! `POST /oauth/token` (RFC 6749 §4.4 client credentials) and the JWKS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::{Engine, engine::general_purpose::STANDARD};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::json;

use super::AppState;
use crate::service::clients;

/// Limits token requests per client, so a secret cannot be guessed at speed.
///
/// Keyed by the parsed client id, not the string sent: `ABC…`, `abc…`, `{abc…}` and
/// `urn:uuid:abc…` name the same client and share its one bucket.
pub struct TokenThrottle(DefaultKeyedRateLimiter<uuid::Uuid>);

impl TokenThrottle {
    /// `per_minute` attempts per client id, all of them available at once.
    pub fn new(per_minute: NonZeroU32) -> Self {
        Self(RateLimiter::keyed(Quota::per_minute(per_minute)))
    }

    fn allow(&self, client_id: uuid::Uuid) -> bool {
        if self.0.len() > 100_000 {
            self.0.retain_recent();
        }
        self.0.check_key(&client_id).is_ok()
    }
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// An RFC 6749 §5.2 error.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="embhub""#),
        );
    }
    no_store(response)
}

/// Client credentials from HTTP Basic (RFC 6749 §2.3.1: each part form-urlencoded).
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decode = || -> Option<(String, String)> {
        let raw = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (id, secret) = raw.split_once(':')?;
        let unescape = |part: &str| -> String {
            form_urlencoded::parse(format!("v={part}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        Some((unescape(id), unescape(secret)))
    };
    Some(decode().ok_or(()))
}

fn throttled(retry_after_secs: u64, description: &str) -> Response {
    let mut response = oauth_error(
        StatusCode::TOO_MANY_REQUESTS,
        "invalid_request",
        description,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// Issues an access token for valid client credentials.
///
/// Two throttles guard the secret check: one per source address (checked first, so
/// one host cannot try many client ids) and one per client id (so many hosts
/// cannot try one client's secret).
pub async fn token(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(Extension(ConnectInfo(peer))) = peer
        && let Err(retry_after_secs) = state.token_ip_throttle.allow(peer.ip())
    {
        state.metrics.record_rate_limited("token_ip");
        tracing::warn!(ip = %peer.ip(), "token requests throttled for this address");
        return throttled(
            retry_after_secs,
            "too many token requests from this address; retry later",
        );
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    let mut form: HashMap<String, String> = HashMap::new();
    for (key, value) in form_urlencoded::parse(&body) {
        let (key, value) = (key.into_owned(), value.into_owned());
        if form.insert(key.clone(), value).is_some() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("parameter `{key}` given more than once"),
            );
        }
    }
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the client_credentials grant is supported",
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            );
        }
    }
    let from_form = match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
        _ => None,
    };
    let credentials = match (basic_credentials(&headers), from_form) {
        (Some(Ok(_)), Some(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one client authentication method, not both",
            );
        }
        (Some(Ok(basic)), None) => basic,
        (Some(Err(())), _) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "malformed Basic credentials",
            );
        }
        (None, Some(form)) => form,
        (None, None) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication is required",
            );
        }
    };
    let (raw_client_id, secret) = credentials;
    // Our client ids are UUIDs; anything else names no client. Throttling and the
    // lookup both use the parsed id, so every spelling of one id is one client.
    let client_id = match uuid::Uuid::try_parse(raw_client_id.trim()) {
        Ok(id) if secret.len() <= 256 => id,
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            );
        }
    };
    if !state.token_throttle.allow(client_id) {
        state.metrics.record_rate_limited("token_client");
        tracing::warn!(%client_id, "token requests throttled");
        return throttled(60, "too many token requests for this client; retry later");
    }
    let client = match clients::authenticate(&state.db, client_id, &secret).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            tracing::info!(%client_id, "client authentication failed");
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            );
        }
        Err(crate::error::AppError::Unavailable) => {
            let mut response = oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the service is temporarily unavailable; retry shortly",
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(super::protocol::RETRY_AFTER_UNAVAILABLE),
            );
            return response;
        }
        Err(err) => {
            tracing::error!(error = ?err, "client authentication errored");
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            );
        }
    };
    if let Some(scope) = form.get("scope") {
        let granted: Vec<String> = client
            .roles
            .iter()
            .map(|r| r.as_str().to_ascii_lowercase())
            .collect();
        if let Some(unknown) = scope
            .split_whitespace()
            .find(|s| !granted.iter().any(|g| g == s))
        {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &format!("scope `{unknown}` is not granted to this client"),
            );
        }
    }
    match state
        .tokens
        .issue(client.id, client.organization_id, &client.roles)
    {
        Ok(issued) => no_store(
            Json(json!({
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "scope": issued.scope,
            }))
            .into_response(),
        ),
        Err(err) => {
            tracing::error!(error = ?err, "token signing failed");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            )
        }
    }
}

/// The public keys that verify our tokens (RFC 7517).
pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = Json(state.tokens.keys().jwks().clone()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
