use sea_orm::entity::prelude::*;

/// An organization's secret iCalendar feed URL (only its token's hash is kept).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "calendar_feeds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    /// Hex SHA-256 of the token in the URL; never serialized into audit entries.
    #[serde(skip)]
    pub token_hash: String,
    pub label: Option<String>,
    pub created_by_client_id: Option<Uuid>,
    pub created_by_person_id: Option<Uuid>,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
