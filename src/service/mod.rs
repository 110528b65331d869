//! The domain layer: business rules, access decisions and transactions.
//!
//! Every public function takes a [`ServiceContext`] naming the caller and decides
//! access itself, so GraphQL resolvers, CLI commands and future transports share one
//! set of rules. Lists filter in SQL; mutations run in one transaction together with
//! their audit entry.

pub mod access;
pub mod activity;
pub mod applications;
pub mod audit;
pub mod calendar;
pub mod changes;
pub mod clients;
pub mod delegations;
pub mod directory;
pub mod events;
pub mod invitations;
pub mod lists;
pub mod members;
mod one_statement;
pub mod organizations;
pub mod pagination;
pub mod participants;
pub mod people;
pub mod personal_data;
pub mod presentations;
mod search;
pub mod sessions;
pub mod summary;
pub mod webhooks;

use std::sync::{Arc, Mutex};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, IntoActiveModel, QueryFilter, SqliteTransactionMode, TransactionOptions,
    TransactionTrait, Value,
};

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::feed::ChangeFeed;
use uuid::Uuid;

/// The caller and its database handle for one request.
///
/// The connection is private to the service layer: code outside it (resolvers,
/// handlers) cannot query without going through a function that decides access.
#[derive(Clone)]
pub struct ServiceContext {
    db: DatabaseConnection,
    caller: Caller,
    /// Correlates the audit entry with the request's logs.
    request_id: Option<String>,
    /// Where committed changes are announced.
    feed: ChangeFeed,
    /// Audit entries written by the open transaction, announced once it commits.
    uncommitted: Arc<Mutex<Vec<Uuid>>>,
    /// Seal and open participants' personal data, and how long it is kept.
    personal_data: personal_data::PersonalData,
    /// Whether reads should open participants' sensitive fields (where the caller
    /// may read them); `false` for a request that shows none of them.
    wants_personal_data: bool,
}

impl ServiceContext {
    pub fn new(
        db: DatabaseConnection,
        caller: Caller,
        request_id: Option<String>,
        feed: ChangeFeed,
        personal_data: personal_data::PersonalData,
    ) -> Self {
        Self {
            db,
            caller,
            request_id,
            feed,
            uncommitted: Arc::default(),
            personal_data,
            wants_personal_data: true,
        }
    }

    /// The same context for a request that shows no participant's sensitive
    /// fields: reads then leave them empty instead of decrypting them. It only
    /// ever narrows what a read returns, never widens access, and writes are
    /// unaffected (they open what they change themselves).
    pub fn without_personal_data(mut self) -> Self {
        self.wants_personal_data = false;
        self
    }

    /// Whether reads should open participants' sensitive fields.
    pub(crate) fn wants_personal_data(&self) -> bool {
        self.wants_personal_data
    }

    /// The keys participants' personal data is sealed with.
    pub(crate) fn data_keys(&self) -> &personal_data::DataKeys {
        &self.personal_data.keys
    }

    /// Days personal data is kept after an event by default.
    pub(crate) fn retention_days(&self) -> u32 {
        self.personal_data.retention_days
    }

    /// Who is calling.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// Starts the transaction of a change (see [`begin_write`]).
    ///
    /// Mutations of one request run one after another, so what an earlier,
    /// failed transaction recorded is forgotten here and never announced.
    pub(crate) async fn begin_write(&self) -> AppResult<DatabaseTransaction> {
        self.take_uncommitted();
        begin_write(&self.db).await
    }

    /// Commits `txn`, then announces the changes it recorded: only a committed
    /// change ever reaches subscribers.
    pub(crate) async fn commit(&self, txn: DatabaseTransaction) -> AppResult<()> {
        txn.commit().await?;
        self.announce(self.take_uncommitted());
        Ok(())
    }

    /// Notes an audit entry of the open transaction (see [`Self::commit`]).
    pub(crate) fn recorded(&self, audit_id: Uuid) {
        self.uncommitted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(audit_id);
    }

    /// Announces changes already committed (a single autocommitted statement).
    pub(crate) fn announce(&self, audit_ids: Vec<Uuid>) {
        self.feed.committed(audit_ids);
    }

    fn take_uncommitted(&self) -> Vec<Uuid> {
        std::mem::take(
            &mut *self
                .uncommitted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// Starts a transaction that will write.
///
/// On SQLite it takes the write lock at `BEGIN IMMEDIATE`: concurrent writers then
/// queue behind the busy timeout, instead of failing when a transaction that has
/// read tries to upgrade to a write after another one committed. PostgreSQL
/// ignores the option; there the row locks of the statements order writers.
pub(crate) async fn begin_write(db: &DatabaseConnection) -> AppResult<DatabaseTransaction> {
    Ok(db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?)
}

/// Tries to take the PostgreSQL advisory lock `key` for the rest of `txn`, without
/// waiting: `false` when another transaction holds it. Periodic work that every
/// instance schedules uses it to run once across instances: the instance that
/// gets the lock does the round, the others skip it. SQLite has no advisory
/// locks and one writer at a time anyway: always `true`.
pub(crate) async fn try_advisory_xact_lock(txn: &DatabaseTransaction, key: i64) -> AppResult<bool> {
    if txn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(true);
    }
    let row = txn
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS locked",
            [sea_orm::Value::from(key)],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<bool>("", "locked")?,
        None => false,
    })
}

/// A change to an optional field: `None` leaves it, `Some(None)` clears it.
pub type Patch<T> = Option<Option<T>>;

/// Rejects a change made against a version the client read before someone else's
/// change: the client must re-read instead of overwriting what it never saw.
pub(crate) fn check_version(expected: Option<i32>, current: i32) -> AppResult<()> {
    match expected {
        Some(expected) if expected != current => Err(AppError::Conflict {
            message: format!(
                "expectedVersion {expected} is stale: the record is at version {current}"
            ),
            current_version: Some(current),
            existing: None,
        }),
        _ => Ok(()),
    }
}

/// Writes `active` as the next version of a record read at `current_version`.
///
/// The `WHERE version = current` guard makes a concurrent writer that read the same
/// version lose cleanly with a CONFLICT instead of overwriting a change it never saw.
pub(crate) async fn save_versioned<A, C>(
    txn: &C,
    mut active: A,
    version_column: <A::Entity as EntityTrait>::Column,
    updated_at_column: <A::Entity as EntityTrait>::Column,
    current_version: i32,
) -> AppResult<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    C: ConnectionTrait,
{
    active.set(version_column, Value::Int(Some(current_version + 1)));
    active.set(updated_at_column, Utc::now().into());
    <A::Entity as EntityTrait>::update(active)
        .validate()?
        .filter(version_column.eq(current_version))
        .exec(txn)
        .await
        .map_err(|e| AppError::from_write(e, || AppError::conflict("the record changed")))
}
