//! The AxonFlow orchestrator as a library. Today it runs the shared migrations, serves `/health`,
//! answers signed internal calls from agents (`/internal/*`), and checks an agent (`AGENT_URL`) with
//! signed calls of its own. In enterprise mode every other route needs client credentials. Tenant
//! (dynamic) policies and provider routing for Proxy Mode build on this skeleton.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use axonflow_platform::client_auth::ClientStore;
use axonflow_platform::config::{CommonConfig, OrchestratorConfig};
use axonflow_platform::db::{self, PgPool};
use axonflow_platform::http::caller::{self, CallerRejection, CallerSettings};
use axonflow_platform::http::error_response as error;
use axonflow_platform::http::signature::{self, SignedCalls};
use axonflow_platform::internal_auth::InternalAuth;
use axonflow_platform::peer::{PeerChecker, PING_PATH};

pub const SERVICE: &str = "axonflow-orchestrator";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Routes that answer without credentials.
const PUBLIC_PATHS: &[&str] = &["/health"];

#[derive(Debug)]
pub enum StartError {
    Database(db::DbError),
    HttpClient(String),
    Listen {
        address: String,
        source: std::io::Error,
    },
    Serve(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Database(error) => write!(f, "database: {error}"),
            StartError::HttpClient(error) => write!(f, "HTTP client: {error}"),
            StartError::Listen { address, source } => {
                write!(f, "cannot listen on {address}: {source}")
            }
            StartError::Serve(error) => write!(f, "server error: {error}"),
        }
    }
}

impl std::error::Error for StartError {}

#[derive(Clone)]
pub struct AppState {
    pool: PgPool,
    common: Arc<CommonConfig>,
    clients: Arc<ClientStore>,
    internal_auth: Option<InternalAuth>,
    agent: Arc<PeerChecker>,
}

impl SignedCalls for AppState {
    fn internal_auth(&self) -> Option<&InternalAuth> {
        self.internal_auth.as_ref()
    }

    fn nonce_pool(&self) -> &PgPool {
        &self.pool
    }
}

async fn health(State(state): State<AppState>) -> Json<Value> {
    let database = match tokio::time::timeout(
        std::time::Duration::from_secs(2),
        db::ping(&state.pool),
    )
    .await
    {
        Ok(Ok(())) => "ok",
        _ => "unreachable",
    };
    let agent = state.agent.status();
    Json(json!({
        "status": "healthy",
        "service": SERVICE,
        "version": VERSION,
        "database": database,
        "agent": {
            "status": agent.state,
            "checked_at": agent.checked_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            "http_status": agent.http_status,
        },
        "capabilities": [],
    }))
}

async fn ping() -> Json<Value> {
    Json(json!({
        "service": SERVICE,
        "version": VERSION,
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    }))
}

async fn not_found(request: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("no such endpoint: {}", request.uri().path()),
    )
}

/// Resolves the caller of every route but the internal ones (which are signed instead): in
/// enterprise mode every route but `/health` needs client credentials or the admin key.
async fn resolve_caller(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/internal/") {
        return next.run(request).await;
    }
    let resolved = caller::resolve(
        CallerSettings::of(&state.common),
        &state.clients,
        &state.pool,
        request.headers(),
        request.uri().query(),
        PUBLIC_PATHS.contains(&path.as_str()),
    )
    .await;
    match resolved {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(CallerRejection::Unauthorized(message)) => {
            error(StatusCode::UNAUTHORIZED, "unauthorized", &message)
        }
        Err(CallerRejection::Unavailable) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the database is unavailable; retry shortly",
        ),
    }
}

pub fn app(state: AppState) -> Router {
    let internal = Router::new().route(PING_PATH, get(ping).post(ping)).layer(
        axum::middleware::from_fn_with_state(
            state.clone(),
            signature::require_signature::<AppState>,
        ),
    );
    Router::new()
        .route("/health", get(health))
        .merge(internal)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            resolve_caller,
        ))
        .with_state(state)
}

/// Connects, migrates and serves until SIGTERM or ctrl-c.
pub async fn run(config: OrchestratorConfig) -> Result<(), StartError> {
    let common = &config.common;
    let pool = db::connect(
        common.database_url.expose(),
        common.database_max_connections,
    )
    .await
    .map_err(StartError::Database)?;
    db::migrate(&pool).await.map_err(StartError::Database)?;
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| StartError::HttpClient(e.to_string()))?;
    let internal_auth = common
        .internal_service_secret
        .as_ref()
        .and_then(|secret| InternalAuth::new(secret).ok());
    let state = AppState {
        pool: pool.clone(),
        common: Arc::new(common.clone()),
        clients: Arc::new(ClientStore::new()),
        agent: Arc::new(PeerChecker::new(
            config.agent_url.clone(),
            internal_auth.clone(),
            http,
        )),
        internal_auth,
    };
    let address = format!("{}:{}", common.bind_address, common.port);
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
                .clients
                .clone()
                .refresh_forever(pool.clone(), std::time::Duration::from_millis(250)),
        ),
        tokio::spawn(state.agent.clone().run_forever(config.peer_check_interval)),
    ];
    tracing::info!("axonflow-orchestrator listening on http://{local}");
    let served = axum::serve(listener, app(state))
        .with_graceful_shutdown(axonflow_platform::shutdown::signal())
        .await
        .map_err(StartError::Serve);
    for task in background {
        task.abort();
    }
    served
}
