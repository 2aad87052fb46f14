//! Internal routes (`/internal/*`) for calls from the orchestrator, behind the platform's signature
//! layer (`axonflow_platform::http::signature`): without a configured secret they do not exist
//! (404); a missing, wrong, stale or replayed signature is a 401.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// `GET|POST /internal/v1/ping`: proves both sides hold the same secret.
pub async fn ping() -> Response {
    Json(json!({
        "service": crate::health::SERVICE,
        "version": crate::health::VERSION,
        "time": crate::time::rfc3339(chrono::Utc::now()),
    }))
    .into_response()
}
