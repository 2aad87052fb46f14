//! The static policy API: listing, immutability of system policies, custom policies validated on
//! write and enforced at once, overrides with expiry, and propagation to another replica.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{assert_api_error, call, fresh_database, get_json, post_json, Agent};

async fn pre_check_approved(agent: &Agent, query: &str) -> bool {
    let (status, body) = post_json(
        agent,
        "/api/policy/pre-check",
        json!({"client_id": "p-app", "query": query}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["approved"].as_bool().expect("approved")
}

/// Polls `agent` until a pre-check of `query` is approved as `expected`, for at most `limit`.
async fn wait_for_approval(agent: &Agent, query: &str, expected: bool, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if pre_check_approved(agent, query).await == expected {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn system_policies_are_listed_and_immutable() {
    let agent = Agent::start(&fresh_database().await, &[]);
    let (status, listing) = get_json(&agent, "/api/v1/static-policies?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    let policies = listing["policies"].as_array().expect("policies");
    let total = listing["pagination"]["total_items"]
        .as_i64()
        .expect("total");
    assert_eq!(usize::try_from(total).expect("small"), policies.len());
    let ssn = policies
        .iter()
        .find(|p| p["policy_id"] == "sys_pii_ssn")
        .expect("the SSN policy is listed");
    for field in [
        "id",
        "name",
        "category",
        "tier",
        "pattern",
        "created_at",
        "updated_at",
    ] {
        assert!(!ssn[field].is_null(), "{field} missing: {ssn}");
    }
    assert_eq!(ssn["tier"], "system");
    assert_eq!(ssn["category"], "pii-us");
    assert_eq!(ssn["severity"], "critical");

    let (_, page) = get_json(
        &agent,
        "/api/v1/static-policies?category=security-sqli&limit=2&offset=2",
    )
    .await;
    assert_eq!(page["policies"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["pagination"]["page"], 2);
    assert!(page["policies"]
        .as_array()
        .expect("array")
        .iter()
        .all(|p| p["category"] == "security-sqli"));

    let (status, by_id) = get_json(
        &agent,
        &format!(
            "/api/v1/static-policies/{}",
            ssn["id"].as_str().expect("id")
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_id["policy_id"], "sys_pii_ssn");

    let (status, body) = call(
        &agent,
        reqwest::Method::PUT,
        "/api/v1/static-policies/sys_pii_ssn",
        Some(&json!({"action": "log"})),
    )
    .await;
    assert_api_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "system_policy_immutable",
    );
    let (status, body) = call(
        &agent,
        reqwest::Method::DELETE,
        "/api/v1/static-policies/sys_pii_ssn",
        None,
    )
    .await;
    assert_api_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "system_policy_immutable",
    );
    let (status, body) = get_json(&agent, "/api/v1/static-policies/sys_no_such").await;
    assert_api_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = get_json(&agent, "/api/v1/static-policies?limit=abc").await;
    assert_api_error(status, &body, StatusCode::BAD_REQUEST, "invalid_parameter");
}

#[tokio::test]
async fn custom_policies_are_validated_enforced_changed_and_deleted() {
    let agent = Agent::start(&fresh_database().await, &[]);
    let (status, body) = post_json(
        &agent,
        "/api/v1/static-policies",
        json!({"name": "", "category": "Bad Category", "pattern": "(unclosed", "severity": "urgent", "action": "deny"}),
    )
    .await;
    assert_api_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let fields: Vec<&str> = body["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["field"].as_str())
        .collect();
    for field in ["name", "category", "action", "severity"] {
        assert!(fields.contains(&field), "{field} not reported: {body}");
    }
    let (status, body) = post_json(
        &agent,
        "/api/v1/static-policies",
        json!({"name": "n", "category": "custom", "pattern": "(unclosed"}),
    )
    .await;
    assert_api_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(body["problems"][0]["field"], "pattern", "{body}");
    let (status, body) = post_json(
        &agent,
        "/api/v1/static-policies",
        json!({"name": "n", "category": "custom", "pattern": "x", "tier": "system"}),
    )
    .await;
    assert_api_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    assert!(pre_check_approved(&agent, "Status of project FALCON-2291?").await);
    let (status, created) = post_json(
        &agent,
        "/api/v1/static-policies",
        json!({"name": "Project codes", "category": "sensitive-data", "pattern": r"\bFALCON-\d{4}\b",
               "severity": "high", "action": "block", "tags": ["projects"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["tier"], "tenant");
    assert_eq!(created["version"], 1);
    let policy_id = created["policy_id"].as_str().expect("policy id").to_owned();
    assert!(
        policy_id.starts_with("tenant_project_codes_"),
        "{policy_id}"
    );
    // Written through this agent: in force on its next request.
    assert!(!pre_check_approved(&agent, "Status of project FALCON-2291?").await);
    let (_, blocked) = post_json(
        &agent,
        "/api/policy/pre-check",
        json!({"query": "FALCON-2291"}),
    )
    .await;
    assert_eq!(blocked["policies"], json!([policy_id]));

    let path = format!("/api/v1/static-policies/{policy_id}");
    let (status, updated) = call(
        &agent,
        reqwest::Method::PUT,
        &path,
        Some(&json!({"action": "warn", "severity": "low"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["action"], "warn");
    assert!(pre_check_approved(&agent, "FALCON-2291").await);
    let (status, body) = call(
        &agent,
        reqwest::Method::PUT,
        &path,
        Some(&json!({"pattern": "a*"})),
    )
    .await;
    assert_api_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    let (status, toggled) = call(
        &agent,
        reqwest::Method::PATCH,
        &path,
        Some(&json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{toggled}");
    assert_eq!(toggled["enabled"], false);

    let (status, deleted) = call(&agent, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{deleted}");
    let (status, body) = get_json(&agent, &path).await;
    assert_api_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    let (_, trial) = post_json(
        &agent,
        "/api/v1/static-policies/test",
        json!({"pattern": r"(\w+)-(\d+)", "inputs": ["FALCON-2291 and é HAWK-7", "nothing"]}),
    )
    .await;
    assert_eq!(trial["valid"], true);
    assert_eq!(trial["matches"][0]["matched"], true);
    assert_eq!(trial["matches"][0]["groups"], json!(["FALCON", "2291"]));
    assert_eq!(trial["matches"][0]["n_matches"], 2);
    // Byte offsets of every match: the `é` before `HAWK-7` takes two bytes.
    assert_eq!(trial["matches"][0]["spans"], json!([[0, 11], [19, 25]]));
    assert_eq!(trial["matches"][1]["matched"], false);
    assert_eq!(trial["matches"][1]["spans"], json!([]));
    let (status, invalid) = post_json(
        &agent,
        "/api/v1/static-policies/test",
        json!({"pattern": "(", "inputs": ["a"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(invalid["valid"], false);
    assert!(invalid["error"]
        .as_str()
        .is_some_and(|e| e.contains("regex")));
}

#[tokio::test]
async fn overrides_change_a_system_policy_for_one_tenant_until_they_expire() {
    let agent = Agent::start(&fresh_database().await, &[]);
    let query = "Please write to jane.doe@example.com";
    assert!(
        !pre_check_approved(&agent, query).await,
        "e-mail blocks by default"
    );

    let (status, created) = post_json(
        &agent,
        "/api/v1/static-policies/sys_pii_email/override",
        json!({"action_override": "warn", "override_reason": "support tickets quote customer e-mail"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["action_override"], "warn");
    assert!(pre_check_approved(&agent, query).await);
    let (_, listed) = get_json(&agent, "/api/v1/static-policies/overrides").await;
    assert_eq!(listed["count"], 1);
    let (_, effective) = get_json(&agent, "/api/v1/static-policies/effective").await;
    let email = effective["static"]
        .as_array()
        .expect("static")
        .iter()
        .find(|p| p["policy_id"] == "sys_pii_email")
        .expect("listed");
    assert_eq!(email["action"], "warn");
    assert_eq!(email["has_override"], true);

    let (status, _) = call(
        &agent,
        reqwest::Method::DELETE,
        "/api/v1/static-policies/sys_pii_email/override",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!pre_check_approved(&agent, query).await);

    // Turned off for this tenant with PATCH, then an override that expires.
    let (status, toggled) = call(
        &agent,
        reqwest::Method::PATCH,
        "/api/v1/static-policies/sys_pii_email",
        Some(&json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{toggled}");
    assert_eq!(toggled["enabled"], false);
    assert!(pre_check_approved(&agent, query).await);
    let expires_at = crate::common::rfc3339_in(Duration::from_secs(2));
    let (status, body) = post_json(
        &agent,
        "/api/v1/static-policies/sys_pii_email/override",
        json!({"action_override": "log", "enabled_override": true, "override_reason": "one-off export", "expires_at": expires_at}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(pre_check_approved(&agent, query).await);
    assert!(
        wait_for_approval(&agent, query, false, Duration::from_secs(5)).await,
        "once the override expires the policy blocks again"
    );

    let (status, body) = post_json(
        &agent,
        "/api/v1/static-policies/sys_pii_email/override",
        json!({"action_override": "require_approval", "override_reason": "x", "expires_at": "2001-01-01T00:00:00Z"}),
    )
    .await;
    assert_api_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(body["problems"].as_array().map(Vec::len), Some(2), "{body}");
}

#[tokio::test]
async fn a_change_reaches_another_replica_without_a_restart() {
    let database = fresh_database().await;
    let writer = Agent::start(&database, &[]);
    let reader = Agent::start(&database, &[]);
    let query = "ship the ORION-7731 prototype";
    assert!(pre_check_approved(&reader, query).await);
    let (status, body) = post_json(
        &writer,
        "/api/v1/static-policies",
        json!({"name": "Orion codes", "category": "sensitive-data", "pattern": r"ORION-\d{4}"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        wait_for_approval(&reader, query, false, Duration::from_secs(3)).await,
        "the other replica enforces the new policy (refresh interval 250 ms)"
    );
    let (_, listing) = get_json(&reader, "/api/v1/static-policies?search=orion").await;
    assert_eq!(listing["policies"][0]["policy_id"], body["policy_id"]);
}
