//! Relay connections: turning a service [`Page`] into `XConnection`/`XEdge` types.
//!
//! async-graphql's generic `Connection` cannot carry a type description, and every
//! type of our schema has one; `connection_type!` declares a documented pair per
//! list, with a lazily computed `totalCount` (no count query unless asked for).

use std::borrow::Cow;

use async_graphql::connection::PageInfo;
use async_graphql::registry::Registry;
use async_graphql::{InputType, InputValueResult, Value};
use chrono::{DateTime, Utc};

use crate::service::lists::ParticipationSortField;
use crate::service::pagination::{Page, PageRequest, SortDirection};

/// The Relay arguments of a list field.
pub fn page_request(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> PageRequest {
    PageRequest {
        first,
        after,
        last,
        before,
    }
}

/// Splits a page into its edges (cursor, node), its page info and its total when
/// the page already tells it.
pub fn edges_and_info<M, N>(
    page: Page<M>,
    to_node: fn(M) -> N,
) -> (Vec<(String, N)>, PageInfo, Option<u64>) {
    let info = PageInfo {
        has_previous_page: page.has_previous_page,
        has_next_page: page.has_next_page,
        start_cursor: page.items.first().map(|(c, _)| c.clone()),
        end_cursor: page.items.last().map(|(c, _)| c.clone()),
    };
    let edges = page
        .items
        .into_iter()
        .map(|(cursor, row)| (cursor, to_node(row)))
        .collect();
    (edges, info, page.known_total)
}

/// Declares `$connection` and `$edge` for nodes of type `$node`; `$count` is the
/// service function counting matches of the filter type `$filter`.
///
/// With `nested = L`, the connection can also be a parent's list (an event's
/// invitations): [`Self::nested`] remembers the parent, and `totalCount` then
/// counts through the loader `L`, one grouped query for all the parents of a page.
macro_rules! connection_type {
    ($connection:ident, $edge:ident, $node:ty, $filter:ty, $count:path, $doc:literal, $edge_doc:literal $(, nested = $nested:ty)?) => {
        #[doc = $doc]
        pub struct $connection {
            edges: Vec<$edge>,
            page_info: async_graphql::connection::PageInfo,
            filter: $filter,
            known_total: Option<u64>,
            /// The parent whose list this is, for a nested list.
            #[allow(dead_code)]
            parent: Option<uuid::Uuid>,
        }

        impl $connection {
            pub fn new(
                page: $crate::service::pagination::Page<impl Into<$node>>,
                filter: $filter,
            ) -> Self {
                let (edges, page_info, known_total) =
                    $crate::graphql::connection::edges_and_info(page, Into::into);
                Self {
                    edges: edges
                        .into_iter()
                        .map(|(cursor, node)| $edge { cursor, node })
                        .collect(),
                    page_info,
                    filter,
                    known_total,
                    parent: None,
                }
            }

            $(
            /// The list of `parent` (counted through the nested loader).
            pub fn nested(
                page: $crate::service::pagination::Page<impl Into<$node>>,
                filter: $filter,
                parent: uuid::Uuid,
            ) -> Self {
                let _: Option<$nested> = None;
                Self {
                    parent: Some(parent),
                    ..Self::new(page, filter)
                }
            }
            )?
        }

        #[doc = $doc]
        #[async_graphql::Object]
        impl $connection {
            /// The items of this page, each with its cursor.
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }
            /// The items of this page.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }
            /// Where this page is in the whole list.
            async fn page_info(&self) -> &async_graphql::connection::PageInfo {
                &self.page_info
            }
            /// How many items match the filter, across all pages.
            async fn total_count(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::Result<u64> {
                if let Some(total) = self.known_total {
                    return Ok(total);
                }
                $(
                if let Some(parent) = self.parent {
                    return $crate::graphql::nested::count::<$nested, _>(ctx, parent, &self.filter)
                        .await;
                }
                )?
                Ok($count($crate::graphql::context::service(ctx)?, &self.filter).await?)
            }
        }

        #[doc = $edge_doc]
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            /// Opaque position of this item, for `after` and `before`.
            cursor: String,
            /// The item.
            node: $node,
        }
    };
}

pub(crate) use connection_type;

/// The service filter of a participation list from its GraphQL filter fields.
pub fn participation_filter<S>(
    event_id: Option<async_graphql::ID>,
    organization_id: Option<async_graphql::ID>,
    statuses: Option<Vec<S>>,
    updated_since: Option<DateTimeInput>,
    search: Option<String>,
) -> Result<crate::service::lists::ParticipationFilter<S>, crate::error::AppError> {
    use super::ids::{NodeType, decode_optional};
    Ok(crate::service::lists::ParticipationFilter {
        event_id: decode_optional(event_id.as_ref(), NodeType::Event, "filter.eventId")?,
        organization_id: decode_optional(
            organization_id.as_ref(),
            NodeType::Organization,
            "filter.organizationId",
        )?,
        statuses,
        updated_since: DateTimeInput::parse_optional(updated_since, "filter.updatedSince")?,
        search,
    })
}

/// Sort order of a participation list (`invitations`, `applications`,
/// `delegations`).
#[derive(async_graphql::InputObject)]
pub struct ParticipationOrder {
    /// What to sort by.
    #[graphql(default_with = "ParticipationSortField::CreatedAt")]
    field: ParticipationSortField,
    /// Which way.
    #[graphql(default_with = "SortDirection::Asc")]
    direction: SortDirection,
}

/// The service sort of a participation list (default: oldest first).
pub fn participation_sort(
    order_by: Option<ParticipationOrder>,
) -> (ParticipationSortField, SortDirection) {
    order_by.map_or(
        (ParticipationSortField::CreatedAt, SortDirection::Asc),
        |o| (o.field, o.direction),
    )
}

/// A `DateTime` input that the resolver parses instead of the executor.
///
/// async-graphql rejects a malformed scalar with a message naming only the type
/// (`Failed to parse "DateTime"`), before any resolver runs, so the client cannot
/// tell which field was wrong. In the schema this is the ordinary `DateTime`; it
/// keeps the client's value, and [`DateTimeInput::parse_optional`] turns a bad one
/// into a `BAD_USER_INPUT` naming the field.
pub struct DateTimeInput(Option<DateTime<Utc>>);

impl DateTimeInput {
    /// The instant, or `BAD_USER_INPUT` naming `field` when it is not an RFC 3339
    /// date-time in the plausible years.
    pub fn parse_optional(
        input: Option<Self>,
        field: &str,
    ) -> Result<Option<DateTime<Utc>>, crate::error::AppError> {
        let Some(DateTimeInput(parsed)) = input else {
            return Ok(None);
        };
        let at = parsed.ok_or_else(|| {
            crate::error::AppError::invalid(
                field,
                "not a date-time: give one in RFC 3339 form, e.g. 2030-05-04T09:00:00Z",
            )
        })?;
        crate::domain::plausible_instant(at, field).map(Some)
    }
}

impl InputType for DateTimeInput {
    type RawValueType = Self;

    fn type_name() -> Cow<'static, str> {
        <super::scalars::IsoDateTime as InputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <super::scalars::IsoDateTime as InputType>::create_type_info(registry)
    }

    fn parse(value: Option<Value>) -> InputValueResult<Self> {
        Ok(Self(
            <super::scalars::IsoDateTime as InputType>::parse(value)
                .ok()
                .map(|at| at.0),
        ))
    }

    fn to_value(&self) -> Value {
        self.0.map_or(Value::Null, |at| {
            <super::scalars::IsoDateTime as InputType>::to_value(&super::scalars::IsoDateTime(at))
        })
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }
}

/// Maps an optional GraphQL input that may be `null` to a service patch
/// (converting scalars such as [`super::scalars::IsoDate`] to their service type).
pub fn patch<T, U: From<T>>(value: async_graphql::MaybeUndefined<T>) -> crate::service::Patch<U> {
    match value {
        async_graphql::MaybeUndefined::Undefined => None,
        async_graphql::MaybeUndefined::Null => Some(None),
        async_graphql::MaybeUndefined::Value(v) => Some(Some(v.into())),
    }
}
