//! Prefetching: a resolver that has just read a page of records loads, at once,
//! the relations its selection asks for — one service call per relation for the
//! whole page, walking down the selection — and feeds them into the request's
//! loaders. The objects below then resolve from memory instead of each level
//! waiting out a loader's batch window before its query.
//!
//! Every record still comes from the service layer's access-checked functions;
//! this module only decides *when* to ask, never *what* the caller may see. Fields
//! it does not know about fall back to the loaders as before.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, Lookahead, Result, SelectionField};
use uuid::Uuid;

use super::context::{loader, service};
use super::loaders::{
    CoHostLoader, DelegationOfInvitation, EventLoader, OrganizationLoader,
    ParticipantsOfDelegation, SessionsOfEvent,
};
use crate::entity::{delegation, event, invitation, session};
use crate::service::{delegations, events, organizations, participants, sessions};

/// The fields a query selects below some objects, wherever they are selected
/// (directly, in fragments, or under several aliases).
pub struct Selection<'a>(Vec<SelectionField<'a>>);

impl<'a> Selection<'a> {
    /// The nodes of a connection field: its `nodes` and its `edges { node }`.
    pub fn connection_nodes(connection: Lookahead<'a>) -> Self {
        let mut fields = connection.field("nodes").selection_fields();
        fields.extend(connection.field("edges").field("node").selection_fields());
        Self(fields)
    }

    /// The selection of the current field itself.
    pub fn of(ctx: &'a Context<'a>) -> Self {
        Self(ctx.look_ahead().selection_fields())
    }

    /// The objects selected under `name`.
    fn field(&self, name: &str) -> Selection<'a> {
        Self(
            self.0
                .iter()
                .flat_map(|f| Lookahead::from(*f).field(name).selection_fields())
                .collect(),
        )
    }

    fn wants(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|f| Lookahead::from(*f).field(name).exists())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Distinct values, in first-seen order.
fn distinct<T: Copy + Eq + Hash>(values: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut seen = HashSet::new();
    values.into_iter().filter(|v| seen.insert(*v)).collect()
}

/// Feeds a loader of records by id.
async fn feed_by_id<L, M>(ctx: &Context<'_>, rows: &[M], id: fn(&M) -> Uuid) -> Result<()>
where
    L: Loader<Uuid, Value = M, Error = async_graphql::Error> + Send + Sync + 'static,
    M: Clone + Send + Sync + 'static,
{
    loader::<L>(ctx)?
        .feed_many(rows.iter().map(|m| (id(m), m.clone())))
        .await;
    Ok(())
}

/// Feeds a loader of children by parent id; parents without children get an empty
/// list, so asking for them later costs no query either.
async fn feed_children<L, M>(
    ctx: &Context<'_>,
    parents: &[Uuid],
    rows: Vec<M>,
    parent_of: fn(&M) -> Uuid,
) -> Result<()>
where
    L: Loader<Uuid, Value = Vec<M>, Error = async_graphql::Error> + Send + Sync + 'static,
    M: Clone + Send + Sync + 'static,
{
    let mut grouped: HashMap<Uuid, Vec<M>> = parents.iter().map(|p| (*p, Vec::new())).collect();
    for row in rows {
        grouped.entry(parent_of(&row)).or_default().push(row);
    }
    loader::<L>(ctx)?.feed_many(grouped).await;
    Ok(())
}

/// The relations selected under a page of invitations.
pub async fn invitations(
    ctx: &Context<'_>,
    rows: &[invitation::Model],
    selection: &Selection<'_>,
) -> Result<()> {
    if rows.is_empty() || selection.is_empty() {
        return Ok(());
    }
    let cx = service(ctx)?;
    let events_selected = selection.field("event");
    if !events_selected.is_empty() {
        let ids = distinct(rows.iter().map(|i| i.event_id));
        let found = load_events(ctx, &ids, &events_selected).await?;
        events_below(ctx, &found, &events_selected, true).await?;
    }
    if selection.wants("organization") {
        let ids = distinct(rows.iter().map(|i| i.organization_id));
        let found = organizations::get_many(cx, &ids).await?;
        feed_by_id::<OrganizationLoader, _>(ctx, &found, |o| o.id).await?;
    }
    let delegations_selected = selection.field("delegation");
    if !delegations_selected.is_empty() {
        let ids: Vec<Uuid> = rows.iter().map(|i| i.id).collect();
        let with_members = delegations_selected.wants("participants");
        let found = if with_members {
            // Delegations and their members in one query.
            let with_members = delegations::of_invitations_with_members(cx, &ids).await?;
            let delegation_ids: Vec<Uuid> = with_members.iter().map(|(d, _)| d.id).collect();
            let (found, members): (Vec<_>, Vec<_>) = with_members.into_iter().unzip();
            feed_children::<ParticipantsOfDelegation, _>(
                ctx,
                &delegation_ids,
                members.into_iter().flatten().collect(),
                |p| p.delegation_id,
            )
            .await?;
            found
        } else {
            delegations::of_invitations(cx, &ids).await?
        };
        delegations_below(ctx, &found, &delegations_selected, with_members).await?;
        feed_children::<DelegationOfInvitation, _>(ctx, &ids, found, |d| d.invitation_id).await?;
    }
    Ok(())
}

/// One event the caller may see, with what the current field's selection asks for
/// below it (its host read in the same query).
pub async fn event(ctx: &Context<'_>, id: Uuid) -> Result<event::Model> {
    let selection = Selection::of(ctx);
    if selection.wants("sessions") {
        // The event page: event, host and agenda in one query.
        let Some((event, host, agenda)) =
            events::get_with_host_and_agenda(service(ctx)?, id).await?
        else {
            return Err(crate::error::AppError::NotFound { entity: "event" }.into());
        };
        feed_by_id::<EventLoader, _>(ctx, std::slice::from_ref(&event), |e| e.id).await?;
        feed_by_id::<OrganizationLoader, _>(ctx, std::slice::from_ref(&host), |o| o.id).await?;
        feed_children::<SessionsOfEvent, session::Model>(ctx, &[id], agenda, |s| s.event_id)
            .await?;
        return Ok(event);
    }
    let found = load_events(ctx, &[id], &selection).await?;
    let Some(event) = found.into_iter().next() else {
        return Err(crate::error::AppError::NotFound { entity: "event" }.into());
    };
    events_below(ctx, std::slice::from_ref(&event), &selection, true).await?;
    Ok(event)
}

/// Reads the events among `ids` for a selection, with their hosts in the same
/// query when it asks for them, and feeds both loaders.
async fn load_events(
    ctx: &Context<'_>,
    ids: &[Uuid],
    selection: &Selection<'_>,
) -> Result<Vec<event::Model>> {
    let cx = service(ctx)?;
    if !selection.wants("host") {
        let found = events::get_many(cx, ids).await?;
        feed_by_id::<EventLoader, _>(ctx, &found, |e| e.id).await?;
        return Ok(found);
    }
    let (found, hosts): (Vec<_>, Vec<_>) = events::get_many_with_hosts(cx, ids)
        .await?
        .into_iter()
        .unzip();
    feed_by_id::<EventLoader, _>(ctx, &found, |e| e.id).await?;
    feed_by_id::<OrganizationLoader, _>(ctx, &hosts, |o| o.id).await?;
    Ok(found)
}

/// The relations selected under some events; `hosts_loaded` when their hosts were
/// read with them.
pub async fn events_below(
    ctx: &Context<'_>,
    rows: &[event::Model],
    selection: &Selection<'_>,
    hosts_loaded: bool,
) -> Result<()> {
    if rows.is_empty() || selection.is_empty() {
        return Ok(());
    }
    let cx = service(ctx)?;
    if selection.wants("host") && !hosts_loaded {
        let ids = distinct(rows.iter().map(|e| e.host_organization_id));
        let found = organizations::get_many(cx, &ids).await?;
        feed_by_id::<OrganizationLoader, _>(ctx, &found, |o| o.id).await?;
    }
    if selection.wants("sessions") {
        let ids: Vec<Uuid> = rows.iter().map(|e| e.id).collect();
        let found = sessions::of_events(cx, &ids).await?;
        feed_children::<SessionsOfEvent, session::Model>(ctx, &ids, found, |s| s.event_id).await?;
    }
    if selection.wants("coHosts") {
        let ids: Vec<Uuid> = rows.iter().map(|e| e.id).collect();
        let found = events::co_hosts_of(cx, &ids).await?;
        feed_children::<CoHostLoader, _>(ctx, &ids, found, |c| c.link.event_id).await?;
    }
    Ok(())
}

/// The relations selected under some delegations; `members_loaded` when their
/// participants were read with them.
pub async fn delegations_below(
    ctx: &Context<'_>,
    rows: &[delegation::Model],
    selection: &Selection<'_>,
    members_loaded: bool,
) -> Result<()> {
    if rows.is_empty() || selection.is_empty() {
        return Ok(());
    }
    if selection.wants("participants") && !members_loaded {
        let ids: Vec<Uuid> = rows.iter().map(|d| d.id).collect();
        let found = participants::of_delegations(service(ctx)?, &ids).await?;
        feed_children::<ParticipantsOfDelegation, _>(ctx, &ids, found, |p| p.delegation_id).await?;
    }
    Ok(())
}
