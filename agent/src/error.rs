//! Errors of the OpenAI-compatible endpoint, written in OpenAI's shape
//! `{"error":{"message","type","param","code"}}` so that OpenAI SDKs raise their usual exceptions.
//! Messages never carry internals (SQL, upstream addresses, keys).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenAiError {
    MissingProviderKey,
    StreamNotSupported,
    /// The body is not valid JSON, or a field is missing or of the wrong type.
    InvalidRequest {
        message: String,
        param: Option<String>,
        code: &'static str,
    },
    BodyTooLarge {
        limit_bytes: usize,
    },
    PolicyDenied {
        reason: String,
    },
    UpstreamUnreachable,
    UpstreamTimeout {
        timeout_secs: u64,
    },
    NotFound {
        path: String,
    },
    MethodNotAllowed,
    Internal,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    message: String,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: &'a str,
}

impl OpenAiError {
    pub fn invalid(message: impl Into<String>, param: Option<&str>, code: &'static str) -> Self {
        OpenAiError::InvalidRequest {
            message: message.into(),
            param: param.map(str::to_owned),
            code,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            OpenAiError::MissingProviderKey => StatusCode::BAD_REQUEST,
            OpenAiError::StreamNotSupported => StatusCode::BAD_REQUEST,
            OpenAiError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            OpenAiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            OpenAiError::PolicyDenied { .. } => StatusCode::BAD_REQUEST,
            OpenAiError::UpstreamUnreachable => StatusCode::BAD_GATEWAY,
            OpenAiError::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            OpenAiError::NotFound { .. } => StatusCode::NOT_FOUND,
            OpenAiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            OpenAiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn parts(&self) -> (String, &'static str, Option<&str>, &'static str) {
        match self {
            OpenAiError::MissingProviderKey => (
                "X-Provider-Key header is required. Pass your upstream provider API key in this header.".to_owned(),
                "invalid_request_error",
                None,
                "missing_provider_key",
            ),
            OpenAiError::StreamNotSupported => (
                "Streaming is not supported in this release. Remove `stream: true` from your request.".to_owned(),
                "invalid_request_error",
                Some("stream"),
                "stream_not_supported",
            ),
            OpenAiError::InvalidRequest { message, param, code } => {
                (message.clone(), "invalid_request_error", param.as_deref(), code)
            }
            OpenAiError::BodyTooLarge { limit_bytes } => (
                format!("Request body is larger than the limit of {limit_bytes} bytes."),
                "invalid_request_error",
                None,
                "request_too_large",
            ),
            OpenAiError::PolicyDenied { reason } => {
                (format!("Request blocked by policy: {reason}"), "policy_violation", None, "policy_denied")
            }
            OpenAiError::UpstreamUnreachable => (
                "The upstream provider could not be reached.".to_owned(),
                "upstream_error",
                None,
                "upstream_unreachable",
            ),
            OpenAiError::UpstreamTimeout { timeout_secs } => (
                format!("The upstream provider did not answer within {timeout_secs} s."),
                "upstream_error",
                None,
                "upstream_timeout",
            ),
            OpenAiError::NotFound { path } => (
                format!("Unknown endpoint {path}. This gateway serves POST /v1/chat/completions."),
                "invalid_request_error",
                None,
                "unknown_url",
            ),
            OpenAiError::MethodNotAllowed => (
                "Method not allowed. Use POST.".to_owned(),
                "invalid_request_error",
                None,
                "method_not_allowed",
            ),
            OpenAiError::Internal => {
                ("Internal error; the request was not completed.".to_owned(), "server_error", None, "internal_error")
            }
        }
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, kind, param, code) = self.parts();
        (
            status,
            Json(Body {
                error: Inner {
                    message,
                    kind,
                    param,
                    code,
                },
            }),
        )
            .into_response()
    }
}

/// Errors of the AxonFlow-native endpoints: `{"success": false, "error": message, "code": code}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    NotFound { path: String },
    MethodNotAllowed,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, code) = match &self {
            ApiError::NotFound { path } => (format!("no such endpoint: {path}"), "not_found"),
            ApiError::MethodNotAllowed => ("method not allowed".to_owned(), "method_not_allowed"),
        };
        (
            status,
            Json(serde_json::json!({"success": false, "error": message, "code": code})),
        )
            .into_response()
    }
}
