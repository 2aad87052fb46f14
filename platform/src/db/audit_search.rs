//! Audit reads: one tenant's rows of `llm_call_audits` (OpenAI-endpoint calls, pre-checks,
//! decisions, check-inputs and llm-call audits), filtered and paged, newest first; and the tail of
//! the rows across tenants, in the order of their ids.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::DbError;

/// Filters of an audit search; `None` filters are not applied. Tenant-facing reads always set
/// `tenant_id`; only the admin API reads across tenants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// `allow` or `deny`.
    pub verdict: Option<String>,
    /// The entry point (`openai_gateway`, `pre_check`, `llm_call`, `decide`, `mcp_check_input`).
    pub source: Option<String>,
    /// A decision's own row, and the llm-call audits that refer to it as their pre-check.
    pub decision_id: Option<Uuid>,
    /// Rows where this policy id matched.
    pub policy_id: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// One audit row as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAudit {
    pub decision_id: Uuid,
    pub source: String,
    pub client_id: String,
    pub tenant_id: String,
    pub org_id: String,
    pub provider: String,
    pub model: String,
    pub verdict: String,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub total_tokens: i32,
    pub estimated_cost_usd: f64,
    pub latency_ms: i32,
    pub http_status: Option<i32>,
    pub trace_id: Option<String>,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT id, source, client_id, tenant_id, org_id, provider, model, verdict, prompt_tokens, \
     completion_tokens, total_tokens, estimated_cost_usd::float8 AS cost, latency_ms, http_status, trace_id, metadata, \
     created_at FROM llm_call_audits WHERE ";

/// Constant text only: every value is a bound parameter.
const FILTERS: &str = "($1::text IS NULL OR tenant_id = $1) \
     AND ($2::text IS NULL OR client_id = $2) \
     AND ($3::timestamptz IS NULL OR created_at >= $3) \
     AND ($4::timestamptz IS NULL OR created_at <= $4) \
     AND ($5::text IS NULL OR verdict = $5) \
     AND ($6::text IS NULL OR source = $6) \
     AND ($7::uuid IS NULL OR id = $7 OR metadata->>'pre_check_decision_id' = $7::text) \
     AND ($8::text IS NULL OR metadata->'policies' ? $8)";

/// Rows matching `query` (newest first) and how many match in all.
pub async fn search_audits(
    pool: &PgPool,
    query: &AuditQuery,
) -> Result<(Vec<StoredAudit>, i64), DbError> {
    let rows_sql = [
        SELECT,
        FILTERS,
        " ORDER BY created_at DESC, id DESC LIMIT $9 OFFSET $10",
    ]
    .concat();
    let count_sql = ["SELECT count(*) FROM llm_call_audits WHERE ", FILTERS].concat();
    let rows = sqlx::query(&rows_sql)
        .bind(&query.tenant_id)
        .bind(&query.client_id)
        .bind(query.start)
        .bind(query.end)
        .bind(&query.verdict)
        .bind(&query.source)
        .bind(query.decision_id)
        .bind(&query.policy_id)
        .bind(query.limit)
        .bind(query.offset)
        .fetch_all(pool)
        .await?;
    let total: i64 = sqlx::query_scalar(&count_sql)
        .bind(&query.tenant_id)
        .bind(&query.client_id)
        .bind(query.start)
        .bind(query.end)
        .bind(&query.verdict)
        .bind(&query.source)
        .bind(query.decision_id)
        .bind(&query.policy_id)
        .fetch_one(pool)
        .await?;
    let entries = rows
        .iter()
        .map(audit_from_row)
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((entries, total))
}

fn audit_from_row(row: &PgRow) -> Result<StoredAudit, sqlx::Error> {
    Ok(StoredAudit {
        decision_id: row.try_get("id")?,
        source: row.try_get("source")?,
        client_id: row.try_get("client_id")?,
        tenant_id: row.try_get("tenant_id")?,
        org_id: row.try_get("org_id")?,
        provider: row.try_get("provider")?,
        model: row.try_get("model")?,
        verdict: row.try_get("verdict")?,
        prompt_tokens: row.try_get("prompt_tokens")?,
        completion_tokens: row.try_get("completion_tokens")?,
        total_tokens: row.try_get("total_tokens")?,
        estimated_cost_usd: row.try_get("cost")?,
        latency_ms: row.try_get("latency_ms")?,
        http_status: row.try_get("http_status")?,
        trace_id: row.try_get("trace_id")?,
        metadata: row.try_get("metadata")?,
        created_at: row.try_get("created_at")?,
    })
}

/// At most `limit` rows across tenants, oldest first: those whose id follows `after`, or without
/// `after` the newest. Ids are UUID v7 (time-ordered), so this is a range scan of the id index.
pub async fn audit_tail(
    pool: &PgPool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<StoredAudit>, DbError> {
    let rows = match after {
        Some(after) => {
            let sql = [SELECT, "id > $1 ORDER BY id LIMIT $2"].concat();
            sqlx::query(&sql)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        None => {
            let sql = [
                "SELECT * FROM (",
                SELECT,
                "TRUE ORDER BY id DESC LIMIT $1) AS newest ORDER BY id",
            ]
            .concat();
            sqlx::query(&sql).bind(limit).fetch_all(pool).await?
        }
    };
    Ok(rows
        .iter()
        .map(audit_from_row)
        .collect::<Result<_, sqlx::Error>>()?)
}
