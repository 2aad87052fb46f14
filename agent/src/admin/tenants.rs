//! The admin API's view of tenants: every tenant the database knows with what it holds, one
//! tenant's policies as its evaluation runs them, and its overrides of system policies, set and
//! cleared on its behalf. Overrides go through the same code as the tenant's own
//! `/api/v1/static-policies/{id}/override` routes, acting with admin rights under the admin key's
//! name: the same checks, the same change record and admin log entry in the change's transaction,
//! and the same immediate reload of the tenant's policies on this agent.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use axonflow_platform::db;
use axonflow_platform::http::caller::{is_valid_scope_id, ADMIN_CLIENT};

use super::AdminActor;
use crate::auth::{Caller, Rights};
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use crate::static_policies::{self, OverrideRequest};
use crate::time::rfc3339;

/// The most tenants one listing returns; `truncated` says when there are more.
const MAX_TENANTS: usize = 1000;

fn checked_tenant(tenant_id: &str) -> Result<(), ApiError> {
    if is_valid_scope_id(tenant_id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            format!("tenant id {tenant_id:?} is not letters, digits and -_., 1 to 128 bytes"),
            "invalid_parameter",
        ))
    }
}

/// The admin acting on `tenant_id`'s behalf, with admin rights and recorded under the key's name.
fn acting_for(state: &AppState, actor: &AdminActor, tenant_id: &str) -> Caller {
    Caller {
        client_id: ADMIN_CLIENT.to_owned(),
        tenant_id: tenant_id.to_owned(),
        org_id: state.config().common.org_id.clone(),
        authenticated: true,
        rights: Rights::Admin,
        actor: actor.0.clone(),
        rate_limit_rpm: None,
        rate_limit_tpm: None,
        admin_rights_required: true,
    }
}

/// `GET /api/v1/admin/tenants`: every known tenant, by id.
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    // One more than shown, to tell whether there are more.
    let mut tenants = db::list_tenants(state.pool(), MAX_TENANTS as i64 + 1).await?;
    let truncated = tenants.len() > MAX_TENANTS;
    tenants.truncate(MAX_TENANTS);
    Ok(Json(json!({
        "tenants": tenants.iter().map(|t| json!({
            "tenant_id": t.tenant_id,
            "clients": t.clients,
            "custom_policies": t.custom_policies,
            "overrides": t.overrides,
            "last_activity": t.last_activity.map(rfc3339),
        })).collect::<Vec<_>>(),
        "truncated": truncated,
    }))
    .into_response())
}

/// `GET /api/v1/admin/tenants/{tenant_id}/policies`: the system catalogue and the tenant's own
/// policies, each as it applies to the tenant (the shape of `/api/v1/static-policies/effective`),
/// disabled ones included.
pub async fn policies(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
) -> Result<Response, ApiError> {
    checked_tenant(&tenant_id)?;
    let policies: Vec<_> = static_policies::tenant_policies(&state, &tenant_id)
        .await?
        .iter()
        .map(|(policy, applied)| static_policies::effective_json(policy, applied.as_ref()))
        .collect();
    Ok(Json(json!({
        "tenant_id": tenant_id,
        "count": policies.len(),
        "policies": policies,
    }))
    .into_response())
}

/// `PUT /api/v1/admin/tenants/{tenant_id}/policies/{policy_id}/override`: sets (or replaces) the
/// tenant's override of a system policy; answers the policy as it now applies to the tenant.
pub async fn set_override(
    State(state): State<AppState>,
    Extension(actor): Extension<AdminActor>,
    Path((tenant_id, policy_id)): Path<(String, String)>,
    ApiJson(request): ApiJson<OverrideRequest>,
) -> Result<Response, ApiError> {
    checked_tenant(&tenant_id)?;
    let caller = acting_for(&state, &actor, &tenant_id);
    let (policy, stored) =
        static_policies::set_override(&state, &caller, &policy_id, request).await?;
    Ok(Json(static_policies::effective_json(&policy, Some(&stored))).into_response())
}

/// `DELETE /api/v1/admin/tenants/{tenant_id}/policies/{policy_id}/override?reason=`: the system
/// policy applies to the tenant as shipped again (204; 404 when there is no override).
pub async fn clear_override(
    State(state): State<AppState>,
    Extension(actor): Extension<AdminActor>,
    Path((tenant_id, policy_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    checked_tenant(&tenant_id)?;
    let caller = acting_for(&state, &actor, &tenant_id);
    let reason = params.get("reason").filter(|r| !r.is_empty()).cloned();
    static_policies::clear_override(&state, &caller, &policy_id, reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
