//! Shared access rules: how a caller's organization relates to an event and to the
//! participation records of its events.
//!
//! - The host's coordinators manage an event and see everything about it.
//! - Co-hosts' coordinators read the event and its participation, never sensitive
//!   participant fields.
//! - A partner (or coordinator) sees its own organization's invitations,
//!   applications and delegations.

use sea_orm::sea_query::{Expr, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition, EntityTrait};
use uuid::Uuid;

use super::ServiceContext;
use crate::auth::Role;
use crate::entity::{event, event_co_host};
use crate::error::AppResult;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRelation {
    /// Coordinator of the host.
    Host,
    /// Coordinator of a co-host.
    CoHost,
    /// Anyone else.
    Other,
}

/// The caller's relation to `event` (one query at most, for co-hosts).
pub async fn relation_to(cx: &ServiceContext, event: &event::Model) -> AppResult<EventRelation> {
    let caller = cx.caller();
    if caller.coordinates(event.host_organization_id) {
        return Ok(EventRelation::Host);
    }
    if caller.has_role(Role::Coordinator) {
        let co_host = event_co_host::Entity::find_by_id((event.id, caller.organization_id))
            .one(&cx.db)
            .await?;
        if co_host.is_some() {
            return Ok(EventRelation::CoHost);
        }
    }
    Ok(EventRelation::Other)
}

/// Whether the caller may read the sensitive fields of `organization_id`'s
/// delegates at an event hosted by `host_organization_id`: the delegation's own
/// organization and the host's coordinators, nobody else.
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
/// host's coordinators only; anyone else, co-hosts included, reads no activity
/// (the field is null for them, as for a record they may not see). Async and
/// fallible so that a rule needing the database (a co-host's per-event grant)
/// fits here without changing its callers.
pub async fn may_read_event_activity(cx: &ServiceContext, event: &event::Model) -> AppResult<bool> {
    Ok(cx.caller().coordinates(event.host_organization_id))
}
