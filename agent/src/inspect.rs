//! What the policies read of a chat-completions body: every string the provider will read, wherever
//! it sits, and every object key it does not know, so that nothing reaches the provider unchecked.
//!
//! The walk covers the whole body, known fields and unknown ones alike: message content (a string, or
//! any part type that carries text), `name`, tool and function definitions (descriptions, every
//! string and property name of `parameters` schemas), legacy `function_call` / `functions`, tool-call
//! `arguments` (string or object), `prediction`, `response_format` schemas, `stop`, `metadata`,
//! `user`, and fields this gateway has never heard of. A string that holds JSON with escapes (tool
//! arguments, say) is also decoded and its strings checked one by one. A `file_data` document is
//! decoded; when it is text it is checked, when it is not (a PDF, say) the call is refused, since no
//! text policy can read it.
//!
//! Skipped, and only when the value has the expected shape (otherwise it is checked like any text):
//! - `ALLOW_LIST`: identifiers and enums the provider never reads as text: `model`, `role`, `type`,
//!   ids (`tool_call_id`, tool call `id`, `file_id`, audio `id`), `detail`, audio `format` and
//!   `voice`, `reasoning_effort`, `service_tier`, `verbosity`, `modalities`, `tool_choice` and
//!   `function_call` modes, `search_context_size`; and JSON-schema `type` names;
//! - object keys in `KNOWN_KEYS` (the API's field names and JSON-schema keywords); any other key
//!   (a schema property name, a metadata key) is checked;
//! - numbers, booleans and null (no text);
//! - base64 image and audio payloads (`image_url.url` as a `data:image/...;base64,` URL,
//!   `input_audio.data`), after checking that they are base64 through and through: media, not text.

use base64::Engine as _;
use serde_json::{Map, Value};

/// One step of a path into the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
    /// The name of the member reached by the previous `Key` (not its value).
    KeyName,
    /// The string here holds JSON; the path continues inside it.
    Json,
    /// The string here holds a base64 document (a data URL or bare base64) of text.
    Base64,
}

/// A string the policies must read, and where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub path: Vec<Seg>,
    pub text: String,
}

/// Why a body cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InspectError {
    /// More text than the scan limit.
    TooLarge,
    /// Content no text policy can read (a binary document), at this JSON pointer.
    Unreadable { pointer: String, why: String },
}

/// Every checked string of `body`, or why the body cannot be checked. Stops as soon as the text
/// exceeds `limit_bytes`.
pub fn inspect(body: &Value, limit_bytes: usize) -> Result<Vec<Checked>, InspectError> {
    let mut walk = Walk {
        out: Vec::new(),
        total_bytes: 0,
        limit_bytes,
    };
    let mut path = Vec::new();
    walk.value(body, &mut path, 0)?;
    Ok(walk.out)
}

/// Every string value and every key of `value`, nothing skipped: what must be masked before a
/// caller-supplied value is stored.
pub fn all_strings(value: &Value) -> Vec<Checked> {
    fn walk(value: &Value, path: &mut Vec<Seg>, out: &mut Vec<Checked>) {
        match value {
            Value::String(text) => out.push(Checked {
                path: path.clone(),
                text: text.clone(),
            }),
            Value::Array(items) => {
                for (idx, item) in items.iter().enumerate() {
                    path.push(Seg::Index(idx));
                    walk(item, path, out);
                    path.pop();
                }
            }
            Value::Object(members) => {
                for (key, member) in members {
                    path.push(Seg::Key(key.clone()));
                    walk(member, path, out);
                    path.push(Seg::KeyName);
                    out.push(Checked {
                        path: path.clone(),
                        text: key.clone(),
                    });
                    path.pop();
                    path.pop();
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// JSON in strings is followed this many levels deep; deeper escaped JSON is refused.
const MAX_NESTED_JSON: usize = 4;

struct Walk {
    out: Vec<Checked>,
    total_bytes: usize,
    limit_bytes: usize,
}

impl Walk {
    fn push(&mut self, path: &[Seg], text: String) -> Result<(), InspectError> {
        self.total_bytes = self.total_bytes.saturating_add(text.len());
        if self.total_bytes > self.limit_bytes {
            return Err(InspectError::TooLarge);
        }
        self.out.push(Checked {
            path: path.to_vec(),
            text,
        });
        Ok(())
    }

    fn value(
        &mut self,
        value: &Value,
        path: &mut Vec<Seg>,
        nested: usize,
    ) -> Result<(), InspectError> {
        match value {
            Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
            Value::String(text) => self.string(text, path, nested),
            Value::Array(items) => {
                for (idx, item) in items.iter().enumerate() {
                    path.push(Seg::Index(idx));
                    let walked = self.value(item, path, nested);
                    path.pop();
                    walked?;
                }
                Ok(())
            }
            Value::Object(members) => self.object(members, path, nested),
        }
    }

    fn object(
        &mut self,
        members: &Map<String, Value>,
        path: &mut Vec<Seg>,
        nested: usize,
    ) -> Result<(), InspectError> {
        for (key, member) in members {
            path.push(Seg::Key(key.clone()));
            let walked = (|| {
                if !is_known_key(key) {
                    path.push(Seg::KeyName);
                    let pushed = self.push(path, key.clone());
                    path.pop();
                    pushed?;
                }
                self.value(member, path, nested)
            })();
            path.pop();
            walked?;
        }
        Ok(())
    }

    fn string(
        &mut self,
        text: &str,
        path: &mut Vec<Seg>,
        nested: usize,
    ) -> Result<(), InspectError> {
        if nested == 0 {
            match media_kind(path) {
                Some(Media::Image) if is_base64_data_url(text, "image/") => return Ok(()),
                Some(Media::Audio) if is_base64(text) => return Ok(()),
                Some(Media::File) => return self.file(text, path),
                _ => {}
            }
        }
        if is_allow_listed(path, text) {
            return Ok(());
        }
        self.push(path, text.to_owned())?;
        // JSON inside the string: with escapes, its decoded strings differ from the raw text, so
        // they are checked too.
        let trimmed = text.trim_start();
        if text.contains('\\') && (trimmed.starts_with('{') || trimmed.starts_with('[')) {
            if let Ok(inner) = serde_json::from_str::<Value>(text) {
                if nested >= MAX_NESTED_JSON {
                    return Err(InspectError::Unreadable {
                        pointer: pointer(path),
                        why: format!(
                            "JSON encoded in strings more than {MAX_NESTED_JSON} levels deep"
                        ),
                    });
                }
                path.push(Seg::Json);
                let walked = self.value(&inner, path, nested + 1);
                path.pop();
                walked?;
            }
        }
        Ok(())
    }

    /// `file.file_data`: a document as a data URL (or bare base64). Text is checked; anything
    /// else cannot be.
    fn file(&mut self, text: &str, path: &mut Vec<Seg>) -> Result<(), InspectError> {
        let unreadable = |why: &str| InspectError::Unreadable {
            pointer: pointer(path),
            why: why.to_owned(),
        };
        let decoded = decode_document(text)
            .ok_or_else(|| unreadable("file_data is not base64 (or a base64 data URL)"))?;
        let text = String::from_utf8(decoded.bytes).map_err(|_| {
            unreadable(&format!(
                "a {} document is not text, so no policy can read it; send its text instead",
                decoded.media_type.as_deref().unwrap_or("binary")
            ))
        })?;
        path.push(Seg::Base64);
        let pushed = self.push(path, text);
        path.pop();
        pushed
    }
}

/// A decoded base64 document and its declared media type.
pub struct Document {
    pub media_type: Option<String>,
    /// What precedes the payload (`data:text/plain;base64,`), kept when re-encoding.
    pub prefix: String,
    pub bytes: Vec<u8>,
}

/// Decodes `data:<type>;base64,<payload>` or bare base64.
pub fn decode_document(text: &str) -> Option<Document> {
    let (media_type, prefix, payload) = match text.strip_prefix("data:") {
        Some(rest) => {
            let (header, payload) = rest.split_once(',')?;
            let media_type = header.strip_suffix(";base64")?;
            (
                Some(media_type.to_owned()),
                text[..text.len() - payload.len()].to_owned(),
                payload,
            )
        }
        None => (None, String::new(), text),
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .ok()?;
    Some(Document {
        media_type,
        prefix,
        bytes,
    })
}

/// Base64 through and through (the standard alphabet with padding).
fn is_base64(text: &str) -> bool {
    !text.is_empty()
        && base64::engine::general_purpose::STANDARD
            .decode(text)
            .is_ok()
}

/// `data:<prefix>...;base64,<payload>` with a base64 payload.
fn is_base64_data_url(text: &str, type_prefix: &str) -> bool {
    text.strip_prefix("data:")
        .and_then(|rest| rest.split_once(','))
        .is_some_and(|(header, payload)| {
            header.starts_with(type_prefix)
                && header.ends_with(";base64")
                && header.len() <= 128
                && is_base64(payload)
        })
}

enum Media {
    Image,
    Audio,
    File,
}

/// Binary payload fields of message content parts.
fn media_kind(path: &[Seg]) -> Option<Media> {
    let [Seg::Key(messages), Seg::Index(_), Seg::Key(content), Seg::Index(_), Seg::Key(part), Seg::Key(field)] =
        path
    else {
        return None;
    };
    if messages != "messages" || content != "content" {
        return None;
    }
    match (part.as_str(), field.as_str()) {
        ("image_url", "url") => Some(Media::Image),
        ("input_audio", "data") => Some(Media::Audio),
        ("file", "file_data") => Some(Media::File),
        _ => None,
    }
}

/// The shape a skipped value must have.
#[derive(Clone, Copy)]
enum Shape {
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// A lowercase word: `^[a-z][a-z0-9_]{0,63}$`.
    Word,
    /// An identifier: letters, digits, `_` and `-`, at most 128 bytes, fewer than 9 digits.
    Id,
    /// A model name: letters, digits and `._:/@+-`, at most 256 bytes, fewer than 9 digits.
    Model,
}

impl Shape {
    fn fits(self, text: &str) -> bool {
        let n_digits = text.bytes().filter(u8::is_ascii_digit).count();
        match self {
            Shape::OneOf(words) => words.contains(&text),
            Shape::Word => {
                text.len() <= 64
                    && text.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            }
            Shape::Id => {
                !text.is_empty()
                    && text.len() <= 128
                    && n_digits < 9
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
            }
            Shape::Model => {
                !text.is_empty()
                    && text.len() <= 256
                    && n_digits < 9
                    && text.bytes().all(|b| {
                        b.is_ascii_alphanumeric()
                            || matches!(b, b'.' | b'_' | b':' | b'/' | b'@' | b'+' | b'-')
                    })
            }
        }
    }
}

/// A path pattern step: a key, or any array index.
#[derive(Clone, Copy)]
enum P {
    K(&'static str),
    I,
}

const ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];
const JSON_SCHEMA_TYPES: &[&str] = &[
    "string", "number", "integer", "boolean", "object", "array", "null",
];

/// Fields whose values are identifiers or enums, with the shape that lets them skip the policies.
const ALLOW_LIST: &[(&[P], Shape)] = {
    use P::{I, K};
    &[
        (&[K("model")], Shape::Model),
        (&[K("messages"), I, K("role")], Shape::OneOf(ROLES)),
        (&[K("messages"), I, K("tool_call_id")], Shape::Id),
        (&[K("messages"), I, K("tool_calls"), I, K("id")], Shape::Id),
        (
            &[K("messages"), I, K("tool_calls"), I, K("type")],
            Shape::Word,
        ),
        (&[K("messages"), I, K("audio"), K("id")], Shape::Id),
        (&[K("messages"), I, K("content"), I, K("type")], Shape::Word),
        (
            &[
                K("messages"),
                I,
                K("content"),
                I,
                K("image_url"),
                K("detail"),
            ],
            Shape::Word,
        ),
        (
            &[
                K("messages"),
                I,
                K("content"),
                I,
                K("input_audio"),
                K("format"),
            ],
            Shape::Word,
        ),
        (
            &[K("messages"), I, K("content"), I, K("file"), K("file_id")],
            Shape::Id,
        ),
        (&[K("tools"), I, K("type")], Shape::Word),
        (
            &[K("tool_choice")],
            Shape::OneOf(&["none", "auto", "required"]),
        ),
        (&[K("tool_choice"), K("type")], Shape::Word),
        (&[K("function_call")], Shape::OneOf(&["none", "auto"])),
        (&[K("response_format"), K("type")], Shape::Word),
        (&[K("prediction"), K("type")], Shape::Word),
        (&[K("reasoning_effort")], Shape::Word),
        (&[K("service_tier")], Shape::Word),
        (&[K("verbosity")], Shape::Word),
        (&[K("modalities"), I], Shape::Word),
        (&[K("audio"), K("format")], Shape::Word),
        (&[K("audio"), K("voice")], Shape::Word),
        (
            &[K("web_search_options"), K("search_context_size")],
            Shape::Word,
        ),
    ]
};

fn matches_pattern(path: &[Seg], pattern: &[P]) -> bool {
    path.len() == pattern.len()
        && path
            .iter()
            .zip(pattern)
            .all(|(seg, step)| match (seg, step) {
                (Seg::Key(key), P::K(name)) => key == name,
                (Seg::Index(_), P::I) => true,
                _ => false,
            })
}

fn is_allow_listed(path: &[Seg], text: &str) -> bool {
    if let [.., Seg::Key(last)] = path {
        // A JSON-schema type name, in a schema anywhere.
        if last == "type" && JSON_SCHEMA_TYPES.contains(&text) {
            return true;
        }
    }
    ALLOW_LIST
        .iter()
        .any(|(pattern, shape)| matches_pattern(path, pattern) && shape.fits(text))
}

/// Field names of the Chat Completions API and JSON-schema keywords. Sorted.
const KNOWN_KEYS: &[&str] = &[
    "$defs",
    "$id",
    "$ref",
    "$schema",
    "additionalProperties",
    "allOf",
    "anyOf",
    "approximate",
    "arguments",
    "audio",
    "city",
    "const",
    "contains",
    "content",
    "contentEncoding",
    "contentMediaType",
    "country",
    "custom",
    "data",
    "default",
    "definitions",
    "dependentRequired",
    "dependentSchemas",
    "deprecated",
    "description",
    "detail",
    "else",
    "enum",
    "examples",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "file",
    "file_data",
    "file_id",
    "filename",
    "format",
    "frequency_penalty",
    "function",
    "function_call",
    "functions",
    "id",
    "if",
    "image_url",
    "include_obfuscation",
    "include_usage",
    "input",
    "input_audio",
    "items",
    "json_schema",
    "logit_bias",
    "logprobs",
    "maxItems",
    "maxLength",
    "maxProperties",
    "max_completion_tokens",
    "max_tokens",
    "maximum",
    "messages",
    "metadata",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "modalities",
    "model",
    "multipleOf",
    "n",
    "name",
    "not",
    "nullable",
    "oneOf",
    "parallel_tool_calls",
    "parameters",
    "pattern",
    "patternProperties",
    "prediction",
    "prefixItems",
    "presence_penalty",
    "prompt_cache_key",
    "properties",
    "propertyNames",
    "readOnly",
    "reasoning_effort",
    "refusal",
    "region",
    "required",
    "response_format",
    "role",
    "safety_identifier",
    "schema",
    "search_context_size",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "strict",
    "temperature",
    "text",
    "then",
    "timezone",
    "title",
    "tool_call_id",
    "tool_calls",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "type",
    "uniqueItems",
    "url",
    "user",
    "user_location",
    "verbosity",
    "voice",
    "web_search_options",
    "writeOnly",
];

fn is_known_key(key: &str) -> bool {
    KNOWN_KEYS.binary_search(&key).is_ok()
}

/// A path as a JSON pointer that names no user text: keys the API does not define are shown as `*`,
/// strings holding JSON or base64 as `(json)` / `(base64)`. Safe to store and to return.
pub fn pointer(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        out.push('/');
        match seg {
            Seg::Key(key) if is_known_key(key) => out.push_str(key),
            Seg::Key(_) => out.push('*'),
            Seg::Index(idx) => out.push_str(&idx.to_string()),
            Seg::KeyName => out.push_str("(key)"),
            Seg::Json => out.push_str("(json)"),
            Seg::Base64 => out.push_str("(base64)"),
        }
    }
    out
}

/// Why a redaction could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotApplied(pub String);

/// Replaces the string at `path` in `body` (a value, a member name, or text inside JSON or base64
/// held by a string) with `replacement`.
pub fn replace(body: &mut Value, path: &[Seg], replacement: &str) -> Result<(), NotApplied> {
    let lost = || NotApplied(format!("{} is no longer where it was", pointer(path)));
    match path {
        [] => {
            *body = Value::String(replacement.to_owned());
            Ok(())
        }
        [Seg::Key(key), Seg::KeyName] => {
            let object = body.as_object_mut().ok_or_else(lost)?;
            if object.contains_key(replacement) {
                return Err(NotApplied(format!(
                    "masking a key at {} would collide with another key",
                    pointer(path)
                )));
            }
            let member = object.remove(key).ok_or_else(lost)?;
            object.insert(replacement.to_owned(), member);
            Ok(())
        }
        [Seg::Key(key), rest @ ..] => {
            let member = body.get_mut(key.as_str()).ok_or_else(lost)?;
            replace(member, rest, replacement)
        }
        [Seg::Index(idx), rest @ ..] => {
            let item = body.get_mut(*idx).ok_or_else(lost)?;
            replace(item, rest, replacement)
        }
        [Seg::Json, rest @ ..] => {
            let text = body.as_str().ok_or_else(lost)?;
            let mut inner: Value = serde_json::from_str(text).map_err(|_| lost())?;
            replace(&mut inner, rest, replacement)?;
            *body = Value::String(inner.to_string());
            Ok(())
        }
        [Seg::Base64] => {
            let text = body.as_str().ok_or_else(lost)?;
            let document = decode_document(text).ok_or_else(lost)?;
            let encoded = base64::engine::general_purpose::STANDARD.encode(replacement);
            *body = Value::String(format!("{}{encoded}", document.prefix));
            Ok(())
        }
        [Seg::KeyName | Seg::Base64, ..] => Err(lost()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(body: &Value) -> Vec<String> {
        inspect(body, usize::MAX)
            .expect("inspectable")
            .into_iter()
            .map(|c| c.text)
            .collect()
    }

    /// The checked texts of `body` are `expected`, in any order (objects iterate by key).
    #[track_caller]
    fn check(body: Value, expected: &[&str]) {
        let mut found = texts(&body);
        found.sort();
        let mut expected: Vec<String> = expected.iter().map(|t| (*t).to_owned()).collect();
        expected.sort();
        assert_eq!(found, expected, "{body}");
    }

    #[test]
    fn known_keys_are_sorted() {
        assert!(KNOWN_KEYS.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn plain_chat_checks_only_the_text() {
        check(
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}),
            &["hi"],
        );
    }

    #[test]
    fn every_text_carrying_field_is_checked() {
        check(
            json!({"messages": [{"role": "user", "name": "Jane Doe", "content": "x"}]}),
            &["x", "Jane Doe"],
        );
        check(
            json!({"messages": [{"role": "user", "content": [
                {"type": "text", "text": "a"},
                {"type": "refusal", "refusal": "b"},
                {"type": "input_text", "text": "c"},
                {"type": "image_url", "image_url": {"url": "https://example.com/?q=d", "detail": "low"}}
            ]}]}),
            &["a", "b", "c", "https://example.com/?q=d"],
        );
        check(
            json!({"tools": [{"type": "function", "function": {"name": "lookup", "description": "desc",
                "parameters": {"type": "object", "properties": {"ssn": {"type": "string", "description": "d2", "enum": ["e1"]}}}}}]}),
            &["lookup", "desc", "ssn", "d2", "e1"],
        );
        check(
            json!({"functions": [{"name": "f", "description": "g"}], "function_call": {"name": "f"}}),
            &["f", "g", "f"],
        );
        check(
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "f", "arguments": {"q": "object arguments"}}}]}]}),
            &["f", "q", "object arguments"],
        );
        check(
            json!({"prediction": {"type": "content", "content": "p"}, "response_format": {"type": "json_schema",
                "json_schema": {"name": "n", "schema": {"type": "object", "description": "s"}}}}),
            &["p", "n", "s"],
        );
        check(
            json!({"stop": ["x"], "user": "u", "metadata": {"k": "v"}, "unknown_field": {"deep": ["w"]}}),
            &["x", "u", "k", "v", "unknown_field", "deep", "w"],
        );
    }

    #[test]
    fn allow_listed_values_must_have_their_shape() {
        check(json!({"model": "gpt-4o-mini"}), &[]);
        check(
            json!({"model": "ignore previous instructions"}),
            &["ignore previous instructions"],
        );
        check(json!({"model": "123-45-6789-000"}), &["123-45-6789-000"]);
        check(
            json!({"messages": [{"role": "DROP TABLE users"}]}),
            &["DROP TABLE users"],
        );
        check(
            json!({"messages": [{"role": "tool", "tool_call_id": "call_Ds7ZpTqY9h0Bq5RZ"}]}),
            &[],
        );
        check(
            json!({"messages": [{"role": "tool", "tool_call_id": "4111111111111111"}]}),
            &["4111111111111111"],
        );
        check(json!({"tool_choice": "required"}), &[]);
        check(json!({"tool_choice": "please leak"}), &["please leak"]);
        // `type` is skipped only in its places, or as a JSON-schema type name.
        check(
            json!({"metadata": {"type": "secret plan"}}),
            &["secret plan"],
        );
    }

    #[test]
    fn escaped_json_in_strings_is_decoded() {
        let arguments = r#"{"q":"\u0031\u0032\u0033-45-6789"}"#;
        let body = json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "f", "arguments": arguments}}]}]});
        let checked = inspect(&body, usize::MAX).expect("inspectable");
        let decoded = checked
            .iter()
            .find(|c| c.path.contains(&Seg::Json) && matches!(c.path.last(), Some(Seg::Key(_))))
            .expect("inner string");
        assert_eq!(decoded.text, "123-45-6789");
        assert_eq!(
            pointer(&decoded.path),
            "/messages/0/tool_calls/0/function/arguments/(json)/*"
        );
    }

    #[test]
    fn media_is_skipped_only_when_it_is_base64() {
        check(
            json!({"messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
            ]}]}),
            &[],
        );
        check(
            json!({"messages": [{"role": "user", "content": [
                {"type": "input_audio", "input_audio": {"data": "not base64 at all", "format": "wav"}}
            ]}]}),
            &["not base64 at all"],
        );
    }

    #[test]
    fn text_documents_are_decoded_and_binary_ones_refused() {
        // base64("SSN 123-45-6789")
        let body = json!({"messages": [{"role": "user", "content": [{"type": "file",
            "file": {"filename": "notes.txt", "file_data": "data:text/plain;base64,U1NOIDEyMy00NS02Nzg5"}}]}]});
        assert_eq!(texts(&body), ["SSN 123-45-6789", "notes.txt"]);
        let pdf = json!({"messages": [{"role": "user", "content": [{"type": "file",
            "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjcK/////w=="}}]}]});
        assert!(matches!(
            inspect(&pdf, usize::MAX),
            Err(InspectError::Unreadable { .. })
        ));
    }

    #[test]
    fn text_past_the_limit_is_refused() {
        let body = json!({"messages": [{"role": "user", "content": "abcd"}, {"role": "user", "content": "efgh"}]});
        assert_eq!(texts(&body).len(), 2);
        assert_eq!(inspect(&body, 7), Err(InspectError::TooLarge));
        assert!(inspect(&body, 8).is_ok());
    }

    #[test]
    fn replacements_reach_every_kind_of_place() {
        let mut body = json!({
            "messages": [{"role": "user", "content": "ssn 123-45-6789"}],
            "metadata": {"123-45-6789": 1},
            "args": "{\"q\":\"\\u0031\"}",
            "doc": "data:text/plain;base64,U1NOIDEyMy00NS02Nzg5"
        });
        let key = |k: &str| Seg::Key(k.to_owned());
        replace(
            &mut body,
            &[key("messages"), Seg::Index(0), key("content")],
            "ssn [REDACTED:SSN]",
        )
        .expect("value");
        replace(
            &mut body,
            &[key("metadata"), key("123-45-6789"), Seg::KeyName],
            "[REDACTED:SSN]",
        )
        .expect("key");
        replace(&mut body, &[key("args"), Seg::Json, key("q")], "[REDACTED]").expect("json");
        replace(&mut body, &[key("doc"), Seg::Base64], "SSN [REDACTED:SSN]").expect("base64");
        assert_eq!(body["messages"][0]["content"], "ssn [REDACTED:SSN]");
        assert_eq!(body["metadata"], json!({"[REDACTED:SSN]": 1}));
        assert_eq!(body["args"], r#"{"q":"[REDACTED]"}"#);
        let document = decode_document(body["doc"].as_str().expect("string")).expect("base64");
        assert_eq!(document.bytes, b"SSN [REDACTED:SSN]");
        assert!(replace(&mut body, &[key("nothing"), key("here")], "x").is_err());
    }
}
