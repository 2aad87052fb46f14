//! Logging setup. Log lines go to standard output; they never carry request headers or bodies.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber with `filter` (the `RUST_LOG` syntax, `info` when empty).
pub fn init_logging(filter: &str) -> Result<(), String> {
    let filter = if filter.trim().is_empty() {
        "info"
    } else {
        filter
    };
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| format!("RUST_LOG={filter:?} is not a valid filter: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_ansi(false)
        .try_init()
        .map_err(|e| format!("logging is already initialised: {e}"))
}
