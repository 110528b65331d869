//! Turns the audit log into the webhooks' transactional outbox and gives
//! endpoints and deliveries what sending and retrying need.
//!
//! Every change that matters already writes its audit entry in its own
//! transaction, so the outbox needs no second write on the mutations' path: a
//! worker claims the entries whose `webhooks_fanned_out_at` is still NULL, creates
//! one delivery per interested endpoint and stamps them. The partial index keeps
//! that claim cheap however long the log grows (only unstamped rows are in it).
//! Entries written before this migration are stamped as done: old history is
//! never delivered.
//!
//! - `webhook_deliveries.audit_entry_id` with a unique (endpoint, entry) pair, so
//!   fanning one entry out twice (a retried batch) creates nothing twice;
//!   `lease_id`/`leased_until`, so two instances never send one row at once and a
//!   crashed sender's row becomes due again; `response_time_ms`.
//! - `webhook_endpoints`: a description, the failure run (`consecutive_failures`,
//!   `failing_since`), why and when it was disabled, and the previous secret kept
//!   valid for a grace period after a rotation.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveIden, Clone, Copy)]
enum AuditEntries {
    Table,
    WebhooksFannedOutAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookEndpoints {
    Table,
    Description,
    ConsecutiveFailures,
    FailingSince,
    DisabledAt,
    DisabledReason,
    PreviousSigningSecret,
    PreviousSecretExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookDeliveries {
    Table,
    AuditEntryId,
    ResponseTimeMs,
    LeaseId,
    LeasedUntil,
}

/// Raw SQL: partial indexes, valid on SQLite and PostgreSQL alike.
const PENDING_ENTRIES: &str = "CREATE INDEX ix_audit_entries_webhooks_pending \
     ON audit_entries (created_at) WHERE webhooks_fanned_out_at IS NULL";
const ONE_DELIVERY_PER_ENTRY: &str = "CREATE UNIQUE INDEX ux_webhook_deliveries_endpoint_entry \
     ON webhook_deliveries (endpoint_id, audit_entry_id)";
const BACKFILL: &str = "UPDATE audit_entries SET webhooks_fanned_out_at = created_at";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            AuditEntries::Table,
            vec![timestamp_with_time_zone_null(
                AuditEntries::WebhooksFannedOutAt,
            )],
        )
        .await?;
        use WebhookEndpoints as E;
        add_columns(
            manager,
            E::Table,
            vec![
                text_null(E::Description),
                integer(E::ConsecutiveFailures).default(0).take(),
                timestamp_with_time_zone_null(E::FailingSince),
                timestamp_with_time_zone_null(E::DisabledAt),
                text_null(E::DisabledReason),
                text_null(E::PreviousSigningSecret),
                timestamp_with_time_zone_null(E::PreviousSecretExpiresAt),
            ],
        )
        .await?;
        use WebhookDeliveries as D;
        add_columns(
            manager,
            D::Table,
            vec![
                uuid_null(D::AuditEntryId),
                integer_null(D::ResponseTimeMs),
                uuid_null(D::LeaseId),
                timestamp_with_time_zone_null(D::LeasedUntil),
            ],
        )
        .await?;
        let db = manager.get_connection();
        db.execute_unprepared(BACKFILL).await?;
        db.execute_unprepared(PENDING_ENTRIES).await?;
        db.execute_unprepared(ONE_DELIVERY_PER_ENTRY).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (index, table) in [
            (
                "ux_webhook_deliveries_endpoint_entry",
                WebhookDeliveries::Table.into_iden(),
            ),
            (
                "ix_audit_entries_webhooks_pending",
                AuditEntries::Table.into_iden(),
            ),
        ] {
            manager
                .drop_index(Index::drop().name(index).table(table).to_owned())
                .await?;
        }
        use WebhookDeliveries as D;
        drop_columns(
            manager,
            D::Table,
            [
                D::LeasedUntil,
                D::LeaseId,
                D::ResponseTimeMs,
                D::AuditEntryId,
            ],
        )
        .await?;
        use WebhookEndpoints as E;
        drop_columns(
            manager,
            E::Table,
            [
                E::PreviousSecretExpiresAt,
                E::PreviousSigningSecret,
                E::DisabledReason,
                E::DisabledAt,
                E::FailingSince,
                E::ConsecutiveFailures,
                E::Description,
            ],
        )
        .await?;
        drop_columns(
            manager,
            AuditEntries::Table,
            [AuditEntries::WebhooksFannedOutAt],
        )
        .await
    }
}

/// One `ALTER TABLE … ADD COLUMN` per column: SQLite takes one at a time.
async fn add_columns(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + Copy,
    columns: Vec<ColumnDef>,
) -> Result<(), DbErr> {
    for column in columns {
        manager
            .alter_table(Table::alter().table(table).add_column(column).take())
            .await?;
    }
    Ok(())
}

async fn drop_columns<C: IntoIden>(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + Copy,
    columns: impl IntoIterator<Item = C>,
) -> Result<(), DbErr> {
    for column in columns {
        manager
            .alter_table(Table::alter().table(table).drop_column(column).take())
            .await?;
    }
    Ok(())
}
