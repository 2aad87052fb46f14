//! The AxonFlow orchestrator as a library. Today it runs the shared migrations and serves `/health`;
//! tenant policies and provider routing for Proxy Mode build on this skeleton.

use std::net::SocketAddr;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use axonflow_platform::config::OrchestratorConfig;
use axonflow_platform::db::{self, PgPool};

pub const SERVICE: &str = "axonflow-orchestrator";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug)]
pub enum StartError {
    Database(db::DbError),
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
}

async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Json<Value> {
    let database = match tokio::time::timeout(
        std::time::Duration::from_secs(2),
        db::ping(&state.pool),
    )
    .await
    {
        Ok(Ok(())) => "ok",
        _ => "unreachable",
    };
    Json(json!({
        "status": "healthy",
        "service": SERVICE,
        "version": VERSION,
        "database": database,
        "capabilities": [],
    }))
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
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
    tracing::info!("axonflow-orchestrator listening on http://{local}");
    axum::serve(listener, app(AppState { pool }))
        .with_graceful_shutdown(axonflow_platform::shutdown::signal())
        .await
        .map_err(StartError::Serve)
}
