//! Bounded resources: the upstream answer is capped (502, audited), requests in flight are limited
//! (503 with `Retry-After`, counted in `/metrics`), and a row that neither Postgres, the journal nor
//! `.rejected` takes is answered 503.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{agent_with_upstream, chat_body, client, metric, Agent, Reply, PROVIDER_KEY};

async fn chat(agent: &Agent, authorization: Option<&str>) -> reqwest::Response {
    let mut request = client()
        .post(agent.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-provider-key", PROVIDER_KEY)
        .body(chat_body("What is 2+2?"));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.send().await.expect("agent answers")
}

#[tokio::test]
async fn upstream_answers_over_the_cap_are_a_502_and_audited() {
    let padding = "a".repeat(200_000);
    let big = json!({"id": "chatcmpl-big", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": padding}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}});
    let (agent, _upstream) = agent_with_upstream(
        Reply::status(StatusCode::OK, &big.to_string()),
        &[("AXONFLOW_MAX_RESPONSE_BYTES", "100000")],
    )
    .await;
    let response = chat(&agent, None).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let decision_id = response
        .headers()
        .get("x-axonflow-decision-id")
        .and_then(|v| v.to_str().ok())
        .expect("decision id")
        .to_owned();
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "upstream_response_too_large");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("100000")));
    let pool = agent.pool().await;
    let (status, metadata): (Option<i32>, Value) =
        sqlx::query_as("SELECT http_status, metadata FROM llm_call_audits WHERE id = $1::uuid")
            .bind(&decision_id)
            .fetch_one(&pool)
            .await
            .expect("audited");
    assert_eq!(status, Some(502));
    assert_eq!(metadata["error"], "upstream_response_too_large");

    // The same answer under the cap is passed on whole.
    let (agent, _upstream) = agent_with_upstream(
        Reply::status(StatusCode::OK, &big.to_string()),
        &[("AXONFLOW_MAX_RESPONSE_BYTES", "300000")],
    )
    .await;
    let response = chat(&agent, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.expect("text"), big.to_string());
}

#[tokio::test]
async fn requests_past_the_in_flight_limit_are_shed_with_retry_after() {
    let mut slow = Reply::completion();
    slow.delay = Duration::from_millis(1500);
    let (agent, upstream) = agent_with_upstream(slow, &[("AXONFLOW_MAX_IN_FLIGHT", "2")]).await;
    let agent = std::sync::Arc::new(agent);
    let in_flight: Vec<_> = (0..2)
        .map(|_| {
            let agent = agent.clone();
            tokio::spawn(async move { chat(&agent, None).await.status() })
        })
        .collect();
    // Both slots are taken once the mock holds both calls.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while upstream.received().len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "calls never reached the mock"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for path in ["/v1/chat/completions", "/api/v1/decide"] {
        let request = if path.starts_with("/v1/") {
            client()
                .post(agent.url(path))
                .header("x-provider-key", PROVIDER_KEY)
                .body(chat_body("hi"))
        } else {
            client()
                .post(agent.url(path))
                .json(&json!({"stage": "llm", "query": "hi"}))
        };
        let response = request.send().await.expect("answer");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
        let body: Value = response.json().await.expect("JSON");
        let code = if path.starts_with("/v1/") {
            &body["error"]["code"]
        } else {
            &body["code"]
        };
        assert_eq!(code, "overloaded", "{body}");
    }
    // Health and metrics are never shed.
    let health = client()
        .get(agent.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        metric(&agent, "axonflow_requests_shed_total").await,
        Some(2)
    );
    for call in in_flight {
        assert_eq!(call.await.expect("task"), StatusCode::OK);
    }
    assert_eq!(chat(&agent, None).await.status(), StatusCode::OK);
    assert_eq!(
        upstream.received().len(),
        3,
        "shed calls never reached the provider"
    );
}

#[tokio::test]
async fn a_row_nobody_takes_is_answered_503() {
    let (agent, upstream) = agent_with_upstream(Reply::completion(), &[]).await;
    // Postgres refuses rows of one client as data (a CHECK), like a value it cannot store.
    let pool = agent.pool().await;
    sqlx::query(
        "ALTER TABLE llm_call_audits ADD CONSTRAINT refuse_poison CHECK (client_id <> 'poison-app')",
    )
    .execute(&pool)
    .await
    .expect("constraint");
    let journal = agent.log_path.with_extension("fallback.jsonl");
    let rejected = format!("{}.rejected", journal.display());
    // base64("poison-app:") and base64("clean-app:")
    let (poison, clean) = ("Basic cG9pc29uLWFwcDo=", "Basic Y2xlYW4tYXBwOg==");

    // While `.rejected` takes the row, the call is answered and the row kept there.
    let response = chat(&agent, Some(poison)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let kept = std::fs::read_to_string(&rejected).expect("rejected file");
    assert!(kept.contains("poison-app"), "{kept}");

    // When it cannot (a directory in its place), the answer is withheld: 503, logged, counted.
    std::fs::remove_file(&rejected).expect("remove");
    std::fs::create_dir(&rejected).expect("block the path");
    let response = chat(&agent, Some(poison)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "audit_unavailable");
    // The log reaches its file through the harness's reader thread: give it a moment.
    let logged = "audit row refused by Postgres and not kept in the .rejected file";
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !agent.log().contains(logged) {
        assert!(std::time::Instant::now() < deadline, "not logged: {logged}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The benign twin is answered as usual.
    assert_eq!(chat(&agent, Some(clean)).await.status(), StatusCode::OK);
    assert_eq!(upstream.received().len(), 3);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM llm_call_audits WHERE client_id = 'clean-app'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn a_client_that_disconnects_does_not_free_its_slot_early() {
    let mut slow = Reply::completion();
    slow.delay = Duration::from_millis(1500);
    let (agent, upstream) = agent_with_upstream(slow, &[("AXONFLOW_MAX_IN_FLIGHT", "1")]).await;
    // Sent, then abandoned while the upstream call goes on.
    let abandoned = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client")
        .post(agent.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-provider-key", PROVIDER_KEY)
        .body(chat_body("What is 2+2?"))
        .send()
        .await;
    assert!(abandoned.is_err(), "the client gave up");
    assert_eq!(upstream.received().len(), 1);
    assert_eq!(
        chat(&agent, None).await.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the abandoned call still holds the only slot"
    );
    // Once its work is done (and audited), the slot is free again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while chat(&agent, None).await.status() != StatusCode::OK {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot was never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM llm_call_audits")
        .fetch_one(&agent.pool().await)
        .await
        .expect("count");
    assert_eq!(rows, 2, "the abandoned call was audited too");
}
