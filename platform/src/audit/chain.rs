//! Tamper evidence: each audit row's hash covers its canonical fields and the previous row's hash in
//! the same chain (one chain per tenant and writer instance, so replicas never contend). Editing a
//! row breaks its own hash; deleting one leaves a gap in `chain_seq`. `verify` walks rows in chain
//! order and reports the first broken link of each chain.

use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The hash a chain starts from.
pub const GENESIS: [u8; 32] = [0; 32];

/// A hash as lower-case hex, written into a buffer: `hex::encode`'s character iterator cost a
/// hundred times the hash's own copy (a pre-check writes two or three of these, an audit row two).
pub fn hash_hex(hash: &[u8; 32]) -> String {
    let mut text = [0u8; 64];
    match hex::encode_to_slice(hash, &mut text) {
        Ok(()) => String::from_utf8_lossy(&text).into_owned(),
        Err(_) => hex::encode(hash),
    }
}

/// SHA-256 of `text`, as lower-case hex: what is kept instead of a text that must not be stored
/// (a query, a user token, a user id).
pub fn sha256_hex(text: &str) -> String {
    hash_hex(&Sha256::digest(text.as_bytes()).into())
}

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
/// library or Postgres ordered them. Strings are escaped as `serde_json` writes them.
fn canonical_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (idx, (key, value)) in entries.into_iter().enumerate() {
                if idx > 0 {
                    out.push(b',');
                }
                json_string(key, out);
                out.push(b':');
                canonical_json(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push(b',');
                }
                canonical_json(item, out);
            }
            out.push(b']');
        }
        Value::Number(number) => canonical_number(number, out),
        Value::String(text) => json_string(text, out),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Null => out.extend_from_slice(b"null"),
    }
}

fn json_string(text: &str, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// A number by its value, not its spelling: Postgres keeps JSONB numbers as exact decimals and
/// prints `1e16` as `10000000000000000` and `-0.0` as `0`, so integral values are written as
/// integers and zero without a sign; others in their shortest round-trip form.
fn canonical_number(number: &serde_json::Number, out: &mut Vec<u8>) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = if let Some(n) = number.as_i64() {
        write!(out, "{n}")
    } else if let Some(n) = number.as_u64() {
        write!(out, "{n}")
    } else {
        match number.as_f64() {
            // `-0.0` and `0.0` alike.
            Some(f) if f.abs() < f64::MIN_POSITIVE => write!(out, "0"),
            Some(f) if f.fract() == 0.0 && f.abs() < 1e19 => write!(out, "{f:.0}"),
            _ => write!(out, "{number}"),
        }
    };
}

/// SHA-256 over the previous hash and the canonical text of `fields`: a JSON array of the columns
/// in a fixed order, a line break, and the canonical metadata.
pub fn row_hash(prev_hash: &[u8; 32], fields: &ChainedFields<'_>) -> [u8; 32] {
    use std::io::Write;
    let mut text = Vec::with_capacity(512);
    let strings = |text: &mut Vec<u8>, values: &[&str]| {
        for value in values {
            json_string(value, text);
            text.push(b',');
        }
    };
    // Writing into a Vec cannot fail.
    let _ = write!(text, "[\"{}\",", fields.decision_id);
    strings(
        &mut text,
        &[
            fields.source,
            fields.client_id,
            fields.tenant_id,
            fields.org_id,
            fields.provider,
            fields.model,
            fields.verdict,
        ],
    );
    let _ = write!(
        text,
        "{},{},{},",
        fields.prompt_tokens, fields.completion_tokens, fields.total_tokens
    );
    strings(&mut text, &[fields.cost]);
    let _ = write!(text, "{},", fields.latency_ms);
    match fields.http_status {
        Some(status) => {
            let _ = write!(text, "{status},");
        }
        None => text.extend_from_slice(b"null,"),
    }
    match fields.trace_id {
        Some(trace_id) => strings(&mut text, &[trace_id]),
        None => text.extend_from_slice(b"null,"),
    }
    strings(&mut text, &[fields.created_at, fields.chain_id]);
    let _ = write!(text, "{},", fields.chain_seq);
    json_string(fields.retain_until, &mut text);
    text.extend_from_slice(b"]\n");
    canonical_json(fields.metadata, &mut text);
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(&text);
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

    #[test]
    fn a_hash_is_written_as_lower_case_hex() {
        let mut hash = [0u8; 32];
        for (i, byte) in hash.iter_mut().enumerate() {
            *byte = (i as u8).wrapping_mul(37).wrapping_add(0xa5);
        }
        let written = hash_hex(&hash);
        assert_eq!(written.len(), 64);
        assert_eq!(written, hex::encode(hash));
        assert!(written
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(hash_hex(&GENESIS), "0".repeat(64));
        // The digest of a known text (SHA-256 of "abc").
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

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

    /// Rows already stored carry hashes of this exact text: the canonical form may never change.
    #[test]
    fn the_hash_of_a_stored_row_never_changes() {
        let metadata: Value = serde_json::from_str(
            r#"{"z":[1,-2,3.5,1e16,-0.0,18446744073709551615,-9223372036854775808,0.1],
                "a":{"é":"ü\"\\\n\u0001/<>","b":[true,false,null,{}],"":[]},
                "m":"line\nbreak \u2028 emoji \ud83d\ude00","n":null}"#,
        )
        .expect("json");
        let mut row = fields(&metadata, 42);
        row.decision_id = Uuid::from_u128(0x0192_3456_789a_7bcd_8ef0_1234_5678_9abc);
        row.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736");
        row.http_status = None;
        row.provider = "open\"ai";
        let hash = row_hash(&[9; 32], &row);
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "3d1be2a63fcfe3fa01313528b1d9338efa7494bf559897b1b6bd699307038743"
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
