//! `/metrics` under traffic: decisions, matches, durations, overhead, tokens and cost with the
//! contract's names and labels, and tenants beyond the cap folded into `other`.

use axum::http::StatusCode;

use crate::common::{agent_with_upstream, chat_body, client, metrics_text, Reply, PROVIDER_KEY};

/// The value of the first sample whose line starts with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn decisions_matches_durations_tokens_and_cost_are_counted() {
    let (agent, _upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    for content in ["What is 2+2?", "My SSN is 123-45-6789"] {
        let status = client()
            .post(agent.url("/v1/chat/completions"))
            .header("x-provider-key", PROVIDER_KEY)
            .header("content-type", "application/json")
            .body(chat_body(content))
            .send()
            .await
            .expect("answers")
            .status();
        assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST);
    }
    let text = metrics_text(&agent).await;
    let at_least_one = |prefix: &str| {
        assert!(
            sample(&text, prefix).is_some_and(|v| v >= 1.0),
            "{prefix} missing or zero in:\n{text}"
        );
    };
    at_least_one(r#"axonflow_decisions_total{endpoint="openai",tenant="default",verdict="allow"}"#);
    at_least_one(r#"axonflow_decisions_total{endpoint="openai",tenant="default",verdict="deny"}"#);
    at_least_one(r#"axonflow_policy_matches_total{action="block",policy_id="sys_pii_ssn"}"#);
    at_least_one(r#"axonflow_request_duration_seconds_count{endpoint="openai"}"#);
    at_least_one(r#"axonflow_gateway_overhead_seconds_count{endpoint="openai",part="total"}"#);
    at_least_one("axonflow_policy_eval_duration_seconds_count");
    at_least_one(
        r#"axonflow_llm_tokens_total{direction="input",model="gpt-4o-mini",provider="openai",tenant="default"}"#,
    );
    at_least_one(
        r#"axonflow_llm_tokens_total{direction="output",model="gpt-4o-mini",provider="openai",tenant="default"}"#,
    );
    assert!(
        sample(
            &text,
            r#"axonflow_llm_cost_usd_total{model="gpt-4o-mini",provider="openai",tenant="default"}"#
        )
        .is_some_and(|v| v > 0.0),
        "{text}"
    );
    assert!(
        text.contains("axonflow_otel_spans_dropped_total 0"),
        "{text}"
    );
    // The harness reads the agent's standard output: no log line was dropped.
    assert_eq!(
        sample(&text, "axonflow_log_lines_dropped_total"),
        Some(0.0),
        "{text}"
    );
    // Overhead is request time minus the provider's: the allowed call waited on the mock, so the
    // overhead's sum is below the requests' time.
    let total = sample(
        &text,
        r#"axonflow_request_duration_seconds_sum{endpoint="openai"}"#,
    )
    .expect("sum");
    let overhead = sample(
        &text,
        r#"axonflow_gateway_overhead_seconds_sum{endpoint="openai",part="total"}"#,
    )
    .expect("sum");
    assert!(overhead < total, "{overhead} >= {total}");
    // No prompt text in the metrics: not in a name, a label or a help line (a sample's value is a
    // number, whose digits may be anything).
    for line in text.lines() {
        let named = line
            .rsplit_once(' ')
            .map_or(line, |(series, _value)| series);
        let named = if line.starts_with('#') { line } else { named };
        assert!(
            !named.contains("6789") && !named.contains("2+2"),
            "prompt text in the metrics: {line}"
        );
    }
}

/// The `Server-Timing` parts of one answer (`name` → milliseconds).
fn server_timing(response: &reqwest::Response) -> Vec<(String, f64)> {
    let value = response
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    value
        .split(',')
        .filter_map(|part| {
            let (name, duration) = part.trim().split_once(";dur=")?;
            Some((name.to_owned(), duration.parse().ok()?))
        })
        .collect()
}

/// Every deciding endpoint says where its time went: policy, upstream, audit and total, in that
/// order, each a finite duration, the parts adding up to no more than the total.
#[tokio::test]
async fn deciding_endpoints_answer_server_timing_whose_parts_fit_the_total() {
    let (agent, _upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    let post = |path: &str, body: String| {
        client()
            .post(agent.url(path))
            .header("x-provider-key", PROVIDER_KEY)
            .header("content-type", "application/json")
            .body(body)
    };
    let pre_check = post(
        "/api/policy/pre-check",
        serde_json::json!({"client_id": "timing-app", "query": "What is 2+2?"}).to_string(),
    )
    .send()
    .await
    .expect("pre-check answers");
    let context_id = {
        let timing = server_timing(&pre_check);
        let body: serde_json::Value = pre_check.json().await.expect("json");
        assert!(!timing.is_empty(), "pre-check: {body}");
        check_parts("pre_check", &timing);
        body["context_id"].as_str().expect("context id").to_owned()
    };
    for (endpoint, path, body) in [
        ("openai", "/v1/chat/completions", chat_body("What is 2+2?")),
        (
            "llm_call",
            "/api/audit/llm-call",
            serde_json::json!({"context_id": context_id, "client_id": "timing-app",
                "response_summary": "4", "provider": "openai", "model": "gpt-4o-mini",
                "token_usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
                "latency_ms": 12})
            .to_string(),
        ),
        (
            "decide",
            "/api/v1/decide",
            serde_json::json!({"stage": "llm", "query": "What is 2+2?"}).to_string(),
        ),
        (
            "check_input",
            "/api/v1/mcp/check-input",
            serde_json::json!({"connector_type": "gateway", "statement": "SELECT 1",
                "operation": "execute"})
            .to_string(),
        ),
    ] {
        let response = post(path, body).send().await.expect("answers");
        let status = response.status();
        let timing = server_timing(&response);
        assert!(status.is_success(), "{endpoint}: {status}");
        check_parts(endpoint, &timing);
        // The parts are measured where the work runs (the chat call runs in a task of its own),
        // not left at zero: every endpoint evaluates policies, the chat call also waits upstream.
        let part = |name: &str| timing.iter().find(|(n, _)| n == name).map(|(_, ms)| *ms);
        if endpoint != "llm_call" {
            assert!(
                part("policy").is_some_and(|ms| ms > 0.0),
                "{endpoint}: {timing:?}"
            );
        }
        if endpoint == "openai" {
            assert!(
                part("upstream").is_some_and(|ms| ms > 0.0),
                "{endpoint}: {timing:?}"
            );
            assert!(
                part("audit").is_some_and(|ms| ms > 0.0),
                "{endpoint}: {timing:?}"
            );
        }
    }
    // The same split reaches the overhead histogram.
    let text = metrics_text(&agent).await;
    for part in ["total", "policy", "audit", "other"] {
        let prefix = format!(
            r#"axonflow_gateway_overhead_seconds_count{{endpoint="openai",part="{part}"}}"#
        );
        assert!(
            sample(&text, &prefix).is_some_and(|v| v >= 1.0),
            "{prefix} missing in:\n{text}"
        );
    }
}

#[track_caller]
fn check_parts(endpoint: &str, timing: &[(String, f64)]) {
    let names: Vec<&str> = timing.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["policy", "upstream", "audit", "total"],
        "{endpoint}: {timing:?}"
    );
    assert!(
        timing.iter().all(|(_, ms)| ms.is_finite() && *ms >= 0.0),
        "{endpoint}: {timing:?}"
    );
    let total = timing[3].1;
    let parts: f64 = timing[..3].iter().map(|(_, ms)| ms).sum();
    // Three decimals each: rounding may add up to 1.5 µs.
    assert!(parts <= total + 0.0015, "{endpoint}: {timing:?}");
    assert!(total > 0.0, "{endpoint}: {timing:?}");
}
