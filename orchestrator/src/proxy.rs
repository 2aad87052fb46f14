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
use axonflow_policy::{Action, Decision};

use crate::state::AppState;

/// The provider Proxy Mode calls with the server-side key.
const PROVIDER: &str = "openai";
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

async fn decide_and_call(
    state: &AppState,
    tenant: &std::sync::Arc<TenantPolicies>,
    call: ProxyCall,
) -> ProxyAnswer {
    let requested = call
        .model
        .clone()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_MODEL.to_owned());
    // An exhausted downgrade budget: the provider's cheapest listed model, when it is cheaper.
    let downgraded = call
        .downgrade
        .then(|| state.pricing().cheaper_model(PROVIDER, &requested))
        .flatten()
        .map(str::to_owned);
    let model = downgraded.clone().unwrap_or_else(|| requested.clone());
    let now = Utc::now();
    let estimated_tokens = estimate_tokens(call.query.len());
    let estimated_cost = state
        .pricing()
        .estimate(PROVIDER, &model, estimated_tokens, 0)
        .usd;
    let facts = OwnedFacts {
        query: call.query.clone(),
        user: call.user.clone(),
        request_type: Some(call.request_type.clone()),
        model: Some(model.clone()),
        provider: Some(call.provider.clone().unwrap_or_else(|| PROVIDER.to_owned())),
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
        if !allowed.iter().any(|p| p.eq_ignore_ascii_case(PROVIDER)) {
            return with_dynamic(ProxyAnswer {
                block_reason: Some(format!(
                    "a routing policy allows only {} and none of them is available",
                    allowed.join(", ")
                )),
                ..answer("blocked")
            });
        }
    }
    if let Some(provider) = call
        .provider
        .as_deref()
        .filter(|p| !p.eq_ignore_ascii_case(PROVIDER))
    {
        return with_dynamic(failed(
            400,
            "unknown_provider",
            format!(
                "provider {provider:?} is not registered for your tenant (available: {PROVIDER})"
            ),
        ));
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
    let Some(key) = state.config().openai_api_key.as_ref() else {
        return with_dynamic(failed(
            503,
            "no_provider",
            "no provider is configured for Proxy Mode: set OPENAI_API_KEY on the orchestrator"
                .to_owned(),
        ));
    };
    let started = Instant::now();
    let sent = state
        .http()
        .post(format!(
            "{}/chat/completions",
            state.config().openai_base_url
        ))
        .bearer_auth(key.expose())
        .json(&json!({"model": model, "messages": [{"role": "user", "content": query}]}))
        .timeout(state.config().upstream_timeout)
        .send()
        .await;
    let upstream = match sent {
        Ok(upstream) => upstream,
        Err(error) => {
            let (status, code) = if error.is_timeout() {
                (504, "upstream_timeout")
            } else {
                (502, "upstream_unreachable")
            };
            tracing::warn!(error = %error.without_url(), "proxy provider call failed");
            return with_dynamic(failed(
                status,
                code,
                format!("the provider {PROVIDER} could not be reached"),
            ));
        }
    };
    let status = upstream.status();
    let body = read_capped(upstream, state.config().max_response_bytes).await;
    let provider_latency_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    let Some(body) = body else {
        return with_dynamic(failed(
            502,
            "upstream_error",
            format!("the provider {PROVIDER}'s answer could not be read in full"),
        ));
    };
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !status.is_success() {
        let message = parsed
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("the provider refused the call");
        return with_dynamic(ProxyAnswer {
            provider: Some(PROVIDER.to_owned()),
            model: Some(model),
            provider_latency_ms,
            ..failed(
                502,
                "upstream_error",
                format!("{PROVIDER} answered {}: {message}", status.as_u16()),
            )
        });
    }
    let tokens = |field: &str| {
        parsed
            .pointer(&format!("/usage/{field}"))
            .and_then(Value::as_u64)
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    let (prompt_tokens, completion_tokens) = (tokens("prompt_tokens"), tokens("completion_tokens"));
    let total_tokens = match tokens("total_tokens") {
        0 => prompt_tokens.saturating_add(completion_tokens),
        total => total,
    };
    let served_model = parsed
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(&model)
        .to_owned();
    let cost = state.pricing().estimate(
        PROVIDER,
        &served_model,
        u64::from(prompt_tokens),
        u64::from(completion_tokens),
    );
    // The provider billed the call: the tokens and cost are recorded whatever happens next.
    let billed = |failure: ProxyAnswer| ProxyAnswer {
        provider: Some(PROVIDER.to_owned()),
        model: Some(served_model.clone()),
        prompt_tokens,
        completion_tokens,
        total_tokens,
        estimated_cost_usd: cost.usd,
        provider_latency_ms,
        ..failure
    };
    let Some(text) = parsed
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return with_dynamic(billed(failed(
            502,
            "upstream_error",
            format!("the provider {PROVIDER} answered without a message"),
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
    with_dynamic(ProxyAnswer {
        answer: Some(filtered),
        output_matches: found(&output),
        provider: Some(PROVIDER.to_owned()),
        model: Some(served_model),
        prompt_tokens,
        completion_tokens,
        total_tokens,
        estimated_cost_usd: cost.usd,
        provider_latency_ms,
        details: json!({
            "pricing": {"priced_as": cost.priced_as, "fallback": cost.fallback},
            "query_redacted": query != call.query,
            "downgraded": downgraded.is_some(),
        }),
        ..answer("answered")
    })
}

/// The provider's answer, at most `limit` bytes; `None` when longer or broken off.
async fn read_capped(mut upstream: reqwest::Response, limit: usize) -> Option<Vec<u8>> {
    if upstream.content_length().is_some_and(|n| n > limit as u64) {
        return None;
    }
    let mut body = Vec::new();
    // The request's own timeout bounds the reading.
    while let Some(chunk) = upstream.chunk().await.ok()? {
        if body.len() + chunk.len() > limit {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}
