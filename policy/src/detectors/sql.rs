//! Validators of SQL-injection and dangerous-statement candidates. They tell SQL that breaks out of a
//! value (an unbalanced quote followed by SQL) from prose that quotes or talks about SQL.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use super::Candidate;

/// The line the candidate sits on, before it (at most `n_bytes`).
fn line_before<'t>(candidate: &Candidate<'t>, n_bytes: usize) -> &'t str {
    let before = candidate.before(n_bytes);
    before.rsplit('\n').next().unwrap_or(before)
}

fn line_after<'t>(candidate: &Candidate<'t>, n_bytes: usize) -> &'t str {
    let after = candidate.after(n_bytes);
    after.split('\n').next().unwrap_or(after)
}

/// In prose a quote usually closes a quotation opened earlier on the same line (`"yes" or`); an
/// injected quote is unbalanced: an even number of the same quotes stands before it.
fn quote_is_unbalanced(candidate: &Candidate<'_>, quote: char) -> bool {
    // Double quotes delimit quotations across line breaks within a paragraph; single quotes double as
    // apostrophes, so only their own line is trusted.
    let scope = if quote == '"' {
        let before = candidate.before(1024);
        let paragraph = before.rsplit("\n\n").next().unwrap_or(before);
        paragraph.rsplit("```").next().unwrap_or(paragraph)
    } else {
        line_before(candidate, 512)
    };
    // An apostrophe inside a word (`CHATGPT'S`) neither opens nor closes a quotation.
    let bytes = scope.as_bytes();
    let counted = scope
        .match_indices(quote)
        .filter(|(at, _)| {
            quote != '\''
                || !(*at > 0
                    && bytes[at - 1].is_ascii_alphanumeric()
                    && bytes.get(at + 1).is_some_and(u8::is_ascii_alphanumeric))
        })
        .count();
    counted % 2 == 0
}

/// Trigger confirmation of `sqli_quote_breakout`: after the quote (and any spaces or `)`), its
/// pattern needs an operator character or one of its keywords. Rejects `year's figure` and
/// `'see you'` without running the regex.
pub(crate) fn breakout_can_follow(bytes: &[u8], end: usize) -> bool {
    // The validator judges the quote on its own line (a line break ends the look ahead), and never
    // the closing quote of a pair on it (counted last: it reads back along the line).
    let quote = end - 1;
    let may_enter = || {
        !matches!(bytes[quote], b'\'' | b'"')
            || super::sqlscan::quote_may_enter(bytes, quote, super::sqlscan::validator_start(quote))
    };
    let mut idx = end;
    while idx < bytes.len() && matches!(bytes[idx], b' ' | b'\t' | b'\r' | 0x0b | 0x0c | b')') {
        idx += 1;
    }
    let Some(&first) = bytes.get(idx) else {
        return false;
    };
    // Non-ASCII: Unicode spaces and case folds (`ſelect`) are left to the regex.
    if !first.is_ascii()
        || matches!(
            first,
            b'-' | b'+' | b'|' | b'&' | b'<' | b'!' | b'^' | b'*' | b'='
        )
    {
        return may_enter();
    }
    let word_end = bytes[idx..]
        .iter()
        .position(|b| !b.is_ascii_alphabetic())
        .map_or(bytes.len(), |len| idx + len);
    if bytes.get(word_end).is_some_and(|b| !b.is_ascii()) {
        return may_enter();
    }
    super::sqlscan::lowered::<9>(&bytes[idx..word_end]).is_some_and(|(word, len)| {
        matches!(
            &word[..len],
            b"or"
                | b"and"
                | b"xor"
                | b"union"
                | b"select"
                | b"having"
                | b"order"
                | b"group"
                | b"procedure"
                | b"rlike"
                | b"regexp"
                | b"like"
                | b"waitfor"
                | b"div"
                | b"between"
        )
    }) && may_enter()
}

/// Trigger confirmation of `sqli_encoded`: `%` and `\x` count only as the start of an escape with two
/// hex digits (`%27`, `\x27`), not in `12% of` or `100%`.
pub(crate) fn escape_is_complete(bytes: &[u8], end: usize) -> bool {
    let is_escape_trigger =
        end >= 1 && (bytes[end - 1] == b'%' || bytes[end - 1] == b'x' || bytes[end - 1] == b'X');
    if !is_escape_trigger {
        return true;
    }
    bytes
        .get(end..end + 2)
        .is_some_and(|pair| pair.iter().all(u8::is_ascii_hexdigit))
}

/// Trigger confirmation of `sqli_boolean_inference`: its pattern reads a comment (`--`, `#`) only
/// right after a closing parenthesis (`or (a)) --`), and a comparison (`=`, `<`, `>`) only between
/// numbers (`and 1=1`, `or 3>2 --`, `iif(1=1`); every other form it matches holds `@@` or `select`,
/// triggers of their own. A dash or hash after prose (`-- Steve Jobs`), an arrow (`->`, `=>`) or a
/// comparison of words opens no window.
pub(crate) fn inference_can_follow(bytes: &[u8], end: usize) -> bool {
    match bytes[..end] {
        [.., b'-', b'-'] | [.., b'#'] => comment_closes_a_group(bytes, end),
        [.., b'=' | b'<' | b'>'] => number_follows_comparison(bytes, end),
        _ => true,
    }
}

fn comment_closes_a_group(bytes: &[u8], end: usize) -> bool {
    let start = if bytes[..end].ends_with(b"--") {
        end - 2
    } else {
        end - 1
    };
    byte_before(bytes, start) == Some(b')')
}

/// The last byte before `start` that is not a space or a tab.
fn byte_before(bytes: &[u8], start: usize) -> Option<u8> {
    bytes[..start]
        .iter()
        .rev()
        .find(|b| !matches!(b, b' ' | b'\t'))
        .copied()
}

/// After a comparison operator (the rest of `<>`, `!=`, `>=` too): white space, `(` and a minus,
/// then a digit.
fn number_follows_comparison(bytes: &[u8], end: usize) -> bool {
    // An operator is at most three bytes (`<=>`): a trigger with more of them after it is inside a
    // longer run (`=====`), decided by the triggers at the run's end, each reading three bytes
    // instead of the whole run.
    let operator = |at: usize| {
        bytes
            .get(at)
            .is_some_and(|b| matches!(b, b'<' | b'>' | b'='))
    };
    let mut at = end;
    while at < end + 3 && operator(at) {
        at += 1;
    }
    if operator(at) {
        return false;
    }
    let mut at = skip_white_space(bytes, at);
    while bytes.get(at).is_some_and(|b| matches!(b, b'(' | b'-')) {
        at = skip_white_space(bytes, at + 1);
    }
    bytes.get(at).is_some_and(u8::is_ascii_digit)
}

/// The offset of the first character at or after `from` that is not whitespace (`\s` as the
/// patterns read it: Unicode white space, so `\x0b` and NBSP are skipped too).
fn skip_white_space(bytes: &[u8], from: usize) -> usize {
    let mut at = from.min(bytes.len());
    loop {
        match bytes.get(at) {
            Some(b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') => at += 1,
            Some(b) if b.is_ascii() => return at,
            Some(_) => {
                // One character past ASCII, decoded on its own (not the rest of the text).
                let head = &bytes[at..(at + 4).min(bytes.len())];
                match head
                    .utf8_chunks()
                    .next()
                    .and_then(|chunk| chunk.valid().chars().next())
                {
                    Some(c) if c.is_whitespace() => at += c.len_utf8(),
                    _ => return at,
                }
            }
            None => return at,
        }
    }
}

/// Trigger confirmation of `sqli_time_based`: its calls (`sleep(`, `pg_sleep (`, `benchmark(`,
/// `count(*) from a, b,`...) have the parenthesis right after the word, so `discounts`, `account`
/// and `sleep well` open no window. `waitfor` and `dbms_` are read whole.
pub(crate) fn call_can_follow(bytes: &[u8], end: usize) -> bool {
    let trigger_end = &bytes[..end.min(bytes.len())];
    let waitfor = trigger_end.len() >= 7
        && trigger_end[trigger_end.len() - 7..].eq_ignore_ascii_case(b"waitfor");
    if trigger_end.ends_with(b"_") || waitfor {
        return true;
    }
    // The rest of the word (`sleepeachrow`), then white space, then the call's parenthesis. A word
    // running on for more than 64 bytes opens the window unread: each trigger in a long run of
    // letters would read the rest of the run again.
    let rest = &bytes[end.min(bytes.len())..];
    let Some(len) = rest
        .iter()
        .take(65)
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
    else {
        return rest.len() > 64;
    };
    bytes.get(skip_white_space(bytes, end + len)) == Some(&b'(')
}

/// Trigger confirmation of `sqli_stacked_query`: a statement word follows the `;` after white space
/// (the scanner's list, which holds every word of the pattern). `; the rest of the sentence` opens
/// no window.
pub(crate) fn statement_can_follow(bytes: &[u8], end: usize) -> bool {
    let at = skip_white_space(bytes, end);
    // The statement starts are lower case: their first byte rules out all but a few at once.
    let Some(first) = bytes.get(at).map(u8::to_ascii_lowercase) else {
        return false;
    };
    super::sqlscan::STATEMENT_STARTS.iter().any(|statement| {
        statement.first() == Some(&first)
            && bytes
                .get(at..at + statement.len())
                .is_some_and(|word| word.eq_ignore_ascii_case(statement))
    })
}

/// Trigger confirmation of `sqli_comment_truncation`: every form its pattern matches has the comment
/// right after a quote, a closing parenthesis or a number (spaces and tabs between). A dash in prose
/// (`the result -- as expected`) or a hashtag opens no window.
pub(crate) fn comment_follows_a_value(bytes: &[u8], end: usize) -> bool {
    let start = match bytes[..end] {
        [.., b'-', b'-'] | [.., b'/', b'*'] => end - 2,
        [.., b'#'] => end - 1,
        _ => return true,
    };
    byte_before(bytes, start)
        .is_some_and(|b| matches!(b, b'\'' | b'"' | b')') || b.is_ascii_digit())
}

/// `' OR ...`, `") AND ...`, `1' UNION ...`: a quote that ends a value, then SQL. Judged on tokens
/// from the quote on (see `sqlscan`): a quote followed by a keyword is not enough, prose quotes
/// ("yes" or "no", dialogue, role-play instructions) are followed by prose.
pub(crate) fn quote_breakout(candidate: &Candidate<'_>) -> bool {
    let text = candidate.as_str();
    let Some(offset) = text.find(['\'', '"', '′']) else {
        // A backtick quotes identifiers and code, not values.
        return false;
    };
    super::sqlscan::quote_breaks_out(candidate.text, candidate.start + offset)
}

/// A quote followed by a comment is an injection only when the quote ends a value (`admin'--`), not in
/// prose such as `he said "yes" -- then left`.
pub(crate) fn comment_truncation(candidate: &Candidate<'_>) -> bool {
    let matched = candidate.as_str();
    if !matched.starts_with(['\'', '"']) {
        // `ORDER BY 3--` column probing.
        return true;
    }
    let rest = candidate.after(1);
    if matched.ends_with("--")
        && !(rest.is_empty()
            || rest.starts_with(|c: char| c.is_whitespace() || c == '-' || c == '+'))
    {
        return false;
    }
    // `'b') )  --`: a closing parenthesis between the quote and the comment ends an SQL expression.
    // A `#` followed by words is a comment in code (`re.compile(r"^(['\"])(.*)\1$")  # strip`):
    // then the quote must end a value.
    if matched.contains(')') {
        let code_comment = matched.ends_with('#')
            && candidate
                .after(16)
                .trim_start_matches([' ', '\t'])
                .starts_with(|c: char| c.is_alphabetic());
        return !code_comment || super::sqlscan::quote_breaks_out(candidate.text, candidate.start);
    }
    let Some(quote) = matched.chars().next() else {
        return false;
    };
    let line = line_before(candidate, 256);
    let ends_value = line.is_empty()
        || line
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == quote || c == '%' || c == ')');
    ends_value && quote_is_unbalanced(candidate, quote)
}

/// `OR 1=1`, `' OR 'a'='a`, `WHERE 2821 = 2821`: both sides of the comparison are equal.
pub(crate) fn tautology(candidate: &Candidate<'_>) -> bool {
    static COMPLETE_QUERY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\bselect\b[\s\S]*\bfrom\b|\bupdate\s+\S+\s+set\b|\bdelete\s+from\b")
            .expect("static regex")
    });
    let text = candidate.as_str();
    // `WHERE 1 = 1` is how query builders start a condition list (on the statement's own line or
    // lines above it); after a broken-out value it is not.
    if text
        .get(..5)
        .is_some_and(|w| w.eq_ignore_ascii_case("where"))
    {
        let before = candidate.before(512);
        let statement = before
            .rsplit(['`', ';'])
            .next()
            .unwrap_or(before)
            .rsplit("\n\n")
            .next()
            .unwrap_or(before);
        if COMPLETE_QUERY.is_match(statement) {
            return false;
        }
    }
    // `x or 1 = 1 holds for every x`: a condition between prose words is about logic.
    if super::sqlscan::between_words(candidate.text, candidate.start, candidate.end) {
        return false;
    }
    // `cmd || true` is the shell's and JavaScript's way of ignoring a failure; only a comment after
    // it makes it SQL.
    let after = candidate.after(8).trim_start();
    if text.starts_with(['|', '&'])
        && text.to_ascii_lowercase().contains("true")
        && !after.starts_with("--")
        && !after.starts_with('#')
    {
        return false;
    }
    let Some(eq) = text.rfind('=') else {
        // `OR TRUE` followed by a comment or the end.
        return true;
    };
    let strip = |s: &str| {
        s.trim()
            .trim_matches(|c: char| matches!(c, '\'' | '"' | '(' | ')' | ' '))
            .to_owned()
    };
    let left_part = text[..eq].trim_end();
    let left_start = left_part
        .rfind(|c: char| c.is_whitespace() || c == '(')
        .map_or(0, |i| i + 1);
    let left = strip(&left_part[left_start..]);
    let right = strip(&text[eq + 1..]);
    !left.is_empty() && left == right
}

/// `; DROP TABLE ...`: a second statement after a value; what follows the keyword must look like SQL.
pub(crate) fn stacked_query(candidate: &Candidate<'_>) -> bool {
    static FOLLOWS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^\s*(?:select\s+(?:[*@(]|[\w.]+\s*(?:,|\(|from\b)|count|top\b|\d)|insert\s+into\b|update\s+[\w.\x60\x22\[\]]+\s+set\b|delete\s+(?:(?:low_priority|quick|ignore)\s+)*from\b|delete\s+[\w.]+\s*(?:$|;|--|where)|(?:drop|create|alter)\s+(?:table|database|schema|user|view|procedure|function|index|role|login|trigger)\b|truncate\s+(?:table\s+)?[\w.]+|exec(?:ute)?\s*(?:\(|[\w.]+)|shutdown\b|while\s+\d+\s*=\s*\d+|copy\s+[\w.]+\s+(?:to|from)\b|set\s+(?:global|session|@)|declare\s+@|waitfor\b|grant\b|revoke\b)")
            .expect("static regex")
    });
    let text = candidate.as_str();
    let Some(semicolon) = text.find(';') else {
        return false;
    };
    let statement = &candidate.text[candidate.start + semicolon + 1..];
    let end = statement
        .char_indices()
        .nth(200)
        .map_or(statement.len(), |(i, _)| i);
    FOLLOWS.is_match(&statement[..end])
}

/// Hex literals are SQL obfuscation only next to SQL (`CONCAT(0x71786a7671, ...)`), not in stack traces.
pub(crate) fn hex_in_sql(candidate: &Candidate<'_>) -> bool {
    static SQL_NEARBY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(?:concat|select|union|char|where|from|insert|values|and|or)\b")
            .expect("static regex")
    });
    SQL_NEARBY.is_match(line_before(candidate, 80))
        || SQL_NEARBY.is_match(line_after(candidate, 80))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX`, `\xXX`, `+` (URL-encoded space) and the HTML quote entities once.
fn decode(text: &str) -> String {
    let text = text
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#34;", "\"");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        let escaped = match bytes[idx] {
            b'%' if idx + 2 < bytes.len() => hex_value(bytes[idx + 1])
                .zip(hex_value(bytes[idx + 2]))
                .map(|(h, l)| (h * 16 + l, 3)),
            b'\\'
                if idx + 3 < bytes.len() && (bytes[idx + 1] == b'x' || bytes[idx + 1] == b'X') =>
            {
                hex_value(bytes[idx + 2])
                    .zip(hex_value(bytes[idx + 3]))
                    .map(|(h, l)| (h * 16 + l, 4))
            }
            _ => None,
        };
        match escaped {
            Some((byte, len)) => {
                out.push(byte);
                idx += len;
            }
            None => {
                out.push(if bytes[idx] == b'+' { b' ' } else { bytes[idx] });
                idx += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// URL- or hex-escaped text that, once decoded, holds an injection.
pub(crate) fn encoded_payload(candidate: &Candidate<'_>) -> bool {
    static DECODED_SIGNALS: LazyLock<RegexSet> = LazyLock::new(|| {
        RegexSet::new([
            r#"(?i)['"](?:\s|\))*(?:or|and|union|select|order\s+by|;|--|#|\|\|)"#,
            r"(?i)\bunion(?:\s|/\*.*?\*/|\(|/\*!\d*)+(?:all|distinct)?(?:\s|/\*.*?\*/|\(|/\*!\d*)*select\b",
            r"(?i)\b(?:or|and|where)\s+(\d+)\s*=\s*\d+",
            r"(?i);\s*(?:drop|delete|insert|update|select|shutdown|exec|truncate|create|alter)\b",
            r"(?i)\b(?:or|and)\s+\d+\s*=\s*\d+",
            r"(?i)\b(?:sleep|pg_sleep|benchmark|extractvalue|updatexml)\s*\(",
            r"(?i)\)[ \t]*\)[ \t]*(?:--|#)",
        ])
        .expect("static regex set")
    });
    let decoded = decode(candidate.as_str());
    if decoded == candidate.as_str() {
        return false;
    }
    // A search URL with `"a"+OR+"b"` decodes to a quote and a keyword as well: when that is the only
    // signal, the token judgement decides.
    let signals = DECODED_SIGNALS.matches(&decoded);
    match signals.iter().collect::<Vec<_>>().as_slice() {
        [] => false,
        [0] => super::sqlscan::judges_decoded(&decoded),
        _ => true,
    }
}

/// A statement keyword at the start of a statement: line start, after `;`, a code fence or a colon.
pub(crate) fn statement_start(candidate: &Candidate<'_>) -> bool {
    let line = line_before(candidate, 200).trim_end();
    line.is_empty()
        || line.ends_with([';', ':', '`', '(', '>'])
        || line.to_ascii_lowercase().ends_with("run")
        || line.to_ascii_lowercase().ends_with("execute")
}

/// Catalogue or credential reads need SQL around them, not just the word in a question.
pub(crate) fn in_sql_statement(candidate: &Candidate<'_>) -> bool {
    static SQL_AROUND: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(?:select|from|join|show|describe|desc|union|into|update|delete|exec|where|table)\b").expect("static regex")
    });
    SQL_AROUND.is_match(line_before(candidate, 160))
        || candidate.as_str().contains('.') && SQL_AROUND.is_match(line_after(candidate, 80))
}

static INJECTED_SELECT_LIST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)^(?:\s|/\*.*?\*/|\(|\+|/\*!\d*)*(?:(?:all|distinct)\s+)*(?:\s|/\*.*?\*/|\(|\+|/\*!\d*)*select(?:\s|/\*.*?\*/|\(|\+|\*/)*(?:null\b|-?\d|@@|0x|char\s*\(|chr\s*\(|concat|group_concat|version\s*\(|user\s*\(|database\s*\(|current_user|system_user|table_name|column_name|schema_name|load_file|username\s*,\s*password|'[^']*'\s*(?:[,)]|\|\|)|"[^"]*"\s*(?:[,)]|\|\|)|\*\s*from\s+(?:information_schema|mysql\.|pg_|sys))"#)
        .expect("static regex")
});

/// `UNION SELECT` is an injection when it follows a broken-out value (`1'`, `-1`, `%"`, `)`) or selects
/// the constants attackers use to probe (`NULL, NULL`, `1,2,3`, `@@version`); a UNION of two plain
/// queries is ordinary SQL.
pub(crate) fn union_select(candidate: &Candidate<'_>) -> bool {
    let text = candidate.as_str();
    let Some(union_end) = text.to_ascii_lowercase().find("union").map(|i| i + 5) else {
        return false;
    };
    let rest = &candidate.text[candidate.start + union_end..];
    let probe_end = rest.char_indices().nth(160).map_or(rest.len(), |(i, _)| i);
    let line = line_before(candidate, 512);
    let trimmed = line.trim_end();
    // `SELECT ... FROM a\nUNION ALL\nSELECT 'x', ... FROM b`: the query above continues.
    if trimmed.trim_start().is_empty() && statement_above(candidate) {
        return false;
    }
    if INJECTED_SELECT_LIST.is_match(&rest[..probe_end]) {
        return true;
    }
    let complete_query = trimmed
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("select");
    match trimmed.chars().last() {
        // No valid statement starts with UNION.
        None => true,
        Some(quote @ ('\'' | '"' | '`')) => {
            let before_quote = &trimmed[..trimmed.len() - 1];
            before_quote.matches(quote).count() % 2 == 0
        }
        Some(c) if c.is_ascii_digit() || matches!(c, '%' | ')' | '#' | '-' | '/') => {
            !complete_query
        }
        Some(_) => false,
    }
}

/// Whether the lines above the candidate (back to a `;`, a code fence or a blank line) hold a
/// complete query.
fn statement_above(candidate: &Candidate<'_>) -> bool {
    static QUERY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?im)^\s*\(?\s*select\b[\s\S]*\bfrom\b").expect("static regex")
    });
    let before = candidate.before(1024);
    let scope = before.rsplit([';', '`']).next().unwrap_or(before);
    let scope = scope.rsplit("\n\n").next().unwrap_or(scope);
    QUERY.is_match(scope)
}

/// The statement before a `;` is a complete SQL statement in a script (`SELECT a FROM t; CREATE INDEX ...`)
/// rather than a value an attacker closed.
pub(crate) fn stacked_after_value(candidate: &Candidate<'_>) -> bool {
    static STATEMENT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^\s*(?:create\s+(?:or\s+(?:alter|replace)\s+)?(?:procedure|proc|function|trigger)\b|if\b|truncate\b|grant\b|revoke\b|drop\b|\$\$|(?:begin|commit|rollback|end)\b|set\s+\w+\s+(?:on|off)\b|set\s+\w+\s*=|declare\s+@\w+|exec(?:ute)?\s+[\w.\[\]]+|print\b|return\b|fetch\s+next\b|(?:open|close|deallocate)\s+\w+|raiserror\b|throw\b|end\b|select\s.+\bfrom\b|insert\s+into\b|update\s+\S+\s+set\b|delete\s+from\b|create\s+(?:table|index|view|unique|database|schema)\b|alter\s+table\b|drop\s+(?:table|index|view)\b|with\s+\w+\s+as\s*\(|set\s+@|begin\s*$|commit\s*$|use\s+\w+\s*$)").expect("static regex")
    });
    let text = candidate.as_str();
    let Some(semicolon) = text.find(';') else {
        return false;
    };
    let before = &candidate.text[..candidate.start + semicolon];
    let statement = before.rsplit([';', '\n']).next().unwrap_or(before);
    !STATEMENT.is_match(statement) && stacked_query(candidate)
}

const NOT_A_TABLE: &[&str] = &[
    "the", "a", "an", "my", "your", "our", "their", "his", "her", "its", "this", "that", "these",
    "those", "it", "them", "me", "us", "all", "any", "some", "every", "each", "here", "there",
    "now",
];

fn last_identifier(text: &str) -> &str {
    text.rsplit(|c: char| c.is_whitespace())
        .next()
        .unwrap_or(text)
}

/// `DELETE FROM table` whose statement has no WHERE clause (prose such as "delete from my list" names
/// no table).
pub(crate) fn delete_all(candidate: &Candidate<'_>) -> bool {
    let table = last_identifier(candidate.as_str().trim_end_matches([';', ' ']));
    if NOT_A_TABLE.contains(&table.to_ascii_lowercase().as_str())
        || candidate.after(2).starts_with("'s")
    {
        return false;
    }
    let after = candidate.after(400);
    let statement = after.split(';').next().unwrap_or(after);
    let statement = statement.split("\n\n").next().unwrap_or(statement);
    let statement = statement.split("```").next().unwrap_or(statement);
    !statement.to_ascii_lowercase().contains("where")
}

/// `TRUNCATE [TABLE] name`: with TABLE, or a name followed by the end of a statement or its options.
pub(crate) fn truncate_table(candidate: &Candidate<'_>) -> bool {
    static ENDS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^\s*(?:$|;|--|#|`|\n|restart\s+identity|continue\s+identity|cascade|restrict|please\b|now\b|on\s+(?:staging|production|prod)|against\b)").expect("static regex")
    });
    let text = candidate.as_str();
    let table = last_identifier(text);
    if NOT_A_TABLE.contains(&table.to_ascii_lowercase().as_str()) {
        return false;
    }
    text.to_ascii_lowercase().contains(" table ")
        || ENDS.is_match(candidate.after(64))
        || statement_start(candidate)
}

/// `sleep(`, `benchmark(`...: a delay function called with SQL arguments, not "sleep(8 hours)".
pub(crate) fn delay_call(candidate: &Candidate<'_>) -> bool {
    let text = candidate.as_str();
    if !text.ends_with('(') {
        return true;
    }
    // `time.sleep(1)`: a method of a program's library, not the database's.
    if candidate.before(1) == "." && !text.to_ascii_lowercase().starts_with("dbms_") {
        return false;
    }
    super::sqlscan::arguments_are_sql(candidate.after(64))
}

/// `ALTER TABLE name ADD ...`: a statement names the object and says what changes; "How do I ALTER
/// TABLE orders to add a column?" asks about one. Other ALTER targets (USER, ROLE, SYSTEM...) are
/// reported as written.
pub(crate) fn alter_statement(candidate: &Candidate<'_>) -> bool {
    static TABLE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?([\w.\x60\x22\[\]@']+)")
            .expect("static regex")
    });
    static ACTION: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^\s*(?:$|;|--|#|\)|add|drop|rename|modify|alter|change|owner|set|reset|enable|disable|attach|detach|engine|convert|auto_increment|character|charset|collate|default|with|nocheck|check|replica|cluster|inherit|no\s|validate|force|lock|algorithm|partition|discard|import|comment|row_format|truncate|coalesce|reorganize|exchange|analyze|optimize|repair|remove|upgrade|switch|rebuild|move|split|merge|shrink|compress|nologging|logging|parallel|noparallel|storage|tablespace|pctfree|initrans|of\s)")
            .expect("static regex")
    });
    let text = &candidate.text[candidate.start..];
    let Some(found) = TABLE.captures(text) else {
        return true;
    };
    let name = found.get(1).map_or("", |m| m.as_str());
    if NOT_A_TABLE.contains(&name.to_ascii_lowercase().as_str())
        || [
            "to",
            "in",
            "for",
            "with",
            "so",
            "and",
            "or",
            "statement",
            "statements",
            "command",
            "syntax",
            "on",
            "when",
            "while",
            "without",
            "is",
            "does",
            "vs",
            "versus",
        ]
        .contains(&name.to_ascii_lowercase().as_str())
    {
        return false;
    }
    let rest = &text[found.get(0).map_or(0, |m| m.end())..];
    let end = rest.char_indices().nth(48).map_or(rest.len(), |(i, _)| i);
    ACTION.is_match(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The triggers of a comparison that confirm it: positions after each `=`, `<`, `>`.
    fn confirmed(text: &str) -> Vec<usize> {
        let bytes = text.as_bytes();
        (0..bytes.len())
            .filter(|&at| matches!(bytes[at], b'=' | b'<' | b'>'))
            .filter(|&at| inference_can_follow(bytes, at + 1))
            .collect()
    }

    #[test]
    fn a_comparison_is_confirmed_by_the_number_after_it_however_long_its_operator() {
        for text in [
            "a = 1",
            "a <= 1",
            "a <=> (-1",
            "x == 1",
            "id<>2",
            "1 ==== 1",
        ] {
            assert!(!confirmed(text).is_empty(), "{text:?}");
        }
        for text in ["a = b", "x => y", "=====\n", "a <- b"] {
            assert!(confirmed(text).is_empty(), "{text:?}");
        }
        // A run longer than an operator: its last triggers read what follows it, the ones before
        // them (which read the whole run each) do not.
        for run in [5, 8, 100, 5000] {
            let text = format!("a {} 1", "=".repeat(run));
            let found = confirmed(&text);
            assert!(
                !found.is_empty() && found.iter().all(|&at| at >= 2 + run - 4),
                "{run}: {found:?}"
            );
            assert!(confirmed(&format!("a {}\nnext", "=".repeat(run))).is_empty());
        }
    }

    #[test]
    fn a_call_word_is_read_at_most_64_bytes_on() {
        let confirms = |text: &str| call_can_follow(text.as_bytes(), "sleep".len());
        assert!(confirms("sleep (5)"));
        assert!(confirms("sleepeachrow(1)"));
        assert!(!confirms("sleep well"));
        assert!(!confirms("sleepless nights"));
        // A word running on past 64 bytes opens the window unread.
        assert!(confirms(&"sleep".repeat(20)));
    }

    #[test]
    fn a_comment_confirms_truncation_only_after_a_value() {
        let confirms = |text: &str| comment_follows_a_value(text.as_bytes(), text.len());
        for text in [
            "admin'--",
            "admin' --",
            "x\")\t#",
            "1') ) /*",
            "order by 3 --",
            "-1 #",
        ] {
            assert!(confirms(text), "{text:?}");
        }
        for text in ["the result --", "--", "see #", "Call me -- or not /*"] {
            assert!(!confirms(text), "{text:?}");
        }
    }

    #[test]
    fn delay_calls_and_stacked_statements_confirm_only_what_their_patterns_can_match() {
        fn at_trigger<'a>(text: &'a str, trigger: &str) -> (&'a [u8], usize) {
            let end = text.to_ascii_lowercase().find(trigger).expect("trigger") + trigger.len();
            (text.as_bytes(), end)
        }
        for (text, trigger) in [
            ("1 and sleep(5)", "sleep"),
            ("1 AND SLEEP (5)", "sleep"),
            ("pg_sleep\u{a0}(5)", "sleep"),
            ("x' or sleepeachrow(1)", "sleep"),
            ("benchmark(5000000,md5(1))", "benchmark"),
            ("count(*) from a, b, c", "count"),
            ("COUNT\t\x0b(*) FROM a, b,", "count"),
            ("generate_series(1,10000000)", "generate_series"),
            ("randomblob(500000000)", "randomblob"),
            ("dbms_pipe.receive_message('a',5)", "dbms_"),
            ("waitfor delay '0:0:5'", "waitfor"),
        ] {
            let (bytes, end) = at_trigger(text, trigger);
            assert!(call_can_follow(bytes, end), "{text:?}");
        }
        for (text, trigger) in [
            ("we offer discounts to students", "count"),
            ("my account was locked", "count"),
            ("I could not sleep well", "sleep"),
            ("the benchmark shows (in table 3)", "benchmark"),
            ("sleep", "sleep"),
        ] {
            let (bytes, end) = at_trigger(text, trigger);
            assert!(!call_can_follow(bytes, end), "{text:?}");
        }
        for text in [
            "1; DROP TABLE users",
            "x';select * from t",
            "1;\x0b\u{a0}delete from t",
            "a;\n\tWAITFOR DELAY '0:0:5'",
            "1; exec xp_cmdshell 'dir'",
        ] {
            let end = text.find(';').expect("semicolon") + 1;
            assert!(statement_can_follow(text.as_bytes(), end), "{text:?}");
        }
        for text in [
            "Returns are free; exchanges can be made in a shop",
            "done;",
            "first; then the rest",
        ] {
            let end = text.find(';').expect("semicolon") + 1;
            assert!(!statement_can_follow(text.as_bytes(), end), "{text:?}");
        }
        // Every statement start, in any case (its first byte picks the candidates).
        for statement in super::super::sqlscan::STATEMENT_STARTS {
            let word = String::from_utf8_lossy(statement);
            let capitalised = format!("{}{}", word[..1].to_uppercase(), &word[1..]);
            for spelled in [word.to_string(), word.to_uppercase(), capitalised] {
                let text = format!("1;  {spelled} x");
                assert!(statement_can_follow(text.as_bytes(), 2), "{text:?}");
            }
        }
    }

    #[test]
    fn boolean_inference_wakes_for_a_closed_group_or_a_comparison_of_numbers() {
        let confirms = |text: &str| inference_can_follow(text.as_bytes(), text.len());
        assert!(confirms("' or (select 1)) --"));
        assert!(confirms("1 and (2)\t#"));
        assert!(confirms("x @@"));
        assert!(confirms("x select"));
        assert!(!confirms("A fine day. --"));
        assert!(!confirms("\t\t--"));
        assert!(!confirms("--"));
        assert!(!confirms("issue #"));
        // A comparison counts before a number only.
        let at_comparison = |text: &str| {
            let end = text.find(['=', '<', '>']).expect("operator") + 1;
            inference_can_follow(text.as_bytes(), end)
        };
        for text in [
            "and 1=1",
            "or 3 > 2 --",
            "and 1<>2)",
            "or 1 != ( -1)",
            "iif(1=\u{a0}1",
            "x' and 2>=1#",
        ] {
            assert!(at_comparison(text), "{text:?}");
        }
        for text in [
            "a -> b",
            "x => y",
            "if a > b",
            "<br>",
            "name = value",
            "x =",
        ] {
            assert!(!at_comparison(text), "{text:?}");
        }
    }

    #[test]
    fn decoding() {
        assert_eq!(decode("%27%20OR%201%3D1"), "' OR 1=1");
        assert_eq!(decode("\\x27\\x4F\\x52"), "'OR");
        assert_eq!(decode("a+b%2"), "a b%2");
        assert_eq!(decode("%"), "%");
    }

    /// `text` holds one trigger; `trigger` is how it is written.
    #[track_caller]
    fn check_confirm(confirm: super::super::Confirm, text: &str, trigger: &str, expected: bool) {
        let end = text.find(trigger).expect("trigger in text") + trigger.len();
        assert_eq!(confirm(text.as_bytes(), end), expected, "{text:?}");
    }

    #[test]
    fn trigger_confirmations() {
        check_confirm(breakout_can_follow, "last year's figure", "'", false);
        check_confirm(breakout_can_follow, "say 'see you' now", "'", false);
        check_confirm(breakout_can_follow, "it ends here'", "'", false);
        check_confirm(breakout_can_follow, "admin' OR 1=1", "'", true);
        check_confirm(breakout_can_follow, "1')) UNION SELECT", "'", true);
        check_confirm(breakout_can_follow, "x'||'y", "'", true);
        check_confirm(breakout_can_follow, "1' order by 3", "'", true);
        check_confirm(breakout_can_follow, "1'\u{a0}or 1", "'", true);
        check_confirm(breakout_can_follow, "1' \u{17f}elect", "'", true);
        check_confirm(breakout_can_follow, "admin\" OR 1=1", "\"", true);
        // A quotation closed on its line, or before a line break, is not where a value ends.
        check_confirm(
            breakout_can_follow,
            "said \"not really.\"\n-- Dave",
            ".\"",
            false,
        );
        check_confirm(breakout_can_follow, "\"yes\" or \"no\"", "s\"", false);
        check_confirm(breakout_can_follow, "it was 'fine' and then", "e'", false);
        check_confirm(escape_is_complete, "up 12% from", "%", false);
        check_confirm(escape_is_complete, "100%", "%", false);
        check_confirm(escape_is_complete, "id=1%27", "%", true);
        check_confirm(escape_is_complete, "\\x27", "\\x", true);
        check_confirm(escape_is_complete, "a++or++1", "++", true);
    }
}
