//! Audit reads: search filters and paging over one tenant's timeline, and the tenant endpoint's
//! refusal to show another tenant.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{assert_api_error, fresh_database, get_json, post_json, Agent};

async fn search(agent: &Agent, filters: Value) -> Value {
    let (status, body) = post_json(agent, "/api/v1/audit/search", filters).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn ids(body: &Value) -> Vec<String> {
    body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn search_filters_page_and_stay_in_the_tenant() {
    let agent = Agent::start(&fresh_database().await, &[]);
    let mut decisions = Vec::new();
    for (client_id, query) in [
        ("search-a", "hello"),
        ("search-a", "what is 2+2"),
        ("search-a", "my SSN is 123-45-6789"),
        ("search-b", "hello"),
    ] {
        let (_, body) = post_json(
            &agent,
            "/api/policy/pre-check",
            json!({"client_id": client_id, "query": query}),
        )
        .await;
        decisions.push(body);
    }
    let context_id = decisions[0]["context_id"].as_str().expect("context");
    let (status, audited) = post_json(
        &agent,
        "/api/audit/llm-call",
        json!({"context_id": context_id, "client_id": "search-a", "provider": "openai", "model": "gpt-4o",
               "token_usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}, "latency_ms": 80}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{audited}");

    let all_a = search(&agent, json!({"client_id": "search-a"})).await;
    assert_eq!(
        all_a["total"], 4,
        "three pre-checks and one llm call: {all_a}"
    );
    assert_eq!(all_a["limit"], 100);
    let newest = &all_a["entries"][0];
    assert_eq!(newest["request_type"], "llm_call");
    assert_eq!(newest["tokens_used"], 15);
    assert_eq!(newest["provider"], "openai");
    assert_eq!(newest["response_time_ms"], 80);
    assert!(newest["timestamp"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    let blocked = search(
        &agent,
        json!({"client_id": "search-a", "action": "blocked"}),
    )
    .await;
    assert_eq!(blocked["total"], 1);
    assert_eq!(blocked["entries"][0]["policy_decision"], "blocked");
    assert_eq!(
        blocked["entries"][0]["policy_violations"],
        json!(["sys_pii_ssn"])
    );
    assert_eq!(
        ids(&blocked),
        [decisions[2]["decision_id"].as_str().expect("id")]
    );

    let by_policy = search(&agent, json!({"policy_name": "sys_pii_ssn"})).await;
    assert_eq!(by_policy["total"], 1);

    // A pre-check's decision id finds it and the llm call audited against it.
    let story = search(&agent, json!({"decision_id": decisions[0]["decision_id"]})).await;
    assert_eq!(story["total"], 2, "{story}");
    assert_eq!(story["entries"][0]["id"], audited["audit_id"]);

    let page = search(
        &agent,
        json!({"client_id": "search-a", "limit": 1, "offset": 1}),
    )
    .await;
    assert_eq!(page["total"], 4);
    assert_eq!(ids(&page), [ids(&all_a)[1].clone()]);
    let future = search(
        &agent,
        json!({"start_time": crate::common::rfc3339_in(std::time::Duration::from_secs(3600))}),
    )
    .await;
    assert_eq!(future["total"], 0);
    let naive_past = search(
        &agent,
        json!({"start_time": "2020-01-01T00:00:00", "request_type": "pre_check"}),
    )
    .await;
    assert_eq!(naive_past["total"], 4);

    for bad in [
        json!({"limit": 0}),
        json!({"limit": 1001}),
        json!({"start_time": "yesterday"}),
        json!({"user_email": "a@b.c"}),
    ] {
        let (status, body) = post_json(&agent, "/api/v1/audit/search", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} -> {body}");
    }

    let (status, tenant) = get_json(&agent, "/api/v1/audit/tenant/default?limit=50&offset=0").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tenant["total"], 5);
    assert_eq!(tenant["limit"], 50);
    let (status, body) = get_json(
        &agent,
        "/api/v1/audit/tenant/someone-else?limit=50&offset=0",
    )
    .await;
    assert_api_error(status, &body, StatusCode::FORBIDDEN, "tenant_mismatch");
}

#[tokio::test]
async fn axonflow_endpoints_answer_bad_input_in_their_own_shape() {
    let agent = Agent::start(&fresh_database().await, &[]);
    let response = crate::common::client()
        .post(agent.url("/api/policy/pre-check"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answers");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_api_error(status, &body, StatusCode::BAD_REQUEST, "invalid_body");
    let (status, body) = get_json(&agent, "/api/policy/pre-check").await;
    assert_api_error(
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let (status, body) = get_json(&agent, "/api/v1/nothing-here").await;
    assert_api_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let big = "x".repeat(11 * 1024 * 1024);
    let (status, body) = post_json(
        &agent,
        "/api/v1/decide",
        json!({"stage": "llm", "query": big}),
    )
    .await;
    assert_api_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "request_too_large",
    );
}
