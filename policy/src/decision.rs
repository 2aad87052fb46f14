//! The result of evaluating text: every match, the verdict they add up to, and the redacted text when a
//! redacting policy matched.

use std::ops::Range;
use std::sync::Arc;

use crate::spec::{Action, Severity};

/// Allow or deny: the whole answer a caller enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    Allow,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }
}

/// One place in the text where one policy matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub policy_id: Arc<str>,
    pub policy_name: Arc<str>,
    pub category: Arc<str>,
    pub severity: Severity,
    /// The action in force (after `PII_ACTION` / `SQLI_ACTION` overrides).
    pub action: Action,
    /// Byte span in the evaluated text.
    pub span: Range<usize>,
    /// A masked form of the matched text (never the value itself), safe to store, log and return.
    pub preview: String,
    /// Type written into redactions, e.g. `SSN` in `[REDACTED:SSN]`.
    pub mask_label: Arc<str>,
    pub frameworks: Arc<[String]>,
}

/// Everything one evaluation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    /// Every match of every policy, ordered by position in the text.
    pub matches: Vec<Match>,
    /// The text with every `redact` match replaced by its mask, when at least one such match exists.
    pub redacted_text: Option<String>,
}

impl Decision {
    /// An empty allow decision, the identity of `merge`.
    pub fn allow_nothing() -> Self {
        Decision {
            verdict: Verdict::Allow,
            matches: Vec::new(),
            redacted_text: None,
        }
    }

    /// Policy ids of all matches, each once, in order of first appearance.
    pub fn policy_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for m in &self.matches {
            if !ids.contains(&&*m.policy_id) {
                ids.push(&m.policy_id);
            }
        }
        ids
    }

    /// The compliance frameworks the matches implicate, sorted and deduplicated.
    pub fn frameworks(&self) -> Vec<&str> {
        let mut frameworks: Vec<&str> = self
            .matches
            .iter()
            .flat_map(|m| m.frameworks.iter().map(String::as_str))
            .collect();
        frameworks.sort_unstable();
        frameworks.dedup();
        frameworks
    }

    /// A sentence naming what the blocking policies detected, or `None` when nothing blocks.
    pub fn block_reason(&self) -> Option<String> {
        let mut names: Vec<&str> = Vec::new();
        for m in self.matches.iter().filter(|m| m.action == Action::Block) {
            if !names.contains(&&*m.policy_name) {
                names.push(&m.policy_name);
            }
        }
        if names.is_empty() {
            return None;
        }
        Some(
            names
                .iter()
                .map(|name| format!("{name} detected"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    /// `text` (the text this decision evaluated) with every match masked, whatever its action: a
    /// form safe to store when the original must not be kept.
    pub fn mask_every_match(&self, text: &str) -> String {
        mask_spans(text, self.matches.iter()).unwrap_or_else(|| text.to_owned())
    }

    /// `text` with the matches `mask` selects masked; `None` when it selects none.
    pub fn mask_where(&self, text: &str, mask: impl Fn(&Match) -> bool) -> Option<String> {
        mask_spans(text, self.matches.iter().filter(|m| mask(m)))
    }

    /// Combines the decisions of several texts (for example the messages of one chat request).
    /// Spans stay relative to their own text; `redacted_text` is dropped because it belongs to one text.
    pub fn merge(mut self, other: Decision) -> Decision {
        if other.verdict == Verdict::Deny {
            self.verdict = Verdict::Deny;
        }
        self.matches.extend(other.matches);
        self.redacted_text = None;
        self
    }
}

/// Replaces the `redact` matches in `text` with their masks. Overlapping or touching spans are merged
/// into one mask (labelled by the match that starts first); all other bytes are kept as they are.
pub(crate) fn redact(text: &str, matches: &[Match]) -> Option<String> {
    mask_spans(text, matches.iter().filter(|m| m.action == Action::Redact))
}

/// Replaces the selected matches in `text` (the text they were found in) with their masks; `None`
/// when there are none.
fn mask_spans<'m>(text: &str, matches: impl Iterator<Item = &'m Match>) -> Option<String> {
    let spans: Vec<(Range<usize>, &str)> = matches
        .filter(|m| m.span.end <= text.len())
        .map(|m| (m.span.clone(), &*m.mask_label))
        .collect();
    if spans.is_empty() {
        return None;
    }
    Some(mask_spans_at(text, spans))
}

/// `text` with each labelled span (relative to `text`, on character boundaries) replaced by
/// `[REDACTED:<label>]`; overlapping or touching spans become one mask.
pub(crate) fn mask_spans_at(text: &str, mut spans: Vec<(Range<usize>, &str)>) -> String {
    spans.retain(|(span, _)| {
        span.start < span.end
            && span.end <= text.len()
            && text.is_char_boundary(span.start)
            && text.is_char_boundary(span.end)
    });
    spans.sort_by_key(|(span, _)| (span.start, std::cmp::Reverse(span.end)));
    let mut merged: Vec<(Range<usize>, &str)> = Vec::with_capacity(spans.len());
    for (span, label) in spans {
        match merged.last_mut() {
            Some((last, _)) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push((span, label)),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for (span, label) in merged {
        out.push_str(&text[cursor..span.start]);
        out.push_str("[REDACTED:");
        out.push_str(label);
        out.push(']');
        cursor = span.end;
    }
    out.push_str(&text[cursor..]);
    out
}
