//! Adds `token_signing_keys`: the Ed25519 key access tokens are signed with, kept
//! in the database so that every instance on one database signs and verifies
//! with the same key (a token one issues is accepted by all).
//!
//! The private key is stored only sealed (AES-256-GCM under the operator's
//! key-encryption key, which never reaches the database); the public key and its
//! `kid` are stored in the clear for the JWKS. The newest row is the signing key.

use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{created_at, id, unique};

#[derive(DeriveIden, Clone, Copy)]
enum TokenSigningKeys {
    Table,
    Kid,
    PublicKey,
    SealedPrivateKey,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use TokenSigningKeys as K;
        manager
            .create_table(
                Table::create()
                    .table(K::Table)
                    .col(id())
                    // RFC 7638 thumbprint of the public key.
                    .col(string(K::Kid))
                    // base64url of the 32-byte Ed25519 public key.
                    .col(string(K::PublicKey))
                    // base64 of nonce and AES-256-GCM ciphertext of the PKCS#8 key.
                    .col(text(K::SealedPrivateKey))
                    .col(created_at())
                    .index(&mut unique(K::Table, "kid", [K::Kid]))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::drop_tables(manager, [TokenSigningKeys::Table]).await
    }
}
