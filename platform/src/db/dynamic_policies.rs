//! Dynamic (tenant) policies: conditions over request facts and actions, stored as JSON in the SDK's
//! shapes. Every write bumps the tenant's policy revision and records the change, like static
//! policy writes (`policies.rs`, `policy_changes.rs`).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use axonflow_policy::{ActionSpec, ConditionSpec, ConditionValue, DynamicSpec};

use super::policy_changes::ChangeMeta;
use super::DbError;

/// One row of `dynamic_policies`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDynamicPolicy {
    pub id: Uuid,
    pub tenant_id: String,
    pub organization_id: Option<String>,
    pub name: String,
    pub description: String,
    pub policy_type: String,
    pub category: String,
    pub tier: String,
    /// `[{field, operator, value}]`.
    pub conditions: Value,
    /// `[{type, config}]`.
    pub actions: Value,
    pub priority: i32,
    pub enabled: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn condition_value(value: &Value) -> ConditionValue {
    match value {
        Value::String(text) => ConditionValue::Text(text.clone()),
        Value::Number(number) => number
            .as_f64()
            .map_or(ConditionValue::Null, ConditionValue::Number),
        Value::Bool(flag) => ConditionValue::Bool(*flag),
        Value::Array(items) => ConditionValue::List(items.iter().map(condition_value).collect()),
        Value::Null | Value::Object(_) => ConditionValue::Null,
    }
}

fn text_field(value: &Value, name: &str) -> String {
    value
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl StoredDynamicPolicy {
    /// The engine's view of this row. Malformed entries become specs that fail to compile, so that
    /// validation reports them with their path.
    pub fn to_spec(&self) -> DynamicSpec {
        let items = |value: &Value| value.as_array().cloned().unwrap_or_default();
        DynamicSpec {
            id: self.id.to_string(),
            name: self.name.clone(),
            priority: self.priority,
            enabled: self.enabled,
            conditions: items(&self.conditions)
                .iter()
                .map(|condition| ConditionSpec {
                    field: text_field(condition, "field"),
                    operator: text_field(condition, "operator"),
                    value: condition_value(condition.get("value").unwrap_or(&Value::Null)),
                })
                .collect(),
            actions: items(&self.actions)
                .iter()
                .map(|action| {
                    let config = action.get("config").unwrap_or(&Value::Null);
                    ActionSpec {
                        kind: text_field(action, "type"),
                        reason: config
                            .get("reason")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        allowed_providers: config
                            .get("allowed_providers")
                            .and_then(Value::as_array)
                            .map(|names| {
                                names
                                    .iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_owned)
                                    .collect()
                            })
                            .unwrap_or_default(),
                    }
                })
                .collect(),
        }
    }

    /// The policy in the SDK's shape (`DynamicPolicy`), also what change records store.
    pub fn state(&self) -> Value {
        let time = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Micros, true);
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "type": self.policy_type,
            "category": self.category,
            "tier": self.tier,
            "organization_id": self.organization_id,
            "tenant_id": self.tenant_id,
            "conditions": self.conditions,
            "actions": self.actions,
            "priority": self.priority,
            "enabled": self.enabled,
            "version": self.version,
            "created_at": time(self.created_at),
            "updated_at": time(self.updated_at),
        })
    }
}

macro_rules! dynamic_columns {
    () => {
        "id, tenant_id, organization_id, name, description, policy_type, category, tier, conditions, actions, \
         priority, enabled, version, created_at, updated_at"
    };
}

pub(super) fn dynamic_from_row(row: &PgRow) -> Result<StoredDynamicPolicy, sqlx::Error> {
    Ok(StoredDynamicPolicy {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        organization_id: row.try_get("organization_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        policy_type: row.try_get("policy_type")?,
        category: row.try_get("category")?,
        tier: row.try_get("tier")?,
        conditions: row.try_get("conditions")?,
        actions: row.try_get("actions")?,
        priority: row.try_get("priority")?,
        enabled: row.try_get("enabled")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The tenant's dynamic policies, highest priority first.
pub async fn list_dynamic_policies(
    pool: &PgPool,
    tenant_id: &str,
) -> Result<Vec<StoredDynamicPolicy>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        dynamic_columns!(),
        " FROM dynamic_policies WHERE tenant_id = $1 ORDER BY priority DESC, created_at, id"
    ))
    .bind(tenant_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(dynamic_from_row)
        .collect::<Result<_, _>>()?)
}

/// One of the tenant's dynamic policies; never another tenant's.
pub async fn find_dynamic_policy(
    pool: &PgPool,
    tenant_id: &str,
    id: Uuid,
) -> Result<Option<StoredDynamicPolicy>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        dynamic_columns!(),
        " FROM dynamic_policies WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(dynamic_from_row).transpose()?)
}

/// Inserts a dynamic policy with its change record.
pub async fn insert_dynamic_policy(
    pool: &PgPool,
    policy: &StoredDynamicPolicy,
    meta: &ChangeMeta,
) -> Result<(), DbError> {
    let (mut tx, before) = super::policies::begin_change(pool, meta).await?;
    sqlx::query(concat!(
        "INSERT INTO dynamic_policies (",
        dynamic_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(policy.id)
    .bind(&policy.tenant_id)
    .bind(&policy.organization_id)
    .bind(&policy.name)
    .bind(&policy.description)
    .bind(&policy.policy_type)
    .bind(&policy.category)
    .bind(&policy.tier)
    .bind(&policy.conditions)
    .bind(&policy.actions)
    .bind(policy.priority)
    .bind(policy.enabled)
    .bind(policy.version)
    .bind(policy.created_at)
    .bind(policy.updated_at)
    .execute(&mut *tx)
    .await?;
    super::policies::finish_change(tx, meta, before).await
}

/// Replaces a dynamic policy's fields if its version is still `expected_version`; `false` when it
/// is gone or was changed meanwhile.
pub async fn update_dynamic_policy(
    pool: &PgPool,
    policy: &StoredDynamicPolicy,
    expected_version: i32,
    meta: &ChangeMeta,
) -> Result<bool, DbError> {
    let (mut tx, before) = super::policies::begin_change(pool, meta).await?;
    let updated = sqlx::query(
        "UPDATE dynamic_policies SET organization_id = $3, name = $4, description = $5, policy_type = $6, \
         category = $7, tier = $8, conditions = $9, actions = $10, priority = $11, enabled = $12, version = $13, \
         updated_at = $14 WHERE id = $1 AND tenant_id = $2 AND version = $15",
    )
    .bind(policy.id)
    .bind(&policy.tenant_id)
    .bind(&policy.organization_id)
    .bind(&policy.name)
    .bind(&policy.description)
    .bind(&policy.policy_type)
    .bind(&policy.category)
    .bind(&policy.tier)
    .bind(&policy.conditions)
    .bind(&policy.actions)
    .bind(policy.priority)
    .bind(policy.enabled)
    .bind(policy.version)
    .bind(policy.updated_at)
    .bind(expected_version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    super::policies::finish_change(tx, meta, before).await?;
    Ok(true)
}

/// Deletes one of the tenant's dynamic policies; `false` when it has none with this id.
pub async fn delete_dynamic_policy(
    pool: &PgPool,
    id: Uuid,
    meta: &ChangeMeta,
) -> Result<bool, DbError> {
    let (mut tx, before) = super::policies::begin_change(pool, meta).await?;
    let deleted = sqlx::query("DELETE FROM dynamic_policies WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(&meta.tenant_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Ok(false);
    }
    super::policies::finish_change(tx, meta, before).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_json_maps_to_specs() {
        let now = Utc::now();
        let stored = StoredDynamicPolicy {
            id: Uuid::now_v7(),
            tenant_id: "t".to_owned(),
            organization_id: None,
            name: "EU only".to_owned(),
            description: String::new(),
            policy_type: "risk".to_owned(),
            category: "dynamic-compliance".to_owned(),
            tier: "tenant".to_owned(),
            conditions: json!([{"field": "user.role", "operator": "in", "value": ["a", 2, true]},
                               {"field": 7, "operator": "equals", "value": null}]),
            actions: json!([{"type": "route", "config": {"allowed_providers": ["azure-eu"]}},
                            {"type": "block", "config": {"reason": "no"}}]),
            priority: 5,
            enabled: true,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let spec = stored.to_spec();
        assert_eq!(
            spec.conditions[0].value,
            ConditionValue::List(vec![
                ConditionValue::Text("a".to_owned()),
                ConditionValue::Number(2.0),
                ConditionValue::Bool(true)
            ])
        );
        assert_eq!(
            spec.conditions[1].field, "",
            "a non-text field fails validation later"
        );
        assert_eq!(spec.actions[0].allowed_providers, ["azure-eu"]);
        assert_eq!(spec.actions[1].reason.as_deref(), Some("no"));
        assert_eq!(stored.state()["type"], "risk");
    }
}
