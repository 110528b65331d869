//! `/graphql`: authenticates the caller, then hands the request to the schema.

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::{AppState, REQUEST_ID};
use crate::auth::Caller;
use crate::graphql::loaders;
use crate::service::ServiceContext;

/// A GraphQL-shaped error response outside the schema (no token, unparsable body).
fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="embhub", error="invalid_token""#),
        );
    }
    response
}

fn unauthenticated(reason: &'static str) -> Response {
    tracing::info!(reason, "request refused: not authenticated");
    error_response(
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        &format!("authentication required: {reason}"),
    )
}

/// Verifies the bearer token and that its client is still active.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthenticated("no access token"));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| unauthenticated("expected a Bearer token"))?;
    let caller = state.tokens.verify(token).map_err(|rejection| {
        tracing::info!(reason = rejection.as_str(), "access token refused");
        unauthenticated("invalid or expired access token")
    })?;
    match state
        .revocations
        .is_active(&state.db, caller.client_id)
        .await
    {
        Ok(true) => Ok(caller),
        Ok(false) => Err(unauthenticated("invalid or expired access token")),
        Err(err) => {
            tracing::error!(error = ?err, "revocation check failed");
            Err(error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "INTERNAL",
                "internal error",
            ))
        }
    }
}

async fn execute(state: AppState, request: Request) -> Response {
    let headers = request.headers().clone();
    let caller = match authenticate(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let graphql_request =
        match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
            request,
            &(),
        )
        .await
        {
            Ok(r) => r.into_inner(),
            Err(rejection) => {
                tracing::info!(error = ?rejection.0, "unparsable GraphQL request");
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    "the request is not a valid GraphQL request",
                );
            }
        };
    let request_id = headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let cx = ServiceContext::new(state.db.clone(), caller, request_id);
    let response = state
        .schema
        .execute(loaders::attach(graphql_request, cx))
        .await;
    GraphQLResponse::from(response).into_response()
}

/// POST: every operation.
pub async fn post_graphql(State(state): State<AppState>, request: Request) -> Response {
    execute(state, request).await
}

/// GET: queries in the URL, or GraphiQL for a browser when enabled.
pub async fn get_graphql(State(state): State<AppState>, request: Request) -> Response {
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let has_query = request.uri().query().is_some_and(|q| !q.is_empty());
    if wants_html && !has_query && state.graphiql {
        return Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response();
    }
    execute(state, request).await
}
