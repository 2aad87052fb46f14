//! The database: connection, migrations, and every SQL statement of the workspace. Handlers and
//! services call these functions; nothing else uses sqlx. All values are bound, never formatted in.

use std::time::Duration;

use axonflow_policy::{DetectorSpec, PolicySpec};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::Row;

use crate::audit::AuditRecord;

pub use sqlx::PgPool;

/// The migrations in `migrations/`, embedded at build time and shared by both services.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored policy {policy_id} is invalid: {problem}")]
    BadPolicyRow { policy_id: String, problem: String },
}

/// Opens a pool. Fails fast (5 s) when the database cannot be reached.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await?;
    Ok(pool)
}

/// Applies pending migrations. Safe when several processes start at once: sqlx holds a Postgres
/// advisory lock while it migrates.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

pub async fn ping(pool: &PgPool) -> Result<(), DbError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

pub async fn insert_audit(pool: &PgPool, record: &AuditRecord) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO llm_call_audits (id, source, client_id, tenant_id, org_id, provider, model, verdict, \
         prompt_tokens, completion_tokens, total_tokens, estimated_cost_usd, latency_ms, http_status, trace_id, \
         metadata, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::float8, $13, $14, $15, $16, $17)",
    )
    .bind(record.decision_id)
    .bind(record.source.as_str())
    .bind(&record.client_id)
    .bind(&record.tenant_id)
    .bind(&record.org_id)
    .bind(&record.provider)
    .bind(&record.model)
    .bind(record.verdict.as_str())
    .bind(i64::from(record.prompt_tokens))
    .bind(i64::from(record.completion_tokens))
    .bind(i64::from(record.total_tokens))
    .bind(record.estimated_cost_usd)
    .bind(i64::from(record.latency_ms))
    .bind(record.http_status.map(i32::from))
    .bind(&record.trace_id)
    .bind(&record.metadata)
    .bind(record.created_at)
    .execute(pool)
    .await?;
    Ok(())
}

fn bad_row(policy_id: &str, problem: impl ToString) -> DbError {
    DbError::BadPolicyRow {
        policy_id: policy_id.to_owned(),
        problem: problem.to_string(),
    }
}

/// The system policies (no tenant), in a stable order.
pub async fn load_system_policies(pool: &PgPool) -> Result<Vec<PolicySpec>, DbError> {
    let rows = sqlx::query(
        "SELECT policy_id, name, description, category, tier, detector_kind, pattern, keywords, action, severity, \
         priority, enabled, tags, frameworks \
         FROM static_policies WHERE tenant_id IS NULL ORDER BY policy_id",
    )
    .fetch_all(pool)
    .await?;
    let mut specs = Vec::with_capacity(rows.len());
    for row in rows {
        let policy_id: String = row.try_get("policy_id")?;
        let kind: String = row.try_get("detector_kind")?;
        let pattern: String = row.try_get("pattern")?;
        let detector = match kind.as_str() {
            "builtin" => DetectorSpec::Builtin(pattern),
            "regex" => DetectorSpec::Regex(pattern),
            "keywords" => DetectorSpec::Keywords(row.try_get("keywords")?),
            other => {
                return Err(bad_row(
                    &policy_id,
                    format!("unknown detector kind {other:?}"),
                ))
            }
        };
        let tier: String = row.try_get("tier")?;
        let action: String = row.try_get("action")?;
        let severity: String = row.try_get("severity")?;
        specs.push(PolicySpec {
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            category: row.try_get("category")?,
            tier: tier.parse().map_err(|e| bad_row(&policy_id, e))?,
            detector,
            action: action.parse().map_err(|e| bad_row(&policy_id, e))?,
            severity: severity.parse().map_err(|e| bad_row(&policy_id, e))?,
            priority: row.try_get("priority")?,
            enabled: row.try_get("enabled")?,
            tags: row.try_get("tags")?,
            frameworks: row.try_get("frameworks")?,
            id: policy_id,
        });
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn seeded_system_policies_equal_the_engine_catalogue(pool: PgPool) {
        let stored = load_system_policies(&pool)
            .await
            .expect("stored policies load");
        let mut catalogue = axonflow_policy::system_policies();
        catalogue.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(stored, catalogue);
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn migrations_run_twice_without_harm(pool: PgPool) {
        migrate(&pool).await.expect("second run is a no-op");
        ping(&pool).await.expect("database answers");
    }
}
