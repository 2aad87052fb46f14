//! The database: connection, migrations, and every SQL statement of the workspace (here and in
//! `db/`). Handlers and services call these functions; nothing else uses sqlx. All values are bound,
//! never formatted in.

mod audit_rows;
mod audit_search;
mod audit_stats;
mod budgets;
mod clients;
#[macro_use]
mod dynamic_policies;
mod gateway;
#[macro_use]
mod policies;
mod policy_changes;
mod providers;
mod tenants;

pub use audit_rows::{
    audit_chain_page, audit_partitions, audit_row_size, drop_expired_audit_partitions,
    ensure_audit_partitions, insert_audit_lines, now, unchained_audit_rows, ChainCursor,
};
pub use audit_search::{audit_tail, search_audits, AuditQuery, StoredAudit};
pub use audit_stats::{decisions_per_minute, top_matched_policies, MinuteCounts};
pub use budgets::{
    delete_budget, find_budget, insert_budget, list_budget_alerts, list_budgets,
    record_budget_alert, spent_usd, update_budget, usage_breakdown, usage_records, usage_totals,
    ScopeColumn, StoredBudget, StoredBudgetAlert, UsageGroup, UsageRecord, UsageTotals,
    USAGE_SOURCES,
};
pub use clients::{
    changed_clients, claim_nonce, client_revision, clients_last_used, delete_client,
    delete_expired_nonces, find_client, insert_client, list_admin_entries, list_clients,
    record_admin_entry, set_client_secret, update_client, AdminEntry, ClientChanges, ClientRecord,
};
pub use dynamic_policies::{
    delete_dynamic_policy, find_dynamic_policy, insert_dynamic_policy, list_dynamic_policies,
    update_dynamic_policy, StoredDynamicPolicy,
};
pub use gateway::{
    add_usage, claim_gateway_context, delete_old_rate_windows, find_gateway_context,
    insert_gateway_context, GatewayContext, RateWindow, StoredContext,
};
pub use policies::{
    changed_revisions, delete_override, delete_tenant_policy, find_policy, insert_tenant_policy,
    list_overrides, list_policies, load_tenant_policy_set, tenant_policy_revision,
    update_tenant_policy, upsert_override, PolicyKey, StoredOverride, StoredPolicy,
    TenantPolicySet,
};
pub use policy_changes::{
    list_policy_changes, override_state, policy_state, ChangeMeta, ChangeType, PolicyChange,
};
pub use providers::{
    all_sealed_keys, delete_provider, find_provider, insert_provider, list_providers, reseal_key,
    set_provider_health, update_provider, SealedKey, StoredProvider,
};
pub use tenants::{list_tenants, TenantSummary};

use std::time::Duration;

use axonflow_policy::PolicySpec;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

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
    #[error("the database did not answer in time")]
    Timeout,
    /// A unique constraint refused the write (`what` names the value that already exists).
    #[error("{what} already exists")]
    AlreadyExists { what: String },
}

impl DbError {
    /// Postgres refused the data itself (SQLSTATE classes 22 data exception and 23 integrity
    /// violation): retrying the same statement can never succeed.
    pub fn is_data_error(&self) -> bool {
        match self {
            DbError::Sqlx(sqlx::Error::Database(error)) => error
                .code()
                .is_some_and(|code| code.starts_with("22") || code.starts_with("23")),
            DbError::Sqlx(sqlx::Error::Encode(_)) => true,
            _ => false,
        }
    }
}

/// Maps a unique-constraint violation to `DbError::AlreadyExists`, anything else to `DbError::Sqlx`.
fn unique_violation(error: sqlx::Error, what: impl FnOnce() -> String) -> DbError {
    match &error {
        sqlx::Error::Database(db_error) if db_error.is_unique_violation() => {
            DbError::AlreadyExists { what: what() }
        }
        _ => DbError::Sqlx(error),
    }
}

/// Pool settings shared by both pools. A connection is not pinged before each use (a round trip
/// on the request's path for every query): sqlx already pings it when it goes back to the pool and
/// closes it if that fails, so only a connection that died while idle (Postgres restarted) fails
/// one query, which then fails as any database error does.
fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
}

/// Opens a pool. Fails fast (5 s) when the database cannot be reached.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let pool = pool_options(max_connections).connect(url).await?;
    Ok(pool)
}

/// A small pool whose commits do not wait for the WAL flush (`synchronous_commit = off` on each
/// connection): for records where losing the last fraction of a second to a Postgres crash is an
/// acceptable price for a commit that costs one round trip: internal-call nonces, and the agent's
/// gateway contexts in performance mode. They are still WAL-logged and flushed within Postgres' WAL
/// writer delay (200 ms by default), and visible to every other connection once committed.
pub async fn connect_async_commit(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let pool = pool_options(max_connections)
        .after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::Executor::execute(&mut *connection, "SET synchronous_commit = off").await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    Ok(pool)
}

/// Applies pending migrations. Safe when several processes start at once: sqlx holds a Postgres
/// advisory lock while it migrates.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    // A database may already hold migrations of a newer release (a rolling upgrade where a newer
    // replica migrated first): this binary still starts. Migrations only ever add.
    let mut migrator = sqlx::migrate!("../migrations");
    migrator.set_ignore_missing(true);
    migrator.run(pool).await?;
    Ok(())
}

pub async fn ping(pool: &PgPool) -> Result<(), DbError> {
    sqlx::query("SELECT 1").execute(pool).await?;
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
    policies::system_policies(pool)
        .await?
        .iter()
        .map(StoredPolicy::to_spec)
        .collect()
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

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn an_older_binary_starts_on_a_database_a_newer_one_migrated(pool: PgPool) {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (29991231000000, 'from a newer release', true, '\\x00'::bytea, 1)",
        )
        .execute(&pool)
        .await
        .expect("a migration this binary does not know");
        migrate(&pool).await.expect("starts anyway");
    }
}
