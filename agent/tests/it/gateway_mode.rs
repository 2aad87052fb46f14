//! Gateway Mode end to end: pre-check (approved, blocked, redacted), the hashed context, llm-call
//! audits (happy path, unknown, foreign, expired and denied contexts) and the shared rate limit.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;
use uuid::Uuid;

use crate::common::{assert_api_error, fresh_database, post_json, Agent};

async fn pre_check(agent: &Agent, client_id: &str, query: &str) -> (StatusCode, Value) {
    post_json(
        agent,
        "/api/policy/pre-check",
        json!({"user_token": "user-jwt-123", "client_id": client_id, "query": query,
               "data_sources": ["postgres"], "context": {"department": "support"}}),
    )
    .await
}

async fn llm_call(
    agent: &Agent,
    client_id: &str,
    context_id: &str,
    summary: &str,
) -> (StatusCode, Value) {
    post_json(
        agent,
        "/api/audit/llm-call",
        json!({"context_id": context_id, "client_id": client_id, "response_summary": summary,
               "provider": "openai", "model": "gpt-4o-mini",
               "token_usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
               "latency_ms": 432, "metadata": {"request": "r-1"}}),
    )
    .await
}

fn policies(body: &Value) -> Vec<&str> {
    body["policies"]
        .as_array()
        .expect("policies is an array")
        .iter()
        .map(|p| p.as_str().expect("policy ids are strings"))
        .collect()
}

#[tokio::test]
async fn pre_check_then_llm_call_is_one_audited_story() {
    let agent = Agent::start(&fresh_database().await, &[]);
    let pool = agent.pool().await;

    let (status, approved) = pre_check(&agent, "gw-app", "Summarise last quarter's revenue").await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["approved"], true);
    assert_eq!(approved["requires_redaction"], false);
    assert_eq!(approved["block_reason"], Value::Null);
    assert_eq!(policies(&approved), Vec::<&str>::new());
    assert_eq!(
        approved["approved_data"]["query"],
        "Summarise last quarter's revenue"
    );
    assert_eq!(approved["rate_limit"]["limit"], 60_000);
    assert_eq!(approved["rate_limit"]["remaining"], 59_999);
    let context_id = approved["context_id"]
        .as_str()
        .expect("context id")
        .to_owned();
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(approved["expires_at"].as_str().expect("expires_at"))
            .expect("RFC 3339");
    let ttl = expires_at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        ttl > chrono::TimeDelta::seconds(290) && ttl <= chrono::TimeDelta::seconds(300),
        "{ttl}"
    );

    // The context holds hashes, never the token or the query.
    let row = sqlx::query("SELECT * FROM gateway_contexts WHERE context_id = $1")
        .bind(context_id.parse::<Uuid>().expect("uuid"))
        .fetch_one(&pool)
        .await
        .expect("context stored");
    let token_hash: String = row.get("user_token_hash");
    assert_eq!(token_hash.len(), 64);
    assert_ne!(token_hash, "user-jwt-123");
    let dump: String = sqlx::query_scalar("SELECT row_to_json(c)::text FROM gateway_contexts c")
        .fetch_one(&pool)
        .await
        .expect("dump");
    assert!(
        !dump.contains("user-jwt-123") && !dump.contains("revenue"),
        "{dump}"
    );

    let pre_check_row =
        sqlx::query("SELECT source, verdict, client_id FROM llm_call_audits WHERE id = $1")
            .bind(
                approved["decision_id"]
                    .as_str()
                    .expect("decision id")
                    .parse::<Uuid>()
                    .expect("uuid"),
            )
            .fetch_one(&pool)
            .await
            .expect("pre-check audited");
    assert_eq!(pre_check_row.get::<String, _>("source"), "pre_check");
    assert_eq!(pre_check_row.get::<String, _>("verdict"), "allow");
    assert_eq!(pre_check_row.get::<String, _>("client_id"), "gw-app");

    let (status, audited) = llm_call(
        &agent,
        "gw-app",
        &context_id,
        "Revenue grew 12%; contact jane.doe@example.com",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{audited}");
    assert_eq!(audited["success"], true);
    let audit_id: Uuid = audited["audit_id"]
        .as_str()
        .expect("audit id")
        .parse()
        .expect("uuid");
    let row = sqlx::query(
        "SELECT source, verdict, provider, model, prompt_tokens, completion_tokens, total_tokens, latency_ms, \
         estimated_cost_usd::float8 AS cost, metadata FROM llm_call_audits WHERE id = $1",
    )
    .bind(audit_id)
    .fetch_one(&pool)
    .await
    .expect("llm call audited");
    assert_eq!(row.get::<String, _>("source"), "llm_call");
    assert_eq!(row.get::<String, _>("verdict"), "allow");
    assert_eq!(row.get::<String, _>("provider"), "openai");
    assert_eq!(row.get::<String, _>("model"), "gpt-4o-mini");
    assert_eq!(
        (
            row.get::<i32, _>("prompt_tokens"),
            row.get::<i32, _>("completion_tokens"),
            row.get::<i32, _>("total_tokens")
        ),
        (120, 30, 150)
    );
    assert_eq!(row.get::<i32, _>("latency_ms"), 432);
    // The pricing table the OpenAI endpoint uses: 0.15 / 0.60 USD per 1M tokens for gpt-4o-mini.
    let cost: f64 = row.get("cost");
    assert!(
        (cost - (120.0 * 0.15 + 30.0 * 0.60) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    let metadata: Value = row.get("metadata");
    assert_eq!(metadata["context_id"], context_id.as_str());
    assert_eq!(metadata["pre_check_decision_id"], approved["decision_id"]);
    assert_eq!(metadata["client_metadata"]["request"], "r-1");
    assert_eq!(
        metadata["response_summary_redacted"],
        "Revenue grew 12%; contact [REDACTED:EMAIL]"
    );
    assert_eq!(
        metadata["response_summary_sha256"].as_str().map(str::len),
        Some(64)
    );
    assert_eq!(metadata["response_policies"], json!(["sys_pii_email"]));
    let raw_summary: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM llm_call_audits WHERE metadata::text LIKE '%jane.doe%'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(raw_summary, 0, "the raw summary is never stored");
}

#[tokio::test]
async fn blocked_and_redacted_pre_checks() {
    let agent = Agent::start(&fresh_database().await, &[]);
    let (status, blocked) = pre_check(
        &agent,
        "gw-app",
        "Look up SSN 123-45-6789 where id=1' OR '1'='1",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "a denial is still a 200");
    assert_eq!(blocked["approved"], false);
    assert_eq!(blocked["approved_data"], json!({}));
    let ids = policies(&blocked);
    assert!(ids.contains(&"sys_pii_ssn"), "{ids:?}");
    assert!(ids.iter().any(|id| id.starts_with("sys_sqli_")), "{ids:?}");
    let reason = blocked["block_reason"].as_str().expect("block reason");
    assert!(reason.contains("Social Security Number"), "{reason}");
    let context_id = blocked["context_id"]
        .as_str()
        .expect("a denied pre-check has a context too");

    // Auditing a call after a denial: recorded, flagged, and answered 409.
    let (status, flagged) = llm_call(&agent, "gw-app", context_id, "done").await;
    assert_eq!(status, StatusCode::CONFLICT, "{flagged}");
    assert_eq!(flagged["success"], false);
    assert_eq!(flagged["code"], "context_denied");
    let audit_id: Uuid = flagged["audit_id"]
        .as_str()
        .expect("audit id")
        .parse()
        .expect("uuid");
    let row = sqlx::query("SELECT verdict, metadata FROM llm_call_audits WHERE id = $1")
        .bind(audit_id)
        .fetch_one(&agent.pool().await)
        .await
        .expect("the flagged call is recorded");
    assert_eq!(row.get::<String, _>("verdict"), "deny");
    assert_eq!(
        row.get::<Value, _>("metadata")["flag"],
        "llm_call_after_denied_pre_check"
    );

    let redacting = Agent::start(&fresh_database().await, &[("PII_ACTION", "redact")]);
    let (_, redacted) = pre_check(
        &redacting,
        "gw-app",
        "Email jane.doe@example.com about SSN 123-45-6789",
    )
    .await;
    assert_eq!(redacted["approved"], true, "{redacted}");
    assert_eq!(redacted["requires_redaction"], true);
    assert_eq!(
        redacted["approved_data"]["query"],
        "Email [REDACTED:EMAIL] about SSN [REDACTED:SSN]"
    );
    assert_eq!(policies(&redacted), ["sys_pii_email", "sys_pii_ssn"]);
}

#[tokio::test]
async fn llm_call_refuses_unknown_foreign_and_expired_contexts() {
    let agent = Agent::start(
        &fresh_database().await,
        &[("AXONFLOW_GATEWAY_CONTEXT_TTL_SECS", "1")],
    );
    let (status, body) = llm_call(&agent, "gw-app", &Uuid::now_v7().to_string(), "x").await;
    assert_api_error(status, &body, StatusCode::BAD_REQUEST, "unknown_context");
    let (status, body) = llm_call(&agent, "gw-app", "not-a-uuid", "x").await;
    assert_api_error(status, &body, StatusCode::BAD_REQUEST, "unknown_context");

    let (_, approved) = pre_check(&agent, "gw-app", "hello").await;
    let context_id = approved["context_id"]
        .as_str()
        .expect("context id")
        .to_owned();
    let (status, body) = llm_call(&agent, "other-app", &context_id, "x").await;
    assert_api_error(status, &body, StatusCode::BAD_REQUEST, "unknown_context");

    // The context lives one second.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (status, body) = llm_call(&agent, "gw-app", &context_id, "x").await;
    assert_api_error(status, &body, StatusCode::BAD_REQUEST, "context_expired");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM llm_call_audits WHERE source = 'llm_call'")
            .fetch_one(&agent.pool().await)
            .await
            .expect("count");
    assert_eq!(
        audited, 0,
        "refused audits name no decision and write no row"
    );

    let (status, body) = post_json(
        &agent,
        "/api/audit/llm-call",
        json!({"context_id": context_id}),
    )
    .await;
    assert_api_error(status, &body, StatusCode::BAD_REQUEST, "invalid_body");
}

#[tokio::test]
async fn the_rate_limit_is_shared_by_replicas() {
    let database = fresh_database().await;
    let env = [("AXONFLOW_RATE_LIMIT_RPM", "3")];
    let first = Agent::start(&database, &env);
    let second = Agent::start(&database, &env);
    // Windows are whole minutes of the database clock; an attempt that straddles a minute boundary
    // (its calls report different reset times) is repeated with a fresh client id.
    for attempt in 0..3 {
        let client_id = format!("limited-app-{attempt}");
        let mut remaining = Vec::new();
        let mut resets = Vec::new();
        for agent in [&first, &second, &first] {
            let (status, body) = pre_check(agent, &client_id, "hello").await;
            assert_eq!(status, StatusCode::OK, "{body}");
            remaining.push(body["rate_limit"]["remaining"].as_i64().expect("remaining"));
            resets.push(body["rate_limit"]["reset_at"].clone());
        }
        let response = crate::common::client()
            .post(second.url("/api/policy/pre-check"))
            .json(&json!({"client_id": client_id, "query": "hello"}))
            .send()
            .await
            .expect("answers");
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().expect("ascii").parse::<u64>().expect("seconds"));
        let body: Value = response.json().await.expect("json");
        resets.push(body["rate_limit"]["reset_at"].clone());
        if resets.iter().any(|r| r != &resets[0]) {
            continue;
        }
        assert_eq!(remaining, [2, 1, 0], "one counter across both agents");
        assert_api_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        assert_eq!(body["rate_limit"]["remaining"], 0);
        assert!(
            retry_after.is_some_and(|s| (1..=60).contains(&s)),
            "{retry_after:?}"
        );
        let (status, other) = pre_check(&second, "other-app", "hello").await;
        assert_eq!(status, StatusCode::OK, "limits are per client: {other}");
        return;
    }
    panic!("three attempts in a row straddled a minute boundary");
}

/// A lookup that misses a context minted moments ago waits for it, but only so many wait at once:
/// audit calls naming made-up fresh ids cannot hold every request slot for a second each.
#[tokio::test]
async fn made_up_fresh_context_ids_cannot_hold_every_slot() {
    let database = fresh_database().await;
    // 16 requests at once; at most 2 lookups wait.
    let agent = Agent::start(
        &database,
        &[
            ("AGENT_PERFORMANCE_MODE", "true"),
            ("AXONFLOW_MAX_IN_FLIGHT", "16"),
        ],
    );
    let forged: Vec<_> = (0..16)
        .map(|_| {
            let agent = &agent;
            async move {
                let context_id = Uuid::now_v7().to_string();
                llm_call(agent, "gw-app", &context_id, "fine").await
            }
        })
        .collect();
    let forged = futures_util::future::join_all(forged);
    let later = async {
        // Well inside the second a waiting lookup may take.
        tokio::time::sleep(Duration::from_millis(300)).await;
        pre_check(&agent, "gw-app", "Summarise last quarter's revenue").await
    };
    let (answers, (status, approved)) = tokio::join!(forged, later);
    assert_eq!(status, StatusCode::OK, "a slot was free: {approved}");
    for (status, body) in answers {
        assert_api_error(status, &body, StatusCode::BAD_REQUEST, "unknown_context");
    }
}

/// Performance mode stores the context after the pre-check answers: an audit call that arrives at
/// once, on this replica or another, still finds it.
#[tokio::test]
async fn in_performance_mode_a_context_is_found_at_once_by_any_replica() {
    let database_url = fresh_database().await;
    let env = [("AGENT_PERFORMANCE_MODE", "true")];
    let a = Agent::start(&database_url, &env);
    let b = Agent::start(&database_url, &env);
    for round in 0..20 {
        let (status, approved) = pre_check(&a, "gw-app", "Summarise last quarter's revenue").await;
        assert_eq!(status, StatusCode::OK, "{approved}");
        let context_id = approved["context_id"].as_str().expect("context id");
        let auditor = if round % 2 == 0 { &b } else { &a };
        let (status, body) = llm_call(auditor, "gw-app", context_id, "fine").await;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
        let count: i32 =
            sqlx::query_scalar("SELECT audit_count FROM gateway_contexts WHERE context_id = $1")
                .bind(Uuid::parse_str(context_id).expect("uuid"))
                .fetch_one(&a.pool().await)
                .await
                .expect("stored context");
        assert_eq!(count, 1);
    }
    // A fresh id no pre-check minted is still unknown, after the wait.
    let (status, body) = llm_call(&b, "gw-app", &Uuid::now_v7().to_string(), "x").await;
    assert_api_error(status, &body, StatusCode::BAD_REQUEST, "unknown_context");
}

/// When Postgres goes away, performance mode stops approving contexts it cannot store: pre-checks
/// fail as in compliance mode, and every context approved in the moment before is either stored
/// or counted as lost.
#[tokio::test]
async fn in_performance_mode_a_postgres_outage_turns_pre_checks_into_errors() {
    let cluster = crate::common::Cluster::start();
    let database_url = cluster.fresh_database("ctx").await;
    let agent = Agent::start(&database_url, &[("AGENT_PERFORMANCE_MODE", "true")]);
    let (status, body) = pre_check(&agent, "gw-app", "hello").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    cluster.down();
    let mut approved_in_outage = Vec::new();
    let mut refused = false;
    for _ in 0..40 {
        let (status, body) = pre_check(&agent, "gw-app", "hello").await;
        if status == StatusCode::OK {
            approved_in_outage.push(body["context_id"].as_str().expect("id").to_owned());
        } else {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "pre-checks kept approving with Postgres down");
    assert!(
        approved_in_outage.len() <= 5,
        "{} approvals before the outage was noticed",
        approved_in_outage.len()
    );
    let (status, body) = pre_check(&agent, "gw-app", "hello").await;
    assert_ne!(
        status,
        StatusCode::OK,
        "approved while Postgres is down: {body}"
    );

    cluster.up();
    let mut context_id = None;
    for _ in 0..60 {
        let (status, body) = pre_check(&agent, "gw-app", "hello").await;
        if status == StatusCode::OK {
            context_id = body["context_id"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let context_id = context_id.expect("pre-checks approve again once Postgres is back");
    let (status, body) = llm_call(&agent, "gw-app", &context_id, "fine").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Each context approved during the outage was stored by a retry or counted as lost.
    let ids: Vec<Uuid> = approved_in_outage
        .iter()
        .map(|id| Uuid::parse_str(id).expect("uuid"))
        .collect();
    let pool = agent.pool().await;
    let (mut stored, mut lost) = (0, 0);
    for _ in 0..80 {
        stored = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM gateway_contexts WHERE context_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_one(&pool)
        .await
        .expect("count") as usize;
        lost = crate::common::metric(&agent, "axonflow_gateway_contexts_lost_total")
            .await
            .expect("metric") as usize;
        if stored + lost == ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        stored + lost,
        ids.len(),
        "{stored} stored and {lost} counted lost of {} approved during the outage",
        ids.len()
    );
}
