//! Ollama's native chat API (`/api/chat`): the request built from the neutral chat (system
//! messages kept in place, one Ollama message per OpenAI message), and the answer read back into
//! an OpenAI completion.

use std::borrow::Cow;

use http::header::AUTHORIZATION;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::answer::{self, Choice, ToolCall};
use crate::chat::{self, Caps, Chat, Files, Media, Part, ResponseFormat, Role, ToolChoice};
use crate::error::{ProviderError, TranslateError};
use crate::kind::ProviderKind;
use crate::outgoing;
use crate::translate::{Completion, OutgoingRequest, Target};

const KIND: ProviderKind = ProviderKind::Ollama;

const CAPS: Caps = Caps {
    kind: KIND,
    system_anywhere: true,
    image_urls: false,
    common_images_only: false,
    audio_input: false,
    files: Files::None,
    tool_result_names: false,
    max_temperature: 2.0,
    n: false,
    seed: true,
    penalties: true,
    json_object: true,
    json_schema: true,
    tool_choice_required: false,
    tool_choice_named: false,
    serial_tool_calls: false,
    reasoning_effort: true,
};

pub(crate) fn build(
    target: &Target<'_>,
    request: &Value,
) -> Result<OutgoingRequest, TranslateError> {
    let chat = chat::read(request, &CAPS)?;
    let mut headers = outgoing::json_headers();
    if let Some(credentials) = target.credentials {
        outgoing::secret_header(
            &mut headers,
            AUTHORIZATION,
            &format!("Bearer {}", credentials.expose()),
        )?;
    }
    let url = outgoing::url(target.endpoint, format_args!("/api/chat"));
    outgoing::request(url, headers, &wire_request(target.model, &chat)?)
}

#[derive(Serialize)]
struct Request<'c> {
    model: &'c str,
    messages: Vec<Message<'c>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Tool<'c>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<Format<'c>>,
    #[serde(skip_serializing_if = "Options::is_empty")]
    options: Options<'c>,
    #[serde(skip_serializing_if = "Option::is_none")]
    think: Option<Think<'c>>,
    stream: bool,
}

#[derive(Serialize)]
struct Message<'c> {
    role: &'static str,
    content: Cow<'c, str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    images: Vec<&'c str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireToolCall<'c>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_name: Option<&'c str>,
}

#[derive(Serialize)]
struct WireToolCall<'c> {
    function: WireFunction<'c>,
}

#[derive(Serialize)]
struct WireFunction<'c> {
    name: &'c str,
    arguments: &'c Value,
}

/// A tool in OpenAI's format, which Ollama takes as is.
#[derive(Serialize)]
struct Tool<'c> {
    #[serde(rename = "type")]
    tool_type: &'static str,
    function: ToolFunction<'c>,
}

#[derive(Serialize)]
struct ToolFunction<'c> {
    name: &'c str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'c str>,
    parameters: &'c Value,
}

/// `"json"` or a JSON Schema.
#[derive(Serialize)]
#[serde(untagged)]
enum Format<'c> {
    Json(&'static str),
    Schema(&'c Value),
}

/// `false` or a level (`low`, `medium`, `high`).
#[derive(Serialize)]
#[serde(untagged)]
enum Think<'c> {
    Off(bool),
    Level(&'c str),
}

#[derive(Serialize)]
struct Options<'c> {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_predict: Option<u64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop: &'c [&'c str],
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
}

impl Options<'_> {
    fn is_empty(&self) -> bool {
        self.temperature.is_none()
            && self.top_p.is_none()
            && self.seed.is_none()
            && self.num_predict.is_none()
            && self.stop.is_empty()
            && self.presence_penalty.is_none()
            && self.frequency_penalty.is_none()
    }
}

fn wire_request<'c>(model: &'c str, chat: &'c Chat<'_>) -> Result<Request<'c>, TranslateError> {
    let messages = chat
        .messages
        .iter()
        .map(|message| {
            let mut images = Vec::new();
            let mut tool_calls = Vec::new();
            let mut tool_name = None;
            let mut content = chat::join_lines(chat::texts(&message.parts));
            for part in &message.parts {
                match part {
                    Part::Text(_) => {}
                    Part::Image(Media::Inline(data)) => images.push(data.data),
                    Part::ToolCall(call) => tool_calls.push(WireToolCall {
                        function: WireFunction {
                            name: call.name,
                            arguments: &call.input,
                        },
                    }),
                    Part::ToolResult(result) => {
                        tool_name = result.name;
                        content = Cow::Borrowed(&result.content);
                    }
                    Part::Image(Media::Url(_)) | Part::Audio { .. } | Part::File { .. } => {
                        return Err(chat::unexpected_part(KIND))
                    }
                }
            }
            Ok(Message {
                role: match message.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                    Role::Tool => "tool",
                },
                content,
                images,
                tool_calls,
                tool_name,
            })
        })
        .collect::<Result<_, TranslateError>>()?;
    let think = match chat.reasoning_effort {
        None => None,
        Some("none") => Some(Think::Off(false)),
        Some(level @ ("low" | "medium" | "high")) => Some(Think::Level(level)),
        Some(other) => {
            return Err(chat::refuse(
                "reasoning_effort",
                format!(
                "ollama providers take reasoning_effort none, low, medium or high, not `{other}`"
            ),
            ))
        }
    };
    // Ollama has no tool choice: "none" is expressed by sending no tools.
    let tools = if chat.tool_choice == Some(ToolChoice::None) {
        Vec::new()
    } else {
        chat.tools
            .iter()
            .map(|tool| Tool {
                tool_type: "function",
                function: ToolFunction {
                    name: tool.name,
                    description: tool.description,
                    parameters: &tool.parameters,
                },
            })
            .collect()
    };
    Ok(Request {
        model,
        messages,
        tools,
        format: chat.response_format.as_ref().map(|format| match format {
            ResponseFormat::JsonObject => Format::Json("json"),
            ResponseFormat::JsonSchema(schema) => Format::Schema(schema),
        }),
        options: Options {
            temperature: chat.temperature,
            top_p: chat.top_p,
            seed: chat.seed,
            num_predict: chat.max_tokens,
            stop: &chat.stop,
            presence_penalty: chat.presence_penalty,
            frequency_penalty: chat.frequency_penalty,
        },
        think,
        stream: false,
    })
}

#[derive(Deserialize)]
struct Answer {
    model: Option<String>,
    message: AnswerMessage,
    done_reason: Option<String>,
    #[serde(default)]
    prompt_eval_count: u64,
    #[serde(default)]
    eval_count: u64,
}

/// The answer message; `thinking` is not part of the content.
#[derive(Deserialize)]
struct AnswerMessage {
    #[serde(default)]
    content: String,
    #[serde(default)]
    tool_calls: Vec<AnswerToolCall>,
}

#[derive(Deserialize)]
struct AnswerToolCall {
    id: Option<String>,
    function: AnswerFunction,
}

#[derive(Deserialize)]
struct AnswerFunction {
    name: String,
    #[serde(default)]
    arguments: Value,
}

pub(crate) fn parse(
    model_sent: &str,
    status: u16,
    body: &[u8],
) -> Result<Completion, ProviderError> {
    let answer: Answer = answer::read(KIND, status, body)?;
    let tool_calls: Vec<ToolCall> = answer
        .message
        .tool_calls
        .into_iter()
        .enumerate()
        .map(|(n, call)| ToolCall {
            id: call.id.unwrap_or_else(|| format!("call_{n}")),
            name: call.function.name,
            arguments: answer::arguments(&call.function.arguments),
            thought_signature: None,
        })
        .collect();
    let content = answer.message.content;
    let choice = Choice {
        content: (!content.is_empty() || tool_calls.is_empty()).then_some(content),
        finish: answer::finish(answer.done_reason.as_deref(), !tool_calls.is_empty()),
        tool_calls,
    };
    answer::completion(
        KIND,
        None,
        answer.model.unwrap_or_else(|| model_sent.to_owned()),
        &[choice],
        answer::usage(answer.prompt_eval_count, answer.eval_count, None),
    )
}
