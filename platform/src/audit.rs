//! The audit trail: one `AuditRecord` per decision, written through `AuditPipeline`, the only way
//! services record decisions. Nothing acknowledged is lost:
//!
//! - **Compliance mode** (default): the row is committed to Postgres before `record` returns, or,
//!   when Postgres cannot take it, appended to the fallback journal and fsync'd.
//! - **Performance mode**: the row goes to a bounded queue; a batching writer inserts up to
//!   `BATCH_ROWS` rows per statement, retries a failed batch 3 times (100, 200, 400 ms) and then
//!   journals it. When the queue is full, `record` writes synchronously as in compliance mode
//!   (counted in `queue_full`): back-pressure, never loss. `drain` (at shutdown) writes everything
//!   queued before it returns.
//!
//! The journal is replayed into Postgres at start and periodically; rows are idempotent by
//! `(created_at, id)`, so a replay never duplicates one. Every row is sealed into a hash chain per
//! tenant and writer instance (`audit/chain.rs`; in performance mode by the batch writer, in queue
//! order, so hashing stays off the request path) and carries the date until which its compliance
//! frameworks require it to be kept.

pub mod chain;
pub mod journal;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use tokio::sync::mpsc;
use uuid::Uuid;

use axonflow_policy::Verdict;

use crate::db::{self, DbError, PgPool};
use journal::{Journal, JournalError, JournalLine};

/// Rows per multi-row INSERT of the performance-mode writer and of replays.
pub const BATCH_ROWS: usize = 500;
/// Waits between the attempts of a failed batch in performance mode.
pub const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
];
/// A compliance-mode insert that takes longer than this goes to the journal instead.
const COMPLIANCE_INSERT_TIMEOUT: Duration = Duration::from_secs(2);
/// One attempt of a performance-mode batch; a slower one counts as failed.
const BATCH_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

/// Which entry point made the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSource {
    /// `POST /v1/chat/completions`.
    OpenAiGateway,
    /// `POST /api/policy/pre-check`.
    PreCheck,
    /// `POST /api/audit/llm-call`.
    LlmCall,
    /// `POST /api/v1/decide`.
    Decide,
    /// `POST /api/v1/mcp/check-input` (Decision Mode's request-phase redaction).
    McpCheckInput,
    /// `POST /api/request`.
    Proxy,
}

impl AuditSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditSource::OpenAiGateway => "openai_gateway",
            AuditSource::PreCheck => "pre_check",
            AuditSource::LlmCall => "llm_call",
            AuditSource::Decide => "decide",
            AuditSource::McpCheckInput => "mcp_check_input",
            AuditSource::Proxy => "proxy",
        }
    }
}

/// One audited decision. Holds no provider key and no raw prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Returned to the client as the decision id; the row's primary key (with `created_at`).
    pub decision_id: Uuid,
    pub source: AuditSource,
    pub client_id: String,
    pub tenant_id: String,
    pub org_id: String,
    pub provider: String,
    pub model: String,
    pub verdict: Verdict,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    pub estimated_cost_usd: f64,
    /// Time spent upstream, in milliseconds (0 when the upstream was not called).
    pub latency_ms: u32,
    /// HTTP status returned to the client.
    pub http_status: Option<u16>,
    pub trace_id: Option<String>,
    /// Always holds `verdict` and `decision_id`, plus whatever the entry point adds.
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl AuditRecord {
    /// A decision that called no provider: no tokens, cost or upstream latency, made now.
    pub fn decision(
        decision_id: Uuid,
        source: AuditSource,
        client_id: String,
        tenant_id: String,
        org_id: String,
        verdict: Verdict,
        metadata: serde_json::Value,
    ) -> AuditRecord {
        AuditRecord {
            decision_id,
            source,
            client_id,
            tenant_id,
            org_id,
            provider: String::new(),
            model: String::new(),
            verdict,
            prompt_tokens: 0,
            completion_tokens: 0,
            total_tokens: 0,
            estimated_cost_usd: 0.0,
            latency_ms: 0,
            http_status: None,
            trace_id: None,
            metadata,
            created_at: Utc::now(),
        }
    }
}

/// A row `try_queue` did not queue; `write_unqueued` writes it.
pub struct Unqueued(Box<Row>);

enum Row {
    Record(AuditRecord),
    Prepared(JournalLine),
}

/// How an acknowledged record is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Committed to Postgres.
    Committed,
    /// Fsync'd to the journal; replayed into Postgres later.
    Journaled,
    /// In the performance-mode queue.
    Queued,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit write failed: {0}")]
    Write(#[from] DbError),
    #[error("audit record could neither be stored nor journaled: {0}")]
    Journal(#[from] JournalError),
    /// Postgres refused the row as data and the `.rejected` file did not take it either.
    #[error("audit record refused by Postgres and not kept in the .rejected file: {0}")]
    NotKept(JournalError),
}

/// How long rows are kept, in months: per compliance framework, else the default. A row
/// implicating several frameworks is kept for the longest of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub default_months: u32,
    pub by_framework: Vec<(String, u32)>,
}

impl Retention {
    /// SEBI 5 years, EU AI Act 7 years, RBI 5 years, HIPAA 6 years; 1 year for everything else.
    pub fn standard() -> Retention {
        Retention {
            default_months: 12,
            by_framework: vec![
                ("SEBI".to_owned(), 60),
                ("EU AI Act".to_owned(), 84),
                ("RBI".to_owned(), 60),
                ("HIPAA".to_owned(), 72),
            ],
        }
    }

    /// The date until which a row created at `at` with these frameworks is kept.
    pub fn keep_until(&self, at: DateTime<Utc>, frameworks: &[&str]) -> NaiveDate {
        let months = frameworks
            .iter()
            .filter_map(|f| {
                self.by_framework
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(f))
                    .map(|(_, months)| *months)
            })
            .fold(self.default_months, u32::max);
        let day = at.date_naive();
        day.checked_add_months(chrono::Months::new(months))
            .unwrap_or(NaiveDate::MAX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditMode {
    Compliance,
    Performance,
}

/// What the pipeline needs.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub mode: AuditMode,
    pub journal_path: PathBuf,
    pub queue_capacity: usize,
    /// Longest a queued row waits for its batch to fill (performance mode).
    pub flush_interval: Duration,
    pub retention: Retention,
}

/// Counters, for `/metrics` and health.
#[derive(Debug, Default)]
pub struct AuditMetrics {
    pub rows_written: AtomicU64,
    pub rows_journaled: AtomicU64,
    pub rows_replayed: AtomicU64,
    pub write_failures: AtomicU64,
    pub journal_failures: AtomicU64,
    pub queue_full: AtomicU64,
    /// Rows Postgres refused as data (kept in `.rejected`).
    pub rows_rejected: AtomicU64,
    /// Rows accepted into the queue and not yet stored or journaled (queued or in a batch).
    pub pending: AtomicU64,
}

/// A snapshot of the counters and gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditStats {
    pub mode: AuditMode,
    pub queue_depth: u64,
    pub queue_capacity: u64,
    pub journal_backlog: u64,
    pub rows_written: u64,
    pub rows_journaled: u64,
    pub rows_replayed: u64,
    pub write_failures: u64,
    pub journal_failures: u64,
    pub queue_full: u64,
    pub rows_rejected: u64,
    pub database_ok: bool,
}

struct ChainState {
    seq: i64,
    last_hash: [u8; 32],
}

struct Inner {
    pool: PgPool,
    config: AuditConfig,
    /// This process's writer id: one chain per tenant and instance.
    instance: String,
    chains: Mutex<HashMap<String, ChainState>>,
    journal: Journal,
    metrics: AuditMetrics,
    queue: Mutex<Option<mpsc::Sender<JournalLine>>>,
    writer: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// False after a write failed, until one succeeds again (for the fallback / recovery log lines).
    database_ok: AtomicBool,
}

/// Writes audit records (see the module documentation for the guarantees).
#[derive(Clone)]
pub struct AuditPipeline {
    inner: Arc<Inner>,
}

/// Microseconds: what Postgres keeps, so that the hash covers exactly what is stored.
fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// Text as Postgres stores it: NUL is refused by `TEXT` and `JSONB`, so it becomes U+FFFD.
fn storable_text(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{fffd}")
    } else {
        text
    }
}

/// A count as the `INTEGER` columns hold it.
fn storable_count(count: u32) -> i64 {
    i64::from(count.min(i32::MAX as u32))
}

/// `value` with NUL removed from every string and key (Postgres refuses it in `JSONB`).
fn storable_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) if text.contains('\0') => {
            *text = text.replace('\0', "\u{fffd}");
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(storable_json),
        serde_json::Value::Object(fields) => {
            if fields.keys().any(|k| k.contains('\0')) {
                let taken = std::mem::take(fields);
                for (key, value) in taken {
                    fields.insert(key.replace('\0', "\u{fffd}"), value);
                }
            }
            fields.values_mut().for_each(storable_json);
        }
        _ => {}
    }
}

/// The hash of `line` (as stored) over `prev_hash`.
pub fn hash_line(prev_hash: &[u8; 32], line: &JournalLine) -> [u8; 32] {
    let created_at = line.created_at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let retain_until = line.retain_until.format("%Y-%m-%d").to_string();
    chain::row_hash(
        prev_hash,
        &chain::ChainedFields {
            decision_id: line.id,
            source: &line.source,
            client_id: &line.client_id,
            tenant_id: &line.tenant_id,
            org_id: &line.org_id,
            provider: &line.provider,
            model: &line.model,
            verdict: &line.verdict,
            prompt_tokens: line.prompt_tokens,
            completion_tokens: line.completion_tokens,
            total_tokens: line.total_tokens,
            cost: &line.estimated_cost_usd,
            latency_ms: line.latency_ms,
            http_status: line.http_status,
            trace_id: line.trace_id.as_deref(),
            metadata: &line.metadata,
            created_at: &created_at,
            chain_id: &line.chain_id,
            chain_seq: line.chain_seq,
            retain_until: &retain_until,
        },
    )
}

impl AuditPipeline {
    /// Opens the journal (an unusable path is an error) and, in performance mode, starts the
    /// batching writer.
    pub fn start(pool: PgPool, config: AuditConfig) -> Result<AuditPipeline, AuditError> {
        let journal = Journal::open(&config.journal_path)?;
        let inner = Arc::new(Inner {
            pool,
            // 64 random bits name this process's chains: ample to keep writers apart.
            instance: Uuid::new_v4().simple().to_string()[..16].to_owned(),
            chains: Mutex::new(HashMap::new()),
            journal,
            metrics: AuditMetrics::default(),
            queue: Mutex::new(None),
            writer: tokio::sync::Mutex::new(None),
            database_ok: AtomicBool::new(true),
            config,
        });
        let pipeline = AuditPipeline { inner };
        if pipeline.inner.config.mode == AuditMode::Performance {
            let (sender, receiver) = mpsc::channel(pipeline.inner.config.queue_capacity.max(1));
            if let Ok(mut queue) = pipeline.inner.queue.lock() {
                *queue = Some(sender);
            }
            let writer = tokio::spawn(pipeline.clone().write_batches(receiver));
            if let Ok(mut slot) = pipeline.inner.writer.try_lock() {
                *slot = Some(writer);
            }
        }
        Ok(pipeline)
    }

    /// False after a write to Postgres failed, until one succeeds again.
    pub fn database_ok(&self) -> bool {
        self.inner.database_ok.load(Ordering::Relaxed)
    }

    pub fn journal_path(&self) -> &std::path::Path {
        self.inner.journal.path()
    }

    /// Seals `record` into its tenant's chain: sequence, previous hash, own hash, retention.
    /// The row of `record`, not yet linked into its chain (see `link`).
    fn prepare(&self, mut record: AuditRecord) -> JournalLine {
        if !record.metadata.is_object() {
            record.metadata = serde_json::json!({});
        }
        storable_json(&mut record.metadata);
        if let Some(object) = record.metadata.as_object_mut() {
            // Empty lists and nulls say nothing: leaving them out keeps the typical row small.
            object.retain(|_, value| match value {
                serde_json::Value::Null => false,
                serde_json::Value::Array(items) => !items.is_empty(),
                serde_json::Value::Object(fields) => !fields.is_empty(),
                _ => true,
            });
            object.insert("verdict".to_owned(), record.verdict.as_str().into());
            object.insert(
                "decision_id".to_owned(),
                record.decision_id.to_string().into(),
            );
        }
        let created_at = to_micros(record.created_at);
        let frameworks: Vec<&str> = record
            .metadata
            .get("frameworks")
            .and_then(serde_json::Value::as_array)
            .map(|f| f.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        let retain_until = self
            .inner
            .config
            .retention
            .keep_until(created_at, &frameworks);
        let chain_id = format!("{}/{}", record.tenant_id, self.inner.instance);
        JournalLine {
            id: record.decision_id,
            source: record.source.as_str().to_owned(),
            client_id: storable_text(record.client_id),
            tenant_id: storable_text(record.tenant_id.clone()),
            org_id: storable_text(record.org_id),
            provider: storable_text(record.provider),
            model: storable_text(record.model),
            verdict: record.verdict.as_str().to_owned(),
            prompt_tokens: storable_count(record.prompt_tokens),
            completion_tokens: storable_count(record.completion_tokens),
            total_tokens: storable_count(record.total_tokens),
            estimated_cost_usd: format!("{:.10}", record.estimated_cost_usd.max(0.0)),
            latency_ms: storable_count(record.latency_ms),
            http_status: record.http_status.map(i64::from),
            trace_id: record.trace_id.map(storable_text),
            metadata: record.metadata,
            created_at,
            chain_id: chain_id.clone(),
            chain_seq: 0,
            prev_hash: String::new(),
            row_hash: String::new(),
            retain_until,
        }
    }

    /// Links `line` into its chain: the next sequence number and the hashes, under one short lock.
    /// A chain's order is its sequence numbers, so rows of one chain may be inserted in any order
    /// afterwards. In performance mode the writer links queued rows, off the request path.
    fn link(&self, line: &mut JournalLine) {
        let mut chains = match self.inner.chains.lock() {
            Ok(chains) => chains,
            Err(poisoned) => poisoned.into_inner(),
        };
        let state = chains.entry(line.chain_id.clone()).or_insert(ChainState {
            seq: 0,
            last_hash: chain::GENESIS,
        });
        line.chain_seq = state.seq + 1;
        let hash = hash_line(&state.last_hash, line);
        line.prev_hash = chain::hash_hex(&state.last_hash);
        line.row_hash = chain::hash_hex(&hash);
        state.seq += 1;
        state.last_hash = hash;
    }

    /// `prepare` and `link`: a row ready to insert or journal.
    fn seal(&self, record: AuditRecord) -> JournalLine {
        let mut line = self.prepare(record);
        self.link(&mut line);
        line
    }

    fn note_database(&self, ok: bool) {
        let was_ok = self.inner.database_ok.swap(ok, Ordering::Relaxed);
        if was_ok && !ok {
            tracing::error!(journal = %self.journal_path().display(), "Postgres cannot take audit rows: falling back to the journal");
        } else if !was_ok && ok {
            tracing::info!("Postgres takes audit rows again; the journal is replayed");
        }
    }

    async fn journal(&self, lines: Vec<JournalLine>) -> Result<(), AuditError> {
        let pipeline = self.clone();
        let n = lines.len() as u64;
        let appended = tokio::task::spawn_blocking(move || pipeline.inner.journal.append(&lines))
            .await
            .map_err(|e| JournalError::Io {
                path: self.journal_path().display().to_string(),
                source: std::io::Error::other(e.to_string()),
            })?;
        match appended {
            Ok(()) => {
                self.inner
                    .metrics
                    .rows_journaled
                    .fetch_add(n, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => {
                self.inner
                    .metrics
                    .journal_failures
                    .fetch_add(n, Ordering::Relaxed);
                Err(error.into())
            }
        }
    }

    /// Inserts `lines`; when Postgres refuses the data of the statement (not a connection
    /// problem), inserts them one by one and keeps those it refuses in the `.rejected` file, so that
    /// one bad row can neither block the others nor be retried for ever. Fails when a refused row
    /// could not be kept: the caller keeps the rows where they are (journal, or its answer is 503).
    async fn insert_or_set_aside(&self, lines: &[JournalLine]) -> Result<(), AuditError> {
        match db::insert_audit_lines(&self.inner.pool, lines).await {
            Err(error) if error.is_data_error() => {
                for line in lines {
                    match db::insert_audit_lines(&self.inner.pool, std::slice::from_ref(line)).await
                    {
                        Ok(()) => {}
                        Err(error) if error.is_data_error() => {
                            self.set_aside(line, &error).await?;
                        }
                        Err(error) => return Err(error.into()),
                    }
                }
                Ok(())
            }
            other => Ok(other?),
        }
    }

    /// Keeps a row Postgres refuses in the `.rejected` file.
    async fn set_aside(&self, line: &JournalLine, error: &DbError) -> Result<(), AuditError> {
        tracing::error!(decision_id = %line.id, %error, "Postgres refuses this audit row; it is kept in the .rejected file");
        let raw = serde_json::to_vec(line).unwrap_or_default();
        let pipeline = self.clone();
        let kept = tokio::task::spawn_blocking(move || pipeline.inner.journal.reject(&[raw]))
            .await
            .unwrap_or_else(|join_error| {
                Err(JournalError::Io {
                    path: format!("{}.rejected", self.journal_path().display()),
                    source: std::io::Error::other(join_error.to_string()),
                })
            });
        match kept {
            Ok(()) => {
                self.inner
                    .metrics
                    .rows_rejected
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => {
                self.inner
                    .metrics
                    .journal_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(decision_id = %line.id, %error, "audit row refused by Postgres and not kept in the .rejected file");
                Err(AuditError::NotKept(error))
            }
        }
    }

    /// Inserts now or journals: the compliance-mode write.
    async fn write_now(&self, line: JournalLine) -> Result<Durability, AuditError> {
        let inserted = tokio::time::timeout(
            COMPLIANCE_INSERT_TIMEOUT,
            db::insert_audit_lines(&self.inner.pool, std::slice::from_ref(&line)),
        )
        .await;
        match inserted {
            Ok(Ok(())) => {
                self.note_database(true);
                self.inner
                    .metrics
                    .rows_written
                    .fetch_add(1, Ordering::Relaxed);
                Ok(Durability::Committed)
            }
            Ok(Err(error)) if error.is_data_error() => {
                self.set_aside(&line, &error).await?;
                Ok(Durability::Journaled)
            }
            Ok(Err(error)) => {
                tracing::warn!(decision_id = %line.id, %error, "audit insert failed; journaling");
                self.fallback(line).await
            }
            Err(_) => {
                tracing::warn!(decision_id = %line.id, "audit insert timed out; journaling");
                self.fallback(line).await
            }
        }
    }

    async fn fallback(&self, line: JournalLine) -> Result<Durability, AuditError> {
        self.inner
            .metrics
            .write_failures
            .fetch_add(1, Ordering::Relaxed);
        self.note_database(false);
        self.journal(vec![line]).await?;
        Ok(Durability::Journaled)
    }

    /// Records one decision (see the module documentation for when it is durable).
    pub async fn record(&self, record: AuditRecord) -> Result<Durability, AuditError> {
        match self.try_queue(record) {
            Ok(()) => Ok(Durability::Queued),
            Err(unqueued) => self.write_unqueued(unqueued).await,
        }
    }

    /// Performance mode: queues the row for the batch writer without waiting, when the queue has
    /// room. Otherwise (compliance mode, a full or closed queue) the row comes back, to be written
    /// with `write_unqueued`.
    pub fn try_queue(&self, record: AuditRecord) -> Result<(), Unqueued> {
        let sender = self.inner.queue.lock().ok().and_then(|q| q.clone());
        match sender {
            None => Err(Unqueued(Box::new(Row::Record(record)))),
            // Queued rows are linked by the writer.
            Some(sender) => match sender.try_send(self.prepare(record)) {
                Ok(()) => {
                    self.inner.metrics.pending.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                Err(
                    mpsc::error::TrySendError::Full(line) | mpsc::error::TrySendError::Closed(line),
                ) => {
                    self.inner
                        .metrics
                        .queue_full
                        .fetch_add(1, Ordering::Relaxed);
                    Err(Unqueued(Box::new(Row::Prepared(line))))
                }
            },
        }
    }

    /// Writes a row `try_queue` gave back: committed to Postgres, or journaled.
    pub async fn write_unqueued(&self, unqueued: Unqueued) -> Result<Durability, AuditError> {
        let line = match *unqueued.0 {
            Row::Record(record) => self.seal(record),
            Row::Prepared(mut line) => {
                self.link(&mut line);
                line
            }
        };
        self.write_now(line).await
    }

    /// The performance-mode writer: batches of up to `BATCH_ROWS` rows, each retried, then
    /// journaled. Ends when the queue is closed and empty.
    ///
    /// The first row of a batch wakes the writer; the rows queued within the flush interval after
    /// it are then taken in one go, so a request's `try_send` never wakes the writer's thread.
    async fn write_batches(self, mut receiver: mpsc::Receiver<JournalLine>) {
        let flush = self.inner.config.flush_interval;
        while let Some(first) = receiver.recv().await {
            let mut batch = Vec::with_capacity(BATCH_ROWS);
            batch.push(first);
            // A full batch already waiting goes out at once.
            if receiver.len() + 1 < BATCH_ROWS {
                tokio::time::sleep(flush).await;
            }
            while batch.len() < BATCH_ROWS {
                match receiver.try_recv() {
                    Ok(line) => batch.push(line),
                    Err(_) => break,
                }
            }
            // Linked in the order they were queued.
            for line in &mut batch {
                self.link(line);
            }
            self.write_batch(batch).await;
        }
    }

    async fn write_batch(&self, batch: Vec<JournalLine>) {
        let n_rows = batch.len() as u64;
        self.write_batch_attempts(batch).await;
        let _ =
            self.inner
                .metrics
                .pending
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                    Some(p.saturating_sub(n_rows))
                });
    }

    async fn write_batch_attempts(&self, batch: Vec<JournalLine>) {
        let mut attempt = 0;
        loop {
            let inserted =
                tokio::time::timeout(BATCH_ATTEMPT_TIMEOUT, self.insert_or_set_aside(&batch))
                    .await
                    .unwrap_or(Err(AuditError::Write(DbError::Timeout)));
            match inserted {
                Ok(()) => {
                    self.note_database(true);
                    self.inner
                        .metrics
                        .rows_written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    return;
                }
                Err(error) if attempt < RETRY_DELAYS.len() => {
                    tracing::warn!(%error, attempt = attempt + 1, rows = batch.len(), "audit batch failed; retrying");
                    tokio::time::sleep(RETRY_DELAYS[attempt]).await;
                    attempt += 1;
                }
                Err(error) => {
                    tracing::warn!(%error, rows = batch.len(), "audit batch failed 4 times; journaling");
                    self.inner
                        .metrics
                        .write_failures
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    self.note_database(false);
                    if let Err(error) = self.journal(batch).await {
                        tracing::error!(%error, "audit rows could neither be stored nor journaled");
                    }
                    return;
                }
            }
        }
    }

    /// Closes the queue and waits until every queued row is stored or journaled.
    pub async fn drain(&self) {
        if let Ok(mut queue) = self.inner.queue.lock() {
            queue.take();
        }
        let writer = self.inner.writer.lock().await.take();
        if let Some(writer) = writer {
            let queued = self.stats().queue_depth;
            tracing::info!(queued, "draining the audit queue");
            let _ = writer.await;
            tracing::info!("audit queue drained");
        }
    }

    /// Replays every journal file into Postgres; returns the rows replayed.
    pub async fn replay_journal(&self) -> Result<u64, AuditError> {
        let pipeline = self.clone();
        let files = tokio::task::spawn_blocking(move || pipeline.inner.journal.take_for_replay())
            .await
            .map_err(|e| JournalError::Io {
                path: self.journal_path().display().to_string(),
                source: std::io::Error::other(e.to_string()),
            })??;
        let mut replayed = 0;
        for file in files {
            let pipeline = self.clone();
            let reading = file.clone();
            let read = tokio::task::spawn_blocking(move || pipeline.inner.journal.read(&reading))
                .await
                .map_err(|e| JournalError::Io {
                    path: file.display().to_string(),
                    source: std::io::Error::other(e.to_string()),
                })??;
            for chunk in read.lines.chunks(BATCH_ROWS) {
                self.insert_or_set_aside(chunk).await?;
            }
            let n_rows = read.lines.len() as u64;
            let pipeline = self.clone();
            let finished = file.clone();
            tokio::task::spawn_blocking(move || {
                pipeline.inner.journal.finish_replay(&finished, &read)
            })
            .await
            .map_err(|e| JournalError::Io {
                path: file.display().to_string(),
                source: std::io::Error::other(e.to_string()),
            })??;
            replayed += n_rows;
            tracing::info!(file = %file.display(), rows = n_rows, "audit journal replayed");
        }
        self.inner
            .metrics
            .rows_replayed
            .fetch_add(replayed, Ordering::Relaxed);
        if replayed > 0 {
            self.note_database(true);
        }
        Ok(replayed)
    }

    /// Replays the journal every `interval` when it holds rows, forever (aborted at shutdown).
    pub async fn replay_forever(self, interval: Duration) {
        loop {
            tokio::time::sleep(interval).await;
            if self.inner.journal.backlog() == 0 {
                continue;
            }
            if let Err(error) = self.replay_journal().await {
                tracing::warn!(%error, backlog = self.inner.journal.backlog(), "journal replay deferred; retried in a moment");
            }
        }
    }

    pub fn stats(&self) -> AuditStats {
        let metrics = &self.inner.metrics;
        let queue_capacity = self
            .inner
            .queue
            .lock()
            .ok()
            .and_then(|q| q.as_ref().map(|s| s.max_capacity() as u64))
            .unwrap_or(0);
        let queue_depth = metrics.pending.load(Ordering::Relaxed);
        AuditStats {
            mode: self.inner.config.mode,
            queue_depth,
            queue_capacity,
            journal_backlog: self.inner.journal.backlog(),
            rows_written: metrics.rows_written.load(Ordering::Relaxed),
            rows_journaled: metrics.rows_journaled.load(Ordering::Relaxed),
            rows_replayed: metrics.rows_replayed.load(Ordering::Relaxed),
            write_failures: metrics.write_failures.load(Ordering::Relaxed),
            journal_failures: metrics.journal_failures.load(Ordering::Relaxed),
            queue_full: metrics.queue_full.load(Ordering::Relaxed),
            rows_rejected: metrics.rows_rejected.load(Ordering::Relaxed),
            database_ok: self.inner.database_ok.load(Ordering::Relaxed),
        }
    }
}

/// Verifies the hash chains of one tenant (or all): the first broken link of each chain.
pub async fn verify_chains(
    pool: &PgPool,
    tenant_id: Option<&str>,
) -> Result<chain::VerifyReport, DbError> {
    const PAGE: i64 = 5000;
    let mut verifier = chain::Verifier::default();
    let mut after: Option<db::ChainCursor> = None;
    let mut previous: Option<(String, Option<Vec<u8>>)> = None;
    loop {
        let page = db::audit_chain_page(pool, tenant_id, after.as_ref(), PAGE).await?;
        let n = page.len();
        for line in page {
            let row_hash = (!line.row_hash.is_empty())
                .then(|| hex::decode(&line.row_hash).ok())
                .flatten();
            // The previous link of this chain, as stored (the genesis hash before the first row).
            let same_chain = previous
                .as_ref()
                .is_some_and(|(chain, _)| *chain == line.chain_id);
            let prev: [u8; 32] = if same_chain {
                previous
                    .as_ref()
                    .and_then(|(_, hash)| hash.as_deref())
                    .and_then(|h| h.try_into().ok())
                    .unwrap_or([0xff; 32])
            } else {
                chain::GENESIS
            };
            after = Some((
                line.chain_id.clone(),
                line.chain_seq,
                line.created_at,
                line.id,
            ));
            let recomputed = hash_line(&prev, &line);
            previous = Some((line.chain_id.clone(), row_hash.clone()));
            verifier.push(chain::StoredLink {
                decision_id: line.id,
                recomputed,
                chain_id: line.chain_id,
                chain_seq: line.chain_seq,
                prev_hash: Some(prev.to_vec()),
                row_hash,
            });
        }
        if n < PAGE as usize {
            let mut report = verifier.finish();
            report.unchained = db::unchained_audit_rows(pool, tenant_id).await?;
            return Ok(report);
        }
    }
}

/// Creates the partitions of this month and the next two, and drops those whose rows are all past
/// retention. Returns (partitions created, partitions dropped).
pub async fn maintain_partitions(pool: &PgPool) -> Result<(u32, Vec<String>), DbError> {
    let today = db::now(pool).await?.date_naive();
    let first = today.with_day(1).unwrap_or(today);
    let months: Vec<NaiveDate> = (0..3)
        .filter_map(|n| first.checked_add_months(chrono::Months::new(n)))
        .collect();
    let created = db::ensure_audit_partitions(pool, &months).await?;
    let dropped = db::drop_expired_audit_partitions(pool, today).await?;
    Ok((created, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_the_longest_of_the_frameworks() {
        let retention = Retention::standard();
        let at = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(retention.keep_until(at, &[]).to_string(), "2027-03-01");
        assert_eq!(
            retention.keep_until(at, &["SEBI"]).to_string(),
            "2031-03-01"
        );
        assert_eq!(
            retention
                .keep_until(at, &["SEBI", "EU AI Act", "GDPR"])
                .to_string(),
            "2033-03-01"
        );
    }
}
