//! Provider routing end to end: the registry (through the agent's single entry point), each of the
//! six provider types behind `/v1/chat/completions` and Proxy Mode against mock providers that
//! validate what they receive (`examples/mock_providers.rs`), failover, retries honouring
//! `Retry-After`, circuit breakers, the total deadline, and key hygiene.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{audit_row, call, client, fresh_database, get_json, post_json, Agent};
use crate::enterprise::SERVICE_SECRET;

/// A key-encryption key for tests (32 bytes, base64).
pub const KEK: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const OTHER_KEK: &str = "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=";
/// Stored provider keys; asserted never to show up in answers, rows or logs.
const SECRET_KEY: &str = "sk-stored-SECRETKEY-4c8e1a7f9b2d";
const BEDROCK_KEY: &str = "AKIDMOCKEXAMPLE:mock/secret/key/EXAMPLE";

/// The mock providers process (`examples/mock_providers.rs`); killed on drop.
pub struct MockProviders {
    child: Child,
    pub base_url: String,
}

impl MockProviders {
    pub fn start() -> MockProviders {
        let binary = std::path::Path::new(env!("CARGO_BIN_EXE_axonflow-agent"))
            .with_file_name("examples")
            .join("mock_providers");
        assert!(
            binary.exists(),
            "{} is missing: run cargo build --workspace --examples first (./install/test.sh does)",
            binary.display()
        );
        let mut child = Command::new(&binary)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mock providers");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("mock providers print their address");
        let base_url = line
            .trim()
            .rsplit_once("listening on ")
            .map(|(_, url)| url.to_owned())
            .unwrap_or_else(|| panic!("unexpected first line: {line}"));
        MockProviders { child, base_url }
    }

    /// Queues replies for requests whose path contains `path_contains`.
    pub async fn script(&self, path_contains: &str, replies: Value) {
        let response = client()
            .post(format!("{}/_script", self.base_url))
            .json(&json!({"path_contains": path_contains, "replies": replies}))
            .send()
            .await
            .expect("script the mock");
        assert!(response.status().is_success());
    }

    pub async fn received(&self) -> Vec<Value> {
        client()
            .get(format!("{}/_received", self.base_url))
            .send()
            .await
            .expect("mock answers")
            .json()
            .await
            .expect("json")
    }
}

impl Drop for MockProviders {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An orchestrator and `n_agents` agents on one fresh database, with the KEK and the given extra
/// settings (all processes).
async fn stack(n_agents: usize, extra: &[(&str, &str)]) -> (Agent, Vec<Agent>) {
    let database_url = fresh_database().await;
    let mut env = vec![
        ("AXONFLOW_INTERNAL_SERVICE_SECRET", SERVICE_SECRET),
        ("AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY", KEK),
    ];
    env.extend_from_slice(extra);
    let orchestrator = Agent::start_orchestrator(&database_url, &env);
    let agents = (0..n_agents)
        .map(|_| {
            let mut agent_env = env.clone();
            agent_env.push(("ORCHESTRATOR_URL", orchestrator.base_url.as_str()));
            Agent::start(&database_url, &agent_env)
        })
        .collect();
    (orchestrator, agents)
}

/// Registers a provider through the agent; asserts 201.
async fn register(agent: &Agent, provider: Value) -> Value {
    let (status, body) = post_json(agent, "/api/v1/llm-providers", provider.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{provider} -> {body}");
    body
}

/// The six provider types on the mock, each serving its own model name `m-<type>`.
fn six_providers(mock: &MockProviders) -> Vec<Value> {
    let base = &mock.base_url;
    vec![
        json!({"name": "oai", "type": "openai", "endpoint": format!("{base}/v1"), "model": "gpt-4o-mini",
               "settings": {"model_map": {"m-openai": "gpt-4o-mini"}}, "api_key": SECRET_KEY}),
        json!({"name": "azure", "type": "azure-openai", "endpoint": base, "model": "my-deployment",
               "settings": {"model_map": {"m-azure-openai": "my-deployment"}, "api_version": "2024-10-21"},
               "api_key": SECRET_KEY}),
        json!({"name": "claude", "type": "anthropic", "endpoint": base, "model": "claude-3-5-haiku-latest",
               "settings": {"model_map": {"m-anthropic": "claude-3-5-haiku-latest"}}, "api_key": SECRET_KEY}),
        json!({"name": "gem", "type": "gemini", "endpoint": base, "model": "gemini-2.5-flash",
               "settings": {"model_map": {"m-gemini": "gemini-2.5-flash"}}, "api_key": SECRET_KEY}),
        json!({"name": "rock", "type": "bedrock", "endpoint": base, "region": "us-east-1",
               "model": "anthropic.claude-3-5-haiku-20241022-v1:0",
               "settings": {"model_map": {"m-bedrock": "anthropic.claude-3-5-haiku-20241022-v1:0"}},
               "api_key": BEDROCK_KEY}),
        json!({"name": "local", "type": "ollama", "endpoint": base, "model": "llama3.2",
               "settings": {"models": ["m-ollama"], "model_map": {"m-ollama": "llama3.2"}}}),
    ]
}

/// `POST /v1/chat/completions` without `X-Provider-Key`.
async fn chat(agent: &Agent, body: &Value) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = client()
        .post(agent.url("/v1/chat/completions"))
        .json(body)
        .send()
        .await
        .expect("agent answers");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON answer: {text}"));
    (status, headers, json)
}

fn user_chat(model: &str, content: &str) -> Value {
    json!({"model": model, "messages": [{"role": "system", "content": "Be brief."},
                                        {"role": "user", "content": content}], "max_tokens": 50})
}

fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_provider_type_serves_the_openai_endpoint_in_openai_shape() {
    let mock = MockProviders::start();
    let (_orchestrator, agents) = stack(1, &[]).await;
    let agent = &agents[0];
    for provider in six_providers(&mock) {
        register(agent, provider).await;
    }
    for (kind, name, expected_path) in [
        ("openai", "oai", "/v1/chat/completions"),
        (
            "azure-openai",
            "azure",
            "/openai/deployments/my-deployment/chat/completions",
        ),
        ("anthropic", "claude", "/v1/messages"),
        (
            "gemini",
            "gem",
            "/v1beta/models/gemini-2.5-flash:generateContent",
        ),
        ("bedrock", "rock", "/converse"),
        ("ollama", "local", "/api/chat"),
    ] {
        let (status, headers, body) =
            chat(agent, &user_chat(&format!("m-{kind}"), "What is 2+2?")).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {body}");
        assert_eq!(header(&headers, "x-axonflow-provider"), name, "{kind}");
        assert_eq!(body["object"], "chat.completion", "{kind}: {body}");
        assert_eq!(body["choices"][0]["message"]["role"], "assistant", "{kind}");
        assert_eq!(
            body["choices"][0]["message"]["content"],
            format!("Hello from {kind}"),
            "{kind}: {body}"
        );
        assert_eq!(body["choices"][0]["finish_reason"], "stop", "{kind}");
        let usage = &body["usage"];
        assert!(
            usage["prompt_tokens"].as_u64().is_some_and(|n| n > 0),
            "{kind}: {body}"
        );
        assert!(
            usage["completion_tokens"].as_u64().is_some_and(|n| n > 0),
            "{kind}"
        );
        assert_eq!(
            usage["total_tokens"].as_u64(),
            Some(
                usage["prompt_tokens"].as_u64().unwrap_or(0)
                    + usage["completion_tokens"].as_u64().unwrap_or(0)
            ),
            "{kind}: {body}"
        );
        let received = mock.received().await;
        let last = received.last().expect("the mock was called");
        assert!(
            last["path"]
                .as_str()
                .is_some_and(|p| p.contains(expected_path)),
            "{kind}: {last}"
        );
        assert!(
            last["rejected"].is_null(),
            "{kind}: the mock rejected {last}"
        );
        let decision_id = header(&headers, "x-axonflow-decision-id");
        let row = audit_row(agent, decision_id).await;
        assert_eq!(row["provider"], name, "{row}");
        assert_eq!(row["http_status"], 200);
        assert_eq!(row["metadata"]["provider_type"], kind, "{row}");
        let attempts = row["metadata"]["attempts"].as_array().expect("attempts");
        assert_eq!(attempts.len(), 1, "{row}");
        assert_eq!(attempts[0]["provider"], name);
        assert_eq!(attempts[0]["status"], 200);
        assert!(attempts[0]["error"].is_null());
        if kind != "ollama" {
            assert!(
                row["estimated_cost_usd"].as_f64().is_some_and(|c| c > 0.0),
                "{kind}: {row}"
            );
        }
    }
    // The model sent is the provider's own name for it.
    let received = mock.received().await;
    let anthropic = received
        .iter()
        .find(|r| r["path"] == "/v1/messages")
        .expect("anthropic called");
    let sent: Value =
        serde_json::from_str(anthropic["body"].as_str().unwrap_or("{}")).expect("json");
    assert_eq!(sent["model"], "claude-3-5-haiku-latest");
    assert!(sent["system"].to_string().contains("Be brief."), "{sent}");
    assert!(sent["max_tokens"].is_u64(), "{sent}");

    // A model nobody serves, without a key: the seed's error.
    let (status, _, body) = chat(agent, &user_chat("m-nobody", "hi")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "missing_provider_key", "{body}");
}

#[tokio::test]
async fn tool_calls_round_trip_through_anthropic_and_gemini() {
    let mock = MockProviders::start();
    let (_orchestrator, agents) = stack(1, &[]).await;
    let agent = &agents[0];
    for provider in six_providers(&mock) {
        register(agent, provider).await;
    }
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    for kind in ["anthropic", "gemini", "bedrock"] {
        let model = format!("m-{kind}");
        let ask = json!({"model": model, "messages": [{"role": "user", "content": "Weather in Paris?"}],
                          "tools": tools});
        let (status, _, body) = chat(agent, &ask).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {body}");
        assert_eq!(
            body["choices"][0]["finish_reason"], "tool_calls",
            "{kind}: {body}"
        );
        let call = &body["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["type"], "function");
        assert_eq!(call["function"]["name"], "get_weather");
        let arguments: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or(""))
                .expect("arguments are a JSON string");
        assert_eq!(arguments["city"], "Paris");
        let call_id = call["id"].as_str().expect("tool call id").to_owned();
        // The tool's result goes back; the provider answers in text.
        let answer = json!({"model": model, "tools": tools, "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call_id, "content": "{\"temp_c\": 21}"}]});
        let (status, _, body) = chat(agent, &answer).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {body}");
        assert_eq!(
            body["choices"][0]["finish_reason"], "stop",
            "{kind}: {body}"
        );
        assert!(mock
            .received()
            .await
            .iter()
            .all(|r| r["rejected"].is_null()));
    }
    // What Anthropic cannot express is a clear 400, nothing sent.
    let before = mock.received().await.len();
    let (status, _, body) = chat(
        agent,
        &json!({"model": "m-anthropic", "n": 2, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["param"], "n", "{body}");
    assert_eq!(mock.received().await.len(), before);
}

/// Two OpenAI-type providers of one model on two mocks: `primary` (priority 10) and `secondary`.
async fn failover_pair(agent: &Agent, primary: &str, secondary: &MockProviders, timeout: u32) {
    register(
        agent,
        json!({"name": "primary", "type": "openai", "endpoint": primary, "model": "gpt-4o-mini",
               "priority": 10, "timeout_seconds": timeout, "api_key": SECRET_KEY}),
    )
    .await;
    register(
        agent,
        json!({"name": "secondary", "type": "anthropic", "endpoint": secondary.base_url,
               "model": "claude-3-5-haiku-latest", "settings": {"model_map": {"gpt-4o-mini": "claude-3-5-haiku-latest"}},
               "priority": 1, "api_key": SECRET_KEY}),
    )
    .await;
}

/// Two mocks and a stack with the failover pair registered on them (primary on the first, with
/// `primary_timeout` seconds per attempt).
async fn failover_stack(
    extra: &[(&str, &str)],
    primary_timeout: u32,
) -> (MockProviders, MockProviders, Agent, Vec<Agent>) {
    let first = MockProviders::start();
    let second = MockProviders::start();
    let (orchestrator, agents) = stack(1, extra).await;
    failover_pair(
        &agents[0],
        &format!("{}/v1", first.base_url),
        &second,
        primary_timeout,
    )
    .await;
    (first, second, orchestrator, agents)
}

async fn served_by(agent: &Agent) -> (String, Value) {
    let (status, headers, body) = chat(agent, &user_chat("gpt-4o-mini", "hello")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let row = audit_row(agent, header(&headers, "x-axonflow-decision-id")).await;
    (header(&headers, "x-axonflow-provider").to_owned(), row)
}

#[tokio::test]
async fn failover_on_server_errors_rate_limits_timeouts_and_refused_connections() {
    let (first, _second, _orchestrator, agents) =
        failover_stack(&[("AXONFLOW_PROVIDER_CB_FAILURES", "50")], 1).await;
    let agent = &agents[0];

    // 500 twice (one retry), then the second target serves.
    first
        .script(
            "/chat/completions",
            json!([{"status": 500, "body": "{\"error\":{\"message\":\"boom\"}}"},
                                             {"status": 503, "body": "{}"}]),
        )
        .await;
    let (provider, row) = served_by(agent).await;
    assert_eq!(provider, "secondary");
    let attempts = row["metadata"]["attempts"]
        .as_array()
        .expect("attempts")
        .clone();
    let statuses: Vec<Value> = attempts.iter().map(|a| a["status"].clone()).collect();
    assert_eq!(statuses, vec![json!(500), json!(503), json!(200)], "{row}");
    assert_eq!(attempts[2]["provider"], "secondary");
    assert_eq!(row["provider"], "secondary");
    assert_eq!(row["model"], "claude-3-5-haiku-latest");

    // 429 with Retry-After: the retry waits for it, then the same target serves.
    first
        .script(
            "/chat/completions",
            json!([{"status": 429, "body": "{\"error\":{\"message\":\"slow down\"}}",
                                              "headers": {"retry-after": "1"}}]),
        )
        .await;
    let (provider, row) = served_by(agent).await;
    assert_eq!(provider, "primary", "{row}");
    let calls: Vec<f64> = first
        .received()
        .await
        .iter()
        .rev()
        .take(2)
        .filter_map(|r| r["at_ms"].as_f64())
        .collect();
    assert!(
        calls[0] - calls[1] >= 1000.0,
        "retried {} ms after a Retry-After of 1 s",
        calls[0] - calls[1]
    );

    // A target that does not answer within its timeout is not waited for twice: the next serves.
    first
        .script(
            "/chat/completions",
            json!([{"status": 0, "delay_ms": 3000}]),
        )
        .await;
    let (provider, row) = served_by(agent).await;
    assert_eq!(provider, "secondary");
    let errors: Vec<Value> = row["metadata"]["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["error"].clone())
        .collect();
    assert_eq!(errors, vec![json!("timeout"), Value::Null], "{row}");

    // 401: the key is refused; no retry, straight to the next target.
    first
        .script(
            "/chat/completions",
            json!([{"status": 401, "body": "{\"error\":{\"message\":\"bad key\"}}"}]),
        )
        .await;
    let (provider, row) = served_by(agent).await;
    assert_eq!(provider, "secondary");
    let attempts = row["metadata"]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{row}");
    assert_eq!(attempts[0]["status"], 401, "{row}");
    assert_eq!(attempts[0]["error"], "unauthorized", "{row}");

    // A 400 from the provider is its answer: no failover, its message kept.
    first
        .script("/chat/completions", json!([{"status": 400, "body": "{\"error\":{\"message\":\"context too long\",\"type\":\"invalid_request_error\",\"code\":\"context_length_exceeded\"}}"}]))
        .await;
    let (status, _, body) = chat(agent, &user_chat("gpt-4o-mini", "hello")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("context too long")),
        "{body}"
    );
    assert_eq!(body["error"]["code"], "context_length_exceeded", "{body}");

    // The providers' own rate limits (per second, per process): past one, the next target serves;
    // past all, nothing is sent and the client gets 503.
    for name in ["primary", "secondary"] {
        let limited = json!({"rate_limit": 1});
        let path = format!("/api/v1/llm-providers/{name}");
        let (status, _) = call(agent, reqwest::Method::PUT, &path, Some(&limited)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (provider, _) = served_by(agent).await;
    assert_eq!(provider, "primary");
    let (provider, row) = served_by(agent).await;
    assert_eq!(provider, "secondary");
    assert_eq!(
        row["metadata"]["attempts"][0]["error"], "rate_limit",
        "{row}"
    );
    let (status, headers, body) = chat(agent, &user_chat("gpt-4o-mini", "hello")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "providers_unavailable", "{body}");
    let row = audit_row(agent, header(&headers, "x-axonflow-decision-id")).await;
    assert_eq!(row["http_status"], 503, "{row}");
    // `null` removes a limit.
    let unlimited = json!({"rate_limit": null});
    let (status, body) = call(
        agent,
        reqwest::Method::PUT,
        "/api/v1/llm-providers/primary",
        Some(&unlimited),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["provider"]["rate_limit"].is_null(), "{body}");
}

#[tokio::test]
async fn refused_connections_fail_over_and_breakers_open_and_close() {
    let second = MockProviders::start();
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let (orchestrator, agents) = stack(
        1,
        &[
            ("AXONFLOW_PROVIDER_CB_FAILURES", "2"),
            ("AXONFLOW_PROVIDER_CB_OPEN_SECS", "1"),
        ],
    )
    .await;
    let agent = &agents[0];
    failover_pair(
        agent,
        &format!("http://127.0.0.1:{closed_port}/v1"),
        &second,
        5,
    )
    .await;
    let (provider, row) = served_by(agent).await;
    assert_eq!(provider, "secondary");
    assert_eq!(row["metadata"]["attempts"][0]["error"], "connect", "{row}");
    // Two consecutive failures opened the breaker: the primary is now skipped without a call.
    let (provider, row) = served_by(agent).await;
    assert_eq!(provider, "secondary");
    assert_eq!(
        row["metadata"]["attempts"][0]["error"], "circuit_open",
        "{row}"
    );
    assert_eq!(row["metadata"]["attempts"][0]["latency_ms"], 0);

    // The agent's own breakers (the OpenAI endpoint's calls) show in the status through it.
    let (status, body) = get_json(agent, "/api/v1/providers/status").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let primary = body["targets"]
        .as_array()
        .and_then(|targets| targets.iter().find(|t| t["provider"] == "primary").cloned())
        .unwrap_or_else(|| panic!("no primary in {body}"));
    assert_eq!(primary["state"], "open", "{body}");
    assert_eq!(primary["consecutive_failures"], 2, "{body}");

    // Proxy Mode goes through the orchestrator's router: its breakers open too.
    for _ in 0..2 {
        let (status, body) = post_json(
            agent,
            "/api/request",
            json!({"query": "hello", "user_token": "u", "client_id": "c", "request_type": "chat",
                   "context": {"model": "gpt-4o-mini"}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["metadata"]["provider"], "secondary", "{body}");
    }
    let (status, body) = get_json(agent, "/api/v1/providers/status").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let target = |name: &str| {
        body["targets"]
            .as_array()
            .and_then(|targets| targets.iter().find(|t| t["provider"] == name).cloned())
            .unwrap_or_else(|| panic!("no target {name} in {body}"))
    };
    assert_eq!(target("primary")["state"], "open", "{body}");
    assert!(
        target("primary")["error_rate"]
            .as_f64()
            .is_some_and(|r| r > 0.99),
        "{body}"
    );
    assert!(target("primary")["opened_at"].is_string(), "{body}");
    assert_eq!(target("secondary")["state"], "closed", "{body}");
    assert!(
        target("secondary")["latency_ms"]
            .as_f64()
            .is_some_and(|ms| ms >= 0.0),
        "{body}"
    );

    // A stored key never follows a changed endpoint: the key must come with it.
    let moved = json!({"endpoint": format!("{}/v1", second.base_url)});
    let (status, body) = call(
        agent,
        reqwest::Method::PUT,
        "/api/v1/llm-providers/primary",
        Some(&moved),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["problems"][0]["field"], "api_key", "{body}");
    // The primary comes back: after the open period one probe closes its breaker.
    let fixed = json!({"endpoint": format!("{}/v1", second.base_url), "api_key": SECRET_KEY});
    let (status, _) = call(
        agent,
        reqwest::Method::PUT,
        "/api/v1/llm-providers/primary",
        Some(&fixed),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (provider, row) = served_by(agent).await;
    assert_eq!(provider, "primary", "{row}");
    drop(orchestrator);
}

#[tokio::test]
async fn the_total_deadline_holds_across_targets() {
    let (first, second, _orchestrator, agents) =
        failover_stack(&[("AXONFLOW_UPSTREAM_TIMEOUT_SECS", "1")], 30).await;
    let agent = &agents[0];
    first
        .script(
            "/chat/completions",
            json!([{"status": 0, "delay_ms": 4000}]),
        )
        .await;
    second
        .script("/v1/messages", json!([{"status": 0, "delay_ms": 4000}]))
        .await;
    let started = Instant::now();
    let (status, headers, body) = chat(agent, &user_chat("gpt-4o-mini", "hello")).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["error"]["code"], "upstream_timeout", "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "took {:?}",
        started.elapsed()
    );
    let row = audit_row(agent, header(&headers, "x-axonflow-decision-id")).await;
    assert_eq!(row["http_status"], 504, "{row}");
    assert_eq!(row["metadata"]["error"], "upstream_timeout", "{row}");
}

#[tokio::test]
async fn the_registry_in_the_sdk_shapes_reaches_every_replica() {
    let mock = MockProviders::start();
    let (_orchestrator, agents) = stack(2, &[]).await;
    let (a, b) = (&agents[0], &agents[1]);
    let created = register(
        a,
        json!({"name": "main", "type": "openai", "endpoint": format!("{}/v1", mock.base_url),
               "model": "gpt-4o-mini", "priority": 5, "weight": 3, "api_key": SECRET_KEY}),
    )
    .await;
    let provider = &created["provider"];
    assert_eq!(provider["has_api_key"], true, "{created}");
    assert!(provider.get("api_key").is_none(), "{created}");
    assert_eq!(provider["health"]["status"], "unknown");
    assert_eq!(provider["timeout_seconds"], 60);
    // Within a second the other replica routes with it.
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let (status, _, body) = chat(b, &user_chat("gpt-4o-mini", "hi")).await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(body["error"]["code"], "missing_provider_key");
        assert!(
            Instant::now() < deadline,
            "the provider did not reach the other agent within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = post_json(
        a,
        "/api/v1/llm-providers",
        json!({"name": "main", "type": "openai",
        "model": "x", "api_key": SECRET_KEY}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = post_json(
        a,
        "/api/v1/llm-providers",
        json!({"name": "bad name!", "type": "cohere",
        "endpoint": "ftp://x", "model": "", "weight": -1, "timeout_seconds": 0,
        "settings": {"model_maps": {}}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["field"].as_str())
        .collect();
    for field in [
        "name",
        "type",
        "endpoint",
        "model",
        "weight",
        "timeout_seconds",
        "settings.model_maps",
    ] {
        assert!(fields.contains(&field), "{field} missing from {body}");
    }
    let (status, _) = get_json(a, "/api/v1/llm-providers/nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Partial update keeps the key and the other fields.
    let (status, body) = call(
        a,
        reqwest::Method::PUT,
        "/api/v1/llm-providers/main",
        Some(&json!({"priority": 9, "enabled": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["provider"]["priority"], 9);
    assert_eq!(body["provider"]["weight"], 3);
    assert_eq!(body["provider"]["has_api_key"], true);
    let (status, body) = get_json(a, "/api/v1/llm-providers?type=openai&page=1&page_size=10").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["pagination"]["total_items"], 1, "{body}");
    assert_eq!(body["providers"][0]["name"], "main");
    // `test` calls the provider and records its health.
    let (status, body) = post_json(
        a,
        "/api/v1/llm-providers/main/test",
        json!({"prompt": "Say ok"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true, "{body}");
    assert!(body["latency_ms"].is_u64());
    let (_, body) = get_json(b, "/api/v1/llm-providers/main").await;
    assert_eq!(body["provider"]["health"]["status"], "healthy", "{body}");
    // A test prompt goes through the policies like any other.
    let (status, body) = post_json(
        a,
        "/api/v1/llm-providers/main/test",
        json!({"prompt": "my ssn is 123-45-6789"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = call(
        a,
        reqwest::Method::DELETE,
        "/api/v1/llm-providers/main",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let (status, _, _) = chat(b, &user_chat("gpt-4o-mini", "hi")).await;
        if status == StatusCode::BAD_REQUEST {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deletion did not reach the other agent within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn keys_are_never_stored_logged_or_returned_and_a_wrong_kek_refuses_to_start() {
    let mock = MockProviders::start();
    let (mut orchestrator, agents) = stack(1, &[]).await;
    let agent = &agents[0];
    for provider in six_providers(&mock) {
        register(agent, provider).await;
    }
    let (status, _, _) = chat(agent, &user_chat("m-anthropic", "hello")).await;
    assert_eq!(status, StatusCode::OK);
    // A provider that quotes the key it refused: its words go nowhere.
    let echo = json!({"type": "error", "error": {"type": "authentication_error",
                      "message": format!("invalid x-api-key {SECRET_KEY}")}});
    mock.script(
        "/v1/messages",
        json!([{"status": 401, "body": echo.to_string()},
                                        {"status": 401, "body": echo.to_string()}]),
    )
    .await;
    let (status, _, refused) = chat(agent, &user_chat("m-anthropic", "hello")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{refused}");
    assert!(!refused.to_string().contains(SECRET_KEY), "{refused}");
    let (status, tested) = post_json(agent, "/api/v1/llm-providers/claude/test", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(tested["success"], false, "{tested}");
    assert!(!tested.to_string().contains(SECRET_KEY), "{tested}");
    let (_, listing) = get_json(agent, "/api/v1/llm-providers").await;
    let (_, one) = get_json(agent, "/api/v1/llm-providers/claude").await;
    let (_, status_body) = get_json(agent, "/api/v1/providers/status").await;
    // Every table's every row as text.
    let pool = agent.pool().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(table_name) FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    let mut dump = String::new();
    for table in tables {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT row_to_json(t)::text FROM {table} t"))
                .fetch_all(&pool)
                .await
                .expect("rows");
        dump.push_str(&rows.join("\n"));
    }
    let sealed: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT sealed_key FROM llm_providers WHERE sealed_key IS NOT NULL")
            .fetch_all(&pool)
            .await
            .expect("sealed keys");
    assert_eq!(sealed.len(), 5);
    use base64::Engine as _;
    for secret in [SECRET_KEY, BEDROCK_KEY, "mock/secret/key/EXAMPLE"] {
        let forms = [
            secret.to_owned(),
            base64::engine::general_purpose::STANDARD.encode(secret),
            hex::encode(secret),
        ];
        for form in &forms {
            for (what, text) in [
                ("database", dump.as_str()),
                ("agent log", &agent.log()),
                ("orchestrator log", &orchestrator.log()),
                ("listing", &listing.to_string()),
                ("provider", &one.to_string()),
                ("status", &status_body.to_string()),
            ] {
                assert!(
                    !text.contains(form.as_str()),
                    "a form of a key is in the {what}"
                );
            }
        }
        assert!(sealed
            .iter()
            .all(|s| !s.windows(secret.len()).any(|w| w == secret.as_bytes())));
    }
    // The mock did receive the key: it was used, only never kept.
    assert!(mock
        .received()
        .await
        .iter()
        .any(|r| r["headers"]["x-api-key"] == SECRET_KEY));

    // Another KEK cannot open the stored keys: the service refuses to start, naming the variable.
    orchestrator.stop();
    let output = Command::new(
        std::path::Path::new(env!("CARGO_BIN_EXE_axonflow-agent"))
            .with_file_name("axonflow-orchestrator"),
    )
    .env_clear()
    .env("DATABASE_URL", &agent.database_url)
    .env("PORT", "0")
    .env("AXONFLOW_BIND_ADDRESS", "127.0.0.1")
    .env("AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY", OTHER_KEK)
    .output()
    .expect("run the orchestrator");
    assert_ne!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY"),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET_KEY));

    // Rotation: the new KEK with the old one as previous starts and re-seals every key.
    let rotated = Agent::start_orchestrator(
        &agent.database_url,
        &[
            ("AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY", OTHER_KEK),
            ("AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY_PREVIOUS", KEK),
        ],
    );
    let key_ids: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT key_id FROM llm_providers WHERE key_id IS NOT NULL")
            .fetch_all(&pool)
            .await
            .expect("key ids");
    assert_eq!(key_ids.len(), 1, "{key_ids:?}");
    drop(rotated);
    // Without any KEK, a key cannot be stored.
    let database_url = fresh_database().await;
    let plain = Agent::start_orchestrator(&database_url, &[]);
    let (status, body) = post_json(
        &plain,
        "/api/v1/llm-providers",
        json!({"name": "p", "type": "openai", "model": "gpt-4o-mini", "api_key": SECRET_KEY}),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "provider_key_encryption_off", "{body}");
}

#[tokio::test]
async fn proxy_mode_routes_to_the_tenants_provider_and_policies_restrict_the_route() {
    let mock = MockProviders::start();
    let (_orchestrator, agents) = stack(1, &[]).await;
    let agent = &agents[0];
    for provider in six_providers(&mock) {
        register(agent, provider).await;
    }
    let (status, body) = post_json(
        agent,
        "/api/request",
        json!({"query": "What is the capital of France?", "user_token": "u", "client_id": "c",
               "request_type": "chat", "context": {"model": "m-gemini"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"], "Hello from gemini", "{body}");
    assert_eq!(body["metadata"]["provider"], "gem");
    assert_eq!(body["metadata"]["model"], "gemini-2.5-flash");
    assert!(body["metadata"]["total_tokens"]
        .as_u64()
        .is_some_and(|n| n > 0));
    let row = audit_row(agent, body["metadata"]["decision_id"].as_str().expect("id")).await;
    assert_eq!(row["provider"], "gem", "{row}");
    assert_eq!(row["metadata"]["provider_type"], "gemini", "{row}");
    // A model none of the tenant's providers serves has no route (no fallback elsewhere).
    let (status, body) = post_json(
        agent,
        "/api/request",
        json!({"query": "hello", "user_token": "u", "client_id": "c", "request_type": "chat",
               "context": {"model": "m-nobody"}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "no_route", "{body}");
    // A routing policy allowing only anthropic providers: a gemini-only model has no route.
    let (status, body) = post_json(
        agent,
        "/api/v1/dynamic-policies",
        json!({"name": "anthropic only", "type": "cost", "conditions": [{"field": "query", "operator": "contains", "value": "capital"}],
               "actions": [{"type": "route", "config": {"allowed_providers": ["anthropic"]}}], "enabled": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = post_json(
        agent,
        "/api/request",
        json!({"query": "What is the capital of France?", "user_token": "u", "client_id": "c",
               "request_type": "chat", "context": {"model": "m-gemini"}}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, body) = chat(agent, &user_chat("m-gemini", "the capital of France?")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "policy_denied", "{body}");
    let (status, _, body) = chat(agent, &user_chat("m-anthropic", "the capital of France?")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn routed_streams_come_from_openai_compatible_providers() {
    let mock = MockProviders::start();
    let (_orchestrator, agents) = stack(1, &[]).await;
    let agent = &agents[0];
    for provider in six_providers(&mock) {
        register(agent, provider).await;
    }
    for (model, name, text) in [
        ("m-openai", "oai", "Hello from openai"),
        ("m-azure-openai", "azure", "Hello from azure-openai"),
    ] {
        let response = client()
            .post(agent.url("/v1/chat/completions"))
            .json(&json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(response.headers(), "x-axonflow-provider"), name);
        let decision_id = header(response.headers(), "x-axonflow-decision-id").to_owned();
        let body = response.text().await.expect("body");
        let streamed: String = body
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .filter_map(|e| serde_json::from_str::<Value>(e).ok())
            .filter_map(|c| {
                c.pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(streamed, text, "{body}");
        let row = audit_row(agent, &decision_id).await;
        assert_eq!(row["provider"], name, "{row}");
        assert_eq!(row["metadata"]["stream_end"], "completed", "{row}");
        assert_eq!(row["metadata"]["attempts"][0]["status"], 200, "{row}");
    }
    // A provider whose stream format is not translated yet: a clear 400, nothing sent.
    let before = mock.received().await.len();
    let (status, _, body) = chat(
        agent,
        &json!({"model": "m-anthropic", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["param"], "stream", "{body}");
    assert_eq!(mock.received().await.len(), before);
}
