//! Writing audit rows (multi-row INSERT, idempotent by `(created_at, id)`), reading them back in
//! chain order for verification, and the partition maintenance of `llm_call_audits`.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::DbError;
use crate::audit::journal::JournalLine;

/// The one statement that stores audit rows, whatever their number: each column is bound as an
/// array. (A `VALUES` list per batch size made a new prepared statement for every size, each
/// cached per connection with the types of its thousands of parameters: the agent's memory grew
/// by megabytes per connection under load.) `prev_hash` is not stored: it is the previous row's
/// `row_hash`, which verification reads.
const INSERT_AUDIT_ROWS: &str = "INSERT INTO llm_call_audits (id, source, client_id, tenant_id, org_id, \
     provider, model, verdict, prompt_tokens, completion_tokens, total_tokens, estimated_cost_usd, latency_ms, \
     http_status, trace_id, metadata, created_at, chain_id, chain_seq, prev_hash, row_hash, retain_until) \
     SELECT id, source, client_id, tenant_id, org_id, provider, model, verdict, prompt_tokens::int4, \
     completion_tokens::int4, total_tokens::int4, cost::numeric, latency_ms::int4, http_status::int4, trace_id, \
     metadata, created_at, chain_id, chain_seq, NULL::bytea, row_hash, retain_until \
     FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
     $9::int8[], $10::int8[], $11::int8[], $12::text[], $13::int8[], $14::int8[], $15::text[], $16::jsonb[], \
     $17::timestamptz[], $18::text[], $19::int8[], $20::bytea[], $21::date[]) \
     AS r(id, source, client_id, tenant_id, org_id, provider, model, verdict, prompt_tokens, completion_tokens, \
     total_tokens, cost, latency_ms, http_status, trace_id, metadata, created_at, chain_id, chain_seq, row_hash, \
     retain_until) \
     ON CONFLICT (created_at, id) DO NOTHING";

/// Inserts sealed rows in one statement; rows already stored (a replay) are skipped.
pub async fn insert_audit_lines(pool: &PgPool, lines: &[JournalLine]) -> Result<(), DbError> {
    if lines.is_empty() {
        return Ok(());
    }
    fn column<'a, T>(lines: &'a [JournalLine], field: impl Fn(&'a JournalLine) -> T) -> Vec<T> {
        lines.iter().map(field).collect()
    }
    sqlx::query(INSERT_AUDIT_ROWS)
        .bind(column(lines, |l| l.id))
        .bind(column(lines, |l| l.source.as_str()))
        .bind(column(lines, |l| l.client_id.as_str()))
        .bind(column(lines, |l| l.tenant_id.as_str()))
        .bind(column(lines, |l| l.org_id.as_str()))
        .bind(column(lines, |l| l.provider.as_str()))
        .bind(column(lines, |l| l.model.as_str()))
        .bind(column(lines, |l| l.verdict.as_str()))
        .bind(column(lines, |l| l.prompt_tokens))
        .bind(column(lines, |l| l.completion_tokens))
        .bind(column(lines, |l| l.total_tokens))
        .bind(column(lines, |l| l.estimated_cost_usd.as_str()))
        .bind(column(lines, |l| l.latency_ms))
        .bind(column(lines, |l| l.http_status))
        .bind(column(lines, |l| l.trace_id.as_deref()))
        .bind(column(lines, |l| &l.metadata))
        .bind(column(lines, |l| l.created_at))
        .bind(column(lines, |l| l.chain_id.as_str()))
        .bind(column(lines, |l| l.chain_seq))
        .bind(column(lines, |l| {
            hex::decode(&l.row_hash).unwrap_or_default()
        }))
        .bind(column(lines, |l| l.retain_until))
        .execute(pool)
        .await?;
    Ok(())
}

/// A stored row as a journal line; NULL hashes become empty strings.
fn line_from_row(row: &PgRow) -> Result<JournalLine, sqlx::Error> {
    let prev: Option<Vec<u8>> = row.try_get("prev_hash")?;
    let hash: Option<Vec<u8>> = row.try_get("row_hash")?;
    let line = JournalLine {
        id: row.try_get("id")?,
        source: row.try_get("source")?,
        client_id: row.try_get("client_id")?,
        tenant_id: row.try_get("tenant_id")?,
        org_id: row.try_get("org_id")?,
        provider: row.try_get("provider")?,
        model: row.try_get("model")?,
        verdict: row.try_get("verdict")?,
        prompt_tokens: i64::from(row.try_get::<i32, _>("prompt_tokens")?),
        completion_tokens: i64::from(row.try_get::<i32, _>("completion_tokens")?),
        total_tokens: i64::from(row.try_get::<i32, _>("total_tokens")?),
        estimated_cost_usd: row.try_get("cost")?,
        latency_ms: i64::from(row.try_get::<i32, _>("latency_ms")?),
        http_status: row.try_get::<Option<i32>, _>("http_status")?.map(i64::from),
        trace_id: row.try_get("trace_id")?,
        metadata: row.try_get("metadata")?,
        created_at: row.try_get("created_at")?,
        chain_id: row.try_get("chain_id")?,
        chain_seq: row.try_get("chain_seq")?,
        prev_hash: prev.as_deref().map(hex::encode).unwrap_or_default(),
        row_hash: hash.as_deref().map(hex::encode).unwrap_or_default(),
        retain_until: row.try_get("retain_until")?,
    };
    Ok(line)
}

/// The key a chain page continues after: chain, sequence, then the row's own key, so that a
/// duplicated sequence number on a page boundary is still seen.
pub type ChainCursor = (String, i64, DateTime<Utc>, uuid::Uuid);

/// One page of chained rows (of one tenant, or all) in chain order, after `after` (keyset paging).
pub async fn audit_chain_page(
    pool: &PgPool,
    tenant_id: Option<&str>,
    after: Option<&ChainCursor>,
    limit: i64,
) -> Result<Vec<JournalLine>, DbError> {
    let rows = sqlx::query(
        "SELECT id, source, client_id, tenant_id, org_id, provider, model, verdict, prompt_tokens, \
         completion_tokens, total_tokens, estimated_cost_usd::text AS cost, latency_ms, http_status, trace_id, \
         metadata, created_at, chain_id, chain_seq, prev_hash, row_hash, retain_until \
         FROM llm_call_audits WHERE chain_id <> '' AND ($1::text IS NULL OR tenant_id = $1) \
         AND ($2::text IS NULL OR (chain_id, chain_seq, created_at, id) > ($2, $3, $4, $5)) \
         ORDER BY chain_id, chain_seq, created_at, id LIMIT $6",
    )
    .bind(tenant_id)
    .bind(after.map(|c| c.0.as_str()))
    .bind(after.map_or(0, |c| c.1))
    .bind(after.map(|c| c.2))
    .bind(after.map(|c| c.3))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(line_from_row)
        .collect::<Result<_, sqlx::Error>>()?)
}

/// Rows outside any chain (written before chains existed, or inserted by hand).
pub async fn unchained_audit_rows(pool: &PgPool, tenant_id: Option<&str>) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM llm_call_audits WHERE chain_id = '' AND ($1::text IS NULL OR tenant_id = $1)",
    )
    .bind(tenant_id)
    .fetch_one(pool)
    .await?)
}

/// Creates the monthly partitions of `months` that do not exist yet; returns how many it created.
pub async fn ensure_audit_partitions(pool: &PgPool, months: &[NaiveDate]) -> Result<u32, DbError> {
    let mut created = 0;
    for month in months {
        let made: bool = sqlx::query_scalar("SELECT axonflow_ensure_audit_partition($1)")
            .bind(month)
            .fetch_one(pool)
            .await?;
        created += u32::from(made);
    }
    Ok(created)
}

/// Detaches and drops the partitions all of whose rows are past their retention on `today`, each in
/// its own short transaction. Returns the names of those dropped.
pub async fn drop_expired_audit_partitions(
    pool: &PgPool,
    today: NaiveDate,
) -> Result<Vec<String>, DbError> {
    let expired: Vec<String> = sqlx::query_scalar("SELECT axonflow_expired_audit_partitions($1)")
        .bind(today)
        .fetch_all(pool)
        .await?;
    let mut dropped = Vec::new();
    for name in expired {
        let done: bool = sqlx::query_scalar("SELECT axonflow_drop_audit_partition($1, $2)")
            .bind(&name)
            .bind(today)
            .fetch_one(pool)
            .await?;
        if done {
            dropped.push(name);
        }
    }
    Ok(dropped)
}

/// The monthly partitions, oldest first.
pub async fn audit_partitions(pool: &PgPool) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'llm_call_audits' ORDER BY 1",
    )
    .fetch_all(pool)
    .await?)
}

/// Average stored size of a row (`pg_column_size` of the whole row) over the newest `sample` rows.
pub async fn audit_row_size(pool: &PgPool, sample: i64) -> Result<Option<f64>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT avg(pg_column_size(a.*))::float8 FROM (SELECT * FROM llm_call_audits ORDER BY created_at DESC LIMIT $1) a",
    )
    .bind(sample)
    .fetch_one(pool)
    .await?)
}

/// The database clock.
pub async fn now(pool: &PgPool) -> Result<DateTime<Utc>, DbError> {
    Ok(sqlx::query_scalar("SELECT now()").fetch_one(pool).await?)
}
