//! API clients: machine credentials for partner systems.
//!
//! Secrets are random, shown once, and stored only as argon2id hashes. Hashing is
//! CPU-heavy by design, so it runs on the blocking pool, never on the async runtime.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use crate::auth::Role;
use crate::entity::{api_client, organization};
use crate::error::{AppError, AppResult};

/// A client as listed to operators.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub id: Uuid,
    pub name: String,
    pub organization_id: Uuid,
    pub roles: Vec<Role>,
    pub revoked: bool,
}

/// A new client with the secret it will never be shown again.
#[derive(Debug)]
pub struct NewClient {
    pub info: ClientInfo,
    pub secret: String,
}

fn roles_of(model: &api_client::Model) -> Vec<Role> {
    serde_json::from_value(model.roles.clone()).unwrap_or_default()
}

fn info(model: &api_client::Model) -> ClientInfo {
    ClientInfo {
        id: model.id,
        name: model.name.clone(),
        organization_id: model.organization_id,
        roles: roles_of(model),
        revoked: model.revoked_at.is_some(),
    }
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn hash_secret(secret: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(anyhow::anyhow!("hashing failed: {e}")))
    })
    .await
    .map_err(AppError::internal)?
}

/// A hash of a random secret, verified against when the client id is unknown so an
/// unknown id takes as long to refuse as a wrong secret.
static DECOY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn verify_secret(secret: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let decoy;
        let hash = match hash {
            Some(hash) => hash,
            None => {
                decoy = DECOY_HASH.get_or_init(|| {
                    let salt = SaltString::generate(&mut rand::rngs::OsRng);
                    Argon2::default()
                        .hash_password(b"decoy", &salt)
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                });
                let _ = PasswordHash::new(decoy)
                    .map(|parsed| Argon2::default().verify_password(secret.as_bytes(), &parsed));
                return false;
            }
        };
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(secret.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Finds an organization by global-id-free reference: its UUID, or its acronym in
/// any case. An acronym several organizations share (possible in databases older
/// than the uniqueness rule) is a CONFLICT listing them, never a guess.
pub async fn find_organization(
    db: &DatabaseConnection,
    reference: &str,
) -> AppResult<organization::Model> {
    use sea_orm::sea_query::{Expr, ExprTrait, Func};
    let reference = reference.trim();
    let mut found = match Uuid::parse_str(reference) {
        Ok(id) => organization::Entity::find_by_id(id)
            .one(db)
            .await?
            .into_iter()
            .collect(),
        Err(_) => {
            organization::Entity::find()
                .filter(
                    Expr::expr(Func::lower(Expr::col((
                        organization::Entity,
                        organization::Column::Acronym,
                    ))))
                    .eq(Expr::expr(Func::lower(Expr::val(reference)))),
                )
                .all(db)
                .await?
        }
    };
    match found.len() {
        0 => Err(AppError::NotFound {
            entity: "organization",
        }),
        1 => Ok(found.remove(0)),
        _ => Err(AppError::conflict(format!(
            "the acronym `{reference}` names several organizations; pass one of their ids: {}",
            found
                .iter()
                .map(|o| format!(
                    "{} ({}, {})",
                    o.id,
                    o.name,
                    o.country_code.as_deref().unwrap_or("international")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    }
}

/// Registers a client (operator action from the CLI or the demo seed).
pub async fn register(
    db: &DatabaseConnection,
    organization_id: Uuid,
    roles: &[Role],
    name: &str,
) -> AppResult<NewClient> {
    if roles.is_empty() {
        return Err(AppError::invalid("role", "give at least one role"));
    }
    let name = crate::domain::Name::parse(name, "name", 200)?.into_inner();
    let secret = new_secret();
    let hash = hash_secret(secret.clone()).await?;
    let now = Utc::now();
    let model = api_client::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        organization_id: Set(organization_id),
        roles: Set(serde_json::to_value(roles).map_err(AppError::internal)?),
        secret_hash: Set(hash),
        revoked_at: Set(None),
        last_used_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(NewClient {
        info: info(&model),
        secret,
    })
}

/// Every client, newest first, with its organization.
pub async fn list(
    db: &DatabaseConnection,
) -> AppResult<Vec<(ClientInfo, Option<organization::Model>)>> {
    let clients = api_client::Entity::find()
        .order_by_desc(api_client::Column::CreatedAt)
        .all(db)
        .await?;
    let organizations: HashMap<Uuid, organization::Model> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(clients.iter().map(|c| c.organization_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    Ok(clients
        .iter()
        .map(|c| (info(c), organizations.get(&c.organization_id).cloned()))
        .collect())
}

/// Revokes a client: no new tokens, and its tokens stop working within the
/// revocation check interval.
pub async fn revoke(db: &DatabaseConnection, id: Uuid) -> AppResult<ClientInfo> {
    let model = api_client::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound { entity: "client" })?;
    if model.revoked_at.is_some() {
        return Ok(info(&model));
    }
    let mut active: api_client::ActiveModel = model.into();
    let now = Utc::now();
    active.revoked_at = Set(Some(now));
    active.updated_at = Set(now);
    Ok(info(&active.update(db).await?))
}

/// Checks a client's credentials; `None` for an unknown, revoked or wrong one.
pub async fn authenticate(
    db: &DatabaseConnection,
    client_id: Uuid,
    secret: &str,
) -> AppResult<Option<ClientInfo>> {
    let model = api_client::Entity::find_by_id(client_id).one(db).await?;
    let model = model.filter(|m| m.revoked_at.is_none());
    let ok = verify_secret(
        secret.to_owned(),
        model.as_ref().map(|m| m.secret_hash.clone()),
    )
    .await;
    Ok(model.filter(|_| ok).map(|m| info(&m)))
}

/// Remembers recently checked clients so a revocation takes effect within `ttl`
/// without a database read on every request.
pub struct RevocationCache {
    ttl: Duration,
    entries: Mutex<HashMap<Uuid, (Instant, bool)>>,
}

impl RevocationCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How stale an answer may be: a revoked client is noticed within this time.
    pub fn interval(&self) -> std::time::Duration {
        self.ttl
    }

    /// Whether `client_id` exists and is not revoked.
    pub async fn is_active(&self, db: &DatabaseConnection, client_id: Uuid) -> AppResult<bool> {
        let now = Instant::now();
        if let Ok(entries) = self.entries.lock()
            && let Some((checked, active)) = entries.get(&client_id)
            && now.duration_since(*checked) < self.ttl
        {
            return Ok(*active);
        }
        let active = api_client::Entity::find_by_id(client_id)
            .one(db)
            .await?
            .is_some_and(|m| m.revoked_at.is_none());
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 10_000 {
                entries.retain(|_, (checked, _)| now.duration_since(*checked) < self.ttl);
            }
            entries.insert(client_id, (now, active));
        }
        Ok(active)
    }
}
