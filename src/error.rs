//! `AppError`: the one error type of the service layer, and the one place where
//! errors meet the wire.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql converts every
//! `Display` type into an error with only a message, which would silently drop the
//! `extensions.code` clients branch on. Without `Display`, `?` in a resolver goes
//! through the `From<AppError>` impl below and always carries the code.

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr};

/// Everything that can go wrong in a request, by what the client should do about it.
#[derive(Debug)]
pub enum AppError {
    /// `BAD_USER_INPUT`: the input named by `field` is invalid; fix it and retry.
    InvalidInput { field: String, message: String },
    /// `NOT_FOUND`: no such record, or one the caller may not see (the two are
    /// reported identically so that ids cannot be probed).
    NotFound { entity: &'static str },
    /// `CONFLICT`: the request clashes with the current state (a duplicate name, a
    /// stale `expectedVersion`, a transition the record's status does not allow).
    Conflict {
        message: String,
        current_version: Option<i32>,
    },
    /// `FORBIDDEN`: the caller can see the record but its role does not allow this.
    Forbidden { message: String },
    /// `UNAUTHENTICATED`: no valid access token.
    Unauthenticated { reason: &'static str },
    /// `INTERNAL`: a fault on our side. The cause is logged, never sent.
    Internal(anyhow::Error),
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
            current_version: None,
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidInput { .. } => "BAD_USER_INPUT",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::Conflict { .. } => "CONFLICT",
            Self::Forbidden { .. } => "FORBIDDEN",
            Self::Unauthenticated { .. } => "UNAUTHENTICATED",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// The message shown to the client; never contains internal detail.
    pub fn public_message(&self) -> String {
        match self {
            Self::InvalidInput { field, message } => format!("invalid `{field}`: {message}"),
            Self::NotFound { entity } => format!("{entity} not found"),
            Self::Conflict { message, .. } | Self::Forbidden { message } => message.clone(),
            Self::Unauthenticated { reason } => format!("authentication required: {reason}"),
            Self::Internal(_) => "internal error".to_owned(),
        }
    }

    /// Maps a unique-constraint violation to the conflict `on_unique` describes and
    /// a lost optimistic-lock race to a stale-version CONFLICT; any other database
    /// error stays internal. Used at the call site that knows which constraint a
    /// write can hit.
    pub fn from_write(err: DbErr, on_unique: impl FnOnce() -> AppError) -> Self {
        if matches!(err, DbErr::RecordNotUpdated) {
            return Self::conflict(
                "the record was changed by another request; read it again and retry",
            );
        }
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => on_unique(),
            _ => Self::internal(err),
        }
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        Self::Internal(err.into())
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        if let AppError::Internal(cause) = &err {
            tracing::error!(error = ?cause, "internal error");
        }
        let message = err.public_message();
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", err.code());
            match &err {
                AppError::InvalidInput { field, .. } => ext.set("field", field.as_str()),
                AppError::Conflict {
                    current_version: Some(version),
                    ..
                } => ext.set("currentVersion", *version),
                _ => {}
            }
        })
    }
}

/// Result of a service operation.
pub type AppResult<T> = Result<T, AppError>;
