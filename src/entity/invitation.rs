use sea_orm::entity::prelude::*;

use crate::domain::InvitationStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: Uuid,
    pub organization_id: Uuid,
    pub sent_by_client_id: Option<Uuid>,
    pub status: InvitationStatus,
    pub seats_offered: i32,
    pub funded_seats: i32,
    /// JSON list of `FundingItem` names.
    pub funding_covers: Json,
    pub respond_by: Option<DateTimeUtc>,
    pub message: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    pub responded_at: Option<DateTimeUtc>,
    pub response_note: Option<String>,
    /// Seats the invitee took when accepting (at most the seats offered).
    pub seats_accepted: Option<i32>,
    /// When a SENT invitation stops being answerable: its respond-by or the end
    /// of the event, whichever is first (kept in step with the event's dates).
    pub expires_at: Option<DateTimeUtc>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
