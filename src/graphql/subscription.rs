//! Subscriptions: committed changes, as each subscriber may see them now.
//!
//! The service layer narrows the feed to the caller's organization
//! ([`changes::follow`]); each message then reads the record through the same
//! service function as `node(id:)`, so access rules and redaction are decided per
//! subscriber per message. A record the subscriber may not (or may no longer) read
//! is not sent at all.

use super::scalars::IsoDateTime;
use async_graphql::{Context, Enum, ID, Result, SimpleObject, Subscription};
use futures::{Stream, StreamExt};
use uuid::Uuid;

use super::application::Application;
use super::context::service;
use super::delegation::Delegation;
use super::event::Event;
use super::ids::{self, NodeType};
use super::invitation::Invitation;
use crate::error::AppError;
use crate::service::changes::{self, Heard, Topic};
use crate::service::{ServiceContext, applications, delegations, events, invitations};

/// What happened. `RESYNC` means changes may have been missed (the subscriber
/// fell behind, or the server lost its database listener for a moment): refetch
/// what you follow, then carry on.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// A host drafted an invitation (hosts only: drafts do not exist for invitees).
    InvitationCreated,
    /// An invitation was sent to its organization.
    InvitationSent,
    /// The invited organization accepted.
    InvitationAccepted,
    /// The invited organization declined.
    InvitationDeclined,
    /// The host (or a co-host it allowed) withdrew the invitation.
    InvitationWithdrawn,
    /// The invitation passed its respond-by date unanswered.
    InvitationExpired,
    /// An organization applied (or applied again).
    ApplicationSubmitted,
    /// The host (or a co-host it allowed) accepted an application.
    ApplicationAccepted,
    /// The host (or a co-host it allowed) rejected an application.
    ApplicationRejected,
    /// The applicant withdrew its application.
    ApplicationWithdrawn,
    /// A host created an event (a draft: hosts only).
    EventCreated,
    /// The event was published.
    EventPublished,
    /// The event's details changed.
    EventUpdated,
    /// The event's dates changed (see `Event.dateChanges`).
    EventRescheduled,
    /// The event was postponed.
    EventPostponed,
    /// The event closed (no more answers or applications).
    EventClosed,
    /// The event took place.
    EventCompleted,
    /// The event was cancelled.
    EventCancelled,
    /// A co-host was added to the event.
    CoHostAdded,
    /// A co-host was removed from the event.
    CoHostRemoved,
    /// The host changed what a co-host may do (host and co-hosts only).
    CoHostPermissionsChanged,
    /// A session was added to the event's agenda.
    SessionAdded,
    /// A session of the event changed.
    SessionChanged,
    /// A session was removed from the event's agenda.
    SessionRemoved,
    /// A delegation was formed (an invitation was accepted).
    DelegationCreated,
    /// The delegation's details or head changed.
    DelegationChanged,
    /// The delegation confirmed its members.
    DelegationConfirmed,
    /// The delegation was cancelled.
    DelegationCancelled,
    /// A participant joined the delegation.
    ParticipantAdded,
    /// A participant of the delegation changed.
    ParticipantChanged,
    /// A participant left the delegation (refetch its participants).
    ParticipantRemoved,
    /// The delegation proposed a presentation.
    PresentationProposed,
    /// The host (or a co-host it allowed) accepted a presentation.
    PresentationAccepted,
    /// The host (or a co-host it allowed) rejected a presentation.
    PresentationRejected,
    /// Changes may have been missed: refetch.
    Resync,
}

impl ChangeKind {
    fn from_name(name: &str) -> Option<Self> {
        use async_graphql::resolver_utils::EnumType;
        Self::items()
            .iter()
            .find(|item| item.name == name)
            .map(|item| item.value)
    }
}

macro_rules! change_type {
    ($name:ident, $field:ident, $field_id:ident, $object:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(SimpleObject)]
        pub struct $name {
            /// What happened.
            kind: ChangeKind,
            /// When it was committed; null for `RESYNC`.
            at: Option<IsoDateTime>,
            /// Global id of the event it belongs to; null for `RESYNC`.
            event_id: Option<ID>,
            /// Global id of the changed record; null for `RESYNC`.
            $field_id: Option<ID>,
            /// The record as the subscriber may see it now; null for `RESYNC`.
            $field: Option<$object>,
        }

        impl $name {
            fn resync() -> Self {
                Self {
                    kind: ChangeKind::Resync,
                    at: None,
                    event_id: None,
                    $field_id: None,
                    $field: None,
                }
            }
        }
    };
}

change_type!(
    InvitationChange,
    invitation,
    invitation_id,
    Invitation,
    "A change to an invitation."
);
change_type!(
    ApplicationChange,
    application,
    application_id,
    Application,
    "A change to an application."
);
/// A change to an event, its agenda or its co-hosts.
#[derive(SimpleObject)]
pub struct EventChange {
    /// What happened.
    kind: ChangeKind,
    /// When it was committed; null for `RESYNC`.
    at: Option<IsoDateTime>,
    /// Global id of the changed event; null for `RESYNC`.
    event_id: Option<ID>,
    /// The event as the subscriber may see it now; null for `RESYNC`.
    event: Option<Event>,
}
change_type!(
    DelegationChange,
    delegation,
    delegation_id,
    Delegation,
    "A change to a delegation, its participants or its presentations."
);

/// A heard change with the record read as the subscriber.
struct Read<T> {
    kind: ChangeKind,
    at: IsoDateTime,
    event_id: Uuid,
    subject_id: Uuid,
    record: T,
}

/// One heard change, once the subscriber's access to it is known.
enum Outcome<T> {
    Read(Read<T>),
    Resync,
    /// Not (or no longer) the subscriber's to read: nothing is sent.
    Hidden,
    Failed(AppError),
}

/// Follows `topic` for the caller, reading each changed record with `read`;
/// `None` items mean RESYNC.
fn follow<T, F, Fut>(
    ctx: &Context<'_>,
    topic: Topic,
    event_id: Option<ID>,
    read: F,
) -> Result<impl Stream<Item = Result<Option<Read<T>>>> + use<T, F, Fut>>
where
    T: Send + 'static,
    F: Fn(ServiceContext, Uuid) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = crate::error::AppResult<T>> + Send,
{
    let cx = service(ctx)?.clone();
    let event_id = ids::decode_optional(event_id.as_ref(), NodeType::Event, "eventId")?;
    let heard = changes::follow(&cx, topic, event_id);
    Ok(heard
        .then(move |heard| {
            let cx = cx.clone();
            let read = read.clone();
            async move {
                let Heard::Change {
                    kind,
                    at,
                    subject_id,
                    event_id,
                } = heard
                else {
                    return Outcome::Resync;
                };
                match read(cx, subject_id).await {
                    Ok(record) => Outcome::Read(Read {
                        kind: ChangeKind::from_name(kind).unwrap_or(ChangeKind::Resync),
                        at: at.into(),
                        event_id,
                        subject_id,
                        record,
                    }),
                    Err(AppError::NotFound { .. } | AppError::Forbidden { .. }) => Outcome::Hidden,
                    Err(err) => Outcome::Failed(err),
                }
            }
        })
        .filter_map(|outcome| {
            std::future::ready(match outcome {
                Outcome::Read(read) => Some(Ok(Some(read))),
                Outcome::Resync => Some(Ok(None)),
                Outcome::Hidden => None,
                Outcome::Failed(err) => Some(Err(err.into())),
            })
        }))
}

#[derive(Default)]
pub struct SubscriptionRoot;

/// Every subscription: committed changes, each as the subscriber may see it now.
#[Subscription]
impl SubscriptionRoot {
    /// Invitations the caller may see, as they are sent, answered, withdrawn or
    /// expire: a partner hears those addressed to its organization, a coordinator
    /// also those of the events it hosts or co-hosts. Without `eventId`: every
    /// event.
    async fn invitation_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this event's invitations.")] event_id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<InvitationChange>> + use<>> {
        let stream = follow(ctx, Topic::Invitation, event_id, |cx, id| async move {
            invitations::get(&cx, id).await
        })?;
        Ok(stream.map(|item| {
            Ok(match item? {
                None => InvitationChange::resync(),
                Some(read) => InvitationChange {
                    kind: read.kind,
                    at: Some(read.at),
                    event_id: Some(ids::encode(NodeType::Event, read.event_id)),
                    invitation_id: Some(ids::encode(NodeType::Invitation, read.subject_id)),
                    invitation: Some(Invitation(read.record)),
                },
            })
        }))
    }

    /// Applications the caller may see, as they are submitted, decided or
    /// withdrawn: the applicant's own, and those to the events the caller's
    /// organization hosts or co-hosts. Without `eventId`: every event.
    async fn application_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this event's applications.")] event_id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<ApplicationChange>> + use<>> {
        let stream = follow(ctx, Topic::Application, event_id, |cx, id| async move {
            applications::get(&cx, id).await
        })?;
        Ok(stream.map(|item| {
            Ok(match item? {
                None => ApplicationChange::resync(),
                Some(read) => ApplicationChange {
                    kind: read.kind,
                    at: Some(read.at),
                    event_id: Some(ids::encode(NodeType::Event, read.event_id)),
                    application_id: Some(ids::encode(NodeType::Application, read.subject_id)),
                    application: Some(Application(read.record)),
                },
            })
        }))
    }

    /// Events the caller may see, as they are published, changed, rescheduled,
    /// postponed, closed, completed or cancelled, and changes to their agenda and
    /// co-hosts. Without `eventId`: every event the caller may see (all published
    /// ones, and drafts of its own organization).
    async fn event_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this event.")] event_id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<EventChange>> + use<>> {
        let stream = follow(ctx, Topic::Event, event_id, |cx, id| async move {
            events::get(&cx, id).await
        })?;
        Ok(stream.map(|item| {
            Ok(match item? {
                None => EventChange {
                    kind: ChangeKind::Resync,
                    at: None,
                    event_id: None,
                    event: None,
                },
                Some(read) => EventChange {
                    kind: read.kind,
                    at: Some(read.at),
                    event_id: Some(ids::encode(NodeType::Event, read.subject_id)),
                    event: Some(Event(read.record)),
                },
            })
        }))
    }

    /// Delegations the caller may see, as they are formed, changed, confirmed or
    /// cancelled, and as their participants and presentations change: the
    /// caller's own delegations, and those at events it hosts or co-hosts.
    /// Without `eventId`: every event.
    async fn delegation_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this event's delegations.")] event_id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<DelegationChange>> + use<>> {
        let stream = follow(ctx, Topic::Delegation, event_id, |cx, id| async move {
            delegations::get(&cx, id).await
        })?;
        Ok(stream.map(|item| {
            Ok(match item? {
                None => DelegationChange::resync(),
                Some(read) => DelegationChange {
                    kind: read.kind,
                    at: Some(read.at),
                    event_id: Some(ids::encode(NodeType::Event, read.event_id)),
                    delegation_id: Some(ids::encode(NodeType::Delegation, read.subject_id)),
                    delegation: Some(Delegation(read.record)),
                },
            })
        }))
    }
}
