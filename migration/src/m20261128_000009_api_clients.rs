//! Adds `api_clients`: the credentials through which an organization's systems
//! call the API, with their roles. Secrets are stored only as argon2id hashes;
//! revoked clients are kept (`revoked_at`) so that history can name them.

use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{self, created_at, foreign_key, id, updated_at};
use crate::m20261128_000001_organizations::Organizations;

#[derive(DeriveIden, Clone, Copy)]
enum ApiClients {
    Table,
    Name,
    OrganizationId,
    Roles,
    SecretHash,
    RevokedAt,
    LastUsedAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ApiClients as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(id())
                    .col(string(C::Name))
                    .col(uuid(C::OrganizationId))
                    // JSON list of ADMIN, COORDINATOR, PARTNER, READER.
                    .col(json(C::Roles))
                    .col(text(C::SecretHash))
                    .col(timestamp_with_time_zone_null(C::RevokedAt))
                    .col(timestamp_with_time_zone_null(C::LastUsedAt))
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut foreign_key(
                        C::Table,
                        C::OrganizationId,
                        Organizations::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .take(),
            )
            .await?;
        columns::create_index(manager, C::Table, [C::OrganizationId]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        columns::drop_tables(manager, [ApiClients::Table]).await
    }
}
