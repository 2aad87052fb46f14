//! An OpenAI Chat Completions request read into a provider-neutral form for the adapters that
//! rewrite it (all but OpenAI and Azure). What the target provider cannot express is refused here,
//! naming the parameter, so that the adapters only map; nothing that changes the answer is dropped.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::TranslateError;
use crate::kind::ProviderKind;

/// What one provider type can express beyond plain text turns. Read by [`read`].
pub(crate) struct Caps {
    pub kind: ProviderKind,
    /// System messages may appear anywhere (kept in place); otherwise only leading ones are taken.
    pub system_anywhere: bool,
    /// Images may be given by `http(s)` URL; otherwise only as bytes (`data:` URLs).
    pub image_urls: bool,
    /// Only PNG, JPEG, GIF and WebP images are accepted.
    pub common_images_only: bool,
    /// `input_audio` parts can be sent.
    pub audio_input: bool,
    /// Which `file` parts can be sent.
    pub files: Files,
    /// Tool results must name the function (the name is looked up from the call's id).
    pub tool_result_names: bool,
    /// The highest `temperature` accepted (OpenAI's own range ends at 2).
    pub max_temperature: f64,
    /// `n` above 1.
    pub n: bool,
    pub seed: bool,
    /// Non-zero `presence_penalty` and `frequency_penalty`.
    pub penalties: bool,
    /// `response_format` `json_object`.
    pub json_object: bool,
    /// `response_format` `json_schema`.
    pub json_schema: bool,
    /// `tool_choice: "required"`.
    pub tool_choice_required: bool,
    /// `tool_choice` naming one function.
    pub tool_choice_named: bool,
    /// `parallel_tool_calls: false`.
    pub serial_tool_calls: bool,
    /// `reasoning_effort`.
    pub reasoning_effort: bool,
}

/// The `file` parts a provider takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Files {
    None,
    /// PDF only.
    Pdf,
    /// The document types of [`document_format`].
    Documents,
    /// Any media type.
    Any,
}

/// The request, read.
pub(crate) struct Chat<'a> {
    /// Leading system and developer texts (empty when the provider keeps system messages in place).
    pub system: Vec<&'a str>,
    pub messages: Vec<Message<'a>>,
    pub tools: Vec<Tool<'a>>,
    pub tool_choice: Option<ToolChoice<'a>>,
    /// False when `parallel_tool_calls: false` was asked (and the provider can express it).
    pub parallel_tool_calls: bool,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop: Vec<&'a str>,
    pub seed: Option<i64>,
    /// Set only above 1.
    pub n: Option<u64>,
    /// Set only when non-zero.
    pub presence_penalty: Option<f64>,
    /// Set only when non-zero.
    pub frequency_penalty: Option<f64>,
    pub response_format: Option<ResponseFormat<'a>>,
    pub user: Option<&'a str>,
    pub reasoning_effort: Option<&'a str>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Role {
    System,
    User,
    Assistant,
    /// A tool (or legacy function) result.
    Tool,
}

/// One OpenAI message.
pub(crate) struct Message<'a> {
    pub role: Role,
    pub parts: Vec<Part<'a>>,
}

pub(crate) enum Part<'a> {
    /// Never empty.
    Text(&'a str),
    Image(Media<'a>),
    Audio {
        /// `wav` or `mp3`.
        format: &'a str,
        data: &'a str,
    },
    File {
        data: DataUrl<'a>,
        filename: Option<&'a str>,
    },
    ToolCall(ToolCall<'a>),
    ToolResult(ToolResult<'a>),
}

/// An image: bytes from a `data:` URL, or an `http(s)` URL.
pub(crate) enum Media<'a> {
    Inline(DataUrl<'a>),
    Url(&'a str),
}

/// A base64 `data:` URL split into its media type and data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DataUrl<'a> {
    pub mime: &'a str,
    pub data: &'a str,
}

pub(crate) struct ToolCall<'a> {
    pub id: Cow<'a, str>,
    pub name: &'a str,
    /// The parsed `arguments`: always a JSON object.
    pub input: Value,
    /// Gemini's `thoughtSignature`, carried in `extra_content.google.thought_signature` as
    /// Google's own OpenAI-compatible endpoint does.
    pub signature: Option<&'a str>,
}

pub(crate) struct ToolResult<'a> {
    pub id: Cow<'a, str>,
    /// The called function's name, from the earlier call with this id (else the message's `name`).
    pub name: Option<&'a str>,
    pub content: Cow<'a, str>,
}

pub(crate) struct Tool<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// The JSON Schema of the arguments; an empty object schema when none was given.
    pub parameters: Cow<'a, Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ToolChoice<'a> {
    None,
    Auto,
    Required,
    Named(&'a str),
}

pub(crate) enum ResponseFormat<'a> {
    JsonObject,
    /// The schema of `json_schema.schema`.
    JsonSchema(&'a Value),
}

/// An image type most providers take, from its media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ImageFormat {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageFormat {
    pub(crate) fn from_mime(mime: &str) -> Option<ImageFormat> {
        const TYPES: [(&str, ImageFormat); 5] = [
            ("image/png", ImageFormat::Png),
            ("image/jpeg", ImageFormat::Jpeg),
            ("image/jpg", ImageFormat::Jpeg),
            ("image/gif", ImageFormat::Gif),
            ("image/webp", ImageFormat::Webp),
        ];
        TYPES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(mime))
            .map(|(_, format)| *format)
    }

    /// The short name (Bedrock's `format`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Gif => "gif",
            ImageFormat::Webp => "webp",
        }
    }

    /// The canonical media type.
    pub(crate) fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Gif => "image/gif",
            ImageFormat::Webp => "image/webp",
        }
    }
}

/// Bedrock's document `format` for a media type (the document types Converse takes).
pub(crate) fn document_format(mime: &str) -> Option<&'static str> {
    const TYPES: [(&str, &str); 9] = [
        ("application/pdf", "pdf"),
        ("text/csv", "csv"),
        ("application/msword", "doc"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        ),
        ("application/vnd.ms-excel", "xls"),
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        ("text/html", "html"),
        ("text/plain", "txt"),
        ("text/markdown", "md"),
    ];
    TYPES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(mime))
        .map(|(_, format)| *format)
}

/// Splits a `data:<media type>[;params];base64,<data>` URL; `None` for anything else (including
/// a `data:` URL that is not base64).
pub(crate) fn parse_data_url(url: &str) -> Option<DataUrl<'_>> {
    let rest = url.strip_prefix("data:")?;
    let (head, data) = rest.split_once(',')?;
    let head = head.strip_suffix(";base64")?;
    let mime = head.split(';').next().unwrap_or_default();
    Some(DataUrl { mime, data })
}

/// An error naming the parameter at fault.
pub(crate) fn refuse(param: impl Into<String>, message: impl Into<String>) -> TranslateError {
    TranslateError::new(param, message)
}

/// A part the reader refuses for `kind` that reached its adapter anyway: a bug, reported rather
/// than dropped.
pub(crate) fn unexpected_part(kind: ProviderKind) -> TranslateError {
    TranslateError {
        param: None,
        message: format!("a content part {kind} providers cannot take was not refused in time"),
    }
}

/// Reads the request for `caps.kind`, refusing what it cannot express.
pub(crate) fn read<'a>(request: &'a Value, caps: &Caps) -> Result<Chat<'a>, TranslateError> {
    let kind = caps.kind;
    let body = request.as_object().ok_or_else(|| TranslateError {
        param: None,
        message: "the request body must be a JSON object".to_owned(),
    })?;
    let mut chat = Chat {
        system: Vec::new(),
        messages: Vec::new(),
        tools: Vec::new(),
        tool_choice: None,
        parallel_tool_calls: true,
        max_tokens: None,
        temperature: None,
        top_p: None,
        stop: Vec::new(),
        seed: None,
        n: None,
        presence_penalty: None,
        frequency_penalty: None,
        response_format: None,
        user: None,
        reasoning_effort: None,
    };
    let mut messages = None;
    let mut max_tokens = None;
    let mut max_completion_tokens = None;
    let mut tool_choice = None;
    let mut function_call = None;
    let unsupported = |param: &str| {
        refuse(
            param,
            format!("`{param}` is not supported by {kind} providers"),
        )
    };
    for (key, value) in body {
        if value.is_null() {
            continue;
        }
        let key = key.as_str();
        match key {
            "model" => {}
            "messages" => messages = Some(value),
            "tools" => read_tools(value, false, &mut chat.tools)?,
            "functions" => read_tools(value, true, &mut chat.tools)?,
            "tool_choice" => tool_choice = Some(value),
            "function_call" => function_call = Some(value),
            "parallel_tool_calls" => {
                if !boolean(key, value)? {
                    if !caps.serial_tool_calls {
                        return Err(refuse(
                            key,
                            format!(
                                "{kind} providers cannot be kept from making parallel tool calls"
                            ),
                        ));
                    }
                    chat.parallel_tool_calls = false;
                }
            }
            "max_tokens" => max_tokens = Some(unsigned(key, value)?),
            "max_completion_tokens" => max_completion_tokens = Some(unsigned(key, value)?),
            "temperature" => {
                let temperature = number(key, value)?;
                if !(0.0..=caps.max_temperature).contains(&temperature) {
                    return Err(refuse(
                        key,
                        format!(
                            "temperature must be between 0 and {} for {kind} providers",
                            caps.max_temperature
                        ),
                    ));
                }
                chat.temperature = Some(temperature);
            }
            "top_p" => {
                let top_p = number(key, value)?;
                if !(0.0..=1.0).contains(&top_p) {
                    return Err(refuse(key, "top_p must be between 0 and 1"));
                }
                chat.top_p = Some(top_p);
            }
            "stop" => chat.stop = read_stop(value)?,
            "seed" => {
                let seed = value
                    .as_i64()
                    .ok_or_else(|| refuse(key, "seed must be an integer"))?;
                if !caps.seed {
                    return Err(unsupported(key));
                }
                chat.seed = Some(seed);
            }
            "n" => {
                let n = unsigned(key, value)?;
                if n != 1 {
                    if !caps.n || n == 0 {
                        return Err(refuse(
                            key,
                            format!("{kind} providers give one choice per request: n must be 1"),
                        ));
                    }
                    chat.n = Some(n);
                }
            }
            "presence_penalty" | "frequency_penalty" => {
                let penalty = number(key, value)?;
                if !(-2.0..=2.0).contains(&penalty) {
                    return Err(refuse(key, format!("{key} must be between -2 and 2")));
                }
                if penalty != 0.0 {
                    if !caps.penalties {
                        return Err(unsupported(key));
                    }
                    if key == "presence_penalty" {
                        chat.presence_penalty = Some(penalty);
                    } else {
                        chat.frequency_penalty = Some(penalty);
                    }
                }
            }
            "response_format" => chat.response_format = read_response_format(value, caps)?,
            "user" => chat.user = Some(string(key, value)?),
            // These steer OpenAI's own service (retention, tags, billing tier, stream framing)
            // and do not change the answer.
            "metadata" | "store" | "service_tier" | "stream_options" => {}
            "stream" => {
                if boolean(key, value)? {
                    return Err(refuse(
                        key,
                        format!("streaming is not available for {kind} providers yet"),
                    ));
                }
            }
            "logprobs" => {
                if boolean(key, value)? {
                    return Err(unsupported(key));
                }
            }
            "top_logprobs" => {
                if unsigned(key, value)? > 0 {
                    return Err(unsupported(key));
                }
            }
            "logit_bias" => {
                let bias = value
                    .as_object()
                    .ok_or_else(|| refuse(key, "logit_bias must be an object"))?;
                if !bias.is_empty() {
                    return Err(unsupported(key));
                }
            }
            "reasoning_effort" => {
                let effort = string(key, value)?;
                if !caps.reasoning_effort {
                    return Err(unsupported(key));
                }
                chat.reasoning_effort = Some(effort);
            }
            "modalities" => {
                let modalities = value
                    .as_array()
                    .ok_or_else(|| refuse(key, "modalities must be an array"))?;
                if modalities.iter().any(|m| m.as_str() != Some("text")) {
                    return Err(refuse(
                        key,
                        format!("{kind} providers answer with text only"),
                    ));
                }
            }
            "audio" | "prediction" | "web_search_options" => return Err(unsupported(key)),
            _ => {
                return Err(refuse(
                    key,
                    format!("`{key}` cannot be translated for {kind} providers"),
                ))
            }
        }
    }
    chat.max_tokens = max_completion_tokens.or(max_tokens);
    if let Some(value) = tool_choice.or(function_call) {
        let param = if tool_choice.is_some() {
            "tool_choice"
        } else {
            "function_call"
        };
        chat.tool_choice = Some(read_tool_choice(param, value, caps)?);
    }
    let messages = messages
        .ok_or_else(|| refuse("messages", "messages is required"))?
        .as_array()
        .ok_or_else(|| refuse("messages", "messages must be an array"))?;
    Reader {
        caps,
        chat: &mut chat,
        names: HashMap::new(),
        legacy_call: None,
    }
    .messages(messages)?;
    Ok(chat)
}

/// Reads `messages`, remembering each tool call's function name for the results that follow.
struct Reader<'c, 'a> {
    caps: &'c Caps,
    chat: &'c mut Chat<'a>,
    names: HashMap<&'a str, &'a str>,
    /// The id given to the last legacy `function_call`, and its function, for the `function`
    /// message answering it.
    legacy_call: Option<(String, &'a str)>,
}

impl<'a> Reader<'_, 'a> {
    fn messages(&mut self, messages: &'a [Value]) -> Result<(), TranslateError> {
        let kind = self.caps.kind;
        for (i, message) in messages.iter().enumerate() {
            let message = message
                .as_object()
                .ok_or_else(|| refuse(format!("messages[{i}]"), "a message must be an object"))?;
            let role = field_str(message, "role", || format!("messages[{i}].role"))?
                .ok_or_else(|| refuse(format!("messages[{i}].role"), "role is required"))?;
            let name = field_str(message, "name", || format!("messages[{i}].name"))?
                .filter(|name| !name.is_empty());
            if name.is_some() && matches!(role, "system" | "developer" | "user" | "assistant") {
                return Err(refuse(
                    format!("messages[{i}].name"),
                    format!("participant names are not supported by {kind} providers"),
                ));
            }
            let content = message.get("content").filter(|c| !c.is_null());
            let mut parts = Vec::new();
            let role = match role {
                "system" | "developer" => {
                    self.content(content, i, Role::System, &mut parts)?;
                    if !self.caps.system_anywhere {
                        if !self.chat.messages.is_empty() {
                            return Err(refuse(
                                format!("messages[{i}].role"),
                                format!("{kind} providers take system instructions only before the conversation starts"),
                            ));
                        }
                        self.chat.system.extend(texts(&parts));
                        continue;
                    }
                    Role::System
                }
                "user" => {
                    self.content(content, i, Role::User, &mut parts)?;
                    Role::User
                }
                "assistant" => {
                    if message.get("audio").is_some_and(|audio| !audio.is_null()) {
                        return Err(refuse(
                            format!("messages[{i}].audio"),
                            format!("audio answers cannot be sent to {kind} providers"),
                        ));
                    }
                    self.content(content, i, Role::Assistant, &mut parts)?;
                    self.tool_calls(message, i, &mut parts)?;
                    Role::Assistant
                }
                "tool" => {
                    let id = field_str(message, "tool_call_id", || {
                        format!("messages[{i}].tool_call_id")
                    })?
                    .ok_or_else(|| {
                        refuse(
                            format!("messages[{i}].tool_call_id"),
                            "a tool message needs the tool_call_id it answers",
                        )
                    })?;
                    let function = self.names.get(id).copied().or(name);
                    parts.push(self.tool_result(content, i, Cow::Borrowed(id), function)?);
                    Role::Tool
                }
                "function" => {
                    let function = name.ok_or_else(|| {
                        refuse(
                            format!("messages[{i}].name"),
                            "a function message needs the function's name",
                        )
                    })?;
                    let id = match self.legacy_call.take() {
                        Some((id, called)) if called == function => id,
                        _ => {
                            return Err(refuse(
                                format!("messages[{i}]"),
                                "a function message must answer the assistant's function_call just before it",
                            ))
                        }
                    };
                    parts.push(self.tool_result(content, i, Cow::Owned(id), Some(function))?);
                    Role::Tool
                }
                other => {
                    return Err(refuse(
                        format!("messages[{i}].role"),
                        format!("unknown role `{other}`"),
                    ))
                }
            };
            self.chat.messages.push(Message { role, parts });
        }
        Ok(())
    }

    /// Reads `content`: a string or an array of parts, each allowed or refused by role and
    /// provider.
    fn content(
        &self,
        content: Option<&'a Value>,
        i: usize,
        role: Role,
        parts: &mut Vec<Part<'a>>,
    ) -> Result<(), TranslateError> {
        let kind = self.caps.kind;
        let items = match content {
            None => return Ok(()),
            Some(Value::String(text)) => {
                if !text.is_empty() {
                    parts.push(Part::Text(text));
                }
                return Ok(());
            }
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(refuse(
                    format!("messages[{i}].content"),
                    "content must be a string or an array of content parts",
                ))
            }
        };
        for (j, item) in items.iter().enumerate() {
            let at = |field: &str| format!("messages[{i}].content[{j}]{field}");
            let item = item
                .as_object()
                .ok_or_else(|| refuse(at(""), "a content part must be an object"))?;
            let part_type = field_str(item, "type", || at(".type"))?
                .ok_or_else(|| refuse(at(".type"), "a content part needs a type"))?;
            let part = match (part_type, role) {
                ("text", _) => text_field(item, "text", || at(".text"))?.map(Part::Text),
                ("refusal", Role::Assistant) => {
                    text_field(item, "refusal", || at(".refusal"))?.map(Part::Text)
                }
                ("image_url", Role::User) => Some(self.image(item, &at)?),
                ("input_audio", Role::User) if self.caps.audio_input => {
                    let audio = item
                        .get("input_audio")
                        .and_then(Value::as_object)
                        .ok_or_else(|| refuse(at(".input_audio"), "input_audio must be an object"))?;
                    let data = field_str(audio, "data", || at(".input_audio.data"))?
                        .ok_or_else(|| refuse(at(".input_audio.data"), "audio data is required"))?;
                    let format = field_str(audio, "format", || at(".input_audio.format"))?
                        .ok_or_else(|| {
                            refuse(at(".input_audio.format"), "audio format is required")
                        })?;
                    Some(Part::Audio { format, data })
                }
                ("file", Role::User) if self.caps.files != Files::None => Some(self.file(item, &at)?),
                _ => {
                    return Err(refuse(
                        at(".type"),
                        format!(
                            "`{part_type}` content parts in {} messages are not supported by {kind} providers",
                            role_name(role)
                        ),
                    ))
                }
            };
            parts.extend(part);
        }
        Ok(())
    }

    fn image(
        &self,
        item: &'a Map<String, Value>,
        at: &dyn Fn(&str) -> String,
    ) -> Result<Part<'a>, TranslateError> {
        let kind = self.caps.kind;
        let url = match item.get("image_url") {
            Some(Value::String(url)) => url.as_str(),
            Some(Value::Object(image)) => field_str(image, "url", || at(".image_url.url"))?
                .ok_or_else(|| refuse(at(".image_url.url"), "the image url is required"))?,
            _ => return Err(refuse(at(".image_url"), "image_url must be an object")),
        };
        if let Some(data) = parse_data_url(url) {
            // Only images travel as images: a `data:text/plain` or PDF payload here would be read
            // by the provider but was never read as text by the policies.
            if !data.mime.starts_with("image/") {
                return Err(refuse(
                    at(".image_url.url"),
                    format!("an image_url must hold an image, not `{}`", data.mime),
                ));
            }
            if self.caps.common_images_only && ImageFormat::from_mime(data.mime).is_none() {
                return Err(refuse(
                    at(".image_url.url"),
                    format!(
                        "{kind} providers take PNG, JPEG, GIF and WebP images, not `{}`",
                        data.mime
                    ),
                ));
            }
            return Ok(Part::Image(Media::Inline(data)));
        }
        if url.starts_with("https://") || url.starts_with("http://") {
            if !self.caps.image_urls {
                return Err(refuse(
                    at(".image_url.url"),
                    format!("{kind} providers take image bytes only: send the image as a base64 data: URL"),
                ));
            }
            return Ok(Part::Image(Media::Url(url)));
        }
        Err(refuse(
            at(".image_url.url"),
            "an image url must be a base64 data: URL or an http(s) URL",
        ))
    }

    fn file(
        &self,
        item: &'a Map<String, Value>,
        at: &dyn Fn(&str) -> String,
    ) -> Result<Part<'a>, TranslateError> {
        let kind = self.caps.kind;
        let file = item
            .get("file")
            .and_then(Value::as_object)
            .ok_or_else(|| refuse(at(".file"), "file must be an object"))?;
        if file.get("file_id").is_some_and(|id| !id.is_null()) {
            return Err(refuse(
                at(".file.file_id"),
                format!("uploaded OpenAI files cannot be read by {kind} providers: send file_data"),
            ));
        }
        let filename = field_str(file, "filename", || at(".file.filename"))?;
        let data = field_str(file, "file_data", || at(".file.file_data"))?
            .ok_or_else(|| refuse(at(".file.file_data"), "file_data is required"))?;
        let data = parse_data_url(data).ok_or_else(|| {
            refuse(
                at(".file.file_data"),
                "file_data must be a base64 data: URL (data:<media type>;base64,...)",
            )
        })?;
        let accepted = match self.caps.files {
            Files::None => false,
            Files::Pdf => data.mime.eq_ignore_ascii_case("application/pdf"),
            Files::Documents => document_format(data.mime).is_some(),
            Files::Any => true,
        };
        if !accepted {
            return Err(refuse(
                at(".file.file_data"),
                format!("{kind} providers do not take `{}` files", data.mime),
            ));
        }
        Ok(Part::File { data, filename })
    }

    /// Reads an assistant's `tool_calls` and legacy `function_call`.
    fn tool_calls(
        &mut self,
        message: &'a Map<String, Value>,
        i: usize,
        parts: &mut Vec<Part<'a>>,
    ) -> Result<(), TranslateError> {
        if let Some(calls) = message.get("tool_calls").filter(|c| !c.is_null()) {
            let calls = calls.as_array().ok_or_else(|| {
                refuse(
                    format!("messages[{i}].tool_calls"),
                    "tool_calls must be an array",
                )
            })?;
            for (j, call) in calls.iter().enumerate() {
                let at = |field: &str| format!("messages[{i}].tool_calls[{j}]{field}");
                let call = call
                    .as_object()
                    .ok_or_else(|| refuse(at(""), "a tool call must be an object"))?;
                if let Some(call_type) = field_str(call, "type", || at(".type"))? {
                    if call_type != "function" {
                        return Err(refuse(
                            at(".type"),
                            format!(
                                "`{call_type}` tool calls are not supported by {} providers",
                                self.caps.kind
                            ),
                        ));
                    }
                }
                let id = field_str(call, "id", || at(".id"))?
                    .ok_or_else(|| refuse(at(".id"), "a tool call needs an id"))?;
                let function = call
                    .get("function")
                    .and_then(Value::as_object)
                    .ok_or_else(|| refuse(at(".function"), "a tool call needs a function"))?;
                let (name, input) = function_call(function, &at)?;
                let signature = call
                    .get("extra_content")
                    .and_then(|extra| extra.get("google"))
                    .and_then(|google| google.get("thought_signature"))
                    .and_then(Value::as_str);
                self.names.insert(id, name);
                parts.push(Part::ToolCall(ToolCall {
                    id: Cow::Borrowed(id),
                    name,
                    input,
                    signature,
                }));
            }
        }
        if let Some(call) = message.get("function_call").filter(|c| !c.is_null()) {
            let at = |field: &str| format!("messages[{i}].function_call{field}");
            let call = call
                .as_object()
                .ok_or_else(|| refuse(at(""), "function_call must be an object"))?;
            let (name, input) = function_call(call, &at)?;
            let id = format!("call_legacy_{i}");
            self.legacy_call = Some((id.clone(), name));
            parts.push(Part::ToolCall(ToolCall {
                id: Cow::Owned(id),
                name,
                input,
                signature: None,
            }));
        }
        Ok(())
    }

    /// A tool result: text content, joined when given as parts.
    fn tool_result(
        &self,
        content: Option<&'a Value>,
        i: usize,
        id: Cow<'a, str>,
        name: Option<&'a str>,
    ) -> Result<Part<'a>, TranslateError> {
        if name.is_none() && self.caps.tool_result_names {
            return Err(refuse(
                format!("messages[{i}].tool_call_id"),
                format!(
                    "no earlier assistant tool call has this id, and {} providers need the function's name",
                    self.caps.kind
                ),
            ));
        }
        let mut parts = Vec::new();
        self.content(content, i, Role::Tool, &mut parts)?;
        let content = join_lines(texts(&parts));
        Ok(Part::ToolResult(ToolResult { id, name, content }))
    }
}

/// The texts among parts.
pub(crate) fn texts<'p, 'a>(parts: &'p [Part<'a>]) -> impl Iterator<Item = &'a str> + 'p {
    parts.iter().filter_map(|part| match part {
        Part::Text(text) => Some(*text),
        _ => None,
    })
}

/// Texts joined into one, a line break between each (for places that take one string).
pub(crate) fn join_lines<'a>(mut texts: impl Iterator<Item = &'a str>) -> Cow<'a, str> {
    let Some(first) = texts.next() else {
        return Cow::Borrowed("");
    };
    let Some(second) = texts.next() else {
        return Cow::Borrowed(first);
    };
    let mut joined = [first, second].join("\n");
    for text in texts {
        joined.push('\n');
        joined.push_str(text);
    }
    Cow::Owned(joined)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// A function's `name` and parsed `arguments` (a JSON string holding an object; an empty string
/// is no arguments).
fn function_call<'a>(
    function: &'a Map<String, Value>,
    at: &dyn Fn(&str) -> String,
) -> Result<(&'a str, Value), TranslateError> {
    let name = field_str(function, "name", || at(".function.name"))?
        .ok_or_else(|| refuse(at(".function.name"), "the function name is required"))?;
    let input = match function.get("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::String(text)) if text.trim().is_empty() => Value::Object(Map::new()),
        Some(Value::String(text)) => serde_json::from_str(text).map_err(|error| {
            refuse(
                at(".function.arguments"),
                format!("the arguments are not valid JSON: {error}"),
            )
        })?,
        Some(object @ Value::Object(_)) => object.clone(),
        Some(_) => {
            return Err(refuse(
                at(".function.arguments"),
                "arguments must be a JSON string",
            ))
        }
    };
    if !input.is_object() {
        return Err(refuse(
            at(".function.arguments"),
            "the arguments must be a JSON object",
        ));
    }
    Ok((name, input))
}

/// Reads `tools` (or legacy `functions`, which are bare function definitions).
fn read_tools<'a>(
    value: &'a Value,
    legacy: bool,
    tools: &mut Vec<Tool<'a>>,
) -> Result<(), TranslateError> {
    let key = if legacy { "functions" } else { "tools" };
    let items = value
        .as_array()
        .ok_or_else(|| refuse(key, format!("{key} must be an array")))?;
    for (i, item) in items.iter().enumerate() {
        let at = |field: &str| format!("{key}[{i}]{field}");
        let item = item
            .as_object()
            .ok_or_else(|| refuse(at(""), "a tool must be an object"))?;
        let function = if legacy {
            item
        } else {
            let tool_type = field_str(item, "type", || at(".type"))?.unwrap_or("function");
            if tool_type != "function" {
                return Err(refuse(
                    at(".type"),
                    format!("`{tool_type}` tools can only be sent to OpenAI"),
                ));
            }
            item.get("function")
                .and_then(Value::as_object)
                .ok_or_else(|| refuse(at(".function"), "a tool needs a function"))?
        };
        let prefix = if legacy { "" } else { ".function" };
        let name = field_str(function, "name", || at(&format!("{prefix}.name")))?
            .ok_or_else(|| refuse(at(&format!("{prefix}.name")), "a function needs a name"))?;
        let description = field_str(function, "description", || {
            at(&format!("{prefix}.description"))
        })?;
        let parameters = match function.get("parameters") {
            None | Some(Value::Null) => {
                Cow::Owned(serde_json::json!({"type": "object", "properties": {}}))
            }
            Some(schema @ Value::Object(_)) => Cow::Borrowed(schema),
            Some(_) => {
                return Err(refuse(
                    at(&format!("{prefix}.parameters")),
                    "parameters must be a JSON Schema object",
                ))
            }
        };
        tools.push(Tool {
            name,
            description,
            parameters,
        });
    }
    Ok(())
}

fn read_tool_choice<'a>(
    param: &str,
    value: &'a Value,
    caps: &Caps,
) -> Result<ToolChoice<'a>, TranslateError> {
    let choice = match value {
        Value::String(choice) => match choice.as_str() {
            "none" => ToolChoice::None,
            "auto" => ToolChoice::Auto,
            "required" if param == "tool_choice" => ToolChoice::Required,
            other => return Err(refuse(param, format!("unknown {param} `{other}`"))),
        },
        Value::Object(choice) => {
            let function = if param == "tool_choice" {
                if choice.get("type").and_then(Value::as_str) != Some("function") {
                    return Err(refuse(
                        format!("{param}.type"),
                        format!(
                            "only function tool choices can be sent to {} providers",
                            caps.kind
                        ),
                    ));
                }
                choice.get("function").and_then(Value::as_object)
            } else {
                Some(choice)
            };
            let name = function
                .and_then(|function| function.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| refuse(param, format!("{param} must name a function")))?;
            ToolChoice::Named(name)
        }
        _ => {
            return Err(refuse(
                param,
                format!("{param} must be a string or an object"),
            ))
        }
    };
    let supported = match choice {
        ToolChoice::None | ToolChoice::Auto => true,
        ToolChoice::Required => caps.tool_choice_required,
        ToolChoice::Named(_) => caps.tool_choice_named,
    };
    if !supported {
        return Err(refuse(
            param,
            format!("{} providers cannot be made to call a tool", caps.kind),
        ));
    }
    Ok(choice)
}

fn read_stop(value: &Value) -> Result<Vec<&str>, TranslateError> {
    match value {
        Value::String(stop) => Ok(vec![stop.as_str()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .ok_or_else(|| refuse(format!("stop[{i}]"), "a stop sequence must be a string"))
            })
            .collect(),
        _ => Err(refuse(
            "stop",
            "stop must be a string or an array of strings",
        )),
    }
}

fn read_response_format<'a>(
    value: &'a Value,
    caps: &Caps,
) -> Result<Option<ResponseFormat<'a>>, TranslateError> {
    let format_type = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse("response_format.type", "response_format needs a type"))?;
    let (format, supported) = match format_type {
        "text" => return Ok(None),
        "json_object" => (ResponseFormat::JsonObject, caps.json_object),
        "json_schema" => {
            let schema = value
                .get("json_schema")
                .and_then(|spec| spec.get("schema"))
                .filter(|schema| schema.is_object())
                .ok_or_else(|| {
                    refuse(
                        "response_format.json_schema.schema",
                        "a json_schema response format needs a schema object",
                    )
                })?;
            (ResponseFormat::JsonSchema(schema), caps.json_schema)
        }
        other => {
            return Err(refuse(
                "response_format.type",
                format!("unknown response format `{other}`"),
            ))
        }
    };
    if !supported {
        return Err(refuse(
            "response_format.type",
            format!(
                "`{format_type}` response formats are not supported by {} providers",
                caps.kind
            ),
        ));
    }
    Ok(Some(format))
}

fn number(key: &str, value: &Value) -> Result<f64, TranslateError> {
    value
        .as_f64()
        .ok_or_else(|| refuse(key, format!("{key} must be a number")))
}

fn unsigned(key: &str, value: &Value) -> Result<u64, TranslateError> {
    value
        .as_u64()
        .ok_or_else(|| refuse(key, format!("{key} must be a non-negative integer")))
}

fn boolean(key: &str, value: &Value) -> Result<bool, TranslateError> {
    value
        .as_bool()
        .ok_or_else(|| refuse(key, format!("{key} must be true or false")))
}

fn string<'a>(key: &str, value: &'a Value) -> Result<&'a str, TranslateError> {
    value
        .as_str()
        .ok_or_else(|| refuse(key, format!("{key} must be a string")))
}

/// An optional string field (null is absent); `at` names it only when it has the wrong type.
fn field_str<'a>(
    object: &'a Map<String, Value>,
    field: &str,
    at: impl Fn() -> String,
) -> Result<Option<&'a str>, TranslateError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(refuse(at(), format!("{field} must be a string"))),
    }
}

/// A text field of a content part; an empty text is no part at all.
fn text_field<'a>(
    object: &'a Map<String, Value>,
    field: &str,
    at: impl Fn() -> String,
) -> Result<Option<&'a str>, TranslateError> {
    let text = field_str(object, field, &at)?
        .ok_or_else(|| refuse(at(), format!("{field} is required")))?;
    Ok((!text.is_empty()).then_some(text))
}

/// The messages as alternating user and assistant turns, for the providers that need
/// alternation: tool results join the user side, consecutive messages of one role are merged, and
/// messages without parts are skipped. Each turn is its role name (`assistant` for the
/// assistant's, `user` otherwise) with its parts mapped by `map`.
pub(crate) fn turns<'c, 'a, B>(
    messages: &'c [Message<'a>],
    assistant: &'static str,
    mut map: impl FnMut(&'c Part<'a>) -> Result<B, TranslateError>,
) -> Result<Vec<(&'static str, Vec<B>)>, TranslateError> {
    let mut turns: Vec<(&'static str, Vec<B>)> = Vec::with_capacity(messages.len());
    for message in messages.iter().filter(|message| !message.parts.is_empty()) {
        let role = if message.role == Role::Assistant {
            assistant
        } else {
            "user"
        };
        if turns.last().is_none_or(|(last, _)| *last != role) {
            turns.push((role, Vec::with_capacity(message.parts.len())));
        }
        if let Some((_, blocks)) = turns.last_mut() {
            for part in &message.parts {
                blocks.push(map(part)?);
            }
        }
    }
    Ok(turns)
}

/// The arguments or result given as text, parsed when it is a JSON object (Gemini's function
/// response, Bedrock's JSON tool result).
pub(crate) fn json_object(text: &str) -> Option<Value> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls() {
        assert_eq!(
            parse_data_url("data:image/png;base64,AAAA"),
            Some(DataUrl {
                mime: "image/png",
                data: "AAAA"
            })
        );
        assert_eq!(
            parse_data_url("data:application/pdf;name=a.pdf;base64,JVBE"),
            Some(DataUrl {
                mime: "application/pdf",
                data: "JVBE"
            })
        );
        assert_eq!(parse_data_url("data:text/plain,hello"), None);
        assert_eq!(parse_data_url("https://example.com/a.png"), None);
    }

    #[test]
    fn lines_join_without_copying_one_text() {
        assert!(matches!(
            join_lines(["one"].into_iter()),
            Cow::Borrowed("one")
        ));
        assert_eq!(join_lines(["a", "b", "c"].into_iter()), "a\nb\nc");
        assert_eq!(join_lines(std::iter::empty()), "");
    }

    #[test]
    fn media_types() {
        assert_eq!(ImageFormat::from_mime("IMAGE/JPG"), Some(ImageFormat::Jpeg));
        assert_eq!(ImageFormat::from_mime("image/bmp"), None);
        assert_eq!(document_format("text/markdown"), Some("md"));
        assert_eq!(document_format("application/zip"), None);
    }
}
