//! `POST /internal/v1/forward` (signed): an orchestrator route called through an agent. The signed
//! body carries the caller the agent authenticated, the method, the path and the body; the call is
//! run through the `/api/v1` routes as that caller and answered as they answer. Nothing of the
//! caller is taken from a header, so it cannot be forged by anyone without the internal secret.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tower::ServiceExt as _;

use axonflow_platform::http::api_error::ApiError;
use axonflow_platform::http::caller::Caller;
use axonflow_platform::internal_call::Forwarded;

/// The `/api/v1` routes, for forwarded calls.
#[derive(Clone)]
pub struct ApiRouter(pub Router);

pub async fn forward(Extension(api): Extension<ApiRouter>, body: Bytes) -> Response {
    let forwarded: Forwarded = match serde_json::from_slice(&body) {
        Ok(forwarded) => forwarded,
        Err(error) => {
            return ApiError::bad_request(format!("not a forwarded call: {error}"), "invalid_body")
                .into_response()
        }
    };
    if !forwarded.path_and_query.starts_with("/api/v1/") {
        return ApiError::NotFound {
            path: forwarded.path_and_query,
        }
        .into_response();
    }
    let (Ok(method), Ok(uri)) = (
        forwarded.method.parse::<Method>(),
        forwarded.path_and_query.parse::<Uri>(),
    ) else {
        return ApiError::bad_request("the forwarded method or path is invalid", "invalid_body")
            .into_response();
    };
    let mut request = Request::new(Body::from(forwarded.body.unwrap_or_default()));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    request.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    request
        .extensions_mut()
        .insert(Caller::from(forwarded.caller));
    match api.0.oneshot(request).await {
        Ok(response) => response,
        Err(infallible) => match infallible {},
    }
}
