//! `stream: true` end to end against the mock providers' event streams: text forwarded as it
//! flows, usage requested upstream and stripped, output policies over values split at every byte,
//! SSE quirks, and one audit row per stream however it ends (completed, blocked, upstream broken
//! off or silent, client gone).

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{audit_row, client, fresh_database, Agent, PROVIDER_KEY};
use crate::providers::MockProviders;

/// An agent on a fresh database whose OpenAI upstream is the mock providers.
async fn agent(mock: &MockProviders, env: &[(&str, &str)]) -> Agent {
    let base = format!("{}/v1", mock.base_url);
    let mut all = vec![("OPENAI_BASE_URL", base.as_str())];
    all.extend_from_slice(env);
    Agent::start(&fresh_database().await, &all)
}

/// An agent enforcing output policies with personal data redacted.
async fn masking_agent(mock: &MockProviders) -> Agent {
    agent(
        mock,
        &[
            ("AXONFLOW_OUTPUT_POLICIES", "enforce"),
            ("PII_ACTION", "redact"),
        ],
    )
    .await
}

/// What a streamed call answered: status, headers, and each `data:` payload in order.
struct Streamed {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    events: Vec<String>,
}

impl Streamed {
    fn text(&self) -> String {
        self.chunks()
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
            })
            .collect()
    }

    fn chunks(&self) -> Vec<Value> {
        self.events
            .iter()
            .filter(|e| e.as_str() != "[DONE]")
            .map(|e| serde_json::from_str(e).unwrap_or_else(|_| panic!("not JSON: {e}")))
            .collect()
    }

    fn decision_id(&self) -> String {
        self.headers
            .get("x-axonflow-decision-id")
            .and_then(|v| v.to_str().ok())
            .expect("decision id header")
            .to_owned()
    }
}

/// `POST /v1/chat/completions` with the provider key.
async fn send(agent: &Agent, body: &Value) -> reqwest::Response {
    client()
        .post(agent.url("/v1/chat/completions"))
        .header("x-provider-key", PROVIDER_KEY)
        .json(body)
        .send()
        .await
        .expect("agent answers")
}

async fn stream(agent: &Agent, body: Value) -> Streamed {
    let response = send(agent, &body).await;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let events = text
        .split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(str::to_owned)
        .collect();
    Streamed {
        status,
        headers,
        events,
    }
}

fn ask(content: &str) -> Value {
    json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": content}]})
}

/// One OpenAI chunk event carrying `content`.
fn content_event(content: &str) -> String {
    let chunk = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                       "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]});
    format!("data: {chunk}\n\n")
}

/// `ask("hi")` streamed by `agent` once the mock provider streams `chunks`.
async fn streamed_with(mock: &MockProviders, agent: &Agent, chunks: Value) -> Streamed {
    mock.script("/chat/completions", json!([{"stream": {"chunks": chunks}}]))
        .await;
    stream(agent, ask("hi")).await
}

/// The stream ended with the policy's error event.
fn assert_ended_by_policy(streamed: &Streamed) {
    let last = streamed.chunks().pop().expect("events");
    assert_eq!(
        last["error"]["code"], "policy_denied",
        "{:?}",
        streamed.events
    );
}

fn finish_event() -> String {
    let chunk = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    format!("data: {chunk}\n\ndata: [DONE]\n\n")
}

#[tokio::test]
async fn text_flows_with_usage_requested_upstream_and_one_audit_row() {
    let mock = MockProviders::start();
    let agent = agent(&mock, &[]).await;
    let streamed = stream(&agent, ask("Say hello")).await;
    assert_eq!(streamed.status, StatusCode::OK);
    assert_eq!(
        streamed
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    assert!(streamed.headers.get("x-axonflow-trace-id").is_some());
    assert_eq!(streamed.text(), "Hello from openai");
    assert_eq!(streamed.events.last().map(String::as_str), Some("[DONE]"));
    // The usage chunk the gateway asked for is not the client's.
    assert!(
        streamed.chunks().iter().all(|c| c.get("usage").is_none()),
        "{:?}",
        streamed.events
    );
    let sent: Value = serde_json::from_str(
        mock.received().await.last().expect("called")["body"]
            .as_str()
            .unwrap_or("{}"),
    )
    .expect("json");
    assert_eq!(sent["stream_options"]["include_usage"], true);
    let row = audit_row(&agent, &streamed.decision_id()).await;
    assert_eq!(row["http_status"], 200);
    assert_eq!(row["total_tokens"], 16, "{row}");
    let metadata = &row["metadata"];
    assert_eq!(metadata["stream"], true);
    assert_eq!(metadata["stream_end"], "completed");
    assert_eq!(metadata["tokens_estimated"], false);
    assert_eq!(metadata["output_policies"], "log");
    assert!(metadata["ttft_ms"].is_u64(), "{row}");

    // A client that asked for usage gets its chunk.
    let mut with_usage = ask("Say hello");
    with_usage["stream_options"] = json!({"include_usage": true});
    let streamed = stream(&agent, with_usage).await;
    let usage: Vec<Value> = streamed
        .chunks()
        .into_iter()
        .filter(|c| c.get("usage").is_some_and(|u| !u.is_null()))
        .collect();
    assert_eq!(usage.len(), 1, "{:?}", streamed.events);
    assert_eq!(usage[0]["usage"]["total_tokens"], 16);
    assert_eq!(usage[0]["choices"], json!([]));

    // Tool-call argument deltas arrive intact.
    let mut tools = ask("Weather in Paris?");
    tools["tools"] = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let streamed = stream(&agent, tools).await;
    let arguments: String = streamed
        .chunks()
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/delta/tool_calls/0/function/arguments")
                .and_then(Value::as_str)
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).expect("arguments"),
        json!({"city": "Paris"})
    );
    assert!(streamed
        .chunks()
        .iter()
        .any(|c| c.pointer("/choices/0/delta/tool_calls/0/id") == Some(&json!("call_mock1"))));
}

#[tokio::test]
async fn values_split_at_every_byte_never_reach_the_client_when_enforcing() {
    let mock = MockProviders::start();
    let enforce = masking_agent(&mock).await;
    let record = agent(&mock, &[("PII_ACTION", "redact")]).await;
    for value in ["123-45-6789", "4111 1111 1111 1111", "jane.doe@example.com"] {
        let text = format!("Here you go: {value}. Bye");
        for cut in 1..text.len() {
            let chunks = json!([
                content_event(&text[..cut]),
                content_event(&text[cut..]),
                finish_event()
            ]);
            mock.script("/chat/completions", json!([{"stream": {"chunks": chunks}}]))
                .await;
            let streamed = stream(&enforce, ask("tell me")).await;
            let received = streamed.text();
            assert!(
                !received.contains(value),
                "{value} reached the client at cut {cut}: {received:?}"
            );
            assert!(received.contains("[REDACTED:"), "cut {cut}: {received:?}");
            assert!(
                received.starts_with("Here you go: ") && received.ends_with(". Bye"),
                "{received:?}"
            );
        }
        // A provider that ends without a finish reason: the held tail still goes out, masked.
        let chunks = json!([
            content_event(&text[..20]),
            content_event(&text[20..]),
            "data: [DONE]\n\n"
        ]);
        mock.script("/chat/completions", json!([{"stream": {"chunks": chunks}}]))
            .await;
        let streamed = stream(&enforce, ask("tell me")).await;
        let received = streamed.text();
        assert!(
            received.ends_with(". Bye") && !received.contains(value),
            "{received:?}"
        );
        // Recording only: the answer arrives unchanged and the row lists the match.
        let chunks = json!([
            content_event(&text[..15]),
            content_event(&text[15..]),
            finish_event()
        ]);
        mock.script("/chat/completions", json!([{"stream": {"chunks": chunks}}]))
            .await;
        let streamed = stream(&record, ask("tell me")).await;
        assert_eq!(streamed.text(), text);
        let row = audit_row(&record, &streamed.decision_id()).await;
        let matches = row["metadata"]["output_matches"]
            .as_array()
            .expect("output matches")
            .clone();
        assert!(!matches.is_empty(), "{row}");
        assert!(
            !row.to_string().contains(value),
            "the raw value is in the row"
        );
    }
}

#[tokio::test]
async fn a_block_ends_the_stream_before_the_value_and_is_audited() {
    let mock = MockProviders::start();
    let agent = agent(&mock, &[("AXONFLOW_OUTPUT_POLICIES", "enforce")]).await;
    let chunks = json!([
        content_event("The number is 123-"),
        content_event("45-6789, and "),
        content_event("more text"),
        finish_event()
    ]);
    mock.script("/chat/completions", json!([{"stream": {"chunks": chunks}}]))
        .await;
    let streamed = stream(&agent, ask("tell me")).await;
    assert!(!streamed.text().contains("123"), "{:?}", streamed.events);
    let last_chunk = streamed.chunks().pop().expect("an error event");
    assert_eq!(
        last_chunk["error"]["type"], "policy_violation",
        "{:?}",
        streamed.events
    );
    assert_eq!(last_chunk["error"]["code"], "policy_denied");
    assert_eq!(streamed.events.last().map(String::as_str), Some("[DONE]"));
    let row = audit_row(&agent, &streamed.decision_id()).await;
    assert_eq!(row["metadata"]["stream_end"], "blocked", "{row}");
    assert_eq!(row["verdict"], "deny");
    assert_eq!(
        row["metadata"]["tokens_estimated"], true,
        "no usage arrived: {row}"
    );
    assert!(
        row["completion_tokens"].as_u64().is_some_and(|n| n > 0),
        "{row}"
    );
}

#[tokio::test]
async fn sse_quirks_are_read_as_the_standard_says() {
    let mock = MockProviders::start();
    let agent = agent(&mock, &[]).await;
    let e_acute = "é".as_bytes();
    let first = format!(
        "data: {}\r\n\r\n",
        json!({"choices": [{"index": 0, "delta": {"content": "H"}}]})
    );
    // A multi-line data field (JSON may hold a newline between tokens), event/id/retry fields,
    // `data:` without its space, a comment, CR line ends, and `é` split across two reads.
    let chunks = json!([
        first,
        ": keep-alive\n\nevent: message\nid: 2\nretry: 100\ndata:{\"choices\": [{\"index\": 0,\ndata: \"delta\": {\"content\": \"",
        {"base64": base64_of(&e_acute[..1])},
        {"base64": base64_of(&[&e_acute[1..], "llo w\u{f6}rld\"}}]}\r\r".as_bytes()].concat())},
        finish_event(),
    ]);
    let streamed = streamed_with(&mock, &agent, chunks).await;
    assert_eq!(streamed.text(), "Héllo wörld", "{:?}", streamed.events);
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn broken_silent_and_abandoned_streams_are_each_audited_once() {
    let mock = MockProviders::start();
    let agent = agent(&mock, &[("AXONFLOW_UPSTREAM_IDLE_TIMEOUT_MS", "300")]).await;
    // Broken off mid-stream.
    mock.script(
        "/chat/completions",
        json!([{"stream": {"chunks": [content_event("Hel")], "then": "close"}}]),
    )
    .await;
    let streamed = stream(&agent, ask("hi")).await;
    let error = streamed.chunks().pop().expect("error event");
    assert_eq!(
        error["error"]["code"], "upstream_error",
        "{:?}",
        streamed.events
    );
    let row = audit_row(&agent, &streamed.decision_id()).await;
    assert_eq!(row["metadata"]["stream_end"], "upstream_error", "{row}");
    // Silent past the idle timeout.
    mock.script(
        "/chat/completions",
        json!([{"stream": {"chunks": [content_event("Hel")], "then": "stall"}}]),
    )
    .await;
    let started = Instant::now();
    let streamed = stream(&agent, ask("hi")).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let error = streamed.chunks().pop().expect("error event");
    assert_eq!(
        error["error"]["code"], "upstream_timeout",
        "{:?}",
        streamed.events
    );
    let row = audit_row(&agent, &streamed.decision_id()).await;
    assert_eq!(row["metadata"]["stream_end"], "upstream_timeout", "{row}");
    // The upstream's own error event is passed on.
    let upstream_error =
        json!({"error": {"message": "overloaded", "type": "server_error", "code": "overloaded"}});
    mock.script("/chat/completions", json!([{"stream": {"chunks": [content_event("Hel"), format!("data: {upstream_error}\n\n")]}}])).await;
    let streamed = stream(&agent, ask("hi")).await;
    assert!(
        streamed.events.iter().any(|e| e.contains("overloaded")),
        "{:?}",
        streamed.events
    );
    // The client leaves mid-stream: the row is written, marked so.
    let slow: Vec<String> = (0..50)
        .map(|i| content_event(&format!("word{i} ")))
        .collect();
    mock.script(
        "/chat/completions",
        json!([{"stream": {"chunks": slow, "delay_ms": 100}}]),
    )
    .await;
    let mut response = send(&agent, &ask("hi")).await;
    let decision_id = decision_id_of(&response);
    let first = response.chunk().await.expect("a first event");
    assert!(first.is_some());
    drop(response);
    let row = audit_row(&agent, &decision_id).await;
    assert_eq!(
        row["metadata"]["stream_end"], "client_disconnected",
        "{row}"
    );
    // Refused before the stream started: status and body as the upstream sent them.
    let refusal = json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}});
    mock.script(
        "/chat/completions",
        json!([{"status": 429, "body": refusal.to_string()}]),
    )
    .await;
    let response = send(&agent, &ask("hi")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body, refusal);
}

/// Enforcing, a non-streamed answer reaches the client as the policies read it: fields that would
/// repeat the text around them stay behind, and text in a form they cannot read is withheld.
#[tokio::test]
async fn enforcing_sends_non_streamed_answers_as_checked() {
    let mock = MockProviders::start();
    let agent = masking_agent(&mock).await;
    let plain = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let leaky = json!({"id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "debug_echo": "123-45-6789",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "All fine.",
                     "reasoning_content": "the SSN is 123-45-6789",
                     "audio": {"transcript": "123-45-6789"},
                     "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f",
                         "arguments": "{\"ssn\": \"123-45-6789\"}"}, "debug": "123-45-6789"}]},
                     "logprobs": {"content": [{"token": "123-45-6789", "logprob": 0.0}]},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}});
    let response = answered(&mock, &agent, &leaky.to_string(), &plain).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert!(!body.to_string().contains("6789"), "{body}");
    assert_eq!(
        body["choices"][0]["message"]["content"], "All fine.",
        "{body}"
    );
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        "{\"ssn\": \"[REDACTED:SSN]\"}",
        "{body}"
    );
    assert_eq!(body["choices"][0]["logprobs"], Value::Null);
    assert_eq!(body["usage"]["total_tokens"], 7);

    // Text the policies cannot read is withheld, whatever its form.
    for unreadable in [
        json!({"id": "x", "object": "chat.completion", "created": 1, "model": "m",
               "choices": [{"index": 0, "message": {"role": "assistant",
                   "content": [{"type": "text", "text": "SSN 123-45-6789"}]}, "finish_reason": "stop"}]})
        .to_string(),
        json!({"id": "x", "object": "text_completion", "created": 1, "model": "m",
               "choices": [{"index": 0, "text": "SSN 123-45-6789", "finish_reason": "stop"}]})
        .to_string(),
        "SSN 123-45-6789".to_owned(),
        json!(["SSN 123-45-6789"]).to_string(),
    ] {
        let response = answered(&mock, &agent, &unreadable, &plain).await;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{unreadable}");
        let decision_id = decision_id_of(&response);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "upstream_unreadable", "{body}");
        assert!(!body.to_string().contains("6789"), "{body}");
        let row = audit_row(&agent, &decision_id).await;
        assert_eq!(row["http_status"], 502, "{row}");
    }

    // Logging only, the answer is passed on as received.
    let logging = agent_logging(&mock).await;
    let response = answered(&mock, &logging, &leaky.to_string(), &plain).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body, leaky);
}

async fn agent_logging(mock: &MockProviders) -> Agent {
    agent(mock, &[("AXONFLOW_OUTPUT_POLICIES", "log")]).await
}

/// The `x-axonflow-decision-id` of an answer.
fn decision_id_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-axonflow-decision-id")
        .and_then(|v| v.to_str().ok())
        .expect("id")
        .to_owned()
}

/// `request` sent to `agent` once the mock provider answers it with `answer` (status 200).
async fn answered(
    mock: &MockProviders,
    agent: &Agent,
    answer: &str,
    request: &Value,
) -> reqwest::Response {
    mock.script(
        "/chat/completions",
        json!([{"status": 200, "body": answer}]),
    )
    .await;
    send(agent, request).await
}

/// Logging, a stream that ends without its end (here the upstream closes after one chunk) still
/// has the matches of its last text recorded: that text reached the client.
#[tokio::test]
async fn a_stream_cut_short_still_records_the_matches_it_passed_on() {
    let mock = MockProviders::start();
    let agent = agent_logging(&mock).await;
    let chunks = json!([content_event("call me, my SSN is 123-45-6789")]);
    let streamed = streamed_with(&mock, &agent, chunks).await;
    assert!(
        streamed.text().contains("123-45-6789"),
        "{:?}",
        streamed.events
    );
    let row = assert_recorded_ssn(&agent, &streamed).await;
    assert_ne!(row["metadata"]["stream_end"], "completed", "{row}");
}

/// The stream's audit row, once it shows the SSN policy among the output matches.
async fn assert_recorded_ssn(agent: &Agent, streamed: &Streamed) -> Value {
    let row = audit_row(agent, &streamed.decision_id()).await;
    let matches = row["metadata"]["output_matches"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        matches.iter().any(|m| m["policy_id"] == "sys_pii_ssn"),
        "{row}"
    );
    row
}

/// Logging, text a delta carries beside content (reasoning text here, split over two events) is
/// passed on as received and its matches recorded.
#[tokio::test]
async fn reasoning_text_in_a_stream_is_recorded_when_logging() {
    let mock = MockProviders::start();
    let agent = agent_logging(&mock).await;
    let reasoning = |text: &str| {
        let chunk = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"reasoning_content": text}, "finish_reason": null}]});
        format!("data: {chunk}\n\n")
    };
    let chunks = json!([
        reasoning("the user's SSN is 123-4"),
        reasoning("5-6789, so"),
        content_event("Done."),
        finish_event()
    ]);
    let streamed = streamed_with(&mock, &agent, chunks).await;
    let everything = streamed.events.join("\n");
    assert!(
        everything.contains("123-4") && everything.contains("5-6789"),
        "{everything}"
    );
    assert_recorded_ssn(&agent, &streamed).await;
}

#[tokio::test]
async fn non_streamed_answers_go_through_output_policies_too() {
    let mock = MockProviders::start();
    let enforce = masking_agent(&mock).await;
    let answer = json!({"id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Her SSN is 123-45-6789."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}});
    mock.script(
        "/chat/completions",
        json!([{"status": 200, "body": answer.to_string()}]),
    )
    .await;
    let plain = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let response = send(&enforce, &plain).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"], "Her SSN is [REDACTED:SSN].",
        "{body}"
    );
    // Blocking policies refuse the answer with the policy error.
    let blocking = agent(&mock, &[("AXONFLOW_OUTPUT_POLICIES", "enforce")]).await;
    mock.script(
        "/chat/completions",
        json!([{"status": 200, "body": answer.to_string()}]),
    )
    .await;
    let response = send(&blocking, &plain).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let decision_id = decision_id_of(&response);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "policy_denied", "{body}");
    assert!(!body.to_string().contains("123-45-6789"));
    let row = audit_row(&blocking, &decision_id).await;
    assert_eq!(row["verdict"], "deny", "{row}");
    assert_eq!(row["http_status"], 400);
    assert_eq!(
        row["total_tokens"], 7,
        "the provider billed the call: {row}"
    );
}

#[tokio::test]
async fn enforcing_leaves_out_what_the_policies_cannot_read() {
    let mock = MockProviders::start();
    let agent = masking_agent(&mock).await;
    // Asking for token log probabilities (they repeat the text) is refused.
    let mut asked = ask("hi");
    asked["logprobs"] = json!(true);
    let streamed = stream(&agent, asked).await;
    assert_eq!(streamed.status, StatusCode::BAD_REQUEST);
    // Fields that would repeat the answer around the policies never reach the client.
    let leaky = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": "SSN 123-45-6789 ", "reasoning_content": "123-45-6789",
                     "audio": {"transcript": "123-45-6789"}},
                     "logprobs": {"content": [{"token": "123-45-6789", "logprob": 0.0}]}, "finish_reason": null}]});
    let chunks = json!([format!("data: {leaky}\n\n"), finish_event()]);
    let streamed = streamed_with(&mock, &agent, chunks).await;
    let everything = streamed.events.join("\n");
    assert!(!everything.contains("6789"), "{everything}");
    assert!(streamed.text().contains("[REDACTED:SSN]"), "{everything}");
    // An upstream error event is passed on without the rest of its event: with an empty error
    // object an SDK would read its choices as the answer.
    let riding =
        json!({"error": {}, "choices": [{"index": 0, "delta": {"content": "SSN 123-45-6789"}}]});
    let chunks = json!([content_event("Hel"), format!("data: {riding}\n\n")]);
    let streamed = streamed_with(&mock, &agent, chunks).await;
    let everything = streamed.events.join("\n");
    assert!(!everything.contains("6789"), "{everything}");
    assert_eq!(
        streamed.chunks().pop().expect("events"),
        json!({"error": {}}),
        "{everything}"
    );
    let row = audit_row(&agent, &streamed.decision_id()).await;
    assert_eq!(row["metadata"]["stream_end"], "upstream_error", "{row}");
    // Tool-call arguments with \u escapes would hide characters the client restores: blocked.
    let escaped = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "f", "arguments": "{\"ssn\": \"123\\u002d45\\u002d6789\"}"}}]}, "finish_reason": null}]});
    let chunks = json!([format!("data: {escaped}\n\n"), finish_event()]);
    let streamed = streamed_with(&mock, &agent, chunks).await;
    assert_ended_by_policy(&streamed);
    assert!(!streamed.events.join("\n").contains("6789"));
    let row = audit_row(&agent, &streamed.decision_id()).await;
    assert_eq!(row["metadata"]["stream_end"], "blocked", "{row}");
    // The same escape split over pieces, with an empty piece between the backslash and the `u`.
    let piece = |arguments: &str| {
        let chunk = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0,
                "function": {"arguments": arguments}}]}, "finish_reason": null}]});
        format!("data: {chunk}\n\n")
    };
    let chunks = json!([
        piece("{\"ssn\": \"123\\"),
        piece(""),
        piece("u002d45-6789\"}"),
        finish_event()
    ]);
    let streamed = streamed_with(&mock, &agent, chunks).await;
    assert_ended_by_policy(&streamed);
    // Content that opens as JSON (structured output) is JSON too: its escapes end the stream.
    let chunks = json!([
        content_event(" {\"ssn\": \"123\\"),
        content_event("u002d45-6789\"}"),
        finish_event()
    ]);
    let streamed = streamed_with(&mock, &agent, chunks).await;
    assert_ended_by_policy(&streamed);
    // Prose that mentions an escape is no JSON: it goes out.
    let chunks = json!([
        content_event("In Java, write \\u00e9 for "),
        content_event("an accented e."),
        finish_event()
    ]);
    let streamed = streamed_with(&mock, &agent, chunks).await;
    assert_eq!(
        streamed.text(),
        "In Java, write \\u00e9 for an accented e.",
        "{:?}",
        streamed.events
    );
}

/// Enforcing, the names an answer carries beside its text are the provider's text too: a tool
/// call's id and function name are checked (masked here), a role is the assistant's, a type a word.
#[tokio::test]
async fn enforcing_checks_the_names_an_answer_carries() {
    let mock = MockProviders::start();
    let agent = masking_agent(&mock).await;
    let answer = json!({"id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "SSN 123-45-6789", "content": null,
            "tool_calls": [{"id": "123-45-6789", "type": "SSN 123-45-6789",
                "function": {"name": "ssn 123-45-6789", "arguments": "{}"}}]}}]});
    let request = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let response = answered(&mock, &agent, &answer.to_string(), &request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert!(!body.to_string().contains("6789"), "{body}");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant", "{body}");
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "[REDACTED:SSN]", "{body}");
    assert_eq!(call["function"]["arguments"], "{}", "{body}");
    // Streamed: the id and name come whole in their first delta.
    let chunk = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [{"index": 0, "id": "123-45-6789",
            "type": "function", "function": {"name": "ssn 123-45-6789", "arguments": ""}}]}, "finish_reason": null}]});
    let chunks = json!([format!("data: {chunk}\n\n"), finish_event()]);
    let streamed = streamed_with(&mock, &agent, chunks).await;
    let everything = streamed.events.join("\n");
    assert!(!everything.contains("6789"), "{everything}");
    assert!(everything.contains("[REDACTED:SSN]"), "{everything}");
}

/// Enforcing, an answer whose content is JSON (structured output) with `\u` escapes is refused:
/// the client's parser would restore what the policies could not read. Its twin goes out.
#[tokio::test]
async fn enforcing_refuses_json_content_with_escapes() {
    let mock = MockProviders::start();
    let agent = masking_agent(&mock).await;
    let answer = |content: &str| {
        json!({"id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]})
        .to_string()
    };
    let request = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let response = answered(
        &mock,
        &agent,
        &answer(r#"{"ssn": "123\u002d45\u002d6789"}"#),
        &request,
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "policy_denied", "{body}");
    let response = answered(&mock, &agent, &answer(r#"{"name": "Jose"}"#), &request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        r#"{"name": "Jose"}"#
    );
}
