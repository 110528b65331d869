//! The schema's date and time scalars, named and described for clients.
//!
//! async-graphql's own `chrono` scalars leak Rust names (`NaiveDate`) and
//! descriptions ("Implement the DateTime<Utc> scalar"); these wrappers give the
//! schema `Date` and `DateTime`, each with its format, time zone, examples and an
//! `@specifiedBy` URL that typed clients and codegen can rely on.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, Utc};

/// A calendar date without time or time zone, as ISO 8601 / RFC 3339 `full-date`
/// text: `YYYY-MM-DD`, e.g. `2030-05-04`. An event's dates are days in the
/// event's own time zone (`Event.timeZone`); a date of birth is a plain day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsoDate(pub NaiveDate);

/// A calendar date without time or time zone, as ISO 8601 / RFC 3339 `full-date`
/// text: `YYYY-MM-DD`, e.g. `2030-05-04`. An event's dates are days in the
/// event's own time zone (`Event.timeZone`); a date of birth is a plain day.
#[Scalar(
    name = "Date",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
impl ScalarType for IsoDate {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(IsoDate)
                .map_err(|_| {
                    InputValueError::custom("not a date: give one as YYYY-MM-DD, e.g. 2030-05-04")
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// An instant, as RFC 3339 `date-time` text with a time zone offset, e.g.
/// `2030-05-04T09:00:00+09:00` or `2030-05-04T00:00:00Z`. Inputs may use any
/// offset; outputs are always in UTC (`+00:00`), with fractional seconds when the
/// instant has them (e.g. `2030-05-04T00:00:00.123456+00:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsoDateTime(pub chrono::DateTime<Utc>);

/// An instant, as RFC 3339 `date-time` text with a time zone offset, e.g.
/// `2030-05-04T09:00:00+09:00` or `2030-05-04T00:00:00Z`. Inputs may use any
/// offset; outputs are always in UTC (`+00:00`), with fractional seconds when the
/// instant has them (e.g. `2030-05-04T00:00:00.123456+00:00`).
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
impl ScalarType for IsoDateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|at| IsoDateTime(at.with_timezone(&Utc)))
                .map_err(|_| {
                    InputValueError::custom(
                        "not a date-time: give one in RFC 3339 form, e.g. 2030-05-04T09:00:00Z",
                    )
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

impl From<NaiveDate> for IsoDate {
    fn from(day: NaiveDate) -> Self {
        IsoDate(day)
    }
}

impl From<IsoDate> for NaiveDate {
    fn from(day: IsoDate) -> Self {
        day.0
    }
}

impl From<chrono::DateTime<Utc>> for IsoDateTime {
    fn from(at: chrono::DateTime<Utc>) -> Self {
        IsoDateTime(at)
    }
}

impl From<IsoDateTime> for chrono::DateTime<Utc> {
    fn from(at: IsoDateTime) -> Self {
        at.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_full_dates_only() {
        let day = IsoDate::parse(Value::String("2030-05-04".into())).unwrap();
        assert_eq!(day.to_value(), Value::String("2030-05-04".into()));
        assert!(IsoDate::parse(Value::String("2030-5-4x".into())).is_err());
        assert!(IsoDate::parse(Value::String("2030-05-04T00:00:00Z".into())).is_err());
        assert!(IsoDate::parse(Value::Number(20300504.into())).is_err());
    }

    #[test]
    fn instants_take_any_offset_and_answer_in_utc() {
        let at = IsoDateTime::parse(Value::String("2030-05-04T09:00:00+09:00".into())).unwrap();
        assert_eq!(
            at.to_value(),
            Value::String("2030-05-04T00:00:00+00:00".into())
        );
        assert!(IsoDateTime::parse(Value::String("2030-05-04".into())).is_err());
    }
}
