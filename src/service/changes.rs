//! The change feed's vocabulary: which audited changes are announced, under which
//! name, about which record, and to which organizations.
//!
//! Every change that matters already writes an audit entry in its own transaction,
//! so the audit log is the one durable record of "what changed": subscriptions
//! (after commit, across instances through PostgreSQL NOTIFY) and webhooks (from
//! the audit rows as a transactional outbox) both start from an entry and ask this
//! module what it means. Nothing here decides what a subscriber may read of the
//! record: that is the service layer's usual access check, per subscriber.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::ServiceContext;
use crate::entity::{application, audit_entry, delegation, event, event_co_host, invitation};
use crate::error::AppResult;
use crate::feed::FeedItem;

/// The record a change is announced about, as subscriptions and webhooks name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// An invitation changed.
    Invitation,
    /// An application changed.
    Application,
    /// An event, its sessions or its co-hosts changed.
    Event,
    /// A delegation, its participants or its presentations changed.
    Delegation,
}

impl Topic {
    /// The name webhook payloads use for the record's type.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Invitation => "Invitation",
            Topic::Application => "Application",
            Topic::Event => "Event",
            Topic::Delegation => "Delegation",
        }
    }
}

/// Every announced change: audit action, public name (also the webhook event
/// type), and the topic it is announced on.
pub const KINDS: &[(&str, &str, Topic)] = &[
    ("invitation.create", "INVITATION_CREATED", Topic::Invitation),
    (
        "invitation.create_from_application",
        "INVITATION_CREATED",
        Topic::Invitation,
    ),
    ("invitation.send", "INVITATION_SENT", Topic::Invitation),
    (
        "invitation.accept",
        "INVITATION_ACCEPTED",
        Topic::Invitation,
    ),
    (
        "invitation.accept_from_application",
        "INVITATION_ACCEPTED",
        Topic::Invitation,
    ),
    (
        "invitation.decline",
        "INVITATION_DECLINED",
        Topic::Invitation,
    ),
    (
        "invitation.withdraw",
        "INVITATION_WITHDRAWN",
        Topic::Invitation,
    ),
    ("invitation.expire", "INVITATION_EXPIRED", Topic::Invitation),
    (
        "application.submit",
        "APPLICATION_SUBMITTED",
        Topic::Application,
    ),
    (
        "application.resubmit",
        "APPLICATION_SUBMITTED",
        Topic::Application,
    ),
    (
        "application.accept",
        "APPLICATION_ACCEPTED",
        Topic::Application,
    ),
    (
        "application.reject",
        "APPLICATION_REJECTED",
        Topic::Application,
    ),
    (
        "application.withdraw",
        "APPLICATION_WITHDRAWN",
        Topic::Application,
    ),
    ("event.create", "EVENT_CREATED", Topic::Event),
    ("event.publish", "EVENT_PUBLISHED", Topic::Event),
    ("event.update", "EVENT_UPDATED", Topic::Event),
    ("event.reschedule", "EVENT_RESCHEDULED", Topic::Event),
    ("event.postpone", "EVENT_POSTPONED", Topic::Event),
    ("event.close", "EVENT_CLOSED", Topic::Event),
    ("event.complete", "EVENT_COMPLETED", Topic::Event),
    ("event.cancel", "EVENT_CANCELLED", Topic::Event),
    ("event.add_co_host", "CO_HOST_ADDED", Topic::Event),
    ("event.remove_co_host", "CO_HOST_REMOVED", Topic::Event),
    (
        "event.update_co_host_permissions",
        "CO_HOST_PERMISSIONS_CHANGED",
        Topic::Event,
    ),
    ("session.add", "SESSION_ADDED", Topic::Event),
    ("session.update", "SESSION_CHANGED", Topic::Event),
    ("session.remove", "SESSION_REMOVED", Topic::Event),
    ("delegation.create", "DELEGATION_CREATED", Topic::Delegation),
    ("delegation.update", "DELEGATION_CHANGED", Topic::Delegation),
    (
        "delegation.name_head",
        "DELEGATION_CHANGED",
        Topic::Delegation,
    ),
    (
        "delegation.confirm",
        "DELEGATION_CONFIRMED",
        Topic::Delegation,
    ),
    (
        "delegation.cancel",
        "DELEGATION_CANCELLED",
        Topic::Delegation,
    ),
    ("participant.add", "PARTICIPANT_ADDED", Topic::Delegation),
    (
        "participant.update",
        "PARTICIPANT_CHANGED",
        Topic::Delegation,
    ),
    (
        "participant.remove",
        "PARTICIPANT_REMOVED",
        Topic::Delegation,
    ),
    (
        "participant.erase_personal_data",
        "PERSONAL_DATA_ERASED",
        Topic::Delegation,
    ),
    (
        "delegation.erase_personal_data",
        "PERSONAL_DATA_ERASED",
        Topic::Delegation,
    ),
    (
        "presentation.propose",
        "PRESENTATION_PROPOSED",
        Topic::Delegation,
    ),
    (
        "presentation.accept",
        "PRESENTATION_ACCEPTED",
        Topic::Delegation,
    ),
    (
        "presentation.reject",
        "PRESENTATION_REJECTED",
        Topic::Delegation,
    ),
];

/// The public name and topic of an audit action, or `None` when it is not announced
/// (organization and API client administration).
pub fn kind_of(action: &str) -> Option<(&'static str, Topic)> {
    KINDS
        .iter()
        .find(|(a, _, _)| *a == action)
        .map(|(_, kind, topic)| (*kind, *topic))
}

/// Every public change name, once each (webhook endpoints subscribe to these).
pub fn kind_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = KINDS.iter().map(|(_, kind, _)| *kind).collect();
    names.dedup();
    names.sort_unstable();
    names.dedup();
    names
}

/// What one audit entry announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The audit entry it comes from (unique per change: webhook ids derive from it).
    pub audit_id: Uuid,
    /// The public name, e.g. `INVITATION_SENT`.
    pub kind: &'static str,
    pub topic: Topic,
    /// The event the change belongs to.
    pub event_id: Uuid,
    /// The record to refetch: the invitation, application, event or delegation
    /// (a participant's change is announced on its delegation, a session's on its
    /// event).
    pub subject_id: Uuid,
    /// The record the audit entry is about (the participant, session, ...).
    pub entity_type: String,
    pub entity_id: Uuid,
    pub at: DateTime<Utc>,
}

/// A UUID field of an audit snapshot (after the change, or before it for removals).
fn snapshot_id(entry: &audit_entry::Model, field: &str) -> Option<Uuid> {
    [entry.after.as_ref(), entry.before.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|s| s.get(field)?.as_str()?.parse().ok())
}

/// What `entry` announces, or `None` for changes that are not announced. At most
/// one query (a participant's or presentation's delegation).
pub async fn announcement<C: ConnectionTrait>(
    db: &C,
    entry: &audit_entry::Model,
) -> AppResult<Option<Announcement>> {
    let Some((mut kind, topic)) = kind_of(&entry.action) else {
        return Ok(None);
    };
    // `inviteOrganizations(send: true)` creates invitations already sent.
    if entry.action == "invitation.create"
        && entry
            .after
            .as_ref()
            .and_then(|a| a.get("sent_at"))
            .is_some_and(|v| !v.is_null())
    {
        kind = "INVITATION_SENT";
    }
    let (event_id, subject_id) = match entry.entity_type.as_str() {
        "Event" => (Some(entry.entity_id), entry.entity_id),
        "Invitation" | "Application" | "Delegation" => {
            (snapshot_id(entry, "event_id"), entry.entity_id)
        }
        "Session" => {
            let event_id = snapshot_id(entry, "event_id");
            (event_id, event_id.unwrap_or(entry.entity_id))
        }
        "Participant" | "Presentation" => {
            let Some(delegation_id) = snapshot_id(entry, "delegation_id") else {
                return Ok(None);
            };
            let event_id = delegation::Entity::find_by_id(delegation_id)
                .select_only()
                .column(delegation::Column::EventId)
                .into_tuple::<Uuid>()
                .one(db)
                .await?;
            (event_id, delegation_id)
        }
        _ => (None, entry.entity_id),
    };
    let Some(event_id) = event_id else {
        return Ok(None);
    };
    Ok(Some(Announcement {
        audit_id: entry.id,
        kind,
        topic,
        event_id,
        subject_id,
        entity_type: entry.entity_type.clone(),
        entity_id: entry.entity_id,
        at: entry.created_at,
    }))
}

/// The organizations that may see the record a change is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience {
    /// Every organization may see it (a change to a published event).
    pub everyone: bool,
    /// Organizations that may see it (host, co-hosts, the record's own
    /// organization); coordinators and partners among their clients each see it
    /// as their role allows.
    pub organizations: Vec<Uuid>,
}

impl Audience {
    /// Whether `organization_id`'s clients may be told about the change.
    pub fn includes(&self, organization_id: Uuid) -> bool {
        self.everyone || self.organizations.contains(&organization_id)
    }
}

/// Who may see the subject of `announcement` now. A few indexed queries; an
/// empty audience when the event is gone.
pub async fn audience<C: ConnectionTrait>(
    db: &C,
    announcement: &Announcement,
) -> AppResult<Audience> {
    let Some(event) = event::Entity::find_by_id(announcement.event_id)
        .one(db)
        .await?
    else {
        return Ok(Audience::default());
    };
    let mut organizations = vec![event.host_organization_id];
    organizations.extend(
        event_co_host::Entity::find()
            .select_only()
            .column(event_co_host::Column::OrganizationId)
            .filter(event_co_host::Column::EventId.eq(event.id))
            .into_tuple::<Uuid>()
            .all(db)
            .await?,
    );
    let id = announcement.subject_id;
    let mut everyone = false;
    match announcement.topic {
        // A created event is a draft, whatever it became since.
        // What a co-host may do concerns the host and the co-hosts only.
        Topic::Event => {
            everyone = !matches!(
                announcement.kind,
                "EVENT_CREATED" | "CO_HOST_PERMISSIONS_CHANGED"
            ) && event.status != crate::domain::EventStatus::Draft;
        }
        // A draft does not exist for the invitee (nor does a draft withdrawn before
        // it was sent), even if it has been sent by the time this is asked.
        Topic::Invitation if announcement.kind == "INVITATION_CREATED" => {}
        Topic::Invitation => {
            let invitee = invitation::Entity::find_by_id(id)
                .one(db)
                .await?
                .filter(|i| i.sent_at.is_some())
                .map(|i| i.organization_id);
            organizations.extend(invitee);
        }
        Topic::Application => organizations.extend(
            application::Entity::find_by_id(id)
                .select_only()
                .column(application::Column::OrganizationId)
                .into_tuple::<Uuid>()
                .one(db)
                .await?,
        ),
        Topic::Delegation => organizations.extend(
            delegation::Entity::find_by_id(id)
                .select_only()
                .column(delegation::Column::OrganizationId)
                .into_tuple::<Uuid>()
                .one(db)
                .await?,
        ),
    }
    organizations.sort_unstable();
    organizations.dedup();
    Ok(Audience {
        everyone,
        organizations,
    })
}

/// A change a subscriber follows, as heard.
#[derive(Debug, Clone)]
pub enum Heard {
    /// `kind` happened to the record `subject_id` of event `event_id`; the
    /// subscriber reads the record through the usual access checks.
    Change {
        kind: &'static str,
        at: DateTime<Utc>,
        subject_id: Uuid,
        event_id: Uuid,
    },
    /// Changes may have been missed (the subscriber fell behind, or an instance
    /// lost its database listener): refetch.
    Resync,
}

/// The changes on `topic` (of one event when `event_id` is given) that the
/// caller's organization may be told about, in commit order, from now on.
///
/// This only narrows the feed by organization; whether the caller may read the
/// record (its role, the record's state now) is decided when it is read, by the
/// same service functions as queries.
pub fn follow(
    cx: &ServiceContext,
    topic: Topic,
    event_id: Option<Uuid>,
) -> impl futures::Stream<Item = Heard> + Send + 'static + use<> {
    use tokio::sync::broadcast::error::RecvError;
    let organization_id = cx.caller().organization_id;
    let receiver = cx.feed.subscribe();
    futures::stream::unfold(receiver, move |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(FeedItem::Change(notice)) => {
                    let a = &notice.announcement;
                    if a.topic == topic
                        && event_id.is_none_or(|id| id == a.event_id)
                        && notice.audience.includes(organization_id)
                    {
                        let heard = Heard::Change {
                            kind: a.kind,
                            at: a.at,
                            subject_id: a.subject_id,
                            event_id: a.event_id,
                        };
                        return Some((heard, receiver));
                    }
                }
                Ok(FeedItem::Resync) | Err(RecvError::Lagged(_)) => {
                    return Some((Heard::Resync, receiver));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_upper_snake_case_and_every_action_is_unique() {
        let mut actions: Vec<&str> = KINDS.iter().map(|(a, _, _)| *a).collect();
        let count = actions.len();
        actions.sort_unstable();
        actions.dedup();
        assert_eq!(actions.len(), count, "an action is listed twice");
        for name in kind_names() {
            assert!(
                name.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{name}"
            );
        }
        assert_eq!(kind_of("invitation.send").unwrap().0, "INVITATION_SENT");
        assert!(kind_of("organization.update").is_none());
    }
}
