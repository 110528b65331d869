//! Batch loaders: each relation field reads through one of these so that a list of
//! N objects costs one query per relation, not one per object.
//!
//! Loaders are built per request around the caller's [`ServiceContext`], so they
//! apply the same visibility rules as direct reads (they call the same service
//! functions), and their cache never leaks one caller's view to another.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::{Error, Request};
use uuid::Uuid;

use crate::entity::{
    delegation, event, event_date_change, invitation, organization, organization_external_id,
    participant, presentation, session,
};
use crate::service::{
    ServiceContext, delegations, directory, events, invitations, organizations, participants,
    presentations, sessions,
};

/// A loader of records by their id.
macro_rules! by_id {
    ($name:ident, $model:ty, $fetch:path, $doc:literal) => {
        #[doc = $doc]
        pub struct $name(ServiceContext);

        impl Loader<Uuid> for $name {
            type Value = $model;
            type Error = Error;

            async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, $model>, Error> {
                Ok($fetch(&self.0, keys)
                    .await?
                    .into_iter()
                    .map(|m| (m.id, m))
                    .collect())
            }
        }
    };
}

/// A loader of the records belonging to each parent id, in the service's order.
macro_rules! by_parent {
    ($name:ident, $model:ty, $fetch:path, $parent:ident, $doc:literal) => {
        #[doc = $doc]
        pub struct $name(ServiceContext);

        impl Loader<Uuid> for $name {
            type Value = Vec<$model>;
            type Error = Error;

            async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<$model>>, Error> {
                let mut grouped: HashMap<Uuid, Vec<$model>> = HashMap::new();
                for row in $fetch(&self.0, keys).await? {
                    grouped.entry(row.$parent).or_default().push(row);
                }
                Ok(grouped)
            }
        }
    };
}

by_id!(
    OrganizationLoader,
    organization::Model,
    organizations::get_many,
    "Organizations by id."
);
by_id!(
    EventLoader,
    event::Model,
    events::get_many,
    "Events by id, only those the caller may see."
);
by_id!(
    SessionLoader,
    session::Model,
    sessions::get_many,
    "Sessions by id."
);
by_id!(
    InvitationLoader,
    invitation::Model,
    invitations::get_many,
    "Invitations by id."
);
by_id!(
    DelegationLoader,
    delegation::Model,
    delegations::get_many,
    "Delegations by id."
);
by_id!(
    ParticipantLoader,
    participant::Model,
    participants::get_many,
    "Participants by id."
);
by_parent!(
    DateChangeLoader,
    event_date_change::Model,
    events::date_changes_of,
    event_id,
    "The date history of events."
);
by_parent!(
    SessionsOfEvent,
    session::Model,
    sessions::of_events,
    event_id,
    "The agenda of events."
);
by_parent!(
    DelegationOfInvitation,
    delegation::Model,
    delegations::of_invitations,
    invitation_id,
    "The delegation of accepted invitations."
);
by_parent!(
    ParticipantsOfDelegation,
    participant::Model,
    participants::of_delegations,
    delegation_id,
    "The members of delegations."
);
by_parent!(
    PresentationsOfSession,
    presentation::Model,
    presentations::of_sessions,
    session_id,
    "The visible presentations of sessions."
);
by_parent!(
    PresentationsOfDelegation,
    presentation::Model,
    presentations::of_delegations,
    delegation_id,
    "The presentations of delegations."
);

by_parent!(
    ExternalIdsOfOrganization,
    organization_external_id::Model,
    directory::external_ids_of,
    organization_id,
    "The external ids of organizations, by source."
);

/// The co-hosts of events (organization and permissions), by event id: one
/// query for a page of events.
pub struct CoHostLoader(ServiceContext);

impl Loader<Uuid> for CoHostLoader {
    type Value = Vec<events::CoHost>;
    type Error = Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut grouped: HashMap<Uuid, Self::Value> = HashMap::new();
        for co_host in events::co_hosts_of(&self.0, keys).await? {
            grouped
                .entry(co_host.link.event_id)
                .or_default()
                .push(co_host);
        }
        Ok(grouped)
    }
}

/// The participation summaries of events, by event id (four grouped queries for
/// a page of events).
pub struct SummaryLoader(ServiceContext);

impl Loader<Uuid> for SummaryLoader {
    type Value = crate::service::summary::Summary;
    type Error = Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        Ok(crate::service::summary::of_events(&self.0, keys).await?)
    }
}

/// A loader with its per-request cache: the same record asked for twice in one
/// request is read once, and prefetched records are fed into it.
pub type Cached<L> = DataLoader<L, HashMapCache>;

/// A request's loader around `l`: batching within `window`, remembering what it
/// loaded when `cache` (see [`attach`] and [`attach_uncached`]).
pub(super) fn batched<L: Send + Sync + 'static>(
    l: L,
    window: std::time::Duration,
    cache: bool,
) -> Cached<L> {
    let loader = DataLoader::with_cache(l, tokio::spawn, HashMapCache::default()).delay(window);
    loader.enable_all_cache(cache);
    loader
}

/// Adds the caller's context and a fresh set of loaders to `request`.
///
/// Each loader waits `window` to gather keys before it queries: sibling fields of
/// a list are resolved concurrently and enqueue their keys within it. (async-graphql's
/// default, 1 ms, was measured to split a 50-row list into two batches in debug
/// builds.) Lists prefetch what their selection needs (see `prefetch`), so the
/// common paths never wait for the window.
pub fn attach(request: Request, cx: ServiceContext, window: std::time::Duration) -> Request {
    attach_with(request, cx, window, true)
}

/// Like [`attach`], for an operation answered many times (a subscription): its
/// loaders still batch within one answer but remember nothing across answers, so
/// every message shows the records as they are now.
pub fn attach_uncached(
    request: Request,
    cx: ServiceContext,
    window: std::time::Duration,
) -> Request {
    attach_with(request, cx, window, false)
}

fn attach_with(
    request: Request,
    cx: ServiceContext,
    window: std::time::Duration,
    cache: bool,
) -> Request {
    let request = request
        .data(batched(OrganizationLoader(cx.clone()), window, cache))
        .data(batched(EventLoader(cx.clone()), window, cache))
        .data(batched(SessionLoader(cx.clone()), window, cache))
        .data(batched(InvitationLoader(cx.clone()), window, cache))
        .data(batched(DelegationLoader(cx.clone()), window, cache))
        .data(batched(ParticipantLoader(cx.clone()), window, cache))
        .data(batched(DateChangeLoader(cx.clone()), window, cache))
        .data(batched(SessionsOfEvent(cx.clone()), window, cache))
        .data(batched(DelegationOfInvitation(cx.clone()), window, cache))
        .data(batched(ParticipantsOfDelegation(cx.clone()), window, cache))
        .data(batched(PresentationsOfSession(cx.clone()), window, cache))
        .data(batched(
            PresentationsOfDelegation(cx.clone()),
            window,
            cache,
        ))
        .data(batched(CoHostLoader(cx.clone()), window, cache))
        .data(batched(
            ExternalIdsOfOrganization(cx.clone()),
            window,
            cache,
        ))
        .data(batched(SummaryLoader(cx.clone()), window, cache));
    let request = super::activity::attach(request, &cx, window, cache);
    super::nested::attach(request, &cx, window, cache).data(cx)
}
