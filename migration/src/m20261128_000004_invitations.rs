//! Adds `invitations`: the host's offer of seats (some of them funded) at an
//! event to one organization, and that organization's answer. One per
//! (event, organization).

use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{
    self, check, created_at, foreign_key, id, one_of, unique, updated_at, version,
};
use crate::m20261128_000001_organizations::Organizations;
use crate::m20261128_000002_events::Events;

#[derive(DeriveIden, Clone, Copy)]
pub enum Invitations {
    Table,
    EventId,
    OrganizationId,
    SentByClientId,
    Status,
    SeatsOffered,
    FundedSeats,
    FundingCovers,
    RespondBy,
    Message,
    SentAt,
    RespondedAt,
    ResponseNote,
}

const STATUSES: &[&str] = &[
    "DRAFT",
    "SENT",
    "ACCEPTED",
    "DECLINED",
    "WITHDRAWN",
    "EXPIRED",
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Invitations as I;
        manager
            .create_table(
                Table::create()
                    .table(I::Table)
                    .col(id())
                    .col(uuid(I::EventId))
                    .col(uuid(I::OrganizationId))
                    // No foreign key: API clients may be deleted, invitations stay.
                    .col(uuid_null(I::SentByClientId))
                    .col(string(I::Status))
                    .col(integer(I::SeatsOffered))
                    .col(integer(I::FundedSeats).default(0))
                    // JSON list of AIRFARE, ACCOMMODATION, MEALS, LOCAL_TRANSPORT, PER_DIEM.
                    .col(json(I::FundingCovers))
                    .col(timestamp_with_time_zone_null(I::RespondBy))
                    .col(text_null(I::Message))
                    .col(timestamp_with_time_zone_null(I::SentAt))
                    .col(timestamp_with_time_zone_null(I::RespondedAt))
                    .col(text_null(I::ResponseNote))
                    .col(version())
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut foreign_key(
                        I::Table,
                        I::EventId,
                        Events::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        I::Table,
                        I::OrganizationId,
                        Organizations::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .index(&mut unique(
                        I::Table,
                        "event_organization",
                        [I::EventId, I::OrganizationId],
                    ))
                    .check(one_of(I::Table, I::Status, STATUSES))
                    .check(check(
                        I::Table,
                        "seats_offered",
                        Expr::col(I::SeatsOffered).gte(1),
                    ))
                    .check(check(
                        I::Table,
                        "funded_seats",
                        Expr::col(I::FundedSeats).gte(0),
                    ))
                    .check(check(
                        I::Table,
                        "funded_seats_within_offer",
                        Expr::col(I::FundedSeats).lte(Expr::col(I::SeatsOffered)),
                    ))
                    .take(),
            )
            .await?;
        // The unique constraint serves lookups by event_id.
        columns::create_index(manager, I::Table, [I::OrganizationId]).await?;
        // The sweep expiring SENT invitations past their respond-by date.
        columns::create_index(manager, I::Table, [I::Status, I::RespondBy]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        columns::drop_tables(manager, [Invitations::Table]).await
    }
}
