//! Entry point of `axonflow-agent`: reads the environment (the only place that does), sets up logging
//! and runs the service.

use std::collections::HashMap;
use std::process::ExitCode;

use axonflow_platform::config::AgentConfig;

#[tokio::main]
async fn main() -> ExitCode {
    let env: HashMap<String, String> = std::env::vars().collect();
    if let Err(error) = axonflow_platform::telemetry::init_logging(
        env.get("RUST_LOG").map_or("info", String::as_str),
    ) {
        eprintln!("axonflow-agent: {error}");
        return ExitCode::from(2);
    }
    let config = match AgentConfig::from_source(&env) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("axonflow-agent: {errors}");
            return ExitCode::from(2);
        }
    };
    match axonflow_agent::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "axonflow-agent stopped");
            eprintln!("axonflow-agent: {error}");
            ExitCode::FAILURE
        }
    }
}
