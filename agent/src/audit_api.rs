//! Audit reads: `POST /api/v1/audit/search` and `GET /api/v1/audit/tenant/{tenant_id}`, one timeline
//! of the caller's tenant across OpenAI-endpoint calls, pre-checks, llm-call audits, decisions and
//! check-inputs. Entries use the field names of the official SDKs' `AuditLogEntry`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use axonflow_platform::db::{self, AuditQuery, StoredAudit};

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use crate::time::rfc3339;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
const SOURCES: &[&str] = &[
    "openai_gateway",
    "pre_check",
    "llm_call",
    "decide",
    "mcp_check_input",
    "proxy",
];

pub fn entry_json(row: &StoredAudit) -> Value {
    let metadata = &row.metadata;
    let policies: Vec<Value> = metadata
        .get("policies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let redacted = metadata.get("redacted").and_then(Value::as_bool) == Some(true);
    let policy_decision = match (row.verdict.as_str(), redacted) {
        ("deny", _) => "blocked",
        (_, true) => "redacted",
        _ => "allowed",
    };
    json!({
        "id": row.decision_id,
        "decision_id": row.decision_id,
        "request_id": row.decision_id,
        "timestamp": rfc3339(row.created_at),
        "client_id": row.client_id,
        "tenant_id": row.tenant_id,
        "org_id": row.org_id,
        "request_type": row.source,
        "verdict": row.verdict,
        "policy_decision": policy_decision,
        "blocked": row.verdict == "deny",
        "policy_violations": policies,
        "policy_details": {
            "policies": policies,
            "matches": metadata.get("matches").cloned().unwrap_or_else(|| json!([])),
            "frameworks": metadata.get("frameworks").cloned().unwrap_or_else(|| json!([])),
            "block_reason": metadata.get("block_reason").cloned().unwrap_or(Value::Null),
        },
        "provider": row.provider,
        "model": row.model,
        "tokens_used": row.total_tokens.max(0),
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "estimated_cost_usd": row.estimated_cost_usd,
        "response_time_ms": row.latency_ms.max(0),
        "latency_ms": row.latency_ms.max(0),
        "http_status": row.http_status,
        "trace_id": row.trace_id,
        "metadata": metadata,
    })
}

fn page(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            format!("limit must be between 1 and {MAX_LIMIT}"),
            "invalid_field",
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::bad_request(
            "offset must be at least 0",
            "invalid_field",
        ));
    }
    Ok((limit, offset))
}

async fn answer(state: &AppState, query: AuditQuery) -> Result<Response, ApiError> {
    let (rows, total) = db::search_audits(state.pool(), &query).await?;
    Ok(Json(json!({
        "entries": rows.iter().map(entry_json).collect::<Vec<_>>(),
        "total": total,
        "limit": query.limit,
        "offset": query.offset,
    }))
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchRequest {
    client_id: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    /// `allow`/`deny`, or `allowed`/`blocked` as the SDKs' entries spell it.
    action: Option<String>,
    verdict: Option<String>,
    request_type: Option<String>,
    decision_id: Option<String>,
    policy_name: Option<String>,
    policy_id: Option<String>,
    user_email: Option<String>,
    override_id: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn time_filter(
    field: &str,
    value: Option<&str>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => crate::time::parse(text).map(Some).ok_or_else(|| {
            ApiError::bad_request(
                format!("{field} {text:?} is not an RFC 3339 time (e.g. 2026-01-31T00:00:00Z)"),
                "invalid_field",
            )
        }),
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `POST /api/v1/audit/search`.
pub async fn search(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<SearchRequest>,
) -> Result<Response, ApiError> {
    if non_empty(request.user_email).is_some() || non_empty(request.override_id).is_some() {
        return Err(ApiError::bad_request(
            "user_email and override_id are not recorded by this gateway, so no entry could match; \
             filter by client_id, time, action, request_type, decision_id or policy_name",
            "unsupported_filter",
        ));
    }
    let (limit, offset) = page(request.limit, request.offset)?;
    let mut source = non_empty(request.request_type);
    let mut action = non_empty(request.action.or(request.verdict)).map(|v| v.to_ascii_lowercase());
    // `action` may name an entry point too (the SDK documents it as action or request type).
    if let Some(named) = action.as_deref().filter(|a| SOURCES.contains(a)) {
        source = Some(named.to_owned());
        action = None;
    }
    let verdict = match action.as_deref() {
        None => None,
        Some("allow" | "allowed" | "approved") => Some("allow".to_owned()),
        Some("deny" | "denied" | "block" | "blocked") => Some("deny".to_owned()),
        Some(other) => {
            return Err(ApiError::bad_request(
                format!("action {other:?} is not allow/allowed or deny/blocked"),
                "invalid_field",
            ))
        }
    };
    if let Some(source) = source.as_deref() {
        if !SOURCES.contains(&source) {
            return Err(ApiError::bad_request(
                format!(
                    "request_type {source:?} is not one of {}",
                    SOURCES.join(", ")
                ),
                "invalid_field",
            ));
        }
    }
    let decision_id = match non_empty(request.decision_id) {
        None => None,
        Some(text) => Some(text.parse::<Uuid>().map_err(|_| {
            ApiError::bad_request(
                format!("decision_id {text:?} is not a UUID"),
                "invalid_field",
            )
        })?),
    };
    let query = AuditQuery {
        tenant_id: Some(caller.tenant_id.clone()),
        client_id: non_empty(request.client_id),
        start: time_filter("start_time", request.start_time.as_deref())?,
        end: time_filter("end_time", request.end_time.as_deref())?,
        verdict,
        source,
        decision_id,
        policy_id: non_empty(request.policy_name.or(request.policy_id)),
        limit,
        offset,
    };
    answer(&state, query).await
}

/// `GET /api/v1/audit/tenant/{tenant_id}?limit&offset`: only the caller's own tenant.
pub async fn by_tenant(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(tenant_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if tenant_id != caller.tenant_id {
        return Err(ApiError::Forbidden {
            message: format!(
                "you may read the audit trail of your own tenant only ({:?})",
                caller.tenant_id
            ),
            code: "tenant_mismatch",
        });
    }
    let number = |name: &str| -> Result<Option<i64>, ApiError> {
        params
            .get(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(
                        format!("{name}={v:?} is not a whole number"),
                        "invalid_parameter",
                    )
                })
            })
            .transpose()
    };
    let (limit, offset) = page(number("limit")?, number("offset")?)?;
    answer(
        &state,
        AuditQuery {
            tenant_id: Some(tenant_id),
            limit,
            offset,
            ..AuditQuery::default()
        },
    )
    .await
}
