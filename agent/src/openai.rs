//! `POST /v1/chat/completions`: the OpenAI-compatible gateway. Validates the request, evaluates the
//! policies over every message's text, then either denies (HTTP 400, OpenAI-shaped) or forwards the body
//! verbatim to the upstream provider with the caller's `X-Provider-Key`, and audits the outcome.
//! The provider key lives only in this request's memory: never stored, never logged.

use std::time::Instant;

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

use axonflow_platform::audit::{AuditRecord, AuditSource};
use axonflow_platform::trace::TraceId;
use axonflow_policy::{Decision, Verdict};

use crate::auth::Caller;
use crate::decisions;
use crate::error::OpenAiError;
use crate::policies::TenantPolicies;
use crate::ratelimit;
use crate::state::AppState;

pub const PROVIDER_KEY_HEADER: &str = "x-provider-key";
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

/// Where a piece of message text sits in the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextLocation {
    /// `messages[i].content` as a string.
    Content(usize),
    /// `messages[i].content[j].text`.
    Part(usize, usize),
    /// `messages[i].tool_calls[j].function.arguments`.
    ToolArguments(usize, usize),
}

/// A validated request.
#[derive(Debug)]
struct ChatRequest {
    body: Bytes,
    json: Value,
    model: String,
    texts: Vec<TextLocation>,
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

/// Parses and validates the body; lists where the message texts are.
fn parse(body: Bytes) -> Result<ChatRequest, OpenAiError> {
    let json: Value = serde_json::from_slice(&body).map_err(|error| {
        OpenAiError::invalid(
            format!("The request body is not valid JSON: {error}."),
            None,
            "invalid_json",
        )
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
    match object.get("stream") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => return Err(OpenAiError::StreamNotSupported),
        Some(other) => return Err(wrong_type("stream", "a boolean", other)),
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
    let mut texts = Vec::new();
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
            None | Some(Value::Null) => {}
            Some(Value::String(_)) => texts.push(TextLocation::Content(message_idx)),
            Some(Value::Array(parts)) => {
                for (part_idx, part) in parts.iter().enumerate() {
                    let param = format!("messages[{message_idx}].content[{part_idx}]");
                    let Some(part) = part.as_object() else {
                        return Err(wrong_type(&param, "an object", part));
                    };
                    if part.get("type").and_then(Value::as_str) == Some("text") {
                        match part.get("text") {
                            Some(Value::String(_)) => {
                                texts.push(TextLocation::Part(message_idx, part_idx))
                            }
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
        if let Some(Value::Array(calls)) = message.get("tool_calls") {
            for (call_idx, call) in calls.iter().enumerate() {
                if call
                    .pointer("/function/arguments")
                    .and_then(Value::as_str)
                    .is_some()
                {
                    texts.push(TextLocation::ToolArguments(message_idx, call_idx));
                }
            }
        }
    }
    Ok(ChatRequest {
        body,
        json,
        model,
        texts,
    })
}

fn pointer(location: TextLocation) -> String {
    match location {
        TextLocation::Content(m) => format!("/messages/{m}/content"),
        TextLocation::Part(m, p) => format!("/messages/{m}/content/{p}/text"),
        TextLocation::ToolArguments(m, c) => {
            format!("/messages/{m}/tool_calls/{c}/function/arguments")
        }
    }
}

/// Evaluates every message text. Returns the combined decision and, when a policy redacts, the body
/// to forward instead of the original.
fn evaluate(
    state: &AppState,
    tenant: &TenantPolicies,
    request: &ChatRequest,
) -> (Decision, Option<Bytes>) {
    let mut combined = Decision::allow_nothing();
    let mut redacted_json: Option<Value> = None;
    for location in &request.texts {
        let path = pointer(*location);
        let Some(text) = request.json.pointer(&path).and_then(Value::as_str) else {
            continue;
        };
        let mut decision = state.policies().evaluate(tenant, text);
        if let Some(redacted) = decision.redacted_text.take() {
            let target = redacted_json.get_or_insert_with(|| request.json.clone());
            if let Some(slot) = target.pointer_mut(&path) {
                *slot = Value::String(redacted);
            }
        }
        combined = combined.merge(decision);
    }
    let redacted_body = redacted_json
        .and_then(|json| serde_json::to_vec(&json).ok())
        .map(Bytes::from);
    (combined, redacted_body)
}

fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

fn provider_key(headers: &HeaderMap) -> Result<ProviderKey, OpenAiError> {
    let key = headers
        .get(PROVIDER_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or(OpenAiError::MissingProviderKey)?;
    Ok(ProviderKey(key.to_owned()))
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
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let trace_id = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(TraceId::from_traceparent)
        .unwrap_or_else(TraceId::generate);
    let prepared = provider_key(&headers).and_then(|key| {
        let body = body_or_error(body, state.config().max_body_bytes)?;
        Ok((key, parse(body)?))
    });
    let mut response = match prepared {
        Err(error) => error.into_response(),
        Ok((key, request)) => {
            // The decision, the upstream call and the audit write run in their own task so that a
            // client that disconnects mid-request still leaves its audit row behind.
            let task = tokio::spawn(decide_and_forward(
                state,
                caller,
                key,
                request,
                trace_id.clone(),
            ));
            match task.await {
                Ok(response) => response,
                Err(join_error) => {
                    tracing::error!(error = %join_error, "chat completion task failed");
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
    response_model: Option<String>,
    error: Option<&'static str>,
}

fn token_count(usage: &Value, field: &str) -> u32 {
    usage
        .get(field)
        .and_then(Value::as_u64)
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
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

async fn decide_and_forward(
    state: AppState,
    caller: Caller,
    key: ProviderKey,
    request: ChatRequest,
    trace_id: TraceId,
) -> Response {
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
    let (decision, redacted_body) = evaluate(&state, &tenant, &request);
    let mut metadata = json!({
        "policies": decision.policy_ids(),
        "matches": decisions::matches_json(&decision),
        "frameworks": decision.frameworks(),
    });
    // Flags are recorded when set, keeping the typical row small.
    if decision.truncated {
        metadata["scan_truncated"] = Value::Bool(true);
    }
    if redacted_body.is_some() {
        metadata["redacted"] = Value::Bool(true);
    }
    let base = AuditRecord {
        decision_id,
        source: AuditSource::OpenAiGateway,
        client_id: caller.client_id.clone(),
        tenant_id: caller.tenant_id.clone(),
        org_id: caller.org_id.clone(),
        provider: PROVIDER.to_owned(),
        model: request.model.clone(),
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
        tracing::info!(%decision_id, verdict = "deny", model = %request.model, "chat completion denied");
        let mut response = error.into_response();
        set_header(&mut response, DECISION_ID_HEADER, &decision_id.to_string());
        return response;
    }

    let url = format!("{}/chat/completions", state.config().openai_base_url);
    let body = redacted_body.unwrap_or_else(|| request.body.clone());
    let timeout = state.config().upstream_timeout;
    let started = Instant::now();
    let sent = state
        .http()
        .post(&url)
        .bearer_auth(&key.0)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .timeout(timeout)
        .send()
        .await;
    drop(key);
    let upstream = match sent {
        Ok(upstream) => {
            let status = upstream.status();
            let upstream_headers = upstream.headers().clone();
            upstream
                .bytes()
                .await
                .map(|bytes| (status, upstream_headers, bytes))
        }
        Err(error) => Err(error),
    };
    let latency_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);

    let (mut response, outcome) = match upstream {
        Ok((status, upstream_headers, bytes)) => {
            let parsed: Option<Value> = if status.is_success() {
                serde_json::from_slice(&bytes).ok()
            } else {
                None
            };
            let usage = parsed
                .as_ref()
                .and_then(|v| v.get("usage"))
                .cloned()
                .unwrap_or(Value::Null);
            let outcome = Outcome {
                status,
                prompt_tokens: token_count(&usage, "prompt_tokens"),
                completion_tokens: token_count(&usage, "completion_tokens"),
                total_tokens: token_count(&usage, "total_tokens"),
                latency_ms,
                response_model: parsed
                    .as_ref()
                    .and_then(|v| v.get("model"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                error: None,
            };
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
        Err(error) => {
            let timed_out = error.is_timeout();
            // reqwest's message names the URL (the configured base URL), never the key.
            tracing::warn!(%decision_id, error = %error, timed_out, "upstream call failed");
            let error = if timed_out {
                OpenAiError::UpstreamTimeout {
                    timeout_secs: timeout.as_secs().max(1),
                }
            } else {
                OpenAiError::UpstreamUnreachable
            };
            let outcome = Outcome {
                status: error.status(),
                prompt_tokens: 0,
                completion_tokens: 0,
                total_tokens: 0,
                latency_ms,
                response_model: None,
                error: Some(if timed_out {
                    "upstream_timeout"
                } else {
                    "upstream_unreachable"
                }),
            };
            (error.into_response(), outcome)
        }
    };

    let total_tokens = if outcome.total_tokens == 0 {
        outcome
            .prompt_tokens
            .saturating_add(outcome.completion_tokens)
    } else {
        outcome.total_tokens
    };
    let priced_model = outcome.response_model.as_deref().unwrap_or(&request.model);
    let cost = state.pricing().estimate(
        PROVIDER,
        priced_model,
        u64::from(outcome.prompt_tokens),
        u64::from(outcome.completion_tokens),
    );
    metadata["upstream_status"] = json!(outcome.status.as_u16());
    metadata["response_model"] = json!(outcome.response_model);
    metadata["pricing"] = json!({"priced_as": cost.priced_as, "fallback": cost.fallback});
    if let Some(error) = outcome.error {
        metadata["error"] = json!(error);
    }
    let counted_client = base.client_id.clone();
    let counted_caller = caller;
    let record = AuditRecord {
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
        model = %request.model,
        status = outcome.status.as_u16(),
        latency_ms = outcome.latency_ms,
        "chat completion forwarded"
    );
    set_header(&mut response, DECISION_ID_HEADER, &decision_id.to_string());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_error(body: &str, expected_code: &str) {
        match parse(Bytes::from(body.to_owned())) {
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
            r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
            "StreamNotSupported",
        );
    }

    #[test]
    fn every_text_is_located() {
        let body = r#"{"model":"m","messages":[
            {"role":"system","content":"be nice"},
            {"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]}
        ]}"#;
        let request = parse(Bytes::from(body)).expect("valid");
        assert_eq!(
            request.texts,
            [
                TextLocation::Content(0),
                TextLocation::Part(1, 0),
                TextLocation::Part(1, 2),
                TextLocation::ToolArguments(2, 0)
            ]
        );
        assert_eq!(request.model, "m");
    }
}
