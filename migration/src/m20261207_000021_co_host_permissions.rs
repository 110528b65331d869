//! What a co-host may do at an event, granted by the host: one boolean per
//! permission on `event_co_hosts` (INVITE, MANAGE_AGENDA, REVIEW_APPLICATIONS,
//! VIEW_ACTIVITY), false by default, so every existing co-host keeps exactly what
//! it had: reading the event and its participation.
//!
//! Booleans rather than a JSON list: access decisions can then filter in SQL
//! ("events where this organization may invite") on both databases alike, and a
//! new permission is a deliberate schema change. When the co-host was added is the
//! table's existing `created_at`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::boolean;

#[derive(DeriveIden, Clone, Copy)]
enum EventCoHosts {
    Table,
    MayInvite,
    MayManageAgenda,
    MayReviewApplications,
    MayViewActivity,
}

const PERMISSIONS: [EventCoHosts; 4] = [
    EventCoHosts::MayInvite,
    EventCoHosts::MayManageAgenda,
    EventCoHosts::MayReviewApplications,
    EventCoHosts::MayViewActivity,
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one change per ALTER TABLE.
        for column in PERMISSIONS {
            manager
                .alter_table(
                    Table::alter()
                        .table(EventCoHosts::Table)
                        .add_column(boolean(column).default(false))
                        .take(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in PERMISSIONS.iter().rev() {
            manager
                .alter_table(
                    Table::alter()
                        .table(EventCoHosts::Table)
                        .drop_column(*column)
                        .take(),
                )
                .await?;
        }
        Ok(())
    }
}
