//! One type per span for personal data. Detectors of different types can report the same digits (a
//! grouped IBAN tail that also reads as a phone number, a `+55` phone number whose digits pass the
//! Aadhaar checksum): when matches of personal-data policies (categories `pii-*`, built-in or a
//! tenant's own) overlap, only the most specific one is kept. Matches of other categories (secrets,
//! SQL, compliance) are left as they are.
//!
//! The kept match takes the strictest action of the matches it replaces and its span grows to cover
//! theirs, so that dropping a blocking or redacting match never weakens the verdict or leaves bytes
//! unmasked.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::decision::Match;

/// How much a match of this type says about the value, by the built-in detector's mask label:
/// checksum-validated types first, then types with a strict format or issuing rules, then numbers
/// known by their shape or context (phone, bank account) and tenants' own patterns.
fn specificity(m: &Match) -> u8 {
    match &*m.mask_label {
        "IBAN" | "CREDIT_CARD" | "AADHAAR" | "ROUTING_NUMBER" => 3,
        "SSN" | "UK_NINO" | "PAN" | "EMAIL" | "UPI_ID" | "IP_ADDRESS" | "PASSPORT" | "MRN"
        | "DATE_OF_BIRTH" => 2,
        _ => 1,
    }
}

fn is_pii(m: &Match) -> bool {
    m.category.starts_with("pii-")
}

/// Keeps, among overlapping personal-data matches, the most specific one: the higher specificity,
/// then the longer span, then the match reported first. A dropped match hands over to the best kept
/// match it overlaps: its action when stricter, and its bytes (the kept span grows to cover both), so
/// that redaction still masks every byte a detector reported. The order of the matches is kept.
pub(crate) fn keep_most_specific_pii(matches: &mut Vec<Match>) {
    let mut ranked: Vec<usize> = (0..matches.len())
        .filter(|idx| is_pii(&matches[*idx]) && !matches[*idx].span.is_empty())
        .collect();
    if ranked.len() < 2 || !any_overlap(matches, &ranked) {
        return;
    }
    ranked.sort_by(|a, b| {
        let (ma, mb) = (&matches[*a], &matches[*b]);
        specificity(mb)
            .cmp(&specificity(ma))
            .then_with(|| mb.span.len().cmp(&ma.span.len()))
            .then_with(|| a.cmp(b))
    });
    // Kept spans, by start: (rank, index). They never overlap each other, so walking back from the
    // last one starting before a span's end finds every kept span that overlaps it.
    let mut kept: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    let mut replaced_by: Vec<Option<usize>> = vec![None; matches.len()];
    for (rank, idx) in ranked.iter().copied().enumerate() {
        let span = matches[idx].span.clone();
        let best = kept
            .range(..span.end)
            .rev()
            .take_while(|(_, (_, kept_idx))| matches[*kept_idx].span.end > span.start)
            .min_by_key(|(_, (kept_rank, _))| *kept_rank)
            .map(|(_, (_, kept_idx))| *kept_idx);
        match best {
            Some(kept_idx) => replaced_by[idx] = Some(kept_idx),
            None => {
                kept.insert(span.start, (rank, idx));
            }
        }
    }
    for idx in 0..matches.len() {
        let Some(kept_idx) = replaced_by[idx] else {
            continue;
        };
        let (span, action) = (matches[idx].span.clone(), matches[idx].action);
        let winner = &mut matches[kept_idx];
        winner.span = winner.span.start.min(span.start)..winner.span.end.max(span.end);
        // `Action` is ordered from the strongest to the weakest.
        winner.action = winner.action.min(action);
    }
    let mut idx = 0;
    matches.retain(|_| {
        let keep = replaced_by[idx].is_none();
        idx += 1;
        keep
    });
}

/// Whether any two of the `selected` matches overlap (the common answer is no, and cheap).
fn any_overlap(matches: &[Match], selected: &[usize]) -> bool {
    let mut spans: Vec<&Range<usize>> = selected.iter().map(|idx| &matches[*idx].span).collect();
    spans.sort_unstable_by_key(|span| span.start);
    let mut reach = 0;
    for span in spans {
        if span.start < reach {
            return true;
        }
        reach = reach.max(span.end);
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::spec::{Action, Severity};

    fn found(label: &str, category: &str, span: Range<usize>, action: Action) -> Match {
        Match {
            policy_id: format!("p_{}", label.to_ascii_lowercase()).into(),
            policy_name: label.into(),
            category: category.into(),
            severity: Severity::High,
            action,
            span,
            preview: String::new(),
            mask_label: label.into(),
            frameworks: Arc::from(Vec::new()),
        }
    }

    fn labels(matches: &[Match]) -> Vec<&str> {
        matches.iter().map(|m| &*m.mask_label).collect()
    }

    #[test]
    fn evaluation_reports_one_type_per_span() {
        let engine = crate::Engine::compile(&crate::system_policies(), Default::default())
            .expect("system policies compile");
        let decision = engine.evaluate("SSN or passport: 123456789");
        let ids: Vec<&str> = decision.matches.iter().map(|m| &*m.policy_id).collect();
        assert_eq!(ids, ["sys_pii_ssn"]);
    }

    fn tenant_layer(action: Action) -> crate::Engine {
        // A tenant's own personal-data pattern that also covers part of an IBAN.
        let spec = crate::PolicySpec {
            id: "tenant_branch_code".to_owned(),
            name: "Branch code".to_owned(),
            description: String::new(),
            category: "pii-custom".to_owned(),
            tier: crate::Tier::Tenant,
            detector: crate::DetectorSpec::Regex(r"\b3704 0044\b".to_owned()),
            action,
            severity: Severity::Low,
            priority: 0,
            enabled: true,
            tags: Vec::new(),
            frameworks: Vec::new(),
        };
        crate::Engine::compile(&[spec], Default::default()).expect("tenant policy compiles")
    }

    #[test]
    fn a_dropped_match_never_weakens_the_verdict_or_the_redaction() {
        let text = "IBAN DE89 3704 0044 0532 0130 00";
        let logging = crate::CompileOptions {
            pii_action: Some(Action::Log),
            ..Default::default()
        };
        let system = crate::Engine::compile(&crate::system_policies(), logging).expect("compiles");
        let layers = |tenant: &crate::Engine| {
            let layers = [
                crate::Layer {
                    engine: &system,
                    adjustments: None,
                },
                crate::Layer {
                    engine: tenant,
                    adjustments: None,
                },
            ];
            crate::evaluate_layers(&layers, text)
        };

        let blocking = tenant_layer(Action::Block);
        let decision = layers(&blocking);
        assert_eq!(decision.policy_ids(), ["sys_pii_iban"]);
        assert_eq!(decision.matches[0].action, Action::Block);
        assert_eq!(decision.verdict, crate::Verdict::Deny);

        let redacting = tenant_layer(Action::Redact);
        let decision = layers(&redacting);
        assert_eq!(decision.policy_ids(), ["sys_pii_iban"]);
        assert_eq!(decision.verdict, crate::Verdict::Allow);
        assert_eq!(
            decision.redacted_text.as_deref(),
            Some("IBAN [REDACTED:IBAN]")
        );
    }

    #[test]
    fn checksum_types_beat_phone_numbers() {
        let mut matches = vec![
            found("IBAN", "pii-eu", 0..27, Action::Block),
            found("PHONE", "pii-global", 10..27, Action::Block),
        ];
        keep_most_specific_pii(&mut matches);
        assert_eq!(labels(&matches), ["IBAN"]);

        // A shorter checksum-validated span still beats a longer phone span.
        let mut matches = vec![
            found("PHONE", "pii-global", 0..17, Action::Block),
            found("AADHAAR", "pii-india", 3..17, Action::Block),
        ];
        keep_most_specific_pii(&mut matches);
        assert_eq!(labels(&matches), ["AADHAAR"]);
    }

    #[test]
    fn a_longer_span_wins_between_equally_specific_types() {
        let mut matches = vec![
            found("BANK_ACCOUNT", "pii-global", 5..15, Action::Block),
            found("PHONE", "pii-global", 2..17, Action::Block),
        ];
        keep_most_specific_pii(&mut matches);
        assert_eq!(labels(&matches), ["PHONE"]);
    }

    #[test]
    fn the_kept_match_takes_the_strictest_action() {
        let mut matches = vec![
            found("IBAN", "pii-eu", 0..27, Action::Log),
            found("PHONE", "pii-global", 10..27, Action::Block),
        ];
        keep_most_specific_pii(&mut matches);
        assert_eq!(labels(&matches), ["IBAN"]);
        assert_eq!(matches[0].action, Action::Block);

        let mut matches = vec![
            found("IBAN", "pii-eu", 0..27, Action::Redact),
            found("PHONE", "pii-global", 10..27, Action::Warn),
        ];
        keep_most_specific_pii(&mut matches);
        assert_eq!(matches[0].action, Action::Redact);
    }

    #[test]
    fn other_categories_and_separate_spans_are_untouched() {
        let mut matches = vec![
            found("SQLI", "security-sqli", 0..30, Action::Block),
            found("PHONE", "pii-global", 0..12, Action::Warn),
            found("EMAIL", "pii-global", 14..30, Action::Block),
            found("IFSC", "compliance-rbi", 14..25, Action::Warn),
        ];
        keep_most_specific_pii(&mut matches);
        assert_eq!(labels(&matches), ["SQLI", "PHONE", "EMAIL", "IFSC"]);
        assert_eq!(matches[1].action, Action::Warn);
    }

    #[test]
    fn chains_keep_every_match_that_no_longer_overlaps_a_kept_one() {
        // IBAN 10..30 drops the phone 0..12 and the phone 25..40; the SSN 41..52 stays.
        let mut matches = vec![
            found("PHONE", "pii-global", 0..12, Action::Warn),
            found("IBAN", "pii-eu", 10..30, Action::Warn),
            found("PHONE", "pii-global", 25..40, Action::Redact),
            found("SSN", "pii-us", 41..52, Action::Block),
        ];
        keep_most_specific_pii(&mut matches);
        assert_eq!(labels(&matches), ["IBAN", "SSN"]);
        assert_eq!(matches[0].action, Action::Redact);
        assert_eq!(
            matches[0].span,
            0..40,
            "the kept span covers the dropped ones"
        );
        assert_eq!(matches[1].span, 41..52);
    }

    #[test]
    fn a_match_overlapping_two_kept_ones_goes_to_the_more_specific() {
        let mut matches = vec![
            found("SSN", "pii-us", 0..11, Action::Warn),
            found("PHONE", "pii-global", 8..20, Action::Block),
            found("IBAN", "pii-eu", 15..40, Action::Warn),
        ];
        keep_most_specific_pii(&mut matches);
        assert_eq!(labels(&matches), ["SSN", "IBAN"]);
        assert_eq!(matches[0].action, Action::Warn);
        assert_eq!(matches[1].action, Action::Block);
        assert_eq!(matches[1].span, 8..40);
    }
}
