//! W3C trace context: the 32-hex trace id a request carries in `traceparent`, or a new one.

use uuid::Uuid;

/// A W3C trace id: 32 lowercase hex characters, not all zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceId(String);

impl TraceId {
    /// A new random trace id.
    pub fn generate() -> Self {
        TraceId(Uuid::new_v4().simple().to_string())
    }

    /// The trace id of a `traceparent` header (`00-<trace id>-<parent id>-<flags>`), when it is valid.
    pub fn from_traceparent(header: &str) -> Option<Self> {
        let mut parts = header.trim().split('-');
        let (version, trace_id, parent_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let is_hex = |s: &str, len: usize| {
            s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if !is_hex(version, 2)
            || version == "ff"
            || !is_hex(trace_id, 32)
            || !is_hex(parent_id, 16)
            || !is_hex(flags, 2)
        {
            return None;
        }
        // Version 00 has exactly four fields; later versions may append more.
        if version == "00" && parts.next().is_some() {
            return None;
        }
        if trace_id.bytes().all(|b| b == b'0') || parent_id.bytes().all(|b| b == b'0') {
            return None;
        }
        Some(TraceId(trace_id.to_owned()))
    }

    /// The trace id of the request's `traceparent` header, or a new one.
    pub fn of_request(headers: &axum::http::HeaderMap) -> Self {
        headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(TraceId::from_traceparent)
            .unwrap_or_else(TraceId::generate)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(header: &str, expected: Option<&str>) {
        assert_eq!(
            TraceId::from_traceparent(header)
                .as_ref()
                .map(TraceId::as_str),
            expected,
            "{header}"
        );
    }

    #[test]
    fn traceparent() {
        check(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Some("4bf92f3577b34da6a3ce929d0e0e4736"),
        );
        check(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            Some("4bf92f3577b34da6a3ce929d0e0e4736"),
        );
        check(
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            None,
        );
        check(
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            None,
        );
        check(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            None,
        );
        check(
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            None,
        );
        check("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", None);
        check("garbage", None);
    }

    #[test]
    fn generated_ids_are_32_lowercase_hex() {
        let id = TraceId::generate();
        assert_eq!(id.as_str().len(), 32);
        assert!(id
            .as_str()
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        assert_ne!(id, TraceId::generate());
    }
}
