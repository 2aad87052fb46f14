//! Entry point of `axonflow-portal`, the terminal admin portal. The interactive portal (credentials,
//! policies, audits over the agent's admin API) is not built yet; this prints its usage.

use std::process::ExitCode;

const USAGE: &str = "\
axonflow-portal: terminal admin portal for AxonFlow

Usage:
  axonflow-portal [--agent-url URL]

The interactive portal (clients and credentials, policies, audit tail) talks to the agent's admin API
with ADMIN_API_KEY. It is not available in this version; use the HTTP API directly meanwhile.
";

fn main() -> ExitCode {
    let wants_help = std::env::args().skip(1).any(|a| a == "--help" || a == "-h");
    print!("{USAGE}");
    if wants_help {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
