//! The audit trail: who changed what, written in the transaction of the change.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde::Serialize;
use uuid::Uuid;

use super::ServiceContext;
use crate::entity::audit_entry;
use crate::error::AppResult;

/// Fields never copied into audit entries (participants' personal data).
const REDACTED_FIELDS: &[&str] = &["nationality", "date_of_birth", "passport_number"];

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
}

/// Writes the audit entry for `change` inside the caller's transaction `txn`.
pub async fn record<C: ConnectionTrait>(
    txn: &C,
    cx: &ServiceContext,
    change: Change<'_>,
) -> AppResult<()> {
    audit_entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        actor_client_id: Set(Some(cx.caller.client_id)),
        actor_organization_id: Set(Some(cx.caller.organization_id)),
        action: Set(change.action.to_owned()),
        entity_type: Set(change.entity_type.to_owned()),
        entity_id: Set(change.entity_id),
        before: Set(change.before),
        after: Set(change.after),
        request_id: Set(cx.request_id.clone()),
        created_at: Set(Utc::now()),
    }
    .insert(txn)
    .await?;
    Ok(())
}
