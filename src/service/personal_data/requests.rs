//! A delegate's personal data on request: everything embhub holds about them
//! (export), and its erasure, both audited without the data itself.

use chrono::{Days, NaiveDate, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use super::super::{ServiceContext, access, audit, delegations, events, participants};
use crate::entity::participant::{ActiveModel, Column, Entity, stored};
use crate::entity::{audit_entry, delegation, event, organization, participant};
use crate::error::{AppError, AppResult};

const NOT_FOUND: AppError = AppError::NotFound {
    entity: "participant",
};

/// The last day personal data of `event`'s participants is kept: its end plus the
/// event's retention (the host's, if shorter, else `default_days`).
pub fn kept_until(event: &event::Model, default_days: u32) -> NaiveDate {
    let days = effective_days(event, default_days);
    event
        .end_date
        .checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

/// The retention of `event` in days: the host's choice when shorter than the
/// default, else the default.
pub fn effective_days(event: &event::Model, default_days: u32) -> u32 {
    event
        .personal_data_retention_days
        .and_then(|d| u32::try_from(d).ok())
        .map_or(default_days, |d| d.min(default_days))
}

/// A participant with its delegation and event, for its owner or the host's
/// coordinators only: anyone else (co-hosts, other partners) gets NOT_FOUND, as
/// for a participant that does not exist.
async fn load_readable<C: sea_orm::ConnectionTrait>(
    db: &C,
    cx: &ServiceContext,
    id: Uuid,
) -> AppResult<(stored::Model, delegation::Model, event::Model)> {
    let row = Entity::find_by_id(id).one(db).await?.ok_or(NOT_FOUND)?;
    let delegation = delegation::Entity::find_by_id(row.delegation_id)
        .one(db)
        .await?
        .ok_or(NOT_FOUND)?;
    let event = event::Entity::find_by_id(delegation.event_id)
        .one(db)
        .await?
        .ok_or(NOT_FOUND)?;
    if !access::reads_sensitive(cx, delegation.organization_id, event.host_organization_id) {
        return Err(NOT_FOUND);
    }
    Ok((row, delegation, event))
}

/// Everything embhub holds about a participant, as JSON: their record with every
/// field in the clear, their delegation, event and organization, how long the
/// personal data is kept, and the history of changes to the record (its audit
/// entries, which never held the sensitive values). For the delegation's own
/// organization and the host's coordinators; the export itself is audited,
/// without the data.
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id, %id))]
pub async fn export(cx: &ServiceContext, id: Uuid) -> AppResult<Value> {
    let txn = cx.begin_write().await?;
    let (row, delegation, event) = load_readable(&txn, cx, id).await?;
    let organization = organization::Entity::find_by_id(delegation.organization_id)
        .one(&txn)
        .await?;
    let history = audit_entry::Entity::find()
        .filter(audit_entry::Column::EntityId.eq(id))
        .order_by_asc(audit_entry::Column::CreatedAt)
        .order_by_asc(audit_entry::Column::Id)
        .all(&txn)
        .await?;
    let member = super::open(cx.data_keys(), row).await?;
    let now = Utc::now();
    let document = json!({
        "exportedAt": now,
        "participant": participant_json(&member),
        "delegation": {
            "id": delegation.id,
            "status": delegation.status,
            "arrivalAt": delegation.arrival_at,
            "departureAt": delegation.departure_at,
            "headOfDelegation": delegation.head_participant_id == Some(member.id),
        },
        "organization": organization.map(|o| json!({
            "id": o.id, "name": o.name, "acronym": o.acronym, "countryCode": o.country_code,
        })),
        "event": {
            "id": event.id,
            "title": event.title,
            "startDate": event.start_date,
            "endDate": event.end_date,
        },
        "retention": {
            "personalDataKeptUntil": kept_until(&event, cx.retention_days()),
            "erasedAt": member.personal_data_erased_at,
        },
        "history": history.iter().map(|e| json!({
            "action": e.action,
            "at": e.created_at,
            "actorOrganizationId": e.actor_organization_id,
            "actorClientId": e.actor_client_id,
        })).collect::<Vec<_>>(),
    });
    audit::record(
        &txn,
        cx,
        audit::Change {
            action: "participant.export_personal_data",
            entity_type: "Participant",
            entity_id: id,
            before: None,
            after: None,
            event_id: Some(event.id),
        },
    )
    .await?;
    cx.commit(txn).await?;
    Ok(document)
}

fn participant_json(p: &participant::Model) -> Value {
    json!({
        "id": p.id,
        "delegationId": p.delegation_id,
        "fullName": p.full_name,
        "localName": p.local_name,
        "position": p.position,
        "role": p.role,
        "email": p.email,
        "dietaryNeeds": p.dietary_needs,
        "accessibilityNeeds": p.accessibility_needs,
        "funded": p.funded,
        "needsVisaSupport": p.needs_visa_support,
        "nationality": p.nationality,
        "dateOfBirth": p.date_of_birth,
        "passportNumber": p.passport_number,
        "version": p.version,
        "createdAt": p.created_at,
        "updatedAt": p.updated_at,
    })
}

/// Clears a row's personal data: every sealed value, its key, and the e-mail
/// address; names, role, funding and visa flag stay for the record.
pub(crate) fn erase_into(active: &mut ActiveModel, at: chrono::DateTime<Utc>) {
    active.data_key_id = Set(None);
    active.nationality_sealed = Set(None);
    active.date_of_birth_sealed = Set(None);
    active.passport_number_sealed = Set(None);
    active.dietary_needs_sealed = Set(None);
    active.accessibility_needs_sealed = Set(None);
    active.email = Set(None);
    active.personal_data_erased_at = Set(Some(at));
}

/// Erases a participant's personal data at once, as retention would (the
/// delegation's own organization; also for a cancelled delegation or after the
/// event). Audited; the answer is the participant as it stays.
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id, %id))]
pub async fn erase(
    cx: &ServiceContext,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<participant::Model> {
    let txn = cx.begin_write().await?;
    let (current, delegation, _) = load_readable(&txn, cx, id).await?;
    if !access::acts_for(cx, delegation.organization_id) {
        return Err(AppError::forbidden(
            "only the delegation's own organization may erase its members' personal data",
        ));
    }
    super::super::check_version(expected_version, current.version)?;
    if current.personal_data_erased_at.is_some()
        && current.data_key_id.is_none()
        && current.email.is_none()
    {
        // Erased already, and nothing entered since: asking again changes nothing.
        return Ok(super::without_sensitive(current));
    }
    delegations::lock_and_touch(&txn, delegation.id).await?;
    let mut active: ActiveModel = current.clone().into();
    erase_into(&mut active, Utc::now());
    let erased = super::super::save_versioned(
        &txn,
        active,
        Column::Version,
        Column::UpdatedAt,
        current.version,
    )
    .await?;
    participants::record(
        &txn,
        cx,
        "participant.erase_personal_data",
        Some(&current),
        Some(&erased),
        id,
        delegation.event_id,
    )
    .await?;
    cx.commit(txn).await?;
    Ok(super::without_sensitive(erased))
}

/// What [`set_retention`] answers.
#[derive(Debug, Clone)]
pub struct Retention {
    pub event_id: Uuid,
    /// Days after the event's end its personal data is kept.
    pub days: u32,
    /// The last day it is kept.
    pub kept_until: NaiveDate,
}

/// Sets how many days after `event_id`'s end its participants' personal data is
/// kept (the host's coordinators): at most the configured default, which `None`
/// restores. Audited.
pub async fn set_retention(
    cx: &ServiceContext,
    event_id: Uuid,
    days: Option<i32>,
) -> AppResult<Retention> {
    let default_days = cx.retention_days();
    if let Some(days) = days
        && (days < 0 || days as i64 > i64::from(default_days))
    {
        return Err(AppError::invalid(
            "days",
            format!(
                "must be between 0 and {default_days} (the configured retention; a host may only shorten it)"
            ),
        ));
    }
    let txn = cx.begin_write().await?;
    let current = events::load_for_host(&txn, cx, event_id).await?;
    let mut active: event::ActiveModel = current.clone().into();
    active.personal_data_retention_days = Set(days);
    let updated = super::super::save_versioned(
        &txn,
        active,
        event::Column::Version,
        event::Column::UpdatedAt,
        current.version,
    )
    .await?;
    audit::record(
        &txn,
        cx,
        audit::Change {
            action: "event.set_personal_data_retention",
            entity_type: "Event",
            entity_id: event_id,
            before: Some(
                json!({ "personal_data_retention_days": current.personal_data_retention_days }),
            ),
            after: Some(json!({ "personal_data_retention_days": days })),
            event_id: None,
        },
    )
    .await?;
    cx.commit(txn).await?;
    Ok(Retention {
        event_id,
        days: effective_days(&updated, default_days),
        kept_until: kept_until(&updated, default_days),
    })
}
