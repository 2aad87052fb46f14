//! Shared inputs (the four golden conversations) and helpers of the translation tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axonflow_providers::{
    build_request, parse_answer, Completion, Credentials, OutgoingRequest, ProviderKind, Target,
    TranslateError,
};
use serde_json::{json, Value};

/// The API key used for every key-based type; tests check it never shows.
pub const API_KEY: &str = "sk-test-SECRET-4242";
/// Bedrock's stored credential: access key id, secret access key, session token.
pub const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRETKEY";
pub const AWS_TOKEN: &str = "SESSIONTOKENSECRET99";

/// A fixed signing time: 2024-05-01T12:00:00Z.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_714_564_800)
}

pub fn credentials(kind: ProviderKind) -> Credentials {
    match kind {
        ProviderKind::Bedrock => Credentials::new(format!("AKID:{AWS_SECRET}:{AWS_TOKEN}")),
        _ => Credentials::new(API_KEY.to_owned()),
    }
}

/// The endpoint each type is tested with (OpenAI's with a trailing slash, which is stripped).
pub fn endpoint(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi => "https://api.openai.com/v1/",
        ProviderKind::AzureOpenAi => "https://example.openai.azure.com",
        ProviderKind::Anthropic => "https://api.anthropic.com",
        ProviderKind::Gemini => "https://generativelanguage.googleapis.com",
        ProviderKind::Bedrock => "https://bedrock-runtime.us-east-1.amazonaws.com",
        ProviderKind::Ollama => "http://localhost:11434",
    }
}

/// The model each type is tested with.
pub fn model(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi => "gpt-4o-mini",
        ProviderKind::AzureOpenAi => "prod-gpt4o",
        ProviderKind::Anthropic => "claude-sonnet-4-5",
        ProviderKind::Gemini => "gemini-2.5-flash",
        ProviderKind::Bedrock => "anthropic.claude-3-5-sonnet-20240620-v1:0",
        ProviderKind::Ollama => "llama3.2",
    }
}

pub fn target(kind: ProviderKind, credentials: &Credentials) -> Target<'_> {
    Target {
        kind,
        endpoint: endpoint(kind),
        model: model(kind),
        api_version: None,
        region: Some("us-east-1"),
        credentials: Some(credentials),
    }
}

/// Builds the request for `kind` with the test target.
pub fn build(kind: ProviderKind, request: &Value) -> Result<OutgoingRequest, TranslateError> {
    let credentials = credentials(kind);
    build_request(&target(kind, &credentials), request, now())
}

/// The JSON body built for `kind`.
pub fn body(kind: ProviderKind, request: &Value) -> Value {
    let outgoing = build(kind, request).expect("the request translates");
    serde_json::from_slice(&outgoing.body).expect("the body is JSON")
}

/// Asserts that the translated body is `expected`.
pub fn assert_body(kind: ProviderKind, request: &Value, expected: Value) {
    assert_eq!(body(kind, request), expected, "{kind} body for {request}");
}

/// A one-user-message request with `extra` fields merged in (its `messages` replace the default).
pub fn request(extra: Value) -> Value {
    let mut request = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]});
    if let (Some(request), Value::Object(extra)) = (request.as_object_mut(), extra) {
        request.extend(extra);
    }
    request
}

/// Asserts that `kind` refuses the request, naming `param`.
pub fn check(kind: ProviderKind, extra: Value, param: &str) {
    let request = request(extra);
    match build(kind, &request) {
        Err(error) => assert_eq!(
            error.param.as_deref(),
            Some(param),
            "{kind} refused {request} naming the wrong parameter: {error:?}"
        ),
        Ok(_) => panic!("{kind} translated {request}; expected a refusal naming {param}"),
    }
}

/// Asserts that `kind` translates the request.
pub fn accepts(kind: ProviderKind, extra: Value) {
    let request = request(extra);
    if let Err(error) = build(kind, &request) {
        panic!("{kind} refused {request}: {error:?}");
    }
}

/// The types whose requests are rewritten (not forwarded).
pub const REWRITTEN: [ProviderKind; 4] = [
    ProviderKind::Anthropic,
    ProviderKind::Gemini,
    ProviderKind::Bedrock,
    ProviderKind::Ollama,
];

/// (a) A plain chat with a system prompt.
pub fn plain_chat() -> Value {
    json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi."},
            {"role": "user", "content": "What is 2+2?"}
        ]
    })
}

/// A tiny PNG header, base64.
pub const PNG_DATA: &str = "iVBORw0KGgo=";

/// (b) Multi-part content with an image.
pub fn image_chat() -> Value {
    json!({
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is in this image?"},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG_DATA}"), "detail": "auto"}}
        ]}]
    })
}

/// The weather tool's parameters schema.
pub fn weather_schema() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
}

/// (c) A tool-calling round trip: tools, the assistant's calls, and their results.
pub fn tool_round_trip() -> Value {
    json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\":21}"},
            {"role": "tool", "tool_call_id": "call_2", "content": "sunny, 25C"}
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": weather_schema()
        }}],
        "tool_choice": "auto"
    })
}

/// (d) Stop sequences, max tokens, temperature and top_p (and `user`, which only Anthropic keeps).
pub fn sampling() -> Value {
    json!({
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Write a haiku"}],
        "max_tokens": 256,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": ["\n\n", "END"],
        "user": "user-7",
        "store": false,
        "metadata": {"team": "docs"},
        "n": 1,
        "logprobs": false,
        "seed": null
    })
}

/// The provider's 2xx answer read for `kind`.
pub fn answer(kind: ProviderKind, body: &Value) -> Completion {
    parse_answer(kind, model(kind), 200, body.to_string().as_bytes())
        .expect("the answer translates")
}

/// The completion body with `created` checked and zeroed, and a generated `chatcmpl-` id
/// replaced by `chatcmpl-generated`.
pub fn normalized(completion: &Completion) -> Value {
    let mut body = completion.body.clone();
    assert!(
        body["created"]
            .as_u64()
            .is_some_and(|created| created > 1_700_000_000),
        "created is the current unix time: {body}"
    );
    body["created"] = json!(0);
    if let Some(id) = body["id"].as_str() {
        if id.starts_with("chatcmpl-") {
            assert_eq!(id.len(), "chatcmpl-".len() + 32, "generated id {id}");
            body["id"] = json!("chatcmpl-generated");
        }
    }
    body
}

/// An expected OpenAI completion with one choice.
pub fn expected_completion(
    id: &str,
    model: &str,
    message: Value,
    finish: &str,
    usage: [u32; 3],
) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": usage[2]}
    })
}

/// An assistant message with text only.
pub fn text_message(text: &str) -> Value {
    json!({"role": "assistant", "content": text, "refusal": null})
}

/// An assistant message with one `get_weather` call for Paris (and optional text).
pub fn call_message(text: Option<&str>, id: &str) -> Value {
    json!({
        "role": "assistant",
        "content": text,
        "tool_calls": [{"id": id, "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}],
        "refusal": null
    })
}
