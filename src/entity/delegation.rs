use sea_orm::entity::prelude::*;

use crate::domain::DelegationStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "delegations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: Uuid,
    pub organization_id: Uuid,
    pub invitation_id: Uuid,
    pub status: DelegationStatus,
    pub head_participant_id: Option<Uuid>,
    pub arrival_at: Option<DateTimeUtc>,
    pub departure_at: Option<DateTimeUtc>,
    pub notes: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
