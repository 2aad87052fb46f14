//! Shared state of the agent: cheap-to-clone handles built once at start.

use std::sync::Arc;
use std::time::Instant;

use axonflow_platform::audit::AuditPipeline;
use axonflow_platform::budget::SpendCache;
use axonflow_platform::client_auth::ClientStore;
use axonflow_platform::config::AgentConfig;
use axonflow_platform::db::PgPool;
use axonflow_platform::http::inflight::InFlightLimit;
use axonflow_platform::http::signature::SignedCalls;
use axonflow_platform::internal_auth::InternalAuth;
use axonflow_platform::peer::PeerChecker;
use axonflow_platform::pricing::PricingTable;
use axonflow_policy::Engine;
use axonflow_providers::route::Router;

use crate::ratelimit::RateCounters;
use axonflow_platform::policy_store::PolicyStore;

/// How long a budget's spending is reused before the audit rows are summed again: other replicas'
/// spending reaches this one's budget checks within it.
pub const SPEND_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: AgentConfig,
    pool: PgPool,
    /// Commits without waiting for the WAL flush: internal-call nonces, and gateway contexts in
    /// performance mode.
    async_commit_pool: PgPool,
    policies: Arc<PolicyStore>,
    clients: Arc<ClientStore>,
    rate_counters: Arc<RateCounters>,
    internal_auth: Option<InternalAuth>,
    orchestrator: Arc<PeerChecker>,
    http: reqwest::Client,
    /// `OPENAI_BASE_URL`'s chat completions endpoint, parsed once; `None` when it is no URL.
    openai_chat_url: Option<reqwest::Url>,
    pricing: PricingTable,
    /// What budgets have used, read briefly from the audit rows.
    spend: SpendCache,
    audit: AuditPipeline,
    in_flight: InFlightLimit,
    started_at: Instant,
    router: Router,
    context_writes: crate::contexts::ContextWrites,
}

fn openai_chat_url(config: &AgentConfig) -> String {
    format!("{}/chat/completions", config.openai_base_url)
}

impl AppState {
    pub fn new(
        config: AgentConfig,
        pool: PgPool,
        nonce_pool: PgPool,
        engine: Engine,
        http: reqwest::Client,
        pricing: PricingTable,
        audit: AuditPipeline,
    ) -> Self {
        let internal_auth = config
            .common
            .internal_service_secret
            .as_ref()
            .and_then(|secret| InternalAuth::new(secret).ok());
        let config_max_in_flight = config.max_in_flight;
        let openai_chat_url = reqwest::Url::parse(&openai_chat_url(&config)).ok();
        let orchestrator = Arc::new(PeerChecker::new(
            Some(config.orchestrator_url.clone()),
            internal_auth.clone(),
            http.clone(),
        ));
        let router = axonflow_platform::routing::router(
            http.clone(),
            config.max_response_bytes,
            &config.common.breaker,
        );
        AppState {
            inner: Arc::new(Inner {
                router,
                config,
                pool,
                async_commit_pool: nonce_pool,
                policies: Arc::new(PolicyStore::new(
                    engine,
                    axonflow_platform::cpu::CpuPool::for_this_machine(),
                )),
                clients: Arc::new(ClientStore::new()),
                rate_counters: Arc::new(RateCounters::default()),
                internal_auth,
                orchestrator,
                http,
                openai_chat_url,
                pricing,
                spend: SpendCache::new(SPEND_CACHE_TTL),
                audit,
                in_flight: InFlightLimit::new(config_max_in_flight, crate::error::render_shed),
                started_at: Instant::now(),
                context_writes: crate::contexts::ContextWrites::new(config_max_in_flight),
            }),
        }
    }

    pub fn config(&self) -> &AgentConfig {
        &self.inner.config
    }

    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The system catalogue and every tenant's adjustments and custom policies.
    pub fn policies(&self) -> &Arc<PolicyStore> {
        &self.inner.policies
    }

    /// This agent's local rate-limit counters (shared through Postgres).
    pub fn rate_counters(&self) -> &Arc<RateCounters> {
        &self.inner.rate_counters
    }

    pub fn clients(&self) -> &Arc<ClientStore> {
        &self.inner.clients
    }

    /// The signer/verifier of agent <-> orchestrator calls; `None` without a configured secret.
    pub fn internal_auth(&self) -> Option<&InternalAuth> {
        self.inner.internal_auth.as_ref()
    }

    /// The periodic signed check of the orchestrator.
    pub fn orchestrator(&self) -> &Arc<PeerChecker> {
        &self.inner.orchestrator
    }

    /// Sends routed LLM calls to the tenant's provider targets (retries, failover, breakers).
    pub fn router(&self) -> &Router {
        &self.inner.router
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Where calls with the caller's own key go: `OPENAI_BASE_URL` and `/chat/completions`. Parsed
    /// once; a base that is no URL stays text, and each call fails when it is sent.
    pub fn openai_chat_url(&self) -> Result<reqwest::Url, String> {
        self.inner
            .openai_chat_url
            .clone()
            .ok_or_else(|| openai_chat_url(&self.inner.config))
    }

    pub fn pricing(&self) -> &PricingTable {
        &self.inner.pricing
    }

    /// What budgets have used, cached for [`SPEND_CACHE_TTL`] at most.
    pub fn spend(&self) -> &SpendCache {
        &self.inner.spend
    }

    pub fn audit(&self) -> &AuditPipeline {
        &self.inner.audit
    }

    /// The in-flight limit (load shedding), shared by its layer and `/metrics`.
    pub fn in_flight(&self) -> &InFlightLimit {
        &self.inner.in_flight
    }

    /// Where pre-check stores its gateway contexts (`contexts`). In performance mode the commit
    /// does not wait for the WAL flush (the write is off the pre-check's path and its audit row is
    /// queued in this mode too); a Postgres crash can lose the last fraction of a second of
    /// contexts, whose audit calls then find no context. Compliance mode waits for the flush.
    pub fn context_pool(&self) -> &PgPool {
        if self.config().performance_mode {
            &self.inner.async_commit_pool
        } else {
            &self.inner.pool
        }
    }

    /// Pre-check contexts being written off the pre-check's path (performance mode).
    pub fn context_writes(&self) -> &crate::contexts::ContextWrites {
        &self.inner.context_writes
    }

    pub fn uptime_secs(&self) -> u64 {
        self.inner.started_at.elapsed().as_secs()
    }
}

impl SignedCalls for AppState {
    fn internal_auth(&self) -> Option<&InternalAuth> {
        self.inner.internal_auth.as_ref()
    }

    fn nonce_pool(&self) -> &PgPool {
        &self.inner.async_commit_pool
    }
}
