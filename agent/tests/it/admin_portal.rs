//! The admin API the terminal portal reads and writes: tenants, one tenant's policies and its
//! overrides set and cleared by the admin (recorded, and applied at once), the audit tail, and the
//! decision statistics. Every route needs the admin key.

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::common::{assert_api_error, fresh_database, Agent};
use crate::enterprise::{admin, basic, create_client, enterprise_env, send};

const EMAIL_QUERY: &str = "write to jane@example.com";

/// A pre-check by `authorization`: whether it was approved, and its decision id.
async fn pre_check(agent: &Agent, authorization: &str, query: &str) -> (bool, String) {
    let (status, _, body) = send(
        agent,
        reqwest::Method::POST,
        "/api/policy/pre-check",
        Some(authorization),
        Some(json!({"query": query, "user_token": "u"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["approved"].as_bool().expect("approved"),
        body["decision_id"]
            .as_str()
            .expect("decision id")
            .to_owned(),
    )
}

async fn admin_get(agent: &Agent, path: &str) -> Value {
    let (status, body) = admin(agent, reqwest::Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

fn find<'a>(items: &'a Value, field: &str, value: &str) -> &'a Value {
    items
        .as_array()
        .expect("an array")
        .iter()
        .find(|item| item[field] == value)
        .unwrap_or_else(|| panic!("no {field} {value:?} in {items}"))
}

/// The policy as the tenant's own `/api/v1/static-policies/effective` shows it.
async fn effective(agent: &Agent, authorization: &str, policy_id: &str) -> Value {
    let (status, _, body) = send(
        agent,
        reqwest::Method::GET,
        "/api/v1/static-policies/effective?include_disabled=true",
        Some(authorization),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    find(&body["static"], "policy_id", policy_id).clone()
}

async fn change_types(pool: &PgPool, tenant_id: &str, policy_id: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT change_type, changed_by FROM policy_changes WHERE tenant_id = $1 AND policy_id = $2 \
         ORDER BY version",
    )
    .bind(tenant_id)
    .bind(policy_id)
    .fetch_all(pool)
    .await
    .expect("read the change log")
}

#[tokio::test]
async fn every_portal_route_needs_the_admin_key() {
    let agent = Agent::start(&fresh_database().await, &enterprise_env());
    let secret = create_client(&agent, "portal-app", "tenant-a", json!({})).await;
    let override_body = json!({"action_override": "warn", "override_reason": "r"});
    let routes = [
        (reqwest::Method::GET, "/api/v1/admin/tenants", None),
        (
            reqwest::Method::GET,
            "/api/v1/admin/tenants/tenant-a/policies",
            None,
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/admin/tenants/tenant-a/policies/sys_pii_email/override",
            Some(override_body),
        ),
        (
            reqwest::Method::DELETE,
            "/api/v1/admin/tenants/tenant-a/policies/sys_pii_email/override",
            None,
        ),
        (reqwest::Method::GET, "/api/v1/admin/audit/tail", None),
        (reqwest::Method::GET, "/api/v1/admin/stats", None),
    ];
    let client_auth = basic("portal-app", &secret);
    for (method, path, body) in routes {
        for authorization in [
            None,
            Some("Bearer not-the-admin-key"),
            Some(client_auth.as_str()),
        ] {
            let (status, _, answer) =
                send(&agent, method.clone(), path, authorization, body.clone()).await;
            assert_api_error(status, &answer, StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
    let pool = agent.pool().await;
    let changes: i64 = sqlx::query_scalar("SELECT count(*) FROM policy_changes")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(changes, 0, "a refused call changed nothing");
}

#[tokio::test]
async fn tenants_are_listed_with_what_they_hold() {
    let agent = Agent::start(&fresh_database().await, &enterprise_env());
    let (status, empty) = admin(&agent, reqwest::Method::GET, "/api/v1/admin/tenants", None).await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(empty["tenants"], json!([]), "{empty}");

    create_client(&agent, "a-one", "tenant-a", json!({})).await;
    create_client(&agent, "a-two", "tenant-a", json!({})).await;
    let secret_b = create_client(&agent, "b-one", "tenant-b", json!({})).await;
    pre_check(&agent, &basic("b-one", &secret_b), "What is 2+2?").await;
    let (status, body) = admin(
        &agent,
        reqwest::Method::PUT,
        "/api/v1/admin/tenants/tenant-a/policies/sys_pii_email/override",
        Some(json!({"action_override": "warn", "override_reason": "support quotes e-mail"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let listing = admin_get(&agent, "/api/v1/admin/tenants").await;
    let ids: Vec<&str> = listing["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .map(|t| t["tenant_id"].as_str().expect("tenant id"))
        .collect();
    assert_eq!(ids, ["tenant-a", "tenant-b"], "{listing}");
    assert_eq!(listing["truncated"], false);
    let a = find(&listing["tenants"], "tenant_id", "tenant-a");
    assert_eq!(a["clients"], 2, "{a}");
    assert_eq!(a["custom_policies"], 0, "{a}");
    assert_eq!(a["overrides"], 1, "{a}");
    assert_eq!(a["last_activity"], Value::Null, "{a}");
    let b = find(&listing["tenants"], "tenant_id", "tenant-b");
    assert_eq!(b["clients"], 1, "{b}");
    assert_eq!(b["overrides"], 0, "{b}");
    let last = b["last_activity"].as_str().expect("tenant-b made a call");
    assert!(
        chrono::DateTime::parse_from_rfc3339(last).is_ok(),
        "{last} is RFC 3339"
    );
    // The client list says when each client last made an audited call.
    let clients = admin_get(&agent, "/api/v1/admin/clients").await;
    let b_one = find(&clients["clients"], "client_id", "b-one");
    assert!(b_one["last_used_at"].is_string(), "{b_one}");
    let a_one = find(&clients["clients"], "client_id", "a-one");
    assert!(a_one["last_used_at"].is_null(), "{a_one}");
}

#[tokio::test]
async fn the_admin_sets_and_clears_a_tenant_override_with_a_record_of_each() {
    let agent = Agent::start(&fresh_database().await, &enterprise_env());
    let a = basic(
        "a-app",
        &create_client(&agent, "a-app", "tenant-a", json!({})).await,
    );
    let b = basic(
        "b-app",
        &create_client(&agent, "b-app", "tenant-b", json!({})).await,
    );
    let path = "/api/v1/admin/tenants/tenant-a/policies/sys_pii_email/override";

    let listing = admin_get(&agent, "/api/v1/admin/tenants/tenant-a/policies").await;
    assert_eq!(listing["tenant_id"], "tenant-a");
    let email = find(&listing["policies"], "policy_id", "sys_pii_email");
    for field in ["id", "name", "category", "severity"] {
        assert!(!email[field].is_null(), "{field} missing: {email}");
    }
    assert_eq!(email["action"], "block", "{email}");
    assert_eq!(email["enabled"], true, "{email}");
    assert_eq!(email["tier"], "system", "{email}");
    assert_eq!(email["override"], Value::Null, "{email}");
    assert!(
        !pre_check(&agent, &a, EMAIL_QUERY).await.0,
        "blocked as shipped"
    );

    // Refused: no reason, an unknown policy, an unknown action.
    let (status, body) = admin(
        &agent,
        reqwest::Method::PUT,
        path,
        Some(json!({"action_override": "warn"})),
    )
    .await;
    assert_api_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert!(body.to_string().contains("override_reason"), "{body}");
    let (status, body) = admin(
        &agent,
        reqwest::Method::PUT,
        "/api/v1/admin/tenants/tenant-a/policies/sys_no_such_policy/override",
        Some(json!({"action_override": "warn", "override_reason": "r"})),
    )
    .await;
    assert_api_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = admin(
        &agent,
        reqwest::Method::PUT,
        path,
        Some(json!({"action_override": "shrug", "override_reason": "r"})),
    )
    .await;
    assert_api_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    let (status, set) = admin(
        &agent,
        reqwest::Method::PUT,
        path,
        Some(json!({"action_override": "warn", "override_reason": "support tickets quote e-mail"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["policy_id"], "sys_pii_email", "{set}");
    assert_eq!(set["action"], "warn", "{set}");
    assert_eq!(set["override"]["action_override"], "warn", "{set}");
    assert_eq!(
        set["override"]["override_reason"],
        "support tickets quote e-mail"
    );
    let actor = set["override"]["created_by"]
        .as_str()
        .expect("created_by")
        .to_owned();
    assert!(actor.starts_with("admin-key:"), "{set}");

    // At once: in the admin's view, in the tenant's own effective view and in its decisions.
    let listing = admin_get(&agent, "/api/v1/admin/tenants/tenant-a/policies").await;
    let email = find(&listing["policies"], "policy_id", "sys_pii_email");
    assert_eq!(email["action"], "warn", "{email}");
    assert_eq!(
        email["override"]["override_reason"],
        "support tickets quote e-mail"
    );
    let seen = effective(&agent, &a, "sys_pii_email").await;
    assert_eq!(seen["action"], "warn", "{seen}");
    assert_eq!(seen["has_override"], true, "{seen}");
    assert!(pre_check(&agent, &a, EMAIL_QUERY).await.0, "warns only now");
    // Another tenant is untouched.
    let other = admin_get(&agent, "/api/v1/admin/tenants/tenant-b/policies").await;
    assert_eq!(
        find(&other["policies"], "policy_id", "sys_pii_email")["action"],
        "block"
    );
    assert_eq!(
        effective(&agent, &b, "sys_pii_email").await["action"],
        "block"
    );
    assert!(!pre_check(&agent, &b, EMAIL_QUERY).await.0);

    // A second override: turned off for the tenant.
    let (status, off) = admin(
        &agent,
        reqwest::Method::PUT,
        path,
        Some(json!({"enabled_override": false, "override_reason": "pilot without e-mail checks"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{off}");
    assert_eq!(off["enabled"], false, "{off}");
    assert_eq!(
        effective(&agent, &a, "sys_pii_email").await["enabled"],
        false
    );

    let (status, body) = admin(
        &agent,
        reqwest::Method::DELETE,
        &format!("{path}?reason=pilot%20over"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let seen = effective(&agent, &a, "sys_pii_email").await;
    assert_eq!(seen["action"], "block", "{seen}");
    assert_eq!(seen["enabled"], true, "{seen}");
    assert_eq!(seen["has_override"], false, "{seen}");
    assert!(!pre_check(&agent, &a, EMAIL_QUERY).await.0, "blocks again");
    let (status, body) = admin(&agent, reqwest::Method::DELETE, path, None).await;
    assert_api_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    // The change log holds each change under the admin key's name.
    let pool = agent.pool().await;
    assert_eq!(
        change_types(&pool, "tenant-a", "sys_pii_email").await,
        [
            ("override_set".to_owned(), actor.clone()),
            ("override_set".to_owned(), actor.clone()),
            ("override_clear".to_owned(), actor.clone()),
        ]
    );
    assert!(change_types(&pool, "tenant-b", "sys_pii_email")
        .await
        .is_empty());
    // And so does the admin log, with the tenant and the reason.
    let log = admin_get(&agent, "/api/v1/admin/audit-log?limit=100").await;
    let entries: Vec<&Value> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["target"] == "sys_pii_email")
        .collect();
    assert_eq!(entries.len(), 3, "{log}");
    let cleared = entries
        .iter()
        .find(|e| e["action"] == "policy.override_clear")
        .expect("the clearing is logged");
    assert_eq!(cleared["actor"], actor.as_str());
    assert_eq!(cleared["details"]["tenant_id"], "tenant-a");
    assert_eq!(cleared["details"]["reason"], "pilot over");
    assert!(entries.iter().any(|e| e["action"] == "policy.override_set"
        && e["details"]["tenant_id"] == "tenant-a"
        && e["details"]["reason"] == "support tickets quote e-mail"));
}

#[tokio::test]
async fn the_audit_tail_follows_new_rows_in_order() {
    let agent = Agent::start(&fresh_database().await, &enterprise_env());
    let auth = basic(
        "tail-app",
        &create_client(&agent, "tail-app", "tenant-t", json!({})).await,
    );
    let empty = admin_get(&agent, "/api/v1/admin/audit/tail").await;
    assert_eq!(empty, json!({"rows": [], "next_after": null}));

    let mut ids = Vec::new();
    for query in ["first question", "second question", EMAIL_QUERY] {
        ids.push(pre_check(&agent, &auth, query).await.1);
    }
    let tail = admin_get(&agent, "/api/v1/admin/audit/tail").await;
    let listed: Vec<&str> = tail["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(listed, ids, "oldest first: {tail}");
    assert_eq!(tail["next_after"], ids[2].as_str());
    let third = &tail["rows"][2];
    // The fields of the audit search.
    assert_eq!(third["decision_id"], ids[2].as_str());
    assert_eq!(third["tenant_id"], "tenant-t");
    assert_eq!(third["client_id"], "tail-app");
    assert_eq!(third["request_type"], "pre_check");
    assert_eq!(third["verdict"], "deny");
    assert_eq!(third["blocked"], true);
    assert!(third["policy_violations"]
        .as_array()
        .expect("policies")
        .contains(&json!("sys_pii_email")));
    assert!(third["timestamp"].is_string());

    let newest = admin_get(&agent, "/api/v1/admin/audit/tail?limit=2").await;
    let listed: Vec<&str> = newest["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(listed, &ids[1..], "the newest two, oldest first");

    let after_second = admin_get(
        &agent,
        &format!("/api/v1/admin/audit/tail?after={}", ids[1]),
    )
    .await;
    assert_eq!(after_second["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(after_second["rows"][0]["id"], ids[2].as_str());
    assert_eq!(after_second["next_after"], ids[2].as_str());
    let after_first = admin_get(
        &agent,
        &format!("/api/v1/admin/audit/tail?after={}&limit=1", ids[0]),
    )
    .await;
    assert_eq!(after_first["rows"][0]["id"], ids[1].as_str());
    assert_eq!(after_first["next_after"], ids[1].as_str());
    let caught_up = admin_get(
        &agent,
        &format!("/api/v1/admin/audit/tail?after={}", ids[2]),
    )
    .await;
    assert_eq!(caught_up["rows"], json!([]));
    assert_eq!(caught_up["next_after"], ids[2].as_str(), "the given after");

    for query in ["limit=0", "limit=501", "limit=ten", "after=not-a-uuid"] {
        let (status, body) = admin(
            &agent,
            reqwest::Method::GET,
            &format!("/api/v1/admin/audit/tail?{query}"),
            None,
        )
        .await;
        assert_api_error(status, &body, StatusCode::BAD_REQUEST, "invalid_parameter");
    }
    let (status, body) = admin(
        &agent,
        reqwest::Method::GET,
        "/api/v1/admin/audit/tail?limit=500",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn stats_count_decisions_and_the_denying_policy() {
    let agent = Agent::start(&fresh_database().await, &enterprise_env());
    let quiet = admin_get(&agent, "/api/v1/admin/stats").await;
    assert_eq!(quiet["decisions_last_hour"], json!({"allow": 0, "deny": 0}));
    assert_eq!(quiet["denied_share"], 0.0);
    assert_eq!(quiet["top_policies"], json!([]));

    let auth = basic(
        "s-app",
        &create_client(&agent, "s-app", "tenant-s", json!({})).await,
    );
    assert!(pre_check(&agent, &auth, "What is 2+2?").await.0);
    assert!(!pre_check(&agent, &auth, EMAIL_QUERY).await.0);

    let stats = admin_get(&agent, "/api/v1/admin/stats").await;
    assert_eq!(
        stats["decisions_last_hour"],
        json!({"allow": 1, "deny": 1}),
        "{stats}"
    );
    assert_eq!(stats["denied_share"], 0.5, "{stats}");
    let minutes = stats["per_minute"].as_array().expect("per_minute");
    assert_eq!(minutes.len(), 30, "{stats}");
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = minutes
        .iter()
        .map(|m| {
            chrono::DateTime::parse_from_rfc3339(m["minute"].as_str().expect("minute"))
                .expect("RFC 3339")
        })
        .collect();
    assert!(
        times
            .windows(2)
            .all(|w| w[1] - w[0] == chrono::TimeDelta::minutes(1)),
        "consecutive minutes, oldest first: {stats}"
    );
    let sum = |field: &str| {
        minutes
            .iter()
            .map(|m| m[field].as_i64().expect("count"))
            .sum::<i64>()
    };
    assert_eq!((sum("allow"), sum("deny")), (1, 1), "{stats}");
    let email = find(&stats["top_policies"], "policy_id", "sys_pii_email");
    assert_eq!(email["matches"], 1, "{stats}");
    assert!(stats["audit"]["queue_depth"].is_u64(), "{stats}");
    assert!(stats["audit"]["journal_backlog"].is_u64(), "{stats}");
}
