//! Batch loaders: each relation field reads through one of these so that a list of
//! N objects costs one query per relation, not one per object.
//!
//! Loaders are built per request around the caller's [`ServiceContext`], so they
//! apply the same visibility rules as direct reads, and their cache never leaks one
//! caller's view to another.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Error, Request};
use uuid::Uuid;

use crate::entity::{event, event_date_change, organization};
use crate::service::{ServiceContext, events, organizations};

/// Organizations by id.
pub struct OrganizationLoader(ServiceContext);
/// Events by id, only those the caller may see.
pub struct EventLoader(ServiceContext);
/// The co-host organizations of events, by event id.
pub struct CoHostLoader(ServiceContext);
/// The date history of events, by event id.
pub struct DateChangeLoader(ServiceContext);

impl Loader<Uuid> for OrganizationLoader {
    type Value = organization::Model;
    type Error = Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = organizations::get_many(&self.0, keys).await?;
        Ok(rows.into_iter().map(|o| (o.id, o)).collect())
    }
}

impl Loader<Uuid> for EventLoader {
    type Value = event::Model;
    type Error = Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = events::get_many(&self.0, keys).await?;
        Ok(rows.into_iter().map(|e| (e.id, e)).collect())
    }
}

impl Loader<Uuid> for CoHostLoader {
    type Value = Vec<organization::Model>;
    type Error = Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut grouped: HashMap<Uuid, Self::Value> = HashMap::new();
        for (event_id, org) in events::co_hosts_of(&self.0, keys).await? {
            grouped.entry(event_id).or_default().push(org);
        }
        Ok(grouped)
    }
}

impl Loader<Uuid> for DateChangeLoader {
    type Value = Vec<event_date_change::Model>;
    type Error = Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut grouped: HashMap<Uuid, Self::Value> = HashMap::new();
        for change in events::date_changes_of(&self.0, keys).await? {
            grouped.entry(change.event_id).or_default().push(change);
        }
        Ok(grouped)
    }
}

/// Adds the caller's context and a fresh set of loaders to `request`.
pub fn attach(request: Request, cx: ServiceContext) -> Request {
    let spawn = |f| tokio::spawn(f);
    request
        .data(DataLoader::new(OrganizationLoader(cx.clone()), spawn))
        .data(DataLoader::new(EventLoader(cx.clone()), spawn))
        .data(DataLoader::new(CoHostLoader(cx.clone()), spawn))
        .data(DataLoader::new(DateChangeLoader(cx.clone()), spawn))
        .data(cx)
}
