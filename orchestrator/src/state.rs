//! Shared state of the orchestrator: cheap-to-clone handles built once at start.

use std::sync::Arc;

use axonflow_platform::client_auth::ClientStore;
use axonflow_platform::config::OrchestratorConfig;
use axonflow_platform::db::PgPool;
use axonflow_platform::http::api_error::ApiError;
use axonflow_platform::http::inflight::InFlightLimit;
use axonflow_platform::http::signature::SignedCalls;
use axonflow_platform::internal_auth::InternalAuth;
use axonflow_platform::peer::PeerChecker;
use axonflow_platform::policy_store::PolicyStore;
use axonflow_platform::pricing::PricingTable;
use axonflow_providers::route::Router;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: OrchestratorConfig,
    pool: PgPool,
    /// Commits without waiting for the WAL flush: internal-call nonces only.
    nonce_pool: PgPool,
    clients: Arc<ClientStore>,
    policies: Arc<PolicyStore>,
    internal_auth: Option<InternalAuth>,
    agent: Arc<PeerChecker>,
    http: reqwest::Client,
    pricing: PricingTable,
    in_flight: InFlightLimit,
    router: Router,
}

/// The answer to a request shed by the in-flight limit.
fn render_shed(_path: &str, max_in_flight: usize) -> axum::response::Response {
    axum::response::IntoResponse::into_response(ApiError::Overloaded { max_in_flight })
}

impl AppState {
    pub fn new(
        config: OrchestratorConfig,
        pool: PgPool,
        nonce_pool: PgPool,
        policies: PolicyStore,
        http: reqwest::Client,
        pricing: PricingTable,
    ) -> AppState {
        let internal_auth = config
            .common
            .internal_service_secret
            .as_ref()
            .and_then(|secret| InternalAuth::new(secret).ok());
        let agent = Arc::new(PeerChecker::new(
            config.agent_url.clone(),
            internal_auth.clone(),
            http.clone(),
        ));
        let in_flight = InFlightLimit::new(config.max_in_flight, render_shed);
        let router = axonflow_platform::routing::router(
            http.clone(),
            config.max_response_bytes,
            &config.common.breaker,
        );
        AppState {
            inner: Arc::new(Inner {
                router,
                in_flight,
                config,
                pool,
                nonce_pool,
                clients: Arc::new(ClientStore::new()),
                policies: Arc::new(policies),
                internal_auth,
                agent,
                http,
                pricing,
            }),
        }
    }

    pub fn config(&self) -> &OrchestratorConfig {
        &self.inner.config
    }

    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    pub fn clients(&self) -> &Arc<ClientStore> {
        &self.inner.clients
    }

    /// Tenants' static and dynamic policies and budgets (Proxy Mode's checks and output filtering).
    pub fn policies(&self) -> &Arc<PolicyStore> {
        &self.inner.policies
    }

    /// The periodic signed check of an agent (`AGENT_URL`).
    pub fn agent(&self) -> &Arc<PeerChecker> {
        &self.inner.agent
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub fn pricing(&self) -> &PricingTable {
        &self.inner.pricing
    }

    /// Sends LLM calls to provider targets (retries, failover, circuit breakers).
    pub fn router(&self) -> &Router {
        &self.inner.router
    }

    /// The in-flight limit (load shedding) of every route.
    pub fn in_flight(&self) -> &InFlightLimit {
        &self.inner.in_flight
    }
}

impl SignedCalls for AppState {
    fn internal_auth(&self) -> Option<&InternalAuth> {
        self.inner.internal_auth.as_ref()
    }

    fn nonce_pool(&self) -> &PgPool {
        &self.inner.nonce_pool
    }
}
