//! What the participation lists (invitations, applications, delegations) share:
//! their filter, and their oldest-first keyset ordering.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select, Value};
use uuid::Uuid;

use super::pagination::{Ordering, SortDirection, parse_timestamp, timestamp_text};
use crate::entity::{application, audit_entry, delegation, invitation};

/// Which records of a participation list to show (always within what the caller
/// may see).
#[derive(Debug, Clone)]
pub struct ParticipationFilter<S> {
    pub event_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub statuses: Option<Vec<S>>,
}

impl<S> Default for ParticipationFilter<S> {
    fn default() -> Self {
        Self {
            event_id: None,
            organization_id: None,
            statuses: None,
        }
    }
}

/// Applies the event and organization conditions of `filter`.
pub fn by_event_and_organization<E: EntityTrait, S>(
    mut select: Select<E>,
    event_column: E::Column,
    organization_column: E::Column,
    filter: &ParticipationFilter<S>,
) -> Select<E> {
    if let Some(event) = filter.event_id {
        select = select.filter(event_column.eq(event));
    }
    if let Some(organization) = filter.organization_id {
        select = select.filter(organization_column.eq(organization));
    }
    select
}

/// Applies the event, organization and (stored) status conditions of `filter`.
pub fn narrow<E: EntityTrait, S: Copy + Into<Value>>(
    select: Select<E>,
    event_column: E::Column,
    organization_column: E::Column,
    status_column: E::Column,
    filter: &ParticipationFilter<S>,
) -> Select<E> {
    let select = by_event_and_organization(select, event_column, organization_column, filter);
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

chronological!(
    invitation::Model,
    application::Model,
    delegation::Model,
    audit_entry::Model
);

fn created_text<M: Chronological>(model: &M) -> String {
    timestamp_text(&model.created_at())
}

fn id_of<M: Chronological>(model: &M) -> Uuid {
    model.id()
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
    Ordering {
        name: format!("{list}:CREATED_AT:{direction:?}"),
        column: created_at,
        id_column: id,
        direction,
        sort_value: created_text::<E::Model>,
        parse_value: parse_timestamp,
        id_of: id_of::<E::Model>,
    }
}
