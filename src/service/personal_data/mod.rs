//! Participants' personal data: sealed at rest, kept only as long as needed,
//! exportable and erasable.
//!
//! This module is the one place where a participant's sensitive fields
//! (nationality, date of birth, passport number, dietary and accessibility
//! needs) are sealed on their way into the database and opened on their way out
//! ([`seal_into`], [`open`]); everything above it (services, GraphQL) sees the
//! clear [`participant::Model`], and only where the caller may read it. Nothing
//! filters or searches on these fields: the database cannot.
//!
//! - [`keys`]: the data keys and AES-256-GCM.
//! - [`retention`]: the sweep that erases personal data a while after each event.
//! - [`requests`]: a delegate's export and erasure on request.
//! - [`rotation`]: re-encryption under a new data key while servers run (and the
//!   sealing of rows written before encryption existed).

pub mod keys;
pub mod requests;
pub mod retention;
pub mod rotation;

use chrono::NaiveDate;
use sea_orm::Set;
use uuid::Uuid;

pub use keys::{DataKeySource, DataKeys};

use crate::entity::participant::{self, ActiveModel, stored};
use crate::error::{AppError, AppResult};

/// What the service layer needs for personal data: the keys, and the days it is
/// kept after an event's end unless the host chose fewer
/// (`EMBHUB_PERSONAL_DATA_RETENTION_DAYS`).
#[derive(Debug, Clone)]
pub struct PersonalData {
    pub keys: DataKeys,
    pub retention_days: u32,
}

/// Column names as bound into each value's associated data.
const NATIONALITY: &str = "nationality";
const DATE_OF_BIRTH: &str = "date_of_birth";
const PASSPORT_NUMBER: &str = "passport_number";
const DIETARY_NEEDS: &str = "dietary_needs";
const ACCESSIBILITY_NEEDS: &str = "accessibility_needs";

/// A participant's sensitive fields in the clear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sensitive {
    pub nationality: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub passport_number: Option<String>,
    pub dietary_needs: Option<String>,
    pub accessibility_needs: Option<String>,
}

impl Sensitive {
    /// The sensitive fields of a clear participant.
    pub(crate) fn of(model: &participant::Model) -> Self {
        Self {
            nationality: model.nationality.clone(),
            date_of_birth: model.date_of_birth,
            passport_number: model.passport_number.clone(),
            dietary_needs: model.dietary_needs.clone(),
            accessibility_needs: model.accessibility_needs.clone(),
        }
    }
}

/// Sets the sealed columns of row `id` to `values`, each sealed afresh under the
/// current data key (and the key's id; none when there is nothing to seal).
pub(crate) fn seal_into(
    keys: &DataKeys,
    id: Uuid,
    active: &mut ActiveModel,
    values: &Sensitive,
) -> AppResult<()> {
    let sealer = keys.sealer(id);
    let seal = |column: &str, value: Option<&str>| -> AppResult<Option<String>> {
        value.map(|v| sealer.seal(column, v)).transpose()
    };
    let date_of_birth = values
        .date_of_birth
        .map(|d| d.format("%Y-%m-%d").to_string());
    let nationality = seal(NATIONALITY, values.nationality.as_deref())?;
    let date_of_birth = seal(DATE_OF_BIRTH, date_of_birth.as_deref())?;
    let passport_number = seal(PASSPORT_NUMBER, values.passport_number.as_deref())?;
    let dietary_needs = seal(DIETARY_NEEDS, values.dietary_needs.as_deref())?;
    let accessibility_needs = seal(ACCESSIBILITY_NEEDS, values.accessibility_needs.as_deref())?;
    let any = [
        &nationality,
        &date_of_birth,
        &passport_number,
        &dietary_needs,
        &accessibility_needs,
    ]
    .iter()
    .any(|v| v.is_some());
    active.data_key_id = Set(any.then(|| sealer.key_id()));
    active.nationality_sealed = Set(nationality);
    active.date_of_birth_sealed = Set(date_of_birth);
    active.passport_number_sealed = Set(passport_number);
    active.dietary_needs_sealed = Set(dietary_needs);
    active.accessibility_needs_sealed = Set(accessibility_needs);
    Ok(())
}

/// The clear participant of a stored row, without its sensitive fields (for
/// callers who may not read them: nothing is decrypted).
pub(crate) fn without_sensitive(row: stored::Model) -> participant::Model {
    participant::Model {
        id: row.id,
        delegation_id: row.delegation_id,
        full_name: row.full_name,
        local_name: row.local_name,
        position: row.position,
        role: row.role,
        email: row.email,
        dietary_needs: None,
        accessibility_needs: None,
        funded: row.funded,
        needs_visa_support: row.needs_visa_support,
        nationality: None,
        date_of_birth: None,
        passport_number: None,
        personal_data_erased_at: row.personal_data_erased_at,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Opens a row's sensitive values. The row's key must be known
/// ([`DataKeys::ensure_known`]); a value that does not open is an error, never
/// another value.
fn open_known(keys: &DataKeys, row: stored::Model) -> AppResult<participant::Model> {
    let id = row.id;
    let open = |column: &str, sealed: &Option<String>| -> AppResult<Option<String>> {
        sealed
            .as_deref()
            .map(|s| keys.open(id, column, s))
            .transpose()
    };
    let nationality = open(NATIONALITY, &row.nationality_sealed)?;
    let date_of_birth = open(DATE_OF_BIRTH, &row.date_of_birth_sealed)?
        .map(|d| {
            NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
                AppError::Internal(anyhow::anyhow!(
                    "date_of_birth of participant {id} is not a date"
                ))
            })
        })
        .transpose()?;
    let passport_number = open(PASSPORT_NUMBER, &row.passport_number_sealed)?;
    let dietary_needs = open(DIETARY_NEEDS, &row.dietary_needs_sealed)?;
    let accessibility_needs = open(ACCESSIBILITY_NEEDS, &row.accessibility_needs_sealed)?;
    Ok(participant::Model {
        nationality,
        date_of_birth,
        passport_number,
        dietary_needs,
        accessibility_needs,
        ..without_sensitive(row)
    })
}

/// Opens the sensitive values of each row where `readable(row)` says the caller
/// may read them, and blanks them elsewhere (without decrypting), in order.
pub(crate) async fn open_where<T>(
    keys: &DataKeys,
    rows: Vec<(stored::Model, T)>,
    readable: impl Fn(&stored::Model, &T) -> bool,
) -> AppResult<Vec<(participant::Model, T)>> {
    let readable: Vec<bool> = rows.iter().map(|(row, t)| readable(row, t)).collect();
    keys.ensure_known(
        rows.iter()
            .zip(&readable)
            .filter(|(_, r)| **r)
            .filter_map(|((row, _), _)| row.data_key_id),
    )
    .await?;
    rows.into_iter()
        .zip(readable)
        .map(|((row, t), readable)| {
            Ok((
                if readable {
                    open_known(keys, row)?
                } else {
                    without_sensitive(row)
                },
                t,
            ))
        })
        .collect()
}

/// Opens one row's sensitive values (for its owner).
pub(crate) async fn open(keys: &DataKeys, row: stored::Model) -> AppResult<participant::Model> {
    keys.ensure_known(row.data_key_id).await?;
    open_known(keys, row)
}

/// The clear participant of a row just written with `values` (nothing to decrypt).
pub(crate) fn with_sensitive(row: stored::Model, values: Sensitive) -> participant::Model {
    participant::Model {
        nationality: values.nationality,
        date_of_birth: values.date_of_birth,
        passport_number: values.passport_number,
        dietary_needs: values.dietary_needs,
        accessibility_needs: values.accessibility_needs,
        ..without_sensitive(row)
    }
}

/// A row as the audit log keeps it: its fields with every sensitive one that
/// holds a value shown as `[REDACTED]`, and its e-mail address likewise (contact
/// details are erased with the rest, so the log must not keep them either).
/// Built from the stored row, so no decrypted value is ever at hand here.
pub(crate) fn audit_snapshot(row: &stored::Model) -> Option<serde_json::Value> {
    let mut value = serde_json::to_value(without_sensitive(row.clone())).ok()?;
    let object = value.as_object_mut()?;
    let redacted = || serde_json::Value::String("[REDACTED]".to_owned());
    for (field, sealed) in [
        (NATIONALITY, &row.nationality_sealed),
        (DATE_OF_BIRTH, &row.date_of_birth_sealed),
        (PASSPORT_NUMBER, &row.passport_number_sealed),
        (DIETARY_NEEDS, &row.dietary_needs_sealed),
        (ACCESSIBILITY_NEEDS, &row.accessibility_needs_sealed),
        ("email", &row.email),
    ] {
        if sealed.is_some() {
            object.insert(field.to_owned(), redacted());
        }
    }
    Some(value)
}

/// The stored row of a clear participant, its sensitive fields sealed (for bulk
/// writers, such as the benchmark data set, that insert rows directly).
pub fn seal_row(keys: &DataKeys, m: &participant::Model) -> AppResult<stored::Model> {
    let mut active = ActiveModel::default();
    seal_into(keys, m.id, &mut active, &Sensitive::of(m))?;
    let take = |v: sea_orm::ActiveValue<Option<String>>| v.unwrap();
    Ok(stored::Model {
        id: m.id,
        delegation_id: m.delegation_id,
        full_name: m.full_name.clone(),
        local_name: m.local_name.clone(),
        position: m.position.clone(),
        role: m.role,
        email: m.email.clone(),
        funded: m.funded,
        needs_visa_support: m.needs_visa_support,
        data_key_id: active.data_key_id.unwrap(),
        nationality_sealed: take(active.nationality_sealed),
        date_of_birth_sealed: take(active.date_of_birth_sealed),
        passport_number_sealed: take(active.passport_number_sealed),
        dietary_needs_sealed: take(active.dietary_needs_sealed),
        accessibility_needs_sealed: take(active.accessibility_needs_sealed),
        personal_data_erased_at: m.personal_data_erased_at,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}
