//! Sending deliveries: claim what is due, POST it signed, record how it went.
//!
//! A delivery is claimed in a short transaction that leases it (`lease_id`,
//! `leased_until`) under `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
//! instances share the work and never send one row at the same time; the HTTP
//! request then runs with no transaction or connection held, and the outcome is
//! written only if the lease is still ours. A crashed sender's lease runs out and
//! the delivery is tried again: receivers may see a delivery more than once
//! (rarely), never lose one, and deduplicate by `webhook-id` as Standard Webhooks
//! intends.
//!
//! A dead or slow receiver costs at most the request timeout and one of a bounded
//! number of sending slots (overall and per endpoint); the API's requests never wait
//! for it, and the workers hold at most two pooled database connections at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::signature;
use super::ssrf::{GuardedResolver, UrlPolicy};
use crate::config::WebhookSettings;
use crate::domain::WebhookDeliveryStatus;
use crate::entity::webhook_delivery::{Column, Entity};
use crate::entity::{webhook_delivery, webhook_endpoint};
use crate::error::AppResult;

/// The `webhook-id` header of a delivery: stable across its retries, so a
/// receiver can tell a retry from a new change.
pub fn webhook_id(delivery_id: Uuid) -> String {
    format!("msg_{}", delivery_id.simple())
}

/// How long a claimed delivery stays reserved for its sender: longer than any
/// attempt can take, after which another sender may try it.
fn lease_duration(settings: &WebhookSettings) -> Duration {
    settings.timeout + Duration::from_secs(30)
}

/// The wait before retry number `attempts` (1 after the first failure): the base
/// delay doubling per attempt up to 512 times it, ±20% jitter so that a receiver
/// coming back is not hit by every retry at the same moment.
pub(crate) fn backoff(settings: &WebhookSettings, attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 10) - 1;
    let nominal = settings.retry_base.saturating_mul(1 << exponent);
    nominal.mul_f64(rand::thread_rng().gen_range(0.8..1.2))
}

/// The shortest time the attempts of one delivery can span (every wait at its
/// lower jitter bound): an endpoint failing for less is not disabled.
pub(crate) fn shortest_retry_span(settings: &WebhookSettings) -> Duration {
    let nominal: Duration = (1..settings.max_attempts as i32)
        .map(|attempt| {
            settings
                .retry_base
                .saturating_mul(1 << (attempt.clamp(1, 10) - 1))
        })
        .sum();
    nominal.mul_f64(0.8)
}

/// A delivery this instance has leased, with its endpoint as it was then.
struct Claimed {
    delivery: webhook_delivery::Model,
    endpoint: webhook_endpoint::Model,
    lease: Uuid,
}

/// What one attempt came to.
struct Outcome {
    delivered: bool,
    status_code: Option<i32>,
    error: Option<String>,
    response_time_ms: Option<i32>,
}

impl Outcome {
    fn refused(why: String) -> Self {
        Self {
            delivered: false,
            status_code: None,
            error: Some(format!("not sent: the URL {why}")),
            response_time_ms: None,
        }
    }
}

/// The delivery side of the webhook workers.
pub(crate) struct Sender {
    pub db: DatabaseConnection,
    pub http: reqwest::Client,
    pub settings: WebhookSettings,
    pub policy: UrlPolicy,
    /// Rung when the fan-out created deliveries, so they go out without waiting
    /// for the next poll.
    pub wake: Arc<Notify>,
    /// Bounds the pooled connections the workers use at once.
    pub db_permits: Arc<Semaphore>,
}

/// The HTTP client deliveries use: bounded timeouts, no redirects (a 3xx is a
/// failed attempt: following it could lead anywhere), no proxy from the
/// environment (the address checks must be about the real target), and DNS
/// through [`GuardedResolver`].
pub(crate) fn http_client(
    settings: &WebhookSettings,
    policy: UrlPolicy,
) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .pool_max_idle_per_host(settings.endpoint_concurrency)
        .user_agent(concat!("embhub-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

impl Sender {
    /// Claims and sends due deliveries until stopped (by aborting the task, which
    /// also aborts the sends in flight: their leases run out and they are retried).
    pub async fn run(self: Arc<Self>) {
        let slots = Arc::new(Semaphore::new(self.settings.concurrency));
        let in_flight: Arc<Mutex<HashMap<Uuid, usize>>> = Arc::default();
        let mut sends = JoinSet::new();
        loop {
            while sends.try_join_next().is_some() {}
            self.claim_and_spawn(&slots, &in_flight, &mut sends).await;
            tokio::select! {
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                () = self.wake.notified() => {}
                Some(_) = sends.join_next(), if !sends.is_empty() => {}
            }
        }
    }

    async fn claim_and_spawn(
        self: &Arc<Self>,
        slots: &Arc<Semaphore>,
        in_flight: &Arc<Mutex<HashMap<Uuid, usize>>>,
        sends: &mut JoinSet<()>,
    ) {
        let free = slots.available_permits();
        if free == 0 {
            return;
        }
        let busy = in_flight.lock().map(|m| m.clone()).unwrap_or_default();
        let claimed = {
            let Ok(_permit) = self.db_permits.acquire().await else {
                return;
            };
            match self.claim(free, &busy).await {
                Ok(claimed) => claimed,
                Err(err) => {
                    tracing::warn!(error = ?err, "claiming webhook deliveries failed");
                    return;
                }
            }
        };
        for claimed in claimed {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            if let Ok(mut map) = in_flight.lock() {
                *map.entry(claimed.endpoint.id).or_default() += 1;
            }
            sends.spawn(self.clone().send(claimed, permit, in_flight.clone()));
        }
    }

    /// Leases up to `free` due deliveries, at most the per-endpoint concurrency
    /// (less what is in flight, `busy`) of each endpoint.
    async fn claim(&self, free: usize, busy: &HashMap<Uuid, usize>) -> AppResult<Vec<Claimed>> {
        let now = Utc::now();
        let due = || {
            Condition::all()
                .add(Column::Status.eq(WebhookDeliveryStatus::Pending))
                .add(Column::NextAttemptAt.lte(now))
                .add(
                    Condition::any()
                        .add(Column::LeasedUntil.is_null())
                        .add(Column::LeasedUntil.lt(now)),
                )
        };
        let active = webhook_endpoint::Entity::find()
            .select_only()
            .column(webhook_endpoint::Column::Id)
            .filter(webhook_endpoint::Column::Active.eq(true))
            .into_query();
        // Which endpoints have something due: a hint, read without locks.
        let endpoints: Vec<Uuid> = Entity::find()
            .select_only()
            .column(Column::EndpointId)
            .distinct()
            .filter(due())
            .filter(Column::EndpointId.in_subquery(active))
            .limit(200)
            .into_tuple()
            .all(&self.db)
            .await?;
        if endpoints.is_empty() {
            return Ok(Vec::new());
        }
        let txn = crate::service::begin_write(&self.db).await?;
        let mut budget = free;
        let mut rows = Vec::new();
        for endpoint in endpoints {
            let room = self
                .settings
                .endpoint_concurrency
                .saturating_sub(busy.get(&endpoint).copied().unwrap_or(0))
                .min(budget);
            if room == 0 {
                continue;
            }
            let found = Entity::find()
                .filter(Column::EndpointId.eq(endpoint))
                .filter(due())
                .order_by_asc(Column::NextAttemptAt)
                .order_by_asc(Column::Id)
                .limit(room as u64)
                .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                .all(&txn)
                .await?;
            budget -= found.len();
            rows.extend(found);
            if budget == 0 {
                break;
            }
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let lease = Uuid::now_v7();
        let until = now + lease_duration(&self.settings);
        Entity::update_many()
            .col_expr(Column::LeaseId, Expr::value(Some(lease)))
            .col_expr(Column::LeasedUntil, Expr::value(Some(until)))
            .filter(Column::Id.is_in(rows.iter().map(|r| r.id)))
            .exec(&txn)
            .await?;
        let endpoints: HashMap<Uuid, webhook_endpoint::Model> = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Id.is_in(rows.iter().map(|r| r.endpoint_id)))
            .all(&txn)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        txn.commit().await?;
        Ok(rows
            .into_iter()
            .filter_map(|delivery| {
                let endpoint = endpoints.get(&delivery.endpoint_id)?.clone();
                Some(Claimed {
                    delivery,
                    endpoint,
                    lease,
                })
            })
            .collect())
    }

    async fn send(
        self: Arc<Self>,
        claimed: Claimed,
        _slot: OwnedSemaphorePermit,
        in_flight: Arc<Mutex<HashMap<Uuid, usize>>>,
    ) {
        let outcome = self.attempt(&claimed).await;
        tracing::debug!(
            delivery = %claimed.delivery.id,
            endpoint = %claimed.endpoint.id,
            delivered = outcome.delivered,
            status = ?outcome.status_code,
            "webhook attempt"
        );
        let recorded = match self.db_permits.acquire().await {
            Ok(_permit) => self.record(&claimed, outcome).await,
            Err(_) => Ok(()),
        };
        if let Err(err) = recorded {
            tracing::warn!(error = ?err, delivery = %claimed.delivery.id, "recording a webhook attempt failed");
        }
        if let Ok(mut map) = in_flight.lock()
            && let Some(count) = map.get_mut(&claimed.endpoint.id)
        {
            *count -= 1;
            if *count == 0 {
                map.remove(&claimed.endpoint.id);
            }
        }
    }

    /// One signed POST. The URL is checked again first: the settings may have
    /// changed since it was saved, and its name is resolved (and checked) anew.
    async fn attempt(&self, claimed: &Claimed) -> Outcome {
        let Claimed {
            delivery, endpoint, ..
        } = claimed;
        let url = match reqwest::Url::parse(&endpoint.url) {
            Ok(url) => url,
            Err(_) => return Outcome::refused("is not valid".into()),
        };
        if let Err(why) = self.policy.check_host(&url) {
            return Outcome::refused(why);
        }
        let body = serde_json::to_vec(&delivery.payload).unwrap_or_default();
        let id = webhook_id(delivery.id);
        let now = Utc::now();
        let timestamp = now.timestamp();
        let signature = signature::sign(&signing_secrets(endpoint, now), &id, timestamp, &body);
        let started = Instant::now();
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let elapsed = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        match response {
            Ok(response) => {
                let status = response.status();
                Outcome {
                    delivered: status.is_success(),
                    status_code: Some(i32::from(status.as_u16())),
                    error: (!status.is_success())
                        .then(|| format!("the receiver answered HTTP {}", status.as_u16())),
                    response_time_ms: Some(elapsed),
                }
            }
            Err(err) => Outcome {
                delivered: false,
                status_code: None,
                error: Some(describe(&err, self.settings.timeout)),
                response_time_ms: err.is_timeout().then_some(elapsed),
            },
        }
    }

    /// Writes the attempt's outcome if the lease is still ours, and keeps the
    /// endpoint's run of failures: a success ends it. When a delivery uses up its
    /// attempts while every attempt to the endpoint has failed for at least a
    /// delivery's whole retry span (over a day by default), the endpoint is
    /// disabled, with the reason for its owner; a receiver that refuses one
    /// message but takes others, or was down for an hour, stays enabled.
    async fn record(&self, claimed: &Claimed, outcome: Outcome) -> AppResult<()> {
        let now = Utc::now();
        let max_attempts = i32::try_from(self.settings.max_attempts).unwrap_or(i32::MAX);
        let attempts = claimed.delivery.attempts + 1;
        let (status, next_attempt_at) = if outcome.delivered {
            (WebhookDeliveryStatus::Delivered, now)
        } else if attempts >= max_attempts {
            (WebhookDeliveryStatus::Failed, now)
        } else {
            let wait = backoff(&self.settings, attempts);
            let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
            (WebhookDeliveryStatus::Pending, now + wait)
        };
        let txn = crate::service::begin_write(&self.db).await?;
        // Records for one endpoint take turns on its row, so its count is exact.
        let Some(endpoint) = webhook_endpoint::Entity::find_by_id(claimed.endpoint.id)
            .lock_exclusive()
            .one(&txn)
            .await?
        else {
            return Ok(());
        };
        let written = Entity::update_many()
            .col_expr(Column::Status, Expr::value(status))
            .col_expr(Column::Attempts, Expr::value(attempts))
            .col_expr(Column::NextAttemptAt, Expr::value(next_attempt_at))
            .col_expr(Column::LastAttemptAt, Expr::value(Some(now)))
            .col_expr(Column::LastStatusCode, Expr::value(outcome.status_code))
            .col_expr(Column::LastError, Expr::value(outcome.error.clone()))
            .col_expr(
                Column::ResponseTimeMs,
                Expr::value(outcome.response_time_ms),
            )
            .col_expr(
                Column::DeliveredAt,
                Expr::value(outcome.delivered.then_some(now)),
            )
            .col_expr(Column::LeaseId, Expr::value(Option::<Uuid>::None))
            .col_expr(
                Column::LeasedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(Column::Id.eq(claimed.delivery.id))
            .filter(Column::LeaseId.eq(claimed.lease))
            .exec(&txn)
            .await?;
        if written.rows_affected == 0 {
            // Deleted, or the lease ran out and someone else has it now.
            return Ok(());
        }
        use sea_orm::sea_query::ExprTrait;
        use webhook_endpoint::Column as E;
        let update = webhook_endpoint::Entity::update_many().filter(E::Id.eq(endpoint.id));
        if outcome.delivered {
            if endpoint.consecutive_failures != 0 || endpoint.failing_since.is_some() {
                update
                    .col_expr(E::ConsecutiveFailures, Expr::value(0))
                    .col_expr(E::FailingSince, Expr::value(Option::<DateTime<Utc>>::None))
                    .exec(&txn)
                    .await?;
            }
        } else {
            let failures = endpoint.consecutive_failures.saturating_add(1);
            let since = endpoint.failing_since.unwrap_or(now);
            let mut update = update
                .col_expr(E::ConsecutiveFailures, Expr::value(failures))
                .col_expr(E::FailingSince, Expr::value(Some(since)));
            let span = chrono::Duration::from_std(shortest_retry_span(&self.settings))
                .unwrap_or(chrono::Duration::MAX);
            let disable = status == WebhookDeliveryStatus::Failed
                && failures >= max_attempts
                && now - since >= span
                && endpoint.active;
            if disable {
                let last = outcome.error.as_deref().unwrap_or("no answer");
                let reason = format!(
                    "Disabled at {}: {failures} delivery attempts in a row failed since {} \
                     (the last: {last}). Fix the receiver, then set `active: true` with \
                     updateWebhookEndpoint; pending deliveries then resume.",
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                );
                update = update
                    .col_expr(E::Active, Expr::value(false))
                    .col_expr(E::DisabledAt, Expr::value(Some(now)))
                    .col_expr(E::DisabledReason, Expr::value(Some(reason)))
                    .col_expr(E::Version, Expr::col(E::Version).add(1))
                    .col_expr(E::UpdatedAt, Expr::value(now));
                tracing::warn!(endpoint = %endpoint.id, failures, "webhook endpoint disabled after a run of failures");
            }
            update.exec(&txn).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

/// The secrets to sign with now: the current one, and the previous one while its
/// grace period after a rotation lasts.
pub(crate) fn signing_secrets(endpoint: &webhook_endpoint::Model, now: DateTime<Utc>) -> Vec<&str> {
    let mut secrets = vec![endpoint.signing_secret.as_str()];
    if let (Some(previous), Some(until)) = (
        endpoint.previous_signing_secret.as_deref(),
        endpoint.previous_secret_expires_at,
    ) && until > now
    {
        secrets.push(previous);
    }
    secrets
}

/// A failed request as its owner reads it in `lastError`: the causes, without the
/// URL (which may carry a token of the receiver's) and bounded in length.
fn describe(err: &reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs());
    }
    let mut parts: Vec<String> = Vec::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    parts.push(if err.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    });
    while let Some(current) = cause {
        let text = current.to_string();
        if !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        cause = current.source();
    }
    let mut text = parts.join(": ");
    if text.len() > 300 {
        let mut end = 300;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_retries_span_more_than_a_day_and_less_than_two() {
        let settings = WebhookSettings::default();
        let shortest = shortest_retry_span(&settings);
        let longest = shortest.mul_f64(1.2 / 0.8);
        assert!(shortest >= Duration::from_secs(24 * 3600), "{shortest:?}");
        assert!(longest <= Duration::from_secs(48 * 3600), "{longest:?}");
        for attempt in 1..40 {
            let wait = backoff(&settings, attempt);
            assert!(wait <= settings.retry_base.mul_f64(512.0 * 1.2));
        }
    }

    #[test]
    fn webhook_ids_are_stable_per_delivery() {
        let id = Uuid::now_v7();
        assert_eq!(webhook_id(id), webhook_id(id));
        assert!(webhook_id(id).starts_with("msg_"));
    }
}
