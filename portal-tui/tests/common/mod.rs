//! Fixed data shared by the portal's tests: an app holding clients, tenants, policies, audit rows,
//! admin log entries, health and stats, with no time-dependent text.

// Each test file uses a different part of these fixtures.
#![allow(dead_code)]

use std::time::Instant;

use axonflow_portal::api::{
    AdminEntry, AuditRow, ClientInfo, Health, PolicyInfo, Reply, Response, Stats, TenantInfo,
};
use axonflow_portal::app::{App, Event};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::json;

pub fn press(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn char_key(typed: char) -> Event {
    press(KeyCode::Char(typed))
}

pub fn answer(reply: Reply) -> Event {
    let kind = match &reply {
        Reply::Health(_) => axonflow_portal::api::RequestKind::Health,
        Reply::Stats(_) => axonflow_portal::api::RequestKind::Stats,
        Reply::Clients(_) => axonflow_portal::api::RequestKind::Clients,
        Reply::Tenants(_) => axonflow_portal::api::RequestKind::Tenants,
        Reply::Policies { .. } => axonflow_portal::api::RequestKind::Policies,
        Reply::AuditTail { .. } => axonflow_portal::api::RequestKind::AuditTail,
        Reply::AdminLog(_) => axonflow_portal::api::RequestKind::AdminLog,
        Reply::Created { .. } => axonflow_portal::api::RequestKind::CreateClient,
        Reply::Rotated { .. } => axonflow_portal::api::RequestKind::RotateSecret,
        Reply::ClientChanged { .. } => axonflow_portal::api::RequestKind::SetClientEnabled,
        Reply::ClientDeleted { .. } => axonflow_portal::api::RequestKind::DeleteClient,
        Reply::OverrideSet { .. } => axonflow_portal::api::RequestKind::SetOverride,
        Reply::OverrideCleared { .. } => axonflow_portal::api::RequestKind::ClearOverride,
        Reply::ClientLimitsChanged { .. } => axonflow_portal::api::RequestKind::SetClientLimits,
        Reply::AuditVerify(_) => axonflow_portal::api::RequestKind::AuditVerify,
        Reply::PolicyOverridden { .. } => axonflow_portal::api::RequestKind::OverridePolicy,
        Reply::PatternTested { .. } => axonflow_portal::api::RequestKind::TestPattern,
    };
    Event::Response(Response {
        kind,
        result: Ok(reply),
    })
}

pub fn clients() -> Vec<ClientInfo> {
    let client =
        |client_id: &str, name: &str, tenant: &str, enabled: bool, rpm: Option<i64>| ClientInfo {
            client_id: client_id.to_owned(),
            name: name.to_owned(),
            tenant_id: tenant.to_owned(),
            org_id: "acme".to_owned(),
            enabled,
            rate_limit_rpm: rpm,
            rate_limit_tpm: rpm.map(|n| n * 1000),
            last_used_at: enabled.then(|| "2025-03-01T10:15:00Z".to_owned()),
            created_at: Some("2025-02-01T09:00:00Z".to_owned()),
        };
    vec![
        client("billing-svc", "Billing service", "finance", true, Some(120)),
        client("support-bot", "Support chatbot", "support", true, None),
        client("legacy-etl", "Old ETL job", "finance", false, Some(10)),
    ]
}

pub fn tenants() -> Vec<TenantInfo> {
    vec![
        TenantInfo {
            tenant_id: "finance".to_owned(),
            clients: 2,
            custom_policies: 1,
            overrides: 1,
            last_activity: Some("2025-03-01T10:15:00Z".to_owned()),
        },
        TenantInfo {
            tenant_id: "support".to_owned(),
            clients: 1,
            custom_policies: 0,
            overrides: 0,
            last_activity: None,
        },
    ]
}

pub fn policies() -> Vec<PolicyInfo> {
    let policy: Vec<PolicyInfo> = serde_json::from_value(json!([
        {"id": "sys_pii_ssn", "name": "US Social Security number", "category": "pii-us",
         "action": "block", "severity": "critical", "enabled": true, "tier": "system", "override": null,
         "pattern": "\\b\\d{3}-\\d{2}-\\d{4}\\b"},
        {"id": "sys_pii_email", "name": "Email address", "category": "pii-global",
         "action": "redact", "severity": "medium", "enabled": true, "tier": "system",
         "override": {"enabled_override": false, "override_reason": "newsletter tool",
                      "created_by": "a1b2c3d4", "expires_at": null}},
        {"id": "sys_sqli_union_select", "name": "UNION SELECT injection", "category": "security-sqli",
         "action": "block", "severity": "high", "enabled": true, "tier": "system"}
    ]))
    .expect("fixed policies parse");
    policy
}

pub fn audit_rows() -> Vec<AuditRow> {
    let row = |n: u32, client: &str, tenant: &str, verdict: &str| AuditRow {
        raw: json!({
            "id": format!("0195-000{n}"),
            "decision_id": format!("0195-000{n}"),
            "timestamp": format!("2025-03-01T10:1{n}:05Z"),
            "client_id": client,
            "tenant_id": tenant,
            "org_id": "acme",
            "request_type": "chat_completions",
            "verdict": verdict,
            "provider": "openai",
            "model": "gpt-4o-mini",
            "tokens_used": 42 * n,
            "latency_ms": 120 + n,
            "policy_details": {"policies": if verdict == "deny" { json!(["sys_pii_ssn"]) } else { json!([]) }},
        }),
    };
    vec![
        row(1, "billing-svc", "finance", "allow"),
        row(2, "support-bot", "support", "deny"),
        row(3, "billing-svc", "finance", "allow"),
    ]
}

pub fn admin_entries() -> Vec<AdminEntry> {
    serde_json::from_value(json!([
        {"id": "e2", "actor": "a1b2c3d4", "action": "policy.override_set", "target": "sys_pii_email",
         "details": {"tenant_id": "finance", "reason": "newsletter tool"}, "created_at": "2025-03-01T10:20:00Z"},
        {"id": "e1", "actor": "a1b2c3d4", "action": "client.create", "target": "billing-svc",
         "details": {"tenant_id": "finance"}, "created_at": "2025-02-01T09:00:00Z"}
    ]))
    .expect("fixed admin entries parse")
}

pub fn health() -> Health {
    serde_json::from_value(json!({
        "status": "healthy", "version": "0.1.0", "deployment_mode": "enterprise", "database": "ok",
        "uptime_seconds": 7260,
        "audit": {"mode": "compliance", "queue_depth": 0, "journal_backlog": 0},
        "orchestrator": {"status": "ok", "checked_at": "2026-12-02T10:00:00Z", "http_status": 200}
    }))
    .expect("fixed health parses")
}

pub fn stats() -> Stats {
    let per_minute: Vec<serde_json::Value> = (0..60)
        .map(|minute| json!({"minute": minute, "allow": (minute * 7) % 23, "deny": minute % 4}))
        .collect();
    serde_json::from_value(json!({
        "decisions_last_hour": {"allow": 640, "deny": 90},
        "per_minute": per_minute,
        "top_policies": [{"policy_id": "sys_pii_ssn", "matches": 51}, {"policy_id": "sys_pii_email", "matches": 30}],
        "denied_share": 0.1233,
        "audit": {"queue_depth": 3, "journal_backlog": 0}
    }))
    .expect("fixed stats parse")
}

/// An app that has received every kind of answer once.
pub fn loaded_app() -> App {
    let mut app = App::new("http://localhost:8080", Instant::now());
    for reply in [
        Reply::Health(health()),
        Reply::Stats(stats()),
        Reply::Clients(clients()),
        Reply::Tenants(tenants()),
        Reply::Policies {
            tenant_id: "finance".to_owned(),
            policies: policies(),
        },
        Reply::AuditTail {
            rows: audit_rows(),
            next_after: Some("0195-0003".to_owned()),
        },
        Reply::AdminLog(admin_entries()),
    ] {
        app.update(answer(reply));
    }
    app
}
