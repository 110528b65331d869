//! Adds `sessions`, the agenda items of an event (briefings, panels, observation
//! visits...), optionally crediting the organization that proposed the topic.

use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{self, check, created_at, foreign_key, id, one_of, updated_at, version};
use crate::m20261128_000001_organizations::Organizations;
use crate::m20261128_000002_events::Events;

#[derive(DeriveIden, Clone, Copy)]
pub enum Sessions {
    Table,
    EventId,
    Kind,
    Title,
    Topic,
    Description,
    StartsAt,
    EndsAt,
    Location,
    ProposedByOrganizationId,
}

const KINDS: &[&str] = &[
    "BRIEFING",
    "LECTURE",
    "PANEL",
    "PRESENTATIONS",
    "DISCUSSION",
    "OBSERVATION_EARLY_VOTING",
    "OBSERVATION_ELECTION_DAY",
    "OBSERVATION_COUNTING",
    "MOCK_VOTING",
    "SITE_VISIT",
    "CULTURAL_PROGRAM",
    "RECEPTION",
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Sessions as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(id())
                    .col(uuid(S::EventId))
                    .col(string(S::Kind))
                    .col(string(S::Title))
                    .col(string_null(S::Topic))
                    .col(text_null(S::Description))
                    .col(timestamp_with_time_zone(S::StartsAt))
                    .col(timestamp_with_time_zone(S::EndsAt))
                    .col(string_null(S::Location))
                    .col(uuid_null(S::ProposedByOrganizationId))
                    .col(version())
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut foreign_key(
                        S::Table,
                        S::EventId,
                        Events::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        S::Table,
                        S::ProposedByOrganizationId,
                        Organizations::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .check(one_of(S::Table, S::Kind, KINDS))
                    .check(check(
                        S::Table,
                        "times",
                        Expr::col(S::EndsAt).gte(Expr::col(S::StartsAt)),
                    ))
                    .take(),
            )
            .await?;
        columns::create_index(manager, S::Table, [S::EventId, S::StartsAt]).await?;
        columns::create_index(manager, S::Table, [S::ProposedByOrganizationId]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        columns::drop_tables(manager, [Sessions::Table]).await
    }
}
