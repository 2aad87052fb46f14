//! Bedrock Converse: golden requests and answers (shapes from the Converse API reference), SigV4
//! signing, and the requests it cannot take.

use std::time::Duration;

use axonflow_providers::{build_request, Credentials, ProviderKind, Target};
use serde_json::{json, Value};

use crate::common::*;

const KIND: ProviderKind = ProviderKind::Bedrock;

#[test]
fn url_encodes_the_model_id_as_one_segment() {
    let outgoing = build(KIND, &plain_chat()).expect("translates");
    assert_eq!(
        outgoing.url,
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    );
    let credentials = credentials(KIND);
    let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0";
    let target = Target {
        model: arn,
        ..target(KIND, &credentials)
    };
    let outgoing = build_request(&target, &plain_chat(), now()).expect("translates");
    assert_eq!(
        outgoing.url,
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse"
    );
}

fn authorization(request: &Value, now: std::time::SystemTime) -> String {
    let credentials = credentials(KIND);
    let outgoing = build_request(&target(KIND, &credentials), request, now).expect("translates");
    outgoing.headers["authorization"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

#[test]
fn sigv4_signature() {
    let credentials = credentials(KIND);
    let outgoing =
        build_request(&target(KIND, &credentials), &plain_chat(), now()).expect("translates");
    let auth = outgoing.headers["authorization"].to_str().expect("ascii");
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="),
        "{auth}"
    );
    assert_eq!(outgoing.headers["x-amz-date"], "20240501T120000Z");
    assert_eq!(outgoing.headers["x-amz-security-token"], AWS_TOKEN);
    assert!(outgoing.headers["authorization"].is_sensitive());
    assert!(outgoing.headers["x-amz-security-token"].is_sensitive());
    assert_eq!(outgoing.headers["content-type"], "application/json");

    let same = authorization(&plain_chat(), now());
    assert_eq!(auth, same, "same inputs and time sign the same");
    assert_ne!(
        auth,
        authorization(&sampling(), now()),
        "the body is signed"
    );
    assert_ne!(
        auth,
        authorization(&plain_chat(), now() + Duration::from_secs(1)),
        "the time is signed"
    );
}

#[test]
fn credentials_without_session_token() {
    let credentials = Credentials::new(format!("AKID:{AWS_SECRET}"));
    let outgoing =
        build_request(&target(KIND, &credentials), &plain_chat(), now()).expect("translates");
    assert!(!outgoing.headers.contains_key("x-amz-security-token"));
    assert!(outgoing.headers["authorization"]
        .to_str()
        .expect("ascii")
        .contains("SignedHeaders=content-type;host;x-amz-date, "));
}

#[test]
fn missing_region_and_malformed_credentials() {
    let credentials = credentials(KIND);
    let target_without_region = Target {
        region: None,
        ..target(KIND, &credentials)
    };
    let error =
        build_request(&target_without_region, &plain_chat(), now()).expect_err("needs a region");
    assert_eq!(error.param, None);
    assert!(error.message.contains("region"), "{}", error.message);

    for malformed in ["AKIDONLY", ":SECRETONLY", "AKID:"] {
        let credentials = Credentials::new(malformed.to_owned());
        let error = build_request(&target(KIND, &credentials), &plain_chat(), now())
            .expect_err("malformed credentials");
        assert_eq!(error.param, None);
        assert!(!error.message.contains("SECRETONLY") && !error.message.contains("AKIDONLY"));
        assert!(!format!("{error:?}").contains("SECRETONLY"));
    }
}

#[test]
fn plain_chat_with_system_prompt() {
    assert_body(
        KIND,
        &plain_chat(),
        json!({
            "messages": [
                {"role": "user", "content": [{"text": "Hello"}]},
                {"role": "assistant", "content": [{"text": "Hi."}]},
                {"role": "user", "content": [{"text": "What is 2+2?"}]}
            ],
            "system": [{"text": "You are terse."}]
        }),
    );
}

#[test]
fn image_content() {
    assert_body(
        KIND,
        &image_chat(),
        json!({
            "messages": [{"role": "user", "content": [
                {"text": "What is in this image?"},
                {"image": {"format": "png", "source": {"bytes": PNG_DATA}}}
            ]}]
        }),
    );
}

#[test]
fn documents() {
    let request = request(json!({"messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "Q3 report (final).pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
        {"type": "file", "file": {"file_data": "data:text/csv;base64,YSxi"}}
    ]}]}));
    assert_eq!(
        body(KIND, &request)["messages"][0]["content"],
        json!([
            {"document": {"format": "pdf", "name": "Q3 report (final)", "source": {"bytes": "JVBERi0="}}},
            {"document": {"format": "csv", "name": "document-2", "source": {"bytes": "YSxi"}}}
        ])
    );
}

#[test]
fn tool_calling_round_trip() {
    assert_body(
        KIND,
        &tool_round_trip(),
        json!({
            "messages": [
                {"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]},
                {"role": "assistant", "content": [
                    {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}},
                    {"toolUse": {"toolUseId": "call_2", "name": "get_weather", "input": {"city": "Rome"}}}
                ]},
                {"role": "user", "content": [
                    {"toolResult": {"toolUseId": "call_1", "content": [{"json": {"temp": 21}}]}},
                    {"toolResult": {"toolUseId": "call_2", "content": [{"text": "sunny, 25C"}]}}
                ]}
            ],
            "toolConfig": {
                "tools": [{"toolSpec": {
                    "name": "get_weather",
                    "description": "Current weather for a city",
                    "inputSchema": {"json": weather_schema()}
                }}],
                "toolChoice": {"auto": {}}
            }
        }),
    );
}

#[test]
fn tool_choices() {
    let tools = tool_round_trip()["tools"].clone();
    let required = request(json!({"tools": tools, "tool_choice": "required"}));
    assert_eq!(
        body(KIND, &required)["toolConfig"]["toolChoice"],
        json!({"any": {}})
    );
    let named = request(
        json!({"tools": tools, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
    );
    assert_eq!(
        body(KIND, &named)["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "get_weather"}})
    );
    let none = request(json!({"tools": tools, "tool_choice": "none"}));
    assert_eq!(
        body(KIND, &none).get("toolConfig"),
        None,
        "no tools offered"
    );
    let mut history = tool_round_trip();
    history["tool_choice"] = json!("none");
    assert_eq!(
        build(KIND, &history).expect_err("refused").param.as_deref(),
        Some("tool_choice")
    );
}

#[test]
fn sampling_parameters() {
    assert_body(
        KIND,
        &sampling(),
        json!({
            "messages": [{"role": "user", "content": [{"text": "Write a haiku"}]}],
            "inferenceConfig": {"maxTokens": 256, "temperature": 0.5, "topP": 0.9, "stopSequences": ["\n\n", "END"]}
        }),
    );
}

#[test]
fn refusals() {
    check(KIND, json!({"n": 3}), "n");
    check(KIND, json!({"temperature": 1.2}), "temperature");
    check(KIND, json!({"seed": 1}), "seed");
    check(KIND, json!({"frequency_penalty": 1}), "frequency_penalty");
    check(
        KIND,
        json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}}),
        "response_format.type",
    );
    check(
        KIND,
        json!({"parallel_tool_calls": false}),
        "parallel_tool_calls",
    );
    check(
        KIND,
        json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "Look"}, {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}),
        "messages[0].content[1].image_url.url",
    );
    check(
        KIND,
        json!({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_data": "data:application/zip;base64,UEs="}}]}]}),
        "messages[0].content[0].file.file_data",
    );
}

#[test]
fn text_answer() {
    let completion = answer(
        KIND,
        &json!({
            "output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "s"}}},
                {"text": "Hello"},
                {"text": " world"}
            ]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 11, "outputTokens": 4, "totalTokens": 15},
            "metrics": {"latencyMs": 321}
        }),
    );
    assert_eq!(
        normalized(&completion),
        expected_completion(
            "chatcmpl-generated",
            model(KIND),
            text_message("Hello world"),
            "stop",
            [11, 4, 15]
        )
    );
    assert_eq!(completion.model, model(KIND));
}

#[test]
fn tool_call_answer() {
    let completion = answer(
        KIND,
        &json!({
            "output": {"message": {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}
            ]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 40, "outputTokens": 12, "totalTokens": 52}
        }),
    );
    assert_eq!(
        normalized(&completion),
        expected_completion(
            "chatcmpl-generated",
            model(KIND),
            call_message(None, "tooluse_1"),
            "tool_calls",
            [40, 12, 52]
        )
    );
}

#[test]
fn stop_reasons() {
    for (reason, finish) in [
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
    ] {
        let completion = answer(
            KIND,
            &json!({
                "output": {"message": {"role": "assistant", "content": [{"text": "x"}]}},
                "stopReason": reason,
                "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}
            }),
        );
        assert_eq!(
            completion.body["choices"][0]["finish_reason"], finish,
            "{reason}"
        );
    }
}
