//! What the policies read of a chat-completions body: every string the provider will read, wherever
//! it sits, and every object key it does not know, so that nothing reaches the provider unchecked.
//!
//! The walk covers the whole body, known fields and unknown ones alike: message content (a string, or
//! any part type that carries text), `name`, tool and function definitions (descriptions, every
//! string and property name of `parameters` schemas), legacy `function_call` / `functions`, tool-call
//! `arguments` (string or object), `prediction`, `response_format` schemas, `stop`, `metadata`,
//! `user`, and fields this gateway has never heard of. A string that holds JSON with escapes (tool
//! arguments, say) is also decoded and its strings checked one by one. A `file_data` document is
//! decoded; when it is declared and shaped as text it is checked, when it is not (a PDF, even an
//! ASCII one) the call is refused, since no text policy can read what the provider extracts.
//!
//! A string with backslash escapes is also checked as they decode (`\u0031` is `1`); numbers of 9
//! digits or more are checked as text (a card number can be sent as a number), and a number read
//! as a float past 2^53 is refused (its digits are no longer the ones sent).
//!
//! Skipped, and only when the value has the expected shape (otherwise it is checked like any text):
//! - `ALLOW_LIST`: enums the provider never reads as text: `role` (one of the API's roles), `type`
//!   of parts, tool calls, tools, `tool_choice`, `response_format` and `prediction`, image `detail`,
//!   audio `format` and `voice`, `reasoning_effort`, `service_tier`, `verbosity`, `modalities`,
//!   `tool_choice` and `function_call` modes, `search_context_size`, each a lowercase word with at
//!   most 4 digits; and JSON-schema `type` names. `model` and ids are short, so they are checked;
//! - object keys in `KNOWN_KEYS` (the API's field names and JSON-schema keywords); any other key
//!   (a schema property name, a metadata key) is checked;
//! - booleans, null and numbers of fewer than 9 digits (no text);
//! - base64 image and audio payloads (`image_url.url` as a `data:image/<subtype>;base64,` URL,
//!   `input_audio.data`), after checking that they are base64 through and through: media, not text.

use base64::Engine as _;
use serde_json::{Map, Value};

use axonflow_platform::http::json::{self, JsonError};

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
    /// The string here, with its backslash escapes decoded (checked, but not maskable in place).
    Unescaped,
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

/// Every checked string of `body`, or why the body cannot be checked. Stops as soon as the cost of
/// what was found exceeds `limit_bytes`: each string costs its length, the length of its path and a
/// fixed `STRING_COST`, so that neither many tiny strings nor deep paths can grow the work or the
/// memory past the limit.
pub fn inspect(body: &Value, limit_bytes: usize) -> Result<Vec<Checked>, InspectError> {
    let mut walk = Walk {
        out: Vec::new(),
        total_bytes: 0,
        limit_bytes,
        path_bytes: 0,
    };
    let mut path = Vec::new();
    walk.value(body, &mut path, 0)?;
    Ok(walk.out)
}

/// What every checked string costs besides its text and path.
pub const STRING_COST: usize = 32;

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

/// Numbers with at least this many digits are checked as text (a card number can be a number).
const CHECKED_INTEGER_DIGITS: usize = 9;

/// 2^53: from here on an f64 no longer holds every integer, so a number read as one may not have
/// the digits that were sent.
const EXACT_F64_LIMIT: f64 = 9_007_199_254_740_992.0;

struct Walk {
    out: Vec<Checked>,
    total_bytes: usize,
    limit_bytes: usize,
    /// The length of the keys on the current path (a path is copied with every string found).
    path_bytes: usize,
}

fn seg_bytes(seg: &Seg) -> usize {
    match seg {
        Seg::Key(key) => key.len() + 8,
        _ => 8,
    }
}

impl Walk {
    fn enter(&mut self, path: &mut Vec<Seg>, seg: Seg) {
        self.path_bytes += seg_bytes(&seg);
        path.push(seg);
    }

    fn leave(&mut self, path: &mut Vec<Seg>) {
        if let Some(seg) = path.pop() {
            self.path_bytes -= seg_bytes(&seg);
        }
    }

    fn push(&mut self, path: &[Seg], text: String) -> Result<(), InspectError> {
        self.total_bytes = self
            .total_bytes
            .saturating_add(text.len() + self.path_bytes + STRING_COST);
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
            Value::Null | Value::Bool(_) => Ok(()),
            Value::Number(number) => {
                // A number other than a 64-bit integer is read as an f64: past 2^53 its digits are
                // no longer the ones sent, which the provider reads. Refused; below that, its
                // digits are checked as an integer's are.
                let integer = number.is_u64() || number.is_i64();
                if !integer && number.as_f64().is_none_or(|f| f.abs() >= EXACT_F64_LIMIT) {
                    return Err(InspectError::Unreadable {
                        pointer: pointer(path),
                        why: "a number too large to be read exactly (send it as a string)"
                            .to_owned(),
                    });
                }
                // An integral float (`4111111111111111.0`, `4.111111111111111e15`) is checked as
                // the integer it spells, which the detectors read as a number.
                let digits = match number.as_f64() {
                    Some(f) if !integer && f.fract() == 0.0 => format!("{}", f as i64),
                    _ => number.to_string(),
                };
                if digits.bytes().filter(u8::is_ascii_digit).count() >= CHECKED_INTEGER_DIGITS {
                    self.push(path, digits)?;
                }
                Ok(())
            }
            Value::String(text) => self.string(text, path, nested),
            Value::Array(items) => {
                for (idx, item) in items.iter().enumerate() {
                    self.enter(path, Seg::Index(idx));
                    let walked = self.value(item, path, nested);
                    self.leave(path);
                    walked?;
                }
                Ok(())
            }
            Value::Object(members) => self.object(members, path, nested),
        }
    }

    /// A member's value is listed before its key, so that redactions apply to the value while the
    /// key still has its old name.
    fn object(
        &mut self,
        members: &Map<String, Value>,
        path: &mut Vec<Seg>,
        nested: usize,
    ) -> Result<(), InspectError> {
        for (key, member) in members {
            self.enter(path, Seg::Key(key.clone()));
            let walked = self.value(member, path, nested).and_then(|()| {
                if is_known_key(key) {
                    return Ok(());
                }
                self.enter(path, Seg::KeyName);
                let pushed = self.push(path, key.clone());
                self.leave(path);
                pushed
            });
            self.leave(path);
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
                Some(Media::Image) if is_base64_image_url(text) => return Ok(()),
                Some(Media::Audio) if is_base64(text) => return Ok(()),
                Some(Media::File) => return self.file(text, path),
                Some(Media::StoredFile) => {
                    return Err(InspectError::Unreadable {
                        pointer: pointer(path),
                        why: "a file stored with the provider is read by the provider, not by the \
                              policies: send its content as file_data"
                            .to_owned(),
                    })
                }
                _ => {}
            }
        }
        if is_allow_listed(path, text) {
            return Ok(());
        }
        self.push(path, text.to_owned())?;
        if text.contains('\\') {
            self.escaped(text, path, nested)?;
        }
        Ok(())
    }

    /// A string with backslash escapes in it: what they spell is checked too, since a reader may
    /// decode them. JSON held in the string is walked (its strings can be redacted in place); any
    /// other escaped text is checked decoded (a match there cannot be masked in place).
    fn escaped(
        &mut self,
        text: &str,
        path: &mut Vec<Seg>,
        nested: usize,
    ) -> Result<(), InspectError> {
        let unreadable = |path: &[Seg], why: String| InspectError::Unreadable {
            pointer: pointer(path),
            why,
        };
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            match json::parse_strict_str(text) {
                Ok(inner) => {
                    if nested >= MAX_NESTED_JSON {
                        return Err(unreadable(
                            path,
                            format!(
                                "JSON encoded in strings more than {MAX_NESTED_JSON} levels deep"
                            ),
                        ));
                    }
                    self.enter(path, Seg::Json);
                    let walked = self.value(&inner, path, nested + 1);
                    self.leave(path);
                    return walked;
                }
                Err(error @ JsonError::DuplicateKey { .. }) => {
                    return Err(unreadable(
                        path,
                        format!("the JSON held in this string: {error}"),
                    ));
                }
                Err(JsonError::Syntax(_)) => {}
            }
        }
        if let Some(decoded) = unescape(text) {
            self.enter(path, Seg::Unescaped);
            let pushed = self.push(path, decoded);
            self.leave(path);
            pushed?;
        }
        Ok(())
    }

    /// `file.file_data`: a document as a data URL (or bare base64). A text document is checked;
    /// anything else cannot be read by a text policy and is refused.
    fn file(&mut self, text: &str, path: &mut Vec<Seg>) -> Result<(), InspectError> {
        let unreadable = |why: &str| InspectError::Unreadable {
            pointer: pointer(path),
            why: why.to_owned(),
        };
        let decoded = decode_document(text)
            .ok_or_else(|| unreadable("file_data is not base64 (or a base64 data URL)"))?;
        let declared_text = decoded.media_type.as_deref().is_none_or(is_text_media_type);
        // Readers find a signature past a few bytes of junk (a PDF reader looks through the first
        // kilobyte): any in the first kilobyte counts.
        let head = &decoded.bytes[..decoded.bytes.len().min(SIGNATURE_WINDOW)];
        let looks_binary = BINARY_SIGNATURES.iter().any(|signature| {
            head.windows(signature.len())
                .any(|window| window == *signature)
        });
        let text = match String::from_utf8(decoded.bytes) {
            Ok(text) if declared_text && !looks_binary => text,
            _ => {
                return Err(unreadable(&format!(
                    "a {} document is not plain text, so no policy can read what the provider extracts \
                     from it; send its text instead",
                    decoded.media_type.as_deref().unwrap_or("binary")
                )))
            }
        };
        self.enter(path, Seg::Base64);
        let pushed = self.push(path, text);
        self.leave(path);
        pushed
    }
}

/// Media types whose bytes are the text a reader sees.
fn is_text_media_type(media_type: &str) -> bool {
    let media_type = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media_type.starts_with("text/")
        || matches!(
            media_type.as_str(),
            "application/json" | "application/x-ndjson" | "application/xml" | "application/csv"
        )
}

/// Signatures of document formats whose text a provider extracts by parsing (PDF, ZIP-based office
/// files, RTF, PostScript, OLE): refused even when their bytes happen to be ASCII.
const BINARY_SIGNATURES: &[&[u8]] = &[
    b"%PDF",
    b"PK\x03\x04",
    b"{\\rtf",
    b"%!PS",
    b"\xd0\xcf\x11\xe0",
];

/// How far into a document its signature is looked for.
const SIGNATURE_WINDOW: usize = 1024;

/// `text` with its backslash escapes (`\uXXXX`, `\n`, `\t`, `\"`, ...) decoded, when it has any that
/// change it; surrogate pairs are joined, a broken escape stays as it is.
pub fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut chars = text.char_indices().peekable();
    let bytes = text.as_bytes();
    let hex4 = |at: usize| -> Option<u32> {
        text.get(at..at + 4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    while let Some((idx, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let simple = match bytes.get(idx + 1) {
            Some(b'n') => Some('\n'),
            Some(b't') => Some('\t'),
            Some(b'r') => Some('\r'),
            Some(b'"') => Some('"'),
            Some(b'\\') => Some('\\'),
            Some(b'/') => Some('/'),
            Some(b'b') => Some('\u{8}'),
            Some(b'f') => Some('\u{c}'),
            _ => None,
        };
        if let Some(decoded) = simple {
            out.push(decoded);
            chars.next();
            changed = true;
            continue;
        }
        if bytes.get(idx + 1) == Some(&b'u') {
            if let Some(high) = hex4(idx + 2) {
                let mut consumed = 6;
                let mut code = high;
                if (0xD800..0xDC00).contains(&high) && text.get(idx + 6..idx + 8) == Some("\\u") {
                    if let Some(low) = hex4(idx + 8).filter(|l| (0xDC00..0xE000).contains(l)) {
                        code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                        consumed = 12;
                    }
                }
                if let Some(decoded) = char::from_u32(code) {
                    out.push(decoded);
                    changed = true;
                    for _ in 1..consumed {
                        chars.next();
                    }
                    continue;
                }
            }
        }
        out.push(c);
    }
    changed.then_some(out)
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

/// `data:image/<subtype>;base64,<payload>`: a subtype of at most 40 of `[a-z0-9.+-]` and a base64
/// payload, nothing else in the header.
fn is_base64_image_url(text: &str) -> bool {
    text.strip_prefix("data:image/")
        .and_then(|rest| rest.split_once(";base64,"))
        .is_some_and(|(subtype, payload)| {
            !subtype.is_empty()
                && subtype.len() <= 40
                && subtype.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'+' | b'-')
                })
                && is_base64(payload)
        })
}

enum Media {
    Image,
    Audio,
    File,
    /// `file.file_id`: a document stored with the provider, which the provider reads and the
    /// policies never see.
    StoredFile,
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
        ("file", "file_id") => Some(Media::StoredFile),
        _ => None,
    }
}

/// The shape a skipped value must have.
#[derive(Clone, Copy)]
enum Shape {
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// A lowercase word of at most 64 bytes: `[a-z][a-z0-9_]*` with at most 4 digits (`pcm16`).
    Word,
}

impl Shape {
    fn fits(self, text: &str) -> bool {
        match self {
            Shape::OneOf(words) => words.contains(&text),
            Shape::Word => {
                text.len() <= 64
                    && text.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    && text.bytes().filter(u8::is_ascii_digit).count() <= 4
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

/// Fields whose values are enums, with the shape that lets them skip the policies.
const ALLOW_LIST: &[(&[P], Shape)] = {
    use P::{I, K};
    &[
        (&[K("messages"), I, K("role")], Shape::OneOf(ROLES)),
        (
            &[K("messages"), I, K("tool_calls"), I, K("type")],
            Shape::Word,
        ),
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
            Seg::Unescaped => out.push_str("(unescaped)"),
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
        [Seg::Unescaped, ..] => Err(NotApplied(format!(
            "{} hides a value in backslash escapes, where it cannot be masked",
            pointer(path)
        ))),
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
    fn plain_chat_checks_the_text_and_the_model() {
        check(
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}),
            &["gpt-4o-mini", "hi"],
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
                "function": {"name": "f", "arguments": {"q": "object arguments", "n": 4111111111111111u64, "k": 42}}}]}]}),
            &[
                "call_1",
                "f",
                "q",
                "object arguments",
                "4111111111111111",
                "k",
            ],
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
        check(json!({"messages": [{"role": "user"}]}), &[]);
        check(
            json!({"messages": [{"role": "DROP TABLE users"}]}),
            &["DROP TABLE users"],
        );
        check(json!({"tool_choice": "required"}), &[]);
        check(json!({"tool_choice": "please leak"}), &["please leak"]);
        check(
            json!({"reasoning_effort": "low", "modalities": ["text", "audio"]}),
            &[],
        );
        check(
            json!({"reasoning_effort": "card_4111111111111111"}),
            &["card_4111111111111111"],
        );
        check(json!({"audio": {"voice": "Jane Doe"}}), &["Jane Doe"]);
        // `type` is skipped only in its places, or as a JSON-schema type name.
        check(
            json!({"metadata": {"type": "secret plan"}}),
            &["secret plan"],
        );
        // Model names and ids are short: always checked.
        check(
            json!({"model": "jane.doe@corp.com"}),
            &["jane.doe@corp.com"],
        );
        check(
            json!({"messages": [{"role": "tool", "tool_call_id": "AKIAIOSFODNN7EXAMPLE"}]}),
            &["AKIAIOSFODNN7EXAMPLE"],
        );
    }

    #[test]
    fn escapes_are_checked_as_they_decode() {
        // Not JSON: the decoded text is checked, and cannot be masked in place.
        let body = json!({"messages": [{"role": "user", "content": "my ssn is \\u0031\\u0032\\u0033-45-6789"}]});
        let checked = inspect(&body, usize::MAX).expect("inspectable");
        let decoded = checked
            .iter()
            .find(|c| c.path.last() == Some(&Seg::Unescaped))
            .expect("decoded copy");
        assert_eq!(decoded.text, "my ssn is 123-45-6789");
        let mut target = body.clone();
        assert!(replace(&mut target, &decoded.path, "masked").is_err());
        // JSON with a duplicate key inside a string cannot be checked.
        let duplicate =
            json!({"messages": [{"role": "user", "content": "{\"q\":\"\\u0031\",\"q\":\"x\"}"}]});
        assert!(matches!(
            inspect(&duplicate, usize::MAX),
            Err(InspectError::Unreadable { .. })
        ));
        assert_eq!(
            unescape("a\\u00e9\\n\\ud83d\\ude00 \\q \\u12"),
            Some("a\u{e9}\n\u{1f600} \\q \\u12".to_owned())
        );
        assert_eq!(unescape("nothing to decode"), None);
    }

    #[test]
    fn many_tiny_strings_cost_more_than_their_text() {
        let body = json!({"messages": [{"role": "user", "content": vec![""; 10_000]}]});
        // 10,000 empty strings carry no text but cost their path and a fixed share each.
        assert_eq!(inspect(&body, 100_000), Err(InspectError::TooLarge));
        let deep_key = json!({"k".repeat(50_000): ["", "", ""]});
        assert_eq!(inspect(&deep_key, 100_000), Err(InspectError::TooLarge));
        assert!(inspect(
            &json!({"messages": [{"role": "user", "content": ["", ""]}]}),
            1_000
        )
        .is_ok());
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
        // Text in the data URL's header is no image.
        let smuggled = "data:image/png;note=ssn 123-45-6789;base64,AAAA";
        check(
            json!({"messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": smuggled}}]}]}),
            &[smuggled],
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
        // An ASCII PDF, declared as such or sent as bare base64, is refused too: base64("%PDF-1.4 <48656c6c6f> Tj").
        for data in [
            "data:application/pdf;base64,JVBERi0xLjQgPDQ4NjU2YzZjNmY+IFRq",
            "JVBERi0xLjQgPDQ4NjU2YzZjNmY+IFRq",
        ] {
            let ascii_pdf = json!({"messages": [{"role": "user", "content": [{"type": "file",
                "file": {"file_data": data}}]}]});
            assert!(matches!(
                inspect(&ascii_pdf, usize::MAX),
                Err(InspectError::Unreadable { .. })
            ));
        }
        // A PDF reader finds its header past a few bytes: "\n%PDF-1.4 <3132> Tj" is a PDF too.
        let shifted = json!({"messages": [{"role": "user", "content": [{"type": "file",
            "file": {"filename": "scan.pdf", "file_data": "CiVQREYtMS40IDwzMTMyPiBUag=="}}]}]});
        assert!(matches!(
            inspect(&shifted, usize::MAX),
            Err(InspectError::Unreadable { .. })
        ));
    }

    #[test]
    fn numbers_are_checked_by_their_digits_and_inexact_ones_refused() {
        // A card number spelled as a float, in a tool schema the provider renders into the prompt.
        let float = serde_json::from_str::<Value>(
            r#"{"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
                "properties": {"c": {"default": 4111111111111111.0, "enum": [4.111111111111111e15]}}}}}]}"#,
        )
        .expect("json");
        let checked = texts(&float);
        assert_eq!(
            checked.iter().filter(|t| *t == "4111111111111111").count(),
            2,
            "{checked:?}"
        );
        // Small numbers, integral or not, are no text.
        assert!(texts(&json!({"temperature": 0.7, "top_p": 1.0, "max_tokens": 100})).is_empty());
        // Past 2^53 a float no longer has the digits sent: refused, wherever it is.
        for spelled in ["41111111111111111234567", "9007199254740993.5", "-1e300"] {
            let body =
                serde_json::from_str::<Value>(&format!(r#"{{"metadata": {{"n": {spelled}}}}}"#))
                    .expect("json");
            match inspect(&body, usize::MAX) {
                Err(InspectError::Unreadable { pointer, .. }) => assert_eq!(pointer, "/metadata/n"),
                other => panic!("{spelled} must be refused: {other:?}"),
            }
        }
        // A 64-bit integer is exact, however long.
        assert_eq!(texts(&json!({"seed": u64::MAX})), [u64::MAX.to_string()]);
    }

    #[test]
    fn a_file_stored_with_the_provider_is_refused() {
        let stored = json!({"messages": [{"role": "user", "content": [{"type": "file",
            "file": {"file_id": "file-abc123"}}]}]});
        match inspect(&stored, usize::MAX) {
            Err(InspectError::Unreadable { pointer, .. }) => {
                assert_eq!(pointer, "/messages/0/content/0/file/file_id");
            }
            other => panic!("a stored file must be refused: {other:?}"),
        }
        // The same key elsewhere is an ordinary string.
        let elsewhere = json!({"messages": [{"role": "user", "content": "hi"}],
            "metadata": {"file_id": "file-abc123"}});
        assert!(texts(&elsewhere).contains(&"file-abc123".to_owned()));
    }

    #[test]
    fn text_past_the_limit_is_refused() {
        let body = json!({"messages": [{"role": "user", "content": "abcd"}, {"role": "user", "content": "efgh"}]});
        assert_eq!(texts(&body).len(), 2);
        let cost = |text: &str| {
            text.len()
                + STRING_COST
                + seg_bytes(&Seg::Key("messages".to_owned()))
                + seg_bytes(&Seg::Index(0))
                + seg_bytes(&Seg::Key("content".to_owned()))
        };
        let needed = cost("abcd") + cost("efgh");
        assert_eq!(inspect(&body, needed - 1), Err(InspectError::TooLarge));
        assert!(inspect(&body, needed).is_ok());
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
