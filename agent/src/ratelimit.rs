//! Per-client limits, shared by every agent replica through Postgres: requests per minute, and tokens
//! per minute from audited usage (a call's tokens count once it is audited; the next request over
//! the limit is refused). Limits are the client's own, else the configured defaults. Windows are
//! whole minutes of the agents' clocks.
//!
//! Counting is local first: each agent adds its requests to an in-memory counter and adds them to
//! the shared row every `SYNC_INTERVAL` (`sync_forever`, started with the agent), reading back every
//! replica's total. Near a limit (within a fifth of it, or 100 requests / 1,000 tokens) a request
//! exchanges its client's counts with Postgres at once, so the decision rests on every replica's
//! count; while one such exchange is in flight for a client, the client's other requests decide on
//! the freshest totals this agent holds instead of queueing another round trip. At the very edge
//! (the last hundredth of a limit, at least 10 requests / 1,000 tokens) that is not enough: an
//! exchange already in flight may have read the totals before another replica's last count, so
//! every request there starts an exchange of its own. A request already over a limit by this
//! agent's counts is refused without one (a window's totals only grow). Far from a limit a client
//! may overshoot by what other replicas counted within one sync interval.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use axonflow_platform::db::{self, DbError, PgPool};

use crate::auth::Caller;
use crate::error::{ApiError, OpenAiError};
use crate::state::AppState;

/// How often local counts are added to the shared rows.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(200);
/// A shared count slower than this is treated as unavailable (the request is not held up).
const COUNT_TIMEOUT: Duration = Duration::from_millis(500);

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

#[derive(Debug, Clone, Copy)]
struct Counter {
    window: DateTime<Utc>,
    /// Every replica's totals as of the last exchange with Postgres.
    shared_requests: i64,
    shared_tokens: i64,
    /// Counted here since then.
    pending_requests: i64,
    pending_tokens: i64,
    /// An exchange of this client's counts is in flight.
    exchanging: bool,
}

impl Counter {
    fn new(window: DateTime<Utc>) -> Counter {
        Counter {
            window,
            shared_requests: 0,
            shared_tokens: 0,
            pending_requests: 0,
            pending_tokens: 0,
            exchanging: false,
        }
    }

    fn requests(&self) -> i64 {
        self.shared_requests + self.pending_requests
    }

    fn tokens(&self) -> i64 {
        self.shared_tokens + self.pending_tokens
    }
}

/// The local counters of this agent.
#[derive(Default)]
pub struct RateCounters {
    counters: Mutex<HashMap<String, Counter>>,
    down: AtomicBool,
}

fn current_window(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now)
}

/// Within a fifth of the limit (or `floor`), counts are exchanged with Postgres at once.
fn near(used: i64, limit: i64, floor: i64) -> bool {
    used + (limit / 5).max(floor) >= limit
}

/// Within a hundredth of the limit (or `floor`), every request exchanges counts of its own.
fn at_edge(used: i64, limit: i64, floor: i64) -> bool {
    used + (limit / 100).max(floor) >= limit
}

/// Which limit `requests` and `tokens` go over, if any.
fn over(requests: i64, limit: u32, tokens: i64, tokens_limit: Option<u32>) -> Option<&'static str> {
    if requests > i64::from(limit) {
        Some("requests")
    } else if tokens_limit.is_some_and(|t| tokens >= i64::from(t)) {
        Some("tokens")
    } else {
        None
    }
}

impl RateCounters {
    fn with_counter<T>(
        &self,
        client_id: &str,
        window: DateTime<Utc>,
        f: impl FnOnce(&mut Counter) -> T,
    ) -> T {
        let mut counters = match self.counters.lock() {
            Ok(counters) => counters,
            Err(poisoned) => poisoned.into_inner(),
        };
        let counter = counters
            .entry(client_id.to_owned())
            .or_insert_with(|| Counter::new(window));
        if counter.window != window {
            *counter = Counter::new(window);
        }
        f(counter)
    }

    /// Adds the client's pending counts to its shared row and takes back every replica's totals,
    /// which it returns (they include this exchange's counts). Totals of a window only grow, so an
    /// older answer never lowers a newer one. When the add certainly failed the counts stay
    /// pending; when it timed out its outcome is unknown and they are not sent again (a possible
    /// undercount rather than a double count).
    async fn exchange(&self, pool: &PgPool, client_id: &str) -> Result<(i64, i64), DbError> {
        let (window, requests, tokens) = {
            let mut counters = match self.counters.lock() {
                Ok(counters) => counters,
                Err(poisoned) => poisoned.into_inner(),
            };
            let Some(counter) = counters.get_mut(client_id) else {
                return Err(DbError::Timeout);
            };
            counter.exchanging = true;
            let taken = (
                counter.window,
                counter.pending_requests,
                counter.pending_tokens,
            );
            counter.pending_requests = 0;
            counter.pending_tokens = 0;
            taken
        };
        let added = tokio::time::timeout(
            COUNT_TIMEOUT,
            db::add_usage(pool, client_id, window, requests, tokens),
        )
        .await;
        let mut counters = match self.counters.lock() {
            Ok(counters) => counters,
            Err(poisoned) => poisoned.into_inner(),
        };
        let counter = counters
            .entry(client_id.to_owned())
            .or_insert_with(|| Counter::new(window));
        let same_window = counter.window == window;
        counter.exchanging = false;
        match added {
            Ok(Ok(shared)) => {
                let totals = (i64::from(shared.requests), shared.tokens);
                if same_window {
                    counter.shared_requests = counter.shared_requests.max(totals.0);
                    counter.shared_tokens = counter.shared_tokens.max(totals.1);
                }
                self.note(true, None);
                Ok(totals)
            }
            Ok(Err(error)) => {
                if same_window {
                    counter.pending_requests += requests;
                    counter.pending_tokens += tokens;
                }
                self.note(false, Some(&error));
                Err(error)
            }
            Err(_) => {
                self.note(false, Some(&DbError::Timeout));
                Err(DbError::Timeout)
            }
        }
    }

    fn note(&self, ok: bool, error: Option<&DbError>) {
        let was_down = self.down.swap(!ok, Ordering::Relaxed);
        if was_down && ok {
            tracing::info!("rate limit counters shared again");
        } else if !was_down && !ok {
            tracing::warn!(error = ?error.map(ToString::to_string), "rate limit counters cannot be shared: each agent counts alone until Postgres is back");
        }
    }

    /// Exchanges every active client's counts, every `SYNC_INTERVAL`, forever (aborted at shutdown).
    pub async fn sync_forever(self: Arc<Self>, pool: PgPool) {
        loop {
            tokio::time::sleep(SYNC_INTERVAL).await;
            let window = current_window(Utc::now());
            let active: Vec<String> = match self.counters.lock() {
                Ok(mut counters) => {
                    counters.retain(|_, c| {
                        c.window == window || c.pending_requests > 0 || c.pending_tokens > 0
                    });
                    counters.keys().cloned().collect()
                }
                Err(_) => Vec::new(),
            };
            for client_id in active {
                let _ = self.exchange(&pool, &client_id).await;
            }
        }
    }
}

/// Counts one request of `client_id` (the caller's, or the id a community caller declared).
pub async fn count(state: &AppState, caller: &Caller, client_id: &str) -> RateStatus {
    let limit = caller
        .rate_limit_rpm
        .unwrap_or(state.config().rate_limit_rpm);
    let tokens_limit = caller.rate_limit_tpm.or(state.config().rate_limit_tpm);
    let counters = state.rate_counters();
    let window = current_window(Utc::now());
    let (requests, tokens, exchanging) = counters.with_counter(client_id, window, |counter| {
        counter.pending_requests += 1;
        (counter.requests(), counter.tokens(), counter.exchanging)
    });
    let near_limit = near(requests, i64::from(limit), 100)
        || tokens_limit.is_some_and(|t| near(tokens, i64::from(t), 1000));
    let edge = at_edge(requests, i64::from(limit), 10)
        || tokens_limit.is_some_and(|t| at_edge(tokens, i64::from(t), 1000));
    // Already over by this agent's counts: over. Near a limit the decision rests on the totals an
    // exchange returned, one this request started at the edge; elsewhere near a limit, while
    // another request's exchange is in flight, on this agent's freshest totals.
    let exchange_now = over(requests, limit, tokens, tokens_limit).is_none()
        && (edge || (near_limit && !exchanging));
    // This agent's counts never exceed the true totals, so the larger of the two is kept (an
    // exchange may return before another one carrying this request's count).
    let (requests, tokens) = if exchange_now {
        counters
            .exchange(state.pool(), client_id)
            .await
            .map_or((requests, tokens), |(r, t)| {
                (r.max(requests), t.max(tokens))
            })
    } else {
        (requests, tokens)
    };
    let used = u32::try_from(requests.max(0)).unwrap_or(u32::MAX);
    let exceeded = over(requests, limit, tokens, tokens_limit);
    RateStatus {
        limit,
        remaining: limit.saturating_sub(used),
        reset_at: window + TimeDelta::seconds(60),
        exceeded,
        tokens_limit,
    }
}

/// Counts an audited call's tokens against the client's tokens-per-minute window.
pub async fn add_tokens(state: &AppState, caller: &Caller, client_id: &str, tokens: u32) {
    if tokens == 0 {
        return;
    }
    let counters = state.rate_counters();
    let window = current_window(Utc::now());
    let total = counters.with_counter(client_id, window, |counter| {
        counter.pending_tokens += i64::from(tokens);
        counter.tokens()
    });
    let tokens_limit = caller.rate_limit_tpm.or(state.config().rate_limit_tpm);
    if tokens_limit.is_some_and(|t| near(total, i64::from(t), 1000)) {
        let _ = counters.exchange(state.pool(), client_id).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_exchanged_at_once_near_a_limit() {
        assert!(near(1, 3, 100), "small limits are always exact");
        assert!(!near(1_000, 60_000, 100));
        assert!(near(48_000, 60_000, 100));
        assert!(!near(47_999, 60_000, 100));
    }

    #[test]
    fn the_last_hundredth_of_a_limit_is_decided_on_fresh_counts() {
        assert!(at_edge(2, 2, 10), "small limits are always at the edge");
        assert!(at_edge(59_400, 60_000, 10));
        assert!(!at_edge(59_399, 60_000, 10));
        assert!(!at_edge(48_000, 60_000, 10), "near is wider than the edge");
        assert_eq!(over(3, 2, 0, None), Some("requests"));
        assert_eq!(over(2, 2, 0, None), None, "the limit itself is allowed");
        assert_eq!(over(1, 2, 20, Some(20)), Some("tokens"));
        assert_eq!(over(1, 2, 19, Some(20)), None);
    }
}
