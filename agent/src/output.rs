//! Output policies on `/v1/chat/completions` answers: the text of every choice's content, refusal
//! and tool-call arguments is evaluated with the tenant's policies. `AXONFLOW_OUTPUT_POLICIES=log`
//! (the default: the provider's answer is passed on unchanged) records the matches, `enforce` masks
//! what a `redact` policy matched and refuses the answer when a `block` policy matched, `off` skips
//! the evaluation. Non-streamed answers are checked here; `stream.rs` applies the same policies to
//! streams as they flow.

use std::sync::Arc;

use serde_json::{Map, Value};

use axonflow_platform::config::OutputPolicies;
use axonflow_platform::policy_store::TenantPolicies;
use axonflow_policy::{Action, Match};

use crate::decisions;
use crate::state::AppState;

/// What the output policies made of one answer.
#[derive(Debug, Default)]
pub struct Checked {
    /// Every match, masked previews only.
    pub matches: Vec<Match>,
    /// Enforcing, a `block` policy matched: why.
    pub blocked: Option<String>,
    /// Enforcing, a value was masked in the answer.
    pub masked: bool,
    /// Enforcing, the answer was cut to what the policies read (`allowed_answer`): it is sent as
    /// checked, not as received.
    pub rewritten: bool,
    /// Enforcing, answer text came in a form the policies cannot read: the answer is refused.
    pub unreadable: bool,
}

impl Checked {
    /// `metadata.output_matches` of the audit row.
    pub fn matches_json(&self) -> Value {
        Value::Array(
            self.matches
                .iter()
                .take(decisions::MAX_RECORDED_MATCHES)
                .map(|m| decisions::match_json(m, None))
                .collect(),
        )
    }
}

/// The reason a block names: each blocking policy once.
pub fn block_reason(matches: &[Match]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for found in matches.iter().filter(|m| m.action == Action::Block) {
        if !names.contains(&&*found.policy_name) {
            names.push(&found.policy_name);
        }
    }
    if names.is_empty() {
        return "policy violation in the answer".to_owned();
    }
    names
        .iter()
        .map(|name| format!("{name} detected in the answer"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Request fields whose answer the output policies cannot read, refused while enforcing.
pub fn unreadable_request_field(request: &Value) -> Option<&'static str> {
    if request.get("logprobs") == Some(&Value::Bool(true)) {
        return Some("logprobs");
    }
    if request
        .get("top_logprobs")
        .is_some_and(|n| !n.is_null() && n.as_u64() != Some(0))
    {
        return Some("top_logprobs");
    }
    if request.get("audio").is_some_and(|a| !a.is_null()) {
        return Some("audio");
    }
    let audio_out = request
        .get("modalities")
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().any(|m| m == "audio"));
    audio_out.then_some("modalities")
}

/// Top-level fields of a completion, or of a chunk of one, that carry no answer text.
pub const PLAIN_FIELDS: [&str; 7] = [
    "id",
    "object",
    "created",
    "model",
    "system_fingerprint",
    "service_tier",
    "usage",
];

/// What of a message (a whole one, or a stream's delta) the client may get while enforcing: the
/// role, content and refusal as text, tool calls and function calls with text arguments. `None`
/// when answer text comes in a form the policies cannot read (content as an array, arguments as an
/// object); anything else (audio, reasoning text, fields not known here) stays behind.
pub fn allowed_message(message: &Map<String, Value>) -> Option<Map<String, Value>> {
    let mut kept = Map::new();
    for (field, value) in message {
        match (field.as_str(), value) {
            ("role", _) | ("content" | "refusal", Value::String(_) | Value::Null) => {
                kept.insert(field.clone(), value.clone());
            }
            ("content" | "refusal", _) => return None,
            ("tool_calls", Value::Array(calls)) => {
                let mut kept_calls = Vec::new();
                for call in calls {
                    let mut kept_call = Map::new();
                    for key in ["index", "id", "type"] {
                        if let Some(value) = call.get(key) {
                            kept_call.insert(key.to_owned(), value.clone());
                        }
                    }
                    if let Some(function) = call.get("function") {
                        kept_call.insert("function".to_owned(), allowed_call(function)?);
                    }
                    kept_calls.push(Value::Object(kept_call));
                }
                kept.insert(field.clone(), Value::Array(kept_calls));
            }
            ("function_call", Value::Object(_)) => {
                kept.insert(field.clone(), allowed_call(value)?);
            }
            _ => {}
        }
    }
    Some(kept)
}

/// A function call's name and its arguments as text; `None` when the arguments are not text.
fn allowed_call(call: &Value) -> Option<Value> {
    let arguments = call.get("arguments");
    if arguments.is_some_and(|a| !a.is_string() && !a.is_null()) {
        return None;
    }
    let mut kept = Map::new();
    for key in ["name", "arguments"] {
        if let Some(value) = call.get(key) {
            kept.insert(key.to_owned(), value.clone());
        }
    }
    Some(Value::Object(kept))
}

/// What of a completion, or of a chunk of one, reaches the client while enforcing: the plain
/// top-level fields and, per choice, its index, finish reason, `logprobs` null and what `body`
/// keeps of it (a field name and its value, or nothing). `None` when the completion is no JSON
/// object or `body` finds text the policies cannot read.
pub fn allowed_completion(
    completion: Value,
    body: impl Fn(&Value) -> Option<Option<(&'static str, Value)>>,
) -> Option<Value> {
    let Value::Object(mut completion) = completion else {
        return None;
    };
    let mut kept = Map::new();
    for field in PLAIN_FIELDS {
        if let Some(value) = completion.remove(field) {
            kept.insert(field.to_owned(), value);
        }
    }
    let Some(choices) = completion.remove("choices") else {
        return Some(Value::Object(kept));
    };
    let mut kept_choices = Vec::new();
    for choice in choices.as_array()? {
        let mut kept_choice = Map::new();
        kept_choice.insert(
            "index".to_owned(),
            choice.get("index").cloned().unwrap_or(Value::from(0)),
        );
        kept_choice.insert("logprobs".to_owned(), Value::Null);
        kept_choice.insert(
            "finish_reason".to_owned(),
            choice.get("finish_reason").cloned().unwrap_or(Value::Null),
        );
        if let Some((field, value)) = body(choice)? {
            kept_choice.insert(field.to_owned(), value);
        }
        kept_choices.push(Value::Object(kept_choice));
    }
    kept.insert("choices".to_owned(), Value::Array(kept_choices));
    Some(Value::Object(kept))
}

/// Enforcing, what of a non-streamed answer reaches the client (`allowed_completion` with each
/// choice's `allowed_message`). `None` also for legacy `text` choices and content as an array.
pub fn allowed_answer(answer: Value) -> Option<Value> {
    allowed_completion(answer, |choice| {
        let choice = choice.as_object()?;
        if choice.contains_key("text") || choice.contains_key("delta") {
            return None;
        }
        match choice.get("message") {
            None | Some(Value::Null) => Some(None),
            Some(Value::Object(message)) => {
                Some(Some(("message", Value::Object(allowed_message(message)?))))
            }
            Some(_) => None,
        }
    })
}

/// Pointers to the texts of a chat completion that output policies read.
fn answer_texts(body: &Value) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    let Some(choices) = body.get("choices").and_then(Value::as_array) else {
        return texts;
    };
    for (choice_idx, choice) in choices.iter().enumerate() {
        let Some(message) = choice.get("message") else {
            continue;
        };
        for field in ["content", "refusal"] {
            if let Some(text) = message.get(field).and_then(Value::as_str) {
                texts.push((
                    format!("/choices/{choice_idx}/message/{field}"),
                    text.to_owned(),
                ));
            }
        }
        if let Some(arguments) = message
            .pointer("/function_call/arguments")
            .and_then(Value::as_str)
        {
            texts.push((
                format!("/choices/{choice_idx}/message/function_call/arguments"),
                arguments.to_owned(),
            ));
        }
        if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
            for (call_idx, call) in calls.iter().enumerate() {
                if let Some(arguments) = call.pointer("/function/arguments").and_then(Value::as_str)
                {
                    texts.push((
                        format!("/choices/{choice_idx}/message/tool_calls/{call_idx}/function/arguments"),
                        arguments.to_owned(),
                    ));
                }
            }
        }
    }
    texts
}

/// Evaluates the answer `body` (a `chat.completion`) and, when enforcing, masks it in place.
/// `None` when the evaluation could not run (the caller refuses the answer rather than pass it
/// unchecked under `enforce`).
pub async fn check_answer(
    state: &AppState,
    tenant: &Arc<TenantPolicies>,
    mode: OutputPolicies,
    body: &mut Value,
) -> Option<Checked> {
    if mode == OutputPolicies::Off {
        return Some(Checked::default());
    }
    let mut checked = Checked::default();
    if mode == OutputPolicies::Enforce {
        // Enforcing, nothing beside the checked texts repeats the answer: token log probabilities,
        // audio transcripts, reasoning text and fields not known here stay behind.
        match allowed_answer(std::mem::take(body)) {
            Some(kept) => {
                *body = kept;
                checked.rewritten = true;
            }
            None => {
                checked.unreadable = true;
                return Some(checked);
            }
        }
    }
    let texts = answer_texts(body);
    if texts.is_empty() {
        return Some(checked);
    }
    let decisions = state
        .policies()
        .evaluate_many(tenant, texts.iter().map(|(_, text)| text.clone()).collect())
        .await
        .ok()?;
    for ((pointer, text), decision) in texts.iter().zip(decisions) {
        if mode == OutputPolicies::Enforce {
            if let Some(masked) = decision.mask_where(text, |m| m.action == Action::Redact) {
                if let Some(slot) = body.pointer_mut(pointer) {
                    *slot = Value::String(masked);
                    checked.masked = true;
                }
            }
        }
        checked.matches.extend(decision.matches);
    }
    if mode == OutputPolicies::Enforce && checked.matches.iter().any(|m| m.action == Action::Block)
    {
        checked.blocked = Some(block_reason(&checked.matches));
    }
    // Arguments are JSON: a `\u` escape hides a character from the policies that the client's
    // parser restores.
    let escaped = texts
        .iter()
        .any(|(pointer, text)| pointer.ends_with("/arguments") && text.contains("\\u"));
    if mode == OutputPolicies::Enforce && escaped && checked.blocked.is_none() {
        checked.blocked = Some("tool-call arguments with \\u escapes cannot be checked".to_owned());
    }
    Some(checked)
}
