//! Every string the provider reads is checked, or the call is refused. Each attack class is sent to
//! the real agent with a benign twin; the verdict is read from what the recording mock upstream
//! received, not only from the status code.

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::{agent_with_upstream, client, Agent, MockUpstream, Reply, PROVIDER_KEY};

const SSN: &str = "123-45-6789";

async fn send_raw(agent: &Agent, body: &str) -> (StatusCode, Value) {
    let response = client()
        .post(agent.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-provider-key", PROVIDER_KEY)
        .body(body.to_owned())
        .send()
        .await
        .expect("agent answers");
    let status = response.status();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn send(agent: &Agent, body: &Value) -> (StatusCode, Value) {
    send_raw(agent, &body.to_string()).await
}

fn chat(extra: Value) -> Value {
    let mut body =
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

/// What the mock received, as text, for each call it got.
fn received_bodies(upstream: &MockUpstream) -> Vec<String> {
    upstream
        .received()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

/// The attack is refused by policy and nothing reaches the provider.
#[track_caller]
fn assert_blocked(status: StatusCode, body: &Value, upstream: &MockUpstream, case: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
    assert_eq!(body["error"]["code"], "policy_denied", "{case}: {body}");
    assert!(
        upstream.received().is_empty(),
        "{case} reached the provider"
    );
}

/// One class: the attack is blocked and never forwarded; its benign twin is forwarded byte for byte.
async fn check_class(case: &str, attack: Value, twin: Value) {
    let (agent, upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    let (status, body) = send(&agent, &attack).await;
    assert_blocked(status, &body, &upstream, case);
    let (status, body) = send(&agent, &twin).await;
    assert_eq!(status, StatusCode::OK, "{case} twin: {body}");
    assert_eq!(
        received_bodies(&upstream),
        [twin.to_string()],
        "{case}: the twin is forwarded unchanged"
    );
}

#[tokio::test]
async fn strings_outside_message_content_are_checked() {
    let tool = |description: &str, property: &str, property_description: &str| {
        json!({"tools": [{"type": "function", "function": {"name": "lookup", "description": description,
            "parameters": {"type": "object", "properties": {property: {"type": "string",
                "description": property_description}}, "required": [property]}}}]})
    };
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "tool description",
            chat(tool(
                &format!("look up customer with SSN {SSN}"),
                "id",
                "the id",
            )),
            chat(tool("look up a customer", "id", "the id")),
        ),
        (
            "parameter schema description",
            chat(tool(
                "look up",
                "id",
                "1' UNION SELECT password FROM users--",
            )),
            chat(tool("look up", "id", "the customer id")),
        ),
        (
            "parameter schema property name",
            chat(tool("look up", &format!("ssn {SSN}"), "x")),
            chat(tool("look up", "ssn", "x")),
        ),
        (
            "schema enum value",
            chat(
                json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
                "properties": {"mode": {"type": "string", "enum": ["a", "DROP TABLE customers"]}}}}}]}),
            ),
            chat(
                json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
                "properties": {"mode": {"type": "string", "enum": ["a", "b"]}}}}}]}),
            ),
        ),
        (
            "legacy functions",
            chat(
                json!({"functions": [{"name": "f", "description": format!("card 4111 1111 1111 1111")}]}),
            ),
            chat(json!({"functions": [{"name": "f", "description": "a card lookup"}]})),
        ),
        (
            "legacy function_call arguments",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "assistant", "content": null,
                "function_call": {"name": "f", "arguments": format!("{{\"ssn\": \"{SSN}\"}}")}}]}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "assistant", "content": null,
                "function_call": {"name": "f", "arguments": "{\"id\": \"42\"}"}}]}),
        ),
        (
            "non-string tool-call arguments",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f",
                    "arguments": {"ssn": SSN}}}]}]}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f",
                    "arguments": {"id": "42"}}}]}]}),
        ),
        (
            "refusal part",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "assistant", "content": [
                {"type": "refusal", "refusal": format!("I will not share {SSN}")}]}]}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "assistant", "content": [
                {"type": "refusal", "refusal": "I will not share that"}]}]}),
        ),
        (
            "unknown part type",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
                {"type": "input_text", "text": format!("my SSN is {SSN}")}]}]}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
                {"type": "input_text", "text": "my name is Jane"}]}]}),
        ),
        (
            "text file part",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
                {"type": "file", "file": {"filename": "notes.txt", "file_data": format!("data:text/plain;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(format!("SSN {SSN}")))}}]}]}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
                {"type": "file", "file": {"filename": "notes.txt", "file_data": format!("data:text/plain;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode("meeting at noon"))}}]}]}),
        ),
        (
            "image URL query string",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": format!("https://example.com/a.png?ssn={SSN}")}}]}]}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}),
        ),
        (
            "prediction",
            chat(json!({"prediction": {"type": "content", "content": format!("SSN {SSN}")}})),
            chat(json!({"prediction": {"type": "content", "content": "a draft"}})),
        ),
        (
            "response_format schema",
            chat(
                json!({"response_format": {"type": "json_schema", "json_schema": {"name": "out",
                "schema": {"type": "object", "description": "'; DROP TABLE users; --"}}}}),
            ),
            chat(
                json!({"response_format": {"type": "json_schema", "json_schema": {"name": "out",
                "schema": {"type": "object", "description": "the answer"}}}}),
            ),
        ),
        (
            "message name",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "name": format!("ssn {SSN}"), "content": "hi"}]}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "name": "jane", "content": "hi"}]}),
        ),
        (
            "field the gateway does not know",
            chat(json!({"x_notes": {"deep": [format!("card 4111111111111111")]}})),
            chat(json!({"x_notes": {"deep": ["nothing here"]}})),
        ),
        (
            "metadata and user",
            chat(json!({"metadata": {"note": format!("SSN {SSN}")}, "user": "jane"})),
            chat(json!({"metadata": {"note": "vip"}, "user": "jane"})),
        ),
        (
            "role that is no role",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "1' OR '1'='1", "content": "hi"}]}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "escaped JSON in tool arguments",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f",
                    "arguments": "{\"q\": \"\\u0031\\u0032\\u0033-45-6789\"}"}}]}]}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f",
                    "arguments": "{\"q\": \"\\u0034\\u0032\"}"}}]}]}),
        ),
        (
            "value split across text parts",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "my SSN is 123-45-"}, {"type": "text", "text": "6789"}]}]}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "my order is "}, {"type": "text", "text": "on its way"}]}]}),
        ),
        (
            "value split across messages of one turn",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "my SSN is 123-45-"},
                {"role": "user", "content": [{"type": "text", "text": "6789"}]}]}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "my order is "},
                {"role": "user", "content": [{"type": "text", "text": "on its way"}]}]}),
        ),
        (
            "value split across a tool result and the user's turn",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "call_1", "content": "SSN 123-45-"},
                {"role": "user", "content": "6789, is that mine?"}]}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "call_1", "content": "order 123-45-"},
                {"role": "user", "content": "AB, is that mine?"}]}),
        ),
        (
            "card number spelled as a float in a tool schema",
            chat(
                json!({"tools": [{"type": "function", "function": {"name": "pay", "parameters": {
                "type": "object", "properties": {"card": {"type": "number", "enum": [4111111111111111.0]}}}}}]}),
            ),
            chat(
                json!({"tools": [{"type": "function", "function": {"name": "pay", "parameters": {
                "type": "object", "properties": {"amount": {"type": "number", "enum": [42.5]}}}}}]}),
            ),
        ),
        (
            "number in tool-call arguments",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "pay",
                    "arguments": {"card": 4111111111111111u64}}}]}]}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "pay",
                    "arguments": {"amount": 42}}}]}]}),
        ),
        (
            "escapes in text that is not JSON",
            chat(
                json!({"messages": [{"role": "user", "content": "SSN \\u0031\\u0032\\u0033-45-6789"}]}),
            ),
            chat(
                json!({"messages": [{"role": "user", "content": "the file is C:\\new\\table.txt"}]}),
            ),
        ),
        (
            "model name",
            json!({"model": "gpt-4o' OR '1'='1", "messages": [{"role": "user", "content": "hi"}]}),
            json!({"model": "gpt-4o-mini-2024-07-18", "messages": [{"role": "user", "content": "hi"}]}),
        ),
    ];
    for (case, attack, twin) in cases {
        check_class(case, attack, twin).await;
    }
}

#[tokio::test]
async fn values_that_cannot_be_masked_in_place_refuse_a_redacting_call() {
    let (agent, upstream) =
        agent_with_upstream(Reply::completion(), &[("PII_ACTION", "redact")]).await;
    for attack in [
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "my SSN is 123-45-"}, {"type": "text", "text": "6789"}]}]}),
        chat(
            json!({"messages": [{"role": "user", "content": "SSN \\u0031\\u0032\\u0033-45-6789"}]}),
        ),
    ] {
        let (status, body) = send(&agent, &attack).await;
        assert_blocked(status, &body, &upstream, "unmaskable");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("could not be masked")));
    }
    // The model name is stored masked, never raw.
    let (status, _) = send(
        &agent,
        &json!({"model": format!("gpt-4o {SSN}"), "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let models: Vec<String> = sqlx::query_scalar("SELECT model FROM llm_call_audits")
        .fetch_all(&agent.pool().await)
        .await
        .expect("models");
    assert!(models.iter().all(|m| !m.contains(SSN)), "{models:?}");
}

#[tokio::test]
async fn json_escapes_are_decoded_before_checking() {
    let (agent, upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    // "\u0031\u0032\u0033-45-6789" is 123-45-6789 once decoded.
    let attack = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"SSN \u0031\u0032\u0033-45-6789"}]}"#;
    let (status, body) = send_raw(&agent, attack).await;
    assert_blocked(status, &body, &upstream, "escaped SSN");
    let twin = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"order \u0031\u0032\u0033"}]}"#;
    let (status, body) = send_raw(&agent, twin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        received_bodies(&upstream),
        [twin],
        "forwarded byte for byte"
    );
}

#[tokio::test]
async fn duplicate_keys_are_refused_at_every_depth() {
    let (agent, upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    let attacks = [
        format!(
            r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"SSN {SSN}","content":"hello"}}]}}"#
        ),
        format!(
            r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"hello"}}],"messages":[{{"role":"user","content":"SSN {SSN}"}}]}}"#
        ),
        format!(
            r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"hi"}}],"tools":[{{"type":"function","function":{{"name":"f","description":"x","descr\u0069ption":"SSN {SSN}"}}}}]}}"#
        ),
    ];
    for attack in &attacks {
        let (status, body) = send_raw(&agent, attack).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{attack}: {body}");
        assert_eq!(body["error"]["code"], "duplicate_key", "{body}");
    }
    assert!(
        upstream.received().is_empty(),
        "a duplicate reached the provider"
    );
    let twin = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"},{"role":"user","content":"hello"}]}"#;
    let (status, _) = send_raw(&agent, twin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(received_bodies(&upstream), [twin]);
}

#[tokio::test]
async fn text_past_the_scan_limit_is_refused_never_forwarded() {
    let (agent, upstream) = agent_with_upstream(
        Reply::completion(),
        &[("AXONFLOW_POLICY_SCAN_LIMIT_BYTES", "4096")],
    )
    .await;
    let padding = "lorem ipsum ".repeat(400);
    for attack in [
        chat(json!({"messages": [{"role": "user", "content": format!("{padding} SSN {SSN}")}]})),
        // Padding spread over many messages and fields counts as one text.
        chat(json!({"messages": [
            {"role": "user", "content": padding[..2000].to_owned()},
            {"role": "user", "content": padding[..2000].to_owned()},
            {"role": "user", "content": format!("SSN {SSN} {}", &padding[..200])}]})),
        chat(
            json!({"tools": [{"type": "function", "function": {"name": "f", "description": padding.clone()}}]}),
        ),
    ] {
        let (status, body) = send(&agent, &attack).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["error"]["code"], "input_too_large");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("4096")),
            "the message names the limit: {body}"
        );
    }
    assert!(
        upstream.received().is_empty(),
        "text past the limit was forwarded"
    );
    let twin = chat(json!({"messages": [{"role": "user", "content": padding[..3000].to_owned()}]}));
    let (status, _) = send(&agent, &twin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(received_bodies(&upstream), [twin.to_string()]);
}

#[tokio::test]
async fn redaction_reaches_every_place_and_the_rest_is_kept() {
    let (agent, upstream) =
        agent_with_upstream(Reply::completion(), &[("PII_ACTION", "redact")]).await;
    let body = json!({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "f", "arguments": {"ssn": SSN}}}]}],
        "tools": [{"type": "function", "function": {"name": "f", "description": format!("for SSN {SSN} only"),
            "parameters": {"type": "object", "properties": {format!("id {SSN}"): {"type": "string"}}}}}]});
    let (status, answer) = send(&agent, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let received = received_bodies(&upstream);
    assert_eq!(received.len(), 1);
    assert!(
        !received[0].contains(SSN),
        "raw value forwarded: {}",
        received[0]
    );
    let forwarded: Value = serde_json::from_str(&received[0]).expect("JSON");
    assert_eq!(
        forwarded["tools"][0]["function"]["description"],
        "for SSN [REDACTED:SSN] only"
    );
    assert_eq!(
        forwarded["messages"][1]["tool_calls"][0]["function"]["arguments"]["ssn"],
        "[REDACTED:SSN]"
    );
    assert!(
        forwarded["tools"][0]["function"]["parameters"]["properties"]
            .get("id [REDACTED:SSN]")
            .is_some()
    );
    assert_eq!(forwarded["messages"][0]["content"], "hello");
    assert_eq!(forwarded["model"], "gpt-4o-mini");
}

#[tokio::test]
async fn documents_no_policy_can_read_are_refused() {
    let (agent, upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    let pdf = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjcK/////w=="}}]}]});
    let (status, body) = send(&agent, &pdf).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "uncheckable_content");
    assert!(upstream.received().is_empty());
    // A file stored with the provider: the provider reads it, the policies never see it.
    let stored = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "summarise this"}, {"type": "file", "file": {"file_id": "file-abc123"}}]}]});
    let (status, body) = send(&agent, &stored).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "uncheckable_content");
    assert_eq!(body["error"]["param"], "/messages/0/content/1/file/file_id");
    assert!(upstream.received().is_empty());
    // Images are media, passed on when they are base64 through and through.
    let image = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}]}]});
    let (status, _) = send(&agent, &image).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(received_bodies(&upstream), [image.to_string()]);
}

#[tokio::test]
async fn every_deciding_endpoint_refuses_text_past_the_scan_limit() {
    let (agent, _upstream) = agent_with_upstream(
        Reply::completion(),
        &[("AXONFLOW_POLICY_SCAN_LIMIT_BYTES", "2048")],
    )
    .await;
    let long = format!("{} SSN {SSN}", "x".repeat(3000));
    for (path, body) in [
        (
            "/api/policy/pre-check",
            json!({"query": long, "user_token": "u"}),
        ),
        ("/api/v1/decide", json!({"stage": "llm", "query": long})),
        ("/api/v1/mcp/check-input", json!({"statement": long})),
    ] {
        let (status, answer) = crate::common::post_json(&agent, path, body).await;
        crate::common::assert_api_error(
            status,
            &answer,
            StatusCode::PAYLOAD_TOO_LARGE,
            "input_too_large",
        );
        assert!(answer["error"].as_str().is_some_and(|m| m.contains("2048")));
    }
    let (status, answer) = crate::common::post_json(
        &agent,
        "/api/policy/pre-check",
        json!({"query": format!("SSN {SSN}"), "user_token": "u"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer["approved"], false,
        "the short twin is decided: {answer}"
    );
}
