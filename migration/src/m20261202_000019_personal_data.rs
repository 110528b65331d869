//! Participants' personal data encrypted at rest, and its retention.
//!
//! - `data_keys`: the AES-256-GCM keys personal data is sealed with, each itself
//!   sealed under the operator's data key (`EMBHUB_DATA_KEY_FILE`), which never
//!   reaches the database. The newest row is the one new values are sealed with;
//!   older rows stay while a rotation re-encrypts, then go.
//! - `participants`: one `*_sealed` column per sensitive field (nationality, date
//!   of birth, passport number, dietary and accessibility needs), the id of the key
//!   the row's values are sealed with, and when the personal data was erased.
//!   The plaintext columns stay (nullable) only so that rows written before this
//!   migration can be sealed by the application, which knows the key: it seals them
//!   at start and clears them. A later migration may drop them.
//! - `events.personal_data_retention_days`: a host's shorter retention for one event.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveIden, Clone, Copy)]
enum DataKeys {
    Table,
    Id,
    SealedKey,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Participants {
    Table,
    DataKeyId,
    NationalitySealed,
    DateOfBirthSealed,
    PassportNumberSealed,
    DietaryNeedsSealed,
    AccessibilityNeedsSealed,
    PersonalDataErasedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Events {
    Table,
    PersonalDataRetentionDays,
}

const SEALED: [Participants; 5] = [
    Participants::NationalitySealed,
    Participants::DateOfBirthSealed,
    Participants::PassportNumberSealed,
    Participants::DietaryNeedsSealed,
    Participants::AccessibilityNeedsSealed,
];

const KEY_INDEX: &str = "ix_participants_data_key_id";

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Adds one column (SQLite takes one change per `ALTER TABLE`).
async fn add_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).add_column(column).take())
        .await
}

async fn drop_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(column).take())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use DataKeys as K;
        use Participants as P;
        manager
            .create_table(
                Table::create()
                    .table(K::Table)
                    // Small and stored with every value: an integer, given by the
                    // application (the next after the newest).
                    .col(integer(K::Id).primary_key())
                    // base64 of nonce and AES-256-GCM ciphertext of the 32-byte key.
                    .col(text(K::SealedKey))
                    .col(timestamp_with_time_zone(K::CreatedAt))
                    .take(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
            // A key still referenced cannot be deleted, even by a rotation racing a
            // writer that still seals with it. (SQLite cannot add a foreign key to
            // an existing table, and serializes writers anyway: there the rotation
            // checks for references in the deleting transaction.)
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE participants ADD COLUMN data_key_id integer \
                     CONSTRAINT fk_participants_data_key_id REFERENCES data_keys (id) ON DELETE RESTRICT",
                )
                .await?;
        } else {
            add_column(manager, P::Table, integer_null(P::DataKeyId)).await?;
        }
        for column in SEALED {
            add_column(manager, P::Table, text_null(column)).await?;
        }
        add_column(
            manager,
            P::Table,
            timestamp_with_time_zone_null(P::PersonalDataErasedAt),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name(KEY_INDEX)
                    .table(P::Table)
                    .col(P::DataKeyId)
                    .take(),
            )
            .await?;
        add_column(
            manager,
            Events::Table,
            integer_null(Events::PersonalDataRetentionDays),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Participants as P;
        drop_column(manager, Events::Table, Events::PersonalDataRetentionDays).await?;
        manager
            .drop_index(Index::drop().name(KEY_INDEX).table(P::Table).to_owned())
            .await?;
        drop_column(manager, P::Table, P::PersonalDataErasedAt).await?;
        for column in SEALED.into_iter().rev() {
            drop_column(manager, P::Table, column).await?;
        }
        drop_column(manager, P::Table, P::DataKeyId).await?;
        manager
            .drop_table(Table::drop().table(DataKeys::Table).take())
            .await
    }
}
