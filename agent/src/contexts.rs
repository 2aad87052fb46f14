//! Gateway Mode's pre-check contexts: stored so that any replica's `/api/audit/llm-call` finds them.
//!
//! Compliance mode commits the context before the pre-check answers. Performance mode answers first
//! and commits in a task of its own (the pre-check's audit row is queued in this mode too), so the
//! round trip to Postgres is not on the pre-check's path. The client's LLM call sits between the two,
//! but nothing forces it to be slow: a lookup that misses a context minted moments ago (its UUID v7
//! carries when) looks again for up to [`VISIBLE_WITHIN`] before saying it is unknown. A miss on any
//! other id answers at once. Lookups waiting that way are bounded (an eighth of the requests in
//! flight): a caller sending made-up fresh ids cannot hold every slot for a second each; past the
//! bound a miss answers at once.
//!
//! The deferred write is bounded ([`MAX_DEFERRED`] in flight; past it the pre-check writes
//! synchronously) and retried. When a write fails, when writes in flight stop finishing (for
//! [`STALLED_AFTER`]), or when the audit writer finds Postgres down, the replica goes back to
//! synchronous writes until one succeeds: a Postgres outage turns pre-checks into errors as in
//! compliance mode, after at most a moment's approvals whose contexts are retried or counted lost.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axonflow_platform::db::{self, GatewayContext, PgPool, StoredContext};
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// Context writes allowed in flight off the pre-check's path; past it pre-checks write in line.
pub const MAX_DEFERRED: usize = 256;
/// How long after its minting a context may still be on its way to Postgres.
pub const VISIBLE_WITHIN: Duration = Duration::from_secs(1);
/// Tries of a deferred write before its context is given up as lost.
const WRITE_TRIES: u32 = 3;
/// Deferred writes in flight with none finished for this long: Postgres is not keeping up or is
/// gone, and pre-checks write synchronously (and wait, or fail) until writes go through again.
const STALLED_AFTER: Duration = Duration::from_millis(250);
/// Clocks of replicas on different hosts differ a little: a context "minted moments ago" is judged
/// with this much slack either side.
const CLOCK_SLACK: Duration = Duration::from_secs(2);

/// The deferred writes of one replica.
pub struct ContextWrites {
    permits: Arc<Semaphore>,
    /// Lookups allowed to wait for a context minted moments ago.
    waiting: Semaphore,
    /// Set when a write failed; cleared by the next write that succeeds.
    degraded: AtomicBool,
    failed: AtomicU64,
    /// Deferred writes in flight.
    pending: AtomicUsize,
    /// Milliseconds since `epoch` when a deferred write last finished, or when one started with
    /// none in flight.
    progress_ms: AtomicU64,
    epoch: Instant,
}

impl ContextWrites {
    /// For an agent serving up to `max_in_flight` requests at once.
    pub fn new(max_in_flight: usize) -> Self {
        ContextWrites {
            permits: Arc::new(Semaphore::new(MAX_DEFERRED)),
            waiting: Semaphore::new((max_in_flight / 8).max(1)),
            degraded: AtomicBool::new(false),
            failed: AtomicU64::new(0),
            pending: AtomicUsize::new(0),
            progress_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Contexts lost: their pre-check answered, every try to store them failed.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn note(&self, stored: bool) {
        self.degraded.store(!stored, Ordering::Relaxed);
    }

    /// Whether writes go through: none failed since the last success, and the ones in flight are
    /// moving.
    fn flowing(&self) -> bool {
        if self.degraded.load(Ordering::Relaxed) {
            return false;
        }
        self.pending.load(Ordering::Acquire) == 0
            || self
                .now_ms()
                .saturating_sub(self.progress_ms.load(Ordering::Acquire))
                < STALLED_AFTER.as_millis() as u64
    }

    fn started(&self) {
        if self.pending.fetch_add(1, Ordering::AcqRel) == 0 {
            self.progress_ms.store(self.now_ms(), Ordering::Release);
        }
    }

    fn finished(&self, stored: bool) {
        if stored {
            self.progress_ms.store(self.now_ms(), Ordering::Release);
        }
        self.note(stored);
        self.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Stores `context`: before returning in compliance mode, when writes are failing, or when
/// [`MAX_DEFERRED`] writes are already in flight; otherwise in a task of its own.
pub async fn store(state: &AppState, context: GatewayContext) -> Result<(), ApiError> {
    let writes = state.context_writes();
    let deferred =
        state.config().performance_mode && writes.flowing() && state.audit().database_ok();
    let permit = if deferred {
        Arc::clone(&writes.permits).try_acquire_owned().ok()
    } else {
        None
    };
    let Some(permit) = permit else {
        let stored = db::insert_gateway_context(state.context_pool(), &context).await;
        writes.note(stored.is_ok());
        return Ok(stored?);
    };
    writes.started();
    let state = state.clone();
    tokio::spawn(async move {
        let stored =
            write_with_retries(state.context_writes(), state.context_pool(), &context).await;
        let writes = state.context_writes();
        writes.finished(stored);
        if !stored {
            writes.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(context_id = %context.context_id,
                "pre-check context not stored after {WRITE_TRIES} tries; its llm-call audit will find no context; \
                 pre-checks write synchronously until Postgres takes writes again");
        }
        drop(permit);
    });
    Ok(())
}

async fn write_with_retries(
    writes: &ContextWrites,
    pool: &PgPool,
    context: &GatewayContext,
) -> bool {
    let mut pause = Duration::from_millis(50);
    for attempt in 1..=WRITE_TRIES {
        match db::insert_gateway_context(pool, context).await {
            Ok(()) => return true,
            Err(error) => {
                // Other pre-checks stop deferring at once.
                writes.note(false);
                tracing::warn!(%error, attempt, context_id = %context.context_id, "pre-check context write failed");
            }
        }
        if attempt < WRITE_TRIES {
            tokio::time::sleep(pause).await;
            pause *= 4;
        }
    }
    false
}

/// The context `context_id` of `tenant_id`, waiting up to [`VISIBLE_WITHIN`] for one minted moments
/// ago that is not there yet.
pub async fn find(
    state: &AppState,
    context_id: Uuid,
    tenant_id: &str,
) -> Result<Option<StoredContext>, ApiError> {
    let mut waited = Duration::ZERO;
    let mut pause = Duration::from_millis(2);
    let mut permit = None;
    loop {
        if let Some(found) = db::find_gateway_context(state.pool(), context_id).await? {
            return Ok((found.context.tenant_id == tenant_id).then_some(found));
        }
        if waited >= VISIBLE_WITHIN || !minted_recently(context_id, Utc::now()) {
            return Ok(None);
        }
        if permit.is_none() {
            match state.context_writes().waiting.try_acquire() {
                Ok(acquired) => permit = Some(acquired),
                // As many lookups wait already as the bound allows: a miss now is a miss.
                Err(_) => return Ok(None),
            }
        }
        tokio::time::sleep(pause).await;
        waited += pause;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// Whether `id` is a UUID v7 whose timestamp lies within [`VISIBLE_WITHIN`] (plus clock slack) of
/// `now`: the only ids a deferred write may not have stored yet.
fn minted_recently(id: Uuid, now: DateTime<Utc>) -> bool {
    let Some(timestamp) = id.get_timestamp().filter(|_| id.get_version_num() == 7) else {
        return false;
    };
    let (secs, nanos) = timestamp.to_unix();
    let Some(minted) = i64::try_from(secs)
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, nanos))
    else {
        return false;
    };
    let age = now.signed_duration_since(minted);
    let slack = chrono::TimeDelta::from_std(VISIBLE_WITHIN + CLOCK_SLACK).unwrap_or_default();
    -slack <= age && age <= slack
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fresh_v7_ids_are_worth_waiting_for() {
        let now = Utc::now();
        assert!(minted_recently(Uuid::now_v7(), now));
        let old = Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from(now.timestamp() - 10).expect("positive"),
            0,
        ));
        assert!(!minted_recently(old, now));
        let ahead = Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from(now.timestamp() + 60).expect("positive"),
            0,
        ));
        assert!(!minted_recently(ahead, now));
        assert!(!minted_recently(Uuid::new_v4(), now));
        assert!(!minted_recently(Uuid::nil(), now));
    }
}
