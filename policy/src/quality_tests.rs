//! Detection quality on the labelled corpus in `../shared/corpus/` (or `AXONFLOW_CORPUS_DIR`): recall and
//! precision per label with the system policies, false-positive rates on benign prose and hard negatives,
//! and the floors they must stay above. Run `cargo test -p axonflow-policy quality -- --nocapture` to see
//! the tables.
//!
//! Two measurements:
//! - `quality_on_the_labelled_corpus`: the shared corpus alone, held to the floors below.
//! - `quality_with_the_generated_sets`: the shared corpus plus the generated sets in this crate's
//!   `corpus/` (listed in `GENERATED_FILES`; each listed file must exist). `sqli_generated.jsonl`
//!   counts with the SQL injections, `negatives_generated.jsonl` with the hard negatives (and has
//!   its own false-positive line), `pii_generated.jsonl` with the personal data (national phone
//!   formats, IBANs in any case, look-alikes as negatives), `sqli_carriers.jsonl` and
//!   `negatives_carriers.jsonl` (injections in ten dialects carried bare, in requests and in code,
//!   logs, URLs and data, with look-alikes; written without sight of the detector and scored on the
//!   SQL-injection label only). It prints the label table for shared + generated, SQL-injection
//!   recall per technique (`variant`), per `kind` and per source family (the part of `source`
//!   before `:`), each for the shared and the generated items, and the false-positive rate of every
//!   generated negative subtype. Every label's floors hold on shared + generated too, with
//!   `GENERATED_SQLI_RECALL_FLOOR` and `GENERATED_NEGATIVES_FP_CEILING` for the generated items
//!   alone, and every generated file and SQL-injection technique must be as thick as the shared
//!   ones. `corpus/generate_sqli.py`, `generate_pii.py` and `generate_carriers.py` write the files.
//!
//! Environment switches:
//! - `AXONFLOW_CORPUS_ERRORS=1` lists every miss (FN and FP lines), shared misses in the first
//!   test, generated ones in the second.
//! - `AXONFLOW_CORPUS_HOLDOUT=<source family>[,<source family>...]` leaves the items of those
//!   families (`sqlmap`, `libinjection`, `generated`...) out of the miss listing, so that the
//!   detector can be tuned without looking at a held-out family's misses; the tables still count
//!   them, and the held-out recall is the honest estimate.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
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
    /// The file the item comes from (its stem).
    file: String,
    /// The shared file it counts with: a generated set of SQL injections counts as `sqli`.
    counts_as: &'static str,
    generated: bool,
    /// Scored on the SQL-injection label only (see `SQL_ONLY_FILES`).
    sql_only: bool,
    id: String,
    text: String,
    labels: BTreeSet<String>,
    kind: String,
    source: String,
    variant: String,
}

impl Item {
    /// The part of `source` before `:` (`sqlmap`, `libinjection`, `generated`...).
    fn family(&self) -> &str {
        self.source.split(':').next().unwrap_or_default()
    }
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

/// The generated sets in this crate's `corpus/` and the shared file each counts with. Every listed
/// file must exist: a set that silently disappears would raise the figures.
const GENERATED_FILES: &[(&str, &str)] = &[
    ("sqli_generated", "sqli"),
    ("negatives_generated", "hard_negatives"),
    ("pii_generated", "pii"),
    ("sqli_carriers", "sqli"),
    ("negatives_carriers", "hard_negatives"),
];

/// Generated sets labelled for SQL injection only: their texts carry IPs and e-mails, and their
/// negatives scripts with GRANT or DROP, none of it labelled, so only SQL-injection matches are
/// scored on them.
const SQL_ONLY_FILES: &[&str] = &["sqli_carriers", "negatives_carriers"];

fn generated_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

fn read_items(
    path: &std::path::Path,
    file: &str,
    counts_as: &'static str,
    generated: bool,
) -> Vec<Item> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{} is needed (the shared corpus is looked for in ../shared/corpus or \
             AXONFLOW_CORPUS_DIR; corpus/generate_sqli.py writes the generated sets): {e}",
            path.display()
        )
    });
    let field = |value: &serde_json::Value, name: &str, n: usize| -> String {
        value[name]
            .as_str()
            .unwrap_or_else(|| panic!("{file}.jsonl line {n}: no string `{name}`"))
            .to_owned()
    };
    let mut items = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let n = n + 1;
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{file}.jsonl line {n} is not JSON: {e}"));
        items.push(Item {
            file: file.to_owned(),
            counts_as,
            generated,
            sql_only: SQL_ONLY_FILES.contains(&file),
            id: field(&value, "id", n),
            text: field(&value, "text", n),
            labels: value["labels"]
                .as_array()
                .unwrap_or_else(|| panic!("{file}.jsonl line {n}: no `labels` array"))
                .iter()
                .filter_map(|l| l.as_str())
                .filter(|l| SCORED.contains(l))
                .map(str::to_owned)
                .collect(),
            kind: field(&value, "kind", n),
            source: field(&value, "source", n),
            variant: field(&value, "variant", n),
        });
    }
    items
}

fn load() -> Vec<Item> {
    let dir = corpus_dir();
    let mut items = Vec::new();
    for file in CORPUS_FILES {
        items.extend(read_items(
            &dir.join(format!("{file}.jsonl")),
            file,
            file,
            false,
        ));
    }
    items
}

fn load_generated() -> Vec<Item> {
    let dir = generated_dir();
    let mut items = Vec::new();
    for (file, counts_as) in GENERATED_FILES {
        let counts_as = CORPUS_FILES
            .iter()
            .copied()
            .find(|f| f == counts_as)
            .expect("a generated set counts with a shared corpus file");
        items.extend(read_items(
            &dir.join(format!("{file}.jsonl")),
            file,
            counts_as,
            true,
        ));
    }
    items
}

/// Source families left out of the miss listing (`AXONFLOW_CORPUS_HOLDOUT`).
fn holdout() -> BTreeSet<String> {
    std::env::var("AXONFLOW_CORPUS_HOLDOUT")
        .unwrap_or_default()
        .split(',')
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty())
        .collect()
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
        "sqli" => (0.965, 0.99),
        "dangerous" => (0.98, 0.98),
        _ => (1.0, 1.0),
    }
}

/// Floors of the generated sets: recall over every technique and form, and the share of generated
/// hard negatives (prose with quotes and "and"/"or", logic, SQL questions, scripts and code) that
/// may match anything.
const GENERATED_SQLI_RECALL_FLOOR: f64 = 0.96;
const GENERATED_NEGATIVES_FP_CEILING: f64 = 0.005;

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

/// Items with any match out of items.
#[derive(Default, Clone, Copy)]
struct Rate {
    items: usize,
    hits: usize,
}

impl Rate {
    /// NaN without items.
    fn rate(&self) -> f64 {
        self.hits as f64 / self.items as f64
    }

    fn add(&mut self, hit: bool) {
        self.items += 1;
        self.hits += usize::from(hit);
    }
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

/// Why the generated sets fail, one line per problem: a listed file thinner than
/// `MIN_ITEMS_PER_FILE`, an SQL-injection technique with fewer than `MIN_ITEMS_PER_LABEL` items,
/// the generated SQL-injection recall under its floor, the generated negatives' false-positive
/// rate over its ceiling (NaN fails both).
fn generated_failures(
    items_per_file: &BTreeMap<String, usize>,
    sqli_per_technique: &BTreeMap<String, usize>,
    sqli: Counts,
    negatives: Rate,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (file, _) in GENERATED_FILES {
        let n_items = items_per_file.get(*file).copied().unwrap_or(0);
        if n_items < MIN_ITEMS_PER_FILE {
            failures.push(format!(
                "{file}.jsonl holds {n_items} items (at least {MIN_ITEMS_PER_FILE} needed)"
            ));
        }
    }
    if sqli_per_technique.is_empty() {
        failures.push("generated sqli: no technique".to_owned());
    }
    for (technique, n) in sqli_per_technique {
        if *n < MIN_ITEMS_PER_LABEL {
            failures.push(format!(
                "generated sqli technique {technique}: {n} items \
                 (at least {MIN_ITEMS_PER_LABEL} needed)"
            ));
        }
    }
    if !meets(sqli.recall(), GENERATED_SQLI_RECALL_FLOOR) {
        failures.push(format!(
            "generated sqli: recall {:.4} (floor {GENERATED_SQLI_RECALL_FLOOR})",
            sqli.recall()
        ));
    }
    if !within(negatives.rate(), GENERATED_NEGATIVES_FP_CEILING) {
        failures.push(format!(
            "generated negatives false-positive rate {:.4} > {GENERATED_NEGATIVES_FP_CEILING}",
            negatives.rate()
        ));
    }
    failures
}

/// What the engine found in one item.
struct Outcome {
    predicted: BTreeSet<&'static str>,
    any_match: bool,
    /// `policy=preview` of every match, for the miss listing.
    matches: Vec<String>,
    policy_ids: Vec<String>,
}

fn evaluate(engine: &Engine, items: &[Item]) -> Vec<Outcome> {
    items
        .iter()
        .map(|item| {
            let decision = engine.evaluate(&item.text);
            let predicted: BTreeSet<&'static str> = decision
                .matches
                .iter()
                .filter_map(|m| corpus_label(&m.policy_id, &m.category))
                .filter(|label| !item.sql_only || *label == "sqli")
                .collect();
            Outcome {
                any_match: if item.sql_only {
                    !predicted.is_empty()
                } else {
                    !decision.matches.is_empty()
                },
                predicted,
                matches: decision
                    .matches
                    .iter()
                    .map(|m| format!("{}={:?}", m.policy_id, m.preview))
                    .collect(),
                policy_ids: decision
                    .matches
                    .iter()
                    .map(|m| m.policy_id.to_string())
                    .collect(),
            }
        })
        .collect()
}

/// Counts per label, the benign-prose and hard-negative rates, and the miss lines of some items.
#[derive(Default)]
struct Tally {
    counts: BTreeMap<&'static str, Counts>,
    prose: Rate,
    hard: Rate,
    /// (source family, line)
    misses: Vec<(String, String)>,
}

fn tally<'a>(scored: impl Iterator<Item = (&'a Item, &'a Outcome)>) -> Tally {
    let mut t = Tally {
        counts: SCORED.iter().map(|l| (*l, Counts::default())).collect(),
        ..Tally::default()
    };
    for (item, outcome) in scored {
        let family = item.family().to_owned();
        for label in SCORED {
            let gold = item.labels.contains(*label);
            let hit = outcome.predicted.contains(label);
            let entry = t.counts.get_mut(label).expect("scored label");
            entry.gold += usize::from(gold);
            match (gold, hit) {
                (true, true) => entry.true_positives += 1,
                (true, false) => {
                    entry.false_negatives += 1;
                    t.misses.push((
                        family.clone(),
                        format!("FN {label:<16} {}:{} {:?}", item.file, item.id, item.text),
                    ));
                }
                // A stacked injection that drops a table is labelled sqli only; also calling it
                // dangerous is not wrong.
                (false, true) if *label == "dangerous" && item.labels.contains("sqli") => {}
                (false, true) => {
                    entry.false_positives += 1;
                    t.misses.push((
                        family.clone(),
                        format!(
                            "FP {label:<16} {}:{} [{}] {:?}",
                            item.file,
                            item.id,
                            outcome.matches.join(","),
                            item.text
                        ),
                    ));
                }
                (false, false) => {}
            }
        }
        if item.counts_as == "benign_prose" {
            t.prose.add(outcome.any_match);
        }
        if item.counts_as == "hard_negatives" {
            t.hard.add(outcome.any_match);
            if outcome.any_match && outcome.predicted.is_empty() {
                t.misses.push((
                    family.clone(),
                    format!(
                        "FP {:<16} {}:{} {:?}",
                        outcome.policy_ids.join(","),
                        item.file,
                        item.id,
                        item.text
                    ),
                ));
            }
        }
    }
    t
}

fn label_table(out: &mut String, t: &Tally) {
    let _ = writeln!(out, "| label | items | TP | FP | FN | recall | precision |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for (label, c) in &t.counts {
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {:.4} | {:.4} |",
            c.gold,
            c.true_positives,
            c.false_positives,
            c.false_negatives,
            c.recall(),
            c.precision()
        );
    }
    let _ = writeln!(
        out,
        "| benign prose with any match | {} | | {} | | | rate {:.4} |",
        t.prose.items,
        t.prose.hits,
        t.prose.rate()
    );
    let _ = writeln!(
        out,
        "| hard negatives with any match | {} | | {} | | | rate {:.4} |",
        t.hard.items,
        t.hard.hits,
        t.hard.rate()
    );
}

/// The miss lines, without the held-out families; a note says what was left out.
fn list_misses(
    out: &mut String,
    t: &Tally,
    holdout: &BTreeSet<String>,
    families: &BTreeSet<String>,
) {
    if std::env::var_os("AXONFLOW_CORPUS_ERRORS").is_none() {
        return;
    }
    let mut omitted = 0;
    for (family, line) in &t.misses {
        if holdout.contains(family) {
            omitted += 1;
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    if !holdout.is_empty() {
        let unknown: Vec<&str> = holdout
            .iter()
            .filter(|f| !families.contains(*f))
            .map(String::as_str)
            .collect();
        let _ = writeln!(
            out,
            "({omitted} misses of held-out families {holdout:?} not listed{})",
            if unknown.is_empty() {
                String::new()
            } else {
                format!("; {unknown:?} match no item here")
            }
        );
    }
}

/// SQL-injection recall of the gold `sqli` items grouped by `key`, for the shared and the generated
/// items apart.
fn sqli_breakdown(
    out: &mut String,
    title: &str,
    items: &[Item],
    outcomes: &[Outcome],
    key: impl Fn(&Item) -> &str,
) {
    let mut groups: BTreeMap<(&str, String), Counts> = BTreeMap::new();
    for (item, outcome) in items.iter().zip(outcomes) {
        if !item.labels.contains("sqli") {
            continue;
        }
        let set = if item.generated {
            "generated"
        } else {
            "shared"
        };
        let c = groups.entry((set, key(item).to_owned())).or_default();
        c.gold += 1;
        if outcome.predicted.contains("sqli") {
            c.true_positives += 1;
        } else {
            c.false_negatives += 1;
        }
    }
    let _ = writeln!(out, "| sqli by {title} | set | items | hits | recall |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    let mut totals: BTreeMap<&str, Counts> = BTreeMap::new();
    for ((set, value), c) in &groups {
        let _ = writeln!(
            out,
            "| {value} | {set} | {} | {} | {:.4} |",
            c.gold,
            c.true_positives,
            c.recall()
        );
        let total = totals.entry(set).or_default();
        total.gold += c.gold;
        total.true_positives += c.true_positives;
    }
    for (set, c) in &totals {
        let _ = writeln!(
            out,
            "| all | {set} | {} | {} | {:.4} |",
            c.gold,
            c.true_positives,
            c.recall()
        );
    }
}

fn families(items: &[Item]) -> BTreeSet<String> {
    items.iter().map(|i| i.family().to_owned()).collect()
}

#[test]
fn quality_on_the_labelled_corpus() {
    let engine = Engine::compile(&system_policies(), CompileOptions::default())
        .expect("system policies compile");
    let items = load();
    let outcomes = evaluate(&engine, &items);
    let t = tally(items.iter().zip(&outcomes));

    let mut out = String::from("Shared corpus:\n");
    label_table(&mut out, &t);
    list_misses(&mut out, &t, &holdout(), &families(&items));
    print!("{out}");

    let mut items_per_file: BTreeMap<String, usize> = BTreeMap::new();
    for item in &items {
        *items_per_file.entry(item.file.clone()).or_default() += 1;
    }
    let failures = failures(&t.counts, &items_per_file, t.prose.rate(), t.hard.rate());
    assert!(
        failures.is_empty(),
        "below the floors (AXONFLOW_CORPUS_ERRORS=1 lists every miss):\n{}",
        failures.join("\n")
    );
}

#[test]
fn quality_with_the_generated_sets() {
    let engine = Engine::compile(&system_policies(), CompileOptions::default())
        .expect("system policies compile");
    let mut items = load();
    items.extend(load_generated());
    let outcomes = evaluate(&engine, &items);
    let all = tally(items.iter().zip(&outcomes));
    let generated = tally(items.iter().zip(&outcomes).filter(|(i, _)| i.generated));

    let mut out = String::from("Shared corpus + generated sets:\n");
    label_table(&mut out, &all);
    let mut per_file: BTreeMap<String, Rate> = BTreeMap::new();
    let mut negatives_per_variant: BTreeMap<String, Rate> = BTreeMap::new();
    for (item, outcome) in items.iter().zip(&outcomes).filter(|(i, _)| i.generated) {
        per_file
            .entry(item.file.clone())
            .or_default()
            .add(outcome.any_match);
        if item.counts_as == "hard_negatives" {
            negatives_per_variant
                .entry(item.variant.clone())
                .or_default()
                .add(outcome.any_match);
        }
    }
    let negatives = GENERATED_FILES
        .iter()
        .filter(|(_, counts_as)| *counts_as == "hard_negatives")
        .filter_map(|(file, _)| per_file.get(*file))
        .fold(Rate::default(), |sum, r| Rate {
            items: sum.items + r.items,
            hits: sum.hits + r.hits,
        });
    let _ = writeln!(
        out,
        "| generated negatives with any match | {} | | {} | | | rate {:.4} |",
        negatives.items,
        negatives.hits,
        negatives.rate()
    );
    let generated_sqli = generated.counts.get("sqli").copied().unwrap_or_default();
    let _ = writeln!(
        out,
        "| generated sqli | {} | {} | {} | {} | {:.4} | {:.4} |",
        generated_sqli.gold,
        generated_sqli.true_positives,
        generated_sqli.false_positives,
        generated_sqli.false_negatives,
        generated_sqli.recall(),
        generated_sqli.precision()
    );

    out.push('\n');
    sqli_breakdown(&mut out, "variant", &items, &outcomes, |i| &i.variant);
    out.push('\n');
    sqli_breakdown(&mut out, "kind", &items, &outcomes, |i| &i.kind);
    out.push('\n');
    sqli_breakdown(&mut out, "source family", &items, &outcomes, Item::family);
    out.push('\n');
    let _ = writeln!(
        out,
        "| generated negatives by variant | items | any match | rate |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for (variant, r) in &negatives_per_variant {
        let _ = writeln!(
            out,
            "| {variant} | {} | {} | {:.4} |",
            r.items,
            r.hits,
            r.rate()
        );
    }
    // The shared corpus's misses are listed by `quality_on_the_labelled_corpus`.
    list_misses(&mut out, &generated, &holdout(), &families(&items));
    print!("{out}");

    let mut items_per_file: BTreeMap<String, usize> = BTreeMap::new();
    let mut sqli_per_technique: BTreeMap<String, usize> = BTreeMap::new();
    for item in items.iter().filter(|i| i.generated) {
        *items_per_file.entry(item.file.clone()).or_default() += 1;
        if item.labels.contains("sqli") {
            *sqli_per_technique.entry(item.variant.clone()).or_default() += 1;
        }
    }
    let mut failures = generated_failures(
        &items_per_file,
        &sqli_per_technique,
        generated_sqli,
        negatives,
    );
    // Every label's floors hold on the shared and generated items together too.
    for label in SCORED {
        let c = all.counts.get(label).copied().unwrap_or_default();
        let (recall, precision) = floors(label);
        if !meets(c.recall(), recall) || !meets(c.precision(), precision) {
            failures.push(format!(
                "{label} (shared + generated): recall {:.4} (floor {recall}), precision {:.4} \
                 (floor {precision})",
                c.recall(),
                c.precision()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "generated sets below their floors (AXONFLOW_CORPUS_ERRORS=1 lists every miss):\n{}",
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

    // The generated sets: full and within their floors, then empty, thin or NaN.
    let generated_full: BTreeMap<String, usize> = GENERATED_FILES
        .iter()
        .map(|(f, _)| ((*f).to_owned(), 1000))
        .collect();
    let techniques: BTreeMap<String, usize> =
        [("union".to_owned(), 100), ("time".to_owned(), 100)].into();
    let quiet = Rate {
        items: 100,
        hits: 0,
    };
    assert!(generated_failures(&generated_full, &techniques, perfect, quiet).is_empty());

    let mut generated_missing = generated_full.clone();
    generated_missing.insert("sqli_generated".to_owned(), 0);
    let mut thin_technique = techniques.clone();
    thin_technique.insert("file".to_owned(), 3);
    let found = generated_failures(
        &generated_missing,
        &thin_technique,
        Counts::default(),
        Rate::default(),
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("sqli_generated.jsonl holds 0")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("generated sqli technique file: 3 items")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("generated sqli: recall NaN")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("generated negatives false-positive rate NaN")),
        "{found:?}"
    );
    assert!(
        !generated_failures(&generated_full, &BTreeMap::new(), perfect, quiet).is_empty(),
        "no technique at all measures nothing"
    );
}
