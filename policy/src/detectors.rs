//! Built-in validated detectors and the system policy catalogue. A detector is a candidate regex plus
//! a validator that sees the candidate in its surrounding text (checksums, number ranges, context
//! words). The system catalogue is seeded into the database by a migration with the same ids.

use crate::spec::{Action, DetectorSpec, PolicySpec, Severity, Tier};

/// A candidate match inside the text being evaluated.
pub(crate) struct Candidate<'t> {
    pub text: &'t str,
    pub start: usize,
    pub end: usize,
}

impl<'t> Candidate<'t> {
    pub fn as_str(&self) -> &'t str {
        &self.text[self.start..self.end]
    }

    /// Up to `n_bytes` of text before the candidate, cut at a character boundary.
    pub fn before(&self, n_bytes: usize) -> &'t str {
        let mut from = self.start.saturating_sub(n_bytes);
        while !self.text.is_char_boundary(from) {
            from += 1;
        }
        &self.text[from..self.start]
    }

    /// Up to `n_bytes` of text after the candidate, cut at a character boundary.
    pub fn after(&self, n_bytes: usize) -> &'t str {
        let mut to = (self.end + n_bytes).min(self.text.len());
        while !self.text.is_char_boundary(to) {
            to -= 1;
        }
        &self.text[self.end..to]
    }
}

pub(crate) type Validator = fn(&Candidate<'_>) -> bool;

pub(crate) struct Builtin {
    pub name: &'static str,
    pub pattern: &'static str,
    pub validate: Validator,
    pub mask_label: &'static str,
    /// Whether previews hide the matched text (personal data and secrets).
    pub masks_preview: bool,
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "us_ssn",
        pattern: r"\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b|\b\d{9}\b",
        validate: valid_ssn,
        mask_label: "SSN",
        masks_preview: true,
    },
    Builtin {
        name: "credit_card",
        pattern: r"\b\d(?:[ -]?\d){11,18}\b",
        validate: valid_payment_card,
        mask_label: "CREDIT_CARD",
        masks_preview: true,
    },
    Builtin {
        name: "sqli_union_select",
        pattern: r"(?i)\bunion(?:\s+|/\*.*?\*/)+(?:all(?:\s+|/\*.*?\*/)+|distinct(?:\s+|/\*.*?\*/)+)?select\b",
        validate: always,
        mask_label: "SQLI",
        masks_preview: false,
    },
    Builtin {
        name: "sqli_tautology",
        pattern: r#"(?i)\b(?:or|and)\s+(?:'[^'\n]{0,32}'\s*=\s*(?:'[^'\n]{0,32}'|'\w{1,32})|"[^"\n]{0,32}"\s*=\s*(?:"[^"\n]{0,32}"|"\w{1,32})|\d{1,10}\s*=\s*\d{1,10}\b|true\b\s*(?:--|#|;|$))"#,
        validate: valid_tautology,
        mask_label: "SQLI",
        masks_preview: false,
    },
    Builtin {
        name: "sqli_stacked_query",
        pattern: r"(?i)['\x22)]?\s*;\s*(?:drop|truncate|delete|insert|update|alter|create|exec|execute|shutdown|grant)\s+[a-z_]",
        validate: always,
        mask_label: "SQLI",
        masks_preview: false,
    },
    Builtin {
        name: "sqli_comment_truncation",
        pattern: r#"['"]\s*(?:\)\s*)*(?:--|#|/\*)"#,
        validate: valid_comment_truncation,
        mask_label: "SQLI",
        masks_preview: false,
    },
    Builtin {
        name: "sqli_time_based",
        pattern: r"(?i)\b(?:sleep|pg_sleep|benchmark)\s*\(\s*\d|\bwaitfor\s+delay\s+'",
        validate: always,
        mask_label: "SQLI",
        masks_preview: false,
    },
];

/// Names accepted by `DetectorSpec::Builtin`.
pub fn builtin_detector_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|b| b.name).collect()
}

pub(crate) fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

fn always(_: &Candidate<'_>) -> bool {
    true
}

fn digits(text: &str) -> Vec<u8> {
    text.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

fn number(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |acc, d| acc * 10 + u32::from(*d))
}

/// True when the candidate is glued to more digits by a separator, e.g. the tail of `2024-123-45-6789`.
fn part_of_longer_number(candidate: &Candidate<'_>) -> bool {
    let before = candidate.before(2).as_bytes();
    let after = candidate.after(2).as_bytes();
    let sep = |b: u8| b == b'-' || b == b'.' || b == b'/';
    (before.len() == 2 && sep(before[1]) && before[0].is_ascii_digit())
        || (after.len() == 2 && sep(after[0]) && after[1].is_ascii_digit())
}

fn has_context(window: &str, words: &[&str]) -> bool {
    let lower = window.to_ascii_lowercase();
    words.iter().any(|w| lower.contains(w))
}

const SSN_CONTEXT: &[&str] = &[
    "ssn",
    "social security",
    "ss#",
    "ss #",
    "ss no",
    "taxpayer",
    "tin",
];

/// SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000. A bare 9-digit run counts
/// only with a context word shortly before it.
fn valid_ssn(candidate: &Candidate<'_>) -> bool {
    let d = digits(candidate.as_str());
    if d.len() != 9 || part_of_longer_number(candidate) {
        return false;
    }
    let (area, group, serial) = (number(&d[0..3]), number(&d[3..5]), number(&d[5..9]));
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    let bare = candidate.as_str().bytes().all(|b| b.is_ascii_digit());
    !bare || has_context(candidate.before(40), SSN_CONTEXT)
}

/// Luhn check over a digit sequence.
pub(crate) fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (idx, digit) in digits.iter().rev().enumerate() {
        let mut value = u32::from(*digit);
        if idx % 2 == 1 {
            value *= 2;
            if value > 9 {
                value -= 9;
            }
        }
        sum += value;
    }
    sum % 10 == 0
}

/// Issuer prefix and length rules of the major card networks.
fn known_card_network(d: &[u8]) -> bool {
    let len = d.len();
    let prefix = |n: usize| number(&d[..n.min(len)]);
    let visa = d[0] == 4 && matches!(len, 13 | 16 | 19);
    let mastercard =
        len == 16 && ((51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)));
    let amex = len == 15 && matches!(prefix(2), 34 | 37);
    let discover = (16..=19).contains(&len)
        && (prefix(4) == 6011
            || (644..=649).contains(&prefix(3))
            || prefix(2) == 65
            || (622_126..=622_925).contains(&prefix(6)));
    let jcb = (16..=19).contains(&len) && (3528..=3589).contains(&prefix(4));
    let diners = (14..=19).contains(&len)
        && ((300..=305).contains(&prefix(3)) || matches!(prefix(2), 36 | 38 | 39));
    let maestro = (12..=19).contains(&len)
        && matches!(
            prefix(4),
            5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763
        );
    visa || mastercard || amex || discover || jcb || diners || maestro
}

fn valid_payment_card(candidate: &Candidate<'_>) -> bool {
    let text = candidate.as_str();
    let d = digits(text);
    if !(12..=19).contains(&d.len()) || part_of_longer_number(candidate) {
        return false;
    }
    // One kind of separator at most: "4111 1111-1111 1111" is not how anyone writes a card number.
    if text.contains(' ') && text.contains('-') {
        return false;
    }
    known_card_network(&d) && luhn_valid(&d)
}

/// `OR 1=1` counts when both sides are equal; quoted comparisons count when both sides are equal or
/// when the left side closes a quote opened before (`' OR 'a'='a`).
fn valid_tautology(candidate: &Candidate<'_>) -> bool {
    let text = candidate.as_str();
    let Some(eq) = text.find('=') else {
        // `OR TRUE` followed by a comment or the end.
        return true;
    };
    let left_start = text[..eq]
        .rfind(|c: char| c.is_whitespace())
        .map_or(0, |i| i + 1);
    let left = text[left_start..eq]
        .trim()
        .trim_matches(|c| c == '\'' || c == '"');
    let right = text[eq + 1..]
        .trim()
        .trim_matches(|c| c == '\'' || c == '"');
    left == right
}

/// A quote followed by a comment is an injection only when something like SQL stands before the quote
/// (`admin'--`, `1' #`), not in prose such as `he said "yes" -- then left`.
fn valid_comment_truncation(candidate: &Candidate<'_>) -> bool {
    let rest = candidate.after(1);
    let matched = candidate.as_str();
    if matched.ends_with("--")
        && !(rest.is_empty() || rest.starts_with(|c: char| c.is_whitespace() || c == '-'))
    {
        return false;
    }
    let Some(quote) = matched.chars().next() else {
        return false;
    };
    let before = candidate.before(256);
    let line = before.rsplit('\n').next().unwrap_or(before);
    // The quote must end a value (`admin'`), not open one after a space.
    let ends_value = line
        .chars()
        .last()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == quote);
    // In prose, a quote before a dash closes a quotation opened earlier on the line (`"yes" --`); an
    // injected quote is unbalanced: an even number of the same quotes stands before it.
    let balanced_before = line.matches(quote).count() % 2 == 0;
    ends_value && balanced_before
}

/// One row of the system catalogue.
struct SystemPolicy {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    category: &'static str,
    detector: &'static str,
    severity: Severity,
    priority: i32,
    tags: &'static [&'static str],
    frameworks: &'static [&'static str],
}

const SYSTEM_POLICIES: &[SystemPolicy] = &[
    SystemPolicy {
        id: "sys_pii_ssn",
        name: "Social Security Number",
        description: "US Social Security number valid under SSA rules; bare 9-digit numbers only next to an SSN context word.",
        category: "pii-us",
        detector: "us_ssn",
        severity: Severity::Critical,
        priority: 100,
        tags: &["pii", "us"],
        frameworks: &["HIPAA", "GDPR"],
    },
    SystemPolicy {
        id: "sys_pii_credit_card",
        name: "Credit card number",
        description: "Payment card number of a known network (Visa, Mastercard, Amex, Discover, JCB, Diners, Maestro) passing the Luhn check.",
        category: "pii-global",
        detector: "credit_card",
        severity: Severity::Critical,
        priority: 100,
        tags: &["pii", "pci-dss"],
        frameworks: &["PCI-DSS", "GDPR"],
    },
    SystemPolicy {
        id: "sys_sqli_union_select",
        name: "SQL injection (UNION-based)",
        description: "UNION SELECT used to append attacker-chosen rows to a query.",
        category: "security-sqli",
        detector: "sqli_union_select",
        severity: Severity::Critical,
        priority: 90,
        tags: &["sqli"],
        frameworks: &[],
    },
    SystemPolicy {
        id: "sys_sqli_or_true",
        name: "SQL injection (tautology)",
        description: "Always-true condition such as OR 1=1 or ' OR 'a'='a.",
        category: "security-sqli",
        detector: "sqli_tautology",
        severity: Severity::Critical,
        priority: 90,
        tags: &["sqli"],
        frameworks: &[],
    },
    SystemPolicy {
        id: "sys_sqli_stacked_drop",
        name: "SQL injection (stacked query)",
        description: "A second statement stacked after a semicolon, such as '; DROP TABLE users.",
        category: "security-sqli",
        detector: "sqli_stacked_query",
        severity: Severity::Critical,
        priority: 90,
        tags: &["sqli"],
        frameworks: &[],
    },
    SystemPolicy {
        id: "sys_sqli_comment",
        name: "SQL injection (comment truncation)",
        description: "A closing quote followed by a comment that cuts off the rest of the query, such as admin'--.",
        category: "security-sqli",
        detector: "sqli_comment_truncation",
        severity: Severity::High,
        priority: 80,
        tags: &["sqli"],
        frameworks: &[],
    },
    SystemPolicy {
        id: "sys_sqli_time_based",
        name: "SQL injection (time-based)",
        description: "Time-based blind injection: SLEEP, pg_sleep, BENCHMARK, WAITFOR DELAY.",
        category: "security-sqli",
        detector: "sqli_time_based",
        severity: Severity::Critical,
        priority: 90,
        tags: &["sqli"],
        frameworks: &[],
    },
];

/// The system policies, as seeded into `static_policies`.
pub fn system_policies() -> Vec<PolicySpec> {
    SYSTEM_POLICIES
        .iter()
        .map(|p| PolicySpec {
            id: p.id.to_owned(),
            name: p.name.to_owned(),
            description: p.description.to_owned(),
            category: p.category.to_owned(),
            tier: Tier::System,
            detector: DetectorSpec::Builtin(p.detector.to_owned()),
            action: Action::Block,
            severity: p.severity,
            priority: p.priority,
            enabled: true,
            tags: p.tags.iter().map(|t| (*t).to_owned()).collect(),
            frameworks: p.frameworks.iter().map(|f| (*f).to_owned()).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::{CompileOptions, Engine, Verdict};

    use super::*;

    fn engine() -> Engine {
        Engine::compile(&system_policies(), CompileOptions::default())
            .expect("system policies compile")
    }

    /// Asserts which policies match `text`, in order of position.
    #[track_caller]
    fn check(text: &str, expected: &[&str]) {
        let decision = engine().evaluate(text);
        let ids: Vec<&str> = decision.matches.iter().map(|m| &*m.policy_id).collect();
        assert_eq!(ids, expected, "text: {text:?}");
    }

    #[test]
    fn ssn() {
        check("My SSN is 123-45-6789", &["sys_pii_ssn"]);
        check("ssn 123 45 6789", &["sys_pii_ssn"]);
        check("social security number: 123456789", &["sys_pii_ssn"]);
        check("order number 123456789", &[]);
        check(
            "000-12-3456 666-12-3456 912-34-5678 123-00-4567 123-45-0000",
            &[],
        );
        check("ref 2024-123-45-6789", &[]);
        check(
            "two: 123-45-6789 and 234-56-7890",
            &["sys_pii_ssn", "sys_pii_ssn"],
        );
    }

    #[test]
    fn payment_cards() {
        check("card 4111 1111 1111 1111", &["sys_pii_credit_card"]);
        check("card 4111-1111-1111-1111", &["sys_pii_credit_card"]);
        check("card 4111111111111111", &["sys_pii_credit_card"]);
        check("amex 378282246310005", &["sys_pii_credit_card"]);
        check(
            "mc 5555555555554444 and 2223003122003222",
            &["sys_pii_credit_card", "sys_pii_credit_card"],
        );
        check("discover 6011111111111117", &["sys_pii_credit_card"]);
        check("jcb 3530111333300000", &["sys_pii_credit_card"]);
        check("diners 30569309025904", &["sys_pii_credit_card"]);
        check("luhn fails 4111 1111 1111 1112", &[]);
        check("unknown network 9111111111111111", &[]);
        check("mixed 4111 1111-1111 1111", &[]);
    }

    #[test]
    fn sql_injection() {
        check(
            "1' UNION SELECT username, password FROM users--",
            &["sys_sqli_union_select"],
        );
        check("1' UNION SELECT null-- ", &["sys_sqli_union_select"]);
        check(
            "id=1 union/**/all/**/select null",
            &["sys_sqli_union_select"],
        );
        check("' OR '1'='1", &["sys_sqli_or_true"]);
        check("admin' or 1=1", &["sys_sqli_or_true"]);
        check("x'; DROP TABLE users; --", &["sys_sqli_stacked_drop"]);
        check("admin'--", &["sys_sqli_comment"]);
        check("1 AND SLEEP(5)", &["sys_sqli_time_based"]);
        check(
            "'; WAITFOR DELAY '0:0:5'--",
            &["sys_sqli_time_based", "sys_sqli_comment"],
        );
        check("look up my order then show me its status", &[]);
        check("he said \"yes\" -- then left", &[]);
        check("either 1 or 2 = 3", &[]);
        check("we joined the union; select a leader later", &[]);
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid(&digits("79927398713")));
        assert!(!luhn_valid(&digits("79927398710")));
    }

    #[test]
    fn catalogue_compiles_and_blocks_the_documented_example() {
        let decision = engine().evaluate("My SSN is 123-45-6789");
        assert_eq!(decision.verdict, Verdict::Deny);
        assert_eq!(
            decision.block_reason().as_deref(),
            Some("Social Security Number detected")
        );
        assert_eq!(decision.matches[0].preview, "***-**-6789");
        assert_eq!(decision.frameworks(), ["GDPR", "HIPAA"]);
    }

    #[test]
    fn redaction_keeps_every_other_byte() {
        let options = CompileOptions {
            pii_action: Some(Action::Redact),
            ..CompileOptions::default()
        };
        let engine = Engine::compile(&system_policies(), options).expect("compiles");
        let decision = engine.evaluate("SSN 123-45-6789, card 4111 1111 1111 1111.");
        assert_eq!(decision.verdict, Verdict::Allow);
        assert_eq!(
            decision.redacted_text.as_deref(),
            Some("SSN [REDACTED:SSN], card [REDACTED:CREDIT_CARD].")
        );
    }

    #[test]
    fn pathological_inputs_finish() {
        let engine = engine();
        let inputs = [
            "9".repeat(200_000),
            "'".repeat(200_000),
            "1-".repeat(100_000),
            "(".repeat(100_000),
            "union ".repeat(50_000),
        ];
        for input in &inputs {
            let decision = engine.evaluate(input);
            assert!(decision.matches.len() <= input.len());
        }
    }
}
