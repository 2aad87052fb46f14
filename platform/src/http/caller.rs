//! Who is calling: one resolution for every route of both services (the admin API and internal
//! routes have layers of their own).
//!
//! - `Authorization: Bearer <ADMIN_API_KEY>` (when a key is configured) is the operator: admin rights,
//!   acting for the tenant of `?tenant_id=` in enterprise mode (default `default`).
//! - Community mode needs no secret: the client id of Basic auth (or of a `client_id:secret` bearer
//!   token, the form the OpenAI SDK sends) is recorded, everyone is in the `default` tenant, and
//!   nobody has admin rights.
//! - Enterprise mode authenticates every route but the public ones against the client store; the
//!   caller's tenant, org, limits and `tenant_admin` flag come from its record.

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::client_auth::{ClientStore, Rejection};
use crate::config::{CommonConfig, DeploymentMode, Secret};
use crate::credentials::{self, CredentialError};
use crate::db::PgPool;

/// Client id recorded when a community caller names none.
pub const ANONYMOUS_CLIENT: &str = "anonymous";
/// Tenant of community callers (and of the admin key when no tenant is named).
pub const DEFAULT_TENANT: &str = "default";
/// Client id recorded for calls made with the admin key.
pub const ADMIN_CLIENT: &str = "admin";

/// What a caller may change besides ordinary reads and decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rights {
    None,
    /// An enterprise client flagged `tenant_admin`: governance changes of its own tenant.
    TenantAdmin,
    /// The admin key.
    Admin,
}

/// The authenticated (or, in community mode, declared) caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub client_id: String,
    pub tenant_id: String,
    pub org_id: String,
    /// Whether a secret or the admin key was checked.
    pub authenticated: bool,
    pub rights: Rights,
    /// Who is recorded as having made a change: the client id, or `admin-key:<fingerprint>`.
    pub actor: String,
    /// The client's own limits; `None` means the configured default.
    pub rate_limit_rpm: Option<u32>,
    pub rate_limit_tpm: Option<u32>,
    /// Whether admin-only changes need admin rights where this caller was resolved: in enterprise
    /// mode or with an admin key configured. Carried to the orchestrator with the caller, so the
    /// entry point's settings decide.
    pub admin_rights_required: bool,
}

impl Caller {
    /// Whether the caller may make admin-only changes (weakening system policies, providers,
    /// dynamic policies, budgets): the admin key, a tenant admin, or anyone where no rights are
    /// required (community mode without an admin key).
    pub fn may_administer(&self) -> bool {
        matches!(self.rights, Rights::Admin | Rights::TenantAdmin) || !self.admin_rights_required
    }

    fn plain(client_id: String, tenant_id: String, org_id: String) -> Caller {
        Caller {
            actor: client_id.clone(),
            client_id,
            tenant_id,
            org_id,
            authenticated: false,
            rights: Rights::None,
            rate_limit_rpm: None,
            rate_limit_tpm: None,
            admin_rights_required: true,
        }
    }

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

/// Why no caller could be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerRejection {
    /// 401 with this message (safe to return).
    Unauthorized(String),
    /// The client store could not be read: 503.
    Unavailable,
}

/// What resolution needs from the service's configuration.
#[derive(Debug, Clone, Copy)]
pub struct CallerSettings<'a> {
    pub mode: DeploymentMode,
    pub org_id: &'a str,
    pub admin_api_key: Option<&'a Secret>,
}

impl<'a> CallerSettings<'a> {
    pub fn of(common: &'a CommonConfig) -> CallerSettings<'a> {
        CallerSettings {
            mode: common.deployment_mode,
            org_id: &common.org_id,
            admin_api_key: common.admin_api_key.as_ref(),
        }
    }
}

/// `admin-key:` and the first 8 hex digits of the SHA-256 of `key`: names the key in records
/// without revealing it.
pub fn admin_actor(key: &Secret) -> String {
    format!(
        "admin-key:{}",
        &hex::encode(Sha256::digest(key.expose().as_bytes()))[..8]
    )
}

/// Whether `headers` carry `Authorization: Bearer <key>`. Compares digests, so the time taken does
/// not depend on how much of the key a guess shares.
pub fn presents_admin_key(headers: &HeaderMap, key: &Secret) -> bool {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let expected = Sha256::digest(key.expose().as_bytes());
    presented.is_some_and(|p| Sha256::digest(p.as_bytes()) == expected)
}

/// The client id a community request declares: Basic `client_id:secret` (the secret may be empty),
/// or Bearer `client_id:secret`. A bearer token without a colon is an opaque key, never recorded.
pub fn declared_client_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let (client_id, _secret) = credentials::split_authorization(value).ok()?;
    let client_id = client_id.trim();
    credentials::is_valid_client_id(client_id).then(|| client_id.to_owned())
}

/// The value of `tenant_id` in a query string, when it is a valid tenant id.
fn tenant_from_query(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "tenant_id")
        .map(|(_, value)| value.to_owned())
        .filter(|value| is_valid_scope_id(value))
}

/// Letters, digits and `-_.`, 1 to 128 bytes: tenant and org ids.
pub fn is_valid_scope_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Resolves the caller of a request. `public`: the route answers without credentials.
pub async fn resolve(
    settings: CallerSettings<'_>,
    clients: &ClientStore,
    pool: &PgPool,
    headers: &HeaderMap,
    query: Option<&str>,
    public: bool,
) -> Result<Caller, CallerRejection> {
    let admin_rights_required =
        settings.mode == DeploymentMode::Enterprise || settings.admin_api_key.is_some();
    let caller = resolve_identity(settings, clients, pool, headers, query, public).await?;
    Ok(Caller {
        admin_rights_required,
        ..caller
    })
}

/// Resolves the caller of `request` ([`resolve`]) and stores it in the request's extensions.
pub async fn attach(
    settings: CallerSettings<'_>,
    clients: &ClientStore,
    pool: &PgPool,
    request: &mut axum::extract::Request,
    public: bool,
) -> Result<(), CallerRejection> {
    let caller = resolve(
        settings,
        clients,
        pool,
        request.headers(),
        request.uri().query(),
        public,
    )
    .await?;
    request.extensions_mut().insert(caller);
    Ok(())
}

async fn resolve_identity(
    settings: CallerSettings<'_>,
    clients: &ClientStore,
    pool: &PgPool,
    headers: &HeaderMap,
    query: Option<&str>,
    public: bool,
) -> Result<Caller, CallerRejection> {
    if let Some(key) = settings.admin_api_key {
        if presents_admin_key(headers, key) {
            let tenant_id = match settings.mode {
                DeploymentMode::Enterprise => tenant_from_query(query),
                DeploymentMode::Community => None,
            }
            .unwrap_or_else(|| DEFAULT_TENANT.to_owned());
            return Ok(Caller {
                authenticated: true,
                rights: Rights::Admin,
                actor: admin_actor(key),
                ..Caller::plain(
                    ADMIN_CLIENT.to_owned(),
                    tenant_id,
                    settings.org_id.to_owned(),
                )
            });
        }
    }
    match settings.mode {
        DeploymentMode::Community => Ok(Caller::plain(
            declared_client_id(headers).unwrap_or_else(|| ANONYMOUS_CLIENT.to_owned()),
            DEFAULT_TENANT.to_owned(),
            settings.org_id.to_owned(),
        )),
        DeploymentMode::Enterprise if public => Ok(Caller::plain(
            ANONYMOUS_CLIENT.to_owned(),
            DEFAULT_TENANT.to_owned(),
            settings.org_id.to_owned(),
        )),
        DeploymentMode::Enterprise => {
            let presented =
                credentials::parse_authorization(headers.get(AUTHORIZATION).map(|v| v.as_bytes()))
                    .map_err(
                        |error @ (CredentialError::Missing | CredentialError::Malformed)| {
                            CallerRejection::Unauthorized(error.to_string())
                        },
                    )?;
            match clients.authenticate(pool, &presented).await {
                Ok(record) => Ok(Caller {
                    authenticated: true,
                    rights: if record.tenant_admin {
                        Rights::TenantAdmin
                    } else {
                        Rights::None
                    },
                    rate_limit_rpm: record.rate_limit_rpm.and_then(|n| u32::try_from(n).ok()),
                    rate_limit_tpm: record.rate_limit_tpm.and_then(|n| u32::try_from(n).ok()),
                    ..Caller::plain(
                        record.client_id.clone(),
                        record.tenant_id.clone(),
                        record.org_id.clone(),
                    )
                }),
                Err(Rejection::BadCredentials) => {
                    tracing::info!(client_id = %presented.client_id, "authentication failed");
                    Err(CallerRejection::Unauthorized(
                        "invalid client credentials".to_owned(),
                    ))
                }
                Err(Rejection::Unavailable) => Err(CallerRejection::Unavailable),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(authorization).expect("valid header"),
        );
        headers
    }

    #[track_caller]
    fn check(authorization: &str, expected: Option<&str>) {
        assert_eq!(
            declared_client_id(&headers(authorization)).as_deref(),
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

    #[test]
    fn admin_key_is_recognised_only_whole() {
        let key = Secret::new("0123456789abcdef-admin");
        assert!(presents_admin_key(
            &headers("Bearer 0123456789abcdef-admin"),
            &key
        ));
        assert!(presents_admin_key(
            &headers("bearer  0123456789abcdef-admin "),
            &key
        ));
        assert!(!presents_admin_key(
            &headers("Bearer 0123456789abcdef-admi"),
            &key
        ));
        assert!(!presents_admin_key(
            &headers("Basic 0123456789abcdef-admin"),
            &key
        ));
        assert!(!presents_admin_key(&HeaderMap::new(), &key));
        assert_eq!(admin_actor(&key).len(), "admin-key:".len() + 8);
    }

    #[test]
    fn tenant_ids_from_the_query() {
        assert_eq!(
            tenant_from_query(Some("a=1&tenant_id=acme")).as_deref(),
            Some("acme")
        );
        assert_eq!(tenant_from_query(Some("tenant_id=bad%20id")), None);
        assert_eq!(tenant_from_query(None), None);
    }
}
