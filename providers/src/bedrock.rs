//! Amazon Bedrock Converse API (`/model/<modelId>/converse`): the request built from the neutral
//! chat and signed with SigV4, and the Converse answer read back into an OpenAI completion.

use std::time::SystemTime;

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::answer::{self, Choice, ToolCall};
use crate::chat::{self, Caps, Chat, Files, ImageFormat, Media, Part, ToolChoice};
use crate::error::{ProviderError, TranslateError};
use crate::kind::ProviderKind;
use crate::outgoing::{self, segment};
use crate::translate::{Completion, OutgoingRequest, Target};

const KIND: ProviderKind = ProviderKind::Bedrock;

/// The SigV4 signing name of the Bedrock runtime.
const SIGNING_NAME: &str = "bedrock";

const CAPS: Caps = Caps {
    kind: KIND,
    system_anywhere: false,
    image_urls: false,
    common_images_only: true,
    audio_input: false,
    files: Files::Documents,
    tool_result_names: false,
    max_temperature: 1.0,
    n: false,
    seed: false,
    penalties: false,
    json_object: false,
    json_schema: false,
    tool_choice_required: true,
    tool_choice_named: true,
    serial_tool_calls: false,
    reasoning_effort: false,
};

pub(crate) fn build(
    target: &Target<'_>,
    request: &Value,
    now: SystemTime,
) -> Result<OutgoingRequest, TranslateError> {
    let keys = AwsKeys::parse(outgoing::secret(target)?)?;
    let region = target
        .region
        .filter(|region| !region.is_empty())
        .ok_or_else(|| TranslateError {
            param: None,
            message: "this bedrock provider has no region: SigV4 signing needs one".to_owned(),
        })?;
    let chat = chat::read(request, &CAPS)?;
    let body = outgoing::to_json(&wire_request(&chat)?)?;
    let url = outgoing::url(
        target.endpoint,
        format_args!("/model/{}/converse", segment(target.model)),
    );
    let mut headers = outgoing::json_headers();
    sign_into(&mut headers, &url, &body, region, &keys, now)?;
    Ok(OutgoingRequest { url, headers, body })
}

/// `ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`, split. Errors never repeat any of it.
struct AwsKeys<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: Option<&'a str>,
}

impl<'a> AwsKeys<'a> {
    fn parse(secret: &'a str) -> Result<AwsKeys<'a>, TranslateError> {
        let mut fields = secret.splitn(3, ':');
        let access_key_id = fields.next().unwrap_or_default();
        let secret_access_key = fields.next().unwrap_or_default();
        let session_token = fields.next().filter(|token| !token.is_empty());
        if access_key_id.is_empty() || secret_access_key.is_empty() {
            return Err(TranslateError {
                param: None,
                message:
                    "bedrock credentials must be ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]"
                        .to_owned(),
            });
        }
        Ok(AwsKeys {
            access_key_id,
            secret_access_key,
            session_token,
        })
    }
}

fn signing_failed() -> TranslateError {
    TranslateError {
        param: None,
        message: "the bedrock request could not be signed (check the endpoint, region and credentials format)"
            .to_owned(),
    }
}

/// Signs the `POST` (its URL, `content-type` and body) and adds the signature headers, the
/// secret-bearing ones marked sensitive.
fn sign_into(
    headers: &mut HeaderMap,
    url: &str,
    body: &[u8],
    region: &str,
    keys: &AwsKeys<'_>,
    now: SystemTime,
) -> Result<(), TranslateError> {
    let identity: Identity = aws_credential_types::Credentials::new(
        keys.access_key_id,
        keys.secret_access_key,
        keys.session_token.map(str::to_owned),
        None,
        "axonflow",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SIGNING_NAME)
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|_| signing_failed())?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url,
        [("content-type", "application/json")].into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|_| signing_failed())?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|_| signing_failed())?
        .into_parts();
    let (signed, _query) = instructions.into_parts();
    for header in signed {
        let name =
            HeaderName::from_bytes(header.name().as_bytes()).map_err(|_| signing_failed())?;
        let mut value = HeaderValue::from_str(header.value()).map_err(|_| signing_failed())?;
        value.set_sensitive(header.sensitive() || name == http::header::AUTHORIZATION);
        headers.insert(name, value);
    }
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'c> {
    messages: Vec<Message<'c>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<Text<'c>>,
    #[serde(skip_serializing_if = "InferenceConfig::is_empty")]
    inference_config: InferenceConfig<'c>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig<'c>>,
}

#[derive(Serialize)]
struct Message<'c> {
    role: &'static str,
    content: Vec<Block<'c>>,
}

#[derive(Serialize)]
struct Text<'c> {
    text: &'c str,
}

/// A Converse content block: a union written as an object with one key.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Block<'c> {
    Text(&'c str),
    Image(Image<'c>),
    Document(Document<'c>),
    ToolUse(ToolUse<'c>),
    ToolResult(ToolResult<'c>),
}

#[derive(Serialize)]
struct Image<'c> {
    format: &'static str,
    source: Bytes<'c>,
}

#[derive(Serialize)]
struct Document<'c> {
    format: &'static str,
    name: String,
    source: Bytes<'c>,
}

/// Base64 bytes, as Converse's JSON blobs are.
#[derive(Serialize)]
struct Bytes<'c> {
    bytes: &'c str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolUse<'c> {
    tool_use_id: &'c str,
    name: &'c str,
    input: &'c Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolResult<'c> {
    tool_use_id: &'c str,
    content: [ResultContent<'c>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum ResultContent<'c> {
    Text(&'c str),
    Json(Value),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig<'c> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'c [&'c str],
}

impl InferenceConfig<'_> {
    fn is_empty(&self) -> bool {
        self.max_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.stop_sequences.is_empty()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig<'c> {
    tools: Vec<ToolSpec<'c>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice<'c>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolSpec<'c> {
    tool_spec: ToolDefinition<'c>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolDefinition<'c> {
    name: &'c str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'c str>,
    input_schema: Schema<'c>,
}

#[derive(Serialize)]
struct Schema<'c> {
    json: &'c Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum WireToolChoice<'c> {
    Auto(Empty),
    Any(Empty),
    Tool { name: &'c str },
}

/// `{}`.
#[derive(Serialize)]
struct Empty {}

fn wire_request<'c>(chat: &'c Chat<'_>) -> Result<Request<'c>, TranslateError> {
    let mut documents = 0;
    let messages = chat::turns(&chat.messages, "assistant", |part| {
        block(part, &mut documents)
    })?
    .into_iter()
    .map(|(role, content)| Message { role, content })
    .collect();
    Ok(Request {
        messages,
        system: chat.system.iter().map(|text| Text { text }).collect(),
        inference_config: InferenceConfig {
            max_tokens: chat.max_tokens,
            temperature: chat.temperature,
            top_p: chat.top_p,
            stop_sequences: &chat.stop,
        },
        tool_config: tool_config(chat)?,
    })
}

/// `toolConfig`. Converse has no "no tools" choice: `tool_choice: "none"` leaves the tools out,
/// which Converse accepts only when the conversation holds no tool calls or results.
fn tool_config<'c>(chat: &'c Chat<'_>) -> Result<Option<ToolConfig<'c>>, TranslateError> {
    if chat.tools.is_empty() {
        return Ok(None);
    }
    let tool_choice = match chat.tool_choice {
        None => None,
        Some(ToolChoice::Auto) => Some(WireToolChoice::Auto(Empty {})),
        Some(ToolChoice::Required) => Some(WireToolChoice::Any(Empty {})),
        Some(ToolChoice::Named(name)) => Some(WireToolChoice::Tool { name }),
        Some(ToolChoice::None) => {
            let tool_history = chat.messages.iter().any(|message| {
                message
                    .parts
                    .iter()
                    .any(|part| matches!(part, Part::ToolCall(_) | Part::ToolResult(_)))
            });
            if tool_history {
                return Err(chat::refuse(
                    "tool_choice",
                    "bedrock cannot forbid tool calls in a conversation that holds tool calls",
                ));
            }
            return Ok(None);
        }
    };
    Ok(Some(ToolConfig {
        tools: chat
            .tools
            .iter()
            .map(|tool| ToolSpec {
                tool_spec: ToolDefinition {
                    name: tool.name,
                    description: tool.description,
                    input_schema: Schema {
                        json: &tool.parameters,
                    },
                },
            })
            .collect(),
        tool_choice,
    }))
}

/// One content block. Parts Bedrock cannot take were refused by `chat::read`.
fn block<'c>(part: &'c Part<'_>, documents: &mut usize) -> Result<Block<'c>, TranslateError> {
    Ok(match part {
        Part::Text(text) => Block::Text(text),
        Part::Image(Media::Inline(data)) => Block::Image(Image {
            format: ImageFormat::from_mime(data.mime)
                .ok_or_else(|| chat::unexpected_part(KIND))?
                .name(),
            source: Bytes { bytes: data.data },
        }),
        Part::File { data, filename } => {
            *documents += 1;
            Block::Document(Document {
                format: chat::document_format(data.mime)
                    .ok_or_else(|| chat::unexpected_part(KIND))?,
                name: document_name(*filename, *documents),
                source: Bytes { bytes: data.data },
            })
        }
        Part::ToolCall(call) => Block::ToolUse(ToolUse {
            tool_use_id: &call.id,
            name: call.name,
            input: &call.input,
        }),
        Part::ToolResult(result) => Block::ToolResult(ToolResult {
            tool_use_id: &result.id,
            content: [match chat::json_object(&result.content) {
                Some(json) => ResultContent::Json(json),
                None => ResultContent::Text(&result.content),
            }],
        }),
        Part::Image(Media::Url(_)) | Part::Audio { .. } => return Err(chat::unexpected_part(KIND)),
    })
}

/// A document name Converse accepts (letters, digits, single spaces, hyphens, parentheses and
/// square brackets), from the file name without its extension; `document-<n>` when none is left.
fn document_name(filename: Option<&str>, number: usize) -> String {
    let stem = filename
        .map(|name| name.rsplit_once('.').map_or(name, |(stem, _)| stem))
        .unwrap_or_default();
    let mut name = String::with_capacity(stem.len());
    for c in stem.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '(' | ')' | '[' | ']') {
            c
        } else if c.is_whitespace() {
            ' '
        } else {
            '-'
        };
        if !(c == ' ' && name.ends_with(' ')) {
            name.push(c);
        }
    }
    let name = name.trim();
    if name.is_empty() {
        format!("document-{number}")
    } else {
        name.to_owned()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    output: Output,
    stop_reason: Option<String>,
    #[serde(default)]
    usage: AnswerUsage,
}

#[derive(Deserialize)]
struct Output {
    message: AnswerMessage,
}

#[derive(Deserialize)]
struct AnswerMessage {
    #[serde(default)]
    content: Vec<AnswerBlock>,
}

/// A content block of the answer; reasoning and other blocks are not part of the content.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerBlock {
    text: Option<String>,
    tool_use: Option<AnswerToolUse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerToolUse {
    tool_use_id: String,
    name: String,
    #[serde(default)]
    input: Value,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AnswerUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    total_tokens: Option<u64>,
}

pub(crate) fn parse(
    model_sent: &str,
    status: u16,
    body: &[u8],
) -> Result<Completion, ProviderError> {
    let answer: Answer = answer::read(KIND, status, body)?;
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    for block in answer.output.message.content {
        if let Some(text) = block.text {
            texts.push(text);
        } else if let Some(call) = block.tool_use {
            tool_calls.push(ToolCall {
                id: call.tool_use_id,
                name: call.name,
                arguments: answer::arguments(&call.input),
                thought_signature: None,
            });
        }
    }
    let choice = Choice {
        content: answer::joined_text(texts.iter().map(String::as_str)),
        finish: answer::finish(answer.stop_reason.as_deref(), !tool_calls.is_empty()),
        tool_calls,
    };
    answer::completion(
        KIND,
        None,
        model_sent.to_owned(),
        &[choice],
        answer::usage(
            answer.usage.input_tokens,
            answer.usage.output_tokens,
            answer.usage.total_tokens,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_names() {
        assert_eq!(
            document_name(Some("Q3  report_v2.final.pdf"), 1),
            "Q3 report-v2-final"
        );
        assert_eq!(document_name(Some(".pdf"), 2), "document-2");
        assert_eq!(document_name(None, 3), "document-3");
    }
}
