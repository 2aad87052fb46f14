//! Built-in detectors. A detector is a candidate regex plus a validator that sees the candidate in its
//! surrounding text (checksums, issuing rules, context words, balanced quotes). Candidate regexes are
//! deliberately loose and cheap; validators decide. Families live in `detectors/`.

mod pii;
mod secrets;
mod sql;
mod sqlscan;

pub(crate) use pii::warm_up_phones;

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
    /// Whether previews keep at most the value's last four characters (personal data, secrets);
    /// other previews keep only SQL vocabulary and punctuation. No preview shows the value.
    pub masks_preview: bool,
    /// What must occur near a match: ASCII-case-insensitive literals, or (with `DIGITS`) any digit.
    /// Evaluation runs the regex only in windows around these; an empty list means the whole text.
    pub triggers: &'static [&'static str],
    pub reach: Reach,
    /// For digit-triggered detectors: what a numeric token must have for a match to be possible.
    pub gate: Gate,
    /// A cheap look at the bytes right after a literal trigger (`text[end..]`): `false` means no match
    /// can involve this occurrence, so no window is opened for it. Must never reject a real match.
    pub confirm: Option<Confirm>,
    /// A scanner that replaces the regex: given a window of the text, the byte ranges it reports
    /// (relative to the window). Its matches are not passed to `validate`.
    pub scan: Option<Scan>,
}

/// See `Builtin::scan`.
pub(crate) type Scan = fn(&[u8]) -> Vec<std::ops::Range<usize>>;

/// See `Builtin::confirm`: the text's bytes and the end of the trigger occurrence.
pub(crate) type Confirm = fn(&[u8], usize) -> bool;

/// The least a numeric token (digits joined by separators and capital letters) must contain.
#[derive(Clone, Copy)]
pub(crate) struct Gate {
    pub min_digits: usize,
    pub needs_uppercase: bool,
    /// Dotted quad (3 dots) or IPv6 groups (3 colons).
    pub needs_address_shape: bool,
}

pub(crate) const ANY: Gate = Gate {
    min_digits: 0,
    needs_uppercase: false,
    needs_address_shape: false,
};

const fn digits_at_least(min_digits: usize) -> Gate {
    Gate {
        min_digits,
        needs_uppercase: false,
        needs_address_shape: false,
    }
}

const fn code_with_digits(min_digits: usize) -> Gate {
    Gate {
        min_digits,
        needs_uppercase: true,
        needs_address_shape: false,
    }
}

const ADDRESS_SHAPE: Gate = Gate {
    min_digits: 1,
    needs_uppercase: false,
    needs_address_shape: true,
};

/// How far a match may begin before its trigger and end after it, in bytes.
pub(crate) type Reach = (usize, usize);
/// Numbers and codes: short matches around their digits.
pub(crate) const NEAR: Reach = (48, 96);
/// Addresses around an `@`.
pub(crate) const ADDRESS: Reach = (128, 320);
/// Tokens and key blocks after their prefix.
pub(crate) const TOKEN: Reach = (16, 8192);
/// A value shortly after its context word.
pub(crate) const CONTEXT: Reach = (16, 96);
/// SQL around a keyword or operator.
pub(crate) const STATEMENT: Reach = (320, 640);

/// Trigger meaning "a run of ASCII digits starts here".
pub(crate) const DIGITS: &str = "\\d";

fn always(_: &Candidate<'_>) -> bool {
    true
}

pub(crate) fn digits(text: &str) -> Vec<u8> {
    text.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

pub(crate) fn number(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |acc, d| {
        acc.saturating_mul(10).saturating_add(u32::from(*d))
    })
}

/// True when the candidate is glued to more digits by a separator, e.g. the tail of `2024-123-45-6789`.
pub(crate) fn part_of_longer_number(candidate: &Candidate<'_>) -> bool {
    let before = candidate.before(2).as_bytes();
    let after = candidate.after(2).as_bytes();
    let sep = |b: u8| b == b'-' || b == b'.' || b == b'/' || b == b',';
    (before.len() == 2 && sep(before[1]) && before[0].is_ascii_digit())
        || (after.len() == 2 && sep(after[0]) && after[1].is_ascii_digit())
}

/// True when `window` holds one of `words` (lower case) starting at a word boundary (`tel` in
/// "tel:", not "hotel").
pub(crate) fn has_context(window: &str, words: &[&str]) -> bool {
    // ASCII text, the usual case: compared in place, no lower-cased copy and no searcher per word.
    if window.is_ascii() {
        // The words' first bytes, both cases: most word starts of the window begin none of them.
        let mut starts = [false; 256];
        for word in words {
            let Some(&first) = word.as_bytes().first() else {
                // An empty word is found at the start of any text.
                return !window.is_empty();
            };
            starts[usize::from(first.to_ascii_lowercase())] = true;
            starts[usize::from(first.to_ascii_uppercase())] = true;
        }
        let bytes = window.as_bytes();
        return (0..bytes.len()).any(|at| {
            let first = bytes[at].to_ascii_lowercase();
            starts[usize::from(bytes[at])]
                && (at == 0 || !bytes[at - 1].is_ascii_alphanumeric())
                && words.iter().any(|word| {
                    let word = word.as_bytes();
                    word.first()
                        .is_some_and(|b| b.to_ascii_lowercase() == first)
                        && bytes
                            .get(at..at + word.len())
                            .is_some_and(|here| here.eq_ignore_ascii_case(word))
                })
        });
    }
    has_context_lowered(window, words)
}

/// `has_context` for any text: on a lower-cased copy (Unicode case rules).
fn has_context_lowered(window: &str, words: &[&str]) -> bool {
    let lower = window.to_lowercase();
    words.iter().any(|word| {
        lower.match_indices(word).any(|(idx, _)| {
            lower[..idx]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
        })
    })
}

pub(crate) fn has_context_before(
    candidate: &Candidate<'_>,
    n_bytes: usize,
    words: &[&str],
) -> bool {
    has_context(candidate.before(n_bytes), words)
}

fn ip_address(candidate: &Candidate<'_>) -> bool {
    if candidate.as_str().contains(':') {
        pii::ipv6(candidate)
    } else {
        pii::ipv4(candidate)
    }
}

const BUILTINS: &[Builtin] = &[
    // ---- personal data ----
    Builtin {
        name: "us_ssn",
        pattern: r"\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b|\b\d{9}\b",
        validate: pii::ssn,
        mask_label: "SSN",
        triggers: &[DIGITS],
        reach: NEAR,
        gate: digits_at_least(9),
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "credit_card",
        pattern: r"\b\d(?:[ -]?\d){11,18}\b",
        validate: pii::payment_card,
        mask_label: "CREDIT_CARD",
        triggers: &[DIGITS],
        reach: NEAR,
        gate: digits_at_least(12),
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "email",
        pattern: r"\b[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b",
        validate: pii::email,
        mask_label: "EMAIL",
        triggers: &["@"],
        reach: ADDRESS,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "phone",
        // A slash only right after the area code (`0221/1234567`).
        pattern: r"(?:\+|\b00|\(|\b)\d(?:\d{1,5}/)?[\d ().-]{5,22}\d\b",
        validate: pii::phone,
        mask_label: "PHONE",
        triggers: &[DIGITS],
        reach: NEAR,
        gate: digits_at_least(7),
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "ip_address",
        pattern: r"(?i)\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b|(?:[0-9a-f]{1,4}:){1,7}(?::?[0-9a-f]{1,4}){1,7}|(?:[0-9a-f]{1,4}:){1,7}:|::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4}",
        validate: ip_address,
        mask_label: "IP_ADDRESS",
        triggers: &[DIGITS, "::"],
        reach: NEAR,
        gate: ADDRESS_SHAPE,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "iban",
        pattern: IBAN_PATTERN,
        validate: pii::iban,
        mask_label: "IBAN",
        triggers: &[DIGITS],
        reach: NEAR,
        gate: code_with_digits(2),
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "us_passport",
        pattern: r"\b(?:[A-Z]\d{8}|\d{9})\b",
        validate: pii::us_passport,
        mask_label: "PASSPORT",
        triggers: &["passport"],
        reach: CONTEXT,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "uk_nino",
        pattern: r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
        validate: pii::uk_nino,
        mask_label: "UK_NINO",
        triggers: &[DIGITS],
        reach: NEAR,
        gate: code_with_digits(6),
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "aadhaar",
        pattern: r"\b[2-9]\d{3}(?:\d{8}|-\d{4}-\d{4}| \d{4} \d{4})\b",
        validate: pii::aadhaar,
        mask_label: "AADHAAR",
        triggers: &[DIGITS],
        reach: NEAR,
        gate: digits_at_least(12),
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "india_pan",
        pattern: r"\b[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z]\b",
        validate: always,
        mask_label: "PAN",
        triggers: &[DIGITS],
        reach: NEAR,
        gate: code_with_digits(4),
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "upi_id",
        pattern: r"(?i)\b[a-z0-9][a-z0-9._-]{1,255}@(?:ybl|ibl|axl|okaxis|okhdfcbank|okicici|oksbi|paytm|upi|apl|yapl|ptyes|ptaxis|pthdfc|ptsbi|ikwik|freecharge|fbl|axisbank|hdfcbank|icici|sbi|kotak|barodampay|aubank|idfcbank|indus|pnb|unionbank|yesbank|jupiteraxis|slc|kmbl|airtel|jio|waicici|wahdfcbank|wasbi|waaxis)\b",
        validate: pii::upi_id,
        mask_label: "UPI_ID",
        triggers: &["@"],
        reach: ADDRESS,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "date_of_birth",
        pattern: DATE_PATTERN,
        validate: pii::date_of_birth,
        mask_label: "DATE_OF_BIRTH",
        triggers: &["born", "dob", "d.o.b", "birth"],
        reach: CONTEXT,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "aba_routing",
        pattern: r"\b\d{9}\b",
        validate: pii::aba_routing,
        mask_label: "ROUTING_NUMBER",
        triggers: &["routing", "aba", "rtn", "transit"],
        reach: CONTEXT,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "bank_account",
        pattern: r"\b\d{8,17}\b",
        validate: pii::bank_account,
        mask_label: "BANK_ACCOUNT",
        triggers: &["account", "acct", "a/c"],
        reach: CONTEXT,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "ifsc",
        pattern: r"\b[A-Z]{4}0[A-Z0-9]{6}\b",
        validate: always,
        mask_label: "IFSC",
        triggers: &[DIGITS],
        reach: NEAR,
        gate: code_with_digits(1),
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "medical_record_number",
        pattern: r"(?i)\b(?:mrn|medical record (?:number|no\.?|#))\s*[:#]?\s*[A-Z0-9][A-Z0-9-]{4,14}\b",
        validate: pii::medical_record_number,
        mask_label: "MRN",
        triggers: &["mrn", "medical record"],
        reach: NEAR,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    // ---- secrets ----
    Builtin {
        name: "aws_access_key_id",
        pattern: r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b",
        validate: always,
        mask_label: "AWS_ACCESS_KEY",
        triggers: &[
            "akia", "asia", "abia", "acca", "agpa", "aida", "aroa", "anpa", "anva", "apka",
        ],
        reach: TOKEN,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "aws_secret_access_key",
        pattern: r#"(?i)\baws_?secret_?(?:access_?)?key\b["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}\b"#,
        validate: secrets::aws_secret_assignment,
        mask_label: "AWS_SECRET_KEY",
        triggers: &["aws"],
        reach: TOKEN,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "openai_api_key",
        pattern: r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}",
        validate: secrets::standalone_token,
        mask_label: "API_KEY",
        triggers: &["sk-"],
        reach: TOKEN,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "anthropic_api_key",
        pattern: r"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{32,}",
        validate: secrets::standalone_token,
        mask_label: "API_KEY",
        triggers: &["sk-ant-"],
        reach: TOKEN,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "github_token",
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})",
        validate: secrets::standalone_token,
        mask_label: "GITHUB_TOKEN",
        triggers: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        reach: TOKEN,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "slack_token",
        pattern: r"\bxox[abposr]-[A-Za-z0-9-]{10,250}",
        validate: secrets::standalone_token,
        mask_label: "SLACK_TOKEN",
        triggers: &["xox"],
        reach: TOKEN,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    Builtin {
        name: "private_key_block",
        pattern: r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----",
        validate: always,
        mask_label: "PRIVATE_KEY",
        triggers: &["-----begin"],
        reach: TOKEN,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "jwt",
        pattern: r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        validate: secrets::jwt,
        mask_label: "JWT",
        triggers: &["eyj"],
        reach: TOKEN,
        gate: ANY,
        confirm: None,
        masks_preview: true,
        scan: None,
    },
    // ---- SQL injection ----
    Builtin {
        name: "sqli_union_select",
        pattern: r"(?i)\bunion(?:\s|/\*.*?\*/|\(|\+|/\*!\d*)+(?:(?:all|distinct)(?:\s|/\*.*?\*/|\(|\+|/\*!\d*)+)*select\b",
        validate: sql::union_select,
        mask_label: "SQLI",
        triggers: &["union"],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sqli_tautology",
        pattern: r#"(?i)(?:\b(?:or|and|xor|where|when|having)\b|\|\||&&)\s*\(*\s*(?:'[^'\n]{0,32}'\s*=\s*(?:'[^'\n]{0,32}'|'\w+)|"[^"\n]{0,32}"\s*=\s*(?:"[^"\n]{0,32}"|"\w+)|-?\d{1,10}\s*=\s*\(*\s*-?\d{1,10}\b|[a-z_][a-z0-9_]{0,31}\s*=\s*[a-z_][a-z0-9_]{0,31}\b|true\b\s*(?:--|#|;|$))"#,
        validate: sql::tautology,
        mask_label: "SQLI",
        triggers: &["=", "true"],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sqli_quote_breakout",
        pattern: r#"(?i)['"`′](?:\s|\))*(?:\b(?:or|and|xor|union|select|having|order\s+by|group\s+by|procedure|rlike|regexp|like|waitfor|div|between)\b|[-+]\s*\(|\|\||&&|<>|!=|<=>|(?:[\^&*=]|!=)\s*(?:[!+~-]\s*)*(?:['"(@]|\d|null\b))"#,
        validate: sql::quote_breakout,
        mask_label: "SQLI",
        triggers: &["'", "\"", "`", "′"],
        reach: STATEMENT,
        gate: ANY,
        confirm: Some(sql::breakout_can_follow),
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sqli_stacked_query",
        pattern: r"(?i)[\w'\x22)%]\s*;\s*(?:select|insert|update|delete|drop|create|alter|truncate|exec|execute|shutdown|set|declare|waitfor|grant|revoke|copy|while)\b",
        validate: sql::stacked_after_value,
        mask_label: "SQLI",
        triggers: &[";"],
        reach: STATEMENT,
        gate: ANY,
        confirm: Some(sql::statement_can_follow),
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sqli_comment_truncation",
        pattern: r#"(?i)['"][ \t]*(?:\)[ \t]*)*(?:--|#|/\*)|\border\s+by\s+\d+[ \t]*(?:--|#|/\*)|\)[ \t]*\)[ \t]*(?:--|#)|(?m)^[ \t]*-\d+[ \t]*(?:--|#)"#,
        validate: sql::comment_truncation,
        mask_label: "SQLI",
        triggers: &["--", "#", "/*"],
        reach: STATEMENT,
        gate: ANY,
        confirm: Some(sql::comment_follows_a_value),
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sqli_time_based",
        pattern: r"(?i)\b(?:sleep|pg_sleep|benchmark|sleepeachrow|dbms_pipe\.receive_message|dbms_lock\.sleep)\s*\(|\bwaitfor\s+delay\s+'|\bgenerate_series\s*\(\s*\d+\s*,\s*\d{6,}|\brandomblob\s*\(\s*\d{6,}|\bcount\s*\(\s*\*\s*\)\s*from\s+[\w$.]+(?:\s+(?:as\s+)?\w+)?\s*,\s*[\w$.]+(?:\s+(?:as\s+)?\w+)?\s*,",
        validate: sql::delay_call,
        mask_label: "SQLI",
        triggers: &[
            "sleep",
            "benchmark",
            "waitfor",
            "dbms_",
            "generate_series",
            "randomblob",
            "count",
        ],
        reach: STATEMENT,
        gate: ANY,
        confirm: Some(sql::call_can_follow),
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sqli_error_based",
        pattern: r"(?i)\b(?:extractvalue|updatexml|json_keys|geometrycollection|multipoint|multipolygon|multilinestring|linestring|polygon|name_const|xmltype|parse_data_size|dbms_utility\.\w+|utl_inaddr\.\w+|ctxsys\.drithsx\.sn|dbms_xdb_version\.\w+|procedure\s+analyse|utl_http\.request|dbms_ldap\.init|httpuritype)\s*\(|\bexp\s*\(\s*~|\b(?:convert|cast)\s*\(\s*(?:int\s*,\s*)?\(*\s*(?:select\b|chr\s*\(|char\s*\(|concat\s*\(|'[^'\n]{0,32}'\s*\|\|)",
        validate: always,
        mask_label: "SQLI",
        triggers: &[
            "extractvalue",
            "updatexml",
            "json_keys",
            "geometrycollection",
            "multipoint",
            "multipolygon",
            "multilinestring",
            "linestring",
            "polygon",
            "name_const",
            "xmltype",
            "parse_data_size",
            "dbms_",
            "utl_",
            "ctxsys",
            "analyse",
            "httpuritype",
            "~",
            "convert",
            "cast",
        ],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sqli_encoded",
        pattern: r"[^\s]{0,256}(?:%[0-9A-Fa-f]{2}|\\x[0-9A-Fa-f]{2}|\+\+|&(?:apos|quot|#39|#x27|#34);)[^\n]{0,256}",
        validate: sql::encoded_payload,
        mask_label: "SQLI",
        triggers: &["%", "\\x", "++", "&apos;", "&quot;", "&#"],
        reach: STATEMENT,
        gate: ANY,
        confirm: Some(sql::escape_is_complete),
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sqli_char_concat",
        pattern: r"(?i)\b(?:char|chr)\s*\(\s*\d{1,3}\s*\)\s*(?:\+|\|\||,)\s*(?:char|chr)\s*\(\s*\d{1,3}\s*\)|\b(?:char|chr)\s*\(\s*(?:0x[0-9a-f]{2,}|\d{1,3}\s*,\s*\d{1,3}\s*,)",
        validate: always,
        mask_label: "SQLI",
        triggers: &["char", "chr"],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sqli_hex_literal",
        pattern: r"(?i)\b0x[0-9a-f]{6,}\b",
        validate: sql::hex_in_sql,
        mask_label: "SQLI",
        triggers: &["0x"],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sqli_boolean_inference",
        pattern: r"(?i)\b(?:case\s+when|elt|make_set|if|iif)\s*\(*\s*\(?\s*\d+\s*=\s*\d+|\b(?:and|or|xor)\s+\(?-?\d+\)?\s*(?:=|<>|!=|<|>)\s*\(?-?\d+\)?[ \t]*(?:--|#|\))|\b(?:and|or|xor|div|mod|rlike|regexp|like|not)\s*\(+\s*select\b[^)]{0,120}?(?:\bfrom\b|@@|\bcase\b|\bsubstring|\bchar\s*\(|\bsleep|\d)|@@(?:version|datadir|hostname|basedir|servername|language)\b|\b(?:or|and)\s+[^\n]{0,40}?\)[ \t]*(?:--(?:[ \t]|$)|#[ \t]*$)|\b(?:substring|substr|mid|ascii|ord)\s*\(\s*\(?\s*select\b",
        validate: always,
        mask_label: "SQLI",
        triggers: &["=", "<", ">", "@@", "select", "--", "#"],
        reach: STATEMENT,
        gate: ANY,
        confirm: Some(sql::inference_can_follow),
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sqli_syntax",
        pattern: "",
        validate: sqlscan::judged,
        mask_label: "SQLI",
        triggers: SQLI_SYNTAX_TRIGGERS,
        reach: STATEMENT,
        gate: ANY,
        confirm: Some(sqlscan::trigger_confirms),
        masks_preview: false,
        scan: Some(sqlscan::scan),
    },
    // ---- dangerous statements ----
    Builtin {
        name: "sql_drop",
        pattern: r#"(?i)\bdrop\s+(?:table|database|schema|view|index|user|role|procedure|function|trigger|login)\s+(?:if\s+exists\s+)?[\w."`\[]"#,
        validate: always,
        mask_label: "DANGEROUS_SQL",
        triggers: &["drop"],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sql_truncate",
        pattern: r#"(?i)\btruncate\s+(?:table\s+)?(?:only\s+)?[\w."`\[\]]+"#,
        validate: sql::truncate_table,
        mask_label: "DANGEROUS_SQL",
        triggers: &["truncate"],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sql_delete_all",
        pattern: r#"(?i)\bdelete\s+(?:(?:low_priority|quick|ignore)\s+)*from\s+[\w."`\[\]]+"#,
        validate: sql::delete_all,
        mask_label: "DANGEROUS_SQL",
        triggers: &["delete"],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sql_alter",
        pattern: r#"(?i)\balter\s+(?:table|user|database|schema|role|login|system|view|procedure|function)\s+[\w."`\[@']"#,
        validate: sql::alter_statement,
        mask_label: "DANGEROUS_SQL",
        triggers: &["alter"],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sql_grant_revoke",
        pattern: r"(?i)\b(?:grant|revoke)\s+(?:all(?:\s+privileges)?|(?:select|insert|update|delete|execute|usage|create|alter|drop|references|trigger|connect|super|file|process|reload|shutdown|temporary|index)(?:\s*,\s*(?:select|insert|update|delete|execute|usage|create|alter|drop|references|trigger|connect|index))*|dba|sysadmin|db_owner|superuser|connect|resource)\b(?:\s*\([^)]{0,100}\))?\s+(?:on|to|from)\b",
        validate: always,
        mask_label: "DANGEROUS_SQL",
        triggers: &["grant", "revoke"],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sql_create_user",
        pattern: r#"(?i)\bcreate\s+(?:user|login|role)\s+(?:if\s+not\s+exists\s+)?[\w'"`@\[]"#,
        validate: always,
        mask_label: "DANGEROUS_SQL",
        triggers: &["create"],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sql_system_catalog",
        pattern: r"(?i)\b(?:information_schema|pg_catalog|pg_shadow|pg_authid|pg_user|pg_roles|pg_stat_activity|mysql\.(?:user|db|tables_priv)|sys\.(?:objects|tables|columns|databases|sql_logins|server_principals|syslogins|sysobjects|schemas|all_objects)|sysobjects|syscolumns|syslogins|sysusers|sysdatabases|master\.\.\w+|sqlite_master|sqlite_schema|dba_users|dba_tables|all_users|all_tables|user_tables|v\$version|rdb\$\w+)\b",
        validate: sql::in_sql_statement,
        mask_label: "DANGEROUS_SQL",
        triggers: &[
            "information_schema",
            "pg_",
            "mysql.",
            "sys.",
            "sysobjects",
            "syscolumns",
            "syslogins",
            "sysusers",
            "sysdatabases",
            "master..",
            "sqlite_",
            "dba_",
            "all_users",
            "all_tables",
            "user_tables",
            "v$version",
            "rdb$",
        ],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sql_credentials",
        pattern: r"(?i)\bselect\b[^;\n]{0,160}?\b(?:password|passwd|pwd|pass|password_hash|passhash|hashed_password|api_key|api_token|secret|auth_token|access_token|private_key)s?\b[^;\n]{0,160}?\bfrom\b|\bfrom\s+[\w.\x60\x22\[\]]*(?:credential|password|passwd|secret|api_key|auth_token|access_token)\w*",
        validate: always,
        mask_label: "DANGEROUS_SQL",
        triggers: &[
            "select",
            "credential",
            "password",
            "passwd",
            "secret",
            "api_key",
            "auth_token",
            "access_token",
        ],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    Builtin {
        name: "sql_file_access",
        pattern: r"(?i)\b(?:load_file\s*\(|into\s+(?:out|dump)file\b|load\s+data\s+(?:local\s+)?infile\b|pg_read_file\s*\(|pg_read_binary_file\s*\(|pg_ls_dir\s*\(|xp_cmdshell\b|lo_import\s*\(|lo_export\s*\(|utl_file\.\w+|copy\s+[A-Za-z0-9_.(), ]{1,100}\s+(?:to|from)\s+(?:'|program\b|stdout\b))",
        validate: always,
        mask_label: "DANGEROUS_SQL",
        triggers: &[
            "load_file",
            "outfile",
            "dumpfile",
            "infile",
            "pg_read",
            "pg_ls_dir",
            "xp_cmdshell",
            "lo_import",
            "lo_export",
            "utl_file",
            "copy",
        ],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
    // ---- admin access ----
    Builtin {
        name: "sql_admin_objects",
        pattern: r"(?i)\b(?:select\b[^;\n]{0,200}?\bfrom|insert\s+into|delete\s+from|join)\s+[\w.\x60\x22\[\]]*admin\w*|\bupdate\s+[\w.\x60\x22\[\]]*admin\w*\s+set\b|\b(?:sp_addsrvrolemember|sp_configure|sp_addlogin|sp_password|xp_regread|xp_regwrite|pg_terminate_backend|pg_reload_conf)\s*\(?|\bset\s+role\s+\w*admin",
        validate: always,
        mask_label: "ADMIN_SQL",
        triggers: &[
            "admin",
            "sp_",
            "xp_",
            "pg_terminate_backend",
            "pg_reload_conf",
            "set role",
        ],
        reach: STATEMENT,
        gate: ANY,
        confirm: None,
        masks_preview: false,
        scan: None,
    },
];

/// IBANs, compact or in groups of four. Capitals as written by banks, or any letter case; in the latter
/// form every group after the first BBAN group holds a digit, so that a word after the IBAN ("... 3201
/// and") is not taken for its last group. The gate's capital letters include a two-letter code in any
/// case glued before the digits (see `numeric_tokens`).
const IBAN_PATTERN: &str = concat!(
    r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
    r"|\b[A-Za-z]{2}\d{2} ?[A-Za-z0-9]{4}",
    r"(?: ?(?:\d[A-Za-z0-9]{3}|[A-Za-z]\d[A-Za-z0-9]{2}|[A-Za-z]{2}\d[A-Za-z0-9]|[A-Za-z]{3}\d)){1,6}",
    r"(?: ?(?:\d[A-Za-z0-9]{0,2}|[A-Za-z]\d[A-Za-z0-9]?|[A-Za-z]{2}\d))?\b",
);

/// Triggers of `sqli_syntax`: the operators and delimiters a technique cannot do without. A
/// comparison or a parenthesis wakes it only after a condition word, a line comment only after a
/// quote, a number or a condition, `ORDER`/`GROUP` only before `BY` (see
/// `sqlscan::trigger_confirms`), so prose with "and", "or", dashes and "order" but no SQL costs
/// nothing.
pub(crate) const SQLI_SYNTAX_TRIGGERS: &[&str] = &[
    "=", "<", ">", "!", "(", "like", "between", "regexp", "--", "#", "/*", "&&", "||", "union",
    "order", "group", "having", ";", "'", "\"", "\u{2019}", "\u{2018}", "\u{2032}", "\u{ff07}",
    "%", "\\x", "&#", "&quot;", "&apos;",
];

/// Dates in the common numeric and written forms (checked for a date-of-birth context by the validator).
const DATE_PATTERN: &str = r"(?i)\b(?:\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)\d{2}|(?:19|20)\d{2}-\d{2}-\d{2}|\d{1,2}(?:st|nd|rd|th)?\s+(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?,?\s+(?:19|20)\d{2}|(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{2})\b";

/// Names accepted by `DetectorSpec::Builtin`.
pub fn builtin_detector_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|b| b.name).collect()
}

pub(crate) fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_words_start_at_word_boundaries() {
        assert!(has_context("Call me at", &["call"]));
        // The ASCII path answers as the lower-cased copy does.
        for window in [
            "Call me at",
            "the HOTEL tel:",
            "xtel tel",
            "phone-number",
            "my_phone 1",
            "",
            "TEL",
            "e-mail: a",
            "CALL now",
            "aPhone, Phone: 5",
            "E-Mail",
        ] {
            for words in [
                &["tel"][..],
                &["call", "phone"],
                &["e-mail", "mail"],
                &["tel:"],
            ] {
                assert_eq!(
                    has_context(window, words),
                    has_context_lowered(window, words),
                    "{window:?} {words:?}"
                );
            }
        }
        assert!(has_context("tel: ", &["tel"]));
        assert!(!has_context("the hotel ", &["tel"]));
        assert!(!has_context("recall ", &["call"]));
    }

    #[test]
    fn every_builtin_pattern_compiles() {
        for builtin in BUILTINS {
            assert!(
                regex::Regex::new(builtin.pattern).is_ok(),
                "{}",
                builtin.name
            );
        }
    }
}
