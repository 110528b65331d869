//! Reading the hot models out of rows by position.
//!
//! sea-orm's derived decoding looks every cell up by name, and for each NULL in
//! an optional column it first builds an error whose message is the column's
//! name escaped by `Debug`, then turns that error into `None`. On the partner
//! dashboard, a few thousand cells per request, most of them NULL, that was a
//! tenth of embhub's CPU. [`FastRow`] reads the same columns by position and
//! asks the row whether a cell is NULL before decoding it.
//!
//! It is only used where the columns are found where expected: [`decode_at`]
//! compares every column name at its position first, and falls back to the
//! derived decoding otherwise, so a query that selects differently is slower,
//! never wrong.

use sea_orm::sqlx::{Column, Row, ValueRef};
use sea_orm::{DbErr, FromQueryResult, QueryResult, TryGetable};

/// A model that can be read from a row by position.
pub(crate) trait FastRow: FromQueryResult + Sized {
    /// Its columns, in the order of its fields (which is the order in which
    /// `Entity::find()` selects them).
    const COLUMNS: &'static [&'static str];

    /// Reads the model from `row`, whose columns for it start at `offset` and
    /// have been checked to be [`Self::COLUMNS`].
    fn read_at(row: &QueryResult, offset: usize) -> Result<Self, DbErr>;
}

/// The names of a row's columns, when the backend exposes them.
fn column_names(row: &QueryResult) -> Option<Vec<&str>> {
    if let Some(pg) = row.try_as_pg_row() {
        return Some(pg.columns().iter().map(|c| c.name()).collect());
    }
    if let Some(sqlite) = row.try_as_sqlite_row() {
        return Some(sqlite.columns().iter().map(|c| c.name()).collect());
    }
    None
}

/// Where `M`'s columns, named `prefix` + column, start in the rows of a result
/// (all rows of one result share their columns): `None` when they are not all
/// there, in order.
pub(crate) fn offset_of<M: FastRow>(row: &QueryResult, prefix: &str) -> Option<usize> {
    let names = column_names(row)?;
    let first = format!("{prefix}{}", M::COLUMNS[0]);
    let offset = names.iter().position(|n| *n == first)?;
    let matches = M::COLUMNS.iter().enumerate().all(|(i, column)| {
        names
            .get(offset + i)
            .and_then(|n| n.strip_prefix(prefix))
            .is_some_and(|n| n == *column)
    });
    matches.then_some(offset)
}

/// Reads `M` from `row`: by position from `offset` when given (see
/// [`offset_of`]), by name with `prefix` otherwise.
pub(crate) fn decode_at<M: FastRow>(
    row: &QueryResult,
    offset: Option<usize>,
    prefix: &str,
) -> Result<M, DbErr> {
    match offset {
        Some(offset) => M::read_at(row, offset),
        None => M::from_query_result(row, prefix),
    }
}

/// Whether the cell at `index` is NULL.
fn is_null(row: &QueryResult, index: usize) -> Result<bool, DbErr> {
    let failed = |e: sea_orm::sqlx::Error| DbErr::Custom(format!("reading column {index}: {e}"));
    if let Some(pg) = row.try_as_pg_row() {
        return pg.try_get_raw(index).map(|v| v.is_null()).map_err(failed);
    }
    if let Some(sqlite) = row.try_as_sqlite_row() {
        return sqlite
            .try_get_raw(index)
            .map(|v| v.is_null())
            .map_err(failed);
    }
    Err(DbErr::Custom(
        "rows of this backend are not read by position".to_owned(),
    ))
}

/// A cell that may not be NULL.
pub(crate) fn required<T: TryGetable>(row: &QueryResult, index: usize) -> Result<T, DbErr> {
    Ok(T::try_get_by_index(row, index)?)
}

/// A cell that may be NULL, checked before it is decoded.
pub(crate) fn nullable<T: TryGetable>(row: &QueryResult, index: usize) -> Result<Option<T>, DbErr> {
    if is_null(row, index)? {
        Ok(None)
    } else {
        Ok(Some(T::try_get_by_index(row, index)?))
    }
}

/// Runs `statement` (an `Entity::find()` of `M`'s entity) and reads each row as
/// `M`: by position when its columns are where expected, by name otherwise.
pub(crate) async fn all_rows<M: FastRow, C: sea_orm::ConnectionTrait>(
    db: &C,
    statement: sea_orm::Statement,
) -> Result<Vec<M>, DbErr> {
    let rows = db.query_all_raw(statement).await?;
    let offset = rows.first().and_then(|row| offset_of::<M>(row, ""));
    rows.iter().map(|row| decode_at(row, offset, "")).collect()
}

/// Implements [`FastRow`] for a model from its fields in declaration order,
/// each marked `required` or `nullable` (an `Option` field listed as required
/// still reads correctly, only slower; the reverse does not compile).
macro_rules! fast_row {
    ($model:path { $($kind:ident $field:ident),+ $(,)? }) => {
        impl FastRow for $model {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];

            fn read_at(row: &QueryResult, offset: usize) -> Result<Self, DbErr> {
                let mut index = offset;
                let mut next = || {
                    index += 1;
                    index - 1
                };
                Ok(Self {
                    $($field: $kind(row, next())?,)+
                })
            }
        }
    };
}

fast_row!(super::session::Model {
    required id,
    required event_id,
    required kind,
    required title,
    nullable topic,
    nullable description,
    required starts_at,
    required ends_at,
    nullable location,
    nullable proposed_by_organization_id,
    required version,
    required created_at,
    required updated_at,
});

fast_row!(super::event::Model {
    required id,
    required kind,
    required host_organization_id,
    required title,
    nullable description,
    nullable election_name,
    nullable election_date,
    nullable venue,
    nullable city,
    nullable country_code,
    required time_zone,
    required start_date,
    required end_date,
    required date_status,
    required status,
    required participation_mode,
    nullable application_deadline,
    nullable max_delegations,
    nullable max_participants,
    nullable held_alongside_event_id,
    nullable published_at,
    nullable personal_data_retention_days,
    required version,
    required created_at,
    required updated_at,
});

fast_row!(super::organization::Model {
    required id,
    required kind,
    required name,
    nullable local_name,
    nullable acronym,
    nullable country_code,
    nullable website,
    nullable contact_email,
    required aweb_member,
    required version,
    required created_at,
    required updated_at,
});

fast_row!(super::delegation::Model {
    required id,
    required event_id,
    required organization_id,
    required invitation_id,
    required status,
    nullable head_participant_id,
    nullable arrival_at,
    nullable departure_at,
    nullable notes,
    required version,
    required created_at,
    required updated_at,
});

fast_row!(super::participant::stored::Model {
    required id,
    required delegation_id,
    required full_name,
    nullable local_name,
    nullable position,
    required role,
    nullable email,
    required funded,
    required needs_visa_support,
    nullable data_key_id,
    nullable nationality_sealed,
    nullable date_of_birth_sealed,
    nullable passport_number_sealed,
    nullable dietary_needs_sealed,
    nullable accessibility_needs_sealed,
    nullable personal_data_erased_at,
    required version,
    required created_at,
    required updated_at,
});

#[cfg(test)]
mod tests {
    use sea_orm::{EntityTrait, IdenStatic, Iterable};

    use super::*;
    use crate::entity::{delegation, event, organization, participant, session};

    fn columns<E: EntityTrait>() -> Vec<&'static str>
    where
        E::Column: Iterable + IdenStatic,
    {
        E::Column::iter().map(|c| c.as_str()).collect()
    }

    /// The listed fields are the entity's columns in `Entity::find()`'s order.
    #[test]
    fn every_fast_row_lists_its_entitys_columns_in_order() {
        assert_eq!(session::Model::COLUMNS, columns::<session::Entity>());
        assert_eq!(event::Model::COLUMNS, columns::<event::Entity>());
        assert_eq!(
            organization::Model::COLUMNS,
            columns::<organization::Entity>()
        );
        assert_eq!(delegation::Model::COLUMNS, columns::<delegation::Entity>());
        assert_eq!(
            participant::stored::Model::COLUMNS,
            columns::<participant::stored::Entity>()
        );
    }
}
