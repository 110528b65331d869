//! The agenda: sessions of an event, managed by the host's coordinators (and
//! co-hosts the host granted MANAGE_AGENDA) and seen by everyone who sees the event.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QueryTrait, Select, Set,
};
use uuid::Uuid;

use super::{Patch, ServiceContext, audit, events};
use crate::domain::{BoundedText, CoHostPermission, Name, SessionKind};
use crate::entity::session::{ActiveModel, Column, Entity, Model};
use crate::entity::{event, organization};
use crate::error::{AppError, AppResult, InputErrors};

const TITLE_MAX: usize = 300;
const TEXT_MAX: usize = 10_000;
const NOT_FOUND: AppError = AppError::NotFound { entity: "session" };

/// A session's details.
#[derive(Debug, Clone)]
pub struct SessionFields {
    pub kind: SessionKind,
    pub title: String,
    pub topic: Option<String>,
    pub description: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub location: Option<String>,
    pub proposed_by_organization_id: Option<Uuid>,
}

/// Changes to a session; absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct SessionChanges {
    pub expected_version: Option<i32>,
    pub kind: Option<SessionKind>,
    pub title: Option<String>,
    pub topic: Patch<String>,
    pub description: Patch<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub location: Patch<String>,
    pub proposed_by_organization_id: Patch<Uuid>,
}

fn visible(cx: &ServiceContext) -> Select<Entity> {
    Entity::find().filter(Column::EventId.in_subquery(events::visible_ids(cx)))
}

/// Reads one session of an event the caller may see.
pub async fn get(cx: &ServiceContext, id: Uuid) -> AppResult<Model> {
    visible(cx)
        .filter(Column::Id.eq(id))
        .one(&cx.db)
        .await?
        .ok_or(NOT_FOUND)
}

/// Reads the sessions among `ids` the caller may see (for loaders).
pub async fn get_many(cx: &ServiceContext, ids: &[Uuid]) -> AppResult<Vec<Model>> {
    Ok(visible(cx)
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(&cx.db)
        .await?)
}

/// The agenda of each of `event_ids`, in order of start.
pub async fn of_events(cx: &ServiceContext, event_ids: &[Uuid]) -> AppResult<Vec<Model>> {
    let statement = visible(cx)
        .filter(Column::EventId.is_in(event_ids.iter().copied()))
        .order_by_asc(Column::StartsAt)
        .order_by_asc(Column::Id)
        .build(cx.db.get_database_backend());
    Ok(crate::entity::decode::all_rows(&cx.db, statement).await?)
}

async fn validate(
    txn: &DatabaseTransaction,
    event: &event::Model,
    f: SessionFields,
) -> AppResult<SessionFields> {
    let mut errors = InputErrors::default();
    let zone: chrono_tz::Tz = event.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let local_day = |t: DateTime<Utc>| t.with_timezone(&zone).date_naive();
    if local_day(f.starts_at) < event.start_date || local_day(f.starts_at) > event.end_date {
        errors.add(
            "startsAt",
            format!(
                "must fall within the event's dates ({} to {}, {})",
                event.start_date, event.end_date, event.time_zone
            ),
        );
    }
    if f.ends_at < f.starts_at {
        errors.add("endsAt", "must not be before the start");
    } else if local_day(f.ends_at) > event.end_date {
        errors.add(
            "endsAt",
            format!(
                "must fall within the event's dates (ending {})",
                event.end_date
            ),
        );
    }
    if let Some(org) = f.proposed_by_organization_id
        && organization::Entity::find_by_id(org)
            .one(txn)
            .await?
            .is_none()
    {
        errors.add("proposedById", "no such organization");
    }
    let name = |errors: &mut InputErrors, v: Option<String>, field: &str| {
        errors
            .check(Name::parse_optional(v.as_deref(), field, TITLE_MAX))
            .flatten()
    };
    let title = errors.check(Name::parse(&f.title, "title", TITLE_MAX));
    let topic = name(&mut errors, f.topic, "topic");
    let description = errors
        .check(BoundedText::parse_optional(
            f.description.as_deref(),
            "description",
            TEXT_MAX,
        ))
        .flatten();
    let location = name(&mut errors, f.location, "location");
    let Some(title) = title else {
        return Err(errors.fail());
    };
    errors.finish()?;
    Ok(SessionFields {
        kind: f.kind,
        title: title.into_inner(),
        topic,
        description,
        starts_at: f.starts_at,
        ends_at: f.ends_at,
        location,
        proposed_by_organization_id: f.proposed_by_organization_id,
    })
}

fn apply(active: &mut ActiveModel, f: SessionFields) {
    active.kind = Set(f.kind);
    active.title = Set(f.title);
    active.topic = Set(f.topic);
    active.description = Set(f.description);
    active.starts_at = Set(f.starts_at);
    active.ends_at = Set(f.ends_at);
    active.location = Set(f.location);
    active.proposed_by_organization_id = Set(f.proposed_by_organization_id);
}

async fn record(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    action: &str,
    before: Option<&Model>,
    after: Option<&Model>,
    id: Uuid,
) -> AppResult<()> {
    audit::record_change(txn, cx, action, "Session", id, before, after).await
}

/// Adds a session to an event's agenda (host coordinators, co-hosts granted
/// MANAGE_AGENDA).
pub async fn add(cx: &ServiceContext, event_id: Uuid, fields: SessionFields) -> AppResult<Model> {
    let txn = cx.begin_write().await?;
    let event =
        events::load_with_permission(&txn, cx, event_id, CoHostPermission::ManageAgenda).await?;
    events::ensure_editable(&event)?;
    let fields = validate(&txn, &event, fields).await?;
    let now = Utc::now();
    let mut active = ActiveModel {
        id: Set(Uuid::now_v7()),
        event_id: Set(event_id),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    apply(&mut active, fields);
    let created = active.insert(&txn).await?;
    record(&txn, cx, "session.add", None, Some(&created), created.id).await?;
    events::touch(&txn, event_id).await?;
    cx.commit(txn).await?;
    Ok(created)
}

/// Loads a session and its event for a change to the agenda, inside `txn`.
async fn load_for_agenda(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    id: Uuid,
) -> AppResult<(Model, event::Model)> {
    let session = visible(cx)
        .filter(Column::Id.eq(id))
        .one(txn)
        .await?
        .ok_or(NOT_FOUND)?;
    let event =
        events::load_with_permission(txn, cx, session.event_id, CoHostPermission::ManageAgenda)
            .await?;
    events::ensure_editable(&event)?;
    Ok((session, event))
}

/// Changes a session (host coordinators, co-hosts granted MANAGE_AGENDA).
pub async fn update(cx: &ServiceContext, id: Uuid, changes: SessionChanges) -> AppResult<Model> {
    let txn = cx.begin_write().await?;
    let (current, event) = load_for_agenda(&txn, cx, id).await?;
    super::check_version(changes.expected_version, current.version)?;
    let fields = validate(
        &txn,
        &event,
        SessionFields {
            kind: changes.kind.unwrap_or(current.kind),
            title: changes.title.unwrap_or_else(|| current.title.clone()),
            topic: changes.topic.unwrap_or_else(|| current.topic.clone()),
            description: changes
                .description
                .unwrap_or_else(|| current.description.clone()),
            starts_at: changes.starts_at.unwrap_or(current.starts_at),
            ends_at: changes.ends_at.unwrap_or(current.ends_at),
            location: changes.location.unwrap_or_else(|| current.location.clone()),
            proposed_by_organization_id: changes
                .proposed_by_organization_id
                .unwrap_or(current.proposed_by_organization_id),
        },
    )
    .await?;
    let mut active: ActiveModel = current.clone().into();
    apply(&mut active, fields);
    let updated = super::save_versioned(
        &txn,
        active,
        Column::Version,
        Column::UpdatedAt,
        current.version,
    )
    .await?;
    record(
        &txn,
        cx,
        "session.update",
        Some(&current),
        Some(&updated),
        id,
    )
    .await?;
    events::touch(&txn, event.id).await?;
    cx.commit(txn).await?;
    Ok(updated)
}

/// Removes a session and its presentations (host coordinators, co-hosts granted
/// MANAGE_AGENDA).
pub async fn remove(
    cx: &ServiceContext,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Model> {
    let txn = cx.begin_write().await?;
    let (current, _) = load_for_agenda(&txn, cx, id).await?;
    super::check_version(expected_version, current.version)?;
    Entity::delete_by_id(id).exec(&txn).await?;
    record(&txn, cx, "session.remove", Some(&current), None, id).await?;
    events::touch(&txn, current.event_id).await?;
    cx.commit(txn).await?;
    Ok(current)
}
