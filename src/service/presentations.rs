//! Presentations delegations propose for agenda sessions, and the host's decision
//! (or a co-host's the host granted MANAGE_AGENDA).
//!
//! A delegation's own organization and the event's host and co-hosts see all of
//! its proposals; everyone who sees the event sees the accepted ones (they are part
//! of the public agenda).

use chrono::Utc;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Set,
};
use uuid::Uuid;

use super::{ServiceContext, access, audit, delegations, events, sessions};
use crate::domain::{BoundedText, CoHostPermission, Name, PresentationStatus};
use crate::entity::presentation::{ActiveModel, Column, Entity, Model};
use crate::entity::{delegation, participant, session};
use crate::error::{AppError, AppResult, InputErrors};

const TITLE_MAX: usize = 300;
const TEXT_MAX: usize = 10_000;
const NOT_FOUND: AppError = AppError::NotFound {
    entity: "presentation",
};

/// A proposal as the delegation enters it.
#[derive(Debug, Clone)]
pub struct NewPresentation {
    pub session_id: Uuid,
    pub delegation_id: Uuid,
    pub presenter_participant_id: Uuid,
    pub title: String,
    pub abstract_text: Option<String>,
}

fn visible(cx: &ServiceContext) -> Select<Entity> {
    let own_delegations = delegations::visible(cx)
        .select_only()
        .column(delegation::Column::Id)
        .into_query();
    let public_sessions = session::Entity::find()
        .select_only()
        .column(session::Column::Id)
        .filter(session::Column::EventId.in_subquery(events::visible_ids(cx)))
        .into_query();
    Entity::find().filter(
        Condition::any()
            .add(Column::DelegationId.in_subquery(own_delegations))
            .add(
                Condition::all()
                    .add(Column::Status.eq(PresentationStatus::Accepted))
                    .add(Column::SessionId.in_subquery(public_sessions)),
            ),
    )
}

/// The presentations among `ids` the caller may see, in one query (for lists that
/// name many, such as an activity feed's targets).
pub async fn get_many(cx: &ServiceContext, ids: &[Uuid]) -> AppResult<Vec<Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(visible(cx)
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(&cx.db)
        .await?)
}

/// Reads one presentation the caller may see.
pub async fn get(cx: &ServiceContext, id: Uuid) -> AppResult<Model> {
    visible(cx)
        .filter(Column::Id.eq(id))
        .one(&cx.db)
        .await?
        .ok_or(NOT_FOUND)
}

/// The visible presentations of each of `session_ids`, oldest first.
pub async fn of_sessions(cx: &ServiceContext, session_ids: &[Uuid]) -> AppResult<Vec<Model>> {
    Ok(visible(cx)
        .filter(Column::SessionId.is_in(session_ids.iter().copied()))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(&cx.db)
        .await?)
}

/// The visible presentations of each of `delegation_ids`, oldest first.
pub async fn of_delegations(cx: &ServiceContext, delegation_ids: &[Uuid]) -> AppResult<Vec<Model>> {
    Ok(visible(cx)
        .filter(Column::DelegationId.is_in(delegation_ids.iter().copied()))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(&cx.db)
        .await?)
}

/// Audits a change of a presentation at event `event_id` (its snapshot names
/// only the session and delegation).
async fn record(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    action: &str,
    before: Option<&Model>,
    after: &Model,
    event_id: Uuid,
) -> AppResult<()> {
    audit::record(
        txn,
        cx,
        audit::Change {
            action,
            entity_type: "Presentation",
            entity_id: after.id,
            before: before.and_then(audit::snapshot),
            after: audit::snapshot(after),
            event_id: Some(event_id),
        },
    )
    .await
}

/// Proposes a presentation for a session (the delegation's organization); the
/// presenter must be a member of the delegation, the session of the same event.
pub async fn propose(cx: &ServiceContext, input: NewPresentation) -> AppResult<Model> {
    let mut errors = InputErrors::default();
    let title = errors.check(Name::parse(&input.title, "title", TITLE_MAX));
    let abstract_text = errors
        .check(BoundedText::parse_optional(
            input.abstract_text.as_deref(),
            "abstract",
            TEXT_MAX,
        ))
        .flatten();
    let Some(title) = title.map(Name::into_inner) else {
        return Err(errors.fail());
    };
    errors.finish()?;
    let txn = cx.begin_write().await?;
    delegations::lock_and_touch(&txn, input.delegation_id).await?;
    let delegation = delegations::load_for_owner(&txn, cx, input.delegation_id).await?;
    let session = sessions::get(cx, input.session_id).await?;
    if session.event_id != delegation.event_id {
        return Err(AppError::invalid(
            "sessionId",
            "the session belongs to another event than the delegation",
        ));
    }
    let presenter = participant::Entity::find_by_id(input.presenter_participant_id)
        .one(&txn)
        .await?
        .filter(|p| p.delegation_id == delegation.id);
    if presenter.is_none() {
        return Err(AppError::invalid(
            "presenterId",
            "the presenter must be a member of the delegation",
        ));
    }
    let now = Utc::now();
    let created = ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(session.id),
        delegation_id: Set(delegation.id),
        presenter_participant_id: Set(input.presenter_participant_id),
        title: Set(title),
        abstract_text: Set(abstract_text),
        status: Set(PresentationStatus::Proposed),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    record(
        &txn,
        cx,
        "presentation.propose",
        None,
        &created,
        session.event_id,
    )
    .await?;
    cx.commit(txn).await?;
    Ok(created)
}

/// Accepts or rejects a proposal (host coordinators, co-hosts granted
/// MANAGE_AGENDA, except on their own organization's proposals). The same
/// decision twice returns the first result.
pub async fn decide(
    cx: &ServiceContext,
    id: Uuid,
    accept: bool,
    expected_version: Option<i32>,
) -> AppResult<Model> {
    let txn = cx.begin_write().await?;
    let current = visible(cx)
        .filter(Column::Id.eq(id))
        .one(&txn)
        .await?
        .ok_or(NOT_FOUND)?;
    let session = session::Entity::find_by_id(current.session_id)
        .one(&txn)
        .await?
        .ok_or(NOT_FOUND)?;
    let event =
        events::load_with_permission(&txn, cx, session.event_id, CoHostPermission::ManageAgenda)
            .await?;
    let delegation = delegation::Entity::find_by_id(current.delegation_id)
        .one(&txn)
        .await?
        .ok_or(NOT_FOUND)?;
    access::refuse_own_decision(cx, &event, delegation.organization_id, "presentation")?;
    let outcome = if accept {
        PresentationStatus::Accepted
    } else {
        PresentationStatus::Rejected
    };
    if current.status == outcome {
        return Ok(current);
    }
    if current.status != PresentationStatus::Proposed {
        return Err(AppError::conflict(format!(
            "the presentation was already {}",
            current.status.to_value()
        )));
    }
    super::check_version(expected_version, current.version)?;
    delegations::lock_and_touch(&txn, current.delegation_id).await?;
    let mut active: ActiveModel = current.clone().into();
    active.status = Set(outcome);
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
        if accept {
            "presentation.accept"
        } else {
            "presentation.reject"
        },
        Some(&current),
        &updated,
        session.event_id,
    )
    .await?;
    cx.commit(txn).await?;
    Ok(updated)
}
