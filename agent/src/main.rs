//! Entry point of `axonflow-agent`: reads the environment (the only place that does), sets up logging
//! and runs the service.

use std::collections::HashMap;
use std::process::ExitCode;

use axonflow_platform::config::AgentConfig;

/// Every request allocates and frees many small buffers (bodies, JSON values, headers): mimalloc's
/// per-thread free lists cost a fraction of the system allocator's, measured in `bench/`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let env: HashMap<String, String> = std::env::vars().collect();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match AgentConfig::from_source(&env) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("axonflow-agent: {errors}");
            return ExitCode::from(2);
        }
    };
    match axonflow_platform::runtime(config.common.worker_threads) {
        Ok(runtime) => runtime.block_on(serve(env, args, config)),
        Err(error) => {
            eprintln!("axonflow-agent: cannot start the runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(env: HashMap<String, String>, args: Vec<String>, config: AgentConfig) -> ExitCode {
    let one_shot = !args.is_empty();
    let filter = env.get("RUST_LOG").map_or("info", String::as_str);
    // One-shot commands log to standard error and export no traces.
    let telemetry = axonflow_platform::telemetry::init(
        filter,
        one_shot,
        if one_shot {
            None
        } else {
            config.common.otel.as_ref()
        },
        "axonflow-agent",
    );
    let telemetry = match telemetry {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("axonflow-agent: {error}");
            return ExitCode::from(2);
        }
    };
    if args.first().map(String::as_str) == Some("verify-audit") {
        let tenant = match args.get(1).map(String::as_str) {
            None => None,
            Some("--tenant") if args.len() == 3 => Some(args[2].as_str()),
            Some(_) => {
                eprintln!("usage: axonflow-agent verify-audit [--tenant TENANT_ID]");
                return ExitCode::from(2);
            }
        };
        return match axonflow_agent::verify_audit(&config, tenant).await {
            Ok(report) => {
                println!("{}", axonflow_agent::verify_report_json(&report));
                if report.broken.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(error) => {
                eprintln!("axonflow-agent verify-audit: {error}");
                ExitCode::from(2)
            }
        };
    }
    if let Some(other) = args.first() {
        eprintln!(
            "axonflow-agent: unknown command {other:?}\nusage: axonflow-agent                  run the agent\n       axonflow-agent verify-audit [--tenant TENANT_ID]"
        );
        return ExitCode::from(2);
    }
    let result = axonflow_agent::run(config).await;
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "axonflow-agent stopped");
            eprintln!("axonflow-agent: {error}");
            ExitCode::FAILURE
        }
    }
}
