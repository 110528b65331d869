//! Batch loaders: each relation field reads through one of these so that a list of
//! N objects costs one query per relation, not one per object.
//!
//! Loaders are built per request around the caller's [`ServiceContext`], so they
//! apply the same visibility rules as direct reads (they call the same service
//! functions), and their cache never leaks one caller's view to another.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Error, Request};
use uuid::Uuid;

use crate::entity::{
    application, delegation, event, event_date_change, invitation, organization, participant,
    presentation, session,
};
use crate::service::{
    ServiceContext, applications, delegations, events, invitations, organizations, participants,
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
    InvitationsOfEvent,
    invitation::Model,
    invitations::of_events,
    event_id,
    "The visible invitations of events."
);
by_parent!(
    ApplicationsOfEvent,
    application::Model,
    applications::of_events,
    event_id,
    "The visible applications of events."
);
by_parent!(
    DelegationsOfEvent,
    delegation::Model,
    delegations::of_events,
    event_id,
    "The visible delegations of events."
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

/// The co-host organizations of events, by event id.
pub struct CoHostLoader(ServiceContext);

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

/// How long a loader waits to gather keys before it queries. Sibling fields of a
/// list are resolved concurrently and enqueue their keys within this window; the
/// default 1 ms was measured to split a 50-row list into two batches in debug
/// builds, 2 ms kept it whole.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(2);

/// Adds the caller's context and a fresh set of loaders to `request`.
pub fn attach(request: Request, cx: ServiceContext) -> Request {
    fn loader<L>(l: L) -> DataLoader<L>
    where
        L: Loader<Uuid> + Send + Sync + 'static,
    {
        DataLoader::new(l, tokio::spawn).delay(BATCH_WINDOW)
    }
    request
        .data(loader(OrganizationLoader(cx.clone())))
        .data(loader(EventLoader(cx.clone())))
        .data(loader(SessionLoader(cx.clone())))
        .data(loader(InvitationLoader(cx.clone())))
        .data(loader(DelegationLoader(cx.clone())))
        .data(loader(ParticipantLoader(cx.clone())))
        .data(loader(DateChangeLoader(cx.clone())))
        .data(loader(SessionsOfEvent(cx.clone())))
        .data(loader(InvitationsOfEvent(cx.clone())))
        .data(loader(ApplicationsOfEvent(cx.clone())))
        .data(loader(DelegationsOfEvent(cx.clone())))
        .data(loader(DelegationOfInvitation(cx.clone())))
        .data(loader(ParticipantsOfDelegation(cx.clone())))
        .data(loader(PresentationsOfSession(cx.clone())))
        .data(loader(PresentationsOfDelegation(cx.clone())))
        .data(loader(CoHostLoader(cx.clone())))
        .data(cx)
}
