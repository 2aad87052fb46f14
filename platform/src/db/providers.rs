//! Tenants' LLM providers: the registry routing reads. Keys are stored only sealed (see
//! `provider_keys`); this module never sees a plaintext key. Writes bump the tenant's revision (so
//! every replica routes with the change within its refresh interval) and record who changed what in
//! `admin_audit_log`, in the same transaction.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::policies::bump_revision;
use super::{unique_violation, DbError};

/// A key as stored: sealed bytes and the id of the key-encryption key that sealed them.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKey {
    pub key_id: String,
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedKey({}, {} bytes)", self.key_id, self.sealed.len())
    }
}

/// One provider as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProvider {
    pub tenant_id: String,
    pub name: String,
    /// `openai`, `azure-openai`, `anthropic`, `gemini`, `bedrock` or `ollama`.
    pub provider_type: String,
    pub endpoint: String,
    pub model: String,
    pub region: Option<String>,
    pub enabled: bool,
    pub priority: i32,
    pub weight: i32,
    pub rate_limit: Option<i32>,
    pub timeout_seconds: i32,
    pub settings: serde_json::Value,
    pub key: Option<SealedKey>,
    pub health_status: String,
    pub health_message: String,
    pub health_checked: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StoredProvider {
    /// The configuration as change records keep it: never the key, only whether there is one.
    pub fn state(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "type": self.provider_type,
            "endpoint": self.endpoint,
            "model": self.model,
            "region": self.region,
            "enabled": self.enabled,
            "priority": self.priority,
            "weight": self.weight,
            "rate_limit": self.rate_limit,
            "timeout_seconds": self.timeout_seconds,
            "settings": self.settings,
            "has_api_key": self.key.is_some(),
            "key_id": self.key.as_ref().map(|key| key.key_id.clone()),
        })
    }
}

macro_rules! provider_columns {
    () => {
        "tenant_id, name, provider_type, endpoint, model, region, enabled, priority, weight, rate_limit, \
         timeout_seconds, settings, sealed_key, key_id, health_status, health_message, health_checked, \
         created_at, updated_at"
    };
}

fn provider_from_row(row: &PgRow) -> Result<StoredProvider, sqlx::Error> {
    let sealed: Option<Vec<u8>> = row.try_get("sealed_key")?;
    let key_id: Option<String> = row.try_get("key_id")?;
    Ok(StoredProvider {
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        provider_type: row.try_get("provider_type")?,
        endpoint: row.try_get("endpoint")?,
        model: row.try_get("model")?,
        region: row.try_get("region")?,
        enabled: row.try_get("enabled")?,
        priority: row.try_get("priority")?,
        weight: row.try_get("weight")?,
        rate_limit: row.try_get("rate_limit")?,
        timeout_seconds: row.try_get("timeout_seconds")?,
        settings: row.try_get("settings")?,
        key: sealed
            .zip(key_id)
            .map(|(sealed, key_id)| SealedKey { key_id, sealed }),
        health_status: row.try_get("health_status")?,
        health_message: row.try_get("health_message")?,
        health_checked: row.try_get("health_checked")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Records who changed a provider and how, in the change's transaction.
async fn record_provider_change(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    actor: &str,
    action: &str,
    before: Option<&StoredProvider>,
    after: Option<&StoredProvider>,
) -> Result<(), DbError> {
    let Some(provider) = after.or(before) else {
        return Ok(());
    };
    let entry = super::AdminEntry {
        id: Uuid::now_v7(),
        actor: actor.to_owned(),
        action: format!("llm_provider.{action}"),
        target: provider.name.clone(),
        details: serde_json::json!({
            "tenant_id": provider.tenant_id,
            "before": before.map(StoredProvider::state),
            "after": after.map(StoredProvider::state),
        }),
        created_at: Utc::now(),
    };
    super::clients::insert_admin_entry(tx, &entry).await
}

/// Inserts a provider with its change record.
pub async fn insert_provider(
    pool: &PgPool,
    provider: &StoredProvider,
    actor: &str,
) -> Result<(), DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO llm_providers (tenant_id, name, provider_type, endpoint, model, region, enabled, \
         priority, weight, rate_limit, timeout_seconds, settings, sealed_key, key_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(&provider.tenant_id)
    .bind(&provider.name)
    .bind(&provider.provider_type)
    .bind(&provider.endpoint)
    .bind(&provider.model)
    .bind(&provider.region)
    .bind(provider.enabled)
    .bind(provider.priority)
    .bind(provider.weight)
    .bind(provider.rate_limit)
    .bind(provider.timeout_seconds)
    .bind(&provider.settings)
    .bind(provider.key.as_ref().map(|key| &key.sealed))
    .bind(provider.key.as_ref().map(|key| &key.key_id))
    .bind(provider.created_at)
    .bind(provider.updated_at)
    .execute(&mut *tx)
    .await
    .map_err(|e| unique_violation(e, || format!("provider {:?}", provider.name)))?;
    record_provider_change(&mut tx, actor, "create", None, Some(provider)).await?;
    bump_revision(&mut tx, &provider.tenant_id).await?;
    tx.commit().await?;
    Ok(())
}

/// The tenant's providers, by priority (highest first), then name.
pub async fn list_providers(
    pool: &PgPool,
    tenant_id: &str,
) -> Result<Vec<StoredProvider>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        provider_columns!(),
        " FROM llm_providers WHERE tenant_id = $1 ORDER BY priority DESC, name"
    ))
    .bind(tenant_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(provider_from_row)
        .collect::<Result<_, _>>()?)
}

pub async fn find_provider(
    pool: &PgPool,
    tenant_id: &str,
    name: &str,
) -> Result<Option<StoredProvider>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        provider_columns!(),
        " FROM llm_providers WHERE tenant_id = $1 AND name = $2"
    ))
    .bind(tenant_id)
    .bind(name)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(provider_from_row).transpose()?)
}

/// Replaces the provider's changeable fields (`before` is what the caller read, under the same
/// name); `false` when it no longer exists.
pub async fn update_provider(
    pool: &PgPool,
    before: &StoredProvider,
    provider: &StoredProvider,
    actor: &str,
) -> Result<bool, DbError> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query(
        "UPDATE llm_providers SET provider_type = $3, endpoint = $4, model = $5, region = $6, enabled = $7, \
         priority = $8, weight = $9, rate_limit = $10, timeout_seconds = $11, settings = $12, \
         sealed_key = $13, key_id = $14, updated_at = $15 WHERE tenant_id = $1 AND name = $2",
    )
    .bind(&provider.tenant_id)
    .bind(&provider.name)
    .bind(&provider.provider_type)
    .bind(&provider.endpoint)
    .bind(&provider.model)
    .bind(&provider.region)
    .bind(provider.enabled)
    .bind(provider.priority)
    .bind(provider.weight)
    .bind(provider.rate_limit)
    .bind(provider.timeout_seconds)
    .bind(&provider.settings)
    .bind(provider.key.as_ref().map(|key| &key.sealed))
    .bind(provider.key.as_ref().map(|key| &key.key_id))
    .bind(provider.updated_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    record_provider_change(&mut tx, actor, "update", Some(before), Some(provider)).await?;
    bump_revision(&mut tx, &provider.tenant_id).await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes a provider (`before` is what the caller read), with a change record.
pub async fn delete_provider(
    pool: &PgPool,
    before: &StoredProvider,
    actor: &str,
) -> Result<bool, DbError> {
    let mut tx = pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM llm_providers WHERE tenant_id = $1 AND name = $2")
        .bind(&before.tenant_id)
        .bind(&before.name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Ok(false);
    }
    record_provider_change(&mut tx, actor, "delete", Some(before), None).await?;
    bump_revision(&mut tx, &before.tenant_id).await?;
    tx.commit().await?;
    Ok(true)
}

/// Stores the outcome of a `test` or `health` call. Not a configuration change: no revision bump.
pub async fn set_provider_health(
    pool: &PgPool,
    tenant_id: &str,
    name: &str,
    status: &str,
    message: &str,
    checked: DateTime<Utc>,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE llm_providers SET health_status = $3, health_message = $4, health_checked = $5 \
         WHERE tenant_id = $1 AND name = $2",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(status)
    .bind(message)
    .bind(checked)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every stored key of every tenant: `(tenant_id, name, key)`. Read at start to prove the
/// key-encryption keys open them all.
pub async fn all_sealed_keys(pool: &PgPool) -> Result<Vec<(String, String, SealedKey)>, DbError> {
    let rows = sqlx::query(
        "SELECT tenant_id, name, sealed_key, key_id FROM llm_providers WHERE sealed_key IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("tenant_id")?,
                row.try_get("name")?,
                SealedKey {
                    sealed: row.try_get("sealed_key")?,
                    key_id: row.try_get("key_id")?,
                },
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Replaces a key sealed under a former key-encryption key by the same key sealed under the
/// current one, only if it is still the one read (another replica may have done it already).
/// Bumps the tenant's revision so that cached sets pick up the new sealing.
pub async fn reseal_key(
    pool: &PgPool,
    tenant_id: &str,
    name: &str,
    old: &SealedKey,
    new: &SealedKey,
) -> Result<bool, DbError> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query(
        "UPDATE llm_providers SET sealed_key = $5, key_id = $6 \
         WHERE tenant_id = $1 AND name = $2 AND sealed_key = $3 AND key_id = $4",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(&old.sealed)
    .bind(&old.key_id)
    .bind(&new.sealed)
    .bind(&new.key_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated > 0 {
        bump_revision(&mut tx, tenant_id).await?;
    }
    tx.commit().await?;
    Ok(updated > 0)
}
