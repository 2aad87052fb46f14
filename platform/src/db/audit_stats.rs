//! Decision counts over a recent window of `llm_call_audits`, for the admin API's live view: allowed
//! and denied decisions per minute, and the policies that matched most often. Every read is bounded
//! by time (a range of the `(created_at, id)` key, within the newest partition or two).

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use super::DbError;

/// Allowed and denied decisions in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteCounts {
    /// The minute's start.
    pub minute: DateTime<Utc>,
    pub allow: i64,
    pub deny: i64,
}

/// The decisions made at or after `since`, per minute (only minutes with decisions), oldest first.
pub async fn decisions_per_minute(
    pool: &PgPool,
    since: DateTime<Utc>,
) -> Result<Vec<MinuteCounts>, DbError> {
    let rows = sqlx::query(
        "SELECT date_trunc('minute', created_at) AS minute, \
             count(*) FILTER (WHERE verdict = 'allow') AS allow, \
             count(*) FILTER (WHERE verdict = 'deny') AS deny \
         FROM llm_call_audits WHERE created_at >= $1 GROUP BY 1 ORDER BY 1",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            Ok(MinuteCounts {
                minute: row.try_get("minute")?,
                allow: row.try_get("allow")?,
                deny: row.try_get("deny")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

/// The `limit` policies that matched in the most decisions made at or after `since`, with how
/// many; most first, ties by policy id.
pub async fn top_matched_policies(
    pool: &PgPool,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(String, i64)>, DbError> {
    let rows = sqlx::query(
        "SELECT p.policy_id, count(*) AS matches \
         FROM llm_call_audits a \
         CROSS JOIN LATERAL (SELECT DISTINCT jsonb_array_elements_text(CASE \
             WHEN jsonb_typeof(a.metadata -> 'policies') = 'array' THEN a.metadata -> 'policies' \
             ELSE '[]'::jsonb END) AS policy_id) p \
         WHERE a.created_at >= $1 AND p.policy_id IS NOT NULL \
         GROUP BY p.policy_id ORDER BY matches DESC, p.policy_id LIMIT $2",
    )
    .bind(since)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| Ok((row.try_get("policy_id")?, row.try_get("matches")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}
