//! Per-client request limits, counted in Postgres so that every agent replica shares one counter per
//! client and minute (fixed windows on the database clock).

use chrono::{DateTime, Utc};

use axonflow_platform::db::{self, DbError};

use crate::error::ApiError;
use crate::state::AppState;

/// A client's standing after one counted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    pub limit: u32,
    pub remaining: u32,
    pub reset_at: DateTime<Utc>,
    pub exceeded: bool,
}

impl RateStatus {
    /// Seconds until the window resets, at least 1 (for `Retry-After`).
    pub fn retry_after_secs(&self, now: DateTime<Utc>) -> u64 {
        u64::try_from((self.reset_at - now).num_seconds())
            .unwrap_or(0)
            .max(1)
    }

    pub fn to_error(self, now: DateTime<Utc>) -> ApiError {
        ApiError::RateLimited {
            limit: self.limit,
            retry_after_secs: self.retry_after_secs(now),
            reset_at: crate::time::rfc3339(self.reset_at),
        }
    }
}

/// Counts one request of `client_id` against the configured per-minute limit.
pub async fn count(state: &AppState, client_id: &str) -> Result<RateStatus, DbError> {
    let limit = state.config().rate_limit_rpm;
    let window = db::count_request(state.pool(), client_id).await?;
    let used = u32::try_from(window.requests.max(0)).unwrap_or(u32::MAX);
    Ok(RateStatus {
        limit,
        remaining: limit.saturating_sub(used),
        reset_at: window.window_start + chrono::TimeDelta::seconds(60),
        exceeded: used > limit,
    })
}
