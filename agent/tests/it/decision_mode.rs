//! Decision Mode: decide (allow, deny, obligations, trace ids, bad stages) and the check-input
//! fulfilment of `redact_pii`.

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;
use uuid::Uuid;

use crate::common::{assert_api_error, client, fresh_database, post_json, Agent};

async fn audit_source_and_verdict(agent: &Agent, decision_id: &Value) -> (String, String) {
    let id: Uuid = decision_id
        .as_str()
        .expect("decision id")
        .parse()
        .expect("uuid");
    let row = sqlx::query("SELECT source, verdict FROM llm_call_audits WHERE id = $1")
        .bind(id)
        .fetch_one(&agent.pool().await)
        .await
        .expect("decision audited");
    (row.get("source"), row.get("verdict"))
}

#[tokio::test]
async fn decide_allows_and_denies_with_reasons_and_audit() {
    let agent = Agent::start(&fresh_database().await, &[]);
    let response = client()
        .post(agent.url("/api/v1/decide"))
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .json(&json!({"stage": "llm", "query": "What is the capital of France?",
                      "caller_identity": {"gateway_id": "gw-1"}, "target": {"provider": "openai", "model": "gpt-4o"}}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::OK);
    let allow: Value = response.json().await.expect("json");
    assert_eq!(allow["verdict"], "allow");
    assert_eq!(allow["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(allow["stage"], "llm");
    assert_eq!(allow["obligations"], json!([]));
    assert_eq!(allow["evaluated_policies"], json!([]));
    assert!(allow["expires_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert_eq!(
        audit_source_and_verdict(&agent, &allow["decision_id"]).await,
        ("decide".to_owned(), "allow".to_owned())
    );

    let (status, deny) = post_json(
        &agent,
        "/api/v1/decide",
        json!({"stage": "tool", "query": "DROP TABLE users; -- and card 4111 1111 1111 1111"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "a deny is a 200: {deny}");
    assert_eq!(deny["verdict"], "deny");
    let evaluated: Vec<&str> = deny["evaluated_policies"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(evaluated.contains(&"sys_pii_credit_card"), "{evaluated:?}");
    assert!(evaluated.contains(&"sys_dangerous_drop"), "{evaluated:?}");
    let reasons = deny["reasons"].as_array().expect("reasons");
    assert_eq!(
        reasons.len(),
        evaluated.len(),
        "a reason per matched policy"
    );
    assert!(
        reasons.iter().any(|r| r
            .as_str()
            .is_some_and(|r| r.starts_with("sys_pii_credit_card: "))),
        "{reasons:?}"
    );
    let trace_id = deny["trace_id"].as_str().expect("trace id");
    assert!(trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        audit_source_and_verdict(&agent, &deny["decision_id"]).await,
        ("decide".to_owned(), "deny".to_owned())
    );

    let (status, body) = post_json(
        &agent,
        "/api/v1/decide",
        json!({"stage": "moon", "query": "x"}),
    )
    .await;
    assert_api_error(status, &body, StatusCode::BAD_REQUEST, "invalid_stage");
    let (status, body) = post_json(&agent, "/api/v1/decide", json!({"stage": "llm"})).await;
    assert_api_error(status, &body, StatusCode::BAD_REQUEST, "invalid_body");
}

#[tokio::test]
async fn redact_obligation_is_fulfilled_by_check_input() {
    let agent = Agent::start(&fresh_database().await, &[("PII_ACTION", "redact")]);
    let query = "Refund card 4111 1111 1111 1111 for jane.doe@example.com";
    let (_, decision) = post_json(
        &agent,
        "/api/v1/decide",
        json!({"stage": "llm", "query": query}),
    )
    .await;
    assert_eq!(decision["verdict"], "allow", "{decision}");
    let obligation = &decision["obligations"][0];
    assert_eq!(obligation["type"], "redact_pii");
    assert_eq!(
        obligation["fulfillment"]["endpoint"],
        "/api/v1/mcp/check-input"
    );
    assert_eq!(obligation["fulfillment"]["phase"], "request");
    assert_eq!(
        obligation["fulfillment"]["content_types"],
        json!(["text/plain"])
    );

    let (status, checked) = post_json(
        &agent,
        "/api/v1/mcp/check-input",
        json!({"connector_type": "gateway", "statement": query, "operation": "execute", "content_type": "text/plain"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{checked}");
    assert_eq!(checked["allowed"], true);
    assert_eq!(checked["redaction_evaluated"], true);
    assert_eq!(checked["redacted"], true);
    assert_eq!(
        checked["redacted_statement"],
        "Refund card [REDACTED:CREDIT_CARD] for [REDACTED:EMAIL]"
    );
    assert_eq!(checked["policy_info"]["redactions_applied"], 2);
    assert_eq!(checked["risk_level"], "critical");
    assert_eq!(
        audit_source_and_verdict(&agent, &checked["decision_id"]).await,
        ("mcp_check_input".to_owned(), "allow".to_owned())
    );

    let (status, clean) = post_json(
        &agent,
        "/api/v1/mcp/check-input",
        json!({"connector_type": "gateway", "statement": "hello there"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(clean["redacted"], false);
    assert_eq!(clean["redaction_evaluated"], true);
    assert_eq!(clean["redacted_statement"], Value::Null);

    let (status, body) = post_json(
        &agent,
        "/api/v1/mcp/check-input",
        json!({"connector_type": "gateway", "statement": "x", "content_type": "application/pdf"}),
    )
    .await;
    assert_api_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    let blocking = Agent::start(&fresh_database().await, &[]);
    let (status, blocked) = post_json(
        &blocking,
        "/api/v1/mcp/check-input",
        json!({"connector_type": "gateway", "statement": "SSN 123-45-6789"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{blocked}");
    assert_eq!(blocked["allowed"], false);
    assert_eq!(blocked["redaction_evaluated"], true);
    assert_eq!(
        blocked["policy_info"]["matched_policies"][0]["policy_id"],
        "sys_pii_ssn"
    );
}
