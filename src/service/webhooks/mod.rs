//! Webhooks: organizations' systems receive signed notifications of the changes
//! they may see, without polling.
//!
//! - Endpoints belong to an organization and are managed by its COORDINATOR or
//!   PARTNER clients (a partner EMB's system is the main receiver); anyone else
//!   gets FORBIDDEN (wrong role) or NOT_FOUND (another organization's endpoint).
//! - The audit log is the outbox ([`outbox`]): nothing is added to the mutations'
//!   path. Workers started beside the server fan entries out into deliveries and
//!   send them ([`delivery`]), signed as Standard Webhooks ([`signature`]), to URLs
//!   checked against SSRF ([`ssrf`]).
//! - Secrets are returned once, by `create` and `rotate_secret`; they are never
//!   logged, audited or readable afterwards.

pub mod delivery;
pub mod outbox;
pub mod signature;
pub mod ssrf;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, QueryTrait, Select, Set,
};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::lists::{Chronological, by_creation};
use super::pagination::{Page, PageArgs, PageRequest, SortDirection, fetch_page};
use super::{Patch, ServiceContext, audit, changes};
use crate::config::WebhookSettings;
use crate::domain::{BoundedText, WebhookDeliveryStatus};
use crate::entity::webhook_delivery;
use crate::entity::webhook_endpoint::{ActiveModel, Column, Entity, Model};
use crate::error::{AppError, AppResult, InputErrors};
pub use ssrf::UrlPolicy;

const NOT_FOUND: AppError = AppError::NotFound {
    entity: "webhook endpoint",
};
const DELIVERY_NOT_FOUND: AppError = AppError::NotFound {
    entity: "webhook delivery",
};
const DESCRIPTION_MAX: usize = 500;
/// Endpoints one organization may have: enough for every system it runs, few
/// enough that one change cannot fan out into a flood.
const ENDPOINTS_MAX: u64 = 20;
/// How long the secret before a rotation keeps signing beside the new one, so
/// receivers can switch without missing a delivery.
pub const ROTATION_GRACE: chrono::Duration = chrono::Duration::hours(24);

/// An endpoint as its owner registers it.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
}

/// Changes to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Patch<String>,
    /// `true` re-enables a disabled endpoint and clears its run of failures.
    pub active: Option<bool>,
    pub expected_version: Option<i32>,
}

/// Which endpoints to list: always the caller organization's.
#[derive(Debug, Clone, Default)]
pub struct EndpointFilter;

/// Which deliveries of one endpoint to list.
#[derive(Debug, Clone)]
pub struct DeliveryFilter {
    pub endpoint_id: Uuid,
    pub statuses: Option<Vec<WebhookDeliveryStatus>>,
}

/// Every change kind an endpoint may subscribe to.
pub fn event_types() -> Vec<&'static str> {
    changes::kind_names()
}

/// Only an organization's COORDINATOR and PARTNER clients manage its webhooks.
fn ensure_may_manage(cx: &ServiceContext) -> AppResult<()> {
    if cx.caller().acts_as_partner() {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "webhooks are managed by the organization's COORDINATOR or PARTNER clients",
        ))
    }
}

/// The caller organization's endpoints.
fn own(cx: &ServiceContext) -> Select<Entity> {
    Entity::find().filter(Column::OrganizationId.eq(cx.caller().organization_id))
}

/// One of the caller organization's endpoints (after the role check).
async fn load_own<C: ConnectionTrait>(db: &C, cx: &ServiceContext, id: Uuid) -> AppResult<Model> {
    ensure_may_manage(cx)?;
    own(cx)
        .filter(Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(NOT_FOUND)
}

/// The endpoint as the audit log keeps it: never its secrets.
fn snapshot(endpoint: &Model) -> serde_json::Value {
    serde_json::json!({
        "id": endpoint.id,
        "organization_id": endpoint.organization_id,
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "description": endpoint.description,
        "active": endpoint.active,
        "version": endpoint.version,
    })
}

async fn record<C: ConnectionTrait>(
    txn: &C,
    cx: &ServiceContext,
    action: &str,
    before: Option<&Model>,
    after: Option<&Model>,
    id: Uuid,
) -> AppResult<()> {
    audit::record(
        txn,
        cx,
        audit::Change {
            action,
            entity_type: "WebhookEndpoint",
            entity_id: id,
            before: before.map(snapshot),
            after: after.map(snapshot),
            event_id: None,
        },
    )
    .await
}

/// Checks the subscribed kinds against [`event_types`]; duplicates are dropped.
fn parse_event_types(raw: &[String]) -> AppResult<serde_json::Value> {
    let known = event_types();
    let mut kinds: Vec<&str> = Vec::new();
    for kind in raw {
        let kind = kind.trim();
        let Some(known) = known.iter().find(|k| **k == kind) else {
            return Err(AppError::invalid(
                "eventTypes",
                format!(
                    "`{kind}` is not a change kind; use one of {} (or none for all)",
                    known.join(", ")
                ),
            ));
        };
        if !kinds.contains(known) {
            kinds.push(known);
        }
    }
    Ok(serde_json::json!(kinds))
}

async fn parse_url(policy: UrlPolicy, raw: &str) -> AppResult<String> {
    policy
        .check(raw)
        .await
        .map(String::from)
        .map_err(|message| AppError::invalid("url", message))
}

/// Registers an endpoint for the caller's organization; returns it with its
/// signing secret, which is shown this once.
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id))]
pub async fn create(
    cx: &ServiceContext,
    policy: UrlPolicy,
    input: NewEndpoint,
) -> AppResult<(Model, String)> {
    ensure_may_manage(cx)?;
    let mut errors = InputErrors::default();
    let url = errors.check(parse_url(policy, &input.url).await);
    let event_types = errors.check(parse_event_types(&input.event_types));
    let description = errors.check(BoundedText::parse_optional(
        input.description.as_deref(),
        "description",
        DESCRIPTION_MAX,
    ));
    let (Some(url), Some(event_types), Some(description)) = (url, event_types, description) else {
        return Err(errors.fail());
    };
    let txn = cx.begin_write().await?;
    if own(cx).count(&txn).await? >= ENDPOINTS_MAX {
        return Err(AppError::conflict(format!(
            "an organization may have at most {ENDPOINTS_MAX} webhook endpoints; delete one first"
        )));
    }
    let secret = signature::generate_secret();
    let now = Utc::now();
    let created = ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(cx.caller().organization_id),
        url: Set(url),
        signing_secret: Set(secret.clone()),
        event_types: Set(event_types),
        active: Set(true),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        description: Set(description),
        consecutive_failures: Set(0),
        failing_since: Set(None),
        disabled_at: Set(None),
        disabled_reason: Set(None),
        previous_signing_secret: Set(None),
        previous_secret_expires_at: Set(None),
    }
    .insert(&txn)
    .await?;
    record(
        &txn,
        cx,
        "webhook_endpoint.create",
        None,
        Some(&created),
        created.id,
    )
    .await?;
    txn.commit().await?;
    Ok((created, secret))
}

/// Changes an endpoint's URL, kinds, description or whether it is active.
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id, %id))]
pub async fn update(
    cx: &ServiceContext,
    policy: UrlPolicy,
    id: Uuid,
    changes: EndpointChanges,
) -> AppResult<Model> {
    ensure_may_manage(cx)?;
    let mut errors = InputErrors::default();
    let url = match &changes.url {
        Some(raw) => errors.check(parse_url(policy, raw).await.map(Some)),
        None => Some(None),
    };
    let event_types = match &changes.event_types {
        Some(raw) => errors.check(parse_event_types(raw).map(Some)),
        None => Some(None),
    };
    let description = match &changes.description {
        Some(raw) => errors
            .check(BoundedText::parse_optional(
                raw.as_deref(),
                "description",
                DESCRIPTION_MAX,
            ))
            .map(Some),
        None => Some(None),
    };
    let (Some(url), Some(event_types), Some(description)) = (url, event_types, description) else {
        return Err(errors.fail());
    };
    let txn = cx.begin_write().await?;
    let current = load_own(&txn, cx, id).await?;
    super::check_version(changes.expected_version, current.version)?;
    let mut active: ActiveModel = current.clone().into();
    if let Some(url) = url {
        active.url = Set(url);
    }
    if let Some(event_types) = event_types {
        active.event_types = Set(event_types);
    }
    if let Some(description) = description {
        active.description = Set(description);
    }
    match changes.active {
        Some(true) if !current.active => {
            active.active = Set(true);
            active.disabled_at = Set(None);
            active.disabled_reason = Set(None);
            active.consecutive_failures = Set(0);
            active.failing_since = Set(None);
        }
        Some(false) if current.active => {
            active.active = Set(false);
            active.disabled_at = Set(Some(Utc::now()));
            active.disabled_reason = Set(Some("disabled by its owner".into()));
        }
        _ => {}
    }
    let updated = super::save_versioned(
        &txn,
        active,
        Column::Version,
        Column::UpdatedAt,
        current.version,
    )
    .await?;
    record(
        &txn,
        cx,
        "webhook_endpoint.update",
        Some(&current),
        Some(&updated),
        id,
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes an endpoint and its deliveries.
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id, %id))]
pub async fn delete(cx: &ServiceContext, id: Uuid) -> AppResult<Uuid> {
    let txn = cx.begin_write().await?;
    let current = load_own(&txn, cx, id).await?;
    // Its deliveries go with it (ON DELETE CASCADE).
    Entity::delete_by_id(id).exec(&txn).await?;
    record(
        &txn,
        cx,
        "webhook_endpoint.delete",
        Some(&current),
        None,
        id,
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}

/// Gives an endpoint a new signing secret, shown this once; the previous one keeps
/// signing beside it for [`ROTATION_GRACE`].
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id, %id))]
pub async fn rotate_secret(cx: &ServiceContext, id: Uuid) -> AppResult<(Model, String)> {
    let txn = cx.begin_write().await?;
    let current = load_own(&txn, cx, id).await?;
    let secret = signature::generate_secret();
    let mut active: ActiveModel = current.clone().into();
    active.previous_signing_secret = Set(Some(current.signing_secret.clone()));
    active.previous_secret_expires_at = Set(Some(Utc::now() + ROTATION_GRACE));
    active.signing_secret = Set(secret.clone());
    let updated = super::save_versioned(
        &txn,
        active,
        Column::Version,
        Column::UpdatedAt,
        current.version,
    )
    .await?;
    record(
        &txn,
        cx,
        "webhook_endpoint.rotate_secret",
        Some(&current),
        Some(&updated),
        id,
    )
    .await?;
    txn.commit().await?;
    Ok((updated, secret))
}

/// One of the caller organization's endpoints.
pub async fn get(cx: &ServiceContext, id: Uuid) -> AppResult<Model> {
    load_own(&cx.db, cx, id).await
}

impl Chronological for Model {
    fn id(&self) -> Uuid {
        self.id
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

impl Chronological for webhook_delivery::Model {
    fn id(&self) -> Uuid {
        self.id
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

/// The caller organization's endpoints, oldest first.
pub async fn list(cx: &ServiceContext, page: &PageRequest) -> AppResult<Page<Model>> {
    ensure_may_manage(cx)?;
    let ordering = by_creation::<Entity>(
        "webhookEndpoints",
        Column::CreatedAt,
        Column::Id,
        SortDirection::Asc,
    );
    let args = PageArgs::parse(page, &ordering.name)?;
    fetch_page(&cx.db, own(cx), &ordering, &args).await
}

/// How many endpoints the caller's organization has.
pub async fn count(cx: &ServiceContext, _filter: &EndpointFilter) -> AppResult<u64> {
    ensure_may_manage(cx)?;
    Ok(own(cx).count(&cx.db).await?)
}

/// The deliveries matching `filter`, within the caller organization's endpoints.
fn deliveries(cx: &ServiceContext, filter: &DeliveryFilter) -> Select<webhook_delivery::Entity> {
    use webhook_delivery::Column as D;
    let own_endpoints = own(cx).select_only().column(Column::Id).into_query();
    let mut select = webhook_delivery::Entity::find()
        .filter(D::EndpointId.eq(filter.endpoint_id))
        .filter(D::EndpointId.in_subquery(own_endpoints));
    if let Some(statuses) = &filter.statuses {
        select = select.filter(D::Status.is_in(statuses.iter().copied()));
    }
    select
}

/// One endpoint's deliveries, newest first.
pub async fn list_deliveries(
    cx: &ServiceContext,
    filter: &DeliveryFilter,
    page: &PageRequest,
) -> AppResult<Page<webhook_delivery::Model>> {
    load_own(&cx.db, cx, filter.endpoint_id).await?;
    use webhook_delivery::Column as D;
    let ordering = by_creation::<webhook_delivery::Entity>(
        "webhookDeliveries",
        D::CreatedAt,
        D::Id,
        SortDirection::Desc,
    );
    let args = PageArgs::parse(page, &ordering.name)?;
    fetch_page(&cx.db, deliveries(cx, filter), &ordering, &args).await
}

/// How many deliveries match `filter`.
pub async fn count_deliveries(cx: &ServiceContext, filter: &DeliveryFilter) -> AppResult<u64> {
    ensure_may_manage(cx)?;
    Ok(deliveries(cx, filter).count(&cx.db).await?)
}

/// Sends a delivery again from its first attempt, with the same `webhook-id` (it
/// is the same change): after a receiver fixed a bug, or one that FAILED.
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id, %delivery_id))]
pub async fn redeliver(
    cx: &ServiceContext,
    delivery_id: Uuid,
) -> AppResult<webhook_delivery::Model> {
    ensure_may_manage(cx)?;
    let txn = cx.begin_write().await?;
    let current = webhook_delivery::Entity::find_by_id(delivery_id)
        .one(&txn)
        .await?
        .ok_or(DELIVERY_NOT_FOUND)?;
    let endpoint = own(cx)
        .filter(Column::Id.eq(current.endpoint_id))
        .one(&txn)
        .await?
        .ok_or(DELIVERY_NOT_FOUND)?;
    let now = Utc::now();
    if current.leased_until.is_some_and(|until| until > now) {
        return Err(AppError::conflict(
            "the delivery is being attempted right now; look again in a few seconds",
        ));
    }
    if !endpoint.active {
        return Err(AppError::conflict(
            "the endpoint is disabled: set `active: true` with updateWebhookEndpoint first",
        ));
    }
    let mut active: webhook_delivery::ActiveModel = current.clone().into();
    active.status = Set(WebhookDeliveryStatus::Pending);
    active.attempts = Set(0);
    active.next_attempt_at = Set(now);
    active.delivered_at = Set(None);
    active.lease_id = Set(None);
    active.leased_until = Set(None);
    let updated = active.update(&txn).await?;
    audit::record(
        &txn,
        cx,
        audit::Change {
            action: "webhook_delivery.redeliver",
            entity_type: "WebhookDelivery",
            entity_id: delivery_id,
            before: None,
            after: Some(serde_json::json!({
                "endpoint_id": endpoint.id,
                "event_type": updated.event_type,
            })),
            event_id: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// How many fan-out entries one transaction handles: small enough that SQLite's
/// write lock is held only briefly.
const FAN_OUT_BATCH: u64 = 100;

/// The webhook workers, ready to start: fan-out and delivery.
pub struct Workers {
    sender: Arc<delivery::Sender>,
}

/// The running workers; dropping this does not stop them, [`RunningWorkers::stop`] does.
pub struct RunningWorkers {
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Prepares the workers on `db` (a handle whose statements are not counted as
    /// requests'); fails if the HTTP client cannot be built (TLS setup).
    pub fn new(
        db: DatabaseConnection,
        settings: WebhookSettings,
        policy: UrlPolicy,
    ) -> anyhow::Result<Self> {
        let http = delivery::http_client(&settings, policy)?;
        Ok(Self {
            sender: Arc::new(delivery::Sender {
                db,
                http,
                settings,
                policy,
                wake: Arc::new(Notify::new()),
                db_permits: Arc::new(Semaphore::new(2)),
            }),
        })
    }

    /// Starts fan-out and delivery in the background.
    pub fn start(self) -> RunningWorkers {
        let fan_out = tokio::spawn(fan_out_loop(self.sender.clone()));
        let send = tokio::spawn(self.sender.run());
        RunningWorkers {
            tasks: vec![fan_out, send],
        }
    }
}

impl RunningWorkers {
    /// Stops both workers and the sends in flight (their leases run out and
    /// another instance, or this one after a restart, tries them again).
    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

/// Fans new audit entries out every poll interval, batch after batch while there
/// are more, and wakes the sender when it made deliveries.
async fn fan_out_loop(sender: Arc<delivery::Sender>) {
    loop {
        loop {
            let result = match sender.db_permits.acquire().await {
                Ok(_permit) => outbox::fan_out_batch(&sender.db, FAN_OUT_BATCH).await,
                Err(_) => return,
            };
            match result {
                Ok(done) => {
                    if done.deliveries > 0 {
                        sender.wake.notify_one();
                    }
                    if !done.more {
                        break;
                    }
                }
                Err(err) => {
                    tracing::warn!(error = ?err, "webhook fan-out failed");
                    break;
                }
            }
        }
        tokio::time::sleep(sender.settings.poll_interval).await;
    }
}
