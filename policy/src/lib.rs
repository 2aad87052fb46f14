//! Pure policy engine: `PolicySpec`s are compiled once into an `Engine`, which evaluates text and returns
//! a `Decision` listing every match. No IO, no async runtime, no serialization: callers map specs from
//! their storage and decisions to their wire formats.
//!
//! Evaluation cannot fail: every problem a policy can have is found by `Engine::compile`, which reports
//! all of them at once with the path of the offending field.

mod catalogue;
mod compile;
mod decision;
mod detectors;
mod spec;

#[cfg(test)]
mod quality_tests;

pub use catalogue::system_policies;
pub use compile::{CompileError, CompileErrors, CompileOptions, Engine};
pub use decision::{Decision, Match, Verdict};
pub use detectors::builtin_detector_names;
pub use spec::{Action, DetectorSpec, PolicySpec, Severity, Tier, UnknownValue};
