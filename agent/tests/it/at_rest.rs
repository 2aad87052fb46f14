//! Nothing raw at rest: match previews are masked for every category (tenant policies included),
//! caller-supplied stored fields are masked with the tenant's policies and capped, and the llm-call
//! summary is masked whole with the tenant's effective set before it is cut.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{
    agent_with_upstream, assert_api_error, client, post_json, Reply, PROVIDER_KEY,
};

/// Values no stored row may hold.
const RAW: &[&str] = &[
    "jane@example.com",
    "123-45-6789",
    "projectfalcon",
    "customers",
    "secret_pin",
];

/// Every row of every table that records traffic, as text (`policy_changes` holds the tenant's own
/// policy definitions, keywords included, and no traffic).
async fn everything_stored(pool: &sqlx::PgPool) -> String {
    let mut all = String::new();
    for table in ["llm_call_audits", "gateway_contexts", "admin_audit_log"] {
        let text: Option<String> = sqlx::query_scalar(&format!(
            "SELECT string_agg(row_to_json(t)::text, ' ') FROM {table} t"
        ))
        .fetch_one(pool)
        .await
        .expect("dump");
        all.push_str(&text.unwrap_or_default());
    }
    all
}

#[tokio::test]
async fn no_matched_value_is_stored_raw() {
    let (agent, upstream) = agent_with_upstream(
        Reply::completion(),
        &[("PII_ACTION", "log"), ("SQLI_ACTION", "log")],
    )
    .await;
    // A tenant keyword policy that only logs, so that its matches are recorded and the calls go on.
    let (status, body) = post_json(
        &agent,
        "/api/v1/static-policies",
        json!({"policy_id": "falcon", "name": "Falcon", "category": "sensitive-data",
               "keywords": ["projectfalcon"], "action": "log"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let prompt = "lookup 1' UNION SELECT secret_pin FROM customers-- for jane@example.com, SSN 123-45-6789, \
                  codename projectfalcon";
    let response = client()
        .post(agent.url("/v1/chat/completions"))
        .header("x-provider-key", PROVIDER_KEY)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(upstream.received().len(), 1, "logged matches do not block");

    let (status, pre) = post_json(
        &agent,
        "/api/policy/pre-check",
        json!({"query": "summarise the projectfalcon notes", "user_token": "u",
               "data_sources": ["crm for jane@example.com"], "context": {"note": "jane@example.com"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pre}");
    let context_id = pre["context_id"].as_str().expect("context").to_owned();

    let summary = format!(
        "{} SSN 123-45-6789 and projectfalcon",
        "the answer is fine. ".repeat(24)
    );
    assert!(
        summary.len() > 480 && summary.len() < 600,
        "the value straddles the 500-character cut"
    );
    let (status, body) = post_json(
        &agent,
        "/api/audit/llm-call",
        json!({"context_id": context_id, "response_summary": summary, "provider": "openai",
               "model": "gpt-4o-mini", "token_usage": {"prompt_tokens": 1, "completion_tokens": 1},
               "metadata": {"asked_by": "jane@example.com", "jane@example.com": "as a key"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = post_json(
        &agent,
        "/api/v1/decide",
        json!({"stage": "tool", "query": "list open tickets",
               "caller_identity": {"email": "jane@example.com", "role": "agent"},
               "target": {"tool": "projectfalcon-db", "model": "gpt-4o-mini"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let stored = everything_stored(&agent.pool().await).await;
    for raw in RAW {
        assert!(!stored.contains(raw), "{raw} is stored raw: {stored}");
    }
    // The masks are there instead: previews say what matched without the value.
    assert!(stored.contains(r#""preview": "UNION SELECT""#), "{stored}");
    assert!(
        stored.contains(r#""preview": "*************""#),
        "the tenant keyword match is masked"
    );
    assert!(stored.contains(r#""preview": "***-**-6789""#), "{stored}");
    assert!(stored.contains("[REDACTED:"), "{stored}");
    assert!(stored.contains("\"role\": \"agent\"") || stored.contains("\"role\":\"agent\""));
}

#[tokio::test]
async fn caller_supplied_stored_fields_are_capped() {
    let (agent, _upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    let big = "x".repeat(5 * 1024);
    let cases: Vec<(&str, Value)> = vec![
        (
            "/api/v1/decide",
            json!({"stage": "llm", "query": "hi", "caller_identity": {"note": big}}),
        ),
        (
            "/api/v1/decide",
            json!({"stage": "llm", "query": "hi", "target": {"note": big}}),
        ),
        (
            "/api/v1/decide",
            json!({"stage": "llm", "query": "hi", "context": {"note": "y".repeat(70 * 1024)}}),
        ),
        (
            "/api/policy/pre-check",
            json!({"query": "hi", "data_sources": vec!["db"; 65]}),
        ),
        (
            "/api/policy/pre-check",
            json!({"query": "hi", "data_sources": ["d".repeat(300)]}),
        ),
        (
            "/api/v1/mcp/check-input",
            json!({"statement": "hi", "operation": "o".repeat(300)}),
        ),
    ];
    for (path, body) in cases {
        let (status, answer) = post_json(&agent, path, body).await;
        assert_api_error(status, &answer, StatusCode::BAD_REQUEST, "field_too_large");
    }
    let (_, pre) = post_json(&agent, "/api/policy/pre-check", json!({"query": "hi"})).await;
    let context_id = pre["context_id"].as_str().expect("context").to_owned();
    for body in [
        json!({"context_id": context_id, "provider": "openai", "model": "m",
               "response_summary": "s".repeat(65 * 1024)}),
        json!({"context_id": context_id, "provider": "openai", "model": "m",
               "metadata": {"note": "m".repeat(17 * 1024)}}),
    ] {
        let (status, answer) = post_json(&agent, "/api/audit/llm-call", body).await;
        assert_api_error(status, &answer, StatusCode::BAD_REQUEST, "field_too_large");
    }
    // Within the caps, the same calls are taken.
    let (status, answer) = post_json(
        &agent,
        "/api/v1/decide",
        json!({"stage": "llm", "query": "hi", "caller_identity": {"note": "x".repeat(1024)}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = post_json(
        &agent,
        "/api/audit/llm-call",
        json!({"context_id": context_id, "provider": "openai", "model": "m",
               "response_summary": "s".repeat(60 * 1024)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}
