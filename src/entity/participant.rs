use sea_orm::entity::prelude::*;

use crate::domain::ParticipantRole;

/// A delegation member. `nationality`, `date_of_birth` and `passport_number` are
/// sensitive: the service layer blanks them for callers who may not read them, and
/// the audit log redacts them.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "participants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub delegation_id: Uuid,
    pub full_name: String,
    pub local_name: Option<String>,
    pub position: Option<String>,
    pub role: ParticipantRole,
    pub email: Option<String>,
    pub dietary_needs: Option<String>,
    pub accessibility_needs: Option<String>,
    pub funded: bool,
    pub needs_visa_support: bool,
    pub nationality: Option<String>,
    pub date_of_birth: Option<Date>,
    pub passport_number: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
