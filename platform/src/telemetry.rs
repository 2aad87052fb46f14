//! Logging setup. Log lines go to standard output (standard error for one-shot commands, whose
//! output is their result); they never carry request headers or bodies.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber with `filter` (the `RUST_LOG` syntax, `info` when empty), writing
/// to standard output.
pub fn init_logging(filter: &str) -> Result<(), String> {
    init(filter, false)
}

/// As `init_logging`, writing to standard error.
pub fn init_logging_to_stderr(filter: &str) -> Result<(), String> {
    init(filter, true)
}

fn init(filter: &str, to_stderr: bool) -> Result<(), String> {
    let filter = if filter.trim().is_empty() {
        "info"
    } else {
        filter
    };
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| format!("RUST_LOG={filter:?} is not a valid filter: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_ansi(false);
    let installed = if to_stderr {
        builder.with_writer(std::io::stderr).try_init()
    } else {
        builder.try_init()
    };
    installed.map_err(|e| format!("logging is already initialised: {e}"))
}
