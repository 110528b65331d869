//! The `participants` table as stored: sensitive fields only sealed.

use sea_orm::entity::prelude::*;

use crate::domain::ParticipantRole;

/// A participant row. Each `*_sealed` column holds `<key id>:<base64 of nonce,
/// ciphertext and tag>` (see `service::personal_data`), bound to this row's id and
/// the column. Deliberately not `Serialize`: a stored row never goes into an audit
/// entry or a payload.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
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
    pub funded: bool,
    pub needs_visa_support: bool,
    /// The data key the sealed values are sealed with (none when there are none).
    pub data_key_id: Option<i32>,
    pub nationality_sealed: Option<String>,
    pub date_of_birth_sealed: Option<String>,
    pub passport_number_sealed: Option<String>,
    pub dietary_needs_sealed: Option<String>,
    pub accessibility_needs_sealed: Option<String>,
    pub personal_data_erased_at: Option<DateTimeUtc>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
