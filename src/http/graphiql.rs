//! GraphiQL served from the binary itself: no CDN, so the page works on a
//! network that reaches only this server. The assets in `assets/graphiql/` are
//! GraphiQL's and React's browser bundles at pinned versions
//! (`scripts/update-graphiql.sh` refreshes them) plus our page, which keeps the
//! access token a person pastes in the browser tab only. Off in production.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// The page, its script and style, and the bundles, with their media types.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "embhub.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/embhub.js"),
    ),
    (
        "embhub.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/embhub.css"),
    ),
    (
        "LICENSES.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/graphiql/LICENSES.txt"),
    ),
];

const PAGE: &str = include_str!("../../assets/graphiql/index.html");

/// Scripts and styles from this server only (GraphiQL sets inline styles; its
/// fonts are data URLs); requests to this server only, over HTTP and WebSocket;
/// no framing (a page holding a token must not be clickjacked).
const POLICY: &str = "default-src 'none'; \
    script-src 'self'; \
    style-src 'self' 'unsafe-inline'; \
    font-src 'self' data:; \
    img-src 'self' data:; \
    connect-src 'self'; \
    worker-src 'self' blob:; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The GraphiQL page.
pub fn page() -> Response {
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /graphiql/<file>`: one of the page's assets, while GraphiQL is on.
pub async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    if !state.graphiql {
        return StatusCode::NOT_FOUND.into_response();
    }
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, media_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *media_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
