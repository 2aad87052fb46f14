//! `/api/v1/usage…` and `/api/v1/pricing`: what the caller's tenant spent, read from the audit rows
//! (the one source of truth: tokens in = prompt tokens, out = completion tokens, cost = the row's
//! estimate), and the price table those estimates use. Only LLM calls count (OpenAI-endpoint calls,
//! llm-call audits, Proxy Mode calls), not pre-checks or decisions.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use axonflow_platform::budget::{period_bounds, PERIODS};
use axonflow_platform::db::{self, UsageGroup};
use axonflow_platform::http::api_error::ApiError;
use axonflow_platform::http::caller::Caller;
use axonflow_platform::http::params;

use crate::state::AppState;

fn time(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `?period=` (default monthly) and its bounds now.
fn period(
    query: &HashMap<String, String>,
) -> Result<(String, chrono::DateTime<Utc>, chrono::DateTime<Utc>), ApiError> {
    let period = params::text(query, "period")
        .unwrap_or("monthly")
        .to_owned();
    if !PERIODS.contains(&period.as_str()) {
        return Err(ApiError::bad_request(
            format!("period {period:?} is not one of {}", PERIODS.join(", ")),
            "invalid_parameter",
        ));
    }
    let (start, end) = period_bounds(&period, Utc::now());
    Ok((period, start, end))
}

/// `GET /api/v1/usage?period=`.
pub async fn summary(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (period, start, end) = period(&query)?;
    let totals = db::usage_totals(state.pool(), &caller.tenant_id, start, end).await?;
    let average = if totals.requests > 0 {
        totals.cost_usd / totals.requests as f64
    } else {
        0.0
    };
    Ok(Json(json!({
        "total_cost_usd": totals.cost_usd,
        "total_requests": totals.requests,
        "total_tokens_in": totals.tokens_in,
        "total_tokens_out": totals.tokens_out,
        "average_cost_per_request": average,
        "period": period,
        "period_start": time(start),
        "period_end": time(end),
        "tenant_id": caller.tenant_id,
    }))
    .into_response())
}

/// `GET /api/v1/usage/breakdown?group_by=provider|model|client|tenant|workflow&period=` (`agent`
/// is the client, `team` the tenant).
pub async fn breakdown(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let group_by = params::text(&query, "group_by").unwrap_or("provider");
    let group = match group_by {
        "provider" => UsageGroup::Provider,
        "model" => UsageGroup::Model,
        "client" | "agent" => UsageGroup::Client,
        "tenant" | "team" => UsageGroup::Tenant,
        "workflow" => UsageGroup::Workflow,
        other => {
            return Err(ApiError::bad_request(
                format!(
                    "group_by {other:?} is not one of provider, model, client (agent), tenant (team), workflow"
                ),
                "invalid_parameter",
            ))
        }
    };
    let (period, start, end) = period(&query)?;
    let groups = db::usage_breakdown(state.pool(), &caller.tenant_id, group, start, end).await?;
    let total: f64 = groups.iter().map(|(_, t)| t.cost_usd).sum();
    let items: Vec<Value> = groups
        .iter()
        .map(|(value, totals)| {
            json!({
                "group_by": group_by,
                "group_value": value,
                "cost_usd": totals.cost_usd,
                "percentage": if total > 0.0 { totals.cost_usd / total * 100.0 } else { 0.0 },
                "request_count": totals.requests,
                "tokens_in": totals.tokens_in,
                "tokens_out": totals.tokens_out,
            })
        })
        .collect();
    Ok(Json(json!({
        "group_by": group_by,
        "total_cost_usd": total,
        "items": items,
        "period": period,
        "period_start": time(start),
        "period_end": time(end),
    }))
    .into_response())
}

/// `GET /api/v1/usage/records?limit&offset&provider&model`: the tenant's LLM calls, newest first.
pub async fn records(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (limit, offset) = params::limit_offset(&query, 50, 1000)?;
    let (records, total) = db::usage_records(
        state.pool(),
        &caller.tenant_id,
        params::text(&query, "provider"),
        params::text(&query, "model"),
        limit,
        offset,
    )
    .await?;
    let items: Vec<Value> = records
        .iter()
        .map(|record| {
            json!({
                "id": record.id,
                "request_id": record.id,
                "provider": record.provider,
                "model": record.model,
                "tokens_in": record.tokens_in,
                "tokens_out": record.tokens_out,
                "cost_usd": record.cost_usd,
                "org_id": record.org_id,
                "agent_id": record.client_id,
                "tenant_id": record.tenant_id,
                "team_id": record.tenant_id,
                "success": record.verdict == "allow" && record.http_status.is_none_or(|s| (200..300).contains(&s)),
                "latency_ms": record.latency_ms,
                "created_at": time(record.created_at),
            })
        })
        .collect();
    Ok(
        Json(json!({"records": items, "total": total, "limit": limit, "offset": offset}))
            .into_response(),
    )
}

/// `GET /api/v1/pricing?provider&model`: the price table audit costs are computed with, per 1,000
/// tokens.
pub async fn pricing(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let provider = params::text(&query, "provider");
    let model = params::text(&query, "model");
    let mut entries: Vec<Value> = state
        .pricing()
        .entries()
        .filter(|(p, m, _)| {
            provider.is_none_or(|want| want == *p) && model.is_none_or(|want| want == *m)
        })
        .map(|(p, m, price)| {
            json!({
                "provider": p,
                "model": m,
                "pricing": {
                    "input_per_1k": price.input_per_mtok / 1000.0,
                    "output_per_1k": price.output_per_mtok / 1000.0,
                },
            })
        })
        .collect();
    // A model the table does not list by name is priced as the entry it matches (or the fallback).
    if entries.is_empty() {
        if let (Some(provider), Some(model)) = (provider, model) {
            let estimate = state.pricing().estimate(provider, model, 1000, 0);
            let output = state.pricing().estimate(provider, model, 0, 1000);
            entries.push(json!({
                "provider": provider,
                "model": model,
                "pricing": {"input_per_1k": estimate.usd, "output_per_1k": output.usd},
                "priced_as": estimate.priced_as,
            }));
        }
    }
    Ok(Json(json!({"pricing": entries})).into_response())
}
