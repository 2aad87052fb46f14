//! Gemini `generateContent`: golden requests and answers (shapes from ai.google.dev's API
//! reference) and the requests it cannot take.

use axonflow_providers::ProviderKind;
use serde_json::json;

use crate::common::*;

const KIND: ProviderKind = ProviderKind::Gemini;

#[test]
fn url_and_headers() {
    let outgoing = build(KIND, &plain_chat()).expect("translates");
    assert_eq!(
        outgoing.url,
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(outgoing.headers["x-goog-api-key"], API_KEY);
    assert_eq!(outgoing.headers["content-type"], "application/json");
}

#[test]
fn plain_chat_with_system_prompt() {
    assert_body(
        KIND,
        &plain_chat(),
        json!({
            "contents": [
                {"role": "user", "parts": [{"text": "Hello"}]},
                {"role": "model", "parts": [{"text": "Hi."}]},
                {"role": "user", "parts": [{"text": "What is 2+2?"}]}
            ],
            "systemInstruction": {"parts": [{"text": "You are terse."}]}
        }),
    );
}

#[test]
fn image_content() {
    assert_body(
        KIND,
        &image_chat(),
        json!({
            "contents": [{"role": "user", "parts": [
                {"text": "What is in this image?"},
                {"inlineData": {"mimeType": "image/png", "data": PNG_DATA}}
            ]}]
        }),
    );
}

#[test]
fn urls_audio_and_files() {
    let request = request(json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.JPG?size=large"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"filename": "notes.txt", "file_data": "data:text/plain;base64,aGk="}}
    ]}]}));
    assert_eq!(
        body(KIND, &request)["contents"][0]["parts"],
        json!([
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.JPG?size=large"}},
            {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
            {"inlineData": {"mimeType": "text/plain", "data": "aGk="}}
        ])
    );
}

/// Gemini reads whatever a URL or a data: URL holds: only images go as images, since the
/// policies read nothing inside media.
#[test]
fn only_images_travel_as_images() {
    let image = |url: &str| {
        json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}}]}]})
    };
    check(
        KIND,
        image("https://example.com/report.pdf"),
        "image_url.url",
    );
    check(KIND, image("https://example.com/render"), "image_url.url");
    check(
        KIND,
        image("data:text/plain;base64,U1NOIDEyMy00NS02Nzg5"),
        "messages[0].content[0].image_url.url",
    );
    check(
        KIND,
        image("data:application/pdf;base64,JVBERi0="),
        "messages[0].content[0].image_url.url",
    );
}

#[test]
fn tool_calling_round_trip() {
    assert_body(
        KIND,
        &tool_round_trip(),
        json!({
            "contents": [
                {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
                {"role": "model", "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
                    {"functionResponse": {"name": "get_weather", "response": {"content": "sunny, 25C"}}}
                ]}
            ],
            "tools": [{"functionDeclarations": [{
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": weather_schema()
            }]}],
            "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}}
        }),
    );
}

#[test]
fn sampling_parameters() {
    assert_body(
        KIND,
        &sampling(),
        json!({
            "contents": [{"role": "user", "parts": [{"text": "Write a haiku"}]}],
            "generationConfig": {"temperature": 0.5, "topP": 0.9, "maxOutputTokens": 256, "stopSequences": ["\n\n", "END"]}
        }),
    );
}

#[test]
fn generation_options_gemini_can_express() {
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "additionalProperties": false});
    let request = request(json!({
        "n": 2, "seed": 42, "presence_penalty": 0.5, "frequency_penalty": -0.5, "temperature": 1.7,
        "response_format": {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": true}}
    }));
    assert_eq!(
        body(KIND, &request)["generationConfig"],
        json!({
            "temperature": 1.7, "candidateCount": 2, "seed": 42, "presencePenalty": 0.5, "frequencyPenalty": -0.5,
            "responseMimeType": "application/json", "responseJsonSchema": schema
        })
    );
    let request = self::request(json!({"response_format": {"type": "json_object"}}));
    assert_eq!(
        body(KIND, &request)["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
}

#[test]
fn schemas_outside_the_openapi_subset_go_whole_as_json_schema() {
    let strict = json!({
        "type": "object",
        "properties": {"unit": {"type": ["string", "null"], "enum": ["C", "F", null]}},
        "required": ["unit"],
        "additionalProperties": false
    });
    let request = request(json!({
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "parameters": weather_schema()}},
            {"type": "function", "function": {"name": "set_unit", "strict": true, "parameters": strict}},
            {"type": "function", "function": {"name": "ping"}}
        ],
        "tool_choice": {"type": "function", "function": {"name": "set_unit"}}
    }));
    let body = body(KIND, &request);
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [
            {"name": "get_weather", "parameters": weather_schema()},
            {"name": "set_unit", "parametersJsonSchema": strict},
            {"name": "ping", "parameters": {"type": "object", "properties": {}}}
        ]}])
    );
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["set_unit"]}})
    );
}

#[test]
fn thought_signatures_round_trip() {
    let request = request(json!({"messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "tool_calls": [{
            "id": "call_0", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            "extra_content": {"google": {"thought_signature": "c2ln"}}
        }]},
        {"role": "tool", "tool_call_id": "call_0", "content": [{"type": "text", "text": "21"}, {"type": "text", "text": "C"}]}
    ]}));
    let body = body(KIND, &request);
    assert_eq!(
        body["contents"][1]["parts"][0],
        json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"})
    );
    assert_eq!(
        body["contents"][2]["parts"][0],
        json!({"functionResponse": {"name": "get_weather", "response": {"content": "21\nC"}}})
    );
}

#[test]
fn refusals() {
    check(KIND, json!({"temperature": 2.5}), "temperature");
    check(
        KIND,
        json!({"parallel_tool_calls": false}),
        "parallel_tool_calls",
    );
    check(
        KIND,
        json!({"logprobs": true, "top_logprobs": 3}),
        "logprobs",
    );
    check(
        KIND,
        json!({"reasoning_effort": "high"}),
        "reasoning_effort",
    );
    check(
        KIND,
        json!({"messages": [
            {"role": "user", "content": "Hi"},
            {"role": "tool", "tool_call_id": "call_9", "content": "orphan"}
        ]}),
        "messages[1].tool_call_id",
    );
    check(
        KIND,
        json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}]}]}),
        "messages[0].content[0].image_url.url",
    );
}

#[test]
fn text_answer_skips_thoughts() {
    let completion = answer(
        KIND,
        &json!({
            "candidates": [{
                "content": {"role": "model", "parts": [
                    {"text": "Thinking about it", "thought": true},
                    {"text": "Hello"},
                    {"text": " world"}
                ]},
                "finishReason": "STOP", "index": 0
            }],
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 4, "thoughtsTokenCount": 6, "totalTokenCount": 22},
            "modelVersion": "gemini-2.5-flash-001",
            "responseId": "resp-1"
        }),
    );
    assert_eq!(
        normalized(&completion),
        expected_completion(
            "resp-1",
            "gemini-2.5-flash-001",
            text_message("Hello world"),
            "stop",
            [12, 10, 22]
        )
    );
    assert_eq!(completion.model, "gemini-2.5-flash-001");
}

#[test]
fn tool_call_answer_gets_ids_and_signatures() {
    let completion = answer(
        KIND,
        &json!({
            "candidates": [{
                "content": {"role": "model", "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"}
                ]},
                "finishReason": "STOP"
            }],
            "usageMetadata": {"promptTokenCount": 30, "candidatesTokenCount": 5, "totalTokenCount": 35}
        }),
    );
    let mut message = call_message(None, "call_0");
    message["tool_calls"][0]["extra_content"] = json!({"google": {"thought_signature": "c2ln"}});
    assert_eq!(
        normalized(&completion),
        expected_completion(
            "chatcmpl-generated",
            "gemini-2.5-flash",
            message,
            "tool_calls",
            [30, 5, 35]
        )
    );
}

#[test]
fn finish_reasons_and_candidates() {
    let completion = answer(
        KIND,
        &json!({
            "candidates": [
                {"content": {"parts": [{"text": "Once upon"}]}, "finishReason": "MAX_TOKENS", "index": 0},
                {"finishReason": "SAFETY", "index": 1},
                {"content": {"parts": [{"text": "Done"}]}, "finishReason": "OTHER", "index": 2}
            ],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 8, "totalTokenCount": 11}
        }),
    );
    let choices = &completion.body["choices"];
    assert_eq!(choices[0]["finish_reason"], "length");
    assert_eq!(choices[0]["message"]["content"], "Once upon");
    assert_eq!(choices[1]["finish_reason"], "content_filter");
    assert_eq!(choices[1]["message"]["content"], json!(null));
    assert_eq!(choices[1]["index"], 1);
    assert_eq!(choices[2]["finish_reason"], "stop");
}

#[test]
fn blocked_prompt() {
    let completion = answer(
        KIND,
        &json!({
            "promptFeedback": {"blockReason": "SAFETY"},
            "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7}
        }),
    );
    assert_eq!(
        normalized(&completion),
        expected_completion(
            "chatcmpl-generated",
            "gemini-2.5-flash",
            json!({"role": "assistant", "content": null, "refusal": null}),
            "content_filter",
            [7, 0, 7]
        )
    );
}
