//! Decision Mode: `POST /api/v1/decide` answers allow or deny for a query at a stage (`llm`, `tool`,
//! `agent`), with obligations the caller must fulfil; a `redact_pii` obligation is fulfilled at
//! `POST /api/v1/mcp/check-input`, which returns the redacted text. Both are audited. A deny is a
//! 200 with the verdict in the body.

use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use axonflow_platform::audit::{AuditRecord, AuditSource};
use axonflow_platform::budget::{self, RequestScope};
use axonflow_platform::trace::TraceId;
use axonflow_policy::Verdict;

use axonflow_platform::facts::{end_user, flatten_context};
use axonflow_platform::internal_call::EndUser;
use serde_json::Map;

use crate::auth::Caller;
use crate::decisions;
use crate::error::{check_stored_size, ApiError, ApiJson};
use crate::gateway::{check_query_inputs, check_scan_limit};
use crate::ratelimit;
use crate::state::AppState;
use crate::time::rfc3339;

/// Where the SDK fulfils a `redact_pii` obligation (it accepts only this path).
pub const CHECK_INPUT_PATH: &str = "/api/v1/mcp/check-input";
const STAGES: &[&str] = &["llm", "tool", "agent"];

#[derive(Debug, Deserialize)]
pub struct DecideRequest {
    stage: String,
    query: String,
    #[serde(default)]
    caller_identity: Option<Value>,
    #[serde(default)]
    target: Option<Value>,
    /// Accepted for SDK compatibility; never stored.
    #[serde(default)]
    user_token: Option<String>,
    /// Accepted for SDK compatibility; may hold personal data, so never stored.
    #[serde(default)]
    context: Option<Value>,
}

/// `caller_identity` and `target` are stored (masked) with the decision: at most this big each.
const MAX_IDENTITY_BYTES: usize = 4 * 1024;
/// `connector_type` and `operation` of check-input, stored as given (after masking).
const MAX_LABEL_BYTES: usize = 200;

fn object_or_empty(field: &str, value: Option<Value>) -> Result<Value, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(json!({})),
        Some(Value::Object(object)) => Ok(Value::Object(object)),
        Some(_) => Err(ApiError::bad_request(
            format!("{field} must be a JSON object"),
            "invalid_field",
        )),
    }
}

/// A text field of an object (a scalar of another type as text).
fn target_field(object: &Map<String, Value>, field: &str) -> Option<String> {
    match object.get(field)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn target_text(target: &Value, field: &str) -> String {
    target
        .get(field)
        .and_then(Value::as_str)
        .map(|s| s.chars().take(200).collect())
        .unwrap_or_default()
}

pub async fn decide(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<DecideRequest>,
) -> Result<Response, ApiError> {
    if !STAGES.contains(&request.stage.as_str()) {
        return Err(ApiError::bad_request(
            format!(
                "stage {:?} is not one of {}",
                request.stage,
                STAGES.join(", ")
            ),
            "invalid_stage",
        ));
    }
    let rate = ratelimit::count(&state, &caller, &caller.effective_client_id(None)).await;
    if rate.exceeded.is_some() {
        return Err(rate.to_api_error(Utc::now()));
    }
    check_query_inputs(
        &state,
        &request.query,
        request.context.as_ref(),
        request.user_token.as_deref(),
    )?;
    let caller_identity = object_or_empty("caller_identity", request.caller_identity)?;
    let target = object_or_empty("target", request.target)?;
    check_stored_size("caller_identity", &caller_identity, MAX_IDENTITY_BYTES)?;
    check_stored_size("target", &target, MAX_IDENTITY_BYTES)?;
    let trace_id = TraceId::of_request(&headers);
    let tenant = state
        .policies()
        .for_tenant(state.pool(), &caller.tenant_id)
        .await?;
    let mut decision = state
        .policies()
        .evaluate_one(&tenant, request.query.clone())
        .await?;
    // Dynamic policies: the caller's identity is the user, the stage the request type, the target
    // names the model and provider.
    let identity = caller_identity.as_object().cloned().unwrap_or_default();
    let user = end_user(request.user_token.as_deref(), &identity);
    let user = EndUser {
        id: user.id.or_else(|| target_field(&identity, "id")),
        email: user.email.or_else(|| target_field(&identity, "email")),
        role: user.role.or_else(|| target_field(&identity, "role")),
    };
    let context = match &request.context {
        Some(Value::Object(context)) => flatten_context(context)?,
        _ => std::collections::HashMap::new(),
    };
    let model = target_field(target.as_object().unwrap_or(&Map::new()), "model");
    let provider = target_field(target.as_object().unwrap_or(&Map::new()), "provider");
    let dynamic = crate::dynamic::evaluate(
        &state,
        &tenant,
        &crate::dynamic::Request {
            query: &request.query,
            user: &user,
            request_type: &request.stage,
            model: model.as_deref(),
            provider: provider.as_deref(),
            context: &context,
        },
    )
    .await?;
    let dynamic_refusal = dynamic.block_reason().or_else(|| {
        provider
            .as_deref()
            .and_then(|p| crate::dynamic::route_refusal(&dynamic, p))
    });
    if dynamic_refusal.is_some() {
        decision.verdict = Verdict::Deny;
    }
    // An LLM call under an exhausted block budget is denied, as on every other entry point.
    let workflow_id = match &request.context {
        Some(Value::Object(context)) => {
            decisions::stored_workflow_id(
                &state,
                &tenant,
                context.get("workflow_id").and_then(Value::as_str),
            )
            .await?
        }
        _ => None,
    };
    let mut budget_refusal = None;
    if decision.verdict == Verdict::Allow && request.stage == "llm" {
        let scope = RequestScope {
            org_id: caller.org_id.clone(),
            tenant_id: caller.tenant_id.clone(),
            client_id: caller.effective_client_id(None),
            user_id: user.id.clone(),
            workflow_id,
        };
        if let Some((budget, status)) = budget::check(
            state.pool(),
            state.spend(),
            &tenant.budgets,
            &scope,
            Utc::now(),
        )
        .await?
        .blocking
        {
            decision.verdict = Verdict::Deny;
            budget_refusal = Some((budget.id.clone(), budget::exhausted(&budget, &status)));
        }
    }
    let dynamic_refusal =
        dynamic_refusal.or_else(|| budget_refusal.as_ref().map(|(_, reason)| reason.clone()));
    let caller_identity = decisions::mask_for_storage(&state, &tenant, caller_identity).await?;
    let target = decisions::mask_for_storage(&state, &tenant, target).await?;
    let now = Utc::now();
    let decision_id = Uuid::now_v7();
    let ttl =
        TimeDelta::from_std(state.config().gateway_context_ttl).unwrap_or(TimeDelta::minutes(5));
    let mut policies: Vec<&str> = decision.policy_ids();
    policies.extend(dynamic.policy_ids());
    let mut obligations = Vec::new();
    // A redacting dynamic policy makes every piece of personal data one to redact.
    if decision.verdict == Verdict::Allow && decision.matches.iter().any(|m| dynamic.masks(m)) {
        let redacted: Vec<&str> = decision
            .matches
            .iter()
            .filter(|m| dynamic.masks(m))
            .map(|m| &*m.policy_id)
            .fold(Vec::new(), |mut ids, id| {
                if !ids.contains(&id) {
                    ids.push(id);
                }
                ids
            });
        obligations.push(json!({
            "type": "redact_pii",
            "detail": format!("redact before forwarding: {}", redacted.join(", ")),
            "fulfillment": {
                "endpoint": CHECK_INPUT_PATH,
                "method": "POST",
                "phase": "request",
                "content_types": ["text/plain"],
            },
        }));
    }
    let mut reasons = decisions::reasons(&decision);
    for found in &dynamic.matches {
        reasons.push(format!(
            "{}: {} matched ({})",
            found.policy_id,
            found.policy_name,
            found
                .actions
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    reasons.extend(budget_refusal.as_ref().map(|(_, reason)| reason.clone()));
    let identities: Vec<PolicyIdentity<'_>> = decision
        .matches
        .iter()
        .fold(Vec::<&axonflow_policy::Match>::new(), |mut seen, m| {
            if !seen.iter().any(|s| s.policy_id == m.policy_id) {
                seen.push(m);
            }
            seen
        })
        .into_iter()
        .map(|m| PolicyIdentity {
            id: &m.policy_id,
            name: &m.policy_name,
        })
        .collect();
    let metadata = json!({
        "stage": request.stage,
        "target": target,
        "caller_identity": caller_identity,
        "policies": policies,
        "matches": decisions::matches_json(&decision),
        "frameworks": decision.frameworks(),
        "obligations": obligations.iter().filter_map(|o| o.get("type").cloned()).collect::<Vec<_>>(),
        "block_reason": decision.block_reason().or(dynamic_refusal.clone()),
        "dynamic_policies": crate::dynamic::matches_json(&dynamic),
        "budget_id": budget_refusal.as_ref().map(|(id, _)| id),
    });
    decisions::write_audit(
        &state,
        AuditRecord {
            provider: target_text(&target, "provider"),
            model: target_text(&target, "model"),
            http_status: Some(200),
            trace_id: Some(trace_id.as_str().to_owned()),
            created_at: now,
            ..AuditRecord::decision(
                decision_id,
                AuditSource::Decide,
                caller.effective_client_id(None),
                caller.tenant_id.clone(),
                caller.org_id.clone(),
                decision.verdict,
                metadata,
            )
        },
    )
    .await?;
    tracing::info!(%decision_id, verdict = decision.verdict.as_str(), stage = %request.stage, "decide");
    Ok(Json(DecideResponse {
        decision_id,
        engine: "axonflow-policy",
        evaluated_policies: &policies,
        expires_at: rfc3339(now + ttl),
        frameworks: decision.frameworks(),
        obligations: &obligations,
        policy_identities: &identities,
        reasons: &reasons,
        stage: &request.stage,
        trace_id: trace_id.as_str(),
        verdict: decision.verdict.as_str(),
    })
    .into_response())
}

/// The answer of `decide`, written straight from the decision (no intermediate JSON tree). Fields
/// in the order of their names, as the answer has always listed them.
#[derive(Serialize)]
struct DecideResponse<'a> {
    decision_id: Uuid,
    engine: &'static str,
    evaluated_policies: &'a [&'a str],
    expires_at: String,
    frameworks: Vec<&'a str>,
    obligations: &'a [Value],
    policy_identities: &'a [PolicyIdentity<'a>],
    reasons: &'a [String],
    stage: &'a str,
    trace_id: &'a str,
    verdict: &'static str,
}

#[derive(Serialize)]
struct PolicyIdentity<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct CheckInputRequest {
    #[serde(default)]
    connector_type: Option<String>,
    statement: String,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
}

fn is_plain_text(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/plain"))
}

pub async fn check_input(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<CheckInputRequest>,
) -> Result<Response, ApiError> {
    if let Some(content_type) = request.content_type.as_deref() {
        if !is_plain_text(content_type) {
            return Err(ApiError::UnsupportedMediaType {
                message: format!(
                    "content_type {content_type:?} is not supported; send the statement as text/plain"
                ),
            });
        }
    }
    let client_id = caller.effective_client_id(request.client_id.as_deref());
    check_scan_limit(&state, "statement", &request.statement)?;
    for (field, value) in [
        ("connector_type", &request.connector_type),
        ("operation", &request.operation),
    ] {
        check_stored_size(field, &json!(value), MAX_LABEL_BYTES)?;
    }
    let rate = ratelimit::count(&state, &caller, &client_id).await;
    if rate.exceeded.is_some() {
        return Err(rate.to_api_error(Utc::now()));
    }
    let started = Instant::now();
    let tenant = state
        .policies()
        .for_tenant(state.pool(), &caller.tenant_id)
        .await?;
    let mut decision = state
        .policies()
        .evaluate_one(&tenant, request.statement.clone())
        .await?;
    // Dynamic policies see a connector statement as request type `mcp`, with the connector type
    // and operation as context.
    let mut context = std::collections::HashMap::new();
    for (key, value) in [
        ("connector_type", &request.connector_type),
        ("operation", &request.operation),
    ] {
        if let Some(value) = value {
            context.insert(key.to_owned(), value.clone());
        }
    }
    let dynamic = crate::dynamic::evaluate(
        &state,
        &tenant,
        &crate::dynamic::Request {
            query: &request.statement,
            user: &EndUser::default(),
            request_type: "mcp",
            model: None,
            provider: None,
            context: &context,
        },
    )
    .await?;
    let dynamic_refusal = dynamic.block_reason();
    if dynamic_refusal.is_some() {
        decision.verdict = Verdict::Deny;
    }
    if dynamic.redacts() {
        decision.redacted_text = decision.mask_where(&request.statement, |m| dynamic.masks(m));
    }
    let labels = decisions::mask_for_storage(
        &state,
        &tenant,
        json!({"connector_type": request.connector_type, "operation": request.operation}),
    )
    .await?;
    let processing_time_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let allowed = decision.verdict == Verdict::Allow;
    let decision_id = Uuid::now_v7();
    let redacted_statement = decision.redacted_text.clone();
    let n_redactions = decision.matches.iter().filter(|m| dynamic.masks(m)).count();
    let block_reason = decision.block_reason().or(dynamic_refusal);
    let mut policy_ids = decision.policy_ids();
    policy_ids.extend(dynamic.policy_ids());
    let matched = decisions::matched_policies(&decision);
    let n_evaluated = state.policies().n_evaluated(&tenant);
    let status = if allowed {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    decisions::write_audit(
        &state,
        AuditRecord {
            http_status: Some(status.as_u16()),
            ..AuditRecord::decision(
                decision_id,
                AuditSource::McpCheckInput,
                client_id,
                caller.tenant_id.clone(),
                caller.org_id.clone(),
                decision.verdict,
                json!({
                    "connector_type": labels["connector_type"],
                    "operation": labels["operation"],
                    "policies": policy_ids,
                    "matches": decisions::matches_json(&decision),
                    "dynamic_policies": crate::dynamic::matches_json(&dynamic),
                    "frameworks": decision.frameworks(),
                    "redacted": redacted_statement.is_some(),
                    "block_reason": block_reason,
                }),
            )
        },
    )
    .await?;
    let policy_matches: Vec<Value> = matched
        .iter()
        .map(|m| {
            json!({
                "policy_id": m["policy_id"],
                "policy_name": m["policy_name"],
                "action": m["action"],
                "risk_level": m["severity"],
            })
        })
        .collect();
    Ok((
        status,
        Json(json!({
            "allowed": allowed,
            "block_reason": block_reason,
            "policies_evaluated": n_evaluated,
            "policy_info": {
                "policies_evaluated": n_evaluated,
                "blocked": !allowed,
                "block_reason": block_reason,
                "redactions_applied": n_redactions,
                "processing_time_ms": processing_time_ms,
                "matched_policies": matched,
            },
            "decision_id": decision_id,
            "risk_level": decisions::risk_level(&decision),
            "policy_matches": policy_matches,
            "redacted": redacted_statement.is_some(),
            "redacted_statement": redacted_statement,
            "redaction_evaluated": true,
        })),
    )
        .into_response())
}
