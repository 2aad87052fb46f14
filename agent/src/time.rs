//! Wire formats of time: RFC 3339 in UTC with microseconds and `Z`, the form every official SDK
//! parses, and the forms clients send in filters.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses an RFC 3339 time, a time without a zone (taken as UTC, as Python's naive
/// `datetime.isoformat()` sends it) or a bare date (midnight UTC).
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(naive.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: Option<&str>) {
        assert_eq!(parse(text).map(rfc3339).as_deref(), expected, "{text}");
    }

    #[test]
    fn times_clients_send() {
        check("2026-01-02T03:04:05Z", Some("2026-01-02T03:04:05.000000Z"));
        check(
            "2026-01-02T03:04:05.5+02:00",
            Some("2026-01-02T01:04:05.500000Z"),
        );
        check(
            "2026-01-02T03:04:05.123456",
            Some("2026-01-02T03:04:05.123456Z"),
        );
        check("2026-01-02 03:04:05", Some("2026-01-02T03:04:05.000000Z"));
        check("2026-01-02", Some("2026-01-02T00:00:00.000000Z"));
        check("yesterday", None);
        check("", None);
    }
}
