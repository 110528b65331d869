//! The keys participants' personal data is sealed with (envelope encryption).
//!
//! The operator's data key (`EMBHUB_DATA_KEY_FILE`, or a file generated in the
//! data folder for the embedded default) never reaches the database. It seals
//! the *data keys* kept in `data_keys`; each value is sealed with a data key,
//! whose id is stored with the value. So instances on one database share the data
//! keys through it (each needs only the same data key file), a rotation is a new
//! row plus re-encryption, and a database dump or backup alone opens nothing.
//!
//! Values are AES-256-GCM (RustCrypto's `aes-gcm`, as for the token signing
//! key): a fresh 96-bit nonce per value, and the row id, column and key id as
//! associated data, so a ciphertext copied to another row or column, or
//! relabelled with another key id, fails to open instead of showing someone
//! else's data.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryOrder, Set, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use uuid::Uuid;

use crate::auth::key_store::KeyEncryptionKey;
use crate::entity::data_key;
use crate::error::{AppError, AppResult};

/// Bytes of an AES-GCM nonce.
const NONCE_BYTES: usize = 12;

/// The PostgreSQL advisory lock under which data keys are created.
const DATA_KEY_LOCK: i64 = 0x656d_6268_7562_0019; // "embhub" 19

/// The setting that names the data key, for messages.
pub const DATA_KEY_SETTING: &str = "EMBHUB_DATA_KEY_FILE";

/// Where the operator's data key comes from.
#[derive(Debug, Clone)]
pub enum DataKeySource {
    /// A file the operator gives every instance (e.g. a Docker secret).
    File(std::path::PathBuf),
    /// Generated on first start in this data folder (the embedded default).
    DataDir(std::path::PathBuf),
}

impl DataKeySource {
    /// Picks the source: the file when configured; otherwise the data folder,
    /// refused in production (a key generated beside each instance would be lost
    /// with its disk, and differ between instances).
    pub fn choose(file: Option<&Path>, data_dir: &Path, production: bool) -> anyhow::Result<Self> {
        match file {
            Some(path) => Ok(Self::File(path.to_owned())),
            None if production => anyhow::bail!(
                "in production participants' personal data must be sealed under a data key the \
                 operator keeps: set {DATA_KEY_SETTING} to a file holding 32 random bytes in base64 \
                 (e.g. `openssl rand -base64 32 > data-key`), the same on every instance, and keep \
                 it as long as the database and its backups (README, \"Personal data\")"
            ),
            None => Ok(Self::DataDir(data_dir.to_owned())),
        }
    }

    /// Reads the key, generating the data-folder one on first start.
    pub fn load(&self) -> anyhow::Result<KeyEncryptionKey> {
        let read = |path: &Path| -> anyhow::Result<KeyEncryptionKey> {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("cannot read {DATA_KEY_SETTING} {}: {e}", path.display())
            })?;
            KeyEncryptionKey::parse(&text, DATA_KEY_SETTING)
        };
        match self {
            Self::File(path) => read(path),
            Self::DataDir(dir) => {
                let path = dir.join("keys").join("data-key");
                if path.exists() {
                    return read(&path);
                }
                let key = KeyEncryptionKey::generate();
                std::fs::create_dir_all(dir.join("keys"))?;
                crate::auth::keys::write_owner_only(&path, key.to_base64().as_bytes())?;
                tracing::info!(path = %path.display(), "generated a new data key for personal data");
                Ok(key)
            }
        }
    }
}

/// The data keys in memory: every key by id, and the newest, which seals.
struct Ring {
    keys: HashMap<i32, Aes256Gcm>,
    current: i32,
}

struct Inner {
    /// Its own handle, outside the request statement counter: a reload is the
    /// keys' business, not a request's.
    db: DatabaseConnection,
    master: KeyEncryptionKey,
    ring: RwLock<Ring>,
}

/// The data keys of one process: seals and opens personal data. Cheap to clone.
#[derive(Clone)]
pub struct DataKeys(Arc<Inner>);

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeys")
            .field("current", &self.current_id())
            .finish_non_exhaustive()
    }
}

/// What a sealed key is bound to: its id, so a sealed key copied onto another row
/// does not open.
fn key_context(id: i32) -> Vec<u8> {
    format!("embhub data key {id}").into_bytes()
}

/// What a value is bound to: the row, the column and the key.
fn value_context(row: Uuid, column: &str, key_id: i32) -> Vec<u8> {
    format!("embhub participants {row} {column} {key_id}").into_bytes()
}

fn unseal_key(master: &KeyEncryptionKey, stored: &data_key::Model) -> anyhow::Result<Aes256Gcm> {
    let bytes = master
        .open(&stored.sealed_key, &key_context(stored.id))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "cannot decrypt data key {} kept in the database: {DATA_KEY_SETTING} is not the key it \
                 was sealed under. Give every instance the data key file the first instance started with",
                stored.id
            )
        })?;
    Aes256Gcm::new_from_slice(&bytes)
        .map_err(|_| anyhow::anyhow!("data key {} is not 32 bytes", stored.id))
}

async fn lock<C: ConnectionTrait>(txn: &C) -> Result<(), sea_orm::DbErr> {
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({DATA_KEY_LOCK})"))
            .await?;
    }
    Ok(())
}

async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Inserts the next data key (sealed under `master`) inside `txn`; returns its id.
async fn insert_next(txn: &DatabaseTransaction, master: &KeyEncryptionKey) -> anyhow::Result<i32> {
    let newest = data_key::Entity::find()
        .order_by_desc(data_key::Column::Id)
        .one(txn)
        .await?;
    let id = newest.map_or(1, |k| k.id + 1);
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let sealed = master.seal(&bytes, &key_context(id))?;
    data_key::ActiveModel {
        id: Set(id),
        sealed_key: Set(sealed),
        created_at: Set(Utc::now()),
    }
    .insert(txn)
    .await?;
    Ok(id)
}

impl DataKeys {
    /// Loads the data keys, creating the first one (under an advisory lock, so
    /// instances starting together create one) on a new database. Fails with a
    /// message an operator can act on when `master` does not open them.
    pub async fn load_or_create(
        db: &DatabaseConnection,
        master: KeyEncryptionKey,
    ) -> anyhow::Result<Self> {
        let failed = |e: sea_orm::DbErr| anyhow::anyhow!("cannot read the data keys: {e}");
        let txn = begin(db).await.map_err(failed)?;
        lock(&txn).await.map_err(failed)?;
        let any = data_key::Entity::find().one(&txn).await.map_err(failed)?;
        if any.is_none() {
            insert_next(&txn, &master).await?;
            tracing::info!("created the first data key for personal data");
        }
        txn.commit().await.map_err(failed)?;
        let keys = Self(Arc::new(Inner {
            db: db.clone(),
            master,
            ring: RwLock::new(Ring {
                keys: HashMap::new(),
                current: 0,
            }),
        }));
        keys.reload().await?;
        Ok(keys)
    }

    /// Reads the data keys again: picks up a key another process added (a
    /// rotation) and forgets removed ones.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let stored = data_key::Entity::find()
            .order_by_asc(data_key::Column::Id)
            .all(&self.0.db)
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the data keys: {e}"))?;
        let mut keys = HashMap::with_capacity(stored.len());
        {
            // Keep the ciphers already unsealed: only new keys cost a decryption.
            let ring = self.read();
            for key in &stored {
                match ring.keys.get(&key.id) {
                    Some(cipher) => {
                        keys.insert(key.id, cipher.clone());
                    }
                    None => {
                        keys.insert(key.id, unseal_key(&self.0.master, key)?);
                    }
                }
            }
        }
        let current = stored
            .last()
            .map(|k| k.id)
            .ok_or_else(|| anyhow::anyhow!("no data key in the database"))?;
        *self
            .0
            .ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Ring { keys, current };
        Ok(())
    }

    /// Adds a new data key, which then seals every new value (this process at
    /// once, others at their next reload); returns its id.
    pub async fn add_key(&self) -> anyhow::Result<i32> {
        let txn = begin(&self.0.db).await?;
        lock(&txn).await?;
        let id = insert_next(&txn, &self.0.master).await?;
        txn.commit().await?;
        self.reload().await?;
        Ok(id)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.0
            .ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The id of the key new values are sealed with.
    pub fn current_id(&self) -> i32 {
        self.read().current
    }

    /// Whether every key among `ids` is known, reloading once when one is not
    /// (a rotation another process started).
    pub(crate) async fn ensure_known(&self, ids: impl IntoIterator<Item = i32>) -> AppResult<()> {
        let missing = {
            let ring = self.read();
            ids.into_iter().any(|id| !ring.keys.contains_key(&id))
        };
        if missing {
            self.reload().await.map_err(AppError::Internal)?;
        }
        Ok(())
    }

    /// A sealer for one row under the current key.
    pub(crate) fn sealer(&self, row: Uuid) -> Sealer {
        let ring = self.read();
        Sealer {
            row,
            key_id: ring.current,
            cipher: ring.keys[&ring.current].clone(),
        }
    }

    /// Opens `sealed` (a value of `column` in `row`); an error, logged without
    /// the value, when it does not open (another row's or column's value, an
    /// unknown key, tampering).
    pub(crate) fn open(&self, row: Uuid, column: &str, sealed: &str) -> AppResult<String> {
        let fail = |why: &str| {
            AppError::Internal(anyhow::anyhow!(
                "cannot decrypt {column} of participant {row}: {why}"
            ))
        };
        let (key_id, body) = sealed
            .split_once(':')
            .ok_or_else(|| fail("not a sealed value"))?;
        let key_id: i32 = key_id.parse().map_err(|_| fail("not a sealed value"))?;
        let bytes = STANDARD
            .decode(body)
            .map_err(|_| fail("not a sealed value"))?;
        if bytes.len() <= NONCE_BYTES {
            return Err(fail("too short"));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| fail("too short"))?;
        let ring = self.read();
        let cipher = ring
            .keys
            .get(&key_id)
            .ok_or_else(|| fail("its data key is unknown"))?;
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &value_context(row, column, key_id),
                },
            )
            .map_err(|_| fail("authentication failed (wrong row, column or key, or tampered)"))?;
        String::from_utf8(plain).map_err(|_| fail("not UTF-8"))
    }
}

/// Seals the values of one row under one key.
pub(crate) struct Sealer {
    row: Uuid,
    key_id: i32,
    cipher: Aes256Gcm,
}

impl Sealer {
    /// The key the values are sealed with.
    pub(crate) fn key_id(&self) -> i32 {
        self.key_id
    }

    /// `<key id>:<base64 of nonce, ciphertext and tag>`.
    pub(crate) fn seal(&self, column: &str, plaintext: &str) -> AppResult<String> {
        let nonce = Aes256Gcm::generate_nonce(&mut rand::thread_rng());
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &value_context(self.row, column, self.key_id),
                },
            )
            .map_err(|_| AppError::Internal(anyhow::anyhow!("cannot encrypt {column}")))?;
        let mut bytes = Vec::with_capacity(NONCE_BYTES + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(format!("{}:{}", self.key_id, STANDARD.encode(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_with(ids: &[i32]) -> DataKeys {
        let mut keys = HashMap::new();
        for id in ids {
            keys.insert(
                *id,
                Aes256Gcm::new(&Aes256Gcm::generate_key(rand::thread_rng())),
            );
        }
        DataKeys(Arc::new(Inner {
            db: DatabaseConnection::default(),
            master: KeyEncryptionKey::generate(),
            ring: RwLock::new(Ring {
                keys,
                current: *ids.last().unwrap(),
            }),
        }))
    }

    #[test]
    fn a_value_opens_only_in_its_row_and_column() {
        let keys = keys_with(&[1]);
        let row = Uuid::now_v7();
        let sealed = keys
            .sealer(row)
            .seal("passport_number", "K12345678")
            .unwrap();
        assert!(sealed.starts_with("1:"), "{sealed}");
        assert!(!sealed.contains("K12345678"));
        assert_eq!(
            keys.open(row, "passport_number", &sealed).unwrap(),
            "K12345678"
        );
        assert!(
            keys.open(Uuid::now_v7(), "passport_number", &sealed)
                .is_err()
        );
        assert!(keys.open(row, "nationality", &sealed).is_err());
        // A fresh nonce each time.
        assert_ne!(
            sealed,
            keys.sealer(row)
                .seal("passport_number", "K12345678")
                .unwrap()
        );
        // Relabelled with another key id: refused, even when that key exists.
        let two = keys_with(&[1, 2]);
        let relabelled = sealed.replacen("1:", "2:", 1);
        assert!(two.open(row, "passport_number", &relabelled).is_err());
        assert!(keys.open(row, "passport_number", "garbage").is_err());
        assert!(keys.open(row, "passport_number", "1:AAAA").is_err());
    }

    #[test]
    fn the_error_never_contains_the_value() {
        let keys = keys_with(&[1]);
        let row = Uuid::now_v7();
        let sealed = keys
            .sealer(row)
            .seal("passport_number", "K12345678")
            .unwrap();
        let err = keys
            .open(Uuid::now_v7(), "passport_number", &sealed)
            .unwrap_err();
        let text = format!("{err:?}");
        assert!(
            !text.contains("K12345678") && !text.contains(&sealed),
            "{text}"
        );
    }

    #[test]
    fn production_needs_a_data_key_file() {
        let err = DataKeySource::choose(None, Path::new("data"), true).unwrap_err();
        assert!(err.to_string().contains(DATA_KEY_SETTING), "{err}");
        assert!(matches!(
            DataKeySource::choose(None, Path::new("data"), false).unwrap(),
            DataKeySource::DataDir(_)
        ));
    }
}
