//! Tamper evidence: each audit row's hash covers its canonical fields and the previous row's hash in
//! the same chain (one chain per tenant and writer instance, so replicas never contend). Editing a
//! row breaks its own hash; deleting one leaves a gap in `chain_seq`. `verify` walks rows in chain
//! order and reports the first broken link of each chain.

use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The hash a chain starts from.
pub const GENESIS: [u8; 32] = [0; 32];

/// The fields a row's hash covers, in a fixed order, as they are stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainedFields<'a> {
    pub decision_id: Uuid,
    pub source: &'a str,
    pub client_id: &'a str,
    pub tenant_id: &'a str,
    pub org_id: &'a str,
    pub provider: &'a str,
    pub model: &'a str,
    pub verdict: &'a str,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    /// The cost exactly as stored (10 decimals).
    pub cost: &'a str,
    pub latency_ms: i64,
    pub http_status: Option<i64>,
    pub trace_id: Option<&'a str>,
    pub metadata: &'a Value,
    /// RFC 3339 with microseconds, UTC.
    pub created_at: &'a str,
    pub chain_id: &'a str,
    pub chain_seq: i64,
    /// `YYYY-MM-DD`.
    pub retain_until: &'a str,
}

/// `value` with object keys sorted at every depth, so that the text does not depend on how a JSON
/// library or Postgres ordered them.
fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (idx, key) in keys.iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push(':');
                canonical_json(&map[*key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Number(number) => out.push_str(&canonical_number(number)),
        other => out.push_str(&other.to_string()),
    }
}

/// A number by its value, not its spelling: Postgres keeps JSONB numbers as exact decimals and
/// prints `1e16` as `10000000000000000` and `-0.0` as `0`, so integral values are written as
/// integers and zero without a sign; others in their shortest round-trip form.
fn canonical_number(number: &serde_json::Number) -> String {
    if let Some(n) = number.as_i64() {
        return n.to_string();
    }
    if let Some(n) = number.as_u64() {
        return n.to_string();
    }
    match number.as_f64() {
        // `-0.0` and `0.0` alike.
        Some(f) if f.abs() < f64::MIN_POSITIVE => "0".to_owned(),
        Some(f) if f.fract() == 0.0 && f.abs() < 1e19 => format!("{f:.0}"),
        _ => number.to_string(),
    }
}

/// SHA-256 over the previous hash and the canonical text of `fields`.
pub fn row_hash(prev_hash: &[u8; 32], fields: &ChainedFields<'_>) -> [u8; 32] {
    let mut metadata = String::new();
    canonical_json(fields.metadata, &mut metadata);
    let head = serde_json::json!([
        fields.decision_id.to_string(),
        fields.source,
        fields.client_id,
        fields.tenant_id,
        fields.org_id,
        fields.provider,
        fields.model,
        fields.verdict,
        fields.prompt_tokens,
        fields.completion_tokens,
        fields.total_tokens,
        fields.cost,
        fields.latency_ms,
        fields.http_status,
        fields.trace_id,
        fields.created_at,
        fields.chain_id,
        fields.chain_seq,
        fields.retain_until,
    ]);
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(head.to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(metadata.as_bytes());
    hasher.finalize().into()
}

/// A stored row as verification reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLink {
    pub decision_id: Uuid,
    pub chain_id: String,
    pub chain_seq: i64,
    pub prev_hash: Option<Vec<u8>>,
    pub row_hash: Option<Vec<u8>>,
    /// The hash recomputed from the stored fields and the stored `prev_hash`.
    pub recomputed: [u8; 32],
}

/// The first broken link of one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub chain_id: String,
    pub chain_seq: i64,
    pub decision_id: Option<Uuid>,
    pub problem: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub chains: u64,
    pub rows: u64,
    pub broken: Vec<BrokenLink>,
    /// Rows outside any chain: written before chains existed, or inserted by hand. Reported, since
    /// nothing vouches for them.
    pub unchained: i64,
}

/// Checks links fed in chain order (`chain_id`, then `chain_seq`), one at a time, so that a table
/// of any size is verified page by page.
pub struct Verifier {
    report: VerifyReport,
    current: Option<String>,
    expected_seq: i64,
    expected_prev: Vec<u8>,
    chain_broken: bool,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            report: VerifyReport::default(),
            current: None,
            expected_seq: 1,
            expected_prev: GENESIS.to_vec(),
            chain_broken: false,
        }
    }
}

impl Verifier {
    pub fn push(&mut self, link: StoredLink) {
        self.report.rows += 1;
        if self.current.as_deref() != Some(link.chain_id.as_str()) {
            self.current = Some(link.chain_id.clone());
            self.report.chains += 1;
            self.expected_seq = 1;
            self.expected_prev = GENESIS.to_vec();
            self.chain_broken = false;
        }
        if self.chain_broken {
            return;
        }
        let expected_seq = self.expected_seq;
        let problem = if link.chain_seq != expected_seq {
            Some(if link.chain_seq > expected_seq {
                format!(
                    "rows {expected_seq}..{} of the chain are missing (deleted?)",
                    link.chain_seq - 1
                )
            } else {
                format!("sequence number {} appears twice", link.chain_seq)
            })
        } else if link.prev_hash.as_deref() != Some(self.expected_prev.as_slice()) {
            Some("prev_hash does not match the previous row's hash".to_owned())
        } else if link.row_hash.as_deref() != Some(link.recomputed.as_slice()) {
            Some("the row's fields do not match its hash (edited?)".to_owned())
        } else {
            None
        };
        match problem {
            Some(problem) => {
                self.report.broken.push(BrokenLink {
                    chain_id: link.chain_id,
                    chain_seq: link.chain_seq,
                    decision_id: Some(link.decision_id),
                    problem,
                });
                self.chain_broken = true;
            }
            None => {
                self.expected_seq += 1;
                self.expected_prev = link.row_hash.unwrap_or_default();
            }
        }
    }

    pub fn finish(self) -> VerifyReport {
        self.report
    }
}

/// Checks links given in chain order.
pub fn verify(links: impl IntoIterator<Item = StoredLink>) -> VerifyReport {
    let mut verifier = Verifier::default();
    for link in links {
        verifier.push(link);
    }
    verifier.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(metadata: &Value, seq: i64) -> ChainedFields<'_> {
        ChainedFields {
            decision_id: Uuid::nil(),
            source: "pre_check",
            client_id: "c",
            tenant_id: "t",
            org_id: "o",
            provider: "",
            model: "",
            verdict: "allow",
            prompt_tokens: 1,
            completion_tokens: 2,
            total_tokens: 3,
            cost: "0.0000000000",
            latency_ms: 4,
            http_status: Some(200),
            trace_id: None,
            metadata,
            created_at: "2026-01-01T00:00:00.000000Z",
            chain_id: "t/instance",
            chain_seq: seq,
            retain_until: "2027-01-01",
        }
    }

    #[test]
    fn key_order_does_not_change_the_hash_but_any_value_does() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,2],"x":"s"}}"#).expect("json");
        let b: Value = serde_json::from_str(r#"{"a":{"x":"s","y":[1,2]},"b":1}"#).expect("json");
        let c: Value = serde_json::from_str(r#"{"a":{"x":"s","y":[1,3]},"b":1}"#).expect("json");
        assert_eq!(
            row_hash(&GENESIS, &fields(&a, 1)),
            row_hash(&GENESIS, &fields(&b, 1))
        );
        assert_ne!(
            row_hash(&GENESIS, &fields(&a, 1)),
            row_hash(&GENESIS, &fields(&c, 1))
        );
        assert_ne!(
            row_hash(&GENESIS, &fields(&a, 1)),
            row_hash(&[1; 32], &fields(&a, 1))
        );
    }

    fn chain(n: i64) -> Vec<StoredLink> {
        let metadata = serde_json::json!({});
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let hash = row_hash(&prev, &fields(&metadata, seq));
                let link = StoredLink {
                    decision_id: Uuid::from_u128(seq as u128),
                    chain_id: "t/instance".to_owned(),
                    chain_seq: seq,
                    prev_hash: Some(prev.to_vec()),
                    row_hash: Some(hash.to_vec()),
                    recomputed: hash,
                };
                prev = hash;
                link
            })
            .collect()
    }

    #[test]
    fn verification_finds_the_first_broken_link() {
        assert_eq!(verify(chain(5)).broken, []);
        let mut deleted = chain(5);
        deleted.remove(2);
        let report = verify(deleted);
        assert_eq!(report.broken.len(), 1);
        assert_eq!(report.broken[0].chain_seq, 4);
        assert!(report.broken[0].problem.contains("missing"));
        let mut edited = chain(5);
        edited[1].recomputed = [7; 32];
        let report = verify(edited);
        assert_eq!((report.broken[0].chain_seq, report.rows), (2, 5));
        assert!(report.broken[0].problem.contains("edited"));
    }
}
