//! `stream: true` on `/v1/chat/completions`: the upstream event stream is read as it arrives
//! (`axonflow_providers::sse`), the text of every choice's content, refusal and tool-call argument
//! deltas goes through the output policies as one growing text per choice and tool call
//! (`axonflow_policy::stream`), and each event is forwarded as soon as the policies allow. Nothing
//! is buffered whole: what is held per text is bounded (twice `stream::MAX_HOLD_BYTES`), and a client
//! that reads slowly slows the upstream read through a small bounded channel.
//!
//! The stream ends with `[DONE]` however it ends; the gateway's own endings carry an OpenAI-shaped
//! error event first (policy block, upstream broken off or silent). One audit row is written when
//! it ends (also when the client leaves), with tokens (the provider's usage, else counted from the
//! text), time to first token, how it ended and the output matches.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use axonflow_platform::audit::AuditRecord;
use axonflow_platform::config::OutputPolicies;
use axonflow_platform::facts::estimate_tokens;
use axonflow_platform::http::inflight::InFlightSlot;
use axonflow_platform::policy_store::TenantPolicies;
use axonflow_policy::stream::{HeldText, OutputMode, Step};
use axonflow_policy::{Action, Match, Verdict};
use axonflow_providers::sse::{SseEvent, SseReader};

use crate::auth::Caller;
use crate::decisions;
use crate::output;
use crate::ratelimit;
use crate::state::AppState;

/// Events queued for a client that reads slowly; past it the upstream read waits.
const CLIENT_QUEUE: usize = 16;
/// The largest single upstream event.
const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// How a stream ended, as the audit row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Completed,
    Blocked,
    ClientDisconnected,
    UpstreamError,
    UpstreamTimeout,
}

impl Ending {
    fn as_str(self) -> &'static str {
        match self {
            Ending::Completed => "completed",
            Ending::Blocked => "blocked",
            Ending::ClientDisconnected => "client_disconnected",
            Ending::UpstreamError => "upstream_error",
            Ending::UpstreamTimeout => "upstream_timeout",
        }
    }
}

/// Everything the stream's audit row and output policies need, gathered before the upstream call.
pub struct StreamCall {
    pub state: AppState,
    pub tenant: Arc<TenantPolicies>,
    pub caller: Caller,
    pub started: Instant,
    /// The row as decided before the call (verdict, policies, metadata).
    pub record: AuditRecord,
    /// Whether the client asked for the usage chunk itself.
    pub client_wants_usage: bool,
    /// Tokens of the prompt, estimated from its text (used when the provider sends no usage).
    pub prompt_estimate: u32,
    /// Who is called: the provider name and type the row names, the model priced.
    pub provider: String,
    pub provider_type: &'static str,
    pub priced_model: String,
    pub slot: Option<InFlightSlot>,
}

/// The client's request with `stream_options.include_usage` set, so that usage can be audited;
/// whether the client asked for it itself.
pub fn with_usage_requested(body: &Bytes) -> Option<(Value, bool)> {
    let mut json: Value = serde_json::from_slice(body).ok()?;
    let asked = json
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    if !asked {
        match json
            .get_mut("stream_options")
            .and_then(Value::as_object_mut)
        {
            Some(options) => {
                options.insert("include_usage".to_owned(), Value::Bool(true));
            }
            None => json["stream_options"] = json!({"include_usage": true}),
        }
    }
    Some((json, asked))
}

/// Which text of a choice a delta extends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Channel {
    Content,
    Refusal,
    ToolArguments(u64),
    /// The legacy `function_call.arguments`.
    FunctionArguments,
    /// Logging, any other text of a delta (reasoning text, a transcript, content in parts, a
    /// function's name), by a hash of its place in the choice: recorded, passed on as received.
    Passed(u64),
}

/// The running state of one stream.
struct Pump {
    mode: OutputPolicies,
    held: HashMap<(u64, Channel), HeldText>,
    found: Vec<Match>,
    usage: Option<(u32, u32, u32)>,
    client_wants_usage: bool,
    /// Bytes of answer text received (for the token estimate).
    text_bytes: usize,
    first_token: Option<Instant>,
    response_model: Option<String>,
    /// `id`, `object`, `created`, `model` of the stream's chunks, for a chunk the gateway writes.
    template: Option<Value>,
    /// JSON texts (arguments, JSON content) whose last piece ended in a backslash (an escape may
    /// continue).
    ends_in_backslash: std::collections::HashSet<(u64, Channel)>,
    /// Enforcing, JSON text came with `\u` escapes: the stream was ended for it.
    escaped_json: bool,
    /// Enforcing, whether each content text opens as JSON (once its first byte that is not white
    /// space has come).
    json_content: HashMap<(u64, Channel), bool>,
}

/// Appends a text's released rest to a delta: to its content or refusal, or as a tool call's
/// arguments.
fn add_rest(delta: &mut serde_json::Map<String, Value>, channel: Channel, rest: String) {
    match channel {
        // Passed on as received: nothing of it was held back.
        Channel::Passed(_) => {}
        Channel::Content | Channel::Refusal => {
            let field = if channel == Channel::Content {
                "content"
            } else {
                "refusal"
            };
            let mut text = delta
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            text.push_str(&rest);
            delta.insert(field.to_owned(), Value::String(text));
        }
        Channel::FunctionArguments => {
            let call = delta.entry("function_call").or_insert_with(|| json!({}));
            let mut text = call
                .get("arguments")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            text.push_str(&rest);
            call["arguments"] = Value::String(text);
        }
        Channel::ToolArguments(call_index) => {
            let calls = delta
                .entry("tool_calls")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(calls) = calls.as_array_mut() {
                calls.push(json!({"index": call_index, "function": {"arguments": rest}}));
            }
        }
    }
}

/// The texts of a delta that the other channels do not follow, with a hash of each one's place
/// (a tool call's by its `index`): what a log-mode stream records of reasoning text, transcripts,
/// content in parts and function names. What `output::read_over` names is left out, as for answers
/// passed on whole.
fn passed_pieces(delta: &serde_json::Map<String, Value>) -> Vec<(u64, String)> {
    fn walk(value: &Value, place: &str, key: &str, parent: &str, out: &mut Vec<(u64, String)>) {
        match value {
            Value::String(text) => {
                let followed =
                    matches!(place, "/content" | "/refusal" | "/function_call/arguments")
                        || (place.starts_with("/tool_calls/")
                            && place.ends_with("/function/arguments"));
                if !followed && !output::read_over(key, parent) {
                    let mut hasher = std::collections::hash_map::DefaultHasher::new();
                    std::hash::Hash::hash(place, &mut hasher);
                    out.push((std::hash::Hasher::finish(&hasher), text.clone()));
                }
            }
            Value::Array(items) => {
                for (position, item) in items.iter().enumerate() {
                    let at = item
                        .get("index")
                        .and_then(Value::as_u64)
                        .map_or(position as u64, |index| index);
                    walk(item, &format!("{place}/{at}"), key, parent, out);
                }
            }
            Value::Object(members) => {
                for (member, value) in members {
                    walk(value, &format!("{place}/{member}"), member, key, out);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    let mut pieces = Vec::new();
    for (member, value) in delta {
        // Most deltas hold only a role and content: nothing to walk, no place to write.
        let plain =
            matches!(member.as_str(), "content" | "refusal") || output::read_over(member, "");
        if value.is_null() || (value.is_string() && plain) {
            continue;
        }
        walk(value, &format!("/{member}"), member, "", &mut pieces);
    }
    pieces
}

/// Keeps the fields of a chunk that carry no answer text or that the output policies read; `None`
/// when answer text comes in a form they cannot read (content as an array, say). `logprobs`, audio
/// and unknown fields are left out: they would repeat the text around the policies.
fn allowed_fields(chunk: Value) -> Option<Value> {
    output::allowed_completion(chunk, |choice| {
        let delta = match choice.get("delta").and_then(Value::as_object) {
            Some(delta) => output::allowed_message(delta)?,
            // A whole message or legacy text in a chunk: not a delta the policies follow.
            None if choice.get("message").is_some() || choice.get("text").is_some() => return None,
            None => serde_json::Map::new(),
        };
        Some(Some(("delta", Value::Object(delta))))
    })
}

/// What one upstream event means for the client.
enum Next {
    Continue,
    End(Ending),
}

fn sse(data: &str) -> Bytes {
    let mut event = String::with_capacity(data.len() + 8);
    event.push_str("data: ");
    event.push_str(data);
    event.push_str("\n\n");
    Bytes::from(event)
}

fn error_event(message: &str, kind: &str, code: &str) -> Bytes {
    sse(
        &json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
            .to_string(),
    )
}

const DONE: &str = "[DONE]";

impl Pump {
    fn output_mode(&self) -> OutputMode {
        match self.mode {
            OutputPolicies::Enforce => OutputMode::Enforce,
            _ => OutputMode::Record,
        }
    }

    /// One text's next piece (or its end) through the output policies: the text to send, or
    /// `None` when a block policy matched.
    fn step(
        &mut self,
        state: &AppState,
        tenant: &TenantPolicies,
        key: (u64, Channel),
        piece: Option<&str>,
    ) -> Option<String> {
        if self.mode == OutputPolicies::Off {
            return Some(piece.unwrap_or_default().to_owned());
        }
        // Arguments are JSON, and so is content that opens as JSON (decided by its first byte
        // that is not white space): a `\u` escape would hide a character from the policies that
        // the client's parser restores. Enforcing, such text ends the stream.
        let json = match key.1 {
            Channel::ToolArguments(_) | Channel::FunctionArguments => true,
            Channel::Content if self.mode == OutputPolicies::Enforce => {
                if let Some(first) = piece.and_then(|piece| piece.trim_start().bytes().next()) {
                    self.json_content
                        .entry(key)
                        .or_insert(matches!(first, b'{' | b'['));
                }
                self.json_content.get(&key).copied().unwrap_or(false)
            }
            _ => false,
        };
        if self.mode == OutputPolicies::Enforce && json {
            // An empty piece changes nothing: a backslash before it still joins the next piece.
            if let Some(piece) = piece.filter(|piece| !piece.is_empty()) {
                let after_backslash = self.ends_in_backslash.remove(&key);
                let escaped = piece.contains("\\u") || (after_backslash && piece.starts_with('u'));
                if piece.ends_with('\\') {
                    self.ends_in_backslash.insert(key);
                }
                if escaped {
                    self.escaped_json = true;
                    return None;
                }
            }
        }
        let mode = self.output_mode();
        let held = self.held.entry(key).or_insert_with(|| HeldText::new(mode));
        let evaluate = |text: &str| state.policies().evaluate(tenant, text);
        let step = match piece {
            Some(piece) => held.push(piece, evaluate),
            None => held.finish(evaluate),
        };
        match step {
            Step::Release { text, found } => {
                self.found.extend(found);
                Some(text)
            }
            Step::Block { found } => {
                self.found.extend(found);
                None
            }
        }
    }

    /// A stream that ended without its texts' end (an upstream error or timeout, a client that
    /// left): logging, the text held back for matches still open was passed on all the same, so
    /// those matches are recorded now. Enforcing, that text never went out.
    fn settle(&mut self, state: &AppState, tenant: &TenantPolicies) {
        if self.mode != OutputPolicies::Log {
            return;
        }
        let keys: Vec<(u64, Channel)> = self.held.keys().copied().collect();
        for key in keys {
            // Finishing a finished text reports nothing twice.
            let _ = self.step(state, tenant, key, None);
        }
    }

    /// Enforcing, the whole strings of a tool call at `pointers` (its id, its function's name: each
    /// comes in one piece) through the output policies: masked in place, or `false` when a block
    /// policy matched. Logging, they are recorded with the delta's other texts.
    fn named_fields(
        &mut self,
        state: &AppState,
        tenant: &TenantPolicies,
        call: &mut Value,
        pointers: &[&str],
    ) -> bool {
        if self.mode != OutputPolicies::Enforce {
            return true;
        }
        for pointer in pointers {
            let Some(slot) = call.pointer_mut(pointer) else {
                continue;
            };
            let Some(text) = slot.as_str() else {
                continue;
            };
            let decision = state.policies().evaluate(tenant, text);
            if decision.matches.is_empty() {
                continue;
            }
            let masked = decision.mask_where(text, |m| m.action == Action::Redact);
            let blocked = decision.matches.iter().any(|m| m.action == Action::Block);
            self.found.extend(decision.matches);
            if blocked {
                return false;
            }
            if let Some(masked) = masked {
                *slot = Value::String(masked);
            }
        }
        true
    }

    /// Reads one upstream event; returns what to send the client and whether the stream goes on.
    fn event(
        &mut self,
        state: &AppState,
        tenant: &TenantPolicies,
        event: SseEvent,
        out: &mut Vec<Bytes>,
    ) -> Next {
        if event.data.trim() == DONE {
            // Text still held (a provider that ends without a finish reason) goes out first.
            let keys: Vec<(u64, Channel)> = self.held.keys().copied().collect();
            let mut deltas: Vec<(u64, serde_json::Map<String, Value>)> = Vec::new();
            for (index, channel) in keys {
                let Some(rest) = self.step(state, tenant, (index, channel), None) else {
                    return self.blocked(out);
                };
                if rest.is_empty() {
                    continue;
                }
                let position = match deltas.iter().position(|(i, _)| *i == index) {
                    Some(position) => position,
                    None => {
                        deltas.push((index, serde_json::Map::new()));
                        deltas.len() - 1
                    }
                };
                add_rest(&mut deltas[position].1, channel, rest);
            }
            self.held.clear();
            if !deltas.is_empty() {
                let mut chunk = self.template.clone().unwrap_or_else(|| json!({}));
                chunk["choices"] = Value::Array(
                    deltas
                        .into_iter()
                        .map(|(index, delta)| json!({"index": index, "delta": delta, "finish_reason": null}))
                        .collect(),
                );
                out.push(sse(&chunk.to_string()));
            }
            out.push(sse(DONE));
            return Next::End(Ending::Completed);
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&event.data) else {
            // An event no policy could read is not passed on.
            out.push(error_event(
                "The upstream stream sent an event that is not JSON.",
                "upstream_error",
                "upstream_error",
            ));
            out.push(sse(DONE));
            return Next::End(Ending::UpstreamError);
        };
        if let Some(error) = chunk.get("error").filter(|error| error.is_object()) {
            // The upstream's error is passed on. Enforcing, nothing else of its event is: an SDK
            // reads the event's choices as the answer when the error object is empty.
            if self.mode == OutputPolicies::Enforce {
                out.push(sse(&json!({ "error": error }).to_string()));
            } else {
                out.push(sse(&event.data));
            }
            out.push(sse(DONE));
            return Next::End(Ending::UpstreamError);
        }
        let shaped = chunk.is_object()
            && chunk
                .get("choices")
                .is_none_or(|choices| choices.is_array());
        if !shaped {
            out.push(error_event(
                "The upstream stream sent an event that is not a completion chunk.",
                "upstream_error",
                "upstream_error",
            ));
            out.push(sse(DONE));
            return Next::End(Ending::UpstreamError);
        }
        // Enforcing, only the fields the policies read or that carry no answer text go out.
        let mut chunk = if self.mode == OutputPolicies::Enforce {
            match allowed_fields(chunk) {
                Some(chunk) => chunk,
                None => {
                    out.push(error_event(
                        "The upstream stream sent text in a form the output policies cannot read.",
                        "upstream_error",
                        "upstream_error",
                    ));
                    out.push(sse(DONE));
                    return Next::End(Ending::UpstreamError);
                }
            }
        } else {
            chunk
        };
        if let Some(model) = chunk.get("model").and_then(Value::as_str) {
            if self.response_model.is_none() {
                self.response_model = Some(model.to_owned());
            }
        }
        if self.template.is_none() {
            let mut template = serde_json::Map::new();
            for field in ["id", "object", "created", "model", "system_fingerprint"] {
                if let Some(value) = chunk.get(field) {
                    template.insert(field.to_owned(), value.clone());
                }
            }
            self.template = Some(Value::Object(template));
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            let count = |field: &str| {
                usage
                    .get(field)
                    .and_then(Value::as_u64)
                    .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
            };
            self.usage = Some((
                count("prompt_tokens"),
                count("completion_tokens"),
                count("total_tokens"),
            ));
        }
        let no_choices = chunk
            .get("choices")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if no_choices {
            // The usage-only chunk the gateway asked for is the client's only if it asked too.
            if chunk.get("usage").is_some() && !self.client_wants_usage {
                return Next::Continue;
            }
            out.push(sse(&chunk.to_string()));
            return Next::Continue;
        }
        if !self.client_wants_usage {
            if let Some(object) = chunk.as_object_mut() {
                object.remove("usage");
            }
        }
        let mut carries = false;
        let mut any_text = false;
        let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else {
            return Next::Continue;
        };
        for choice in choices.iter_mut() {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let finished = choice
                .get("finish_reason")
                .is_some_and(|reason| !reason.is_null());
            let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) else {
                carries |= finished;
                continue;
            };
            for (field, channel) in [("content", Channel::Content), ("refusal", Channel::Refusal)] {
                let Some(piece) = delta.get(field).and_then(Value::as_str).map(str::to_owned)
                else {
                    continue;
                };
                self.text_bytes += piece.len();
                let Some(mut released) = self.step(state, tenant, (index, channel), Some(&piece))
                else {
                    return self.blocked(out);
                };
                if finished {
                    match self.step(state, tenant, (index, channel), None) {
                        Some(rest) => released.push_str(&rest),
                        None => return self.blocked(out),
                    }
                }
                if released.is_empty() && !piece.is_empty() {
                    delta.remove(field);
                } else {
                    any_text |= !released.is_empty();
                    delta.insert(field.to_owned(), Value::String(released));
                }
            }
            if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
                for call in calls.iter_mut() {
                    if !self.named_fields(state, tenant, call, &["/id", "/function/name"]) {
                        return self.blocked(out);
                    }
                    let call_index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                    let channel = Channel::ToolArguments(call_index);
                    let Some(piece) = call
                        .pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                    else {
                        continue;
                    };
                    self.text_bytes += piece.len();
                    let Some(released) = self.step(state, tenant, (index, channel), Some(&piece))
                    else {
                        return self.blocked(out);
                    };
                    any_text |= !released.is_empty() || call.get("id").is_some();
                    if let Some(function) = call.get_mut("function").and_then(Value::as_object_mut)
                    {
                        function.insert("arguments".to_owned(), Value::String(released));
                    }
                }
            }
            if let Some(call) = delta.get_mut("function_call") {
                if !self.named_fields(state, tenant, call, &["/name"]) {
                    return self.blocked(out);
                }
            }
            if let Some(piece) = delta
                .get("function_call")
                .and_then(|call| call.get("arguments"))
                .and_then(Value::as_str)
                .map(str::to_owned)
            {
                self.text_bytes += piece.len();
                let Some(released) = self.step(
                    state,
                    tenant,
                    (index, Channel::FunctionArguments),
                    Some(&piece),
                ) else {
                    return self.blocked(out);
                };
                any_text |= !released.is_empty();
                if let Some(call) = delta
                    .get_mut("function_call")
                    .and_then(Value::as_object_mut)
                {
                    call.insert("arguments".to_owned(), Value::String(released));
                }
            }
            if self.mode == OutputPolicies::Log {
                for (place, piece) in passed_pieces(delta) {
                    self.text_bytes += piece.len();
                    // Recording never blocks; the text goes out as received.
                    let _ = self.step(state, tenant, (index, Channel::Passed(place)), Some(&piece));
                }
            }
            if finished {
                // What each text of the choice still holds goes out with its last event.
                let channels: Vec<Channel> = self
                    .held
                    .keys()
                    .filter(|(choice, _)| *choice == index)
                    .map(|(_, channel)| *channel)
                    .collect();
                for channel in channels {
                    let Some(rest) = self.step(state, tenant, (index, channel), None) else {
                        return self.blocked(out);
                    };
                    if rest.is_empty() {
                        continue;
                    }
                    any_text = true;
                    add_rest(delta, channel, rest);
                }
                self.held.retain(|(choice, _), _| *choice != index);
            }
            // Drop tool-call entries that carry nothing now.
            if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
                calls.retain(|call| {
                    call.get("id").is_some()
                        || call.get("type").is_some()
                        || call.pointer("/function/name").is_some()
                        || call
                            .pointer("/function/arguments")
                            .and_then(Value::as_str)
                            .is_some_and(|a| !a.is_empty())
                });
                if calls.is_empty() {
                    delta.remove("tool_calls");
                }
            }
            carries |= finished || !delta.is_empty();
        }
        if carries {
            if any_text && self.first_token.is_none() {
                self.first_token = Some(Instant::now());
            }
            out.push(sse(&chunk.to_string()));
        }
        Next::Continue
    }

    fn blocked(&mut self, out: &mut Vec<Bytes>) -> Next {
        let reason = if self.escaped_json {
            output::JSON_ESCAPES.to_owned()
        } else {
            output::block_reason(&self.found)
        };
        out.push(error_event(
            &format!("Response blocked by policy: {reason}"),
            "policy_violation",
            "policy_denied",
        ));
        out.push(sse(DONE));
        Next::End(Ending::Blocked)
    }
}

/// The event-stream response for an upstream that answered 2xx: forwards its events through the
/// output policies from a task that also writes the audit row when the stream ends.
pub fn respond(call: StreamCall, upstream: reqwest::Response) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(CLIENT_QUEUE);
    // Boxed: the pump's future is large, and the runtime moves a task's state several times.
    tokio::spawn(tracing::Instrument::in_current_span(Box::pin(pump(
        call, upstream, tx,
    ))));
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(bytes), rx))
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn pump(call: StreamCall, upstream: reqwest::Response, tx: mpsc::Sender<Bytes>) {
    let state = call.state.clone();
    let mut pump = Pump {
        mode: state.config().output_policies,
        held: HashMap::new(),
        found: Vec::new(),
        usage: None,
        client_wants_usage: call.client_wants_usage,
        text_bytes: 0,
        first_token: None,
        response_model: None,
        template: None,
        ends_in_backslash: std::collections::HashSet::new(),
        escaped_json: false,
        json_content: HashMap::new(),
    };
    // Whatever happens while reading (a bug included), the stream is audited once.
    let read = std::panic::AssertUnwindSafe(read(&state, &call.tenant, &mut pump, upstream, &tx));
    let ending = match futures_util::FutureExt::catch_unwind(read).await {
        Ok(ending) => ending,
        Err(_) => {
            tracing::error!("a stream's processing failed; it ends as an upstream error");
            let _ = tx.try_send(error_event(
                "The stream could not be processed.",
                "server_error",
                "internal_error",
            ));
            Ending::UpstreamError
        }
    };
    if !matches!(ending, Ending::Completed | Ending::Blocked) {
        pump.settle(&state, &call.tenant);
    }
    // The row is written before the client's body ends, so a graceful shutdown (which waits for
    // open responses, then drains the audit queue) cannot lose it.
    audit(call, pump, ending).await;
    drop(tx);
}

/// Sends `events` to the client; `false` when it has gone or stopped reading for `patience`.
async fn send_all(
    tx: &mpsc::Sender<Bytes>,
    events: &mut Vec<Bytes>,
    patience: std::time::Duration,
) -> bool {
    for event in events.drain(..) {
        match tokio::time::timeout(patience, tx.send(event)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return false,
        }
    }
    true
}

/// Reads the upstream stream to its end (or the client's), forwarding what the policies allow.
async fn read(
    state: &AppState,
    tenant: &TenantPolicies,
    pump: &mut Pump,
    mut upstream: reqwest::Response,
    tx: &mpsc::Sender<Bytes>,
) -> Ending {
    let idle = state.config().upstream_idle_timeout;
    let max_text = state.config().max_response_bytes;
    // The wire carries framing around the text: it may be several times longer.
    let max_wire = max_text.saturating_mul(8);
    let mut reader = SseReader::new(MAX_EVENT_BYTES.min(max_wire));
    let mut events = Vec::new();
    let mut out = Vec::new();
    let mut received = 0usize;
    let ending = 'read: loop {
        let chunk = tokio::select! {
            _ = tx.closed() => break 'read Ending::ClientDisconnected,
            chunk = tokio::time::timeout(idle, upstream.chunk()) => chunk,
        };
        let bytes = match chunk {
            Err(_) => {
                out.push(error_event(
                    &format!(
                        "The upstream stream sent nothing for {} ms.",
                        idle.as_millis()
                    ),
                    "upstream_error",
                    "upstream_timeout",
                ));
                out.push(sse(DONE));
                break Ending::UpstreamTimeout;
            }
            Ok(Err(error)) => {
                tracing::warn!(error = %error.without_url(), "upstream stream broke off");
                out.push(error_event(
                    "The upstream stream broke off.",
                    "upstream_error",
                    "upstream_error",
                ));
                out.push(sse(DONE));
                break Ending::UpstreamError;
            }
            Ok(Ok(None)) => {
                // The body ended without `[DONE]`: truncated.
                out.push(error_event(
                    "The upstream stream ended before it was complete.",
                    "upstream_error",
                    "upstream_error",
                ));
                out.push(sse(DONE));
                break Ending::UpstreamError;
            }
            Ok(Ok(Some(bytes))) => bytes,
        };
        received += bytes.len();
        if received > max_wire || pump.text_bytes > max_text {
            out.push(error_event(
                &format!("The upstream answer was longer than {max_text} bytes (AXONFLOW_MAX_RESPONSE_BYTES)."),
                "upstream_error",
                "upstream_response_too_large",
            ));
            out.push(sse(DONE));
            break Ending::UpstreamError;
        }
        if let Err(error) = reader.push(&bytes, &mut events) {
            out.push(error_event(
                &format!("The upstream stream is malformed: {error}."),
                "upstream_error",
                "upstream_error",
            ));
            out.push(sse(DONE));
            break Ending::UpstreamError;
        }
        for event in events.drain(..) {
            if let Next::End(ending) = pump.event(state, tenant, event, &mut out) {
                break 'read ending;
            }
        }
        if !send_all(tx, &mut out, idle).await {
            break Ending::ClientDisconnected;
        }
    };
    // The upstream connection closes here, before the last events and the audit row.
    drop(upstream);
    if ending == Ending::ClientDisconnected || send_all(tx, &mut out, idle).await {
        ending
    } else {
        Ending::ClientDisconnected
    }
}

async fn audit(call: StreamCall, pump: Pump, ending: Ending) {
    let StreamCall {
        state,
        caller,
        started,
        mut record,
        prompt_estimate,
        provider,
        provider_type,
        priced_model,
        slot,
        ..
    } = call;
    let estimated = pump.usage.is_none();
    let (prompt_tokens, completion_tokens, total_tokens) = pump.usage.unwrap_or_else(|| {
        let completion = u32::try_from(estimate_tokens(pump.text_bytes)).unwrap_or(u32::MAX);
        (
            prompt_estimate,
            completion,
            prompt_estimate.saturating_add(completion),
        )
    });
    let total_tokens = if total_tokens == 0 {
        prompt_tokens.saturating_add(completion_tokens)
    } else {
        total_tokens
    };
    let cost = state.pricing().estimate(
        provider_type,
        &priced_model,
        u64::from(prompt_tokens),
        u64::from(completion_tokens),
    );
    let metadata = &mut record.metadata;
    metadata["stream"] = json!(true);
    metadata["stream_end"] = json!(ending.as_str());
    metadata["ttft_ms"] = json!(pump
        .first_token
        .map(|at| u64::try_from(at.duration_since(started).as_millis()).unwrap_or(u64::MAX)));
    metadata["tokens_estimated"] = json!(estimated);
    metadata["output_policies"] = json!(pump.mode.as_str());
    metadata["response_model"] = json!(pump.response_model);
    metadata["pricing"] = json!({"priced_as": cost.priced_as, "fallback": cost.fallback});
    metadata["upstream_status"] = json!(200);
    if !pump.found.is_empty() {
        metadata["output_matches"] = output::Checked {
            matches: pump.found.clone(),
            ..output::Checked::default()
        }
        .matches_json();
    }
    if ending == Ending::Blocked {
        metadata["block_reason"] = json!(if pump.escaped_json {
            output::JSON_ESCAPES.to_owned()
        } else {
            output::block_reason(&pump.found)
        });
        record.verdict = Verdict::Deny;
    }
    if pump.found.iter().any(|m| m.action == Action::Redact) && pump.mode == OutputPolicies::Enforce
    {
        metadata["output_redacted"] = json!(true);
    }
    record.provider = provider;
    record.model = priced_model;
    record.prompt_tokens = prompt_tokens;
    record.completion_tokens = completion_tokens;
    record.total_tokens = total_tokens;
    record.estimated_cost_usd = cost.usd;
    record.latency_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    record.http_status = Some(StatusCode::OK.as_u16());
    let decision_id = record.decision_id;
    let client_id = record.client_id.clone();
    if decisions::write_audit(&state, record).await.is_err() {
        tracing::error!(%decision_id, "the stream's audit row could not be written");
    }
    ratelimit::add_tokens(&state, &caller, &client_id, total_tokens).await;
    tracing::info!(%decision_id, ending = ending.as_str(), "chat completion stream ended");
    drop(slot);
}

/// An upstream that refused the stream before it started: status and body as received.
pub fn refused(status: StatusCode, body: Bytes) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
