//! Who may change a tenant's policies, and the record every change leaves.
//!
//! Weakening a system policy (a state after the change that is disabled where the policy is enabled,
//! or whose action is milder than the policy's own) needs admin rights: the admin key, or in
//! enterprise mode a client flagged `tenant_admin` (acting on its own tenant, the only one it can
//! reach). In community mode without `ADMIN_API_KEY` nobody can hold admin rights, so the change is
//! allowed and logged as a warning. Clearing an override never weakens (the policy's own state
//! returns), and a tenant's own policies are its own to change.
//!
//! Every change (custom create, update, delete; override set and clear; enable and disable) is
//! written with its record in one transaction (`db::ChangeMeta`); `GET .../{id}/versions` serves the
//! records newest first, in the shape the SDK's `get_static_policy_versions` parses.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use axonflow_platform::config::DeploymentMode;
use axonflow_platform::db::{ChangeMeta, ChangeType, PolicyChange, StoredPolicy};
use axonflow_policy::Action;

use crate::auth::{Caller, Rights};
use crate::error::ApiError;
use crate::state::AppState;
use crate::time::rfc3339;

/// Whether a system policy whose state becomes (`action`, `enabled`) is weaker than shipped.
pub fn weakens(policy: &StoredPolicy, action: Option<&str>, enabled: Option<bool>) -> bool {
    let disables = policy.enabled && enabled == Some(false);
    let milder = match (
        action.and_then(|a| a.parse::<Action>().ok()),
        policy.action.parse::<Action>(),
    ) {
        // `Action` is ordered from the strongest (block) to the weakest (log).
        (Some(new), Ok(own)) => new > own,
        _ => false,
    };
    disables || milder
}

/// Refuses (403) a weakening change by a caller without admin rights.
pub fn check_weakening(
    state: &AppState,
    caller: &Caller,
    policy: &StoredPolicy,
    action: Option<&str>,
    enabled: Option<bool>,
) -> Result<(), ApiError> {
    if !policy.is_system() || !weakens(policy, action, enabled) {
        return Ok(());
    }
    let common = &state.config().common;
    let allowed = match (caller.rights, common.deployment_mode) {
        (Rights::Admin, _) => true,
        (Rights::TenantAdmin, DeploymentMode::Enterprise) => true,
        (_, DeploymentMode::Community) if common.admin_api_key.is_none() => {
            tracing::warn!(
                policy_id = %policy.policy_id,
                actor = %caller.actor,
                "system policy weakened without admin rights: set ADMIN_API_KEY to require them"
            );
            true
        }
        _ => false,
    };
    if allowed {
        return Ok(());
    }
    Err(ApiError::Forbidden {
        message: format!(
            "weakening the system policy {} (disabling it, or an action milder than its own {}) needs admin \
             rights: Authorization: Bearer <ADMIN_API_KEY>, or in enterprise mode a client with tenant_admin",
            policy.policy_id, policy.action
        ),
        code: "admin_rights_required",
    })
}

/// The record of a change `caller` makes to `policy_id` now.
pub fn change(
    caller: &Caller,
    policy_id: &str,
    change_type: ChangeType,
    reason: Option<String>,
    summary: String,
) -> ChangeMeta {
    ChangeMeta {
        id: Uuid::now_v7(),
        tenant_id: caller.tenant_id.clone(),
        policy_id: policy_id.to_owned(),
        change_type,
        changed_by: caller.actor.clone(),
        changed_at: Utc::now(),
        reason: reason.filter(|r| !r.trim().is_empty()),
        summary,
    }
}

/// `action block, enabled false, until 2026-12-03T10:00:00Z`.
pub fn override_summary(
    action: Option<&str>,
    enabled: Option<bool>,
    expires_at: Option<DateTime<Utc>>,
) -> String {
    let mut parts = Vec::new();
    if let Some(action) = action {
        parts.push(format!("action {action}"));
    }
    if let Some(enabled) = enabled {
        parts.push(format!("enabled {enabled}"));
    }
    if let Some(at) = expires_at {
        parts.push(format!("until {}", rfc3339(at)));
    }
    format!("override set: {}", parts.join(", "))
}

/// One version as the SDK parses it (`PolicyVersion`): `snapshot` is the whole state after the
/// change (for a deletion, the state before it, marked `deleted`); `previous` the state before.
pub fn version_json(change: &PolicyChange) -> Value {
    let snapshot = match (&change.after, &change.before) {
        (Some(after), _) => after.clone(),
        (None, Some(before)) => {
            let mut gone = before.clone();
            gone["deleted"] = Value::Bool(true);
            gone
        }
        (None, None) => Value::Null,
    };
    json!({
        "id": change.id,
        "policy_id": change.policy_id,
        "tenant_id": change.tenant_id,
        "version": change.version,
        "changed_by": change.changed_by,
        "changed_at": rfc3339(change.changed_at),
        "change_type": change.change_type,
        "change_summary": change.summary,
        "reason": change.reason,
        "snapshot": snapshot,
        "previous": change.before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system(action: &str, enabled: bool) -> StoredPolicy {
        let now = Utc::now();
        StoredPolicy {
            id: Uuid::now_v7(),
            policy_id: "sys_x".to_owned(),
            tenant_id: None,
            organization_id: None,
            name: "x".to_owned(),
            description: String::new(),
            category: "pii-us".to_owned(),
            tier: "system".to_owned(),
            detector_kind: "builtin".to_owned(),
            pattern: "ssn".to_owned(),
            keywords: Vec::new(),
            action: action.to_owned(),
            severity: "high".to_owned(),
            priority: 0,
            enabled,
            tags: Vec::new(),
            frameworks: Vec::new(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn weakening_is_disabling_or_a_milder_action() {
        let block = system("block", true);
        assert!(weakens(&block, Some("log"), None));
        assert!(weakens(&block, Some("redact"), None));
        assert!(weakens(&block, None, Some(false)));
        assert!(weakens(&block, Some("block"), Some(false)));
        assert!(!weakens(&block, Some("block"), Some(true)));
        assert!(!weakens(&block, None, None));
        let warn = system("warn", true);
        assert!(!weakens(&warn, Some("block"), None));
        assert!(weakens(&warn, Some("log"), None));
        // Enabling a policy shipped disabled is no weakening; keeping it off is not either.
        let off = system("block", false);
        assert!(!weakens(&off, None, Some(true)));
        assert!(!weakens(&off, None, Some(false)));
    }
}
