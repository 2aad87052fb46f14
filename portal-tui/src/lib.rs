//! `axonflow-portal`, the terminal admin portal of AxonFlow, as a library: the binary only gathers
//! its settings and calls `runtime::run`. The portal talks to the agent's admin API over HTTP and
//! to nothing else.

pub mod api;
pub mod app;
pub mod config;
pub mod dialog;
pub mod keys;
pub mod runtime;
pub mod screens;
pub mod ui;
