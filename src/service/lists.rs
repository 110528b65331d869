//! What the participation lists (invitations, applications, delegations) share:
//! their filter, and their keyset orderings (oldest first by default, by last
//! change for systems catching up with `updatedSince`, by status, or by the
//! organization's name).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select, Value};
use uuid::Uuid;

use super::pagination::{
    Ordering, Page, PageArgs, PageRequest, SortDirection, SortKey, parse_text, parse_timestamp,
    timestamp_text,
};
use crate::entity::{application, audit_entry, delegation, invitation, organization};

/// Which records of a participation list to show (always within what the caller
/// may see).
#[derive(Debug, Clone)]
pub struct ParticipationFilter<S> {
    pub event_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub statuses: Option<Vec<S>>,
    /// Only records changed after this instant (see [`changed_since`]).
    pub updated_since: Option<DateTime<Utc>>,
    /// Only records of organizations whose name, local name or acronym contains
    /// this text, ignoring case (see [`by_organization_text`]).
    pub search: Option<String>,
}

impl<S> Default for ParticipationFilter<S> {
    fn default() -> Self {
        Self {
            event_id: None,
            organization_id: None,
            statuses: None,
            updated_since: None,
            search: None,
        }
    }
}

/// Keeps the rows whose `updated_at_column` is after `since`, when given.
///
/// Strictly after: a client passes the last `updatedAt` it holds and gets what
/// changed since then. Every change moves `updated_at` (a removal moves the
/// parent's: a participant's removal shows as its delegation's change), so nothing
/// a client holds can change without reappearing here.
pub fn changed_since<E: EntityTrait>(
    select: Select<E>,
    updated_at_column: E::Column,
    since: Option<DateTime<Utc>>,
) -> Select<E> {
    match since {
        Some(since) => select.filter(updated_at_column.gt(since)),
        None => select,
    }
}

/// Keeps the rows whose organization's name, local name or acronym contains
/// `search` (case-insensitive, the same on SQLite and PostgreSQL: the directory's
/// own search); a blank search keeps everything.
pub fn by_organization_text<E: EntityTrait>(
    select: Select<E>,
    organization_column: E::Column,
    search: Option<&str>,
) -> Select<E> {
    use sea_orm::{QuerySelect, QueryTrait};
    let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) else {
        return select;
    };
    let pattern = super::search::contains_pattern(search);
    let matching = organization::Entity::find()
        .select_only()
        .column(organization::Column::Id)
        .filter(
            sea_orm::Condition::any()
                .add(super::search::lower_like(
                    organization::Column::Name,
                    &pattern,
                ))
                .add(super::search::lower_like(
                    organization::Column::LocalName,
                    &pattern,
                ))
                .add(super::search::lower_like(
                    organization::Column::Acronym,
                    &pattern,
                )),
        )
        .into_query();
    select.filter(organization_column.in_subquery(matching))
}

/// Applies the event, organization, search and change-time conditions of `filter`.
pub fn by_event_and_organization<E: EntityTrait, S>(
    mut select: Select<E>,
    event_column: E::Column,
    organization_column: E::Column,
    updated_at_column: E::Column,
    filter: &ParticipationFilter<S>,
) -> Select<E> {
    if let Some(event) = filter.event_id {
        select = select.filter(event_column.eq(event));
    }
    if let Some(organization) = filter.organization_id {
        select = select.filter(organization_column.eq(organization));
    }
    select = by_organization_text(select, organization_column, filter.search.as_deref());
    changed_since(select, updated_at_column, filter.updated_since)
}

/// Applies the event, organization, change-time and (stored) status conditions of
/// `filter`.
pub fn narrow<E: EntityTrait, S: Copy + Into<Value>>(
    select: Select<E>,
    event_column: E::Column,
    organization_column: E::Column,
    updated_at_column: E::Column,
    status_column: E::Column,
    filter: &ParticipationFilter<S>,
) -> Select<E> {
    let select = by_event_and_organization(
        select,
        event_column,
        organization_column,
        updated_at_column,
        filter,
    );
    match &filter.statuses {
        Some(statuses) => select.filter(status_column.is_in(statuses.iter().copied())),
        None => select,
    }
}

/// A record listed oldest first.
pub trait Chronological {
    fn id(&self) -> Uuid;
    fn created_at(&self) -> DateTime<Utc>;
}

/// A record that changes, listed by its last change and its status too.
pub trait Changing: Chronological {
    fn updated_at(&self) -> DateTime<Utc>;
    /// The stored status, as the schema names it.
    fn status_text(&self) -> String;
}

macro_rules! chronological {
    ($($model:ty),*) => {$(
        impl Chronological for $model {
            fn id(&self) -> Uuid {
                self.id
            }
            fn created_at(&self) -> DateTime<Utc> {
                self.created_at
            }
        }
    )*};
}

macro_rules! changing {
    ($($model:ty),*) => {$(
        impl Changing for $model {
            fn updated_at(&self) -> DateTime<Utc> {
                self.updated_at
            }
            fn status_text(&self) -> String {
                sea_orm::ActiveEnum::to_value(&self.status)
            }
        }
    )*};
}

chronological!(
    invitation::Model,
    application::Model,
    delegation::Model,
    audit_entry::Model
);
changing!(invitation::Model, application::Model, delegation::Model);

fn created_text<M: Chronological>(model: &M) -> String {
    timestamp_text(&model.created_at())
}

fn updated_text<M: Changing>(model: &M) -> String {
    timestamp_text(&model.updated_at())
}

fn status_text<M: Changing>(model: &M) -> String {
    model.status_text()
}

fn id_of<M: Chronological>(model: &M) -> Uuid {
    model.id()
}

/// Keyset ordering of list `list` by one of its own columns (then id), named
/// `list:LABEL:DIRECTION` in cursors.
fn by_column<E: EntityTrait>(
    list: &str,
    label: &str,
    column: E::Column,
    text: super::pagination::SortValueFn<E::Model>,
    parse_value: super::pagination::ParseValueFn,
    id: E::Column,
    direction: SortDirection,
) -> Ordering<E>
where
    E::Model: Chronological,
{
    Ordering {
        name: format!("{list}:{label}:{direction:?}"),
        key: SortKey::Column { column, text },
        id_column: id,
        direction,
        parse_value,
        id_of: id_of::<E::Model>,
    }
}

/// Keyset ordering by creation time (then id) for the list named `list`.
pub fn by_creation<E>(
    list: &str,
    created_at: E::Column,
    id: E::Column,
    direction: SortDirection,
) -> Ordering<E>
where
    E: EntityTrait,
    E::Model: Chronological,
{
    by_column(
        list,
        "CREATED_AT",
        created_at,
        created_text::<E::Model>,
        parse_timestamp,
        id,
        direction,
    )
}

/// Keyset ordering by last change (then id) for the list named `list`.
///
/// Many rows can share one `updated_at` (the expiry sweep stores every lapsed
/// invitation at one instant): the id breaks ties, so paging with cursors
/// neither skips nor repeats a row among equal timestamps.
pub fn by_update<E>(
    list: &str,
    updated_at: E::Column,
    id: E::Column,
    direction: SortDirection,
) -> Ordering<E>
where
    E: EntityTrait,
    E::Model: Changing,
{
    by_column(
        list,
        "UPDATED_AT",
        updated_at,
        updated_text::<E::Model>,
        parse_timestamp,
        id,
        direction,
    )
}

/// Keyset ordering by stored status (then id) for the list named `list`.
///
/// Statuses sort by their names (`ACCEPTED` before `SENT`); the id breaks ties,
/// so cursors stay exact within a status. An invitation past its respond-by
/// reads `EXPIRED` at once but sorts by its stored status until the expiry
/// sweep stores it.
pub fn by_status<E>(
    list: &str,
    status: E::Column,
    id: E::Column,
    direction: SortDirection,
) -> Ordering<E>
where
    E: EntityTrait,
    E::Model: Changing,
{
    by_column(
        list,
        "STATUS",
        status,
        status_text::<E::Model>,
        super::pagination::parse_text,
        id,
        direction,
    )
}

/// Keyset ordering by the name of the row's organization (then id) for the list
/// named `list`.
///
/// The rows hold only the organization's id, so the key is a correlated
/// subquery, `(SELECT name FROM organizations WHERE organizations.id =
/// <list>.organization_id)`, selected with each row for its cursor. Names
/// compare like the directory's `NAME` ordering (the plain column, in the
/// database's collation); two organizations can share a name in different
/// countries, and the id breaks that tie like any other.
pub fn by_organization_name<E>(
    list: &str,
    organization_id: E::Column,
    id: E::Column,
    direction: SortDirection,
) -> Ordering<E>
where
    E: EntityTrait,
    E::Model: Chronological,
{
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let name = Query::select()
        .column((organization::Entity, organization::Column::Name))
        .from(organization::Entity)
        .and_where(
            Expr::col((organization::Entity, organization::Column::Id))
                .equals((E::default(), organization_id)),
        )
        .to_owned();
    Ordering {
        name: format!("{list}:ORGANIZATION_NAME:{direction:?}"),
        key: SortKey::Related(Expr::from(name)),
        id_column: id,
        direction,
        parse_value: parse_text,
        id_of: id_of::<E::Model>,
    }
}

/// What a participation list (invitations, applications, delegations) sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum ParticipationSortField {
    /// By when the record was created (the default): new records come last.
    CreatedAt,
    /// By when the record last changed, so that a system that was offline catches
    /// up page by page (with `updatedSince`, from the last `updatedAt` it holds).
    UpdatedAt,
    /// By status name (`ACCEPTED`, `DECLINED`, …, `WITHDRAWN`), oldest first
    /// within a status (by id).
    Status,
    /// By the name of the record's organization (as `organizations` sorts by
    /// `NAME`); records of one organization, or of organizations sharing a name,
    /// by id.
    OrganizationName,
}

/// The columns a participation list (invitations, applications, delegations) is
/// sorted and paged by, at the root and per event under a page of events.
pub struct ParticipationList<E: EntityTrait> {
    /// The list's name, in its cursors.
    pub name: &'static str,
    pub created_at: E::Column,
    pub updated_at: E::Column,
    pub status: E::Column,
    pub organization_id: E::Column,
    pub id: E::Column,
    pub event_id: E::Column,
    pub event_of: fn(&E::Model) -> Uuid,
}

/// The ordering of participation list `list` by `sort`.
pub fn participation_ordering<E>(
    list: &ParticipationList<E>,
    sort: (ParticipationSortField, SortDirection),
) -> Ordering<E>
where
    E: EntityTrait,
    E::Model: Changing,
{
    let (name, id, direction) = (list.name, list.id, sort.1);
    match sort.0 {
        ParticipationSortField::CreatedAt => by_creation(name, list.created_at, id, direction),
        ParticipationSortField::UpdatedAt => by_update(name, list.updated_at, id, direction),
        ParticipationSortField::Status => by_status(name, list.status, id, direction),
        ParticipationSortField::OrganizationName => {
            by_organization_name(name, list.organization_id, id, direction)
        }
    }
}

/// One page of `select` (already narrowed to what the caller may see), in `sort`
/// order.
pub async fn page<E>(
    cx: &super::ServiceContext,
    list: &ParticipationList<E>,
    select: Select<E>,
    sort: (ParticipationSortField, SortDirection),
    page: &PageRequest,
) -> crate::error::AppResult<Page<E::Model>>
where
    E: EntityTrait,
    E::Model: Changing,
{
    let ordering = participation_ordering(list, sort);
    let args = PageArgs::parse(page, &ordering.name)?;
    super::pagination::fetch_page(&cx.db, select, &ordering, &args).await
}

/// One page of `select` (already narrowed to what the caller may see) for each of
/// `event_ids`, in `sort` order: one query for all the events, however many.
pub async fn pages_per_event<E>(
    cx: &super::ServiceContext,
    list: &ParticipationList<E>,
    select: Select<E>,
    event_ids: &[Uuid],
    sort: (ParticipationSortField, SortDirection),
    page: &PageRequest,
) -> crate::error::AppResult<std::collections::HashMap<Uuid, Page<E::Model>>>
where
    E: EntityTrait,
    E::Model: Changing,
{
    let ordering = participation_ordering(list, sort);
    let args = PageArgs::parse(page, &ordering.name)?;
    super::pagination::fetch_pages_per_parent(
        &cx.db,
        select,
        list.event_id,
        list.event_of,
        event_ids,
        &ordering,
        &args,
    )
    .await
}
