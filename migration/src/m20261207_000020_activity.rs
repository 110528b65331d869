//! `audit_entries.event_id`: the event an audited change belongs to, for the
//! activity feed (`Event.activity`).
//!
//! An event's activity is every change to the event, its sessions, co-hosts,
//! invitations, applications, delegations, participants and presentations. Finding
//! those from `entity_id` alone means a union of per-table subqueries on every
//! page (and the records of removed sessions or participants are gone, so their
//! entries could not be found at all). Stored at record time, an event's page is
//! one range scan of `ix_audit_entries_event_id_created_at_id`, newest first,
//! keyset-paged on `(created_at, id)`.
//!
//! Existing entries are backfilled: from the records that still exist (one
//! `UPDATE` per kind), then, for the records already deleted, from the snapshot
//! the entry kept (`event_id`, or the delegation or session it named). Entries
//! about organizations, API clients, webhooks and calendar feeds keep NULL.

use sea_orm_migration::sea_orm::Statement;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveIden, Clone, Copy)]
enum AuditEntries {
    Table,
    Id,
    EventId,
}

/// Entries whose record still exists: the event read from the record.
const FROM_RECORDS: [&str; 7] = [
    "UPDATE audit_entries SET event_id = entity_id WHERE entity_type = 'Event'",
    "UPDATE audit_entries SET event_id = (SELECT s.event_id FROM sessions s \
       WHERE s.id = audit_entries.entity_id) WHERE entity_type = 'Session'",
    "UPDATE audit_entries SET event_id = (SELECT i.event_id FROM invitations i \
       WHERE i.id = audit_entries.entity_id) WHERE entity_type = 'Invitation'",
    "UPDATE audit_entries SET event_id = (SELECT a.event_id FROM applications a \
       WHERE a.id = audit_entries.entity_id) WHERE entity_type = 'Application'",
    "UPDATE audit_entries SET event_id = (SELECT d.event_id FROM delegations d \
       WHERE d.id = audit_entries.entity_id) WHERE entity_type = 'Delegation'",
    "UPDATE audit_entries SET event_id = (SELECT d.event_id FROM participants p \
       JOIN delegations d ON d.id = p.delegation_id \
       WHERE p.id = audit_entries.entity_id) WHERE entity_type = 'Participant'",
    "UPDATE audit_entries SET event_id = (SELECT s.event_id FROM presentations p \
       JOIN sessions s ON s.id = p.session_id \
       WHERE p.id = audit_entries.entity_id) WHERE entity_type = 'Presentation'",
];

/// Entries of records deleted since (removed sessions and participants, mostly).
const ORPHANS: &str = "SELECT id, before, after FROM audit_entries WHERE event_id IS NULL \
     AND entity_type IN ('Session', 'Invitation', 'Application', 'Delegation', \
     'Participant', 'Presentation')";

const INDEX: &str = "ix_audit_entries_event_id_created_at_id";

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A UUID field of a snapshot.
fn snapshot_id(snapshots: &[Option<serde_json::Value>], field: &str) -> Option<uuid::Uuid> {
    snapshots
        .iter()
        .flatten()
        .find_map(|s| s.get(field)?.as_str()?.parse().ok())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AuditEntries as A;
        manager
            .alter_table(
                Table::alter()
                    .table(A::Table)
                    .add_column(uuid_null(A::EventId))
                    .take(),
            )
            .await?;
        let db = manager.get_connection();
        for sql in FROM_RECORDS {
            db.execute_unprepared(sql).await?;
        }
        let backend = manager.get_database_backend();
        let orphans = db
            .query_all_raw(Statement::from_string(backend, ORPHANS))
            .await?;
        for row in orphans {
            let id: uuid::Uuid = row.try_get("", "id")?;
            let snapshots: [Option<serde_json::Value>; 2] =
                [row.try_get("", "after")?, row.try_get("", "before")?];
            let mut event_id = snapshot_id(&snapshots, "event_id");
            for (field, table) in [("delegation_id", "delegations"), ("session_id", "sessions")] {
                if event_id.is_some() {
                    break;
                }
                let Some(parent) = snapshot_id(&snapshots, field) else {
                    continue;
                };
                let found = db
                    .query_one_raw(
                        backend.build(
                            Query::select()
                                .column(Alias::new("event_id"))
                                .from(Alias::new(table))
                                .and_where(Expr::col(Alias::new("id")).eq(parent)),
                        ),
                    )
                    .await?;
                event_id = found
                    .map(|r| r.try_get::<uuid::Uuid>("", "event_id"))
                    .transpose()?;
            }
            if let Some(event_id) = event_id {
                manager
                    .exec_stmt(
                        Query::update()
                            .table(A::Table)
                            .value(A::EventId, event_id)
                            .and_where(Expr::col(A::Id).eq(id))
                            .take(),
                    )
                    .await?;
            }
        }
        // An event's activity, newest first: one range scan per page.
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(A::Table)
                    .col(A::EventId)
                    .col(Alias::new("created_at"))
                    .col(A::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AuditEntries as A;
        manager
            .drop_index(Index::drop().name(INDEX).table(A::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(A::Table)
                    .drop_column(A::EventId)
                    .take(),
            )
            .await
    }
}
