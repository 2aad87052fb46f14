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

/// Sets `TCP_NODELAY` on an accepted connection: a small write (a streamed event, the end of an
/// answer) goes out at once instead of waiting up to 40 ms for the peer's delayed acknowledgement.
fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY on a connection");
    }
}

/// The listener both services serve on: every accepted connection without Nagle's delay.
pub fn listener_without_delay(
    listener: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt;
    listener.tap_io(no_delay as fn(&mut tokio::net::TcpStream))
}
