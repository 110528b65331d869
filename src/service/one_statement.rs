//! A simple change to one versioned record as a single statement on PostgreSQL.
//!
//! The transactional way to change a record takes six round trips (begin, lock,
//! read, update, audit, commit) and holds the row lock across them, which is what
//! limits writes on a busy row. When a change needs nothing from the current row
//! but its access conditions, PostgreSQL can do it all at once:
//!
//! ```sql
//! WITH before_row AS (SELECT * FROM t WHERE id = $1 AND <guard> FOR UPDATE),
//!      after_row AS (UPDATE t SET …, version = before_row.version + 1 FROM before_row
//!                    WHERE t.id = before_row.id [AND before_row.version = $n] RETURNING t.*),
//!      audit AS (INSERT INTO audit_entries … SELECT …, to_jsonb(before_row), to_jsonb(after_row)
//!                FROM after_row CROSS JOIN before_row)
//! SELECT * FROM after_row
//! ```
//!
//! One statement is atomic: the audit entry exists exactly when the change does.
//! The guard carries every rule the transactional path checks (visibility, who may
//! change it, which states allow it); when it does not hold, or on SQLite, nothing
//! is written and the caller takes the transactional path, which then says
//! precisely why (NOT_FOUND, FORBIDDEN, CONFLICT) or, after a race, just succeeds.

use chrono::Utc;
use sea_orm::sea_query::{Asterisk, Condition, LockType, PostgresQueryBuilder, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, IdenStatic, Statement,
    Value,
};
use uuid::Uuid;

use super::ServiceContext;
use crate::error::AppResult;

/// A change to one record of `E`, for [`update`].
pub(crate) struct Change<E: EntityTrait> {
    /// Who may change the record and in which states, on the table's own columns.
    pub guard: Condition,
    /// The version the client read, if it gave one.
    pub expected_version: Option<i32>,
    /// The new values; `version` and `updated_at` are set by [`update`].
    pub values: Vec<(E::Column, Value)>,
    /// The audit entry's action, e.g. `delegation.update`.
    pub action: &'static str,
    /// The audited entity type, e.g. `Delegation`.
    pub entity_type: &'static str,
    /// Columns whose values the audit entry replaces with `[REDACTED]`.
    pub redacted: &'static [&'static str],
    /// The record's column naming its event (`event_id`; `id` for an event),
    /// copied into the audit entry for the event's activity feed.
    pub event_column: &'static str,
}

/// Collects the parameters of a statement, numbering PostgreSQL placeholders.
struct Parameters(Vec<Value>);

impl Parameters {
    fn push(&mut self, value: impl Into<Value>) -> String {
        self.0.push(value.into());
        format!("${}", self.0.len())
    }
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// A row as audit JSON, with `redacted` columns replaced like the audit log's
/// snapshots do (a null stays null).
fn audit_json(row: &str, redacted: &[&str]) -> String {
    if redacted.is_empty() {
        return format!("to_jsonb({row})");
    }
    let names: Vec<String> = redacted.iter().map(|c| format!("'{c}'")).collect();
    let replacements: Vec<String> = redacted
        .iter()
        .map(|c| {
            format!(
                "'{c}', CASE WHEN {row}.{col} IS NULL THEN NULL ELSE '[REDACTED]' END",
                col = quoted(c)
            )
        })
        .collect();
    format!(
        "(to_jsonb({row}) - ARRAY[{}]::text[]) || jsonb_build_object({})",
        names.join(", "),
        replacements.join(", ")
    )
}

/// Applies `change` to record `id` with its audit entry in one statement, on
/// PostgreSQL. `None` when nothing was written: another backend, or a guard or
/// version that does not hold.
pub(crate) async fn update<E>(
    cx: &ServiceContext,
    id: Uuid,
    id_column: E::Column,
    change: Change<E>,
) -> AppResult<Option<E::Model>>
where
    E: EntityTrait + Default,
    E::Model: FromQueryResult,
{
    if cx.db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let table = E::default().table_name().to_owned();
    let (select, values) = Query::select()
        .column(Asterisk)
        .from(E::default())
        .and_where(id_column.eq(id))
        .cond_where(change.guard)
        .lock(LockType::Update)
        .to_owned()
        .build(PostgresQueryBuilder);
    let mut params = Parameters(values.0);
    let now = Utc::now();
    let mut assignments: Vec<String> = change
        .values
        .into_iter()
        .map(|(column, value)| format!("{} = {}", quoted(column.as_str()), params.push(value)))
        .collect();
    assignments.push("\"version\" = before_row.\"version\" + 1".to_owned());
    assignments.push(format!("\"updated_at\" = {}", params.push(now)));
    let version_check = match change.expected_version {
        Some(version) => format!(" AND before_row.\"version\" = {}", params.push(version)),
        None => String::new(),
    };
    let caller = cx.caller();
    let audit_id = Uuid::now_v7();
    let audit_values = [
        params.push(audit_id),
        params.push(caller.api_client_id()),
        params.push(caller.person_id),
        params.push(caller.organization_id),
        params.push(change.action),
        params.push(change.entity_type),
    ];
    let request_id = params.push(cx.request_id.clone());
    let created_at = params.push(now);
    let sql = format!(
        "WITH before_row AS ({select}), \
         after_row AS (UPDATE {table} SET {assignments} FROM before_row \
             WHERE {table}.\"id\" = before_row.\"id\"{version_check} RETURNING {table}.*), \
         audit AS (INSERT INTO \"audit_entries\" (\"id\", \"actor_client_id\", \"actor_person_id\", \
             \"actor_organization_id\", \"action\", \"entity_type\", \"entity_id\", \"before\", \
             \"after\", \"request_id\", \"created_at\", \"event_id\") \
             SELECT {audit}, after_row.\"id\", {before}, {after}, {request_id}, {created_at}, \
             after_row.{event_column} \
             FROM after_row CROSS JOIN before_row) \
         SELECT * FROM after_row",
        table = quoted(&table),
        assignments = assignments.join(", "),
        audit = audit_values.join(", "),
        before = audit_json("before_row", change.redacted),
        after = audit_json("after_row", change.redacted),
        event_column = quoted(change.event_column),
    );
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, params.0);
    match cx.db.query_one_raw(statement).await? {
        Some(row) => {
            let model = E::Model::from_query_result(&row, "")?;
            cx.announce(vec![audit_id]);
            Ok(Some(model))
        }
        None => Ok(None),
    }
}
