//! Throughput and latency of `Engine::evaluate` with every system policy enabled:
//! `cargo bench -p axonflow-policy`. Reports bytes/s for benign prompts of 1 KB, 16 KB and 1 MB, for a
//! 1 KB prompt full of personal data and SQL, for 64 KB lines that wake the SQL judgement at every
//! quote or condition (dialogue, repeated tautologies, a run of `=`, a word of repeated keywords,
//! `' or '` repeated), and for the benign prose of the labelled
//! corpus text by text; then prints p50/p99 of single 2 KB evaluations, and of 100 dynamic policies
//! on a 2 KB prompt.

use std::hint::black_box;
use std::time::{Duration, Instant};

use axonflow_policy::{
    system_policies, ActionSpec, CompileOptions, ConditionSpec, ConditionValue, DynamicEngine,
    DynamicSpec, Engine, Facts,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Ordinary support-chat prose with numbers, dates, versions and punctuation, repeated to `len` bytes.
fn benign(len: usize) -> String {
    const SENTENCES: &[&str] = &[
        "Hi! I ordered a blue jacket last week (order 48213) and it has not arrived yet.",
        "Can you tell me what the usual delivery time is, and how I can track the parcel?",
        "We upgraded the app to version 2.4.1 on March 3rd, 2024; since then the export is slow.",
        "Please summarise the attached meeting notes in three bullet points for the team.",
        "The quarterly report shows revenue of $1,284,000, up 12% from last year's figure.",
        "Write a short poem about autumn leaves falling on a quiet street near the river.",
        "Our users liked the new dashboard, but they asked for a dark mode and larger fonts.",
        "Translate 'see you tomorrow at 10:30' into French, Spanish and German, please.",
        "How do I join two tables on a customer id and keep rows without a match?",
        "Drop me a line when the build is green; the release is planned for Friday.",
    ];
    let mut text = String::with_capacity(len + 128);
    let mut idx = 0;
    while text.len() < len {
        text.push_str(SENTENCES[idx % SENTENCES.len()]);
        text.push(if idx % 4 == 3 { '\n' } else { ' ' });
        idx += 1;
    }
    text.truncate(len);
    while !text.is_char_boundary(text.len()) {
        text.pop();
    }
    text
}

/// A prompt where many policies match: the validators run on every candidate.
fn sensitive(len: usize) -> String {
    let chunk = "Customer Jane, SSN 123-45-6789, card 4111 1111 1111 1111, mail jane.doe@example.com, \
                 phone +1 415 555 2671, IBAN DE89 3704 0044 0532 0130 00, lookup id=1' OR '1'='1 -- and \
                 SELECT * FROM information_schema.tables; ";
    chunk.repeat(len / chunk.len() + 1)[..len].to_owned()
}

/// A tool result as agents send it back to a model: minified JSON of records with ids, timestamps,
/// flags and short descriptions, to `len` bytes. Every quote and every digit run is a trigger here,
/// so JSON reads many times slower per byte than prose.
fn json_records(len: usize) -> String {
    let mut text = String::from("{\"tool\":\"accounts.search\",\"results\":[");
    let mut idx = 0;
    while text.len() < len {
        if idx > 0 {
            text.push(',');
        }
        text.push_str(&format!(
            "{{\"id\":{},\"name\":\"{}\",\"role\":\"{}\",\"active\":{},\"last_login\":\"2026-11-{:02}T10:{:02}:00Z\",\
             \"tags\":[\"beta\",\"eu\"],\"order_count\":{},\"description\":\"Created via the signup form; prefers email.\"}}",
            1000 + idx,
            ["Alice Martin", "Bob Chen", "Carla Diaz"][idx % 3],
            ["admin", "viewer", "editor"][idx % 3],
            idx % 4 != 0,
            1 + idx % 28,
            idx % 60,
            idx * 7 % 90,
        ));
        idx += 1;
    }
    text.push_str("]}");
    text
}

/// `shape` repeated to `len` bytes on one line: the worst case of text that wakes the SQL judgement
/// at every quote or condition.
fn repeated(shape: &str, len: usize) -> String {
    shape.repeat(len / shape.len() + 1)[..len].to_owned()
}

/// The benign prose of the labelled corpus (`../shared/corpus/`, or `AXONFLOW_CORPUS_DIR`), one text
/// per message: real prose quotes, argues and cites, which synthetic prose does not. Empty when the
/// corpus is absent.
fn benign_corpus() -> Vec<String> {
    let dir = std::env::var_os("AXONFLOW_CORPUS_DIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
        std::path::PathBuf::from,
    );
    let Ok(lines) = std::fs::read_to_string(dir.join("benign_prose.jsonl")) else {
        println!(
            "evaluate/benign_corpus: skipped, no corpus in {}",
            dir.display()
        );
        return Vec::new();
    };
    lines
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|item| item["text"].as_str().map(str::to_owned))
        .collect()
}

fn engine() -> Engine {
    Engine::compile(&system_policies(), CompileOptions::default()).expect("system policies compile")
}

fn throughput(c: &mut Criterion) {
    let engine = engine();
    let mut group = c.benchmark_group("evaluate");
    for (name, text) in [
        ("benign_1KB", benign(1024)),
        ("benign_16KB", benign(16 * 1024)),
        ("benign_1MB", benign(1024 * 1024)),
        ("sensitive_1KB", sensitive(1024)),
        ("json_records_4KB", json_records(4 * 1024)),
        (
            "dialogue_64KB",
            repeated("He said \"yes\" and she said \"no\". ", 64 * 1024),
        ),
        ("quoted_tautologies_64KB", repeated("'1'='1 ", 64 * 1024)),
        ("tautologies_64KB", repeated("1 or 1=1 ", 64 * 1024)),
        // Runs that every trigger in them used to read to their end: quadratic before.
        ("operator_run_64KB", repeated("=", 64 * 1024)),
        ("keyword_word_64KB", repeated("like", 64 * 1024)),
        ("call_word_64KB", repeated("sleep", 64 * 1024)),
        ("breakouts_64KB", repeated("' or '", 64 * 1024)),
    ] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        if text.len() > 60_000 {
            group.sample_size(10);
        }
        group.bench_function(name, |b| {
            b.iter(|| black_box(engine.evaluate(black_box(&text))))
        });
    }
    let corpus = benign_corpus();
    if !corpus.is_empty() {
        let bytes: usize = corpus.iter().map(String::len).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        group.sample_size(20);
        group.bench_function("benign_corpus", |b| {
            b.iter(|| {
                for text in &corpus {
                    black_box(engine.evaluate(black_box(text)));
                }
            })
        });
    }
    group.finish();
}

/// Criterion reports means; the latency target is a percentile, so measure it directly.
fn latency_percentiles(_: &mut Criterion) {
    let engine = engine();
    for (name, text) in [
        ("benign_2KB", benign(2048)),
        ("sensitive_2KB", sensitive(2048)),
    ] {
        for _ in 0..200 {
            black_box(engine.evaluate(&text));
        }
        let mut samples: Vec<Duration> = (0..5_000)
            .map(|_| {
                let started = Instant::now();
                black_box(engine.evaluate(black_box(&text)));
                started.elapsed()
            })
            .collect();
        samples.sort_unstable();
        let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
        println!(
            "latency/{name}: p50 {:?}  p99 {:?}  max {:?}",
            at(0.50),
            at(0.99),
            at(1.0)
        );
    }
}

/// 100 dynamic policies of every kind of condition, as a tenant might hold them.
fn dynamic_policies() -> DynamicEngine {
    let text = |v: &str| ConditionValue::Text(v.to_owned());
    let condition = |field: &str, operator: &str, value: ConditionValue| ConditionSpec {
        field: field.to_owned(),
        operator: operator.to_owned(),
        value,
    };
    let specs: Vec<DynamicSpec> = (0..100)
        .map(|idx| {
            let conditions = match idx % 5 {
                0 => vec![condition(
                    "query",
                    "contains",
                    text(&format!("project-{idx}")),
                )],
                1 => vec![
                    condition(
                        "user.role",
                        "in",
                        ConditionValue::List(vec![text("contractor"), text("intern")]),
                    ),
                    condition("query", "contains", text(&format!("secret plan {idx}"))),
                ],
                2 => vec![condition(
                    "query",
                    "regex",
                    text(&format!(r"\bticket-{idx}\d{{3}}\b")),
                )],
                3 => vec![
                    condition(
                        "estimated_tokens",
                        "greater_than",
                        ConditionValue::Number(100_000.0),
                    ),
                    condition("model", "starts_with", text("gpt-4")),
                ],
                _ => vec![
                    condition("context.department", "equals", text("finance")),
                    condition(
                        "time.weekday",
                        "in",
                        ConditionValue::List(vec![text("saturday"), text("sunday")]),
                    ),
                ],
            };
            DynamicSpec {
                id: format!("dyn_{idx}"),
                name: format!("dynamic {idx}"),
                priority: idx,
                enabled: true,
                conditions,
                actions: vec![ActionSpec {
                    kind: "block".to_owned(),
                    reason: None,
                    allowed_providers: Vec::new(),
                }],
            }
        })
        .collect();
    DynamicEngine::compile(&specs).expect("dynamic policies compile")
}

/// p50/p99 of 100 dynamic policies on a 2 KB prompt (the target is p99 under 20 µs).
fn dynamic_latency(c: &mut Criterion) {
    let engine = dynamic_policies();
    let query = benign(2048);
    let mut context = std::collections::HashMap::new();
    context.insert("department".to_owned(), "support".to_owned());
    let facts = Facts {
        query: &query,
        user_role: Some("employee"),
        model: Some("gpt-4o-mini"),
        estimated_tokens: 512,
        hour: 14,
        weekday: "tuesday",
        context: Some(&context),
        ..Facts::default()
    };
    c.bench_function("dynamic/100_policies_2KB", |b| {
        b.iter(|| black_box(engine.evaluate(black_box(&facts))))
    });
    for _ in 0..200 {
        black_box(engine.evaluate(&facts));
    }
    let mut samples: Vec<Duration> = (0..5_000)
        .map(|_| {
            let started = Instant::now();
            black_box(engine.evaluate(black_box(&facts)));
            started.elapsed()
        })
        .collect();
    samples.sort_unstable();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "latency/dynamic_100_policies_2KB: p50 {:?}  p99 {:?}  max {:?}",
        at(0.50),
        at(0.99),
        at(1.0)
    );
}

criterion_group!(benches, throughput, latency_percentiles, dynamic_latency);
criterion_main!(benches);
