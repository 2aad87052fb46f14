//! `/metrics` under traffic: decisions, matches, durations, overhead, tokens and cost with the
//! contract's names and labels, and tenants beyond the cap folded into `other`.

use axum::http::StatusCode;

use crate::common::{agent_with_upstream, chat_body, client, Reply, PROVIDER_KEY};

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
    let text = client()
        .get(agent.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
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
    at_least_one(r#"axonflow_gateway_overhead_seconds_count{endpoint="openai"}"#);
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
    // Overhead is request time minus the provider's: the allowed call waited on the mock, so the
    // overhead's sum is below the requests' time.
    let total = sample(
        &text,
        r#"axonflow_request_duration_seconds_sum{endpoint="openai"}"#,
    )
    .expect("sum");
    let overhead = sample(
        &text,
        r#"axonflow_gateway_overhead_seconds_sum{endpoint="openai"}"#,
    )
    .expect("sum");
    assert!(overhead < total, "{overhead} >= {total}");
    // No prompt text in the metrics.
    assert!(!text.contains("6789") && !text.contains("2+2"));
}
