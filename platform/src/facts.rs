//! The facts of a request as dynamic policies read them, gathered the same way by both services:
//! the end user (from the user token's claims or the context), context fields flattened, the UTC
//! weekday, and the token estimate of a text.
//!
//! A user token's claims are read without verifying its signature: the calling application is
//! authenticated and vouches for its users; the claims only select which policies apply.

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Datelike, Utc};
use serde_json::{Map, Value};

use crate::internal_call::EndUser;

/// Most context fields a request's facts hold, longest dotted key, and most bytes of keys and
/// values together: flattening copies each leaf's whole path, so it is bounded.
pub const MAX_CONTEXT_FIELDS: usize = 1000;
pub const MAX_CONTEXT_KEY_BYTES: usize = 256;
pub const MAX_CONTEXT_BYTES: usize = 128 * 1024;

/// Why a context cannot be read as facts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "context holds more than {MAX_CONTEXT_FIELDS} fields, a key path longer than {MAX_CONTEXT_KEY_BYTES} bytes, \
     or more than {MAX_CONTEXT_BYTES} bytes of keys and values"
)]
pub struct ContextTooLarge;

/// Context fields as conditions read them (`context.<key>`): scalars as text, nested objects with
/// dotted keys, lists as JSON. Bounded by the `MAX_CONTEXT_*` limits.
pub fn flatten_context(
    context: &Map<String, Value>,
) -> Result<HashMap<String, String>, ContextTooLarge> {
    fn walk(
        prefix: &str,
        value: &Value,
        out: &mut HashMap<String, String>,
        bytes: &mut usize,
    ) -> Result<(), ContextTooLarge> {
        if prefix.len() > MAX_CONTEXT_KEY_BYTES {
            return Err(ContextTooLarge);
        }
        let text = match value {
            Value::Object(members) => {
                for (key, member) in members {
                    walk(&format!("{prefix}.{key}"), member, out, bytes)?;
                }
                return Ok(());
            }
            Value::Null => return Ok(()),
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        *bytes += prefix.len() + text.len();
        if out.len() >= MAX_CONTEXT_FIELDS || *bytes > MAX_CONTEXT_BYTES {
            return Err(ContextTooLarge);
        }
        out.insert(prefix.to_owned(), text);
        Ok(())
    }
    let mut out = HashMap::new();
    let mut bytes = 0;
    for (key, value) in context {
        walk(key, value, &mut out, &mut bytes)?;
    }
    Ok(out)
}

/// Longest workflow id budgets and audit rows key on; a longer one is not a workflow id.
pub const MAX_WORKFLOW_ID_BYTES: usize = 256;

/// The request's workflow (`context.workflow_id`), when it is a non-empty text of at most
/// [`MAX_WORKFLOW_ID_BYTES`]: kept whole, never cut, so a budget's id matches exactly.
pub fn workflow_id(value: Option<&str>) -> Option<String> {
    value
        .filter(|id| !id.is_empty() && id.len() <= MAX_WORKFLOW_ID_BYTES)
        .map(str::to_owned)
}

/// `monday` ... `sunday`, in UTC.
pub fn weekday_name(at: DateTime<Utc>) -> &'static str {
    match at.weekday() {
        chrono::Weekday::Mon => "monday",
        chrono::Weekday::Tue => "tuesday",
        chrono::Weekday::Wed => "wednesday",
        chrono::Weekday::Thu => "thursday",
        chrono::Weekday::Fri => "friday",
        chrono::Weekday::Sat => "saturday",
        chrono::Weekday::Sun => "sunday",
    }
}

/// The facts of one request, owned, so that evaluation can run on the CPU pool.
#[derive(Debug, Clone, Default)]
pub struct OwnedFacts {
    pub query: String,
    pub user: EndUser,
    pub request_type: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub estimated_tokens: u64,
    pub estimated_cost_usd: f64,
    pub at: DateTime<Utc>,
    pub context: HashMap<String, String>,
}

impl OwnedFacts {
    pub fn as_facts(&self) -> axonflow_policy::Facts<'_> {
        use chrono::Timelike;
        axonflow_policy::Facts {
            query: &self.query,
            user_id: self.user.id.as_deref(),
            user_email: self.user.email.as_deref(),
            user_role: self.user.role.as_deref(),
            request_type: self.request_type.as_deref(),
            model: self.model.as_deref(),
            provider: self.provider.as_deref(),
            estimated_tokens: self.estimated_tokens,
            estimated_cost_usd: self.estimated_cost_usd,
            hour: self.at.hour(),
            weekday: weekday_name(self.at),
            context: Some(&self.context),
        }
    }
}

/// About four bytes of text per token.
pub fn estimate_tokens(text_bytes: usize) -> u64 {
    (text_bytes as u64).div_ceil(4)
}

/// The claims of a JWT-shaped token (`header.payload.signature`), unverified; `None` otherwise.
fn jwt_claims(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.trim().split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || payload.len() > 16 * 1024 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

fn text(map: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|key| map.get(*key))
        .and_then(|value| match value {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Array(items) => items.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        })
}

/// The end user: `context.user{id,email,role}` or `context.user_id` / `user_email` / `user_role`
/// first, then the user token's claims (`sub`/`user_id`, `email`, `role`/`roles`).
pub fn end_user(user_token: Option<&str>, context: &Map<String, Value>) -> EndUser {
    let nested = context.get("user").and_then(Value::as_object);
    let from_context = |nested_key: &str, flat: &str| {
        nested
            .and_then(|user| text(user, &[nested_key]))
            .or_else(|| text(context, &[flat]))
    };
    let claims = user_token.and_then(jwt_claims).unwrap_or_default();
    EndUser {
        id: from_context("id", "user_id").or_else(|| text(&claims, &["sub", "user_id", "uid"])),
        email: from_context("email", "user_email").or_else(|| text(&claims, &["email"])),
        role: from_context("role", "user_role").or_else(|| text(&claims, &["role", "roles"])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn users_come_from_the_context_then_the_token() {
        // {"sub":"u-42","email":"jane@example.com","roles":["analyst"]}
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"sub":"u-42","email":"jane@example.com","roles":["analyst"]}"#);
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln");
        let user = end_user(Some(&token), &Map::new());
        assert_eq!(user.id.as_deref(), Some("u-42"));
        assert_eq!(user.email.as_deref(), Some("jane@example.com"));
        assert_eq!(user.role.as_deref(), Some("analyst"));
        let context = object(json!({"user": {"role": "contractor"}, "user_id": "u-7"}));
        let user = end_user(Some(&token), &context);
        assert_eq!(user.role.as_deref(), Some("contractor"));
        assert_eq!(user.id.as_deref(), Some("u-7"));
        assert_eq!(
            end_user(Some("opaque-token"), &Map::new()),
            EndUser::default()
        );
    }

    #[test]
    fn workflow_ids_are_whole_or_absent() {
        assert_eq!(workflow_id(Some("wf-1")).as_deref(), Some("wf-1"));
        assert_eq!(workflow_id(Some("")), None);
        assert_eq!(workflow_id(None), None);
        let longest = "w".repeat(MAX_WORKFLOW_ID_BYTES);
        assert_eq!(workflow_id(Some(&longest)), Some(longest.clone()));
        assert_eq!(workflow_id(Some(&format!("{longest}x"))), None);
    }

    #[test]
    fn context_is_flattened() {
        let flat = flatten_context(&object(
            json!({"department": "finance", "risk": {"score": 0.9},
            "tags": ["a"], "none": null}),
        ))
        .expect("small");
        assert_eq!(flat["department"], "finance");
        assert_eq!(flat["risk.score"], "0.9");
        assert_eq!(flat["tags"], r#"["a"]"#);
        assert!(!flat.contains_key("none"));
        assert_eq!(estimate_tokens(9), 3);
        // A long key over many leaves would copy its path into each: refused.
        let members: Map<String, Value> = (0..2000).map(|i| (format!("k{i}"), json!(0))).collect();
        let wide = object(json!({"k".repeat(200): Value::Object(members)}));
        assert_eq!(flatten_context(&wide), Err(ContextTooLarge));
        let deep = object(json!({"k".repeat(300): 1}));
        assert_eq!(flatten_context(&deep), Err(ContextTooLarge));
    }
}
