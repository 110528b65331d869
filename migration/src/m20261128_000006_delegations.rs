//! Adds `delegations`, the group an organization sends to an event once its
//! invitation is accepted, and their `participants`.

use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{
    self, country_code_check, created_at, foreign_key, id, one_of, unique, updated_at, version,
};
use crate::m20261128_000001_organizations::Organizations;
use crate::m20261128_000002_events::Events;
use crate::m20261128_000004_invitations::Invitations;

#[derive(DeriveIden, Clone, Copy)]
pub enum Delegations {
    Table,
    EventId,
    OrganizationId,
    InvitationId,
    Status,
    HeadParticipantId,
    ArrivalAt,
    DepartureAt,
    Notes,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Participants {
    Table,
    DelegationId,
    FullName,
    LocalName,
    Position,
    Role,
    Email,
    DietaryNeeds,
    AccessibilityNeeds,
    Funded,
    NeedsVisaSupport,
    Nationality,
    DateOfBirth,
    PassportNumber,
}

const STATUSES: &[&str] = &["FORMING", "CONFIRMED", "CANCELLED"];
const ROLES: &[&str] = &["HEAD", "MEMBER", "INTERPRETER", "SPEAKER", "STAFF"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_delegations(manager).await?;
        create_participants(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        columns::drop_tables(
            manager,
            [
                Participants::Table.into_iden(),
                Delegations::Table.into_iden(),
            ],
        )
        .await
    }
}

async fn create_delegations(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    use Delegations as D;
    manager
        .create_table(
            Table::create()
                .table(D::Table)
                .col(id())
                .col(uuid(D::EventId))
                .col(uuid(D::OrganizationId))
                .col(uuid(D::InvitationId))
                .col(string(D::Status))
                // No foreign key: participants reference delegations, and a
                // cycle would complicate inserts and deletes.
                .col(uuid_null(D::HeadParticipantId))
                .col(timestamp_with_time_zone_null(D::ArrivalAt))
                .col(timestamp_with_time_zone_null(D::DepartureAt))
                .col(text_null(D::Notes))
                .col(version())
                .col(created_at())
                .col(updated_at())
                .foreign_key(&mut foreign_key(
                    D::Table,
                    D::EventId,
                    Events::Table,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut foreign_key(
                    D::Table,
                    D::OrganizationId,
                    Organizations::Table,
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut foreign_key(
                    D::Table,
                    D::InvitationId,
                    Invitations::Table,
                    ForeignKeyAction::Cascade,
                ))
                .index(&mut unique(D::Table, "invitation", [D::InvitationId]))
                .index(&mut unique(
                    D::Table,
                    "event_organization",
                    [D::EventId, D::OrganizationId],
                ))
                .check(one_of(D::Table, D::Status, STATUSES))
                .take(),
        )
        .await?;
    // The unique constraints serve lookups by invitation_id and event_id.
    columns::create_index(manager, D::Table, [D::OrganizationId]).await
}

async fn create_participants(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    use Participants as P;
    manager
        .create_table(
            Table::create()
                .table(P::Table)
                .col(id())
                .col(uuid(P::DelegationId))
                .col(string(P::FullName))
                .col(string_null(P::LocalName))
                .col(string_null(P::Position))
                .col(string(P::Role))
                .col(string_null(P::Email))
                .col(text_null(P::DietaryNeeds))
                .col(text_null(P::AccessibilityNeeds))
                .col(boolean(P::Funded).default(false))
                .col(boolean(P::NeedsVisaSupport).default(false))
                // Sensitive: nationality, date of birth and passport number.
                .col(string_len_null(P::Nationality, 2))
                .col(date_null(P::DateOfBirth))
                .col(string_null(P::PassportNumber))
                .col(version())
                .col(created_at())
                .col(updated_at())
                .foreign_key(&mut foreign_key(
                    P::Table,
                    P::DelegationId,
                    Delegations::Table,
                    ForeignKeyAction::Cascade,
                ))
                .check(one_of(P::Table, P::Role, ROLES))
                .check(country_code_check(P::Table, P::Nationality))
                .take(),
        )
        .await?;
    columns::create_index(manager, P::Table, [P::DelegationId]).await
}
