//! The domain layer: business rules, access decisions and transactions.
//!
//! Every public function takes a [`ServiceContext`] naming the caller and decides
//! access itself, so GraphQL resolvers, CLI commands and future transports share one
//! set of rules. Lists filter in SQL; mutations run in one transaction together with
//! their audit entry.

pub mod audit;
pub mod clients;
pub mod events;
pub mod organizations;
pub mod pagination;
mod search;

use sea_orm::DatabaseConnection;

use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// The caller and its database handle for one request.
#[derive(Clone)]
pub struct ServiceContext {
    pub db: DatabaseConnection,
    pub caller: Caller,
    /// Correlates the audit entry with the request's logs.
    pub request_id: Option<String>,
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
        }),
        _ => Ok(()),
    }
}
