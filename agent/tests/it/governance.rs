//! Governance is guarded and recorded: weakening a system policy needs admin rights (the admin key,
//! or a tenant-admin client in enterprise mode), and every policy change leaves one record, served
//! at `/api/v1/static-policies/{id}/versions` and in the admin audit log.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{fresh_database, Agent};
use crate::enterprise::{admin, basic, create_client, enterprise_env, send, ADMIN_KEY};

const APP: &str = "Basic Z292LWFwcDo="; // base64("gov-app:")

async fn as_app(
    agent: &Agent,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, _, json) = send(agent, method, path, Some(APP), body).await;
    (status, json)
}

async fn email_blocked(agent: &Agent, authorization: &str) -> bool {
    let (status, _, body) = send(
        agent,
        reqwest::Method::POST,
        "/api/policy/pre-check",
        Some(authorization),
        Some(json!({"query": "write to jane@example.com", "user_token": "u"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["approved"] == false
}

async fn versions(agent: &Agent, authorization: &str, policy: &str) -> Vec<Value> {
    let (status, _, body) = send(
        agent,
        reqwest::Method::GET,
        &format!("/api/v1/static-policies/{policy}/versions"),
        Some(authorization),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["versions"].as_array().expect("versions").clone()
}

fn types(versions: &[Value]) -> Vec<&str> {
    versions
        .iter()
        .map(|v| v["change_type"].as_str().expect("change_type"))
        .collect()
}

#[tokio::test]
async fn community_without_admin_key_allows_weakening_and_records_every_change() {
    let agent = Agent::start(&fresh_database().await, &[]);
    let (status, body) = as_app(
        &agent,
        reqwest::Method::POST,
        "/api/v1/static-policies/sys_pii_email/override",
        Some(json!({"action_override": "log", "override_reason": "migration window"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(!email_blocked(&agent, APP).await);
    assert!(
        agent
            .log()
            .contains("system policy weakened without admin rights"),
        "the weakening is logged as a warning"
    );
    let (status, _) = as_app(
        &agent,
        reqwest::Method::DELETE,
        "/api/v1/static-policies/sys_pii_email/override?reason=window%20over",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(email_blocked(&agent, APP).await);

    let history = versions(&agent, APP, "sys_pii_email").await;
    assert_eq!(types(&history), ["override_clear", "override_set"]);
    assert_eq!(history[0]["version"], 2);
    assert_eq!(history[1]["version"], 1);
    assert_eq!(history[1]["changed_by"], "gov-app");
    assert_eq!(history[1]["reason"], "migration window");
    assert_eq!(history[1]["snapshot"]["action"], "log");
    assert_eq!(
        history[1]["snapshot"]["override"]["override_reason"],
        "migration window"
    );
    assert_eq!(history[1]["previous"]["action"], "block");
    assert_eq!(history[0]["snapshot"]["action"], "block");
    assert_eq!(history[0]["snapshot"]["has_override"], false);
    assert_eq!(history[0]["reason"], "window over");
    for version in &history {
        for field in ["id", "policy_id", "changed_at", "change_summary"] {
            assert!(!version[field].is_null(), "{field} missing: {version}");
        }
    }

    // A custom policy's whole life: create, update, disable, delete.
    let (status, created) = as_app(
        &agent,
        reqwest::Method::POST,
        "/api/v1/static-policies",
        Some(
            json!({"policy_id": "falcon_codes", "name": "Falcon", "category": "sensitive-data",
            "keywords": ["projectfalcon"], "reason": "new project"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let path = "/api/v1/static-policies/falcon_codes";
    let (status, _) = as_app(
        &agent,
        reqwest::Method::PUT,
        path,
        Some(json!({"name": "Falcon codes"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = as_app(
        &agent,
        reqwest::Method::PATCH,
        path,
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = as_app(&agent, reqwest::Method::DELETE, path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let history = versions(&agent, APP, "falcon_codes").await;
    assert_eq!(types(&history), ["delete", "disable", "update", "create"]);
    assert_eq!(history[3]["reason"], "new project");
    assert_eq!(history[2]["snapshot"]["name"], "Falcon codes");
    assert_eq!(history[2]["previous"]["name"], "Falcon");
    assert_eq!(history[0]["snapshot"]["deleted"], true);

    // One record per change, each with the tenant, in the same database as the change.
    let pool = agent.pool().await;
    let rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM policy_changes WHERE tenant_id = 'default' AND changed_by = 'gov-app'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(rows, 6);
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM admin_audit_log WHERE action LIKE 'policy.%' AND details->>'tenant_id' = 'default'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(logged, 6);

    let (status, _) = as_app(
        &agent,
        reqwest::Method::GET,
        "/api/v1/static-policies/0192f000-0000-7000-8000-000000000000/versions",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn community_with_admin_key_needs_it_to_weaken() {
    let agent = Agent::start(&fresh_database().await, &[("ADMIN_API_KEY", ADMIN_KEY)]);
    let admin_bearer = format!("Bearer {ADMIN_KEY}");
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/api/v1/static-policies/sys_pii_email/override",
            json!({"action_override": "log", "override_reason": "quieter"}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/static-policies/sys_pii_email/override",
            json!({"action_override": "block", "enabled_override": false, "override_reason": "off"}),
        ),
        (
            reqwest::Method::PATCH,
            "/api/v1/static-policies/sys_pii_ssn",
            json!({"enabled": false}),
        ),
    ] {
        let (status, refused) = as_app(&agent, method, path, Some(body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {refused}");
        assert_eq!(refused["code"], "admin_rights_required");
        assert!(refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("ADMIN_API_KEY")));
    }
    assert!(email_blocked(&agent, APP).await, "nothing was weakened");
    assert!(versions(&agent, APP, "sys_pii_email").await.is_empty());

    // What does not weaken needs no rights.
    let (status, body) = as_app(
        &agent,
        reqwest::Method::POST,
        "/api/v1/static-policies/sys_pii_email/override",
        Some(json!({"action_override": "block", "enabled_override": true, "override_reason": "explicit"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, _, body) = send(
        &agent,
        reqwest::Method::POST,
        "/api/v1/static-policies/sys_pii_email/override",
        Some(&admin_bearer),
        Some(json!({"action_override": "log", "override_reason": "approved by security"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(!email_blocked(&agent, APP).await);
    let history = versions(&agent, APP, "sys_pii_email").await;
    assert_eq!(history.len(), 2);
    assert!(history[0]["changed_by"]
        .as_str()
        .is_some_and(|by| by.starts_with("admin-key:") && !by.contains(ADMIN_KEY)));

    let (status, log) = admin(
        &agent,
        reqwest::Method::GET,
        "/api/v1/admin/audit-log",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let entry = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["details"]["reason"] == "approved by security")
        .expect("the override is in the admin audit log");
    assert_eq!(entry["action"], "policy.override_set");
    assert_eq!(entry["target"], "sys_pii_email");
    assert_eq!(entry["details"]["tenant_id"], "default");
}

#[tokio::test]
async fn enterprise_tenant_admins_weaken_their_own_tenant_only() {
    let agent = Agent::start(&fresh_database().await, &enterprise_env());
    let secret = create_client(&agent, "ops-app", "tenant-ops", json!({})).await;
    let ops = basic("ops-app", &secret);
    let weaken = json!({"action_override": "log", "override_reason": "ops request"});
    let path = "/api/v1/static-policies/sys_pii_email/override";
    let (status, _, refused) = send(
        &agent,
        reqwest::Method::POST,
        path,
        Some(&ops),
        Some(weaken.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(email_blocked(&agent, &ops).await);

    let (status, client) = admin(
        &agent,
        reqwest::Method::PATCH,
        "/api/v1/admin/clients/ops-app",
        Some(json!({"tenant_admin": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{client}");
    assert_eq!(client["tenant_admin"], true);
    let (status, _, body) = send(
        &agent,
        reqwest::Method::POST,
        path,
        Some(&ops),
        Some(weaken.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(!email_blocked(&agent, &ops).await);

    // The admin key acts for the tenant it names.
    let other = basic(
        "other-app",
        &create_client(&agent, "other-app", "tenant-other", json!({})).await,
    );
    assert!(email_blocked(&agent, &other).await);
    let (status, _, body) = send(
        &agent,
        reqwest::Method::POST,
        &format!("{path}?tenant_id=tenant-other"),
        Some(&format!("Bearer {ADMIN_KEY}")),
        Some(weaken),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(!email_blocked(&agent, &other).await);
    let history = versions(&agent, &other, "sys_pii_email").await;
    assert_eq!(history.len(), 1, "tenant-other sees only its own change");
}
