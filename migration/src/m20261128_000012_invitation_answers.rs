//! Adds to `invitations` what an answer needs beyond yes or no:
//!
//! - `seats_accepted`: how many of the offered seats the invitee takes (at most the
//!   seats offered; NULL until accepted);
//! - `expires_at`: the moment a SENT invitation can no longer be answered — its
//!   respond-by, or the end of the event's last day in the event's time zone,
//!   whichever comes first — so "expired" is one indexed comparison on the
//!   invitation itself. Existing rows are filled in from their event.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use sea_orm_migration::sea_orm::Statement;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveIden, Clone, Copy)]
enum Invitations {
    Table,
    Id,
    SeatsAccepted,
    ExpiresAt,
}

const EXISTING: &str = "SELECT i.id AS id, i.respond_by AS respond_by, \
     e.end_date AS end_date, e.time_zone AS time_zone \
     FROM invitations i JOIN events e ON e.id = i.event_id";

/// The first moment after the event's last day, in its time zone (UTC when the
/// zone is unknown). Frozen copy of the application's rule at this migration.
fn event_end(end_date: NaiveDate, time_zone: &str) -> DateTime<Utc> {
    let next_day = end_date
        .checked_add_days(Days::new(1))
        .unwrap_or(end_date)
        .and_time(NaiveTime::MIN);
    match time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => tz
            .from_local_datetime(&next_day)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| next_day.and_utc()),
        Err(_) => next_day.and_utc(),
    }
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Invitations as I;
        manager
            .alter_table(
                Table::alter()
                    .table(I::Table)
                    .add_column(integer_null(I::SeatsAccepted))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(I::Table)
                    .add_column(timestamp_with_time_zone_null(I::ExpiresAt))
                    .take(),
            )
            .await?;
        let db = manager.get_connection();
        let rows = db
            .query_all_raw(Statement::from_string(
                manager.get_database_backend(),
                EXISTING,
            ))
            .await?;
        for row in rows {
            let id: uuid::Uuid = row.try_get("", "id")?;
            let respond_by: Option<DateTime<Utc>> = row.try_get("", "respond_by")?;
            let end_date: NaiveDate = row.try_get("", "end_date")?;
            let time_zone: String = row.try_get("", "time_zone")?;
            let end = event_end(end_date, &time_zone);
            let expires_at = respond_by.map_or(end, |by| Ord::min(by, end));
            manager
                .exec_stmt(
                    Query::update()
                        .table(I::Table)
                        .value(I::ExpiresAt, expires_at)
                        .and_where(Expr::col(I::Id).eq(id))
                        .take(),
                )
                .await?;
        }
        // The expiry sweep: SENT invitations whose moment has passed.
        crate::columns::create_index(
            manager,
            I::Table,
            [Alias::new("status"), Alias::new("expires_at")],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Invitations as I;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_invitations_status_expires_at")
                    .table(I::Table)
                    .to_owned(),
            )
            .await?;
        for column in [I::ExpiresAt, I::SeatsAccepted] {
            manager
                .alter_table(Table::alter().table(I::Table).drop_column(column).take())
                .await?;
        }
        Ok(())
    }
}
