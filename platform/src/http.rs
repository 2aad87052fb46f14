//! HTTP plumbing both services mount, once: who the caller is (`caller`), signed internal calls
//! (`signature`), strict JSON bodies (`json`), the in-flight limit (`inflight`) and the AxonFlow
//! error body (`error_response`). Routes and handlers stay in the services.

pub mod api_error;
pub mod caller;
pub mod inflight;
pub mod json;
pub mod params;
pub mod signature;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The AxonFlow error shape: `{"success": false, "error": message, "message": message, "code":
/// code}`. `message` repeats `error` because the official SDKs show it on 403.
pub fn error_body(message: &str, code: &str) -> serde_json::Value {
    serde_json::json!({"success": false, "error": message, "message": message, "code": code})
}

/// An AxonFlow-shaped error response.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(error_body(message, code))).into_response()
}
