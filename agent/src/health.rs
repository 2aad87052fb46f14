//! `GET /health`: liveness, version, capabilities and SDK compatibility. Public in every mode.

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::state::AppState;

pub const SERVICE: &str = "axonflow-agent";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Serialize)]
pub struct Capability {
    name: &'static str,
    since: &'static str,
    description: &'static str,
}

#[derive(Serialize)]
pub struct SdkVersions {
    python: &'static str,
    typescript: &'static str,
    go: &'static str,
    java: &'static str,
}

#[derive(Serialize)]
pub struct SdkCompatibility {
    min_sdk_version: SdkVersions,
    recommended_sdk_version: SdkVersions,
}

#[derive(Serialize)]
pub struct Peer {
    status: &'static str,
    checked_at: Option<String>,
    http_status: Option<u16>,
}

#[derive(Serialize)]
pub struct ProxyMode {
    available: bool,
    reason: &'static str,
}

#[derive(Serialize)]
pub struct AuditHealth {
    mode: &'static str,
    database_ok: bool,
    queue_depth: u64,
    journal_backlog: u64,
    rows_replayed: u64,
    write_failures: u64,
    journal_failures: u64,
}

#[derive(Serialize)]
pub struct Health {
    status: &'static str,
    service: &'static str,
    version: &'static str,
    deployment_mode: &'static str,
    uptime_seconds: u64,
    database: &'static str,
    /// The last signed check of the orchestrator (`not_configured` without a service secret).
    orchestrator: Peer,
    /// Whether `POST /api/request` can reach its orchestrator now.
    proxy_mode: ProxyMode,
    audit: AuditHealth,
    capabilities: Vec<Capability>,
    sdk_compatibility: SdkCompatibility,
}

const CAPABILITIES: &[(&str, &str, &str)] = &[
    (
        "openai_gateway",
        "0.1.0",
        "OpenAI-compatible POST /v1/chat/completions with policy enforcement and audit",
    ),
    (
        "gateway_mode",
        "0.1.0",
        "Gateway Mode: POST /api/policy/pre-check and POST /api/audit/llm-call",
    ),
    (
        "decision_mode",
        "0.1.0",
        "Decision Mode: POST /api/v1/decide with redact_pii obligations fulfilled at POST /api/v1/mcp/check-input",
    ),
    (
        "static_policies",
        "0.1.0",
        "System policies (validated PII, secrets, SQL injection, dangerous SQL) and tenant regex/keyword policies",
    ),
    (
        "policy_overrides",
        "0.1.0",
        "Per-tenant overrides of a system policy's action or enabled flag, with optional expiry",
    ),
    (
        "audit_search",
        "0.1.0",
        "POST /api/v1/audit/search and GET /api/v1/audit/tenant/{tenant_id}",
    ),
    (
        "audit_trail",
        "0.1.0",
        "Every decision recorded in llm_call_audits with tokens, cost, latency and verdict",
    ),
    (
        "rate_limits",
        "0.1.0",
        "Per-client requests and tokens per minute shared across replicas, reported in pre-check rate_limit",
    ),
    (
        "proxy_mode",
        "0.1.0",
        "Proxy Mode: POST /api/request, static checks here, dynamic policies, the LLM call and output filtering in the orchestrator",
    ),
    (
        "dynamic_policies",
        "0.1.0",
        "Tenant policies over request facts, enforced in Proxy Mode, on /v1/chat/completions, pre-check and decide",
    ),
    (
        "budgets",
        "0.1.0",
        "Spending limits per organization, tenant, client, workflow or user, enforced before calls",
    ),
    (
        "enterprise_auth",
        "0.1.0",
        "DEPLOYMENT_MODE=enterprise: Basic client_id:client_secret (argon2id-hashed secrets), tenants, admin API",
    ),
];

pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let database = match tokio::time::timeout(
        Duration::from_secs(2),
        axonflow_platform::db::ping(state.pool()),
    )
    .await
    {
        Ok(Ok(())) => "ok",
        _ => "unreachable",
    };
    let peer = state.orchestrator().status();
    let audit = state.audit().stats();
    Json(Health {
        status: "healthy",
        service: SERVICE,
        version: VERSION,
        deployment_mode: match state.config().common.deployment_mode {
            axonflow_platform::config::DeploymentMode::Community => "community",
            axonflow_platform::config::DeploymentMode::Enterprise => "enterprise",
        },
        uptime_seconds: state.uptime_secs(),
        database,
        proxy_mode: ProxyMode {
            available: peer.state == "ok",
            reason: match peer.state {
                "ok" => "the orchestrator answers signed calls",
                "not_configured" => "needs AXONFLOW_INTERNAL_SERVICE_SECRET (the same on both services) and ORCHESTRATOR_URL",
                "unauthorized" => "the orchestrator refuses this agent's signature: the internal secrets differ",
                "pending" => "the orchestrator has not been checked yet",
                _ => "the orchestrator does not answer",
            },
        },
        orchestrator: Peer {
            status: peer.state,
            checked_at: peer.checked_at.map(crate::time::rfc3339),
            http_status: peer.http_status,
        },
        audit: AuditHealth {
            mode: match audit.mode {
                axonflow_platform::audit::AuditMode::Compliance => "compliance",
                axonflow_platform::audit::AuditMode::Performance => "performance",
            },
            database_ok: audit.database_ok,
            queue_depth: audit.queue_depth,
            journal_backlog: audit.journal_backlog,
            rows_replayed: audit.rows_replayed,
            write_failures: audit.write_failures,
            journal_failures: audit.journal_failures,
        },
        capabilities: CAPABILITIES
            .iter()
            .map(|(name, since, description)| Capability {
                name,
                since,
                description,
            })
            .collect(),
        sdk_compatibility: SdkCompatibility {
            min_sdk_version: SdkVersions {
                python: "8.0.0",
                typescript: "8.0.0",
                go: "8.0.0",
                java: "8.0.0",
            },
            recommended_sdk_version: SdkVersions {
                python: "9.5.0",
                typescript: "9.5.0",
                go: "9.5.0",
                java: "9.5.0",
            },
        },
    })
}
