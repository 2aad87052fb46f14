//! The AxonFlow orchestrator as a library. It owns tenants' dynamic policies, budgets and usage
//! reports (`/api/v1/...`), and Proxy Mode's LLM calls (`proxy.rs`). Clients reach it through the
//! agent, which forwards the orchestrator-owned routes signed with the internal secret and the
//! authenticated caller (`forward.rs`); called directly, its routes authenticate like the agent's.

mod budgets;
mod dynamic_policies;
mod forward;
mod guard;
mod health;
mod llm_providers;
mod proxy;
mod state;
mod usage;

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use serde_json::json;

use axonflow_platform::db::{self};
use axonflow_platform::http::api_error::{ApiError, BodyLimit};
use axonflow_platform::http::caller::{self, Caller, CallerRejection, CallerSettings};
use axonflow_platform::http::signature;
use axonflow_platform::internal_call::{FORWARD_PATH, PROXY_PATH};
use axonflow_platform::peer::PING_PATH;
use axonflow_platform::policy_store::PolicyStore;
use axonflow_platform::pricing::PricingTable;
use axonflow_policy::{CompileOptions, Engine};

pub use state::AppState;

pub const SERVICE: &str = "axonflow-orchestrator";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Routes that answer without credentials.
const PUBLIC_PATHS: &[&str] = &["/health"];
/// Largest body of an `/api/v1` call.
const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] db::DbError),
    #[error("system policies do not compile: {0}")]
    Policies(#[from] axonflow_policy::CompileErrors),
    #[error("{0}")]
    Pricing(String),
    #[error("{0}")]
    ProviderKeys(#[from] axonflow_platform::routing::KeyCheckError),
    #[error("HTTP client: {0}")]
    HttpClient(String),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

async fn ping() -> Json<serde_json::Value> {
    Json(json!({
        "service": SERVICE,
        "version": VERSION,
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    }))
}

/// `GET /metrics`: this orchestrator's policy evaluation times and load shedding, in Prometheus
/// text (decisions are counted by the agent that audits them).
async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = format!(
        "# HELP axonflow_requests_shed_total Requests refused with 503 because AXONFLOW_MAX_IN_FLIGHT requests were being served.\n\
         # TYPE axonflow_requests_shed_total counter\naxonflow_requests_shed_total {}\n",
        state.in_flight().shed_total()
    );
    if let Some(metrics) = axonflow_platform::metrics::metrics() {
        out.push_str(&metrics.render());
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
        .into_response()
}

/// Each internal call (an agent's Proxy Mode call or forwarded route) is a SERVER span continuing
/// the agent's trace.
async fn traced(request: Request, next: Next) -> Response {
    if request.uri().path() == PING_PATH {
        return next.run(request).await;
    }
    let span = axonflow_platform::telemetry::server_span(
        request.method().as_str(),
        request.uri().path(),
        request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok()),
    );
    let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    axonflow_platform::telemetry::set_attribute(
        &span,
        "http.response.status_code",
        i64::from(response.status().as_u16()),
    );
    response
}

async fn not_found(request: Request) -> Response {
    ApiError::NotFound {
        path: request.uri().path().to_owned(),
    }
    .into_response()
}

/// Resolves the caller of every `/api/v1` route. A call forwarded by an agent already carries its
/// caller (set by `forward.rs` from the signed body): it is kept. Otherwise the credentials decide
/// (in enterprise mode every route but `/health` needs them).
async fn resolve_caller(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    request.extensions_mut().insert(BodyLimit(MAX_BODY_BYTES));
    if request.extensions().get::<Caller>().is_some() {
        return next.run(request).await;
    }
    let public = PUBLIC_PATHS.contains(&request.uri().path());
    let resolved = caller::attach(
        CallerSettings::of(&state.config().common),
        state.clients(),
        state.pool(),
        &mut request,
        public,
    )
    .await;
    match resolved {
        Ok(()) => next.run(request).await,
        Err(CallerRejection::Unauthorized(message)) => {
            ApiError::Unauthorized { message }.into_response()
        }
        Err(CallerRejection::Unavailable) => ApiError::Unavailable.into_response(),
    }
}

/// The `/api/v1` routes: what clients call (directly, or through an agent's forward).
pub fn api_routes(state: AppState) -> Router {
    let api =
        |routes: MethodRouter<AppState>| routes.fallback(|| async { ApiError::MethodNotAllowed });
    Router::new()
        .route(
            "/api/v1/dynamic-policies",
            api(get(dynamic_policies::list).post(dynamic_policies::create)),
        )
        .route(
            "/api/v1/dynamic-policies/effective",
            api(get(dynamic_policies::effective)),
        )
        .route(
            "/api/v1/dynamic-policies/test",
            api(post(dynamic_policies::test)),
        )
        .route(
            "/api/v1/dynamic-policies/{id}",
            api(get(dynamic_policies::get)
                .put(dynamic_policies::update)
                .patch(dynamic_policies::update)
                .delete(dynamic_policies::delete)),
        )
        .route(
            "/api/v1/dynamic-policies/{id}/versions",
            api(get(dynamic_policies::versions)),
        )
        .route(
            "/api/v1/budgets",
            api(get(budgets::list).post(budgets::create)),
        )
        .route("/api/v1/budgets/check", api(post(budgets::check)))
        .route(
            "/api/v1/budgets/{id}",
            api(get(budgets::get)
                .put(budgets::update)
                .delete(budgets::delete)),
        )
        .route("/api/v1/budgets/{id}/status", api(get(budgets::status)))
        .route("/api/v1/budgets/{id}/alerts", api(get(budgets::alerts)))
        .route(
            "/api/v1/llm-providers",
            api(get(llm_providers::list).post(llm_providers::create)),
        )
        .route(
            "/api/v1/llm-providers/{name}",
            api(get(llm_providers::get)
                .put(llm_providers::update)
                .patch(llm_providers::update)
                .delete(llm_providers::delete)),
        )
        .route(
            "/api/v1/llm-providers/{name}/test",
            api(post(llm_providers::test)),
        )
        .route(
            "/api/v1/llm-providers/{name}/health",
            api(get(llm_providers::health)),
        )
        .route("/api/v1/providers/status", api(get(llm_providers::status)))
        .route("/api/v1/usage", api(get(usage::summary)))
        .route("/api/v1/usage/breakdown", api(get(usage::breakdown)))
        .route("/api/v1/usage/records", api(get(usage::records)))
        .route("/api/v1/pricing", api(get(usage::pricing)))
        .route("/health", api(get(health::health)))
        .route("/metrics", api(get(metrics)))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            resolve_caller,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

pub fn app(state: AppState) -> Router {
    let api = api_routes(state.clone());
    let internal = Router::new()
        .route(PING_PATH, get(ping).post(ping))
        .route(FORWARD_PATH, post(forward::forward))
        .route(PROXY_PATH, post(proxy::proxy))
        .layer(axum::Extension(forward::ApiRouter(api.clone())))
        // Inside the signature check: only signed calls make spans.
        .layer(axum::middleware::from_fn(traced))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            signature::require_signature::<AppState>,
        ))
        .with_state(state.clone());
    // One limit over everything, internal calls included: a flood of unsigned bodies is bounded too.
    api.merge(internal)
        .layer(axum::middleware::from_fn_with_state(
            state.in_flight().clone(),
            axonflow_platform::http::inflight::limit_in_flight,
        ))
}

/// Connects, migrates, compiles the system policies and serves until SIGTERM or ctrl-c.
pub async fn run(config: axonflow_platform::config::OrchestratorConfig) -> Result<(), StartError> {
    let common = &config.common;
    let pool = db::connect(
        common.database_url.expose(),
        common.database_max_connections,
    )
    .await?;
    db::migrate(&pool).await?;
    let resealed =
        axonflow_platform::routing::check_stored_keys(&pool, common.provider_keys.as_deref())
            .await?;
    if resealed > 0 {
        tracing::info!(
            resealed,
            "provider keys re-sealed under the current key-encryption key"
        );
    }
    let nonce_pool = db::connect_async_commit(common.database_url.expose(), 4).await?;
    let specs = db::load_system_policies(&pool).await?;
    let engine = Engine::compile(
        &specs,
        CompileOptions {
            pii_action: config.pii_action,
            sqli_action: config.sqli_action,
        },
    )?;
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
        .build()
        .map_err(|e| StartError::HttpClient(e.to_string()))?;
    let policies = PolicyStore::new(engine, axonflow_platform::cpu::CpuPool::for_this_machine());
    policies.warm_up_in_background();
    let address = format!("{}:{}", common.bind_address, common.port);
    let peer_interval = config.peer_check_interval;
    let refresh = config.policy_refresh_interval;
    let state = AppState::new(config, pool.clone(), nonce_pool, policies, http, pricing);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|source| StartError::Listen {
            address: address.clone(),
            source,
        })?;
    let local: SocketAddr = listener
        .local_addr()
        .map_err(|source| StartError::Listen { address, source })?;
    let background = [
        tokio::spawn(
            state
                .clients()
                .clone()
                .refresh_forever(pool.clone(), refresh),
        ),
        tokio::spawn(
            state
                .policies()
                .clone()
                .refresh_forever(pool.clone(), refresh),
        ),
        tokio::spawn(state.agent().clone().run_forever(peer_interval)),
    ];
    tracing::info!("axonflow-orchestrator listening on http://{local}");
    let served = axum::serve(
        axonflow_platform::http::listener_without_delay(listener),
        app(state),
    )
    .with_graceful_shutdown(axonflow_platform::shutdown::signal())
    .await
    .map_err(StartError::Serve);
    for task in background {
        task.abort();
    }
    served
}
