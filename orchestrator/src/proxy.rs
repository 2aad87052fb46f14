//! `POST /internal/v1/proxy` (signed): Proxy Mode's LLM call, after the agent's static checks and
//! budget check. Here: the tenant's dynamic policies on the facts of the request (block, redact
//! personal data in the query, route to allowed providers, warn, log), the provider call, and output
//! filtering (values in the answer matched by a `redact` or `block` policy are masked). The agent
//! writes the call's single audit row from the answer.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Value};

use axonflow_platform::facts::{estimate_tokens, OwnedFacts};
use axonflow_platform::http::api_error::ApiError;
use axonflow_platform::http::caller::Caller;
use axonflow_platform::internal_call::{FoundMatch, ProxyAnswer, ProxyCall};
use axonflow_platform::policy_store::TenantPolicies;
use axonflow_platform::routing::{self, Restrictions};
use axonflow_policy::{Action, Decision};
use axonflow_providers::breaker::TargetKey;
use axonflow_providers::route::{Failure, RouteTarget, Router};
use axonflow_providers::{Credentials, ProviderKind};

use crate::state::AppState;

/// The provider name of calls made with the server-side `OPENAI_API_KEY`.
const LEGACY_PROVIDER: &str = "openai";
/// The model used when the client names none.
const DEFAULT_MODEL: &str = "gpt-4o-mini";

fn answer(outcome: &str) -> ProxyAnswer {
    ProxyAnswer {
        outcome: outcome.to_owned(),
        answer: None,
        block_reason: None,
        blocking_policy: None,
        dynamic_policies: Vec::new(),
        dynamic_actions: Vec::new(),
        output_matches: Vec::new(),
        provider: None,
        model: None,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        estimated_cost_usd: 0.0,
        provider_latency_ms: 0,
        error_status: None,
        error_code: None,
        error_message: None,
        details: json!({}),
    }
}

fn failed(status: u16, code: &str, message: String) -> ProxyAnswer {
    ProxyAnswer {
        error_status: Some(status),
        error_code: Some(code.to_owned()),
        error_message: Some(message),
        ..answer("failed")
    }
}

fn found(decision: &Decision) -> Vec<FoundMatch> {
    decision
        .matches
        .iter()
        .map(|m| FoundMatch {
            policy_id: m.policy_id.to_string(),
            category: m.category.to_string(),
            severity: m.severity.as_str().to_owned(),
            action: m.action.as_str().to_owned(),
            preview: m.preview.clone(),
        })
        .collect()
}

pub async fn proxy(State(state): State<AppState>, body: Bytes) -> Response {
    let call: ProxyCall = match serde_json::from_slice(&body) {
        Ok(call) => call,
        Err(error) => {
            return ApiError::bad_request(format!("not a proxy call: {error}"), "invalid_body")
                .into_response()
        }
    };
    let caller = Caller::from(call.caller.clone());
    let tenant = match state
        .policies()
        .for_tenant(state.pool(), &caller.tenant_id)
        .await
    {
        Ok(tenant) => tenant,
        Err(error) => return ApiError::from(error).into_response(),
    };
    Json(decide_and_call(&state, &tenant, call).await).into_response()
}

/// The targets of one call before policies: the tenant's providers serving `model` (restricted to
/// the one the client named), else the server-side OpenAI key.
fn plan_targets(
    state: &AppState,
    tenant: &TenantPolicies,
    call: &ProxyCall,
    model: &str,
) -> Vec<RouteTarget> {
    let only = call.provider.as_deref();
    let targets = routing::targets_for(
        &tenant.providers,
        state.config().common.provider_keys.as_deref(),
        model,
        Restrictions {
            allowed: None,
            only,
        },
    );
    // The server-side key serves only tenants that registered no provider: a tenant's calls never
    // go to a provider it did not choose.
    if !targets.is_empty() || !tenant.providers.is_empty() {
        return targets;
    }
    let legacy_allowed = only.is_none_or(|p| p.eq_ignore_ascii_case(LEGACY_PROVIDER));
    match state.config().openai_api_key.as_ref() {
        Some(key) if legacy_allowed => vec![RouteTarget {
            key: TargetKey {
                tenant: call.caller.tenant_id.clone(),
                provider: LEGACY_PROVIDER.to_owned(),
                model: model.to_owned(),
            },
            kind: ProviderKind::OpenAi,
            endpoint: state.config().openai_base_url.clone(),
            api_version: None,
            region: None,
            credentials: Some(Credentials::new(key.expose().to_owned())),
            priority: 0,
            weight: 1,
            attempt_timeout: state.config().upstream_timeout,
            rate_limit: None,
        }],
        _ => Vec::new(),
    }
}

/// Why routing produced no answer, as Proxy Mode reports it.
fn routing_failure(failure: Failure, timeout_secs: u64) -> ProxyAnswer {
    match failure {
        Failure::Unsupported(error) => failed(400, "unsupported_parameter", error.message),
        Failure::Refused(error) => failed(
            if (400..500).contains(&error.status) { error.status } else { 502 },
            "provider_refused",
            error.message,
        ),
        Failure::Broken(error) => failed(502, "upstream_error", error.message),
        Failure::TooLarge { limit_bytes } => failed(
            502,
            "upstream_response_too_large",
            format!("the provider's answer is larger than {limit_bytes} bytes (AXONFLOW_MAX_RESPONSE_BYTES)"),
        ),
        Failure::AllFailed(last) => failed(
            502,
            "upstream_unreachable",
            match last {
                Some(error) => format!("every provider target failed; the last said: {}", error.message),
                None => "every provider target failed or is unreachable".to_owned(),
            },
        ),
        Failure::Deadline => failed(
            504,
            "upstream_timeout",
            format!("no provider answered within {timeout_secs} s (AXONFLOW_UPSTREAM_TIMEOUT_SECS)"),
        ),
        Failure::Unavailable => failed(
            503,
            "providers_unavailable",
            "every provider serving this model is skipped for now (circuit breaker open or rate limit \
             spent); nothing was sent, retry shortly"
                .to_owned(),
        ),
    }
}

async fn decide_and_call(
    state: &AppState,
    tenant: &std::sync::Arc<TenantPolicies>,
    call: ProxyCall,
) -> ProxyAnswer {
    let requested = call
        .model
        .clone()
        .filter(|m| !m.trim().is_empty())
        .or_else(|| routing::default_model(&tenant.providers).map(str::to_owned))
        .unwrap_or_else(|| DEFAULT_MODEL.to_owned());
    let mut targets = plan_targets(state, tenant, &call, &requested);
    // An exhausted downgrade budget: each target's cheapest listed model, when it is cheaper.
    let mut downgraded = false;
    if call.downgrade {
        for target in &mut targets {
            if let Some(cheaper) = state
                .pricing()
                .cheaper_model(target.kind.as_str(), target.model())
            {
                target.key.model = cheaper.to_owned();
                downgraded = true;
            }
        }
    }
    let first = targets.iter().max_by_key(|t| t.priority);
    let provider_fact = call
        .provider
        .clone()
        .or_else(|| first.map(|t| t.provider().to_owned()))
        .unwrap_or_else(|| LEGACY_PROVIDER.to_owned());
    let model = first.map_or_else(|| requested.clone(), |t| t.model().to_owned());
    let now = Utc::now();
    let estimated_tokens = estimate_tokens(call.query.len());
    let estimated_cost = state
        .pricing()
        .estimate(
            first.map_or(LEGACY_PROVIDER, |t| t.kind.as_str()),
            &model,
            estimated_tokens,
            0,
        )
        .usd;
    let facts = OwnedFacts {
        query: call.query.clone(),
        user: call.user.clone(),
        request_type: Some(call.request_type.clone()),
        model: Some(model.clone()),
        provider: Some(provider_fact),
        estimated_tokens,
        estimated_cost_usd: estimated_cost,
        at: now,
        context: call.context.clone(),
    };
    let dynamic = match state.policies().evaluate_dynamic(tenant, facts).await {
        Ok(dynamic) => dynamic,
        Err(_) => return failed(500, "internal_error", "policy evaluation failed".to_owned()),
    };
    let dynamic_policies: Vec<String> = dynamic
        .policy_ids()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let dynamic_actions: Vec<String> = dynamic
        .matches
        .iter()
        .flat_map(|m| m.actions.iter().map(|a| a.as_str().to_owned()))
        .collect();
    let with_dynamic = |mut answer: ProxyAnswer| {
        answer.dynamic_policies = dynamic_policies.clone();
        answer.dynamic_actions = dynamic_actions.clone();
        answer
    };
    if let Some(reason) = dynamic.block_reason() {
        return with_dynamic(ProxyAnswer {
            block_reason: Some(reason),
            blocking_policy: dynamic.blocking_policy().map(str::to_owned),
            ..answer("blocked")
        });
    }
    if let Some(allowed) = dynamic.allowed_providers() {
        let planned = !targets.is_empty();
        targets.retain(|target| routing::is_allowed(target, &allowed));
        if planned && targets.is_empty() {
            return with_dynamic(ProxyAnswer {
                block_reason: Some(format!(
                    "a routing policy allows only {} and none of them is available",
                    allowed.join(", ")
                )),
                ..answer("blocked")
            });
        }
    }
    if targets.is_empty() {
        return with_dynamic(match &call.provider {
            Some(provider) => failed(
                400,
                "unknown_provider",
                format!("no provider {provider:?} of your tenant serves model {requested:?}"),
            ),
            None if tenant.providers.is_empty() => failed(
                503,
                "no_provider",
                "no provider is configured for Proxy Mode: register one at /api/v1/llm-providers, or set \
                 OPENAI_API_KEY on the orchestrator"
                    .to_owned(),
            ),
            None => failed(
                400,
                "no_route",
                format!("no enabled provider of your tenant serves model {requested:?}"),
            ),
        });
    }
    // A redacting dynamic policy masks every piece of personal data in the query before it leaves.
    let mut query = call.query.clone();
    if dynamic.redacts() {
        let decision = match state.policies().evaluate_one(tenant, query.clone()).await {
            Ok(decision) => decision,
            Err(_) => {
                return with_dynamic(failed(
                    500,
                    "internal_error",
                    "policy evaluation failed".to_owned(),
                ))
            }
        };
        if let Some(masked) = decision.mask_where(&query, |m| m.category.starts_with("pii-")) {
            query = masked;
        }
    }
    let targets = Router::order(targets);
    let request = json!({"model": requested, "messages": [{"role": "user", "content": query}]});
    let timeout = state.config().upstream_timeout;
    let routed = state
        .router()
        .call(&targets, &request, Instant::now() + timeout)
        .await;
    let attempts = routing::attempts_json(&routed.attempts);
    let served = match routed.result {
        Ok(served) => served,
        Err(failure) => {
            let mut failure = routing_failure(failure, timeout.as_secs().max(1));
            // A provider that answered (even an error) was called: the row says which.
            if let Some(called) = routed.attempts.iter().rev().find(|a| a.status.is_some()) {
                failure.provider = Some(called.provider.clone());
                failure.model = Some(called.model.clone());
            }
            failure.details = json!({"attempts": attempts});
            return with_dynamic(failure);
        }
    };
    let Some(target) = targets.get(served.target) else {
        return with_dynamic(failed(
            500,
            "internal_error",
            "routing lost its target".to_owned(),
        ));
    };
    let provider_type = target.kind.as_str();
    let usage = served.completion.usage;
    let (prompt_tokens, completion_tokens) = (usage.prompt_tokens, usage.completion_tokens);
    let total_tokens = match usage.total_tokens {
        0 => prompt_tokens.saturating_add(completion_tokens),
        total => total,
    };
    let served_model = target.model().to_owned();
    let cost = state.pricing().estimate(
        provider_type,
        &served_model,
        u64::from(prompt_tokens),
        u64::from(completion_tokens),
    );
    let details = json!({
        "pricing": {"priced_as": cost.priced_as, "fallback": cost.fallback},
        "query_redacted": query != call.query,
        "downgraded": downgraded,
        "provider_type": provider_type,
        "response_model": served.completion.model,
        "attempts": attempts,
    });
    // The provider billed the call: the tokens and cost are recorded whatever happens next.
    let billed = |failure: ProxyAnswer| ProxyAnswer {
        provider: Some(target.provider().to_owned()),
        model: Some(served_model.clone()),
        prompt_tokens,
        completion_tokens,
        total_tokens,
        estimated_cost_usd: cost.usd,
        provider_latency_ms: served.latency_ms,
        details: details.clone(),
        ..failure
    };
    let Some(text) = served
        .completion
        .body
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return with_dynamic(billed(failed(
            502,
            "upstream_error",
            format!(
                "the provider {} answered without a message",
                target.provider()
            ),
        )));
    };
    // Output filtering: what a `redact` or `block` policy matches in the answer is masked.
    let output = match state.policies().evaluate_one(tenant, text.clone()).await {
        Ok(decision) => decision,
        Err(_) => {
            return with_dynamic(billed(failed(
                500,
                "internal_error",
                "output filtering failed".to_owned(),
            )))
        }
    };
    let filtered = output
        .mask_where(&text, |m| {
            matches!(m.action, Action::Redact | Action::Block)
        })
        .unwrap_or(text);
    with_dynamic(billed(ProxyAnswer {
        answer: Some(filtered),
        output_matches: found(&output),
        ..answer("answered")
    }))
}
