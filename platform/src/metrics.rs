//! The Prometheus metrics both services expose on `/metrics` (names and labels as the contract
//! lists them): decisions by endpoint, verdict and tenant; policy matches by policy and action;
//! request duration and gateway overhead (request time minus time waiting on the provider);
//! policy evaluation time; tokens and cost by provider, model and tenant; spans dropped. One
//! process-wide registry, recorded from the audit row of each decision (`record_decision`), so
//! every decision is counted once whatever its endpoint.
//!
//! Label values that come from users are bounded: at most `MAX_TENANTS` tenants, `MAX_MODELS`
//! models, `MAX_PROVIDERS` providers and `MAX_POLICIES` policy ids get their own series; the rest
//! are reported as `other`.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use prometheus::{
    CounterVec, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts,
    Registry, TextEncoder,
};
use serde_json::Value;

use crate::audit::{AuditRecord, AuditSource};

/// Tenants with their own label value.
pub const MAX_TENANTS: usize = 100;
/// Models with their own label value.
pub const MAX_MODELS: usize = 200;
/// Policy ids with their own label value.
pub const MAX_POLICIES: usize = 500;
/// Providers with their own label value (an llm-call audit declares its own).
pub const MAX_PROVIDERS: usize = 50;
const OTHER: &str = "other";

/// Request-time buckets, in seconds: from 100 µs to 60 s.
const DURATION_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0, 60.0,
];
/// Policy evaluation buckets, in seconds: from 1 µs to 100 ms.
const EVAL_BUCKETS: [f64; 12] = [
    0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
    0.01, 0.1,
];

/// A label whose values are capped: the first `cap` distinct values keep their name.
struct Capped {
    cap: usize,
    seen: Mutex<HashSet<String>>,
}

impl Capped {
    fn new(cap: usize) -> Capped {
        Capped {
            cap,
            seen: Mutex::new(HashSet::new()),
        }
    }

    fn value<'v>(&self, value: &'v str) -> &'v str {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.contains(value) {
            return value;
        }
        if seen.len() < self.cap {
            seen.insert(value.to_owned());
            return value;
        }
        OTHER
    }
}

/// How long a deciding request waited on the LLM provider, set by its handler as a response
/// extension so that the overhead can be told apart.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamTime(pub Duration);

/// Where one deciding request's time went besides the provider: policy evaluation and the audit
/// step, added up by the code that does them while the request's `Timings` are in scope
/// (`with_timings`), and read by the layer that answers `Server-Timing`.
#[derive(Debug, Default)]
pub struct Timings {
    policy_ns: std::sync::atomic::AtomicU64,
    audit_ns: std::sync::atomic::AtomicU64,
}

tokio::task_local! {
    static TIMINGS: std::sync::Arc<Timings>;
}

/// One request's parts, read once it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimingParts {
    pub policy: Duration,
    pub upstream: Duration,
    pub audit: Duration,
    pub total: Duration,
}

impl TimingParts {
    /// The `Server-Timing` value (W3C), durations in milliseconds to the microsecond. Each part is
    /// cut (not rounded) to the microsecond, so the parts written never add up to more than the
    /// total written.
    pub fn header_value(&self) -> String {
        use std::fmt::Write;
        let mut value = String::with_capacity(96);
        for (name, part) in [
            ("policy", self.policy),
            ("upstream", self.upstream),
            ("audit", self.audit),
            ("total", self.total),
        ] {
            if !value.is_empty() {
                value.push_str(", ");
            }
            // In u64, and the three decimals by hand: a u128 and a padded `{:03}` cost several
            // times more than the rest of the header (it is written on every deciding request).
            let micros = u64::try_from(part.as_micros()).unwrap_or(u64::MAX);
            value.push_str(name);
            value.push_str(";dur=");
            // Writing into a String cannot fail.
            let _ = write!(value, "{}.", micros / 1000);
            let fraction = micros % 1000;
            for digit in [fraction / 100, fraction / 10 % 10, fraction % 10] {
                value.push(char::from_digit(digit as u32, 10).unwrap_or('0'));
            }
        }
        value
    }
}

impl Timings {
    /// The parts of a request that took `total` and waited `upstream` on the provider. Parts are
    /// disjoint stretches of the request, so they never add up to more than the total.
    pub fn parts(&self, upstream: Duration, total: Duration) -> TimingParts {
        let read = |ns: &std::sync::atomic::AtomicU64| {
            Duration::from_nanos(ns.load(std::sync::atomic::Ordering::Relaxed))
        };
        let upstream = upstream.min(total);
        let audit = read(&self.audit_ns).min(total - upstream);
        let policy = read(&self.policy_ns).min(total - upstream - audit);
        TimingParts {
            policy,
            upstream,
            audit,
            total,
        }
    }
}

/// Runs `future` with `timings` as the request's; work it does is added to them.
pub async fn timed<F: std::future::Future>(
    timings: std::sync::Arc<Timings>,
    future: F,
) -> F::Output {
    TIMINGS.scope(timings, future).await
}

/// `future`, carrying the current request's timings if there are any: for work a request hands to
/// a task of its own. The timings are taken here, in the request's task, not when the returned
/// future first runs (in the other task, where there are none).
pub fn with_current_timings<F: std::future::Future>(
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    let timings = TIMINGS.try_with(std::sync::Arc::clone).ok();
    async move {
        match timings {
            Some(timings) => TIMINGS.scope(timings, future).await,
            None => future.await,
        }
    }
}

fn add(elapsed: Duration, pick: fn(&Timings) -> &std::sync::atomic::AtomicU64) {
    let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    let _ = TIMINGS
        .try_with(|timings| pick(timings).fetch_add(nanos, std::sync::atomic::Ordering::Relaxed));
}

/// Adds policy evaluation time to the current request's timings (none outside a request).
pub fn add_policy_time(elapsed: Duration) {
    add(elapsed, |t| &t.policy_ns);
}

/// Adds audit time to the current request's timings.
pub fn add_audit_time(elapsed: Duration) {
    add(elapsed, |t| &t.audit_ns);
}

/// What the metrics count of one decision, taken from its audit row before the row is written.
#[derive(Debug, Clone)]
pub struct Decided {
    endpoint: &'static str,
    verdict: &'static str,
    tenant: String,
    provider: String,
    model: String,
    prompt_tokens: u32,
    completion_tokens: u32,
    cost_usd: f64,
    policies: Vec<(String, String)>,
}

impl Decided {
    pub fn of(record: &AuditRecord) -> Decided {
        Decided {
            endpoint: endpoint_of(record.source),
            verdict: record.verdict.as_str(),
            tenant: record.tenant_id.clone(),
            provider: record.provider.clone(),
            model: record.model.clone(),
            prompt_tokens: record.prompt_tokens,
            completion_tokens: record.completion_tokens,
            cost_usd: record.estimated_cost_usd,
            policies: matched_policies(&record.metadata),
        }
    }
}

pub struct Metrics {
    registry: Registry,
    decisions: IntCounterVec,
    policy_matches: IntCounterVec,
    request_duration: HistogramVec,
    gateway_overhead: HistogramVec,
    policy_eval: Histogram,
    tokens: IntCounterVec,
    cost: CounterVec,
    spans_dropped: IntCounter,
    tenants: Capped,
    models: Capped,
    policies: Capped,
    providers: Capped,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new();
    let decisions = IntCounterVec::new(
        Opts::new(
            "axonflow_decisions_total",
            "Decisions, one per audited call.",
        ),
        &["endpoint", "verdict", "tenant"],
    )?;
    let policy_matches = IntCounterVec::new(
        Opts::new(
            "axonflow_policy_matches_total",
            "Matched policies, one per policy per decision, by the action applied.",
        ),
        &["policy_id", "action"],
    )?;
    let request_duration = HistogramVec::new(
        HistogramOpts::new(
            "axonflow_request_duration_seconds",
            "Time from a deciding request's arrival to its answer.",
        )
        .buckets(DURATION_BUCKETS.to_vec()),
        &["endpoint"],
    )?;
    let gateway_overhead = HistogramVec::new(
        HistogramOpts::new(
            "axonflow_gateway_overhead_seconds",
            "Request time minus the time spent waiting on the LLM provider (part=\"total\"), and its parts: policy evaluation, the audit step, and the rest.",
        )
        .buckets(DURATION_BUCKETS.to_vec()),
        &["endpoint", "part"],
    )?;
    let policy_eval = Histogram::with_opts(
        HistogramOpts::new(
            "axonflow_policy_eval_duration_seconds",
            "Time of one policy evaluation of one text.",
        )
        .buckets(EVAL_BUCKETS.to_vec()),
    )?;
    let tokens = IntCounterVec::new(
        Opts::new(
            "axonflow_llm_tokens_total",
            "Tokens the provider reported (or the llm-call audit declared).",
        ),
        &["provider", "model", "tenant", "direction"],
    )?;
    let cost = CounterVec::new(
        Opts::new(
            "axonflow_llm_cost_usd_total",
            "Estimated cost of LLM calls, the audit rows' estimated_cost_usd.",
        ),
        &["provider", "model", "tenant"],
    )?;
    let spans_dropped = IntCounter::new(
        "axonflow_otel_spans_dropped_total",
        "Spans lost before export (queue full or export failed).",
    )?;
    registry.register(Box::new(decisions.clone()))?;
    registry.register(Box::new(policy_matches.clone()))?;
    registry.register(Box::new(request_duration.clone()))?;
    registry.register(Box::new(gateway_overhead.clone()))?;
    registry.register(Box::new(policy_eval.clone()))?;
    registry.register(Box::new(tokens.clone()))?;
    registry.register(Box::new(cost.clone()))?;
    registry.register(Box::new(spans_dropped.clone()))?;
    Ok(Metrics {
        registry,
        decisions,
        policy_matches,
        request_duration,
        gateway_overhead,
        policy_eval,
        tokens,
        cost,
        spans_dropped,
        tenants: Capped::new(MAX_TENANTS),
        models: Capped::new(MAX_MODELS),
        policies: Capped::new(MAX_POLICIES),
        providers: Capped::new(MAX_PROVIDERS),
    })
}

static METRICS: OnceLock<Option<Metrics>> = OnceLock::new();

/// The process's metrics; `None` only if the registry could not be built (then nothing is
/// recorded, and `/metrics` shows the rest).
pub fn metrics() -> Option<&'static Metrics> {
    METRICS
        .get_or_init(|| match build() {
            Ok(metrics) => Some(metrics),
            Err(error) => {
                tracing::error!(%error, "metrics registry could not be built");
                None
            }
        })
        .as_ref()
}

/// The `endpoint` label of a decision's source.
pub fn endpoint_of(source: AuditSource) -> &'static str {
    match source {
        AuditSource::OpenAiGateway => "openai",
        AuditSource::PreCheck => "pre_check",
        AuditSource::LlmCall => "llm_call",
        AuditSource::Decide => "decide",
        AuditSource::McpCheckInput => "check_input",
        AuditSource::Proxy => "proxy",
    }
}

/// The `endpoint` label of a deciding route, `None` for other routes.
pub fn endpoint_of_path(path: &str) -> Option<&'static str> {
    match path {
        "/v1/chat/completions" => Some("openai"),
        "/api/policy/pre-check" => Some("pre_check"),
        "/api/audit/llm-call" => Some("llm_call"),
        "/api/v1/decide" => Some("decide"),
        "/api/v1/mcp/check-input" => Some("check_input"),
        "/api/request" => Some("proxy"),
        _ => None,
    }
}

/// Every matched policy of a row: static input matches, dynamic policies, output matches.
fn matched_policies(metadata: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for field in ["matches", "output_matches"] {
        if let Some(matches) = metadata.get(field).and_then(Value::as_array) {
            for found in matches {
                if let (Some(id), Some(action)) = (
                    found.get("policy_id").and_then(Value::as_str),
                    found.get("action").and_then(Value::as_str),
                ) {
                    out.push((id.to_owned(), action.to_owned()));
                }
            }
        }
    }
    if let Some(dynamic) = metadata.get("dynamic_policies").and_then(Value::as_array) {
        for found in dynamic {
            let id = found
                .get("policy_id")
                .or_else(|| found.get("id"))
                .and_then(Value::as_str)
                .or_else(|| found.as_str());
            let action = found
                .get("actions")
                .and_then(Value::as_array)
                .and_then(|actions| actions.first())
                .and_then(Value::as_str)
                .or_else(|| found.get("action").and_then(Value::as_str))
                .unwrap_or("match");
            if let Some(id) = id {
                out.push((id.to_owned(), action.to_owned()));
            }
        }
    }
    // One per policy per decision.
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

impl Metrics {
    /// Counts one decision, from what `Decided::of` took of its audit row.
    pub fn record_decision(&self, decided: &Decided) {
        let tenant = self.tenants.value(&decided.tenant);
        self.decisions
            .with_label_values(&[decided.endpoint, decided.verdict, tenant])
            .inc();
        for (policy_id, action) in &decided.policies {
            self.policy_matches
                .with_label_values(&[self.policies.value(policy_id), action])
                .inc();
        }
        if decided.prompt_tokens == 0 && decided.completion_tokens == 0 && decided.cost_usd == 0.0 {
            return;
        }
        let provider = if decided.provider.is_empty() {
            "unknown"
        } else {
            self.providers.value(&decided.provider)
        };
        let model = self.models.value(&decided.model);
        for (direction, tokens) in [
            ("input", decided.prompt_tokens),
            ("output", decided.completion_tokens),
        ] {
            if tokens > 0 {
                self.tokens
                    .with_label_values(&[provider, model, tenant, direction])
                    .inc_by(u64::from(tokens));
            }
        }
        if decided.cost_usd.is_finite() && decided.cost_usd > 0.0 {
            self.cost
                .with_label_values(&[provider, model, tenant])
                .inc_by(decided.cost_usd);
        }
    }

    /// One deciding request's time and its parts (the provider's wait is not overhead).
    pub fn observe_request(&self, endpoint: &str, parts: &TimingParts) {
        self.request_duration
            .with_label_values(&[endpoint])
            .observe(parts.total.as_secs_f64());
        let overhead = parts.total.saturating_sub(parts.upstream);
        let other = overhead.saturating_sub(parts.policy + parts.audit);
        for (part, time) in [
            ("total", overhead),
            ("policy", parts.policy),
            ("audit", parts.audit),
            ("other", other),
        ] {
            self.gateway_overhead
                .with_label_values(&[endpoint, part])
                .observe(time.as_secs_f64());
        }
    }

    /// One policy evaluation's time.
    pub fn observe_policy_eval(&self, elapsed: Duration) {
        self.policy_eval.observe(elapsed.as_secs_f64());
    }

    /// Spans lost before export.
    pub fn spans_dropped(&self, n: u64) {
        self.spans_dropped.inc_by(n);
    }

    /// The registry in Prometheus text format, and the log writer's dropped lines (counted by the
    /// writer thread itself, read here).
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .is_err()
        {
            return String::new();
        }
        let mut text = String::from_utf8(buffer).unwrap_or_default();
        text.push_str(&format!(
            "# HELP axonflow_log_lines_dropped_total Log lines dropped because standard output did not keep up.\n\
             # TYPE axonflow_log_lines_dropped_total counter\n\
             axonflow_log_lines_dropped_total {}\n",
            crate::telemetry::log_lines_dropped()
        ));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_labels_fold_the_rest_into_other() {
        let capped = Capped::new(2);
        assert_eq!(capped.value("a"), "a");
        assert_eq!(capped.value("b"), "b");
        assert_eq!(capped.value("c"), OTHER);
        assert_eq!(capped.value("a"), "a");
    }

    #[test]
    fn every_kind_of_match_is_one_per_policy() {
        let metadata = serde_json::json!({
            "matches": [{"policy_id": "sys_pii_ssn", "action": "block"}, {"policy_id": "sys_pii_ssn", "action": "block"}],
            "output_matches": [{"policy_id": "sys_pii_email", "action": "redact"}],
            "dynamic_policies": [{"policy_id": "dyn-1", "actions": ["warn"]}],
        });
        let found = matched_policies(&metadata);
        assert_eq!(
            found,
            vec![
                ("dyn-1".to_owned(), "warn".to_owned()),
                ("sys_pii_email".to_owned(), "redact".to_owned()),
                ("sys_pii_ssn".to_owned(), "block".to_owned()),
            ]
        );
    }

    #[test]
    fn the_registry_renders_every_family() {
        let metrics = build().expect("registry");
        metrics.observe_policy_eval(Duration::from_micros(3));
        let timings = Timings::default();
        timings
            .policy_ns
            .store(250_000, std::sync::atomic::Ordering::Relaxed);
        timings
            .audit_ns
            .store(250_000, std::sync::atomic::Ordering::Relaxed);
        let parts = timings.parts(Duration::from_millis(4), Duration::from_millis(5));
        metrics.observe_request("openai", &parts);
        let text = metrics.render();
        for name in [
            "axonflow_policy_eval_duration_seconds_bucket",
            "axonflow_request_duration_seconds_bucket{endpoint=\"openai\"",
            "axonflow_gateway_overhead_seconds_sum{endpoint=\"openai\",part=\"total\"} 0.001",
            "axonflow_gateway_overhead_seconds_sum{endpoint=\"openai\",part=\"policy\"} 0.00025",
            "axonflow_gateway_overhead_seconds_sum{endpoint=\"openai\",part=\"audit\"} 0.00025",
            "axonflow_gateway_overhead_seconds_sum{endpoint=\"openai\",part=\"other\"} 0.0005",
            "axonflow_otel_spans_dropped_total 0",
            "# TYPE axonflow_log_lines_dropped_total counter\naxonflow_log_lines_dropped_total 0\n",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }

    #[test]
    fn timing_parts_never_exceed_the_total() {
        let timings = Timings::default();
        // More policy and audit time than the request took (parallel work counted twice).
        timings
            .policy_ns
            .store(9_000_000, std::sync::atomic::Ordering::Relaxed);
        timings
            .audit_ns
            .store(9_000_000, std::sync::atomic::Ordering::Relaxed);
        let parts = timings.parts(Duration::from_millis(3), Duration::from_millis(5));
        assert_eq!(parts.upstream, Duration::from_millis(3));
        assert!(parts.policy + parts.upstream + parts.audit <= parts.total);
        assert_eq!(
            Timings::default()
                .parts(Duration::ZERO, Duration::from_micros(1500))
                .header_value(),
            "policy;dur=0.000, upstream;dur=0.000, audit;dur=0.000, total;dur=1.500"
        );
        // Parts that round up past the total when rounded one by one are cut instead.
        let parts = TimingParts {
            policy: Duration::from_nanos(1_999_999),
            upstream: Duration::from_nanos(2_000_999),
            audit: Duration::from_nanos(999),
            total: Duration::from_nanos(4_001_997),
        };
        assert_eq!(
            parts.header_value(),
            "policy;dur=1.999, upstream;dur=2.000, audit;dur=0.000, total;dur=4.001"
        );
        let parts = TimingParts {
            policy: Duration::from_nanos(7_999),
            upstream: Duration::from_micros(12_345_060),
            audit: Duration::from_micros(90),
            total: Duration::from_micros(12_345_678),
        };
        assert_eq!(
            parts.header_value(),
            "policy;dur=0.007, upstream;dur=12345.060, audit;dur=0.090, total;dur=12345.678"
        );
    }
}
