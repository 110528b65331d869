//! The token signing key kept in the database, sealed under a key-encryption key.
//!
//! Instances behind one load balancer must sign with one key, or each refuses the
//! tokens the others issued. A key file works, but every instance must mount the
//! same file; the database is already shared. So with a key-encryption key
//! configured (`EMBHUB_KEY_ENCRYPTION_KEY`), the first instance generates the
//! Ed25519 signing key and stores it sealed with AES-256-GCM (RustCrypto's
//! `aes-gcm`, audited and constant-time); every other instance loads it. The
//! key-encryption key never reaches the database, so a database dump or backup
//! alone cannot sign tokens.
//!
//! Creation runs under a PostgreSQL advisory lock (on SQLite, inside a write
//! transaction), so instances starting together create one key, not one each.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryOrder, Set,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use uuid::Uuid;

use super::keys::public_jwk;
use crate::entity::token_signing_key::{ActiveModel, Column, Entity, Model};

/// The settings that name the key-encryption key, for messages.
const KEK_SETTINGS: &str = "EMBHUB_KEY_ENCRYPTION_KEY (or EMBHUB_KEY_ENCRYPTION_KEY_FILE)";

/// Bytes of an AES-GCM nonce (96 bits, the size GCM is designed for).
const NONCE_BYTES: usize = 12;

/// The operator's 256-bit key-encryption key: it seals the signing key in the
/// database and is never stored there. Debug output never shows it.
#[derive(Clone)]
pub struct KeyEncryptionKey(Key<Aes256Gcm>);

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey([REDACTED])")
    }
}

impl KeyEncryptionKey {
    /// Parses 32 bytes in standard base64 (what `openssl rand -base64 32` prints);
    /// `source` names the setting in the error.
    pub fn parse(text: &str, source: &str) -> anyhow::Result<Self> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| {
            anyhow::anyhow!(
                "{source} is not base64: give 32 random bytes in base64, e.g. the output of `openssl rand -base64 32`"
            )
        })?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            anyhow::anyhow!(
                "{source} holds {} bytes; it must be 32 (256 bits), e.g. the output of `openssl rand -base64 32`",
                bytes.len()
            )
        })?;
        Ok(Self(Key::<Aes256Gcm>::from(bytes)))
    }

    /// A new random key (for tests and tools).
    pub fn generate() -> Self {
        Self(Aes256Gcm::generate_key(OsRng))
    }

    /// The key in the form [`KeyEncryptionKey::parse`] reads.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.0[..])
    }

    /// Encrypts `plaintext`, binding it to `context` (authenticated, not stored):
    /// base64 of a fresh random nonce followed by the ciphertext and its tag.
    pub(crate) fn seal(&self, plaintext: &[u8], context: &[u8]) -> anyhow::Result<String> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = Aes256Gcm::new(&self.0)
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| anyhow::anyhow!("cannot encrypt a key"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    /// Decrypts what [`seal`](Self::seal) made with the same key and `context`;
    /// `None` when the key, the context or the data differ (GCM's tag tells).
    pub(crate) fn open(&self, sealed: &str, context: &[u8]) -> Option<Vec<u8>> {
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() <= NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        Aes256Gcm::new(&self.0)
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .ok()
    }
}

/// Binds a sealed key to its row's `kid`, so a sealed key copied onto another
/// row does not open.
fn context(kid: &str) -> Vec<u8> {
    format!("embhub token signing key {kid}").into_bytes()
}

/// The PostgreSQL advisory lock under which instances create the signing key.
const SIGNING_KEY_LOCK: i64 = 0x656d_6268_7562_0002; // "embhub" 2

/// The shared signing key: loaded from the database, or created there (sealed
/// under `kek`) by the first instance. Fails with a message an operator can act
/// on when `kek` is not the key it was sealed under.
pub async fn load_or_create(
    db: &DatabaseConnection,
    kek: &KeyEncryptionKey,
) -> anyhow::Result<SigningKey> {
    let failed = |e: sea_orm::DbErr| anyhow::anyhow!("cannot read the token signing key: {e}");
    // On SQLite, BEGIN IMMEDIATE: the write lock is held from the start.
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
        .map_err(failed)?;
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({SIGNING_KEY_LOCK})"))
            .await
            .map_err(failed)?;
    }
    let newest = Entity::find()
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .one(&txn)
        .await
        .map_err(failed)?;
    let key = match newest {
        Some(stored) => open_stored(&stored, kek)?,
        None => {
            let key = create(&txn, kek).await?;
            tracing::info!("created the shared token signing key in the database");
            key
        }
    };
    txn.commit().await.map_err(failed)?;
    Ok(key)
}

/// Decrypts a stored key and checks it against its public half.
fn open_stored(stored: &Model, kek: &KeyEncryptionKey) -> anyhow::Result<SigningKey> {
    let der = kek
        .open(&stored.sealed_private_key, &context(&stored.kid))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "cannot decrypt the token signing key kept in the database (kid {}): {KEK_SETTINGS} \
                 is not the key it was sealed under. Give every instance the key-encryption key \
                 the first instance started with",
                stored.kid
            )
        })?;
    let key = SigningKey::from_pkcs8_der(&der).map_err(|e| {
        anyhow::anyhow!(
            "the token signing key in the database (kid {}) is not an Ed25519 key: {e}",
            stored.kid
        )
    })?;
    let (kid, x, _) = public_jwk(&key.verifying_key());
    if kid != stored.kid || x != stored.public_key {
        anyhow::bail!(
            "the token signing key in the database (kid {}) does not match its public key",
            stored.kid
        );
    }
    Ok(key)
}

async fn create<C: ConnectionTrait>(db: &C, kek: &KeyEncryptionKey) -> anyhow::Result<SigningKey> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let der = key
        .to_pkcs8_der()
        .map_err(|e| anyhow::anyhow!("cannot encode the new signing key: {e}"))?;
    let (kid, x, _) = public_jwk(&key.verifying_key());
    let sealed = kek.seal(der.as_bytes(), &context(&kid))?;
    ActiveModel {
        id: Set(Uuid::now_v7()),
        kid: Set(kid),
        public_key: Set(x),
        sealed_private_key: Set(sealed),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .map_err(|e| anyhow::anyhow!("cannot store the new token signing key: {e}"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_text_opens_only_with_its_key_and_context() {
        let kek = KeyEncryptionKey::generate();
        let sealed = kek.seal(b"secret", b"kid-1").unwrap();
        assert_eq!(kek.open(&sealed, b"kid-1").as_deref(), Some(&b"secret"[..]));
        assert!(kek.open(&sealed, b"kid-2").is_none(), "context is bound");
        assert!(
            KeyEncryptionKey::generate()
                .open(&sealed, b"kid-1")
                .is_none()
        );
        let mut tampered = STANDARD.decode(&sealed).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(kek.open(&STANDARD.encode(tampered), b"kid-1").is_none());
        assert!(kek.open("not base64!", b"kid-1").is_none());
        assert!(kek.open("AAAA", b"kid-1").is_none(), "shorter than a nonce");
        // A fresh nonce each time: the same text never seals the same way twice.
        assert_ne!(sealed, kek.seal(b"secret", b"kid-1").unwrap());
    }

    #[test]
    fn key_encryption_keys_must_be_32_bytes_of_base64() {
        let kek = KeyEncryptionKey::generate();
        let parsed = KeyEncryptionKey::parse(&format!(" {}\n", kek.to_base64()), "X").unwrap();
        assert_eq!(parsed.to_base64(), kek.to_base64());
        let short = KeyEncryptionKey::parse(&STANDARD.encode([0u8; 16]), "X").unwrap_err();
        assert!(short.to_string().contains("16 bytes"), "{short}");
        let garbage = KeyEncryptionKey::parse("not base64!", "X").unwrap_err();
        assert!(garbage.to_string().contains("not base64"), "{garbage}");
        assert_eq!(format!("{kek:?}"), "KeyEncryptionKey([REDACTED])");
    }
}
