//! GraphQL surface of webhooks: endpoints, their deliveries, and the mutations
//! that manage them. Access and rules are in [`crate::service::webhooks`].

use super::scalars::IsoDateTime;
use async_graphql::{Context, ID, InputObject, Json, MaybeUndefined, Object, Result, SimpleObject};
use chrono::Utc;

use super::connection::{connection_type, page_request, patch};
use super::context::{load_required, service};
use super::ids::{self, NodeType};
use super::loaders::OrganizationLoader;
use super::organization::Organization;
use crate::domain::WebhookDeliveryStatus;
use crate::entity::{webhook_delivery, webhook_endpoint};
use crate::service::webhooks::{
    self, DeliveryFilter, EndpointChanges, EndpointFilter, NewEndpoint, UrlPolicy,
    delivery::webhook_id,
};

/// Where an organization's system receives signed notifications of the changes
/// the organization may see.
pub struct WebhookEndpoint(pub webhook_endpoint::Model);

impl From<webhook_endpoint::Model> for WebhookEndpoint {
    fn from(model: webhook_endpoint::Model) -> Self {
        WebhookEndpoint(model)
    }
}

/// Where an organization's system receives signed notifications of the changes
/// the organization may see.
#[Object]
impl WebhookEndpoint {
    /// Global id.
    async fn id(&self) -> ID {
        ids::encode(NodeType::WebhookEndpoint, self.0.id)
    }
    /// The organization that receives the deliveries.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        load_required::<OrganizationLoader, _>(
            ctx,
            self.0.organization_id,
            "organization of a webhook endpoint",
        )
        .await
        .map(Organization)
    }
    /// Where deliveries are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// What the endpoint is for, for its owner.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The change kinds delivered (see `webhookEventTypes`); empty means all.
    async fn event_types(&self) -> Vec<String> {
        self.0
            .event_types
            .as_array()
            .map(|kinds| {
                kinds
                    .iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Whether deliveries are made. False after its owner turned it off, or after
    /// a run of failures (see `disabledReason`).
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Why the endpoint is disabled, when it is.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    /// When it was disabled.
    async fn disabled_at(&self) -> Option<IsoDateTime> {
        self.0.disabled_at.map(IsoDateTime)
    }
    /// Delivery attempts that failed in a row since the last success.
    async fn consecutive_failures(&self) -> i32 {
        self.0.consecutive_failures
    }
    /// When the current run of failures began; null while deliveries succeed.
    async fn failing_since(&self) -> Option<IsoDateTime> {
        self.0.failing_since.map(IsoDateTime)
    }
    /// Until when the secret before the last rotation still signs deliveries
    /// (beside the current one); null when there is none.
    async fn previous_secret_expires_at(&self) -> Option<IsoDateTime> {
        self.0
            .previous_secret_expires_at
            .filter(|until| *until > Utc::now())
            .map(IsoDateTime)
    }
    /// Increases with every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When it was registered.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
    /// When it last changed.
    async fn updated_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.updated_at)
    }
}

/// One change sent (or to be sent) to one endpoint, and how its attempts went.
pub struct WebhookDelivery(pub webhook_delivery::Model);

impl From<webhook_delivery::Model> for WebhookDelivery {
    fn from(model: webhook_delivery::Model) -> Self {
        WebhookDelivery(model)
    }
}

/// One change sent (or to be sent) to one endpoint, and how its attempts went.
#[Object]
impl WebhookDelivery {
    /// Global id, for `redeliverWebhook`.
    async fn id(&self) -> ID {
        ids::encode(NodeType::WebhookDelivery, self.0.id)
    }
    /// The `webhook-id` header every attempt of this delivery carries: receivers
    /// use it to recognise a retry of something they already processed.
    async fn webhook_id(&self) -> String {
        webhook_id(self.0.id)
    }
    /// Global id of the endpoint.
    async fn endpoint_id(&self) -> ID {
        ids::encode(NodeType::WebhookEndpoint, self.0.endpoint_id)
    }
    /// The change kind, e.g. `INVITATION_SENT` (the body's `type`).
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// The JSON body POSTed: `type`, `timestamp` and `data` with the ids to
    /// refetch and a short summary.
    async fn payload(&self) -> Json<serde_json::Value> {
        Json(self.0.payload.clone())
    }
    /// Where the delivery stands.
    async fn status(&self) -> WebhookDeliveryStatus {
        self.0.status
    }
    /// Attempts made so far (since the last `redeliverWebhook`).
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// When the last attempt was made.
    async fn last_attempt_at(&self) -> Option<IsoDateTime> {
        self.0.last_attempt_at.map(IsoDateTime)
    }
    /// The HTTP status the receiver answered the last attempt with; null when it
    /// gave none (no connection, timeout, refused URL).
    async fn last_response_status(&self) -> Option<i32> {
        self.0.last_status_code
    }
    /// How long the receiver took to answer the last attempt, in milliseconds.
    async fn last_response_time_ms(&self) -> Option<i32> {
        self.0.response_time_ms
    }
    /// Why the last attempt failed; null after a success.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When the next attempt is due; null unless PENDING.
    async fn next_attempt_at(&self) -> Option<IsoDateTime> {
        (self.0.status == WebhookDeliveryStatus::Pending)
            .then_some(IsoDateTime(self.0.next_attempt_at))
    }
    /// When the receiver accepted it (answered 2xx).
    async fn delivered_at(&self) -> Option<IsoDateTime> {
        self.0.delivered_at.map(IsoDateTime)
    }
    /// When the change was queued for this endpoint.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
}

connection_type!(
    WebhookEndpointConnection,
    WebhookEndpointEdge,
    WebhookEndpoint,
    EndpointFilter,
    webhooks::count,
    "A page of webhook endpoints.",
    "A webhook endpoint in a page, with its cursor."
);

connection_type!(
    WebhookDeliveryConnection,
    WebhookDeliveryEdge,
    WebhookDelivery,
    DeliveryFilter,
    webhooks::count_deliveries,
    "A page of webhook deliveries, newest first.",
    "A webhook delivery in a page, with its cursor."
);

/// Narrows a list of deliveries.
#[derive(InputObject, Default)]
pub struct WebhookDeliveryFilter {
    /// Only deliveries in these statuses.
    statuses: Option<Vec<WebhookDeliveryStatus>>,
}

/// Input of `createWebhookEndpoint`.
#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// Where deliveries are POSTed. In production: https, to a public address.
    url: String,
    /// The change kinds to deliver (see `webhookEventTypes`); empty or absent for all.
    #[graphql(default)]
    event_types: Vec<String>,
    /// What the endpoint is for (at most 500 characters).
    description: Option<String>,
}

/// Input of `updateWebhookEndpoint`; absent fields keep their value.
#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    /// The endpoint.
    id: ID,
    /// A new URL.
    url: Option<String>,
    /// New change kinds to deliver; empty for all.
    event_types: Option<Vec<String>>,
    /// A new description; null clears it.
    description: MaybeUndefined<String>,
    /// False stops deliveries; true starts them again (also after the endpoint
    /// was disabled for failing) and clears the run of failures.
    active: Option<bool>,
    /// The version you read.
    expected_version: Option<i32>,
}

/// Input of `deleteWebhookEndpoint`.
#[derive(InputObject)]
pub struct DeleteWebhookEndpointInput {
    /// The endpoint.
    id: ID,
}

/// Input of `rotateWebhookSecret`.
#[derive(InputObject)]
pub struct RotateWebhookSecretInput {
    /// The endpoint.
    id: ID,
}

/// Input of `redeliverWebhook`.
#[derive(InputObject)]
pub struct RedeliverWebhookInput {
    /// The delivery to send again.
    delivery_id: ID,
}

/// Result of `createWebhookEndpoint`.
#[derive(SimpleObject)]
pub struct CreateWebhookEndpointPayload {
    /// The new endpoint.
    endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_…`), shown only this once: verify deliveries
    /// with it using a Standard Webhooks library.
    secret: String,
}

/// Result of `updateWebhookEndpoint`.
#[derive(SimpleObject)]
pub struct UpdateWebhookEndpointPayload {
    /// The endpoint after the change.
    endpoint: WebhookEndpoint,
}

/// Result of `deleteWebhookEndpoint`.
#[derive(SimpleObject)]
pub struct DeleteWebhookEndpointPayload {
    /// Global id of the deleted endpoint.
    deleted_id: ID,
}

/// Result of `rotateWebhookSecret`.
#[derive(SimpleObject)]
pub struct RotateWebhookSecretPayload {
    /// The endpoint after the rotation.
    endpoint: WebhookEndpoint,
    /// The new signing secret, shown only this once. The previous one keeps
    /// signing beside it for 24 hours (`previousSecretExpiresAt`).
    secret: String,
}

/// Result of `redeliverWebhook`.
#[derive(SimpleObject)]
pub struct RedeliverWebhookPayload {
    /// The delivery, PENDING again.
    delivery: WebhookDelivery,
}

fn url_policy(ctx: &Context<'_>) -> UrlPolicy {
    ctx.data::<UrlPolicy>().copied().unwrap_or_default()
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The webhook endpoints of the caller's organization, oldest first (its
    /// COORDINATOR and PARTNER clients).
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
    ) -> Result<WebhookEndpointConnection> {
        let page = webhooks::list(service(ctx)?, &page_request(first, after, last, before)).await?;
        Ok(WebhookEndpointConnection::new(page, EndpointFilter))
    }

    /// The deliveries to one of the caller organization's endpoints, newest first.
    #[allow(clippy::too_many_arguments)]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the endpoint.")] endpoint_id: ID,
        #[graphql(desc = "Conditions the deliveries must meet.")] filter: Option<
            WebhookDeliveryFilter,
        >,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
    ) -> Result<WebhookDeliveryConnection> {
        let filter = DeliveryFilter {
            endpoint_id: ids::decode(&endpoint_id, NodeType::WebhookEndpoint, "endpointId")?,
            statuses: filter.unwrap_or_default().statuses,
        };
        let page = webhooks::list_deliveries(
            service(ctx)?,
            &filter,
            &page_request(first, after, last, before),
        )
        .await?;
        Ok(WebhookDeliveryConnection::new(page, filter))
    }

    /// Every change kind an endpoint can subscribe to.
    async fn webhook_event_types(&self) -> Vec<&'static str> {
        webhooks::event_types()
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Registers a webhook endpoint for the caller's organization (COORDINATOR or
    /// PARTNER) and returns its signing secret, once.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The URL, change kinds and description.")]
        input: CreateWebhookEndpointInput,
    ) -> Result<CreateWebhookEndpointPayload> {
        let (endpoint, secret) = webhooks::create(
            service(ctx)?,
            url_policy(ctx),
            NewEndpoint {
                url: input.url,
                event_types: input.event_types,
                description: input.description,
            },
        )
        .await?;
        Ok(CreateWebhookEndpointPayload {
            endpoint: WebhookEndpoint(endpoint),
            secret,
        })
    }

    /// Changes an endpoint's URL, change kinds, description, or whether it is active.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint and what changes.")] input: UpdateWebhookEndpointInput,
    ) -> Result<UpdateWebhookEndpointPayload> {
        let id = ids::decode(&input.id, NodeType::WebhookEndpoint, "id")?;
        let endpoint = webhooks::update(
            service(ctx)?,
            url_policy(ctx),
            id,
            EndpointChanges {
                url: input.url,
                event_types: input.event_types,
                description: patch(input.description),
                active: input.active,
                expected_version: input.expected_version,
            },
        )
        .await?;
        Ok(UpdateWebhookEndpointPayload {
            endpoint: WebhookEndpoint(endpoint),
        })
    }

    /// Deletes an endpoint and its delivery log.
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint.")] input: DeleteWebhookEndpointInput,
    ) -> Result<DeleteWebhookEndpointPayload> {
        let id = ids::decode(&input.id, NodeType::WebhookEndpoint, "id")?;
        let deleted = webhooks::delete(service(ctx)?, id).await?;
        Ok(DeleteWebhookEndpointPayload {
            deleted_id: ids::encode(NodeType::WebhookEndpoint, deleted),
        })
    }

    /// Gives an endpoint a new signing secret, returned once; deliveries carry
    /// signatures with both the new and the previous secret for 24 hours, so the
    /// receiver can switch without missing one.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint.")] input: RotateWebhookSecretInput,
    ) -> Result<RotateWebhookSecretPayload> {
        let id = ids::decode(&input.id, NodeType::WebhookEndpoint, "id")?;
        let (endpoint, secret) = webhooks::rotate_secret(service(ctx)?, id).await?;
        Ok(RotateWebhookSecretPayload {
            endpoint: WebhookEndpoint(endpoint),
            secret,
        })
    }

    /// Sends a delivery again from a first attempt, with the same `webhook-id`.
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The delivery.")] input: RedeliverWebhookInput,
    ) -> Result<RedeliverWebhookPayload> {
        let id = ids::decode(&input.delivery_id, NodeType::WebhookDelivery, "deliveryId")?;
        let delivery = webhooks::redeliver(service(ctx)?, id).await?;
        Ok(RedeliverWebhookPayload {
            delivery: WebhookDelivery(delivery),
        })
    }
}
