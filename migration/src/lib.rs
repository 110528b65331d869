//! Database schema of embhub as an ordered list of sea-orm migrations.
//!
//! Every migration runs on SQLite and PostgreSQL alike. Migrations are frozen
//! once released: they never import the application's entities, and a schema
//! change is a new migration, never an edit of an old one.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261128_000001_organizations;
mod m20261128_000002_events;
mod m20261128_000003_sessions;
mod m20261128_000004_invitations;
mod m20261128_000005_applications;
mod m20261128_000006_delegations;
mod m20261128_000007_presentations;
mod m20261128_000008_audit_entries;
mod m20261128_000009_api_clients;
mod m20261128_000010_webhooks;
mod m20261128_000011_unique_acronyms;
mod m20261128_000012_invitation_answers;
mod m20261128_000013_one_head_per_delegation;
mod m20261201_000014_webhook_outbox;
mod m20261201_000016_updated_at_indexes;
mod m20261201_000017_token_signing_keys;
mod m20261202_000018_people_and_calendar_feeds;
mod m20261202_000019_personal_data;
mod m20261207_000020_activity;
mod m20261207_000021_co_host_permissions;
mod m20261207_000022_external_ids;
mod m20261207_000023_webhook_outbox_table;

/// Applies or rolls back embhub's migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_organizations::Migration),
            Box::new(m20261128_000002_events::Migration),
            Box::new(m20261128_000003_sessions::Migration),
            Box::new(m20261128_000004_invitations::Migration),
            Box::new(m20261128_000005_applications::Migration),
            Box::new(m20261128_000006_delegations::Migration),
            Box::new(m20261128_000007_presentations::Migration),
            Box::new(m20261128_000008_audit_entries::Migration),
            Box::new(m20261128_000009_api_clients::Migration),
            Box::new(m20261128_000010_webhooks::Migration),
            Box::new(m20261128_000011_unique_acronyms::Migration),
            Box::new(m20261128_000012_invitation_answers::Migration),
            Box::new(m20261128_000013_one_head_per_delegation::Migration),
            Box::new(m20261201_000014_webhook_outbox::Migration),
            Box::new(m20261201_000016_updated_at_indexes::Migration),
            Box::new(m20261201_000017_token_signing_keys::Migration),
            Box::new(m20261202_000018_people_and_calendar_feeds::Migration),
            Box::new(m20261202_000019_personal_data::Migration),
            Box::new(m20261207_000020_activity::Migration),
            Box::new(m20261207_000021_co_host_permissions::Migration),
            Box::new(m20261207_000022_external_ids::Migration),
            Box::new(m20261207_000023_webhook_outbox_table::Migration),
        ]
    }
}
