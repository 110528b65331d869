//! Makes organization acronyms unique, case-insensitively: operators and the CLI
//! name organizations by acronym (`client create --org NEC`), so two NECs would
//! make that ambiguous. Refuses to run, listing them, while duplicates exist.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Statement;

const DUPLICATES: &str = "SELECT LOWER(acronym) AS acronym, COUNT(*) AS n FROM organizations \
     WHERE acronym IS NOT NULL GROUP BY LOWER(acronym) HAVING COUNT(*) > 1";

/// Raw SQL: sea-query cannot render expression indexes for SQLite.
const UNIQUE_ACRONYM: &str =
    "CREATE UNIQUE INDEX ux_organizations_acronym ON organizations (LOWER(acronym))";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let clashes = db
            .query_all_raw(Statement::from_string(
                manager.get_database_backend(),
                DUPLICATES,
            ))
            .await?;
        if !clashes.is_empty() {
            let names: Vec<String> = clashes
                .iter()
                .filter_map(|row| row.try_get::<String>("", "acronym").ok())
                .collect();
            return Err(DbErr::Migration(format!(
                "organization acronyms must be unique, but these are used more than once \
                 (case-insensitively): {}; rename or clear the duplicates with \
                 updateOrganization, then migrate again",
                names.join(", ")
            )));
        }
        db.execute_unprepared(UNIQUE_ACRONYM).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ux_organizations_acronym")
                    .table(Alias::new("organizations"))
                    .to_owned(),
            )
            .await
    }
}
