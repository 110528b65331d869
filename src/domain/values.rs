//! Newtypes that can only hold valid values.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::error::AppError;

/// Whether `c` is a control character no text field stores: C0 controls other than
/// tab, line feed and carriage return, DEL, and the C1 controls. PostgreSQL cannot
/// store U+0000 at all, and the others only corrupt what a reader sees.
pub fn is_forbidden_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{7f}'
}

/// Bidirectional embedding, override and isolate controls: in a name they can
/// make text display differently from what it is (`U+202E` reverses what follows).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Refuses the characters no text input may carry (see [`is_forbidden_control`]).
pub fn check_text_characters(text: &str, field: &str) -> Result<(), AppError> {
    match text.chars().find(|c| is_forbidden_control(*c)) {
        Some(c) => Err(AppError::invalid(
            field,
            format!(
                "must not contain the control character U+{:04X}",
                u32::from(c)
            ),
        )),
        None => Ok(()),
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryCode(String);

impl CountryCode {
    /// Accepts a known alpha-2 code in any case; `field` names the input for errors.
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let code = raw.trim().to_ascii_uppercase();
        let known = code.len() == 2
            && code.bytes().all(|b| b.is_ascii_uppercase())
            && celes::Country::from_alpha2(&code).is_ok();
        if known {
            Ok(Self(code))
        } else {
            Err(AppError::invalid(
                field,
                format!("`{raw}` is not an ISO 3166-1 alpha-2 country code"),
            ))
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An IANA time zone name such as `Asia/Seoul`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        raw.trim()
            .parse::<chrono_tz::Tz>()
            .map(|tz| Self(tz.name().to_owned()))
            .map_err(|_| AppError::invalid(field, format!("`{raw}` is not an IANA time zone name")))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A trimmed, non-empty piece of text with an upper bound on its length; it may
/// span lines (tabs and line breaks allowed, other control characters refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedText(String);

impl BoundedText {
    pub fn parse(raw: &str, field: &str, max_chars: usize) -> Result<Self, AppError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(AppError::invalid(field, "must not be empty"));
        }
        check_text_characters(text, field)?;
        if text.chars().count() > max_chars {
            return Err(AppError::invalid(
                field,
                format!("must be at most {max_chars} characters"),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// Parses an optional field: absent or blank text becomes `None`.
    pub fn parse_optional(
        raw: Option<&str>,
        field: &str,
        max_chars: usize,
    ) -> Result<Option<String>, AppError> {
        parse_optional(raw, |text| Self::parse(text, field, max_chars).map(|t| t.0))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Parses an optional text input with `parse`: absent or blank becomes `None`.
pub fn parse_optional<T>(
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, AppError>,
) -> Result<Option<T>, AppError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => parse(text).map(Some),
    }
}

/// A name or title: one line of text, trimmed, non-empty and bounded, without
/// control characters (tabs and line breaks included) or bidirectional overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(raw: &str, field: &str, max_chars: usize) -> Result<Self, AppError> {
        let text = BoundedText::parse(raw, field, max_chars)?.into_inner();
        if text.contains(['\t', '\n', '\r']) {
            return Err(AppError::invalid(
                field,
                "must be a single line (no tabs or line breaks)",
            ));
        }
        if text.chars().any(is_bidi_control) {
            return Err(AppError::invalid(
                field,
                "must not contain bidirectional override or isolate characters (U+202A–U+202E, U+2066–U+2069)",
            ));
        }
        Ok(Self(text))
    }

    /// Parses an optional name: absent or blank text becomes `None`.
    pub fn parse_optional(
        raw: Option<&str>,
        field: &str,
        max_chars: usize,
    ) -> Result<Option<String>, AppError> {
        parse_optional(raw, |text| Self::parse(text, field, max_chars).map(|t| t.0))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The first and last years a date may fall in: wide enough for any delegate's
/// birth and any event, narrow enough to catch `0000-01-01` and typos like `20177`.
pub const EARLIEST_YEAR: i32 = 1900;
pub const LATEST_YEAR: i32 = 2200;

/// Refuses a date outside [`EARLIEST_YEAR`]..=[`LATEST_YEAR`].
pub fn plausible_date(date: NaiveDate, field: &str) -> Result<NaiveDate, AppError> {
    if (EARLIEST_YEAR..=LATEST_YEAR).contains(&date.year()) {
        Ok(date)
    } else {
        Err(AppError::invalid(
            field,
            format!("{date} is not a plausible date (years {EARLIEST_YEAR}–{LATEST_YEAR})"),
        ))
    }
}

/// Refuses a moment outside [`EARLIEST_YEAR`]..=[`LATEST_YEAR`].
pub fn plausible_instant(at: DateTime<Utc>, field: &str) -> Result<DateTime<Utc>, AppError> {
    plausible_date(at.date_naive(), field).map(|_| at)
}

/// Refuses an optional date outside the plausible years.
pub fn plausible_date_opt(
    date: Option<NaiveDate>,
    field: &str,
) -> Result<Option<NaiveDate>, AppError> {
    date.map(|d| plausible_date(d, field)).transpose()
}

/// Refuses an optional moment outside the plausible years.
pub fn plausible_instant_opt(
    at: Option<DateTime<Utc>>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, AppError> {
    at.map(|t| plausible_instant(t, field)).transpose()
}

/// An e-mail address in its common `local@domain.tld` shape.
///
/// Full RFC 5322 parsing accepts addresses no mail system delivers to; this check
/// catches the typing mistakes a coordinator actually makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let text = raw.trim();
        let valid = text.len() <= 254
            && !text.chars().any(char::is_whitespace)
            && text.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(AppError::invalid(
                field,
                format!("`{raw}` is not an e-mail address"),
            ))
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An absolute `http` or `https` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUrl(String);

impl WebUrl {
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let text = raw.trim();
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"));
        let valid = text.len() <= 2048
            && !text.chars().any(char::is_whitespace)
            && rest.is_some_and(|r| {
                let host = r.split(['/', '?', '#']).next().unwrap_or("");
                !host.is_empty()
            });
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(AppError::invalid(
                field,
                format!("`{raw}` is not an absolute http(s) URL"),
            ))
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A start and end date, the end not before the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    start: NaiveDate,
    end: NaiveDate,
}

impl DateRange {
    /// `field` names the end date, the value a client has to change.
    pub fn new(start: NaiveDate, end: NaiveDate, field: &str) -> Result<Self, AppError> {
        if end < start {
            return Err(AppError::invalid(
                field,
                format!("the end date {end} is before the start date {start}"),
            ));
        }
        Ok(Self { start, end })
    }

    pub fn start(&self) -> NaiveDate {
        self.start
    }

    pub fn end(&self) -> NaiveDate {
        self.end
    }
}

/// A count that must not be negative.
pub fn non_negative(value: Option<i32>, field: &str) -> Result<Option<i32>, AppError> {
    match value {
        Some(v) if v < 0 => Err(AppError::invalid(field, "must not be negative")),
        other => Ok(other),
    }
}

/// A capacity: absent (no limit) or at least 1 (a capacity of 0 admits nobody).
pub fn capacity(value: Option<i32>, field: &str) -> Result<Option<i32>, AppError> {
    match value {
        Some(v) if v < 1 => Err(AppError::invalid(
            field,
            "must be at least 1 (leave it empty for no limit)",
        )),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_checked_against_iso_3166() {
        assert_eq!(CountryCode::parse("kr", "c").unwrap().into_inner(), "KR");
        assert!(CountryCode::parse("XX", "c").is_err());
        assert!(CountryCode::parse("KOR", "c").is_err());
        assert!(CountryCode::parse("", "c").is_err());
    }

    #[test]
    fn time_zones_must_be_iana_names() {
        assert!(TimeZoneName::parse("Asia/Seoul", "tz").is_ok());
        assert!(TimeZoneName::parse("Mars/Olympus", "tz").is_err());
    }

    #[test]
    fn emails_and_urls_reject_obvious_mistakes() {
        assert!(EmailAddress::parse("intl@nec.go.kr", "e").is_ok());
        assert!(EmailAddress::parse("intl.nec.go.kr", "e").is_err());
        assert!(EmailAddress::parse("a@b", "e").is_err());
        assert!(WebUrl::parse("https://www.nec.go.kr/", "w").is_ok());
        assert!(WebUrl::parse("ftp://x", "w").is_err());
        assert!(WebUrl::parse("https://", "w").is_err());
    }

    #[test]
    fn text_refuses_control_characters_and_names_refuse_more() {
        assert!(BoundedText::parse("Forum\u{0}x", "t", 100).is_err());
        assert!(BoundedText::parse("a\u{85}b", "t", 100).is_err());
        assert!(BoundedText::parse("a\u{7f}b", "t", 100).is_err());
        assert!(BoundedText::parse("line one\nline two\tend", "t", 100).is_ok());
        assert!(Name::parse("line one\nline two", "t", 100).is_err());
        assert!(Name::parse("Evil\u{202E}gnp.exe", "t", 100).is_err());
        assert!(Name::parse("\u{2067}x", "t", 100).is_err());
        assert!(Name::parse("선거관리위원회 (NEC)", "t", 100).is_ok());
    }

    #[test]
    fn dates_fall_in_plausible_years_and_capacities_admit_someone() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(plausible_date(d("0000-01-01"), "d").is_err());
        assert!(plausible_date(d("2201-01-01"), "d").is_err());
        assert!(plausible_date(d("1900-01-01"), "d").is_ok());
        assert!(capacity(Some(0), "c").is_err());
        assert_eq!(capacity(Some(1), "c").unwrap(), Some(1));
        assert_eq!(capacity(None, "c").unwrap(), None);
    }

    #[test]
    fn date_ranges_end_on_or_after_start() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(DateRange::new(d("2017-05-01"), d("2017-05-01"), "end").is_ok());
        assert!(DateRange::new(d("2017-05-02"), d("2017-05-01"), "end").is_err());
    }
}
