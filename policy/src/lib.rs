//! Pure policy engine: `PolicySpec`s are compiled once into an `Engine`, which evaluates text and returns
//! a `Decision` listing every match. Every byte given is scanned; bounding input size is the caller's job.
//! Match previews never hold the matched value (`preview.rs`). No IO, no async runtime, no serialization: callers map specs from
//! their storage and decisions to their wire formats.
//!
//! Evaluation cannot fail: every problem a policy can have is found by `Engine::compile`, which reports
//! all of them at once with the path of the offending field.
//!
//! # How evaluation stays fast
//! Each built-in detector names trigger literals (or "a numeric token with at least N digits", or a
//! context word). One aho-corasick pass over the text finds the triggers; each detector's regex then
//! runs only in windows around its own triggers, and validators (checksums, issuing rules, context,
//! quote balance) run only on candidates. A detector may first confirm each trigger occurrence from
//! the bytes after it (a quote must be followed by an operator or an SQL keyword, `%` by two hex
//! digits), so that apostrophes and percentages in prose open no window at all. Custom regex and keyword policies scan the whole text.
//! `cargo bench -p axonflow-policy` measures it (1 KB / 16 KB / 1 MB benign prompts, a 1 KB prompt full
//! of matches, and p50/p99 of single 2 KB evaluations).
//!
//! # Detection quality
//! Measured on the labelled corpus (`../shared/corpus/`) by `quality_tests.rs`, which fails when a
//! corpus file holds fewer than 50 items or a label fewer than 30, and below a recall and precision
//! floor for every label (checksum-validated PII 0.98 / 0.99; e-mail and PAN 0.99 / 0.98; phone, IP,
//! passport and NINO 0.95 / 0.98; SQL injection and dangerous queries 0.95 / 0.98), or above 0.2% of
//! benign prose and 1% of hard negatives with any match. An empty measurement is NaN and meets no
//! floor. `cargo test -p axonflow-policy quality -- --nocapture` prints:
//!
//! | label | items | TP | FP | FN | recall | precision |
//! |---|---:|---:|---:|---:|---:|---:|
//! | dangerous | 180 | 180 | 0 | 0 | 1.0000 | 1.0000 |
//! | pii:aadhaar | 81 | 81 | 0 | 0 | 1.0000 | 1.0000 |
//! | pii:credit_card | 174 | 174 | 0 | 0 | 1.0000 | 1.0000 |
//! | pii:email | 106 | 106 | 1 | 0 | 1.0000 | 0.9907 |
//! | pii:iban | 75 | 75 | 0 | 0 | 1.0000 | 1.0000 |
//! | pii:ip | 66 | 66 | 0 | 0 | 1.0000 | 1.0000 |
//! | pii:pan | 66 | 66 | 0 | 0 | 1.0000 | 1.0000 |
//! | pii:phone | 144 | 141 | 1 | 3 | 0.9792 | 0.9930 |
//! | pii:ssn | 90 | 90 | 0 | 0 | 1.0000 | 1.0000 |
//! | pii:uk_nino | 51 | 51 | 0 | 0 | 1.0000 | 1.0000 |
//! | pii:us_passport | 51 | 51 | 0 | 0 | 1.0000 | 1.0000 |
//! | sqli | 2700 | 2584 | 10 | 116 | 0.9570 | 0.9961 |
//! | benign prose with any match | 1500 | | 0 | | | rate 0.0000 |
//! | hard negatives with any match | 648 | | 1 | | | rate 0.0015 |
//!
//! # Fuzzing
//! `fuzz/` holds two cargo-fuzz targets: `evaluate` (arbitrary text through every system policy, in
//! blocking and redacting configurations, checking span and redaction invariants) and `compile`
//! (arbitrary regex, keyword and built-in specs). With `cargo install cargo-fuzz`, on the stable
//! toolchain: `cargo fuzz run -s none -O evaluate -- -max_total_time=240` (likewise `compile`).

mod catalogue;
mod compile;
mod decision;
mod detectors;
mod dynamic;
mod overlap;
mod preview;
mod spec;
pub mod stream;

#[cfg(test)]
mod quality_tests;

pub use catalogue::system_policies;
pub use compile::{
    evaluate_layers, evaluation_cost, test_pattern, Adjustment, Adjustments, CompileError,
    CompileErrors, CompileOptions, Engine, Layer, PatternTrial,
};
pub use decision::{Decision, Match, Verdict};
pub use detectors::builtin_detector_names;
pub use dynamic::{
    ActionSpec, ConditionSpec, ConditionValue, DynamicAction, DynamicDecision, DynamicEngine,
    DynamicMatch, DynamicSpec, Facts,
};
pub use spec::{Action, DetectorSpec, PolicySpec, Severity, Tier, UnknownValue};
