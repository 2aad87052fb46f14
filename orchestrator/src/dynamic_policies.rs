//! `/api/v1/dynamic-policies`: a tenant's dynamic policies in the SDK's shapes. Writes are
//! validated with every problem listed (422), compiled as the engine would, recorded with their
//! change in one transaction, and reach every agent and orchestrator replica within the refresh
//! interval (the tenant's policy revision). `/test` evaluates a policy, or the tenant's set, on
//! sample facts.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use axonflow_platform::db::{self, ChangeMeta, ChangeType, StoredDynamicPolicy};
use axonflow_platform::facts::{estimate_tokens, flatten_context, OwnedFacts};
use axonflow_platform::http::api_error::{ApiError, ApiJson, Problem};
use axonflow_platform::http::caller::Caller;
use axonflow_platform::http::params;
use axonflow_platform::internal_call::EndUser;
use axonflow_policy::DynamicEngine;

use crate::guard::require_write;
use crate::state::AppState;

const MAX_POLICIES: usize = 500;
const MAX_CONDITIONS: usize = 50;
/// All of one tenant's policies together: conditions, and regex conditions (each scans the query).
const MAX_TENANT_CONDITIONS: usize = 2000;
const MAX_TENANT_REGEXES: usize = 100;
const MAX_ACTIONS: usize = 10;
const TYPES: &[&str] = &["risk", "content", "user", "cost", "compliance"];

/// A dynamic policy as a client submits it (create) or changes it (update: every field optional).
#[derive(Debug, Default, Deserialize)]
pub struct PolicyFields {
    name: Option<String>,
    description: Option<String>,
    #[serde(rename = "type")]
    policy_type: Option<String>,
    category: Option<String>,
    tier: Option<String>,
    organization_id: Option<String>,
    conditions: Option<Value>,
    actions: Option<Value>,
    priority: Option<i32>,
    enabled: Option<bool>,
    /// Why the change is made (recorded).
    reason: Option<String>,
}

fn problem(problems: &mut Vec<Problem>, field: &str, message: impl Into<String>) {
    problems.push(Problem::new(field, message));
}

/// Every problem of `policy`, its compilation included.
fn validate(policy: &StoredDynamicPolicy, reason: Option<&str>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if policy.name.trim().is_empty() || policy.name.len() > 200 {
        problem(&mut problems, "name", "required, at most 200 bytes");
    }
    if policy.description.len() > 2000 {
        problem(&mut problems, "description", "at most 2000 bytes");
    }
    if !TYPES.contains(&policy.policy_type.as_str()) {
        problem(
            &mut problems,
            "type",
            format!("one of {}", TYPES.join(", ")),
        );
    }
    let category_ok = policy.category.starts_with("dynamic-")
        && policy.category.len() <= 64
        && policy
            .category
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !category_ok {
        problem(
            &mut problems,
            "category",
            "starts with dynamic- (e.g. dynamic-risk, dynamic-compliance): lowercase letters, digits and -",
        );
    }
    if policy.tier != "tenant" {
        problem(
            &mut problems,
            "tier",
            "tenant (organization and system tiers are not written here)",
        );
    }
    if policy
        .organization_id
        .as_ref()
        .is_some_and(|id| id.len() > 128)
    {
        problem(&mut problems, "organization_id", "at most 128 bytes");
    }
    if !(-1000..=1000).contains(&policy.priority) {
        problem(&mut problems, "priority", "between -1000 and 1000");
    }
    if reason.is_some_and(|r| r.len() > 1000) {
        problem(&mut problems, "reason", "at most 1000 bytes");
    }
    let before_shapes = problems.len();
    match policy.conditions.as_array() {
        None => problem(
            &mut problems,
            "conditions",
            "a list of {field, operator, value}",
        ),
        Some(conditions) if conditions.len() > MAX_CONDITIONS => problem(
            &mut problems,
            "conditions",
            format!("at most {MAX_CONDITIONS} conditions"),
        ),
        Some(conditions) => {
            for (idx, condition) in conditions.iter().enumerate() {
                let shaped = condition.get("field").is_some_and(Value::is_string)
                    && condition.get("operator").is_some_and(Value::is_string)
                    && condition.get("value").is_some();
                if !shaped {
                    problem(
                        &mut problems,
                        &format!("conditions[{idx}]"),
                        "an object with a text field, a text operator and a value",
                    );
                }
            }
        }
    }
    match policy.actions.as_array() {
        None => problem(&mut problems, "actions", "a list of {type, config}"),
        Some(actions) if actions.len() > MAX_ACTIONS => problem(
            &mut problems,
            "actions",
            format!("at most {MAX_ACTIONS} actions"),
        ),
        Some(actions) => {
            for (idx, action) in actions.iter().enumerate() {
                let shaped = action.get("type").is_some_and(Value::is_string)
                    && action
                        .get("config")
                        .is_none_or(|c| c.is_object() || c.is_null());
                if !shaped {
                    problem(
                        &mut problems,
                        &format!("actions[{idx}]"),
                        "an object with a text type and an optional config object",
                    );
                }
            }
        }
    }
    // Every problem at once: the engine's own checks run whenever the shapes are right (a missing
    // name is reported above, not again).
    if problems.len() == before_shapes {
        let mut spec = policy.to_spec();
        if spec.name.trim().is_empty() {
            spec.name = "unnamed".to_owned();
        }
        if let Err(errors) = DynamicEngine::compile(std::slice::from_ref(&spec)) {
            for error in errors.0 {
                let field = error
                    .path
                    .split_once('.')
                    .map_or(error.path.as_str(), |(_, field)| field);
                problem(&mut problems, field, error.message);
            }
        }
    }
    problems
}

fn n_conditions(policy: &StoredDynamicPolicy) -> (usize, usize) {
    let conditions = policy.conditions.as_array().map_or(&[][..], Vec::as_slice);
    let regexes = conditions
        .iter()
        .filter(|c| c.get("operator").and_then(Value::as_str) == Some("regex"))
        .count();
    (conditions.len(), regexes)
}

/// The tenant's policies with `policy` in place of its stored version stay within the tenant's
/// totals.
async fn check_tenant_totals(
    state: &AppState,
    policy: &StoredDynamicPolicy,
    problems: &mut Vec<Problem>,
) -> Result<(), ApiError> {
    let others = db::list_dynamic_policies(state.pool(), &policy.tenant_id).await?;
    let (mut conditions, mut regexes) = n_conditions(policy);
    for other in others.iter().filter(|o| o.id != policy.id) {
        let (c, r) = n_conditions(other);
        conditions += c;
        regexes += r;
    }
    if others.iter().filter(|o| o.id != policy.id).count() >= MAX_POLICIES {
        problem(
            problems,
            "policy",
            format!("a tenant may hold at most {MAX_POLICIES} dynamic policies"),
        );
    }
    if conditions > MAX_TENANT_CONDITIONS || regexes > MAX_TENANT_REGEXES {
        problem(
            problems,
            "conditions",
            format!(
                "a tenant's dynamic policies hold at most {MAX_TENANT_CONDITIONS} conditions, \
                 {MAX_TENANT_REGEXES} of them regex"
            ),
        );
    }
    Ok(())
}

/// `validate` on the CPU pool (it compiles the policy's regexes).
async fn validated(
    state: &AppState,
    policy: StoredDynamicPolicy,
    reason: Option<String>,
) -> Result<(StoredDynamicPolicy, Vec<Problem>), ApiError> {
    Ok(state
        .policies()
        .cpu()
        .run(axonflow_platform::cpu::ON_THE_POOL, move || {
            let mut policy = policy;
            // Stored as clients read it: every action has a config object.
            if let Some(actions) = policy.actions.as_array_mut() {
                for action in actions.iter_mut().filter_map(Value::as_object_mut) {
                    if action.get("config").is_none_or(Value::is_null) {
                        action.insert("config".to_owned(), json!({}));
                    }
                }
            }
            let problems = validate(&policy, reason.as_deref());
            (policy, problems)
        })
        .await?)
}

fn invalid(problems: Vec<Problem>) -> ApiError {
    ApiError::invalid("the dynamic policy", problems)
}

fn not_found(id: &str) -> ApiError {
    ApiError::ResourceNotFound {
        message: format!("no dynamic policy {id:?} in your tenant"),
    }
}

async fn find(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<StoredDynamicPolicy, ApiError> {
    let uuid = id.parse::<Uuid>().map_err(|_| not_found(id))?;
    db::find_dynamic_policy(state.pool(), &caller.tenant_id, uuid)
        .await?
        .ok_or_else(|| not_found(id))
}

fn record(
    caller: &Caller,
    policy: &StoredDynamicPolicy,
    change_type: ChangeType,
    reason: Option<String>,
    summary: String,
) -> ChangeMeta {
    ChangeMeta {
        id: Uuid::now_v7(),
        tenant_id: caller.tenant_id.clone(),
        policy_id: policy.id.to_string(),
        change_type,
        changed_by: caller.actor.clone(),
        changed_at: Utc::now(),
        reason: reason.filter(|r| !r.trim().is_empty()),
        summary,
    }
}

/// `GET /api/v1/dynamic-policies`: filters `type`, `enabled`, `search`; `limit`/`offset`.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (limit, offset) = params::limit_offset(&query, 100, 1000)?;
    let enabled = params::boolean(&query, "enabled")?;
    let kind = params::text(&query, "type");
    let search = params::text(&query, "search").map(str::to_lowercase);
    let matching: Vec<Value> = db::list_dynamic_policies(state.pool(), &caller.tenant_id)
        .await?
        .iter()
        .filter(|p| enabled.is_none_or(|e| p.enabled == e))
        .filter(|p| kind.is_none_or(|k| p.policy_type == k))
        .filter(|p| {
            search.as_deref().is_none_or(|s| {
                p.name.to_lowercase().contains(s) || p.description.to_lowercase().contains(s)
            })
        })
        .map(StoredDynamicPolicy::state)
        .collect();
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(0))
        .collect();
    Ok(
        Json(json!({"policies": page, "total": total, "limit": limit, "offset": offset}))
            .into_response(),
    )
}

/// `GET /api/v1/dynamic-policies/effective[?include_disabled=true]`: what the tenant's requests
/// are checked with, highest priority first.
pub async fn effective(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let include_disabled = params::boolean(&query, "include_disabled")?.unwrap_or(false);
    let policies: Vec<Value> = db::list_dynamic_policies(state.pool(), &caller.tenant_id)
        .await?
        .iter()
        .filter(|p| p.enabled || include_disabled)
        .map(StoredDynamicPolicy::state)
        .collect();
    Ok(
        Json(json!({"policies": policies, "tenant_id": caller.tenant_id, "count": policies.len()}))
            .into_response(),
    )
}

pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(find(&state, &caller, &id).await?.state()).into_response())
}

/// `POST /api/v1/dynamic-policies`: 201 with the policy.
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(fields): ApiJson<PolicyFields>,
) -> Result<Response, ApiError> {
    require_write(&caller, "dynamic policies")?;
    let now = Utc::now();
    let policy = StoredDynamicPolicy {
        id: Uuid::now_v7(),
        tenant_id: caller.tenant_id.clone(),
        organization_id: fields.organization_id,
        name: fields.name.unwrap_or_default(),
        description: fields.description.unwrap_or_default(),
        policy_type: fields.policy_type.unwrap_or_else(|| "risk".to_owned()),
        category: fields.category.unwrap_or_else(|| "dynamic-risk".to_owned()),
        tier: fields.tier.unwrap_or_else(|| "tenant".to_owned()),
        conditions: fields.conditions.unwrap_or_else(|| json!([])),
        actions: fields.actions.unwrap_or_else(|| json!([])),
        priority: fields.priority.unwrap_or(0),
        enabled: fields.enabled.unwrap_or(true),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let (policy, mut problems) = validated(&state, policy, fields.reason.clone()).await?;
    check_tenant_totals(&state, &policy, &mut problems).await?;
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let change = record(
        &caller,
        &policy,
        ChangeType::Create,
        fields.reason,
        format!("created: {}", policy.name),
    );
    db::insert_dynamic_policy(state.pool(), &policy, &change).await?;
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
    tracing::info!(policy_id = %policy.id, tenant_id = %caller.tenant_id, actor = %caller.actor, "dynamic policy created");
    Ok((StatusCode::CREATED, Json(policy.state())).into_response())
}

/// `PUT` (or `PATCH`) `/api/v1/dynamic-policies/{id}`: a partial update; absent fields are kept
/// (the SDK's toggle sends `{enabled}`).
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(fields): ApiJson<PolicyFields>,
) -> Result<Response, ApiError> {
    require_write(&caller, "dynamic policies")?;
    let original = find(&state, &caller, &id).await?;
    let mut policy = original.clone();
    let only_enabled = fields.enabled.is_some()
        && fields.name.is_none()
        && fields.description.is_none()
        && fields.policy_type.is_none()
        && fields.category.is_none()
        && fields.tier.is_none()
        && fields.organization_id.is_none()
        && fields.conditions.is_none()
        && fields.actions.is_none()
        && fields.priority.is_none();
    if let Some(name) = fields.name {
        policy.name = name;
    }
    if let Some(description) = fields.description {
        policy.description = description;
    }
    if let Some(policy_type) = fields.policy_type {
        policy.policy_type = policy_type;
    }
    if let Some(category) = fields.category {
        policy.category = category;
    }
    if let Some(tier) = fields.tier {
        policy.tier = tier;
    }
    if let Some(organization_id) = fields.organization_id {
        policy.organization_id = Some(organization_id);
    }
    if let Some(conditions) = fields.conditions {
        policy.conditions = conditions;
    }
    if let Some(actions) = fields.actions {
        policy.actions = actions;
    }
    if let Some(priority) = fields.priority {
        policy.priority = priority;
    }
    if let Some(enabled) = fields.enabled {
        policy.enabled = enabled;
    }
    policy.version += 1;
    policy.updated_at = Utc::now();
    let (policy, mut problems) = validated(&state, policy, fields.reason.clone()).await?;
    check_tenant_totals(&state, &policy, &mut problems).await?;
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let (change_type, summary) = match (only_enabled, policy.enabled) {
        (true, true) => (ChangeType::Enable, "enabled".to_owned()),
        (true, false) => (ChangeType::Disable, "disabled".to_owned()),
        _ => (
            ChangeType::Update,
            format!("updated to version {}", policy.version),
        ),
    };
    let change = record(&caller, &policy, change_type, fields.reason, summary);
    if !db::update_dynamic_policy(state.pool(), &policy, original.version, &change).await? {
        return Err(ApiError::Conflict {
            message: format!(
                "dynamic policy {id} was changed or deleted meanwhile; read it again and retry"
            ),
            code: "policy_changed",
        });
    }
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
    tracing::info!(policy_id = %policy.id, version = policy.version, actor = %caller.actor, "dynamic policy updated");
    Ok(Json(policy.state()).into_response())
}

/// `DELETE /api/v1/dynamic-policies/{id}`: 204; `?reason=` is recorded.
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    require_write(&caller, "dynamic policies")?;
    let policy = find(&state, &caller, &id).await?;
    let reason = params::text(&query, "reason").map(str::to_owned);
    if reason.as_ref().is_some_and(|r| r.len() > 1000) {
        return Err(invalid(vec![Problem {
            field: "reason".to_owned(),
            message: "at most 1000 bytes".to_owned(),
        }]));
    }
    let change = record(
        &caller,
        &policy,
        ChangeType::Delete,
        reason,
        format!("deleted at version {}", policy.version),
    );
    if !db::delete_dynamic_policy(state.pool(), policy.id, &change).await? {
        return Err(not_found(&id));
    }
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
    tracing::info!(policy_id = %policy.id, actor = %caller.actor, "dynamic policy deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/dynamic-policies/{id}/versions`: the recorded changes, newest first (a deleted
/// policy keeps its history).
pub async fn versions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let uuid = id.parse::<Uuid>().map_err(|_| not_found(&id))?;
    let changes =
        db::list_policy_changes(state.pool(), &caller.tenant_id, &uuid.to_string()).await?;
    if changes.is_empty() {
        return Err(not_found(&id));
    }
    let versions: Vec<Value> = changes
        .iter()
        .map(|change| {
            json!({
                "id": change.id,
                "policy_id": change.policy_id,
                "version": change.version,
                "changed_by": change.changed_by,
                "changed_at": change.changed_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "change_type": change.change_type,
                "change_summary": change.summary,
                "reason": change.reason,
                "snapshot": change.after.clone().or_else(|| change.before.clone().map(|mut b| {
                    b["deleted"] = Value::Bool(true);
                    b
                })),
                "previous": change.before,
            })
        })
        .collect();
    Ok(
        Json(json!({"policy_id": uuid, "versions": versions, "count": versions.len()}))
            .into_response(),
    )
}

/// Sample facts for `/test`.
#[derive(Debug, Default, Deserialize)]
pub struct SampleInput {
    #[serde(default)]
    query: String,
    #[serde(default)]
    user: Option<SampleUser>,
    request_type: Option<String>,
    model: Option<String>,
    provider: Option<String>,
    estimated_tokens: Option<u64>,
    estimated_cost_usd: Option<f64>,
    /// UTC time the request is taken to happen (RFC 3339); now when absent.
    time: Option<String>,
    #[serde(default)]
    context: serde_json::Map<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SampleUser {
    id: Option<String>,
    email: Option<String>,
    role: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TestRequest {
    /// A policy to try (not stored); the tenant's enabled set when absent.
    policy: Option<PolicyFields>,
    #[serde(default)]
    input: SampleInput,
}

/// `POST /api/v1/dynamic-policies/test` `{policy?, input}`: which policies match the sample facts
/// and what they ask for. An invalid policy answers `valid: false` with its problems.
pub async fn test(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<TestRequest>,
) -> Result<Response, ApiError> {
    let input = request.input;
    if input.query.len() > 64 * 1024 {
        return Err(ApiError::bad_request(
            "input.query holds at most 65536 bytes",
            "field_too_large",
        ));
    }
    let now = match input.time.as_deref() {
        None => Utc::now(),
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|_| {
                ApiError::bad_request("input.time is not an RFC 3339 time", "invalid_field")
            })?
            .with_timezone(&Utc),
    };
    let engine = match request.policy {
        Some(fields) => {
            let policy = StoredDynamicPolicy {
                id: Uuid::nil(),
                tenant_id: caller.tenant_id.clone(),
                organization_id: fields.organization_id,
                name: fields.name.unwrap_or_else(|| "trial".to_owned()),
                description: fields.description.unwrap_or_default(),
                policy_type: fields.policy_type.unwrap_or_else(|| "risk".to_owned()),
                category: fields.category.unwrap_or_else(|| "dynamic-risk".to_owned()),
                tier: fields.tier.unwrap_or_else(|| "tenant".to_owned()),
                conditions: fields.conditions.unwrap_or_else(|| json!([])),
                actions: fields.actions.unwrap_or_else(|| json!([])),
                priority: fields.priority.unwrap_or(0),
                enabled: true,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            // Validation and compilation are CPU work (regexes): off the async workers.
            let compiled = state
                .policies()
                .cpu()
                .run(axonflow_platform::cpu::ON_THE_POOL, move || {
                    let problems = validate(&policy, None);
                    if !problems.is_empty() {
                        return Err(problems);
                    }
                    Ok(DynamicEngine::compile(std::slice::from_ref(
                        &policy.to_spec(),
                    )))
                })
                .await?;
            match compiled {
                Err(problems) => {
                    return Ok(Json(
                        json!({"valid": false, "problems": problems, "matched": false}),
                    )
                    .into_response())
                }
                Ok(engine) => engine.map_err(|error| {
                    tracing::error!(%error, "a validated dynamic policy did not compile");
                    ApiError::Internal
                })?,
            }
        }
        None => {
            let specs: Vec<_> = db::list_dynamic_policies(state.pool(), &caller.tenant_id)
                .await?
                .iter()
                .map(StoredDynamicPolicy::to_spec)
                .collect();
            state
                .policies()
                .cpu()
                .run(axonflow_platform::cpu::ON_THE_POOL, move || {
                    DynamicEngine::compile(&specs)
                })
                .await?
                .map_err(|_| {
                    ApiError::bad_request(
                        "the tenant's dynamic policies do not all compile; test them one by one",
                        "invalid_policies",
                    )
                })?
        }
    };
    let context: HashMap<String, String> = flatten_context(&input.context)?;
    let user = input.user.unwrap_or_default();
    let facts = OwnedFacts {
        estimated_tokens: input
            .estimated_tokens
            .unwrap_or_else(|| estimate_tokens(input.query.len())),
        query: input.query,
        user: EndUser {
            id: user.id,
            email: user.email,
            role: user.role,
        },
        request_type: input.request_type,
        model: input.model,
        provider: input.provider,
        estimated_cost_usd: input.estimated_cost_usd.unwrap_or(0.0),
        at: now,
        context,
    };
    let cost = facts.query.len();
    let decision = state
        .policies()
        .cpu()
        .run(cost, move || engine.evaluate(&facts.as_facts()))
        .await?;
    Ok(Json(json!({
        "valid": true,
        "matched": !decision.matches.is_empty(),
        "matched_policies": decision.matches.iter().map(|m| json!({
            "policy_id": &*m.policy_id,
            "name": &*m.policy_name,
            "actions": m.actions.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "blocked": decision.block_reason().is_some(),
        "block_reason": decision.block_reason(),
        "redact": decision.redacts(),
        "allowed_providers": decision.allowed_providers(),
    }))
    .into_response())
}
