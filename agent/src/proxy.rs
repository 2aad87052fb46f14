//! Proxy Mode, `POST /api/request` (the SDK's `proxy_llm_call`): the agent authenticates, checks the
//! query with the tenant's static policies and the tenant's budgets, then hands the call to the
//! orchestrator, signed with the internal secret and carrying the caller. The orchestrator checks the
//! dynamic policies, calls the provider and filters the answer. The agent owns the call's audit row:
//! exactly one per call, whatever the outcome, with `http_status` = the status answered, and never
//! the prompt text.

use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use axonflow_platform::audit::{AuditRecord, AuditSource};
use axonflow_platform::budget::{self, user_hash, RequestScope};
use axonflow_platform::facts::{self, end_user, flatten_context};
use axonflow_platform::http::inflight::InFlightSlot;
use axonflow_platform::http::signature::MAX_INTERNAL_BODY_BYTES;
use axonflow_platform::internal_call::{self, CallError, ProxyAnswer, ProxyCall, PROXY_PATH};
use axonflow_platform::trace::TraceId;
use axonflow_policy::{Action, Decision, Verdict};

use crate::auth::Caller;
use crate::decisions;
use crate::error::{check_stored_size, ApiError, ApiJson};
use crate::forward;
use crate::gateway::check_query_inputs;
use crate::outlive::{outliving_the_caller, Panicked};
use crate::ratelimit;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ProxyRequest {
    query: String,
    #[serde(default)]
    user_token: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    request_type: Option<String>,
    #[serde(default)]
    context: Option<Value>,
    /// Policies only: no LLM call.
    #[serde(default)]
    skip_llm: Option<bool>,
}

/// What every answer of one call shares.
struct Call {
    decision_id: Uuid,
    trace_id: TraceId,
    started: Instant,
    caller: Caller,
    client_id: String,
    request_type: String,
    /// Matched policy ids: static input, dynamic, output.
    policies: Vec<String>,
    static_checks: Vec<String>,
    metadata: Value,
}

impl Call {
    fn policy_info(&self) -> Value {
        json!({
            "policies_evaluated": self.policies,
            "static_checks": self.static_checks,
            "processing_time": format!("{}ms", self.started.elapsed().as_millis()),
            "tenant_id": self.caller.tenant_id,
        })
    }

    fn record(&self, verdict: Verdict, status: StatusCode) -> AuditRecord {
        AuditRecord {
            http_status: Some(status.as_u16()),
            trace_id: Some(self.trace_id.as_str().to_owned()),
            latency_ms: u32::try_from(self.started.elapsed().as_millis()).unwrap_or(u32::MAX),
            ..AuditRecord::decision(
                self.decision_id,
                AuditSource::Proxy,
                self.client_id.clone(),
                self.caller.tenant_id.clone(),
                self.caller.org_id.clone(),
                verdict,
                self.metadata.clone(),
            )
        }
    }

    /// Writes the audit row; 503 when no record can be kept.
    async fn audit(&self, state: &AppState, record: AuditRecord) -> Result<(), ApiError> {
        decisions::write_audit(state, record).await.map(|_| ())
    }

    /// Audits a call refused or failed before any provider was called (`error` on the row; not
    /// LLM usage).
    async fn refuse(
        &mut self,
        state: &AppState,
        error: &str,
        status: StatusCode,
    ) -> Result<(), ApiError> {
        self.metadata["error"] = json!(error);
        self.metadata["llm_called"] = json!(false);
        self.audit(state, self.record(Verdict::Deny, status)).await
    }

    /// Audits a call blocked by `policy` (or a budget) and answers it.
    async fn block(
        &mut self,
        state: &AppState,
        status: StatusCode,
        reason: &str,
        policy: Option<&str>,
        extra: Value,
    ) -> Result<Response, ApiError> {
        self.metadata["block_reason"] = json!(reason);
        self.metadata["llm_called"] = json!(false);
        self.audit(state, self.record(Verdict::Deny, status))
            .await?;
        Ok(self.blocked(status, reason, policy, extra))
    }

    fn blocked(
        &self,
        status: StatusCode,
        reason: &str,
        policy: Option<&str>,
        extra: Value,
    ) -> Response {
        let mut body = json!({
            "success": false,
            "blocked": true,
            "block_reason": reason,
            "message": reason,
            "error": reason,
            "policy": policy,
            "policy_info": self.policy_info(),
            "decision_id": self.decision_id,
        });
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        (status, Json(body)).into_response()
    }
}

pub async fn request(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    slot: Option<Extension<InFlightSlot>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ProxyRequest>,
) -> Result<Response, ApiError> {
    // The call and its audit row outlive the request: a client that disconnects mid-call still
    // leaves the row (and the cost its budgets count). The work holds the in-flight slot.
    // Boxed where it is made: the wrappers below move a pointer, not the call's whole state.
    let call = Box::pin(handle(state, caller, headers, request));
    outliving_the_caller(tracing::Instrument::in_current_span(
        axonflow_platform::metrics::with_current_timings(async move {
            let response = call.await;
            drop(slot);
            response
        }),
    ))
    .await
    .unwrap_or_else(|Panicked| {
        tracing::error!("proxy call failed: the work panicked");
        Err(ApiError::Internal)
    })
}

async fn handle(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    request: ProxyRequest,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let client_id = caller.effective_client_id(request.client_id.as_deref());
    check_query_inputs(
        &state,
        &request.query,
        request.context.as_ref(),
        request.user_token.as_deref(),
    )?;
    let context = match request.context {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(context)) => context,
        Some(_) => {
            return Err(ApiError::bad_request(
                "context must be a JSON object",
                "invalid_field",
            ))
        }
    };
    let request_type = request.request_type.unwrap_or_else(|| "chat".to_owned());
    check_stored_size("request_type", &json!(request_type), 64)?;
    let flat_context = flatten_context(&context)?;
    let rate = ratelimit::count(&state, &caller, &client_id).await;
    if rate.exceeded.is_some() {
        return Err(rate.to_api_error(Utc::now()));
    }
    // From here on every outcome is audited.
    let mut call = Call {
        decision_id: Uuid::now_v7(),
        trace_id: TraceId::of_request(&headers),
        started,
        caller: caller.clone(),
        client_id: client_id.clone(),
        request_type: request_type.clone(),
        policies: Vec::new(),
        static_checks: Vec::new(),
        metadata: json!({"output_policies": "enforce"}),
    };
    let checked = async {
        let tenant = state
            .policies()
            .for_tenant(state.pool(), &caller.tenant_id)
            .await?;
        let mut decision = state
            .policies()
            .evaluate_one(&tenant, request.query.clone())
            .await?;
        // Escapes a model may decode (`\u0031` is `1`) hide what they spell: the query is read
        // decoded too, as a chat message is. What only the decoded text shows cannot be masked in
        // place: it refuses the call as a block would.
        if let Some(decoded) = crate::inspect::unescape(&request.query) {
            let mut hidden = state.policies().evaluate_one(&tenant, decoded.clone()).await?;
            hidden.matches.retain(|m| {
                decoded
                    .get(m.span.clone())
                    .is_none_or(|found| !request.query.contains(found))
            });
            if !hidden.matches.is_empty() {
                let refusing = hidden
                    .matches
                    .iter()
                    .any(|m| matches!(m.action, Action::Block | Action::Redact));
                let redacted = decision.redacted_text.take();
                decision = decision.merge(Decision {
                    verdict: if refusing { Verdict::Deny } else { Verdict::Allow },
                    matches: hidden.matches,
                    redacted_text: None,
                });
                decision.redacted_text = redacted;
            }
        }
        // Caller text kept on the row is masked like every stored caller field.
        let labels = decisions::mask_for_storage(
            &state,
            &tenant,
            json!({
                "request_type": request_type,
                "workflow_id": facts::workflow_id(context.get("workflow_id").and_then(Value::as_str)),
            }),
        )
        .await?;
        Ok::<_, ApiError>((tenant, decision, labels))
    }
    .await;
    let (tenant, decision, labels) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            call.refuse(&state, "policies_unavailable", error.status())
                .await?;
            return Err(error);
        }
    };
    let user = end_user(request.user_token.as_deref(), &context);
    let workflow_id = labels["workflow_id"].as_str().map(str::to_owned);
    let static_ids: Vec<String> = decision
        .policy_ids()
        .into_iter()
        .map(str::to_owned)
        .collect();
    call.metadata = json!({
        "request_type": labels["request_type"],
        "policies": static_ids,
        "matches": decisions::matches_json(&decision),
        "frameworks": decision.frameworks(),
        "output_policies": "enforce",
    });
    if let Some(id) = user.id.as_deref() {
        call.metadata["user_hash"] = json!(user_hash(id));
    }
    if let Some(workflow) = &workflow_id {
        call.metadata["workflow_id"] = json!(workflow);
    }
    call.policies = static_ids.clone();
    call.static_checks = static_ids;

    if decision.verdict == Verdict::Deny {
        let reason = decision
            .block_reason()
            .unwrap_or_else(|| "policy violation".to_owned());
        let policy = decision
            .matches
            .iter()
            .find(|m| m.action == Action::Block)
            .map(|m| m.policy_id.to_string());
        return call
            .block(
                &state,
                StatusCode::FORBIDDEN,
                &reason,
                policy.as_deref(),
                json!({}),
            )
            .await;
    }

    let scope = RequestScope {
        org_id: caller.org_id.clone(),
        tenant_id: caller.tenant_id.clone(),
        client_id: client_id.clone(),
        user_id: user.id.clone(),
        workflow_id,
    };
    let budgets = match budget::check(
        state.pool(),
        state.spend(),
        &tenant.budgets,
        &scope,
        Utc::now(),
    )
    .await
    {
        Ok(budgets) => budgets,
        Err(error) => {
            tracing::error!(%error, "budgets could not be read; the proxy call is refused");
            let error = ApiError::from(error);
            call.refuse(&state, "budgets_unavailable", error.status())
                .await?;
            return Err(error);
        }
    };
    if let Some((budget, status)) = budgets.blocking {
        let reason = budget::exhausted(&budget, &status);
        call.metadata["budget_id"] = json!(budget.id);
        let info = json!({"budget_info": {
                "budget_id": budget.id,
                "budget_name": budget.name,
                "used_usd": status.used_usd,
                "limit_usd": budget.limit_usd,
                "percentage": status.percentage,
                "exceeded": true,
                "action": "block",
        }});
        return call
            .block(&state, StatusCode::PAYMENT_REQUIRED, &reason, None, info)
            .await;
    }

    if let Some(budget) = &budgets.downgrading {
        call.metadata["budget_downgrade"] = json!(budget.id);
    }
    let model = context.get("model").and_then(Value::as_str);
    let provider = context.get("provider").and_then(Value::as_str);
    if request.skip_llm == Some(true) {
        // No LLM call, so the orchestrator is not asked: the dynamic policies are checked here.
        let evaluated = crate::dynamic::evaluate(
            &state,
            &tenant,
            &crate::dynamic::Request {
                query: &request.query,
                user: &user,
                request_type: &request_type,
                model,
                provider,
                context: &flat_context,
            },
        )
        .await;
        let dynamic = match evaluated {
            Ok(dynamic) => dynamic,
            Err(error) => {
                let error = ApiError::from(error);
                call.refuse(&state, "internal", error.status()).await?;
                return Err(error);
            }
        };
        call.policies
            .extend(dynamic.policy_ids().into_iter().map(str::to_owned));
        call.metadata["policies"] = json!(call.policies);
        call.metadata["skip_llm"] = json!(true);
        call.metadata["llm_called"] = json!(false);
        if !dynamic.matches.is_empty() {
            call.metadata["dynamic_policies"] = crate::dynamic::matches_json(&dynamic);
        }
        let refusal = dynamic
            .block_reason()
            .or_else(|| provider.and_then(|p| crate::dynamic::route_refusal(&dynamic, p)));
        if let Some(reason) = refusal {
            let policy = dynamic.blocking_policy().map(|id| id.to_owned());
            return call
                .block(
                    &state,
                    StatusCode::FORBIDDEN,
                    &reason,
                    policy.as_deref(),
                    json!({}),
                )
                .await;
        }
        call.audit(&state, call.record(Verdict::Allow, StatusCode::OK))
            .await?;
        return Ok(Json(json!({
            "success": true,
            "blocked": false,
            "data": null,
            "result": null,
            "policy_info": call.policy_info(),
            "metadata": {"decision_id": call.decision_id, "trace_id": call.trace_id.as_str(), "skip_llm": true},
        }))
        .into_response());
    }

    let Some(auth) = state.internal_auth() else {
        call.refuse(
            &state,
            "orchestrator_unavailable",
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await?;
        return Ok(forward::unavailable(
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            "cannot be called: Proxy Mode needs AXONFLOW_INTERNAL_SERVICE_SECRET, the same on both services",
        ));
    };
    let proxy_call = ProxyCall {
        caller: (&caller).into(),
        decision_id: call.decision_id.to_string(),
        trace_id: call.trace_id.as_str().to_owned(),
        query: decision.redacted_text.clone().unwrap_or(request.query),
        request_type,
        user,
        context: flat_context,
        model: model.map(str::to_owned),
        provider: provider.map(str::to_owned),
        downgrade: budgets.downgrading.is_some(),
    };
    let body = match serde_json::to_vec(&proxy_call) {
        Ok(body) if body.len() <= MAX_INTERNAL_BODY_BYTES => body,
        Ok(_) => {
            // JSON escaping can grow a query the agent accepted past what the orchestrator reads.
            call.refuse(&state, "payload_too_large", StatusCode::PAYLOAD_TOO_LARGE)
                .await?;
            return Err(ApiError::BodyTooLarge {
                limit_bytes: MAX_INTERNAL_BODY_BYTES,
            });
        }
        Err(_) => {
            call.refuse(&state, "internal", StatusCode::INTERNAL_SERVER_ERROR)
                .await?;
            return Err(ApiError::Internal);
        }
    };
    let sent = internal_call::post_signed(
        state.http(),
        auth,
        &state.config().orchestrator_url,
        PROXY_PATH,
        body,
        state.config().upstream_timeout + std::time::Duration::from_secs(5),
    )
    .await;
    let answer = match sent {
        Ok(response) if response.status().is_success() => response.json::<ProxyAnswer>().await.ok(),
        Ok(response) => {
            tracing::warn!(
                status = response.status().as_u16(),
                "the orchestrator refused a proxy call"
            );
            None
        }
        Err(CallError::Timeout) => {
            // The orchestrator may have called the provider: the row does not claim otherwise.
            call.metadata["error"] = json!("orchestrator_timeout");
            call.audit(
                &state,
                call.record(Verdict::Allow, StatusCode::GATEWAY_TIMEOUT),
            )
            .await?;
            return Ok(forward::unavailable(
                &state,
                StatusCode::GATEWAY_TIMEOUT,
                "did not answer in time",
            ));
        }
        Err(error) => {
            tracing::warn!(%error, "orchestrator unreachable for a proxy call");
            None
        }
    };
    let Some(answer) = answer else {
        call.refuse(&state, "orchestrator_unavailable", StatusCode::BAD_GATEWAY)
            .await?;
        return Ok(forward::unavailable(
            &state,
            StatusCode::BAD_GATEWAY,
            "could not be reached or failed",
        ));
    };
    let upstream = std::time::Duration::from_millis(u64::from(answer.provider_latency_ms));
    let mut response = finish(&state, &caller, call, answer).await?;
    response
        .extensions_mut()
        .insert(axonflow_platform::metrics::UpstreamTime(upstream));
    Ok(response)
}

/// Audits the orchestrator's outcome and answers it in the SDK's shape.
async fn finish(
    state: &AppState,
    caller: &Caller,
    mut call: Call,
    answer: ProxyAnswer,
) -> Result<Response, ApiError> {
    call.policies
        .extend(answer.dynamic_policies.iter().cloned());
    call.policies
        .extend(answer.output_matches.iter().map(|m| m.policy_id.clone()));
    let mut seen = std::collections::HashSet::new();
    call.policies.retain(|id| seen.insert(id.clone()));
    call.metadata["policies"] = json!(call.policies);
    call.metadata["dynamic_policies"] = json!(answer.dynamic_policies);
    call.metadata["dynamic_actions"] = json!(answer.dynamic_actions);
    call.metadata["output_matches"] = json!(answer
        .output_matches
        .iter()
        .map(
            |m| json!({"policy_id": m.policy_id, "category": m.category, "severity": m.severity,
                        "action": m.action, "preview": m.preview})
        )
        .collect::<Vec<_>>());
    call.metadata["provider_latency_ms"] = json!(answer.provider_latency_ms);
    if let Value::Object(details) = &answer.details {
        for (key, value) in details {
            call.metadata[key.as_str()] = value.clone();
        }
    }
    let record = |verdict, status: StatusCode| {
        let mut record = call.record(verdict, status);
        record.provider = answer.provider.clone().unwrap_or_default();
        record.model = answer.model.clone().unwrap_or_default();
        record.prompt_tokens = answer.prompt_tokens;
        record.completion_tokens = answer.completion_tokens;
        record.total_tokens = answer.total_tokens;
        record.estimated_cost_usd = answer.estimated_cost_usd;
        record
    };
    match answer.outcome.as_str() {
        "blocked" => {
            let reason = answer
                .block_reason
                .clone()
                .unwrap_or_else(|| "blocked by a dynamic policy".to_owned());
            let mut audited = record(Verdict::Deny, StatusCode::FORBIDDEN);
            audited.metadata["block_reason"] = json!(reason);
            audited.metadata["llm_called"] = json!(false);
            call.audit(state, audited).await?;
            tracing::info!(decision_id = %call.decision_id, "proxy call blocked by a dynamic policy");
            Ok(call.blocked(
                StatusCode::FORBIDDEN,
                &reason,
                answer.blocking_policy.as_deref(),
                json!({}),
            ))
        }
        "answered" => {
            let audited = record(Verdict::Allow, StatusCode::OK);
            call.audit(state, audited).await?;
            ratelimit::add_tokens(state, caller, &call.client_id, answer.total_tokens).await;
            let text = answer.answer.clone().unwrap_or_default();
            tracing::info!(decision_id = %call.decision_id, request_type = %call.request_type, "proxy call answered");
            Ok(Json(json!({
                "success": true,
                "blocked": false,
                "data": text,
                "result": text,
                "policy_info": call.policy_info(),
                "metadata": {
                    "decision_id": call.decision_id,
                    "trace_id": call.trace_id.as_str(),
                    "provider": answer.provider,
                    "model": answer.model,
                    "prompt_tokens": answer.prompt_tokens,
                    "completion_tokens": answer.completion_tokens,
                    "total_tokens": answer.total_tokens,
                    "estimated_cost_usd": answer.estimated_cost_usd,
                    "latency_ms": call.started.elapsed().as_millis() as u64,
                },
            }))
            .into_response())
        }
        _ => {
            let status = answer
                .error_status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::BAD_GATEWAY);
            let code = answer
                .error_code
                .clone()
                .unwrap_or_else(|| "upstream_error".to_owned());
            let message = answer
                .error_message
                .clone()
                .unwrap_or_else(|| "the LLM call failed".to_owned());
            let mut audited = record(Verdict::Allow, status);
            audited.metadata["error"] = json!(code);
            if answer.provider.is_none() {
                // Refused before any provider was called (no provider, routing): not LLM usage.
                audited.metadata["llm_called"] = json!(false);
            }
            call.audit(state, audited).await?;
            let mut body = axonflow_platform::http::error_body(&message, &code);
            body["blocked"] = json!(false);
            body["decision_id"] = json!(call.decision_id);
            Ok((status, Json(body)).into_response())
        }
    }
}
