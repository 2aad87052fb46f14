//! `/api/v1/budgets`: spending limits per organization, team (tenant), agent (client), workflow or
//! user, with a UTC calendar period, alert thresholds and what happens past the limit. What a budget
//! has used is always summed from its scope's audit rows (`platform::budget`). A budget belongs to
//! the tenant that created it and counts only that tenant's calls; an organization budget names the
//! caller's organization, a team budget the caller's tenant.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use axonflow_platform::budget::{self, RequestScope, ON_EXCEED, PERIODS, SCOPES};
use axonflow_platform::db::{self, DbError, StoredBudget};

/// A budget's limit: at least a millionth of a dollar (costs are kept to that precision), at most
/// a billion.
const MIN_LIMIT_USD: f64 = 1e-6;
const MAX_LIMIT_USD: f64 = 1e9;
use axonflow_platform::http::api_error::{ApiError, ApiJson, Problem};
use axonflow_platform::http::caller::Caller;
use axonflow_platform::http::params;

use crate::guard::require_write;
use crate::state::AppState;

const MAX_BUDGETS: usize = 200;

fn time(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A budget in the SDK's shape.
fn budget_json(budget: &StoredBudget) -> Value {
    let mut json = budget.state();
    json["id"] = json!(budget.id);
    json["tenant_id"] = json!(budget.tenant_id);
    json["org_id"] = json!(budget.org_id);
    json["created_at"] = json!(time(budget.created_at));
    json["updated_at"] = json!(time(budget.updated_at));
    json
}

#[derive(Debug, Deserialize)]
pub struct CreateBudget {
    id: Option<String>,
    name: Option<String>,
    scope: Option<String>,
    scope_id: Option<String>,
    limit_usd: Option<f64>,
    period: Option<String>,
    on_exceed: Option<String>,
    #[serde(default)]
    alert_thresholds: Vec<i64>,
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct UpdateBudget {
    name: Option<String>,
    limit_usd: Option<f64>,
    on_exceed: Option<String>,
    alert_thresholds: Option<Vec<i64>>,
    enabled: Option<bool>,
}

fn problem(problems: &mut Vec<Problem>, field: &str, message: impl Into<String>) {
    problems.push(Problem::new(field, message));
}

fn check_common(
    problems: &mut Vec<Problem>,
    name: &str,
    limit_usd: f64,
    on_exceed: &str,
    thresholds: &[i64],
) -> Vec<i32> {
    if name.trim().is_empty() || name.len() > 200 {
        problem(problems, "name", "required, at most 200 bytes");
    }
    if !(limit_usd.is_finite() && (MIN_LIMIT_USD..=MAX_LIMIT_USD).contains(&limit_usd)) {
        problem(
            problems,
            "limit_usd",
            format!("a number of USD from {MIN_LIMIT_USD} to {MAX_LIMIT_USD}"),
        );
    }
    if !ON_EXCEED.contains(&on_exceed) {
        problem(
            problems,
            "on_exceed",
            format!("one of {}", ON_EXCEED.join(", ")),
        );
    }
    if thresholds.len() > 10 || thresholds.iter().any(|t| !(1..=1000).contains(t)) {
        problem(
            problems,
            "alert_thresholds",
            "at most 10 percentages, each between 1 and 1000",
        );
    }
    let mut kept: Vec<i32> = thresholds
        .iter()
        .filter_map(|t| i32::try_from(*t).ok())
        .collect();
    kept.sort_unstable();
    kept.dedup();
    kept
}

fn invalid(problems: Vec<Problem>) -> ApiError {
    ApiError::invalid("the budget", problems)
}

fn not_found(id: &str) -> ApiError {
    ApiError::ResourceNotFound {
        message: format!("no budget {id:?} in your tenant"),
    }
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<StoredBudget, ApiError> {
    db::find_budget(state.pool(), &caller.tenant_id, id)
        .await?
        .ok_or_else(|| not_found(id))
}

async fn changed(state: &AppState, caller: &Caller) {
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
}

/// `POST /api/v1/budgets`: 201 with the budget.
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<CreateBudget>,
) -> Result<Response, ApiError> {
    require_write(&caller, "budgets")?;
    let mut problems = Vec::new();
    let id = request.id.unwrap_or_default();
    let id_ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !id_ok {
        problem(
            &mut problems,
            "id",
            "letters, digits and -_., 1 to 128 bytes",
        );
    }
    let scope = request.scope.unwrap_or_default();
    if !SCOPES.contains(&scope.as_str()) {
        problem(
            &mut problems,
            "scope",
            format!("one of {}", SCOPES.join(", ")),
        );
    }
    let scope_id = request
        .scope_id
        .filter(|s| !s.is_empty())
        .or_else(|| match scope.as_str() {
            "organization" => Some(caller.org_id.clone()),
            "team" => Some(caller.tenant_id.clone()),
            "agent" => Some(caller.client_id.clone()),
            _ => None,
        });
    match (scope.as_str(), scope_id.as_deref()) {
        (_, None) => problem(&mut problems, "scope_id", "required for this scope"),
        (_, Some(id)) if id.len() > 256 => problem(&mut problems, "scope_id", "at most 256 bytes"),
        ("organization", Some(id)) if id != caller.org_id => problem(
            &mut problems,
            "scope_id",
            format!(
                "an organization budget names your organization ({})",
                caller.org_id
            ),
        ),
        ("team", Some(id)) if id != caller.tenant_id => problem(
            &mut problems,
            "scope_id",
            format!("a team budget names your tenant ({})", caller.tenant_id),
        ),
        _ => {}
    }
    let period = request.period.unwrap_or_default();
    if !PERIODS.contains(&period.as_str()) {
        problem(
            &mut problems,
            "period",
            format!("one of {}", PERIODS.join(", ")),
        );
    }
    let name = request.name.unwrap_or_default();
    let limit_usd = request.limit_usd.unwrap_or(0.0);
    let on_exceed = request.on_exceed.unwrap_or_default();
    let thresholds = check_common(
        &mut problems,
        &name,
        limit_usd,
        &on_exceed,
        &request.alert_thresholds,
    );
    if db::list_budgets(state.pool(), &caller.tenant_id, None)
        .await?
        .len()
        >= MAX_BUDGETS
    {
        problem(
            &mut problems,
            "budget",
            format!("a tenant may hold at most {MAX_BUDGETS} budgets"),
        );
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let now = Utc::now();
    let budget = StoredBudget {
        tenant_id: caller.tenant_id.clone(),
        id,
        org_id: caller.org_id.clone(),
        name,
        scope,
        scope_id: scope_id.unwrap_or_default(),
        limit_usd,
        period,
        on_exceed,
        alert_thresholds: thresholds,
        enabled: request.enabled.unwrap_or(true),
        created_at: now,
        updated_at: now,
    };
    match db::insert_budget(state.pool(), &budget, &caller.actor).await {
        Ok(()) => {}
        Err(DbError::AlreadyExists { what }) => {
            return Err(ApiError::Conflict {
                message: format!("{what} already exists in your tenant; choose another id"),
                code: "budget_exists",
            })
        }
        Err(error) => return Err(error.into()),
    }
    changed(&state, &caller).await;
    tracing::info!(budget_id = %budget.id, tenant_id = %caller.tenant_id, actor = %caller.actor, "budget created");
    Ok((StatusCode::CREATED, Json(budget_json(&budget))).into_response())
}

/// `GET /api/v1/budgets?scope&limit&offset` -> `{budgets, total}`.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (limit, offset) = params::limit_offset(&query, 50, 1000)?;
    let budgets = db::list_budgets(
        state.pool(),
        &caller.tenant_id,
        params::text(&query, "scope"),
    )
    .await?;
    let page: Vec<Value> = budgets
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(0))
        .map(budget_json)
        .collect();
    Ok(Json(json!({"budgets": page, "total": budgets.len()})).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(budget_json(&find(&state, &caller, &id).await?)).into_response())
}

/// `PUT /api/v1/budgets/{id}`: name, limit, action, thresholds, enabled (absent fields kept).
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<UpdateBudget>,
) -> Result<Response, ApiError> {
    require_write(&caller, "budgets")?;
    let before = find(&state, &caller, &id).await?;
    let mut budget = before.clone();
    if let Some(name) = request.name {
        budget.name = name;
    }
    if let Some(limit_usd) = request.limit_usd {
        budget.limit_usd = limit_usd;
    }
    if let Some(on_exceed) = request.on_exceed {
        budget.on_exceed = on_exceed;
    }
    if let Some(enabled) = request.enabled {
        budget.enabled = enabled;
    }
    let thresholds: Vec<i64> = request.alert_thresholds.unwrap_or_else(|| {
        budget
            .alert_thresholds
            .iter()
            .map(|t| i64::from(*t))
            .collect()
    });
    let mut problems = Vec::new();
    budget.alert_thresholds = check_common(
        &mut problems,
        &budget.name,
        budget.limit_usd,
        &budget.on_exceed,
        &thresholds,
    );
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    budget.updated_at = Utc::now();
    if !db::update_budget(state.pool(), &before, &budget, &caller.actor).await? {
        return Err(not_found(&id));
    }
    changed(&state, &caller).await;
    tracing::info!(budget_id = %budget.id, actor = %caller.actor, "budget updated");
    Ok(Json(budget_json(&budget)).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_write(&caller, "budgets")?;
    let before = find(&state, &caller, &id).await?;
    if !db::delete_budget(state.pool(), &before, &caller.actor).await? {
        return Err(not_found(&id));
    }
    changed(&state, &caller).await;
    tracing::info!(budget_id = %id, actor = %caller.actor, "budget deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn status_json(budget: &StoredBudget, status: &budget::BudgetStatus) -> Value {
    json!({
        "budget": budget_json(budget),
        "used_usd": status.used_usd,
        "remaining_usd": status.remaining_usd,
        "percentage": status.percentage,
        "is_exceeded": status.exceeded,
        "is_blocked": status.blocking,
        "period_start": time(status.period_start),
        "period_end": time(status.period_end),
    })
}

/// `GET /api/v1/budgets/{id}/status`.
pub async fn status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let budget = find(&state, &caller, &id).await?;
    let status = budget::status(state.pool(), &budget, Utc::now()).await?;
    Ok(Json(status_json(&budget, &status)).into_response())
}

/// `GET /api/v1/budgets/{id}/alerts`: thresholds crossed, newest first.
pub async fn alerts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let budget = find(&state, &caller, &id).await?;
    // Reading the status records any threshold crossed since the last look.
    budget::status(state.pool(), &budget, Utc::now()).await?;
    let alerts = db::list_budget_alerts(state.pool(), &caller.tenant_id, &id).await?;
    let items: Vec<Value> = alerts
        .iter()
        .map(|alert| {
            json!({
                "id": alert.id,
                "budget_id": alert.budget_id,
                "alert_type": if alert.threshold >= 100 { "exceeded" } else { "threshold" },
                "threshold": alert.threshold,
                "percentage_reached": alert.percentage_reached,
                "amount_usd": alert.amount_usd,
                "message": alert.message,
                "created_at": time(alert.created_at),
                "acknowledged": false,
            })
        })
        .collect();
    Ok(Json(json!({"alerts": items, "count": items.len()})).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct CheckRequest {
    org_id: Option<String>,
    team_id: Option<String>,
    agent_id: Option<String>,
    workflow_id: Option<String>,
    user_id: Option<String>,
}

/// `POST /api/v1/budgets/check`: whether a call of this scope (the caller's own ids where none is
/// given) may go now -> `{allowed, action, message, budgets}`.
pub async fn check(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<CheckRequest>,
) -> Result<Response, ApiError> {
    let scope = RequestScope {
        org_id: request.org_id.unwrap_or_else(|| caller.org_id.clone()),
        tenant_id: request.team_id.unwrap_or_else(|| caller.tenant_id.clone()),
        client_id: request.agent_id.unwrap_or_else(|| caller.client_id.clone()),
        user_id: request.user_id,
        workflow_id: request.workflow_id,
    };
    let now = Utc::now();
    let covering: Vec<StoredBudget> = db::list_budgets(state.pool(), &caller.tenant_id, None)
        .await?
        .into_iter()
        .filter(|b| b.enabled && budget::covers(b, &scope))
        .collect();
    let mut action = "allow";
    let mut message = "within every budget".to_owned();
    for budget in &covering {
        let status = budget::status(state.pool(), budget, now).await?;
        if status.blocking {
            action = "block";
            message = budget::exhausted(budget, &status);
            break;
        }
        if status.exceeded && action == "allow" {
            action = if budget.on_exceed == "downgrade" {
                "downgrade"
            } else {
                "warn"
            };
            message = format!("budget {} is exceeded ({})", budget.name, budget.on_exceed);
        }
    }
    Ok(Json(json!({
        "allowed": action != "block",
        "action": action,
        "message": message,
        "budgets": covering.iter().map(budget_json).collect::<Vec<_>>(),
    }))
    .into_response())
}
