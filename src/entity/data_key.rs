use sea_orm::entity::prelude::*;

/// A key participants' personal data is sealed with, itself sealed under the
/// operator's data key (see `service::personal_data::keys`). The newest row seals
/// new values.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// base64 of the AES-256-GCM nonce and ciphertext of the 32-byte key.
    pub sealed_key: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
