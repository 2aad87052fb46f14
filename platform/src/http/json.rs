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
    parse_strict_from(serde_json::Deserializer::from_slice(bytes))
}

/// `parse_strict` for text (JSON held in a string, say).
pub fn parse_strict_str(text: &str) -> Result<Value, JsonError> {
    parse_strict_from(serde_json::Deserializer::from_str(text))
}

fn parse_strict_from<'de, R: serde_json::de::Read<'de>>(
    mut deserializer: serde_json::Deserializer<R>,
) -> Result<Value, JsonError> {
    let mut duplicate: Option<(String, String)> = None;
    let mut path = Vec::new();
    let parsed = StrictSeed {
        path: &mut path,
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

/// One step of the path to the value being parsed.
enum Step {
    Index(usize),
    Key(String),
}

/// Builds a `Value`, stopping at the first duplicate key (noted in `duplicate` with its object's
/// JSON pointer). The path is a stack shared by the whole parse and rendered only for a duplicate,
/// so parsing stays linear in the size of the body.
struct StrictSeed<'p, 'd> {
    path: &'p mut Vec<Step>,
    duplicate: &'d mut Option<(String, String)>,
}

fn render(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        out.push('/');
        match step {
            Step::Index(idx) => out.push_str(&idx.to_string()),
            Step::Key(key) => out.push_str(&pointer_segment(key)),
        }
    }
    out
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// `~` and `/` escaped as JSON pointers require.
fn pointer_segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl<'de> Visitor<'de> for StrictSeed<'_, '_> {
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
            self.path.push(Step::Index(items.len()));
            let seed = StrictSeed {
                path: &mut *self.path,
                duplicate: &mut *self.duplicate,
            };
            let item = seq.next_element_seed(seed);
            self.path.pop();
            match item? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                *self.duplicate = Some((key, render(self.path)));
                return Err(de::Error::custom("duplicate key"));
            }
            self.path.push(Step::Key(key));
            let seed = StrictSeed {
                path: &mut *self.path,
                duplicate: &mut *self.duplicate,
            };
            let value = map.next_value_seed(seed);
            let Some(Step::Key(key)) = self.path.pop() else {
                return Err(de::Error::custom("path stack out of step"));
            };
            object.insert(key, value?);
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
    fn many_members_under_a_long_key_parse_in_linear_time() {
        let text = format!(
            r#"{{"{}":[{}0]}}"#,
            "k".repeat(1 << 20),
            "0,".repeat(1 << 20)
        );
        // Rendering the path per element would copy a terabyte here; the stack keeps it linear.
        let value = parse_strict(text.as_bytes()).expect("valid");
        assert_eq!(value.as_object().map(|o| o.len()), Some(1));
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
            parse_strict_str(r#"{"a":1,"a":2}"#),
            Err(JsonError::DuplicateKey { .. })
        ));
        assert!(matches!(
            parse_strict(b"{\"a\":\"\xff\"}"),
            Err(JsonError::Syntax(_))
        ));
    }
}
