//! Signed calls from the agent to the orchestrator and what they carry (wire formats between the two
//! services). Every call is signed with the internal secret (`internal_auth`); the authenticated
//! caller travels inside the signed body, so the orchestrator never takes a tenant, org or client
//! from a header or a field a client could set.
//!
//! - `FORWARD_PATH`: an orchestrator-owned route called through the agent (`Forwarded`), answered
//!   as the route answers.
//! - `PROXY_PATH`: Proxy Mode's LLM call (`ProxyCall` -> `ProxyAnswer`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::caller::{Caller, Rights};
use crate::internal_auth::{InternalAuth, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};

pub const FORWARD_PATH: &str = "/internal/v1/forward";
pub const PROXY_PATH: &str = "/internal/v1/proxy";

/// The caller as the agent authenticated it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardedCaller {
    pub client_id: String,
    pub tenant_id: String,
    pub org_id: String,
    pub authenticated: bool,
    /// `none`, `tenant_admin` or `admin`.
    pub rights: String,
    pub actor: String,
    pub rate_limit_rpm: Option<u32>,
    pub rate_limit_tpm: Option<u32>,
    /// The entry point's answer to whether admin-only changes need rights; absent means they do.
    #[serde(default = "required")]
    pub admin_rights_required: bool,
}

fn required() -> bool {
    true
}

impl From<&Caller> for ForwardedCaller {
    fn from(caller: &Caller) -> Self {
        ForwardedCaller {
            client_id: caller.client_id.clone(),
            tenant_id: caller.tenant_id.clone(),
            org_id: caller.org_id.clone(),
            authenticated: caller.authenticated,
            rights: match caller.rights {
                Rights::None => "none",
                Rights::TenantAdmin => "tenant_admin",
                Rights::Admin => "admin",
            }
            .to_owned(),
            actor: caller.actor.clone(),
            rate_limit_rpm: caller.rate_limit_rpm,
            rate_limit_tpm: caller.rate_limit_tpm,
            admin_rights_required: caller.admin_rights_required,
        }
    }
}

impl From<ForwardedCaller> for Caller {
    fn from(forwarded: ForwardedCaller) -> Self {
        Caller {
            client_id: forwarded.client_id,
            tenant_id: forwarded.tenant_id,
            org_id: forwarded.org_id,
            authenticated: forwarded.authenticated,
            rights: match forwarded.rights.as_str() {
                "admin" => Rights::Admin,
                "tenant_admin" => Rights::TenantAdmin,
                _ => Rights::None,
            },
            actor: forwarded.actor,
            rate_limit_rpm: forwarded.rate_limit_rpm,
            rate_limit_tpm: forwarded.rate_limit_tpm,
            admin_rights_required: forwarded.admin_rights_required,
        }
    }
}

/// A request to an orchestrator route, made for `caller`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forwarded {
    pub caller: ForwardedCaller,
    pub method: String,
    pub path_and_query: String,
    /// The body as sent (UTF-8), if any.
    pub body: Option<String>,
}

/// What is known of the end user of a Proxy Mode call (from the user token's claims or the context).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndUser {
    pub id: Option<String>,
    pub email: Option<String>,
    pub role: Option<String>,
}

/// Proxy Mode's call, after the agent's static checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyCall {
    pub caller: ForwardedCaller,
    pub decision_id: String,
    pub trace_id: String,
    /// The query as it may leave (static redactions applied).
    pub query: String,
    pub request_type: String,
    pub user: EndUser,
    /// Context fields flattened (`a.b` for nested keys), as text.
    pub context: std::collections::HashMap<String, String>,
    /// `context.model`, when the client chose one.
    pub model: Option<String>,
    /// `context.provider`, when the client restricted the provider.
    pub provider: Option<String>,
    /// An exhausted `downgrade` budget covers the call: the provider's cheapest model is used.
    #[serde(default)]
    pub downgrade: bool,
}

/// A policy match found by the orchestrator, in the audit row's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoundMatch {
    pub policy_id: String,
    pub category: String,
    pub severity: String,
    pub action: String,
    pub preview: String,
}

/// Proxy Mode's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyAnswer {
    /// `answered`, `blocked` (a dynamic policy) or `failed` (no provider, or the provider failed).
    pub outcome: String,
    /// The answer text after output filtering (`answered`).
    pub answer: Option<String>,
    pub block_reason: Option<String>,
    /// `blocked`: the dynamic policy that blocked.
    #[serde(default)]
    pub blocking_policy: Option<String>,
    /// Dynamic policies that matched the request.
    pub dynamic_policies: Vec<String>,
    /// What the dynamic policies asked for, per policy: `block`, `redact`, `warn`, `log`, `route`.
    pub dynamic_actions: Vec<String>,
    /// Output policies that matched the answer, with masked previews.
    pub output_matches: Vec<FoundMatch>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    pub estimated_cost_usd: f64,
    /// Time spent waiting on the provider.
    pub provider_latency_ms: u32,
    /// `failed`: the HTTP status to answer and a message for the client.
    pub error_status: Option<u16>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Anything else worth keeping in the audit row.
    pub details: Value,
}

/// Why a signed call did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the call could not be signed")]
    Sign,
    #[error("the orchestrator did not answer in time")]
    Timeout,
    #[error("the orchestrator could not be reached: {0}")]
    Unreachable(String),
}

/// POSTs `body` to `base_url` + `path`, signed.
pub async fn post_signed(
    http: &reqwest::Client,
    auth: &InternalAuth,
    base_url: &str,
    path: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<reqwest::Response, CallError> {
    let signed = auth
        .sign("POST", path, &body, chrono::Utc::now().timestamp())
        .map_err(|_| CallError::Sign)?;
    // The hop is a CLIENT span; the orchestrator's SERVER span continues it through `traceparent`.
    let span = crate::telemetry::client_span(&format!("POST {path}"));
    let mut request = http
        .post(format!("{base_url}{path}"))
        .header(TIMESTAMP_HEADER, signed.timestamp)
        .header(NONCE_HEADER, signed.nonce)
        .header(SIGNATURE_HEADER, signed.signature)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if let Some(traceparent) = crate::telemetry::traceparent_of(&span) {
        request = request.header("traceparent", traceparent);
    }
    let sent = request.body(body).timeout(timeout).send();
    tracing::Instrument::instrument(sent, span)
        .await
        .map_err(|error| {
            if error.is_timeout() {
                CallError::Timeout
            } else {
                CallError::Unreachable(error.without_url().to_string())
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_cross_the_wire_unchanged() {
        for (rights, admin_rights_required) in [
            (Rights::None, true),
            (Rights::None, false),
            (Rights::TenantAdmin, true),
            (Rights::Admin, true),
        ] {
            let caller = Caller {
                client_id: "app".to_owned(),
                tenant_id: "t".to_owned(),
                org_id: "o".to_owned(),
                authenticated: true,
                rights,
                actor: "app".to_owned(),
                rate_limit_rpm: Some(5),
                rate_limit_tpm: None,
                admin_rights_required,
            };
            let wire = serde_json::to_string(&ForwardedCaller::from(&caller)).expect("json");
            let back: ForwardedCaller = serde_json::from_str(&wire).expect("json");
            assert_eq!(Caller::from(back), caller);
        }
    }
}
