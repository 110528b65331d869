//! GraphQL over HTTP, as the specification (graphql/graphql-over-http) says:
//! media types, request shapes and the status codes of request errors.
//!
//! - A POST body must be `application/json` (415 otherwise); no multipart, no
//!   `application/graphql`, no form bodies.
//! - The response is `application/graphql-response+json` unless the `Accept` header
//!   prefers `application/json`; an `Accept` that allows neither is a 406.
//! - A request error (the operation never ran: a parse or validation failure, a
//!   limit) is 400 with `application/graphql-response+json` and 200 with
//!   `application/json`, and its body has no `data` entry.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};

use crate::error::{AppError, Rejection};

/// The media type of a GraphQL response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// `application/graphql-response+json`: HTTP status codes tell request errors.
    GraphqlResponseJson,
    /// `application/json`: the legacy type; request errors are 200.
    Json,
}

impl ResponseType {
    pub fn content_type(self) -> HeaderValue {
        match self {
            Self::GraphqlResponseJson => {
                HeaderValue::from_static("application/graphql-response+json; charset=utf-8")
            }
            Self::Json => HeaderValue::from_static("application/json; charset=utf-8"),
        }
    }

    /// The status of a request error (nothing executed) with no status of its own.
    pub fn request_error_status(self) -> StatusCode {
        match self {
            Self::GraphqlResponseJson => StatusCode::BAD_REQUEST,
            Self::Json => StatusCode::OK,
        }
    }
}

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// Picks the response media type from `Accept` (RFC 9110 §12.5.1: the most specific
/// matching range gives a type its quality; the highest quality wins, and
/// `application/graphql-response+json` wins ties). No `Accept` header means
/// `application/graphql-response+json`.
pub fn negotiate(headers: &HeaderMap) -> Result<ResponseType, Rejection> {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() || values.iter().all(|v| v.trim().is_empty()) {
        return Ok(ResponseType::GraphqlResponseJson);
    }
    // (specificity, quality) of the best-matching range for each candidate.
    let mut best: [Option<(u8, f32)>; 2] = [None, None];
    for range in values.iter().flat_map(|v| v.split(',')) {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut quality = 1.0_f32;
        for param in parts {
            if let Some((name, value)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                quality = value.trim().parse().unwrap_or(0.0);
            }
        }
        for (i, candidate) in [GRAPHQL_RESPONSE_JSON, JSON].into_iter().enumerate() {
            let specificity = if media == candidate {
                3
            } else if media == "application/*" {
                2
            } else if media == "*/*" {
                1
            } else {
                continue;
            };
            if best[i].is_none_or(|(s, _)| specificity > s) {
                best[i] = Some((specificity, quality));
            }
        }
    }
    let quality = |i: usize| best[i].map_or(0.0, |(_, q)| q);
    let (graphql, json) = (quality(0), quality(1));
    if graphql <= 0.0 && json <= 0.0 {
        return Err(Rejection::NotAcceptable);
    }
    Ok(if json > graphql {
        ResponseType::Json
    } else {
        ResponseType::GraphqlResponseJson
    })
}

/// Checks that a POST body is `application/json` (UTF-8, the only charset allowed).
pub fn check_content_type(headers: &HeaderMap) -> Result<(), Rejection> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or(Rejection::UnsupportedMediaType)?;
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(JSON) {
        return Err(Rejection::UnsupportedMediaType);
    }
    for param in parts {
        if let Some((name, charset)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("charset")
            && !charset
                .trim()
                .trim_matches('"')
                .eq_ignore_ascii_case("utf-8")
        {
            return Err(Rejection::UnsupportedMediaType);
        }
    }
    Ok(())
}

/// Most bytes of an oversized body read and thrown away before answering 413.
const DRAIN_MAX_BYTES: u64 = 4 * 1024 * 1024;
/// Longest time spent on that.
const DRAIN_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads a body of at most `max` bytes.
///
/// An oversized body is refused with 413, but first read to its end when it is
/// modest (up to 4 MiB, for up to 2 s) and thrown away: closing a connection while
/// the client is still sending makes the kernel reset it, and the client then sees
/// a broken connection instead of our answer.
pub async fn read_body(body: Body, headers: &HeaderMap, max: usize) -> Result<Vec<u8>, Rejection> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        if declared.is_some_and(|n| n <= DRAIN_MAX_BYTES) {
            drain(body).await;
        }
        return Err(Rejection::BodyTooLarge { max });
    }
    let mut body = body;
    let mut bytes = Vec::new();
    loop {
        match body.frame().await {
            None => return Ok(bytes),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if bytes.len() + data.len() > max {
                        drain(body).await;
                        return Err(Rejection::BodyTooLarge { max });
                    }
                    bytes.extend_from_slice(&data);
                }
            }
            Some(Err(_)) => {
                return Err(Rejection::BadRequest(
                    "the request body could not be read".into(),
                ));
            }
        }
    }
}

/// Reads and discards what is left of `body`, within [`DRAIN_MAX_BYTES`] and
/// [`DRAIN_MAX_TIME`]; past either the connection is simply closed.
async fn drain(mut body: Body) {
    let discard = async {
        let mut seen: u64 = 0;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen += data.len() as u64;
                if seen > DRAIN_MAX_BYTES {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_MAX_TIME, discard).await;
}

/// One GraphQL request as the client sent it, shape-checked.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlParams {
    pub query: String,
    pub operation_name: Option<String>,
    pub variables: Map<String, Value>,
}

/// What a POST body holds: one request, or a batch when batching is allowed.
#[derive(Debug)]
pub enum PostBody {
    Single(GraphqlParams),
    Batch(Vec<GraphqlParams>),
}

/// Parses a POST body: a JSON object, or an array of them when `max_batch > 1`.
pub fn parse_post_body(bytes: &[u8], max_batch: usize) -> Result<PostBody, Rejection> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|_| Rejection::BadRequest("the request body is not valid JSON".into()))?;
    match value {
        Value::Object(map) => Ok(PostBody::Single(params_from_map(map)?)),
        Value::Array(items) => {
            if max_batch <= 1 || items.is_empty() || items.len() > max_batch {
                return Err(Rejection::BatchNotAllowed { max: max_batch });
            }
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(map) => params_from_map(map),
                    _ => Err(Rejection::BadRequest(
                        "each request of a batch must be a JSON object".into(),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(PostBody::Batch)
        }
        _ => Err(Rejection::BadRequest(
            "the request body must be a JSON object with a `query`".into(),
        )),
    }
}

fn params_from_map(mut map: Map<String, Value>) -> Result<GraphqlParams, Rejection> {
    let bad = |m: &str| Rejection::BadRequest(m.to_owned());
    let query = match map.remove("query") {
        Some(Value::String(q)) => q,
        Some(_) => return Err(bad("`query` must be a string")),
        None => return Err(bad("`query` is required")),
    };
    let operation_name = match map.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => return Err(bad("`operationName` must be a string or null")),
    };
    let variables = match map.remove("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(v)) => v,
        Some(_) => return Err(bad("`variables` must be an object or null")),
    };
    match map.remove("extensions") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(_) => return Err(bad("`extensions` must be an object or null")),
    }
    Ok(GraphqlParams {
        query,
        operation_name,
        variables,
    })
}

/// Parses the URL query of a GET: `query`, `operationName`, and `variables` and
/// `extensions` as JSON text.
pub fn parse_get_query(raw: &str) -> Result<GraphqlParams, Rejection> {
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        let key = key.into_owned();
        let value = match key.as_str() {
            "variables" | "extensions" => serde_json::from_str(&value)
                .map_err(|_| Rejection::BadRequest(format!("`{key}` must be JSON-encoded")))?,
            _ => Value::String(value.into_owned()),
        };
        if map.insert(key.clone(), value).is_some() {
            return Err(Rejection::BadRequest(format!(
                "parameter `{key}` given more than once"
            )));
        }
    }
    params_from_map(map)
}

/// A response carrying a GraphQL body.
pub fn graphql_body(status: StatusCode, response_type: ResponseType, body: &Value) -> Response {
    graphql_bytes(
        status,
        response_type,
        serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()),
    )
}

/// A response carrying an already serialized GraphQL body.
pub fn graphql_bytes(status: StatusCode, response_type: ResponseType, bytes: Vec<u8>) -> Response {
    let mut response = (status, bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, response_type.content_type());
    response
}

/// An error answer made outside the schema: status, GraphQL-shaped body, headers.
#[derive(Debug)]
pub struct ErrorReply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ErrorReply {
    pub fn into_response(self, response_type: ResponseType) -> Response {
        let mut response = graphql_body(self.status, response_type, &self.body);
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// A request refused outside the schema, with the status and headers the refusal
/// calls for.
pub fn rejection_reply(rejection: &Rejection, response_type: ResponseType) -> ErrorReply {
    let status = rejection
        .fixed_status()
        .unwrap_or_else(|| response_type.request_error_status());
    ErrorReply {
        status,
        body: json!({ "errors": [rejection.to_json()] }),
        headers: extra_headers(rejection),
    }
}

/// Any service error answered outside the schema (e.g. an invalid page size found
/// before execution, or the database being unavailable).
pub fn app_error_reply(error: AppError, response_type: ResponseType) -> ErrorReply {
    if let AppError::Rejected(rejection) = &error {
        return rejection_reply(rejection, response_type);
    }
    let (status, headers) = match &error {
        AppError::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            vec![(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_UNAVAILABLE),
            )],
        ),
        AppError::Unauthenticated { .. } => (StatusCode::UNAUTHORIZED, Vec::new()),
        AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, Vec::new()),
        _ => (response_type.request_error_status(), Vec::new()),
    };
    ErrorReply {
        status,
        body: json!({ "errors": [error.to_json()] }),
        headers,
    }
}

/// Seconds a client should wait after a 503.
pub const RETRY_AFTER_UNAVAILABLE: &str = "2";

/// The headers a refusal calls for (`Allow`, `Retry-After`).
pub fn extra_headers(rejection: &Rejection) -> Vec<(HeaderName, HeaderValue)> {
    match rejection {
        Rejection::MethodNotAllowed { allow, .. } => {
            vec![(header::ALLOW, HeaderValue::from_static(allow))]
        }
        Rejection::RateLimited { retry_after_secs } => {
            vec![(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs))]
        }
        Rejection::Timeout => vec![(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_UNAVAILABLE),
        )],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Result<ResponseType, Rejection> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        negotiate(&headers)
    }

    #[test]
    fn accept_picks_the_preferred_graphql_media_type() {
        use ResponseType::*;
        assert_eq!(negotiate(&HeaderMap::new()), Ok(GraphqlResponseJson));
        assert_eq!(accept("*/*"), Ok(GraphqlResponseJson));
        assert_eq!(accept("application/json"), Ok(Json));
        assert_eq!(accept("application/json; charset=utf-8"), Ok(Json));
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            Ok(GraphqlResponseJson)
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json;q=0.5"),
            Ok(Json)
        );
        assert_eq!(
            accept("application/*, application/json;q=0"),
            Ok(GraphqlResponseJson)
        );
        assert_eq!(accept("text/html"), Err(Rejection::NotAcceptable));
        assert_eq!(
            accept("application/json;q=0"),
            Err(Rejection::NotAcceptable)
        );
    }

    #[test]
    fn post_bodies_are_shape_checked() {
        assert!(matches!(
            parse_post_body(br#"{"query":"{a}","variables":null}"#, 1),
            Ok(PostBody::Single(_))
        ));
        assert!(matches!(
            parse_post_body(br#"[{"query":"{a}"}]"#, 1),
            Err(Rejection::BatchNotAllowed { max: 1 })
        ));
        assert!(matches!(
            parse_post_body(br#"[{"query":"{a}"},{"query":"{b}"}]"#, 2),
            Ok(PostBody::Batch(b)) if b.len() == 2
        ));
        for bad in [
            &br#"{"query":1}"#[..],
            br#"{"query":"{a}","variables":"x"}"#,
            br#"{"query":"{a}","operationName":3}"#,
            br#"{"query":"{a}","extensions":[]}"#,
            br#"{}"#,
            br#"{not json"#,
            br#""{a}""#,
        ] {
            assert!(
                matches!(parse_post_body(bad, 1), Err(Rejection::BadRequest(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn only_json_bodies_are_accepted() {
        let with = |ct: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            check_content_type(&headers)
        };
        assert!(with("application/json").is_ok());
        assert!(with("Application/JSON; charset=UTF-8").is_ok());
        assert!(with("application/json; charset=latin1").is_err());
        assert!(with("multipart/form-data; boundary=x").is_err());
        assert!(with("application/x-www-form-urlencoded").is_err());
        assert!(with("application/graphql").is_err());
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }
}
