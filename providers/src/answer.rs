//! The answer side every adapter shares: an OpenAI `chat.completion` built from a provider's
//! choices, the providers' stop reasons mapped to OpenAI's four finish reasons, and a provider's
//! error answer read into a `ProviderError` with its own message kept.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ProviderError;
use crate::kind::ProviderKind;
use crate::translate::{Completion, Usage};

/// OpenAI's finish reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

impl Finish {
    fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
            Finish::ToolCalls => "tool_calls",
            Finish::ContentFilter => "content_filter",
        }
    }
}

/// Maps any provider's stop reason (Anthropic and Bedrock `stopReason`, Gemini `finishReason`,
/// Ollama `done_reason`) to OpenAI's. An answer that ended normally with tool calls in it ends
/// with `tool_calls`; an unknown or missing reason is `stop`.
pub(crate) fn finish(reason: Option<&str>, has_tool_calls: bool) -> Finish {
    let finish = match reason {
        Some("max_tokens" | "MAX_TOKENS" | "length" | "model_context_window_exceeded") => {
            Finish::Length
        }
        Some("tool_use" | "tool_calls") => Finish::ToolCalls,
        Some(
            "refusal"
            | "guardrail_intervened"
            | "content_filtered"
            | "SAFETY"
            | "RECITATION"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION",
        ) => Finish::ContentFilter,
        _ => Finish::Stop,
    };
    if has_tool_calls && finish == Finish::Stop {
        Finish::ToolCalls
    } else {
        finish
    }
}

/// One answer choice in neutral form.
pub(crate) struct Choice {
    /// `None` when the provider gave no text (OpenAI's `content: null`).
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub finish: Finish,
}

pub(crate) struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as a JSON string, as OpenAI gives them.
    pub arguments: String,
    /// Gemini's `thoughtSignature`, returned in `extra_content.google.thought_signature` (the
    /// place Google's own OpenAI-compatible endpoint uses) so that a client sending the
    /// conversation back carries it.
    pub thought_signature: Option<String>,
}

/// Tool-call arguments as OpenAI gives them: a JSON string (`{}` when the provider gave none).
pub(crate) fn arguments(input: &Value) -> String {
    if input.is_null() {
        "{}".to_owned()
    } else {
        input.to_string()
    }
}

/// Concatenated texts, or `None` when there were none.
pub(crate) fn joined_text<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut texts = texts.into_iter();
    let mut content = texts.next()?.to_owned();
    texts.for_each(|text| content.push_str(text));
    Some(content)
}

/// Token counts with the total computed when the provider gave none.
pub(crate) fn usage(prompt: u64, completion: u64, total: Option<u64>) -> Usage {
    let prompt_tokens = saturate(prompt);
    let completion_tokens = saturate(completion);
    Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: total
            .map(saturate)
            .unwrap_or(prompt_tokens.saturating_add(completion_tokens)),
    }
}

fn saturate(count: u64) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// A fresh `chatcmpl-` id for providers whose answers carry none.
pub(crate) fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())
}

/// The OpenAI `chat.completion` for these choices. `id` is the provider's answer id when it has
/// one.
pub(crate) fn completion(
    kind: ProviderKind,
    id: Option<String>,
    model: String,
    choices: &[Choice],
    usage: Usage,
) -> Result<Completion, ProviderError> {
    let id = id.unwrap_or_else(completion_id);
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default();
    let body = Body {
        id: &id,
        object: "chat.completion",
        created,
        model: &model,
        choices: choices
            .iter()
            .enumerate()
            .map(|(index, choice)| BodyChoice {
                index,
                message: BodyMessage {
                    role: "assistant",
                    content: choice.content.as_deref(),
                    tool_calls: choice
                        .tool_calls
                        .iter()
                        .map(|call| BodyToolCall {
                            id: &call.id,
                            call_type: "function",
                            function: BodyFunction {
                                name: &call.name,
                                arguments: &call.arguments,
                            },
                            extra_content: call.thought_signature.as_deref().map(|signature| {
                                Extra {
                                    google: GoogleExtra {
                                        thought_signature: signature,
                                    },
                                }
                            }),
                        })
                        .collect(),
                    refusal: None,
                },
                finish_reason: choice.finish.as_str(),
                logprobs: None,
            })
            .collect(),
        usage,
    };
    let body = serde_json::to_value(&body).map_err(|error| malformed(kind, &error))?;
    Ok(Completion { body, usage, model })
}

#[derive(Serialize)]
struct Body<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<BodyChoice<'a>>,
    #[serde(serialize_with = "serialize_usage")]
    usage: Usage,
}

#[derive(Serialize)]
struct BodyChoice<'a> {
    index: usize,
    message: BodyMessage<'a>,
    finish_reason: &'static str,
    logprobs: Option<()>,
}

#[derive(Serialize)]
struct BodyMessage<'a> {
    role: &'static str,
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<BodyToolCall<'a>>,
    refusal: Option<()>,
}

#[derive(Serialize)]
struct BodyToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    call_type: &'static str,
    function: BodyFunction<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra_content: Option<Extra<'a>>,
}

#[derive(Serialize)]
struct BodyFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
struct Extra<'a> {
    google: GoogleExtra<'a>,
}

#[derive(Serialize)]
struct GoogleExtra<'a> {
    thought_signature: &'a str,
}

fn serialize_usage<S: serde::Serializer>(usage: &Usage, serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Counts {
        prompt_tokens: u32,
        completion_tokens: u32,
        total_tokens: u32,
    }
    Counts {
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        total_tokens: usage.total_tokens,
    }
    .serialize(serializer)
}

/// A provider's answer: the 2xx body parsed as `T`, or the error it answered.
pub(crate) fn read<T: DeserializeOwned>(
    kind: ProviderKind,
    status: u16,
    body: &[u8],
) -> Result<T, ProviderError> {
    if !(200..300).contains(&status) {
        return Err(upstream_error(kind, status, body));
    }
    serde_json::from_slice(body).map_err(|error| malformed(kind, &error))
}

/// A 2xx answer that is not a chat answer.
pub(crate) fn malformed(kind: ProviderKind, detail: &dyn std::fmt::Display) -> ProviderError {
    ProviderError {
        status: 502,
        error_type: "upstream_error".to_owned(),
        code: None,
        message: format!("{kind} answered with a body that is not a chat answer: {detail}"),
    }
}

/// The error shapes providers answer with: OpenAI and Azure `{error:{message,code,type}}`,
/// Anthropic `{type:"error", error:{type,message}}`, Gemini `{error:{code,message,status}}`,
/// Bedrock `{message}` or `{Message}` (with `__type` at times), Ollama `{error:"..."}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorField>,
    message: Option<String>,
    #[serde(rename = "Message")]
    capital_message: Option<String>,
    #[serde(rename = "__type")]
    aws_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Text(String),
    Detail {
        message: Option<String>,
        code: Option<Value>,
        #[serde(rename = "type")]
        error_type: Option<String>,
        status: Option<String>,
    },
}

/// How much of an unreadable error body is kept.
const BODY_EXCERPT_CHARS: usize = 500;

/// A non-2xx answer as a `ProviderError`: the status kept, OpenAI's error type for it, and the
/// provider's own message and code when its body has them.
pub(crate) fn upstream_error(kind: ProviderKind, status: u16, body: &[u8]) -> ProviderError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let (message, code) = match parsed {
        Some(ErrorBody {
            error: Some(ErrorField::Text(message)),
            ..
        }) => (Some(message), None),
        Some(ErrorBody {
            error:
                Some(ErrorField::Detail {
                    message,
                    code,
                    error_type,
                    status,
                }),
            ..
        }) => {
            let code = match code {
                Some(Value::String(code)) => Some(code),
                _ => status.or(error_type),
            };
            (message, code)
        }
        Some(ErrorBody {
            error: None,
            message,
            capital_message,
            aws_type,
        }) => (
            message.or(capital_message),
            aws_type.map(|name| match name.rsplit_once('#') {
                Some((_, short)) => short.to_owned(),
                None => name,
            }),
        ),
        None => (None, None),
    };
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let excerpt: String = text.trim().chars().take(BODY_EXCERPT_CHARS).collect();
        if excerpt.is_empty() {
            "(empty body)".to_owned()
        } else {
            excerpt
        }
    });
    let error_type = match status {
        400 | 404 | 409 | 413 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        500..=599 => "server_error",
        _ => "upstream_error",
    };
    ProviderError {
        status,
        error_type: error_type.to_owned(),
        code,
        message: format!("{kind} answered {status}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons() {
        assert_eq!(finish(Some("end_turn"), false), Finish::Stop);
        assert_eq!(finish(Some("STOP"), true), Finish::ToolCalls);
        assert_eq!(finish(Some("MAX_TOKENS"), true), Finish::Length);
        assert_eq!(finish(Some("IMAGE_SAFETY"), false), Finish::ContentFilter);
        assert_eq!(finish(None, false), Finish::Stop);
    }

    #[test]
    fn error_excerpts_cut_on_characters() {
        let body = "é".repeat(600);
        let error = upstream_error(ProviderKind::Ollama, 500, body.as_bytes());
        assert_eq!(
            error.message.chars().count(),
            "ollama answered 500: ".len() + BODY_EXCERPT_CHARS
        );
    }

    #[test]
    fn usage_saturates() {
        let usage = usage(u64::MAX, 1, None);
        assert_eq!(usage.prompt_tokens, u32::MAX);
        assert_eq!(usage.total_tokens, u32::MAX);
    }
}
