//! Adds `events` with their co-hosts (`event_co_hosts`) and the history of their
//! date changes (`event_date_changes`): every change of dates is kept with its
//! reason so that invitees can be told what moved and why.

use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{
    self, check, composite_primary_key, country_code_check, created_at, foreign_key, id, one_of,
    updated_at, version,
};
use crate::m20261128_000001_organizations::Organizations;

#[derive(DeriveIden, Clone, Copy)]
pub enum Events {
    Table,
    Kind,
    HostOrganizationId,
    Title,
    Description,
    ElectionName,
    ElectionDate,
    Venue,
    City,
    CountryCode,
    TimeZone,
    StartDate,
    EndDate,
    DateStatus,
    Status,
    ParticipationMode,
    ApplicationDeadline,
    MaxDelegations,
    MaxParticipants,
    HeldAlongsideEventId,
    PublishedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EventCoHosts {
    Table,
    EventId,
    OrganizationId,
}

#[derive(DeriveIden, Clone, Copy)]
enum EventDateChanges {
    Table,
    EventId,
    PreviousStartDate,
    PreviousEndDate,
    PreviousDateStatus,
    NewStartDate,
    NewEndDate,
    NewDateStatus,
    Reason,
    ChangedByClientId,
    CreatedAt,
}

const KINDS: &[&str] = &[
    "ELECTION_VISITOR_PROGRAM",
    "FORUM",
    "SEMINAR",
    "ELECTION_OBSERVATION",
    "TRAINING",
    "CONFERENCE",
    "OTHER",
];
const DATE_STATUSES: &[&str] = &["TO_BE_CONFIRMED", "TENTATIVE", "CONFIRMED"];
const STATUSES: &[&str] = &[
    "DRAFT",
    "PUBLISHED",
    "CLOSED",
    "COMPLETED",
    "POSTPONED",
    "CANCELLED",
];
const PARTICIPATION_MODES: &[&str] = &["INVITATION_ONLY", "APPLICATIONS_OPEN"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_events(manager).await?;
        create_event_co_hosts(manager).await?;
        create_event_date_changes(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        columns::drop_tables(
            manager,
            [
                EventDateChanges::Table.into_iden(),
                EventCoHosts::Table.into_iden(),
                Events::Table.into_iden(),
            ],
        )
        .await
    }
}

async fn create_events(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    use Events as E;
    manager
        .create_table(
            Table::create()
                .table(E::Table)
                .col(id())
                .col(string(E::Kind))
                .col(uuid(E::HostOrganizationId))
                .col(string(E::Title))
                .col(text_null(E::Description))
                .col(string_null(E::ElectionName))
                .col(date_null(E::ElectionDate))
                .col(string_null(E::Venue))
                .col(string_null(E::City))
                .col(string_len_null(E::CountryCode, 2))
                .col(text(E::TimeZone))
                .col(date(E::StartDate))
                .col(date(E::EndDate))
                .col(string(E::DateStatus))
                .col(string(E::Status))
                .col(string(E::ParticipationMode))
                .col(timestamp_with_time_zone_null(E::ApplicationDeadline))
                .col(integer_null(E::MaxDelegations))
                .col(integer_null(E::MaxParticipants))
                .col(uuid_null(E::HeldAlongsideEventId))
                .col(timestamp_with_time_zone_null(E::PublishedAt))
                .col(version())
                .col(created_at())
                .col(updated_at())
                .foreign_key(&mut foreign_key(
                    E::Table,
                    E::HostOrganizationId,
                    Organizations::Table,
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut foreign_key(
                    E::Table,
                    E::HeldAlongsideEventId,
                    E::Table,
                    ForeignKeyAction::SetNull,
                ))
                .check(one_of(E::Table, E::Kind, KINDS))
                .check(one_of(E::Table, E::DateStatus, DATE_STATUSES))
                .check(one_of(E::Table, E::Status, STATUSES))
                .check(one_of(E::Table, E::ParticipationMode, PARTICIPATION_MODES))
                .check(country_code_check(E::Table, E::CountryCode))
                .check(check(
                    E::Table,
                    "dates",
                    Expr::col(E::EndDate).gte(Expr::col(E::StartDate)),
                ))
                .check(check(
                    E::Table,
                    "max_delegations",
                    Expr::col(E::MaxDelegations).gte(0),
                ))
                .check(check(
                    E::Table,
                    "max_participants",
                    Expr::col(E::MaxParticipants).gte(0),
                ))
                .take(),
        )
        .await?;
    columns::create_index(manager, E::Table, [E::HostOrganizationId]).await?;
    columns::create_index(manager, E::Table, [E::Status]).await?;
    columns::create_index(manager, E::Table, [E::StartDate]).await?;
    columns::create_index(manager, E::Table, [E::HeldAlongsideEventId]).await
}

async fn create_event_co_hosts(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    use EventCoHosts as C;
    manager
        .create_table(
            Table::create()
                .table(C::Table)
                .col(uuid(C::EventId))
                .col(uuid(C::OrganizationId))
                .col(created_at())
                .primary_key(&mut composite_primary_key(
                    C::Table,
                    [C::EventId, C::OrganizationId],
                ))
                .foreign_key(&mut foreign_key(
                    C::Table,
                    C::EventId,
                    Events::Table,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut foreign_key(
                    C::Table,
                    C::OrganizationId,
                    Organizations::Table,
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
    // The primary key serves lookups by event_id.
    columns::create_index(manager, C::Table, [C::OrganizationId]).await
}

async fn create_event_date_changes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    use EventDateChanges as D;
    manager
        .create_table(
            Table::create()
                .table(D::Table)
                .col(id())
                .col(uuid(D::EventId))
                .col(date(D::PreviousStartDate))
                .col(date(D::PreviousEndDate))
                .col(string(D::PreviousDateStatus))
                .col(date(D::NewStartDate))
                .col(date(D::NewEndDate))
                .col(string(D::NewDateStatus))
                .col(text(D::Reason))
                // No foreign key: API clients may be deleted, the history stays.
                .col(uuid_null(D::ChangedByClientId))
                .col(created_at())
                .foreign_key(&mut foreign_key(
                    D::Table,
                    D::EventId,
                    Events::Table,
                    ForeignKeyAction::Cascade,
                ))
                .check(one_of(D::Table, D::PreviousDateStatus, DATE_STATUSES))
                .check(one_of(D::Table, D::NewDateStatus, DATE_STATUSES))
                .check(check(
                    D::Table,
                    "new_dates",
                    Expr::col(D::NewEndDate).gte(Expr::col(D::NewStartDate)),
                ))
                .take(),
        )
        .await?;
    columns::create_index(manager, D::Table, [D::EventId, D::CreatedAt]).await
}
