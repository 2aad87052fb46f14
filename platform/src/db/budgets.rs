//! Budgets, their alerts, and usage read from the audit trail. What a budget has used and every
//! usage figure are sums over `llm_call_audits` (the one source of truth): nothing here counts.
//! Only rows of LLM calls count as usage (`usage_rows!`); pre-checks and decisions are not calls.
//! Budget writes bump the tenant's policy revision, so every replica enforces a change at once.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::policies::bump_revision;
use super::{unique_violation, DbError};

/// Audit sources that are LLM calls (usage, budgets).
pub const USAGE_SOURCES: &[&str] = &["openai_gateway", "llm_call", "proxy"];

/// Which of those rows are usage: every llm-call audit (the client called its LLM whatever the
/// pre-check said), and the OpenAI-endpoint and Proxy Mode calls that were allowed (a denied one
/// never reached a provider), less the Proxy Mode rows of calls that never reached one
/// (`metadata.llm_called: false`: `skip_llm`, blocks, refusals). `$n` is bound to `USAGE_SOURCES`.
macro_rules! usage_rows {
    ($sources:literal) => {
        concat!(
            "source = ANY(",
            $sources,
            ") AND (source = 'llm_call' OR verdict = 'allow') AND NOT (metadata @> '{\"llm_called\": false}')"
        )
    };
}

/// One budget as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBudget {
    pub tenant_id: String,
    pub id: String,
    pub org_id: String,
    pub name: String,
    /// `organization`, `team`, `agent`, `workflow` or `user`.
    pub scope: String,
    pub scope_id: String,
    pub limit_usd: f64,
    /// `daily`, `weekly`, `monthly`, `quarterly` or `yearly`.
    pub period: String,
    /// `warn`, `block` or `downgrade`.
    pub on_exceed: String,
    pub alert_thresholds: Vec<i32>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One alert: a threshold a budget crossed in one period.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBudgetAlert {
    pub id: Uuid,
    pub budget_id: String,
    pub threshold: i32,
    pub period_start: DateTime<Utc>,
    pub percentage_reached: f64,
    pub amount_usd: f64,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

macro_rules! budget_columns {
    () => {
        "tenant_id, id, org_id, name, scope, scope_id, limit_usd::float8 AS limit_usd, period, on_exceed, \
         alert_thresholds, enabled, created_at, updated_at"
    };
}

fn budget_from_row(row: &PgRow) -> Result<StoredBudget, sqlx::Error> {
    Ok(StoredBudget {
        tenant_id: row.try_get("tenant_id")?,
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        name: row.try_get("name")?,
        scope: row.try_get("scope")?,
        scope_id: row.try_get("scope_id")?,
        limit_usd: row.try_get("limit_usd")?,
        period: row.try_get("period")?,
        on_exceed: row.try_get("on_exceed")?,
        alert_thresholds: row.try_get("alert_thresholds")?,
        enabled: row.try_get("enabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl StoredBudget {
    /// The governed fields, as change records keep them and the API shows them.
    pub fn state(&self) -> serde_json::Value {
        let budget = self;
        serde_json::json!({
        "name": budget.name,
        "scope": budget.scope,
        "scope_id": budget.scope_id,
        "limit_usd": budget.limit_usd,
        "period": budget.period,
        "on_exceed": budget.on_exceed,
        "alert_thresholds": budget.alert_thresholds,
        "enabled": budget.enabled,
        })
    }
}

/// Records who changed a budget and how (`admin_audit_log`), in the change's transaction.
async fn record_budget_change(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    actor: &str,
    action: &str,
    before: Option<&StoredBudget>,
    after: Option<&StoredBudget>,
) -> Result<(), DbError> {
    let Some(budget) = after.or(before) else {
        return Ok(());
    };
    let entry = super::AdminEntry {
        id: Uuid::now_v7(),
        actor: actor.to_owned(),
        action: format!("budget.{action}"),
        target: budget.id.clone(),
        details: serde_json::json!({
            "tenant_id": budget.tenant_id,
            "budget_id": budget.id,
            "before": before.map(StoredBudget::state),
            "after": after.map(StoredBudget::state),
        }),
        created_at: Utc::now(),
    };
    super::clients::insert_admin_entry(tx, &entry).await
}

/// Inserts a budget with its change record.
pub async fn insert_budget(
    pool: &PgPool,
    budget: &StoredBudget,
    actor: &str,
) -> Result<(), DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO budgets (tenant_id, id, org_id, name, scope, scope_id, limit_usd, period, on_exceed, \
         alert_thresholds, enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&budget.tenant_id)
    .bind(&budget.id)
    .bind(&budget.org_id)
    .bind(&budget.name)
    .bind(&budget.scope)
    .bind(&budget.scope_id)
    .bind(budget.limit_usd)
    .bind(&budget.period)
    .bind(&budget.on_exceed)
    .bind(&budget.alert_thresholds)
    .bind(budget.enabled)
    .bind(budget.created_at)
    .bind(budget.updated_at)
    .execute(&mut *tx)
    .await
    .map_err(|e| unique_violation(e, || format!("budget {:?}", budget.id)))?;
    record_budget_change(&mut tx, actor, "create", None, Some(budget)).await?;
    bump_revision(&mut tx, &budget.tenant_id).await?;
    tx.commit().await?;
    Ok(())
}

/// The tenant's budgets, optionally of one scope.
pub async fn list_budgets(
    pool: &PgPool,
    tenant_id: &str,
    scope: Option<&str>,
) -> Result<Vec<StoredBudget>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        budget_columns!(),
        " FROM budgets WHERE tenant_id = $1 AND ($2::text IS NULL OR scope = $2) ORDER BY created_at, id"
    ))
    .bind(tenant_id)
    .bind(scope)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(budget_from_row).collect::<Result<_, _>>()?)
}

pub async fn find_budget(
    pool: &PgPool,
    tenant_id: &str,
    id: &str,
) -> Result<Option<StoredBudget>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        budget_columns!(),
        " FROM budgets WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(budget_from_row).transpose()?)
}

/// Replaces the budget's changeable fields (`before` is what the caller read); `false` when there
/// is no such budget.
pub async fn update_budget(
    pool: &PgPool,
    before: &StoredBudget,
    budget: &StoredBudget,
    actor: &str,
) -> Result<bool, DbError> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query(
        "UPDATE budgets SET name = $3, limit_usd = $4, on_exceed = $5, alert_thresholds = $6, enabled = $7, \
         updated_at = $8 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(&budget.tenant_id)
    .bind(&budget.id)
    .bind(&budget.name)
    .bind(budget.limit_usd)
    .bind(&budget.on_exceed)
    .bind(&budget.alert_thresholds)
    .bind(budget.enabled)
    .bind(budget.updated_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    record_budget_change(&mut tx, actor, "update", Some(before), Some(budget)).await?;
    bump_revision(&mut tx, &budget.tenant_id).await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes a budget (`before` is what the caller read) and its alerts, with a change record.
pub async fn delete_budget(
    pool: &PgPool,
    before: &StoredBudget,
    actor: &str,
) -> Result<bool, DbError> {
    let (tenant_id, id) = (before.tenant_id.as_str(), before.id.as_str());
    let mut tx = pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM budgets WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM budget_alerts WHERE tenant_id = $1 AND budget_id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    record_budget_change(&mut tx, actor, "delete", Some(before), None).await?;
    bump_revision(&mut tx, tenant_id).await?;
    tx.commit().await?;
    Ok(true)
}

/// What a budget's scope is matched against in an audit row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeColumn {
    Org,
    Tenant,
    Client,
    /// `metadata.user_hash` (SHA-256 of the user id; the id itself is never stored).
    UserHash,
    /// `metadata.workflow_id`.
    Workflow,
}

/// USD spent by the tenant's LLM calls whose `column` equals `value`, in `[from, to)`.
pub async fn spent_usd(
    pool: &PgPool,
    tenant_id: &str,
    column: ScopeColumn,
    value: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<f64, DbError> {
    // One constant statement per column: values are bound, never formatted in.
    let sql = match column {
        ScopeColumn::Org => concat!(
            "SELECT COALESCE(SUM(estimated_cost_usd), 0)::float8 FROM llm_call_audits ",
            "WHERE tenant_id = $1 AND created_at >= $3 AND created_at < $4 AND ",
            usage_rows!("$5"),
            " AND org_id = $2"
        ),
        ScopeColumn::Tenant => concat!(
            "SELECT COALESCE(SUM(estimated_cost_usd), 0)::float8 FROM llm_call_audits ",
            "WHERE tenant_id = $1 AND created_at >= $3 AND created_at < $4 AND ",
            usage_rows!("$5"),
            " AND tenant_id = $2"
        ),
        ScopeColumn::Client => concat!(
            "SELECT COALESCE(SUM(estimated_cost_usd), 0)::float8 FROM llm_call_audits ",
            "WHERE tenant_id = $1 AND created_at >= $3 AND created_at < $4 AND ",
            usage_rows!("$5"),
            " AND client_id = $2"
        ),
        ScopeColumn::UserHash => concat!(
            "SELECT COALESCE(SUM(estimated_cost_usd), 0)::float8 FROM llm_call_audits ",
            "WHERE tenant_id = $1 AND created_at >= $3 AND created_at < $4 AND ",
            usage_rows!("$5"),
            " AND metadata->>'user_hash' = $2"
        ),
        ScopeColumn::Workflow => concat!(
            "SELECT COALESCE(SUM(estimated_cost_usd), 0)::float8 FROM llm_call_audits ",
            "WHERE tenant_id = $1 AND created_at >= $3 AND created_at < $4 AND ",
            usage_rows!("$5"),
            " AND metadata->>'workflow_id' = $2"
        ),
    };
    let spent: f64 = sqlx::query_scalar(sql)
        .bind(tenant_id)
        .bind(value)
        .bind(from)
        .bind(to)
        .bind(USAGE_SOURCES)
        .fetch_one(pool)
        .await?;
    Ok(spent)
}

/// Records an alert unless one for this budget, threshold and period exists; `true` when new.
pub async fn record_budget_alert(
    pool: &PgPool,
    tenant_id: &str,
    alert: &StoredBudgetAlert,
) -> Result<bool, DbError> {
    let inserted = sqlx::query(
        "INSERT INTO budget_alerts (id, tenant_id, budget_id, threshold, period_start, percentage_reached, \
         amount_usd, message, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (tenant_id, budget_id, threshold, period_start) DO NOTHING",
    )
    .bind(alert.id)
    .bind(tenant_id)
    .bind(&alert.budget_id)
    .bind(alert.threshold)
    .bind(alert.period_start)
    .bind(alert.percentage_reached)
    .bind(alert.amount_usd)
    .bind(&alert.message)
    .bind(alert.created_at)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(inserted > 0)
}

pub async fn list_budget_alerts(
    pool: &PgPool,
    tenant_id: &str,
    budget_id: &str,
) -> Result<Vec<StoredBudgetAlert>, DbError> {
    let rows = sqlx::query(
        "SELECT id, budget_id, threshold, period_start, percentage_reached, amount_usd, message, created_at \
         FROM budget_alerts WHERE tenant_id = $1 AND budget_id = $2 ORDER BY created_at DESC LIMIT 1000",
    )
    .bind(tenant_id)
    .bind(budget_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredBudgetAlert {
                id: row.try_get("id")?,
                budget_id: row.try_get("budget_id")?,
                threshold: row.try_get("threshold")?,
                period_start: row.try_get("period_start")?,
                percentage_reached: row.try_get("percentage_reached")?,
                amount_usd: row.try_get("amount_usd")?,
                message: row.try_get("message")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Totals of the tenant's LLM calls in `[from, to)`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UsageTotals {
    pub cost_usd: f64,
    pub requests: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
}

pub async fn usage_totals(
    pool: &PgPool,
    tenant_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<UsageTotals, DbError> {
    let row = sqlx::query(concat!(
        "SELECT COALESCE(SUM(estimated_cost_usd), 0)::float8 AS cost, count(*) AS requests, ",
        "COALESCE(SUM(prompt_tokens), 0)::int8 AS tokens_in, COALESCE(SUM(completion_tokens), 0)::int8 AS tokens_out ",
        "FROM llm_call_audits WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 AND ",
        usage_rows!("$4")
    ))
    .bind(tenant_id)
    .bind(from)
    .bind(to)
    .bind(USAGE_SOURCES)
    .fetch_one(pool)
    .await?;
    Ok(UsageTotals {
        cost_usd: row.try_get("cost")?,
        requests: row.try_get("requests")?,
        tokens_in: row.try_get("tokens_in")?,
        tokens_out: row.try_get("tokens_out")?,
    })
}

/// What usage is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageGroup {
    Provider,
    Model,
    Client,
    Tenant,
    /// `metadata.workflow_id` (`""` for calls of no workflow).
    Workflow,
}

/// The tenant's usage in `[from, to)`, one entry per value of `group`, most expensive first.
pub async fn usage_breakdown(
    pool: &PgPool,
    tenant_id: &str,
    group: UsageGroup,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(String, UsageTotals)>, DbError> {
    macro_rules! grouped {
        ($column:literal) => {
            concat!(
                "SELECT ",
                $column,
                " AS group_value, COALESCE(SUM(estimated_cost_usd), 0)::float8 AS cost, count(*) AS requests, ",
                "COALESCE(SUM(prompt_tokens), 0)::int8 AS tokens_in, COALESCE(SUM(completion_tokens), 0)::int8 AS tokens_out ",
                "FROM llm_call_audits WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 AND ",
                usage_rows!("$4"),
                " GROUP BY 1 ORDER BY cost DESC, group_value LIMIT 1000"
            )
        };
    }
    let sql = match group {
        UsageGroup::Provider => grouped!("provider"),
        UsageGroup::Model => grouped!("model"),
        UsageGroup::Client => grouped!("client_id"),
        UsageGroup::Tenant => grouped!("tenant_id"),
        UsageGroup::Workflow => grouped!("COALESCE(metadata->>'workflow_id', '')"),
    };
    let rows = sqlx::query(sql)
        .bind(tenant_id)
        .bind(from)
        .bind(to)
        .bind(USAGE_SOURCES)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("group_value")?,
                UsageTotals {
                    cost_usd: row.try_get("cost")?,
                    requests: row.try_get("requests")?,
                    tokens_in: row.try_get("tokens_in")?,
                    tokens_out: row.try_get("tokens_out")?,
                },
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// One LLM call, as a usage record.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    pub id: Uuid,
    pub provider: String,
    pub model: String,
    pub tokens_in: i32,
    pub tokens_out: i32,
    pub cost_usd: f64,
    pub client_id: String,
    pub org_id: String,
    pub tenant_id: String,
    pub http_status: Option<i32>,
    pub verdict: String,
    pub latency_ms: i32,
    pub created_at: DateTime<Utc>,
}

/// The tenant's LLM calls, newest first, with the total count.
pub async fn usage_records(
    pool: &PgPool,
    tenant_id: &str,
    provider: Option<&str>,
    model: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<UsageRecord>, i64), DbError> {
    let total: i64 = sqlx::query_scalar(concat!(
        "SELECT count(*) FROM llm_call_audits WHERE tenant_id = $1 AND ",
        usage_rows!("$2"),
        " AND ($3::text IS NULL OR provider = $3) AND ($4::text IS NULL OR model = $4)"
    ))
    .bind(tenant_id)
    .bind(USAGE_SOURCES)
    .bind(provider)
    .bind(model)
    .fetch_one(pool)
    .await?;
    let rows = sqlx::query(concat!(
        "SELECT id, provider, model, prompt_tokens, completion_tokens, estimated_cost_usd::float8 AS cost, client_id, ",
        "org_id, tenant_id, http_status, verdict, latency_ms, created_at FROM llm_call_audits WHERE tenant_id = $1 AND ",
        usage_rows!("$2"),
        " AND ($3::text IS NULL OR provider = $3) AND ($4::text IS NULL OR model = $4) ",
        "ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6"
    ))
    .bind(tenant_id)
    .bind(USAGE_SOURCES)
    .bind(provider)
    .bind(model)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let records = rows
        .iter()
        .map(|row| {
            Ok(UsageRecord {
                id: row.try_get("id")?,
                provider: row.try_get("provider")?,
                model: row.try_get("model")?,
                tokens_in: row.try_get("prompt_tokens")?,
                tokens_out: row.try_get("completion_tokens")?,
                cost_usd: row.try_get("cost")?,
                client_id: row.try_get("client_id")?,
                org_id: row.try_get("org_id")?,
                tenant_id: row.try_get("tenant_id")?,
                http_status: row.try_get("http_status")?,
                verdict: row.try_get("verdict")?,
                latency_ms: row.try_get("latency_ms")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((records, total))
}
