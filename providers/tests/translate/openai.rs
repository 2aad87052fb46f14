//! OpenAI and Azure OpenAI: the body forwarded with `model` replaced, and answers kept as received.

use axonflow_providers::{build_request, parse_answer, ProviderKind, Target};
use serde_json::{json, Value};

use crate::common::*;

#[test]
fn openai_forwards_the_body_with_the_model_replaced() {
    let mut request = tool_round_trip();
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    request["logprobs"] = json!(true);
    request["some_future_field"] = json!({"kept": [1, 2]});
    let outgoing = build(ProviderKind::OpenAi, &request).expect("translates");
    assert_eq!(outgoing.url, "https://api.openai.com/v1/chat/completions");
    assert_eq!(
        outgoing.headers["authorization"],
        format!("Bearer {API_KEY}")
    );
    assert!(outgoing.headers["authorization"].is_sensitive());
    assert_eq!(outgoing.headers["content-type"], "application/json");
    let mut expected = request.clone();
    expected["model"] = json!("gpt-4o-mini");
    assert_eq!(
        serde_json::from_slice::<Value>(&outgoing.body).expect("json"),
        expected
    );
}

#[test]
fn azure_uses_the_deployment_and_api_version() {
    let outgoing = build(ProviderKind::AzureOpenAi, &plain_chat()).expect("translates");
    assert_eq!(
        outgoing.url,
        "https://example.openai.azure.com/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(outgoing.headers["api-key"], API_KEY);
    assert!(!outgoing.headers.contains_key("authorization"));
    let mut expected = plain_chat();
    expected["model"] = json!("prod-gpt4o");
    assert_eq!(
        serde_json::from_slice::<Value>(&outgoing.body).expect("json"),
        expected
    );

    let credentials = credentials(ProviderKind::AzureOpenAi);
    let target = Target {
        api_version: Some("2025-04-01-preview"),
        endpoint: "https://example.openai.azure.com/",
        model: "my deployment",
        ..target(ProviderKind::AzureOpenAi, &credentials)
    };
    let outgoing = build_request(&target, &plain_chat(), now()).expect("translates");
    assert_eq!(
        outgoing.url,
        "https://example.openai.azure.com/openai/deployments/my%20deployment/chat/completions?api-version=2025-04-01-preview"
    );
}

#[test]
fn a_body_without_a_model_gets_one() {
    let outgoing = build(ProviderKind::OpenAi, &json!({"messages": []})).expect("translates");
    assert_eq!(
        serde_json::from_slice::<Value>(&outgoing.body).expect("json"),
        json!({"model": "gpt-4o-mini", "messages": []})
    );
}

fn openai_answer() -> Value {
    json!({
        "id": "chatcmpl-abc", "object": "chat.completion", "created": 1_714_564_800,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi", "refusal": null}, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11, "prompt_tokens_details": {"cached_tokens": 0}},
        "system_fingerprint": "fp_1"
    })
}

#[test]
fn answers_are_kept_as_received() {
    for kind in [ProviderKind::OpenAi, ProviderKind::AzureOpenAi] {
        let completion = answer(kind, &openai_answer());
        assert_eq!(completion.body, openai_answer());
        assert_eq!(completion.model, "gpt-4o-mini-2024-07-18");
        assert_eq!(
            (
                completion.usage.prompt_tokens,
                completion.usage.completion_tokens,
                completion.usage.total_tokens
            ),
            (9, 2, 11)
        );
    }
}

#[test]
fn usage_total_and_model_fall_back() {
    let mut body = openai_answer();
    body["usage"] = json!({"prompt_tokens": 4, "completion_tokens": 6});
    body.as_object_mut().expect("object").remove("model");
    let completion = answer(ProviderKind::OpenAi, &body);
    assert_eq!(completion.usage.total_tokens, 10);
    assert_eq!(completion.model, "gpt-4o-mini");
}

#[test]
fn a_body_without_choices_is_not_an_answer() {
    let error = parse_answer(ProviderKind::AzureOpenAi, "m", 200, br#"{"id": "x"}"#)
        .expect_err("no choices");
    assert_eq!(
        (error.status, error.error_type.as_str()),
        (502, "upstream_error")
    );
    assert!(
        error.message.starts_with("azure-openai answered"),
        "{}",
        error.message
    );
}
