//! Per-client limits, counted in Postgres so that every agent replica shares one counter per client
//! and minute (fixed windows on the database clock): requests per minute, and tokens per minute
//! from audited usage (a call's tokens count once its audit row is written; the next request over
//! the limit is refused). Limits are the client's own, else the configured defaults.

use chrono::{DateTime, Utc};

use std::sync::atomic::{AtomicBool, Ordering};

use axonflow_platform::db::{self, DbError};

use crate::auth::Caller;
use crate::error::{ApiError, OpenAiError};
use crate::state::AppState;

/// A client's standing after one counted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    /// Requests per minute.
    pub limit: u32,
    pub remaining: u32,
    pub reset_at: DateTime<Utc>,
    /// Which limit the request went over (`requests` or `tokens`), if any.
    pub exceeded: Option<&'static str>,
    pub tokens_limit: Option<u32>,
}

impl RateStatus {
    /// Seconds until the window resets, at least 1 (for `Retry-After`).
    pub fn retry_after_secs(&self, now: DateTime<Utc>) -> u64 {
        u64::try_from((self.reset_at - now).num_seconds())
            .unwrap_or(0)
            .max(1)
    }

    fn exceeded_limit(&self) -> u32 {
        match self.exceeded {
            Some("tokens") => self.tokens_limit.unwrap_or(self.limit),
            _ => self.limit,
        }
    }

    pub fn to_api_error(self, now: DateTime<Utc>) -> ApiError {
        ApiError::RateLimited {
            limit_kind: self.exceeded.unwrap_or("requests"),
            limit: self.exceeded_limit(),
            retry_after_secs: self.retry_after_secs(now),
            reset_at: crate::time::rfc3339(self.reset_at),
        }
    }

    pub fn to_openai_error(self, now: DateTime<Utc>) -> OpenAiError {
        OpenAiError::RateLimited {
            limit_kind: self.exceeded.unwrap_or("requests"),
            limit: self.exceeded_limit(),
            retry_after_secs: self.retry_after_secs(now),
        }
    }
}

/// A count slower than this is treated as unavailable (the request is not held up by an outage).
const COUNT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Set while the counter cannot be read, for one log line per outage.
static COUNTER_DOWN: AtomicBool = AtomicBool::new(false);

/// Counts one request of `client_id` (the caller's, or the id a community caller declared). When
/// Postgres cannot count, the request is allowed (the limit is not enforced during the outage; the
/// audit trail still records every call through the journal) and the outage is logged once.
pub async fn count(state: &AppState, caller: &Caller, client_id: &str) -> RateStatus {
    let limit = caller
        .rate_limit_rpm
        .unwrap_or(state.config().rate_limit_rpm);
    let tokens_limit = caller.rate_limit_tpm.or(state.config().rate_limit_tpm);
    let counted = tokio::time::timeout(COUNT_TIMEOUT, db::count_request(state.pool(), client_id))
        .await
        .unwrap_or_else(|_| Err(DbError::Timeout));
    let window = match counted {
        Ok(window) => {
            if COUNTER_DOWN.swap(false, Ordering::Relaxed) {
                tracing::info!("rate limit counters readable again");
            }
            window
        }
        Err(error) => {
            if !COUNTER_DOWN.swap(true, Ordering::Relaxed) {
                tracing::warn!(%error, "rate limit counters unavailable: limits are not enforced until Postgres is back");
            }
            let now = Utc::now();
            return RateStatus {
                limit,
                remaining: limit,
                reset_at: now + chrono::TimeDelta::seconds(60),
                exceeded: None,
                tokens_limit,
            };
        }
    };
    let used = u32::try_from(window.requests.max(0)).unwrap_or(u32::MAX);
    let exceeded = if used > limit {
        Some("requests")
    } else if tokens_limit.is_some_and(|t| window.tokens >= i64::from(t)) {
        Some("tokens")
    } else {
        None
    };
    RateStatus {
        limit,
        remaining: limit.saturating_sub(used),
        reset_at: window.window_start + chrono::TimeDelta::seconds(60),
        exceeded,
        tokens_limit,
    }
}

/// Counts an audited call's tokens against the client's tokens-per-minute window. Best effort: a
/// failure is logged, the audit row already holds the tokens.
pub async fn add_tokens(state: &AppState, client_id: &str, tokens: u32) {
    if tokens == 0 {
        return;
    }
    if let Err(error) = db::add_tokens(state.pool(), client_id, i64::from(tokens)).await {
        tracing::warn!(%error, %client_id, "cannot count tokens for the rate limit");
    }
}
