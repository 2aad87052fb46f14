//! Ollama `/api/chat`: golden requests and answers (shapes from Ollama's API documentation) and
//! the requests it cannot take.

use axonflow_providers::{build_request, ProviderKind, Target};
use serde_json::json;

use crate::common::*;

const KIND: ProviderKind = ProviderKind::Ollama;

#[test]
fn url_and_optional_credentials() {
    let outgoing = build(KIND, &plain_chat()).expect("translates");
    assert_eq!(outgoing.url, "http://localhost:11434/api/chat");
    assert_eq!(
        outgoing.headers["authorization"],
        format!("Bearer {API_KEY}")
    );
    let credentials = credentials(KIND);
    let anonymous = Target {
        credentials: None,
        ..target(KIND, &credentials)
    };
    let outgoing = build_request(&anonymous, &plain_chat(), now()).expect("no credentials needed");
    assert!(!outgoing.headers.contains_key("authorization"));
    assert_eq!(outgoing.headers["content-type"], "application/json");
}

#[test]
fn plain_chat_with_system_prompt() {
    assert_body(
        KIND,
        &plain_chat(),
        json!({
            "model": "llama3.2",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": "Hi."},
                {"role": "user", "content": "What is 2+2?"}
            ],
            "stream": false
        }),
    );
}

#[test]
fn image_content() {
    assert_body(
        KIND,
        &image_chat(),
        json!({
            "model": "llama3.2",
            "messages": [{"role": "user", "content": "What is in this image?", "images": [PNG_DATA]}],
            "stream": false
        }),
    );
}

#[test]
fn tool_calling_round_trip() {
    assert_body(
        KIND,
        &tool_round_trip(),
        json!({
            "model": "llama3.2",
            "messages": [
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                    {"function": {"name": "get_weather", "arguments": {"city": "Rome"}}}
                ]},
                {"role": "tool", "content": "{\"temp\":21}", "tool_name": "get_weather"},
                {"role": "tool", "content": "sunny, 25C", "tool_name": "get_weather"}
            ],
            "tools": [{"type": "function", "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": weather_schema()
            }}],
            "stream": false
        }),
    );
}

#[test]
fn sampling_parameters() {
    assert_body(
        KIND,
        &sampling(),
        json!({
            "model": "llama3.2",
            "messages": [{"role": "user", "content": "Write a haiku"}],
            "options": {"temperature": 0.5, "top_p": 0.9, "num_predict": 256, "stop": ["\n\n", "END"]},
            "stream": false
        }),
    );
}

#[test]
fn formats_thinking_and_late_system_messages() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
    let request = request(json!({
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
            {"role": "system", "content": "Now answer in French."}
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
        "reasoning_effort": "low",
        "seed": 3,
        "presence_penalty": 0.1
    }));
    assert_eq!(
        body(KIND, &request),
        json!({
            "model": "llama3.2",
            "messages": [
                {"role": "user", "content": "one\ntwo"},
                {"role": "system", "content": "Now answer in French."}
            ],
            "format": schema,
            "options": {"seed": 3, "presence_penalty": 0.1},
            "think": "low",
            "stream": false
        })
    );
    let request = self::request(
        json!({"response_format": {"type": "json_object"}, "reasoning_effort": "none"}),
    );
    let body = body(KIND, &request);
    assert_eq!(body["format"], "json");
    assert_eq!(body["think"], false);
    let mut none = tool_round_trip();
    none["tool_choice"] = json!("none");
    assert_eq!(self::body(KIND, &none).get("tools"), None);
}

#[test]
fn refusals() {
    check(KIND, json!({"n": 2}), "n");
    check(KIND, json!({"tool_choice": "required"}), "tool_choice");
    check(
        KIND,
        json!({"reasoning_effort": "minimal"}),
        "reasoning_effort",
    );
    check(
        KIND,
        json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}),
        "messages[0].content[0].image_url.url",
    );
    check(
        KIND,
        json!({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}]}]}),
        "messages[0].content[0].type",
    );
}

#[test]
fn text_answer() {
    let completion = answer(
        KIND,
        &json!({
            "model": "llama3.2", "created_at": "2024-05-01T12:00:00Z",
            "message": {"role": "assistant", "content": "Hello world", "thinking": "hmm"},
            "done": true, "done_reason": "stop",
            "prompt_eval_count": 26, "eval_count": 9
        }),
    );
    assert_eq!(
        normalized(&completion),
        expected_completion(
            "chatcmpl-generated",
            "llama3.2",
            text_message("Hello world"),
            "stop",
            [26, 9, 35]
        )
    );
}

#[test]
fn tool_call_answer() {
    let completion = answer(
        KIND,
        &json!({
            "model": "llama3.2",
            "message": {"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
            ]},
            "done": true, "done_reason": "stop",
            "prompt_eval_count": 50, "eval_count": 20
        }),
    );
    assert_eq!(
        normalized(&completion),
        expected_completion(
            "chatcmpl-generated",
            "llama3.2",
            call_message(None, "call_0"),
            "tool_calls",
            [50, 20, 70]
        )
    );
}

#[test]
fn length_stop() {
    let completion = answer(
        KIND,
        &json!({
            "model": "llama3.2",
            "message": {"role": "assistant", "content": "Once upon a"},
            "done": true, "done_reason": "length", "prompt_eval_count": 5, "eval_count": 3
        }),
    );
    assert_eq!(completion.body["choices"][0]["finish_reason"], "length");
    assert_eq!(completion.usage.total_tokens, 8);
}
