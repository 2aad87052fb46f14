//! What every deciding endpoint shares: the JSON forms of a decision's matches and reasons, hashes
//! of what must not be stored in clear, and the audit write.

use serde_json::{json, Value};
use uuid::Uuid;

use axonflow_platform::audit::{AuditRecord, AuditSource};
use axonflow_policy::{Decision, Match, Severity};

use std::sync::Arc;

use crate::error::ApiError;
use crate::inspect;
use crate::outlive::{outliving_the_caller, Panicked};
use crate::state::AppState;
use axonflow_platform::policy_store::TenantPolicies;

/// Matches an audit row lists; past this, `matches_total` says how many there were (a text full of
/// matches must not make one row megabytes long).
pub const MAX_RECORDED_MATCHES: usize = 100;

/// The AxonFlow attributes of the request's span, from its audit row: ids, verdict, every matched
/// policy, tenant, client, mode and cost. Never text.
fn describe_span(span: &tracing::Span, record: &AuditRecord) {
    use axonflow_platform::telemetry::set_attribute;
    if span.is_none() {
        return;
    }
    let mode = match record.source {
        AuditSource::OpenAiGateway => "openai",
        AuditSource::PreCheck | AuditSource::LlmCall => "gateway",
        AuditSource::Decide | AuditSource::McpCheckInput => "decision",
        AuditSource::Proxy => "proxy",
    };
    set_attribute(span, "axonflow.decision_id", record.decision_id.to_string());
    set_attribute(span, "axonflow.verdict", record.verdict.as_str());
    set_attribute(span, "axonflow.tenant_id", record.tenant_id.clone());
    set_attribute(span, "axonflow.client_id", record.client_id.clone());
    set_attribute(span, "axonflow.mode", mode);
    set_attribute(span, "axonflow.cost_usd", record.estimated_cost_usd);
    let mut policies: Vec<String> = Vec::new();
    for field in ["matches", "output_matches"] {
        if let Some(Value::Array(matches)) = record.metadata.get(field) {
            for found in matches {
                if let Some(id) = found.get("policy_id").and_then(Value::as_str) {
                    policies.push(id.to_owned());
                }
            }
        }
    }
    if let Some(Value::Array(ids)) = record.metadata.get("policies") {
        policies.extend(ids.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    policies.sort();
    policies.dedup();
    axonflow_platform::telemetry::set_string_list(span, "axonflow.policies", policies);
}

/// Cuts `metadata.matches` to `MAX_RECORDED_MATCHES`, noting the full count in `matches_total`.
pub fn limit_matches(metadata: &mut Value) {
    if let Some(Value::Array(matches)) = metadata.get_mut("matches") {
        let total = matches.len();
        if total > MAX_RECORDED_MATCHES {
            matches.truncate(MAX_RECORDED_MATCHES);
            metadata["matches_total"] = json!(total);
        }
    }
}

/// Every match with its policy, category, severity, action and masked preview (never the raw text).
pub fn matches_json(decision: &Decision) -> Value {
    Value::Array(
        decision
            .matches
            .iter()
            .map(|m| match_json(m, None))
            .collect(),
    )
}

/// One match; `field` names where in the request it was found (a pointer that holds no user text).
pub fn match_json(found: &Match, field: Option<&str>) -> Value {
    let mut json = json!({
        "policy_id": &*found.policy_id,
        "category": &*found.category,
        "severity": found.severity.as_str(),
        "action": found.action.as_str(),
        "preview": found.preview,
    });
    if let Some(field) = field {
        json["field"] = Value::String(field.to_owned());
    }
    json
}

/// One line per matched policy, in order of first match: `sys_pii_ssn: Social Security Number
/// detected (block)`.
pub fn reasons(decision: &Decision) -> Vec<String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for m in &decision.matches {
        if seen.contains(&&*m.policy_id) {
            continue;
        }
        seen.push(&m.policy_id);
        out.push(format!(
            "{}: {} detected ({})",
            m.policy_id,
            m.policy_name,
            m.action.as_str()
        ));
    }
    out
}

/// The highest severity among the matches.
pub fn risk_level(decision: &Decision) -> Option<&'static str> {
    decision
        .matches
        .iter()
        .map(|m| m.severity)
        .min()
        .map(Severity::as_str)
}

/// Every matched policy once: `{policy_id, policy_name, category, severity, action}`.
pub fn matched_policies(decision: &Decision) -> Vec<Value> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for m in &decision.matches {
        if seen.contains(&&*m.policy_id) {
            continue;
        }
        seen.push(&m.policy_id);
        out.push(json!({
            "policy_id": &*m.policy_id,
            "policy_name": &*m.policy_name,
            "category": &*m.category,
            "severity": m.severity.as_str(),
            "action": m.action.as_str(),
        }));
    }
    out
}

/// The request's workflow id as rows keep it and budgets match it: whole (at most 256 bytes, else
/// none) and masked like every stored caller field.
pub async fn stored_workflow_id(
    state: &AppState,
    tenant: &Arc<TenantPolicies>,
    raw: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let Some(id) = axonflow_platform::facts::workflow_id(raw) else {
        return Ok(None);
    };
    let stored = mask_for_storage(state, tenant, Value::String(id)).await?;
    Ok(stored.as_str().map(str::to_owned))
}

/// `value` (caller-supplied, about to be stored) with every match of the tenant's policies masked, in
/// every string and key: nothing raw at rest.
pub async fn mask_for_storage(
    state: &AppState,
    tenant: &Arc<TenantPolicies>,
    mut value: Value,
) -> Result<Value, ApiError> {
    let (paths, texts): (Vec<_>, Vec<_>) = inspect::all_strings(&value)
        .into_iter()
        .map(|checked| (checked.path, checked.text))
        .unzip();
    if texts.is_empty() {
        return Ok(value);
    }
    let masked: Vec<Option<String>> = {
        let decisions = state
            .policies()
            .evaluate_many(tenant, texts.clone())
            .await?;
        decisions
            .iter()
            .zip(&texts)
            .map(|(decision, text)| {
                (!decision.matches.is_empty()).then(|| decision.mask_every_match(text))
            })
            .collect()
    };
    // In walk order: a member's value comes before its key, so a path is used before any key on it
    // is renamed.
    for (path, masked) in paths.iter().zip(masked) {
        if let Some(masked) = masked {
            if inspect::replace(&mut value, path, &masked).is_err() {
                return Ok(Value::String("[REDACTED]".to_owned()));
            }
        }
    }
    Ok(value)
}

/// Records the audit row of one decision before the response is sent: committed, journaled, or (in
/// performance mode) queued. The write outlives the handler, so a client that disconnects (which
/// drops the handler) cannot cancel it half-way. `Err` only when neither Postgres nor the journal
/// took the record, which is logged with the decision id: the caller answers 503 rather than act
/// on an unrecorded decision.
pub async fn write_audit(state: &AppState, record: AuditRecord) -> Result<Uuid, ApiError> {
    let decision_id = record.decision_id;
    let verdict = record.verdict.as_str();
    // A cost recorded here is seen by this agent's next budget check at once.
    if record.estimated_cost_usd > 0.0 {
        state.spend().forget_tenant(&record.tenant_id);
    }
    let mut record = record;
    limit_matches(&mut record.metadata);
    describe_span(&tracing::Span::current(), &record);
    let metrics = axonflow_platform::metrics::metrics();
    let decided = metrics.map(|_| axonflow_platform::metrics::Decided::of(&record));
    let started = std::time::Instant::now();
    let span = axonflow_platform::telemetry::internal_span("axonflow.audit.write");
    // Performance mode: queued in place, no task and no wait. A row that must be written now
    // outlives the request, so that a client that disconnects cannot cancel the write half-way.
    let written = match span.in_scope(|| state.audit().try_queue(record)) {
        Ok(()) => Ok(Ok(axonflow_platform::audit::Durability::Queued)),
        Err(unqueued) => {
            let audit = state.audit().clone();
            let write = tracing::Instrument::instrument(
                async move { audit.write_unqueued(unqueued).await },
                span,
            );
            outliving_the_caller(write).await
        }
    };
    axonflow_platform::metrics::add_audit_time(started.elapsed());
    match written {
        Ok(Ok(_)) => {
            // Counted once its record is kept.
            if let (Some(metrics), Some(decided)) = (metrics, decided) {
                metrics.record_decision(&decided);
            }
            Ok(decision_id)
        }
        Ok(Err(error)) => {
            tracing::error!(%decision_id, verdict, error = %error, "audit record lost: neither Postgres nor the journal took it");
            Err(ApiError::Unavailable)
        }
        Err(Panicked) => {
            tracing::error!(%decision_id, verdict, "audit write failed: it panicked");
            Err(ApiError::Unavailable)
        }
    }
}
