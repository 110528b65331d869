//! Keyset (cursor) pagination shared by every list.
//!
//! Offsets drift when rows are inserted between two pages and get slower the deeper a
//! client pages; a keyset cursor (the sort value plus the id as a tie-breaker) does
//! neither. Cursors are opaque to clients and bound to the ordering they were made
//! for, so a cursor from another ordering is rejected instead of silently skipping.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use std::collections::HashMap;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryResult, QueryTrait,
    Select, Value,
};
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

/// Name of the extra column that carries a [`SortKey::Related`] value.
const SORT_KEY: &str = "page_sort_key";

/// What a list sorts by, before the id that breaks ties.
pub enum SortKey<E: EntityTrait> {
    /// A column of the listed rows; `text` renders a row's value for its cursor.
    Column {
        column: E::Column,
        text: SortValueFn<E::Model>,
    },
    /// A text the rows do not hold, such as the name of an invitation's
    /// organization: an expression over the listed table (a correlated
    /// subquery), selected with each row so that its cursor can be written.
    Related(Expr),
}

impl<E: EntityTrait> SortKey<E> {
    /// The key as an SQL expression, for `ORDER BY` and the cursor conditions.
    fn expr(&self) -> Expr {
        match self {
            SortKey::Column { column, .. } => Expr::col((E::default(), *column)),
            SortKey::Related(expr) => expr.clone(),
        }
    }

    /// A cursor's value, to compare with [`SortKey::expr`].
    fn value(&self, value: Value) -> Expr {
        match self {
            SortKey::Column { column, .. } => column.save_as(Expr::val(value)),
            SortKey::Related(_) => Expr::val(value),
        }
    }

    /// Adds the key as a selected column when the rows do not hold it.
    fn select_into(&self, query: &mut SelectStatement) {
        if let SortKey::Related(expr) = self {
            query.expr_as(expr.clone(), Alias::new(SORT_KEY));
        }
    }
}

/// How one list sorts: its key, the id tie-breaker, and how sort values travel
/// through cursors.
pub struct Ordering<E: EntityTrait> {
    /// Name bound into cursors, e.g. `events:START_DATE:ASC`.
    pub name: String,
    pub key: SortKey<E>,
    pub id_column: E::Column,
    pub direction: SortDirection,
    pub parse_value: ParseValueFn,
    pub id_of: fn(&E::Model) -> Uuid,
}

impl<E: EntityTrait> Ordering<E> {
    /// The cursor positions of `args` as database values.
    fn positions(&self, args: &PageArgs) -> AppResult<Positions> {
        let key = |k: &CursorKey, field: &str| -> AppResult<(Value, Uuid)> {
            let value = (self.parse_value)(&k.sort_value).ok_or_else(|| {
                AppError::invalid(field, "not a cursor of this list and ordering")
            })?;
            Ok((value, k.id))
        };
        Ok(Positions {
            after: args.after.as_ref().map(|k| key(k, "after")).transpose()?,
            before: args.before.as_ref().map(|k| key(k, "before")).transpose()?,
        })
    }

    /// Keeps the rows of `query` between the cursors, and selects the key when
    /// the rows do not hold it.
    fn narrow(&self, query: &mut SelectStatement, positions: &Positions) {
        if let Some(after) = positions.after.clone() {
            query.cond_where(beyond(self, after, true));
        }
        if let Some(before) = positions.before.clone() {
            query.cond_where(beyond(self, before, false));
        }
        self.key.select_into(query);
    }

    /// Which way to read rows: forward pages from the start, backward ones from
    /// the end (and turned around after reading).
    fn reading_order(&self, backward: bool) -> Order {
        if (self.direction == SortDirection::Asc) != backward {
            Order::Asc
        } else {
            Order::Desc
        }
    }

    /// A row read back: its model and its cursor.
    fn read(&self, row: &QueryResult) -> AppResult<(String, E::Model)> {
        let model = E::Model::from_query_result(row, "")?;
        let text = match &self.key {
            SortKey::Column { text, .. } => text(&model),
            SortKey::Related(_) => row.try_get::<String>("", SORT_KEY)?,
        };
        let cursor = encode_cursor(&self.name, text, (self.id_of)(&model));
        Ok((cursor, model))
    }
}

/// The decoded cursors of one page request.
struct Positions {
    after: Option<(Value, Uuid)>,
    before: Option<(Value, Uuid)>,
}

/// Fetches one page of `select` (already filtered for the caller) in `ordering`.
///
/// One extra row is fetched to learn whether another page follows, so a page costs
/// exactly one query. The keyset conditions are written here ([`beyond`]) rather
/// than by sea-orm's `cursor_by`, which sorts by columns only: a key read from
/// another table (an invitation's organization name) is an expression.
pub async fn fetch_page<E, C>(
    db: &C,
    select: Select<E>,
    ordering: &Ordering<E>,
    args: &PageArgs,
) -> AppResult<Page<E::Model>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    if args.limit == 0 {
        return Ok(Page::empty());
    }
    let positions = ordering.positions(args)?;
    let order = ordering.reading_order(args.backward);
    let mut query = select.into_query();
    ordering.narrow(&mut query, &positions);
    query
        .order_by_expr(ordering.key.expr(), order.clone())
        .order_by((E::default(), ordering.id_column), order)
        .limit(args.limit + 1);
    let rows = db.query_all(&query).await?;
    let items = rows
        .iter()
        .map(|row| ordering.read(row))
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Page::of_rows(items, args, &positions))
}

impl<T> Page<T> {
    fn empty() -> Self {
        Page {
            items: Vec::new(),
            has_previous_page: false,
            has_next_page: false,
            known_total: None,
        }
    }

    /// The page of `items` read in reading order, one more than the page holds
    /// when another page follows.
    fn of_rows(mut items: Vec<(String, T)>, args: &PageArgs, positions: &Positions) -> Self {
        let has_more = items.len() as u64 > args.limit;
        items.truncate(args.limit as usize);
        if args.backward {
            items.reverse();
        }
        let (after, before) = (positions.after.is_some(), positions.before.is_some());
        let (has_previous_page, has_next_page) = if args.backward {
            (has_more, before)
        } else {
            (after, has_more)
        };
        let known_total = (!after && !before && !has_more).then_some(items.len() as u64);
        Page {
            items,
            has_previous_page,
            has_next_page,
            known_total,
        }
    }
}

/// Keeps the rows strictly beyond cursor `key` in `ordering`'s direction
/// (`forward`: after it; otherwise before it), the id breaking ties.
fn beyond<E: EntityTrait>(ordering: &Ordering<E>, key: (Value, Uuid), forward: bool) -> Condition {
    let (value, id) = key;
    let greater = forward == (ordering.direction == SortDirection::Asc);
    let past = |a: Expr, b: Expr| if greater { a.gt(b) } else { a.lt(b) };
    let sort_key = ordering.key.expr();
    let value = ordering.key.value(value);
    let id_column = Expr::col((E::default(), ordering.id_column));
    let id = ordering.id_column.save_as(Expr::val(id));
    Condition::any()
        .add(past(sort_key.clone(), value.clone()))
        .add(
            Condition::all()
                .add(sort_key.eq(value))
                .add(past(id_column, id)),
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
) -> AppResult<HashMap<Uuid, Page<E::Model>>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    use sea_orm::QueryFilter;
    use sea_orm::sea_query::{Asterisk, Func, Query, WindowStatement};

    let mut pages: HashMap<Uuid, Page<E::Model>> =
        parents.iter().map(|p| (*p, Page::empty())).collect();
    if args.limit == 0 || parents.is_empty() {
        return Ok(pages);
    }
    let positions = ordering.positions(args)?;
    let order = ordering.reading_order(args.backward);
    let mut window = WindowStatement::partition_by((E::default(), parent_column));
    window
        .order_by_expr(ordering.key.expr(), order.clone())
        .order_by((E::default(), ordering.id_column), order);
    let mut inner = select
        .filter(parent_column.is_in(parents.iter().copied()))
        .into_query();
    ordering.narrow(&mut inner, &positions);
    inner.expr_window_as(Func::cust("ROW_NUMBER"), window, Alias::new("page_rank"));
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new("page_rank")).lte(args.limit + 1))
        .order_by(Alias::new("page_rank"), Order::Asc)
        .to_owned();
    let rows = db.query_all(&outer).await?;

    let mut grouped: HashMap<Uuid, Vec<(String, E::Model)>> = HashMap::new();
    for row in &rows {
        let (cursor, model) = ordering.read(row)?;
        grouped
            .entry(parent_of(&model))
            .or_default()
            .push((cursor, model));
    }
    for (parent, items) in grouped {
        pages.insert(parent, Page::of_rows(items, args, &positions));
    }
    if positions.after.is_none() && positions.before.is_none() {
        for page in pages.values_mut() {
            if page.items.is_empty() {
                page.known_total = Some(0);
            }
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
) -> AppResult<HashMap<Uuid, u64>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    use sea_orm::{QueryFilter, QuerySelect};
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
        .map(|(parent, n)| (parent, Ord::max(n, 0) as u64))
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
