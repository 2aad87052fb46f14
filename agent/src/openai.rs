//! `POST /v1/chat/completions`: the OpenAI-compatible gateway. Validates the request, evaluates the
//! policies over every string the provider will read (`inspect.rs`), then either denies (HTTP 400,
//! OpenAI-shaped) or forwards the body to the upstream provider with the caller's `X-Provider-Key`,
//! and audits the outcome.
//!
//! What is checked is what is sent: the body is parsed strictly (a duplicate key is a 400
//! `duplicate_key`), and it is forwarded byte for byte as received, or, when a policy redacts, as the
//! re-serialised redacted value. A body with more text than the scan limit is a 413
//! `input_too_large`; nothing is forwarded unchecked. The upstream answer is read up to
//! `AXONFLOW_MAX_RESPONSE_BYTES` (502 beyond, audited).
//! The provider key lives only in this request's memory: never stored, never logged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use chrono::Utc;
use serde_json::{json, Value};
use uuid::Uuid;

use std::collections::HashMap;

use axonflow_platform::audit::{AuditRecord, AuditSource};
use axonflow_platform::budget::{self, user_hash, RequestScope};
use axonflow_platform::facts::{estimate_tokens, flatten_context};
use axonflow_platform::http::inflight::InFlightSlot;
use axonflow_platform::http::json::{self, JsonError};
use axonflow_platform::internal_call::EndUser;
use axonflow_platform::trace::TraceId;
use axonflow_policy::{Action, Decision, Verdict};

use crate::auth::Caller;
use crate::decisions;
use crate::dynamic;
use crate::error::OpenAiError;
use crate::inspect::{self, Checked, InspectError, NotApplied, Seg};
use crate::outlive::{outliving_the_caller, Panicked};
use crate::output;
use crate::ratelimit;
use crate::state::AppState;
use crate::stream;
use axonflow_platform::config::OutputPolicies;
use axonflow_platform::policy_store::TenantPolicies;
use axonflow_platform::routing::{self, attempts_json, Restrictions};
use axonflow_providers::route::{
    provider_span, record_provider_answer, Failure, RouteTarget, Router,
};
use axonflow_providers::ProviderKind;

pub const PROVIDER_KEY_HEADER: &str = "x-provider-key";
/// Names the provider that served a routed call.
const PROVIDER_HEADER: &str = "x-axonflow-provider";
pub const DECISION_ID_HEADER: &str = "x-axonflow-decision-id";
pub const TRACE_ID_HEADER: &str = "x-axonflow-trace-id";
/// Every request of this endpoint goes to OpenAI (other providers are routed by the orchestrator).
const PROVIDER: &str = "openai";

/// The caller's upstream key. `Debug` never shows it.
struct ProviderKey(String);

impl std::fmt::Debug for ProviderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A validated request.
#[derive(Debug)]
struct ChatRequest {
    body: Bytes,
    json: Value,
    model: String,
    /// `stream: true`: answered as Server-Sent Events (`stream.rs`).
    stream: bool,
    /// Every string the policies must read.
    checked: Vec<Checked>,
    /// The texts of each turn that has several (text parts of a message, consecutive messages of
    /// one role), joined as the model reads them: a value split across them is found here.
    joined: Vec<Joined>,
    /// Every string the provider reads, one per line: the `query` fact of dynamic policies.
    query_fact: String,
    /// The end user (the body's `user`), for dynamic policies and user budgets.
    user: EndUser,
    /// The body's `metadata`, flattened: the `context` fact of dynamic policies.
    context: HashMap<String, String>,
}

/// Everything the provider reads besides the model, the end user and the metadata (their own
/// facts), one string per line, then each turn's several texts joined: the `query` of dynamic
/// policies. A plain chat is its messages' text, one message per line; tools, documents, arguments
/// and every other checked string are part of it too, so no field walks around a tenant's rule.
fn query_fact(checked: &[Checked], joined: &[Joined]) -> String {
    let own_fact = |path: &[Seg]| matches!(path.first(), Some(Seg::Key(key)) if key == "model" || key == "user" || key == "metadata");
    checked
        .iter()
        .filter(|c| !own_fact(&c.path))
        .map(|c| c.text.as_str())
        .chain(joined.iter().map(|j| j.text.as_str()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The texts of one turn joined, with the offsets where one text ends and the next begins.
#[derive(Debug)]
struct Joined {
    /// The turn's first and last message.
    messages: std::ops::RangeInclusive<usize>,
    text: String,
    boundaries: Vec<usize>,
}

impl Joined {
    /// Whether `span` covers text of two texts or more.
    fn crosses(&self, span: &std::ops::Range<usize>) -> bool {
        self.boundaries
            .iter()
            .any(|&boundary| span.start < boundary && boundary < span.end)
    }

    /// The field reported for a match found only in the joined text.
    fn field(&self) -> String {
        let (first, last) = (*self.messages.start(), *self.messages.end());
        if first == last {
            format!("/messages/{first}/content (parts joined)")
        } else {
            format!("/messages/{first}-{last} (messages joined)")
        }
    }
}

/// The turn a message belongs to as providers that take turns build them: tool and function
/// results go with the user's turn, developer instructions with the system's.
fn turn_of(message: &Value) -> &str {
    match message.get("role").and_then(Value::as_str) {
        Some("tool" | "function") => "user",
        Some("developer") => "system",
        Some(role) => role,
        None => "",
    }
}

/// A message's texts: its content as a string, or its text parts (`text`, `refusal`).
fn texts_of(message: &Value) -> Vec<&str> {
    match message.get("content") {
        Some(Value::String(text)) => vec![text.as_str()],
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| {
                part.get("text")
                    .or_else(|| part.get("refusal"))
                    .and_then(Value::as_str)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Each turn's texts joined, for turns of two texts or more: the text parts of a message (the
/// model reads them as one text), and the texts of consecutive messages of one turn (Anthropic,
/// Gemini and Bedrock merge them into one turn of adjacent blocks).
fn joined_turns(messages: &[Value]) -> Vec<Joined> {
    let mut all = Vec::new();
    let mut first = 0;
    while first < messages.len() {
        let turn = turn_of(&messages[first]);
        let mut last = first;
        while last + 1 < messages.len() && turn_of(&messages[last + 1]) == turn {
            last += 1;
        }
        let texts: Vec<&str> = messages[first..=last].iter().flat_map(texts_of).collect();
        if texts.len() >= 2 {
            let mut joined = Joined {
                messages: first..=last,
                text: String::with_capacity(texts.iter().map(|t| t.len()).sum()),
                boundaries: Vec::with_capacity(texts.len()),
            };
            for text in texts {
                if !joined.text.is_empty() {
                    joined.boundaries.push(joined.text.len());
                }
                joined.text.push_str(text);
            }
            all.push(joined);
        }
        first = last + 1;
    }
    all
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(param: &str, expected: &str, got: &Value) -> OpenAiError {
    OpenAiError::invalid(
        format!(
            "Invalid type for '{param}': expected {expected}, but got {} instead.",
            type_name(got)
        ),
        Some(param),
        "invalid_type",
    )
}

fn missing(param: &str) -> OpenAiError {
    OpenAiError::invalid(
        format!("Missing required parameter: '{param}'."),
        Some(param),
        "missing_required_parameter",
    )
}

/// Parses and validates the body, and lists every string the policies must read.
fn parse(body: Bytes, scan_limit_bytes: usize) -> Result<ChatRequest, OpenAiError> {
    let json = json::parse_strict(&body).map_err(|error| match error {
        JsonError::DuplicateKey { .. } => {
            OpenAiError::invalid(format!("{error}."), None, "duplicate_key")
        }
        JsonError::Syntax(detail) => OpenAiError::invalid(
            format!("The request body is not valid JSON: {detail}."),
            None,
            "invalid_json",
        ),
    })?;
    let Some(object) = json.as_object() else {
        return Err(OpenAiError::invalid(
            format!(
                "The request body must be a JSON object, but got {}.",
                type_name(&json)
            ),
            None,
            "invalid_type",
        ));
    };
    let model = match object.get("model") {
        None | Some(Value::Null) => return Err(missing("model")),
        Some(Value::String(model)) if model.trim().is_empty() => {
            return Err(OpenAiError::invalid(
                "'model' must not be empty.",
                Some("model"),
                "invalid_value",
            ))
        }
        Some(Value::String(model)) => model.clone(),
        Some(other) => return Err(wrong_type("model", "a string", other)),
    };
    let stream = match object.get("stream") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(other) => return Err(wrong_type("stream", "a boolean", other)),
    };
    match object.get("stream_options") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(other) => return Err(wrong_type("stream_options", "an object", other)),
    }
    let messages = match object.get("messages") {
        None | Some(Value::Null) => return Err(missing("messages")),
        Some(Value::Array(messages)) => messages,
        Some(other) => return Err(wrong_type("messages", "an array", other)),
    };
    if messages.is_empty() {
        return Err(OpenAiError::invalid(
            "'messages' must contain at least one message.",
            Some("messages"),
            "invalid_value",
        ));
    }
    for (message_idx, message) in messages.iter().enumerate() {
        let Some(message) = message.as_object() else {
            return Err(wrong_type(
                &format!("messages[{message_idx}]"),
                "an object",
                message,
            ));
        };
        match message.get("role") {
            Some(Value::String(_)) => {}
            None | Some(Value::Null) => {
                return Err(missing(&format!("messages[{message_idx}].role")))
            }
            Some(other) => {
                return Err(wrong_type(
                    &format!("messages[{message_idx}].role"),
                    "a string",
                    other,
                ))
            }
        }
        match message.get("content") {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(Value::Array(parts)) => {
                for (part_idx, part) in parts.iter().enumerate() {
                    let param = format!("messages[{message_idx}].content[{part_idx}]");
                    let Some(part) = part.as_object() else {
                        return Err(wrong_type(&param, "an object", part));
                    };
                    if part.get("type").and_then(Value::as_str) == Some("text") {
                        match part.get("text") {
                            Some(Value::String(_)) => {}
                            None | Some(Value::Null) => {
                                return Err(missing(&format!("{param}.text")))
                            }
                            Some(other) => {
                                return Err(wrong_type(&format!("{param}.text"), "a string", other))
                            }
                        }
                    }
                }
            }
            Some(other) => {
                return Err(wrong_type(
                    &format!("messages[{message_idx}].content"),
                    "a string or an array",
                    other,
                ))
            }
        }
    }
    let checked = inspect::inspect(&json, scan_limit_bytes).map_err(|error| match error {
        InspectError::TooLarge => OpenAiError::InputTooLarge {
            limit_bytes: scan_limit_bytes,
        },
        InspectError::Unreadable { pointer, why } => OpenAiError::invalid(
            format!("{pointer} cannot be checked by the policies: {why}."),
            Some(&pointer),
            "uncheckable_content",
        ),
    })?;
    let joined = joined_turns(messages);
    let query_fact = query_fact(&checked, &joined);
    let user = EndUser {
        id: object
            .get("user")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..EndUser::default()
    };
    let context = match object.get("metadata") {
        Some(Value::Object(metadata)) => flatten_context(metadata).map_err(|error| {
            OpenAiError::invalid(
                format!("metadata: {error}."),
                Some("metadata"),
                "field_too_large",
            )
        })?,
        _ => HashMap::new(),
    };
    Ok(ChatRequest {
        body,
        json,
        model,
        stream,
        checked,
        joined,
        query_fact,
        user,
        context,
    })
}

/// The policies' verdict on a whole request.
struct Evaluated {
    decision: Decision,
    /// Every match, with the field it was found in.
    matches: Vec<Value>,
    /// The body to forward instead of the original, when a policy redacts.
    redacted_body: Option<Bytes>,
    /// Why the request is refused although no policy blocks: a value to redact could not be masked.
    unmaskable: Option<String>,
    /// The model name as it may be stored and logged (masked where a policy matched it).
    stored_model: String,
}

/// Evaluates every checked string and each message's joined parts (off the async workers when
/// there is much text) and applies the redactions to a copy of the body.
async fn evaluate(
    state: &AppState,
    tenant: &Arc<TenantPolicies>,
    request: &mut ChatRequest,
    mask_all_pii: bool,
) -> Result<Evaluated, OpenAiError> {
    let (paths, mut texts): (Vec<_>, Vec<_>) = std::mem::take(&mut request.checked)
        .into_iter()
        .map(|checked| (checked.path, checked.text))
        .unzip();
    // A redacting dynamic policy masks every piece of personal data, whatever its policy's action:
    // the texts are kept to mask them.
    let originals: Option<Vec<String>> = mask_all_pii.then(|| texts.clone());
    let joined = std::mem::take(&mut request.joined);
    texts.extend(joined.iter().map(|j| j.text.clone()));
    let mut decisions = state
        .policies()
        .evaluate_many(tenant, texts)
        .await
        .map_err(|_| OpenAiError::Internal)?;
    let joined_decisions = decisions.split_off(paths.len());
    let mut combined = Decision::allow_nothing();
    let mut matches = Vec::new();
    let mut redacted_json: Option<Value> = None;
    let mut unmaskable = None;
    let mut stored_model = request.model.clone();
    for (idx, (path, mut decision)) in paths.iter().zip(decisions).enumerate() {
        // Named only for what is reported: most texts match nothing.
        let field = if decision.matches.is_empty() {
            String::new()
        } else {
            inspect::pointer(path)
        };
        if let Some(text) = originals.as_ref().and_then(|texts| texts.get(idx)) {
            decision.redacted_text = decision.mask_where(text, |m| {
                m.action == Action::Redact || m.category.starts_with("pii-")
            });
        }
        matches.extend(
            decision
                .matches
                .iter()
                .map(|found| decisions::match_json(found, Some(&field))),
        );
        if matches!(path.as_slice(), [Seg::Key(key)] if key == "model")
            && !decision.matches.is_empty()
        {
            stored_model = decision.mask_every_match(&request.model);
        }
        if let Some(redacted) = decision.redacted_text.take() {
            let target = redacted_json.get_or_insert_with(|| request.json.clone());
            if let Err(NotApplied(why)) = inspect::replace(target, path, &redacted) {
                let field = inspect::pointer(path);
                tracing::warn!(%field, %why, "a redaction could not be applied; request refused");
                unmaskable = Some(why);
            }
        }
        combined = combined.merge(decision);
    }
    // A match that spans texts is found only in the joined text; one inside a text was counted
    // above. Such a match cannot be masked in place: a redaction there refuses the request.
    for (parts, decision) in joined.iter().zip(joined_decisions) {
        let field = parts.field();
        let spanning: Vec<_> = decision
            .matches
            .into_iter()
            .filter(|found| parts.crosses(&found.span))
            .collect();
        if spanning.is_empty() {
            continue;
        }
        matches.extend(
            spanning
                .iter()
                .map(|found| decisions::match_json(found, Some(&field))),
        );
        // A redacting dynamic policy masks every piece of personal data, whatever its action.
        if spanning.iter().any(|found| {
            found.action == Action::Redact || (mask_all_pii && found.category.starts_with("pii-"))
        }) {
            unmaskable = Some(format!("{field} holds a value split across texts"));
        }
        let verdict = if spanning.iter().any(|found| found.action == Action::Block) {
            Verdict::Deny
        } else {
            Verdict::Allow
        };
        combined = combined.merge(Decision {
            verdict,
            matches: spanning,
            redacted_text: None,
        });
    }
    // A redacted body that cannot be written is an error, never a reason to send the original.
    let redacted_body = match redacted_json {
        None => None,
        Some(json) => Some(Bytes::from(
            serde_json::to_vec(&json).map_err(|_| OpenAiError::Internal)?,
        )),
    };
    Ok(Evaluated {
        decision: combined,
        matches,
        redacted_body,
        unmaskable,
        stored_model,
    })
}

fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// The caller's own upstream key; without one the tenant's registered providers serve the call.
fn provider_key(headers: &HeaderMap) -> Option<ProviderKey> {
    headers
        .get(PROVIDER_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|key| ProviderKey(key.to_owned()))
}

fn body_or_error(
    body: Result<Bytes, BytesRejection>,
    limit_bytes: usize,
) -> Result<Bytes, OpenAiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            OpenAiError::BodyTooLarge { limit_bytes }
        } else {
            OpenAiError::invalid("The request body could not be read.", None, "invalid_body")
        }
    })
}

pub async fn chat_completions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    slot: Option<Extension<InFlightSlot>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let trace_id = TraceId::of_request(&headers);
    let key = provider_key(&headers);
    let prepared = match body_or_error(body, state.config().max_body_bytes).map(|body| (key, body))
    {
        Err(error) => Err(error),
        Ok((key, body)) => {
            // Parsing a large body is CPU work like evaluating it: off the async workers.
            let limit = state.config().policy_scan_limit_bytes;
            state
                .policies()
                .cpu()
                .run_for(&caller.tenant_id, body.len(), move || parse(body, limit))
                .await
                .unwrap_or(Err(OpenAiError::Internal))
                .map(|request| (key, request))
        }
    };
    let mut response = match prepared {
        Err(error) => error.into_response(),
        Ok((key, request)) => {
            // The decision, the upstream call and the audit write outlive the request: a client
            // that disconnects mid-request still leaves its audit row behind. The work holds the
            // request's in-flight slot: disconnecting frees no slot while the work goes on.
            let slot = slot.map(|Extension(slot)| slot);
            // Boxed where it is made: the wrappers below then move a pointer, not the whole
            // state of the call (kilobytes, copied by every move).
            let forward = Box::pin(decide_and_forward(
                state,
                caller,
                key,
                request,
                trace_id.clone(),
                slot,
            ));
            match outliving_the_caller(tracing::Instrument::in_current_span(
                axonflow_platform::metrics::with_current_timings(forward),
            ))
            .await
            {
                Ok(response) => response,
                Err(Panicked) => {
                    tracing::error!("chat completion failed: the work panicked");
                    OpenAiError::Internal.into_response()
                }
            }
        }
    };
    set_header(&mut response, TRACE_ID_HEADER, trace_id.as_str());
    response
}

/// What the upstream call produced, for the audit row.
struct Outcome {
    status: StatusCode,
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
    latency_ms: u32,
    /// The provider's time, for `Server-Timing` (`latency_ms` rounds it to whole milliseconds).
    upstream: Duration,
    response_model: Option<String>,
    error: Option<&'static str>,
    /// Who served: the registry name (routed) or `openai` (the caller's key).
    provider: String,
    /// The provider type the call is priced for.
    provider_type: &'static str,
    /// Routed calls: the model sent to the provider that served.
    model_sent: Option<String>,
    /// Routed calls: every attempt, in order.
    attempts: Option<Value>,
    /// The output policies' findings on the answer (2xx answers).
    output: Option<output::Checked>,
}

impl Outcome {
    /// The fields of a call made with the caller's own key, zero tokens.
    fn direct() -> Outcome {
        Outcome {
            status: StatusCode::OK,
            prompt_tokens: 0,
            completion_tokens: 0,
            total_tokens: 0,
            latency_ms: 0,
            upstream: Duration::ZERO,
            response_model: None,
            error: None,
            provider: PROVIDER.to_owned(),
            provider_type: PROVIDER,
            model_sent: None,
            attempts: None,
            output: None,
        }
    }
}

/// Headers of the upstream response that are not passed on: hop-by-hop and length (re-computed).
fn is_passed_through(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "set-cookie"
    )
}

/// Why an upstream answer was not read.
enum ReadError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads the upstream body, refusing more than `limit` bytes (never buffering more than that).
async fn read_capped(mut upstream: reqwest::Response, limit: usize) -> Result<Bytes, ReadError> {
    if upstream
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(ReadError::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = upstream.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The call with the caller's own key: OpenAI at `OPENAI_BASE_URL`, the body as checked, the
/// answer passed on as received.
async fn forward_with_key(
    state: &AppState,
    key: ProviderKey,
    body: Bytes,
    decision_id: Uuid,
    tenant: &Arc<TenantPolicies>,
    model: &str,
) -> (Response, Outcome) {
    let timeout = state.config().upstream_timeout;
    let started = Instant::now();
    let (builder, span) = keyed_request(state, &key, model);
    drop(key);
    let max_response_bytes = state.config().max_response_bytes;
    let call = async {
        match builder.body(body).timeout(timeout).send().await {
            Ok(mut upstream) => {
                let status = upstream.status();
                // Taken, not copied: reading the body needs none of them.
                let upstream_headers = std::mem::take(upstream.headers_mut());
                read_capped(upstream, max_response_bytes)
                    .await
                    .map(|bytes| (status, upstream_headers, bytes))
            }
            Err(error) => Err(ReadError::Transport(error)),
        }
    };
    let upstream = tracing::Instrument::instrument(call, span.clone()).await;
    let upstream_time = started.elapsed();
    let latency_ms = u32::try_from(upstream_time.as_millis()).unwrap_or(u32::MAX);

    match upstream {
        Ok((status, upstream_headers, mut bytes)) => {
            let mode = state.config().output_policies;
            // An answer passed on as received is read into its view; enforcing may rewrite it,
            // so it is read whole (as is an answer that does not fit the view).
            let view = if status.is_success() && mode != OutputPolicies::Enforce {
                output::AnswerView::read(&bytes)
            } else {
                None
            };
            let mut parsed: Option<Value> = if status.is_success() && view.is_none() {
                serde_json::from_slice(&bytes).ok()
            } else {
                None
            };
            let (tokens, response_model) = match (&view, &parsed) {
                (Some(view), _) => (view.tokens(), view.model().map(str::to_owned)),
                (None, Some(answer)) => (
                    output::tokens_of(answer),
                    answer
                        .get("model")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                ),
                (None, None) => (output::Tokens::default(), None),
            };
            let checked = match (view, parsed.as_mut()) {
                (Some(view), _) => {
                    Some(output::check_view(state, tenant, mode, view.into_texts()).await)
                }
                (None, Some(answer)) => Some(check_output(state, tenant, answer).await),
                // A successful answer the policies cannot read: enforcing, it is not passed on;
                // logging, it is, and its audit row says it went unchecked.
                (None, None) if status.is_success() && mode != OutputPolicies::Off => {
                    Some(Some(output::Checked {
                        unreadable: true,
                        ..output::Checked::default()
                    }))
                }
                (None, None) => None,
            };
            let outcome = Outcome {
                status,
                prompt_tokens: tokens.prompt,
                completion_tokens: tokens.completion,
                total_tokens: tokens.total,
                latency_ms,
                upstream: upstream_time,
                response_model,
                error: None,
                ..Outcome::direct()
            };
            record_provider_answer(
                &span,
                Some(status.as_u16()),
                None,
                outcome.response_model.as_deref().map(|model| {
                    (
                        model,
                        axonflow_providers::Usage {
                            prompt_tokens: outcome.prompt_tokens,
                            completion_tokens: outcome.completion_tokens,
                            total_tokens: outcome.total_tokens,
                        },
                    )
                }),
            );
            let (mut outcome, refusal) =
                with_output(outcome, checked, state.config().output_policies);
            if let Some(error) = refusal {
                return (error.into_response(), outcome);
            }
            if outcome
                .output
                .as_ref()
                .is_some_and(|c| c.masked || c.rewritten)
            {
                if let Some(answer) = &parsed {
                    bytes = Bytes::from(serde_json::to_vec(answer).unwrap_or_default());
                }
            }
            outcome.status = status;
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            for (name, value) in &upstream_headers {
                if is_passed_through(name) {
                    response.headers_mut().append(name.clone(), value.clone());
                }
            }
            if !response.headers().contains_key(header::CONTENT_TYPE) {
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            (response, outcome)
        }
        Err(failure) => {
            let (error, label) = match failure {
                ReadError::TooLarge => {
                    tracing::warn!(%decision_id, max_response_bytes, "upstream answer over the size limit");
                    (
                        OpenAiError::UpstreamTooLarge {
                            limit_bytes: max_response_bytes,
                        },
                        "upstream_response_too_large",
                    )
                }
                // reqwest's message names the URL (the configured base URL), never the key.
                ReadError::Transport(error) if error.is_timeout() => {
                    tracing::warn!(%decision_id, %error, "upstream call timed out");
                    (
                        OpenAiError::UpstreamTimeout {
                            timeout_secs: timeout.as_secs().max(1),
                        },
                        "upstream_timeout",
                    )
                }
                ReadError::Transport(error) => {
                    tracing::warn!(%decision_id, %error, "upstream call failed");
                    (OpenAiError::UpstreamUnreachable, "upstream_unreachable")
                }
            };
            let outcome = Outcome {
                status: error.status(),
                prompt_tokens: 0,
                completion_tokens: 0,
                total_tokens: 0,
                latency_ms,
                upstream: upstream_time,
                response_model: None,
                error: Some(label),
                ..Outcome::direct()
            };
            (error.into_response(), outcome)
        }
    }
}

async fn decide_and_forward(
    state: AppState,
    caller: Caller,
    key: Option<ProviderKey>,
    mut request: ChatRequest,
    trace_id: TraceId,
    slot: Option<InFlightSlot>,
) -> Response {
    let started = Instant::now();
    if state.config().output_policies == OutputPolicies::Enforce {
        if let Some(param) = output::unreadable_request_field(&request.json) {
            return OpenAiError::invalid(
                format!(
                    "'{param}' asks for answer content the output policies cannot check \
                     (AXONFLOW_OUTPUT_POLICIES=enforce); remove it."
                ),
                Some(param),
                "unsupported_parameter",
            )
            .into_response();
        }
    }
    let decision_id = Uuid::now_v7();
    let rate = ratelimit::count(&state, &caller, &caller.client_id).await;
    if rate.exceeded.is_some() {
        return rate.to_openai_error(Utc::now()).into_response();
    }
    let tenant = match state
        .policies()
        .for_tenant(state.pool(), &caller.tenant_id)
        .await
    {
        Ok(tenant) => tenant,
        Err(error) => {
            tracing::error!(%error, tenant_id = %caller.tenant_id, "tenant policies unavailable; request refused");
            return OpenAiError::PoliciesUnavailable.into_response();
        }
    };
    // Without the caller's key: the tenant's providers serving the model, with their stored keys.
    let mut targets = Vec::new();
    if key.is_none() {
        targets = routing::targets_for(
            &tenant.providers,
            state.config().common.provider_keys.as_deref(),
            &request.model,
            Restrictions::default(),
        );
        if targets.is_empty() {
            return OpenAiError::MissingProviderKey.into_response();
        }
    }
    let provider_fact = targets
        .iter()
        .max_by_key(|target| target.priority)
        .map_or(PROVIDER, |target| target.provider())
        .to_owned();
    let dynamic = match dynamic::evaluate(
        &state,
        &tenant,
        &dynamic::Request {
            query: &request.query_fact,
            user: &request.user,
            request_type: "chat",
            model: Some(&request.model),
            provider: Some(&provider_fact),
            context: &request.context,
        },
    )
    .await
    {
        Ok(dynamic) => dynamic,
        Err(_) => return OpenAiError::Internal.into_response(),
    };
    let Evaluated {
        mut decision,
        matches,
        redacted_body,
        unmaskable,
        stored_model,
    } = match evaluate(&state, &tenant, &mut request, dynamic.redacts()).await {
        Ok(evaluated) => evaluated,
        Err(error) => return error.into_response(),
    };
    let mut policies: Vec<&str> = decision.policy_ids();
    policies.extend(dynamic.policy_ids());
    let mut metadata = json!({
        "policies": policies,
        "matches": matches,
        "frameworks": decision.frameworks(),
    });
    if !dynamic.matches.is_empty() {
        metadata["dynamic_policies"] = dynamic::matches_json(&dynamic);
    }
    if let Some(id) = request.user.id.as_deref() {
        metadata["user_hash"] = json!(user_hash(id));
    }
    let workflow_id = match decisions::stored_workflow_id(
        &state,
        &tenant,
        request.context.get("workflow_id").map(String::as_str),
    )
    .await
    {
        Ok(workflow_id) => workflow_id,
        Err(_) => return OpenAiError::Internal.into_response(),
    };
    if let Some(workflow) = &workflow_id {
        metadata["workflow_id"] = json!(workflow);
    }
    let route_refusal = match dynamic.allowed_providers() {
        Some(allowed) if !targets.is_empty() => {
            targets.retain(|target| routing::is_allowed(target, &allowed));
            targets.is_empty().then(|| {
                format!(
                    "a routing policy allows only {} for this request and none of them serves model {}",
                    allowed.join(", "),
                    stored_model
                )
            })
        }
        _ if key.is_some() => dynamic::route_refusal(&dynamic, PROVIDER),
        _ => None,
    };
    let dynamic_refusal = dynamic.block_reason().or(route_refusal);
    if dynamic_refusal.is_some() {
        decision.verdict = Verdict::Deny;
    }
    // Flags are recorded when set, keeping the typical row small.
    if redacted_body.is_some() {
        metadata["redacted"] = Value::Bool(true);
    }
    if unmaskable.is_some() {
        decision.verdict = Verdict::Deny;
    }
    let base = AuditRecord {
        decision_id,
        source: AuditSource::OpenAiGateway,
        client_id: caller.client_id.clone(),
        tenant_id: caller.tenant_id.clone(),
        org_id: caller.org_id.clone(),
        provider: PROVIDER.to_owned(),
        model: stored_model.clone(),
        verdict: decision.verdict,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        estimated_cost_usd: 0.0,
        latency_ms: 0,
        http_status: None,
        trace_id: Some(trace_id.as_str().to_owned()),
        metadata: Value::Null,
        created_at: Utc::now(),
    };

    if decision.verdict == Verdict::Deny {
        let reason = decision
            .block_reason()
            .or(dynamic_refusal)
            .or_else(|| {
                unmaskable
                    .as_ref()
                    .map(|why| format!("a value a policy redacts could not be masked ({why})"))
            })
            .unwrap_or_else(|| "policy violation".to_owned());
        metadata["block_reason"] = Value::String(reason.clone());
        let error = OpenAiError::PolicyDenied { reason };
        let record = AuditRecord {
            http_status: Some(error.status().as_u16()),
            metadata,
            ..base
        };
        if decisions::write_audit(&state, record).await.is_err() {
            return OpenAiError::AuditUnavailable.into_response();
        }
        tracing::info!(%decision_id, verdict = "deny", model = %stored_model, "chat completion denied");
        let mut response = error.into_response();
        set_header(&mut response, DECISION_ID_HEADER, &decision_id.to_string());
        return response;
    }

    // Budgets that block: the call that crossed the limit went through; the next ones do not.
    let scope = RequestScope {
        org_id: caller.org_id.clone(),
        tenant_id: caller.tenant_id.clone(),
        client_id: caller.client_id.clone(),
        user_id: request.user.id.clone(),
        workflow_id,
    };
    // A downgrade budget cannot pick the model here: the client's body goes out as sent.
    match budget::check(
        state.pool(),
        state.spend(),
        &tenant.budgets,
        &scope,
        Utc::now(),
    )
    .await
    .map(|check| check.blocking)
    {
        Ok(None) => {}
        Ok(Some((budget, status))) => {
            let error = OpenAiError::BudgetExceeded {
                message: format!(
                    "Budget {} is exhausted: {:.6} of {:.6} USD used this {} period; the call was not made.",
                    budget.name, status.used_usd, budget.limit_usd, budget.period
                ),
            };
            metadata["budget_id"] = json!(budget.id);
            metadata["block_reason"] = json!("budget exceeded");
            let record = AuditRecord {
                verdict: Verdict::Deny,
                http_status: Some(error.status().as_u16()),
                metadata,
                ..base
            };
            if decisions::write_audit(&state, record).await.is_err() {
                return OpenAiError::AuditUnavailable.into_response();
            }
            let mut response = error.into_response();
            set_header(&mut response, DECISION_ID_HEADER, &decision_id.to_string());
            return response;
        }
        Err(error) => {
            tracing::error!(%error, "budgets could not be read; the call is refused");
            let error_answer = OpenAiError::PoliciesUnavailable;
            metadata["error"] = json!("budgets_unavailable");
            let record = AuditRecord {
                verdict: Verdict::Deny,
                http_status: Some(error_answer.status().as_u16()),
                metadata,
                ..base
            };
            if decisions::write_audit(&state, record).await.is_err() {
                return OpenAiError::AuditUnavailable.into_response();
            }
            let mut response = error_answer.into_response();
            set_header(&mut response, DECISION_ID_HEADER, &decision_id.to_string());
            return response;
        }
    }

    let body = redacted_body.unwrap_or_else(|| request.body.clone());
    let (mut response, outcome) = if request.stream {
        let opening = Instant::now();
        match open_stream(&state, key, targets, &body, started, &stored_model).await {
            Opened::Failed(response, outcome) => (response, outcome),
            Opened::Stream {
                upstream,
                provider,
                provider_type,
                model,
                attempts,
                client_wants_usage,
            } => {
                metadata["output_policies"] = json!(state.config().output_policies.as_str());
                let routed = attempts.is_some();
                if let Some(attempts) = attempts {
                    metadata["attempts"] = attempts;
                    metadata["provider_type"] = json!(provider_type);
                }
                let call = stream::StreamCall {
                    state: state.clone(),
                    tenant: tenant.clone(),
                    caller,
                    started,
                    record: AuditRecord { metadata, ..base },
                    client_wants_usage,
                    prompt_estimate: u32::try_from(estimate_tokens(request.query_fact.len()))
                        .unwrap_or(u32::MAX),
                    provider: provider.clone(),
                    provider_type,
                    priced_model: model.unwrap_or_else(|| request.model.clone()),
                    slot,
                };
                let mut response = stream::respond(call, upstream);
                // Until the stream's headers, the provider's time is the time to open it.
                response
                    .extensions_mut()
                    .insert(axonflow_platform::metrics::UpstreamTime(opening.elapsed()));
                set_header(&mut response, DECISION_ID_HEADER, &decision_id.to_string());
                if routed {
                    set_header(&mut response, PROVIDER_HEADER, &provider);
                }
                return response;
            }
        }
    } else {
        match key {
            Some(key) => {
                forward_with_key(&state, key, body, decision_id, &tenant, &stored_model).await
            }
            None => forward_routed(&state, targets, &body, decision_id, &tenant).await,
        }
    };
    drop(slot);
    metadata["output_policies"] = json!(state.config().output_policies.as_str());
    if let Some(checked) = &outcome.output {
        if !checked.matches.is_empty() {
            metadata["output_matches"] = checked.matches_json();
        }
        if let Some(reason) = &checked.blocked {
            metadata["block_reason"] = json!(reason);
        }
    }
    if let Some(attempts) = &outcome.attempts {
        metadata["attempts"] = attempts.clone();
        metadata["provider_type"] = json!(outcome.provider_type);
    }

    let total_tokens = if outcome.total_tokens == 0 {
        outcome
            .prompt_tokens
            .saturating_add(outcome.completion_tokens)
    } else {
        outcome.total_tokens
    };
    // A routed call is priced for the model sent; a direct one for the model that answered.
    let priced_model = outcome
        .model_sent
        .as_deref()
        .or(outcome.response_model.as_deref())
        .unwrap_or(&request.model);
    let cost = state.pricing().estimate(
        outcome.provider_type,
        priced_model,
        u64::from(outcome.prompt_tokens),
        u64::from(outcome.completion_tokens),
    );
    // An answer the output policies blocked came with 200; the client got 400.
    let output_blocked = outcome.output.as_ref().is_some_and(|c| c.blocked.is_some());
    metadata["upstream_status"] = json!(if output_blocked {
        200
    } else {
        outcome.status.as_u16()
    });
    metadata["response_model"] = json!(outcome.response_model);
    metadata["pricing"] = json!({"priced_as": cost.priced_as, "fallback": cost.fallback});
    if let Some(error) = outcome.error {
        metadata["error"] = json!(error);
    }
    let counted_client = base.client_id.clone();
    let counted_caller = caller;
    let record = AuditRecord {
        verdict: if output_blocked {
            Verdict::Deny
        } else {
            base.verdict
        },
        provider: outcome.provider.clone(),
        model: outcome.model_sent.clone().unwrap_or(base.model.clone()),
        prompt_tokens: outcome.prompt_tokens,
        completion_tokens: outcome.completion_tokens,
        total_tokens,
        estimated_cost_usd: cost.usd,
        latency_ms: outcome.latency_ms,
        http_status: Some(outcome.status.as_u16()),
        metadata,
        ..base
    };
    if decisions::write_audit(&state, record).await.is_err() {
        // Compliance: no answer without its audit record.
        return OpenAiError::AuditUnavailable.into_response();
    }
    ratelimit::add_tokens(&state, &counted_caller, &counted_client, total_tokens).await;
    tracing::info!(
        %decision_id,
        verdict = "allow",
        model = %stored_model,
        status = outcome.status.as_u16(),
        latency_ms = outcome.latency_ms,
        "chat completion forwarded"
    );
    set_header(&mut response, DECISION_ID_HEADER, &decision_id.to_string());
    response
        .extensions_mut()
        .insert(axonflow_platform::metrics::UpstreamTime(outcome.upstream));
    if outcome.attempts.is_some() && !outcome.provider.is_empty() {
        set_header(&mut response, PROVIDER_HEADER, &outcome.provider);
    }
    response
}

/// The call without the caller's key: routed across the tenant's providers (retries, failover,
/// breakers), the answer translated to OpenAI's shape.
async fn forward_routed(
    state: &AppState,
    targets: Vec<RouteTarget>,
    body: &Bytes,
    decision_id: Uuid,
    tenant: &Arc<TenantPolicies>,
) -> (Response, Outcome) {
    let started = Instant::now();
    let failed = |error: OpenAiError, label: &'static str, attempts: Value| {
        let outcome = Outcome {
            status: error.status(),
            latency_ms: u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX),
            upstream: started.elapsed(),
            error: Some(label),
            attempts: Some(attempts),
            ..Outcome::direct()
        };
        (error.into_response(), outcome)
    };
    // The body was read strictly and checked: it parses.
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return failed(OpenAiError::Internal, "internal", json!([]));
    };
    let targets = Router::order(targets);
    let timeout = state.config().upstream_timeout;
    let routed = state
        .router()
        .call(&targets, &request, started + timeout)
        .await;
    let upstream = started.elapsed();
    let attempts = attempts_json(&routed.attempts);
    let served = match routed.result {
        Ok(served) => served,
        Err(failure) => {
            let (error, label) = routing_error(failure, timeout.as_secs().max(1));
            tracing::warn!(%decision_id, error = label, "routed chat completion failed");
            // The row names the last provider tried (none: no target was called).
            let last = routed
                .attempts
                .last()
                .and_then(|a| targets.iter().find(|t| t.provider() == a.provider));
            let mut outcome = failed(error, label, attempts);
            outcome.1.provider = last.map(|t| t.provider().to_owned()).unwrap_or_default();
            outcome.1.provider_type = last.map_or("none", |t| t.kind.as_str());
            outcome.1.model_sent = last.map(|t| t.model().to_owned());
            return outcome;
        }
    };
    let Some(target) = targets.get(served.target) else {
        return failed(OpenAiError::Internal, "internal", attempts);
    };
    let mut answer = served.completion.body;
    let checked = check_output(state, tenant, &mut answer).await;
    let bytes = serde_json::to_vec(&answer).unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let usage = served.completion.usage;
    let outcome = Outcome {
        status: StatusCode::OK,
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        total_tokens: usage.total_tokens,
        latency_ms: served.latency_ms,
        upstream,
        response_model: Some(served.completion.model.clone()),
        error: None,
        provider: target.provider().to_owned(),
        provider_type: target.kind.as_str(),
        model_sent: Some(target.model().to_owned()),
        attempts: Some(attempts),
        output: None,
    };
    let (outcome, refusal) = with_output(outcome, Some(checked), state.config().output_policies);
    if let Some(error) = refusal {
        return (error.into_response(), outcome);
    }
    (response, outcome)
}

/// A request to OpenAI with the caller's key, and its CLIENT span (none without trace export),
/// whose `traceparent` it carries.
fn keyed_request(
    state: &AppState,
    key: &ProviderKey,
    model: &str,
) -> (reqwest::RequestBuilder, tracing::Span) {
    let span = if axonflow_platform::telemetry::exporting() {
        provider_span(ProviderKind::OpenAi, model)
    } else {
        tracing::Span::none()
    };
    let builder = match state.openai_chat_url() {
        Ok(url) => state.http().post(url),
        Err(text) => state.http().post(text),
    };
    let mut builder = builder
        .bearer_auth(&key.0)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(traceparent) = axonflow_platform::telemetry::traceparent_of(&span) {
        builder = builder.header("traceparent", traceparent);
    }
    (builder, span)
}

/// A streamed call's upstream, opened (2xx headers received) or not.
enum Opened {
    Stream {
        upstream: reqwest::Response,
        provider: String,
        provider_type: &'static str,
        /// Routed calls: the model sent (priced); direct ones price the client's model.
        model: Option<String>,
        attempts: Option<Value>,
        client_wants_usage: bool,
    },
    /// Refused or failed before the stream started: answered and audited like a plain call.
    Failed(Response, Outcome),
}

/// Opens the upstream stream: the caller's key to OpenAI, or the tenant's route. `usage` is
/// requested upstream so that the stream can be audited with the provider's token counts.
async fn open_stream(
    state: &AppState,
    key: Option<ProviderKey>,
    targets: Vec<RouteTarget>,
    body: &Bytes,
    started: Instant,
    // The model as it may be recorded (masked where a policy matched it).
    model: &str,
) -> Opened {
    let failed = |error: OpenAiError, label: &'static str, outcome: Outcome| {
        let outcome = Outcome {
            status: error.status(),
            latency_ms: u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX),
            error: Some(label),
            ..outcome
        };
        Opened::Failed(error.into_response(), outcome)
    };
    let Some((request, client_wants_usage)) = stream::with_usage_requested(body) else {
        return failed(OpenAiError::Internal, "internal", Outcome::direct());
    };
    let timeout = state.config().upstream_timeout;
    let Some(key) = key else {
        let targets = Router::order(targets);
        let routed = state
            .router()
            .open_stream(&targets, &request, started + timeout)
            .await;
        let attempts = attempts_json(&routed.attempts);
        return match routed.result {
            Ok(opened) => match targets.get(opened.target) {
                Some(target) => Opened::Stream {
                    upstream: opened.response,
                    provider: target.provider().to_owned(),
                    provider_type: target.kind.as_str(),
                    model: Some(target.model().to_owned()),
                    attempts: Some(attempts),
                    client_wants_usage,
                },
                None => failed(OpenAiError::Internal, "internal", Outcome::direct()),
            },
            Err(failure) => {
                let (error, label) = routing_error(failure, timeout.as_secs().max(1));
                let last = routed
                    .attempts
                    .last()
                    .and_then(|a| targets.iter().find(|t| t.provider() == a.provider));
                let outcome = Outcome {
                    provider: last.map(|t| t.provider().to_owned()).unwrap_or_default(),
                    provider_type: last.map_or("none", |t| t.kind.as_str()),
                    model_sent: last.map(|t| t.model().to_owned()),
                    attempts: Some(attempts),
                    ..Outcome::direct()
                };
                failed(error, label, outcome)
            }
        };
    };
    let Ok(upstream_body) = serde_json::to_vec(&request) else {
        return failed(OpenAiError::Internal, "internal", Outcome::direct());
    };
    let (builder, span) = keyed_request(state, &key, model);
    // Only the response headers are timed: the stream itself is watched for silence.
    let sent = tracing::Instrument::instrument(
        tokio::time::timeout(timeout, builder.body(upstream_body).send()),
        span.clone(),
    )
    .await;
    if let Ok(Ok(upstream)) = &sent {
        record_provider_answer(&span, Some(upstream.status().as_u16()), None, None);
    }
    drop(key);
    match sent {
        Err(_) => failed(
            OpenAiError::UpstreamTimeout {
                timeout_secs: timeout.as_secs().max(1),
            },
            "upstream_timeout",
            Outcome::direct(),
        ),
        Ok(Err(error)) => {
            tracing::warn!(error = %error.without_url(), "upstream stream could not be opened");
            failed(
                OpenAiError::UpstreamUnreachable,
                "upstream_unreachable",
                Outcome::direct(),
            )
        }
        Ok(Ok(upstream)) if !upstream.status().is_success() => {
            // Refused before the stream started: status and body forwarded as received.
            let status = upstream.status();
            let left = (started + timeout).saturating_duration_since(Instant::now());
            let body = tokio::time::timeout(
                left,
                read_capped(upstream, state.config().max_response_bytes),
            )
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
            let outcome = Outcome {
                status,
                latency_ms: u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX),
                ..Outcome::direct()
            };
            Opened::Failed(stream::refused(status, body), outcome)
        }
        Ok(Ok(upstream)) => Opened::Stream {
            upstream,
            provider: PROVIDER.to_owned(),
            provider_type: PROVIDER,
            model: None,
            attempts: None,
            client_wants_usage,
        },
    }
}

/// The output policies on a 2xx answer (`None` from the check: the evaluation failed).
async fn check_output(
    state: &AppState,
    tenant: &Arc<TenantPolicies>,
    answer: &mut Value,
) -> Option<output::Checked> {
    output::check_answer(state, tenant, state.config().output_policies, answer).await
}

/// Notes the output check on the outcome; the error to answer instead when the answer may not
/// go out (a `block` match, or enforcing without a completed check).
fn with_output(
    mut outcome: Outcome,
    checked: Option<Option<output::Checked>>,
    mode: OutputPolicies,
) -> (Outcome, Option<OpenAiError>) {
    let refusal = match &checked {
        None => None,
        Some(None) => {
            tracing::error!("output policies could not be evaluated");
            outcome.error = Some("output_check_failed");
            (mode == OutputPolicies::Enforce).then_some(OpenAiError::Internal)
        }
        Some(Some(checked)) if checked.unreadable => {
            outcome.error = Some("upstream_unreadable");
            if mode == OutputPolicies::Enforce {
                tracing::warn!(
                    "upstream answer in a form the output policies cannot read: withheld"
                );
                Some(OpenAiError::UpstreamUnreadable)
            } else {
                tracing::warn!(
                    "upstream answer in a form the output policies cannot read: passed on unchecked"
                );
                None
            }
        }
        Some(Some(checked)) => checked
            .blocked
            .clone()
            .map(|reason| OpenAiError::PolicyDenied { reason }),
    };
    if let Some(error) = &refusal {
        outcome.status = error.status();
    }
    outcome.output = checked.flatten();
    (outcome, refusal)
}

/// A routing failure as the OpenAI-shaped error the client gets, and the audit row's label.
fn routing_error(failure: Failure, timeout_secs: u64) -> (OpenAiError, &'static str) {
    match failure {
        Failure::Unsupported(error) => (
            OpenAiError::InvalidRequest {
                message: error.message,
                param: error.param,
                code: "unsupported_parameter",
            },
            "unsupported_parameter",
        ),
        Failure::Refused(error) => (
            OpenAiError::Provider {
                status: StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_GATEWAY),
                code: error.code.unwrap_or_else(|| error.error_type.clone()),
                error_type: error.error_type,
                message: error.message,
            },
            "provider_refused",
        ),
        Failure::Broken(error) => (
            OpenAiError::Provider {
                status: StatusCode::BAD_GATEWAY,
                error_type: "upstream_error".to_owned(),
                code: "upstream_error".to_owned(),
                message: error.message,
            },
            "upstream_error",
        ),
        Failure::TooLarge { limit_bytes } => (
            OpenAiError::UpstreamTooLarge { limit_bytes },
            "upstream_response_too_large",
        ),
        Failure::AllFailed(last) => (
            OpenAiError::Provider {
                status: StatusCode::BAD_GATEWAY,
                error_type: "upstream_error".to_owned(),
                code: "upstream_unreachable".to_owned(),
                message: match last {
                    Some(error) => format!(
                        "Every provider target failed; the last said: {}",
                        error.message
                    ),
                    None => "Every provider target failed or could not be reached.".to_owned(),
                },
            },
            "upstream_unreachable",
        ),
        Failure::Deadline => (
            OpenAiError::UpstreamTimeout { timeout_secs },
            "upstream_timeout",
        ),
        Failure::Unavailable => (
            OpenAiError::Provider {
                status: StatusCode::SERVICE_UNAVAILABLE,
                error_type: "server_error".to_owned(),
                code: "providers_unavailable".to_owned(),
                message:
                    "Every provider serving this model is skipped for now (circuit breaker open or \
                          rate limit spent); nothing was sent. Retry shortly."
                        .to_owned(),
            },
            "providers_unavailable",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_error(body: &str, expected_code: &str) {
        match parse(Bytes::from(body.to_owned()), usize::MAX) {
            Err(OpenAiError::InvalidRequest { code, .. }) => {
                assert_eq!(code, expected_code, "{body}")
            }
            Err(other) => assert_eq!(format!("{other:?}"), expected_code, "{body}"),
            Ok(request) => panic!("{body} was accepted: {request:?}"),
        }
    }

    #[test]
    fn invalid_bodies() {
        check_error("{", "invalid_json");
        check_error("[]", "invalid_type");
        check_error(
            r#"{"messages":[{"role":"user","content":"hi"}]}"#,
            "missing_required_parameter",
        );
        check_error(r#"{"model":7,"messages":[]}"#, "invalid_type");
        check_error(r#"{"model":"m"}"#, "missing_required_parameter");
        check_error(r#"{"model":"m","messages":"hi"}"#, "invalid_type");
        check_error(r#"{"model":"m","messages":[]}"#, "invalid_value");
        check_error(r#"{"model":"m","messages":["hi"]}"#, "invalid_type");
        check_error(
            r#"{"model":"m","messages":[{"content":"hi"}]}"#,
            "missing_required_parameter",
        );
        check_error(
            r#"{"model":"m","messages":[{"role":"user","content":5}]}"#,
            "invalid_type",
        );
        check_error(
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":1}]}]}"#,
            "invalid_type",
        );
        check_error(
            r#"{"model":"m","stream":"yes","messages":[{"role":"user","content":"hi"}]}"#,
            "invalid_type",
        );
        check_error(
            r#"{"model":"m","stream":true,"stream_options":"usage","messages":[{"role":"user","content":"hi"}]}"#,
            "invalid_type",
        );
    }

    #[test]
    fn every_text_is_located() {
        let body = r#"{"model":"m","messages":[
            {"role":"system","content":"be nice"},
            {"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]}
        ]}"#;
        let request = parse(Bytes::from(body), usize::MAX).expect("valid");
        let pointers: Vec<String> = request
            .checked
            .iter()
            .map(|c| inspect::pointer(&c.path))
            .collect();
        assert_eq!(
            pointers,
            [
                "/messages/0/content",
                "/messages/1/content/0/text",
                "/messages/1/content/1/image_url/url",
                "/messages/1/content/2/text",
                "/messages/2/tool_calls/0/function/arguments",
                "/messages/2/tool_calls/0/function/name",
                "/messages/2/tool_calls/0/id",
                "/model",
            ]
        );
        assert_eq!(request.model, "m");
    }

    #[test]
    fn duplicate_keys_and_oversized_text_are_refused() {
        check_error(
            r#"{"model":"m","messages":[{"role":"user","content":"a","content":"b"}]}"#,
            "duplicate_key",
        );
        check_error(
            r#"{"model":"m","model":"n","messages":[{"role":"user","content":"a"}]}"#,
            "duplicate_key",
        );
        let long = format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#,
            "a".repeat(100)
        );
        assert!(matches!(
            parse(Bytes::from(long), 99),
            Err(OpenAiError::InputTooLarge { limit_bytes: 99 })
        ));
    }
}
