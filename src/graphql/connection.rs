//! Turning a service [`Page`] into a Relay connection.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{ObjectType, OutputType};

use crate::service::pagination::{Page, PageRequest};

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

/// Builds the connection for `page`, mapping each row to its GraphQL node.
pub fn from_page<M, N, F>(page: Page<M>, to_node: fn(M) -> N, fields: F) -> Connection<String, N, F>
where
    N: OutputType,
    F: ObjectType,
{
    let mut connection =
        Connection::with_additional_fields(page.has_previous_page, page.has_next_page, fields);
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|(cursor, row)| Edge::new(cursor, to_node(row))),
    );
    connection
}

/// Maps an optional GraphQL input that may be `null` to a service patch.
pub fn patch<T>(value: async_graphql::MaybeUndefined<T>) -> crate::service::Patch<T> {
    match value {
        async_graphql::MaybeUndefined::Undefined => None,
        async_graphql::MaybeUndefined::Null => Some(None),
        async_graphql::MaybeUndefined::Value(v) => Some(Some(v)),
    }
}
