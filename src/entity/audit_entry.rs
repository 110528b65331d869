use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub actor_client_id: Option<Uuid>,
    pub actor_organization_id: Option<Uuid>,
    /// The person who made the change (signed in through OpenID Connect); null
    /// for an API client or the system.
    pub actor_person_id: Option<Uuid>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub before: Option<Json>,
    pub after: Option<Json>,
    pub request_id: Option<String>,
    pub created_at: DateTimeUtc,
    /// The event the change belongs to (the event itself, or the event of the
    /// session, invitation, application, delegation, participant or presentation
    /// changed); null for organizations, API clients, webhooks and calendar feeds.
    /// Stored at record time so that an event's activity is one index range.
    pub event_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
