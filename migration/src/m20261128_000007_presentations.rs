//! Adds `presentations`: a delegation's proposal to present in a session, by one
//! of its participants, which the host accepts or rejects.

use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{self, created_at, foreign_key, id, one_of, updated_at, version};
use crate::m20261128_000003_sessions::Sessions;
use crate::m20261128_000006_delegations::{Delegations, Participants};

#[derive(DeriveIden, Clone, Copy)]
enum Presentations {
    Table,
    SessionId,
    DelegationId,
    PresenterParticipantId,
    Title,
    AbstractText,
    Status,
}

const STATUSES: &[&str] = &["PROPOSED", "ACCEPTED", "REJECTED"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Presentations as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(id())
                    .col(uuid(P::SessionId))
                    .col(uuid(P::DelegationId))
                    .col(uuid(P::PresenterParticipantId))
                    .col(string(P::Title))
                    .col(text_null(P::AbstractText))
                    .col(string(P::Status))
                    .col(version())
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut foreign_key(
                        P::Table,
                        P::SessionId,
                        Sessions::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        P::Table,
                        P::DelegationId,
                        Delegations::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        P::Table,
                        P::PresenterParticipantId,
                        Participants::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .check(one_of(P::Table, P::Status, STATUSES))
                    .take(),
            )
            .await?;
        columns::create_index(manager, P::Table, [P::SessionId]).await?;
        columns::create_index(manager, P::Table, [P::DelegationId]).await?;
        columns::create_index(manager, P::Table, [P::PresenterParticipantId]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        columns::drop_tables(manager, [Presentations::Table]).await
    }
}
