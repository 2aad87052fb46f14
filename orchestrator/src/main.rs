//! Entry point of `axonflow-orchestrator`: reads the environment (the only place that does), sets up
//! logging and runs the service.

use std::collections::HashMap;
use std::process::ExitCode;

use axonflow_platform::config::OrchestratorConfig;

fn main() -> ExitCode {
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = match OrchestratorConfig::from_source(&env) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("axonflow-orchestrator: {errors}");
            return ExitCode::from(2);
        }
    };
    match axonflow_platform::runtime(config.common.worker_threads) {
        Ok(runtime) => runtime.block_on(serve(env, config)),
        Err(error) => {
            eprintln!("axonflow-orchestrator: cannot start the runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(env: HashMap<String, String>, config: OrchestratorConfig) -> ExitCode {
    let telemetry = match axonflow_platform::telemetry::init(
        env.get("RUST_LOG").map_or("info", String::as_str),
        false,
        config.common.otel.as_ref(),
        axonflow_orchestrator::SERVICE,
    ) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("axonflow-orchestrator: {error}");
            return ExitCode::from(2);
        }
    };
    let result = axonflow_orchestrator::run(config).await;
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "axonflow-orchestrator stopped");
            eprintln!("axonflow-orchestrator: {error}");
            ExitCode::FAILURE
        }
    }
}
