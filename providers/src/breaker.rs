//! Circuit breakers of provider targets (one per tenant, provider and model): a target that failed
//! too often in a row is skipped for a while, then one half-open probe decides whether it serves
//! again. Also keeps what the status endpoint shows: recent latency and error rate.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Outcomes kept per target for its error rate.
const WINDOW: usize = 50;

/// Which target: a tenant's provider, serving one model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetKey {
    pub tenant: String,
    pub provider: String,
    pub model: String,
}

/// A breaker's state as the status endpoint names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// What the breaker lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: call it.
    Call,
    /// Half-open: this call is the one probe.
    Probe,
    /// Open (or a probe is already out): skip the target.
    Skip,
}

#[derive(Debug)]
struct Entry {
    kind: String,
    state: BreakerState,
    consecutive_failures: u32,
    opened_at: Option<(Instant, SystemTime)>,
    probe_started: Option<Instant>,
    outcomes: VecDeque<bool>,
    latency_ms: Option<f64>,
}

impl Entry {
    fn new(kind: &str) -> Entry {
        Entry {
            kind: kind.to_owned(),
            state: BreakerState::Closed,
            consecutive_failures: 0,
            opened_at: None,
            probe_started: None,
            outcomes: VecDeque::with_capacity(WINDOW),
            latency_ms: None,
        }
    }

    fn push_outcome(&mut self, ok: bool) {
        if self.outcomes.len() == WINDOW {
            self.outcomes.pop_front();
        }
        self.outcomes.push_back(ok);
    }
}

/// One target's state, for `GET /api/v1/providers/status`.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetStatus {
    pub key: TargetKey,
    pub kind: String,
    pub state: BreakerState,
    /// Smoothed latency of recent answered calls.
    pub latency_ms: Option<f64>,
    /// Share of failures among the recent calls (0 when none were made).
    pub error_rate: f64,
    pub consecutive_failures: u32,
    pub opened_at: Option<SystemTime>,
}

/// Every target's breaker in this process.
#[derive(Debug)]
pub struct Breakers {
    failures_to_open: u32,
    open_for: Duration,
    entries: Mutex<HashMap<TargetKey, Entry>>,
}

impl Breakers {
    pub fn new(failures_to_open: u32, open_for: Duration) -> Breakers {
        Breakers {
            failures_to_open: failures_to_open.max(1),
            open_for,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn with_entry<T>(&self, key: &TargetKey, kind: &str, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = entries
            .entry(key.clone())
            .or_insert_with(|| Entry::new(kind));
        f(entry)
    }

    /// Whether a call to the target may go now.
    pub fn admit(&self, key: &TargetKey, kind: &str, now: Instant) -> Admission {
        let open_for = self.open_for;
        self.with_entry(key, kind, |entry| match entry.state {
            BreakerState::Closed => Admission::Call,
            BreakerState::Open => {
                let waited = entry
                    .opened_at
                    .is_some_and(|(at, _)| now.duration_since(at) >= open_for);
                if waited {
                    entry.state = BreakerState::HalfOpen;
                    entry.probe_started = Some(now);
                    Admission::Probe
                } else {
                    Admission::Skip
                }
            }
            // A probe that never reported (its caller went away) does not block the target
            // forever: after another open period a new probe may go.
            BreakerState::HalfOpen => match entry.probe_started {
                Some(started) if now.duration_since(started) < open_for => Admission::Skip,
                _ => {
                    entry.probe_started = Some(now);
                    Admission::Probe
                }
            },
        })
    }

    /// A call answered (any answer that is not the target's fault): closes the breaker.
    pub fn succeeded(&self, key: &TargetKey, kind: &str, latency: Duration) {
        self.with_entry(key, kind, |entry| {
            entry.state = BreakerState::Closed;
            entry.consecutive_failures = 0;
            entry.opened_at = None;
            entry.probe_started = None;
            entry.push_outcome(true);
            let millis = latency.as_secs_f64() * 1000.0;
            entry.latency_ms = Some(match entry.latency_ms {
                Some(previous) => previous * 0.8 + millis * 0.2,
                None => millis,
            });
        });
    }

    /// A call failed (connection, timeout, 429, 5xx, refused credentials): opens the breaker after
    /// enough in a row, and at once when it was the half-open probe.
    pub fn failed(&self, key: &TargetKey, kind: &str, now: Instant) {
        let failures_to_open = self.failures_to_open;
        self.with_entry(key, kind, |entry| {
            entry.consecutive_failures = entry.consecutive_failures.saturating_add(1);
            entry.push_outcome(false);
            let reopen = entry.state == BreakerState::HalfOpen;
            if reopen || entry.consecutive_failures >= failures_to_open {
                if entry.state != BreakerState::Open {
                    tracing::warn!(
                        tenant_id = %key.tenant,
                        provider = %key.provider,
                        model = %key.model,
                        failures = entry.consecutive_failures,
                        "provider target's circuit breaker opened"
                    );
                }
                entry.state = BreakerState::Open;
                entry.opened_at = Some((now, SystemTime::now()));
                entry.probe_started = None;
            }
        });
    }

    /// A probe that ended without telling anything about the target (the request could not be
    /// translated for it, say): the next call may probe again.
    pub fn released(&self, key: &TargetKey, kind: &str) {
        self.with_entry(key, kind, |entry| {
            if entry.state == BreakerState::HalfOpen {
                entry.probe_started = None;
            }
        });
    }

    /// The state of every target of `tenant` this process has called.
    pub fn status_of(&self, tenant: &str, now: Instant) -> Vec<TargetStatus> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out: Vec<TargetStatus> = entries
            .iter()
            .filter(|(key, _)| key.tenant == tenant)
            .map(|(key, entry)| {
                let failures = entry.outcomes.iter().filter(|ok| !**ok).count();
                // An open breaker whose wait is over shows as half-open: the next call probes.
                let state = match (entry.state, entry.opened_at) {
                    (BreakerState::Open, Some((at, _)))
                        if now.duration_since(at) >= self.open_for =>
                    {
                        BreakerState::HalfOpen
                    }
                    (state, _) => state,
                };
                TargetStatus {
                    key: key.clone(),
                    kind: entry.kind.clone(),
                    state,
                    latency_ms: entry.latency_ms,
                    error_rate: if entry.outcomes.is_empty() {
                        0.0
                    } else {
                        failures as f64 / entry.outcomes.len() as f64
                    },
                    consecutive_failures: entry.consecutive_failures,
                    opened_at: entry.opened_at.map(|(_, wall)| wall),
                }
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TargetKey {
        TargetKey {
            tenant: "t".to_owned(),
            provider: "p".to_owned(),
            model: "m".to_owned(),
        }
    }

    #[test]
    fn opens_after_consecutive_failures_then_probes_once() {
        let breakers = Breakers::new(3, Duration::from_secs(10));
        let start = Instant::now();
        let k = key();
        for _ in 0..2 {
            assert_eq!(breakers.admit(&k, "openai", start), Admission::Call);
            breakers.failed(&k, "openai", start);
        }
        breakers.succeeded(&k, "openai", Duration::from_millis(5));
        for _ in 0..3 {
            assert_eq!(breakers.admit(&k, "openai", start), Admission::Call);
            breakers.failed(&k, "openai", start);
        }
        assert_eq!(breakers.admit(&k, "openai", start), Admission::Skip);
        let later = start + Duration::from_secs(10);
        assert_eq!(breakers.admit(&k, "openai", later), Admission::Probe);
        assert_eq!(
            breakers.admit(&k, "openai", later),
            Admission::Skip,
            "one probe at a time"
        );
        breakers.failed(&k, "openai", later);
        assert_eq!(
            breakers.admit(&k, "openai", later),
            Admission::Skip,
            "a failed probe reopens"
        );
        let much_later = later + Duration::from_secs(10);
        assert_eq!(breakers.admit(&k, "openai", much_later), Admission::Probe);
        breakers.succeeded(&k, "openai", Duration::from_millis(5));
        assert_eq!(breakers.admit(&k, "openai", much_later), Admission::Call);
        let status = breakers.status_of("t", much_later);
        assert_eq!(status.len(), 1);
        assert_eq!(status[0].state, BreakerState::Closed);
        assert!(status[0].error_rate > 0.5 && status[0].error_rate < 1.0);
        assert!(breakers.status_of("other", much_later).is_empty());
    }
}
