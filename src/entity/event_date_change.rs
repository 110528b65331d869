use sea_orm::entity::prelude::*;

use crate::domain::DateStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "event_date_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: Uuid,
    pub previous_start_date: Date,
    pub previous_end_date: Date,
    pub previous_date_status: DateStatus,
    pub new_start_date: Date,
    pub new_end_date: Date,
    pub new_date_status: DateStatus,
    pub reason: String,
    pub changed_by_client_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
