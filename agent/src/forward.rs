//! The single entry point: orchestrator-owned routes (`/api/v1/dynamic-policies…`,
//! `/api/v1/llm-providers…`, `/api/v1/providers/status`, `/api/v1/budgets…`, `/api/v1/usage…`,
//! `/api/v1/pricing`) called on the agent are forwarded to the orchestrator, signed with the
//! internal secret and carrying the caller this agent authenticated, and answered as the
//! orchestrator answers. `/api/v1/providers/status` adds this agent's own view of the targets it
//! routes to (the OpenAI endpoint's calls) to the orchestrator's (Proxy Mode's).
//!
//! Without an internal secret (community mode only: enterprise mode refuses to start without one)
//! the call is passed on as received, with its own `Authorization`, to the orchestrator's route,
//! which authenticates it itself.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use axonflow_platform::http::api_error::ApiError;
use axonflow_platform::http::caller::Caller;
use axonflow_platform::http::signature::MAX_INTERNAL_BODY_BYTES;
use axonflow_platform::internal_call::{self, CallError, Forwarded, FORWARD_PATH};

use crate::state::AppState;

/// The route prefixes the orchestrator owns.
pub const ORCHESTRATOR_ROUTES: &[&str] = &[
    "/api/v1/dynamic-policies",
    "/api/v1/llm-providers",
    "/api/v1/budgets",
    "/api/v1/usage",
    "/api/v1/pricing",
];

/// Largest body forwarded to an orchestrator route (policies, budgets, samples to test: small
/// JSON). Escaped into the signed envelope it still fits `MAX_INTERNAL_BODY_BYTES`.
const MAX_FORWARDED_BODY_BYTES: usize = 1024 * 1024;
const _: () = assert!(6 * MAX_FORWARDED_BODY_BYTES + 64 * 1024 <= MAX_INTERNAL_BODY_BYTES);

/// Whether a forwarded call changes something (so this agent's cached policies are stale):
/// not a read, and not one of the POSTs that only evaluate (`/test`, `/check`).
fn is_change(method: &axum::http::Method, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    *method != axum::http::Method::GET
        && *method != axum::http::Method::HEAD
        && !path.ends_with("/test")
        && !path.ends_with("/check")
}

/// 502/503 naming the orchestrator.
pub fn unavailable(state: &AppState, status: StatusCode, why: &str) -> Response {
    let message = format!(
        "the orchestrator at {} {why}; nothing was done",
        state.config().orchestrator_url
    );
    axonflow_platform::http::error_response(status, "orchestrator_unavailable", &message)
}

fn relay(response: reqwest::Response, body: bytes::Bytes) -> Response {
    let mut relayed = Response::new(Body::from(body));
    *relayed.status_mut() = response.status();
    if let Some(content_type) = response.headers().get(header::CONTENT_TYPE) {
        relayed
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type.clone());
    }
    relayed
}

pub async fn forward(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let limit = MAX_FORWARDED_BODY_BYTES.min(state.config().max_body_bytes);
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return ApiError::BodyTooLarge { limit_bytes: limit }.into_response();
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let timeout = state.config().upstream_timeout;
    let sent = match state.internal_auth() {
        Some(auth) => {
            let body = if bytes.is_empty() {
                None
            } else {
                match String::from_utf8(bytes.to_vec()) {
                    Ok(text) => Some(text),
                    Err(_) => {
                        return ApiError::bad_request("the body is not UTF-8 JSON", "invalid_body")
                            .into_response()
                    }
                }
            };
            let envelope = Forwarded {
                caller: (&caller).into(),
                method: parts.method.as_str().to_owned(),
                path_and_query,
                body,
            };
            let Ok(envelope) = serde_json::to_vec(&envelope) else {
                return ApiError::Internal.into_response();
            };
            internal_call::post_signed(
                state.http(),
                auth,
                &state.config().orchestrator_url,
                FORWARD_PATH,
                envelope,
                timeout,
            )
            .await
        }
        None => {
            let mut plain = state
                .http()
                .request(
                    parts.method.clone(),
                    format!("{}{path_and_query}", state.config().orchestrator_url),
                )
                .body(bytes)
                .timeout(timeout);
            for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
                if let Some(value) = parts.headers.get(&name) {
                    plain = plain.header(name, value.clone());
                }
            }
            plain.send().await.map_err(|error| {
                if error.is_timeout() {
                    CallError::Timeout
                } else {
                    CallError::Unreachable(error.without_url().to_string())
                }
            })
        }
    };
    match sent {
        Err(CallError::Timeout) => unavailable(
            &state,
            StatusCode::GATEWAY_TIMEOUT,
            "did not answer in time",
        ),
        Err(error) => {
            tracing::warn!(%error, "orchestrator call failed");
            unavailable(&state, StatusCode::BAD_GATEWAY, "could not be reached")
        }
        Ok(response)
            if response.status() == StatusCode::UNAUTHORIZED && state.internal_auth().is_some() =>
        {
            tracing::error!(
                "the orchestrator refused this agent's signed call: the internal secrets differ"
            );
            unavailable(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "refused this agent's signature (AXONFLOW_INTERNAL_SERVICE_SECRET must be the same on both)",
            )
        }
        Ok(response) => {
            // A write that took applies to this agent's next request at once (other replicas
            // follow within their refresh interval).
            if is_change(&parts.method, parts.uri.path()) && response.status().is_success() {
                state
                    .policies()
                    .changed(state.pool(), &caller.tenant_id)
                    .await;
            }
            match read_limited(response, state.config().max_response_bytes).await {
                Some((response, body)) => relay(response, body),
                None => unavailable(
                    &state,
                    StatusCode::BAD_GATEWAY,
                    "answered too much or broke off",
                ),
            }
        }
    }
}

/// The orchestrator's answer, at most `limit` bytes.
async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Option<(reqwest::Response, bytes::Bytes)> {
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.ok()? {
        if body.len() + chunk.len() > limit {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some((response, body.freeze()))
}

/// `GET /api/v1/providers/status`: the orchestrator's targets merged with this agent's; a target
/// both call shows the worse state. The orchestrator's error answers are passed on as they are.
pub async fn providers_status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    request: Request,
) -> Response {
    let local: Vec<serde_json::Value> = state
        .router()
        .status_of(&caller.tenant_id)
        .iter()
        .map(axonflow_platform::routing::status_json)
        .collect();
    let forwarded = forward(State(state.clone()), Extension(caller), request).await;
    if forwarded.status() != StatusCode::OK {
        return forwarded;
    }
    let limit = state.config().max_response_bytes;
    let Ok(bytes) = axum::body::to_bytes(forwarded.into_body(), limit).await else {
        return unavailable(
            &state,
            StatusCode::BAD_GATEWAY,
            "answered too much or broke off",
        );
    };
    let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return unavailable(
            &state,
            StatusCode::BAD_GATEWAY,
            "answered something that is not JSON",
        );
    };
    if let Some(targets) = body
        .get_mut("targets")
        .and_then(serde_json::Value::as_array_mut)
    {
        axonflow_platform::routing::merge_status(targets, &local);
    }
    axum::Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn only_changes_make_the_cached_policies_stale() {
        assert!(is_change(&Method::POST, "/api/v1/dynamic-policies"));
        assert!(is_change(&Method::PUT, "/api/v1/budgets/cap"));
        assert!(is_change(&Method::DELETE, "/api/v1/budgets/cap"));
        assert!(is_change(&Method::PATCH, "/api/v1/dynamic-policies/x"));
        assert!(!is_change(&Method::GET, "/api/v1/budgets"));
        assert!(!is_change(&Method::POST, "/api/v1/budgets/check"));
        assert!(!is_change(&Method::POST, "/api/v1/dynamic-policies/test"));
    }
}
