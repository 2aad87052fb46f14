//! `POST /v1/chat/completions` end to end: allow, deny, upstream errors, bad input, audit rows.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::common::{agent_with_upstream, chat_body, client, Agent, Reply, PROVIDER_KEY};

struct AuditRow {
    source: String,
    client_id: String,
    provider: String,
    model: String,
    verdict: String,
    prompt_tokens: i32,
    completion_tokens: i32,
    total_tokens: i32,
    cost: f64,
    http_status: Option<i32>,
    trace_id: Option<String>,
    metadata: Value,
}

async fn audit_row(pool: &PgPool, decision_id: &str) -> AuditRow {
    let id: Uuid = decision_id.parse().expect("decision id is a UUID");
    let row = sqlx::query(
        "SELECT source, client_id, provider, model, verdict, prompt_tokens, completion_tokens, total_tokens, \
         estimated_cost_usd::float8 AS cost, http_status, trace_id, metadata FROM llm_call_audits WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("exactly one audit row for the decision id");
    AuditRow {
        source: row.get("source"),
        client_id: row.get("client_id"),
        provider: row.get("provider"),
        model: row.get("model"),
        verdict: row.get("verdict"),
        prompt_tokens: row.get("prompt_tokens"),
        completion_tokens: row.get("completion_tokens"),
        total_tokens: row.get("total_tokens"),
        cost: row.get("cost"),
        http_status: row.get("http_status"),
        trace_id: row.get("trace_id"),
        metadata: row.get("metadata"),
    }
}

async fn audit_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM llm_call_audits")
        .fetch_one(pool)
        .await
        .expect("count")
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_default()
}

async fn post(
    agent: &Agent,
    body: impl Into<reqwest::Body>,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = client()
        .post(agent.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("agent answers")
}

#[track_caller]
fn assert_openai_error(body: &Value, kind: &str, code: &str) {
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

fn is_trace_id(value: &str) -> bool {
    value.len() == 32
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[tokio::test]
async fn allowed_call_is_forwarded_verbatim_and_audited() {
    let (agent, upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    // Odd spacing and an unknown field: the upstream must receive these exact bytes.
    let body = r#"{"model": "gpt-4o-mini",  "messages":[{"role":"user","content":"What is 2+2?"}], "max_tokens":100, "x_custom": {"k": [1,2]}}"#;
    let response = post(
        &agent,
        body,
        &[
            ("x-provider-key", PROVIDER_KEY),
            ("authorization", "Bearer acme-app:whatever"),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
    let decision_id = header(&response, "x-axonflow-decision-id");
    let trace_id = header(&response, "x-axonflow-trace-id");
    assert!(is_trace_id(&trace_id), "{trace_id}");
    assert_eq!(
        header(&response, "x-request-id"),
        "req_mock_1",
        "upstream headers pass through"
    );
    assert_eq!(
        response.text().await.expect("body"),
        Reply::completion().body,
        "body returned unchanged"
    );

    let received = upstream.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/v1/chat/completions");
    assert_eq!(received[0].body, body.as_bytes(), "body forwarded verbatim");
    assert_eq!(
        received[0].headers["authorization"],
        format!("Bearer {PROVIDER_KEY}").as_str()
    );
    assert_eq!(received[0].headers["content-type"], "application/json");
    assert!(
        received[0].headers.get("x-provider-key").is_none(),
        "the key travels only as Authorization"
    );

    let row = audit_row(&agent.pool().await, &decision_id).await;
    assert_eq!(row.source, "openai_gateway");
    assert_eq!(row.client_id, "acme-app");
    assert_eq!(
        (row.provider.as_str(), row.model.as_str()),
        ("openai", "gpt-4o-mini")
    );
    assert_eq!(row.verdict, "allow");
    assert_eq!(
        (row.prompt_tokens, row.completion_tokens, row.total_tokens),
        (14, 7, 21)
    );
    // gpt-4o-mini: 0.15 USD per 1M input tokens, 0.60 per 1M output tokens.
    assert!(
        (row.cost - (14.0 * 0.15 + 7.0 * 0.60) / 1e6).abs() < 1e-12,
        "cost {}",
        row.cost
    );
    assert_eq!(row.http_status, Some(200));
    assert_eq!(row.trace_id.as_deref(), Some(trace_id.as_str()));
    assert_eq!(row.metadata["verdict"], "allow");
    assert_eq!(row.metadata["decision_id"], decision_id.as_str());
    assert_eq!(row.metadata["response_model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(row.metadata["pricing"]["fallback"], false);
}

#[tokio::test]
async fn incoming_traceparent_sets_the_trace_id() {
    let (agent, _upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = post(
        &agent,
        chat_body("hello"),
        &[
            ("x-provider-key", PROVIDER_KEY),
            ("traceparent", traceparent),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "x-axonflow-trace-id"),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    let malformed = post(
        &agent,
        chat_body("hello"),
        &[("x-provider-key", PROVIDER_KEY), ("traceparent", "00-XYZ")],
    )
    .await;
    let trace_id = header(&malformed, "x-axonflow-trace-id");
    assert!(
        is_trace_id(&trace_id) && trace_id != "4bf92f3577b34da6a3ce929d0e0e4736",
        "{trace_id}"
    );
}

#[tokio::test]
async fn policy_denial_is_openai_shaped_audited_and_never_forwarded() {
    let (agent, upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    let body = serde_json::json!({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": [{"type": "text", "text": "My SSN is 123-45-6789"}]}
    ]});
    let response = post(
        &agent,
        body.to_string(),
        &[("x-provider-key", PROVIDER_KEY)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let decision_id = header(&response, "x-axonflow-decision-id");
    assert!(is_trace_id(&header(&response, "x-axonflow-trace-id")));
    let error: Value = response.json().await.expect("json");
    assert_openai_error(&error, "policy_violation", "policy_denied");
    assert_eq!(
        error["error"]["message"],
        "Request blocked by policy: Social Security Number detected"
    );
    assert!(
        upstream.received().is_empty(),
        "a denied request never reaches the provider"
    );

    let row = audit_row(&agent.pool().await, &decision_id).await;
    assert_eq!(row.verdict, "deny");
    assert_eq!(
        (row.prompt_tokens, row.completion_tokens, row.total_tokens),
        (0, 0, 0)
    );
    assert_eq!(row.cost, 0.0);
    assert_eq!(row.metadata["policies"], serde_json::json!(["sys_pii_ssn"]));
    assert_eq!(row.metadata["matches"][0]["preview"], "***-**-6789");
    assert!(
        !row.metadata.to_string().contains("123-45-6789"),
        "the raw SSN is not stored"
    );
}

#[tokio::test]
async fn every_matching_policy_is_reported() {
    let (agent, _upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    let text = "card 4111 1111 1111 1111 and SSN 123-45-6789, also ' OR 1=1 --";
    let response = post(&agent, chat_body(text), &[("x-provider-key", PROVIDER_KEY)]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let decision_id = header(&response, "x-axonflow-decision-id");
    let error: Value = response.json().await.expect("json");
    let message = error["error"]["message"].as_str().expect("message");
    for detected in [
        "Credit card number",
        "Social Security Number",
        "SQL injection (tautology)",
    ] {
        assert!(message.contains(detected), "{message}");
    }
    let row = audit_row(&agent.pool().await, &decision_id).await;
    let policies: Vec<&str> = row.metadata["policies"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        policies,
        [
            "sys_pii_credit_card",
            "sys_pii_ssn",
            "sys_sqli_quote_breakout",
            "sys_sqli_syntax",
            "sys_sqli_boolean_inference",
            "sys_sqli_or_true"
        ]
    );
}

#[tokio::test]
async fn pii_action_redact_forwards_the_redacted_text() {
    let (agent, upstream) =
        agent_with_upstream(Reply::completion(), &[("PII_ACTION", "redact")]).await;
    let response = post(
        &agent,
        chat_body("My SSN is 123-45-6789, thanks"),
        &[("x-provider-key", PROVIDER_KEY)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let decision_id = header(&response, "x-axonflow-decision-id");
    let received = upstream.received();
    let forwarded: Value = serde_json::from_slice(&received[0].body).expect("json");
    assert_eq!(
        forwarded["messages"][0]["content"],
        "My SSN is [REDACTED:SSN], thanks"
    );
    assert_eq!(forwarded["max_tokens"], 100, "the rest of the body is kept");
    let row = audit_row(&agent.pool().await, &decision_id).await;
    assert_eq!(row.verdict, "allow");
    assert_eq!(row.metadata["redacted"], true);
}

#[tokio::test]
async fn upstream_errors_pass_through_verbatim_and_are_audited() {
    let upstream_body = r#"{"error":{"message":"Incorrect API key provided: sk-test-***.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
    let (agent, _upstream) =
        agent_with_upstream(Reply::status(StatusCode::UNAUTHORIZED, upstream_body), &[]).await;
    let response = post(
        &agent,
        chat_body("hello"),
        &[("x-provider-key", PROVIDER_KEY)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let decision_id = header(&response, "x-axonflow-decision-id");
    assert!(is_trace_id(&header(&response, "x-axonflow-trace-id")));
    assert_eq!(response.text().await.expect("body"), upstream_body);
    let row = audit_row(&agent.pool().await, &decision_id).await;
    assert_eq!(row.verdict, "allow");
    assert_eq!(row.total_tokens, 0);
    assert_eq!(row.http_status, Some(401));
    assert_eq!(row.metadata["upstream_status"], 401);
}

/// Logging (the default), a successful answer no JSON reader here takes (a byte-order mark before
/// it, a lone surrogate, a number past f64) is passed on as received, and its audit row says the
/// output policies did not read it.
#[tokio::test]
async fn an_answer_the_output_policies_cannot_read_is_passed_on_marked_unchecked() {
    let unreadable = "\u{feff}{\"choices\":[{\"message\":{\"content\":\"SSN 123-45-6789\"}}]}";
    let (agent, _upstream) =
        agent_with_upstream(Reply::status(StatusCode::OK, unreadable), &[]).await;
    let response = post(
        &agent,
        chat_body("hello"),
        &[("x-provider-key", PROVIDER_KEY)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let decision_id = header(&response, "x-axonflow-decision-id");
    assert_eq!(response.text().await.expect("body"), unreadable);
    let row = audit_row(&agent.pool().await, &decision_id).await;
    assert_eq!(
        row.metadata["error"], "upstream_unreadable",
        "{:?}",
        row.metadata
    );
}

#[tokio::test]
async fn unreachable_upstream_is_a_502_and_audited() {
    let database_url = crate::common::fresh_database().await;
    // Port 1 on loopback refuses connections.
    let agent = Agent::start(
        &database_url,
        &[("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")],
    );
    let response = post(
        &agent,
        chat_body("hello"),
        &[("x-provider-key", PROVIDER_KEY)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let decision_id = header(&response, "x-axonflow-decision-id");
    let error: Value = response.json().await.expect("json");
    assert_openai_error(&error, "upstream_error", "upstream_unreachable");
    let row = audit_row(&agent.pool().await, &decision_id).await;
    assert_eq!(row.http_status, Some(502));
    assert_eq!(row.metadata["error"], "upstream_unreachable");
}

#[tokio::test]
async fn slow_upstream_times_out_with_504() {
    let reply = Reply {
        delay: Duration::from_secs(5),
        ..Reply::completion()
    };
    let (agent, _upstream) =
        agent_with_upstream(reply, &[("AXONFLOW_UPSTREAM_TIMEOUT_SECS", "0.3")]).await;
    let response = post(
        &agent,
        chat_body("hello"),
        &[("x-provider-key", PROVIDER_KEY)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    let decision_id = header(&response, "x-axonflow-decision-id");
    let error: Value = response.json().await.expect("json");
    assert_openai_error(&error, "upstream_error", "upstream_timeout");
    let row = audit_row(&agent.pool().await, &decision_id).await;
    assert_eq!(row.http_status, Some(504));
}

#[tokio::test]
async fn client_disconnect_still_leaves_an_audit_row() {
    let reply = Reply {
        delay: Duration::from_millis(800),
        ..Reply::completion()
    };
    let (agent, upstream) = agent_with_upstream(reply, &[]).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let result = impatient
        .post(agent.url("/v1/chat/completions"))
        .header("x-provider-key", PROVIDER_KEY)
        .body(chat_body("hello"))
        .send()
        .await;
    assert!(
        result.is_err(),
        "the client gives up before the upstream answers"
    );
    let pool = agent.pool().await;
    let mut count = 0;
    for _ in 0..100 {
        count = audit_count(&pool).await;
        if count == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count, 1, "the abandoned call is audited");
    assert_eq!(upstream.received().len(), 1);
    let tokens: i32 = sqlx::query_scalar("SELECT total_tokens FROM llm_call_audits")
        .fetch_one(&pool)
        .await
        .expect("row");
    assert_eq!(tokens, 21, "the audit row holds the upstream's usage");
}

#[tokio::test]
async fn bad_requests_get_openai_shaped_errors_and_no_audit() {
    let (agent, upstream) =
        agent_with_upstream(Reply::completion(), &[("AXONFLOW_MAX_BODY_BYTES", "2048")]).await;
    let key = [("x-provider-key", PROVIDER_KEY)];
    type Case<'a> = (String, &'a [(&'a str, &'a str)], StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            chat_body("hello"),
            &[],
            StatusCode::BAD_REQUEST,
            "missing_provider_key",
        ),
        (
            chat_body("hello"),
            &[("x-provider-key", "  ")],
            StatusCode::BAD_REQUEST,
            "missing_provider_key",
        ),
        (
            r#"{"model":"gpt-4o-mini","stream":1,"messages":[{"role":"user","content":"hi"}]}"#
                .to_owned(),
            &key,
            StatusCode::BAD_REQUEST,
            "invalid_type",
        ),
        (
            "{not json".to_owned(),
            &key,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (String::new(), &key, StatusCode::BAD_REQUEST, "invalid_json"),
        (
            "[1,2]".to_owned(),
            &key,
            StatusCode::BAD_REQUEST,
            "invalid_type",
        ),
        (
            r#"{"messages":[{"role":"user","content":"hi"}]}"#.to_owned(),
            &key,
            StatusCode::BAD_REQUEST,
            "missing_required_parameter",
        ),
        (
            r#"{"model":"gpt-4o-mini"}"#.to_owned(),
            &key,
            StatusCode::BAD_REQUEST,
            "missing_required_parameter",
        ),
        (
            r#"{"model":"gpt-4o-mini","messages":{"role":"user"}}"#.to_owned(),
            &key,
            StatusCode::BAD_REQUEST,
            "invalid_type",
        ),
        (
            r#"{"model":["x"],"messages":[]}"#.to_owned(),
            &key,
            StatusCode::BAD_REQUEST,
            "invalid_type",
        ),
        (
            chat_body(&"a".repeat(4096)),
            &key,
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
        ),
    ];
    for (body, headers, status, code) in cases {
        let response = post(&agent, body.clone(), headers).await;
        assert_eq!(response.status(), status, "{code}: {body:.80}");
        let error: Value = response.json().await.expect("json error body");
        assert_openai_error(&error, "invalid_request_error", code);
    }
    // Wrong method and unknown path.
    let response = client()
        .get(agent.url("/v1/chat/completions"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_openai_error(
        &response.json().await.expect("json"),
        "invalid_request_error",
        "method_not_allowed",
    );
    let response = client()
        .post(agent.url("/v1/embeddings"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_openai_error(
        &response.json().await.expect("json"),
        "invalid_request_error",
        "unknown_url",
    );

    assert!(upstream.received().is_empty());
    assert_eq!(
        audit_count(&agent.pool().await).await,
        0,
        "rejected input is not a decision"
    );
}

#[tokio::test]
async fn the_provider_key_reaches_neither_the_database_nor_the_log() {
    let (mut agent, _upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    for content in ["hello", "My SSN is 123-45-6789"] {
        post(
            &agent,
            chat_body(content),
            &[("x-provider-key", PROVIDER_KEY)],
        )
        .await;
    }
    post(&agent, "{bad", &[("x-provider-key", PROVIDER_KEY)]).await;
    let pool = agent.pool().await;
    assert_eq!(audit_count(&pool).await, 2);
    let leaks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM llm_call_audits t WHERE row_to_json(t)::text LIKE '%' || $1 || '%'",
    )
    .bind(PROVIDER_KEY)
    .fetch_one(&pool)
    .await
    .expect("query");
    assert_eq!(leaks, 0);
    agent.stop();
    let log = agent.log();
    assert!(
        log.contains("chat completion forwarded"),
        "debug logging was on: {log:.400}"
    );
    assert!(
        !log.contains(PROVIDER_KEY),
        "the provider key appears in the log"
    );
}

#[tokio::test]
async fn a_model_name_cannot_forge_a_log_line() {
    let (mut agent, _upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    let forged = "2026-01-01T00:00:00.000000Z  INFO axonflow_agent::openai: forged";
    let body = serde_json::json!({
        "model": format!("gpt-4o-mini\n{forged}\r\u{1b}[2J"),
        "messages": [{"role": "user", "content": "hello"}],
    });
    let response = post(
        &agent,
        body.to_string(),
        &[("x-provider-key", PROVIDER_KEY)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    agent.stop();
    let log = agent.log();
    // The model is logged, escaped, inside the line of its request.
    assert!(
        log.lines()
            .any(|line| line.contains("chat completion forwarded")
                && line.contains(&format!("model=gpt-4o-mini\\n{forged}\\r\\u{{1b}}[2J"))),
        "{log:.2000}"
    );
    assert!(
        !log.lines().any(|line| line.starts_with(forged)),
        "{log:.2000}"
    );
    assert!(!log.contains('\u{1b}') && !log.contains('\r'));
}
