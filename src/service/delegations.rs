//! Delegations: the people an organization sends to an event it accepted.
//!
//! Created when an invitation is accepted (directly, or through an accepted
//! application); managed by the delegation's own organization; read by the event's
//! host and co-hosts.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IdenStatic, Iterable, JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select, Set,
};
use uuid::Uuid;

use crate::entity::decode;

use super::lists::{self, ParticipationFilter, ParticipationSortField};
use super::pagination::{Page, PageRequest, SortDirection};
use super::{Patch, ServiceContext, access, audit};
use crate::domain::{BoundedText, DelegationStatus, plausible_instant_opt};
use crate::entity::delegation::{ActiveModel, Column, Entity, Model};
use crate::entity::{event, invitation, participant};
use crate::error::{AppError, AppResult, InputErrors};

const NOTES_MAX: usize = 10_000;
pub(crate) const NOT_FOUND: AppError = AppError::NotFound {
    entity: "delegation",
};

/// Which delegations a list shows (within what the caller may see).
pub type DelegationFilter = ParticipationFilter<DelegationStatus>;

/// Changes to a delegation; absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct DelegationChanges {
    pub expected_version: Option<i32>,
    pub head_participant_id: Patch<Uuid>,
    pub arrival_at: Patch<DateTime<Utc>>,
    pub departure_at: Patch<DateTime<Utc>>,
    pub notes: Patch<String>,
}

/// The SQL condition for "delegations the caller may see" (on this table's columns,
/// so it also works where delegations are joined).
pub(crate) fn visible_condition(cx: &ServiceContext) -> Condition {
    access::participation_visible(cx, Column::EventId, Column::OrganizationId)
}

pub(crate) fn visible(cx: &ServiceContext) -> Select<Entity> {
    Entity::find().filter(visible_condition(cx))
}

/// Reads one delegation the caller may see.
pub async fn get(cx: &ServiceContext, id: Uuid) -> AppResult<Model> {
    visible(cx)
        .filter(Column::Id.eq(id))
        .one(&cx.db)
        .await?
        .ok_or(NOT_FOUND)
}

/// Reads the delegations among `ids` the caller may see (for loaders).
pub async fn get_many(cx: &ServiceContext, ids: &[Uuid]) -> AppResult<Vec<Model>> {
    Ok(visible(cx)
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(&cx.db)
        .await?)
}

/// The delegations created from each of `invitation_ids`, where visible.
pub async fn of_invitations(cx: &ServiceContext, invitation_ids: &[Uuid]) -> AppResult<Vec<Model>> {
    Ok(visible(cx)
        .filter(Column::InvitationId.is_in(invitation_ids.iter().copied()))
        .all(&cx.db)
        .await?)
}

/// The delegations created from each of `invitation_ids`, where visible, each with
/// its members (registration order) as the caller may see them: one query, the
/// delegations joined with their event (for its host) and their members.
pub async fn of_invitations_with_members(
    cx: &ServiceContext,
    invitation_ids: &[Uuid],
) -> AppResult<Vec<(Model, Vec<participant::Model>)>> {
    let to_event = Entity::belongs_to(event::Entity)
        .from(Column::EventId)
        .to(event::Column::Id)
        .into();
    let to_members = sea_orm::RelationDef::from(
        participant::Entity::belongs_to(Entity)
            .from(participant::Column::DelegationId)
            .to(Column::Id),
    )
    .rev();
    let mut select = visible(cx)
        .filter(Column::InvitationId.is_in(invitation_ids.iter().copied()))
        .join(JoinType::InnerJoin, to_event)
        .join(JoinType::LeftJoin, to_members)
        .column_as(
            Expr::col((event::Entity, event::Column::HostOrganizationId)),
            "event_host_id",
        );
    for column in participant::Column::iter() {
        select = select.column_as(
            Expr::col((participant::Entity, column)),
            format!("member_{}", column.as_str()),
        );
    }
    let statement = select
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .order_by_asc(participant::Column::CreatedAt)
        .order_by_asc(participant::Column::Id)
        .build(cx.db.get_database_backend());
    let rows = cx.db.query_all_raw(statement).await?;
    // Each row: a delegation, one of its members (all nulls for a delegation
    // without any) and its event's host, read by position (see `decode`).
    let (delegation_at, member_at) = match rows.first() {
        Some(first) => (
            decode::offset_of::<Model>(first, ""),
            decode::offset_of::<participant::stored::Model>(first, "member_"),
        ),
        None => (None, None),
    };
    // Each member with its delegation's organization and host, opened (or
    // blanked) in one pass; then grouped by delegation, in order.
    let mut delegations: Vec<Model> = Vec::new();
    let mut members = Vec::new();
    for row in &rows {
        let delegation_id: Uuid = row.try_get("", Column::Id.as_str())?;
        if delegations.last().is_none_or(|d| d.id != delegation_id) {
            delegations.push(decode::decode_at(row, delegation_at, "")?);
        }
        let delegation = delegations.last().expect("just pushed");
        let has_member: Option<Uuid> = row.try_get("", "member_id")?;
        if has_member.is_some() {
            let member: participant::stored::Model = decode::decode_at(row, member_at, "member_")?;
            let host: Uuid = row.try_get("", "event_host_id")?;
            members.push((member, (delegation.organization_id, host)));
        }
    }
    let opened = super::personal_data::open_where(cx.data_keys(), members, |_, (org, host)| {
        super::participants::opens_sensitive(cx, *org, *host)
    })
    .await?;
    let position: std::collections::HashMap<Uuid, usize> = delegations
        .iter()
        .enumerate()
        .map(|(at, d)| (d.id, at))
        .collect();
    let mut grouped: Vec<(Model, Vec<participant::Model>)> =
        delegations.into_iter().map(|d| (d, Vec::new())).collect();
    for (member, _) in opened {
        if let Some(&at) = position.get(&member.delegation_id) {
            grouped[at].1.push(member);
        }
    }
    Ok(grouped)
}

/// The visible delegations of each of `event_ids`, oldest first.
pub async fn of_events(cx: &ServiceContext, event_ids: &[Uuid]) -> AppResult<Vec<Model>> {
    Ok(visible(cx)
        .filter(Column::EventId.is_in(event_ids.iter().copied()))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(&cx.db)
        .await?)
}

pub(crate) fn filtered(cx: &ServiceContext, filter: &DelegationFilter) -> Select<Entity> {
    lists::narrow(
        visible(cx),
        Column::EventId,
        Column::OrganizationId,
        Column::UpdatedAt,
        Column::Status,
        filter,
    )
}

/// The columns the delegations lists sort, page and group by.
const LIST: lists::ParticipationList<Entity> = lists::ParticipationList {
    name: "delegations",
    created_at: Column::CreatedAt,
    updated_at: Column::UpdatedAt,
    status: Column::Status,
    organization_id: Column::OrganizationId,
    id: Column::Id,
    event_id: Column::EventId,
    event_of: |m| m.event_id,
};

/// One page of the delegations the caller may see, in `sort` order.
pub async fn list(
    cx: &ServiceContext,
    filter: &DelegationFilter,
    sort: (ParticipationSortField, SortDirection),
    page: &PageRequest,
) -> AppResult<Page<Model>> {
    lists::page(cx, &LIST, filtered(cx, filter), sort, page).await
}

/// How many delegations the caller may see match `filter`.
pub async fn count(cx: &ServiceContext, filter: &DelegationFilter) -> AppResult<u64> {
    Ok(filtered(cx, filter).count(&cx.db).await?)
}

/// One page of the delegations of each of `event_ids` the caller may see, matching
/// `filter` (a filter's own `event_id` narrows further), in `sort` order:
/// one query for all the events, however many (a nested list of a page of events).
pub async fn pages_of_events(
    cx: &ServiceContext,
    event_ids: &[Uuid],
    filter: &DelegationFilter,
    sort: (ParticipationSortField, SortDirection),
    page: &PageRequest,
) -> AppResult<std::collections::HashMap<Uuid, Page<Model>>> {
    lists::pages_per_event(cx, &LIST, filtered(cx, filter), event_ids, sort, page).await
}

/// How many delegations of each of `event_ids` the caller may see match `filter`
/// in one grouped query.
pub async fn counts_of_events(
    cx: &ServiceContext,
    event_ids: &[Uuid],
    filter: &DelegationFilter,
) -> AppResult<std::collections::HashMap<Uuid, u64>> {
    super::pagination::count_per_parent(&cx.db, filtered(cx, filter), Column::EventId, event_ids)
        .await
}

async fn record(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    action: &str,
    before: Option<&Model>,
    after: &Model,
) -> AppResult<()> {
    audit::record_change(txn, cx, action, "Delegation", after.id, before, Some(after)).await
}

/// Creates the delegation of an accepted invitation, inside `txn`.
pub(crate) async fn create_for(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    invitation: &invitation::Model,
) -> AppResult<Model> {
    let now = Utc::now();
    let created = ActiveModel {
        id: Set(Uuid::now_v7()),
        event_id: Set(invitation.event_id),
        organization_id: Set(invitation.organization_id),
        invitation_id: Set(invitation.id),
        status: Set(DelegationStatus::Forming),
        head_participant_id: Set(None),
        arrival_at: Set(None),
        departure_at: Set(None),
        notes: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await
    .map_err(|e| {
        AppError::from_write(e, || {
            AppError::conflict("the organization already has a delegation at this event")
        })
    })?;
    record(txn, cx, "delegation.create", None, &created).await?;
    Ok(created)
}

async fn cancel_where(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    condition: Condition,
) -> AppResult<()> {
    let open = Entity::find()
        .filter(condition)
        .filter(Column::Status.ne(DelegationStatus::Cancelled))
        .all(txn)
        .await?;
    for current in open {
        let mut active: ActiveModel = current.clone().into();
        active.status = Set(DelegationStatus::Cancelled);
        let updated = save(txn, &current, active).await?;
        record(txn, cx, "delegation.cancel", Some(&current), &updated).await?;
    }
    Ok(())
}

/// Cancels the delegation of a withdrawn invitation, inside `txn`.
pub(crate) async fn cancel_for_invitation(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    invitation_id: Uuid,
) -> AppResult<()> {
    cancel_where(
        txn,
        cx,
        Condition::all().add(Column::InvitationId.eq(invitation_id)),
    )
    .await
}

/// Cancels every delegation of a cancelled event, inside `txn`.
pub(crate) async fn cancel_for_event(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    event_id: Uuid,
) -> AppResult<()> {
    cancel_where(txn, cx, Condition::all().add(Column::EventId.eq(event_id))).await
}

async fn save(txn: &DatabaseTransaction, current: &Model, active: ActiveModel) -> AppResult<Model> {
    super::save_versioned(
        txn,
        active,
        Column::Version,
        Column::UpdatedAt,
        current.version,
    )
    .await
}

/// Takes the delegation's row lock before reading it, so that changes to its
/// members are serialized: two requests filling the last seat at once cannot both
/// see it free. (A no-op UPDATE locks the row on PostgreSQL; on SQLite the write
/// transaction already holds the database lock.)
pub(crate) async fn lock(txn: &DatabaseTransaction, id: Uuid) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::Version, Expr::col(Column::Version))
        .filter(Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Like [`lock`], and marks the delegation changed: its members and presentation
/// proposals are part of it, so adding, changing or removing one moves the
/// delegation's `updated_at` and `delegations(filter: {updatedSince})` reports it
/// (a removed participant cannot report itself). The lock's statement carries it,
/// so this costs no extra round trip; it rolls back with a failed change. The
/// version stays: a member change never makes the delegation's `expectedVersion`
/// stale for a client editing its notes.
pub(crate) async fn lock_and_touch(txn: &DatabaseTransaction, id: Uuid) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Loads a delegation for a change by its own organization, inside `txn`.
pub(crate) async fn load_for_owner(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    id: Uuid,
) -> AppResult<Model> {
    let delegation = visible(cx)
        .filter(Column::Id.eq(id))
        .one(txn)
        .await?
        .ok_or(NOT_FOUND)?;
    if !access::acts_for(cx, delegation.organization_id) {
        return Err(AppError::forbidden(
            "only the delegation's own organization manages it",
        ));
    }
    if delegation.status == DelegationStatus::Cancelled {
        return Err(AppError::conflict("the delegation is cancelled"));
    }
    Ok(delegation)
}

/// Changes the head, travel dates or notes (the delegation's organization). A new
/// head gets the role HEAD and the previous head becomes a MEMBER, so the roles
/// and `head` always agree.
pub async fn update(cx: &ServiceContext, id: Uuid, changes: DelegationChanges) -> AppResult<Model> {
    let mut errors = InputErrors::default();
    let notes = match changes.notes {
        Some(Some(text)) => {
            errors.check(BoundedText::parse_optional(Some(&text), "notes", NOTES_MAX))
        }
        other => other,
    };
    let arrival_change = changes
        .arrival_at
        .map(|a| errors.check(plausible_instant_opt(a, "arrivalAt")));
    let departure_change = changes
        .departure_at
        .map(|d| errors.check(plausible_instant_opt(d, "departureAt")));
    errors.finish()?;
    if let Some(updated) = update_in_one_statement(
        cx,
        id,
        changes.head_participant_id.is_some(),
        changes.expected_version,
        notes.clone(),
        arrival_change.flatten(),
        departure_change.flatten(),
    )
    .await?
    {
        return Ok(updated);
    }
    let txn = cx.begin_write().await?;
    lock(&txn, id).await?;
    let current = load_for_owner(&txn, cx, id).await?;
    super::check_version(changes.expected_version, current.version)?;
    let mut active: ActiveModel = current.clone().into();
    if let Some(head) = changes.head_participant_id
        && head != current.head_participant_id
    {
        super::participants::make_head(&txn, cx, &current, head).await?;
        active.head_participant_id = Set(head);
    }
    let arrival = arrival_change.flatten().unwrap_or(current.arrival_at);
    let departure = departure_change.flatten().unwrap_or(current.departure_at);
    if let (Some(a), Some(d)) = (arrival, departure)
        && d < a
    {
        return Err(AppError::invalid(
            "departureAt",
            "must not be before the arrival",
        ));
    }
    active.arrival_at = Set(arrival);
    active.departure_at = Set(departure);
    if let Some(notes) = notes {
        active.notes = Set(notes);
    }
    let updated = save(&txn, &current, active).await?;
    record(&txn, cx, "delegation.update", Some(&current), &updated).await?;
    cx.commit(txn).await?;
    Ok(updated)
}

/// The common change — notes, or both travel dates — needs nothing from the
/// current row, so on PostgreSQL it is one statement with its audit entry (see
/// `one_statement`), guarded by what [`load_for_owner`] checks. `None` when that
/// does not apply or did not match: the transactional path then decides.
async fn update_in_one_statement(
    cx: &ServiceContext,
    id: Uuid,
    changes_head: bool,
    expected_version: Option<i32>,
    notes: Patch<String>,
    arrival: Patch<DateTime<Utc>>,
    departure: Patch<DateTime<Utc>>,
) -> AppResult<Option<Model>> {
    let caller = cx.caller();
    let dates_known_together = arrival.is_some() == departure.is_some();
    if changes_head || !dates_known_together || !caller.acts_as_partner() {
        return Ok(None);
    }
    let mut values = Vec::new();
    if let Some(notes) = notes {
        values.push((Column::Notes, notes.into()));
    }
    if let (Some(arrival), Some(departure)) = (arrival, departure) {
        if let (Some(a), Some(d)) = (arrival, departure)
            && d < a
        {
            return Err(AppError::invalid(
                "departureAt",
                "must not be before the arrival",
            ));
        }
        values.push((Column::ArrivalAt, arrival.into()));
        values.push((Column::DepartureAt, departure.into()));
    }
    if values.is_empty() {
        return Ok(None);
    }
    let guard = Condition::all()
        .add(visible_condition(cx))
        .add(Column::OrganizationId.eq(caller.organization_id))
        .add(Column::Status.ne(DelegationStatus::Cancelled));
    super::one_statement::update(
        cx,
        id,
        Column::Id,
        super::one_statement::Change::<Entity> {
            guard,
            expected_version,
            values,
            action: "delegation.update",
            entity_type: "Delegation",
            redacted: &[],
            event_column: "event_id",
        },
    )
    .await
}

/// Confirms the delegation's members (the delegation's organization). Confirming
/// twice is a no-op.
pub async fn confirm(
    cx: &ServiceContext,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Model> {
    let txn = cx.begin_write().await?;
    lock(&txn, id).await?;
    let current = load_for_owner(&txn, cx, id).await?;
    if current.status == DelegationStatus::Confirmed {
        return Ok(current);
    }
    super::check_version(expected_version, current.version)?;
    let members = participant::Entity::find()
        .filter(participant::Column::DelegationId.eq(id))
        .count(&txn)
        .await?;
    if members == 0 {
        return Err(AppError::conflict(
            "register at least one participant before confirming",
        ));
    }
    let mut active: ActiveModel = current.clone().into();
    active.status = Set(DelegationStatus::Confirmed);
    let updated = save(&txn, &current, active).await?;
    record(&txn, cx, "delegation.confirm", Some(&current), &updated).await?;
    cx.commit(txn).await?;
    Ok(updated)
}
