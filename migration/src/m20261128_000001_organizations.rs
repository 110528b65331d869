//! Adds `organizations`: election management bodies and the other partners that
//! host, co-host and attend events. Everything else refers to them.

use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{self, country_code_check, created_at, id, one_of, updated_at, version};

#[derive(DeriveIden, Clone, Copy)]
pub enum Organizations {
    Table,
    Kind,
    Name,
    LocalName,
    Acronym,
    CountryCode,
    Website,
    ContactEmail,
    AwebMember,
}

const KINDS: &[&str] = &[
    "ELECTION_MANAGEMENT_BODY",
    "INTERNATIONAL_ORGANIZATION",
    "DEVELOPMENT_AGENCY",
    "CIVIC_EDUCATION_INSTITUTE",
    "RESEARCH_INSTITUTE",
    "NGO",
    "OTHER",
];

/// Names are unique per country, case-insensitively; international bodies (no
/// country) are unique among themselves, hence `COALESCE` rather than letting
/// NULLs be distinct. sea-query cannot render expression indexes for SQLite,
/// so this one is raw SQL (valid on both backends).
const UNIQUE_NAME_PER_COUNTRY: &str = "CREATE UNIQUE INDEX ux_organizations_country_name \
     ON organizations (COALESCE(country_code, ''), LOWER(name))";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Organizations as O;
        manager
            .create_table(
                Table::create()
                    .table(O::Table)
                    .col(id())
                    .col(string(O::Kind))
                    .col(text(O::Name))
                    .col(string_null(O::LocalName))
                    .col(string_null(O::Acronym))
                    .col(string_len_null(O::CountryCode, 2))
                    .col(string_null(O::Website))
                    .col(string_null(O::ContactEmail))
                    .col(boolean(O::AwebMember).default(false))
                    .col(version())
                    .col(created_at())
                    .col(updated_at())
                    .check(one_of(O::Table, O::Kind, KINDS))
                    .check(country_code_check(O::Table, O::CountryCode))
                    .take(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(UNIQUE_NAME_PER_COUNTRY)
            .await?;
        columns::create_index(manager, O::Table, [O::Name]).await?;
        columns::create_index(manager, O::Table, [O::Acronym]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        columns::drop_tables(manager, [Organizations::Table]).await
    }
}
