//! Evaluates arbitrary text with every system policy and checks the decision's invariants: spans lie on
//! character boundaries inside the text, redaction only happens with redact matches.
#![no_main]

use std::sync::LazyLock;

use axonflow_policy::{system_policies, Action, CompileOptions, Engine};
use libfuzzer_sys::fuzz_target;

static BLOCKING: LazyLock<Engine> =
    LazyLock::new(|| Engine::compile(&system_policies(), CompileOptions::default()).expect("compiles"));
static REDACTING: LazyLock<Engine> = LazyLock::new(|| {
    let options = CompileOptions {
        pii_action: Some(Action::Redact),
        sqli_action: Some(Action::Redact),
    };
    Engine::compile(&system_policies(), options).expect("compiles")
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for engine in [&*BLOCKING, &*REDACTING] {
        let decision = engine.evaluate(&text);
        for found in &decision.matches {
            assert!(found.span.start < found.span.end && found.span.end <= text.len());
            assert!(text.is_char_boundary(found.span.start) && text.is_char_boundary(found.span.end));
        }
        let any_redact = decision.matches.iter().any(|m| m.action == Action::Redact);
        assert_eq!(decision.redacted_text.is_some(), any_redact);
        let _ = decision.block_reason();
        let _ = decision.frameworks();
    }
});
