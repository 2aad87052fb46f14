//! Anthropic Messages API: golden requests and answers (shapes from docs.anthropic.com's Messages
//! reference) and the requests it cannot take.

use axonflow_providers::ProviderKind;
use serde_json::json;

use crate::common::*;

const KIND: ProviderKind = ProviderKind::Anthropic;

#[test]
fn url_and_headers() {
    let outgoing = build(KIND, &plain_chat()).expect("translates");
    assert_eq!(outgoing.url, "https://api.anthropic.com/v1/messages");
    assert_eq!(outgoing.headers["x-api-key"], API_KEY);
    assert_eq!(outgoing.headers["anthropic-version"], "2023-06-01");
    assert_eq!(outgoing.headers["content-type"], "application/json");
}

#[test]
fn plain_chat_with_system_prompt() {
    assert_body(
        KIND,
        &plain_chat(),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 4096,
            "system": [{"type": "text", "text": "You are terse."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Hi."}]},
                {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]}
            ]
        }),
    );
}

#[test]
fn image_content() {
    assert_body(
        KIND,
        &image_chat(),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is in this image?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_DATA}}
            ]}]
        }),
    );
}

#[test]
fn image_urls_and_pdf_documents() {
    let request = request(json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}}
    ]}]}));
    assert_eq!(
        body(KIND, &request)["messages"][0]["content"],
        json!([
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}
        ])
    );
}

#[test]
fn tool_calling_round_trip() {
    assert_body(
        KIND,
        &tool_round_trip(),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 4096,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "{\"temp\":21}"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": "sunny, 25C"}
                ]}
            ],
            "tools": [{"name": "get_weather", "description": "Current weather for a city", "input_schema": weather_schema()}],
            "tool_choice": {"type": "auto"}
        }),
    );
}

#[test]
fn sampling_parameters() {
    assert_body(
        KIND,
        &sampling(),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 256,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Write a haiku"}]}],
            "temperature": 0.5,
            "top_p": 0.9,
            "stop_sequences": ["\n\n", "END"],
            "metadata": {"user_id": "user-7"}
        }),
    );
}

#[test]
fn tool_choices() {
    let tools = tool_round_trip()["tools"].clone();
    for (choice, parallel, expected) in [
        (json!("required"), None, json!({"type": "any"})),
        (json!("none"), None, json!({"type": "none"})),
        (
            json!({"type": "function", "function": {"name": "get_weather"}}),
            Some(false),
            json!({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true}),
        ),
        (
            json!(null),
            Some(false),
            json!({"type": "auto", "disable_parallel_tool_use": true}),
        ),
    ] {
        let request = request(
            json!({"tools": tools, "tool_choice": choice, "parallel_tool_calls": parallel}),
        );
        assert_eq!(body(KIND, &request)["tool_choice"], expected, "{choice}");
    }
}

#[test]
fn same_role_messages_merge_and_developer_is_system() {
    let request = request(json!({
        "max_completion_tokens": 50,
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Rule one."}]},
            {"role": "system", "content": "Rule two."},
            {"role": "user", "content": "First"},
            {"role": "user", "content": [{"type": "text", "text": "Second"}]},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": "Answer"}
        ]
    }));
    assert_eq!(
        body(KIND, &request),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 50,
            "system": [{"type": "text", "text": "Rule one."}, {"type": "text", "text": "Rule two."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "First"}, {"type": "text", "text": "Second"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Answer"}]}
            ]
        })
    );
}

#[test]
fn legacy_functions() {
    let request = request(json!({
        "functions": [{"name": "get_weather", "parameters": weather_schema()}],
        "function_call": {"name": "get_weather"},
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": null, "function_call": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}},
            {"role": "function", "name": "get_weather", "content": "cold"}
        ]
    }));
    let body = body(KIND, &request);
    assert_eq!(
        body["tools"],
        json!([{"name": "get_weather", "input_schema": weather_schema()}])
    );
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "get_weather"})
    );
    assert_eq!(
        body["messages"][1]["content"][0],
        json!({"type": "tool_use", "id": "call_legacy_1", "name": "get_weather", "input": {"city": "Oslo"}})
    );
    assert_eq!(
        body["messages"][2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "call_legacy_1", "content": "cold"})
    );
}

#[test]
fn refusals() {
    check(KIND, json!({"n": 2}), "n");
    check(KIND, json!({"temperature": 1.5}), "temperature");
    check(KIND, json!({"seed": 7}), "seed");
    check(KIND, json!({"presence_penalty": 0.5}), "presence_penalty");
    check(
        KIND,
        json!({"response_format": {"type": "json_object"}}),
        "response_format.type",
    );
    check(KIND, json!({"reasoning_effort": "low"}), "reasoning_effort");
    check(
        KIND,
        json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}]}]}),
        "messages[0].content[0].image_url.url",
    );
    check(
        KIND,
        json!({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_data": "data:text/csv;base64,YSxi"}}]}]}),
        "messages[0].content[0].file.file_data",
    );
    accepts(
        KIND,
        json!({"presence_penalty": 0, "frequency_penalty": 0.0, "temperature": 1}),
    );
}

#[test]
fn text_answer_with_thinking_and_cache_usage() {
    let completion = answer(
        KIND,
        &json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [
                {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
                {"type": "text", "text": "Hello"},
                {"type": "redacted_thinking", "data": "xyz"},
                {"type": "text", "text": " world"}
            ],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 3, "output_tokens": 7}
        }),
    );
    assert_eq!(
        normalized(&completion),
        completion_body("msg_01", text_message("Hello world"), "stop", [18, 7, 25])
    );
    assert_eq!(completion.model, "claude-sonnet-4-5-20250929");
    assert_eq!(completion.usage.total_tokens, 25);
}

fn completion_body(
    id: &str,
    message: serde_json::Value,
    finish: &str,
    usage: [u32; 3],
) -> serde_json::Value {
    expected_completion(id, "claude-sonnet-4-5-20250929", message, finish, usage)
}

#[test]
fn tool_call_answer() {
    let completion = answer(
        KIND,
        &json!({
            "id": "msg_02", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 20, "output_tokens": 9}
        }),
    );
    assert_eq!(
        normalized(&completion),
        completion_body(
            "msg_02",
            call_message(Some("Checking."), "toolu_01"),
            "tool_calls",
            [20, 9, 29]
        )
    );
}

#[test]
fn stop_reasons() {
    for (reason, finish) in [
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("refusal", "content_filter"),
    ] {
        let completion = answer(
            KIND,
            &json!({
                "id": "msg_03", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
                "content": [], "stop_reason": reason, "usage": {"input_tokens": 1, "output_tokens": 2}
            }),
        );
        assert_eq!(
            normalized(&completion),
            completion_body(
                "msg_03",
                json!({"role": "assistant", "content": null, "refusal": null}),
                finish,
                [1, 2, 3]
            )
        );
    }
}
