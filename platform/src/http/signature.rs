//! The layer of internal routes (`/internal/*`): every call must be signed with the shared
//! `AXONFLOW_INTERNAL_SERVICE_SECRET` (see `internal_auth`). Without a configured secret the routes
//! do not exist (404); a missing, wrong, stale or replayed signature is a 401 and nothing runs.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use crate::db::PgPool;
use crate::internal_auth::{self, InternalAuth};

/// Largest body an internal call may carry: above the agent's default body limit, since a Proxy
/// Mode call carries the whole query.
pub const MAX_INTERNAL_BODY_BYTES: usize = 16 * 1024 * 1024;

/// What the signature layer needs from a service's state.
pub trait SignedCalls: Clone + Send + Sync + 'static {
    /// The verifier; `None` without a configured secret.
    fn internal_auth(&self) -> Option<&InternalAuth>;
    /// Where nonces are claimed (shared by every replica of both services).
    fn nonce_pool(&self) -> &PgPool;
}

/// Refuses every call that is not signed, or whose nonce was seen before.
pub async fn require_signature<S: SignedCalls>(
    State(state): State<S>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let Some(auth) = state.internal_auth() else {
        return super::error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no such endpoint: {path}"),
        );
    };
    let (parts, body) = request.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(refusal) = internal_auth::check_headers(header, chrono::Utc::now().timestamp()) {
        tracing::warn!(%path, %refusal, "internal call refused");
        return super::error_response(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            &refusal.to_string(),
        );
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_INTERNAL_BODY_BYTES).await else {
        return super::error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            &format!("request body is larger than the limit of {MAX_INTERNAL_BODY_BYTES} bytes"),
        );
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(path.as_str(), |p| p.as_str())
        .to_owned();
    if let Err(refusal) = internal_auth::check_request(
        auth,
        state.nonce_pool(),
        parts.method.as_str(),
        &path_and_query,
        header,
        &bytes,
    )
    .await
    {
        tracing::warn!(%path, %refusal, "internal call refused");
        return super::error_response(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            &refusal.to_string(),
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
