//! Internal routes (`/internal/*`) for calls from the orchestrator, signed with the shared
//! `AXONFLOW_INTERNAL_SERVICE_SECRET` (see `axonflow_platform::internal_auth`). Without a configured
//! secret they do not exist (404); a missing, wrong, stale or replayed signature is a 401.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use axonflow_platform::internal_auth;

use crate::error::ApiError;
use crate::state::AppState;

/// Largest body an internal call may carry.
const MAX_INTERNAL_BODY_BYTES: usize = 1024 * 1024;

pub async fn require_signature(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let Some(auth) = state.internal_auth() else {
        return ApiError::NotFound { path }.into_response();
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_INTERNAL_BODY_BYTES).await else {
        return ApiError::BodyTooLarge {
            limit_bytes: MAX_INTERNAL_BODY_BYTES,
        }
        .into_response();
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(path.as_str(), |p| p.as_str())
        .to_owned();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(error) = internal_auth::check_request(
        auth,
        state.pool(),
        parts.method.as_str(),
        &path_and_query,
        header,
        &bytes,
    )
    .await
    {
        tracing::warn!(%path, %error, "internal call refused");
        return ApiError::Unauthorized {
            message: error.to_string(),
        }
        .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// `GET|POST /internal/v1/ping`: proves both sides hold the same secret.
pub async fn ping() -> Response {
    Json(json!({
        "service": crate::health::SERVICE,
        "version": crate::health::VERSION,
        "time": crate::time::rfc3339(chrono::Utc::now()),
    }))
    .into_response()
}
