//! Errors of the OpenAI-compatible endpoint, written in OpenAI's shape
//! `{"error":{"message","type","param","code"}}` so that OpenAI SDKs raise their usual exceptions.
//! Messages never carry internals (SQL, upstream addresses, keys).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

pub use axonflow_platform::http::api_error::{
    check_stored_size, ApiError, ApiJson, BodyLimit, Problem,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenAiError {
    MissingProviderKey,
    /// The body is not valid JSON, or a field is missing or of the wrong type.
    InvalidRequest {
        message: String,
        param: Option<String>,
        code: &'static str,
    },
    BodyTooLarge {
        limit_bytes: usize,
    },
    /// The text the policies would have to read is longer than the scan limit: refused, never
    /// forwarded unchecked.
    InputTooLarge {
        limit_bytes: usize,
    },
    PolicyDenied {
        reason: String,
    },
    UpstreamUnreachable,
    /// The upstream answer was longer than `AXONFLOW_MAX_RESPONSE_BYTES`.
    UpstreamTooLarge {
        limit_bytes: usize,
    },
    UpstreamTimeout {
        timeout_secs: u64,
    },
    /// Enforcing output policies, the upstream answer holds text in a form they cannot read (not
    /// JSON, content as an array, legacy `text` choices): withheld.
    UpstreamUnreadable,
    NotFound {
        path: String,
    },
    MethodNotAllowed,
    /// The tenant's policies could not be loaded (database down, nothing cached): nothing is
    /// forwarded unchecked.
    PoliciesUnavailable,
    /// Neither Postgres nor the journal took the decision's audit record.
    AuditUnavailable,
    /// The agent is serving its limit of requests at once (`AXONFLOW_MAX_IN_FLIGHT`).
    Overloaded {
        max_in_flight: usize,
    },
    /// Missing, malformed or wrong client credentials (enterprise mode).
    Unauthorized {
        message: String,
    },
    RateLimited {
        limit_kind: &'static str,
        limit: u32,
        retry_after_secs: u64,
    },
    /// A budget with `on_exceed: block` is exhausted.
    BudgetExceeded {
        message: String,
    },
    /// A routed provider refused the request (its status and message kept), or every target
    /// failed.
    Provider {
        status: StatusCode,
        error_type: String,
        code: String,
        message: String,
    },
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
            OpenAiError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            OpenAiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            OpenAiError::InputTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            OpenAiError::PolicyDenied { .. } => StatusCode::BAD_REQUEST,
            OpenAiError::UpstreamUnreachable => StatusCode::BAD_GATEWAY,
            OpenAiError::UpstreamTooLarge { .. } => StatusCode::BAD_GATEWAY,
            OpenAiError::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            OpenAiError::UpstreamUnreadable => StatusCode::BAD_GATEWAY,
            OpenAiError::NotFound { .. } => StatusCode::NOT_FOUND,
            OpenAiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            OpenAiError::PoliciesUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            OpenAiError::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            OpenAiError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            OpenAiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            OpenAiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            OpenAiError::BudgetExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            OpenAiError::Provider { status, .. } => *status,
            OpenAiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn parts(&self) -> (String, &str, Option<&str>, &str) {
        match self {
            OpenAiError::MissingProviderKey => (
                "X-Provider-Key header is required. Pass your upstream provider API key in this header.".to_owned(),
                "invalid_request_error",
                None,
                "missing_provider_key",
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
            OpenAiError::InputTooLarge { limit_bytes } => (
                format!(
                    "The request carries more text than the policy scan limit of {limit_bytes} bytes \
                     (AXONFLOW_POLICY_SCAN_LIMIT_BYTES); nothing was forwarded. Send less text per request."
                ),
                "invalid_request_error",
                None,
                "input_too_large",
            ),
            OpenAiError::UpstreamTooLarge { limit_bytes } => (
                format!(
                    "The upstream answer was larger than the limit of {limit_bytes} bytes \
                     (AXONFLOW_MAX_RESPONSE_BYTES) and was not passed on."
                ),
                "upstream_error",
                None,
                "upstream_response_too_large",
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
            OpenAiError::UpstreamUnreadable => (
                "The upstream answer holds text in a form the output policies cannot read, so it \
                 was not passed on."
                    .to_owned(),
                "upstream_error",
                None,
                "upstream_unreadable",
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
            OpenAiError::PoliciesUnavailable => (
                "Policies could not be loaded, so the request was not checked and not forwarded. Retry shortly.".to_owned(),
                "server_error",
                None,
                "policies_unavailable",
            ),
            OpenAiError::AuditUnavailable => (
                "The call could not be recorded in the audit trail, so its answer is withheld. Retry shortly.".to_owned(),
                "server_error",
                None,
                "audit_unavailable",
            ),
            OpenAiError::Overloaded { max_in_flight } => (
                format!(
                    "The gateway is serving its limit of {max_in_flight} requests at once; retry after the \
                     Retry-After delay."
                ),
                "server_error",
                None,
                "overloaded",
            ),
            OpenAiError::Unauthorized { message } => (
                format!("{message}. Pass api_key=\"client_id:client_secret\" (sent as Authorization: Bearer)."),
                "invalid_request_error",
                None,
                "invalid_api_key",
            ),
            OpenAiError::RateLimited {
                limit_kind,
                limit,
                retry_after_secs,
            } => (
                format!("Rate limit reached: {limit} {limit_kind} per minute. Retry in {retry_after_secs} s."),
                "requests",
                None,
                "rate_limit_exceeded",
            ),
            OpenAiError::BudgetExceeded { message } => {
                (message.clone(), "budget_exceeded", None, "budget_exceeded")
            }
            OpenAiError::Provider {
                error_type,
                code,
                message,
                ..
            } => (message.clone(), error_type.as_str(), None, code.as_str()),
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
        let mut response = (
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
            .into_response();
        if let OpenAiError::RateLimited {
            retry_after_secs, ..
        } = &self
        {
            set_retry_after(&mut response, *retry_after_secs);
        }
        response
    }
}

fn set_retry_after(response: &mut Response, secs: u64) {
    if let Ok(value) = axum::http::HeaderValue::from_str(&secs.to_string()) {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
}

/// The answer to a request shed by the in-flight limit, in the shape of the endpoint at `path`.
pub fn render_shed(path: &str, max_in_flight: usize) -> Response {
    if path.starts_with("/v1/") {
        OpenAiError::Overloaded { max_in_flight }.into_response()
    } else {
        ApiError::Overloaded { max_in_flight }.into_response()
    }
}
