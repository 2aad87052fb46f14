//! The tenants the database knows: every tenant id found among clients, custom and dynamic
//! policies, overrides, providers, budgets and audit rows, with what each holds and when it last
//! made a decision. Tenants are not stored on their own, so this is the only list of them.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use super::DbError;

/// One tenant as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSummary {
    pub tenant_id: String,
    pub clients: i64,
    /// The tenant's own static policies.
    pub custom_policies: i64,
    /// Overrides of system policies in force (not expired).
    pub overrides: i64,
    /// The newest audit row of the tenant.
    pub last_activity: Option<DateTime<Utc>>,
}

/// At most `limit` tenants, by tenant id. The audit table is read by a skip scan of its
/// `(tenant_id, created_at)` index (one index probe per tenant, at most `limit` of them), so the
/// cost follows the number of tenants, never the number of rows.
pub async fn list_tenants(pool: &PgPool, limit: i64) -> Result<Vec<TenantSummary>, DbError> {
    let sql = "WITH RECURSIVE audit_tenants (tenant_id, n) AS ( \
             (SELECT tenant_id, 1 FROM llm_call_audits ORDER BY tenant_id LIMIT 1) \
             UNION ALL \
             SELECT (SELECT a.tenant_id FROM llm_call_audits a WHERE a.tenant_id > t.tenant_id \
                     ORDER BY a.tenant_id LIMIT 1), t.n + 1 \
             FROM audit_tenants t WHERE t.tenant_id IS NOT NULL AND t.n < $1 \
         ), known AS ( \
             SELECT tenant_id FROM clients \
             UNION SELECT tenant_id FROM static_policies WHERE tenant_id IS NOT NULL \
             UNION SELECT tenant_id FROM dynamic_policies \
             UNION SELECT tenant_id FROM policy_overrides \
             UNION SELECT tenant_id FROM llm_providers \
             UNION SELECT tenant_id FROM budgets \
             UNION SELECT tenant_id FROM audit_tenants WHERE tenant_id IS NOT NULL \
         ) \
         SELECT k.tenant_id, \
             (SELECT count(*) FROM clients c WHERE c.tenant_id = k.tenant_id) AS clients, \
             (SELECT count(*) FROM static_policies p WHERE p.tenant_id = k.tenant_id) AS custom_policies, \
             (SELECT count(*) FROM policy_overrides o WHERE o.tenant_id = k.tenant_id \
                 AND (o.expires_at IS NULL OR o.expires_at > now())) AS overrides, \
             (SELECT max(a.created_at) FROM llm_call_audits a WHERE a.tenant_id = k.tenant_id) AS last_activity \
         FROM known k ORDER BY k.tenant_id LIMIT $1";
    let rows = sqlx::query(sql).bind(limit).fetch_all(pool).await?;
    Ok(rows
        .iter()
        .map(|row| {
            Ok(TenantSummary {
                tenant_id: row.try_get("tenant_id")?,
                clients: row.try_get("clients")?,
                custom_policies: row.try_get("custom_policies")?,
                overrides: row.try_get("overrides")?,
                last_activity: row.try_get("last_activity")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}
