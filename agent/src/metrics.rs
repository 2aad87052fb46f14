//! `GET /metrics`: Prometheus text exposition of the audit pipeline (queue depth, journal backlog,
//! rows written, journaled, replayed, failures, queue-full fallbacks), of load shedding (requests
//! in flight, the limit, requests shed), and of decisions, matches, durations, tokens and cost
//! (`platform::metrics`, recorded from each audit row; durations by the `observe` layer). Counts across tenants, never
//! tenant data; in enterprise mode the scraper authenticates like any client.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use axonflow_platform::audit::AuditMode;

use crate::state::AppState;

pub async fn metrics(State(state): State<AppState>) -> Response {
    let stats = state.audit().stats();
    let mode = match stats.mode {
        AuditMode::Compliance => "compliance",
        AuditMode::Performance => "performance",
    };
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "axonflow_audit_queue_depth",
        "gauge",
        "Audit rows waiting in the performance-mode queue.",
        stats.queue_depth,
    );
    metric(
        "axonflow_audit_queue_capacity",
        "gauge",
        "Capacity of the performance-mode queue (0 in compliance mode).",
        stats.queue_capacity,
    );
    metric(
        "axonflow_audit_journal_backlog",
        "gauge",
        "Audit rows in the fallback journal waiting for replay.",
        stats.journal_backlog,
    );
    metric(
        "axonflow_audit_rows_written_total",
        "counter",
        "Audit rows committed to Postgres by the writer.",
        stats.rows_written,
    );
    metric(
        "axonflow_audit_rows_journaled_total",
        "counter",
        "Audit rows written to the fallback journal.",
        stats.rows_journaled,
    );
    metric(
        "axonflow_audit_rows_replayed_total",
        "counter",
        "Audit rows replayed from the journal into Postgres.",
        stats.rows_replayed,
    );
    metric(
        "axonflow_audit_write_failures_total",
        "counter",
        "Audit rows Postgres did not take (then journaled).",
        stats.write_failures,
    );
    metric(
        "axonflow_audit_journal_failures_total",
        "counter",
        "Audit rows neither Postgres nor the journal took (lost).",
        stats.journal_failures,
    );
    metric(
        "axonflow_audit_queue_full_total",
        "counter",
        "Audit rows written synchronously because the queue was full.",
        stats.queue_full,
    );
    metric(
        "axonflow_audit_rows_rejected_total",
        "counter",
        "Audit rows Postgres refused as data, kept in the .rejected file.",
        stats.rows_rejected,
    );
    metric(
        "axonflow_requests_shed_total",
        "counter",
        "Requests refused with 503 because AXONFLOW_MAX_IN_FLIGHT requests were being served.",
        state.in_flight().shed_total(),
    );
    metric(
        "axonflow_requests_in_flight",
        "gauge",
        "Requests being served now.",
        state.in_flight().in_flight() as u64,
    );
    metric(
        "axonflow_requests_in_flight_limit",
        "gauge",
        "AXONFLOW_MAX_IN_FLIGHT.",
        state.in_flight().max() as u64,
    );
    metric(
        "axonflow_audit_database_up",
        "gauge",
        "1 while Postgres takes audit rows, 0 after a failed write.",
        u64::from(stats.database_ok),
    );
    metric(
        "axonflow_gateway_contexts_lost_total",
        "counter",
        "Pre-check contexts whose deferred write failed every try (their llm-call audit finds no context).",
        state.context_writes().failed(),
    );
    let _ = writeln!(
        out,
        "# HELP axonflow_build_info Version and audit mode.\n# TYPE axonflow_build_info gauge\naxonflow_build_info{{version=\"{}\",audit_mode=\"{mode}\"}} 1",
        crate::health::VERSION
    );
    if let Some(metrics) = axonflow_platform::metrics::metrics() {
        out.push_str(&metrics.render());
    }
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// Times every deciding request (by its `endpoint` label) and, from the `UpstreamTime` its
/// handler set, the part of it that was not spent waiting on the provider.
pub async fn observe(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let Some(endpoint) = axonflow_platform::metrics::endpoint_of_path(request.uri().path()) else {
        return next.run(request).await;
    };
    let started = std::time::Instant::now();
    let mut request = request;
    let span = axonflow_platform::telemetry::server_span(
        request.method().as_str(),
        request.uri().path(),
        request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok()),
    );
    // The trace id answered (`X-AxonFlow-Trace-Id`) is the exported trace's: a request without a
    // valid `traceparent` gets the server span's own.
    let has_parent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(axonflow_platform::trace::TraceId::from_traceparent)
        .is_some();
    if !has_parent && !span.is_none() {
        if let Some(own) = axonflow_platform::telemetry::traceparent_of(&span)
            .and_then(|value| axum::http::HeaderValue::from_str(&value).ok())
        {
            request.headers_mut().insert("traceparent", own);
        }
    }
    let timings = std::sync::Arc::new(axonflow_platform::metrics::Timings::default());
    let mut response = axonflow_platform::metrics::timed(
        timings.clone(),
        tracing::Instrument::instrument(next.run(request), span.clone()),
    )
    .await;
    axonflow_platform::telemetry::set_attribute(
        &span,
        "http.response.status_code",
        i64::from(response.status().as_u16()),
    );
    let upstream = response
        .extensions()
        .get::<axonflow_platform::metrics::UpstreamTime>()
        .map_or(std::time::Duration::ZERO, |time| time.0);
    // Where the time went, for the caller (`Server-Timing`) and the overhead histogram.
    let parts = timings.parts(upstream, started.elapsed());
    if let Ok(value) = axum::http::HeaderValue::from_str(&parts.header_value()) {
        response.headers_mut().insert("server-timing", value);
    }
    if let Some(metrics) = axonflow_platform::metrics::metrics() {
        metrics.observe_request(endpoint, &parts);
    }
    response
}
