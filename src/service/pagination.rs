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
#[derive(Debug)]
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
