//! External ids: how an organization is known in another system's directory.
//!
//! - `directory_sources`: the systems whose directories embhub mirrors, by code
//!   (`AWEB`), each with the one organization whose system maintains it (its
//!   steward). Administrators register them.
//! - `organization_external_ids`: the id an organization has in a source. At most
//!   one per source and organization (the primary key), and one organization per
//!   id within a source (the unique constraint): two syncs racing on the same item
//!   cannot create two entries, the second one's insert fails and it finds the
//!   first one's row instead.

use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{self, composite_primary_key, created_at, foreign_key, unique, updated_at};

#[derive(DeriveIden, Clone, Copy)]
enum DirectorySources {
    Table,
    Source,
    StewardOrganizationId,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrganizationExternalIds {
    Table,
    OrganizationId,
    Source,
    ExternalId,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use DirectorySources as S;
        use OrganizationExternalIds as X;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(string_len(S::Source, 20).primary_key())
                    .col(uuid(S::StewardOrganizationId))
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut foreign_key(
                        S::Table,
                        S::StewardOrganizationId,
                        Organizations::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(X::Table)
                    .col(uuid(X::OrganizationId))
                    .col(string_len(X::Source, 20))
                    .col(text(X::ExternalId))
                    .col(created_at())
                    .primary_key(&mut composite_primary_key(
                        X::Table,
                        [X::OrganizationId, X::Source],
                    ))
                    .foreign_key(&mut foreign_key(
                        X::Table,
                        X::OrganizationId,
                        Organizations::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    // The source is keyed by its code, not an `id`: named by hand
                    // in the scheme of `columns::foreign_key`.
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_organization_external_ids_source")
                            .from(X::Table, X::Source)
                            .to(S::Table, S::Source)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .index(&mut unique(
                        X::Table,
                        "source_external_id",
                        [X::Source, X::ExternalId],
                    ))
                    .take(),
            )
            .await?;
        columns::create_index(manager, S::Table, [S::StewardOrganizationId]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        columns::drop_tables(
            manager,
            [
                OrganizationExternalIds::Table.into_iden(),
                DirectorySources::Table.into_iden(),
            ],
        )
        .await
    }
}
