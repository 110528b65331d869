use sea_orm::entity::prelude::*;

use crate::domain::ApplicationStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: Uuid,
    pub organization_id: Uuid,
    pub status: ApplicationStatus,
    pub motivation: String,
    /// JSON list of topic strings.
    pub proposed_topics: Json,
    pub seats_requested: i32,
    /// JSON list of `FundingItem` names.
    pub funding_requested: Json,
    pub decision_note: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    pub invitation_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
