use sea_orm::entity::prelude::*;

/// The shared token signing key, sealed (see `auth::key_store`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "token_signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// RFC 7638 thumbprint of the public key, as in the JWKS.
    pub kid: String,
    /// base64url of the Ed25519 public key.
    pub public_key: String,
    /// base64 of the AES-256-GCM nonce and ciphertext of the PKCS#8 private key.
    pub sealed_private_key: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
