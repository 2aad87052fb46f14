//! Logging and tracing for both services. Log lines go to standard output (standard error for
//! one-shot commands, whose output is their result); they never carry request headers or bodies,
//! and a value in one cannot break it (control characters are escaped: `fields`).
//! With an OTLP endpoint configured, the services' own spans (targets `axonflow*`, never log
//! events) are exported in batches off the request path: a bounded queue, a background task that
//! sends batches over http/protobuf or gRPC; spans that find the queue full, or whose export
//! fails, are counted in `axonflow_otel_spans_dropped_total`. (The SDK's batch processor keeps
//! its drop count to itself, hence the small processor here.)
//!
//! Handlers create spans through `tracing` with the helpers below and never touch exporter types.
//! No span carries prompt or response text, a matched value or a secret: only names, ids, counts
//! and verdicts are recorded.

mod fields;
mod lines;

use std::sync::Mutex;
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId as OtelTraceId, TraceState,
    TracerProvider as _,
};
use opentelemetry::Context;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    Sampler, SdkTracerProvider, Span as SdkSpan, SpanData, SpanExporter, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use tokio::sync::mpsc;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How spans leave: the OTLP protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    HttpProtobuf,
    Grpc,
}

/// `OTEL_TRACES_SAMPLER` (with `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerChoice {
    AlwaysOn,
    AlwaysOff,
    TraceIdRatio(f64),
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedTraceIdRatio(f64),
}

/// Trace export settings (the standard `OTEL_*` variables).
#[derive(Debug, Clone, PartialEq)]
pub struct OtelConfig {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: base URL; http/protobuf posts to `<endpoint>/v1/traces`.
    pub endpoint: String,
    pub protocol: OtlpProtocol,
    /// `OTEL_SERVICE_NAME`; `None`: the service's own name.
    pub service_name: Option<String>,
    pub sampler: SamplerChoice,
    /// `OTEL_BSP_SCHEDULE_DELAY`: longest wait before a batch goes.
    pub schedule_delay: Duration,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`.
    pub max_queue_size: usize,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`.
    pub export_timeout: Duration,
}

/// Spans exported in one request at most.
const MAX_BATCH: usize = 512;

/// Whether spans are exported: without export no span is made at all (a request pays nothing).
static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this process exports spans.
pub fn exporting() -> bool {
    EXPORTING.load(std::sync::atomic::Ordering::Relaxed)
}

/// What `init` set up; `shutdown` exports what is queued before the process exits.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    export: Option<tokio::task::JoinHandle<()>>,
    /// Writes the buffered log lines when dropped.
    log_writer: Option<lines::LineWriterGuard>,
}

impl Telemetry {
    /// Exports the spans still queued and stops the exporter, waiting at most 3 s.
    pub async fn shutdown(self) {
        if let Some(provider) = &self.provider {
            if let Err(error) = provider.shutdown_with_timeout(Duration::from_secs(3)) {
                tracing::debug!(%error, "trace exporter shut down with an error");
            }
        }
        if let Some(export) = self.export {
            if tokio::time::timeout(Duration::from_secs(3), export)
                .await
                .is_err()
            {
                tracing::warn!("queued spans were not all exported before exit");
            }
        }
        // The last lines are written before the process ends.
        drop(self.log_writer);
    }

    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }
}

/// The service's log sink, once `init` has set up a service's logging: it counts the lines dropped.
static LOG_SINK: std::sync::OnceLock<lines::LineSink> = std::sync::OnceLock::new();

/// Log lines dropped because standard output did not keep up (0 for one-shot commands).
pub fn log_lines_dropped() -> u64 {
    LOG_SINK.get().map_or(0, lines::LineSink::dropped)
}

/// Bytes of log lines waiting for the writer thread; past this, new lines are dropped rather than
/// making a request wait on a slow or stalled standard output.
const LOG_BYTES_BUFFERED: usize = 8 * 1024 * 1024;

/// Logging (the `RUST_LOG` syntax in `filter`, `info` when empty), and trace export when `otel` is
/// given. Must run inside the Tokio runtime (the exporter's task runs there).
///
/// A service logs to standard output through a writer thread (`lines`): a request formats its line
/// and appends it to a buffer, never waiting on the write nor waking the thread. One-shot commands
/// (`to_stderr`) write directly.
pub fn init(
    filter: &str,
    to_stderr: bool,
    otel: Option<&OtelConfig>,
    service_name: &str,
) -> Result<Telemetry, String> {
    let filter = if filter.trim().is_empty() {
        "info"
    } else {
        filter
    };
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| format!("RUST_LOG={filter:?} is not a valid filter: {e}"))?;
    let fmt = tracing_subscriber::fmt::layer()
        .fmt_fields(fields::EscapedFields)
        .with_target(true)
        .with_ansi(false);
    let (fmt, log_writer) = if to_stderr {
        (fmt.with_writer(std::io::stderr).boxed(), None)
    } else {
        let (sink, guard) = lines::start(std::io::stdout(), LOG_BYTES_BUFFERED, "axonflow-log")
            .map_err(|e| format!("the log writer thread did not start: {e}"))?;
        // A second `init` in one process fails below anyway; the first sink keeps counting.
        let _ = LOG_SINK.set(sink.clone());
        (fmt.with_writer(sink).boxed(), Some(guard))
    };
    let (provider, export) = match otel {
        Some(otel) => {
            let (provider, export) = tracer_provider(otel, service_name)?;
            (Some(provider), Some(export))
        }
        None => (None, None),
    };
    let otel_layer = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("axonflow"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            // Only the services' own spans (target `axonflow`); log events never become span
            // events: spans carry only what is set on them.
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                meta.is_span() && meta.target() == "axonflow"
            }))
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel_layer)
        .try_init()
        .map_err(|e| format!("logging is already initialised: {e}"))?;
    EXPORTING.store(provider.is_some(), std::sync::atomic::Ordering::Relaxed);
    Ok(Telemetry {
        provider,
        export,
        log_writer,
    })
}

fn sampler(choice: SamplerChoice) -> Sampler {
    match choice {
        SamplerChoice::AlwaysOn => Sampler::AlwaysOn,
        SamplerChoice::AlwaysOff => Sampler::AlwaysOff,
        SamplerChoice::TraceIdRatio(ratio) => Sampler::TraceIdRatioBased(ratio),
        SamplerChoice::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerChoice::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        SamplerChoice::ParentBasedTraceIdRatio(ratio) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
        }
    }
}

fn tracer_provider(
    otel: &OtelConfig,
    service_name: &str,
) -> Result<(SdkTracerProvider, tokio::task::JoinHandle<()>), String> {
    let endpoint = otel.endpoint.trim_end_matches('/');
    let built = match otel.protocol {
        OtlpProtocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(format!("{endpoint}/v1/traces"))
            .with_timeout(otel.export_timeout)
            .build(),
        OtlpProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.to_owned())
            .with_timeout(otel.export_timeout)
            .build(),
    };
    let mut exporter =
        built.map_err(|e| format!("OTEL_EXPORTER_OTLP_ENDPOINT={endpoint:?}: {e}"))?;
    let resource = Resource::builder()
        .with_service_name(
            otel.service_name
                .clone()
                .unwrap_or_else(|| service_name.to_owned()),
        )
        .build();
    exporter.set_resource(&resource);
    let (processor, export) =
        QueueProcessor::start(exporter, otel.max_queue_size.max(1), otel.schedule_delay);
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sampler(otel.sampler))
        .with_resource(resource)
        .build();
    Ok((provider, export))
}

fn dropped(n: usize) {
    if let Some(metrics) = crate::metrics::metrics() {
        metrics.spans_dropped(u64::try_from(n).unwrap_or(u64::MAX));
    }
}

/// Ended spans go into a bounded queue; a task exports them in batches. A full queue drops the
/// span (counted); a request never waits for export.
#[derive(Debug)]
struct QueueProcessor {
    queue: Mutex<Option<mpsc::Sender<SpanData>>>,
}

impl QueueProcessor {
    fn start<E: SpanExporter + 'static>(
        exporter: E,
        capacity: usize,
        delay: Duration,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<SpanData>(capacity);
        let export = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            loop {
                let Some(first) = rx.recv().await else {
                    break;
                };
                batch.push(first);
                let until = tokio::time::Instant::now() + delay;
                while batch.len() < MAX_BATCH {
                    match tokio::time::timeout_at(until, rx.recv()).await {
                        Ok(Some(span)) => batch.push(span),
                        Ok(None) | Err(_) => break,
                    }
                }
                let n = batch.len();
                if exporter.export(std::mem::take(&mut batch)).await.is_err() {
                    dropped(n);
                }
            }
            let _ = exporter.shutdown();
        });
        // Touch the counter so that it is exposed (at 0) whenever export is on.
        dropped(0);
        (
            QueueProcessor {
                queue: Mutex::new(Some(tx)),
            },
            export,
        )
    }
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut SdkSpan, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        let queue = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let queued = queue.as_ref().is_some_and(|tx| tx.try_send(span).is_ok());
        if !queued {
            dropped(1);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        // Closing the queue lets the task export what is left and stop.
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        Ok(())
    }
}

/// The remote parent of a request that carries a valid `traceparent`.
fn remote_parent(traceparent: &str) -> Option<Context> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace_id, span_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version.len() != 2 || version == "ff" {
        return None;
    }
    crate::trace::TraceId::from_traceparent(traceparent)?;
    let trace_id = OtelTraceId::from_hex(trace_id).ok()?;
    let span_id = SpanId::from_hex(span_id).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let context = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags),
        true,
        TraceState::default(),
    );
    Some(Context::new().with_remote_span_context(context))
}

/// The SERVER span of one deciding request, a child of the caller's span when its `traceparent`
/// is valid.
pub fn server_span(method: &str, route: &str, traceparent: Option<&str>) -> tracing::Span {
    if !exporting() {
        return tracing::Span::none();
    }
    let make = || {
        tracing::info_span!(
            target: "axonflow",
            "request",
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            "http.request.method" = %method,
            "http.route" = %route,
        )
    };
    // A span made while the caller's context is current takes it as its parent.
    let span = match traceparent.and_then(remote_parent) {
        Some(parent) => {
            let _attached = parent.attach();
            make()
        }
        None => make(),
    };
    // Start the span now: the spans made under it (in tasks too) then find it as their parent.
    let _ = span.context();
    span
}

/// A CLIENT span of a call to another service or provider, under the current span.
pub fn client_span(name: &str) -> tracing::Span {
    if !exporting() {
        return tracing::Span::none();
    }
    tracing::info_span!(target: "axonflow", "client", otel.name = %name, otel.kind = "client")
}

/// An INTERNAL span (policy evaluation, audit write) under the current span.
pub fn internal_span(name: &'static str) -> tracing::Span {
    if !exporting() {
        return tracing::Span::none();
    }
    tracing::info_span!(target: "axonflow", "internal", otel.name = name)
}

/// The `traceparent` that continues `span` in another process; `None` when it is not exported.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            span_context.trace_id(),
            span_context.span_id(),
            span_context.trace_flags().to_u8()
        )
    })
}

/// Sets an attribute on `span` (exported spans only; nothing when export is off).
pub fn set_attribute(
    span: &tracing::Span,
    key: &'static str,
    value: impl Into<opentelemetry::Value>,
) {
    span.set_attribute(key, value);
}

/// Sets a string-array attribute on `span`.
pub fn set_string_list(span: &tracing::Span, key: &'static str, values: Vec<String>) {
    let values: Vec<opentelemetry::StringValue> = values.into_iter().map(Into::into).collect();
    span.set_attribute(
        key,
        opentelemetry::Value::Array(opentelemetry::Array::String(values)),
    );
}
