use sea_orm::entity::prelude::*;

/// Where an organization receives signed notifications of changes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    pub url: String,
    /// `whsec_<base64>`; never logged, audited or returned after creation and
    /// rotation (no `Serialize` on this model for that reason).
    pub signing_secret: String,
    /// JSON list of change kinds (`INVITATION_SENT`, …); empty means all of them.
    pub event_types: Json,
    pub active: bool,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub description: Option<String>,
    /// Failed attempts in a row, across deliveries; a success resets it.
    pub consecutive_failures: i32,
    /// The first failed attempt of the current run of failures.
    pub failing_since: Option<DateTimeUtc>,
    pub disabled_at: Option<DateTimeUtc>,
    /// Why delivery stopped, for the endpoint's owner.
    pub disabled_reason: Option<String>,
    /// The secret before the last rotation, still signing until it expires.
    pub previous_signing_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
