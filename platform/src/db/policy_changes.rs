//! The policy change log: one `policy_changes` row (and one `admin_audit_log` row) per change of a
//! tenant's policies, written inside the change's own transaction, with the whole policy state before
//! and after. Changes of one policy are serialised by a transaction-scoped advisory lock, so the
//! recorded states and version numbers are exact however many replicas write at once.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use super::dynamic_policies::dynamic_from_row;
use super::policies::{override_from_row, policy_from_row};
use super::{DbError, StoredOverride, StoredPolicy};

/// What a change is, as recorded (`change_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Create,
    Update,
    Delete,
    OverrideSet,
    OverrideClear,
    Enable,
    Disable,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Create => "create",
            ChangeType::Update => "update",
            ChangeType::Delete => "delete",
            ChangeType::OverrideSet => "override_set",
            ChangeType::OverrideClear => "override_clear",
            ChangeType::Enable => "enable",
            ChangeType::Disable => "disable",
        }
    }
}

/// Who changed what and why; the states are read inside the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeMeta {
    pub id: Uuid,
    pub tenant_id: String,
    pub policy_id: String,
    pub change_type: ChangeType,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub summary: String,
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyChange {
    pub id: Uuid,
    pub tenant_id: String,
    pub policy_id: String,
    pub version: i32,
    pub change_type: String,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub summary: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A tenant's override of a system policy, as stored in states and shown by the API.
pub fn override_state(stored: &StoredOverride, base_action: &str) -> Value {
    json!({
        "id": stored.id,
        "policy_id": stored.policy_id,
        "action_override": stored.action_override.as_deref().unwrap_or(base_action),
        "override_reason": stored.override_reason,
        "created_by": stored.created_by,
        "created_at": time(stored.created_at),
        "expires_at": stored.expires_at.map(time),
        "enabled_override": stored.enabled_override,
        "active": true,
    })
}

/// The whole state of one policy for one tenant: its fields with the override (when there is one)
/// applied to `action` and `enabled`, and the override itself with its reason.
pub fn policy_state(policy: &StoredPolicy, applied: Option<&StoredOverride>) -> Value {
    let (mut action, mut enabled) = (policy.action.as_str(), policy.enabled);
    if let Some(stored) = applied {
        action = stored.action_override.as_deref().unwrap_or(action);
        enabled = stored.enabled_override.unwrap_or(enabled);
    }
    json!({
        "id": policy.id,
        "policy_id": policy.policy_id,
        "name": policy.name,
        "description": policy.description,
        "category": policy.category,
        "tier": policy.tier,
        "detector_kind": policy.detector_kind,
        "pattern": policy.pattern,
        "keywords": policy.keywords,
        "action": action,
        "severity": policy.severity,
        "priority": policy.priority,
        "enabled": enabled,
        "tags": policy.tags,
        "frameworks": policy.frameworks,
        "organization_id": policy.organization_id,
        "tenant_id": policy.tenant_id,
        "created_at": time(policy.created_at),
        "updated_at": time(policy.updated_at),
        "version": policy.version,
        "has_override": applied.is_some(),
        "override": applied.map(|o| override_state(o, &policy.action)),
    })
}

/// Serialises changes of one policy of one tenant until the transaction ends.
pub(super) async fn lock_policy(
    tx: &mut Transaction<'_, Postgres>,
    tenant_id: &str,
    policy_id: &str,
) -> Result<(), DbError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 7))")
        .bind(tenant_id)
        .bind(policy_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The state of `policy_id` as `tenant_id` sees it (its own policy, the system policy with the
/// tenant's override, or its dynamic policy of that id); `None` when there is no such policy.
pub(super) async fn current_state(
    tx: &mut Transaction<'_, Postgres>,
    tenant_id: &str,
    policy_id: &str,
) -> Result<Option<Value>, DbError> {
    let policy = sqlx::query(concat!(
        "SELECT ",
        policy_columns!(),
        " FROM static_policies WHERE (tenant_id IS NULL OR tenant_id = $1) AND policy_id = $2 \
         ORDER BY tenant_id NULLS LAST LIMIT 1"
    ))
    .bind(tenant_id)
    .bind(policy_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(policy) = policy.as_ref().map(policy_from_row).transpose()? else {
        // Not a static policy: a dynamic one, named by its id.
        let Ok(id) = policy_id.parse::<Uuid>() else {
            return Ok(None);
        };
        let dynamic = sqlx::query(concat!(
            "SELECT ",
            dynamic_columns!(),
            " FROM dynamic_policies WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        return Ok(dynamic
            .as_ref()
            .map(dynamic_from_row)
            .transpose()?
            .map(|policy| policy.state()));
    };
    let applied = if policy.is_system() {
        sqlx::query(concat!(
            "SELECT ",
            override_columns!(),
            " FROM policy_overrides WHERE tenant_id = $1 AND policy_id = $2"
        ))
        .bind(tenant_id)
        .bind(policy_id)
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(override_from_row)
        .transpose()?
    } else {
        None
    };
    Ok(Some(policy_state(&policy, applied.as_ref())))
}

/// Writes the change record and its admin log entry. `before` is the state read (under the lock)
/// before the change; the state after is read here.
pub(super) async fn record_change(
    tx: &mut Transaction<'_, Postgres>,
    meta: &ChangeMeta,
    before: Option<Value>,
) -> Result<i32, DbError> {
    let after = current_state(tx, &meta.tenant_id, &meta.policy_id).await?;
    let version: i32 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM policy_changes WHERE tenant_id = $1 AND policy_id = $2",
    )
    .bind(&meta.tenant_id)
    .bind(&meta.policy_id)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO policy_changes (id, tenant_id, policy_id, version, change_type, changed_by, changed_at, \
         reason, change_summary, before_state, after_state) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(meta.id)
    .bind(&meta.tenant_id)
    .bind(&meta.policy_id)
    .bind(version)
    .bind(meta.change_type.as_str())
    .bind(&meta.changed_by)
    .bind(meta.changed_at)
    .bind(&meta.reason)
    .bind(&meta.summary)
    .bind(&before)
    .bind(&after)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO admin_audit_log (id, actor, action, target, details, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(&meta.changed_by)
    .bind(format!("policy.{}", meta.change_type.as_str()))
    .bind(&meta.policy_id)
    .bind(json!({
        "tenant_id": meta.tenant_id,
        "policy_id": meta.policy_id,
        "change_id": meta.id,
        "version": version,
        "reason": meta.reason,
        "summary": meta.summary,
    }))
    .bind(meta.changed_at)
    .execute(&mut **tx)
    .await?;
    Ok(version)
}

fn change_from_row(row: &PgRow) -> Result<PolicyChange, sqlx::Error> {
    Ok(PolicyChange {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        policy_id: row.try_get("policy_id")?,
        version: row.try_get("version")?,
        change_type: row.try_get("change_type")?,
        changed_by: row.try_get("changed_by")?,
        changed_at: row.try_get("changed_at")?,
        reason: row.try_get("reason")?,
        summary: row.try_get("change_summary")?,
        before: row.try_get("before_state")?,
        after: row.try_get("after_state")?,
    })
}

/// The recorded changes of `policy_id` in `tenant_id`, newest first.
pub async fn list_policy_changes(
    pool: &PgPool,
    tenant_id: &str,
    policy_id: &str,
) -> Result<Vec<PolicyChange>, DbError> {
    let rows = sqlx::query(
        "SELECT id, tenant_id, policy_id, version, change_type, changed_by, changed_at, reason, change_summary, \
         before_state, after_state FROM policy_changes WHERE tenant_id = $1 AND policy_id = $2 \
         ORDER BY version DESC LIMIT 1000",
    )
    .bind(tenant_id)
    .bind(policy_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(change_from_row).collect::<Result<_, _>>()?)
}
