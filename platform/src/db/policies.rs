//! Static policies: the system catalogue (`tenant_id IS NULL`, read-only here), tenants' custom
//! policies, tenants' overrides of system policies, and the revision counter that tells every agent
//! which tenants to recompile. Every write bumps the tenant's revision and records the change
//! (`policy_changes.rs`) in the same transaction.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use axonflow_policy::{DetectorSpec, PolicySpec};

use super::policy_changes::{current_state, lock_policy, record_change, ChangeMeta};
use super::{bad_row, unique_violation, DbError};

/// One row of `static_policies`, system or custom.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPolicy {
    pub id: Uuid,
    pub policy_id: String,
    /// `None` for system policies.
    pub tenant_id: Option<String>,
    pub organization_id: Option<String>,
    pub name: String,
    pub description: String,
    pub category: String,
    pub tier: String,
    /// `builtin`, `regex` or `keywords`.
    pub detector_kind: String,
    /// The built-in detector's name, the regex, or the keywords joined by `, `.
    pub pattern: String,
    pub keywords: Vec<String>,
    pub action: String,
    pub severity: String,
    pub priority: i32,
    pub enabled: bool,
    pub tags: Vec<String>,
    pub frameworks: Vec<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StoredPolicy {
    pub fn is_system(&self) -> bool {
        self.tenant_id.is_none()
    }

    /// The engine's view of this row.
    pub fn to_spec(&self) -> Result<PolicySpec, DbError> {
        let detector = match self.detector_kind.as_str() {
            "builtin" => DetectorSpec::Builtin(self.pattern.clone()),
            "regex" => DetectorSpec::Regex(self.pattern.clone()),
            "keywords" => DetectorSpec::Keywords(self.keywords.clone()),
            other => {
                return Err(bad_row(
                    &self.policy_id,
                    format!("unknown detector kind {other:?}"),
                ))
            }
        };
        Ok(PolicySpec {
            id: self.policy_id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            category: self.category.clone(),
            tier: self.tier.parse().map_err(|e| bad_row(&self.policy_id, e))?,
            detector,
            action: self
                .action
                .parse()
                .map_err(|e| bad_row(&self.policy_id, e))?,
            severity: self
                .severity
                .parse()
                .map_err(|e| bad_row(&self.policy_id, e))?,
            priority: self.priority,
            enabled: self.enabled,
            tags: self.tags.clone(),
            frameworks: self.frameworks.clone(),
        })
    }
}

/// A tenant's override of one system policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOverride {
    pub id: Uuid,
    pub tenant_id: String,
    pub policy_id: String,
    pub action_override: Option<String>,
    pub enabled_override: Option<bool>,
    pub override_reason: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// How a client names a policy in a path: the row's UUID or its policy id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyKey {
    Id(Uuid),
    PolicyId(String),
}

impl PolicyKey {
    pub fn parse(text: &str) -> PolicyKey {
        match text.parse::<Uuid>() {
            Ok(id) => PolicyKey::Id(id),
            Err(_) => PolicyKey::PolicyId(text.to_owned()),
        }
    }
}

/// What one tenant's evaluation needs, read at one revision.
#[derive(Debug, Clone)]
pub struct TenantPolicySet {
    /// The tenant's revision read before the rows (so the rows are at least this new).
    pub revision: i64,
    pub custom: Vec<StoredPolicy>,
    /// Overrides in force now (expired ones are left out).
    pub overrides: Vec<StoredOverride>,
    /// The tenant's dynamic policies.
    pub dynamic: Vec<super::StoredDynamicPolicy>,
    /// The tenant's budgets (enforced before calls).
    pub budgets: Vec<super::StoredBudget>,
    /// The tenant's LLM providers (routing), keys sealed.
    pub providers: Vec<super::StoredProvider>,
}

/// Column lists as macros, so that statements are joined at compile time with `concat!`: constant
/// text only, never values.
macro_rules! policy_columns {
    () => {
        "id, policy_id, tenant_id, organization_id, name, description, category, tier, detector_kind, pattern, \
         keywords, action, severity, priority, enabled, tags, frameworks, version, created_at, updated_at"
    };
}

macro_rules! override_columns {
    () => {
        "id, tenant_id, policy_id, action_override, enabled_override, override_reason, created_by, created_at, \
         expires_at"
    };
}

pub(super) fn policy_from_row(row: &PgRow) -> Result<StoredPolicy, sqlx::Error> {
    Ok(StoredPolicy {
        id: row.try_get("id")?,
        policy_id: row.try_get("policy_id")?,
        tenant_id: row.try_get("tenant_id")?,
        organization_id: row.try_get("organization_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        category: row.try_get("category")?,
        tier: row.try_get("tier")?,
        detector_kind: row.try_get("detector_kind")?,
        pattern: row.try_get("pattern")?,
        keywords: row.try_get("keywords")?,
        action: row.try_get("action")?,
        severity: row.try_get("severity")?,
        priority: row.try_get("priority")?,
        enabled: row.try_get("enabled")?,
        tags: row.try_get("tags")?,
        frameworks: row.try_get("frameworks")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn override_from_row(row: &PgRow) -> Result<StoredOverride, sqlx::Error> {
    Ok(StoredOverride {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        policy_id: row.try_get("policy_id")?,
        action_override: row.try_get("action_override")?,
        enabled_override: row.try_get("enabled_override")?,
        override_reason: row.try_get("override_reason")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

pub(super) async fn system_policies(pool: &PgPool) -> Result<Vec<StoredPolicy>, DbError> {
    let sql = concat!(
        "SELECT ",
        policy_columns!(),
        " FROM static_policies WHERE tenant_id IS NULL ORDER BY policy_id"
    );
    let rows = sqlx::query(sql).fetch_all(pool).await?;
    Ok(rows.iter().map(policy_from_row).collect::<Result<_, _>>()?)
}

/// The system catalogue and `tenant_id`'s custom policies: system first, then by priority.
pub async fn list_policies(pool: &PgPool, tenant_id: &str) -> Result<Vec<StoredPolicy>, DbError> {
    let sql = concat!("SELECT ", policy_columns!(), " FROM static_policies WHERE tenant_id IS NULL OR tenant_id = $1 ORDER BY tenant_id NULLS FIRST, priority DESC, policy_id");
    let rows = sqlx::query(sql).bind(tenant_id).fetch_all(pool).await?;
    Ok(rows.iter().map(policy_from_row).collect::<Result<_, _>>()?)
}

/// A system policy or one of `tenant_id`'s own; never another tenant's.
pub async fn find_policy(
    pool: &PgPool,
    tenant_id: &str,
    key: &PolicyKey,
) -> Result<Option<StoredPolicy>, DbError> {
    let row = match key {
        PolicyKey::Id(id) => {
            let sql = concat!(
                "SELECT ",
                policy_columns!(),
                " FROM static_policies WHERE (tenant_id IS NULL OR tenant_id = $1) AND id = $2"
            );
            sqlx::query(sql)
                .bind(tenant_id)
                .bind(id)
                .fetch_optional(pool)
                .await?
        }
        PolicyKey::PolicyId(policy_id) => {
            // A tenant's own policy wins over a system policy of the same id (which writes prevent).
            let sql = concat!("SELECT ", policy_columns!(), " FROM static_policies WHERE (tenant_id IS NULL OR tenant_id = $1) AND policy_id = $2 ORDER BY tenant_id NULLS LAST LIMIT 1");
            sqlx::query(sql)
                .bind(tenant_id)
                .bind(policy_id)
                .fetch_optional(pool)
                .await?
        }
    };
    Ok(row.as_ref().map(policy_from_row).transpose()?)
}

/// Gives `tenant_id` a new revision. Runs last in its transaction, so `changed_at` (the clock at
/// this statement) is close to the commit.
pub(super) async fn bump_revision(
    tx: &mut Transaction<'_, Postgres>,
    tenant_id: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO policy_revisions (tenant_id, revision, changed_at) \
         VALUES ($1, nextval('policy_revision_seq'), clock_timestamp()) \
         ON CONFLICT (tenant_id) DO UPDATE SET revision = EXCLUDED.revision, changed_at = EXCLUDED.changed_at",
    )
    .bind(tenant_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Opens a change's transaction: takes the policy's lock and reads its state before the change.
pub(super) async fn begin_change<'p>(
    pool: &'p PgPool,
    meta: &ChangeMeta,
) -> Result<(Transaction<'p, Postgres>, Option<serde_json::Value>), DbError> {
    let mut tx = pool.begin().await?;
    lock_policy(&mut tx, &meta.tenant_id, &meta.policy_id).await?;
    let before = current_state(&mut tx, &meta.tenant_id, &meta.policy_id).await?;
    Ok((tx, before))
}

/// Ends a change's transaction: its record, a new revision for every replica, and the commit.
pub(super) async fn finish_change(
    mut tx: Transaction<'_, Postgres>,
    meta: &ChangeMeta,
    before: Option<serde_json::Value>,
) -> Result<(), DbError> {
    record_change(&mut tx, meta, before).await?;
    bump_revision(&mut tx, &meta.tenant_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Inserts a custom policy (its `tenant_id` must be set). `AlreadyExists` when the tenant already
/// has a policy with this policy id.
pub async fn insert_tenant_policy(
    pool: &PgPool,
    policy: &StoredPolicy,
    meta: &ChangeMeta,
) -> Result<(), DbError> {
    let tenant_id = policy
        .tenant_id
        .as_deref()
        .ok_or_else(|| bad_row(&policy.policy_id, "a custom policy needs a tenant"))?;
    let (mut tx, before) = begin_change(pool, meta).await?;
    sqlx::query(
        "INSERT INTO static_policies (id, policy_id, tenant_id, organization_id, name, description, category, \
         tier, detector_kind, pattern, keywords, action, severity, priority, enabled, tags, frameworks, version, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(policy.id)
    .bind(&policy.policy_id)
    .bind(tenant_id)
    .bind(&policy.organization_id)
    .bind(&policy.name)
    .bind(&policy.description)
    .bind(&policy.category)
    .bind(&policy.tier)
    .bind(&policy.detector_kind)
    .bind(&policy.pattern)
    .bind(&policy.keywords)
    .bind(&policy.action)
    .bind(&policy.severity)
    .bind(policy.priority)
    .bind(policy.enabled)
    .bind(&policy.tags)
    .bind(&policy.frameworks)
    .bind(policy.version)
    .bind(policy.created_at)
    .bind(policy.updated_at)
    .execute(&mut *tx)
    .await
    .map_err(|e| unique_violation(e, || format!("policy {:?}", policy.policy_id)))?;
    finish_change(tx, meta, before).await
}

/// Replaces a custom policy's editable fields if its version is still `expected_version`; the
/// stored version becomes `policy.version`. `false` when the row is gone or was changed meanwhile.
pub async fn update_tenant_policy(
    pool: &PgPool,
    policy: &StoredPolicy,
    expected_version: i32,
    meta: &ChangeMeta,
) -> Result<bool, DbError> {
    let tenant_id = policy
        .tenant_id
        .as_deref()
        .ok_or_else(|| bad_row(&policy.policy_id, "system policies are not updated here"))?;
    let (mut tx, before) = begin_change(pool, meta).await?;
    let updated = sqlx::query(
        "UPDATE static_policies SET name = $3, description = $4, category = $5, detector_kind = $6, pattern = $7, \
         keywords = $8, action = $9, severity = $10, priority = $11, enabled = $12, tags = $13, frameworks = $14, \
         version = $15, updated_at = $16 \
         WHERE id = $1 AND tenant_id = $2 AND version = $17",
    )
    .bind(policy.id)
    .bind(tenant_id)
    .bind(&policy.name)
    .bind(&policy.description)
    .bind(&policy.category)
    .bind(&policy.detector_kind)
    .bind(&policy.pattern)
    .bind(&policy.keywords)
    .bind(&policy.action)
    .bind(&policy.severity)
    .bind(policy.priority)
    .bind(policy.enabled)
    .bind(&policy.tags)
    .bind(&policy.frameworks)
    .bind(policy.version)
    .bind(policy.updated_at)
    .bind(expected_version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    finish_change(tx, meta, before).await?;
    Ok(true)
}

/// Deletes one of `tenant_id`'s custom policies; `false` when it has none with this id.
pub async fn delete_tenant_policy(
    pool: &PgPool,
    id: Uuid,
    meta: &ChangeMeta,
) -> Result<bool, DbError> {
    let (mut tx, before) = begin_change(pool, meta).await?;
    let deleted = sqlx::query("DELETE FROM static_policies WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(&meta.tenant_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Ok(false);
    }
    finish_change(tx, meta, before).await?;
    Ok(true)
}

/// `tenant_id`'s overrides, expired ones included only when `include_expired`.
pub async fn list_overrides(
    pool: &PgPool,
    tenant_id: &str,
    include_expired: bool,
) -> Result<Vec<StoredOverride>, DbError> {
    let sql = concat!("SELECT ", override_columns!(), " FROM policy_overrides WHERE tenant_id = $1 AND ($2 OR expires_at IS NULL OR expires_at > now()) ORDER BY policy_id");
    let rows = sqlx::query(sql)
        .bind(tenant_id)
        .bind(include_expired)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .map(override_from_row)
        .collect::<Result<_, _>>()?)
}

/// Creates or replaces the tenant's override of `policy.policy_id`; returns the stored row.
pub async fn upsert_override(
    pool: &PgPool,
    policy: &StoredOverride,
    meta: &ChangeMeta,
) -> Result<StoredOverride, DbError> {
    let (mut tx, before) = begin_change(pool, meta).await?;
    let sql = concat!("INSERT INTO policy_overrides (", override_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, policy_id) DO UPDATE SET action_override = EXCLUDED.action_override, enabled_override = EXCLUDED.enabled_override, override_reason = EXCLUDED.override_reason, created_by = EXCLUDED.created_by, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at RETURNING ", override_columns!());
    let row = sqlx::query(sql)
        .bind(policy.id)
        .bind(&policy.tenant_id)
        .bind(&policy.policy_id)
        .bind(&policy.action_override)
        .bind(policy.enabled_override)
        .bind(&policy.override_reason)
        .bind(&policy.created_by)
        .bind(policy.created_at)
        .bind(policy.expires_at)
        .fetch_one(&mut *tx)
        .await?;
    let stored = override_from_row(&row)?;
    finish_change(tx, meta, before).await?;
    Ok(stored)
}

/// Removes the tenant's override of `policy_id`; `false` when there was none.
pub async fn delete_override(pool: &PgPool, meta: &ChangeMeta) -> Result<bool, DbError> {
    let (mut tx, before) = begin_change(pool, meta).await?;
    let deleted =
        sqlx::query("DELETE FROM policy_overrides WHERE tenant_id = $1 AND policy_id = $2")
            .bind(&meta.tenant_id)
            .bind(&meta.policy_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if deleted == 0 {
        return Ok(false);
    }
    finish_change(tx, meta, before).await?;
    Ok(true)
}

/// The tenant's current policy revision (0 when its policies never changed).
pub async fn tenant_policy_revision(pool: &PgPool, tenant_id: &str) -> Result<i64, DbError> {
    let revision: Option<i64> =
        sqlx::query_scalar("SELECT revision FROM policy_revisions WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(pool)
            .await?;
    Ok(revision.unwrap_or(0))
}

/// The tenant's custom policies, overrides in force and dynamic policies, with the revision read
/// first.
pub async fn load_tenant_policy_set(
    pool: &PgPool,
    tenant_id: &str,
) -> Result<TenantPolicySet, DbError> {
    let revision: Option<i64> =
        sqlx::query_scalar("SELECT revision FROM policy_revisions WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(pool)
            .await?;
    let sql = concat!(
        "SELECT ",
        policy_columns!(),
        " FROM static_policies WHERE tenant_id = $1 ORDER BY policy_id"
    );
    let custom = sqlx::query(sql)
        .bind(tenant_id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(policy_from_row)
        .collect::<Result<_, _>>()?;
    let overrides = list_overrides(pool, tenant_id, false).await?;
    let dynamic = super::list_dynamic_policies(pool, tenant_id).await?;
    let budgets = super::list_budgets(pool, tenant_id, None).await?;
    let providers = super::list_providers(pool, tenant_id).await?;
    Ok(TenantPolicySet {
        providers,
        revision: revision.unwrap_or(0),
        custom,
        overrides,
        dynamic,
        budgets,
    })
}

/// Revisions changed after `since` (by the database clock), and the database clock now.
pub async fn changed_revisions(
    pool: &PgPool,
    since: Option<DateTime<Utc>>,
) -> Result<(Vec<(String, i64)>, DateTime<Utc>), DbError> {
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()").fetch_one(pool).await?;
    let rows = sqlx::query(
        "SELECT tenant_id, revision FROM policy_revisions WHERE $1::timestamptz IS NULL OR changed_at > $1",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let changed = rows
        .iter()
        .map(|row| Ok((row.try_get("tenant_id")?, row.try_get("revision")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((changed, now))
}
