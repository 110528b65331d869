use sea_orm::entity::prelude::*;

use crate::domain::{DateStatus, EventKind, EventStatus, ParticipationMode};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: EventKind,
    pub host_organization_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub election_name: Option<String>,
    pub election_date: Option<Date>,
    pub venue: Option<String>,
    pub city: Option<String>,
    pub country_code: Option<String>,
    pub time_zone: String,
    pub start_date: Date,
    pub end_date: Date,
    pub date_status: DateStatus,
    pub status: EventStatus,
    pub participation_mode: ParticipationMode,
    pub application_deadline: Option<DateTimeUtc>,
    pub max_delegations: Option<i32>,
    pub max_participants: Option<i32>,
    pub held_alongside_event_id: Option<Uuid>,
    pub published_at: Option<DateTimeUtc>,
    /// Days after the end its participants' personal data is kept, when the host
    /// chose fewer than the configured default.
    pub personal_data_retention_days: Option<i32>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
