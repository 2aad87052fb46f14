//! `GET /health`: the orchestrator and its components (database, policy engine, provider router,
//! the signed check of an agent).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use axonflow_platform::db;

use crate::state::AppState;
use crate::{SERVICE, VERSION};

pub async fn health(State(state): State<AppState>) -> Json<Value> {
    let database =
        match tokio::time::timeout(std::time::Duration::from_secs(2), db::ping(state.pool())).await
        {
            Ok(Ok(())) => "ok",
            _ => "unreachable",
        };
    let agent = state.agent().status();
    let openai_key = state.config().openai_api_key.is_some();
    Json(json!({
        "status": "healthy",
        "service": SERVICE,
        "version": VERSION,
        "components": {
            "database": {"status": database},
            "policy_engine": {
                "status": "ok",
                "system_policies": state.policies().system().len(),
            },
            "router": {
                "status": if openai_key { "ok" } else { "no_server_key" },
                "providers": if openai_key { vec!["openai"] } else { Vec::new() },
                "openai_base_url": state.config().openai_base_url,
            },
            "agent": {
                "status": agent.state,
                "checked_at": agent.checked_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
                "http_status": agent.http_status,
            },
        },
        "database": database,
        "agent": {
            "status": agent.state,
            "checked_at": agent.checked_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            "http_status": agent.http_status,
        },
        "capabilities": [
            {"name": "proxy_mode", "since": VERSION, "description": "LLM calls for Proxy Mode with output filtering"},
            {"name": "dynamic_policies", "since": VERSION, "description": "tenant policies over request facts"},
            {"name": "budgets", "since": VERSION, "description": "spending limits enforced before calls"},
            {"name": "usage", "since": VERSION, "description": "usage from the audit trail"},
        ],
    }))
}
