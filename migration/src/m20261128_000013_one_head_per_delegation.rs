//! At most one participant per delegation has the role HEAD, and the delegation's
//! `head_participant_id` is that participant: one source of truth for "who leads
//! the delegation", enforced by a partial unique index.
//!
//! Existing data is reconciled first: a head named on the delegation keeps (or
//! gets) the role HEAD and any other HEAD becomes a MEMBER; where none is named,
//! the earliest registered HEAD stays; then every delegation names its HEAD.

use sea_orm_migration::prelude::*;

const RECONCILE: &[&str] = &[
    "UPDATE participants SET role = 'MEMBER' WHERE role = 'HEAD' \
     AND delegation_id IN (SELECT id FROM delegations WHERE head_participant_id IS NOT NULL) \
     AND id NOT IN (SELECT head_participant_id FROM delegations WHERE head_participant_id IS NOT NULL)",
    "UPDATE participants SET role = 'HEAD' \
     WHERE id IN (SELECT head_participant_id FROM delegations WHERE head_participant_id IS NOT NULL)",
    "UPDATE participants SET role = 'MEMBER' WHERE role = 'HEAD' AND id <> \
     (SELECT p.id FROM participants p WHERE p.delegation_id = participants.delegation_id \
      AND p.role = 'HEAD' ORDER BY p.created_at, p.id LIMIT 1)",
    "UPDATE delegations SET head_participant_id = \
     (SELECT p.id FROM participants p WHERE p.delegation_id = delegations.id AND p.role = 'HEAD')",
];

/// Raw SQL: a partial index (valid on SQLite and PostgreSQL alike).
const ONE_HEAD: &str =
    "CREATE UNIQUE INDEX ux_participants_head ON participants (delegation_id) WHERE role = 'HEAD'";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in RECONCILE {
            db.execute_unprepared(sql).await?;
        }
        db.execute_unprepared(ONE_HEAD).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ux_participants_head")
                    .table(Alias::new("participants"))
                    .to_owned(),
            )
            .await
    }
}
