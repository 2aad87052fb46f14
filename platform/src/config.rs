//! Process configuration. Parsed from a `Source` (the environment in `main.rs`, a map in tests);
//! parsing reports every bad variable at once. Nothing else in the workspace reads the environment.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use axonflow_policy::Action;

/// Where configuration values come from.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// A secret value whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Every configuration problem found, one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.0.len())?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentMode {
    Community,
    Enterprise,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentKind {
    Dev,
    Production,
}

/// The org id sentinel of development installs; production may not run with it.
pub const LOCAL_DEV_ORG: &str = "local-dev-org";

/// Settings both services share.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub port: u16,
    pub bind_address: String,
    pub database_url: Secret,
    pub database_max_connections: u32,
    pub deployment_mode: DeploymentMode,
    pub deployment_kind: DeploymentKind,
    pub org_id: String,
    pub internal_service_secret: Option<Secret>,
    pub admin_api_key: Option<Secret>,
    /// Trace export (`OTEL_*`); `None` when `OTEL_EXPORTER_OTLP_ENDPOINT` is unset.
    pub otel: Option<crate::telemetry::OtelConfig>,
    /// `AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY` (+ `_PREVIOUS`): seals and opens stored provider
    /// keys; `None` when unset (providers with keys cannot be created).
    pub provider_keys: Option<std::sync::Arc<crate::provider_keys::KeyRing>>,
    /// Circuit breakers of provider targets.
    pub breaker: BreakerConfig,
    /// `AXONFLOW_WORKER_THREADS`: threads of the async runtime; `None` is one per core.
    pub worker_threads: Option<usize>,
}

/// `AXONFLOW_PROVIDER_CB_FAILURES` and `AXONFLOW_PROVIDER_CB_OPEN_SECS`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Consecutive failures that open a target's breaker.
    pub failures: u32,
    /// How long an open breaker skips its target before one half-open probe.
    pub open_for: Duration,
}

/// `AXONFLOW_OUTPUT_POLICIES`: what output policies do on `/v1/chat/completions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputPolicies {
    /// Actions apply: `redact` masks, `block` refuses or ends the stream.
    Enforce,
    /// Matches are recorded; the answer is passed on unchanged.
    Log,
    /// Not evaluated.
    Off,
}

impl OutputPolicies {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputPolicies::Enforce => "enforce",
            OutputPolicies::Log => "log",
            OutputPolicies::Off => "off",
        }
    }
}

/// Settings of the agent.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub common: CommonConfig,
    /// Output policies on `/v1/chat/completions` (Proxy Mode always enforces).
    pub output_policies: OutputPolicies,
    /// Longest silence tolerated from an upstream stream after its headers.
    pub upstream_idle_timeout: Duration,
    pub orchestrator_url: String,
    pub openai_base_url: String,
    pub performance_mode: bool,
    pub audit_fallback_path: PathBuf,
    pub pii_action: Option<Action>,
    pub sqli_action: Option<Action>,
    pub max_body_bytes: usize,
    pub upstream_timeout: Duration,
    pub pricing_file: Option<PathBuf>,
    /// Most text one request may carry into policy evaluation (all its checked strings together);
    /// more is refused with 413 `input_too_large`, never forwarded unchecked.
    pub policy_scan_limit_bytes: usize,
    /// Largest upstream answer read; a longer one is answered 502.
    pub max_response_bytes: usize,
    /// Requests served at once; one more is answered 503 with `Retry-After`.
    pub max_in_flight: usize,
    /// How long a pre-check approval stays valid for its llm-call audit.
    pub gateway_context_ttl: Duration,
    /// How often the agent looks for tenant policy changes made by any replica.
    pub policy_refresh_interval: Duration,
    /// Requests per minute per client, shared by every replica on the database.
    pub rate_limit_rpm: u32,
    /// Tokens (of audited calls) per minute per client; `None`: no token limit.
    pub rate_limit_tpm: Option<u32>,
    /// Rows the performance-mode audit queue holds before writes turn synchronous.
    pub audit_queue_capacity: usize,
    /// Longest a queued audit row waits for its batch (performance mode).
    pub audit_flush_interval: Duration,
    /// How long audit rows are kept, per compliance framework.
    pub audit_retention: crate::audit::Retention,
    /// How long the periodic agent -> orchestrator check waits between calls.
    pub peer_check_interval: Duration,
}

/// Settings of the orchestrator.
#[derive(Debug, Clone)]
pub struct OrchestratorConfig {
    pub common: CommonConfig,
    pub openai_base_url: String,
    /// Server-side key of Proxy Mode's calls to OpenAI.
    pub openai_api_key: Option<Secret>,
    /// An agent to check periodically with a signed internal call (optional).
    pub agent_url: Option<String>,
    pub peer_check_interval: Duration,
    /// Output filtering applies the PII and SQL-injection families' actions as the agent does.
    pub pii_action: Option<Action>,
    pub sqli_action: Option<Action>,
    /// Total deadline of one provider call.
    pub upstream_timeout: Duration,
    /// Largest provider answer read.
    pub max_response_bytes: usize,
    pub pricing_file: Option<PathBuf>,
    /// How often tenant policy and budget changes made on any replica are looked for.
    pub policy_refresh_interval: Duration,
    /// Requests handled at once; more are shed with 503 (`AXONFLOW_MAX_IN_FLIGHT`).
    pub max_in_flight: usize,
}

/// Collects values and problems while reading one source.
struct Reader<'s> {
    source: &'s dyn Source,
    problems: Vec<String>,
}

impl<'s> Reader<'s> {
    fn max_in_flight(&mut self) -> usize {
        self.bounded(
            "AXONFLOW_MAX_IN_FLIGHT",
            DEFAULT_MAX_IN_FLIGHT,
            1..=1_000_000,
            "a number of requests",
        )
    }

    fn raw(&self, name: &str) -> Option<String> {
        self.source
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_owned())
    }

    fn parsed<T: FromStr>(&mut self, name: &str, default: T, expected: &str) -> T {
        match self.raw(name) {
            None => default,
            Some(value) => match value.parse() {
                Ok(parsed) => parsed,
                Err(_) => {
                    self.problems
                        .push(format!("{name}={value:?} is not {expected}"));
                    default
                }
            },
        }
    }

    /// `AXONFLOW_UPSTREAM_TIMEOUT_SECS` (both services): positive seconds, default 120.
    fn upstream_timeout(&mut self) -> Duration {
        let secs = self.parsed(
            "AXONFLOW_UPSTREAM_TIMEOUT_SECS",
            120.0f64,
            "a number of seconds",
        );
        if !(secs.is_finite() && secs > 0.0) {
            self.problems.push(
                "AXONFLOW_UPSTREAM_TIMEOUT_SECS must be a positive number of seconds".to_owned(),
            );
        }
        Duration::from_secs_f64(secs.clamp(0.001, 86_400.0))
    }

    /// `AXONFLOW_POLICY_REFRESH_MS` (both services): 10 to 60000, default 250.
    fn refresh_interval(&mut self) -> Duration {
        let millis = self.parsed(
            "AXONFLOW_POLICY_REFRESH_MS",
            250u64,
            "a number of milliseconds",
        );
        if !(10..=60_000).contains(&millis) {
            self.problems.push(
                "AXONFLOW_POLICY_REFRESH_MS must be between 10 and 60000 milliseconds".to_owned(),
            );
        }
        Duration::from_millis(millis.clamp(10, 60_000))
    }

    /// A number within `range`; outside it, a problem and the default.
    fn bounded(
        &mut self,
        name: &str,
        default: usize,
        range: std::ops::RangeInclusive<usize>,
        expected: &str,
    ) -> usize {
        let value = self.parsed(name, default, expected);
        if range.contains(&value) {
            return value;
        }
        self.problems.push(if *range.end() == usize::MAX {
            format!("{name} must be at least {}", range.start())
        } else {
            format!(
                "{name} must be between {} and {}",
                range.start(),
                range.end()
            )
        });
        default
    }

    fn boolean(&mut self, name: &str, default: bool) -> bool {
        match self.raw(name).map(|v| v.to_ascii_lowercase()) {
            None => default,
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => true,
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => false,
            Some(v) => {
                self.problems
                    .push(format!("{name}={v:?} is not a boolean (true/false)"));
                default
            }
        }
    }

    fn action(&mut self, name: &str) -> Option<Action> {
        let value = self.raw(name)?;
        match value.parse::<Action>() {
            Ok(action) => Some(action),
            Err(error) => {
                self.problems.push(format!("{name}: {error}"));
                None
            }
        }
    }

    fn url(&mut self, name: &str, default: &str) -> String {
        let value = self.string(name, default);
        if !(value.starts_with("http://") || value.starts_with("https://")) {
            self.problems.push(format!(
                "{name}={value:?} must be an http:// or https:// URL"
            ));
        }
        value.trim_end_matches('/').to_owned()
    }

    /// The key-encryption keys of stored provider keys. A malformed one is a problem naming the
    /// variable, never showing its value.
    fn provider_keys(&mut self) -> Option<std::sync::Arc<crate::provider_keys::KeyRing>> {
        const CURRENT: &str = "AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY";
        const PREVIOUS: &str = "AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY_PREVIOUS";
        let previous = self.raw(PREVIOUS);
        let Some(current) = self.raw(CURRENT) else {
            if previous.is_some() {
                self.problems
                    .push(format!("{PREVIOUS} is set but {CURRENT} is not"));
            }
            return None;
        };
        if let Err(error) = crate::provider_keys::KeyRing::parse(&current, None) {
            self.problems.push(format!("{CURRENT} {error}"));
            return None;
        }
        match crate::provider_keys::KeyRing::parse(&current, previous.as_deref()) {
            Ok(ring) => Some(std::sync::Arc::new(ring)),
            Err(error) => {
                self.problems
                    .push(format!("{PREVIOUS}: one of the keys {error}"));
                None
            }
        }
    }

    /// The standard `OTEL_*` variables of trace export.
    fn otel(&mut self) -> Option<crate::telemetry::OtelConfig> {
        use crate::telemetry::{OtelConfig, OtlpProtocol, SamplerChoice};
        let endpoint = self.raw("OTEL_EXPORTER_OTLP_ENDPOINT")?;
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            self.problems.push(format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT={endpoint:?} must be an http:// or https:// URL"
            ));
        }
        let protocol = match self
            .string("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .as_str()
        {
            "http/protobuf" => OtlpProtocol::HttpProtobuf,
            "grpc" => OtlpProtocol::Grpc,
            other => {
                self.problems.push(format!(
                    "OTEL_EXPORTER_OTLP_PROTOCOL={other:?} must be http/protobuf or grpc"
                ));
                OtlpProtocol::HttpProtobuf
            }
        };
        let ratio = match self.raw("OTEL_TRACES_SAMPLER_ARG") {
            None => 1.0,
            Some(arg) => match arg.parse::<f64>() {
                Ok(ratio) if (0.0..=1.0).contains(&ratio) => ratio,
                _ => {
                    self.problems.push(format!(
                        "OTEL_TRACES_SAMPLER_ARG={arg:?} must be a ratio between 0 and 1"
                    ));
                    1.0
                }
            },
        };
        let sampler = match self
            .string("OTEL_TRACES_SAMPLER", "parentbased_always_on")
            .as_str()
        {
            "always_on" => SamplerChoice::AlwaysOn,
            "always_off" => SamplerChoice::AlwaysOff,
            "traceidratio" => SamplerChoice::TraceIdRatio(ratio),
            "parentbased_always_on" => SamplerChoice::ParentBasedAlwaysOn,
            "parentbased_always_off" => SamplerChoice::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => SamplerChoice::ParentBasedTraceIdRatio(ratio),
            other => {
                self.problems.push(format!(
                    "OTEL_TRACES_SAMPLER={other:?} must be always_on, always_off, traceidratio, \
                     parentbased_always_on, parentbased_always_off or parentbased_traceidratio"
                ));
                SamplerChoice::ParentBasedAlwaysOn
            }
        };
        let delay_ms = self.parsed(
            "OTEL_BSP_SCHEDULE_DELAY",
            5000u64,
            "a number of milliseconds",
        );
        let max_queue_size = self.bounded(
            "OTEL_BSP_MAX_QUEUE_SIZE",
            2048,
            1..=1_000_000,
            "a number of spans",
        );
        let timeout_ms = self.parsed(
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            10_000u64,
            "a number of milliseconds",
        );
        Some(OtelConfig {
            endpoint,
            protocol,
            service_name: self.raw("OTEL_SERVICE_NAME"),
            sampler,
            schedule_delay: Duration::from_millis(delay_ms.clamp(1, 600_000)),
            max_queue_size,
            export_timeout: Duration::from_millis(timeout_ms.clamp(1, 600_000)),
        })
    }

    fn common(&mut self, default_port: u16) -> CommonConfig {
        let port = self.parsed("PORT", default_port, "a TCP port (0-65535)");
        let bind_address = self.string("AXONFLOW_BIND_ADDRESS", "0.0.0.0");
        let database_url = match self.raw("DATABASE_URL") {
            Some(url) => Secret::new(url),
            None => {
                self.problems.push(
                    "DATABASE_URL is required (postgres://user@host:port/database)".to_owned(),
                );
                Secret::new("")
            }
        };
        let database_max_connections = self.parsed(
            "AXONFLOW_DB_MAX_CONNECTIONS",
            16u32,
            "a positive number of connections",
        );
        let deployment_mode = match self
            .string("DEPLOYMENT_MODE", "community")
            .to_ascii_lowercase()
            .as_str()
        {
            "community" => DeploymentMode::Community,
            "enterprise" => DeploymentMode::Enterprise,
            other => {
                self.problems.push(format!(
                    "DEPLOYMENT_MODE={other:?} must be community or enterprise"
                ));
                DeploymentMode::Community
            }
        };
        let deployment_kind = match self
            .string("DEPLOYMENT_KIND", "dev")
            .to_ascii_lowercase()
            .as_str()
        {
            "dev" | "development" => DeploymentKind::Dev,
            "production" | "prod" => DeploymentKind::Production,
            other => {
                self.problems.push(format!(
                    "DEPLOYMENT_KIND={other:?} must be dev or production"
                ));
                DeploymentKind::Dev
            }
        };
        let org_id = self.string("ORG_ID", LOCAL_DEV_ORG);
        if deployment_kind == DeploymentKind::Production && org_id == LOCAL_DEV_ORG {
            self.problems.push(format!(
                "DEPLOYMENT_KIND=production with ORG_ID={LOCAL_DEV_ORG} refuses to start: set ORG_ID to your real \
                 organisation id, or DEPLOYMENT_KIND=dev, so that audit rows are not stamped with the development sentinel"
            ));
        }
        let internal_service_secret = self
            .raw("AXONFLOW_INTERNAL_SERVICE_SECRET")
            .map(Secret::new);
        match (&internal_service_secret, deployment_mode) {
            (Some(secret), _) if secret.expose().chars().count() < 32 => self.problems.push(
                "AXONFLOW_INTERNAL_SERVICE_SECRET must be at least 32 characters; make one with `openssl rand -hex 32` \
                 and give both services the same value"
                    .to_owned(),
            ),
            (None, DeploymentMode::Enterprise) => self.problems.push(
                "AXONFLOW_INTERNAL_SERVICE_SECRET is required with DEPLOYMENT_MODE=enterprise (at least 32 characters); \
                 make one with `openssl rand -hex 32` and give both services the same value"
                    .to_owned(),
            ),
            _ => {}
        }
        let admin_api_key = self.raw("ADMIN_API_KEY").map(Secret::new);
        if admin_api_key
            .as_ref()
            .is_some_and(|key| key.expose().chars().count() < 16)
        {
            self.problems.push(
                "ADMIN_API_KEY must be at least 16 characters (`openssl rand -hex 32` makes a good one)".to_owned(),
            );
        }
        let otel = self.otel();
        let provider_keys = self.provider_keys();
        let failures = self.bounded(
            "AXONFLOW_PROVIDER_CB_FAILURES",
            5,
            1..=10_000,
            "a number of failures",
        );
        let open_secs = self.parsed(
            "AXONFLOW_PROVIDER_CB_OPEN_SECS",
            30.0f64,
            "a number of seconds",
        );
        if !(open_secs.is_finite() && open_secs > 0.0) {
            self.problems.push(
                "AXONFLOW_PROVIDER_CB_OPEN_SECS must be a positive number of seconds".to_owned(),
            );
        }
        let breaker = BreakerConfig {
            failures: u32::try_from(failures).unwrap_or(5),
            open_for: Duration::from_secs_f64(open_secs.clamp(0.001, 86_400.0)),
        };
        let worker_threads = self.raw("AXONFLOW_WORKER_THREADS").map(|_| {
            self.bounded(
                "AXONFLOW_WORKER_THREADS",
                1,
                1..=1024,
                "a number of threads",
            )
        });
        CommonConfig {
            provider_keys,
            breaker,
            worker_threads,
            port,
            bind_address,
            database_url,
            database_max_connections,
            deployment_mode,
            deployment_kind,
            org_id,
            internal_service_secret,
            admin_api_key,
            otel,
        }
    }

    fn finish<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(self.problems))
        }
    }
}

const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// `AXONFLOW_POLICY_SCAN_LIMIT_BYTES`: 1 MiB of text per request.
pub const DEFAULT_SCAN_LIMIT_BYTES: usize = 1024 * 1024;
/// `AXONFLOW_MAX_RESPONSE_BYTES`: 10 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;
/// `AXONFLOW_MAX_IN_FLIGHT`.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// `SEBI=5y,EU AI Act=7y,default=1y` (years `y` or months `m`); frameworks not named keep the
/// standard retention, `default` applies to rows that implicate none.
fn parse_retention(text: &str) -> Result<crate::audit::Retention, String> {
    let mut retention = crate::audit::Retention::standard();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, period) = entry
            .split_once('=')
            .ok_or_else(|| format!("{entry:?} is not NAME=PERIOD"))?;
        let period = period.trim();
        let (number, unit) = period.split_at(period.len().saturating_sub(1));
        let number: u32 = number
            .trim()
            .parse()
            .map_err(|_| format!("{period:?} is not a period such as 5y or 18m"))?;
        let months = match unit {
            "y" | "Y" => number.saturating_mul(12),
            "m" | "M" => number,
            _ => return Err(format!("{period:?} is not a period such as 5y or 18m")),
        };
        if months == 0 {
            return Err(format!("{entry:?}: a retention must be at least one month"));
        }
        let name = name.trim();
        if name.eq_ignore_ascii_case("default") {
            retention.default_months = months;
        } else if let Some(slot) = retention
            .by_framework
            .iter_mut()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
        {
            slot.1 = months;
        } else {
            retention.by_framework.push((name.to_owned(), months));
        }
    }
    Ok(retention)
}

impl AgentConfig {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigErrors> {
        let mut reader = Reader {
            source,
            problems: Vec::new(),
        };
        let common = reader.common(8080);
        let orchestrator_url = reader.url("ORCHESTRATOR_URL", "http://localhost:8081");
        let openai_base_url = reader.url("OPENAI_BASE_URL", DEFAULT_OPENAI_BASE_URL);
        let performance_mode = reader.boolean("AGENT_PERFORMANCE_MODE", false);
        let audit_fallback_path = PathBuf::from(reader.string(
            "AUDIT_FALLBACK_PATH",
            "/var/lib/axonflow/audit/audit_fallback.jsonl",
        ));
        let pii_action = reader.action("PII_ACTION");
        let sqli_action = reader.action("SQLI_ACTION");
        let max_body_bytes = reader.parsed(
            "AXONFLOW_MAX_BODY_BYTES",
            10 * 1024 * 1024usize,
            "a number of bytes",
        );
        let upstream_timeout = reader.upstream_timeout();
        let pricing_file = reader.raw("AXONFLOW_PRICING_FILE").map(PathBuf::from);
        let policy_scan_limit_bytes = reader.bounded(
            "AXONFLOW_POLICY_SCAN_LIMIT_BYTES",
            DEFAULT_SCAN_LIMIT_BYTES,
            1..=usize::MAX,
            "a number of bytes",
        );
        let max_response_bytes = reader.bounded(
            "AXONFLOW_MAX_RESPONSE_BYTES",
            DEFAULT_MAX_RESPONSE_BYTES,
            1..=usize::MAX,
            "a number of bytes",
        );
        let max_in_flight = reader.max_in_flight();
        let output_policies = match reader
            .string("AXONFLOW_OUTPUT_POLICIES", "log")
            .to_ascii_lowercase()
            .as_str()
        {
            "enforce" => OutputPolicies::Enforce,
            "log" => OutputPolicies::Log,
            "off" => OutputPolicies::Off,
            other => {
                reader.problems.push(format!(
                    "AXONFLOW_OUTPUT_POLICIES={other:?} must be enforce, log or off"
                ));
                OutputPolicies::Log
            }
        };
        let idle_ms = reader.parsed(
            "AXONFLOW_UPSTREAM_IDLE_TIMEOUT_MS",
            60_000u64,
            "a number of milliseconds",
        );
        if !(1..=3_600_000).contains(&idle_ms) {
            reader.problems.push(
                "AXONFLOW_UPSTREAM_IDLE_TIMEOUT_MS must be between 1 and 3600000 milliseconds"
                    .to_owned(),
            );
        }
        let upstream_idle_timeout = Duration::from_millis(idle_ms.clamp(1, 3_600_000));
        let context_ttl_secs = reader.parsed(
            "AXONFLOW_GATEWAY_CONTEXT_TTL_SECS",
            300u64,
            "a number of seconds",
        );
        if !(1..=86_400).contains(&context_ttl_secs) {
            reader.problems.push(
                "AXONFLOW_GATEWAY_CONTEXT_TTL_SECS must be between 1 and 86400 seconds".to_owned(),
            );
        }
        let policy_refresh_interval = reader.refresh_interval();
        let rate_limit_rpm = reader.parsed(
            "AXONFLOW_RATE_LIMIT_RPM",
            60_000u32,
            "a number of requests per minute",
        );
        if rate_limit_rpm == 0 {
            reader
                .problems
                .push("AXONFLOW_RATE_LIMIT_RPM must be at least 1".to_owned());
        }
        let rate_limit_tpm = match reader.raw("AXONFLOW_RATE_LIMIT_TPM") {
            None => None,
            Some(value) => match value.parse::<u32>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    reader.problems.push(format!(
                        "AXONFLOW_RATE_LIMIT_TPM={value:?} is not a positive number of tokens per minute"
                    ));
                    None
                }
            },
        };
        let audit_queue_capacity = reader.parsed(
            "AXONFLOW_AUDIT_QUEUE_CAPACITY",
            10_000usize,
            "a number of rows",
        );
        if audit_queue_capacity == 0 {
            reader
                .problems
                .push("AXONFLOW_AUDIT_QUEUE_CAPACITY must be at least 1".to_owned());
        }
        let audit_flush_ms =
            reader.parsed("AXONFLOW_AUDIT_FLUSH_MS", 20u64, "a number of milliseconds");
        if !(1..=60_000).contains(&audit_flush_ms) {
            reader
                .problems
                .push("AXONFLOW_AUDIT_FLUSH_MS must be between 1 and 60000".to_owned());
        }
        let audit_retention = match reader.raw("AXONFLOW_AUDIT_RETENTION") {
            None => crate::audit::Retention::standard(),
            Some(text) => match parse_retention(&text) {
                Ok(retention) => retention,
                Err(problem) => {
                    reader
                        .problems
                        .push(format!("AXONFLOW_AUDIT_RETENTION={text:?}: {problem}"));
                    crate::audit::Retention::standard()
                }
            },
        };
        let config = AgentConfig {
            output_policies,
            upstream_idle_timeout,
            common,
            orchestrator_url,
            openai_base_url,
            performance_mode,
            audit_fallback_path,
            pii_action,
            sqli_action,
            max_body_bytes,
            upstream_timeout,
            pricing_file,
            policy_scan_limit_bytes,
            max_response_bytes,
            max_in_flight,
            gateway_context_ttl: Duration::from_secs(context_ttl_secs.clamp(1, 86_400)),
            policy_refresh_interval,
            rate_limit_rpm: rate_limit_rpm.max(1),
            rate_limit_tpm,
            audit_queue_capacity: audit_queue_capacity.max(1),
            audit_flush_interval: Duration::from_millis(audit_flush_ms.clamp(1, 60_000)),
            audit_retention,
            peer_check_interval: Duration::from_secs(15),
        };
        reader.finish(config)
    }
}

impl OrchestratorConfig {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigErrors> {
        let mut reader = Reader {
            source,
            problems: Vec::new(),
        };
        let common = reader.common(8081);
        let openai_base_url = reader.url("OPENAI_BASE_URL", DEFAULT_OPENAI_BASE_URL);
        let openai_api_key = reader.raw("OPENAI_API_KEY").map(Secret::new);
        let agent_url = reader
            .raw("AGENT_URL")
            .map(|_| reader.url("AGENT_URL", "http://localhost:8080"));
        let pii_action = reader.action("PII_ACTION");
        let sqli_action = reader.action("SQLI_ACTION");
        let upstream_timeout = reader.upstream_timeout();
        let max_response_bytes = reader.bounded(
            "AXONFLOW_MAX_RESPONSE_BYTES",
            DEFAULT_MAX_RESPONSE_BYTES,
            1..=usize::MAX,
            "a number of bytes",
        );
        let pricing_file = reader.raw("AXONFLOW_PRICING_FILE").map(PathBuf::from);
        let policy_refresh_interval = reader.refresh_interval();
        let max_in_flight = reader.max_in_flight();
        reader.finish(OrchestratorConfig {
            common,
            openai_base_url,
            openai_api_key,
            agent_url,
            peer_check_interval: Duration::from_secs(15),
            pii_action,
            sqli_action,
            upstream_timeout,
            max_response_bytes,
            pricing_file,
            policy_refresh_interval,
            max_in_flight,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = AgentConfig::from_source(&source(&[("DATABASE_URL", "postgres://x@y/z")]))
            .expect("valid");
        assert_eq!(config.common.port, 8080);
        assert_eq!(config.common.deployment_mode, DeploymentMode::Community);
        assert_eq!(config.openai_base_url, "https://api.openai.com/v1");
        assert_eq!(config.orchestrator_url, "http://localhost:8081");
        assert_eq!(config.max_body_bytes, 10 * 1024 * 1024);
        assert_eq!(config.pii_action, None);
        assert!(!config.performance_mode);
        assert_eq!(config.gateway_context_ttl, Duration::from_secs(300));
        assert_eq!(config.rate_limit_rpm, 60_000);
        assert_eq!(config.policy_scan_limit_bytes, 1024 * 1024);
        assert_eq!(config.max_response_bytes, 10 * 1024 * 1024);
        assert_eq!(config.max_in_flight, 1024);
        assert_eq!(config.common.worker_threads, None, "one per core");
        let errors = AgentConfig::from_source(&source(&[
            ("DATABASE_URL", "postgres://x@y/z"),
            ("AXONFLOW_MAX_IN_FLIGHT", "0"),
            ("AXONFLOW_POLICY_SCAN_LIMIT_BYTES", "0"),
            ("AXONFLOW_MAX_RESPONSE_BYTES", "lots"),
            ("AXONFLOW_WORKER_THREADS", "0"),
        ]))
        .expect_err("four bad bounds");
        assert_eq!(errors.0.len(), 4, "{errors}");
        let two = AgentConfig::from_source(&source(&[
            ("DATABASE_URL", "postgres://x@y/z"),
            ("AXONFLOW_WORKER_THREADS", "2"),
        ]))
        .expect("valid");
        assert_eq!(two.common.worker_threads, Some(2));
        let orchestrator =
            OrchestratorConfig::from_source(&source(&[("DATABASE_URL", "postgres://x@y/z")]))
                .expect("valid");
        assert_eq!(orchestrator.common.port, 8081);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errors = AgentConfig::from_source(&source(&[
            ("PORT", "eighty"),
            ("PII_ACTION", "deny"),
            ("AGENT_PERFORMANCE_MODE", "maybe"),
            ("OPENAI_BASE_URL", "api.openai.com"),
        ]))
        .expect_err("four bad values and a missing DATABASE_URL");
        assert_eq!(errors.0.len(), 5, "{errors}");
        assert!(errors.0.iter().any(|p| p.starts_with("PORT=")));
        assert!(errors
            .0
            .iter()
            .any(|p| p.starts_with("DATABASE_URL is required")));
    }

    #[test]
    fn production_refuses_the_dev_org_sentinel() {
        let errors = AgentConfig::from_source(&source(&[
            ("DATABASE_URL", "postgres://x@y/z"),
            ("DEPLOYMENT_KIND", "production"),
        ]))
        .expect_err("production with the default org id");
        let message = errors.to_string();
        assert!(
            message.contains("DEPLOYMENT_KIND=production")
                && message.contains("ORG_ID=local-dev-org"),
            "{message}"
        );
        AgentConfig::from_source(&source(&[
            ("DATABASE_URL", "postgres://x@y/z"),
            ("DEPLOYMENT_KIND", "production"),
            ("ORG_ID", "acme-prod-us"),
        ]))
        .expect("a real org id boots");
    }

    #[test]
    fn secrets_are_not_printed() {
        let config =
            AgentConfig::from_source(&source(&[("DATABASE_URL", "postgres://user:hunter2@db/x")]))
                .expect("valid");
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn retention_periods() {
        let retention = parse_retention("SEBI=10y, GDPR=18m,default=2y").expect("valid");
        assert_eq!(retention.default_months, 24);
        assert!(retention.by_framework.contains(&("SEBI".to_owned(), 120)));
        assert!(retention.by_framework.contains(&("GDPR".to_owned(), 18)));
        assert!(retention
            .by_framework
            .contains(&("EU AI Act".to_owned(), 84)));
        assert!(parse_retention("SEBI=forever").is_err());
        assert!(parse_retention("SEBI=0y").is_err());
    }

    #[test]
    fn short_internal_secret_is_refused() {
        let errors = AgentConfig::from_source(&source(&[
            ("DATABASE_URL", "postgres://x@y/z"),
            ("AXONFLOW_INTERNAL_SERVICE_SECRET", "short"),
        ]))
        .expect_err("too short");
        assert!(errors.to_string().contains("at least 32 characters"));
    }
}
