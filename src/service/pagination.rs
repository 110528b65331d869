//! Keyset (cursor) pagination shared by every list.
//!
//! Offsets drift when rows are inserted between two pages and get slower the deeper a
//! client pages; a keyset cursor (the sort value plus the id as a tie-breaker) does
//! neither. Cursors are opaque to clients and bound to the ordering they were made
//! for, so a cursor from another ordering is rejected instead of silently skipping.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::{ConnectionTrait, EntityTrait, Select, Value};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Page size when the client gives none.
pub const DEFAULT_PAGE_SIZE: i32 = 20;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: i32 = 100;

/// The Relay arguments as a client sent them.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum SortDirection {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// What a cursor holds: the ordering it belongs to, the sort value and the id.
#[derive(Debug, Serialize, Deserialize)]
struct CursorData {
    o: String,
    k: String,
    id: Uuid,
}

/// A decoded cursor position.
#[derive(Debug, Clone)]
pub struct CursorKey {
    pub sort_value: String,
    pub id: Uuid,
}

/// Encodes a cursor for an item at `sort_value`/`id` under `ordering`.
pub fn encode_cursor(ordering: &str, sort_value: String, id: Uuid) -> String {
    let data = CursorData {
        o: ordering.to_owned(),
        k: sort_value,
        id,
    };
    // Serializing a struct of strings and a uuid cannot fail.
    let json = serde_json::to_vec(&data).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(raw: &str, ordering: &str, field: &str) -> AppResult<CursorKey> {
    let invalid = || AppError::invalid(field, "not a cursor of this list and ordering");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let data: CursorData = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if data.o != ordering {
        return Err(invalid());
    }
    Ok(CursorKey {
        sort_value: data.k,
        id: data.id,
    })
}

/// Validated page arguments for one ordering.
#[derive(Debug, Clone)]
pub struct PageArgs {
    limit: u64,
    backward: bool,
    after: Option<CursorKey>,
    before: Option<CursorKey>,
}

impl PageArgs {
    /// Checks sizes and cursors; `ordering` names the list's current ordering.
    pub fn parse(request: &PageRequest, ordering: &str) -> AppResult<Self> {
        if request.first.is_some() && request.last.is_some() {
            return Err(AppError::invalid(
                "last",
                "give either `first` or `last`, not both",
            ));
        }
        let size = |value: Option<i32>, field: &str| -> AppResult<Option<u64>> {
            match value {
                None => Ok(None),
                Some(n) if !(0..=MAX_PAGE_SIZE).contains(&n) => Err(AppError::invalid(
                    field,
                    format!("must be between 0 and {MAX_PAGE_SIZE}"),
                )),
                Some(n) => Ok(Some(n as u64)),
            }
        };
        let first = size(request.first, "first")?;
        let last = size(request.last, "last")?;
        let after = request
            .after
            .as_deref()
            .map(|c| decode_cursor(c, ordering, "after"))
            .transpose()?;
        let before = request
            .before
            .as_deref()
            .map(|c| decode_cursor(c, ordering, "before"))
            .transpose()?;
        let backward = last.is_some() || (first.is_none() && before.is_some() && after.is_none());
        let limit = first.or(last).unwrap_or(DEFAULT_PAGE_SIZE as u64);
        Ok(Self {
            limit,
            backward,
            after,
            before,
        })
    }
}

/// One page of items with their cursors, in display order.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<(String, T)>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
    /// How many items match in all, when this page shows that without counting:
    /// it holds every match (no cursor, nothing beyond it). A client's first page
    /// of a short list then needs no count query for `totalCount`.
    pub known_total: Option<u64>,
}

/// Renders a row's sort value as cursor text.
pub type SortValueFn<M> = fn(&M) -> String;
/// Turns cursor text back into a database value (`None`: corrupted cursor).
pub type ParseValueFn = fn(&str) -> Option<Value>;

/// Cursor text of a timestamp sort value.
pub fn timestamp_text(value: &chrono::DateTime<chrono::Utc>) -> String {
    value.to_rfc3339()
}

/// Parses the cursor text of a timestamp sort value.
pub fn parse_timestamp(text: &str) -> Option<Value> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| Value::from(t.with_timezone(&chrono::Utc)))
}

/// Parses the cursor text of a text sort value.
pub fn parse_text(text: &str) -> Option<Value> {
    Some(Value::from(text.to_owned()))
}

/// How one list sorts: its column, the id tie-breaker, and how sort values travel
/// through cursors.
pub struct Ordering<E: EntityTrait> {
    /// Name bound into cursors, e.g. `events:START_DATE:ASC`.
    pub name: String,
    pub column: E::Column,
    pub id_column: E::Column,
    pub direction: SortDirection,
    /// The sort value of a row, as text for the cursor.
    pub sort_value: SortValueFn<E::Model>,
    pub parse_value: ParseValueFn,
    pub id_of: fn(&E::Model) -> Uuid,
}

/// Fetches one page of `select` (already filtered for the caller) in `ordering`.
///
/// One extra row is fetched to learn whether another page follows, so a page costs
/// exactly one query.
pub async fn fetch_page<E, C>(
    db: &C,
    select: Select<E>,
    ordering: &Ordering<E>,
    args: &PageArgs,
) -> AppResult<Page<E::Model>>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
{
    if args.limit == 0 {
        return Ok(Page {
            items: Vec::new(),
            has_previous_page: false,
            has_next_page: false,
            known_total: None,
        });
    }
    let key = |k: &CursorKey, field: &str| -> AppResult<(Value, Uuid)> {
        let value = (ordering.parse_value)(&k.sort_value)
            .ok_or_else(|| AppError::invalid(field, "not a cursor of this list and ordering"))?;
        Ok((value, k.id))
    };
    let after = args.after.as_ref().map(|k| key(k, "after")).transpose()?;
    let before = args.before.as_ref().map(|k| key(k, "before")).transpose()?;

    let mut cursor = select.cursor_by((ordering.column, ordering.id_column));
    if ordering.direction == SortDirection::Desc {
        cursor.desc();
    }
    if let Some(after) = after.clone() {
        cursor.after(after);
    }
    if let Some(before) = before.clone() {
        cursor.before(before);
    }
    if args.backward {
        cursor.last(args.limit + 1);
    } else {
        cursor.first(args.limit + 1);
    }
    let mut rows = cursor.all(db).await?;
    let has_more = rows.len() as u64 > args.limit;
    if has_more {
        if args.backward {
            rows.remove(0);
        } else {
            rows.pop();
        }
    }
    let (has_previous_page, has_next_page) = if args.backward {
        (has_more, before.is_some())
    } else {
        (after.is_some(), has_more)
    };
    let known_total =
        (after.is_none() && before.is_none() && !has_more).then_some(rows.len() as u64);
    let items = rows
        .into_iter()
        .map(|row| {
            let cursor = encode_cursor(
                &ordering.name,
                (ordering.sort_value)(&row),
                (ordering.id_of)(&row),
            );
            (cursor, row)
        })
        .collect();
    Ok(Page {
        items,
        has_previous_page,
        has_next_page,
        known_total,
    })
}

/// Keeps the rows strictly beyond cursor `key` in `ordering`'s direction
/// (`forward`: after it; otherwise before it), the id breaking ties.
fn beyond<E: EntityTrait>(
    ordering: &Ordering<E>,
    key: (Value, Uuid),
    forward: bool,
) -> sea_orm::Condition {
    use sea_orm::{ColumnTrait, Condition};
    let (value, id) = key;
    let greater = forward == (ordering.direction == SortDirection::Asc);
    let (column, id_column) = (ordering.column, ordering.id_column);
    let past = |c: E::Column, v: Value| if greater { c.gt(v) } else { c.lt(v) };
    Condition::any().add(past(column, value.clone())).add(
        Condition::all()
            .add(column.eq(value))
            .add(past(id_column, Value::from(id))),
    )
}

/// One page per parent: the same page arguments applied to the rows of each of
/// `parents` (`parent_column` holds a row's parent, `parent_of` reads it), in
/// one query whatever the number of parents.
///
/// A nested list (an event's invitations, for a page of events) must not cost a
/// query per parent: the rows are ranked per parent with `ROW_NUMBER() OVER
/// (PARTITION BY parent ...)` after the cursor conditions, and only the first
/// `limit + 1` of each parent are read (one more tells whether a next page
/// follows). Parents without rows get an empty page.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_pages_per_parent<E, C>(
    db: &C,
    select: Select<E>,
    parent_column: E::Column,
    parent_of: fn(&E::Model) -> Uuid,
    parents: &[Uuid],
    ordering: &Ordering<E>,
    args: &PageArgs,
) -> AppResult<std::collections::HashMap<Uuid, Page<E::Model>>>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
{
    use sea_orm::sea_query::{
        Alias, Asterisk, Expr, ExprTrait, Func, Order, Query, WindowStatement,
    };
    use sea_orm::{ColumnTrait, QueryFilter, QueryTrait};

    let mut pages: std::collections::HashMap<Uuid, Page<E::Model>> = parents
        .iter()
        .map(|p| {
            let empty = Page {
                items: Vec::new(),
                has_previous_page: false,
                has_next_page: false,
                known_total: None,
            };
            (*p, empty)
        })
        .collect();
    if args.limit == 0 || parents.is_empty() {
        return Ok(pages);
    }
    let key = |k: &CursorKey, field: &str| -> AppResult<(Value, Uuid)> {
        let value = (ordering.parse_value)(&k.sort_value)
            .ok_or_else(|| AppError::invalid(field, "not a cursor of this list and ordering"))?;
        Ok((value, k.id))
    };
    let after = args.after.as_ref().map(|k| key(k, "after")).transpose()?;
    let before = args.before.as_ref().map(|k| key(k, "before")).transpose()?;
    let mut select = select.filter(parent_column.is_in(parents.iter().copied()));
    if let Some(after) = after.clone() {
        select = select.filter(beyond(ordering, after, true));
    }
    if let Some(before) = before.clone() {
        select = select.filter(beyond(ordering, before, false));
    }
    // Rank in reading order: forward pages rank from the start, backward ones
    // from the end (and are turned around below).
    let ascending = (ordering.direction == SortDirection::Asc) != args.backward;
    let order = if ascending { Order::Asc } else { Order::Desc };
    let mut window = WindowStatement::partition_by((E::default(), parent_column));
    window
        .order_by((E::default(), ordering.column), order.clone())
        .order_by((E::default(), ordering.id_column), order);
    let mut inner = select.into_query();
    inner.expr_window_as(Func::cust("ROW_NUMBER"), window, Alias::new("page_rank"));
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new("page_rank")).lte(args.limit + 1))
        .order_by(Alias::new("page_rank"), Order::Asc)
        .to_owned();
    let statement = db.get_database_backend().build(&outer);
    let rows = E::find().from_raw_sql(statement).all(db).await?;

    let mut grouped: std::collections::HashMap<Uuid, Vec<E::Model>> =
        std::collections::HashMap::new();
    for row in rows {
        grouped.entry(parent_of(&row)).or_default().push(row);
    }
    for (parent, mut rows) in grouped {
        let has_more = rows.len() as u64 > args.limit;
        rows.truncate(args.limit as usize);
        if args.backward {
            rows.reverse();
        }
        let (has_previous_page, has_next_page) = if args.backward {
            (has_more, before.is_some())
        } else {
            (after.is_some(), has_more)
        };
        let known_total =
            (after.is_none() && before.is_none() && !has_more).then_some(rows.len() as u64);
        let items = rows
            .into_iter()
            .map(|row| {
                let cursor = encode_cursor(
                    &ordering.name,
                    (ordering.sort_value)(&row),
                    (ordering.id_of)(&row),
                );
                (cursor, row)
            })
            .collect();
        pages.insert(
            parent,
            Page {
                items,
                has_previous_page,
                has_next_page,
                known_total,
            },
        );
    }
    for page in pages.values_mut() {
        if page.items.is_empty() && after.is_none() && before.is_none() {
            page.known_total = Some(0);
        }
    }
    Ok(pages)
}

/// How many rows of `select` each of `parents` has, in one grouped query
/// (parents without rows are absent).
pub async fn count_per_parent<E, C>(
    db: &C,
    select: Select<E>,
    parent_column: E::Column,
    parents: &[Uuid],
) -> AppResult<std::collections::HashMap<Uuid, u64>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let rows: Vec<(Uuid, i64)> = select
        .filter(parent_column.is_in(parents.iter().copied()))
        .select_only()
        .column(parent_column)
        .column_as(
            Expr::from(sea_orm::sea_query::Func::count(Expr::col((
                E::default(),
                parent_column,
            )))),
            "n",
        )
        .group_by(parent_column)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(parent, n)| (parent, n.max(0) as u64))
        .collect())
}

/// One page of rows already read in full and in chronological order (oldest
/// first, the id breaking ties), for short lists a parent bounds, such as a
/// delegation's members (limited by its seats), that are read for a whole page
/// of parents at once: the same cursors and page rules as [`fetch_page`], applied
/// in memory. The total is always known (every match was read).
pub fn page_in_memory<T>(
    rows: Vec<T>,
    ordering: &str,
    key: fn(&T) -> (chrono::DateTime<chrono::Utc>, Uuid),
    request: &PageRequest,
) -> AppResult<Page<T>> {
    let args = PageArgs::parse(request, ordering)?;
    let total = rows.len() as u64;
    let position = |k: &CursorKey, field: &str| {
        chrono::DateTime::parse_from_rfc3339(&k.sort_value)
            .map(|at| (at.with_timezone(&chrono::Utc), k.id))
            .map_err(|_| AppError::invalid(field, "not a cursor of this list and ordering"))
    };
    let after = args
        .after
        .as_ref()
        .map(|k| position(k, "after"))
        .transpose()?;
    let before = args
        .before
        .as_ref()
        .map(|k| position(k, "before"))
        .transpose()?;
    let mut window: Vec<T> = rows
        .into_iter()
        .filter(|row| after.is_none_or(|a| key(row) > a) && before.is_none_or(|b| key(row) < b))
        .collect();
    let limit = args.limit as usize;
    let has_more = window.len() > limit;
    if args.backward {
        let skip = window.len().saturating_sub(limit);
        window.drain(..skip);
    } else {
        window.truncate(limit);
    }
    let (has_previous_page, has_next_page) = if args.backward {
        (has_more, before.is_some())
    } else {
        (after.is_some(), has_more)
    };
    Ok(Page {
        items: window
            .into_iter()
            .map(|row| {
                let (at, id) = key(&row);
                (encode_cursor(ordering, timestamp_text(&at), id), row)
            })
            .collect(),
        has_previous_page,
        has_next_page,
        known_total: Some(total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_bounded() {
        let req = |first| PageRequest {
            first: Some(first),
            ..Default::default()
        };
        assert!(PageArgs::parse(&req(100), "o").is_ok());
        assert!(PageArgs::parse(&req(101), "o").is_err());
        assert!(PageArgs::parse(&req(-1), "o").is_err());
    }

    #[test]
    fn in_memory_pages_follow_the_cursor_rules() {
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap();
        let rows: Vec<(chrono::DateTime<chrono::Utc>, Uuid)> = (0..5)
            .map(|i| (at(i), Uuid::from_u128(i as u128)))
            .collect();
        let first = |first, after| PageRequest {
            first: Some(first),
            after,
            ..Default::default()
        };
        let page = page_in_memory(rows.clone(), "m", |r| *r, &first(2, None)).unwrap();
        assert_eq!(page.items.len(), 2);
        assert!(page.has_next_page && !page.has_previous_page);
        assert_eq!(page.known_total, Some(5));
        let next = page.items[1].0.clone();
        let page = page_in_memory(rows.clone(), "m", |r| *r, &first(10, Some(next))).unwrap();
        assert_eq!(
            page.items.iter().map(|(_, r)| r.1).collect::<Vec<_>>(),
            (2..5).map(Uuid::from_u128).collect::<Vec<_>>()
        );
        assert!(!page.has_next_page && page.has_previous_page);
        let last = PageRequest {
            last: Some(2),
            ..Default::default()
        };
        let page = page_in_memory(rows.clone(), "m", |r| *r, &last).unwrap();
        assert_eq!(page.items[0].1.1, Uuid::from_u128(3));
        assert!(page.has_previous_page);
        let foreign = PageRequest {
            after: Some(encode_cursor("other", "x".into(), Uuid::nil())),
            ..Default::default()
        };
        assert!(page_in_memory(rows, "m", |r| *r, &foreign).is_err());
    }

    #[test]
    fn cursors_are_bound_to_their_ordering() {
        let cursor = encode_cursor("events:TITLE:ASC", "Forum".into(), Uuid::nil());
        let req = PageRequest {
            after: Some(cursor),
            ..Default::default()
        };
        assert!(PageArgs::parse(&req, "events:TITLE:ASC").is_ok());
        assert!(PageArgs::parse(&req, "events:START_DATE:ASC").is_err());
        let garbage = PageRequest {
            after: Some("not-a-cursor".into()),
            ..Default::default()
        };
        assert!(PageArgs::parse(&garbage, "events:TITLE:ASC").is_err());
    }
}
