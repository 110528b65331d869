//! Adds people and calendar feeds.
//!
//! - `people`: staff who signed in through a trusted OpenID Connect issuer. embhub
//!   stores no password: a person is known by the issuer and its `sub`, with the
//!   name and email the issuer gave at the last sign-in and the organization the
//!   issuer's configuration put them in.
//! - `audit_entries.actor_person_id`: the person behind a change (an API client's
//!   changes keep `actor_client_id`). No foreign key, as for clients: the trail
//!   outlives the rows it names.
//! - `calendar_feeds`: an organization's secret iCalendar URLs. Only a SHA-256 of
//!   the URL's token is stored, so a database dump does not reveal live URLs.

use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{self, created_at, foreign_key, id, unique, updated_at};

#[derive(DeriveIden, Clone, Copy)]
enum People {
    Table,
    Issuer,
    Subject,
    OrganizationId,
    Name,
    Email,
}

#[derive(DeriveIden, Clone, Copy)]
enum CalendarFeeds {
    Table,
    OrganizationId,
    TokenHash,
    Label,
    CreatedByClientId,
    CreatedByPersonId,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEntries {
    Table,
    ActorPersonId,
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
        use CalendarFeeds as F;
        use People as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(id())
                    .col(text(P::Issuer))
                    .col(text(P::Subject))
                    .col(uuid(P::OrganizationId))
                    .col(text_null(P::Name))
                    .col(text_null(P::Email))
                    // created_at: the first sign-in; updated_at: the latest.
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut foreign_key(
                        P::Table,
                        P::OrganizationId,
                        Organizations::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .index(&mut unique(
                        P::Table,
                        "issuer_subject",
                        [P::Issuer, P::Subject],
                    ))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEntries::Table)
                    .add_column(uuid_null(AuditEntries::ActorPersonId))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(F::Table)
                    .col(id())
                    .col(uuid(F::OrganizationId))
                    // Hex SHA-256 of the secret token in the feed's URL.
                    .col(string(F::TokenHash))
                    .col(text_null(F::Label))
                    .col(uuid_null(F::CreatedByClientId))
                    .col(uuid_null(F::CreatedByPersonId))
                    .col(timestamp_with_time_zone_null(F::RevokedAt))
                    .col(created_at())
                    .foreign_key(&mut foreign_key(
                        F::Table,
                        F::OrganizationId,
                        Organizations::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .index(&mut unique(F::Table, "token_hash", [F::TokenHash]))
                    .take(),
            )
            .await?;
        columns::create_index(manager, F::Table, [F::OrganizationId]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        columns::drop_tables(manager, [CalendarFeeds::Table]).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEntries::Table)
                    .drop_column(AuditEntries::ActorPersonId)
                    .take(),
            )
            .await?;
        columns::drop_tables(manager, [People::Table]).await
    }
}
