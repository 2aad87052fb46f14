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
