//! Connecting to the database and applying migrations.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, TransactionTrait,
};

use crate::config::DatabaseSettings;

/// How long a pooled connection may sit idle before it is checked (pinged) on its
/// way out of the pool.
const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Opens a pool: SQLite with WAL, foreign keys and a busy timeout; PostgreSQL with a
/// sized pool. Both have a short acquire timeout, so an exhausted pool or a stopped
/// database fails a request fast (503) instead of queueing it. A connection idle for
/// a second or more is checked before use, so the pool replaces connections a
/// database restart broke; busy ones are not (a ping on every checkout was a round
/// trip per statement, about a tenth of a request's CPU).
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    let sqlite = settings.url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .max_connections(if sqlite {
            1.max(settings.max_connections.min(4))
        } else {
            settings.max_connections
        })
        .min_connections(if sqlite { 1 } else { 0 })
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(settings.acquire_timeout)
        .test_before_acquire_if_idle_for(CHECK_IF_IDLE_FOR)
        .sqlx_logging(false);
    if sqlite {
        options.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                // Erased personal data is overwritten, not left in free pages
                // of the file (PostgreSQL leaves dead rows until VACUUM).
                .pragma("secure_delete", "on")
        });
    }
    let db = Database::connect(options)
        .await
        .map_err(|e| anyhow::anyhow!(explain_connect_error(&settings.url, &e)))?;
    Ok(db)
}

/// What went wrong opening the database, said so an operator knows what to do:
/// which PostgreSQL database is missing and how to create it, which server is
/// unreachable, which SQLite file cannot be opened.
fn explain_connect_error(url: &str, err: &sea_orm::DbErr) -> String {
    use sea_orm::sqlx::postgres::PgConnectOptions;
    use std::str::FromStr;
    let text = err.to_string();
    if !url.starts_with("postgres") {
        return format!("cannot open the SQLite database `{url}`: {text}");
    }
    let Ok(options) = PgConnectOptions::from_str(url) else {
        return format!("cannot open the database: {text}");
    };
    let (host, port) = (options.get_host().to_owned(), options.get_port());
    let database = options.get_database().unwrap_or("postgres").to_owned();
    let user = options.get_username().to_owned();
    // SQLSTATE 3D000: invalid_catalog_name.
    let missing = matches!(
        err,
        sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e))
            if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("3D000")
    ) || text.contains("does not exist") && text.contains("database");
    if missing {
        return format!(
            "the PostgreSQL database `{database}` does not exist on {host}:{port}; create it with \
             `createdb -h {host} -p {port} -U {user} {database}` (or `CREATE DATABASE \"{database}\";` in psql), \
             then start again: migrations run on start"
        );
    }
    if text.contains("Connection refused") || text.contains("connection refused") {
        return format!(
            "cannot reach PostgreSQL at {host}:{port} (connection refused): is the server running \
             and is DATABASE_URL right?"
        );
    }
    format!("cannot open the PostgreSQL database `{database}` on {host}:{port} as `{user}`: {text}")
}

/// Counts the SQL statements a connection pool runs (transactions included):
/// tests assert that a request's statement count does not grow with its list
/// sizes, and metrics can export it.
pub fn count_statements(db: &mut DatabaseConnection) -> Arc<AtomicU64> {
    let counter = Arc::new(AtomicU64::new(0));
    let handle = counter.clone();
    db.set_metric_callback(move |_| {
        handle.fetch_add(1, Ordering::Relaxed);
    });
    counter
}

/// The PostgreSQL advisory lock that lets one process at a time migrate.
const MIGRATION_LOCK: i64 = 0x656d_6268_7562_0001; // "embhub" 1

/// Applies pending migrations.
///
/// On PostgreSQL they run in one transaction that first takes an advisory lock, so
/// several instances starting together against one database take turns instead of
/// racing to create the same tables (one of them failed); the later ones find
/// nothing pending. PostgreSQL's DDL is transactional, so a failed migration also
/// leaves nothing half done.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    let failed = |e: sea_orm::DbErr| anyhow::anyhow!("migrations failed: {e}");
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None).await.map_err(failed);
    }
    let txn = db.begin().await.map_err(failed)?;
    txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .await
        .map_err(failed)?;
    Migrator::up(&txn, None).await.map_err(failed)?;
    txn.commit().await.map_err(failed)
}

/// Whether the database answers and every migration is applied (for `/readyz`).
pub async fn is_ready(db: &DatabaseConnection) -> bool {
    if let Err(error) = db.execute_unprepared("SELECT 1").await {
        tracing::warn!(%error, "not ready: the database does not answer");
        return false;
    }
    // The read-only variant: the plain one first creates the bookkeeping table,
    // a write a readiness probe must not make (and one that was seen failing on
    // SQLite while other writers were busy).
    match Migrator::get_pending_migrations_read_only(db).await {
        Ok(pending) if pending.is_empty() => true,
        Ok(pending) => {
            tracing::warn!(pending = pending.len(), "not ready: migrations pending");
            false
        }
        Err(error) => {
            tracing::warn!(%error, "not ready: cannot read the applied migrations");
            false
        }
    }
}

/// Connections of the pool: (open, idle, most allowed), for `/metrics`.
pub fn pool_usage(db: &DatabaseConnection) -> (u32, u32, u32) {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle() as u32,
                pool.options().get_max_connections(),
            )
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle() as u32,
                pool.options().get_max_connections(),
            )
        }
        _ => (0, 0, 0),
    }
}

/// The backend, for the few places SQL differs.
pub fn backend(db: &DatabaseConnection) -> DbBackend {
    db.get_database_backend()
}
