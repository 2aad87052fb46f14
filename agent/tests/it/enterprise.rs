//! Enterprise mode: credentials on every route, the admin API, tenant isolation on every read and
//! write, per-client limits, and signed agent <-> orchestrator calls.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::{
    agent_with_upstream, chat_body, client, fresh_database, Agent, Reply, PROVIDER_KEY,
};

pub const ADMIN_KEY: &str = "admin-key-for-tests-0123456789abcdef";
pub const SERVICE_SECRET: &str = "internal-secret-for-tests-0123456789abcdef";

pub fn enterprise_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("DEPLOYMENT_MODE", "enterprise"),
        ("ADMIN_API_KEY", ADMIN_KEY),
        ("AXONFLOW_INTERNAL_SERVICE_SECRET", SERVICE_SECRET),
    ]
}

pub fn basic(client_id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
    )
}

/// Sends a request with the given `Authorization` (if any); returns status, headers and JSON.
pub async fn send(
    agent: &Agent,
    method: reqwest::Method,
    path: &str,
    authorization: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = client().request(method, agent.url(path));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("agent answers");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: non-JSON answer {text}"))
    };
    (status, headers, json)
}

pub async fn admin(
    agent: &Agent,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, _, json) = send(
        agent,
        method,
        path,
        Some(&format!("Bearer {ADMIN_KEY}")),
        body,
    )
    .await;
    (status, json)
}

/// Creates a client through the admin API and returns its secret.
pub async fn create_client(
    agent: &Agent,
    client_id: &str,
    tenant_id: &str,
    extra: Value,
) -> String {
    let mut body = json!({"client_id": client_id, "name": format!("{client_id} app"), "tenant_id": tenant_id, "org_id": "acme"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let (status, created) = admin(
        agent,
        reqwest::Method::POST,
        "/api/v1/admin/clients",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["client_secret"]
        .as_str()
        .expect("secret shown once")
        .to_owned()
}

async fn pre_check(agent: &Agent, authorization: Option<&str>, query: &str) -> (StatusCode, Value) {
    let (status, _, body) = send(
        agent,
        reqwest::Method::POST,
        "/api/policy/pre-check",
        authorization,
        Some(json!({"query": query, "user_token": "u"})),
    )
    .await;
    (status, body)
}

async fn chat(
    agent: &Agent,
    authorization: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = client()
        .post(agent.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-provider-key", PROVIDER_KEY)
        .body(chat_body("What is 2+2?"));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.expect("answers");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.json().await.expect("json"))
}

#[track_caller]
fn assert_unauthorized(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "unauthorized", "{body}");
}

#[tokio::test]
async fn every_route_but_health_needs_valid_credentials() {
    let (agent, upstream) = agent_with_upstream(Reply::completion(), &enterprise_env()).await;
    let secret = create_client(&agent, "acme-app", "tenant-a", json!({})).await;
    let good = basic("acme-app", &secret);

    let (status, _, health) = send(&agent, reqwest::Method::GET, "/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["deployment_mode"], "enterprise");

    let (status, body) = pre_check(&agent, None, "hello").await;
    assert_unauthorized(status, &body);
    let (status, _, body) = send(&agent, reqwest::Method::GET, "/metrics", None, None).await;
    assert_unauthorized(status, &body);
    let (status, _, body) = chat(&agent, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error"]["code"], "invalid_api_key",
        "OpenAI shape on /v1: {body}"
    );
    assert!(upstream.received().is_empty());

    let (status, body) = pre_check(&agent, Some(&good), "hello").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = chat(&agent, Some(&format!("Bearer acme-app:{secret}"))).await;
    assert_eq!(status, StatusCode::OK, "the OpenAI SDK form: {body}");
    assert_eq!(upstream.received().len(), 1);

    // Unknown client and wrong secret: one answer, so nothing tells them apart.
    let (wrong_status, wrong) =
        pre_check(&agent, Some(&basic("acme-app", "not-the-secret")), "hello").await;
    let (unknown_status, unknown) =
        pre_check(&agent, Some(&basic("nobody", "not-the-secret")), "hello").await;
    assert_unauthorized(wrong_status, &wrong);
    assert_eq!((wrong_status, &wrong), (unknown_status, &unknown));

    let huge = format!("Bearer acme-app:{}", "x".repeat(64 * 1024));
    for malformed in [
        "Basic !!!not-base64!!!".to_owned(),
        basic("acme-app", ""),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("no-colon-here")
        ),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(":")
        ),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(":{secret}"))
        ),
        "Bearer justatoken".to_owned(),
        "Digest username=acme".to_owned(),
        huge,
    ] {
        let (status, _, body) = send(
            &agent,
            reqwest::Method::POST,
            "/api/v1/decide",
            Some(&malformed),
            Some(json!({"stage": "llm", "query": "x"})),
        )
        .await;
        assert_unauthorized(status, &body);
    }

    // Disabled, enabled again, rotated, deleted.
    let (status, _) = admin(
        &agent,
        reqwest::Method::PATCH,
        "/api/v1/admin/clients/acme-app",
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = pre_check(&agent, Some(&good), "hello").await;
    assert_unauthorized(status, &body);
    assert_eq!(body, wrong, "a disabled client looks like a wrong secret");
    let (status, _) = admin(
        &agent,
        reqwest::Method::PATCH,
        "/api/v1/admin/clients/acme-app",
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        pre_check(&agent, Some(&good), "hello").await.0,
        StatusCode::OK
    );

    let (status, rotated) = admin(
        &agent,
        reqwest::Method::POST,
        "/api/v1/admin/clients/acme-app/rotate",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = rotated["client_secret"].as_str().expect("new secret");
    assert_ne!(new_secret, secret);
    let (status, body) = pre_check(&agent, Some(&good), "hello").await;
    assert_unauthorized(status, &body);
    assert_eq!(
        pre_check(&agent, Some(&basic("acme-app", new_secret)), "hello")
            .await
            .0,
        StatusCode::OK
    );

    let (status, _) = admin(
        &agent,
        reqwest::Method::DELETE,
        "/api/v1/admin/clients/acme-app",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = pre_check(&agent, Some(&basic("acme-app", new_secret)), "hello").await;
    assert_unauthorized(status, &body);
}

#[tokio::test]
async fn the_admin_api_manages_clients_and_records_every_action() {
    let off = Agent::start(&fresh_database().await, &[]);
    let (status, _, _) = send(
        &off,
        reqwest::Method::GET,
        "/api/v1/admin/clients",
        Some(&format!("Bearer {ADMIN_KEY}")),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no key configured: the admin API is off"
    );

    let agent = Agent::start(&fresh_database().await, &enterprise_env());
    for authorization in [
        None,
        Some("Bearer wrong-admin-key-0123456789"),
        Some("Basic YWRtaW46eA=="),
    ] {
        let (status, _, body) = send(
            &agent,
            reqwest::Method::GET,
            "/api/v1/admin/clients",
            authorization,
            None,
        )
        .await;
        assert_unauthorized(status, &body);
    }

    let secret = create_client(&agent, "svc-1", "tenant-a", json!({"rate_limit_rpm": 100})).await;
    assert!(secret.starts_with("axfs_"));
    let (status, body) = admin(
        &agent,
        reqwest::Method::POST,
        "/api/v1/admin/clients",
        Some(json!({"client_id": "svc-1", "name": "x", "tenant_id": "tenant-a"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = admin(
        &agent,
        reqwest::Method::POST,
        "/api/v1/admin/clients",
        Some(json!({"client_id": "bad id", "name": "", "rate_limit_rpm": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["problems"].as_array().map(Vec::len), Some(4), "{body}");

    let (status, generated) = admin(
        &agent,
        reqwest::Method::POST,
        "/api/v1/admin/clients",
        Some(json!({"name": "generated", "tenant_id": "tenant-b"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(generated["client_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("cli_")));

    let (status, listing) =
        admin(&agent, reqwest::Method::GET, "/api/v1/admin/clients", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listing["count"], 2);
    let text = listing.to_string();
    assert!(
        !text.contains(&secret) && !text.contains("argon2") && !text.contains("client_secret"),
        "{text}"
    );
    let (_, one) = admin(
        &agent,
        reqwest::Method::GET,
        "/api/v1/admin/clients/svc-1",
        None,
    )
    .await;
    assert_eq!(one["rate_limit_rpm"], 100);
    assert_eq!(one["tenant_id"], "tenant-a");
    let (_, patched) = admin(
        &agent,
        reqwest::Method::PATCH,
        "/api/v1/admin/clients/svc-1",
        Some(json!({"rate_limit_rpm": null, "rate_limit_tpm": 5000, "name": "renamed"})),
    )
    .await;
    assert_eq!(patched["rate_limit_rpm"], Value::Null);
    assert_eq!(patched["rate_limit_tpm"], 5000);
    assert_eq!(patched["name"], "renamed");
    let (status, _) = admin(
        &agent,
        reqwest::Method::PATCH,
        "/api/v1/admin/clients/svc-1",
        Some(json!({"tenant_id": "elsewhere"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the tenant of a client is fixed"
    );
    let (status, _) = admin(
        &agent,
        reqwest::Method::POST,
        "/api/v1/admin/clients/svc-1/rotate",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = admin(
        &agent,
        reqwest::Method::DELETE,
        "/api/v1/admin/clients/svc-1",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = admin(
        &agent,
        reqwest::Method::GET,
        "/api/v1/admin/clients/svc-1",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, log) = admin(
        &agent,
        reqwest::Method::GET,
        "/api/v1/admin/audit-log?limit=50",
        None,
    )
    .await;
    let actions: Vec<(&str, &str)> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().expect("action"),
                e["target"].as_str().expect("target"),
            )
        })
        .collect();
    for expected in [
        ("client.create", "svc-1"),
        ("client.update", "svc-1"),
        ("client.rotate_secret", "svc-1"),
        ("client.delete", "svc-1"),
    ] {
        assert!(
            actions.contains(&expected),
            "{expected:?} not in {actions:?}"
        );
    }
    assert!(log["entries"][0]["actor"]
        .as_str()
        .is_some_and(|a| a.starts_with("admin-key:")));

    let pool = agent.pool().await;
    let hash: String = sqlx::query_scalar("SELECT secret_hash FROM clients WHERE client_id = $1")
        .bind(generated["client_id"].as_str().expect("id"))
        .fetch_one(&pool)
        .await
        .expect("stored");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let leaked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT row_to_json(c)::text AS t FROM clients c UNION ALL \
         SELECT row_to_json(a)::text FROM admin_audit_log a) rows WHERE t LIKE '%' || $1 || '%'",
    )
    .bind(generated["client_secret"].as_str().expect("secret"))
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(leaked, 0, "the secret is stored nowhere");
}

#[tokio::test]
async fn one_tenant_cannot_read_or_change_another() {
    let agent = Agent::start(&fresh_database().await, &enterprise_env());
    // A may weaken its own tenant's system policies; B may not.
    let secret_a = create_client(&agent, "app-a", "tenant-a", json!({"tenant_admin": true})).await;
    let secret_b = create_client(&agent, "app-b", "tenant-b", json!({})).await;
    let (a, b) = (basic("app-a", &secret_a), basic("app-b", &secret_b));
    let call = |auth: &str, method: reqwest::Method, path: &str, body: Option<Value>| {
        let auth = auth.to_owned();
        let path = path.to_owned();
        let agent = &agent;
        async move { send(agent, method, &path, Some(&auth), body).await }
    };

    let (status, _, created) = call(
        &a,
        reqwest::Method::POST,
        "/api/v1/static-policies",
        Some(json!({"name": "A codes", "category": "sensitive-data", "pattern": "ACODE-\\d+"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let policy_path = format!(
        "/api/v1/static-policies/{}",
        created["id"].as_str().expect("id")
    );
    assert_eq!(
        call(&a, reqwest::Method::GET, &policy_path, None).await.0,
        StatusCode::OK
    );
    for (method, body) in [
        (reqwest::Method::GET, None),
        (reqwest::Method::PUT, Some(json!({"action": "log"}))),
        (reqwest::Method::PATCH, Some(json!({"enabled": false}))),
        (reqwest::Method::DELETE, None),
    ] {
        let (status, _, body) = call(&b, method.clone(), &policy_path, body).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{method} of another tenant's policy: {body}"
        );
    }
    let (_, _, listing) = call(
        &b,
        reqwest::Method::GET,
        "/api/v1/static-policies?limit=1000",
        None,
    )
    .await;
    assert!(!listing.to_string().contains("ACODE"), "B lists A's policy");
    let (_, _, effective) = call(
        &b,
        reqwest::Method::GET,
        "/api/v1/static-policies/effective",
        None,
    )
    .await;
    assert!(!effective.to_string().contains("ACODE"));
    assert_eq!(
        pre_check(&agent, Some(&b), "ACODE-1").await.1["approved"],
        true,
        "A's policy does not bind B"
    );
    assert_eq!(
        pre_check(&agent, Some(&a), "ACODE-1").await.1["approved"],
        false
    );

    let (status, _, refused) = call(
        &b,
        reqwest::Method::POST,
        "/api/v1/static-policies/sys_pii_email/override",
        Some(json!({"action_override": "log", "override_reason": "B is no tenant admin"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["code"], "admin_rights_required");
    let (status, _, _) = call(
        &a,
        reqwest::Method::POST,
        "/api/v1/static-policies/sys_pii_email/override",
        Some(json!({"action_override": "log", "override_reason": "A only"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        pre_check(&agent, Some(&a), "mail a@example.com").await.1["approved"],
        true
    );
    assert_eq!(
        pre_check(&agent, Some(&b), "mail a@example.com").await.1["approved"],
        false
    );
    let (_, _, overrides) = call(
        &b,
        reqwest::Method::GET,
        "/api/v1/static-policies/overrides",
        None,
    )
    .await;
    assert_eq!(overrides["count"], 0);
    let (status, _, _) = call(
        &b,
        reqwest::Method::DELETE,
        "/api/v1/static-policies/sys_pii_email/override",
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "B cannot remove A's override"
    );

    let (_, context) = pre_check(&agent, Some(&a), "hello").await;
    let llm_call = json!({"context_id": context["context_id"], "provider": "openai", "model": "gpt-4o",
                          "token_usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}, "latency_ms": 1});
    let (status, _, body) = call(
        &b,
        reqwest::Method::POST,
        "/api/audit/llm-call",
        Some(llm_call.clone()),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_context"))
    );
    let (status, _, _) = call(
        &a,
        reqwest::Method::POST,
        "/api/audit/llm-call",
        Some(llm_call),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (_, _, found) = call(
        &b,
        reqwest::Method::POST,
        "/api/v1/audit/search",
        Some(json!({"decision_id": context["decision_id"]})),
    )
    .await;
    assert_eq!(found["total"], 0, "B cannot find A's decision");
    let (_, _, mine) = call(
        &b,
        reqwest::Method::POST,
        "/api/v1/audit/search",
        Some(json!({"limit": 1000})),
    )
    .await;
    assert!(
        mine["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .all(|e| e["tenant_id"] == "tenant-b" && e["client_id"] == "app-b"),
        "{mine}"
    );
    let (_, _, a_view) = call(
        &a,
        reqwest::Method::POST,
        "/api/v1/audit/search",
        Some(json!({"decision_id": context["decision_id"]})),
    )
    .await;
    assert_eq!(a_view["total"], 2);
    let (status, _, _) = call(
        &b,
        reqwest::Method::GET,
        "/api/v1/audit/tenant/tenant-a?limit=10&offset=0",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, own) = call(
        &a,
        reqwest::Method::GET,
        "/api/v1/audit/tenant/tenant-a?limit=10&offset=0",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(own["total"], 4, "A's three pre-checks and one llm call");
    let tenants: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT tenant_id FROM llm_call_audits WHERE client_id = 'app-a'",
    )
    .fetch_all(&agent.pool().await)
    .await
    .expect("tenants");
    assert_eq!(tenants, ["tenant-a"]);
}

/// Far from a limit, counts reach the other replicas through the background exchange, not through a
/// round trip per request.
#[tokio::test]
async fn replicas_share_counts_far_from_the_limit() {
    let database = fresh_database().await;
    let env = enterprise_env();
    let first = Agent::start(&database, &env);
    let second = Agent::start(&database, &env);
    let mut checked = false;
    for attempt in 0..3 {
        let client_id = format!("busy-{attempt}");
        let secret = create_client(
            &first,
            &client_id,
            "tenant-s",
            json!({"rate_limit_rpm": 10000}),
        )
        .await;
        let auth = basic(&client_id, &secret);
        let (_, before) = pre_check(&first, Some(&auth), "hello").await;
        for _ in 0..19 {
            pre_check(&first, Some(&auth), "hello").await;
        }
        // Several sync intervals: the first agent adds its 20, the second reads them back.
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        let (_, seen) = pre_check(&second, Some(&auth), "hello").await;
        if seen["rate_limit"]["reset_at"] != before["rate_limit"]["reset_at"] {
            continue;
        }
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        let (_, again) = pre_check(&second, Some(&auth), "hello").await;
        if again["rate_limit"]["reset_at"] != before["rate_limit"]["reset_at"] {
            continue;
        }
        // The second agent's own first request may decide before its first exchange; the next one
        // sees every request of the minute.
        assert_eq!(
            again["rate_limit"]["remaining"],
            10000 - 22,
            "first: {before}, second: {seen}, again: {again}"
        );
        checked = true;
        break;
    }
    assert!(
        checked,
        "three attempts in a row straddled a minute boundary"
    );
}

#[tokio::test]
async fn per_client_limits_apply_to_requests_and_tokens_across_replicas() {
    let upstream = crate::common::MockUpstream::start(Reply::completion()).await;
    let database = fresh_database().await;
    let mut env = enterprise_env();
    let base = upstream.base_url();
    env.push(("OPENAI_BASE_URL", base.as_str()));
    let first = Agent::start(&database, &env);
    let second = Agent::start(&database, &env);
    // A minute boundary between calls restarts the count; such an attempt is repeated.
    let mut checked = false;
    for attempt in 0..3 {
        let client_id = format!("limited-{attempt}");
        let secret =
            create_client(&first, &client_id, "tenant-l", json!({"rate_limit_rpm": 2})).await;
        let auth = basic(&client_id, &secret);
        let (_, check) = pre_check(&second, Some(&auth), "hello").await;
        let (status_chat, _, _) = chat(&first, Some(&auth)).await;
        let (status_limited, headers, limited) = chat(&second, Some(&auth)).await;
        let reset = check["rate_limit"]["reset_at"]
            .as_str()
            .expect("reset")
            .to_owned();
        let (_, after) = pre_check(&first, Some(&auth), "hello").await;
        if after["rate_limit"]["reset_at"]
            .as_str()
            .is_some_and(|r| r != reset)
        {
            continue;
        }
        assert_eq!(
            check["rate_limit"]["limit"], 2,
            "the client's own limit: {check}"
        );
        assert_eq!(check["rate_limit"]["remaining"], 1);
        assert_eq!(status_chat, StatusCode::OK);
        assert_eq!(status_limited, StatusCode::TOO_MANY_REQUESTS, "{limited}");
        assert_eq!(
            limited["error"]["code"], "rate_limit_exceeded",
            "OpenAI shape: {limited}"
        );
        assert!(headers.get("retry-after").is_some());
        assert_eq!(after["code"], "rate_limited");
        checked = true;
        break;
    }
    assert!(
        checked,
        "three attempts in a row straddled a minute boundary"
    );
    // Tokens per minute: the mock's 21 tokens count once audited; the next call is over 20.
    let secret = create_client(
        &first,
        "token-limited",
        "tenant-l",
        json!({"rate_limit_tpm": 20}),
    )
    .await;
    let auth = basic("token-limited", &secret);
    let (status, _, _) = chat(&first, Some(&auth)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = chat(&second, Some(&auth)).await;
    if status == StatusCode::OK {
        // Only a minute boundary between the two calls lets the second through.
        let (status, _, body) = chat(&second, Some(&auth)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    } else {
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("tokens")),
            "{body}"
        );
    }
}

/// A running orchestrator; killed on drop.
struct Orchestrator {
    child: Child,
    base_url: String,
}

impl Drop for Orchestrator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start_orchestrator(database_url: &str, env: &[(&str, &str)]) -> Orchestrator {
    let port = free_port();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_axonflow-agent"))
        .with_file_name("axonflow-orchestrator");
    let mut command = Command::new(bin);
    command
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("PORT", port.to_string())
        .env("AXONFLOW_BIND_ADDRESS", "127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command
        .spawn()
        .expect("spawn the orchestrator (built with the workspace)");
    Orchestrator {
        child,
        base_url: format!("http://127.0.0.1:{port}"),
    }
}

async fn wait_for_json(url: &str, pointer: &str, expected: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        if let Ok(response) = client().get(url).send().await {
            if let Ok(body) = response.json::<Value>().await {
                if body.pointer(pointer).and_then(Value::as_str) == Some(expected) {
                    return body;
                }
                last = body;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url}: {pointer} never became {expected:?}; last answer {last}");
}

fn signed(path: &str, secret: &str, at: i64) -> [(String, String); 3] {
    let auth = axonflow_platform::internal_auth::InternalAuth::new(
        &axonflow_platform::config::Secret::new(secret),
    )
    .expect("key");
    let headers = auth.sign("GET", path, b"", at).expect("random");
    [
        ("x-axonflow-timestamp".to_owned(), headers.timestamp),
        ("x-axonflow-nonce".to_owned(), headers.nonce),
        ("x-axonflow-signature".to_owned(), headers.signature),
    ]
}

async fn get_with(url: &str, headers: &[(String, String)]) -> StatusCode {
    let mut request = client().get(url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.expect("answers").status()
}

#[tokio::test]
async fn internal_calls_are_signed_both_ways_and_never_replayed() {
    let database = fresh_database().await;
    let orchestrator = start_orchestrator(&database, &enterprise_env());
    let mut agent_env = enterprise_env();
    agent_env.push(("ORCHESTRATOR_URL", orchestrator.base_url.as_str()));
    let agent = Agent::start(&database, &agent_env);
    wait_for_json(&agent.url("/health"), "/orchestrator/status", "ok").await;

    // Orchestrator -> agent, with the agent's address.
    let mut back_env = enterprise_env();
    back_env.push(("AGENT_URL", agent.base_url.as_str()));
    let checker = start_orchestrator(&database, &back_env);
    wait_for_json(
        &format!("{}/health", checker.base_url),
        "/agent/status",
        "ok",
    )
    .await;

    let ping = agent.url("/internal/v1/ping");
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        get_with(&ping, &[]).await,
        StatusCode::UNAUTHORIZED,
        "unsigned"
    );
    let good = signed("/internal/v1/ping", SERVICE_SECRET, now);
    assert_eq!(get_with(&ping, &good).await, StatusCode::OK);
    assert_eq!(
        get_with(&ping, &good).await,
        StatusCode::UNAUTHORIZED,
        "replayed to the same agent"
    );
    let fresh = signed("/internal/v1/ping", SERVICE_SECRET, now);
    assert_eq!(
        get_with(
            &format!("{}/internal/v1/ping", orchestrator.base_url),
            &fresh
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        get_with(&ping, &fresh).await,
        StatusCode::UNAUTHORIZED,
        "replayed to another service sharing the database"
    );
    let wrong = signed(
        "/internal/v1/ping",
        "a-different-secret-of-32-characters!",
        now,
    );
    assert_eq!(
        get_with(&ping, &wrong).await,
        StatusCode::UNAUTHORIZED,
        "wrong secret"
    );
    let stale = signed("/internal/v1/ping", SERVICE_SECRET, now - 120);
    assert_eq!(
        get_with(&ping, &stale).await,
        StatusCode::UNAUTHORIZED,
        "outside the window"
    );

    // The orchestrator needs client credentials on its other routes.
    let response = client()
        .get(format!("{}/api/v1/anything", orchestrator.base_url))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Mismatched secrets show in the agent's health.
    let mut mismatched = vec![
        ("DEPLOYMENT_MODE", "enterprise"),
        (
            "AXONFLOW_INTERNAL_SERVICE_SECRET",
            "a-different-secret-of-32-characters!",
        ),
    ];
    mismatched.push(("ORCHESTRATOR_URL", orchestrator.base_url.as_str()));
    let misconfigured = Agent::start(&database, &mismatched);
    wait_for_json(
        &misconfigured.url("/health"),
        "/orchestrator/status",
        "unauthorized",
    )
    .await;

    let plain = Agent::start(&fresh_database().await, &[]);
    assert_eq!(
        get_with(&plain.url("/internal/v1/ping"), &[]).await,
        StatusCode::NOT_FOUND,
        "no secret, no internal routes"
    );
}

#[test]
fn enterprise_mode_refuses_to_boot_without_a_long_secret() {
    for secret in [None, Some("too-short")] {
        for bin in ["axonflow-agent", "axonflow-orchestrator"] {
            let path =
                std::path::Path::new(env!("CARGO_BIN_EXE_axonflow-agent")).with_file_name(bin);
            let mut command = Command::new(path);
            command
                .env_clear()
                .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
                .env("DEPLOYMENT_MODE", "enterprise");
            if let Some(secret) = secret {
                command.env("AXONFLOW_INTERNAL_SERVICE_SECRET", secret);
            }
            let output = command.output().expect("runs");
            assert_eq!(output.status.code(), Some(2), "{bin} with {secret:?}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("AXONFLOW_INTERNAL_SERVICE_SECRET")
                    && stderr.contains("openssl rand -hex 32"),
                "{bin}: {stderr}"
            );
        }
    }
}
