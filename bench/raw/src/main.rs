//! The raw baseline of `bench/run`: what this machine can do for embhub's read
//! workloads with nothing in between. axum and one sqlx pool; each request is one
//! prepared statement in which PostgreSQL builds the very JSON embhub answers
//! (global ids, field names, order), and the handler passes the text on. Nothing
//! is cached: every request reads the rows again. No authentication and no access
//! rules beyond the ones the data needs (a partner sees no drafts).
//!
//! Routes: `GET /dashboard/{organization}` (the partner's invitations, each with
//! its event, host, sessions, delegation and participants), `GET /event/{id}` (an
//! event with its host and sessions), `POST /delegation/{id}/notes` (body
//! `{"notes": "…"}`: one `UPDATE … RETURNING`, without audit).
//!
//! Settings: `DATABASE_URL`, `BENCH_RAW_BIND` (default `127.0.0.1:8082`),
//! `BENCH_RAW_POOL` (default 10 connections, as embhub).

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Json, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

/// The global id embhub gives a row: base64url (no padding) of `Type:uuid`.
fn global_id(type_name: &str, column: &str) -> String {
    format!(
        "translate(encode(convert_to('{type_name}:' || {column}::text, 'UTF8'), 'base64'), '+/=', '-_')"
    )
}

/// A timestamp as embhub prints it (RFC 3339, UTC offset; the data has whole seconds).
fn timestamp(column: &str) -> String {
    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')")
}

/// An event with its host and sessions, in the shape of embhub's `Event`: the
/// dashboard's selection, or with `details` the event workload's wider one.
fn event_json(event: &str, host: &str, details: bool) -> String {
    let (event_extra, host_extra, session_extra) = if details {
        (
            format!(
                "'kind', {event}.kind, 'timeZone', {event}.time_zone, \
                 'countryCode', {event}.country_code, 'city', {event}.city,"
            ),
            format!(", 'countryCode', {host}.country_code"),
            ", 'kind', s.kind, 'topic', s.topic, 'location', s.location",
        )
    } else {
        (String::new(), String::new(), "")
    };
    format!(
        "json_build_object(
            'id', {event_id}, 'title', {event}.title,
            'startDate', {event}.start_date, 'endDate', {event}.end_date,
            'dateStatus', {event}.date_status, 'status', {event}.status, {event_extra}
            'host', json_build_object('id', {host_id}, 'name', {host}.name {host_extra}),
            'sessions', COALESCE((
                SELECT json_agg(json_build_object(
                    'id', {session_id}, 'title', s.title,
                    'startsAt', {starts}, 'endsAt', {ends} {session_extra})
                    ORDER BY s.starts_at, s.id)
                FROM sessions s WHERE s.event_id = {event}.id), '[]'::json))",
        event_id = global_id("Event", &format!("{event}.id")),
        host_id = global_id("Organization", &format!("{host}.id")),
        session_id = global_id("Session", "s.id"),
        starts = timestamp("s.starts_at"),
        ends = timestamp("s.ends_at"),
    )
}

/// A partner's invitations (not drafts, on events it may see), oldest first, at
/// most 100, with `totalCount`: embhub's `invitations(first: 100, filter:
/// {organizationId})` for the dashboard selection.
static DASHBOARD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT json_build_object('data', json_build_object('invitations', json_build_object(
            'totalCount', (SELECT count(*) FROM invitations WHERE organization_id = $1 AND status <> 'DRAFT'),
            'nodes', COALESCE((SELECT json_agg(page.node ORDER BY page.created_at, page.id) FROM (
                SELECT i.created_at, i.id, json_build_object(
                    'id', {invitation_id},
                    'status', CASE WHEN i.status = 'SENT' AND i.respond_by < now() THEN 'EXPIRED' ELSE i.status END,
                    'seatsOffered', i.seats_offered, 'fundedSeats', i.funded_seats,
                    'respondBy', {respond_by},
                    'event', {event},
                    'delegation', (
                        SELECT json_build_object(
                            'id', {delegation_id}, 'status', d.status, 'notes', d.notes,
                            'participants', COALESCE((
                                SELECT json_agg(json_build_object(
                                    'id', {participant_id}, 'fullName', p.full_name, 'role', p.role)
                                    ORDER BY p.created_at, p.id)
                                FROM participants p WHERE p.delegation_id = d.id), '[]'::json))
                        FROM delegations d WHERE d.invitation_id = i.id)
                ) AS node
                FROM invitations i
                JOIN events e ON e.id = i.event_id AND e.status <> 'DRAFT'
                JOIN organizations h ON h.id = e.host_organization_id
                WHERE i.organization_id = $1 AND i.status <> 'DRAFT'
                ORDER BY i.created_at, i.id
                LIMIT 100) AS page), '[]'::json))))::text",
        invitation_id = global_id("Invitation", "i.id"),
        respond_by = timestamp("i.respond_by"),
        event = event_json("e", "h", false),
        delegation_id = global_id("Delegation", "d.id"),
        participant_id = global_id("Participant", "p.id"),
    )
});

/// One published event with its host and sessions: embhub's `event(id:)`.
static EVENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT json_build_object('data', json_build_object('event', {event}))::text
         FROM events e JOIN organizations h ON h.id = e.host_organization_id
         WHERE e.id = $1 AND e.status <> 'DRAFT'",
        event = event_json("e", "h", true),
    )
});

/// A delegation's notes, written: embhub's `updateDelegation` without the audit.
static UPDATE_NOTES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE delegations SET notes = $2, version = version + 1, updated_at = now()
         WHERE id = $1
         RETURNING json_build_object('data', json_build_object('updateDelegation', json_build_object(
             'delegation', json_build_object('id', {id}, 'notes', notes, 'version', version))))::text",
        id = global_id("Delegation", "id"),
    )
});

fn json_text(body: Option<String>) -> Response {
    match body {
        Some(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn failure(err: sqlx::Error) -> Response {
    eprintln!("database error: {err}");
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

async fn dashboard(State(pool): State<PgPool>, Path(org): Path<Uuid>) -> Response {
    sqlx::query_scalar::<_, String>(DASHBOARD.as_str())
        .bind(org)
        .fetch_one(&pool)
        .await
        .map_or_else(failure, |body| json_text(Some(body)))
}

async fn event(State(pool): State<PgPool>, Path(id): Path<Uuid>) -> Response {
    sqlx::query_scalar::<_, String>(EVENT.as_str())
        .bind(id)
        .fetch_optional(&pool)
        .await
        .map_or_else(failure, json_text)
}

#[derive(serde::Deserialize)]
struct Notes {
    notes: Option<String>,
}

async fn update_notes(
    State(pool): State<PgPool>,
    Path(id): Path<Uuid>,
    Json(input): Json<Notes>,
) -> Response {
    sqlx::query_scalar::<_, String>(UPDATE_NOTES.as_str())
        .bind(id)
        .bind(input.notes)
        .fetch_optional(&pool)
        .await
        .map_or_else(failure, json_text)
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set DATABASE_URL to the benchmark database"))?;
    let bind = std::env::var("BENCH_RAW_BIND").unwrap_or_else(|_| "127.0.0.1:8082".to_owned());
    let pool_size = match std::env::var("BENCH_RAW_POOL") {
        Ok(n) => n.parse()?,
        Err(_) => 10,
    };
    let pool = PgPoolOptions::new()
        .max_connections(pool_size)
        .connect(&url)
        .await?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/dashboard/{organization}", get(dashboard))
        .route("/event/{id}", get(event))
        .route("/delegation/{id}/notes", post(update_notes))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    eprintln!("bench-raw listening on http://{bind}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}
