//! Entry point of `axonflow-orchestrator`: reads the environment (the only place that does), sets up
//! logging and runs the service.

use std::collections::HashMap;
use std::process::ExitCode;

use axonflow_platform::config::OrchestratorConfig;

#[tokio::main]
async fn main() -> ExitCode {
    let env: HashMap<String, String> = std::env::vars().collect();
    if let Err(error) = axonflow_platform::telemetry::init_logging(
        env.get("RUST_LOG").map_or("info", String::as_str),
    ) {
        eprintln!("axonflow-orchestrator: {error}");
        return ExitCode::from(2);
    }
    let config = match OrchestratorConfig::from_source(&env) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("axonflow-orchestrator: {errors}");
            return ExitCode::from(2);
        }
    };
    match axonflow_orchestrator::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "axonflow-orchestrator stopped");
            eprintln!("axonflow-orchestrator: {error}");
            ExitCode::FAILURE
        }
    }
}
