//! Google Gemini API (`generateContent`): the request built from the neutral chat, and the
//! candidates read back into an OpenAI completion.

use http::header::HeaderName;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::answer::{self, Choice, Finish, ToolCall};
use crate::chat::{self, Caps, Chat, Files, Media, Part, ResponseFormat, ToolChoice};
use crate::error::{ProviderError, TranslateError};
use crate::kind::ProviderKind;
use crate::outgoing::{self, segment};
use crate::translate::{Completion, OutgoingRequest, Target};

const KIND: ProviderKind = ProviderKind::Gemini;

const CAPS: Caps = Caps {
    kind: KIND,
    system_anywhere: false,
    image_urls: true,
    common_images_only: false,
    audio_input: true,
    files: Files::Any,
    tool_result_names: true,
    max_temperature: 2.0,
    n: true,
    seed: true,
    penalties: true,
    json_object: true,
    json_schema: true,
    tool_choice_required: true,
    tool_choice_named: true,
    serial_tool_calls: false,
    reasoning_effort: false,
};

pub(crate) fn build(
    target: &Target<'_>,
    request: &Value,
) -> Result<OutgoingRequest, TranslateError> {
    let key = outgoing::secret(target)?;
    let chat = chat::read(request, &CAPS)?;
    let mut headers = outgoing::json_headers();
    outgoing::secret_header(&mut headers, HeaderName::from_static("x-goog-api-key"), key)?;
    let model = target.model.strip_prefix("models/").unwrap_or(target.model);
    let url = outgoing::url(
        target.endpoint,
        format_args!("/v1beta/models/{}:generateContent", segment(model)),
    );
    outgoing::request(url, headers, &wire_request(&chat)?)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'c> {
    contents: Vec<Content<'c>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<SystemInstruction<'c>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Tools<'c>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig<'c>>,
    #[serde(skip_serializing_if = "GenerationConfig::is_empty")]
    generation_config: GenerationConfig<'c>,
}

#[derive(Serialize)]
struct Content<'c> {
    role: &'static str,
    parts: Vec<WirePart<'c>>,
}

#[derive(Serialize)]
struct SystemInstruction<'c> {
    parts: Vec<WirePart<'c>>,
}

/// A Gemini `Part`: exactly one of the data fields is set (`thoughtSignature` goes with a
/// function call).
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct WirePart<'c> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'c str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inline_data: Option<Blob<'c>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_data: Option<FileData<'c>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_call: Option<FunctionCall<'c>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_response: Option<FunctionResponse<'c>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thought_signature: Option<&'c str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Blob<'c> {
    mime_type: &'c str,
    data: &'c str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileData<'c> {
    #[serde(skip_serializing_if = "Option::is_none")]
    mime_type: Option<&'static str>,
    file_uri: &'c str,
}

#[derive(Serialize)]
struct FunctionCall<'c> {
    name: &'c str,
    args: &'c Value,
}

#[derive(Serialize)]
struct FunctionResponse<'c> {
    name: &'c str,
    response: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Tools<'c> {
    function_declarations: Vec<FunctionDeclaration<'c>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionDeclaration<'c> {
    name: &'c str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'c str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<&'c Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters_json_schema: Option<&'c Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig<'c> {
    function_calling_config: FunctionCallingConfig<'c>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionCallingConfig<'c> {
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_function_names: Option<[&'c str; 1]>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig<'c> {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'c [&'c str],
    #[serde(skip_serializing_if = "Option::is_none")]
    candidate_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_json_schema: Option<&'c Value>,
}

impl GenerationConfig<'_> {
    fn is_empty(&self) -> bool {
        self.temperature.is_none()
            && self.top_p.is_none()
            && self.max_output_tokens.is_none()
            && self.stop_sequences.is_empty()
            && self.candidate_count.is_none()
            && self.seed.is_none()
            && self.presence_penalty.is_none()
            && self.frequency_penalty.is_none()
            && self.response_mime_type.is_none()
    }
}

fn wire_request<'c>(chat: &'c Chat<'_>) -> Result<Request<'c>, TranslateError> {
    let contents = chat::turns(&chat.messages, "model", part)?
        .into_iter()
        .map(|(role, parts)| Content { role, parts })
        .collect();
    let system_instruction = (!chat.system.is_empty()).then(|| SystemInstruction {
        parts: chat
            .system
            .iter()
            .map(|text| WirePart {
                text: Some(text),
                ..WirePart::default()
            })
            .collect(),
    });
    let declarations: Vec<_> = chat
        .tools
        .iter()
        .map(|tool| {
            let subset = within_schema_subset(&tool.parameters);
            FunctionDeclaration {
                name: tool.name,
                description: tool.description,
                parameters: subset.then_some(&*tool.parameters),
                parameters_json_schema: (!subset).then_some(&*tool.parameters),
            }
        })
        .collect();
    let tools = if declarations.is_empty() {
        Vec::new()
    } else {
        vec![Tools {
            function_declarations: declarations,
        }]
    };
    let tool_config = chat.tool_choice.map(|choice| {
        let (mode, allowed) = match choice {
            ToolChoice::None => ("NONE", None),
            ToolChoice::Auto => ("AUTO", None),
            ToolChoice::Required => ("ANY", None),
            ToolChoice::Named(name) => ("ANY", Some([name])),
        };
        ToolConfig {
            function_calling_config: FunctionCallingConfig {
                mode,
                allowed_function_names: allowed,
            },
        }
    });
    let (response_mime_type, response_json_schema) = match chat.response_format {
        Some(ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema(schema)) => (Some("application/json"), Some(schema)),
        None => (None, None),
    };
    Ok(Request {
        contents,
        system_instruction,
        tools,
        tool_config,
        generation_config: GenerationConfig {
            temperature: chat.temperature,
            top_p: chat.top_p,
            max_output_tokens: chat.max_tokens,
            stop_sequences: &chat.stop,
            candidate_count: chat.n,
            seed: chat.seed,
            presence_penalty: chat.presence_penalty,
            frequency_penalty: chat.frequency_penalty,
            response_mime_type,
            response_json_schema,
        },
    })
}

fn part<'c>(part: &'c Part<'_>) -> Result<WirePart<'c>, TranslateError> {
    Ok(match part {
        Part::Text(text) => WirePart {
            text: Some(text),
            ..WirePart::default()
        },
        Part::Image(Media::Inline(data)) | Part::File { data, .. } => WirePart {
            inline_data: Some(Blob {
                mime_type: data.mime,
                data: data.data,
            }),
            ..WirePart::default()
        },
        // Gemini reads whatever a URL holds (a PDF too); only what is named as an image goes.
        Part::Image(Media::Url(url)) => WirePart {
            file_data: Some(FileData {
                mime_type: Some(mime_from_extension(url).ok_or_else(|| {
                    chat::refuse(
                        "image_url.url",
                        "gemini providers take image URLs ending in .png, .jpg, .jpeg, .gif or .webp; \
                         send other images as base64 data: URLs",
                    )
                })?),
                file_uri: url,
            }),
            ..WirePart::default()
        },
        Part::Audio { format, data } => WirePart {
            inline_data: Some(Blob {
                mime_type: match *format {
                    "mp3" => "audio/mp3",
                    "wav" => "audio/wav",
                    _ => return Err(chat::unexpected_part(KIND)),
                },
                data,
            }),
            ..WirePart::default()
        },
        Part::ToolCall(call) => WirePart {
            function_call: Some(FunctionCall {
                name: call.name,
                args: &call.input,
            }),
            thought_signature: call.signature,
            ..WirePart::default()
        },
        Part::ToolResult(result) => WirePart {
            function_response: Some(FunctionResponse {
                name: result.name.ok_or_else(|| chat::unexpected_part(KIND))?,
                response: chat::json_object(&result.content).unwrap_or_else(|| {
                    let mut response = Map::new();
                    response.insert(
                        "content".to_owned(),
                        Value::String(result.content.to_string()),
                    );
                    Value::Object(response)
                }),
            }),
            ..WirePart::default()
        },
    })
}

/// The media type of an image URL's file extension, when it is a common image type.
fn mime_from_extension(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    match extension.as_str() {
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

/// The keywords of Gemini's `Schema` (an OpenAPI 3.0 subset).
const SCHEMA_KEYWORDS: [&str; 22] = [
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

/// Whether a JSON Schema fits Gemini's `Schema` as it stands: only its keywords, single types.
/// Schemas that do not are sent whole as `parametersJsonSchema`.
fn within_schema_subset(schema: &Value) -> bool {
    let Some(schema) = schema.as_object() else {
        return false;
    };
    schema
        .iter()
        .all(|(keyword, value)| match keyword.as_str() {
            "type" => value.is_string(),
            "properties" => value
                .as_object()
                .is_some_and(|properties| properties.values().all(within_schema_subset)),
            "items" => within_schema_subset(value),
            "anyOf" => value
                .as_array()
                .is_some_and(|schemas| schemas.iter().all(within_schema_subset)),
            other => SCHEMA_KEYWORDS.contains(&other),
        })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    #[serde(default)]
    candidates: Vec<Candidate>,
    usage_metadata: Option<UsageMetadata>,
    model_version: Option<String>,
    response_id: Option<String>,
    prompt_feedback: Option<PromptFeedback>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    content: Option<AnswerContent>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct AnswerContent {
    #[serde(default)]
    parts: Vec<AnswerPart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerPart {
    text: Option<String>,
    #[serde(default)]
    thought: bool,
    function_call: Option<AnswerCall>,
    thought_signature: Option<String>,
}

#[derive(Deserialize)]
struct AnswerCall {
    id: Option<String>,
    name: String,
    #[serde(default)]
    args: Value,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
    total_token_count: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    block_reason: Option<String>,
}

pub(crate) fn parse(
    model_sent: &str,
    status: u16,
    body: &[u8],
) -> Result<Completion, ProviderError> {
    let answer: Answer = answer::read(KIND, status, body)?;
    let mut next_call = 0;
    let mut choices: Vec<Choice> = answer
        .candidates
        .into_iter()
        .map(|candidate| {
            let parts = candidate
                .content
                .map(|content| content.parts)
                .unwrap_or_default();
            let mut texts = Vec::new();
            let mut tool_calls = Vec::new();
            for part in parts.into_iter().filter(|part| !part.thought) {
                if let Some(call) = part.function_call {
                    let id = call.id.unwrap_or_else(|| format!("call_{next_call}"));
                    next_call += 1;
                    tool_calls.push(ToolCall {
                        id,
                        name: call.name,
                        arguments: answer::arguments(&call.args),
                        thought_signature: part.thought_signature,
                    });
                } else if let Some(text) = part.text {
                    texts.push(text);
                }
            }
            Choice {
                content: answer::joined_text(texts.iter().map(String::as_str)),
                finish: answer::finish(candidate.finish_reason.as_deref(), !tool_calls.is_empty()),
                tool_calls,
            }
        })
        .collect();
    if choices.is_empty() {
        if answer
            .prompt_feedback
            .and_then(|feedback| feedback.block_reason)
            .is_none()
        {
            return Err(answer::malformed(
                KIND,
                &"no candidates and no block reason",
            ));
        }
        choices.push(Choice {
            content: None,
            tool_calls: Vec::new(),
            finish: Finish::ContentFilter,
        });
    }
    let usage = answer.usage_metadata.unwrap_or_default();
    answer::completion(
        KIND,
        answer.response_id,
        answer
            .model_version
            .unwrap_or_else(|| model_sent.to_owned()),
        &choices,
        answer::usage(
            usage.prompt_token_count,
            usage.candidates_token_count + usage.thoughts_token_count,
            usage.total_token_count,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_subset() {
        assert!(within_schema_subset(&json!({
            "type": "object",
            "properties": {"a": {"type": "array", "items": {"type": "string", "enum": ["x"]}}},
            "required": ["a"]
        })));
        for outside in [
            json!({"type": "object", "additionalProperties": false}),
            json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}),
            json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}}),
            json!({"type": "array", "items": {"const": 1}}),
            json!({"anyOf": [{"type": "string"}, {"oneOf": []}]}),
            json!({"type": ["string", "null"]}),
        ] {
            assert!(!within_schema_subset(&outside), "{outside}");
        }
    }

    #[test]
    fn url_media_types() {
        assert_eq!(
            mime_from_extension("https://x.test/a.webp#f"),
            Some("image/webp")
        );
        assert_eq!(mime_from_extension("https://x.test/a"), None);
    }
}
