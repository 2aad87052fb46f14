//! Entry point of `axonflow-portal`: reads the arguments and the environment (the only place that
//! does), then runs the portal. Exit codes: 0 after `q`, 2 for a missing or refused admin key or bad
//! arguments, 1 for a terminal error.

use std::path::PathBuf;
use std::process::ExitCode;

use axonflow_portal::app::Exit;
use axonflow_portal::config::{self, ConfigError, Inputs};
use axonflow_portal::runtime;

fn main() -> ExitCode {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let config_home = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".config")));
    let inputs = Inputs {
        args: std::env::args().skip(1).collect(),
        env_url: env("AXONFLOW_URL"),
        env_admin_key: env("ADMIN_API_KEY"),
        config_home,
    };
    let config = match config::resolve(inputs) {
        Ok(config) => config,
        Err(ConfigError::Help) => {
            print!("{}", config::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let url = config.url.clone();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("axonflow-portal: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(runtime::run(config)) {
        Ok(Exit::Quit) => ExitCode::SUCCESS,
        Ok(Exit::KeyRejected) => {
            eprintln!("axonflow-portal: the admin key was rejected by the agent at {url} (401); check ADMIN_API_KEY");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("axonflow-portal: {error}");
            ExitCode::from(1)
        }
    }
}
