//! Agents and an orchestrator on one database: Proxy Mode, forwarded orchestrator routes, dynamic
//! policies and budgets on every entry point, and what the orchestrator refuses (unsigned internal
//! calls, forged tenants).

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{
    chat_body, client, fresh_database, post_json, Agent, MockUpstream, Reply, PROVIDER_KEY,
};
use crate::enterprise::{basic, create_client, enterprise_env, send, ADMIN_KEY, SERVICE_SECRET};

/// An orchestrator calling `upstream` with a server-side key, and `n_agents` agents, on one
/// database, sharing the internal secret. Waits until the first agent's Proxy Mode is available.
async fn stack(
    upstream: &MockUpstream,
    n_agents: usize,
    extra: &[(&str, &str)],
) -> (Agent, Vec<Agent>) {
    stack_with(upstream, n_agents, extra, &[]).await
}

/// [`stack`] with settings for the agents only.
async fn stack_with(
    upstream: &MockUpstream,
    n_agents: usize,
    extra: &[(&str, &str)],
    agents_only: &[(&str, &str)],
) -> (Agent, Vec<Agent>) {
    let database_url = fresh_database().await;
    let base = upstream.base_url();
    let mut orchestrator_env = vec![
        ("AXONFLOW_INTERNAL_SERVICE_SECRET", SERVICE_SECRET),
        ("OPENAI_BASE_URL", base.as_str()),
        ("OPENAI_API_KEY", "sk-server-side-test-key"),
    ];
    orchestrator_env.extend_from_slice(extra);
    let orchestrator = Agent::start_orchestrator(&database_url, &orchestrator_env);
    let agents: Vec<Agent> = (0..n_agents)
        .map(|_| {
            let mut env = vec![
                ("AXONFLOW_INTERNAL_SERVICE_SECRET", SERVICE_SECRET),
                ("ORCHESTRATOR_URL", orchestrator.base_url.as_str()),
                ("OPENAI_BASE_URL", base.as_str()),
            ];
            env.extend_from_slice(extra);
            env.extend_from_slice(agents_only);
            Agent::start(&database_url, &env)
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let health: Value = client()
            .get(agents[0].url("/health"))
            .send()
            .await
            .expect("health")
            .json()
            .await
            .expect("json");
        if health["proxy_mode"]["available"] == true {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Proxy Mode never became available: {health}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (orchestrator, agents)
}

async fn proxy(agent: &Agent, query: &str, context: Value) -> (StatusCode, Value) {
    post_json(
        agent,
        "/api/request",
        json!({"query": query, "user_token": "u", "client_id": "proxy-app", "request_type": "chat",
               "context": context}),
    )
    .await
}

async fn chat(agent: &Agent, content: &str) -> (StatusCode, Value) {
    let response = client()
        .post(agent.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-provider-key", PROVIDER_KEY)
        .body(chat_body(content))
        .send()
        .await
        .expect("answer");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

async fn audit_rows(agent: &Agent, sql: &str) -> Vec<(String, Option<i32>, Value)> {
    sqlx::query_as(sql)
        .fetch_all(&agent.pool().await)
        .await
        .expect("rows")
}

#[tokio::test]
async fn proxy_calls_are_checked_answered_filtered_and_audited_once() {
    let upstream = MockUpstream::start(Reply::status(
        StatusCode::OK,
        r#"{"id":"c","object":"chat.completion","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Call 415-555-2671 or mail jane.doe@example.com"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}"#,
    ))
    .await;
    let (_orchestrator, agents) = stack(&upstream, 1, &[]).await;
    let agent = &agents[0];

    let (status, body) = proxy(agent, "Summarise the ticket", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    let data = body["data"].as_str().expect("answer");
    assert!(!data.contains("jane.doe@example.com"), "{data}");
    assert!(data.contains("[REDACTED:"), "{data}");
    assert_eq!(body["metadata"]["total_tokens"], 21);
    let sent = upstream.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].headers["authorization"],
        "Bearer sk-server-side-test-key"
    );

    let (status, body) = proxy(agent, "DROP TABLE customers; SSN 123-45-6789", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["blocked"], true);
    let evaluated: Vec<&str> = body["policy_info"]["policies_evaluated"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(evaluated.contains(&"sys_pii_ssn"), "{body}");
    assert_eq!(
        upstream.received().len(),
        1,
        "a blocked call never reaches the provider"
    );

    let rows = audit_rows(
        agent,
        "SELECT verdict, http_status, metadata FROM llm_call_audits WHERE source = 'proxy' ORDER BY created_at",
    )
    .await;
    assert_eq!(rows.len(), 2, "exactly one row per call");
    assert_eq!((rows[0].0.as_str(), rows[0].1), ("allow", Some(200)));
    assert!(rows[0].2["output_matches"]
        .as_array()
        .is_some_and(|m| !m.is_empty()));
    assert_eq!((rows[1].0.as_str(), rows[1].1), ("deny", Some(403)));

    // Escapes a model decodes hide nothing: the query is read decoded too.
    let (status, body) = proxy(
        agent,
        "look up SSN \\u0031\\u0032\\u0033-45-6789",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(upstream.received().len(), 1);
    let (status, body) = proxy(agent, "the file is C:\\new\\table.txt", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(upstream.received().len(), 2);
}

#[tokio::test]
async fn a_dynamic_policy_made_through_one_agent_binds_the_other_within_a_second() {
    let upstream = MockUpstream::start(Reply::completion()).await;
    let (_orchestrator, agents) = stack(&upstream, 2, &[]).await;
    let (a, b) = (&agents[0], &agents[1]);
    let (status, created) = post_json(
        a,
        "/api/v1/dynamic-policies",
        json!({"name": "No launch codes", "conditions": [{"field": "query", "operator": "contains", "value": "launch code"}],
               "actions": [{"type": "block", "config": {"reason": "launch codes stay inside"}}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // Through the agent it was written on: at once, on every entry point.
    let (status, body) = proxy(a, "what is the launch code?", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["block_reason"], "launch codes stay inside");
    let (status, body) = chat(a, "the LAUNCH CODE please").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "policy_denied");
    // On the other agent within a second (its refresh interval is 250 ms); calls it allowed before
    // it knew went out.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        let (status, _) = chat(b, "the launch code please").await;
        if status == StatusCode::BAD_REQUEST {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "agent B still allows it after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let forwarded_before = upstream.received().len();
    let (status, pre) = post_json(
        b,
        "/api/policy/pre-check",
        json!({"query": "share the launch code", "user_token": "u"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pre["approved"], false, "{pre}");
    assert_eq!(pre["block_reason"], "launch codes stay inside");
    assert_eq!(
        chat(b, "the launch code, now").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        upstream.received().len(),
        forwarded_before,
        "blocked calls never go out"
    );
    // The benign twin passes everywhere.
    assert_eq!(chat(b, "what is the weather?").await.0, StatusCode::OK);
    assert_eq!(
        proxy(a, "what is the weather?", json!({})).await.0,
        StatusCode::OK
    );

    // A route policy that excludes the only provider refuses the call.
    let (status, _) = post_json(
        a,
        "/api/v1/dynamic-policies",
        json!({"name": "EU only", "conditions": [{"field": "context.region", "operator": "equals", "value": "eu"}],
               "actions": [{"type": "route", "config": {"allowed_providers": ["azure-eu"]}}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = proxy(a, "hello", json!({"region": "eu"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        proxy(a, "hello", json!({"region": "us"})).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn budgets_block_the_openai_endpoint_and_proxy_mode() {
    let upstream = MockUpstream::start(Reply::completion()).await;
    let (_orchestrator, agents) = stack(&upstream, 1, &[]).await;
    let agent = &agents[0];
    assert_eq!(chat(agent, "2+2?").await.0, StatusCode::OK);
    let (status, budget) = post_json(
        agent,
        "/api/v1/budgets",
        json!({"id": "monthly-cap", "name": "Cap", "scope": "team", "limit_usd": 0.000001,
               "period": "monthly", "on_exceed": "block"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{budget}");
    let (status, body) = chat(agent, "3+3?").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "budget_exceeded");
    assert_eq!(body["error"]["type"], "budget_exceeded");
    let (status, body) = proxy(agent, "3+3?", json!({})).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["budget_info"]["budget_id"], "monthly-cap");
    assert_eq!(upstream.received().len(), 1, "only the first call went out");
    // A budget that only warns lets calls go on.
    let (status, _, _) = send(
        agent,
        reqwest::Method::PUT,
        "/api/v1/budgets/monthly-cap",
        None,
        Some(json!({"on_exceed": "warn"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(chat(agent, "4+4?").await.0, StatusCode::OK);
    // A downgrade budget sends Proxy Mode calls to the provider's cheapest model.
    let (status, _, _) = send(
        agent,
        reqwest::Method::PUT,
        "/api/v1/budgets/monthly-cap",
        None,
        Some(json!({"on_exceed": "downgrade"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = proxy(agent, "5+5?", json!({"model": "gpt-4o"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cheapest = axonflow_platform::pricing::PricingTable::builtin()
        .expect("pricing")
        .cheaper_model("openai", "gpt-4o")
        .expect("a cheaper model")
        .to_owned();
    let sent = upstream.received();
    let last: Value = serde_json::from_slice(&sent[sent.len() - 1].body).expect("json");
    assert_eq!(last["model"], cheapest.as_str());
    let rows = audit_rows(
        agent,
        "SELECT verdict, http_status, metadata FROM llm_call_audits WHERE source = 'proxy' \
         ORDER BY created_at DESC LIMIT 1",
    )
    .await;
    assert_eq!(rows[0].2["budget_downgrade"], "monthly-cap");
    assert_eq!(rows[0].2["downgraded"], true);
}

#[tokio::test]
async fn the_orchestrator_down_is_a_clear_502_and_audited() {
    let upstream = MockUpstream::start(Reply::completion()).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let orchestrator_url = format!("http://127.0.0.1:{closed}");
    let base = upstream.base_url();
    let agent = Agent::start(
        &fresh_database().await,
        &[
            ("AXONFLOW_INTERNAL_SERVICE_SECRET", SERVICE_SECRET),
            ("ORCHESTRATOR_URL", orchestrator_url.as_str()),
            ("OPENAI_BASE_URL", base.as_str()),
        ],
    );
    let (status, body) = proxy(&agent, "hello", json!({})).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["code"], "orchestrator_unavailable");
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains(&orchestrator_url)));
    assert_ne!(body["success"], true);
    let rows = audit_rows(
        &agent,
        "SELECT verdict, http_status, metadata FROM llm_call_audits WHERE source = 'proxy'",
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, Some(502));
    let (status, body) = crate::common::get_json(&agent, "/api/v1/budgets").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["code"], "orchestrator_unavailable");
    assert!(upstream.received().is_empty());
}

#[tokio::test]
async fn the_orchestrator_takes_its_caller_only_from_credentials_or_a_signed_forward() {
    let upstream = MockUpstream::start(Reply::completion()).await;
    let (orchestrator, agents) = stack(&upstream, 1, &enterprise_env()).await;
    let agent = &agents[0];
    let secret_a = create_client(
        agent,
        "tenant-a-app",
        "tenant-a",
        json!({"tenant_admin": true}),
    )
    .await;
    let secret_b = create_client(
        agent,
        "tenant-b-app",
        "tenant-b",
        json!({"tenant_admin": true}),
    )
    .await;
    let (a, b) = (
        basic("tenant-a-app", &secret_a),
        basic("tenant-b-app", &secret_b),
    );
    let (status, _, created) = send(
        agent,
        reqwest::Method::POST,
        "/api/v1/budgets",
        Some(&a),
        Some(
            json!({"id": "a-cap", "name": "A", "scope": "team", "limit_usd": 5.0,
                    "period": "monthly", "on_exceed": "warn", "tenant_id": "tenant-b"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["tenant_id"], "tenant-a",
        "a body field never picks the tenant"
    );
    // Directly on the orchestrator, with B's credentials and forged tenant headers: B's view only.
    let forged = client()
        .get(orchestrator.url("/api/v1/budgets"))
        .header("authorization", &b)
        .header("x-tenant-id", "tenant-a")
        .header("x-axonflow-tenant", "tenant-a")
        .send()
        .await
        .expect("answer");
    assert_eq!(forged.status(), StatusCode::OK);
    let listing: Value = forged.json().await.expect("json");
    assert_eq!(listing["total"], 0, "{listing}");
    // Without credentials the orchestrator's routes are closed in enterprise mode.
    let anonymous = client()
        .get(orchestrator.url("/api/v1/budgets"))
        .header("x-tenant-id", "tenant-a")
        .send()
        .await
        .expect("answer");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // Unsigned calls to the internal routes run nothing.
    let forged_forward = json!({"caller": {"client_id": "x", "tenant_id": "tenant-a", "org_id": "o",
        "authenticated": true, "rights": "admin", "actor": "x"}, "method": "DELETE",
        "path_and_query": "/api/v1/budgets/a-cap", "body": null});
    for path in ["/internal/v1/forward", "/internal/v1/proxy"] {
        let response = client()
            .post(orchestrator.url(path))
            .json(&forged_forward)
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, _, still) = send(
        agent,
        reqwest::Method::GET,
        "/api/v1/budgets/a-cap",
        Some(&a),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{still}");
    assert!(upstream.received().is_empty());
}

#[tokio::test]
async fn writes_need_admin_rights_once_an_admin_key_is_set() {
    let upstream = MockUpstream::start(Reply::completion()).await;
    let (_orchestrator, agents) = stack(&upstream, 1, &[("ADMIN_API_KEY", ADMIN_KEY)]).await;
    let agent = &agents[0];
    let policy = json!({"name": "p", "conditions": [], "actions": [{"type": "log"}]});
    let (status, refused) = post_json(agent, "/api/v1/dynamic-policies", policy.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["code"], "admin_rights_required");
    let (status, _, created) = send(
        agent,
        reqwest::Method::POST,
        "/api/v1/dynamic-policies",
        Some(&format!("Bearer {ADMIN_KEY}")),
        Some(policy),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // Reads stay open to ordinary callers; an invalid policy lists every problem.
    let (status, listing) = crate::common::get_json(agent, "/api/v1/dynamic-policies").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listing["total"], 1);
    let (status, _, invalid) = send(
        agent,
        reqwest::Method::POST,
        "/api/v1/dynamic-policies",
        Some(&format!("Bearer {ADMIN_KEY}")),
        Some(json!({"name": "", "conditions": [{"field": "shoe.size", "operator": "equals", "value": 9},
            {"field": "query", "operator": "resembles", "value": "x"}], "actions": [{"type": "explode"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{invalid}");
    assert!(
        invalid["problems"].as_array().is_some_and(|p| p.len() >= 3),
        "{invalid}"
    );
    let id = created["id"].as_str().expect("id");
    let (status, versions) =
        crate::common::get_json(agent, &format!("/api/v1/dynamic-policies/{id}/versions")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(versions["versions"][0]["change_type"], "create");
}

#[tokio::test]
async fn the_entry_point_decides_whether_writes_need_admin_rights() {
    // Only the agent has the admin key: a write through it needs the key, whatever the
    // orchestrator's own settings.
    let upstream = MockUpstream::start(Reply::completion()).await;
    let (_orchestrator, agents) =
        stack_with(&upstream, 1, &[], &[("ADMIN_API_KEY", ADMIN_KEY)]).await;
    let budget = json!({"id": "cap", "name": "Cap", "scope": "team", "limit_usd": 1.0,
                        "period": "monthly", "on_exceed": "warn"});
    let (status, refused) = post_json(&agents[0], "/api/v1/budgets", budget.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["code"], "admin_rights_required");
    let (status, _, created) = send(
        &agents[0],
        reqwest::Method::POST,
        "/api/v1/budgets",
        Some(&format!("Bearer {ADMIN_KEY}")),
        Some(budget),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    for limit in [0.0, 1e-9, 2e9, -1.0] {
        let (status, _, invalid) = send(
            &agents[0],
            reqwest::Method::POST,
            "/api/v1/budgets",
            Some(&format!("Bearer {ADMIN_KEY}")),
            Some(
                json!({"id": "odd", "name": "Odd", "scope": "team", "limit_usd": limit,
                        "period": "monthly", "on_exceed": "warn"}),
            ),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{limit}: {invalid}"
        );
    }
}

#[tokio::test]
async fn every_entry_point_applies_dynamic_policies_and_budgets() {
    let upstream = MockUpstream::start(Reply::completion()).await;
    let (_orchestrator, agents) = stack(&upstream, 1, &[("PII_ACTION", "warn")]).await;
    let agent = &agents[0];
    for policy in [
        json!({"name": "No launch codes", "conditions": [{"field": "query", "operator": "contains", "value": "launch code"}],
               "actions": [{"type": "block", "config": {"reason": "launch codes stay inside"}}]}),
        json!({"name": "HR data is masked", "conditions": [{"field": "context.department", "operator": "equals", "value": "hr"}],
               "actions": [{"type": "redact"}]}),
        json!({"name": "Connector data is masked", "conditions": [{"field": "request_type", "operator": "equals", "value": "mcp"}],
               "actions": [{"type": "redact"}]}),
    ] {
        let (status, created) = post_json(agent, "/api/v1/dynamic-policies", policy).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }

    // Proxy Mode without an LLM call: checked here, not by the orchestrator.
    let skip = |query: &str| json!({"query": query, "user_token": "u", "client_id": "proxy-app", "skip_llm": true});
    let (status, body) = post_json(agent, "/api/request", skip("the launch code?")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["block_reason"], "launch codes stay inside");
    let (status, body) = post_json(agent, "/api/request", skip("the weather?")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = audit_rows(
        agent,
        "SELECT verdict, http_status, metadata FROM llm_call_audits WHERE source = 'proxy' ORDER BY created_at",
    )
    .await;
    assert_eq!(
        rows.iter().map(|r| (r.0.as_str(), r.1)).collect::<Vec<_>>(),
        [("deny", Some(403)), ("allow", Some(200))]
    );

    // A chat under the redacting policy: personal data split across parts cannot be masked in
    // place, so the call is refused although the PII action alone only warns.
    let split = json!({"model": "gpt-4o-mini", "metadata": {"department": "hr"},
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "my SSN is 123-45-"}, {"type": "text", "text": "6789"}]}]});
    let sent_before = upstream.received().len();
    let response = client()
        .post(agent.url("/v1/chat/completions"))
        .header("x-provider-key", PROVIDER_KEY)
        .json(&split)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let refused: Value = response.json().await.expect("json");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("could not be masked")),
        "{refused}"
    );
    assert_eq!(upstream.received().len(), sent_before);

    // MCP statements: a block, and personal data masked under a redacting policy.
    let check = |statement: &str| json!({"connector_type": "postgres", "statement": statement});
    let (status, body) = post_json(
        agent,
        "/api/v1/mcp/check-input",
        check("SELECT launch code FROM vault"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = post_json(
        agent,
        "/api/v1/mcp/check-input",
        check("SELECT * FROM users WHERE email = 'jane.doe@example.com'"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let statement = body["redacted_statement"].as_str().expect("masked");
    assert!(!statement.contains("jane.doe@example.com"), "{statement}");

    // Decision Mode: the redaction is an obligation, only where the policy applies.
    let decide = |department: &str| json!({"stage": "llm", "query": "write to jane.doe@example.com", "context": {"department": department}});
    let (status, body) = post_json(agent, "/api/v1/decide", decide("hr")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["verdict"], "allow");
    assert_eq!(body["obligations"][0]["type"], "redact_pii", "{body}");
    let (_, body) = post_json(agent, "/api/v1/decide", decide("engineering")).await;
    assert_eq!(body["obligations"], json!([]), "{body}");

    // Gateway Mode: the pre-check's workflow carries to the llm-call audit, so a workflow budget
    // counts it and refuses the next pre-check of that workflow only.
    let pre_check = |workflow: &str| {
        json!({"query": "plan the week", "user_token": "u", "client_id": "gw-app",
               "context": {"workflow_id": workflow}})
    };
    let (_, pre) = post_json(agent, "/api/policy/pre-check", pre_check("wf-1")).await;
    assert_eq!(pre["approved"], true, "{pre}");
    let (status, _) = post_json(
        agent,
        "/api/v1/budgets",
        json!({"id": "wf-cap", "name": "Workflow cap", "scope": "workflow", "scope_id": "wf-1",
               "limit_usd": 0.000001, "period": "daily", "on_exceed": "block"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, audited) = post_json(
        agent,
        "/api/audit/llm-call",
        json!({"context_id": pre["context_id"], "client_id": "gw-app", "provider": "openai",
               "model": "gpt-4o", "token_usage": {"prompt_tokens": 1000, "completion_tokens": 1000}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{audited}");
    let (_, refused) = post_json(agent, "/api/policy/pre-check", pre_check("wf-1")).await;
    assert_eq!(refused["approved"], false, "{refused}");
    assert!(
        refused["block_reason"]
            .as_str()
            .is_some_and(|r| r.contains("Workflow cap")),
        "{refused}"
    );
    let (_, other) = post_json(agent, "/api/policy/pre-check", pre_check("wf-2")).await;
    assert_eq!(other["approved"], true, "{other}");
    assert!(
        upstream.received().is_empty(),
        "no call went to the provider"
    );
}

#[tokio::test]
async fn an_abandoned_proxy_call_is_still_audited_with_its_cost() {
    let mut slow = Reply::completion();
    slow.delay = Duration::from_millis(1200);
    let upstream = MockUpstream::start(slow).await;
    let (_orchestrator, agents) = stack(&upstream, 1, &[]).await;
    let agent = &agents[0];
    let abandoned = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client")
        .post(agent.url("/api/request"))
        .json(&json!({"query": "What is 2+2?", "user_token": "u", "client_id": "proxy-app"}))
        .send()
        .await;
    assert!(abandoned.is_err(), "the client gave up");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows = audit_rows(
            agent,
            "SELECT verdict, http_status, metadata FROM llm_call_audits WHERE source = 'proxy'",
        )
        .await;
        if let Some(row) = rows.first() {
            assert_eq!((row.0.as_str(), row.1), ("allow", Some(200)));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the abandoned call left no row"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tokens: i64 =
        sqlx::query_scalar("SELECT total_tokens::int8 FROM llm_call_audits WHERE source = 'proxy'")
            .fetch_one(&agent.pool().await)
            .await
            .expect("tokens");
    assert_eq!(tokens, 21, "the provider's usage is on the row");
}

#[tokio::test]
async fn review_findings_stay_fixed() {
    let upstream = MockUpstream::start(Reply::completion()).await;
    let (_orchestrator, agents) = stack(&upstream, 1, &[("PII_ACTION", "warn")]).await;
    let agent = &agents[0];
    // A null action config is stored as `{}`, the shape the SDK reads.
    let (status, created) = post_json(
        agent,
        "/api/v1/dynamic-policies",
        json!({"name": "Titan", "conditions": [{"field": "query", "operator": "contains", "value": "project titan"}],
               "actions": [{"type": "block", "config": null}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["actions"][0]["config"], json!({}), "{created}");

    // The query fact is everything the provider reads: a tool description is no way around.
    let with_tool = |description: &str| {
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "summarise the plan"}],
               "tools": [{"type": "function", "function": {"name": "lookup", "description": description,
                          "parameters": {"type": "object", "properties": {}}}}]})
    };
    let send_chat = |body: Value| async move {
        client()
            .post(agent.url("/v1/chat/completions"))
            .header("x-provider-key", PROVIDER_KEY)
            .json(&body)
            .send()
            .await
            .expect("answer")
            .status()
    };
    assert_eq!(
        send_chat(with_tool("reads the Project Titan roadmap")).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send_chat(with_tool("reads the public roadmap")).await,
        StatusCode::OK
    );

    // Stored caller text is masked: a workflow id is kept only as policies allow.
    let (status, body) = post_json(
        agent,
        "/api/request",
        json!({"query": "hello", "skip_llm": true, "context": {"workflow_id": "wf-jane.doe@example.com"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = audit_rows(
        agent,
        "SELECT verdict, http_status, metadata FROM llm_call_audits WHERE source = 'proxy'",
    )
    .await;
    let kept = rows[0].2["workflow_id"].as_str().expect("kept").to_owned();
    assert!(!kept.contains("jane.doe@example.com"), "{kept}");

    // Decision Mode honours block budgets for LLM calls; budget changes are on the admin log.
    let (status, _) = post_json(
        agent,
        "/api/v1/budgets",
        json!({"id": "cap", "name": "Cap", "scope": "team", "limit_usd": 0.000001,
               "period": "daily", "on_exceed": "block"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let decide = |stage: &str| json!({"stage": stage, "query": "plan the week"});
    // The allowed chat call above spent more than the cap.
    let (_, denied) = post_json(agent, "/api/v1/decide", decide("llm")).await;
    assert_eq!(denied["verdict"], "deny", "{denied}");
    assert!(
        denied["reasons"][0]
            .as_str()
            .is_some_and(|r| r.contains("budget Cap is exhausted")),
        "{denied}"
    );
    let (_, tool) = post_json(agent, "/api/v1/decide", decide("tool")).await;
    assert_eq!(
        tool["verdict"], "allow",
        "a tool call spends no LLM budget: {tool}"
    );
    let logged: Vec<String> =
        sqlx::query_scalar("SELECT action FROM admin_audit_log WHERE action LIKE 'budget.%'")
            .fetch_all(&agent.pool().await)
            .await
            .expect("log");
    assert_eq!(logged, ["budget.create"]);

    // Usage by workflow, as the SDK asks for it.
    let (status, breakdown) =
        crate::common::get_json(agent, "/api/v1/usage/breakdown?group_by=workflow").await;
    assert_eq!(status, StatusCode::OK, "{breakdown}");
}
