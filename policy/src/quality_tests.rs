//! Detection quality on the labelled corpus in `../shared/corpus/` (or `AXONFLOW_CORPUS_DIR`): recall and
//! precision per label with the system policies, false-positive rates on benign prose and hard negatives,
//! and the floors they must stay above. Run `cargo test -p axonflow-policy quality -- --nocapture` to see
//! the table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::{system_policies, CompileOptions, Engine};

/// Labels the corpus marks and the system policies report.
const SCORED: &[&str] = &[
    "pii:ssn",
    "pii:credit_card",
    "pii:email",
    "pii:phone",
    "pii:aadhaar",
    "pii:pan",
    "pii:iban",
    "pii:ip",
    "pii:us_passport",
    "pii:uk_nino",
    "sqli",
    "dangerous",
];

/// The corpus label a policy's match stands for; `None` for types the corpus does not label
/// (secrets, UPI ids, dates of birth...).
fn corpus_label(policy_id: &str, category: &str) -> Option<&'static str> {
    let label = match policy_id {
        "sys_pii_ssn" => "pii:ssn",
        "sys_pii_credit_card" => "pii:credit_card",
        "sys_pii_email" => "pii:email",
        "sys_pii_phone" => "pii:phone",
        "sys_pii_aadhaar" => "pii:aadhaar",
        "sys_pii_pan" => "pii:pan",
        "sys_pii_iban" => "pii:iban",
        "sys_pii_ip_address" => "pii:ip",
        "sys_pii_passport" => "pii:us_passport",
        "sys_pii_uk_nino" => "pii:uk_nino",
        _ if category == "security-sqli" => "sqli",
        _ if category == "security-dangerous" || category == "security-admin" => "dangerous",
        _ => return None,
    };
    Some(label)
}

struct Item {
    file: String,
    id: String,
    text: String,
    labels: BTreeSet<String>,
}

fn corpus_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("AXONFLOW_CORPUS_DIR") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")
}

const CORPUS_FILES: &[&str] = &[
    "pii",
    "sqli",
    "dangerous",
    "hard_negatives",
    "benign_prose",
    "prompt_injection",
];

fn load() -> Vec<Item> {
    let dir = corpus_dir();
    let mut items = Vec::new();
    for file in CORPUS_FILES {
        let path = dir.join(format!("{file}.jsonl"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the labelled corpus is needed at {} (or set AXONFLOW_CORPUS_DIR): {e}",
                path.display()
            )
        });
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let value: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
            items.push(Item {
                file: (*file).to_owned(),
                id: value["id"].as_str().expect("id").to_owned(),
                text: value["text"].as_str().expect("text").to_owned(),
                labels: value["labels"]
                    .as_array()
                    .expect("labels")
                    .iter()
                    .filter_map(|l| l.as_str())
                    .filter(|l| SCORED.contains(l))
                    .map(str::to_owned)
                    .collect(),
            });
        }
    }
    items
}

#[derive(Default, Clone, Copy)]
struct Counts {
    gold: usize,
    true_positives: usize,
    false_positives: usize,
    false_negatives: usize,
}

/// Items each corpus file must hold, and gold items each scored label must have: a floor measured
/// on a handful of items (or none) proves nothing.
const MIN_ITEMS_PER_FILE: usize = 50;
const MIN_ITEMS_PER_LABEL: usize = 30;

/// Recall and precision each label must reach. Checksum-validated types are held higher.
fn floors(label: &str) -> (f64, f64) {
    match label {
        "pii:ssn" | "pii:credit_card" | "pii:aadhaar" | "pii:iban" => (0.98, 0.99),
        "pii:email" | "pii:pan" => (0.99, 0.98),
        "pii:phone" | "pii:ip" | "pii:us_passport" | "pii:uk_nino" => (0.95, 0.98),
        "sqli" | "dangerous" => (0.95, 0.98),
        _ => (1.0, 1.0),
    }
}

impl Counts {
    /// NaN without gold items: an empty label measures nothing, and NaN meets no floor.
    fn recall(&self) -> f64 {
        self.true_positives as f64 / self.gold as f64
    }

    /// NaN when nothing was predicted.
    fn precision(&self) -> f64 {
        self.true_positives as f64 / (self.true_positives + self.false_positives) as f64
    }
}

/// `value` meets `floor`; NaN never does.
fn meets(value: f64, floor: f64) -> bool {
    value >= floor
}

/// `rate` stays at or under `ceiling`; NaN never does.
fn within(rate: f64, ceiling: f64) -> bool {
    rate <= ceiling
}

/// Why the measurements fail, one line per problem (empty when they pass).
fn failures(
    counts: &BTreeMap<&str, Counts>,
    items_per_file: &BTreeMap<String, usize>,
    prose_rate: f64,
    hard_rate: f64,
) -> Vec<String> {
    let mut failures = Vec::new();
    for file in CORPUS_FILES {
        let n_items = items_per_file.get(*file).copied().unwrap_or(0);
        if n_items < MIN_ITEMS_PER_FILE {
            failures.push(format!(
                "{file}.jsonl holds {n_items} items (at least {MIN_ITEMS_PER_FILE} needed)"
            ));
        }
    }
    for label in SCORED {
        let c = counts.get(label).copied().unwrap_or_default();
        if c.gold < MIN_ITEMS_PER_LABEL {
            failures.push(format!(
                "{label}: {} gold items (at least {MIN_ITEMS_PER_LABEL} needed)",
                c.gold
            ));
        }
        let (recall, precision) = floors(label);
        if !meets(c.recall(), recall) || !meets(c.precision(), precision) {
            failures.push(format!(
                "{label}: recall {:.4} (floor {recall}), precision {:.4} (floor {precision})",
                c.recall(),
                c.precision()
            ));
        }
    }
    if !within(prose_rate, 0.002) {
        failures.push(format!(
            "benign prose false-positive rate {prose_rate:.4} > 0.002"
        ));
    }
    if !within(hard_rate, 0.01) {
        failures.push(format!(
            "hard-negative false-positive rate {hard_rate:.4} > 0.01"
        ));
    }
    failures
}

#[test]
fn quality_on_the_labelled_corpus() {
    let engine = Engine::compile(&system_policies(), CompileOptions::default())
        .expect("system policies compile");
    let items = load();
    let mut counts: BTreeMap<&str, Counts> =
        SCORED.iter().map(|l| (*l, Counts::default())).collect();
    let mut misses: Vec<String> = Vec::new();
    let (mut n_prose, mut prose_hits, mut n_hard, mut hard_hits) = (0, 0, 0, 0);
    for item in &items {
        let decision = engine.evaluate(&item.text);
        let predicted: BTreeSet<&str> = decision
            .matches
            .iter()
            .filter_map(|m| corpus_label(&m.policy_id, &m.category))
            .collect();
        for label in SCORED {
            let gold = item.labels.contains(*label);
            let hit = predicted.contains(label);
            let entry = counts.get_mut(label).expect("scored label");
            entry.gold += usize::from(gold);
            match (gold, hit) {
                (true, true) => entry.true_positives += 1,
                (true, false) => {
                    entry.false_negatives += 1;
                    misses.push(format!(
                        "FN {label:<16} {}:{} {:?}",
                        item.file, item.id, item.text
                    ));
                }
                // A stacked injection that drops a table is labelled sqli only; also calling it
                // dangerous is not wrong.
                (false, true) if *label == "dangerous" && item.labels.contains("sqli") => {}
                (false, true) => {
                    entry.false_positives += 1;
                    let ids: Vec<String> = decision
                        .matches
                        .iter()
                        .map(|m| format!("{}={:?}", m.policy_id, m.preview))
                        .collect();
                    misses.push(format!(
                        "FP {label:<16} {}:{} [{}] {:?}",
                        item.file,
                        item.id,
                        ids.join(","),
                        item.text
                    ));
                }
                (false, false) => {}
            }
        }
        let any_match = !decision.matches.is_empty();
        if item.file == "benign_prose" {
            n_prose += 1;
            prose_hits += usize::from(any_match);
        }
        if item.file == "hard_negatives" {
            n_hard += 1;
            hard_hits += usize::from(any_match);
            if any_match && predicted.is_empty() {
                let ids: Vec<&str> = decision.matches.iter().map(|m| &*m.policy_id).collect();
                misses.push(format!(
                    "FP {:<16} {}:{} {:?}",
                    ids.join(","),
                    item.file,
                    item.id,
                    item.text
                ));
            }
        }
    }
    println!("| label | items | TP | FP | FN | recall | precision |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (label, c) in &counts {
        println!(
            "| {label} | {} | {} | {} | {} | {:.4} | {:.4} |",
            c.gold,
            c.true_positives,
            c.false_positives,
            c.false_negatives,
            c.recall(),
            c.precision()
        );
    }
    let prose_rate = prose_hits as f64 / n_prose as f64;
    let hard_rate = hard_hits as f64 / n_hard as f64;
    println!(
        "| benign prose with any match | {n_prose} | | {prose_hits} | | | rate {prose_rate:.4} |"
    );
    println!(
        "| hard negatives with any match | {n_hard} | | {hard_hits} | | | rate {hard_rate:.4} |"
    );
    if std::env::var_os("AXONFLOW_CORPUS_ERRORS").is_some() {
        for line in &misses {
            println!("{line}");
        }
    }

    let mut items_per_file: BTreeMap<String, usize> = BTreeMap::new();
    for item in &items {
        *items_per_file.entry(item.file.clone()).or_default() += 1;
    }
    let failures = failures(&counts, &items_per_file, prose_rate, hard_rate);
    assert!(
        failures.is_empty(),
        "below the floors (AXONFLOW_CORPUS_ERRORS=1 lists every miss):\n{}",
        failures.join("\n")
    );
}

#[test]
fn empty_or_thin_measurements_fail() {
    let full: BTreeMap<String, usize> = CORPUS_FILES
        .iter()
        .map(|f| ((*f).to_owned(), 1000))
        .collect();
    let perfect = Counts {
        gold: 100,
        true_positives: 100,
        false_positives: 0,
        false_negatives: 0,
    };
    let all_perfect: BTreeMap<&str, Counts> = SCORED.iter().map(|l| (*l, perfect)).collect();
    assert!(failures(&all_perfect, &full, 0.0, 0.0).is_empty());

    // An empty label: recall and precision are NaN, which meet no floor.
    let mut empty_label = all_perfect.clone();
    empty_label.insert("pii:phone", Counts::default());
    let found = failures(&empty_label, &full, 0.0, 0.0);
    assert!(
        found.iter().any(|f| f.starts_with("pii:phone: 0 gold")),
        "{found:?}"
    );
    assert!(found.iter().any(|f| f.contains("recall NaN")), "{found:?}");

    // A thin label, an empty file, NaN rates.
    let mut thin = all_perfect.clone();
    thin.insert(
        "pii:uk_nino",
        Counts {
            gold: 3,
            true_positives: 3,
            ..Counts::default()
        },
    );
    let mut missing_file = full.clone();
    missing_file.insert("dangerous".to_owned(), 0);
    let found = failures(&thin, &missing_file, f64::NAN, f64::NAN);
    assert!(
        found.iter().any(|f| f.starts_with("pii:uk_nino: 3 gold")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("dangerous.jsonl holds 0")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|f| f.starts_with("benign prose")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|f| f.starts_with("hard-negative")),
        "{found:?}"
    );

    // Below a floor.
    let mut weak = all_perfect;
    weak.insert(
        "sqli",
        Counts {
            gold: 100,
            true_positives: 90,
            false_negatives: 10,
            false_positives: 0,
        },
    );
    assert_eq!(failures(&weak, &full, 0.0, 0.0).len(), 1);
}
