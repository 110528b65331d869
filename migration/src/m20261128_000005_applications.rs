//! Adds `applications`: an organization asking to attend an event open to
//! applications. Accepting one creates an invitation (`invitation_id`), so
//! everything downstream follows the invitation path.

use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{
    self, check, created_at, foreign_key, id, one_of, unique, updated_at, version,
};
use crate::m20261128_000001_organizations::Organizations;
use crate::m20261128_000002_events::Events;
use crate::m20261128_000004_invitations::Invitations;

#[derive(DeriveIden, Clone, Copy)]
enum Applications {
    Table,
    EventId,
    OrganizationId,
    Status,
    Motivation,
    ProposedTopics,
    SeatsRequested,
    FundingRequested,
    DecisionNote,
    DecidedAt,
    InvitationId,
}

const STATUSES: &[&str] = &["SUBMITTED", "ACCEPTED", "REJECTED", "WITHDRAWN"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Applications as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(id())
                    .col(uuid(A::EventId))
                    .col(uuid(A::OrganizationId))
                    .col(string(A::Status))
                    .col(text(A::Motivation))
                    // JSON list of topic strings.
                    .col(json(A::ProposedTopics))
                    .col(integer(A::SeatsRequested))
                    // JSON list of AIRFARE, ACCOMMODATION, MEALS, LOCAL_TRANSPORT, PER_DIEM.
                    .col(json(A::FundingRequested))
                    .col(text_null(A::DecisionNote))
                    .col(timestamp_with_time_zone_null(A::DecidedAt))
                    .col(uuid_null(A::InvitationId))
                    .col(version())
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut foreign_key(
                        A::Table,
                        A::EventId,
                        Events::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        A::Table,
                        A::OrganizationId,
                        Organizations::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        A::Table,
                        A::InvitationId,
                        Invitations::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .index(&mut unique(
                        A::Table,
                        "event_organization",
                        [A::EventId, A::OrganizationId],
                    ))
                    .check(one_of(A::Table, A::Status, STATUSES))
                    .check(check(
                        A::Table,
                        "seats_requested",
                        Expr::col(A::SeatsRequested).gte(1),
                    ))
                    .take(),
            )
            .await?;
        // The unique constraint serves lookups by event_id.
        columns::create_index(manager, A::Table, [A::OrganizationId]).await?;
        columns::create_index(manager, A::Table, [A::InvitationId]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        columns::drop_tables(manager, [Applications::Table]).await
    }
}
