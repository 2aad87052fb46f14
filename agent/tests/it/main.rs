//! Black-box tests of the agent binary: each test starts the real `axonflow-agent` on its own fresh
//! Postgres database (from `DATABASE_URL`) against a mock upstream provider on a loopback port.

mod admin_portal;
mod at_rest;
mod audit_pipeline;
mod audit_search;
mod bounds;
mod common;
mod decision_mode;
mod enterprise;
mod fail_closed;
mod gateway;
mod gateway_mode;
mod governance;
mod metrics;
mod providers;
mod proxy_mode;
mod startup;
mod static_policies;
mod streaming;
mod tracing;
