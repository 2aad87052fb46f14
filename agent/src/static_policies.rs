//! The static policy API (`/api/v1/static-policies`): the system catalogue (read-only; a tenant may
//! override a system policy's action or enabled flag, optionally until an expiry) and the tenant's
//! own regex or keyword policies, validated on write (422 listing every problem). Every write bumps
//! the tenant's policy revision, which every agent on the database picks up within its refresh
//! interval. A tenant sees the catalogue and its own policies, never another tenant's.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use axonflow_platform::db::{self, DbError, PolicyKey, StoredOverride, StoredPolicy};
use axonflow_policy::{Action, CompileOptions, Engine, Severity};

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, Problem};
use crate::state::AppState;
use crate::time::rfc3339;

/// Custom policies one tenant may hold.
const MAX_TENANT_POLICIES: usize = 500;
const MAX_PATTERN_BYTES: usize = 4096;
const MAX_KEYWORDS: usize = 500;
const MAX_TEST_INPUTS: usize = 100;
const MAX_TEST_INPUT_BYTES: usize = 64 * 1024;

fn override_json(stored: &StoredOverride, base_action: &str) -> Value {
    json!({
        "id": stored.id,
        "policy_id": stored.policy_id,
        "action_override": stored.action_override.as_deref().unwrap_or(base_action),
        "override_reason": stored.override_reason,
        "created_by": stored.created_by,
        "created_at": rfc3339(stored.created_at),
        "expires_at": stored.expires_at.map(rfc3339),
        "enabled_override": stored.enabled_override,
        "active": true,
    })
}

/// A policy on the wire. `effective` applies the tenant's override to `action` and `enabled`.
fn policy_json(policy: &StoredPolicy, applied: Option<&StoredOverride>, effective: bool) -> Value {
    let (mut action, mut enabled) = (policy.action.as_str(), policy.enabled);
    if effective {
        if let Some(stored) = applied {
            action = stored.action_override.as_deref().unwrap_or(action);
            enabled = stored.enabled_override.unwrap_or(enabled);
        }
    }
    json!({
        "id": policy.id,
        "policy_id": policy.policy_id,
        "name": policy.name,
        "description": policy.description,
        "category": policy.category,
        "tier": policy.tier,
        "detector_kind": policy.detector_kind,
        "pattern": policy.pattern,
        "keywords": policy.keywords,
        "action": action,
        "severity": policy.severity,
        "priority": policy.priority,
        "enabled": enabled,
        "tags": policy.tags,
        "frameworks": policy.frameworks,
        "organization_id": policy.organization_id,
        "tenant_id": policy.tenant_id,
        "created_at": rfc3339(policy.created_at),
        "updated_at": rfc3339(policy.updated_at),
        "version": policy.version,
        "has_override": applied.is_some(),
        "override": applied.map(|o| override_json(o, &policy.action)),
    })
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

/// `GET /api/v1/static-policies/effective`: what this tenant's evaluation runs, overrides applied.
pub async fn effective(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let include_disabled = bool_param(&params, "include_disabled")?.unwrap_or(false);
    let include_overridden = bool_param(&params, "include_overridden")?.unwrap_or(true);
    let overrides = overrides_by_policy(&state, &caller.tenant_id).await?;
    let policies: Vec<Value> = db::list_policies(state.pool(), &caller.tenant_id)
        .await?
        .iter()
        .filter(|p| {
            params
                .get("category")
                .is_none_or(|c| c.is_empty() || &p.category == c)
        })
        .filter_map(|p| {
            let applied = overrides.get(&p.policy_id).filter(|_| p.is_system());
            if applied.is_some() && !include_overridden {
                return None;
            }
            let json = policy_json(p, applied, true);
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

/// A policy as a client submits it (create) or changes it (update: every field optional).
#[derive(Debug, Default, Deserialize)]
pub struct PolicyFields {
    policy_id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    category: Option<String>,
    tier: Option<String>,
    detector_kind: Option<String>,
    pattern: Option<String>,
    keywords: Option<Vec<String>>,
    severity: Option<String>,
    enabled: Option<bool>,
    action: Option<String>,
    priority: Option<i32>,
    tags: Option<Vec<String>>,
    frameworks: Option<Vec<String>>,
    organization_id: Option<String>,
}

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.to_owned(),
            message: message.into(),
        });
    }
}

fn check_action(problems: &mut Problems, action: &str) {
    if action == "require_approval" {
        problems.add(
            "action",
            "require_approval is not supported: there is no approval queue; use block, redact, warn or log",
        );
    } else if let Err(error) = action.parse::<Action>() {
        problems.add("action", error.to_string());
    }
}

fn check_list(problems: &mut Problems, field: &str, items: &[String], max_items: usize) {
    if items.len() > max_items {
        problems.add(field, format!("at most {max_items} entries"));
    }
    if items.iter().any(|t| t.trim().is_empty() || t.len() > 64) {
        problems.add(field, "entries must be non-empty and at most 64 bytes");
    }
}

/// Checks `policy` (a custom policy about to be stored) and compiles it as the engine would.
fn validate(policy: &StoredPolicy, options: &CompileOptions) -> Vec<Problem> {
    let mut problems = Problems(Vec::new());
    if policy.name.trim().is_empty() || policy.name.len() > 200 {
        problems.add("name", "required, at most 200 bytes");
    }
    let category_ok = !policy.category.is_empty()
        && policy.category.len() <= 64
        && policy
            .category
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'));
    if !category_ok {
        problems.add(
            "category",
            "required: lowercase letters, digits, '-' and '_', at most 64 bytes (e.g. pii-us, security-sqli)",
        );
    }
    match policy.tier.as_str() {
        "tenant" => {}
        "system" => problems.add(
            "tier",
            "system policies ship with the product and cannot be created; use tier tenant",
        ),
        "organization" => problems.add(
            "tier",
            "organization-tier policies are not supported yet; use tier tenant",
        ),
        other => problems.add("tier", format!("unknown tier {other:?} (expected tenant)")),
    }
    let policy_id_ok = !policy.policy_id.is_empty()
        && policy.policy_id.len() <= 64
        && policy
            .policy_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !policy_id_ok {
        problems.add(
            "policy_id",
            "lowercase letters, digits and '_', 1 to 64 bytes",
        );
    } else if policy.policy_id.starts_with("sys_") {
        problems.add(
            "policy_id",
            "the sys_ prefix is reserved for system policies",
        );
    }
    match policy.detector_kind.as_str() {
        "regex" => {
            if policy.pattern.len() > MAX_PATTERN_BYTES {
                problems.add("pattern", format!("at most {MAX_PATTERN_BYTES} bytes"));
            }
        }
        "keywords" => {
            if policy.keywords.len() > MAX_KEYWORDS {
                problems.add("keywords", format!("at most {MAX_KEYWORDS} keywords"));
            }
            if policy.keywords.iter().any(|k| k.len() > 200) {
                problems.add("keywords", "each keyword at most 200 bytes");
            }
        }
        "builtin" => problems.add(
            "detector_kind",
            "built-in detectors are system policies; override those instead",
        ),
        other => problems.add(
            "detector_kind",
            format!("unknown detector kind {other:?} (expected regex or keywords)"),
        ),
    }
    check_action(&mut problems, &policy.action);
    if let Err(error) = policy.severity.parse::<Severity>() {
        problems.add("severity", error.to_string());
    }
    if !(-1000..=1000).contains(&policy.priority) {
        problems.add("priority", "between -1000 and 1000");
    }
    check_list(&mut problems, "tags", &policy.tags, 32);
    check_list(&mut problems, "frameworks", &policy.frameworks, 32);
    if problems.0.is_empty() {
        match policy.to_spec() {
            Ok(spec) => {
                if let Err(errors) = Engine::compile(&[spec], options.clone()) {
                    for error in errors.0 {
                        let field = if error.path.ends_with("keywords") {
                            "keywords"
                        } else if error.path.ends_with("pattern") {
                            "pattern"
                        } else {
                            error.path.rsplit('.').next().unwrap_or("policy")
                        };
                        problems.add(field, error.message);
                    }
                }
            }
            Err(error) => problems.add("policy", error.to_string()),
        }
    }
    problems.0
}

fn invalid(problems: Vec<Problem>) -> ApiError {
    ApiError::Invalid {
        message: format!(
            "the policy has {} problem(s): {}",
            problems.len(),
            problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        problems,
    }
}

/// `tenant_` + the name's letters and digits + a short unique suffix.
fn generated_policy_id(name: &str, id: Uuid) -> String {
    let mut slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    slug = slug
        .split('_')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    slug.truncate(40);
    let suffix: String = id.simple().to_string().chars().rev().take(8).collect();
    if slug.is_empty() {
        format!("tenant_{suffix}")
    } else {
        format!("tenant_{slug}_{suffix}")
    }
}

fn keywords_pattern(keywords: &[String]) -> String {
    keywords.join(", ")
}

/// `POST /api/v1/static-policies`: a custom policy of the caller's tenant.
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(fields): ApiJson<PolicyFields>,
) -> Result<Response, ApiError> {
    let id = Uuid::now_v7();
    let now = Utc::now();
    let keywords = fields.keywords.unwrap_or_default();
    let detector_kind = fields.detector_kind.unwrap_or_else(|| {
        if !keywords.is_empty() && fields.pattern.is_none() {
            "keywords".to_owned()
        } else {
            "regex".to_owned()
        }
    });
    let name = fields.name.unwrap_or_default();
    let pattern = if detector_kind == "keywords" {
        keywords_pattern(&keywords)
    } else {
        fields.pattern.unwrap_or_default()
    };
    let policy = StoredPolicy {
        id,
        policy_id: fields
            .policy_id
            .unwrap_or_else(|| generated_policy_id(&name, id)),
        tenant_id: Some(caller.tenant_id.clone()),
        organization_id: fields.organization_id,
        name,
        description: fields.description.unwrap_or_default(),
        category: fields.category.unwrap_or_default(),
        tier: fields.tier.unwrap_or_else(|| "tenant".to_owned()),
        detector_kind,
        pattern,
        keywords,
        action: fields.action.unwrap_or_else(|| "block".to_owned()),
        severity: fields.severity.unwrap_or_else(|| "medium".to_owned()),
        priority: fields.priority.unwrap_or(50),
        enabled: fields.enabled.unwrap_or(true),
        tags: fields.tags.unwrap_or_default(),
        frameworks: fields.frameworks.unwrap_or_default(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let mut problems = validate(&policy, state.policies().system().options());
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
    match db::insert_tenant_policy(state.pool(), &policy).await {
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
    tracing::info!(policy_id = %policy.policy_id, tenant_id = %caller.tenant_id, "tenant policy created");
    Ok((StatusCode::CREATED, Json(policy_json(&policy, None, false))).into_response())
}

/// Applies `fields` onto `policy` (an update), returning the problems found.
fn apply_update(
    policy: &mut StoredPolicy,
    fields: PolicyFields,
    now: DateTime<Utc>,
) -> Vec<Problem> {
    let mut problems = Problems(Vec::new());
    if fields
        .policy_id
        .as_ref()
        .is_some_and(|id| id != &policy.policy_id)
    {
        problems.add(
            "policy_id",
            "cannot be changed; create a new policy instead",
        );
    }
    if fields
        .tier
        .as_ref()
        .is_some_and(|tier| tier != &policy.tier)
    {
        problems.add("tier", "cannot be changed");
    }
    if let Some(name) = fields.name {
        policy.name = name;
    }
    if let Some(description) = fields.description {
        policy.description = description;
    }
    if let Some(category) = fields.category {
        policy.category = category;
    }
    if let Some(kind) = fields.detector_kind {
        policy.detector_kind = kind;
    }
    if let Some(keywords) = fields.keywords {
        policy.keywords = keywords;
        if policy.detector_kind == "keywords" {
            policy.pattern = keywords_pattern(&policy.keywords);
        }
    }
    if let Some(pattern) = fields.pattern {
        if policy.detector_kind != "keywords" {
            policy.pattern = pattern;
        }
    }
    if let Some(severity) = fields.severity {
        policy.severity = severity;
    }
    if let Some(enabled) = fields.enabled {
        policy.enabled = enabled;
    }
    if let Some(action) = fields.action {
        policy.action = action;
    }
    if let Some(priority) = fields.priority {
        policy.priority = priority;
    }
    if let Some(tags) = fields.tags {
        policy.tags = tags;
    }
    if let Some(frameworks) = fields.frameworks {
        policy.frameworks = frameworks;
    }
    policy.version += 1;
    policy.updated_at = now;
    problems.0
}

async fn store_update(
    state: &AppState,
    original: &StoredPolicy,
    fields: PolicyFields,
) -> Result<Response, ApiError> {
    let mut policy = original.clone();
    let mut problems = apply_update(&mut policy, fields, Utc::now());
    problems.extend(validate(&policy, state.policies().system().options()));
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    if !db::update_tenant_policy(state.pool(), &policy, original.version).await? {
        return Err(ApiError::Conflict {
            message: format!(
                "policy {} was changed or deleted meanwhile; read it again and retry",
                original.policy_id
            ),
            code: "policy_changed",
        });
    }
    if let Some(tenant_id) = policy.tenant_id.as_deref() {
        state.policies().changed(state.pool(), tenant_id).await;
    }
    tracing::info!(policy_id = %policy.policy_id, version = policy.version, "tenant policy updated");
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
    store_update(&state, &policy, fields).await
}

#[derive(Debug, Deserialize)]
pub struct Toggle {
    enabled: bool,
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
    if !policy.is_system() {
        let fields = PolicyFields {
            enabled: Some(toggle.enabled),
            ..PolicyFields::default()
        };
        return store_update(&state, &policy, fields).await;
    }
    let existing = overrides_by_policy(&state, &caller.tenant_id)
        .await?
        .remove(&policy.policy_id);
    let stored = db::upsert_override(
        state.pool(),
        &StoredOverride {
            id: existing.as_ref().map_or_else(Uuid::now_v7, |o| o.id),
            tenant_id: caller.tenant_id.clone(),
            policy_id: policy.policy_id.clone(),
            action_override: existing.as_ref().and_then(|o| o.action_override.clone()),
            enabled_override: Some(toggle.enabled),
            override_reason: existing.as_ref().map_or_else(
                || format!("enabled set to {} with PATCH", toggle.enabled),
                |o| o.override_reason.clone(),
            ),
            created_by: caller.client_id.clone(),
            created_at: Utc::now(),
            expires_at: existing.as_ref().and_then(|o| o.expires_at),
        },
    )
    .await?;
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
    tracing::info!(policy_id = %policy.policy_id, enabled = toggle.enabled, tenant_id = %caller.tenant_id, "system policy toggled for tenant");
    Ok(Json(policy_json(&policy, Some(&stored), true)).into_response())
}

/// `DELETE /api/v1/static-policies/{id}`: removes a custom policy (204).
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let policy = find(&state, &caller, &key).await?;
    if policy.is_system() {
        return Err(system_immutable(&policy));
    }
    if !db::delete_tenant_policy(state.pool(), &caller.tenant_id, policy.id).await? {
        return Err(not_found(&key));
    }
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
    tracing::info!(policy_id = %policy.policy_id, tenant_id = %caller.tenant_id, "tenant policy deleted");
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
    let policy = find(&state, &caller, &key).await?;
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
    if reason.trim().is_empty() || reason.len() > 1000 {
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
    let stored = db::upsert_override(
        state.pool(),
        &StoredOverride {
            id: Uuid::now_v7(),
            tenant_id: caller.tenant_id.clone(),
            policy_id: policy.policy_id.clone(),
            action_override: request
                .action_override
                .map(|a| a.trim().to_ascii_lowercase()),
            enabled_override: request.enabled_override,
            override_reason: reason,
            created_by: caller.client_id.clone(),
            created_at: now,
            expires_at,
        },
    )
    .await?;
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
    tracing::info!(policy_id = %policy.policy_id, tenant_id = %caller.tenant_id, action = ?stored.action_override, enabled = ?stored.enabled_override, "override set");
    Ok((
        StatusCode::CREATED,
        Json(override_json(&stored, &policy.action)),
    )
        .into_response())
}

/// `DELETE /api/v1/static-policies/{id}/override`: the system policy applies as shipped again.
pub async fn delete_override(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let policy = find(&state, &caller, &key).await?;
    if !db::delete_override(state.pool(), &caller.tenant_id, &policy.policy_id).await? {
        return Err(ApiError::ResourceNotFound {
            message: format!("your tenant has no override of {}", policy.policy_id),
        });
    }
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
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
        .map(|o| override_json(o, system.get(&o.policy_id).map_or("block", String::as_str)))
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
pub async fn test(ApiJson(request): ApiJson<TestRequest>) -> Result<Response, ApiError> {
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
    let inputs: Vec<&str> = request.inputs.iter().map(String::as_str).collect();
    let body = match axonflow_policy::test_pattern(&request.pattern, &inputs) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_readable() {
        let id = Uuid::now_v7();
        let generated = generated_policy_id("Project Falcon codes!", id);
        assert!(
            generated.starts_with("tenant_project_falcon_codes_"),
            "{generated}"
        );
        assert!(generated
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        assert!(generated_policy_id("€€€", id).starts_with("tenant_"));
    }
}
