//! Routing one call across provider targets: the order (priority, then weighted-random within equal
//! priority), bounded retries with exponential backoff and jitter (honouring `Retry-After`),
//! failover to the next target, circuit breakers, one total deadline. Every attempt is reported
//! for the audit row. Nothing is retried once a provider has started answering with success.
//!
//! The caller builds the targets (registry, keys, policies); this module only sends.

use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::breaker::{Admission, Breakers, TargetKey, TargetStatus};
use crate::{
    build_request, parse_answer, Completion, Credentials, ProviderError, ProviderKind, Target,
    TranslateError,
};

/// Error bodies are read only this far (enough for the provider's message).
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// One provider target, ready to call.
#[derive(Debug, Clone)]
pub struct RouteTarget {
    pub key: TargetKey,
    pub kind: ProviderKind,
    pub endpoint: String,
    pub api_version: Option<String>,
    pub region: Option<String>,
    pub credentials: Option<Credentials>,
    pub priority: i32,
    pub weight: u32,
    /// Longest wait for one attempt (the total deadline may cut it shorter).
    pub attempt_timeout: Duration,
    /// Most calls per second this process sends to the provider (all its models); `None`: no limit.
    pub rate_limit: Option<u32>,
}

impl RouteTarget {
    /// The registry name of the provider.
    pub fn provider(&self) -> &str {
        &self.key.provider
    }

    /// The model sent to it.
    pub fn model(&self) -> &str {
        &self.key.model
    }

    fn as_target(&self) -> Target<'_> {
        Target {
            kind: self.kind,
            endpoint: &self.endpoint,
            model: &self.key.model,
            api_version: self.api_version.as_deref(),
            region: self.region.as_deref(),
            credentials: self.credentials.as_ref(),
        }
    }
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RouterSettings {
    /// Largest answer read from a provider.
    pub max_response_bytes: usize,
    /// Extra attempts on the same target after a retryable failure.
    pub retries_per_target: u32,
    /// First backoff; doubled per retry, with jitter.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// A `Retry-After` longer than this fails over at once instead of waiting.
    pub max_retry_after: Duration,
}

impl Default for RouterSettings {
    fn default() -> RouterSettings {
        RouterSettings {
            max_response_bytes: 10 * 1024 * 1024,
            retries_per_target: 1,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// One try at one target, as the audit row records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub provider: String,
    pub model: String,
    /// The HTTP status the provider answered; `None` when it did not.
    pub status: Option<u16>,
    /// Why it did not serve: `timeout`, `connect`, `circuit_open`, `rate_limited`, `server_error`,
    /// `unauthorized`, `unsupported`, `invalid_answer`, `too_large`, `broken_off`; `None` when it served.
    pub error: Option<&'static str>,
    pub latency_ms: u32,
}

/// A call that was answered.
#[derive(Debug)]
pub struct Served {
    /// Index of the target that served, in the order given.
    pub target: usize,
    pub completion: Completion,
    pub latency_ms: u32,
}

/// A streamed call whose provider answered 2xx: its body is the provider's event stream, not read
/// yet. Nothing is retried from here on.
#[derive(Debug)]
pub struct OpenedStream {
    /// Index of the target that answered, in the order given.
    pub target: usize,
    pub response: reqwest::Response,
    /// Time to the provider's response headers.
    pub latency_ms: u32,
}

/// The outcome of opening a streamed call, with every attempt in order.
#[derive(Debug)]
pub struct RoutedStream {
    pub result: Result<OpenedStream, Failure>,
    pub attempts: Vec<Attempt>,
}

/// What a successful attempt produced.
enum Answer {
    Completion(Completion),
    Stream(reqwest::Response),
}

/// Why no target served.
#[derive(Debug)]
pub enum Failure {
    /// No target could express the request (the first target's reason).
    Unsupported(TranslateError),
    /// A provider refused the request itself (a 4xx other than 401, 403, 408 and 429): answered
    /// as is, no failover (another provider would refuse it too).
    Refused(ProviderError),
    /// A provider started answering and the answer was broken, unreadable or not an answer.
    Broken(ProviderError),
    /// An answer over the size limit.
    TooLarge { limit_bytes: usize },
    /// Every target failed or was skipped; the last provider error when there was one.
    AllFailed(Option<ProviderError>),
    /// The total deadline passed.
    Deadline,
    /// No target was called: every one is skipped (circuit open, or its rate limit spent).
    Unavailable,
}

/// The outcome of routing one call, with every attempt in order.
#[derive(Debug)]
pub struct Routed {
    pub result: Result<Served, Failure>,
    pub attempts: Vec<Attempt>,
}

/// Sends calls to provider targets; holds the process's circuit breakers.
pub struct Router {
    http: reqwest::Client,
    settings: RouterSettings,
    breakers: Breakers,
    /// Calls sent per (tenant, provider) in the current one-second window, for `rate_limit`.
    sent: std::sync::Mutex<std::collections::HashMap<(String, String), (Instant, u32)>>,
    /// The `traceparent` that continues a span in the provider's request (trace export on).
    trace_context: Option<fn(&tracing::Span) -> Option<String>>,
}

/// What one attempt produced.
enum AttemptResult {
    Served(Answer),
    /// Worth another try (same target after a wait, else the next one); the wait the provider
    /// asked for, if any.
    Retryable(Option<ProviderError>, Option<Duration>),
    /// Not this target (credentials refused, request not expressible): the next one.
    NextTarget(Option<ProviderError>),
    /// Final: no other target is tried.
    Final(Failure),
}

fn millis(elapsed: Duration) -> u32 {
    u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX)
}

/// The CLIENT span of one provider call, following the OpenTelemetry GenAI conventions: names,
/// model and counts only, never text.
pub fn provider_span(kind: ProviderKind, model: &str) -> tracing::Span {
    tracing::info_span!(
        target: "axonflow",
        "client",
        otel.name = %format!("chat {model}"),
        otel.kind = "client",
        "gen_ai.operation.name" = "chat",
        "gen_ai.provider.name" = gen_ai_provider(kind),
        "gen_ai.request.model" = %model,
        "gen_ai.response.model" = tracing::field::Empty,
        "gen_ai.usage.input_tokens" = tracing::field::Empty,
        "gen_ai.usage.output_tokens" = tracing::field::Empty,
        "http.response.status_code" = tracing::field::Empty,
        "error.type" = tracing::field::Empty,
    )
}

/// What a provider call's span records when it ends.
pub fn record_provider_answer(
    span: &tracing::Span,
    status: Option<u16>,
    error: Option<&str>,
    served: Option<(&str, crate::Usage)>,
) {
    if let Some(status) = status {
        span.record("http.response.status_code", i64::from(status));
    }
    if let Some(error) = error {
        span.record("error.type", error);
    }
    if let Some((model, usage)) = served {
        span.record("gen_ai.response.model", model);
        span.record("gen_ai.usage.input_tokens", i64::from(usage.prompt_tokens));
        span.record(
            "gen_ai.usage.output_tokens",
            i64::from(usage.completion_tokens),
        );
    }
}

/// The `gen_ai.provider.name` of a provider type (OpenTelemetry GenAI conventions).
pub fn gen_ai_provider(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi => "openai",
        ProviderKind::AzureOpenAi => "azure.ai.openai",
        ProviderKind::Anthropic => "anthropic",
        ProviderKind::Gemini => "gcp.gemini",
        ProviderKind::Bedrock => "aws.bedrock",
        ProviderKind::Ollama => "ollama",
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Reads at most `limit` bytes of the body; `Err(None)` when over it, `Err(Some(e))` when the
/// transfer failed.
async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, Option<reqwest::Error>> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Some)? {
        if body.len() + chunk.len() > limit {
            return Err(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl Router {
    pub fn new(http: reqwest::Client, settings: RouterSettings, breakers: Breakers) -> Router {
        Router {
            http,
            settings,
            breakers,
            sent: std::sync::Mutex::new(std::collections::HashMap::new()),
            trace_context: None,
        }
    }

    /// Provider requests carry a `traceparent` made by `context` from their CLIENT span.
    pub fn with_trace_context(mut self, context: fn(&tracing::Span) -> Option<String>) -> Router {
        self.trace_context = Some(context);
        self
    }

    /// Takes one call of the target's provider's per-second budget; `false` when it is spent.
    fn take_rate_slot(&self, target: &RouteTarget, now: Instant) -> bool {
        let Some(limit) = target.rate_limit else {
            return true;
        };
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = sent
            .entry((target.key.tenant.clone(), target.key.provider.clone()))
            .or_insert((now, 0));
        if now.duration_since(slot.0) >= Duration::from_secs(1) {
            *slot = (now, 0);
        }
        if slot.1 >= limit {
            return false;
        }
        slot.1 += 1;
        true
    }

    /// The state of `tenant`'s targets this process has called.
    pub fn status_of(&self, tenant: &str) -> Vec<TargetStatus> {
        self.breakers.status_of(tenant, Instant::now())
    }

    /// Orders targets for one call: higher priority first; within equal priority a weighted random
    /// order (weight 0 only after the others).
    pub fn order(mut targets: Vec<RouteTarget>) -> Vec<RouteTarget> {
        targets.sort_by_key(|target| std::cmp::Reverse(target.priority));
        let mut ordered = Vec::with_capacity(targets.len());
        let mut rest = targets;
        while !rest.is_empty() {
            let priority = rest[0].priority;
            let split = rest
                .iter()
                .position(|t| t.priority != priority)
                .unwrap_or(rest.len());
            let mut group: Vec<RouteTarget> = rest.drain(..split).collect();
            while !group.is_empty() {
                let total: u64 = group.iter().map(|t| u64::from(t.weight)).sum();
                let idx = if total == 0 {
                    0
                } else {
                    let mut pick = fastrand::u64(0..total);
                    group
                        .iter()
                        .position(|t| {
                            let w = u64::from(t.weight);
                            if pick < w {
                                true
                            } else {
                                pick -= w;
                                false
                            }
                        })
                        .unwrap_or(0)
                };
                ordered.push(group.remove(idx));
            }
        }
        ordered
    }

    /// Tries the targets in the order given until one serves, within `deadline`.
    pub async fn call(
        &self,
        targets: &[RouteTarget],
        request: &Value,
        deadline: Instant,
    ) -> Routed {
        let (result, attempts) = self.route(targets, request, deadline, false).await;
        let result = match result {
            Ok((target, Answer::Completion(completion), latency_ms)) => Ok(Served {
                target,
                completion,
                latency_ms,
            }),
            // A call that did not ask for a stream never gets one.
            Ok((_, Answer::Stream(_), _)) => Err(Failure::AllFailed(None)),
            Err(failure) => Err(failure),
        };
        Routed { result, attempts }
    }

    /// Like `call` for a streamed request: tries the targets until one answers 2xx, and hands over
    /// its unread event stream. Each attempt's timeout bounds the wait for the response headers.
    pub async fn open_stream(
        &self,
        targets: &[RouteTarget],
        request: &Value,
        deadline: Instant,
    ) -> RoutedStream {
        let (result, attempts) = self.route(targets, request, deadline, true).await;
        let result = match result {
            Ok((target, Answer::Stream(response), latency_ms)) => Ok(OpenedStream {
                target,
                response,
                latency_ms,
            }),
            Ok((_, Answer::Completion(_), _)) => Err(Failure::AllFailed(None)),
            Err(failure) => Err(failure),
        };
        RoutedStream { result, attempts }
    }

    async fn route(
        &self,
        targets: &[RouteTarget],
        request: &Value,
        deadline: Instant,
        streaming: bool,
    ) -> (Result<(usize, Answer, u32), Failure>, Vec<Attempt>) {
        let mut attempts = Vec::new();
        let mut first_unsupported: Option<TranslateError> = None;
        let mut last_error: Option<ProviderError> = None;
        let skipped = |target: &RouteTarget, error: &'static str| Attempt {
            provider: target.provider().to_owned(),
            model: target.model().to_owned(),
            status: None,
            error: Some(error),
            latency_ms: 0,
        };
        for (idx, target) in targets.iter().enumerate() {
            let kind = target.kind.as_str();
            let admission = self.breakers.admit(&target.key, kind, Instant::now());
            if admission == Admission::Skip {
                attempts.push(skipped(target, "circuit_open"));
                continue;
            }
            let mut retry = 0u32;
            loop {
                let now = Instant::now();
                let Some(remaining) = deadline
                    .checked_duration_since(now)
                    .filter(|d| !d.is_zero())
                else {
                    if admission == Admission::Probe {
                        self.breakers.released(&target.key, kind);
                    }
                    return (Err(Failure::Deadline), attempts);
                };
                // Every attempt, retries included, spends one call of the provider's rate limit.
                if !self.take_rate_slot(target, now) {
                    if admission == Admission::Probe {
                        self.breakers.released(&target.key, kind);
                    }
                    attempts.push(skipped(target, "rate_limit"));
                    break;
                }
                let cut_by_deadline = remaining < target.attempt_timeout;
                let (attempt, result) = self
                    .attempt(
                        target,
                        request,
                        target.attempt_timeout.min(remaining),
                        cut_by_deadline,
                        streaming,
                    )
                    .await;
                let deadline_hit = Instant::now() >= deadline;
                let timed_out = attempt.error == Some("timeout");
                attempts.push(attempt);
                match result {
                    AttemptResult::Served(answer) => {
                        let latency_ms = attempts.last().map_or(0, |a| a.latency_ms);
                        return (Ok((idx, answer, latency_ms)), attempts);
                    }
                    AttemptResult::Final(failure) => return (Err(failure), attempts),
                    AttemptResult::NextTarget(error) => {
                        if let Some(error) = error {
                            last_error = Some(error);
                        }
                        break;
                    }
                    AttemptResult::Retryable(error, asked_wait) => {
                        if let Some(error) = error {
                            last_error = Some(error);
                        }
                        if deadline_hit {
                            return (Err(Failure::Deadline), attempts);
                        }
                        // A target that did not answer in time is not waited for twice; a sick
                        // target after a failed probe, or out of retries: the next target.
                        let breaker_open = admission == Admission::Probe
                            || self.breakers.admit(&target.key, kind, Instant::now())
                                == Admission::Skip;
                        if timed_out || retry >= self.settings.retries_per_target || breaker_open {
                            break;
                        }
                        let wait = match asked_wait {
                            Some(wait) if wait > self.settings.max_retry_after => break,
                            Some(wait) => wait,
                            None => self.backoff(retry),
                        };
                        let left = deadline.saturating_duration_since(Instant::now());
                        if wait >= left {
                            // Waiting would spend the whole deadline: fail over now.
                            break;
                        }
                        tokio::time::sleep(wait).await;
                        retry += 1;
                    }
                }
            }
            if let Some(Attempt {
                error: Some("unsupported"),
                ..
            }) = attempts.last()
            {
                if first_unsupported.is_none() {
                    first_unsupported = self.unsupported_reason(target, request);
                }
            }
        }
        let every = |labels: &[&str]| {
            !attempts.is_empty()
                && attempts
                    .iter()
                    .all(|a| a.error.is_some_and(|e| labels.contains(&e)))
        };
        let result = match first_unsupported {
            Some(reason) if every(&["unsupported"]) => Failure::Unsupported(reason),
            _ if every(&["circuit_open", "rate_limit"]) => Failure::Unavailable,
            _ => Failure::AllFailed(last_error),
        };
        (Err(result), attempts)
    }

    /// One call to one target outside routing (no breaker, no retry): the `test` and `health`
    /// endpoints.
    pub async fn probe(
        &self,
        target: &RouteTarget,
        request: &Value,
        timeout: Duration,
    ) -> (Attempt, Result<Completion, Failure>) {
        let (attempt, result) = self.send(target, request, timeout, false).await;
        let result = match result {
            AttemptResult::Served(Answer::Completion(completion)) => Ok(completion),
            AttemptResult::Served(Answer::Stream(_)) => Err(Failure::AllFailed(None)),
            AttemptResult::Final(failure) => Err(failure),
            AttemptResult::Retryable(error, _) | AttemptResult::NextTarget(error) => {
                Err(match (error, attempt.error) {
                    (_, Some("unsupported")) => match self.unsupported_reason(target, request) {
                        Some(reason) => Failure::Unsupported(reason),
                        None => Failure::AllFailed(None),
                    },
                    (error, Some("timeout")) if error.is_none() => Failure::Deadline,
                    (error, _) => Failure::AllFailed(error),
                })
            }
        };
        (attempt, result)
    }

    fn unsupported_reason(&self, target: &RouteTarget, request: &Value) -> Option<TranslateError> {
        build_request(&target.as_target(), request, SystemTime::now()).err()
    }

    /// Backoff before retry `n` (0-based): base * 2^n, capped, with jitter in [50%, 100%].
    fn backoff(&self, n: u32) -> Duration {
        let full = self
            .settings
            .backoff_base
            .saturating_mul(1u32 << n.min(16))
            .min(self.settings.backoff_cap);
        full.mul_f64(0.5 + fastrand::f64() * 0.5)
    }

    /// One attempt, with the breaker told how it went.
    async fn attempt(
        &self,
        target: &RouteTarget,
        request: &Value,
        timeout: Duration,
        cut_by_deadline: bool,
        streaming: bool,
    ) -> (Attempt, AttemptResult) {
        let kind = target.kind.as_str();
        let (attempt, result) = self.send(target, request, timeout, streaming).await;
        match (&result, attempt.error) {
            (AttemptResult::Served(_), _) => self.breakers.succeeded(
                &target.key,
                kind,
                Duration::from_millis(u64::from(attempt.latency_ms)),
            ),
            // Says nothing about the target's health: the request did not fit its format, or the
            // call's own deadline, shorter than the target's timeout, ran out.
            (_, Some("unsupported")) => self.breakers.released(&target.key, kind),
            (_, Some("timeout")) if cut_by_deadline => self.breakers.released(&target.key, kind),
            // The provider answered and refused the request itself: it is healthy.
            (AttemptResult::Final(Failure::Refused(_)), _) => self.breakers.succeeded(
                &target.key,
                kind,
                Duration::from_millis(u64::from(attempt.latency_ms)),
            ),
            _ => self.breakers.failed(&target.key, kind, Instant::now()),
        }
        (attempt, result)
    }

    /// One request to one target, as a CLIENT span following the GenAI conventions (no text in it).
    async fn send(
        &self,
        target: &RouteTarget,
        request: &Value,
        timeout: Duration,
        streaming: bool,
    ) -> (Attempt, AttemptResult) {
        // Without trace export no span is made.
        let span = if self.trace_context.is_some() {
            provider_span(target.kind, target.model())
        } else {
            tracing::Span::none()
        };
        let (attempt, result) = tracing::Instrument::instrument(
            self.send_in_span(target, request, timeout, streaming),
            span.clone(),
        )
        .await;
        let served = match &result {
            AttemptResult::Served(Answer::Completion(completion)) => {
                Some((completion.model.as_str(), completion.usage))
            }
            _ => None,
        };
        record_provider_answer(&span, attempt.status, attempt.error, served);
        (attempt, result)
    }

    async fn send_in_span(
        &self,
        target: &RouteTarget,
        request: &Value,
        timeout: Duration,
        streaming: bool,
    ) -> (Attempt, AttemptResult) {
        let started = Instant::now();
        let attempt = |status: Option<u16>, error: Option<&'static str>| Attempt {
            provider: target.provider().to_owned(),
            model: target.model().to_owned(),
            status,
            error,
            latency_ms: millis(started.elapsed()),
        };
        let outgoing = match build_request(&target.as_target(), request, SystemTime::now()) {
            Ok(outgoing) => outgoing,
            Err(_) => {
                return (
                    attempt(None, Some("unsupported")),
                    AttemptResult::NextTarget(None),
                )
            }
        };
        let mut builder = self
            .http
            .post(&outgoing.url)
            .headers(outgoing.headers)
            .body(outgoing.body);
        if let Some(traceparent) = self
            .trace_context
            .and_then(|context| context(&tracing::Span::current()))
        {
            builder = builder.header("traceparent", traceparent);
        }
        // A stream's body may last longer than any attempt timeout: only the headers are timed.
        let sent = if streaming {
            match tokio::time::timeout(timeout, builder.send()).await {
                Ok(sent) => sent.map_err(Some),
                Err(_) => Err(None),
            }
        } else {
            builder.timeout(timeout).send().await.map_err(Some)
        };
        let response = match sent {
            Ok(response) => response,
            Err(None) => {
                return (
                    attempt(None, Some("timeout")),
                    AttemptResult::Retryable(None, None),
                )
            }
            Err(Some(error)) => {
                let label = if error.is_timeout() {
                    "timeout"
                } else {
                    "connect"
                };
                // The message names the host, never a key (keys travel in headers).
                tracing::warn!(provider = %target.provider(), model = %target.model(), error = %error.without_url(), "provider attempt failed");
                return (
                    attempt(None, Some(label)),
                    AttemptResult::Retryable(None, None),
                );
            }
        };
        let status = response.status().as_u16();
        if response.status().is_success() && streaming {
            return (
                attempt(Some(status), None),
                AttemptResult::Served(Answer::Stream(response)),
            );
        }
        if response.status().is_success() {
            // The provider started answering: from here on nothing is retried.
            return match read_capped(response, self.settings.max_response_bytes).await {
                Ok(body) => match parse_answer(target.kind, target.model(), status, &body) {
                    Ok(completion) => (
                        attempt(Some(status), None),
                        AttemptResult::Served(Answer::Completion(completion)),
                    ),
                    Err(error) => (
                        attempt(Some(status), Some("invalid_answer")),
                        AttemptResult::Final(Failure::Broken(error)),
                    ),
                },
                Err(None) => (
                    attempt(Some(status), Some("too_large")),
                    AttemptResult::Final(Failure::TooLarge {
                        limit_bytes: self.settings.max_response_bytes,
                    }),
                ),
                Err(Some(error)) => {
                    let timed_out = error.is_timeout();
                    let failure = if timed_out {
                        Failure::Deadline
                    } else {
                        Failure::Broken(ProviderError {
                            status: 502,
                            error_type: "upstream_error".to_owned(),
                            code: Some("upstream_error".to_owned()),
                            message: format!("{} broke off its answer", target.kind),
                        })
                    };
                    (
                        attempt(
                            Some(status),
                            Some(if timed_out { "timeout" } else { "broken_off" }),
                        ),
                        AttemptResult::Final(failure),
                    )
                }
            };
        }
        let asked_wait = retry_after(response.headers());
        // A stream's request has no overall timeout: the error body gets the attempt's own.
        let body = tokio::time::timeout(timeout, read_capped(response, ERROR_BODY_LIMIT))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let error = parse_answer(target.kind, target.model(), status, &body).err();
        match status {
            429 => (
                attempt(Some(status), Some("rate_limited")),
                AttemptResult::Retryable(error, asked_wait),
            ),
            408 => (
                attempt(Some(status), Some("timeout")),
                AttemptResult::Retryable(error, asked_wait),
            ),
            500..=599 => (
                attempt(Some(status), Some("server_error")),
                AttemptResult::Retryable(error, asked_wait),
            ),
            _ if is_credential_refusal(status, error.as_ref()) => (
                attempt(Some(status), Some("unauthorized")),
                // The provider's own text about a refused key may quote part of it: never passed on.
                AttemptResult::NextTarget(Some(ProviderError {
                    status,
                    error_type: "authentication_error".to_owned(),
                    code: Some("provider_auth_failed".to_owned()),
                    message: format!(
                        "{} refused the stored credentials of provider {} ({status})",
                        target.kind,
                        target.provider()
                    ),
                })),
            ),
            // The model or deployment does not exist there: this target's configuration, not the
            // request, is at fault.
            404 => (
                attempt(Some(status), Some("not_found")),
                AttemptResult::NextTarget(error),
            ),
            _ => {
                let error = error.unwrap_or_else(|| ProviderError {
                    status,
                    error_type: "upstream_error".to_owned(),
                    code: None,
                    message: format!("{} answered {status}", target.kind),
                });
                (
                    attempt(Some(status), Some("refused")),
                    AttemptResult::Final(Failure::Refused(error)),
                )
            }
        }
    }
}

/// Whether the provider refused the credentials (401, 403, or a 400 that says so, as Gemini does
/// for an invalid key).
fn is_credential_refusal(status: u16, error: Option<&ProviderError>) -> bool {
    matches!(status, 401 | 403)
        || error.is_some_and(|error| {
            matches!(
                error.error_type.as_str(),
                "authentication_error" | "permission_error"
            ) || error
                .code
                .as_deref()
                .is_some_and(|code| code.contains("API_KEY_INVALID"))
                || error.message.contains("API key not valid")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str, priority: i32, weight: u32) -> RouteTarget {
        RouteTarget {
            key: TargetKey {
                tenant: "t".to_owned(),
                provider: name.to_owned(),
                model: "m".to_owned(),
            },
            kind: ProviderKind::OpenAi,
            endpoint: "http://127.0.0.1:1".to_owned(),
            api_version: None,
            region: None,
            credentials: None,
            priority,
            weight,
            attempt_timeout: Duration::from_secs(1),
            rate_limit: None,
        }
    }

    #[test]
    fn a_rate_limit_spends_per_provider_per_second() {
        let router = Router::new(
            reqwest::Client::new(),
            RouterSettings::default(),
            Breakers::new(5, Duration::from_secs(30)),
        );
        let mut limited = target("limited", 0, 1);
        limited.rate_limit = Some(2);
        let now = Instant::now();
        assert!(router.take_rate_slot(&limited, now));
        assert!(router.take_rate_slot(&limited, now));
        assert!(!router.take_rate_slot(&limited, now));
        assert!(router.take_rate_slot(&target("free", 0, 1), now));
        assert!(router.take_rate_slot(&limited, now + Duration::from_secs(1)));
    }

    #[test]
    fn higher_priority_first_and_weights_share_equal_priority() {
        let mut first_counts = std::collections::HashMap::new();
        for _ in 0..2000 {
            let ordered = Router::order(vec![
                target("low", 1, 100),
                target("a", 5, 300),
                target("b", 5, 100),
                target("never-first", 5, 0),
            ]);
            let names: Vec<&str> = ordered.iter().map(RouteTarget::provider).collect();
            assert_eq!(names.len(), 4);
            assert_eq!(names[3], "low", "{names:?}");
            assert_eq!(names[2], "never-first", "{names:?}");
            *first_counts.entry(names[0].to_owned()).or_insert(0u32) += 1;
        }
        let a = f64::from(first_counts["a"]);
        let b = f64::from(first_counts["b"]);
        // 3:1 by weight; 2000 draws put the share within a few points of 0.75.
        let share = a / (a + b);
        assert!((0.70..0.80).contains(&share), "share of a: {share}");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_static("2"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_static("0.5"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(500)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        headers.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_str(&later).expect("header"),
        );
        let wait = retry_after(&headers).expect("a date");
        assert!(
            wait <= Duration::from_secs(30) && wait >= Duration::from_secs(28),
            "{wait:?}"
        );
        headers.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_static("soon"),
        );
        assert_eq!(retry_after(&headers), None);
        headers.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_static("-3"),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_capped() {
        let router = Router::new(
            reqwest::Client::new(),
            RouterSettings::default(),
            Breakers::new(5, Duration::from_secs(30)),
        );
        for n in 0..20 {
            let wait = router.backoff(n);
            let full = Duration::from_millis(100)
                .saturating_mul(1 << n.min(16))
                .min(Duration::from_secs(2));
            assert!(wait >= full / 2 && wait <= full, "retry {n}: {wait:?}");
        }
    }
}
