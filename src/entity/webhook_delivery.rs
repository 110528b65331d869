use sea_orm::entity::prelude::*;

use crate::domain::WebhookDeliveryStatus;

/// One change to deliver to one endpoint, and how its attempts went.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub endpoint_id: Uuid,
    /// The change kind, e.g. `INVITATION_SENT`.
    pub event_type: String,
    /// The JSON body sent, fixed when the delivery is created.
    pub payload: Json,
    pub status: WebhookDeliveryStatus,
    pub attempts: i32,
    /// When a PENDING delivery is next due.
    pub next_attempt_at: DateTimeUtc,
    pub last_attempt_at: Option<DateTimeUtc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// The audit entry (the change) it announces.
    pub audit_entry_id: Option<Uuid>,
    pub response_time_ms: Option<i32>,
    /// Set by the instance sending it now; the row is not claimed again until
    /// `leased_until` passes.
    pub lease_id: Option<Uuid>,
    pub leased_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
