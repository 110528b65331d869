//! Shared access rules: how a caller's organization relates to an event and to the
//! participation records of its events.
//!
//! - The host's coordinators manage an event and see everything about it.
//! - Co-hosts' coordinators read the event and its participation, never sensitive
//!   participant fields, and act on it only as far as the host granted them
//!   ([`CoHostPermission`]): invite, manage the agenda, review applications, read
//!   the activity. Changes to the event itself (details, dates, status, co-hosts,
//!   retention of personal data) stay the host's.
//! - A partner (or coordinator) sees its own organization's invitations,
//!   applications and delegations.

use sea_orm::sea_query::{Expr, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QuerySelect};
use uuid::Uuid;

use super::ServiceContext;
use crate::auth::Role;
use crate::domain::CoHostPermission;
use crate::entity::{event, event_co_host};
use crate::error::{AppError, AppResult};

/// Ids of the events `organization_id` hosts.
pub fn hosted_by(organization_id: Uuid) -> SelectStatement {
    Query::select()
        .column(event::Column::Id)
        .from(event::Entity)
        .and_where(event::Column::HostOrganizationId.eq(organization_id))
        .to_owned()
}

/// Ids of the events `organization_id` co-hosts.
pub fn co_hosted_by(organization_id: Uuid) -> SelectStatement {
    Query::select()
        .column(event_co_host::Column::EventId)
        .from(event_co_host::Entity)
        .and_where(event_co_host::Column::OrganizationId.eq(organization_id))
        .to_owned()
}

/// A condition that never holds: for callers with no way to see a list's rows.
/// (An empty `Condition::any()` renders as no condition at all, i.e. everything.)
pub fn nothing() -> Condition {
    Condition::all().add(Expr::cust("1 = 0"))
}

/// Rows of a participation table (invitations, applications, delegations) the
/// caller may see, given the table's event and organization columns.
pub fn participation_visible<C: ColumnTrait>(
    cx: &ServiceContext,
    event_column: C,
    organization_column: C,
) -> Condition {
    let caller = cx.caller();
    let org = caller.organization_id;
    let mut visible = Condition::any();
    let mut any = false;
    if caller.has_role(Role::Coordinator) {
        visible = visible
            .add(event_column.in_subquery(hosted_by(org)))
            .add(event_column.in_subquery(co_hosted_by(org)));
        any = true;
    }
    if caller.acts_as_partner() {
        visible = visible.add(organization_column.eq(org));
        any = true;
    }
    if any { visible } else { nothing() }
}

/// How the caller relates to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventRelation {
    /// Coordinator of the host: every permission.
    Host,
    /// Coordinator of a co-host, with what the host granted it.
    CoHost(Vec<CoHostPermission>),
    /// Anyone else.
    Other,
}

impl EventRelation {
    /// Whether this relation allows what `permission` covers.
    pub fn may(&self, permission: CoHostPermission) -> bool {
        match self {
            EventRelation::Host => true,
            EventRelation::CoHost(granted) => granted.contains(&permission),
            EventRelation::Other => false,
        }
    }
}

/// The caller's co-host row for `event`, if it coordinates for a co-host of it.
/// `lock` takes a shared row lock on PostgreSQL (SQLite has none and one writer
/// at a time anyway): inside a change's transaction, a concurrent change of the
/// co-host's permissions then waits for the change or is seen by it, never
/// half-way.
async fn co_host_row<C: ConnectionTrait>(
    db: &C,
    cx: &ServiceContext,
    event: &event::Model,
    lock: bool,
) -> AppResult<Option<event_co_host::Model>> {
    let caller = cx.caller();
    if !caller.has_role(Role::Coordinator) || caller.organization_id == event.host_organization_id {
        return Ok(None);
    }
    let mut select = event_co_host::Entity::find_by_id((event.id, caller.organization_id));
    if lock {
        select = select.lock_shared();
    }
    Ok(select.one(db).await?)
}

/// The caller's relation to `event`, read through `db` (one query at most, for
/// co-hosts).
pub async fn relation_to<C: ConnectionTrait>(
    db: &C,
    cx: &ServiceContext,
    event: &event::Model,
) -> AppResult<EventRelation> {
    if cx.caller().coordinates(event.host_organization_id) {
        return Ok(EventRelation::Host);
    }
    Ok(match co_host_row(db, cx, event, false).await? {
        Some(row) => EventRelation::CoHost(row.permissions()),
        None => EventRelation::Other,
    })
}

/// Whether the caller coordinates for a co-host of `event` that the host granted
/// `permission` (false for the host itself, which needs no grant). Read paths
/// that open something to permitted co-hosts (the event's audit trail and
/// activity) ask this beside their host check.
pub async fn co_host_may(
    cx: &ServiceContext,
    event: &event::Model,
    permission: CoHostPermission,
) -> AppResult<bool> {
    Ok(co_host_row(&cx.db, cx, event, false)
        .await?
        .is_some_and(|row| row.may(permission)))
}

/// Refuses a change to `event` that needs `permission` unless the caller is the
/// host's coordinator or a co-host's coordinator the host granted it; read
/// through `db`, the change's transaction. The caller already sees the event (an
/// invisible one is NOT_FOUND before this), so a refusal is FORBIDDEN and names
/// the permission missing.
pub async fn require_event_permission<C: ConnectionTrait>(
    db: &C,
    cx: &ServiceContext,
    event: &event::Model,
    permission: CoHostPermission,
) -> AppResult<()> {
    if cx.caller().coordinates(event.host_organization_id) {
        return Ok(());
    }
    match co_host_row(db, cx, event, true).await? {
        Some(row) if row.may(permission) => Ok(()),
        Some(_) => Err(AppError::forbidden(format!(
            "the host has not granted your organization the {} permission for this event",
            permission.as_str()
        ))),
        None => Err(AppError::forbidden(format!(
            "only the host's coordinators, or a co-host granted {}, may do this",
            permission.as_str()
        ))),
    }
}

/// Refuses a co-host's decision on a proposal or application of its own
/// organization (`what`): its permission lets it decide for the host about
/// others, never grant itself anything. The host decides those.
pub fn refuse_own_decision(
    cx: &ServiceContext,
    event: &event::Model,
    organization_id: Uuid,
    what: &str,
) -> AppResult<()> {
    let caller = cx.caller();
    if caller.organization_id == organization_id && !caller.coordinates(event.host_organization_id)
    {
        return Err(AppError::forbidden(format!(
            "a co-host does not decide its own organization's {what}; the host does"
        )));
    }
    Ok(())
}

/// Refuses a change only the host's coordinators may make (the event's details,
/// dates and status, its co-hosts and their permissions, the retention of its
/// personal data): FORBIDDEN for everyone else who sees the event, co-hosts
/// whatever their permissions included.
pub fn require_host(cx: &ServiceContext, event: &event::Model) -> AppResult<()> {
    if cx.caller().coordinates(event.host_organization_id) {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only the host's coordinators may change this event",
        ))
    }
}

/// Whether the caller may read the sensitive fields of `organization_id`'s
/// delegates at an event hosted by `host_organization_id`: the delegation's own
/// organization and the host's coordinators, nobody else; never a co-host, whatever
/// the host granted it (no [`CoHostPermission`] covers personal data).
pub fn reads_sensitive(
    cx: &ServiceContext,
    organization_id: Uuid,
    host_organization_id: Uuid,
) -> bool {
    let caller = cx.caller();
    (caller.acts_as_partner() && caller.organization_id == organization_id)
        || caller.coordinates(host_organization_id)
}

/// Whether the caller acts for `organization_id` as a partner.
pub fn acts_for(cx: &ServiceContext, organization_id: Uuid) -> bool {
    let caller = cx.caller();
    caller.acts_as_partner() && caller.organization_id == organization_id
}

/// Whether the caller may read `event`'s activity feed (`Event.activity`): every
/// audited change to the event and its participation, with who made it. The
/// host's coordinators, and co-hosts' coordinators the host granted
/// `VIEW_ACTIVITY`; anyone else reads no activity (the field is null for them,
/// as for a record they may not see).
pub async fn may_read_event_activity(cx: &ServiceContext, event: &event::Model) -> AppResult<bool> {
    if cx.caller().coordinates(event.host_organization_id) {
        return Ok(true);
    }
    co_host_may(cx, event, CoHostPermission::ViewActivity).await
}
