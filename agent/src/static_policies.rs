//! The static policy API (`/api/v1/static-policies`): the system catalogue (read-only; a tenant may
//! override a system policy's action or enabled flag, optionally until an expiry) and the tenant's
//! own regex or keyword policies, validated on write (422 listing every problem). Every write bumps
//! the tenant's policy revision, which every agent on the database picks up within its refresh
//! interval. A tenant sees the catalogue and its own policies, never another tenant's.
//!
//! Weakening a system policy needs admin rights, and every change leaves a record served at
//! `/{id}/versions` (`governance.rs`); submitted policies are checked in `validate.rs`. The admin
//! API's tenant view (`admin/tenants.rs`) reads and changes a tenant's policies through the same
//! functions (`tenant_policies`, `set_override`, `clear_override`).

mod governance;
mod validate;

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use axonflow_platform::db::{self, ChangeType, DbError, PolicyKey, StoredOverride, StoredPolicy};
use axonflow_policy::Severity;

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, Problem};
use crate::state::AppState;
use crate::time::rfc3339;
use governance::{change, check_weakening, override_summary};
use validate::{
    apply_update, check_action, invalid, validate, PolicyFields, Problems, MAX_PATTERN_BYTES,
    MAX_REASON_BYTES, MAX_TENANT_POLICIES,
};

const MAX_TEST_INPUTS: usize = 100;
const MAX_TEST_INPUT_BYTES: usize = 64 * 1024;

/// A policy on the wire. `effective` applies the tenant's override to `action` and `enabled`; the
/// override itself is shown either way.
fn policy_json(policy: &StoredPolicy, applied: Option<&StoredOverride>, effective: bool) -> Value {
    let mut json = db::policy_state(policy, applied);
    if !effective {
        json["action"] = json!(policy.action);
        json["enabled"] = json!(policy.enabled);
    }
    json
}

async fn overrides_by_policy(
    state: &AppState,
    tenant_id: &str,
) -> Result<HashMap<String, StoredOverride>, DbError> {
    Ok(db::list_overrides(state.pool(), tenant_id, false)
        .await?
        .into_iter()
        .map(|o| (o.policy_id.clone(), o))
        .collect())
}

fn not_found(key: &str) -> ApiError {
    ApiError::ResourceNotFound {
        message: format!("no static policy {key:?} (system, or of your tenant)"),
    }
}

async fn find(state: &AppState, caller: &Caller, key: &str) -> Result<StoredPolicy, ApiError> {
    db::find_policy(state.pool(), &caller.tenant_id, &PolicyKey::parse(key))
        .await?
        .ok_or_else(|| not_found(key))
}

fn system_immutable(policy: &StoredPolicy) -> ApiError {
    ApiError::Forbidden {
        message: format!(
            "{} is a system policy and cannot be changed or deleted. To change what it does for your tenant, \
             POST /api/v1/static-policies/{}/override with {{\"action_override\", \"override_reason\", \
             \"expires_at\"?}}, or PATCH it with {{\"enabled\": false}}",
            policy.policy_id, policy.policy_id
        ),
        code: "system_policy_immutable",
    }
}

fn bad_param(name: &str, value: &str, expected: &str) -> ApiError {
    ApiError::bad_request(
        format!("query parameter {name}={value:?} is not {expected}"),
        "invalid_parameter",
    )
}

fn number_param(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| bad_param(name, v, "a whole number"))
        })
        .transpose()
}

fn bool_param(params: &HashMap<String, String>, name: &str) -> Result<Option<bool>, ApiError> {
    match params.get(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if v == "true" || v == "1" => Ok(Some(true)),
        Some(v) if v == "false" || v == "0" => Ok(Some(false)),
        Some(v) => Err(bad_param(name, &v, "true or false")),
    }
}

fn severity_rank(severity: &str) -> u8 {
    match severity.parse::<Severity>() {
        Ok(Severity::Critical) => 0,
        Ok(Severity::High) => 1,
        Ok(Severity::Medium) => 2,
        Ok(Severity::Low) => 3,
        Err(_) => 4,
    }
}

/// `GET /api/v1/static-policies`: filters `category`, `tier`, `enabled`, `search`; paging with
/// `limit`/`offset` (what the SDK sends) or `page`/`page_size`; `sort_by`, `sort_order`.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let limit = number_param(&params, "limit")?;
    let offset = number_param(&params, "offset")?.unwrap_or(0);
    let page = number_param(&params, "page")?;
    let page_size = number_param(&params, "page_size")?;
    let enabled = bool_param(&params, "enabled")?;
    let page_size = limit.or(page_size).unwrap_or(100);
    if !(1..=1000).contains(&page_size) {
        return Err(bad_param(
            "limit",
            &page_size.to_string(),
            "between 1 and 1000",
        ));
    }
    if offset < 0 {
        return Err(bad_param("offset", &offset.to_string(), "at least 0"));
    }
    let start = match (limit, page) {
        (None, Some(page)) if page >= 1 => (page - 1) * page_size,
        (None, Some(page)) => return Err(bad_param("page", &page.to_string(), "at least 1")),
        _ => offset,
    };
    let overrides = overrides_by_policy(&state, &caller.tenant_id).await?;
    let search = params.get("search").map(|s| s.to_lowercase());
    let mut policies: Vec<StoredPolicy> = db::list_policies(state.pool(), &caller.tenant_id)
        .await?
        .into_iter()
        .filter(|p| {
            params
                .get("category")
                .is_none_or(|c| c.is_empty() || &p.category == c)
        })
        .filter(|p| {
            params
                .get("tier")
                .is_none_or(|t| t.is_empty() || &p.tier == t)
        })
        .filter(|p| enabled.is_none_or(|e| p.enabled == e))
        .filter(|p| {
            search.as_deref().is_none_or(|s| {
                p.name.to_lowercase().contains(s)
                    || p.policy_id.to_lowercase().contains(s)
                    || p.description.to_lowercase().contains(s)
            })
        })
        .collect();
    let descending = params
        .get("sort_order")
        .is_some_and(|o| o.eq_ignore_ascii_case("desc"));
    match params.get("sort_by").map(String::as_str) {
        None | Some("") => {}
        Some("name") => policies.sort_by(|a, b| a.name.cmp(&b.name)),
        Some("policy_id") => policies.sort_by(|a, b| a.policy_id.cmp(&b.policy_id)),
        Some("category") => policies.sort_by(|a, b| a.category.cmp(&b.category)),
        Some("priority") => policies.sort_by_key(|p| p.priority),
        Some("severity") => policies.sort_by_key(|p| std::cmp::Reverse(severity_rank(&p.severity))),
        Some("created_at") => policies.sort_by_key(|p| p.created_at),
        Some("updated_at") => policies.sort_by_key(|p| p.updated_at),
        Some(other) => {
            return Err(bad_param(
                "sort_by",
                other,
                "one of name, policy_id, category, priority, severity, created_at, updated_at",
            ))
        }
    }
    if descending {
        policies.reverse();
    }
    let total = policies.len();
    let page_items: Vec<Value> = policies
        .iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(usize::try_from(page_size).unwrap_or(0))
        .map(|p| {
            policy_json(
                p,
                overrides.get(&p.policy_id).filter(|_| p.is_system()),
                false,
            )
        })
        .collect();
    let total_items = i64::try_from(total).unwrap_or(i64::MAX);
    Ok(Json(json!({
        "policies": page_items,
        "pagination": {
            "page": start / page_size + 1,
            "page_size": page_size,
            "total_items": total_items,
            "total_pages": (total_items + page_size - 1) / page_size,
        },
    }))
    .into_response())
}

/// `GET /api/v1/static-policies/{id}`: by UUID or policy id.
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let policy = find(&state, &caller, &key).await?;
    let overrides = overrides_by_policy(&state, &caller.tenant_id).await?;
    let applied = overrides
        .get(&policy.policy_id)
        .filter(|_| policy.is_system());
    Ok(Json(policy_json(&policy, applied, false)).into_response())
}

/// Every policy `tenant_id` sees (the system catalogue, then its own), each system policy with the
/// tenant's override in force: what `/effective` serves, and the admin API's view of a tenant.
pub async fn tenant_policies(
    state: &AppState,
    tenant_id: &str,
) -> Result<Vec<(StoredPolicy, Option<StoredOverride>)>, DbError> {
    let mut overrides = overrides_by_policy(state, tenant_id).await?;
    Ok(db::list_policies(state.pool(), tenant_id)
        .await?
        .into_iter()
        .map(|p| {
            let applied = if p.is_system() {
                overrides.remove(&p.policy_id)
            } else {
                None
            };
            (p, applied)
        })
        .collect())
}

/// A policy as it applies to the tenant: the override (when there is one) applied to `action` and
/// `enabled`, and shown with its reason.
pub fn effective_json(policy: &StoredPolicy, applied: Option<&StoredOverride>) -> Value {
    policy_json(policy, applied, true)
}

/// `GET /api/v1/static-policies/effective`: what this tenant's evaluation runs, overrides applied.
pub async fn effective(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let include_disabled = bool_param(&params, "include_disabled")?.unwrap_or(false);
    let include_overridden = bool_param(&params, "include_overridden")?.unwrap_or(true);
    let policies: Vec<Value> = tenant_policies(&state, &caller.tenant_id)
        .await?
        .iter()
        .filter(|(p, _)| {
            params
                .get("category")
                .is_none_or(|c| c.is_empty() || &p.category == c)
        })
        .filter_map(|(p, applied)| {
            if applied.is_some() && !include_overridden {
                return None;
            }
            let json = effective_json(p, applied.as_ref());
            let enabled = json["enabled"].as_bool().unwrap_or(false);
            (enabled || include_disabled).then_some(json)
        })
        .collect();
    Ok(Json(json!({
        "static": policies,
        "dynamic": [],
        "tenant_id": caller.tenant_id,
        "count": policies.len(),
        "computed_at": rfc3339(Utc::now()),
    }))
    .into_response())
}

/// Checks a custom policy (compiling it as the engine would) on the CPU pool.
async fn checked(
    state: &AppState,
    policy: StoredPolicy,
) -> Result<(StoredPolicy, Vec<Problem>), ApiError> {
    let options = state.policies().system().options().clone();
    Ok(state
        .policies()
        .cpu()
        .run(axonflow_platform::cpu::ON_THE_POOL, move || {
            let problems = validate(&policy, &options);
            (policy, problems)
        })
        .await?)
}

/// A reason given with a change: at most `MAX_REASON_BYTES`.
fn check_reason(problems: &mut Vec<Problem>, reason: Option<&str>) {
    if reason.is_some_and(|r| r.len() > MAX_REASON_BYTES) {
        problems.push(Problem {
            field: "reason".to_owned(),
            message: format!("at most {MAX_REASON_BYTES} bytes"),
        });
    }
}

/// `reason` alone (toggles, deletes): 422 when it is too long.
fn checked_reason(reason: Option<String>) -> Result<Option<String>, ApiError> {
    let mut problems = Vec::new();
    check_reason(&mut problems, reason.as_deref());
    if problems.is_empty() {
        Ok(reason)
    } else {
        Err(invalid(problems))
    }
}

/// `POST /api/v1/static-policies`: a custom policy of the caller's tenant.
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(mut fields): ApiJson<PolicyFields>,
) -> Result<Response, ApiError> {
    let reason = fields.reason.take();
    let (policy, mut problems) = checked(
        &state,
        validate::new_policy(fields, &caller.tenant_id, Utc::now()),
    )
    .await?;
    check_reason(&mut problems, reason.as_deref());
    let n_existing = db::list_policies(state.pool(), &caller.tenant_id)
        .await?
        .iter()
        .filter(|p| !p.is_system())
        .count();
    if n_existing >= MAX_TENANT_POLICIES {
        problems.push(Problem {
            field: "policy".to_owned(),
            message: format!("a tenant may hold at most {MAX_TENANT_POLICIES} custom policies"),
        });
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let record = change(
        &caller,
        &policy.policy_id,
        ChangeType::Create,
        reason,
        format!(
            "created: {} {} ({})",
            policy.detector_kind, policy.action, policy.name
        ),
    );
    match db::insert_tenant_policy(state.pool(), &policy, &record).await {
        Ok(()) => {}
        Err(DbError::AlreadyExists { what }) => {
            return Err(ApiError::Conflict {
                message: format!("{what} already exists in your tenant; choose another policy_id"),
                code: "policy_exists",
            })
        }
        Err(error) => return Err(error.into()),
    }
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
    tracing::info!(policy_id = %policy.policy_id, tenant_id = %caller.tenant_id, actor = %caller.actor, "tenant policy created");
    Ok((StatusCode::CREATED, Json(policy_json(&policy, None, false))).into_response())
}

async fn store_update(
    state: &AppState,
    caller: &Caller,
    original: &StoredPolicy,
    mut fields: PolicyFields,
    change_type: ChangeType,
) -> Result<Response, ApiError> {
    let reason = fields.reason.take();
    let mut policy = original.clone();
    let mut problems = apply_update(&mut policy, fields, Utc::now());
    let (policy, more) = checked(state, policy).await?;
    problems.extend(more);
    check_reason(&mut problems, reason.as_deref());
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let summary = match change_type {
        ChangeType::Enable | ChangeType::Disable => format!("enabled set to {}", policy.enabled),
        _ => format!("updated to version {}", policy.version),
    };
    let record = change(caller, &policy.policy_id, change_type, reason, summary);
    if !db::update_tenant_policy(state.pool(), &policy, original.version, &record).await? {
        return Err(ApiError::Conflict {
            message: format!(
                "policy {} was changed or deleted meanwhile; read it again and retry",
                original.policy_id
            ),
            code: "policy_changed",
        });
    }
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
    tracing::info!(policy_id = %policy.policy_id, version = policy.version, actor = %caller.actor, "tenant policy updated");
    Ok(Json(policy_json(&policy, None, false)).into_response())
}

/// `PUT /api/v1/static-policies/{id}`: changes the given fields of a custom policy.
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    ApiJson(fields): ApiJson<PolicyFields>,
) -> Result<Response, ApiError> {
    let policy = find(&state, &caller, &key).await?;
    if policy.is_system() {
        return Err(system_immutable(&policy));
    }
    store_update(&state, &caller, &policy, fields, ChangeType::Update).await
}

#[derive(Debug, Deserialize)]
pub struct Toggle {
    enabled: bool,
    #[serde(default)]
    reason: Option<String>,
}

/// `PATCH /api/v1/static-policies/{id}` with `{"enabled": bool}`: turns a custom policy on or off,
/// or a system policy for this tenant only (as an override that keeps any action override).
pub async fn toggle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    ApiJson(toggle): ApiJson<Toggle>,
) -> Result<Response, ApiError> {
    let policy = find(&state, &caller, &key).await?;
    let change_type = if toggle.enabled {
        ChangeType::Enable
    } else {
        ChangeType::Disable
    };
    if !policy.is_system() {
        let fields = PolicyFields {
            enabled: Some(toggle.enabled),
            reason: toggle.reason,
            ..PolicyFields::default()
        };
        return store_update(&state, &caller, &policy, fields, change_type).await;
    }
    let reason = checked_reason(toggle.reason)?;
    let existing = overrides_by_policy(&state, &caller.tenant_id)
        .await?
        .remove(&policy.policy_id);
    let action_override = existing.as_ref().and_then(|o| o.action_override.clone());
    check_weakening(
        &caller,
        &policy,
        existing.as_ref(),
        (action_override.as_deref(), Some(toggle.enabled)),
    )?;
    let record = change(
        &caller,
        &policy.policy_id,
        change_type,
        reason.clone(),
        format!("enabled set to {} for the tenant", toggle.enabled),
    );
    let stored = db::upsert_override(
        state.pool(),
        &StoredOverride {
            id: existing.as_ref().map_or_else(Uuid::now_v7, |o| o.id),
            tenant_id: caller.tenant_id.clone(),
            policy_id: policy.policy_id.clone(),
            action_override,
            enabled_override: Some(toggle.enabled),
            override_reason: reason
                .or_else(|| existing.as_ref().map(|o| o.override_reason.clone()))
                .unwrap_or_else(|| format!("enabled set to {} with PATCH", toggle.enabled)),
            created_by: caller.actor.clone(),
            created_at: Utc::now(),
            expires_at: existing.as_ref().and_then(|o| o.expires_at),
        },
        &record,
    )
    .await?;
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
    tracing::info!(policy_id = %policy.policy_id, enabled = toggle.enabled, tenant_id = %caller.tenant_id, actor = %caller.actor, "system policy toggled for tenant");
    Ok(Json(policy_json(&policy, Some(&stored), true)).into_response())
}

/// `DELETE /api/v1/static-policies/{id}`: removes a custom policy (204). `?reason=` is recorded.
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let policy = find(&state, &caller, &key).await?;
    if policy.is_system() {
        return Err(system_immutable(&policy));
    }
    let reason = checked_reason(params.get("reason").cloned())?;
    let record = change(
        &caller,
        &policy.policy_id,
        ChangeType::Delete,
        reason,
        format!("deleted at version {}", policy.version),
    );
    if !db::delete_tenant_policy(state.pool(), policy.id, &record).await? {
        return Err(not_found(&key));
    }
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
    tracing::info!(policy_id = %policy.policy_id, tenant_id = %caller.tenant_id, actor = %caller.actor, "tenant policy deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
pub struct OverrideRequest {
    #[serde(default)]
    action_override: Option<String>,
    #[serde(default)]
    enabled_override: Option<bool>,
    #[serde(default)]
    override_reason: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
}

/// `POST /api/v1/static-policies/{id}/override`: sets (or replaces) this tenant's override of a
/// system policy.
pub async fn create_override(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    ApiJson(request): ApiJson<OverrideRequest>,
) -> Result<Response, ApiError> {
    let (policy, stored) = set_override(&state, &caller, &key, request).await?;
    Ok((
        StatusCode::CREATED,
        Json(db::override_state(&stored, &policy.action)),
    )
        .into_response())
}

/// Sets (or replaces) `caller`'s tenant's override of the system policy `key` (UUID or policy id):
/// validated (422 listing every problem, `override_reason` required), refused (403) when it weakens
/// the policy without admin rights, stored with its change record in one transaction, and applied
/// at once on this agent. Returns the policy and the stored override.
pub async fn set_override(
    state: &AppState,
    caller: &Caller,
    key: &str,
    request: OverrideRequest,
) -> Result<(StoredPolicy, StoredOverride), ApiError> {
    let policy = find(state, caller, key).await?;
    let mut problems = Problems(Vec::new());
    if !policy.is_system() {
        problems.add(
            "policy_id",
            "overrides apply to system policies; change your own policy with PUT instead",
        );
    }
    if let Some(action) = request.action_override.as_deref() {
        check_action(&mut problems, action);
    }
    if request.action_override.is_none() && request.enabled_override.is_none() {
        problems.add(
            "action_override",
            "give action_override, enabled_override or both",
        );
    }
    let reason = request.override_reason.unwrap_or_default();
    if reason.trim().is_empty() || reason.len() > MAX_REASON_BYTES {
        problems.add(
            "override_reason",
            "required, at most 1000 bytes: auditors read it",
        );
    }
    let now = Utc::now();
    let expires_at = match request.expires_at.as_deref() {
        None | Some("") => None,
        Some(text) => match crate::time::parse(text) {
            Some(at) if at > now => Some(at),
            Some(_) => {
                problems.add("expires_at", "must be in the future");
                None
            }
            None => {
                problems.add("expires_at", "not an RFC 3339 time");
                None
            }
        },
    };
    if !problems.0.is_empty() {
        return Err(invalid(problems.0));
    }
    let action_override = request
        .action_override
        .map(|a| a.trim().to_ascii_lowercase());
    let existing = overrides_by_policy(state, &caller.tenant_id)
        .await?
        .remove(&policy.policy_id);
    check_weakening(
        caller,
        &policy,
        existing.as_ref(),
        (action_override.as_deref(), request.enabled_override),
    )?;
    let record = change(
        caller,
        &policy.policy_id,
        ChangeType::OverrideSet,
        Some(reason.clone()),
        override_summary(
            action_override.as_deref(),
            request.enabled_override,
            expires_at,
        ),
    );
    let stored = db::upsert_override(
        state.pool(),
        &StoredOverride {
            id: Uuid::now_v7(),
            tenant_id: caller.tenant_id.clone(),
            policy_id: policy.policy_id.clone(),
            action_override,
            enabled_override: request.enabled_override,
            override_reason: reason,
            created_by: caller.actor.clone(),
            created_at: now,
            expires_at,
        },
        &record,
    )
    .await?;
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
    tracing::info!(policy_id = %policy.policy_id, tenant_id = %caller.tenant_id, actor = %caller.actor, action = ?stored.action_override, enabled = ?stored.enabled_override, "override set");
    Ok((policy, stored))
}

/// `DELETE /api/v1/static-policies/{id}/override`: the system policy applies as shipped again.
/// `?reason=` is recorded.
pub async fn delete_override(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    clear_override(&state, &caller, &key, params.get("reason").cloned()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Clears `caller`'s tenant's override of the policy `key` (UUID or policy id), recording `reason`
/// with the change in one transaction and applying it at once on this agent. 404 when the policy
/// or the override does not exist. Returns the policy.
pub async fn clear_override(
    state: &AppState,
    caller: &Caller,
    key: &str,
    reason: Option<String>,
) -> Result<StoredPolicy, ApiError> {
    let policy = find(state, caller, key).await?;
    let reason = checked_reason(reason)?;
    let existing = overrides_by_policy(state, &caller.tenant_id)
        .await?
        .remove(&policy.policy_id);
    // Back to the policy as shipped: no weakening of it, but perhaps of a stricter override.
    check_weakening(caller, &policy, existing.as_ref(), (None, None))?;
    let record = change(
        caller,
        &policy.policy_id,
        ChangeType::OverrideClear,
        reason,
        "override cleared: the policy applies as shipped".to_owned(),
    );
    if !db::delete_override(state.pool(), &record).await? {
        return Err(ApiError::ResourceNotFound {
            message: format!(
                "tenant {:?} has no override of {}",
                caller.tenant_id, policy.policy_id
            ),
        });
    }
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
    tracing::info!(policy_id = %policy.policy_id, tenant_id = %caller.tenant_id, actor = %caller.actor, "override cleared");
    Ok(policy)
}

/// `GET /api/v1/static-policies/{id}/versions`: the tenant's recorded changes of one policy, newest
/// first. A deleted custom policy keeps its history (ask by policy id).
pub async fn versions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let policy_id =
        match db::find_policy(state.pool(), &caller.tenant_id, &PolicyKey::parse(&key)).await? {
            Some(policy) => policy.policy_id,
            None => key.clone(),
        };
    let changes = db::list_policy_changes(state.pool(), &caller.tenant_id, &policy_id).await?;
    if changes.is_empty() && matches!(PolicyKey::parse(&key), PolicyKey::Id(_)) {
        return Err(not_found(&key));
    }
    let versions: Vec<Value> = changes.iter().map(governance::version_json).collect();
    Ok(Json(json!({
        "policy_id": policy_id,
        "versions": versions,
        "count": versions.len(),
    }))
    .into_response())
}

/// `GET /api/v1/static-policies/overrides`: this tenant's overrides in force.
pub async fn list_overrides(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let overrides = db::list_overrides(state.pool(), &caller.tenant_id, false).await?;
    let system: HashMap<String, String> = db::list_policies(state.pool(), &caller.tenant_id)
        .await?
        .into_iter()
        .filter(StoredPolicy::is_system)
        .map(|p| (p.policy_id, p.action))
        .collect();
    let items: Vec<Value> = overrides
        .iter()
        .map(|o| db::override_state(o, system.get(&o.policy_id).map_or("block", String::as_str)))
        .collect();
    Ok(Json(json!({"overrides": items, "count": items.len()})).into_response())
}

#[derive(Debug, Deserialize)]
pub struct TestRequest {
    pattern: String,
    #[serde(default)]
    inputs: Vec<String>,
}

/// `POST /api/v1/static-policies/test`: runs a regex on sample inputs exactly as a custom policy
/// would run. An invalid regex is a 200 with `valid: false` and the reason.
pub async fn test(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<TestRequest>,
) -> Result<Response, ApiError> {
    if request.inputs.len() > MAX_TEST_INPUTS {
        return Err(ApiError::bad_request(
            format!("at most {MAX_TEST_INPUTS} inputs"),
            "invalid_field",
        ));
    }
    if request
        .inputs
        .iter()
        .any(|i| i.len() > MAX_TEST_INPUT_BYTES)
    {
        return Err(ApiError::bad_request(
            format!("each input at most {MAX_TEST_INPUT_BYTES} bytes"),
            "invalid_field",
        ));
    }
    if request.pattern.len() > MAX_PATTERN_BYTES {
        return Err(ApiError::bad_request(
            format!("pattern at most {MAX_PATTERN_BYTES} bytes"),
            "invalid_field",
        ));
    }
    // Compiling a tenant's regex is CPU work: on the CPU pool, like every policy compilation.
    let (pattern, inputs) = (request.pattern.clone(), request.inputs.clone());
    let tried = state
        .policies()
        .cpu()
        .run(axonflow_platform::cpu::ON_THE_POOL, move || {
            let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            axonflow_policy::test_pattern(&pattern, &inputs)
        })
        .await?;
    let body = match tried {
        Ok(trials) => json!({
            "valid": true,
            "error": null,
            "pattern": request.pattern,
            "inputs": request.inputs,
            "matches": trials.iter().zip(&request.inputs).map(|(trial, input)| json!({
                "input": input,
                "matched": trial.matched,
                "groups": trial.groups,
                "match": trial.first_match,
                "n_matches": trial.n_matches,
                "spans": trial.spans,
            })).collect::<Vec<_>>(),
        }),
        Err(error) => json!({
            "valid": false,
            "error": error,
            "pattern": request.pattern,
            "inputs": request.inputs,
            "matches": [],
        }),
    };
    Ok(Json(body).into_response())
}
