//! The AxonFlow error shape of both services' native endpoints, `{"success": false, "error",
//! "message", "code"}` (plus `problems` on 422 and `rate_limit` on 429), and the strict JSON body
//! extractor that answers in it. The OpenAI shape of `/v1/*` belongs to the agent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::http::json::{self, JsonError};

/// One problem with a submitted policy (or other resource), for 422 answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// Errors of the AxonFlow-native endpoints: `{"success": false, "error": message, "message": message,
/// "code": code}`
/// (plus `problems` on 422 and `rate_limit` on 429). The official SDKs put the raw body in their
/// exception message, so messages say what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No route at this path.
    NotFound {
        path: String,
    },
    MethodNotAllowed,
    BadRequest {
        message: String,
        code: &'static str,
    },
    BodyTooLarge {
        limit_bytes: usize,
    },
    /// A text to evaluate is longer than the scan limit.
    InputTooLarge {
        field: &'static str,
        limit_bytes: usize,
    },
    UnsupportedMediaType {
        message: String,
    },
    /// A named resource (policy, override) does not exist for this caller.
    ResourceNotFound {
        message: String,
    },
    /// Missing, malformed or wrong credentials.
    Unauthorized {
        message: String,
    },
    Forbidden {
        message: String,
        code: &'static str,
    },
    Conflict {
        message: String,
        code: &'static str,
    },
    Invalid {
        message: String,
        problems: Vec<Problem>,
    },
    RateLimited {
        limit_kind: &'static str,
        limit: u32,
        retry_after_secs: u64,
        reset_at: String,
    },
    /// The database could not be reached; nothing was decided.
    Unavailable,
    /// A feature the request needs is not configured on this service.
    NotConfigured {
        message: String,
        code: &'static str,
    },
    /// The agent is serving its limit of requests at once.
    Overloaded {
        max_in_flight: usize,
    },
    Internal,
}

impl Problem {
    pub fn new(field: &str, message: impl Into<String>) -> Problem {
        Problem {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl ApiError {
    /// 422 listing every problem of `subject` (`the budget`, `the policy`...).
    pub fn invalid(subject: &str, problems: Vec<Problem>) -> Self {
        ApiError::Invalid {
            message: format!(
                "{subject} has {} problem(s): {}",
                problems.len(),
                problems
                    .iter()
                    .map(|p| format!("{}: {}", p.field, p.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            problems,
        }
    }

    pub fn bad_request(message: impl Into<String>, code: &'static str) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            code,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InputTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::ResourceNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotConfigured { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(error: crate::db::DbError) -> Self {
        tracing::error!(%error, "database call failed");
        ApiError::Unavailable
    }
}

impl From<crate::policy_store::Unavailable> for ApiError {
    fn from(error: crate::policy_store::Unavailable) -> Self {
        tracing::error!(%error, "tenant policies unavailable; nothing decided");
        ApiError::Unavailable
    }
}

impl From<crate::cpu::JobFailed> for ApiError {
    fn from(_: crate::cpu::JobFailed) -> Self {
        tracing::error!("policy evaluation job failed");
        ApiError::Internal
    }
}

impl From<crate::facts::ContextTooLarge> for ApiError {
    fn from(error: crate::facts::ContextTooLarge) -> Self {
        ApiError::bad_request(error.to_string(), "field_too_large")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, code) = match &self {
            ApiError::NotFound { path } => (format!("no such endpoint: {path}"), "not_found"),
            ApiError::MethodNotAllowed => ("method not allowed".to_owned(), "method_not_allowed"),
            ApiError::BadRequest { message, code } => (message.clone(), *code),
            ApiError::BodyTooLarge { limit_bytes } => (
                format!("request body is larger than the limit of {limit_bytes} bytes"),
                "request_too_large",
            ),
            ApiError::InputTooLarge { field, limit_bytes } => (
                format!(
                    "{field} is longer than the policy scan limit of {limit_bytes} bytes \
                     (AXONFLOW_POLICY_SCAN_LIMIT_BYTES); nothing was evaluated"
                ),
                "input_too_large",
            ),
            ApiError::UnsupportedMediaType { message } => {
                (message.clone(), "unsupported_media_type")
            }
            ApiError::ResourceNotFound { message } => (message.clone(), "not_found"),
            ApiError::Unauthorized { message } => (message.clone(), "unauthorized"),
            ApiError::Forbidden { message, code } => (message.clone(), *code),
            ApiError::Conflict { message, code } => (message.clone(), *code),
            ApiError::Invalid { message, .. } => (message.clone(), "validation_failed"),
            ApiError::RateLimited { limit, .. } => (
                format!(
                    "rate limit of {limit} requests per minute exceeded; retry after the reset"
                ),
                "rate_limited",
            ),
            ApiError::Unavailable => (
                "the database is unavailable; nothing was decided, retry shortly".to_owned(),
                "unavailable",
            ),
            ApiError::NotConfigured { message, code } => (message.clone(), *code),
            ApiError::Overloaded { max_in_flight } => (
                format!(
                    "this service is serving its limit of {max_in_flight} requests at once; retry after the \
                     Retry-After delay"
                ),
                "overloaded",
            ),
            ApiError::Internal => ("internal error".to_owned(), "internal_error"),
        };
        let mut body = super::error_body(&message, code);
        match &self {
            ApiError::Invalid { problems, .. } => {
                body["problems"] = serde_json::json!(problems);
            }
            ApiError::RateLimited {
                limit, reset_at, ..
            } => {
                body["rate_limit"] =
                    serde_json::json!({"limit": limit, "remaining": 0, "reset_at": reset_at});
            }
            _ => {}
        }
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited {
            retry_after_secs, ..
        } = &self
        {
            if let Ok(value) = axum::http::HeaderValue::from_str(&retry_after_secs.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// A JSON body for the AxonFlow-native endpoints. Any content type is read as JSON (curl users
/// forget the header); malformed bodies answer in `ApiError`'s shape, never axum's plain text.
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let limit_bytes = request
            .extensions()
            .get::<BodyLimit>()
            .map_or(0, |limit| limit.0);
        let bytes = bytes::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::BodyTooLarge { limit_bytes }
                } else {
                    ApiError::bad_request("the request body could not be read", "invalid_body")
                }
            })?;
        let value = json::parse_strict_async(bytes)
            .await
            .map_err(|error| match error {
                JsonError::DuplicateKey { .. } => {
                    ApiError::bad_request(error.to_string(), "duplicate_key")
                }
                JsonError::Syntax(_) => ApiError::bad_request(error.to_string(), "invalid_body"),
            })?;
        serde_json::from_value(value).map(ApiJson).map_err(|error| {
            ApiError::bad_request(format!("invalid JSON body: {error}"), "invalid_body")
        })
    }
}

/// A caller-supplied field that is stored (after masking) must be at most `limit_bytes` long
/// (serialised); 400 `field_too_large` otherwise.
pub fn check_stored_size(
    field: &str,
    value: &serde_json::Value,
    limit_bytes: usize,
) -> Result<(), ApiError> {
    let size = match value {
        serde_json::Value::Null => 0,
        serde_json::Value::String(text) => text.len(),
        other => other.to_string().len(),
    };
    if size > limit_bytes {
        return Err(ApiError::bad_request(
            format!("{field} is {size} bytes; at most {limit_bytes} bytes are accepted"),
            "field_too_large",
        ));
    }
    Ok(())
}

/// The body limit in force, put in the request's extensions by the router so that 413 answers can
/// name it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);
