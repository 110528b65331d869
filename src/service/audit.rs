//! The audit trail: who changed what, written in the transaction of the change.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde::Serialize;
use uuid::Uuid;

use super::ServiceContext;
use crate::entity::audit_entry;
use crate::error::AppResult;

/// Fields never copied into audit entries (participants' personal data).
/// (Participants' snapshots are built by `personal_data::audit_snapshot` from the
/// sealed row; this is the net for any other record that names these fields.)
const REDACTED_FIELDS: &[&str] = &[
    "nationality",
    "date_of_birth",
    "passport_number",
    "dietary_needs",
    "accessibility_needs",
];

/// Serializes a record for the audit log with sensitive fields redacted.
pub fn snapshot<T: Serialize>(record: &T) -> Option<serde_json::Value> {
    let mut value = serde_json::to_value(record).ok()?;
    if let Some(object) = value.as_object_mut() {
        for field in REDACTED_FIELDS {
            if let Some(slot) = object.get_mut(*field)
                && !slot.is_null()
            {
                *slot = serde_json::Value::String("[REDACTED]".to_owned());
            }
        }
    }
    Some(value)
}

/// One change to record.
pub struct Change<'a> {
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Uuid,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// The event the change belongs to, for its activity feed. May be left out
    /// when [`event_of_change`] finds it: for an event, and for records whose
    /// snapshot names their `event_id` (sessions, invitations, applications,
    /// delegations). Participants and presentations must give it.
    pub event_id: Option<Uuid>,
}

/// The event `change` belongs to: the one it names, the event itself, or the
/// `event_id` of its snapshot.
pub fn event_of_change(change: &Change<'_>) -> Option<Uuid> {
    if change.event_id.is_some() {
        return change.event_id;
    }
    if change.entity_type == "Event" {
        return Some(change.entity_id);
    }
    if change.entity_type == "Organization" {
        return None;
    }
    [change.after.as_ref(), change.before.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|s| s.get("event_id")?.as_str()?.parse().ok())
}

fn entry(cx: Option<&ServiceContext>, change: Change<'_>) -> audit_entry::ActiveModel {
    let event_id = event_of_change(&change);
    audit_entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        actor_client_id: Set(cx.and_then(|cx| cx.caller.api_client_id())),
        actor_person_id: Set(cx.and_then(|cx| cx.caller.person_id)),
        actor_organization_id: Set(cx.map(|cx| cx.caller.organization_id)),
        action: Set(change.action.to_owned()),
        entity_type: Set(change.entity_type.to_owned()),
        entity_id: Set(change.entity_id),
        before: Set(change.before),
        after: Set(change.after),
        request_id: Set(cx.and_then(|cx| cx.request_id.clone())),
        created_at: Set(Utc::now()),
        event_id: Set(event_id),
    }
}

/// Writes the audit entry for `change` inside the caller's transaction `txn`.
pub async fn record<C: ConnectionTrait>(
    txn: &C,
    cx: &ServiceContext,
    change: Change<'_>,
) -> AppResult<()> {
    let entry = entry(Some(cx), change);
    if let sea_orm::ActiveValue::Set(id) = entry.id {
        cx.recorded(id);
    }
    entry.insert(txn).await?;
    Ok(())
}

/// Records that `entity_type` `entity_id` went from `before` to `after` (either
/// absent for a creation or removal), snapshots redacted, inside `txn`.
#[allow(clippy::too_many_arguments)]
pub async fn record_change<C: ConnectionTrait, T: Serialize>(
    txn: &C,
    cx: &ServiceContext,
    action: &str,
    entity_type: &str,
    entity_id: Uuid,
    before: Option<&T>,
    after: Option<&T>,
) -> AppResult<()> {
    record(
        txn,
        cx,
        Change {
            action,
            entity_type,
            entity_id,
            before: before.and_then(snapshot),
            after: after.and_then(snapshot),
            event_id: None,
        },
    )
    .await
}

/// Writes many entries in one statement (bulk operations).
pub async fn record_many<C: ConnectionTrait>(
    txn: &C,
    cx: &ServiceContext,
    changes: Vec<Change<'_>>,
) -> AppResult<()> {
    let entries: Vec<_> = changes.into_iter().map(|c| entry(Some(cx), c)).collect();
    for entry in &entries {
        if let sea_orm::ActiveValue::Set(id) = entry.id {
            cx.recorded(id);
        }
    }
    insert_all(txn, entries).await
}

/// Writes entries for changes the system made on its own (the expiry sweep);
/// returns their ids, to announce once the transaction commits.
pub async fn record_system<C: ConnectionTrait>(
    txn: &C,
    changes: Vec<Change<'_>>,
) -> AppResult<Vec<Uuid>> {
    let entries: Vec<_> = changes.into_iter().map(|c| entry(None, c)).collect();
    let ids = entries
        .iter()
        .filter_map(|e| match e.id {
            sea_orm::ActiveValue::Set(id) => Some(id),
            _ => None,
        })
        .collect();
    insert_all(txn, entries).await?;
    Ok(ids)
}

async fn insert_all<C: ConnectionTrait>(
    txn: &C,
    entries: Vec<audit_entry::ActiveModel>,
) -> AppResult<()> {
    // Stay far below SQLite's and PostgreSQL's bound-parameter limits.
    for chunk in entries.chunks(500) {
        audit_entry::Entity::insert_many(chunk.to_vec())
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Which record an audit log is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditedEntity {
    Organization(Uuid),
    Event(Uuid),
    Session(Uuid),
    Invitation(Uuid),
    Application(Uuid),
    Delegation(Uuid),
    Participant(Uuid),
    Presentation(Uuid),
}

/// The event a participation record belongs to; `None` when it no longer exists.
async fn event_of(cx: &ServiceContext, entity: AuditedEntity) -> AppResult<Option<Uuid>> {
    use crate::entity::{application, delegation, invitation, participant, presentation, session};
    let db = &cx.db;
    Ok(match entity {
        AuditedEntity::Organization(_) => None,
        AuditedEntity::Event(id) => Some(id),
        AuditedEntity::Session(id) => session::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|s| s.event_id),
        AuditedEntity::Invitation(id) => invitation::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|i| i.event_id),
        AuditedEntity::Application(id) => application::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|a| a.event_id),
        AuditedEntity::Delegation(id) => delegation::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|d| d.event_id),
        AuditedEntity::Participant(id) => {
            let Some(p) = participant::Entity::find_by_id(id).one(db).await? else {
                return Ok(None);
            };
            delegation::Entity::find_by_id(p.delegation_id)
                .one(db)
                .await?
                .map(|d| d.event_id)
        }
        AuditedEntity::Presentation(id) => {
            let Some(p) = presentation::Entity::find_by_id(id).one(db).await? else {
                return Ok(None);
            };
            session::Entity::find_by_id(p.session_id)
                .one(db)
                .await?
                .map(|s| s.event_id)
        }
    })
}

fn entity_id(entity: AuditedEntity) -> Uuid {
    match entity {
        AuditedEntity::Organization(id)
        | AuditedEntity::Event(id)
        | AuditedEntity::Session(id)
        | AuditedEntity::Invitation(id)
        | AuditedEntity::Application(id)
        | AuditedEntity::Delegation(id)
        | AuditedEntity::Participant(id)
        | AuditedEntity::Presentation(id) => id,
    }
}

/// The audit trail of one record, newest first: for the host's coordinators of its
/// event and co-hosts the host granted VIEW_ACTIVITY, and for administrators of
/// organizations. A co-host without the grant is FORBIDDEN (it sees the event);
/// anyone else gets NOT_FOUND. Entries never hold personal data (see
/// [`snapshot`]), so the grant reveals none.
pub async fn log_for(
    cx: &ServiceContext,
    entity: AuditedEntity,
    page: &super::pagination::PageRequest,
) -> AppResult<super::pagination::Page<audit_entry::Model>> {
    use super::access::{self, EventRelation};
    use super::pagination::{PageArgs, SortDirection, fetch_page};
    use crate::domain::CoHostPermission;
    use crate::error::AppError;
    use sea_orm::{ColumnTrait, QueryFilter};
    const NOT_FOUND: AppError = AppError::NotFound {
        entity: "audit log",
    };
    match entity {
        AuditedEntity::Organization(_) if cx.caller.is_admin() => {}
        AuditedEntity::Organization(_) => return Err(NOT_FOUND),
        other => {
            let event = match event_of(cx, other).await? {
                Some(event_id) => crate::entity::event::Entity::find_by_id(event_id)
                    .one(&cx.db)
                    .await?
                    .ok_or(NOT_FOUND)?,
                None => return Err(NOT_FOUND),
            };
            let allowed = cx.caller.coordinates(event.host_organization_id)
                || access::co_host_may(cx, &event, CoHostPermission::ViewActivity).await?;
            if !allowed {
                return Err(match access::relation_to(&cx.db, cx, &event).await? {
                    EventRelation::CoHost(_) => AppError::forbidden(
                        "the host has not granted your organization the VIEW_ACTIVITY permission for this event",
                    ),
                    EventRelation::Host | EventRelation::Other => NOT_FOUND,
                });
            }
        }
    }
    let ordering = super::lists::by_creation::<audit_entry::Entity>(
        "audit",
        audit_entry::Column::CreatedAt,
        audit_entry::Column::Id,
        SortDirection::Desc,
    );
    let args = PageArgs::parse(page, &ordering.name)?;
    let select =
        audit_entry::Entity::find().filter(audit_entry::Column::EntityId.eq(entity_id(entity)));
    fetch_page(&cx.db, select, &ordering, &args).await
}
