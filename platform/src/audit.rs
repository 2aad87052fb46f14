//! The audit trail: one `AuditRecord` per decision, written through `AuditWriter`, the only way
//! services record decisions. Today the writer inserts before the response is sent (compliance mode).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use axonflow_policy::Verdict;

use crate::db::{self, DbError, PgPool};

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
    /// Returned to the client as the decision id; the row's primary key.
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

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit write failed: {0}")]
    Write(#[from] DbError),
}

/// Writes audit records.
#[derive(Clone)]
pub struct AuditWriter {
    pool: PgPool,
}

impl AuditWriter {
    pub fn new(pool: PgPool) -> Self {
        AuditWriter { pool }
    }

    /// Stores `record` before returning. `metadata.verdict` and `metadata.decision_id` are set from the
    /// record so that they always agree with the columns.
    pub async fn record(&self, mut record: AuditRecord) -> Result<(), AuditError> {
        if !record.metadata.is_object() {
            record.metadata = serde_json::json!({});
        }
        if let Some(object) = record.metadata.as_object_mut() {
            object.insert("verdict".to_owned(), record.verdict.as_str().into());
            object.insert(
                "decision_id".to_owned(),
                record.decision_id.to_string().into(),
            );
        }
        db::insert_audit(&self.pool, &record).await?;
        Ok(())
    }
}
