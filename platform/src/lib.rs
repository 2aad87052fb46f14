//! Service plumbing shared by the agent and the orchestrator: configuration, the database (the only
//! place with SQL), the audit writer, token pricing, logging and trace ids, and the HTTP layers both
//! services mount (`http`: caller resolution, signed internal calls, strict JSON, load shedding, the
//! AxonFlow error shape). No routes here.

pub mod audit;
pub mod budget;
pub mod client_auth;
pub mod config;
pub mod cpu;
pub mod credentials;
pub mod db;
pub mod facts;
pub mod http;
pub mod internal_auth;
pub mod internal_call;
pub mod metrics;
pub mod peer;
pub mod policy_store;
pub mod pricing;
pub mod provider_keys;
pub mod routing;
pub mod shutdown;
pub mod telemetry;
pub mod trace;

/// The async runtime of a service: multi-threaded, with `worker_threads` threads (one per core when
/// `None`, `AXONFLOW_WORKER_THREADS` in the environment).
pub fn runtime(worker_threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(threads) = worker_threads {
        builder.worker_threads(threads);
    }
    builder.build()
}
