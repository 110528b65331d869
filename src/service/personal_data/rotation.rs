//! Re-encryption: under a new data key while servers run (`embhub keys
//! rotate-data-key`), and of rows written before personal data was encrypted.
//!
//! A rotation adds a key, which every process then seals new values with (this
//! one at once, servers at their next key reload), re-encrypts every row sealed
//! with an older key in batches (each its own short transaction; on PostgreSQL
//! the rows are locked, so a concurrent edit of the same participant waits instead
//! of being overwritten), waits for the servers to have switched, catches what
//! they sealed with the old key meanwhile, and removes the old keys once no row
//! uses them. Until then the old keys stay readable: a server that meets a value
//! under a key it does not hold reloads the keys first, so reads are right
//! throughout. On PostgreSQL a foreign key keeps a key that a row still uses
//! from being removed at all.

use std::time::Duration;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, LockType, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::super::begin_write;
use super::{DataKeys, Sensitive, seal_into};
use crate::entity::data_key;
use crate::entity::participant::{ActiveModel, Column, Entity};
use crate::error::{AppError, AppResult};

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    /// The key every value is now sealed with.
    pub key_id: i32,
    /// Rows re-encrypted.
    pub rows: u64,
    /// Older keys removed.
    pub removed_key_ids: Vec<i32>,
}

/// Rotates the data key: see the module documentation. `settle` is how long
/// servers may go on sealing with the old key (their key reload interval plus
/// the longest request); `batch` rows are re-encrypted per transaction.
pub async fn rotate(
    db: &DatabaseConnection,
    keys: &DataKeys,
    batch: u64,
    settle: Duration,
) -> anyhow::Result<Rotation> {
    let key_id = keys.add_key().await?;
    tracing::info!(key_id, "added a data key; re-encrypting personal data");
    let failed = |e: AppError| anyhow::anyhow!("re-encryption failed: {e:?}");
    let mut rows = reencrypt(db, keys, batch).await.map_err(failed)?;
    tokio::time::sleep(settle).await;
    rows += reencrypt(db, keys, batch).await.map_err(failed)?;
    let removed_key_ids = remove_unused_keys(db, key_id).await.map_err(failed)?;
    keys.reload().await?;
    tracing::info!(key_id, rows, ?removed_key_ids, "data key rotation finished");
    Ok(Rotation {
        key_id,
        rows,
        removed_key_ids,
    })
}

/// Re-encrypts, batch after batch, every row sealed with another key than the
/// current one; returns how many.
pub async fn reencrypt(db: &DatabaseConnection, keys: &DataKeys, batch: u64) -> AppResult<u64> {
    let mut total = 0;
    loop {
        let done = reencrypt_batch(db, keys, batch).await?;
        total += done;
        if done == 0 {
            return Ok(total);
        }
    }
}

async fn reencrypt_batch(db: &DatabaseConnection, keys: &DataKeys, batch: u64) -> AppResult<u64> {
    let current = keys.current_id();
    let txn = begin_write(db).await?;
    let rows = Entity::find()
        .filter(Column::DataKeyId.is_not_null())
        .filter(Column::DataKeyId.ne(current))
        .order_by_asc(Column::Id)
        .limit(batch)
        .lock(LockType::Update)
        .all(&txn)
        .await?;
    let count = rows.len() as u64;
    for row in rows {
        let id = row.id;
        let values = super::open(keys, row.clone()).await?;
        let mut active: ActiveModel = row.into();
        // Only the sealed values and their key change: neither the version nor
        // `updated_at`, since nothing a client sees changed.
        seal_into(keys, id, &mut active, &Sensitive::of(&values))?;
        active.update(&txn).await?;
    }
    txn.commit().await?;
    Ok(count)
}

/// Removes every key older than `keep` that no row uses any more; returns their ids.
async fn remove_unused_keys(db: &DatabaseConnection, keep: i32) -> AppResult<Vec<i32>> {
    let txn = begin_write(db).await?;
    let in_use = Query::select()
        .column(Column::DataKeyId)
        .from(Entity)
        .and_where(Expr::col(Column::DataKeyId).is_not_null())
        .to_owned();
    let unused: Vec<i32> = data_key::Entity::find()
        .filter(data_key::Column::Id.lt(keep))
        .filter(data_key::Column::Id.not_in_subquery(in_use))
        .all(&txn)
        .await?
        .into_iter()
        .map(|k| k.id)
        .collect();
    if !unused.is_empty() {
        data_key::Entity::delete_many()
            .filter(data_key::Column::Id.is_in(unused.iter().copied()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(unused)
}

/// The plaintext columns rows written before encryption existed may still fill.
const LEGACY: [&str; 5] = [
    "nationality",
    "date_of_birth",
    "passport_number",
    "dietary_needs",
    "accessibility_needs",
];

/// Seals the personal data of rows written before it was encrypted (the
/// plaintext columns the encryption migration left) and clears their plaintext,
/// in batches; returns how many rows. Run at every start; after the first it
/// finds nothing.
pub async fn seal_legacy(db: &DatabaseConnection, keys: &DataKeys, batch: u64) -> AppResult<u64> {
    let mut total = 0;
    loop {
        let txn = begin_write(db).await?;
        let mut any = Expr::col(Alias::new(LEGACY[0])).is_not_null();
        for column in &LEGACY[1..] {
            any = any.or(Expr::col(Alias::new(*column)).is_not_null());
        }
        let mut select = Query::select();
        select
            .column(Column::Id)
            .from(Entity)
            .and_where(any)
            .order_by(Column::Id, sea_orm::Order::Asc)
            .limit(batch)
            .lock(LockType::Update);
        for column in LEGACY {
            // As text on both databases (a PostgreSQL date prints as YYYY-MM-DD).
            select.expr_as(
                Expr::col(Alias::new(column)).cast_as(Alias::new("TEXT")),
                Alias::new(column),
            );
        }
        let rows = txn.query_all(&select).await?;
        if rows.is_empty() {
            return Ok(total);
        }
        total += rows.len() as u64;
        for row in rows {
            let id: Uuid = row.try_get("", "id")?;
            let text = |column: &str| -> AppResult<Option<String>> {
                Ok(row.try_get::<Option<String>>("", column)?)
            };
            let date_of_birth = text("date_of_birth")?
                .map(|d| {
                    chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
                        AppError::Internal(anyhow::anyhow!(
                            "date_of_birth of participant {id} is not a date"
                        ))
                    })
                })
                .transpose()?;
            let values = Sensitive {
                nationality: text("nationality")?,
                date_of_birth,
                passport_number: text("passport_number")?,
                dietary_needs: text("dietary_needs")?,
                accessibility_needs: text("accessibility_needs")?,
            };
            let mut active = ActiveModel {
                id: sea_orm::Set(id),
                ..Default::default()
            };
            seal_into(keys, id, &mut active, &values)?;
            let mut update = Entity::update_many().set(active).filter(Column::Id.eq(id));
            for column in LEGACY {
                update = update.col_expr(Alias::new(column), Expr::cust("NULL"));
            }
            update.exec(&txn).await?;
        }
        txn.commit().await?;
    }
}
