//! Adds `webhook_endpoints`, where organizations receive notifications, and
//! `webhook_deliveries`, the transactional outbox and delivery log: a delivery
//! row is written in the same transaction as the change it announces and sent
//! (and retried) afterwards.

use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{self, check, created_at, foreign_key, id, one_of, updated_at, version};
use crate::m20261128_000001_organizations::Organizations;

#[derive(DeriveIden, Clone, Copy)]
enum WebhookEndpoints {
    Table,
    OrganizationId,
    Url,
    SigningSecret,
    EventTypes,
    Active,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookDeliveries {
    Table,
    EndpointId,
    EventType,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LastAttemptAt,
    LastStatusCode,
    LastError,
    DeliveredAt,
}

const DELIVERY_STATUSES: &[&str] = &["PENDING", "DELIVERED", "FAILED"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_webhook_endpoints(manager).await?;
        create_webhook_deliveries(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        columns::drop_tables(
            manager,
            [
                WebhookDeliveries::Table.into_iden(),
                WebhookEndpoints::Table.into_iden(),
            ],
        )
        .await
    }
}

async fn create_webhook_endpoints(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    use WebhookEndpoints as E;
    manager
        .create_table(
            Table::create()
                .table(E::Table)
                .col(id())
                .col(uuid(E::OrganizationId))
                .col(text(E::Url))
                .col(text(E::SigningSecret))
                // JSON list of event type names.
                .col(json(E::EventTypes))
                .col(boolean(E::Active).default(true))
                .col(version())
                .col(created_at())
                .col(updated_at())
                .foreign_key(&mut foreign_key(
                    E::Table,
                    E::OrganizationId,
                    Organizations::Table,
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
    columns::create_index(manager, E::Table, [E::OrganizationId]).await
}

async fn create_webhook_deliveries(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    use WebhookDeliveries as D;
    manager
        .create_table(
            Table::create()
                .table(D::Table)
                .col(id())
                .col(uuid(D::EndpointId))
                .col(text(D::EventType))
                .col(json(D::Payload))
                .col(string(D::Status))
                .col(integer(D::Attempts).default(0))
                .col(timestamp_with_time_zone(D::NextAttemptAt))
                .col(timestamp_with_time_zone_null(D::LastAttemptAt))
                .col(integer_null(D::LastStatusCode))
                .col(text_null(D::LastError))
                .col(timestamp_with_time_zone_null(D::DeliveredAt))
                .col(created_at())
                .foreign_key(&mut foreign_key(
                    D::Table,
                    D::EndpointId,
                    WebhookEndpoints::Table,
                    ForeignKeyAction::Cascade,
                ))
                .check(one_of(D::Table, D::Status, DELIVERY_STATUSES))
                .check(check(D::Table, "attempts", Expr::col(D::Attempts).gte(0)))
                .take(),
        )
        .await?;
    // The dispatcher polls PENDING deliveries that are due.
    columns::create_index(manager, D::Table, [D::Status, D::NextAttemptAt]).await?;
    columns::create_index(manager, D::Table, [D::EndpointId]).await
}
