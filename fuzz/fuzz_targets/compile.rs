//! Compiles policies built from arbitrary input (each line a regex or a keyword list) and evaluates the
//! input with whatever compiled: compile must report problems, never panic, and evaluation must not fail.
#![no_main]

use axonflow_policy::{Action, CompileOptions, DetectorSpec, Engine, PolicySpec, Severity, Tier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let specs: Vec<PolicySpec> = text
        .lines()
        .take(16)
        .enumerate()
        .map(|(idx, line)| {
            let detector = match idx % 3 {
                0 => DetectorSpec::Regex(line.to_owned()),
                1 => DetectorSpec::Keywords(line.split(',').map(str::to_owned).collect()),
                _ => DetectorSpec::Builtin(line.to_owned()),
            };
            PolicySpec {
                id: format!("p{}", idx % 5),
                name: line.chars().take(20).collect(),
                description: String::new(),
                category: if idx % 2 == 0 { "pii-custom".to_owned() } else { "custom".to_owned() },
                tier: Tier::Tenant,
                detector,
                action: if idx % 2 == 0 { Action::Redact } else { Action::Block },
                severity: Severity::Medium,
                priority: idx as i32,
                enabled: idx % 4 != 3,
                tags: Vec::new(),
                frameworks: Vec::new(),
            }
        })
        .collect();
    match Engine::compile(&specs, CompileOptions::default()) {
        Ok(engine) => {
            let decision = engine.evaluate(&text);
            for found in &decision.matches {
                assert!(text.is_char_boundary(found.span.start) && text.is_char_boundary(found.span.end));
            }
        }
        Err(errors) => assert!(!errors.0.is_empty()),
    }
});
