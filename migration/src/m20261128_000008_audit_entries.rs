//! Adds `audit_entries`: who changed what, with before/after snapshots (sensitive
//! fields redacted), written in the same transaction as the change. Ids are kept
//! without foreign keys so that the trail outlives the rows it describes.

use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{self, created_at, id};

#[derive(DeriveIden, Clone, Copy)]
enum AuditEntries {
    Table,
    ActorClientId,
    ActorOrganizationId,
    Action,
    EntityType,
    EntityId,
    Before,
    After,
    RequestId,
    CreatedAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AuditEntries as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(id())
                    .col(uuid_null(A::ActorClientId))
                    .col(uuid_null(A::ActorOrganizationId))
                    .col(text(A::Action))
                    .col(text(A::EntityType))
                    .col(uuid(A::EntityId))
                    .col(json_null(A::Before))
                    .col(json_null(A::After))
                    .col(text_null(A::RequestId))
                    .col(created_at())
                    .take(),
            )
            .await?;
        // An entity's history, oldest first.
        columns::create_index(manager, A::Table, [A::EntityId, A::CreatedAt]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        columns::drop_tables(manager, [AuditEntries::Table]).await
    }
}
