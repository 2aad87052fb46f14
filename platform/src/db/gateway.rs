//! Gateway Mode state shared by every agent replica: pre-check contexts (hashes only, never the
//! user token or the query) and per-client request counters.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::DbError;

/// A pre-check's approval, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayContext {
    pub context_id: Uuid,
    /// The pre-check's own decision (its audit row).
    pub decision_id: Uuid,
    pub client_id: String,
    pub tenant_id: String,
    pub org_id: String,
    /// SHA-256 hex of the user token.
    pub user_token_hash: String,
    /// SHA-256 hex of the query.
    pub query_hash: String,
    pub policies: Vec<String>,
    pub approved: bool,
    pub requires_redaction: bool,
    pub block_reason: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// The end user's hash and the workflow, for budgets.
    pub user_hash: Option<String>,
    pub workflow_id: Option<String>,
}

/// A context read back, with what the database clock says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContext {
    pub context: GatewayContext,
    pub expired: bool,
    pub audit_count: i32,
}

/// One client's requests in the current minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// Requests counted in this window, this one included.
    pub requests: i32,
    /// Tokens of the client's audited calls in this window so far.
    pub tokens: i64,
    pub window_start: DateTime<Utc>,
}

/// Stores `context`; storing the same context again (a retry after a lost reply) changes nothing.
pub async fn insert_gateway_context(
    pool: &PgPool,
    context: &GatewayContext,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO gateway_contexts (context_id, decision_id, client_id, tenant_id, org_id, user_token_hash, \
         query_hash, policies, approved, requires_redaction, block_reason, expires_at, user_hash, workflow_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (context_id) DO NOTHING",
    )
    .bind(context.context_id)
    .bind(context.decision_id)
    .bind(&context.client_id)
    .bind(&context.tenant_id)
    .bind(&context.org_id)
    .bind(&context.user_token_hash)
    .bind(&context.query_hash)
    .bind(&context.policies)
    .bind(context.approved)
    .bind(context.requires_redaction)
    .bind(&context.block_reason)
    .bind(context.expires_at)
    .bind(&context.user_hash)
    .bind(&context.workflow_id)
    .execute(pool)
    .await?;
    Ok(())
}

fn context_from_row(row: &PgRow) -> Result<StoredContext, sqlx::Error> {
    Ok(StoredContext {
        context: GatewayContext {
            context_id: row.try_get("context_id")?,
            decision_id: row.try_get("decision_id")?,
            client_id: row.try_get("client_id")?,
            tenant_id: row.try_get("tenant_id")?,
            org_id: row.try_get("org_id")?,
            user_token_hash: row.try_get("user_token_hash")?,
            query_hash: row.try_get("query_hash")?,
            policies: row.try_get("policies")?,
            approved: row.try_get("approved")?,
            requires_redaction: row.try_get("requires_redaction")?,
            block_reason: row.try_get("block_reason")?,
            expires_at: row.try_get("expires_at")?,
            user_hash: row.try_get("user_hash")?,
            workflow_id: row.try_get("workflow_id")?,
        },
        expired: row.try_get("expired")?,
        audit_count: row.try_get("audit_count")?,
    })
}

/// The context `context_id`, whichever tenant's it is: the caller compares.
pub async fn find_gateway_context(
    pool: &PgPool,
    context_id: Uuid,
) -> Result<Option<StoredContext>, DbError> {
    let row = sqlx::query(
        "SELECT context_id, decision_id, client_id, tenant_id, org_id, user_token_hash, query_hash, policies, \
         approved, requires_redaction, block_reason, expires_at, user_hash, workflow_id, expires_at <= now() AS expired, audit_count \
         FROM gateway_contexts WHERE context_id = $1",
    )
    .bind(context_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(context_from_row).transpose()?)
}

/// Counts one more llm-call audit against the context; returns the new count.
pub async fn claim_gateway_context(pool: &PgPool, context_id: Uuid) -> Result<i32, DbError> {
    let count = sqlx::query_scalar(
        "UPDATE gateway_contexts SET audit_count = audit_count + 1 WHERE context_id = $1 RETURNING audit_count",
    )
    .bind(context_id)
    .fetch_one(pool)
    .await?;
    Ok(count)
}

/// Adds `requests` and `tokens` to the client's window starting at `window_start` and returns the
/// window's totals (every replica's additions).
pub async fn add_usage(
    pool: &PgPool,
    client_id: &str,
    window_start: DateTime<Utc>,
    requests: i64,
    tokens: i64,
) -> Result<RateWindow, DbError> {
    let row = sqlx::query(
        "INSERT INTO rate_limit_windows (client_id, window_start, requests, tokens) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (client_id, window_start) DO UPDATE SET \
         requests = rate_limit_windows.requests + EXCLUDED.requests, tokens = rate_limit_windows.tokens + EXCLUDED.tokens \
         RETURNING requests, tokens, window_start",
    )
    .bind(client_id)
    .bind(window_start)
    .bind(i32::try_from(requests).unwrap_or(i32::MAX))
    .bind(tokens)
    .fetch_one(pool)
    .await?;
    Ok(RateWindow {
        requests: row.try_get("requests")?,
        tokens: row.try_get("tokens")?,
        window_start: row.try_get("window_start")?,
    })
}

/// Drops counter windows that ended more than a few minutes ago.
pub async fn delete_old_rate_windows(pool: &PgPool) -> Result<u64, DbError> {
    let deleted = sqlx::query(
        "DELETE FROM rate_limit_windows WHERE window_start < now() - interval '5 minutes'",
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(deleted)
}
