//! Indexes for "what changed since": `updatedSince` filters and `UPDATED_AT`
//! ordering on the lists a system catches up with (organizations, events,
//! invitations, applications).
//!
//! `(updated_at, id)` is exactly the keyset a page under `UPDATED_AT` reads: the
//! condition `updated_at > $since` (or the cursor's `(updated_at, id) > (…, …)`)
//! and the `ORDER BY updated_at, id LIMIT n` are one index range scan, so a catch-up
//! touches only the rows that changed instead of sorting the whole table. Without
//! it PostgreSQL scans and sorts every visible row for each page.
//!
//! Not on `delegations`: it is the most written table (notes, dates, every
//! participant change moves its `updated_at`), and an index on `updated_at` would
//! turn each of those updates from a HOT update (no index touched) into one that
//! writes every index. Its catch-up reads are narrowed by organization or event
//! first, through their own indexes, and sort the few rows left.

use sea_orm_migration::prelude::*;

/// The tables, as names: migrations stay frozen and never import entities.
const TABLES: [&str; 4] = ["organizations", "events", "invitations", "applications"];

fn index_name(table: &str) -> String {
    format!("ix_{table}_updated_at_id")
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .create_index(
                    Index::create()
                        .name(index_name(table))
                        .table(Alias::new(table))
                        .col(Alias::new("updated_at"))
                        .col(Alias::new("id"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .drop_index(
                    Index::drop()
                        .name(index_name(table))
                        .table(Alias::new(table))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
