//! `webhook_outbox`: the audit entries not yet fanned out to webhook endpoints,
//! replacing the `audit_entries.webhooks_fanned_out_at` stamp.
//!
//! The stamp made every audited write cost a second write later: fanning an entry
//! out updated its audit row, and because the pending-entries index is partial on
//! that column, PostgreSQL could not update it in place (no HOT update): a new
//! copy of the row (before and after snapshots, about 1 KB) and new entries in
//! each of the audit log's indexes, per change, plus the dead row left behind.
//! Measured with pgbench on the benchmark data, the stamp cut audited writes by
//! about a quarter. A queue row of one UUID, deleted once fanned out, costs a
//! fraction of that and leaves the audit log insert-only.
//!
//! A trigger on `audit_entries` queues every new entry, so no write path can
//! forget to (on PostgreSQL once per statement, with a transition table: a bulk
//! insert of 150 entries queues them in one insert). It queues nothing while no
//! webhook endpoint is active: nobody could receive the change (an endpoint only
//! receives changes made while it is registered and active), and a deployment
//! without webhooks then pays nothing for them. Entries still pending are carried
//! over; the column and its index go.

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveIden, Clone, Copy)]
enum WebhookOutbox {
    Table,
    AuditEntryId,
}

const CARRY_OVER: &str = "INSERT INTO webhook_outbox (audit_entry_id) \
     SELECT id FROM audit_entries WHERE webhooks_fanned_out_at IS NULL";

const POSTGRES_UP: [&str; 2] = [
    "CREATE FUNCTION audit_entries_queue_for_webhooks() RETURNS trigger \
     LANGUAGE plpgsql AS $$ BEGIN \
       INSERT INTO webhook_outbox (audit_entry_id) SELECT id FROM new_entries \
         WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE active); \
       RETURN NULL; \
     END $$",
    "CREATE TRIGGER audit_entries_queue_for_webhooks AFTER INSERT ON audit_entries \
     REFERENCING NEW TABLE AS new_entries \
     FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_queue_for_webhooks()",
];
const POSTGRES_DOWN: [&str; 2] = [
    "DROP TRIGGER IF EXISTS audit_entries_queue_for_webhooks ON audit_entries",
    "DROP FUNCTION IF EXISTS audit_entries_queue_for_webhooks()",
];
const SQLITE_UP: &str = "CREATE TRIGGER audit_entries_queue_for_webhooks \
     AFTER INSERT ON audit_entries \
     WHEN EXISTS (SELECT 1 FROM webhook_endpoints WHERE active) BEGIN \
       INSERT INTO webhook_outbox (audit_entry_id) VALUES (NEW.id); \
     END";
const SQLITE_DOWN: &str = "DROP TRIGGER IF EXISTS audit_entries_queue_for_webhooks";

const OLD_INDEX: &str = "ix_audit_entries_webhooks_pending";
const OLD_INDEX_DEFINITION: &str = "CREATE INDEX ix_audit_entries_webhooks_pending \
     ON audit_entries (created_at) WHERE webhooks_fanned_out_at IS NULL";

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn run(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookOutbox::Table)
                    .col(uuid(WebhookOutbox::AuditEntryId).primary_key())
                    .to_owned(),
            )
            .await?;
        run(manager, CARRY_OVER).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            for sql in POSTGRES_UP {
                run(manager, sql).await?;
            }
        } else {
            run(manager, SQLITE_UP).await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name(OLD_INDEX)
                    .table(Alias::new("audit_entries"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("audit_entries"))
                    .drop_column(Alias::new("webhooks_fanned_out_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("audit_entries"))
                    .add_column(
                        ColumnDef::new(Alias::new("webhooks_fanned_out_at"))
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Everything not queued was fanned out.
        run(
            manager,
            "UPDATE audit_entries SET webhooks_fanned_out_at = created_at \
             WHERE id NOT IN (SELECT audit_entry_id FROM webhook_outbox)",
        )
        .await?;
        run(manager, OLD_INDEX_DEFINITION).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            for sql in POSTGRES_DOWN {
                run(manager, sql).await?;
            }
        } else {
            run(manager, SQLITE_DOWN).await?;
        }
        manager
            .drop_table(Table::drop().table(WebhookOutbox::Table).to_owned())
            .await
    }
}
