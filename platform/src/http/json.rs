//! Strict JSON for request bodies: what is checked must be what the next reader sees. A JSON object
//! with the same key twice is refused (parsers disagree on which one wins: serde keeps the last,
//! others the first), so no duplicate can hide a value from the policies. Escapes (`\u0035`) are
//! decoded by the parser before anything is checked; lone surrogates, invalid UTF-8, comments,
//! trailing commas, `NaN` and nesting deeper than 128 levels are refused as invalid JSON.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a body is not acceptable JSON. The messages are safe to return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("the JSON object at {path} has the key {key:?} more than once; send each key once")]
    DuplicateKey { key: String, path: String },
    #[error("invalid JSON: {0}")]
    Syntax(String),
}

/// Parses `bytes` as one JSON value, refusing duplicate object keys.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let mut duplicate: Option<(String, String)> = None;
    let parsed = StrictSeed {
        path: String::new(),
        duplicate: &mut duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    match (parsed, duplicate) {
        (_, Some((key, path))) => Err(JsonError::DuplicateKey {
            key,
            path: if path.is_empty() {
                "/".to_owned()
            } else {
                path
            },
        }),
        (Ok(value), None) => Ok(value),
        (Err(error), None) => Err(JsonError::Syntax(error.to_string())),
    }
}

/// Bodies at least this long are parsed on a blocking thread.
const OFF_THREAD_BYTES: usize = 64 * 1024;

/// `parse_strict`, on a blocking thread when the body is large, so that a big body does not hold up
/// the async workers.
pub async fn parse_strict_async(bytes: bytes::Bytes) -> Result<Value, JsonError> {
    if bytes.len() < OFF_THREAD_BYTES {
        return parse_strict(&bytes);
    }
    tokio::task::spawn_blocking(move || parse_strict(&bytes))
        .await
        .unwrap_or_else(|error| Err(JsonError::Syntax(format!("parser stopped: {error}"))))
}

/// Builds a `Value`, stopping at the first duplicate key (noted in `duplicate` with its object's
/// JSON pointer).
struct StrictSeed<'d> {
    path: String,
    duplicate: &'d mut Option<(String, String)>,
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// `~` and `/` escaped as JSON pointers require.
fn pointer_segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        Number::from_f64(value)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let seed = StrictSeed {
                path: format!("{}/{}", self.path, items.len()),
                duplicate: &mut *self.duplicate,
            };
            match seq.next_element_seed(seed)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                *self.duplicate = Some((key, self.path.clone()));
                return Err(de::Error::custom("duplicate key"));
            }
            let seed = StrictSeed {
                path: format!("{}/{}", self.path, pointer_segment(&key)),
                duplicate: &mut *self.duplicate,
            };
            let value = map.next_value_seed(seed)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn duplicate(text: &str, key: &str, path: &str) {
        assert_eq!(
            parse_strict(text.as_bytes()),
            Err(JsonError::DuplicateKey {
                key: key.to_owned(),
                path: path.to_owned()
            }),
            "{text}"
        );
    }

    #[track_caller]
    fn invalid(text: &str) {
        assert!(
            matches!(parse_strict(text.as_bytes()), Err(JsonError::Syntax(_))),
            "{text}"
        );
    }

    #[test]
    fn duplicates_are_found_at_every_depth_and_through_escapes() {
        duplicate(r#"{"a":1,"a":2}"#, "a", "/");
        duplicate(
            r#"{"messages":[{"role":"user","content":"hi","content":"x"}]}"#,
            "content",
            "/messages/0",
        );
        duplicate(r#"{"content":"a","cont\u0065nt":"b"}"#, "content", "/");
        duplicate(r#"{"x":{"a/b":{"k":1,"k":2}}}"#, "k", "/x/a~1b");
    }

    #[test]
    fn valid_json_is_kept_exactly() {
        let value = parse_strict(br#"{"a":"\u0031\u0032","b":[1,2.5,-3,true,null],"c":{}}"#)
            .expect("valid");
        assert_eq!(
            value,
            serde_json::json!({"a": "12", "b": [1, 2.5, -3, true, null], "c": {}})
        );
        assert_eq!(
            parse_strict(br#"{"a":{"k":1},"b":{"k":2}}"#).expect("same key in two objects"),
            serde_json::json!({"a": {"k": 1}, "b": {"k": 2}})
        );
    }

    #[test]
    fn invalid_json_is_refused() {
        invalid("");
        invalid("{");
        invalid(r#"{"a":1,}"#);
        invalid(r#"{"a":1} x"#);
        invalid(r#"{"a":NaN}"#);
        invalid(r#"{"a":"\ud800"}"#);
        invalid("{\"a\":\"\u{feff}\"}\u{feff}");
        invalid(&"[".repeat(200));
        assert!(matches!(
            parse_strict(b"{\"a\":\"\xff\"}"),
            Err(JsonError::Syntax(_))
        ));
    }
}
