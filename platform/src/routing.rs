//! From a tenant's registered providers to the targets of one call: which providers serve the
//! requested model (`settings.models`, the keys of `settings.model_map`, else the provider's own
//! `model`), the model sent to each, their keys opened, restricted by routing policies. Also the
//! start-up proof that every stored key opens with the configured key-encryption keys.

use std::time::Duration;

use axonflow_providers::breaker::TargetKey;
use axonflow_providers::route::RouteTarget;
use axonflow_providers::ProviderKind;
use serde_json::Value;

use crate::db::{self, PgPool, StoredProvider};
use crate::provider_keys::KeyRing;

/// Azure OpenAI's `api-version` when the provider's settings name none.
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// The model names a provider serves, as clients request them.
pub fn served_models(provider: &StoredProvider) -> Vec<String> {
    let mut names: Vec<String> = provider
        .settings
        .get("models")
        .and_then(Value::as_array)
        .map(|models| {
            models
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(map) = provider
        .settings
        .get("model_map")
        .and_then(Value::as_object)
    {
        names.extend(map.keys().cloned());
    }
    if names.is_empty() {
        names.push(provider.model.clone());
    }
    names
}

/// The provider's name for a requested model: `model_map[requested]`, else the name itself.
pub fn model_sent(provider: &StoredProvider, requested: &str) -> String {
    provider
        .settings
        .get("model_map")
        .and_then(|map| map.get(requested))
        .and_then(Value::as_str)
        .unwrap_or(requested)
        .to_owned()
}

/// The model used when a call names none: the default model of the tenant's highest-priority
/// enabled provider (`providers` are ordered by priority).
pub fn default_model(providers: &[StoredProvider]) -> Option<&str> {
    providers
        .iter()
        .find(|provider| provider.enabled)
        .map(|provider| provider.model.as_str())
}

/// What restricts the targets of one call.
#[derive(Debug, Default, Clone, Copy)]
pub struct Restrictions<'a> {
    /// A routing policy's `allowed_providers` (names or types, case-insensitive).
    pub allowed: Option<&'a [String]>,
    /// The one provider the caller asked for (Proxy Mode's `context.provider`: a name or a type).
    pub only: Option<&'a str>,
}

fn names_provider(wanted: &str, provider: &StoredProvider) -> bool {
    wanted.eq_ignore_ascii_case(&provider.name)
        || wanted.eq_ignore_ascii_case(&provider.provider_type)
}

/// A provider's settings as one target (for routing, `test` and `health`); `None` when its type
/// is unknown or its key does not open (logged, never shown).
pub fn target_of(
    provider: &StoredProvider,
    keys: Option<&KeyRing>,
    model: &str,
) -> Option<RouteTarget> {
    let kind: ProviderKind = provider.provider_type.parse().ok()?;
    let credentials = match &provider.key {
        None => None,
        Some(sealed) => {
            match keys.map(|ring| ring.open(&provider.tenant_id, &provider.name, sealed)) {
                Some(Ok(credentials)) => Some(credentials),
                Some(Err(error)) => {
                    tracing::error!(tenant_id = %provider.tenant_id, provider = %provider.name, %error, "provider key does not open; provider skipped");
                    return None;
                }
                None => {
                    tracing::error!(tenant_id = %provider.tenant_id, provider = %provider.name, "AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY is not set; provider with a key skipped");
                    return None;
                }
            }
        }
    };
    Some(RouteTarget {
        key: TargetKey {
            tenant: provider.tenant_id.clone(),
            provider: provider.name.clone(),
            model: model.to_owned(),
        },
        kind,
        endpoint: provider.endpoint.trim_end_matches('/').to_owned(),
        api_version: Some(
            provider
                .settings
                .get("api_version")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_AZURE_API_VERSION)
                .to_owned(),
        )
        .filter(|_| kind == ProviderKind::AzureOpenAi),
        region: provider.region.clone(),
        credentials,
        priority: provider.priority,
        weight: u32::try_from(provider.weight).unwrap_or(0),
        attempt_timeout: Duration::from_secs(
            u64::try_from(provider.timeout_seconds).unwrap_or(60).max(1),
        ),
        rate_limit: provider
            .rate_limit
            .and_then(|limit| u32::try_from(limit).ok()),
    })
}

/// The targets serving `requested` for one call, unordered (the router orders them).
pub fn targets_for(
    providers: &[StoredProvider],
    keys: Option<&KeyRing>,
    requested: &str,
    restrictions: Restrictions<'_>,
) -> Vec<RouteTarget> {
    providers
        .iter()
        .filter(|provider| provider.enabled)
        .filter(|provider| served_models(provider).iter().any(|name| name == requested))
        .filter(|provider| {
            restrictions
                .allowed
                .is_none_or(|allowed| allowed.iter().any(|name| names_provider(name, provider)))
        })
        .filter(|provider| {
            restrictions
                .only
                .is_none_or(|only| names_provider(only, provider))
        })
        .filter_map(|provider| target_of(provider, keys, &model_sent(provider, requested)))
        .collect()
}

/// Why the service must not start: a stored key that the configured KEKs do not open.
#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error("{0}")]
    Database(#[from] db::DbError),
    #[error(
        "AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY: the key of provider {provider:?} (tenant {tenant:?}) {reason}; \
         set the key-encryption key it was sealed with (or list it in AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY_PREVIOUS)"
    )]
    DoesNotOpen {
        tenant: String,
        provider: String,
        reason: String,
    },
}

/// At start: every stored key opens with the configured KEKs (else the service refuses to start),
/// and keys sealed under a former KEK are re-sealed under the current one. Returns how many were
/// re-sealed.
pub async fn check_stored_keys(
    pool: &PgPool,
    keys: Option<&KeyRing>,
) -> Result<usize, KeyCheckError> {
    let stored = db::all_sealed_keys(pool).await?;
    let mut resealed = 0;
    for (tenant, provider, sealed) in stored {
        let Some(ring) = keys else {
            return Err(KeyCheckError::DoesNotOpen {
                tenant,
                provider,
                reason: "is stored sealed but no key-encryption key is set".to_owned(),
            });
        };
        let opened =
            ring.open(&tenant, &provider, &sealed)
                .map_err(|error| KeyCheckError::DoesNotOpen {
                    tenant: tenant.clone(),
                    provider: provider.clone(),
                    reason: error.to_string(),
                })?;
        if ring.is_stale(&sealed) {
            let fresh = ring.seal(&tenant, &provider, opened.expose());
            if db::reseal_key(pool, &tenant, &provider, &sealed, &fresh).await? {
                resealed += 1;
            }
        }
    }
    Ok(resealed)
}

/// Whether a routing policy's `allowed_providers` (provider names or types) admits the target.
pub fn is_allowed(target: &RouteTarget, allowed: &[String]) -> bool {
    allowed.iter().any(|name| {
        name.eq_ignore_ascii_case(target.provider())
            || name.eq_ignore_ascii_case(target.kind.as_str())
    })
}

/// Every attempt of a routed call, as the audit row keeps them (`metadata.attempts`).
pub fn attempts_json(attempts: &[axonflow_providers::route::Attempt]) -> Value {
    Value::Array(
        attempts
            .iter()
            .map(|a| {
                serde_json::json!({"provider": a.provider, "model": a.model, "status": a.status,
                                   "error": a.error, "latency_ms": a.latency_ms})
            })
            .collect(),
    )
}

/// The router of a service: its HTTP client, the response cap and the configured breakers.
pub fn router(
    http: reqwest::Client,
    max_response_bytes: usize,
    breaker: &crate::config::BreakerConfig,
) -> axonflow_providers::route::Router {
    let router = axonflow_providers::route::Router::new(
        http,
        axonflow_providers::route::RouterSettings {
            max_response_bytes,
            ..axonflow_providers::route::RouterSettings::default()
        },
        axonflow_providers::breaker::Breakers::new(breaker.failures, breaker.open_for),
    );
    if crate::telemetry::exporting() {
        router.with_trace_context(crate::telemetry::traceparent_of)
    } else {
        router
    }
}

/// One target's breaker state as `GET /api/v1/providers/status` shows it.
pub fn status_json(target: &axonflow_providers::breaker::TargetStatus) -> Value {
    serde_json::json!({
        "provider": target.key.provider,
        "type": target.kind,
        "model": target.key.model,
        "state": target.state.as_str(),
        "latency_ms": target.latency_ms.map(|ms| (ms * 10.0).round() / 10.0),
        "error_rate": target.error_rate,
        "consecutive_failures": target.consecutive_failures,
        "opened_at": target.opened_at.map(|at| {
            chrono::DateTime::<chrono::Utc>::from(at)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        }),
    })
}

fn state_rank(state: &Value) -> u8 {
    match state.as_str() {
        Some("open") => 2,
        Some("half_open") => 1,
        _ => 0,
    }
}

/// Adds one service's view of its targets to another's (`targets` as `status_json` writes them):
/// a target both know shows the worse state, the higher failure counts and error rate.
pub fn merge_status(targets: &mut Vec<Value>, other: &[Value]) {
    for theirs in other {
        let same = targets.iter_mut().find(|ours| {
            ours["provider"] == theirs["provider"] && ours["model"] == theirs["model"]
        });
        let Some(ours) = same else {
            targets.push(theirs.clone());
            continue;
        };
        if state_rank(&theirs["state"]) > state_rank(&ours["state"]) {
            ours["state"] = theirs["state"].clone();
            ours["opened_at"] = theirs["opened_at"].clone();
        }
        for field in ["error_rate", "consecutive_failures"] {
            let (a, b) = (
                ours[field].as_f64().unwrap_or(0.0),
                theirs[field].as_f64().unwrap_or(0.0),
            );
            if b > a {
                ours[field] = theirs[field].clone();
            }
        }
        if ours["latency_ms"].is_null() {
            ours["latency_ms"] = theirs["latency_ms"].clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(name: &str, kind: &str, settings: Value) -> StoredProvider {
        let now = chrono::Utc::now();
        StoredProvider {
            tenant_id: "t".to_owned(),
            name: name.to_owned(),
            provider_type: kind.to_owned(),
            endpoint: "http://127.0.0.1:9/v1/".to_owned(),
            model: format!("{name}-default"),
            region: None,
            enabled: true,
            priority: 0,
            weight: 100,
            rate_limit: None,
            timeout_seconds: 7,
            settings,
            key: None,
            health_status: "unknown".to_owned(),
            health_message: String::new(),
            health_checked: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn merged_status_shows_the_worse_view() {
        let target = |provider: &str, state: &str, failures: u32, rate: f64| {
            serde_json::json!({"provider": provider, "model": "m", "state": state, "latency_ms": null,
                               "error_rate": rate, "consecutive_failures": failures, "opened_at": null})
        };
        let mut ours = vec![target("a", "closed", 0, 0.0), target("b", "open", 7, 1.0)];
        merge_status(
            &mut ours,
            &[
                target("a", "open", 5, 0.5),
                target("b", "closed", 0, 0.0),
                target("c", "closed", 0, 0.0),
            ],
        );
        assert_eq!(ours.len(), 3);
        assert_eq!(ours[0]["state"], "open");
        assert_eq!(ours[0]["consecutive_failures"], 5);
        assert_eq!(ours[0]["error_rate"], 0.5);
        assert_eq!(ours[1]["state"], "open");
        assert_eq!(ours[1]["consecutive_failures"], 7);
        assert_eq!(ours[2]["provider"], "c");
    }

    #[test]
    fn served_models_and_the_model_sent() {
        let plain = provider("plain", "ollama", serde_json::json!({}));
        assert_eq!(served_models(&plain), vec!["plain-default"]);
        let mapped = provider(
            "mapped",
            "ollama",
            serde_json::json!({"models": ["a"], "model_map": {"b": "b-real"}}),
        );
        assert_eq!(served_models(&mapped), vec!["a", "b"]);
        assert_eq!(model_sent(&mapped, "b"), "b-real");
        assert_eq!(model_sent(&mapped, "a"), "a");
    }

    #[test]
    fn targets_follow_models_enabled_flags_and_restrictions() {
        let mut disabled = provider("off", "ollama", serde_json::json!({"models": ["m"]}));
        disabled.enabled = false;
        let providers = vec![
            provider("one", "ollama", serde_json::json!({"models": ["m"]})),
            provider(
                "two",
                "ollama",
                serde_json::json!({"model_map": {"m": "m2"}}),
            ),
            provider("other", "ollama", serde_json::json!({"models": ["x"]})),
            disabled,
        ];
        let names = |targets: Vec<RouteTarget>| -> Vec<(String, String)> {
            targets
                .into_iter()
                .map(|t| (t.key.provider.clone(), t.key.model.clone()))
                .collect()
        };
        assert_eq!(
            names(targets_for(&providers, None, "m", Restrictions::default())),
            vec![
                ("one".to_owned(), "m".to_owned()),
                ("two".to_owned(), "m2".to_owned())
            ]
        );
        let allowed = vec!["TWO".to_owned()];
        let restricted = Restrictions {
            allowed: Some(&allowed),
            only: None,
        };
        assert_eq!(
            names(targets_for(&providers, None, "m", restricted)).len(),
            1
        );
        let only_type = Restrictions {
            allowed: None,
            only: Some("ollama"),
        };
        assert_eq!(
            names(targets_for(&providers, None, "m", only_type)).len(),
            2
        );
        assert!(targets_for(&providers, None, "nobody", Restrictions::default()).is_empty());
        let target = &targets_for(&providers, None, "m", Restrictions::default())[0];
        assert_eq!(
            target.endpoint, "http://127.0.0.1:9/v1",
            "trailing slash trimmed"
        );
        assert_eq!(target.attempt_timeout, Duration::from_secs(7));
        // A provider whose key cannot be opened (no KEK here) is left out, never called keyless.
        let mut keyed = provider("keyed", "openai", serde_json::json!({"models": ["m"]}));
        keyed.key = Some(crate::db::SealedKey {
            key_id: "kek-x".to_owned(),
            sealed: vec![0; 40],
        });
        assert!(targets_for(&[keyed], None, "m", Restrictions::default()).is_empty());
    }
}
