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
    if masked.chars().count() > MAX_PREVIEW_CHARS {
        let cut: String = masked.chars().take(MAX_PREVIEW_CHARS - 3).collect();
        format!("{cut}...")
    } else {
        masked
    }
}

fn keep_last_four(matched: &str) -> String {
    let n_alnum = matched.chars().filter(|c| c.is_alphanumeric()).count();
    let keep_from = if n_alnum > 8 { n_alnum - 4 } else { n_alnum };
    let mut seen = 0;
    matched
        .chars()
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

fn keep_structure(matched: &str) -> String {
    let mut out = String::with_capacity(matched.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let known = !word.bytes().any(|b| b.is_ascii_digit())
            && SQL_VOCABULARY
                .binary_search(&word.to_ascii_lowercase().as_str())
                .is_ok();
        if known {
            out.push_str(word);
        } else {
            out.extend(std::iter::repeat_n('*', word.chars().count()));
        }
        word.clear();
    };
    for c in matched.chars() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(matched: &str, personal: bool, expected: &str) {
        assert_eq!(preview(matched, personal), expected, "{matched}");
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
