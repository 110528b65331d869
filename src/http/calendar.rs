//! `GET /calendar/<token>.ics`: an organization's calendar feed, for calendar
//! apps that poll without a bearer token (the secret URL is the credential).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::service::calendar;

/// Characters of a feed token (32 random bytes in unpadded base64url).
const TOKEN_CHARS: usize = 43;

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "no-store")],
        "no such calendar feed\n",
    )
        .into_response()
}

/// Whether `If-None-Match` names `etag` (or is `*`); weak comparison, as RFC
/// 9110 asks for this header.
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
}

/// The feed, `304 Not Modified` when the app already has this version, or 404
/// for an unknown or revoked URL (the same answer for both).
pub async fn feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = file.strip_suffix(".ics") else {
        return not_found();
    };
    let well_formed = token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return not_found();
    }
    let rendered = match calendar::render(&state.db, token).await {
        Ok(Some(rendered)) => rendered,
        Ok(None) => return not_found(),
        Err(err) => {
            let reply = super::protocol::app_error_reply(err, super::protocol::ResponseType::Json);
            let mut response = (reply.status, axum::Json(reply.body)).into_response();
            for (name, value) in reply.headers {
                response.headers_mut().insert(name, value);
            }
            return response;
        }
    };
    let etag = HeaderValue::from_str(&rendered.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches(v, &rendered.etag));
    let common = [
        (header::ETAG, etag),
        // Apps revalidate each poll; the ETag makes that a 304.
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        StatusCode::OK,
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/calendar; charset=utf-8"),
        )],
        rendered.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn if_none_match_lists_and_weak_tags_match() {
        assert!(matches("\"abc\"", "\"abc\""));
        assert!(matches("\"x\", W/\"abc\"", "\"abc\""));
        assert!(matches("*", "\"abc\""));
        assert!(!matches("\"abd\"", "\"abc\""));
    }
}
