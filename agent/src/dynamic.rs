//! The tenant's dynamic policies on the agent's own entry points (`/v1/chat/completions`,
//! pre-check, decide): the facts of the request gathered one way, and the JSON of what matched.
//! Proxy Mode's dynamic checks run in the orchestrator.

use std::collections::HashMap;

use chrono::{Timelike, Utc};
use serde_json::{json, Value};

use axonflow_platform::facts::{estimate_tokens, weekday_name};
use axonflow_platform::internal_call::EndUser;
use axonflow_platform::policy_store::TenantPolicies;
use axonflow_policy::{DynamicDecision, Facts};

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

/// The tenant's dynamic policies on `request` (no IO).
pub fn evaluate(
    state: &AppState,
    tenant: &TenantPolicies,
    request: &Request<'_>,
) -> DynamicDecision {
    if tenant.n_dynamic() == 0 {
        return DynamicDecision::default();
    }
    let now = Utc::now();
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
    tenant.evaluate_dynamic(&Facts {
        query: request.query,
        user_id: request.user.id.as_deref(),
        user_email: request.user.email.as_deref(),
        user_role: request.user.role.as_deref(),
        request_type: Some(request.request_type),
        model: request.model,
        provider: request.provider,
        estimated_tokens,
        estimated_cost_usd,
        hour: now.hour(),
        weekday: weekday_name(now),
        context: Some(request.context),
    })
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
