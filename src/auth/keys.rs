//! Signing and verification keys for access tokens (Ed25519), and their JWKS.
//!
//! Where the signing key comes from ([`SigningKeySource`]), first match wins:
//! a PEM file (`EMBHUB_SIGNING_KEY_FILE`); the database, sealed under a
//! key-encryption key (`EMBHUB_KEY_ENCRYPTION_KEY`, see [`super::key_store`]), so
//! every instance on one database shares it; otherwise a key generated on first
//! start in the data folder (owner-only), so tokens survive restarts — the
//! embedded default, which only suits one instance: in production on PostgreSQL
//! (several instances, one database) it is refused. Extra public keys stay
//! accepted during a rotation and are published in the JWKS.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, spki::der::pem::LineEnding,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rand::RngCore;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};

use super::key_store::KeyEncryptionKey;
use crate::config::Settings;

/// The key tokens are signed with, plus every key they may be verified with.
pub struct KeySet {
    pub signing_kid: String,
    pub signing_key: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    jwks: serde_json::Value,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("signing_kid", &self.signing_kid)
            .field("verifying", &self.verifying.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// RFC 7638 thumbprint of an Ed25519 public key: a stable, collision-free `kid`.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

pub(crate) fn public_jwk(key: &VerifyingKey) -> (String, String, serde_json::Value) {
    let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
    let kid = thumbprint(&x);
    let jwk = serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"
    });
    (kid, x, jwk)
}

fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read signing key {}: {e}", path.display()))?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a PKCS#8 Ed25519 private key: {e}",
            path.display()
        )
    })
}

fn generate_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("cannot encode the new signing key: {e}"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_owner_only(path, pem.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a new token signing key");
    Ok(key)
}

#[cfg(unix)]
pub(crate) fn write_owner_only(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn write_owner_only(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes)?;
    Ok(())
}

/// Where the token signing key comes from.
#[derive(Debug, Clone, Copy)]
pub enum SigningKeySource<'a> {
    /// A PEM file the operator gives every instance.
    File(&'a Path),
    /// The database, sealed under this key-encryption key: shared by every
    /// instance on the database.
    Database(&'a KeyEncryptionKey),
    /// Generated on first start in this data folder: one instance only.
    DataDir(&'a Path),
}

impl<'a> SigningKeySource<'a> {
    /// Picks the source from the settings, refusing a production start on
    /// PostgreSQL that would give each instance a key of its own (each would then
    /// refuse the tokens the others issue, and which one a client reaches is up
    /// to the load balancer).
    pub fn choose(settings: &'a Settings) -> anyhow::Result<Self> {
        let auth = &settings.auth;
        if let Some(path) = &auth.signing_key_file {
            return Ok(Self::File(path));
        }
        if let Some(kek) = &auth.key_encryption_key {
            return Ok(Self::Database(kek));
        }
        let postgres = settings.database.url.starts_with("postgres");
        if postgres && settings.production {
            anyhow::bail!(
                "in production on PostgreSQL every instance must sign tokens with the same key, and none \
                 is configured: set EMBHUB_KEY_ENCRYPTION_KEY (32 random bytes in base64, e.g. from \
                 `openssl rand -base64 32`, the same on every instance) to keep the signing key in the \
                 database sealed under it, or set EMBHUB_SIGNING_KEY_FILE to a PEM key file every \
                 instance reads (README, \"Several instances, one database\")"
            );
        }
        if postgres {
            tracing::warn!(
                "the token signing key is generated in this instance's data folder: a second instance \
                 on this database would refuse its tokens (set EMBHUB_KEY_ENCRYPTION_KEY to share one)"
            );
        }
        Ok(Self::DataDir(&settings.data_dir))
    }

    /// Reads, loads or creates the signing key.
    pub async fn signing_key(self, db: &DatabaseConnection) -> anyhow::Result<SigningKey> {
        match self {
            Self::File(path) => read_signing_key(path),
            Self::Database(kek) => super::key_store::load_or_create(db, kek).await,
            Self::DataDir(dir) => {
                let path = dir.join("keys").join("token-signing-key.pem");
                if path.exists() {
                    read_signing_key(&path)
                } else {
                    generate_signing_key(&path)
                }
            }
        }
    }
}

impl KeySet {
    /// The key set of `signing` plus the public keys still accepted during a
    /// rotation (`verification_key_files`).
    pub fn load(signing: &SigningKey, verification_key_files: &[PathBuf]) -> anyhow::Result<Self> {
        let mut public_keys = vec![signing.verifying_key()];
        for path in verification_key_files {
            let pem = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("cannot read verification key {}: {e}", path.display())
            })?;
            let key = VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
                anyhow::anyhow!("{} is not an Ed25519 public key: {e}", path.display())
            })?;
            public_keys.push(key);
        }
        Self::from_keys(signing, &public_keys)
    }

    /// Builds a key set from keys in memory.
    pub fn from_keys(signing: &SigningKey, public_keys: &[VerifyingKey]) -> anyhow::Result<Self> {
        let der = signing
            .to_pkcs8_der()
            .map_err(|e| anyhow::anyhow!("cannot encode the signing key: {e}"))?;
        let signing_key = EncodingKey::from_ed_der(der.as_bytes());
        let (signing_kid, _, _) = public_jwk(&signing.verifying_key());
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        for key in public_keys {
            let (kid, x, jwk) = public_jwk(key);
            if verifying.contains_key(&kid) {
                continue;
            }
            verifying.insert(kid, DecodingKey::from_ed_components(&x)?);
            jwks.push(jwk);
        }
        Ok(Self {
            signing_kid,
            signing_key,
            verifying,
            jwks: serde_json::json!({ "keys": jwks }),
        })
    }

    /// The verification key for `kid`, if it is one of ours.
    pub fn verifying_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying.get(kid)
    }

    /// The public keys as an RFC 7517 JWK Set.
    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }
}
