//! Anthropic Messages API (`/v1/messages`): the request built from the neutral chat, and the
//! message answer read back into an OpenAI completion.

use http::header::HeaderName;
use http::HeaderValue;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::answer::{self, Choice, ToolCall};
use crate::chat::{self, Caps, Chat, Files, ImageFormat, Media, Part, ToolChoice};
use crate::error::{ProviderError, TranslateError};
use crate::kind::ProviderKind;
use crate::outgoing;
use crate::translate::{Completion, OutgoingRequest, Target};

const KIND: ProviderKind = ProviderKind::Anthropic;

/// The API version sent in `anthropic-version`.
const API_VERSION: &str = "2023-06-01";

/// `max_tokens` when the client gave none (Anthropic requires one).
pub(crate) const DEFAULT_MAX_TOKENS: u64 = 4096;

const CAPS: Caps = Caps {
    kind: KIND,
    system_anywhere: false,
    image_urls: true,
    common_images_only: true,
    audio_input: false,
    files: Files::Pdf,
    tool_result_names: false,
    max_temperature: 1.0,
    n: false,
    seed: false,
    penalties: false,
    json_object: false,
    json_schema: false,
    tool_choice_required: true,
    tool_choice_named: true,
    serial_tool_calls: true,
    reasoning_effort: false,
};

pub(crate) fn build(
    target: &Target<'_>,
    request: &Value,
) -> Result<OutgoingRequest, TranslateError> {
    let key = outgoing::secret(target)?;
    let chat = chat::read(request, &CAPS)?;
    let mut headers = outgoing::json_headers();
    outgoing::secret_header(&mut headers, HeaderName::from_static("x-api-key"), key)?;
    headers.insert(
        HeaderName::from_static("anthropic-version"),
        HeaderValue::from_static(API_VERSION),
    );
    let url = outgoing::url(target.endpoint, format_args!("/v1/messages"));
    outgoing::request(url, headers, &wire_request(target.model, &chat)?)
}

#[derive(Serialize)]
struct Request<'c> {
    model: &'c str,
    max_tokens: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<Block<'c>>,
    messages: Vec<Message<'c>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Tool<'c>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice<'c>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'c [&'c str],
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata<'c>>,
}

#[derive(Serialize)]
struct Message<'c> {
    role: &'static str,
    content: Vec<Block<'c>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'c> {
    Text {
        text: &'c str,
    },
    Image {
        source: Source<'c>,
    },
    Document {
        source: Source<'c>,
    },
    ToolUse {
        id: &'c str,
        name: &'c str,
        input: &'c Value,
    },
    ToolResult {
        tool_use_id: &'c str,
        content: &'c str,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Source<'c> {
    Base64 { media_type: &'c str, data: &'c str },
    Url { url: &'c str },
}

#[derive(Serialize)]
struct Tool<'c> {
    name: &'c str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'c str>,
    input_schema: &'c Value,
}

#[derive(Serialize)]
struct WireToolChoice<'c> {
    #[serde(rename = "type")]
    choice: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'c str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disable_parallel_tool_use: Option<bool>,
}

#[derive(Serialize)]
struct Metadata<'c> {
    user_id: &'c str,
}

fn wire_request<'c>(model: &'c str, chat: &'c Chat<'_>) -> Result<Request<'c>, TranslateError> {
    let messages = chat::turns(&chat.messages, "assistant", block)?
        .into_iter()
        .map(|(role, content)| Message { role, content })
        .collect();
    let serial = (!chat.parallel_tool_calls).then_some(true);
    let tool_choice = match chat.tool_choice {
        Some(ToolChoice::None) => Some(("none", None)),
        Some(ToolChoice::Auto) => Some(("auto", None)),
        Some(ToolChoice::Required) => Some(("any", None)),
        Some(ToolChoice::Named(name)) => Some(("tool", Some(name))),
        None if serial.is_some() => Some(("auto", None)),
        None => None,
    }
    .map(|(choice, name)| WireToolChoice {
        choice,
        name,
        disable_parallel_tool_use: if choice == "none" { None } else { serial },
    });
    Ok(Request {
        model,
        max_tokens: chat.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        system: chat
            .system
            .iter()
            .map(|text| Block::Text { text })
            .collect(),
        messages,
        tools: chat
            .tools
            .iter()
            .map(|tool| Tool {
                name: tool.name,
                description: tool.description,
                input_schema: &tool.parameters,
            })
            .collect(),
        tool_choice,
        temperature: chat.temperature,
        top_p: chat.top_p,
        stop_sequences: &chat.stop,
        metadata: chat.user.map(|user_id| Metadata { user_id }),
    })
}

/// One content block. Parts Anthropic cannot take were refused by `chat::read`.
fn block<'c>(part: &'c Part<'_>) -> Result<Block<'c>, TranslateError> {
    Ok(match part {
        Part::Text(text) => Block::Text { text },
        Part::Image(Media::Inline(data)) => Block::Image {
            source: Source::Base64 {
                media_type: ImageFormat::from_mime(data.mime)
                    .map(ImageFormat::mime)
                    .unwrap_or(data.mime),
                data: data.data,
            },
        },
        Part::Image(Media::Url(url)) => Block::Image {
            source: Source::Url { url },
        },
        Part::File { data, .. } => Block::Document {
            source: Source::Base64 {
                media_type: "application/pdf",
                data: data.data,
            },
        },
        Part::ToolCall(call) => Block::ToolUse {
            id: &call.id,
            name: call.name,
            input: &call.input,
        },
        Part::ToolResult(result) => Block::ToolResult {
            tool_use_id: &result.id,
            content: &result.content,
        },
        Part::Audio { .. } => return Err(chat::unexpected_part(KIND)),
    })
}

#[derive(Deserialize)]
struct Answer {
    id: Option<String>,
    model: Option<String>,
    content: Vec<Content>,
    stop_reason: Option<String>,
    #[serde(default)]
    usage: AnswerUsage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Content {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// Thinking blocks and anything else are not part of the answer's content.
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
struct AnswerUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

pub(crate) fn parse(
    model_sent: &str,
    status: u16,
    body: &[u8],
) -> Result<Completion, ProviderError> {
    let answer: Answer = answer::read(KIND, status, body)?;
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    for content in &answer.content {
        match content {
            Content::Text { text } => texts.push(text.as_str()),
            Content::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                id: id.clone(),
                name: name.clone(),
                arguments: answer::arguments(input),
                thought_signature: None,
            }),
            Content::Other => {}
        }
    }
    let usage = &answer.usage;
    let choice = Choice {
        content: answer::joined_text(texts),
        finish: answer::finish(answer.stop_reason.as_deref(), !tool_calls.is_empty()),
        tool_calls,
    };
    answer::completion(
        KIND,
        answer.id,
        answer.model.unwrap_or_else(|| model_sent.to_owned()),
        &[choice],
        answer::usage(
            usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens,
            usage.output_tokens,
            None,
        ),
    )
}
