//! Who is calling: one layer around every route resolves a `Caller` from the `Authorization` header.
//! Community mode needs no secret: the client id of Basic auth (or of a `client_id:secret` bearer
//! token, the form the OpenAI SDK sends) is recorded, and nobody is an admin by default.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;

use crate::state::AppState;

/// Client id recorded when a community caller names none.
pub const ANONYMOUS_CLIENT: &str = "anonymous";
/// Tenant of community callers.
pub const DEFAULT_TENANT: &str = "default";

/// The authenticated (or, in community mode, declared) caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub client_id: String,
    pub tenant_id: String,
    pub org_id: String,
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
            .filter(|id| is_valid_client_id(id))
            .map_or_else(|| ANONYMOUS_CLIENT.to_owned(), str::to_owned)
    }
}

/// Letters, digits and `-_.@`, 1 to 128 bytes.
pub fn is_valid_client_id(client_id: &str) -> bool {
    !client_id.is_empty()
        && client_id.len() <= 128
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

/// The client id a request declares: Basic `client_id:secret`, or Bearer `client_id:secret`.
/// A bearer token without a colon is an opaque key, never recorded.
pub fn declared_client_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim();
    let pair = if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()?;
        String::from_utf8(decoded).ok()?
    } else if scheme.eq_ignore_ascii_case("bearer") {
        credentials.to_owned()
    } else {
        return None;
    };
    let (client_id, _secret) = pair.split_once(':')?;
    let client_id = client_id.trim();
    is_valid_client_id(client_id).then(|| client_id.to_owned())
}

/// Resolves the caller and stores it in the request's extensions.
pub async fn resolve_caller(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let client_id =
        declared_client_id(request.headers()).unwrap_or_else(|| ANONYMOUS_CLIENT.to_owned());
    let caller = Caller {
        client_id,
        tenant_id: DEFAULT_TENANT.to_owned(),
        org_id: state.config().common.org_id.clone(),
    };
    request.extensions_mut().insert(caller);
    request
        .extensions_mut()
        .insert(crate::error::BodyLimit(state.config().max_body_bytes));
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
