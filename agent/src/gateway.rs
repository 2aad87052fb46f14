//! Gateway Mode: `POST /api/policy/pre-check` decides on a query and leaves a context behind (hashes
//! only); the client calls its LLM itself, then `POST /api/audit/llm-call` records the call against
//! that context with tokens, cost and latency.
//!
//! An llm-call audit for a context that was denied is recorded (verdict `deny`, flagged
//! `llm_call_after_denied_pre_check`) and answered 409, so that neither the row nor the violation is
//! lost. Unknown, foreign and expired contexts are refused with 400 and not recorded: they name no
//! decision.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use axonflow_platform::audit::chain::sha256_hex;
use axonflow_platform::audit::{AuditRecord, AuditSource};
use axonflow_platform::budget::{self, RequestScope};
use axonflow_platform::db::{self, GatewayContext};
use axonflow_platform::facts::{end_user, flatten_context};
use axonflow_policy::Verdict;

use crate::auth::Caller;
use crate::decisions;
use crate::error::{check_stored_size, ApiError, ApiJson};
use crate::ratelimit;
use crate::state::AppState;
use crate::time::rfc3339;

/// Longest response summary kept (masked) in the audit row; the hash covers all of it.
const SUMMARY_KEEP_CHARS: usize = 500;
/// Largest client metadata object stored (masked) with an llm-call audit.
const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Largest response summary accepted (it is evaluated whole, hashed, and kept masked and cut).
const MAX_SUMMARY_BYTES: usize = 64 * 1024;
/// `data_sources` of a pre-check, stored masked: at most this many, each at most this long.
const MAX_DATA_SOURCES: usize = 64;
const MAX_DATA_SOURCE_BYTES: usize = 256;
/// `context` of a pre-check or decide (accepted, never stored) and `user_token` (stored as a hash).
const MAX_CONTEXT_BYTES: usize = 64 * 1024;
const MAX_USER_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
pub struct PreCheckRequest {
    #[serde(default)]
    user_token: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    query: String,
    #[serde(default)]
    data_sources: Option<Vec<String>>,
    /// Accepted for SDK compatibility; may hold personal data, so it is never stored.
    #[serde(default)]
    context: Option<Value>,
}

/// Refuses a query longer than the scan limit (413): nothing is decided on text not read whole.
pub fn check_scan_limit(state: &AppState, field: &'static str, text: &str) -> Result<(), ApiError> {
    let limit_bytes = state.config().policy_scan_limit_bytes;
    if text.len() > limit_bytes {
        return Err(ApiError::InputTooLarge { field, limit_bytes });
    }
    Ok(())
}

/// What pre-check and decide share: the query within the scan limit, `context` and `user_token`
/// within their caps.
pub fn check_query_inputs(
    state: &AppState,
    query: &str,
    context: Option<&Value>,
    user_token: Option<&str>,
) -> Result<(), ApiError> {
    check_scan_limit(state, "query", query)?;
    check_stored_size(
        "context",
        context.unwrap_or(&Value::Null),
        MAX_CONTEXT_BYTES,
    )?;
    check_stored_size(
        "user_token",
        &json!(user_token.unwrap_or("")),
        MAX_USER_TOKEN_BYTES,
    )
}

fn check_data_sources(sources: &[String]) -> Result<(), ApiError> {
    if sources.len() > MAX_DATA_SOURCES || sources.iter().any(|s| s.len() > MAX_DATA_SOURCE_BYTES) {
        return Err(ApiError::bad_request(
            format!(
                "data_sources holds at most {MAX_DATA_SOURCES} names of at most {MAX_DATA_SOURCE_BYTES} bytes each"
            ),
            "field_too_large",
        ));
    }
    Ok(())
}

pub async fn pre_check(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<PreCheckRequest>,
) -> Result<Response, ApiError> {
    let client_id = caller.effective_client_id(request.client_id.as_deref());
    check_query_inputs(
        &state,
        &request.query,
        request.context.as_ref(),
        request.user_token.as_deref(),
    )?;
    let data_sources = request.data_sources.unwrap_or_default();
    check_data_sources(&data_sources)?;
    let now = Utc::now();
    let rate = ratelimit::count(&state, &caller, &client_id).await;
    if rate.exceeded.is_some() {
        return Err(rate.to_api_error(now));
    }
    let tenant = state
        .policies()
        .for_tenant(state.pool(), &caller.tenant_id)
        .await?;
    let mut decision = state
        .policies()
        .evaluate_one(&tenant, request.query.clone())
        .await?;
    let data_sources = decisions::mask_for_storage(&state, &tenant, json!(data_sources)).await?;
    // The tenant's dynamic policies decide here too: the client calls its LLM with what is approved.
    let context_map = match &request.context {
        Some(Value::Object(context)) => context.clone(),
        _ => serde_json::Map::new(),
    };
    let text_of = |key: &str| context_map.get(key).and_then(Value::as_str);
    let user = end_user(request.user_token.as_deref(), &context_map);
    let dynamic = crate::dynamic::evaluate(
        &state,
        &tenant,
        &crate::dynamic::Request {
            query: &request.query,
            user: &user,
            request_type: text_of("request_type").unwrap_or("chat"),
            model: text_of("model"),
            provider: text_of("provider"),
            context: &flatten_context(&context_map)?,
        },
    )
    .await?;
    let dynamic_refusal = dynamic
        .block_reason()
        .or_else(|| text_of("provider").and_then(|p| crate::dynamic::route_refusal(&dynamic, p)));
    if dynamic_refusal.is_some() {
        decision.verdict = Verdict::Deny;
    }
    if dynamic.redacts() {
        decision.redacted_text = decision.mask_where(&request.query, |m| dynamic.masks(m));
    }
    // Budgets that block refuse the call here too: the client must not call its LLM.
    let workflow_id =
        decisions::stored_workflow_id(&state, &tenant, text_of("workflow_id")).await?;
    let user_hash = user.id.as_deref().map(axonflow_platform::budget::user_hash);
    let mut budget_refusal = None;
    if decision.verdict == Verdict::Allow && dynamic_refusal.is_none() {
        let scope = RequestScope {
            org_id: caller.org_id.clone(),
            tenant_id: caller.tenant_id.clone(),
            client_id: client_id.clone(),
            user_id: user.id.clone(),
            workflow_id: workflow_id.clone(),
        };
        if let Some((budget, status)) =
            budget::check(state.pool(), state.spend(), &tenant.budgets, &scope, now)
                .await?
                .blocking
        {
            decision.verdict = Verdict::Deny;
            budget_refusal = Some((budget.id.clone(), budget::exhausted(&budget, &status)));
        }
    }
    let approved = decision.verdict == Verdict::Allow;
    let decision_id = Uuid::now_v7();
    let context_id = Uuid::now_v7();
    let ttl =
        TimeDelta::from_std(state.config().gateway_context_ttl).unwrap_or(TimeDelta::minutes(5));
    let expires_at = now + ttl;
    let policies: Vec<String> = decision
        .policy_ids()
        .into_iter()
        .chain(dynamic.policy_ids())
        .map(str::to_owned)
        .collect();
    let block_reason = decision
        .block_reason()
        .or(dynamic_refusal)
        .or_else(|| budget_refusal.as_ref().map(|(_, reason)| reason.clone()));
    let requires_redaction = approved && decision.redacted_text.is_some();
    let context = GatewayContext {
        context_id,
        decision_id,
        client_id: client_id.clone(),
        tenant_id: caller.tenant_id.clone(),
        org_id: caller.org_id.clone(),
        user_token_hash: sha256_hex(request.user_token.as_deref().unwrap_or("")),
        query_hash: sha256_hex(&request.query),
        policies: policies.clone(),
        approved,
        requires_redaction,
        block_reason: block_reason.clone(),
        expires_at,
        user_hash: user_hash.clone(),
        workflow_id: workflow_id.clone(),
    };
    let metadata = json!({
        "context_id": context_id,
        "policies": policies,
        "matches": decisions::matches_json(&decision),
        "frameworks": decision.frameworks(),
        "requires_redaction": requires_redaction,
        "redacted": requires_redaction,
        "block_reason": block_reason,
        "data_sources": data_sources,
    });
    let mut metadata = metadata;
    if !dynamic.matches.is_empty() {
        metadata["dynamic_policies"] = crate::dynamic::matches_json(&dynamic);
    }
    if let Some(hash) = &user_hash {
        metadata["user_hash"] = json!(hash);
    }
    if let Some(workflow) = &workflow_id {
        metadata["workflow_id"] = json!(workflow);
    }
    if let Some((budget_id, _)) = &budget_refusal {
        metadata["budget_id"] = json!(budget_id);
    }
    let record = AuditRecord {
        http_status: Some(200),
        created_at: now,
        ..AuditRecord::decision(
            decision_id,
            AuditSource::PreCheck,
            client_id.clone(),
            caller.tenant_id.clone(),
            caller.org_id.clone(),
            decision.verdict,
            metadata,
        )
    };
    // Two independent commits: run them together.
    let (stored, audited) = tokio::join!(
        crate::contexts::store(&state, context),
        decisions::write_audit(&state, record)
    );
    stored?;
    audited?;
    tracing::info!(%decision_id, %context_id, approved, n_matches = decision.matches.len(), "pre-check");
    Ok(Json(PreCheckResponse {
        approved,
        approved_data: ApprovedData {
            query: approved.then(|| decision.redacted_text.as_deref().unwrap_or(&request.query)),
        },
        block_reason: block_reason.as_deref(),
        context_id,
        decision_id,
        engine: "axonflow-policy",
        expires_at: rfc3339(expires_at),
        frameworks: decision.frameworks(),
        policies: &policies,
        rate_limit: RateLimitView {
            limit: rate.limit,
            remaining: rate.remaining,
            reset_at: rfc3339(rate.reset_at),
        },
        requires_redaction,
        verdict: decision.verdict.as_str(),
    })
    .into_response())
}

/// The answer of `pre_check`, written straight from the decision (no intermediate JSON tree).
/// Fields in the order of their names, as the answer has always listed them.
#[derive(Serialize)]
struct PreCheckResponse<'a> {
    approved: bool,
    approved_data: ApprovedData<'a>,
    block_reason: Option<&'a str>,
    context_id: Uuid,
    decision_id: Uuid,
    engine: &'static str,
    expires_at: String,
    frameworks: Vec<&'a str>,
    policies: &'a [String],
    rate_limit: RateLimitView,
    requires_redaction: bool,
    verdict: &'static str,
}

/// `{"query": ...}` when approved, `{}` when not.
#[derive(Serialize)]
struct ApprovedData<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
}

#[derive(Serialize)]
struct RateLimitView {
    limit: u32,
    remaining: u32,
    reset_at: String,
}

#[derive(Debug, Deserialize)]
pub struct TokenUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
    #[serde(default)]
    total_tokens: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub struct LlmCallRequest {
    context_id: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    response_summary: Option<String>,
    provider: String,
    model: String,
    #[serde(default)]
    token_usage: Option<TokenUsage>,
    #[serde(default)]
    latency_ms: u32,
    #[serde(default)]
    metadata: Option<Value>,
}

fn unknown_context(context_id: &str) -> ApiError {
    ApiError::bad_request(
        format!(
            "unknown context_id {context_id:?}: no pre-check of this client made it; call the pre-check first \
             and pass its context_id"
        ),
        "unknown_context",
    )
}

fn checked_name(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.len() > 200 {
        return Err(ApiError::bad_request(
            format!("{field} must be a non-empty string of at most 200 bytes"),
            "invalid_field",
        ));
    }
    Ok(value.to_owned())
}

pub async fn llm_call(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<LlmCallRequest>,
) -> Result<Response, ApiError> {
    let client_id = caller.effective_client_id(request.client_id.as_deref());
    let provider = checked_name("provider", &request.provider)?;
    let model = checked_name("model", &request.model)?;
    let summary = request.response_summary.unwrap_or_default();
    if summary.len() > MAX_SUMMARY_BYTES.min(state.config().policy_scan_limit_bytes) {
        return Err(ApiError::bad_request(
            format!(
                "response_summary is {} bytes; at most {} bytes are accepted",
                summary.len(),
                MAX_SUMMARY_BYTES.min(state.config().policy_scan_limit_bytes)
            ),
            "field_too_large",
        ));
    }
    let client_metadata = match request.metadata {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(object)) => Value::Object(object),
        Some(_) => {
            return Err(ApiError::bad_request(
                "metadata must be a JSON object",
                "invalid_field",
            ))
        }
    };
    check_stored_size("metadata", &client_metadata, MAX_METADATA_BYTES)?;
    let Ok(context_id) = request.context_id.trim().parse::<Uuid>() else {
        return Err(unknown_context(&request.context_id));
    };
    let Some(stored) = crate::contexts::find(&state, context_id, &caller.tenant_id).await? else {
        return Err(unknown_context(&request.context_id));
    };
    if stored.context.client_id != client_id {
        return Err(unknown_context(&request.context_id));
    }
    if stored.expired {
        return Err(ApiError::bad_request(
            format!(
                "context {context_id} expired at {}; run the pre-check again before the LLM call",
                rfc3339(stored.context.expires_at)
            ),
            "context_expired",
        ));
    }
    let audit_number = db::claim_gateway_context(state.pool(), context_id).await?;

    let usage = request.token_usage.unwrap_or(TokenUsage {
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: None,
    });
    let total_tokens = usage
        .total_tokens
        .unwrap_or_else(|| usage.prompt_tokens.saturating_add(usage.completion_tokens));
    let cost = state.pricing().estimate(
        &provider,
        &model,
        u64::from(usage.prompt_tokens),
        u64::from(usage.completion_tokens),
    );
    // The whole summary is evaluated with the tenant's policies and masked before it is cut, so no
    // value survives half-cut at the end of the kept part.
    let tenant = state
        .policies()
        .for_tenant(state.pool(), &caller.tenant_id)
        .await?;
    let summary_decision = state
        .policies()
        .evaluate_one(&tenant, summary.clone())
        .await?;
    let masked_summary = summary_decision.mask_every_match(&summary);
    let kept: String = masked_summary.chars().take(SUMMARY_KEEP_CHARS).collect();
    let summary_cut = kept.len() < masked_summary.len();
    let stored_names =
        decisions::mask_for_storage(&state, &tenant, json!([provider, model])).await?;
    let (provider, model) = (
        stored_names[0].as_str().unwrap_or_default().to_owned(),
        stored_names[1].as_str().unwrap_or_default().to_owned(),
    );
    let client_metadata = decisions::mask_for_storage(&state, &tenant, client_metadata).await?;
    let approved = stored.context.approved;
    let decision_id = Uuid::now_v7();
    let mut metadata = json!({
        "context_id": context_id,
        "pre_check_decision_id": stored.context.decision_id,
        "pre_check_policies": stored.context.policies,
        "context_approved": approved,
        "context_audit_number": audit_number,
        "policies": [],
        "response_summary_sha256": sha256_hex(&summary),
        "response_summary_redacted": kept,
        "response_summary_truncated": summary_cut,
        "response_policies": summary_decision.policy_ids(),
        "pricing": {"priced_as": cost.priced_as, "fallback": cost.fallback},
        "client_metadata": client_metadata,
    });
    // The pre-check's user and workflow: this row's cost counts against their budgets.
    if let Some(hash) = &stored.context.user_hash {
        metadata["user_hash"] = json!(hash);
    }
    if let Some(workflow) = &stored.context.workflow_id {
        metadata["workflow_id"] = json!(workflow);
    }
    if !approved {
        metadata["flag"] = json!("llm_call_after_denied_pre_check");
        metadata["block_reason"] = json!(stored.context.block_reason);
    }
    let verdict = if approved {
        Verdict::Allow
    } else {
        Verdict::Deny
    };
    let status = if approved {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    ratelimit::add_tokens(&state, &caller, &client_id, total_tokens).await;
    decisions::write_audit(
        &state,
        AuditRecord {
            decision_id,
            source: AuditSource::LlmCall,
            client_id,
            tenant_id: caller.tenant_id.clone(),
            org_id: caller.org_id.clone(),
            provider,
            model,
            verdict,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens,
            estimated_cost_usd: cost.usd,
            latency_ms: request.latency_ms,
            http_status: Some(status.as_u16()),
            trace_id: None,
            metadata,
            created_at: Utc::now(),
        },
    )
    .await?;
    if approved {
        tracing::info!(%decision_id, %context_id, "llm call audited");
        Ok(Json(json!({"success": true, "audit_id": decision_id})).into_response())
    } else {
        tracing::warn!(%decision_id, %context_id, "llm call audited after a denied pre-check");
        Ok((
            status,
            Json(json!({
                "success": false,
                "audit_id": decision_id,
                "code": "context_denied",
                "error": format!(
                    "context {context_id} was denied by its pre-check ({}); the call was recorded and flagged",
                    stored.context.block_reason.as_deref().unwrap_or("policy violation")
                ),
            })),
        )
            .into_response())
    }
}
