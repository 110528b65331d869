//! `AppError`: the one error type of the service layer, and the one place where
//! errors meet the wire.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql converts every
//! `Display` type into an error with only a message, which would silently drop the
//! `extensions.code` clients branch on. Without `Display`, `?` in a resolver goes
//! through the `From<AppError>` impl below and always carries the code.

use async_graphql::ErrorExtensions;
use axum::http::StatusCode;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// Everything that can go wrong in a request, by what the client should do about it.
#[derive(Debug)]
pub enum AppError {
    /// `BAD_USER_INPUT`: the input named by `field` is invalid; fix it and retry.
    InvalidInput { field: String, message: String },
    /// `BAD_USER_INPUT` for several fields of one input at once: one error per field
    /// reaches the client, so a form can mark every mistake in one round trip.
    InvalidInputs(Vec<FieldError>),
    /// `NOT_FOUND`: no such record, or one the caller may not see (the two are
    /// reported identically so that ids cannot be probed).
    NotFound { entity: &'static str },
    /// `CONFLICT`: the request clashes with the current state (a duplicate name, a
    /// stale `expectedVersion`, a transition the record's status does not allow).
    Conflict {
        message: String,
        current_version: Option<i32>,
        /// The record the request collided with (a duplicate), as
        /// `extensions.existingId`, so an integration can link to it.
        existing: Option<ExistingRecord>,
    },
    /// `FORBIDDEN`: the caller can see the record but its role does not allow this.
    Forbidden { message: String },
    /// `UNAUTHENTICATED`: no valid access token.
    Unauthenticated { reason: &'static str },
    /// `SERVICE_UNAVAILABLE`: the database is unreachable or every connection is busy;
    /// nothing was changed, retry after the `Retry-After` seconds (HTTP 503).
    Unavailable,
    /// The request was refused before it ran, because of its shape or its size, or
    /// because the client sends too many; see [`Rejection`] for each code.
    Rejected(Rejection),
    /// `INTERNAL`: a fault on our side. The cause is logged, never sent.
    Internal(anyhow::Error),
}

/// One invalid field of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// A record a CONFLICT names: its GraphQL type and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExistingRecord {
    pub type_name: &'static str,
    pub id: uuid::Uuid,
}

/// Collects the validation errors of one input, so that every invalid field is
/// reported at once instead of the first only.
///
/// ```ignore
/// let mut errors = InputErrors::default();
/// let title = errors.check(BoundedText::parse(&raw, "title", 300));
/// let city = errors.check(BoundedText::parse_optional(raw_city, "city", 200));
/// errors.finish()?; // BAD_USER_INPUT naming each invalid field, or Ok
/// ```
#[derive(Debug, Default)]
pub struct InputErrors {
    fields: Vec<FieldError>,
    /// A failure that is not about the input (the database, say): it wins.
    other: Option<AppError>,
}

impl InputErrors {
    /// Keeps the value of a valid field, or records why it is invalid.
    pub fn check<T>(&mut self, result: AppResult<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                self.record(err);
                None
            }
        }
    }

    /// Records an invalid field.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.fields.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Records an error: validation errors join the list, anything else is kept to
    /// be returned first.
    pub fn record(&mut self, err: AppError) {
        match err {
            AppError::InvalidInput { field, message } => {
                self.fields.push(FieldError { field, message })
            }
            AppError::InvalidInputs(fields) => self.fields.extend(fields),
            other => {
                if self.other.is_none() {
                    self.other = Some(other);
                }
            }
        }
    }

    /// Whether nothing was recorded so far.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.other.is_none()
    }

    /// `Ok` when every field was valid; otherwise the error naming each invalid one.
    pub fn finish(mut self) -> AppResult<()> {
        if let Some(other) = self.other {
            return Err(other);
        }
        match self.fields.len() {
            0 => Ok(()),
            1 => {
                let FieldError { field, message } = self.fields.remove(0);
                Err(AppError::InvalidInput { field, message })
            }
            _ => Err(AppError::InvalidInputs(self.fields)),
        }
    }

    /// The error for an input a required field of which did not parse (so
    /// something was recorded).
    pub fn fail(self) -> AppError {
        match self.finish() {
            Err(err) => err,
            Ok(()) => AppError::internal(anyhow::anyhow!(
                "a required field failed validation without an error"
            )),
        }
    }
}

/// Why a request was refused before any of it ran (and before any database access).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// `BAD_REQUEST` (400): the body is not JSON, or not a GraphQL request object.
    BadRequest(String),
    /// `GRAPHQL_PARSE_FAILED` (400): the document is not valid GraphQL syntax.
    ParseFailed(String),
    /// `GRAPHQL_VALIDATION_FAILED` (400): the document does not fit the schema, or
    /// breaks a rule of the GraphQL specification (such as a fragment cycle).
    ValidationFailed(String),
    /// `QUERY_TOO_DEEP`: fields nested deeper than `EMBHUB_MAX_DEPTH`.
    TooDeep { depth: usize, max: usize },
    /// `QUERY_TOO_COMPLEX`: more estimated work than `EMBHUB_MAX_COMPLEXITY`.
    TooComplex { complexity: usize, max: usize },
    /// `TOO_MANY_ALIASES`: more aliased fields than `EMBHUB_MAX_ALIASES`.
    TooManyAliases { aliases: usize, max: usize },
    /// `TOO_MANY_DIRECTIVES`: more directives than `EMBHUB_MAX_DIRECTIVES`.
    TooManyDirectives { directives: usize, max: usize },
    /// `INTROSPECTION_DISABLED` (400): `__schema` or `__type` in production mode.
    IntrospectionDisabled,
    /// `DOCUMENT_TOO_LARGE` (413): a document longer than `EMBHUB_MAX_DOCUMENT_BYTES`.
    DocumentTooLarge { max: usize },
    /// `BODY_TOO_LARGE` (413): a body longer than `EMBHUB_MAX_BODY_BYTES`.
    BodyTooLarge { max: usize },
    /// `BATCH_NOT_ALLOWED` (400): a JSON array of operations while batching is off,
    /// or a longer one than `EMBHUB_MAX_BATCH_SIZE`.
    BatchNotAllowed { max: usize },
    /// `HEADERS_TOO_LARGE` (431): request headers over `EMBHUB_MAX_HEADER_BYTES`.
    HeadersTooLarge { max: usize },
    /// `METHOD_NOT_ALLOWED` (405, with `Allow`): a mutation over GET, or a method
    /// other than GET and POST.
    MethodNotAllowed {
        allow: &'static str,
        message: String,
    },
    /// `UNSUPPORTED_MEDIA_TYPE` (415): a body that is not `application/json`.
    UnsupportedMediaType,
    /// `NOT_ACCEPTABLE` (406): an `Accept` header that allows neither
    /// `application/graphql-response+json` nor `application/json`.
    NotAcceptable,
    /// `RATE_LIMITED` (429, with `Retry-After`): the client used up its request budget.
    RateLimited { retry_after_secs: u64 },
    /// `TIMEOUT` (503, with `Retry-After`): the request ran longer than
    /// `EMBHUB_REQUEST_TIMEOUT_SECS` and was stopped; its transaction was rolled back.
    Timeout,
}

impl Rejection {
    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "BAD_REQUEST",
            Self::ParseFailed(_) => "GRAPHQL_PARSE_FAILED",
            Self::ValidationFailed(_) => "GRAPHQL_VALIDATION_FAILED",
            Self::TooDeep { .. } => "QUERY_TOO_DEEP",
            Self::TooComplex { .. } => "QUERY_TOO_COMPLEX",
            Self::TooManyAliases { .. } => "TOO_MANY_ALIASES",
            Self::TooManyDirectives { .. } => "TOO_MANY_DIRECTIVES",
            Self::IntrospectionDisabled => "INTROSPECTION_DISABLED",
            Self::DocumentTooLarge { .. } => "DOCUMENT_TOO_LARGE",
            Self::BodyTooLarge { .. } => "BODY_TOO_LARGE",
            Self::BatchNotAllowed { .. } => "BATCH_NOT_ALLOWED",
            Self::HeadersTooLarge { .. } => "HEADERS_TOO_LARGE",
            Self::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::NotAcceptable => "NOT_ACCEPTABLE",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Timeout => "TIMEOUT",
        }
    }

    /// The message shown to the client.
    pub fn message(&self) -> String {
        match self {
            Self::BadRequest(m) | Self::ParseFailed(m) | Self::ValidationFailed(m) => m.clone(),
            Self::TooDeep { depth, max } => {
                format!("the operation nests fields {depth} deep; at most {max} is allowed")
            }
            Self::TooComplex { complexity, max } => format!(
                "the operation's complexity is {complexity}; at most {max} is allowed (ask for smaller pages or fewer fields)"
            ),
            Self::TooManyAliases { aliases, max } => {
                format!("the operation uses {aliases} aliases; at most {max} are allowed")
            }
            Self::TooManyDirectives { directives, max } => {
                format!("the operation uses {directives} directives; at most {max} are allowed")
            }
            Self::IntrospectionDisabled => "introspection is disabled on this server".to_owned(),
            Self::DocumentTooLarge { max } => {
                format!("the GraphQL document is longer than {max} bytes")
            }
            Self::BodyTooLarge { max } => format!("the request body is longer than {max} bytes"),
            Self::BatchNotAllowed { max: 1 } => {
                "batched requests are not accepted; send one operation per request".to_owned()
            }
            Self::BatchNotAllowed { max } => {
                format!("a batch may hold between 1 and {max} operations")
            }
            Self::HeadersTooLarge { max } => {
                format!("the request headers are longer than {max} bytes")
            }
            Self::MethodNotAllowed { message, .. } => message.clone(),
            Self::UnsupportedMediaType => {
                "send the request as `Content-Type: application/json`".to_owned()
            }
            Self::NotAcceptable => {
                "accept `application/graphql-response+json` or `application/json`".to_owned()
            }
            Self::RateLimited { retry_after_secs } => format!(
                "too many requests from this client; retry after {retry_after_secs} seconds"
            ),
            Self::Timeout => "the request took too long and was stopped".to_owned(),
        }
    }

    /// The HTTP status, where it does not depend on the response media type. `None`
    /// for request errors whose status the GraphQL-over-HTTP specification ties to
    /// the media type (400 for `application/graphql-response+json`, 200 for
    /// `application/json`).
    pub fn fixed_status(&self) -> Option<StatusCode> {
        match self {
            Self::BadRequest(_) | Self::BatchNotAllowed { .. } => Some(StatusCode::BAD_REQUEST),
            Self::DocumentTooLarge { .. } | Self::BodyTooLarge { .. } => {
                Some(StatusCode::PAYLOAD_TOO_LARGE)
            }
            Self::HeadersTooLarge { .. } => Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
            Self::MethodNotAllowed { .. } => Some(StatusCode::METHOD_NOT_ALLOWED),
            Self::UnsupportedMediaType => Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            Self::NotAcceptable => Some(StatusCode::NOT_ACCEPTABLE),
            Self::RateLimited { .. } => Some(StatusCode::TOO_MANY_REQUESTS),
            Self::Timeout => Some(StatusCode::SERVICE_UNAVAILABLE),
            Self::ParseFailed(_)
            | Self::ValidationFailed(_)
            | Self::TooDeep { .. }
            | Self::TooComplex { .. }
            | Self::TooManyAliases { .. }
            | Self::TooManyDirectives { .. }
            | Self::IntrospectionDisabled => None,
        }
    }

    /// As a GraphQL error object, for responses made outside the schema.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "message": self.message(), "extensions": { "code": self.code() } })
    }
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
            existing: None,
        }
    }

    /// A CONFLICT with a record that already exists, named in `extensions.existingId`.
    pub fn duplicate(message: impl Into<String>, existing: ExistingRecord) -> Self {
        Self::Conflict {
            message: message.into(),
            current_version: None,
            existing: Some(existing),
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
            Self::InvalidInput { .. } | Self::InvalidInputs(_) => "BAD_USER_INPUT",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::Conflict { .. } => "CONFLICT",
            Self::Forbidden { .. } => "FORBIDDEN",
            Self::Unauthenticated { .. } => "UNAUTHENTICATED",
            Self::Unavailable => "SERVICE_UNAVAILABLE",
            Self::Rejected(rejection) => rejection.code(),
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// The message shown to the client; never contains internal detail.
    pub fn public_message(&self) -> String {
        match self {
            Self::InvalidInput { field, message } => format!("invalid `{field}`: {message}"),
            Self::InvalidInputs(fields) => fields
                .iter()
                .map(|f| format!("invalid `{}`: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
            Self::NotFound { entity } => format!("{entity} not found"),
            Self::Conflict { message, .. } | Self::Forbidden { message } => message.clone(),
            Self::Unauthenticated { reason } => format!("authentication required: {reason}"),
            Self::Unavailable => {
                "the service is temporarily unavailable; nothing was changed, retry shortly"
                    .to_owned()
            }
            Self::Rejected(rejection) => rejection.message(),
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
            _ => Self::from(err),
        }
    }
}

/// Whether a database error means "the database cannot be used right now" (pool
/// exhausted, server stopped or restarting, connection lost) rather than a fault
/// in what we asked of it. Such errors are retryable and answered with 503.
pub fn is_unavailable(err: &DbErr) -> bool {
    let sqlx_unavailable = |runtime: &RuntimeErr| match runtime {
        RuntimeErr::SqlxError(e) => match e.as_ref() {
            sea_orm::sqlx::Error::Io(_)
            | sea_orm::sqlx::Error::Tls(_)
            | sea_orm::sqlx::Error::PoolTimedOut
            | sea_orm::sqlx::Error::PoolClosed
            | sea_orm::sqlx::Error::WorkerCrashed => true,
            // PostgreSQL: SQLSTATE class 08 (connection exception) and 57P01–57P03
            // (the server is shutting down or starting up). SQLite: 5 and 6, busy
            // and locked past the busy timeout.
            sea_orm::sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03" | "5" | "6")
            }),
            _ => false,
        },
        #[allow(unreachable_patterns)]
        _ => false,
    };
    match err {
        // Failing to get or open a connection (e.g. "the database is not accepting
        // connections") is always about availability.
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => sqlx_unavailable(runtime),
        _ => false,
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            return Self::Unavailable;
        }
        Self::Internal(err.into())
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        if let AppError::Internal(cause) = &err {
            tracing::error!(error = ?cause, "internal error");
        }
        let message = match &err {
            // The first field's message; `split_field_errors` turns the list into
            // one error per field before the response leaves the schema.
            AppError::InvalidInputs(fields) if !fields.is_empty() => {
                format!("invalid `{}`: {}", fields[0].field, fields[0].message)
            }
            _ => err.public_message(),
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", err.code());
            match &err {
                AppError::InvalidInput { field, .. } => ext.set("field", field.as_str()),
                AppError::InvalidInputs(fields) => {
                    if let Some(first) = fields.first() {
                        ext.set("field", first.field.as_str());
                    }
                    let list: Vec<async_graphql::Value> = fields
                        .iter()
                        .map(|f| {
                            let mut entry = async_graphql::indexmap::IndexMap::new();
                            entry.insert(
                                async_graphql::Name::new("field"),
                                async_graphql::Value::from(f.field.as_str()),
                            );
                            entry.insert(
                                async_graphql::Name::new("message"),
                                async_graphql::Value::from(format!(
                                    "invalid `{}`: {}",
                                    f.field, f.message
                                )),
                            );
                            async_graphql::Value::Object(entry)
                        })
                        .collect();
                    ext.set(FIELD_ERRORS, async_graphql::Value::List(list));
                }
                AppError::Conflict {
                    current_version,
                    existing,
                    ..
                } => {
                    if let Some(version) = current_version {
                        ext.set("currentVersion", *version);
                    }
                    if let Some(existing) = existing {
                        ext.set(
                            "existingId",
                            crate::graphql::global_id(existing.type_name, existing.id).as_str(),
                        );
                    }
                }
                _ => {}
            }
        })
    }
}

impl AppError {
    /// As a GraphQL error object (`message`, `extensions.code`, …), for responses
    /// made outside the schema; internal causes are logged, never included.
    pub fn to_json(self) -> serde_json::Value {
        let error = async_graphql::Error::from(self);
        let mut server_error = async_graphql::ServerError::new(error.message, None);
        server_error.extensions = error.extensions;
        serde_json::to_value(&server_error)
            .unwrap_or_else(|_| serde_json::json!({ "message": "internal error" }))
    }
}

/// The error extension that carries several field errors from a resolver to
/// [`split_field_errors`]; it never reaches a client.
const FIELD_ERRORS: &str = "fieldErrors";

/// Turns each error that names several invalid fields into one error per field
/// (same path and locations, each with its own `extensions.field`), as
/// form-building clients expect. [`crate::graphql::execute`] runs it on every
/// response.
pub fn split_field_errors(
    errors: Vec<async_graphql::ServerError>,
) -> Vec<async_graphql::ServerError> {
    let mut out = Vec::with_capacity(errors.len());
    for mut error in errors {
        let list = error.extensions.as_mut().and_then(|ext| {
            let list = ext.get(FIELD_ERRORS).cloned();
            ext.unset(FIELD_ERRORS);
            list
        });
        let Some(async_graphql::Value::List(entries)) = list else {
            out.push(error);
            continue;
        };
        for entry in entries {
            let async_graphql::Value::Object(entry) = entry else {
                continue;
            };
            let text = |key: &str| match entry.get(key) {
                Some(async_graphql::Value::String(s)) => s.clone(),
                _ => String::new(),
            };
            let mut one = error.clone();
            one.message = text("message");
            let mut extensions = error.extensions.clone().unwrap_or_default();
            extensions.set("field", text("field"));
            one.extensions = Some(extensions);
            out.push(one);
        }
    }
    out
}

/// Result of a service operation.
pub type AppResult<T> = Result<T, AppError>;
