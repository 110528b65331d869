//! Fan-out: from the audit log (the transactional outbox) to one delivery per
//! interested endpoint.
//!
//! A mutation's audit entry commits or rolls back with the mutation, and a trigger
//! queues the entry in `webhook_outbox` in the same statement, so a change that
//! never happened is never announced and the mutation pays only for a one-UUID
//! queue row. This worker claims queued entries (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so instances share the work without waiting for each other; SQLite
//! has one process and takes its write lock with `BEGIN IMMEDIATE`), creates the
//! deliveries and deletes the queue rows, all in one transaction: a crash in
//! between leaves the entries queued and the next run redoes them, while the
//! unique (endpoint, entry) index keeps that from creating a delivery twice.
//! The audit log itself is never written again (see the migration
//! `webhook_outbox_table` for what stamping it cost).

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::{LockBehavior, LockType, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::domain::WebhookDeliveryStatus;
use crate::entity::{
    audit_entry, event_co_host, webhook_delivery, webhook_endpoint, webhook_outbox,
};
use crate::error::AppResult;
use crate::service::changes::{self, Announcement, Audience, Topic};

/// What one fan-out transaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FannedOut {
    /// Deliveries created.
    pub deliveries: usize,
    /// Whether the batch was full, so more entries may be waiting.
    pub more: bool,
}

/// Fans out at most `batch` queued audit entries (ten times as many when no
/// endpoint is active: they are then only dequeued, unread).
pub(crate) async fn fan_out_batch(db: &DatabaseConnection, batch: u64) -> AppResult<FannedOut> {
    let txn = crate::service::begin_write(db).await?;
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Active.eq(true))
        .all(&txn)
        .await?;
    let limit = if endpoints.is_empty() {
        batch * 10
    } else {
        batch
    };
    // Audit ids are UUIDv7: their order is the order the changes were made in.
    let claimed: Vec<Uuid> = webhook_outbox::Entity::find()
        .select_only()
        .column(webhook_outbox::Column::AuditEntryId)
        .order_by_asc(webhook_outbox::Column::AuditEntryId)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .into_tuple()
        .all(&txn)
        .await?;
    if claimed.is_empty() {
        txn.rollback().await?;
        return Ok(FannedOut::default());
    }
    let mut deliveries = Vec::new();
    if !endpoints.is_empty() {
        // Nobody listens otherwise: the entries are only dequeued, unread.
        for chunk in claimed.chunks(500) {
            let mut entries = audit_entry::Entity::find()
                .filter(audit_entry::Column::Id.is_in(chunk.iter().copied()))
                .all(&txn)
                .await?;
            entries.sort_by_key(|e| e.id);
            for entry in &entries {
                deliveries.extend(deliveries_for(&txn, entry, &endpoints).await?);
            }
        }
    }
    let outcome = FannedOut {
        deliveries: deliveries.len(),
        more: claimed.len() as u64 == limit,
    };
    for chunk in deliveries.chunks(500) {
        webhook_delivery::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    webhook_delivery::Column::EndpointId,
                    webhook_delivery::Column::AuditEntryId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    for chunk in claimed.chunks(1000) {
        webhook_outbox::Entity::delete_many()
            .filter(webhook_outbox::Column::AuditEntryId.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(outcome)
}

/// The deliveries one audit entry makes: one per active endpoint that subscribes
/// to its kind and whose organization may see what changed.
async fn deliveries_for(
    txn: &DatabaseTransaction,
    entry: &audit_entry::Model,
    endpoints: &[webhook_endpoint::Model],
) -> AppResult<Vec<webhook_delivery::ActiveModel>> {
    let Some(announcement) = changes::announcement(txn, entry).await? else {
        return Ok(Vec::new());
    };
    // An endpoint receives the changes made after it was registered (the fan-out
    // may run a little later than the change).
    let interested: Vec<&webhook_endpoint::Model> = endpoints
        .iter()
        .filter(|e| e.created_at <= entry.created_at && subscribes(e, announcement.kind))
        .collect();
    if interested.is_empty() {
        return Ok(Vec::new());
    }
    let audience = audience_at_change(txn, &announcement, entry).await?;
    let payload = payload(&announcement, entry);
    let now = Utc::now();
    Ok(interested
        .into_iter()
        .filter(|e| audience.includes(e.organization_id))
        .map(|endpoint| webhook_delivery::ActiveModel {
            id: Set(Uuid::now_v7()),
            endpoint_id: Set(endpoint.id),
            event_type: Set(announcement.kind.to_owned()),
            payload: Set(payload.clone()),
            status: Set(WebhookDeliveryStatus::Pending),
            attempts: Set(0),
            next_attempt_at: Set(now),
            last_attempt_at: Set(None),
            last_status_code: Set(None),
            last_error: Set(None),
            delivered_at: Set(None),
            created_at: Set(now),
            audit_entry_id: Set(Some(entry.id)),
            response_time_ms: Set(None),
            lease_id: Set(None),
            leased_until: Set(None),
        })
        .collect())
}

/// Whether `endpoint` asked for changes of `kind` (an empty list asks for all).
pub(crate) fn subscribes(endpoint: &webhook_endpoint::Model, kind: &str) -> bool {
    match endpoint.event_types.as_array() {
        Some(kinds) if !kinds.is_empty() => kinds.iter().any(|k| k.as_str() == Some(kind)),
        _ => true,
    }
}

/// A field of the entry's snapshot after the change, or before it when the
/// "after" does not carry it (a removal; an expiry records only the new status).
/// `Some(Null)` means the field was there and empty.
fn snapshot_field<'a>(entry: &'a audit_entry::Model, field: &str) -> Option<&'a Value> {
    [entry.after.as_ref(), entry.before.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|snapshot| snapshot.get(field))
}

/// Who may see the change as it was when it happened.
///
/// [`changes::audience`] answers for the record as it is now, but the fan-out may
/// run after later changes: a draft invitation created and sent a moment later
/// must still not reach the invitee as "created", nor a change to a draft event
/// everyone once the event is published. The snapshot narrows it.
async fn audience_at_change(
    txn: &DatabaseTransaction,
    announcement: &Announcement,
    entry: &audit_entry::Model,
) -> AppResult<Audience> {
    let mut audience = changes::audience(txn, announcement).await?;
    match announcement.topic {
        Topic::Event => {
            if snapshot_field(entry, "status").and_then(Value::as_str) == Some("DRAFT") {
                audience.everyone = false;
            }
        }
        Topic::Invitation => {
            let was_draft = snapshot_field(entry, "sent_at").is_some_and(Value::is_null);
            let invitee = snapshot_field(entry, "organization_id")
                .and_then(Value::as_str)
                .and_then(|id| id.parse::<Uuid>().ok());
            if let (true, Some(invitee)) = (was_draft, invitee) {
                let co_hosts = event_co_host::Entity::find_by_id((announcement.event_id, invitee))
                    .one(txn)
                    .await?;
                if co_hosts.is_none() {
                    audience.organizations.retain(|org| *org != invitee);
                }
            }
        }
        Topic::Application | Topic::Delegation => {}
    }
    Ok(audience)
}

/// A global id as `node(id:)` takes it, and the raw UUID beside it.
fn ids(type_name: &str, id: Uuid) -> (String, String) {
    (crate::graphql::global_id(type_name, id), id.to_string())
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The delivery's body, in the Standard Webhooks shape `{type, timestamp, data}`.
///
/// It names the change and carries the ids to refetch with `node(id:)` (and the
/// raw UUIDs), plus a summary taken from a fixed list of non-personal fields, so
/// no participant's data can ever reach a receiver through it.
pub(crate) fn payload(announcement: &Announcement, entry: &audit_entry::Model) -> Value {
    let (event_id, event_uuid) = ids("Event", announcement.event_id);
    let subject_type = announcement.topic.as_str();
    let (subject_id, subject_uuid) = ids(subject_type, announcement.subject_id);
    let (entity_id, entity_uuid) = ids(&announcement.entity_type, announcement.entity_id);
    json!({
        "type": announcement.kind,
        "timestamp": timestamp(announcement.at),
        "data": {
            "eventId": event_id,
            "eventUuid": event_uuid,
            "subjectType": subject_type,
            "subjectId": subject_id,
            "subjectUuid": subject_uuid,
            "entityType": announcement.entity_type,
            "entityId": entity_id,
            "entityUuid": entity_uuid,
            "summary": summary(entry),
        }
    })
}

/// Fields of a record's snapshot a receiver may see in a payload, and their
/// names there. Anything else (participants' names, notes, messages) stays out.
const SUMMARY_FIELDS: &[(&str, &[(&str, &str)])] = &[
    (
        "Event",
        &[
            ("status", "status"),
            ("start_date", "startDate"),
            ("end_date", "endDate"),
            ("date_status", "dateStatus"),
        ],
    ),
    ("Invitation", &[("status", "status")]),
    ("Application", &[("status", "status")]),
    ("Delegation", &[("status", "status")]),
    ("Presentation", &[("status", "status")]),
];

fn summary(entry: &audit_entry::Model) -> Value {
    let mut summary = Map::new();
    let fields = SUMMARY_FIELDS
        .iter()
        .find(|(entity, _)| *entity == entry.entity_type)
        .map_or(&[][..], |(_, fields)| fields);
    if let Some(after) = entry.after.as_ref() {
        for (stored, public) in fields {
            if let Some(value @ Value::String(_)) = after.get(*stored) {
                summary.insert((*public).to_owned(), value.clone());
            }
        }
    }
    // A co-host change names the organization added or removed.
    if let Some(co_host) = snapshot_field(entry, "coHostOrganizationId")
        .and_then(Value::as_str)
        .and_then(|id| id.parse::<Uuid>().ok())
    {
        let (id, uuid) = ids("Organization", co_host);
        summary.insert("coHostOrganizationId".into(), Value::String(id));
        summary.insert("coHostOrganizationUuid".into(), Value::String(uuid));
    }
    Value::Object(summary)
}

/// How many audit entries wait to be fanned out (for tests and diagnostics).
#[allow(dead_code)]
pub(crate) async fn pending_count<C: ConnectionTrait>(db: &C) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(webhook_outbox::Entity::find().count(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(entity_type: &str, after: Value) -> audit_entry::Model {
        audit_entry::Model {
            id: Uuid::now_v7(),
            actor_client_id: None,
            actor_person_id: None,
            actor_organization_id: None,
            action: "participant.add".into(),
            entity_type: entity_type.into(),
            entity_id: Uuid::now_v7(),
            before: None,
            after: Some(after),
            request_id: None,
            created_at: Utc::now(),
            event_id: None,
        }
    }

    #[test]
    fn a_payload_carries_ids_and_a_summary_never_personal_data() {
        let participant = entry(
            "Participant",
            json!({ "delegation_id": Uuid::now_v7(), "full_name": "Jane Doe",
                "status": "MEMBER", "passport_number": "[REDACTED]" }),
        );
        assert_eq!(summary(&participant), json!({}));
        let invitation = entry(
            "Invitation",
            json!({ "status": "SENT", "message": "Dear colleagues" }),
        );
        assert_eq!(summary(&invitation), json!({ "status": "SENT" }));
        let announcement = Announcement {
            audit_id: invitation.id,
            kind: "INVITATION_SENT",
            topic: Topic::Invitation,
            event_id: Uuid::now_v7(),
            subject_id: invitation.entity_id,
            entity_type: "Invitation".into(),
            entity_id: invitation.entity_id,
            at: invitation.created_at,
        };
        let body = payload(&announcement, &invitation);
        assert_eq!(body["type"], "INVITATION_SENT");
        assert_eq!(
            body["data"]["subjectId"],
            crate::graphql::global_id("Invitation", invitation.entity_id)
        );
        assert_eq!(
            body["data"]["subjectUuid"],
            invitation.entity_id.to_string()
        );
        assert!(!body.to_string().contains("Dear colleagues"));
    }
}
