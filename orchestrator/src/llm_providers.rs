//! `/api/v1/llm-providers` (the tenant's provider registry, in the SDK's shapes) and
//! `/api/v1/providers/status` (circuit breakers of the tenant's targets). Keys are write-only:
//! sealed at once (`platform::provider_keys`), in no answer and no log line. `test` and `health`
//! call the provider with a short prompt that the tenant's policies check first.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use axonflow_platform::db::{self, DbError, StoredProvider};
use axonflow_platform::http::api_error::{ApiError, ApiJson, Problem};
use axonflow_platform::http::caller::Caller;
use axonflow_platform::http::params;
use axonflow_platform::routing;
use axonflow_policy::{Action, Verdict};
use axonflow_providers::route::{Attempt, Failure};
use axonflow_providers::ProviderKind;

use crate::guard::require_write;
use crate::state::AppState;

/// Providers one tenant may register.
const MAX_PROVIDERS: usize = 100;
/// Largest accepted key (Bedrock session tokens are long).
const MAX_KEY_BYTES: usize = 8192;
/// Largest `settings` object, serialised.
const MAX_SETTINGS_BYTES: usize = 16 * 1024;
/// Largest `test` prompt.
const MAX_TEST_PROMPT_BYTES: usize = 4096;
const DEFAULT_TEST_PROMPT: &str = "Reply with the single word: ok";

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A provider in the SDK's `LLMProvider` shape: never the key, only whether there is one.
fn provider_json(provider: &StoredProvider) -> Value {
    json!({
        "name": provider.name,
        "type": provider.provider_type,
        "endpoint": provider.endpoint,
        "model": provider.model,
        "region": provider.region,
        "enabled": provider.enabled,
        "priority": provider.priority,
        "weight": provider.weight,
        "rate_limit": provider.rate_limit,
        "timeout_seconds": provider.timeout_seconds,
        "settings": provider.settings,
        "has_api_key": provider.key.is_some(),
        "health": {
            "status": provider.health_status,
            "message": provider.health_message,
            "last_checked": provider.health_checked.map(time),
        },
        "created_at": time(provider.created_at),
        "updated_at": time(provider.updated_at),
    })
}

/// The writable fields; on create absent ones take defaults, on update absent ones are kept.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFields {
    name: Option<String>,
    #[serde(rename = "type")]
    provider_type: Option<String>,
    endpoint: Option<String>,
    model: Option<String>,
    region: Option<String>,
    enabled: Option<bool>,
    priority: Option<i64>,
    weight: Option<i64>,
    /// Absent: kept; `null`: removed (so `null` must reach us as `Some(Null)`).
    #[serde(default, deserialize_with = "present")]
    rate_limit: Option<Value>,
    timeout_seconds: Option<i64>,
    settings: Option<Value>,
    /// Write-only. On update: a new key replaces the stored one; `""` removes it.
    api_key: Option<String>,
    /// Read-only fields the SDK may send back: accepted and ignored.
    #[serde(rename = "has_api_key")]
    _has_api_key: Option<serde::de::IgnoredAny>,
    #[serde(rename = "health")]
    _health: Option<serde::de::IgnoredAny>,
    #[serde(rename = "created_at")]
    _created_at: Option<serde::de::IgnoredAny>,
    #[serde(rename = "updated_at")]
    _updated_at: Option<serde::de::IgnoredAny>,
}

/// A field that is present, `null` included.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

fn problem(problems: &mut Vec<Problem>, field: &str, message: impl Into<String>) {
    problems.push(Problem::new(field, message));
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn check_settings(problems: &mut Vec<Problem>, settings: &Value) {
    let Some(object) = settings.as_object() else {
        problem(problems, "settings", "an object");
        return;
    };
    // A misspelt setting would be ignored silently: only the known ones are accepted.
    for key in object.keys() {
        if !["models", "model_map", "api_version"].contains(&key.as_str()) {
            problem(
                problems,
                &format!("settings.{key}"),
                "not a setting (models, model_map, api_version)",
            );
        }
    }
    if serde_json::to_vec(settings).map_or(true, |bytes| bytes.len() > MAX_SETTINGS_BYTES) {
        problem(
            problems,
            "settings",
            format!("at most {MAX_SETTINGS_BYTES} bytes"),
        );
    }
    let model_name = |v: &Value| v.as_str().is_some_and(|s| (1..=256).contains(&s.len()));
    if let Some(models) = object.get("models") {
        let ok = models
            .as_array()
            .is_some_and(|list| list.len() <= 200 && list.iter().all(model_name));
        if !ok {
            problem(
                problems,
                "settings.models",
                "a list of at most 200 model names (1 to 256 bytes each)",
            );
        }
    }
    if let Some(map) = object.get("model_map") {
        let ok = map.as_object().is_some_and(|map| {
            map.len() <= 200
                && map
                    .iter()
                    .all(|(k, v)| (1..=256).contains(&k.len()) && model_name(v))
        });
        if !ok {
            problem(
                problems,
                "settings.model_map",
                "an object of at most 200 {requested name: provider's model name}",
            );
        }
    }
    if let Some(version) = object.get("api_version") {
        let ok = version.as_str().is_some_and(|v| {
            (1..=32).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if !ok {
            problem(
                problems,
                "settings.api_version",
                "an API version such as 2024-10-21",
            );
        }
    }
}

fn check_key(problems: &mut Vec<Problem>, kind: Option<ProviderKind>, key: &str) {
    if key.len() > MAX_KEY_BYTES || key.chars().any(|c| c.is_control() || c == ' ') {
        // Never echo the key.
        problem(
            problems,
            "api_key",
            format!("at most {MAX_KEY_BYTES} bytes, no spaces or control characters"),
        );
        return;
    }
    if kind == Some(ProviderKind::Bedrock) {
        let parts: Vec<&str> = key.split(':').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            problem(
                problems,
                "api_key",
                "for bedrock: ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]",
            );
        }
    }
}

/// Checks a whole provider (after defaults or the update are applied).
fn check_provider(problems: &mut Vec<Problem>, provider: &StoredProvider, has_key: bool) {
    let kind = provider.provider_type.parse::<ProviderKind>().ok();
    if kind.is_none() {
        problem(
            problems,
            "type",
            "one of openai, azure-openai, anthropic, gemini, bedrock, ollama",
        );
    }
    match reqwest::Url::parse(&provider.endpoint) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && url.username().is_empty()
                && url.password().is_none()
                && url.query().is_none()
                && url.fragment().is_none()
                && provider.endpoint.len() <= 2048 => {}
        _ => problem(
            problems,
            "endpoint",
            match kind {
                Some(ProviderKind::AzureOpenAi) => {
                    "required for azure-openai: https://<resource>.openai.azure.com"
                }
                Some(ProviderKind::Bedrock) => {
                    "an http(s) base URL, or give region for the default one"
                }
                _ => "an http(s) base URL without credentials, query or fragment",
            },
        ),
    }
    if !(1..=256).contains(&provider.model.len()) {
        problem(problems, "model", "required, 1 to 256 bytes");
    }
    match (&provider.region, kind) {
        (Some(region), _)
            if !(1..=32).contains(&region.len())
                || !region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            problem(problems, "region", "an AWS region such as us-east-1")
        }
        (None, Some(ProviderKind::Bedrock)) => {
            problem(problems, "region", "required for bedrock (SigV4 signing)")
        }
        _ => {}
    }
    if !(-1_000_000..=1_000_000).contains(&provider.priority) {
        problem(problems, "priority", "between -1000000 and 1000000");
    }
    if !(0..=1_000_000).contains(&provider.weight) {
        problem(problems, "weight", "between 0 and 1000000");
    }
    if provider.rate_limit.is_some_and(|limit| limit < 1) {
        problem(
            problems,
            "rate_limit",
            "a positive number of requests per second",
        );
    }
    if !(1..=600).contains(&provider.timeout_seconds) {
        problem(problems, "timeout_seconds", "between 1 and 600");
    }
    check_settings(problems, &provider.settings);
    if kind.is_some_and(ProviderKind::needs_credentials) && !has_key {
        problem(
            problems,
            "api_key",
            format!("required for type {}", provider.provider_type),
        );
    }
}

fn int(problems: &mut Vec<Problem>, field: &str, value: Option<i64>, default: i32) -> i32 {
    match value {
        None => default,
        Some(v) => i32::try_from(v).unwrap_or_else(|_| {
            problem(problems, field, "out of range");
            default
        }),
    }
}

fn not_found(name: &str) -> ApiError {
    ApiError::ResourceNotFound {
        message: format!("no LLM provider {name:?} in your tenant"),
    }
}

fn encryption_off() -> ApiError {
    ApiError::NotConfigured {
        message: "provider keys cannot be stored: AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY is not set on the \
                  orchestrator (openssl rand -base64 32)"
            .to_owned(),
        code: "provider_key_encryption_off",
    }
}

async fn find(state: &AppState, caller: &Caller, name: &str) -> Result<StoredProvider, ApiError> {
    db::find_provider(state.pool(), &caller.tenant_id, name)
        .await?
        .ok_or_else(|| not_found(name))
}

async fn changed(state: &AppState, caller: &Caller) {
    state
        .policies()
        .changed(state.pool(), &caller.tenant_id)
        .await;
}

/// Applies `fields` over `provider` (defaults on create), collecting problems.
fn apply(
    provider: &mut StoredProvider,
    fields: ProviderFields,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    // The endpoint follows the type and region while it is their default (or was never set).
    let old_default = provider
        .provider_type
        .parse::<ProviderKind>()
        .ok()
        .and_then(|kind| kind.default_endpoint(provider.region.as_deref()));
    let endpoint_was_default =
        provider.endpoint.is_empty() || old_default.as_deref() == Some(provider.endpoint.as_str());
    if let Some(kind) = fields.provider_type {
        provider.provider_type = kind;
    }
    if let Some(region) = fields.region {
        provider.region = Some(region).filter(|r| !r.is_empty());
    }
    match fields.endpoint {
        Some(endpoint) => provider.endpoint = endpoint.trim().trim_end_matches('/').to_owned(),
        None if endpoint_was_default => provider.endpoint.clear(),
        None => {}
    }
    if provider.endpoint.is_empty() {
        if let Ok(kind) = provider.provider_type.parse::<ProviderKind>() {
            provider.endpoint = kind
                .default_endpoint(provider.region.as_deref())
                .unwrap_or_default();
        }
    }
    if let Some(model) = fields.model {
        provider.model = model;
    }
    if let Some(enabled) = fields.enabled {
        provider.enabled = enabled;
    }
    provider.priority = int(problems, "priority", fields.priority, provider.priority);
    provider.weight = int(problems, "weight", fields.weight, provider.weight);
    provider.timeout_seconds = int(
        problems,
        "timeout_seconds",
        fields.timeout_seconds,
        provider.timeout_seconds,
    );
    // `null` (or 0) removes the limit; absent keeps it.
    match fields.rate_limit {
        None => {}
        Some(Value::Null) => provider.rate_limit = None,
        Some(Value::Number(limit)) if limit.as_i64() == Some(0) => provider.rate_limit = None,
        Some(Value::Number(limit)) if limit.as_i64().is_some() => {
            provider.rate_limit = Some(int(problems, "rate_limit", limit.as_i64(), 0));
        }
        Some(_) => problem(
            problems,
            "rate_limit",
            "a whole number of requests per second, or null for none",
        ),
    }
    if let Some(settings) = fields.settings {
        provider.settings = if settings.is_null() {
            Value::Object(Map::new())
        } else {
            settings
        };
    }
    fields.api_key
}

/// `POST /api/v1/llm-providers` -> 201 `{provider}`.
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(fields): ApiJson<ProviderFields>,
) -> Result<Response, ApiError> {
    require_write(&caller, "LLM providers")?;
    let mut problems = Vec::new();
    let name = fields.name.clone().unwrap_or_default();
    if !valid_name(&name) {
        problem(&mut problems, "name", "1 to 64 of A-Z a-z 0-9 . _ -");
    }
    let now = Utc::now();
    let mut provider = StoredProvider {
        tenant_id: caller.tenant_id.clone(),
        name,
        provider_type: String::new(),
        endpoint: String::new(),
        model: String::new(),
        region: None,
        enabled: true,
        priority: 0,
        weight: 100,
        rate_limit: None,
        timeout_seconds: 60,
        settings: Value::Object(Map::new()),
        key: None,
        health_status: "unknown".to_owned(),
        health_message: String::new(),
        health_checked: None,
        created_at: now,
        updated_at: now,
    };
    let key = apply(&mut provider, fields, &mut problems).filter(|k| !k.is_empty());
    let kind = provider.provider_type.parse::<ProviderKind>().ok();
    if let Some(key) = &key {
        check_key(&mut problems, kind, key);
    }
    check_provider(&mut problems, &provider, key.is_some());
    if db::list_providers(state.pool(), &caller.tenant_id)
        .await?
        .len()
        >= MAX_PROVIDERS
    {
        problem(
            &mut problems,
            "provider",
            format!("a tenant may hold at most {MAX_PROVIDERS} providers"),
        );
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid("the provider", problems));
    }
    if let Some(key) = key {
        let ring = state
            .config()
            .common
            .provider_keys
            .as_ref()
            .ok_or_else(encryption_off)?;
        provider.key = Some(ring.seal(&provider.tenant_id, &provider.name, &key));
    }
    match db::insert_provider(state.pool(), &provider, &caller.actor).await {
        Ok(()) => {}
        Err(DbError::AlreadyExists { what }) => {
            return Err(ApiError::Conflict {
                message: format!("{what} already exists in your tenant; choose another name"),
                code: "provider_exists",
            })
        }
        Err(error) => return Err(error.into()),
    }
    changed(&state, &caller).await;
    tracing::info!(provider = %provider.name, provider_type = %provider.provider_type, tenant_id = %caller.tenant_id, actor = %caller.actor, "LLM provider created");
    Ok((
        StatusCode::CREATED,
        Json(json!({"provider": provider_json(&provider)})),
    )
        .into_response())
}

/// `GET /api/v1/llm-providers?type&enabled&page&page_size` -> `{providers, pagination}`.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let page = params::number(&query, "page")?.unwrap_or(1);
    let page_size = params::number(&query, "page_size")?.unwrap_or(20);
    if page < 1 {
        return Err(ApiError::bad_request(
            "query parameter page must be at least 1",
            "invalid_parameter",
        ));
    }
    if !(1..=100).contains(&page_size) {
        return Err(ApiError::bad_request(
            "query parameter page_size must be between 1 and 100",
            "invalid_parameter",
        ));
    }
    let enabled = params::boolean(&query, "enabled")?;
    let kind = params::text(&query, "type");
    let providers: Vec<StoredProvider> = db::list_providers(state.pool(), &caller.tenant_id)
        .await?
        .into_iter()
        .filter(|p| kind.is_none_or(|k| p.provider_type == k))
        .filter(|p| enabled.is_none_or(|e| p.enabled == e))
        .collect();
    let total = providers.len();
    let skip = usize::try_from((page - 1).saturating_mul(page_size)).unwrap_or(usize::MAX);
    let items: Vec<Value> = providers
        .iter()
        .skip(skip)
        .take(usize::try_from(page_size).unwrap_or(20))
        .map(provider_json)
        .collect();
    let page_size_n = usize::try_from(page_size).unwrap_or(20);
    Ok(Json(json!({
        "providers": items,
        "pagination": {
            "page": page,
            "page_size": page_size,
            "total_items": total,
            "total_pages": total.div_ceil(page_size_n).max(1),
        },
    }))
    .into_response())
}

pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let provider = find(&state, &caller, &name).await?;
    Ok(Json(json!({"provider": provider_json(&provider)})).into_response())
}

/// `PUT /api/v1/llm-providers/{name}`: partial; absent fields and the stored key are kept.
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    ApiJson(fields): ApiJson<ProviderFields>,
) -> Result<Response, ApiError> {
    require_write(&caller, "LLM providers")?;
    let before = find(&state, &caller, &name).await?;
    let mut problems = Vec::new();
    if fields.name.as_deref().is_some_and(|n| n != name) {
        problem(
            &mut problems,
            "name",
            "a provider cannot be renamed; create one under the new name",
        );
    }
    let mut provider = before.clone();
    let key = apply(&mut provider, fields, &mut problems);
    let kind = provider.provider_type.parse::<ProviderKind>().ok();
    let has_key = match key.as_deref() {
        None => before.key.is_some(),
        Some("") => false,
        Some(key) => {
            check_key(&mut problems, kind, key);
            true
        }
    };
    check_provider(&mut problems, &provider, has_key);
    let destination_changed = provider.endpoint != before.endpoint
        || provider.provider_type != before.provider_type
        || provider.region != before.region;
    if before.key.is_some() && key.is_none() && destination_changed {
        problem(
            &mut problems,
            "api_key",
            "send the key again (or \"\" to remove it) when endpoint, type or region changes: a stored \
             key never goes to a destination it was not given for",
        );
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid("the provider", problems));
    }
    match key.as_deref() {
        None => {}
        Some("") => provider.key = None,
        Some(key) => {
            let ring = state
                .config()
                .common
                .provider_keys
                .as_ref()
                .ok_or_else(encryption_off)?;
            provider.key = Some(ring.seal(&provider.tenant_id, &provider.name, key));
        }
    }
    provider.updated_at = Utc::now();
    if !db::update_provider(state.pool(), &before, &provider, &caller.actor).await? {
        return Err(not_found(&name));
    }
    changed(&state, &caller).await;
    tracing::info!(provider = %provider.name, tenant_id = %caller.tenant_id, actor = %caller.actor, key_changed = key.is_some(), "LLM provider updated");
    Ok(Json(json!({"provider": provider_json(&provider)})).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    require_write(&caller, "LLM providers")?;
    let before = find(&state, &caller, &name).await?;
    if !db::delete_provider(state.pool(), &before, &caller.actor).await? {
        return Err(not_found(&name));
    }
    changed(&state, &caller).await;
    tracing::info!(provider = %name, tenant_id = %caller.tenant_id, actor = %caller.actor, "LLM provider deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct TestRequest {
    prompt: Option<String>,
}

/// Calls the provider once (no breaker, no retry) with `prompt`, checked by the tenant's policies
/// first, and stores the outcome as its health.
async fn check_provider_call(
    state: &AppState,
    caller: &Caller,
    name: &str,
    prompt: String,
    max_tokens: u32,
) -> Result<(StoredProvider, Attempt, Result<(), String>), ApiError> {
    let provider = find(state, caller, name).await?;
    let tenant = state
        .policies()
        .for_tenant(state.pool(), &caller.tenant_id)
        .await?;
    let decision = state
        .policies()
        .evaluate_one(&tenant, prompt.clone())
        .await?;
    let redacts = decision
        .matches
        .iter()
        .any(|m| matches!(m.action, Action::Redact));
    if decision.verdict == Verdict::Deny || redacts {
        return Err(ApiError::Forbidden {
            message: format!(
                "the test prompt was blocked by policy: {}",
                decision
                    .block_reason()
                    .unwrap_or_else(|| "policy violation".to_owned())
            ),
            code: "policy_violation",
        });
    }
    let keys = state.config().common.provider_keys.as_deref();
    let target = routing::target_of(&provider, keys, &provider.model).ok_or_else(|| {
        ApiError::NotConfigured {
            message: format!("the key of provider {name:?} cannot be opened on this service"),
            code: "provider_key_unavailable",
        }
    })?;
    let request = json!({
        "model": provider.model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
    });
    let timeout = target.attempt_timeout.min(state.config().upstream_timeout);
    let (attempt, result) = state.router().probe(&target, &request, timeout).await;
    let outcome = result
        .map(|_| ())
        .map_err(|failure| failure_message(&failure));
    let (status, message) = match &outcome {
        Ok(()) => ("healthy", format!("answered in {} ms", attempt.latency_ms)),
        Err(message) => ("unhealthy", message.clone()),
    };
    let checked = Utc::now();
    db::set_provider_health(
        state.pool(),
        &caller.tenant_id,
        name,
        status,
        &message,
        checked,
    )
    .await?;
    db::record_admin_entry(
        state.pool(),
        &db::AdminEntry {
            id: uuid::Uuid::now_v7(),
            actor: caller.actor.clone(),
            action: "llm_provider.test".to_owned(),
            target: name.to_owned(),
            details: json!({
                "tenant_id": caller.tenant_id,
                "model": provider.model,
                "status": attempt.status,
                "error": attempt.error,
                "latency_ms": attempt.latency_ms,
                "healthy": outcome.is_ok(),
            }),
            created_at: checked,
        },
    )
    .await?;
    Ok((provider, attempt, outcome))
}

fn failure_message(failure: &Failure) -> String {
    match failure {
        Failure::Unsupported(error) => error.message.clone(),
        Failure::Refused(error) | Failure::Broken(error) | Failure::AllFailed(Some(error)) => {
            error.message.clone()
        }
        Failure::TooLarge { limit_bytes } => format!("answer over {limit_bytes} bytes"),
        Failure::AllFailed(None) => "the provider could not be reached".to_owned(),
        Failure::Deadline => "the provider did not answer in time".to_owned(),
        Failure::Unavailable => "the provider is skipped for now (rate limit spent)".to_owned(),
    }
}

/// `POST /api/v1/llm-providers/{name}/test {prompt?}` -> `{success, provider, model, status,
/// latency_ms, message}`.
pub async fn test(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    require_write(&caller, "LLM providers")?;
    // The body is optional: no body tests with the default prompt.
    let request: TestRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TestRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| {
            ApiError::bad_request(format!("not a test request: {error}"), "invalid_body")
        })?
    };
    let prompt = request
        .prompt
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_PROMPT.to_owned());
    if prompt.len() > MAX_TEST_PROMPT_BYTES {
        return Err(ApiError::bad_request(
            format!("prompt is longer than {MAX_TEST_PROMPT_BYTES} bytes"),
            "field_too_large",
        ));
    }
    let (provider, attempt, outcome) =
        check_provider_call(&state, &caller, &name, prompt, 64).await?;
    Ok(Json(json!({
        "success": outcome.is_ok(),
        "provider": provider.name,
        "model": provider.model,
        "status": attempt.status,
        "latency_ms": attempt.latency_ms,
        "message": match &outcome {
            Ok(()) => "the provider answered".to_owned(),
            Err(message) => message.clone(),
        },
    }))
    .into_response())
}

/// `GET /api/v1/llm-providers/{name}/health`: calls the provider with a one-token prompt and
/// returns (and stores) its health.
pub async fn health(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    // A health check calls the provider (and costs a token): like `test`, for those who may write.
    require_write(&caller, "LLM providers")?;
    let (provider, attempt, outcome) =
        check_provider_call(&state, &caller, &name, DEFAULT_TEST_PROMPT.to_owned(), 1).await?;
    Ok(Json(json!({
        "provider": provider.name,
        "status": if outcome.is_ok() { "healthy" } else { "unhealthy" },
        "message": outcome.err().unwrap_or_default(),
        "latency_ms": attempt.latency_ms,
        "last_checked": time(Utc::now()),
    }))
    .into_response())
}

/// `GET /api/v1/providers/status` -> `{targets[{provider, type, model, state, latency_ms,
/// error_rate, consecutive_failures, opened_at}]}`: every target this orchestrator has called for
/// the tenant, and each enabled provider's default model not called yet (closed).
pub async fn status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let providers = db::list_providers(state.pool(), &caller.tenant_id).await?;
    let seen = state.router().status_of(&caller.tenant_id);
    let mut targets: Vec<Value> = seen.iter().map(routing::status_json).collect();
    for provider in providers.iter().filter(|p| p.enabled) {
        let called = seen
            .iter()
            .any(|t| t.key.provider == provider.name && t.key.model == provider.model);
        if !called {
            targets.push(json!({
                "provider": provider.name,
                "type": provider.provider_type,
                "model": provider.model,
                "state": "closed",
                "latency_ms": null,
                "error_rate": 0.0,
                "consecutive_failures": 0,
                "opened_at": null,
            }));
        }
    }
    Ok(Json(json!({"targets": targets})).into_response())
}
