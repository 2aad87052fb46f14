//! The admin API's live view of decisions: the tail of the audit trail across tenants (polled with
//! the id of the last row seen) and decision statistics of the last hour with the state of this
//! agent's audit pipeline.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use axonflow_platform::db;

use crate::audit_api::entry_json;
use crate::error::ApiError;
use crate::state::AppState;
use crate::time::rfc3339;

const DEFAULT_TAIL: i64 = 100;
const MAX_TAIL: i64 = 500;
/// Minutes of `per_minute`, the current one included.
const MINUTES: i64 = 30;
/// Entries of `top_policies`.
const TOP_POLICIES: i64 = 10;

fn bad(name: &str, value: &str, expected: &str) -> ApiError {
    ApiError::bad_request(
        format!("query parameter {name}={value:?} is not {expected}"),
        "invalid_parameter",
    )
}

/// `GET /api/v1/admin/audit/tail?after=<row id>&limit=<1..500>`: the rows after `after` (or the
/// newest), oldest first, and the id to pass as `after` next time.
pub async fn tail(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let limit = match params.get("limit").filter(|v| !v.is_empty()) {
        None => DEFAULT_TAIL,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_TAIL).contains(n))
            .ok_or_else(|| bad("limit", text, "a whole number from 1 to 500"))?,
    };
    let after = params
        .get("after")
        .filter(|v| !v.is_empty())
        .map(|text| {
            text.parse::<Uuid>()
                .map_err(|_| bad("after", text, "the id of an audit row (a UUID)"))
        })
        .transpose()?;
    let rows = db::audit_tail(state.pool(), after, limit).await?;
    let next_after = rows.last().map(|row| row.decision_id).or(after);
    Ok(Json(json!({
        "rows": rows.iter().map(entry_json).collect::<Vec<_>>(),
        "next_after": next_after,
    }))
    .into_response())
}

/// The start of the minute holding `at`.
fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = at.timestamp();
    DateTime::from_timestamp(seconds - seconds.rem_euclid(60), 0).unwrap_or(at)
}

/// `GET /api/v1/admin/stats`: allowed and denied decisions of the last hour (in all and per minute
/// over the last 30 minutes, quiet minutes as zeros), the policies that matched most, the denied
/// share, and this agent's audit queue and journal backlog.
pub async fn stats(State(state): State<AppState>) -> Result<Response, ApiError> {
    let now = Utc::now();
    let hour_ago = now - TimeDelta::hours(1);
    let by_minute = db::decisions_per_minute(state.pool(), hour_ago).await?;
    let top = db::top_matched_policies(state.pool(), hour_ago, TOP_POLICIES).await?;
    let (allow, deny) = by_minute
        .iter()
        .fold((0_i64, 0_i64), |(a, d), m| (a + m.allow, d + m.deny));
    let counted: HashMap<DateTime<Utc>, (i64, i64)> = by_minute
        .iter()
        .map(|m| (m.minute, (m.allow, m.deny)))
        .collect();
    let current = minute_of(now);
    let per_minute: Vec<Value> = (0..MINUTES)
        .rev()
        .map(|back| {
            let minute = current - TimeDelta::minutes(back);
            let (allow, deny) = counted.get(&minute).copied().unwrap_or((0, 0));
            json!({"minute": rfc3339(minute), "allow": allow, "deny": deny})
        })
        .collect();
    let decided = allow + deny;
    let denied_share = if decided == 0 {
        0.0
    } else {
        deny as f64 / decided as f64
    };
    let audit = state.audit().stats();
    Ok(Json(json!({
        "as_of": rfc3339(now),
        "decisions_last_hour": {"allow": allow, "deny": deny},
        "per_minute": per_minute,
        "top_policies": top.iter().map(|(policy_id, matches)| json!({
            "policy_id": policy_id,
            "matches": matches,
        })).collect::<Vec<_>>(),
        "denied_share": denied_share,
        "audit": {
            "queue_depth": audit.queue_depth,
            "journal_backlog": audit.journal_backlog,
        },
    }))
    .into_response())
}
