//! Match previews: a short form of a matched value that is safe to store, log and return. No preview
//! holds the value itself, whatever the policy's category:
//! - personal data and secrets keep at most their last four letters or digits (`***-**-6789`), and
//!   only when the value has more than eight;
//! - everything else (SQL, tenant regex and keyword matches) keeps its punctuation and the words of a
//!   fixed SQL vocabulary, and masks every other word and every number (`' OR *=*--`,
//!   `UNION SELECT ******** FROM *****`), so that an auditor sees the technique, never the data.
//!
//! Previews are cut to `MAX_PREVIEW_CHARS` characters.

/// Longest preview, in characters.
const MAX_PREVIEW_CHARS: usize = 64;

/// Words kept in structural previews: SQL keywords, functions and catalogue names that describe an
/// attack's technique. Lowercase; compared ASCII-case-insensitively.
const SQL_VOCABULARY: &[&str] = &[
    "add",
    "all",
    "alter",
    "and",
    "as",
    "asc",
    "ascii",
    "benchmark",
    "between",
    "by",
    "case",
    "cast",
    "char",
    "chr",
    "column",
    "columns",
    "concat",
    "convert",
    "copy",
    "count",
    "create",
    "cross",
    "current_user",
    "database",
    "databases",
    "dba_users",
    "declare",
    "delay",
    "delete",
    "desc",
    "distinct",
    "drop",
    "dumpfile",
    "else",
    "end",
    "exec",
    "execute",
    "exists",
    "extractvalue",
    "from",
    "function",
    "grant",
    "group",
    "having",
    "if",
    "ifnull",
    "in",
    "index",
    "infile",
    "information_schema",
    "inner",
    "insert",
    "into",
    "is",
    "join",
    "left",
    "like",
    "limit",
    "load",
    "load_file",
    "login",
    "master",
    "mysql",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outfile",
    "password",
    "pg_catalog",
    "pg_read_file",
    "pg_shadow",
    "pg_sleep",
    "pg_user",
    "privileges",
    "procedure",
    "revoke",
    "right",
    "role",
    "schema",
    "select",
    "set",
    "shutdown",
    "sleep",
    "sqlite_master",
    "substr",
    "substring",
    "sys",
    "sysobjects",
    "table",
    "tables",
    "then",
    "to",
    "top",
    "truncate",
    "union",
    "update",
    "updatexml",
    "user",
    "users",
    "values",
    "version",
    "waitfor",
    "when",
    "where",
    "while",
    "xp_cmdshell",
];

/// The preview of `matched`. `personal`: the policy finds personal data or secrets.
pub(crate) fn preview(matched: &str, personal: bool) -> String {
    let masked = if personal {
        keep_last_four(matched)
    } else {
        keep_structure(matched)
    };
    cut(masked)
}

/// `masked` cut to `MAX_PREVIEW_CHARS` characters, the last three `...` when it was longer.
fn cut(masked: String) -> String {
    if masked.chars().count() > MAX_PREVIEW_CHARS {
        let cut: String = masked.chars().take(MAX_PREVIEW_CHARS - 3).collect();
        format!("{cut}...")
    } else {
        masked
    }
}

/// The masks of `matched` stop one character past the longest preview: what follows is cut anyway.
const MASKED_CHARS: usize = MAX_PREVIEW_CHARS + 1;

fn keep_last_four(matched: &str) -> String {
    let n_alnum = matched.chars().filter(|c| c.is_alphanumeric()).count();
    let keep_from = if n_alnum > 8 { n_alnum - 4 } else { n_alnum };
    let mut seen = 0;
    matched
        .chars()
        .take(MASKED_CHARS)
        .map(|c| {
            if c.is_alphanumeric() {
                seen += 1;
                if seen > keep_from {
                    c
                } else {
                    '*'
                }
            } else {
                c
            }
        })
        .collect()
}

/// Whether `word` (any case) is in `SQL_VOCABULARY`, without a lower-cased copy.
fn in_vocabulary(word: &str) -> bool {
    SQL_VOCABULARY
        .binary_search_by(|known| {
            known
                .bytes()
                .cmp(word.bytes().map(|b| b.to_ascii_lowercase()))
        })
        .is_ok()
}

fn keep_structure(matched: &str) -> String {
    let mut out = String::with_capacity(matched.len().min(4 * MASKED_CHARS));
    let mut n_out = 0;
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String, n_out: &mut usize| {
        if word.is_empty() {
            return;
        }
        let n_chars = word.chars().count();
        if !word.bytes().any(|b| b.is_ascii_digit()) && in_vocabulary(word) {
            out.push_str(word);
        } else {
            out.extend(std::iter::repeat_n('*', n_chars));
        }
        *n_out += n_chars;
        word.clear();
    };
    for c in matched.chars() {
        if n_out >= MASKED_CHARS {
            break;
        }
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out, &mut n_out);
            out.push(c);
            n_out += 1;
        }
    }
    flush(&mut word, &mut out, &mut n_out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(matched: &str, personal: bool, expected: &str) {
        assert_eq!(preview(matched, personal), expected, "{matched}");
    }

    /// The masks computed over the whole match, then cut (what `preview` returns).
    fn whole_then_cut(matched: &str, personal: bool) -> String {
        let n_alnum = matched.chars().filter(|c| c.is_alphanumeric()).count();
        let keep_from = if n_alnum > 8 { n_alnum - 4 } else { n_alnum };
        let mut seen = 0;
        let mut masked = String::new();
        let mut word = String::new();
        let flush = |word: &mut String, masked: &mut String| {
            let known = !word.bytes().any(|b| b.is_ascii_digit())
                && SQL_VOCABULARY.contains(&word.to_ascii_lowercase().as_str());
            if known {
                masked.push_str(word);
            } else {
                masked.extend(std::iter::repeat_n('*', word.chars().count()));
            }
            word.clear();
        };
        for c in matched.chars() {
            if personal {
                let alnum = c.is_alphanumeric();
                seen += usize::from(alnum);
                masked.push(if alnum && seen <= keep_from { '*' } else { c });
            } else if c.is_alphanumeric() || c == '_' {
                word.push(c);
            } else {
                flush(&mut word, &mut masked);
                masked.push(c);
            }
        }
        if !personal {
            flush(&mut word, &mut masked);
        }
        cut(masked)
    }

    #[test]
    fn previews_of_long_matches_are_the_cut_masks_of_the_whole_match() {
        let parts = [
            "' OR 1=1 -- ",
            "UNION SELECT password FROM users ",
            "1' AND SLEEP(5)#",
            "4111 1111 1111 1111 ",
            "Ünïcödé wörds ",
            "information_schema ",
            "x",
            "SeLeCt ",
        ];
        for a in parts {
            for b in parts {
                for n in [1, 2, 3, 5, 8] {
                    let matched = format!("{a}{b}").repeat(n);
                    for personal in [false, true] {
                        let shown = preview(&matched, personal);
                        assert_eq!(shown, whole_then_cut(&matched, personal), "{matched:?}");
                        assert!(shown.chars().count() <= MAX_PREVIEW_CHARS);
                    }
                }
            }
        }
    }

    #[test]
    fn vocabulary_is_sorted_for_binary_search() {
        assert!(SQL_VOCABULARY.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn personal_data_keeps_at_most_four_characters() {
        check("123-45-6789", true, "***-**-6789");
        check("12345678", true, "********");
        check("jane.doe@example.com", true, "****.***@******e.com");
        check("AB123456C", true, "*****456C");
    }

    #[test]
    fn other_matches_keep_only_technique() {
        check("UNION SELECT", false, "UNION SELECT");
        check("' OR 1=1--", false, "' OR *=*--");
        check(
            "union select password from users where email='jane@x.org'",
            false,
            "union select password from users where *****='****@*.***'",
        );
        check("DROP TABLE customers", false, "DROP TABLE *********");
        check("projectfalcon", false, "*************");
        check("select 4111111111111111", false, "select ****************");
        check(
            "-----BEGIN RSA PRIVATE KEY-----",
            false,
            "-----***** *** ******* ***-----",
        );
    }

    #[test]
    fn previews_are_cut() {
        let long = "select ".repeat(40);
        let shown = preview(&long, false);
        assert_eq!(shown.chars().count(), MAX_PREVIEW_CHARS);
        assert!(shown.ends_with("..."));
        assert!(preview(&"9".repeat(200), true).ends_with("..."));
    }
}
