//! Newtypes that can only hold valid values.

use chrono::NaiveDate;

use crate::error::AppError;

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

/// A trimmed, non-empty piece of text with an upper bound on its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedText(String);

impl BoundedText {
    pub fn parse(raw: &str, field: &str, max_chars: usize) -> Result<Self, AppError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(AppError::invalid(field, "must not be empty"));
        }
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
        match raw.map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => Self::parse(text, field, max_chars).map(|t| Some(t.0)),
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
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

/// A count that must not be negative, such as a capacity.
pub fn non_negative(value: Option<i32>, field: &str) -> Result<Option<i32>, AppError> {
    match value {
        Some(v) if v < 0 => Err(AppError::invalid(field, "must not be negative")),
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
    fn date_ranges_end_on_or_after_start() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(DateRange::new(d("2017-05-01"), d("2017-05-01"), "end").is_ok());
        assert!(DateRange::new(d("2017-05-02"), d("2017-05-01"), "end").is_err());
    }
}
