//! The change feed at run time: changes committed by any instance on the database,
//! announced in commit order to this process's subscribers.
//!
//! The service layer hands over the audit ids of each transaction after it commits
//! ([`ChangeFeed::committed`]); a rolled-back transaction hands over nothing.
//! - On SQLite (one process) the ids go straight to the resolver.
//! - On PostgreSQL they are sent with `NOTIFY` (ids only, so the 8 KB payload
//!   limit never bites) from a separate, tiny transaction after the change's own
//!   commit (a `NOTIFY` inside the change's transaction would serialize every
//!   writer's commit on PostgreSQL's notification lock). Every instance, this one
//!   included, `LISTEN`s and resolves what it hears, so all see one order.
//!
//! The resolver reads each audit entry once per process, works out what it
//! announces and who may see it ([`crate::service::changes`]), and broadcasts a
//! [`FeedItem`]. A subscriber that falls behind the broadcast buffer, or a listener
//! connection that was lost (notifications sent meanwhile are gone), gets
//! [`FeedItem::Resync`]: refetch, then carry on. Webhooks do not depend on this
//! path: they come from the audit rows themselves.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use crate::entity::audit_entry;
use crate::service::changes::{self, Announcement, Audience};

/// The PostgreSQL notification channel of committed changes.
pub const CHANNEL: &str = "embhub_changes";

/// Stays well below PostgreSQL's 8,000-byte notification payload limit.
const MAX_PAYLOAD_BYTES: usize = 7_000;

/// A change, resolved once per process for every subscriber.
#[derive(Debug)]
pub struct Notice {
    pub announcement: Announcement,
    pub audience: Audience,
}

/// What subscribers receive.
#[derive(Debug, Clone)]
pub enum FeedItem {
    Change(Arc<Notice>),
    /// Changes may have been missed: refetch what you follow.
    Resync,
}

/// A handle on the feed; cheap to clone.
#[derive(Clone)]
pub struct ChangeFeed {
    inner: Arc<Inner>,
}

struct Inner {
    /// Ids committed by this process, to the resolver (SQLite) or the notifier
    /// (PostgreSQL); `None` for a detached feed.
    committed: Option<mpsc::UnboundedSender<Vec<Uuid>>>,
    broadcast: broadcast::Sender<FeedItem>,
}

/// The tasks behind a started feed; aborted with it.
pub struct FeedTasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for FeedTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl ChangeFeed {
    /// A feed nobody hears (command-line tools, seeding): announcing is a no-op.
    pub fn detached() -> Self {
        let (broadcast, _) = broadcast::channel(1);
        Self {
            inner: Arc::new(Inner {
                committed: None,
                broadcast,
            }),
        }
    }

    /// Starts the feed on `db`. Each subscriber may lag `buffer` changes behind
    /// before it is told to resync.
    pub fn start(db: DatabaseConnection, buffer: usize) -> (Self, FeedTasks) {
        let (broadcast, _) = broadcast::channel(buffer.max(1));
        let (committed_tx, committed_rx) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        if db.get_database_backend() == DbBackend::Postgres {
            let (heard_tx, heard_rx) = mpsc::unbounded_channel();
            tasks.push(tokio::spawn(notify(db.clone(), committed_rx)));
            tasks.push(tokio::spawn(listen(
                db.clone(),
                heard_tx,
                broadcast.clone(),
            )));
            tasks.push(tokio::spawn(resolve(db, heard_rx, broadcast.clone())));
        } else {
            tasks.push(tokio::spawn(resolve(db, committed_rx, broadcast.clone())));
        }
        let feed = Self {
            inner: Arc::new(Inner {
                committed: Some(committed_tx),
                broadcast,
            }),
        };
        (feed, FeedTasks(tasks))
    }

    /// Announces the audit entries of a transaction that has committed.
    pub fn committed(&self, audit_ids: Vec<Uuid>) {
        if audit_ids.is_empty() {
            return;
        }
        if let Some(sender) = &self.inner.committed {
            let _ = sender.send(audit_ids);
        }
    }

    /// Changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedItem> {
        self.inner.broadcast.subscribe()
    }
}

/// Sends this process's committed ids to every listener with `pg_notify`, a batch
/// per round trip.
async fn notify(db: DatabaseConnection, mut committed: mpsc::UnboundedReceiver<Vec<Uuid>>) {
    // Straight on the pool: a background statement, batched across requests, not
    // part of any request's work (nor of its statement count).
    let pool = db.get_postgres_connection_pool().clone();
    let mut batch: Vec<Vec<Uuid>> = Vec::new();
    while committed.recv_many(&mut batch, 256).await > 0 {
        for payload in payloads(batch.drain(..).flatten()) {
            let sent = sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(payload)
                .execute(&pool)
                .await;
            if let Err(err) = sent {
                // Subscribers lose this change (webhooks do not): the listener's
                // instances cannot know, so this is the one place to say it.
                tracing::warn!(error = %err, "could not announce committed changes");
            }
        }
    }
}

/// Comma-separated ids, split below the payload limit.
fn payloads(ids: impl Iterator<Item = Uuid>) -> Vec<String> {
    let mut payloads = vec![String::new()];
    for id in ids {
        let current = payloads.last_mut().expect("never empty");
        if current.len() + 37 > MAX_PAYLOAD_BYTES {
            payloads.push(String::new());
        }
        let current = payloads.last_mut().expect("never empty");
        if !current.is_empty() {
            current.push(',');
        }
        current.push_str(&id.to_string());
    }
    payloads.retain(|p| !p.is_empty());
    payloads
}

/// Listens on [`CHANNEL`], reconnecting by itself; after a lost connection every
/// subscriber is told to resync.
async fn listen(
    db: DatabaseConnection,
    heard: mpsc::UnboundedSender<Vec<Uuid>>,
    broadcast: broadcast::Sender<FeedItem>,
) {
    use sea_orm::sqlx::postgres::{PgListener, PgPoolOptions};
    // Its own connection, outside the request pool: a listener holds it for good,
    // which would leave requests one connection short.
    let options = (*db.get_postgres_connection_pool().connect_options()).clone();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(options);
    let mut connected_before = false;
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %err, "change listener cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(err) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %err, "change listener cannot LISTEN; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if connected_before {
            tracing::info!("change listener reconnected; subscribers resync");
            let _ = broadcast.send(FeedItem::Resync);
        }
        connected_before = true;
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    let ids: Vec<Uuid> = notification
                        .payload()
                        .split(',')
                        .filter_map(|id| id.parse().ok())
                        .collect();
                    if heard.send(ids).is_err() {
                        return;
                    }
                }
                Ok(None) => {
                    tracing::warn!("change listener lost its connection");
                    break;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "change listener failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    break;
                }
            }
        }
    }
}

/// Turns audit ids into notices, in the order heard, and broadcasts them.
async fn resolve(
    db: DatabaseConnection,
    mut ids: mpsc::UnboundedReceiver<Vec<Uuid>>,
    broadcast: broadcast::Sender<FeedItem>,
) {
    let mut batch: Vec<Vec<Uuid>> = Vec::new();
    while ids.recv_many(&mut batch, 256).await > 0 {
        let ids: Vec<Uuid> = batch.drain(..).flatten().collect();
        if broadcast.receiver_count() == 0 {
            continue;
        }
        match notices(&db, &ids).await {
            Ok(notices) => {
                for notice in notices {
                    let _ = broadcast.send(FeedItem::Change(Arc::new(notice)));
                }
            }
            Err(err) => {
                tracing::warn!(error = ?err, "could not resolve committed changes; subscribers resync");
                let _ = broadcast.send(FeedItem::Resync);
            }
        }
    }
}

/// The notices of `ids`, in the order given (unannounced entries dropped).
async fn notices(db: &DatabaseConnection, ids: &[Uuid]) -> crate::error::AppResult<Vec<Notice>> {
    let mut entries = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        entries.extend(
            audit_entry::Entity::find()
                .filter(audit_entry::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    let order: std::collections::HashMap<Uuid, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    entries.sort_by_key(|e| order.get(&e.id).copied());
    let mut notices = Vec::with_capacity(entries.len());
    for entry in &entries {
        if let Some(announcement) = changes::announcement(db, entry).await? {
            let audience = changes::audience(db, &announcement).await?;
            notices.push(Notice {
                announcement,
                audience,
            });
        }
    }
    Ok(notices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_below_the_notification_limit_and_keep_every_id() {
        let ids: Vec<Uuid> = (0..1000).map(|_| Uuid::new_v4()).collect();
        let payloads = payloads(ids.iter().copied());
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD_BYTES));
        let back: Vec<Uuid> = payloads
            .iter()
            .flat_map(|p| p.split(','))
            .map(|id| id.parse().unwrap())
            .collect();
        assert_eq!(back, ids);
    }
}
