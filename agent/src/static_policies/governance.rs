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

use axonflow_platform::db::{ChangeMeta, ChangeType, PolicyChange, StoredOverride, StoredPolicy};
use axonflow_policy::Action;

use crate::auth::{Caller, Rights};
use crate::error::ApiError;
use crate::time::rfc3339;

/// What a system policy does for a tenant: its action and whether it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyState {
    pub action: Action,
    pub enabled: bool,
}

impl PolicyState {
    /// As shipped; `None` when the stored action is not one the engine knows.
    pub fn shipped(policy: &StoredPolicy) -> Option<PolicyState> {
        Some(PolicyState {
            action: policy.action.parse().ok()?,
            enabled: policy.enabled,
        })
    }

    /// As an override (`action_override`, `enabled_override`) leaves it.
    pub fn with(self, action: Option<&str>, enabled: Option<bool>) -> PolicyState {
        PolicyState {
            action: action.and_then(|a| a.parse().ok()).unwrap_or(self.action),
            enabled: enabled.unwrap_or(self.enabled),
        }
    }

    /// Whether `to` does less than `self`: it stops a running policy, or acts more mildly (`Action`
    /// is ordered from the strongest, block, to the weakest, log).
    pub fn weakened_by(self, to: PolicyState) -> bool {
        self.enabled && (!to.enabled || to.action > self.action)
    }
}

/// Refuses (403) a weakening change by a caller without admin rights. A change weakens when the
/// state it leaves is weaker than the policy as shipped, or weaker than the override in force when
/// someone else set that override (a client cannot undo a stricter setting made by an admin, but
/// may undo its own).
pub fn check_weakening(
    caller: &Caller,
    policy: &StoredPolicy,
    current: Option<&StoredOverride>,
    to: (Option<&str>, Option<bool>),
) -> Result<(), ApiError> {
    let Some(shipped) = PolicyState::shipped(policy).filter(|_| policy.is_system()) else {
        return Ok(());
    };
    let after = shipped.with(to.0, to.1);
    let below_current = current.is_some_and(|o| {
        o.created_by != caller.actor
            && shipped
                .with(o.action_override.as_deref(), o.enabled_override)
                .weakened_by(after)
    });
    if !shipped.weakened_by(after) && !below_current {
        return Ok(());
    }
    let allowed = match caller.rights {
        Rights::Admin | Rights::TenantAdmin => true,
        Rights::None if caller.may_administer() => {
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
            "weakening the system policy {} (disabling it, an action milder than its own {}, or undoing a \
             stricter override someone else set) needs admin rights: Authorization: Bearer <ADMIN_API_KEY>, \
             or in enterprise mode a client with tenant_admin",
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

    #[track_caller]
    fn check(from: (&str, bool), to: (&str, bool), weaker: bool) {
        let state = |(action, enabled): (&str, bool)| PolicyState {
            action: action.parse().expect("action"),
            enabled,
        };
        assert_eq!(
            state(from).weakened_by(state(to)),
            weaker,
            "{from:?} -> {to:?}"
        );
    }

    #[test]
    fn weakening_is_disabling_or_a_milder_action() {
        check(("block", true), ("log", true), true);
        check(("block", true), ("redact", true), true);
        check(("block", true), ("block", false), true);
        check(("block", true), ("block", true), false);
        check(("warn", true), ("block", true), false);
        check(("warn", true), ("log", true), true);
        // Enabling a policy shipped disabled is no weakening; keeping it off is not either.
        check(("block", false), ("block", true), false);
        check(("block", false), ("log", false), false);
        let shipped = PolicyState::shipped(&system("block", true)).expect("known action");
        assert_eq!(
            shipped.with(Some("log"), None),
            PolicyState {
                action: Action::Log,
                enabled: true
            }
        );
        assert!(!shipped.with(None, Some(false)).enabled);
    }
}
