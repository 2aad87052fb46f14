//! Black-box tests of the agent binary: each test starts the real `axonflow-agent` on its own fresh
//! Postgres database (from `DATABASE_URL`) against a mock upstream provider on a loopback port.

mod common;
mod gateway;
mod startup;
