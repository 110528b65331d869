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
///
/// The connection is private to the service layer: code outside it (resolvers,
/// handlers) cannot query without going through a function that decides access.
#[derive(Clone)]
pub struct ServiceContext {
    db: DatabaseConnection,
    caller: Caller,
    /// Correlates the audit entry with the request's logs.
    request_id: Option<String>,
}

impl ServiceContext {
    pub fn new(db: DatabaseConnection, caller: Caller, request_id: Option<String>) -> Self {
        Self {
            db,
            caller,
            request_id,
        }
    }

    /// Who is calling.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }
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
