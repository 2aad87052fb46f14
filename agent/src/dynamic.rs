//! The tenant's dynamic policies on the agent's own entry points (`/v1/chat/completions`,
//! pre-check, decide): the facts of the request gathered one way, and the JSON of what matched.
//! Proxy Mode's dynamic checks run in the orchestrator.

use std::collections::HashMap;

use std::sync::Arc;

use chrono::Utc;
use serde_json::{json, Value};

use axonflow_platform::cpu::JobFailed;
use axonflow_platform::facts::{estimate_tokens, OwnedFacts};
use axonflow_platform::internal_call::EndUser;
use axonflow_platform::policy_store::TenantPolicies;
use axonflow_policy::DynamicDecision;

use crate::state::AppState;

/// What is known of a request besides its text.
pub struct Request<'a> {
    pub query: &'a str,
    pub user: &'a EndUser,
    pub request_type: &'a str,
    pub model: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub context: &'a HashMap<String, String>,
}

/// The tenant's dynamic policies on `request` (no IO; on the CPU pool when the text is large).
pub async fn evaluate(
    state: &AppState,
    tenant: &Arc<TenantPolicies>,
    request: &Request<'_>,
) -> Result<DynamicDecision, JobFailed> {
    if tenant.n_dynamic() == 0 {
        return Ok(DynamicDecision::default());
    }
    let estimated_tokens = estimate_tokens(request.query.len());
    let estimated_cost_usd = state
        .pricing()
        .estimate(
            request.provider.unwrap_or("openai"),
            request.model.unwrap_or_default(),
            estimated_tokens,
            0,
        )
        .usd;
    let facts = OwnedFacts {
        query: request.query.to_owned(),
        user: request.user.clone(),
        request_type: Some(request.request_type.to_owned()),
        model: request.model.map(str::to_owned),
        provider: request.provider.map(str::to_owned),
        estimated_tokens,
        estimated_cost_usd,
        at: Utc::now(),
        context: request.context.clone(),
    };
    state.policies().evaluate_dynamic(tenant, facts).await
}

/// `[{policy_id, name, actions}]` for the audit row.
pub fn matches_json(decision: &DynamicDecision) -> Value {
    Value::Array(
        decision
            .matches
            .iter()
            .map(|m| {
                json!({
                    "policy_id": &*m.policy_id,
                    "name": &*m.policy_name,
                    "actions": m.actions.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// Why a routing policy refuses `provider`, if it does.
pub fn route_refusal(decision: &DynamicDecision, provider: &str) -> Option<String> {
    let allowed = decision.allowed_providers()?;
    (!allowed.iter().any(|p| p.eq_ignore_ascii_case(provider))).then(|| {
        format!(
            "a routing policy allows only {} for this request, not {provider}",
            allowed.join(", ")
        )
    })
}
