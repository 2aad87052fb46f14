//! Output policies on `/v1/chat/completions` answers: the text of every choice's content, refusal
//! and tool-call arguments is evaluated with the tenant's policies. `AXONFLOW_OUTPUT_POLICIES=log`
//! (the default: the provider's answer is passed on unchanged) records the matches, `enforce` masks
//! what a `redact` policy matched and refuses the answer when a `block` policy matched, `off` skips
//! the evaluation. Non-streamed answers are checked here; `stream.rs` applies the same policies to
//! streams as they flow.

use std::sync::Arc;

use serde::Deserialize;
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
            // An answer's role is the assistant's: any other value, text the policies do not
            // read, is not passed on.
            ("role", _) => {
                kept.insert(field.clone(), Value::String("assistant".to_owned()));
            }
            ("content" | "refusal", Value::String(_) | Value::Null) => {
                kept.insert(field.clone(), value.clone());
            }
            ("content" | "refusal", _) => return None,
            ("tool_calls", Value::Array(calls)) => {
                let mut kept_calls = Vec::new();
                for call in calls {
                    let mut kept_call = Map::new();
                    for key in ["index", "id", "type"] {
                        if let Some(value) = call.get(key) {
                            // A type is a word (`function`); anything else is text no policy read.
                            if key == "type" && !value.as_str().is_some_and(is_word) {
                                continue;
                            }
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

/// A lowercase word of at most 32 bytes (`function`, `custom`).
fn is_word(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 32
        && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
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

/// What the output policies and the audit row read of a `chat.completion`: read straight into
/// these types rather than into a `serde_json::Value` (a map and a string per key), which cost the
/// answer's parse several times over. Only for answers passed on as received (`enforce` rewrites
/// the answer, so it needs the whole value), and only for the plain shape of an answer: a field
/// these types do not know, of another type, or given twice makes `read` give `None`, and the
/// caller reads the answer as a `Value`. What is read here is always what `passed_texts`, `model`
/// and `usage` of that value give.
#[derive(Debug, Deserialize)]
pub struct AnswerView {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<UsageView>,
    #[serde(default)]
    choices: Option<Vec<ChoiceView>>,
}

#[derive(Debug, Deserialize)]
struct UsageView {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
}

/// A choice as OpenAI answers it: log probabilities only when null.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChoiceView {
    #[serde(default, rename = "index")]
    _index: Option<u64>,
    #[serde(default)]
    message: Option<MessageView>,
    #[serde(default, rename = "finish_reason")]
    _finish_reason: Option<Name>,
    #[serde(default, rename = "logprobs")]
    _logprobs: Option<()>,
}

/// A message as OpenAI answers it: annotations only when empty, audio only when null.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageView {
    #[serde(default, rename = "role")]
    _role: Option<Name>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default, rename = "annotations")]
    _annotations: Option<[(); 0]>,
    #[serde(default, rename = "audio")]
    _audio: Option<()>,
    #[serde(default)]
    function_call: Option<CallView>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallView>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolCallView {
    #[serde(default, rename = "index")]
    _index: Option<u64>,
    #[serde(default, rename = "id")]
    _id: Option<Name>,
    #[serde(default, rename = "type")]
    _kind: Option<Name>,
    #[serde(default)]
    function: Option<CallView>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallView {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// A string that names a kind rather than says anything (`role`, `finish_reason`, `type`, ids), as
/// `passed_texts` reads it over: its type is checked, its value not kept.
#[derive(Debug)]
struct Name;

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Name, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Name;
            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Name, E> {
                Ok(Name)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Token counts of an answer's `usage` (0 when absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: u32,
    pub completion: u32,
    pub total: u32,
}

fn token_count(count: Option<u64>) -> u32 {
    count.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

impl AnswerView {
    /// The view of `body`, or `None` when it is not JSON or does not fit the view.
    pub fn read(body: &[u8]) -> Option<AnswerView> {
        serde_json::from_slice(body).ok()
    }

    /// `model` of the answer, when a string.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    pub fn tokens(&self) -> Tokens {
        let usage = self.usage.as_ref();
        Tokens {
            prompt: token_count(usage.and_then(|u| u.prompt_tokens)),
            completion: token_count(usage.and_then(|u| u.completion_tokens)),
            total: token_count(usage.and_then(|u| u.total_tokens)),
        }
    }

    /// The texts output policies read: those `passed_texts` finds (in another order).
    pub fn into_texts(self) -> Vec<String> {
        let mut texts = Vec::new();
        for message in self.choices.into_iter().flatten().filter_map(|c| c.message) {
            texts.extend(message.content);
            texts.extend(message.refusal);
            let calls = message.function_call.into_iter().chain(
                message
                    .tool_calls
                    .into_iter()
                    .flatten()
                    .filter_map(|call| call.function),
            );
            for call in calls {
                texts.extend(call.name);
                texts.extend(call.arguments);
            }
        }
        texts
    }
}

/// Token counts of an answer read as a `Value` (as `AnswerView::tokens`).
pub fn tokens_of(answer: &Value) -> Tokens {
    let count = |field: &str| {
        answer
            .get("usage")
            .and_then(|usage| usage.get(field))
            .and_then(Value::as_u64)
    };
    Tokens {
        prompt: token_count(count("prompt_tokens")),
        completion: token_count(count("completion_tokens")),
        total: token_count(count("total_tokens")),
    }
}

/// Whether a string of an answer under `key` (in an object under `parent`) is read over: the words
/// that name a kind rather than say anything (`role`, `finish_reason`, `type`, `object`, ids) and
/// audio data.
pub fn read_over(key: &str, parent: &str) -> bool {
    matches!(key, "role" | "finish_reason" | "type" | "object" | "id")
        || (key == "data" && parent == "audio")
}

/// The texts of an answer passed on as received (`log`, `off`): every string of its choices that
/// a client can read (content in parts, reasoning text, transcripts, citations, log
/// probabilities, function names...) but the values that name a kind rather than say anything
/// (`role`, `finish_reason`, `type`, `object`, ids) and audio data.
fn passed_texts(body: &Value) -> Vec<String> {
    fn walk(value: &Value, key: &str, parent: &str, out: &mut Vec<String>) {
        match value {
            Value::String(text) => {
                if !read_over(key, parent) {
                    out.push(text.clone());
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, key, parent, out);
                }
            }
            Value::Object(members) => {
                for (member, value) in members {
                    walk(value, member, key, out);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    let mut texts = Vec::new();
    if let Some(choices) = body.get("choices") {
        walk(choices, "choices", "", &mut texts);
    }
    texts
}

/// Pointers to the texts of a chat completion that output policies read while enforcing (of what
/// `allowed_answer` keeps).
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
        // A function's name is the model's text too.
        call_texts(
            message.get("function_call"),
            &format!("/choices/{choice_idx}/message/function_call"),
            &mut texts,
        );
        if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
            for (call_idx, call) in calls.iter().enumerate() {
                let pointer = format!("/choices/{choice_idx}/message/tool_calls/{call_idx}");
                // The id is the provider's text too, and the client sends it back.
                if let Some(id) = call.get("id").and_then(Value::as_str) {
                    texts.push((format!("{pointer}/id"), id.to_owned()));
                }
                call_texts(
                    call.get("function"),
                    &format!("{pointer}/function"),
                    &mut texts,
                );
            }
        }
    }
    texts
}

/// A function call's name and arguments, when they are text, under `pointer`.
fn call_texts(call: Option<&Value>, pointer: &str, texts: &mut Vec<(String, String)>) {
    for field in ["name", "arguments"] {
        if let Some(text) = call
            .and_then(|call| call.get(field))
            .and_then(Value::as_str)
        {
            texts.push((format!("{pointer}/{field}"), text.to_owned()));
        }
    }
}

/// The output check of an answer passed on as received (`log` or `off`), from its texts (an
/// `AnswerView`'s, or `answer_texts`'). `None` (the answer is refused) when asked to enforce:
/// enforcing needs the whole answer (`check_answer`).
pub async fn check_view(
    state: &AppState,
    tenant: &Arc<TenantPolicies>,
    mode: OutputPolicies,
    texts: Vec<String>,
) -> Option<Checked> {
    match mode {
        OutputPolicies::Off => return Some(Checked::default()),
        OutputPolicies::Enforce => return None,
        OutputPolicies::Log => {}
    }
    if texts.is_empty() {
        return Some(Checked::default());
    }
    let decisions = state.policies().evaluate_many(tenant, texts).await.ok()?;
    Some(Checked {
        matches: decisions.into_iter().flat_map(|d| d.matches).collect(),
        ..Checked::default()
    })
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
    if mode != OutputPolicies::Enforce {
        return check_view(state, tenant, mode, passed_texts(body)).await;
    }
    let mut checked = Checked::default();
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
        if let Some(masked) = decision.mask_where(text, |m| m.action == Action::Redact) {
            if let Some(slot) = body.pointer_mut(pointer) {
                *slot = Value::String(masked);
                checked.masked = true;
            }
        }
        checked.matches.extend(decision.matches);
    }
    if checked.matches.iter().any(|m| m.action == Action::Block) {
        checked.blocked = Some(block_reason(&checked.matches));
    }
    // Arguments are JSON, and so is content that opens as JSON (structured output): a `\u` escape
    // hides a character from the policies that the client's parser restores.
    let escaped = texts.iter().any(|(pointer, text)| {
        (pointer.ends_with("/arguments") || (pointer.ends_with("/content") && is_json_text(text)))
            && text.contains("\\u")
    });
    if escaped && checked.blocked.is_none() {
        checked.blocked = Some(JSON_ESCAPES.to_owned());
    }
    Some(checked)
}

/// Why an answer with JSON escapes is refused.
pub const JSON_ESCAPES: &str =
    "JSON text with \\u escapes (tool-call arguments or JSON content) cannot be checked";

/// Whether a client reads `text` as JSON: content that opens with `{` or `[` (structured output, an
/// answer asked to be JSON), as tool-call arguments always are.
pub fn is_json_text(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the `Value` path reads of an answer: its texts (sorted), token counts and model.
    fn read_whole(body: &str) -> Option<(Vec<String>, Tokens, Option<String>)> {
        let answer: Value = serde_json::from_str(body).ok()?;
        let mut texts = passed_texts(&answer);
        texts.sort();
        let model = answer
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Some((texts, tokens_of(&answer), model))
    }

    fn read_view(body: &str) -> Option<(Vec<String>, Tokens, Option<String>)> {
        let view = AnswerView::read(body.as_bytes())?;
        let (tokens, model) = (view.tokens(), view.model().map(str::to_owned));
        let mut texts = view.into_texts();
        texts.sort();
        Some((texts, tokens, model))
    }

    /// Answers of many shapes: the fields the view reads, each absent, null, of its type, of
    /// another type, and beside fields it does not read.
    fn answers() -> Vec<String> {
        let texts = [
            r#""plain text""#,
            r#""esc\"aped \u0041 \n""#,
            "null",
            "17",
            r#"["part"]"#,
            r#"{"type":"text"}"#,
        ];
        let mut calls = vec!["null".to_owned(), "[]".to_owned(), r#""x""#.to_owned()];
        for arguments in texts {
            calls.push(format!(r#"{{"name":"f","arguments":{arguments}}}"#));
        }
        let mut messages = vec![
            "null".to_owned(),
            r#""hello""#.to_owned(),
            "{}".to_owned(),
            r#"{"role":"assistant","audio":{"data":"AAAA"},"annotations":[]}"#.to_owned(),
        ];
        for content in texts {
            messages.push(format!(r#"{{"role":"assistant","content":{content}}}"#));
            messages.push(format!(
                r#"{{"role":"assistant","content":null,"refusal":{content}}}"#
            ));
        }
        for call in &calls {
            messages.push(format!(
                r#"{{"role":"assistant","content":"a","function_call":{call}}}"#
            ));
            messages.push(format!(
                r#"{{"role":"assistant","content":null,"tool_calls":[{{"id":"c1","type":"function","function":{call}}},{{"id":"c2","function":{{"arguments":"{{\"q\":1}}"}}}}]}}"#
            ));
        }
        messages.push(r#"{"role":"assistant","tool_calls":null}"#.to_owned());
        messages.push(r#"{"role":"assistant","tool_calls":{"function":{}}}"#.to_owned());
        messages.push(r#"{"role":"assistant","tool_calls":[null,{"function":null}]}"#.to_owned());
        messages.push(r#"{"content":"first","content":"second"}"#.to_owned());
        // Shapes beyond OpenAI's plain answer: read as a whole value.
        for beyond in [
            r#"{"role":"assistant","content":[{"type":"text","text":"in parts"}]}"#,
            r#"{"role":"assistant","content":"a","reasoning_content":"thought"}"#,
            r#"{"role":"assistant","content":"a","annotations":[{"type":"url_citation","url_citation":{"title":"t","url":"u"}}]}"#,
            r#"{"role":"assistant","tool_calls":[{"id":"c","type":"custom","custom":{"name":"g","input":"free text"}}]}"#,
            r#"{"role":{"said":"odd"},"content":"a"}"#,
            r#"{"role":"assistant","content":"a","audio":{"id":"a1","data":"AAAA","transcript":"spoken"}}"#,
        ] {
            messages.push(beyond.to_owned());
        }
        let mut choices_list = vec![
            "null".to_owned(),
            "[]".to_owned(),
            "{}".to_owned(),
            r#"[null]"#.to_owned(),
            r#"[{"index":0,"text":"legacy"}]"#.to_owned(),
        ];
        for message in &messages {
            choices_list.push(format!(
                r#"[{{"index":0,"message":{message},"logprobs":null,"finish_reason":"stop"}}]"#
            ));
        }
        choices_list.push(format!(
            r#"[{{"message":{}}},{{"message":{}}}]"#,
            messages[4], messages[5]
        ));
        choices_list.push(
            r#"[{"index":0,"message":{"content":"a"},"logprobs":{"content":[{"token":"a","logprob":0.0}]}}]"#
                .to_owned(),
        );
        choices_list.push(r#"[{"index":"0","message":{"content":"a"}}]"#.to_owned());
        choices_list.push(r#"[{"message":{"content":"a"},"finish_reason":{"x":"y"}}]"#.to_owned());
        // Token counts and models of the view's types, then of others.
        let usages = [
            None,
            Some("null"),
            Some(r#"{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}"#),
            Some(r#"{"prompt_tokens":99999999999,"total_tokens":null,"details":{"x":1}}"#),
            Some("5"),
            Some(r#"{"prompt_tokens":12.0,"completion_tokens":-3}"#),
            Some(r#"{"prompt_tokens":"12"}"#),
            Some(r#"{"prompt_tokens":1,"prompt_tokens":2}"#),
        ];
        let models = [None, Some("null"), Some(r#""gpt-4o-mini""#), Some("4")];
        let mut answers = Vec::new();
        for (i, choices) in choices_list.iter().enumerate() {
            let usage = usages[i % 4];
            let model = models[i % 3];
            let mut fields = vec![r#""id":"chatcmpl-1","object":"chat.completion""#.to_owned()];
            fields.extend(model.map(|m| format!(r#""model":{m}"#)));
            fields.extend(usage.map(|u| format!(r#""usage":{u}"#)));
            fields.push(format!(r#""choices":{choices}"#));
            answers.push(format!("{{{}}}", fields.join(",")));
        }
        for usage in usages.iter().flatten() {
            for model in models.iter().flatten() {
                answers.push(format!(
                    r#"{{"model":{model},"usage":{usage},"choices":{}}}"#,
                    choices_list[6]
                ));
            }
        }
        answers.push(r#"{"model":"a","model":"b","choices":[]}"#.to_owned());
        answers.push(r#"[{"model":"a"}]"#.to_owned());
        answers.push(r#"{"model":"a"} trailing"#.to_owned());
        answers.push("not json".to_owned());
        answers.push(String::new());
        answers
    }

    #[test]
    fn the_view_reads_what_the_whole_answer_gives() {
        let answers = answers();
        let mut viewed = 0;
        for answer in &answers {
            if let Some(view) = read_view(answer) {
                viewed += 1;
                assert_eq!(Some(view), read_whole(answer), "{answer}");
            }
        }
        // Both kinds are many: answers the view reads, and answers left to the whole value.
        assert!(viewed >= 20, "{viewed} of {}", answers.len());
        assert!(
            answers.len() - viewed >= 20,
            "{viewed} of {}",
            answers.len()
        );
    }

    /// Every text of an answer that a client's SDK shows (as a field or an extra attribute) is
    /// read when the answer is passed on as received; the words that only name a kind are not.
    #[test]
    fn every_text_a_client_can_read_is_checked_when_passed_on() {
        let answer = r#"{"id":"chatcmpl-1","object":"chat.completion","model":"m","choices":[
            {"index":0,"finish_reason":"stop","message":{"role":"assistant",
                "content":[{"type":"text","text":"T1"}],"reasoning_content":"T2","reasoning":"T3",
                "audio":{"id":"audio_1","data":"QUFBQQ==","transcript":"T4"},
                "annotations":[{"type":"url_citation","url_citation":{"title":"T5","url":"T6"}}],
                "tool_calls":[{"id":"call_1","type":"custom","custom":{"name":"T7","input":"T8"}},
                              {"id":"call_2","type":"function","function":{"name":"T9","arguments":"T10"}}]},
             "logprobs":{"content":[{"token":"T11","logprob":-0.1,"bytes":[84]}]}},
            {"index":1,"text":"T12"}]}"#;
        assert!(read_view(answer).is_none(), "not the plain shape");
        let (texts, _, _) = read_whole(answer).expect("json");
        let mut expected: Vec<String> = (1..=12).map(|n| format!("T{n}")).collect();
        expected.sort();
        assert_eq!(texts, expected);
    }

    #[test]
    fn a_plain_completion_is_read_by_the_view() {
        let answer = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18",
            "choices":[{"index":0,"message":{"role":"assistant","content":"Hi \"there\"","refusal":null,
            "tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
            "logprobs":null,"finish_reason":"stop"}],
            "usage":{"prompt_tokens":312,"completion_tokens":41,"total_tokens":353,
            "prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":"fp"}"#;
        let (texts, tokens, model) = read_view(answer).expect("a plain completion fits the view");
        assert_eq!(
            texts,
            vec![
                r#"Hi "there""#.to_owned(),
                r#"f"#.to_owned(),
                r#"{"a":1}"#.to_owned()
            ]
        );
        assert_eq!(
            tokens,
            Tokens {
                prompt: 312,
                completion: 41,
                total: 353
            }
        );
        assert_eq!(model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
        assert_eq!(Some((texts, tokens, model)), read_whole(answer));
    }
}
