//! The AxonFlow agent as a library: `app` builds the router from a ready `AppState`, `run` does the
//! whole start-up (database, migrations, policies) and serves until a shutdown signal.
//! The environment is read only by `main.rs`.

mod admin;
mod audit_api;
pub mod auth;
mod contexts;
mod decide;
mod decisions;
mod dynamic;
mod error;
mod forward;
mod gateway;
mod health;
mod inspect;
mod internal;
mod metrics;
mod openai;
mod outlive;
mod output;
mod proxy;
mod ratelimit;
mod state;
mod static_policies;
mod stream;
mod time;

use std::net::SocketAddr;

use axum::extract::{DefaultBodyLimit, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;

use axonflow_platform::audit::{AuditConfig, AuditMode, AuditPipeline};
use axonflow_platform::config::AgentConfig;
use axonflow_platform::db;
use axonflow_platform::pricing::PricingTable;
use axonflow_policy::{CompileErrors, CompileOptions, Engine};

pub use crate::error::{ApiError, OpenAiError};
pub use crate::state::AppState;

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] db::DbError),
    #[error("policies do not compile: {0}")]
    Policies(#[from] CompileErrors),
    #[error("tenant policies: {0}")]
    TenantPolicies(#[from] axonflow_platform::policy_store::Unavailable),
    #[error("{0}")]
    Pricing(String),
    #[error("{0}")]
    ProviderKeys(#[from] axonflow_platform::routing::KeyCheckError),
    #[error("HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error("audit journal unusable (AUDIT_FALLBACK_PATH): {0}")]
    Audit(#[from] axonflow_platform::audit::AuditError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

async fn not_found(request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/v1/") {
        OpenAiError::NotFound { path }.into_response()
    } else {
        ApiError::NotFound { path }.into_response()
    }
}

/// The agent's routes. Every route passes through the in-flight limit (outermost: a shed request
/// costs nothing) and the caller layer (`auth::resolve_caller`).
pub fn app(state: AppState) -> Router {
    let max_body_bytes = state.config().max_body_bytes;
    let openai_routes = Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .method_not_allowed_fallback(|| async { OpenAiError::MethodNotAllowed });
    let api =
        |routes: MethodRouter<AppState>| routes.fallback(|| async { ApiError::MethodNotAllowed });
    let axonflow_routes = Router::new()
        .route("/api/policy/pre-check", api(post(gateway::pre_check)))
        .route("/api/audit/llm-call", api(post(gateway::llm_call)))
        .route("/api/v1/decide", api(post(decide::decide)))
        .route(decide::CHECK_INPUT_PATH, api(post(decide::check_input)))
        .route(
            "/api/v1/static-policies",
            api(get(static_policies::list).post(static_policies::create)),
        )
        .route(
            "/api/v1/static-policies/effective",
            api(get(static_policies::effective)),
        )
        .route(
            "/api/v1/static-policies/test",
            api(post(static_policies::test)),
        )
        .route(
            "/api/v1/static-policies/overrides",
            api(get(static_policies::list_overrides)),
        )
        .route(
            "/api/v1/static-policies/{id}",
            api(get(static_policies::get)
                .put(static_policies::update)
                .patch(static_policies::toggle)
                .delete(static_policies::delete)),
        )
        .route(
            "/api/v1/static-policies/{id}/versions",
            api(get(static_policies::versions)),
        )
        .route(
            "/api/v1/static-policies/{id}/override",
            api(post(static_policies::create_override).delete(static_policies::delete_override)),
        )
        .route("/api/request", api(post(proxy::request)))
        .route(
            "/api/v1/providers/status",
            api(get(forward::providers_status)),
        )
        .route("/api/v1/audit/search", api(post(audit_api::search)))
        .route(
            "/api/v1/audit/tenant/{tenant_id}",
            api(get(audit_api::by_tenant)),
        );
    let mut forwarded = Router::new();
    for prefix in forward::ORCHESTRATOR_ROUTES {
        forwarded = forwarded
            .route(prefix, axum::routing::any(forward::forward))
            .route(
                &format!("{prefix}/{{*rest}}"),
                axum::routing::any(forward::forward),
            );
    }
    let admin_routes = admin::routes().layer(axum::middleware::from_fn_with_state(
        state.clone(),
        admin::require_admin_key,
    ));
    let internal_routes = Router::new()
        .route(
            axonflow_platform::peer::PING_PATH,
            api(get(internal::ping).post(internal::ping)),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            axonflow_platform::http::signature::require_signature::<AppState>,
        ));
    Router::new()
        .merge(openai_routes)
        .merge(axonflow_routes)
        .merge(forwarded)
        .merge(admin_routes)
        .merge(internal_routes)
        .route("/health", api(get(health::health)))
        .route("/metrics", api(get(metrics::metrics)))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::resolve_caller,
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        // Inside the in-flight limit: a request it sheds is neither timed nor traced.
        .layer(axum::middleware::from_fn(metrics::observe))
        .layer(axum::middleware::from_fn_with_state(
            state.in_flight().clone(),
            axonflow_platform::http::inflight::limit_in_flight,
        ))
        .with_state(state)
}

/// Connects, migrates, compiles the policies and builds the state.
pub async fn build_state(config: AgentConfig) -> Result<AppState, StartError> {
    let pool = db::connect(
        config.common.database_url.expose(),
        config.common.database_max_connections,
    )
    .await?;
    db::migrate(&pool).await?;
    let resealed = axonflow_platform::routing::check_stored_keys(
        &pool,
        config.common.provider_keys.as_deref(),
    )
    .await?;
    if resealed > 0 {
        tracing::info!(
            resealed,
            "provider keys re-sealed under the current key-encryption key"
        );
    }
    // Nonces, and pre-check's gateway contexts in performance mode.
    let nonce_pool = db::connect_async_commit(config.common.database_url.expose(), 8).await?;
    let specs = db::load_system_policies(&pool).await?;
    let options = CompileOptions {
        pii_action: config.pii_action,
        sqli_action: config.sqli_action,
    };
    let engine = Engine::compile(&specs, options)?;
    tracing::info!(n_policies = engine.len(), "policies compiled");
    let pricing =
        PricingTable::load(config.pricing_file.as_deref()).map_err(StartError::Pricing)?;
    let http = reqwest::Client::builder()
        .connect_timeout(
            config
                .upstream_timeout
                .min(std::time::Duration::from_secs(10)),
        )
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        // Never follow a redirect: a key or a checked prompt goes only where it was sent.
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let audit = AuditPipeline::start(
        pool.clone(),
        AuditConfig {
            mode: if config.performance_mode {
                AuditMode::Performance
            } else {
                AuditMode::Compliance
            },
            journal_path: config.audit_fallback_path.clone(),
            queue_capacity: config.audit_queue_capacity,
            flush_interval: config.audit_flush_interval,
            retention: config.audit_retention.clone(),
        },
    )?;
    Ok(AppState::new(
        config, pool, nonce_pool, engine, http, pricing, audit,
    ))
}

/// `axonflow-agent verify-audit`: connects, migrates, and verifies the audit hash chains (of one
/// tenant, or all).
pub async fn verify_audit(
    config: &AgentConfig,
    tenant_id: Option<&str>,
) -> Result<axonflow_platform::audit::chain::VerifyReport, StartError> {
    let pool = db::connect(config.common.database_url.expose(), 2).await?;
    db::migrate(&pool).await?;
    Ok(axonflow_platform::audit::verify_chains(&pool, tenant_id).await?)
}

/// The JSON of a verification, as the admin endpoint and the subcommand print it.
pub fn verify_report_json(
    report: &axonflow_platform::audit::chain::VerifyReport,
) -> serde_json::Value {
    admin::verify_report_json(report)
}

/// How often a journal holding rows is replayed while running.
const JOURNAL_REPLAY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);
/// How often audit partitions are created ahead and expired ones dropped.
const PARTITION_MAINTENANCE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Creates monthly audit partitions ahead and drops expired ones: at start, then hourly.
async fn maintain_audit_partitions(pool: db::PgPool) {
    loop {
        match axonflow_platform::audit::maintain_partitions(&pool).await {
            Ok((created, dropped)) => {
                if created > 0 || !dropped.is_empty() {
                    tracing::info!(created, ?dropped, "audit partitions maintained");
                }
            }
            Err(error) => tracing::warn!(%error, "audit partition maintenance deferred"),
        }
        tokio::time::sleep(PARTITION_MAINTENANCE_INTERVAL).await;
    }
}

/// Starts the agent and serves until SIGTERM or ctrl-c; in-flight requests (and their audit writes)
/// finish before it returns.
pub async fn run(config: AgentConfig) -> Result<(), StartError> {
    let address = format!("{}:{}", config.common.bind_address, config.common.port);
    let state = build_state(config).await?;
    state.policies().warm_up_in_background();
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|source| StartError::Listen {
            address: address.clone(),
            source,
        })?;
    let local: SocketAddr = listener
        .local_addr()
        .map_err(|source| StartError::Listen { address, source })?;
    // The community tenant's policies are loaded before serving, so that its first request does not
    // wait on the database.
    state
        .policies()
        .for_tenant(state.pool(), auth::DEFAULT_TENANT)
        .await?;
    match state.audit().replay_journal().await {
        Ok(0) => {}
        Ok(rows) => tracing::info!(rows, "audit journal replayed at start"),
        Err(error) => {
            tracing::warn!(%error, "audit journal not replayed at start; retried while running")
        }
    }
    let refresh = state.config().policy_refresh_interval;
    let background = [
        tokio::spawn(
            state
                .audit()
                .clone()
                .replay_forever(JOURNAL_REPLAY_INTERVAL),
        ),
        tokio::spawn(maintain_audit_partitions(state.pool().clone())),
        // Replicas share rate-limit counts through Postgres every `SYNC_INTERVAL`.
        tokio::spawn(
            state
                .rate_counters()
                .clone()
                .sync_forever(state.pool().clone()),
        ),
        tokio::spawn(
            state
                .policies()
                .clone()
                .refresh_forever(state.pool().clone(), refresh),
        ),
        tokio::spawn(
            state
                .clients()
                .clone()
                .refresh_forever(state.pool().clone(), refresh),
        ),
        tokio::spawn(
            state
                .orchestrator()
                .clone()
                .run_forever(state.config().peer_check_interval),
        ),
    ];
    tracing::info!("axonflow-agent listening on http://{local}");
    let state_for_drain = state.clone();
    let served = axum::serve(
        axonflow_platform::http::listener_without_delay(listener),
        app(state),
    )
    .with_graceful_shutdown(axonflow_platform::shutdown::signal())
    .await
    .map_err(StartError::Serve);
    // In-flight requests have finished; what they queued is written before exit.
    state_for_drain.audit().drain().await;
    for task in background {
        task.abort();
    }
    served
}
