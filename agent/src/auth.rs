//! Who is calling: one layer around every route resolves a `Caller` from the `Authorization` header.
//!
//! - Community mode needs no secret: the client id of Basic auth (or of a `client_id:secret` bearer
//!   token, the form the OpenAI SDK sends) is recorded, everyone is in the `default` tenant, and
//!   nobody is an admin.
//! - Enterprise mode authenticates every route but the public ones (`PUBLIC_PATHS`) against the
//!   client store; the caller's tenant, org and limits come from its record. A missing, malformed or
//!   wrong credential is a 401 in the endpoint's own shape (OpenAI's on `/v1/*`).
//!
//! The admin API (`/api/v1/admin/*`, bearer `ADMIN_API_KEY`) and internal calls (`/internal/*`,
//! signed with the service secret) have layers of their own and get no `Caller`.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use axonflow_platform::config::DeploymentMode;
use axonflow_platform::credentials::{self, CredentialError};

use crate::error::{ApiError, BodyLimit, OpenAiError};
use crate::state::AppState;
use axonflow_platform::client_auth::Rejection;

/// Client id recorded when a community caller names none.
pub const ANONYMOUS_CLIENT: &str = "anonymous";
/// Tenant of community callers.
pub const DEFAULT_TENANT: &str = "default";
/// Routes that answer without credentials in every mode.
pub const PUBLIC_PATHS: &[&str] = &["/health"];

/// The authenticated (or, in community mode, declared) caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub client_id: String,
    pub tenant_id: String,
    pub org_id: String,
    /// Whether the secret was checked (enterprise mode).
    pub authenticated: bool,
    /// The client's own limits; `None` means the configured default.
    pub rate_limit_rpm: Option<u32>,
    pub rate_limit_tpm: Option<u32>,
}

impl Caller {
    /// The client id to record: the one the credentials name, or (for a community caller that named
    /// none) a valid `client_id` from the body, else `anonymous`.
    pub fn effective_client_id(&self, body_client_id: Option<&str>) -> String {
        if self.client_id != ANONYMOUS_CLIENT {
            return self.client_id.clone();
        }
        body_client_id
            .map(str::trim)
            .filter(|id| credentials::is_valid_client_id(id))
            .map_or_else(|| ANONYMOUS_CLIENT.to_owned(), str::to_owned)
    }
}

/// The client id a community request declares: Basic `client_id:secret` (the secret may be empty),
/// or Bearer `client_id:secret`. A bearer token without a colon is an opaque key, never recorded.
pub fn declared_client_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let (client_id, _secret) = credentials::split_authorization(value).ok()?;
    let client_id = client_id.trim();
    credentials::is_valid_client_id(client_id).then(|| client_id.to_owned())
}

fn has_own_layer(path: &str) -> bool {
    path == "/api/v1/admin" || path.starts_with("/api/v1/admin/") || path.starts_with("/internal/")
}

fn unauthorized(path: &str, message: &str) -> Response {
    if path.starts_with("/v1/") {
        OpenAiError::Unauthorized {
            message: message.to_owned(),
        }
        .into_response()
    } else {
        ApiError::Unauthorized {
            message: message.to_owned(),
        }
        .into_response()
    }
}

fn unavailable(path: &str) -> Response {
    if path.starts_with("/v1/") {
        OpenAiError::PoliciesUnavailable.into_response()
    } else {
        ApiError::Unavailable.into_response()
    }
}

/// Resolves the caller and stores it in the request's extensions, or answers 401.
pub async fn resolve_caller(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    request
        .extensions_mut()
        .insert(BodyLimit(state.config().max_body_bytes));
    let path = request.uri().path().to_owned();
    if has_own_layer(&path) {
        return next.run(request).await;
    }
    let public = PUBLIC_PATHS.contains(&path.as_str());
    let caller = match state.config().common.deployment_mode {
        DeploymentMode::Community => Caller {
            client_id: declared_client_id(request.headers())
                .unwrap_or_else(|| ANONYMOUS_CLIENT.to_owned()),
            tenant_id: DEFAULT_TENANT.to_owned(),
            org_id: state.config().common.org_id.clone(),
            authenticated: false,
            rate_limit_rpm: None,
            rate_limit_tpm: None,
        },
        DeploymentMode::Enterprise if public => Caller {
            client_id: ANONYMOUS_CLIENT.to_owned(),
            tenant_id: DEFAULT_TENANT.to_owned(),
            org_id: state.config().common.org_id.clone(),
            authenticated: false,
            rate_limit_rpm: None,
            rate_limit_tpm: None,
        },
        DeploymentMode::Enterprise => {
            let presented = match credentials::parse_authorization(
                request.headers().get(AUTHORIZATION).map(|v| v.as_bytes()),
            ) {
                Ok(presented) => presented,
                Err(error @ (CredentialError::Missing | CredentialError::Malformed)) => {
                    return unauthorized(&path, &error.to_string());
                }
            };
            match state.clients().authenticate(state.pool(), &presented).await {
                Ok(record) => Caller {
                    client_id: record.client_id.clone(),
                    tenant_id: record.tenant_id.clone(),
                    org_id: record.org_id.clone(),
                    authenticated: true,
                    rate_limit_rpm: record.rate_limit_rpm.and_then(|n| u32::try_from(n).ok()),
                    rate_limit_tpm: record.rate_limit_tpm.and_then(|n| u32::try_from(n).ok()),
                },
                Err(Rejection::BadCredentials) => {
                    tracing::info!(client_id = %presented.client_id, %path, "authentication failed");
                    return unauthorized(&path, "invalid client credentials");
                }
                Err(Rejection::Unavailable) => return unavailable(&path),
            }
        }
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[track_caller]
    fn check(authorization: &str, expected: Option<&str>) {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(authorization).expect("valid header"),
        );
        assert_eq!(
            declared_client_id(&headers).as_deref(),
            expected,
            "{authorization}"
        );
    }

    #[test]
    fn client_ids() {
        // base64("acme-app:") and base64("acme-app:s3cret")
        check("Basic YWNtZS1hcHA6", Some("acme-app"));
        check("Basic YWNtZS1hcHA6czNjcmV0", Some("acme-app"));
        check("Bearer acme-app:s3cret", Some("acme-app"));
        check("Bearer sk-proj-abcdef", None);
        check("Bearer any-value", None);
        check("Basic !!!", None);
        check("Digest abc", None);
        check("Bearer bad id:x", None);
    }
}
