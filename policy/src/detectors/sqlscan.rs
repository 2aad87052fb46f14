//! SQL injection judged by technique on a token stream, not by example.
//!
//! A window of text is first normalised the way a database or a web stack would read it: URL, HTML
//! and `\x` escapes decoded (twice, for double encoding), comments removed (a MySQL versioned comment
//! `/*!50000 union*/` keeps its content, `uni/**/on` joins into one word), typographic and full-width
//! quotes folded to ASCII, control characters and Unicode spaces turned into spaces. The result is
//! tokenised into SQL token classes (strings, numbers, variables, words, functions, operators,
//! parentheses, comments), in the manner of libinjection's published design, and token sequences are
//! judged from the places an injection enters a query:
//!
//! - after a quote that ends a value (`admin' ...`): the rest is read as if the quote closed a string;
//! - after a number, a closing parenthesis or a variable, or at the start of a line.
//!
//! From there a technique must follow: a boolean condition (tautology, contradiction, comparison over
//! a database function or a subquery: blind inference, error and time based), `UNION SELECT`, a
//! stacked statement, `ORDER BY n` probing, `HAVING`, an operator that turns the string into an
//! expression (`'<<'`, `'-'`), or a comment that truncates the query. A condition must also end the
//! way an injection ends (end of line, a comment, `)`, `;`, another condition), not run on into prose:
//! that keeps "x or 1 = 1 holds for every x" and dialogue quiet.

use super::Candidate;

/// How far one judgement reads after its entry point, in tokens.
const MAX_TOKENS: usize = 96;
/// How far one judgement reads after a quote, in bytes.
const TAIL_BYTES: usize = 1024;
/// How much of the line around one quote `quote_breaks_out` reads: before it, to tell an opening
/// quote from a closing one, and after it, for the judgement.
const VALIDATOR_BEFORE_BYTES: usize = 384;
const VALIDATOR_AFTER_BYTES: usize = 512;

// ---------------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------------

/// Normalised bytes of a window and, for each byte, the offset in the original window it came from
/// (`origin` has one more entry: the window's end).
pub(crate) struct Normalised {
    pub bytes: Vec<u8>,
    pub origin: Vec<u32>,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn hex_pair(bytes: &[u8], at: usize) -> Option<u8> {
    let high = hex(*bytes.get(at)?)?;
    let low = hex(*bytes.get(at + 1)?)?;
    Some(high * 16 + low)
}

/// `&name;` and `&#NN;`/`&#xNN;` entities that decode to ASCII: `(decoded byte, length)`.
fn html_entity(bytes: &[u8], at: usize) -> Option<(u8, usize)> {
    const NAMED: &[(&[u8], u8)] = &[
        (b"&apos;", b'\''),
        (b"&quot;", b'"'),
        (b"&lt;", b'<'),
        (b"&gt;", b'>'),
        (b"&amp;", b'&'),
        (b"&nbsp;", b' '),
        (b"&lpar;", b'('),
        (b"&rpar;", b')'),
        (b"&equals;", b'='),
        (b"&num;", b'#'),
        (b"&semi;", b';'),
        (b"&comma;", b','),
        (b"&ast;", b'*'),
        (b"&sol;", b'/'),
        (b"&Tab;", b' '),
        (b"&NewLine;", b' '),
    ];
    let rest = &bytes[at..];
    // Every name starts with a letter: a byte after `&` that is neither a letter nor `#` begins no
    // entity, and a name is compared only when its first letter matches.
    let first = *rest.get(1)?;
    if first.is_ascii_alphabetic() {
        return NAMED
            .iter()
            .find(|(name, _)| {
                name[1].eq_ignore_ascii_case(&first)
                    && rest.len() >= name.len()
                    && rest[..name.len()].eq_ignore_ascii_case(name)
            })
            .map(|(name, byte)| (*byte, name.len()));
    }
    if first != b'#' {
        return None;
    }
    let (radix, digits_at) = if matches!(rest.get(2), Some(b'x' | b'X')) {
        (16, 3)
    } else {
        (10, 2)
    };
    let digits_len = rest[digits_at..]
        .iter()
        .take(8)
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    if digits_len == 0 {
        return None;
    }
    let digits = std::str::from_utf8(&rest[digits_at..digits_at + digits_len]).ok()?;
    let value = u32::from_str_radix(digits, radix).ok()?;
    let byte = u8::try_from(value).ok().filter(u8::is_ascii)?;
    let mut len = digits_at + digits_len;
    if rest.get(len) == Some(&b';') {
        len += 1;
    }
    Some((byte, len))
}

/// One decoding round: `%XX`, `%uXXXX` (ASCII only), `\xXX`, HTML entities. Returns whether anything
/// was decoded.
fn decode_escapes(input: &[u8], origin: &[u32], out: &mut Normalised) -> bool {
    let mut changed = false;
    let mut idx = 0;
    while idx < input.len() {
        let decoded = match input[idx] {
            b'%' => hex_pair(input, idx + 1).map(|b| (b, 3)).or_else(|| {
                (matches!(input.get(idx + 1), Some(b'u' | b'U'))
                    && hex_pair(input, idx + 2) == Some(0))
                .then(|| hex_pair(input, idx + 4))
                .flatten()
                .filter(u8::is_ascii)
                .map(|b| (b, 6))
            }),
            b'\\' if matches!(input.get(idx + 1), Some(b'x' | b'X')) => {
                hex_pair(input, idx + 2).map(|b| (b, 4))
            }
            // `\n`, `\t`, `\r` written in a code or JSON string separate tokens.
            b'\\' if matches!(input.get(idx + 1), Some(b'n' | b't' | b'r')) => Some((b' ', 2)),
            b'&' => html_entity(input, idx),
            _ => None,
        };
        match decoded {
            Some((byte, len)) => {
                out.bytes.push(byte);
                out.origin.push(origin[idx]);
                idx += len;
                changed = true;
            }
            None => {
                out.bytes.push(input[idx]);
                out.origin.push(origin[idx]);
                idx += 1;
            }
        }
    }
    out.origin.push(origin[input.len()]);
    changed
}

/// Multi-byte characters folded to one ASCII byte: typographic quotes, full-width punctuation and
/// letters, Unicode spaces. `(folded byte, length)`.
fn fold_unicode(bytes: &[u8], at: usize) -> Option<(u8, usize)> {
    let rest = &bytes[at..];
    match rest {
        // NBSP
        [0xC2, 0xA0, ..] => Some((b' ', 2)),
        // A lone NBSP byte, as `%a0` decodes (not UTF-8).
        [0xA0, ..] => Some((b' ', 1)),
        // ‘ ’ ‚ ‛ → '   “ ” „ → "   ′ → '   ″ → "
        [0xE2, 0x80, 0x98..=0x9B, ..] => Some((b'\'', 3)),
        [0xE2, 0x80, 0x9C..=0x9E, ..] => Some((b'"', 3)),
        [0xE2, 0x80, 0xB2, ..] => Some((b'\'', 3)),
        [0xE2, 0x80, 0xB3, ..] => Some((b'"', 3)),
        // ʼ ʹ ʻ (modifier letters used as apostrophes)
        [0xCA, 0xB9 | 0xBB | 0xBC, ..] => Some((b'\'', 2)),
        // U+2000..U+200B spaces, U+2028/2029 separators
        [0xE2, 0x80, 0x80..=0x8B | 0xA8 | 0xA9 | 0xAF, ..] => Some((b' ', 3)),
        // U+3000 ideographic space
        [0xE3, 0x80, 0x80, ..] => Some((b' ', 3)),
        // Full-width U+FF01..U+FF5E → ASCII 0x21..0x7E
        [0xEF, 0xBC, second @ 0x81..=0xBF, ..] => Some((second - 0x81 + 0x21, 3)),
        [0xEF, 0xBD, second @ 0x80..=0x9E, ..] => Some((second - 0x80 + 0x60, 3)),
        _ => None,
    }
}

/// Folds characters and removes comments (see the module documentation). Line comments (`--`, `#`)
/// are kept: they are tokens. Line breaks are kept: they bound what a judgement reads.
/// `origin` maps each input byte to its offset in the window (`None`: the input is the window).
fn fold_and_strip(input: &[u8], origin: Option<&[u32]>) -> Normalised {
    let origin_of = |at: usize| origin.map_or(at as u32, |origin| origin[at]);
    let mut out = Normalised {
        bytes: Vec::with_capacity(input.len()),
        origin: Vec::with_capacity(input.len() + 1),
    };
    let mut idx = 0;
    let mut in_versioned = false;
    // Where the search for a `*/` found none: no later comment is closed either.
    let mut unclosed_from = usize::MAX;
    let push = |out: &mut Normalised, byte: u8, at: usize| {
        out.bytes.push(byte);
        out.origin.push(origin_of(at));
    };
    while idx < input.len() {
        // Printable ASCII that no rule below changes is copied as a run.
        let run = input[idx..]
            .iter()
            .take_while(|b| matches!(b, 0x20..=0x7E) && !matches!(b, b'/' | b'*' | b'+'))
            .count();
        if run > 0 {
            out.bytes.extend_from_slice(&input[idx..idx + run]);
            match origin {
                Some(origin) => out.origin.extend_from_slice(&origin[idx..idx + run]),
                None => out.origin.extend(idx as u32..(idx + run) as u32),
            }
            idx += run;
            continue;
        }
        let byte = input[idx];
        if byte == b'/' && input.get(idx + 1) == Some(&b'*') {
            let versioned_digits = input[(idx + 3).min(input.len())..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let empty_versioned = input.get(idx + 2) == Some(&b'!')
                && input[idx + 3 + versioned_digits..].starts_with(b"*/");
            if input.get(idx + 2) == Some(&b'!') && !empty_versioned {
                // `/*!` or `/*!50000`: the content is SQL.
                idx += 3;
                while idx < input.len() && input[idx].is_ascii_digit() {
                    idx += 1;
                }
                in_versioned = true;
                push(&mut out, b' ', idx.min(input.len()).saturating_sub(1));
                continue;
            }
            let close = if idx >= unclosed_from {
                None
            } else {
                find(&input[idx + 2..], b"*/")
            };
            let Some(close) = close else {
                unclosed_from = unclosed_from.min(idx);
                // An unclosed comment truncates the query: keep it as a token.
                push(&mut out, b'/', idx);
                push(&mut out, b'*', idx + 1);
                idx += 2;
                continue;
            };
            let after = idx + 2 + close + 2;
            if !joins_keyword(&out.bytes, &input[after..]) {
                push(&mut out, b' ', idx);
            }
            idx = after;
            continue;
        }
        if in_versioned && byte == b'*' && input.get(idx + 1) == Some(&b'/') {
            in_versioned = false;
            push(&mut out, b' ', idx);
            idx += 2;
            continue;
        }
        if byte >= 0x80 {
            if let Some((folded, len)) = fold_unicode(input, idx) {
                push(&mut out, folded, idx);
                idx += len;
                continue;
            }
        }
        // A line break that came out of an escape (`%0a`) separates tokens; a typed one ends a line.
        let decoded = origin_of(idx + 1) - origin_of(idx) > 1;
        let folded = match byte {
            b'\n' | b'\r' if decoded => b' ',
            // `%00` ends the string for a C library: the rest of the query is cut off, as by a comment.
            0 if decoded => b'#',
            b'\n' | b'\r' => b'\n',
            0..=0x1F | 0x7F => b' ',
            // `1+or+1=1`: a URL-encoded space next to a word.
            b'+' if input.get(idx + 1).is_some_and(u8::is_ascii_alphabetic)
                || (idx > 0 && input[idx - 1].is_ascii_alphabetic()) =>
            {
                b' '
            }
            _ => byte,
        };
        push(&mut out, folded, idx);
        idx += 1;
    }
    out.origin.push(origin_of(input.len()));
    out
}

/// Whether removing a comment between `before` and `after` joins the letters around it into a
/// keyword (`UNI/**/ON`, `ORD/*!*/ER`): filters that strip comments once are evaded that way. Other
/// comments separate tokens, as the database reads them.
fn joins_keyword(before: &[u8], after: &[u8]) -> bool {
    const KEYWORDS: &[&str] = &[
        "union",
        "select",
        "from",
        "where",
        "order",
        "group",
        "having",
        "insert",
        "update",
        "delete",
        "drop",
        "sleep",
        "benchmark",
        "concat",
        "information_schema",
        "and",
        "or",
        "null",
        "limit",
        "exec",
        "waitfor",
        "delay",
        "outfile",
        "dumpfile",
        "load_file",
        "table",
        "database",
        "version",
        "substring",
        "ascii",
        "char",
    ];
    let left = before
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_alphabetic() || **b == b'_')
        .count();
    let right = after
        .iter()
        .take_while(|b| b.is_ascii_alphabetic() || **b == b'_')
        .count();
    if left == 0 || right == 0 || left + right > 24 {
        return false;
    }
    let joined: String = before[before.len() - left..]
        .iter()
        .chain(&after[..right])
        .map(|b| char::from(b.to_ascii_lowercase()))
        .collect();
    KEYWORDS.contains(&joined.as_str()) || undoubled(joined.as_bytes()).is_some()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Normalises `window` (see the module documentation).
pub(crate) fn normalise(window: &[u8]) -> Normalised {
    // Without the first byte of an escape there is nothing to decode: no round, no copy, and each
    // byte comes from its own offset. The test has no early exit: it compiles to wide compares.
    if !window
        .iter()
        .fold(false, |any, b| any | matches!(b, b'%' | b'\\' | b'&'))
    {
        return fold_and_strip(window, None);
    }
    let identity: Vec<u32> = (0..=window.len() as u32).collect();
    let mut current = Normalised {
        bytes: window.to_vec(),
        origin: identity,
    };
    for _ in 0..3 {
        let mut next = Normalised {
            bytes: Vec::with_capacity(current.bytes.len()),
            origin: Vec::with_capacity(current.bytes.len() + 1),
        };
        let changed = decode_escapes(&current.bytes, &current.origin, &mut next);
        current = next;
        if !changed {
            break;
        }
    }
    fold_and_strip(&current.bytes, Some(&current.origin))
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string literal; `closed` is false when the line ends inside it.
    Str {
        closed: bool,
    },
    /// Numbers, hex and binary literals, and `NULL`, `TRUE`, `FALSE`.
    Num,
    /// `@name` (a parameter), `@@version` (a system variable).
    Var {
        system: bool,
    },
    /// A word that is not one of the classes below: identifiers and prose.
    Word(Word),
    /// A word followed by `(`.
    Func(Func),
    /// `AND`, `OR`, `XOR`, `&&`, `||`.
    Logic,
    /// `NOT`, `!`.
    Not,
    /// `=`, `<`, `>`, `<>`, `!=`, `<=>`, `LIKE`, `RLIKE`, `REGEXP`, `IN`, `IS`, `BETWEEN`, `SOUNDS`...
    Cmp,
    /// Arithmetic and bit operators, `DIV`, `MOD`.
    Arith,
    Union,
    Select,
    /// A statement verb: `INSERT`, `DROP`, `DECLARE`, `USE`, `SHUTDOWN`...
    Verb,
    /// `EXEC`, `EXECUTE`.
    Exec,
    /// `ORDER BY`, `GROUP BY`.
    OrderBy,
    Having,
    From,
    Where,
    Limit,
    Case,
    End,
    /// `ASC`, `DESC`.
    Direction,
    /// `INTO`.
    Into,
    /// `ALL`, `DISTINCT`, `DISTINCTROW`, `TOP`, `BINARY`: read over.
    Modifier,
    LParen,
    RParen,
    Comma,
    Semi,
    Dot,
    /// `--`, `#`, an unclosed `/*`: the rest of the line.
    Comment,
    /// A line break: what a judgement may not read across.
    Break,
    /// A code delimiter (a backtick around code, a code fence, a triple quote).
    Fence,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Word {
    Plain,
    /// `current_user`, `session_user`, `system_user`, `current_database`...: values of the database.
    Session,
    /// `AS`, `WHEN`, `THEN`, `ELSE`, `ON`...
    Keyword,
    /// `OUTFILE`, `DUMPFILE`.
    File,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    /// A function this detector does not know.
    Plain,
    /// A function of its arguments only (`char`, `concat`, `lower`, `pi`...).
    Pure,
    /// Reveals the database (`version()`, `user()`, `database()`...).
    Reveal,
    /// Takes data apart for blind inference (`substring`, `ascii`, `length`, `if`, `count`...).
    Probe,
    /// Delays (`sleep`, `benchmark`, `pg_sleep`, `dbms_pipe.receive_message`...).
    Delay,
    /// Raises errors carrying data (`extractvalue`, `updatexml`, `floor(rand(0)*2)`...).
    Error,
    /// `EXISTS (...)`.
    Exists,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    /// The token's first two bytes (an operator's spelling).
    pub first: u8,
    pub second: u8,
    /// For numbers, their value (when an integer); for strings, a hash of their content: enough to
    /// tell whether a comparison of two constants holds.
    pub value: Option<u64>,
}

/// Letters, digits, `_`, `$` and every byte past ASCII (a word may hold any character).
const fn word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// `word_byte` of every byte: one load per byte of a word instead of five tests.
static WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut at = 0;
    while at < table.len() {
        table[at] = word_byte(at as u8);
        at += 1;
    }
    table
};

fn is_word_byte(b: u8) -> bool {
    WORD_BYTES[usize::from(b)]
}

const REVEAL_FUNCTIONS: &[&str] = &[
    "dbinfo",
    "rdb$get_context",
    "h2version",
    "dbservername",
    "sqlite_source_id",
    "pg_client_encoding",
    "session_id",
    "version",
    "user",
    "database",
    "schema",
    "current_user",
    "session_user",
    "system_user",
    "current_database",
    "current_schema",
    "db_name",
    "user_name",
    "user_id",
    "host_name",
    "suser_name",
    "suser_sname",
    "is_srvrolemember",
    "is_member",
    "has_dbaccess",
    "object_id",
    "object_name",
    "col_name",
    "schema_name",
    "serverproperty",
    "load_file",
    "connection_id",
    "last_insert_id",
    "row_count",
    "found_rows",
    "sqlite_version",
    "pg_backend_pid",
    "inet_server_addr",
    "getusername",
    "sys_context",
    "userenv",
    "pg_read_file",
    "pg_ls_dir",
    "lo_import",
    "current_setting",
    "@@version",
];

const PROBE_FUNCTIONS: &[&str] = &[
    "substring",
    "substr",
    "mid",
    "count",
    "length",
    "char_length",
    "datalength",
    "bit_length",
    "ascii",
    "ord",
    "unicode",
    "if",
    "iif",
    "ifnull",
    "isnull",
    "make_set",
    "elt",
    "regexp_substr",
    "regexp_like",
    "hex",
    "unhex",
    "conv",
    "bin",
    "sysdate",
    "getdate",
];

const PURE_FUNCTIONS: &[&str] = &[
    "char",
    "chr",
    "nchar",
    "concat",
    "concat_ws",
    "lower",
    "upper",
    "lcase",
    "ucase",
    "abs",
    "pi",
    "cos",
    "sin",
    "tan",
    "cot",
    "sqrt",
    "power",
    "pow",
    "ceil",
    "ceiling",
    "round",
    "sign",
    "reverse",
    "repeat",
    "replicate",
    "space",
    "trim",
    "ltrim",
    "rtrim",
    "lpad",
    "rpad",
    "oct",
    "soundex",
    "sha2",
    "least",
    "greatest",
    "quote",
    "log",
    "ln",
    "degrees",
    "radians",
    "to_hex",
    "unistr",
    "utl_raw.cast_to_varchar2",
];

const DELAY_FUNCTIONS: &[&str] = &[
    "get_lock",
    "sys_eval",
    "xp_dirtree",
    "sleep",
    "benchmark",
    "pg_sleep",
    "pg_sleep_for",
    "sleepeachrow",
    "dbms_pipe.receive_message",
    "dbms_lock.sleep",
    "dbms_session.sleep",
    "sys.dbms_pipe.receive_message",
    "randomblob",
    "generate_series",
];

const ERROR_FUNCTIONS: &[&str] = &[
    "extractvalue",
    "updatexml",
    "exp",
    "floor",
    "json_keys",
    "geometrycollection",
    "multipoint",
    "multipolygon",
    "multilinestring",
    "linestring",
    "polygon",
    "name_const",
    "xmltype",
    "convert",
    "cast",
    "utl_inaddr.get_host_name",
    "utl_inaddr.get_host_address",
    "ctxsys.drithsx.sn",
    "ctxsys.ctx_report.token_type",
    "dbms_xdb_version.checkin",
    "dbms_utility.sqlid_to_sqlhash",
    "utl_http.request",
    "dbms_ldap.init",
    "httpuritype",
    "xmlserialize",
    "xmlagg",
    "gtid_subset",
    "st_latfromgeohash",
    "st_longfromgeohash",
    "st_pointfromgeohash",
    "polygonfromtext",
];

const SESSION_WORDS: &[&str] = &[
    "current_user",
    "session_user",
    "system_user",
    "current_database",
    "current_schema",
    "current_role",
    "user_name",
    "sysdate",
    "systimestamp",
    "rownum",
];

const VERBS: &[&str] = &[
    "insert",
    "update",
    "delete",
    "drop",
    "create",
    "alter",
    "truncate",
    "exec",
    "execute",
    "declare",
    "shutdown",
    "waitfor",
    "use",
    "grant",
    "revoke",
    "copy",
    "load",
    "set",
    "call",
    "merge",
    "replace",
    "handler",
    "kill",
    "backup",
    "restore",
    "dbcc",
    "reconfigure",
    "begin",
    "open",
    "fetch",
    "do",
    "print",
    "perform",
    "runscript",
    "if",
    "rename",
    "attach",
    "pragma",
];

/// Keywords doubled to survive a filter that removes them once: `UNIunionON`, `SELselectECT`.
const DOUBLED: &[&str] = &[
    "union", "select", "from", "where", "insert", "update", "delete", "sleep",
];

/// Whether the lower-cased word starts with the name of a system catalogue (`CATALOGUE_PREFIXES`).
fn names_catalogue(lower: &[u8]) -> bool {
    // Most words start with a letter no prefix starts with.
    static FIRST: [bool; 256] = first_bytes(CATALOGUE_PREFIXES);
    lower
        .first()
        .is_some_and(|first| FIRST[usize::from(*first)])
        && CATALOGUE_PREFIXES
            .iter()
            .any(|prefix| lower.starts_with(prefix.as_bytes()))
}

/// Whether some word of `words` starts with each byte.
const fn first_bytes(words: &[&str]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut idx = 0;
    while idx < words.len() {
        table[words[idx].as_bytes()[0] as usize] = true;
        idx += 1;
    }
    table
}

/// Names of system catalogues (prefixes) that only an attacker mapping the database reads in a value.
const CATALOGUE_PREFIXES: &[&str] = &[
    "information_schema",
    "sysobjects",
    "syscolumns",
    "sysusers",
    "sysdatabases",
    "sys.",
    "master..",
    "mysql.",
    "pg_catalog",
    "pg_shadow",
    "pg_user",
    "pg_tables",
    "sqlite_master",
    "sqlite_schema",
    "rdb$",
    "sysibm.",
    "syscat.",
    "sysmaster",
    "all_tables",
    "all_users",
    "user_tables",
    "dba_",
    "v$",
];

/// The keyword `word` (lower-cased) doubles: the keyword with a copy of itself inserted at some position, so the
/// word is twice as long and reads `keyword[..at] + keyword + keyword[at..]`.
fn undoubled(word: &[u8]) -> Option<&'static str> {
    DOUBLED.iter().copied().find(|keyword| {
        let keyword = keyword.as_bytes();
        let len = keyword.len();
        word.len() == 2 * len
            && word[0] == keyword[0]
            && word[2 * len - 1] == keyword[len - 1]
            && (0..=len).any(|at| {
                word[..at] == keyword[..at]
                    && word[at..at + len] == *keyword
                    && word[at + len..] == keyword[at..]
            })
    })
}

/// Words whose class does not depend on what follows them.
const FIXED_CLASSES: &[(Kind, &[&str])] = &[
    (Kind::Logic, &["and", "or", "xor"]),
    (Kind::Not, &["not"]),
    (
        Kind::Cmp,
        &[
            "like", "rlike", "regexp", "in", "is", "between", "glob", "match", "ilike",
        ],
    ),
    (Kind::Arith, &["div", "mod"]),
    (Kind::Union, &["union", "intersect", "except", "minus"]),
    (Kind::Select, &["select"]),
    (Kind::Exec, &["exec", "execute", "waitfor"]),
    (Kind::Having, &["having"]),
    (Kind::From, &["from"]),
    (Kind::Where, &["where"]),
    (Kind::Case, &["case"]),
    (Kind::End, &["end"]),
    (Kind::Num, &["null", "true", "false", "unknown"]),
    (
        Kind::Modifier,
        &["all", "distinct", "distinctrow", "top", "binary", "collate"],
    ),
    (Kind::Func(Func::Exists), &["exists"]),
    (Kind::Direction, &["asc", "desc"]),
    (
        Kind::Word(Word::Keyword),
        &[
            "as",
            "when",
            "then",
            "else",
            "on",
            "by",
            "escape",
            "with",
            "values",
            "table",
            "procedure",
            "delay",
        ],
    ),
    (Kind::Verb, &["copy", "declare", "drop", "create"]),
    (Kind::Into, &["into"]),
    (Kind::Word(Word::File), &["outfile", "dumpfile"]),
];

/// What the word lists say about one word.
#[derive(Clone, Copy, Default)]
struct WordClass {
    fixed: Option<Kind>,
    /// The first function list naming it, in the order Delay, Error, Reveal, Probe, Pure.
    function: Option<Func>,
    session: bool,
    verb: bool,
}

/// Every listed word, looked up once per word of a scan instead of a pass over each list.
static WORD_CLASSES: std::sync::LazyLock<rustc_hash::FxHashMap<&'static [u8], WordClass>> =
    std::sync::LazyLock::new(|| {
        let mut classes: rustc_hash::FxHashMap<&'static [u8], WordClass> =
            rustc_hash::FxHashMap::default();
        for (kind, words) in FIXED_CLASSES {
            for word in *words {
                classes.entry(word.as_bytes()).or_default().fixed = Some(*kind);
            }
        }
        for (func, words) in [
            (Func::Delay, DELAY_FUNCTIONS),
            (Func::Error, ERROR_FUNCTIONS),
            (Func::Reveal, REVEAL_FUNCTIONS),
            (Func::Probe, PROBE_FUNCTIONS),
            (Func::Pure, PURE_FUNCTIONS),
        ] {
            for word in words {
                classes
                    .entry(word.as_bytes())
                    .or_default()
                    .function
                    .get_or_insert(func);
            }
        }
        for word in SESSION_WORDS {
            classes.entry(word.as_bytes()).or_default().session = true;
        }
        for word in VERBS {
            classes.entry(word.as_bytes()).or_default().verb = true;
        }
        classes
    });

/// The class of a word, lower-cased (bytes other than ASCII letters as they are), given what follows
/// it after spaces, and the length of the next word when the class takes it too (`ORDER BY`).
fn classify_word(lower: &[u8], next_is_paren: bool, rest: &[u8]) -> (Kind, usize) {
    let lower = undoubled(lower).map_or(lower, str::as_bytes);
    let next_word = || {
        let len = rest
            .iter()
            .position(|b| !b.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        &rest[..len]
    };
    match lower {
        b"limit" | b"offset" | b"fetch" if !next_is_paren => return (Kind::Limit, 0),
        b"order" | b"group" if next_word().eq_ignore_ascii_case(b"by") => {
            return (Kind::OrderBy, 2)
        }
        b"sounds" if next_word().eq_ignore_ascii_case(b"like") => return (Kind::Cmp, 4),
        _ => {}
    }
    let class = WORD_CLASSES.get(lower).copied().unwrap_or_default();
    if let Some(kind) = class.fixed {
        return (kind, 0);
    }
    if next_is_paren {
        return (Kind::Func(class.function.unwrap_or(Func::Plain)), 0);
    }
    let kind = if class.session || names_catalogue(lower) {
        Kind::Word(Word::Session)
    } else if class.verb {
        Kind::Verb
    } else {
        Kind::Word(Word::Plain)
    };
    (kind, 0)
}

/// An integer literal's value (decimal or `0x` hex); `None` for decimals, keywords and overflow.
fn constant_number(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?;
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok();
    }
    if text.eq_ignore_ascii_case("true") {
        Some(1)
    } else if text.eq_ignore_ascii_case("false") {
        Some(0)
    } else {
        text.parse().ok()
    }
}

/// FNV-1a of a string literal's content, case-insensitively (SQL's default collations ignore case).
fn content_hash(content: &[u8]) -> u64 {
    content.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether `left op right` holds, for two constants; `None` when it cannot be told.
fn constant_comparison(left: &Token, op: &Token, right: &Token) -> Option<bool> {
    let (a, b) = (left.value?, right.value?);
    let numbers = left.kind == Kind::Num && right.kind == Kind::Num;
    let strings = matches!(left.kind, Kind::Str { .. }) && matches!(right.kind, Kind::Str { .. });
    if !numbers && !strings {
        return None;
    }
    let spelled = [
        op.first.to_ascii_lowercase(),
        op.second.to_ascii_lowercase(),
    ];
    let holds = match &spelled {
        b"<>" | b"!=" | b"^=" => a != b,
        b"<=" if op.end - op.start == 3 => a == b,
        b"<=" | b"!>" if numbers => a <= b,
        b">=" | b"!<" if numbers => a >= b,
        [b'=', _] | b"is" => a == b,
        [b'<', _] if numbers => a < b,
        [b'>', _] if numbers => a > b,
        _ => return None,
    };
    Some(holds)
}

/// Tokenises `bytes[from..to]`; a `Break` ends the line. Stops after `limit` tokens.
pub(crate) fn tokenise(bytes: &[u8], from: usize, to: usize, limit: usize) -> Vec<Token> {
    // About one token per five bytes of prose.
    let mut tokens = Vec::with_capacity((to.saturating_sub(from) / 5 + 4).min(limit));
    let mut idx = from;
    let mut lower: Vec<u8> = Vec::new();
    while idx < to && tokens.len() < limit {
        let byte = bytes[idx];
        let start = idx;
        let kind = match byte {
            b' ' | b'\t' => {
                idx += 1;
                continue;
            }
            b'\n' => {
                idx += 1;
                Kind::Break
            }
            b'`' => {
                // ``` and a backtick around prose delimit code; `name` quotes an identifier.
                let close = bytes[idx + 1..to].iter().position(|b| *b == b'`');
                match close {
                    Some(len)
                        if len > 0
                            && bytes[idx + 1..idx + 1 + len]
                                .iter()
                                .all(|b| is_word_byte(*b) || *b == b'.') =>
                    {
                        idx += len + 2;
                        Kind::Word(Word::Plain)
                    }
                    _ => {
                        while idx < to && bytes[idx] == b'`' {
                            idx += 1;
                        }
                        Kind::Fence
                    }
                }
            }
            b'\'' | b'"' if bytes[idx..to].starts_with(&[byte, byte, byte]) => {
                // A triple-quoted string in code delimits the text inside it.
                idx += 3;
                Kind::Fence
            }
            b':' if bytes.get(idx + 1) == Some(&b':') => {
                // A Postgres cast `::type` belongs to the value before it.
                idx += 2;
                while idx < to && is_word_byte(bytes[idx]) {
                    idx += 1;
                }
                continue;
            }
            b'\'' | b'"' => {
                idx += 1;
                let mut closed = false;
                while idx < to && bytes[idx] != b'\n' {
                    if bytes[idx] == b'\\' {
                        idx += 2;
                        continue;
                    }
                    if bytes[idx] == byte {
                        if bytes.get(idx + 1) == Some(&byte) && idx + 1 < to {
                            idx += 2;
                            continue;
                        }
                        idx += 1;
                        closed = true;
                        break;
                    }
                    idx += 1;
                }
                idx = idx.min(to);
                Kind::Str { closed }
            }
            b'0'..=b'9' => {
                if byte == b'0' && matches!(bytes.get(idx + 1), Some(b'x' | b'X' | b'b' | b'B')) {
                    idx += 2;
                    while idx < to && bytes[idx].is_ascii_hexdigit() {
                        idx += 1;
                    }
                } else {
                    // `1.5`, but not the full stop of a sentence that ends in a number.
                    while idx < to
                        && (bytes[idx].is_ascii_digit()
                            || (bytes[idx] == b'.'
                                && bytes.get(idx + 1).is_some_and(u8::is_ascii_digit)))
                    {
                        idx += 1;
                    }
                    if idx < to
                        && matches!(bytes[idx], b'e' | b'E')
                        && bytes
                            .get(idx + 1)
                            .is_some_and(|b| b.is_ascii_digit() || *b == b'-' || *b == b'+')
                    {
                        idx += 2;
                        while idx < to && bytes[idx].is_ascii_digit() {
                            idx += 1;
                        }
                    }
                }
                Kind::Num
            }
            b'@' => {
                idx += 1;
                if idx < to && bytes[idx] == b'@' {
                    idx += 1;
                }
                let system = idx >= start + 2;
                let name_start = idx;
                while idx < to && (is_word_byte(bytes[idx]) || bytes[idx] == b'.') {
                    idx += 1;
                }
                if idx == name_start {
                    Kind::Other
                } else {
                    Kind::Var { system }
                }
            }
            // `--data-urlencode` is an option of a command, not a comment (MySQL needs a space too).
            b'-' if bytes.get(idx + 1) == Some(&b'-')
                && !bytes.get(idx + 2).is_some_and(u8::is_ascii_alphabetic) =>
            {
                while idx < to && bytes[idx] != b'\n' {
                    idx += 1;
                }
                Kind::Comment
            }
            b'#' => {
                while idx < to && bytes[idx] != b'\n' {
                    idx += 1;
                }
                Kind::Comment
            }
            b'/' if bytes.get(idx + 1) == Some(&b'*') => {
                while idx < to && bytes[idx] != b'\n' {
                    idx += 1;
                }
                Kind::Comment
            }
            b'(' | b')' | b',' | b';' | b'.' => {
                idx += 1;
                match byte {
                    b'(' => Kind::LParen,
                    b')' => Kind::RParen,
                    b',' => Kind::Comma,
                    b';' => Kind::Semi,
                    _ => Kind::Dot,
                }
            }
            b'=' | b'<' | b'>' | b'!' | b'^' | b'~' | b'+' | b'-' | b'*' | b'/' | b'%' | b'|'
            | b'&' | b':' => {
                let pair = [byte, bytes.get(idx + 1).copied().unwrap_or(0)];
                let (kind, len) = match &pair {
                    b"&&" | b"||" => (Kind::Logic, 2),
                    b"<<" | b">>" | b":=" => (Kind::Arith, 2),
                    b"<=" => {
                        if bytes.get(idx + 2) == Some(&b'>') {
                            (Kind::Cmp, 3)
                        } else {
                            (Kind::Cmp, 2)
                        }
                    }
                    b">=" | b"<>" | b"!=" | b"^=" | b"!<" | b"!>" | b"==" => (Kind::Cmp, 2),
                    [b'=' | b'<' | b'>', _] => (Kind::Cmp, 1),
                    [b'!', _] => (Kind::Not, 1),
                    [b':', _] => (Kind::Other, 1),
                    _ => (Kind::Arith, 1),
                };
                idx += len;
                kind
            }
            b if is_word_byte(b) => {
                while idx < to
                    && (is_word_byte(bytes[idx])
                        || (bytes[idx] == b'.'
                            && bytes
                                .get(idx + 1)
                                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_' || *b == b'.'))
                        // `what's`, `O'Brien`: an apostrophe between letters.
                        || (bytes[idx] == b'\''
                            && bytes[idx - 1].is_ascii_alphabetic()
                            && bytes.get(idx + 1).is_some_and(u8::is_ascii_alphabetic)
                            && idx + 1 < to))
                {
                    idx += 1;
                }
                lower.clear();
                lower.extend(bytes[start..idx].iter().map(u8::to_ascii_lowercase));
                let mut after = idx;
                while after < to && bytes[after] == b' ' {
                    after += 1;
                }
                let next_is_paren = bytes.get(after) == Some(&b'(');
                let (kind, next_word) = classify_word(&lower, next_is_paren, &bytes[after..to]);
                if next_word > 0 {
                    idx = after + next_word;
                }
                kind
            }
            _ => {
                idx += 1;
                Kind::Other
            }
        };
        let end = idx.min(to);
        let value = match kind {
            Kind::Num => constant_number(&bytes[start..end]),
            Kind::Str { closed: true } if end >= start + 2 => {
                Some(content_hash(&bytes[start + 1..end - 1]))
            }
            _ => None,
        };
        tokens.push(Token {
            kind,
            start,
            end,
            first: byte,
            second: bytes.get(start + 1).copied().unwrap_or(0),
            value,
        });
    }
    tokens
}

// ---------------------------------------------------------------------------------------------
// Judgement
// ---------------------------------------------------------------------------------------------

/// What a condition is made of.
#[derive(Default, Debug)]
struct Features {
    comparisons: usize,
    constants: usize,
    identifiers: usize,
    /// Database values: variables, session words, revealing functions.
    revealing: usize,
    /// Functions that take data apart (`substring`, `ascii`, `length`...).
    probes: usize,
    /// `NOT`, `!`: `OR NOT FALSE`, `OR !0`.
    negations: usize,
    subquery: bool,
    delay: bool,
    error: bool,
    exists: bool,
}

impl Features {
    fn strong(&self) -> bool {
        self.subquery || self.delay || self.error || self.exists
    }
}

/// Index of the token after the parenthesis group opened at `open` (or the end), collecting features.
fn group(tokens: &[Token], open: usize, features: &mut Features) -> usize {
    let mut depth = 0usize;
    let mut idx = open;
    while idx < tokens.len() {
        let kind = tokens[idx].kind;
        match kind {
            Kind::LParen => {
                depth += 1;
                if tokens.get(idx + 1).is_some_and(|t| t.kind == Kind::Select) {
                    features.subquery = true;
                }
            }
            Kind::RParen => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return idx + 1;
                }
            }
            Kind::Break | Kind::Fence => return idx,
            _ => operand_feature(kind, features),
        }
        idx += 1;
    }
    idx
}

fn operand_feature(kind: Kind, features: &mut Features) {
    match kind {
        Kind::Num | Kind::Str { .. } => features.constants += 1,
        Kind::Var { system: true } | Kind::Word(Word::Session) => features.revealing += 1,
        // A parameter (`@id`) is data of the query, like a column.
        Kind::Var { system: false } => features.identifiers += 1,
        Kind::Word(Word::Plain) => features.identifiers += 1,
        Kind::Func(Func::Reveal) => features.revealing += 1,
        Kind::Func(Func::Probe) => features.probes += 1,
        // A function of unknown meaning reads data the way a column does.
        Kind::Func(Func::Plain) => features.identifiers += 1,
        Kind::Func(Func::Pure) => {}
        Kind::Func(Func::Delay) => features.delay = true,
        Kind::Func(Func::Error) => features.error = true,
        Kind::Func(Func::Exists) => features.exists = true,
        Kind::Cmp => features.comparisons += 1,
        Kind::Select => features.subquery = true,
        _ => {}
    }
}

/// Reads an expression from `idx`: operands joined by operators, at parenthesis depth 0. Returns the
/// index of the first token not read.
fn expression(tokens: &[Token], mut idx: usize, features: &mut Features) -> usize {
    let mut expect_operand = true;
    while idx < tokens.len() {
        let kind = tokens[idx].kind;
        if expect_operand {
            match kind {
                Kind::Not => {
                    features.negations += 1;
                    idx += 1;
                }
                Kind::Arith | Kind::Modifier => idx += 1,
                Kind::Num
                | Kind::Str { .. }
                | Kind::Var { .. }
                | Kind::Word(Word::Plain | Word::Session) => {
                    operand_feature(kind, features);
                    idx += 1;
                    // `t.column`, `schema.fn`; not the full stop after `... = 9619. What`.
                    while matches!(kind, Kind::Word(_))
                        && tokens.get(idx).is_some_and(|t| t.kind == Kind::Dot)
                        && tokens.get(idx + 1).is_some_and(|t| {
                            matches!(t.kind, Kind::Word(_)) && t.start == tokens[idx].end
                        })
                    {
                        idx += 2;
                    }
                    expect_operand = false;
                }
                Kind::Func(_) => {
                    operand_feature(kind, features);
                    idx = group(tokens, idx + 1, features);
                    expect_operand = false;
                }
                Kind::LParen => {
                    idx = group(tokens, idx, features);
                    expect_operand = false;
                }
                Kind::Case => {
                    while idx < tokens.len()
                        && !matches!(tokens[idx].kind, Kind::End | Kind::Break | Kind::Fence)
                    {
                        operand_feature(tokens[idx].kind, features);
                        idx += 1;
                    }
                    if tokens.get(idx).is_some_and(|t| t.kind == Kind::End) {
                        idx += 1;
                    }
                    expect_operand = false;
                }
                _ => return idx,
            }
        } else {
            match kind {
                Kind::Cmp => {
                    features.comparisons += 1;
                    idx += 1;
                    expect_operand = true;
                }
                Kind::Not if tokens.get(idx + 1).is_some_and(|t| t.kind == Kind::Cmp) => {
                    idx += 1;
                }
                Kind::Arith => {
                    idx += 1;
                    expect_operand = true;
                }
                // `1 = 1 AND` `... ESCAPE`, `x IS NOT NULL`.
                Kind::Modifier => idx += 1,
                _ => return idx,
            }
        }
    }
    idx
}

/// An injected condition ends the way injected text ends: the end of the line, a comment, `)`, `;`,
/// a further condition or clause. A prose word after it means it was prose.
fn ends_like_injection(tokens: &[Token], idx: usize, in_string: bool) -> bool {
    match tokens.get(idx).map(|t| t.kind) {
        None
        | Some(
            Kind::Break | Kind::Fence | Kind::Comment | Kind::RParen | Kind::Semi | Kind::Logic,
        ) => true,
        Some(
            Kind::Union | Kind::OrderBy | Kind::Having | Kind::Limit | Kind::From | Kind::Where,
        ) => true,
        Some(Kind::Str { closed: false }) => in_string,
        // A sentence that ends right after the payload: `... 1=1. Is it harmful?`
        Some(Kind::Dot | Kind::Comma | Kind::Other) => {
            matches!(tokens[idx].first, b'.' | b',' | b'?' | b'!' | b':')
                && tokens
                    .get(idx + 1)
                    .is_none_or(|next| next.start > tokens[idx].end || next.kind == Kind::Break)
        }
        _ => false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Technique {
    Tautology,
    Inference,
    Union,
    Stacked,
    OrderProbe,
    Having,
    OperatorBreakout,
    CommentTruncation,
    File,
}

/// Where a judgement starts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Entry {
    /// After a quote that ends a value, glued to it (`admin'`, `1'`).
    GluedQuote,
    /// After a quote that follows a space; `opens` when a word follows it directly, as a quotation
    /// opens (`'OR' and 'AND'`).
    Quote { opens: bool },
    /// After a number, `)`, a variable or a closed string; `string` for a string or `)`, `compared`
    /// when the value is itself the right side of a comparison (`a == 1 || ...` in code).
    Value { string: bool, compared: bool },
    /// At the start of a line or of the text.
    LineStart,
}

impl Entry {
    fn in_string(self) -> bool {
        matches!(self, Entry::GluedQuote | Entry::Quote { .. })
    }
}

/// Judges the tokens after an entry point; `Some((technique, last token read))`.
fn judge(tokens: &[Token], entry: Entry, in_query: bool) -> Option<(Technique, usize)> {
    let mut idx = 0;
    while tokens.get(idx).is_some_and(|t| t.kind == Kind::RParen) {
        idx += 1;
    }
    let injected = !in_query || entry.in_string();
    // `widget'+UNION+ALL+SELECT`: a `+` standing for a space in a URL.
    if entry == Entry::GluedQuote
        && tokens
            .get(idx)
            .is_some_and(|t| t.first == b'+' && t.kind == Kind::Arith)
        && tokens.get(idx + 1).is_some_and(|t| {
            matches!(
                t.kind,
                Kind::Union | Kind::Logic | Kind::OrderBy | Kind::Semi | Kind::Exec | Kind::Limit
            )
        })
    {
        idx += 1;
    }
    let first = tokens.get(idx)?.kind;
    match first {
        Kind::Logic => condition(tokens, idx + 1, entry, in_query),
        Kind::Union if injected => {
            let mut next = idx + 1;
            while tokens.get(next).is_some_and(|t| {
                matches!(
                    t.kind,
                    Kind::Modifier | Kind::LParen | Kind::Break | Kind::Fence
                )
            }) {
                next += 1;
            }
            (tokens.get(next)?.kind == Kind::Select).then_some((Technique::Union, next))
        }
        Kind::Semi if entry != Entry::LineStart => {
            stacked(tokens, idx + 1, entry, in_query).or_else(|| truncation(tokens, idx, entry))
        }
        // T-SQL needs no `;` between statements: `x' EXEC master..xp_cmdshell 'dir'`.
        Kind::Exec if entry == Entry::GluedQuote => stacked(tokens, idx, entry, in_query),
        Kind::OrderBy if injected => {
            let mut next = idx + 1;
            // `ORDER BY (SELECT 1)`, `ORDER BY CASE WHEN (1=1) THEN a ELSE b END`, `GROUP BY x
            // HAVING 1=1`: a subquery, a condition or a probe of the database as the sort key.
            if matches!(
                tokens.get(next)?.kind,
                Kind::LParen | Kind::Case | Kind::Func(_)
            ) {
                let mut features = Features::default();
                let end = expression(tokens, next, &mut features);
                let probing = features.strong()
                    || features.revealing > 0
                    || features.probes > 0
                    || features.comparisons > 0;
                return (probing && end > next).then_some((Technique::OrderProbe, end - 1));
            }
            if tokens.get(next)?.kind != Kind::Num {
                return None;
            }
            while tokens.get(next).is_some_and(|t| t.kind == Kind::Num)
                && tokens.get(next + 1).is_some_and(|t| t.kind == Kind::Comma)
            {
                next += 2;
            }
            if tokens.get(next).is_none_or(|t| t.kind != Kind::Num) {
                return None;
            }
            let mut after = next + 1;
            // `ORDER BY 3 DESC`
            if tokens.get(after).is_some_and(|t| t.kind == Kind::Direction) {
                after += 1;
            }
            // After `'))` the text is SQL whatever follows it.
            let closed_parens = idx > 0 && entry == Entry::GluedQuote;
            (closed_parens || ends_like_injection(tokens, after, entry.in_string()))
                .then_some((Technique::OrderProbe, next))
        }
        Kind::Having if injected => {
            let mut features = Features::default();
            let end = expression(tokens, idx + 1, &mut features);
            (end > idx + 1
                && (features.comparisons > 0
                    || features.revealing > 0
                    || features.constants > 0
                    || features.strong())
                && ends_like_injection(tokens, end, entry.in_string()))
            .then_some((Technique::Having, end - 1))
        }
        // `admin'<<'1`, `x' like binary 'x`, `1'-'`: the string becomes an expression.
        Kind::Cmp | Kind::Arith if entry == Entry::GluedQuote && idx == 0 => {
            let mut features = Features::default();
            let end = expression(tokens, idx + 1, &mut features);
            let read = &tokens[idx + 1..end];
            // `11" + - 14"` (inches) and `"a" + "b"` (concatenation in prose) stay quiet: a sign
            // only counts when the string it opens is left for the query to close.
            let sign_only = matches!(tokens[idx].first, b'+' | b'-');
            let left_open = matches!(
                read.last().map(|t| t.kind),
                Some(Kind::Str { closed: false })
            );
            // `abc'+CONVERT(INT,(SUSER_SNAME()))+'`, `x' + (SELECT TOP 1 name FROM t) + '`: a
            // subquery or a function of the database joined to the string.
            let reads_database = features.strong() || features.revealing > 0;
            (end > idx + 1
                && (reads_database
                    || (features.identifiers == 0
                        && (!sign_only || (read.len() == 1 && left_open))
                        && ends_like_injection(tokens, end, true))))
            .then_some((Technique::OperatorBreakout, end - 1))
            .or_else(|| truncation(tokens, idx, entry))
        }
        // `1 DIV (SELECT ...)`, `1=(SELECT ...)`, `1-sleep(5)`: a subquery or a function of the
        // database made part of the value.
        Kind::Cmp | Kind::Arith if injected && entry != Entry::LineStart => {
            let mut features = Features::default();
            let end = expression(tokens, idx + 1, &mut features);
            (end > idx + 1 && (features.strong() || features.revealing > 0))
                .then_some((Technique::Inference, end - 1))
        }
        // `(SELECT @@version)`, `IF((SELECT ...)='a',1,2)` on a line of their own.
        Kind::LParen | Kind::Func(_) if entry == Entry::LineStart => {
            let mut features = Features::default();
            let end = expression(tokens, idx, &mut features);
            (features.delay || features.error || (features.subquery && features.revealing > 0))
                .then_some((Technique::Inference, end.max(idx + 1) - 1))
        }
        Kind::Comment => truncation(tokens, idx, entry),
        // `sysadmin' LIMIT 1;--`: the query is cut to one row and the rest commented out.
        Kind::Limit if entry == Entry::GluedQuote => {
            let mut next = idx + 1;
            while tokens
                .get(next)
                .is_some_and(|t| matches!(t.kind, Kind::Num | Kind::Comma))
            {
                next += 1;
            }
            (next > idx + 1)
                .then(|| truncation(tokens, next, entry))
                .flatten()
        }
        // `1 INTO OUTFILE '/var/www/x.php'`, `' LIMIT 1 INTO DUMPFILE ...`
        Kind::Into | Kind::Limit if injected => {
            let mut next = idx;
            if tokens[next].kind == Kind::Limit {
                next += 1;
                while tokens
                    .get(next)
                    .is_some_and(|t| matches!(t.kind, Kind::Num | Kind::Comma))
                {
                    next += 1;
                }
                if tokens.get(next)?.kind != Kind::Into {
                    return None;
                }
            }
            (tokens.get(next + 1)?.kind == Kind::Word(Word::File))
                .then_some((Technique::File, next + 1))
        }
        _ => None,
    }
}

/// `admin'--`, `root');#`, `x'+#`: after a quote glued to a value (and closing parentheses), the rest
/// of the query is commented out. A quotation closed after punctuation (`"...end." -- Karl`) is
/// not glued to a value, and one closed after a word is balanced by its opening quote.
fn truncation(tokens: &[Token], idx: usize, entry: Entry) -> Option<(Technique, usize)> {
    if entry != Entry::GluedQuote {
        return None;
    }
    let mut next = idx;
    if tokens
        .get(next)
        .is_some_and(|t| matches!(t.kind, Kind::Semi | Kind::Arith))
    {
        next += 1;
    }
    tokens.get(next).filter(|t| t.kind == Kind::Comment)?;
    Some((Technique::CommentTruncation, next))
}

/// A condition after `AND`/`OR` that starts at `idx`.
fn condition(
    tokens: &[Token],
    idx: usize,
    entry: Entry,
    in_query: bool,
) -> Option<(Technique, usize)> {
    let mut features = Features::default();
    let mut end = expression(tokens, idx, &mut features);
    let mut rolled_back = false;
    // `1=1 is a valid code`, `... in (1,2) - apply it`: the expression read one operator and word of
    // the prose that follows; judge the part before them.
    while end >= idx + 3
        && tokens
            .get(end)
            .is_some_and(|t| matches!(t.kind, Kind::Word(_) | Kind::Verb))
        && matches!(tokens[end - 1].kind, Kind::Word(_))
        && matches!(tokens[end - 2].kind, Kind::Cmp | Kind::Arith)
    {
        end -= 2;
        rolled_back = true;
        features = Features::default();
        let _ = expression(&tokens[..end], idx, &mut features);
    }
    if end == idx {
        return None;
    }
    let last = end - 1;
    // What an injection reads in the database is never prose, wherever the text goes on.
    if features.strong() || (features.comparisons > 0 && features.revealing > 0) {
        return Some((Technique::Inference, last));
    }
    if !rolled_back && !ends_like_injection(tokens, end, entry.in_string()) {
        return None;
    }
    let mut after = end;
    while tokens.get(after).is_some_and(|t| t.kind == Kind::RParen) {
        after += 1;
    }
    let tail = tokens.get(after).map(|t| t.kind);
    let commented = matches!(tail, Some(Kind::Comment));
    if features.comparisons > 0 {
        if features.probes > 0 && (!in_query || entry.in_string()) {
            return Some((Technique::Inference, last));
        }
        if features.identifiers == 0 && features.constants > 0 {
            // `OR 1=1` makes a condition true; "either 1 or 2 = 3" is arithmetic in prose. An OR with
            // a comparison that fails reads nothing, so outside a string it is not an injection.
            let or_word = idx.checked_sub(1).is_some_and(|i| {
                matches!(tokens[i].first.to_ascii_lowercase(), b'o' | b'x' | b'|')
            });
            let fails = end == idx + 3
                && tokens[idx + 1].kind == Kind::Cmp
                && constant_comparison(&tokens[idx], &tokens[idx + 1], &tokens[idx + 2])
                    == Some(false);
            if or_word && fails && !entry.in_string() {
                return None;
            }
            return Some((Technique::Tautology, last));
        }
        // `||` and `&&` are code, not prose.
        let symbolic = idx
            .checked_sub(1)
            .is_some_and(|i| matches!(tokens[i].first, b'|' | b'&'));
        // `' OR name = 'admin`: the query closes the last string. A string closed on the same line
        // after a column (`" AND country = $1"`) is code.
        let query_closes = matches!(tokens[last].kind, Kind::Str { closed: false });
        let clause_follows = matches!(
            tail,
            Some(Kind::Semi | Kind::Having | Kind::OrderBy | Kind::Union | Kind::Limit)
        );
        let line_ends = matches!(tail, None | Some(Kind::Break | Kind::Fence));
        let judged = if entry.in_string() {
            commented || clause_follows || query_closes || (entry == Entry::GluedQuote && line_ends)
        } else {
            // `a == 1 || b == 2` is code: the value before `||` was compared already.
            let code = matches!(entry, Entry::Value { compared: true, .. });
            (symbolic && line_ends && !code)
                || ((symbolic || entry == Entry::LineStart) && commented && !code)
        };
        if judged {
            return Some((Technique::Tautology, last));
        }
        return None;
    }
    // No comparison: `OR TRUE--`, `' OR 1#`, `( @a OR @a ) --`, `' OR '1` (the query closes the
    // quote), `OR TRUE` on a line of its own.
    // `"work hard" and "be kind" -- always`: two quotations joined by a word are prose.
    let after_string = matches!(entry, Entry::Value { string: true, .. });
    let opens_quotation = matches!(entry, Entry::Quote { opens: true });
    // `8' or 10' lengths`, `5'6" or so`: a quote glued after a number is a unit (feet, inches).
    let unit = (idx..end).any(|i| {
        tokens[i].kind == Kind::Num
            && tokens
                .get(i + 1)
                .is_some_and(|b| matches!(b.kind, Kind::Str { .. }) && b.start == tokens[i].end)
    });
    let alone = features.identifiers == 0
        && features.constants + features.revealing > 0
        && !after_string
        && !opens_quotation
        && !unit;
    let line_ends = matches!(tail, None | Some(Kind::Break | Kind::Fence));
    let left_open = matches!(tokens[last].kind, Kind::Str { closed: false })
        || matches!(tail, Some(Kind::Str { closed: false }));
    // "pick 1 or 2" ends a line too; a negated constant or a probe of a value does not in prose.
    let unusual = features.negations > 0 || (features.probes > 0 && !in_query);
    if alone && unusual && entry.in_string() {
        return Some((Technique::Tautology, last));
    }
    (alone
        && (commented
            || (entry.in_string() && (left_open || (entry == Entry::GluedQuote && line_ends)))
            || (line_ends && (entry == Entry::LineStart || unusual))))
        .then_some((Technique::Tautology, last))
}

/// A second statement after `;`.
fn stacked(
    tokens: &[Token],
    idx: usize,
    entry: Entry,
    in_query: bool,
) -> Option<(Technique, usize)> {
    // `';\nDROP ...`: after a broken-out value a line break changes nothing; after a number it
    // ends a statement of a script (`RETURN 0;\n    EXEC ...`).
    let mut idx = idx;
    while tokens.get(idx).is_some_and(|t| t.kind == Kind::Break) {
        if !entry.in_string() {
            return None;
        }
        idx += 1;
    }
    let verb = tokens.get(idx)?;
    let next = tokens.get(idx + 1).map(|t| t.kind);
    // `; IF (SELECT ...)=1 EXEC xp_cmdshell ...`, `; IF (...) WAITFOR DELAY ...`: a conditional
    // statement whose body runs a procedure or waits.
    let conditional = tokens[idx..]
        .iter()
        .take(32)
        .take_while(|t| !matches!(t.kind, Kind::Semi | Kind::Break))
        .any(|t| matches!(t.kind, Kind::Exec | Kind::Func(Func::Delay)));
    let judged = conditional
        || match verb.kind {
            Kind::Verb | Kind::Exec => {
                matches!(
                    next,
                    Some(
                        Kind::Word(_)
                            | Kind::Func(_)
                            | Kind::Var { .. }
                            | Kind::Str { .. }
                            | Kind::Num
                            | Kind::LParen
                            | Kind::Verb
                            | Kind::Into
                            | Kind::From
                            | Kind::Select
                            | Kind::Modifier
                    )
                ) || next.is_none()
            }
            Kind::Select => matches!(
                next,
                Some(
                    Kind::Num
                        | Kind::Var { .. }
                        | Kind::Func(_)
                        | Kind::Str { .. }
                        | Kind::Arith
                        | Kind::Modifier
                )
            ),
            _ => false,
        };
    // In a script, a statement after another statement is ordinary; after a broken-out value it is not.
    (judged && (entry.in_string() || !in_query)).then_some((Technique::Stacked, idx))
}

/// A quote at `at` starts a judgement when it can end a value: not an apostrophe inside a word
/// (`don't`), and not closing a quotation opened earlier on the line.
fn quote_entry(bytes: &[u8], at: usize, same_before: usize) -> Option<Entry> {
    let before = at.checked_sub(1).map(|i| bytes[i]);
    let after = bytes.get(at + 1).copied();
    if before.is_some_and(|b| b.is_ascii_alphanumeric())
        && after.is_some_and(|b| b.is_ascii_alphabetic())
    {
        // `1'or'1'='1` is glued on both sides; `don't` is a word.
        let word_end = bytes[at + 1..]
            .iter()
            .position(|b| !b.is_ascii_alphabetic())
            .map_or(bytes.len(), |len| at + 1 + len);
        let word = &bytes[at + 1..word_end];
        let keyword = [
            b"or".as_slice(),
            b"and",
            b"xor",
            b"union",
            b"order",
            b"group",
            b"having",
            b"exec",
            b"execute",
        ]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k));
        let doubled = std::str::from_utf8(word)
            .ok()
            .is_some_and(|w| undoubled(w.to_ascii_lowercase().as_bytes()).is_some());
        if !keyword && !doubled {
            return None;
        }
    }
    // `\"` in a code or JSON string is the payload's own quote.
    if before == Some(b'\\') {
        let glued = at >= 2 && (bytes[at - 2].is_ascii_alphanumeric() || bytes[at - 2] == b')');
        return glued.then_some(Entry::GluedQuote);
    }
    if same_before % 2 == 1 {
        return None;
    }
    // A quote that opens its line starts the value there (`' OR name IS NOT NULL`).
    let opens_line = bytes[..at]
        .iter()
        .rev()
        .find(|b| !matches!(b, b' ' | b'\t'))
        .is_none_or(|b| *b == b'\n');
    // `r"...`, `b'...`, `f"...`: a string prefix in code opens a literal.
    let prefix = at >= 1
        && matches!(
            bytes[at - 1],
            b'r' | b'R' | b'b' | b'B' | b'f' | b'F' | b'u' | b'U'
        )
        && (at < 2 || !bytes[at - 2].is_ascii_alphanumeric());
    if prefix {
        return Some(Entry::Quote { opens: true });
    }
    let glued = opens_line
        || before
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'%' | b')' | b']'));
    Some(if glued {
        Entry::GluedQuote
    } else {
        Entry::Quote {
            opens: after.is_some_and(|b| b.is_ascii_alphabetic()),
        }
    })
}

/// An apostrophe between two letters or digits (`don't`, `O'Brien`) neither opens nor closes a quotation.
fn in_word(bytes: &[u8], at: usize) -> bool {
    at > 0
        && bytes[at - 1].is_ascii_alphanumeric()
        && bytes.get(at + 1).is_some_and(u8::is_ascii_alphanumeric)
}

/// Whether the quote at `bytes[at]` counts towards its kind's pairs: double quotes always,
/// apostrophes unless inside a word.
fn counted_quote(bytes: &[u8], at: usize) -> bool {
    bytes[at] == b'"' || (bytes[at] == b'\'' && !in_word(bytes, at))
}

/// For each quote byte of `bytes`, how many quotes of the same kind stand before it on its line
/// (apostrophes inside words not counted): `(position, count)`, in order. One pass.
fn quotes_with_counts(bytes: &[u8]) -> Vec<(usize, usize)> {
    let (mut single, mut double) = (0, 0);
    let mut quotes = Vec::new();
    for at in memchr::memchr3_iter(b'\n', b'\'', b'"', bytes) {
        match bytes[at] {
            b'\n' => (single, double) = (0, 0),
            b'\'' => {
                quotes.push((at, single));
                if counted_quote(bytes, at) {
                    single += 1;
                }
            }
            b'"' => {
                quotes.push((at, double));
                double += 1;
            }
            _ => {}
        }
    }
    quotes
}

/// Verbs that start a statement of their own in a script.
const STATEMENT_VERBS: &[&[u8]] = &[
    b"insert",
    b"update",
    b"delete",
    b"create",
    b"alter",
    b"drop",
    b"truncate",
    b"merge",
    b"declare",
    b"set",
    b"exec",
    b"execute",
    b"grant",
    b"revoke",
    b"with",
];

/// For each token, whether a statement keyword stands before it in the same statement: back to a
/// `;`, a code delimiter or a blank line (the text there is a query of its own, so its clauses are
/// not injected). One pass over the tokens.
fn statement_flags(bytes: &[u8], tokens: &[Token]) -> Vec<bool> {
    // Words that follow a verb in prose ("Set my name", "Update the address"), never in SQL.
    const PROSE: &[&[u8]] = &[
        b"my", b"your", b"our", b"their", b"his", b"her", b"its", b"the", b"a", b"an", b"me",
        b"us", b"it", b"this", b"that", b"them", b"him", b"up", b"to",
    ];
    let mut flags = Vec::with_capacity(tokens.len());
    let mut inside = false;
    let mut previous_was_break = false;
    for (at, token) in tokens.iter().enumerate() {
        flags.push(inside);
        match token.kind {
            Kind::Semi | Kind::Fence => inside = false,
            Kind::Break if previous_was_break => inside = false,
            Kind::Select | Kind::Where => inside = true,
            Kind::Verb | Kind::Exec
                if STATEMENT_VERBS
                    .iter()
                    .any(|v| bytes[token.start..token.end].eq_ignore_ascii_case(v)) =>
            {
                let prose = tokens.get(at + 1).is_some_and(|next| {
                    let word = &bytes[next.start..next.end];
                    PROSE.iter().any(|p| word.eq_ignore_ascii_case(p))
                });
                inside |= !prose;
            }
            _ => {}
        }
        previous_was_break = token.kind == Kind::Break;
    }
    flags
}

/// Judges every entry point of `tokens` from index `from`, adding `(start, end)` byte ranges to
/// `found`.
fn judge_entries(bytes: &[u8], tokens: &[Token], from: usize, found: &mut Vec<(usize, usize)>) {
    let in_statement = statement_flags(bytes, tokens);
    for idx in from..tokens.len() {
        let previous = idx.checked_sub(1).map(|p| tokens[p].kind);
        let entry = match previous {
            None | Some(Kind::Break | Kind::Fence) => Entry::LineStart,
            Some(
                kind @ (Kind::Num | Kind::Var { .. } | Kind::RParen | Kind::Str { closed: true }),
            ) => Entry::Value {
                // A string or a parenthesised expression ends the value: `(b or 0)`,
                // `get('user') or 'anonymous'` in code.
                string: matches!(kind, Kind::Str { .. } | Kind::RParen),
                compared: idx >= 2 && tokens[idx - 2].kind == Kind::Cmp,
            },
            _ => continue,
        };
        if !matches!(
            tokens[idx].kind,
            Kind::Logic
                | Kind::Union
                | Kind::Semi
                | Kind::OrderBy
                | Kind::Having
                | Kind::RParen
                | Kind::Cmp
                | Kind::Arith
                | Kind::LParen
                | Kind::Func(_)
                | Kind::Into
                | Kind::Limit
        ) {
            continue;
        }
        let in_query = in_statement[idx];
        let end = (idx + MAX_TOKENS).min(tokens.len());
        if let Some((_, last)) = judge(&tokens[idx..end], entry, in_query) {
            let from = idx
                .checked_sub(1)
                .filter(|_| matches!(entry, Entry::Value { .. }))
                .unwrap_or(idx);
            found.push((tokens[from].start, tokens[idx + last].end));
        }
    }
}

/// The tokens of the rest of the line after the quote at `bytes[at]` (at most `TAIL_BYTES`), and
/// how the quote enters; `None` when it cannot enter.
fn quote_tail(bytes: &[u8], at: usize, same_before: usize) -> Option<(Entry, Vec<Token>)> {
    let entry = quote_entry(bytes, at, same_before)?;
    // What one judgement reads is bounded: the rest of the line, at most `TAIL_BYTES`.
    let limit = (at + 1 + TAIL_BYTES).min(bytes.len());
    let line_end = bytes[at + 1..limit]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(limit, |len| at + 1 + len);
    Some((entry, tokenise(bytes, at + 1, line_end, MAX_TOKENS)))
}

/// Judges the text after the quote at `normalised.bytes[at]`; the end of what it read, if it found a
/// technique there (the break-out itself or an entry point inside the broken-out value).
fn judge_quote(bytes: &[u8], at: usize, same_before: usize, found: &mut Vec<(usize, usize)>) {
    let Some((entry, tail)) = quote_tail(bytes, at, same_before) else {
        return;
    };
    if let Some((_, last)) = judge(&tail, entry, false) {
        found.push((at, tail[last].end));
    }
    // Inside the broken-out value, the same entry points as anywhere else.
    judge_entries(bytes, &tail, 1, found);
}

/// Whether `judge_quote` finds anything after the quote at `bytes[at]` (the entry points inside
/// the value are judged only when the break-out itself is not).
fn quote_finds(bytes: &[u8], at: usize, same_before: usize) -> bool {
    let Some((entry, tail)) = quote_tail(bytes, at, same_before) else {
        return false;
    };
    if judge(&tail, entry, false).is_some() {
        return true;
    }
    let mut found = Vec::new();
    judge_entries(bytes, &tail, 1, &mut found);
    !found.is_empty()
}

/// How many quotes of the kind of `bytes[at]` stand before it on its line, as
/// `quotes_with_counts` counts them.
fn same_quotes_before(bytes: &[u8], at: usize) -> usize {
    let kind = bytes[at];
    let line = bytes[..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    (line..at)
        .filter(|&i| bytes[i] == kind && counted_quote(bytes, i))
        .count()
}

/// Whether normalising `window` leaves it as it is (`normalise`, `fold_and_strip`): printable ASCII
/// without an escape (`%`, `\\`, `&`) or a comment opening (`/*`), and no `+` that reads as a space
/// (next to a letter). Such a window can be judged in place.
fn normalises_to_itself(window: &[u8]) -> bool {
    // Without an early exit the first pass compiles to wide compares: it reads every byte anyway.
    let printable = window.iter().fold(true, |ok, &b| {
        ok & matches!(b, 0x20..=0x7E) & !matches!(b, b'%' | b'\\' | b'&')
    });
    printable
        && window.iter().enumerate().all(|(at, &b)| match b {
            b'/' => window.get(at + 1) != Some(&b'*'),
            // A `+` next to a letter reads as a space.
            b'+' => {
                !(window.get(at + 1).is_some_and(u8::is_ascii_alphabetic)
                    || (at > 0 && window[at - 1].is_ascii_alphabetic()))
            }
            _ => true,
        })
}

/// Whether the quote at byte `at` of `text` breaks out of a value: the token judgement of `scan`,
/// run from that quote on its line.
pub(crate) fn quote_breaks_out(text: &str, at: usize) -> bool {
    breaks_out(text, at, true)
}

/// `quote_breaks_out`; `in_place` judges a window that normalises to itself without normalising it.
fn breaks_out(text: &str, at: usize, in_place: bool) -> bool {
    let bytes = text.as_bytes();
    let back = validator_start(at);
    let mut from = bytes[back..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(back, |i| back + i + 1);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let limit = (at + VALIDATOR_AFTER_BYTES).min(bytes.len());
    let mut to = bytes[at..limit]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(limit, |len| at + len);
    while !text.is_char_boundary(to) {
        to -= 1;
    }
    let window = &bytes[from..to];
    if in_place && normalises_to_itself(window) {
        // The common case, without a copy: each byte is its own normalised byte.
        let quote = at - from;
        return matches!(window.get(quote), Some(b'\'' | b'"'))
            && quote_finds(window, quote, same_quotes_before(window, quote));
    }
    let normalised = normalise(window);
    // Offsets only grow along the normalised text.
    let quote = normalised
        .origin
        .partition_point(|o| (*o as usize) < at - from);
    if normalised.origin.get(quote) != Some(&((at - from) as u32))
        || !matches!(normalised.bytes.get(quote), Some(b'\'' | b'"'))
    {
        return false;
    }
    let same_before = same_quotes_before(&normalised.bytes, quote);
    quote_finds(&normalised.bytes, quote, same_before)
}

/// Injections in `window` (already a slice of the text): byte ranges relative to the window.
pub(crate) fn scan(window: &[u8]) -> Vec<std::ops::Range<usize>> {
    let normalised = normalise(window);
    let bytes = &normalised.bytes;
    let mut found: Vec<(usize, usize)> = Vec::new();
    let tokens = tokenise(bytes, 0, bytes.len(), usize::MAX);
    judge_entries(bytes, &tokens, 0, &mut found);
    // A payload quoted whole in code or data (`"username": "1 AND 1=1"`, `input = "3; DELETE ..."`)
    // is read as the value it is.
    for string in tokens
        .iter()
        .filter(|t| t.kind == (Kind::Str { closed: true }) && t.end - t.start >= 8)
    {
        let content = tokenise(bytes, string.start + 1, string.end - 1, MAX_TOKENS);
        // A value comes first (`"1 AND 1=1"`, `"-9999 AND ..."`); `' or 10'` (feet in prose) starts
        // with the condition word.
        if content.first().is_some_and(|t| {
            matches!(
                t.kind,
                Kind::Num | Kind::Arith | Kind::LParen | Kind::Var { .. } | Kind::Word(_)
            )
        }) {
            judge_entries(bytes, &content, 0, &mut found);
        }
    }
    // Text already reported needs no second look from the quotes inside it.
    for (at, same_before) in quotes_with_counts(bytes) {
        let covered = found
            .iter()
            .rev()
            .take(4)
            .any(|(start, end)| *start <= at && at < *end);
        if covered {
            continue;
        }
        judge_quote(bytes, at, same_before, &mut found);
    }

    found.sort_unstable();
    let mut spans: Vec<std::ops::Range<usize>> = Vec::new();
    for (start, end) in found {
        let (start, end) = (
            normalised.origin[start] as usize,
            normalised.origin[end.min(normalised.origin.len() - 1)] as usize,
        );
        match spans.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ => spans.push(start..end.max(start + 1)),
        }
    }
    spans
}

/// The validator of `sqli_syntax`: its matches come from `scan`, which already judged them.
pub(crate) fn judged(_: &Candidate<'_>) -> bool {
    true
}

fn next_non_space(bytes: &[u8], from: usize) -> Option<usize> {
    bytes[from.min(bytes.len())..]
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|len| from + len)
}

fn word_at(bytes: &[u8], at: usize) -> &[u8] {
    let end = bytes[at..]
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .map_or(bytes.len(), |len| at + len);
    &bytes[at..end]
}

/// `word` in ASCII lower case and its length, when it is at most `N` bytes long: a word looked up in
/// a fixed list is matched against it with `matches!`, which the compiler turns into a switch on the
/// length and a few compares (a trigger's confirmation runs on every quote of a text).
pub(crate) fn lowered<const N: usize>(word: &[u8]) -> Option<([u8; N], usize)> {
    let mut lower = [0; N];
    lower.get_mut(..word.len())?.copy_from_slice(word);
    lower.make_ascii_lowercase();
    Some((lower, word.len()))
}

/// Trigger confirmation of a logic word (`and`, `or`, `xor`, `having`): a whole word, followed by
/// something a condition can start with (a number, a quote, `(`, `@`, `!`, `-`, a function call, or
/// `NOT`, `TRUE`, `NULL`, `SELECT`...). Rejects "this and that" without opening a window.
pub(crate) fn condition_can_follow(bytes: &[u8], end: usize) -> bool {
    const STARTS: &[&[u8]] = &[
        b"not",
        b"true",
        b"false",
        b"null",
        b"exists",
        b"select",
        b"case",
        b"binary",
        b"current_user",
        b"session_user",
        b"system_user",
        b"user",
        b"version",
    ];
    if bytes
        .get(end)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
        // `or(`, `or'1'`, `order`: only a non-word byte may follow directly. Checked first: only
        // the trigger at the end of a run of letters reads the run.
        return false;
    }
    let mut start = end;
    while start > 0 && bytes[start - 1].is_ascii_alphabetic() {
        start -= 1;
    }
    if (start > 0 && (bytes[start - 1].is_ascii_alphabetic() || bytes[start - 1] == b'_'))
        || end < start + 2
    {
        return false;
    }
    let Some(at) = next_non_space(bytes, end) else {
        return false;
    };
    match bytes[at] {
        b'0'..=b'9' | b'(' | b'\'' | b'"' | b'@' | b'!' | b'~' | b'-' | b'+' | b'%' | b'`' => true,
        b if b >= 0x80 => true,
        b if b.is_ascii_alphabetic() => {
            let word = word_at(bytes, at);
            STARTS.iter().any(|s| word.eq_ignore_ascii_case(s))
                || next_non_space(bytes, at + word.len()).is_some_and(|n| bytes[n] == b'(')
        }
        _ => false,
    }
}

/// Trigger confirmation of `order` and `group`: `by` is the next word as the scanner reads the text
/// (escapes decoded, comments removed: `ORDER BY`, `order%20by`, `GROUP/**/BY`, `order+by`,
/// `ORDER/*!50000BY*/`). Prose that says "the order can be sent by express" does not wake the
/// scanner: it would not read `ORDER BY` there either.
pub(crate) fn by_follows(bytes: &[u8], end: usize) -> bool {
    /// Separators and escapes between the two words are read this far.
    const AHEAD: usize = 256;
    let ahead = &bytes[end.min(bytes.len())..(end + AHEAD).min(bytes.len())];
    let at = ahead
        .iter()
        .position(|b| !(matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'+')))
        .unwrap_or(ahead.len());
    match ahead.get(at) {
        None => false,
        // Plain text after plain spaces: the next word is read as it stands.
        Some(b) if b.is_ascii_alphanumeric() => word_is_by(&ahead[at..]),
        // An escape, a comment, a control byte or a Unicode space may stand between the words:
        // read them as the scanner does.
        Some(b'%' | b'/' | b'&' | b'\\') => by_follows_decoded(ahead),
        Some(b) if *b >= 0x80 || b.is_ascii_control() => by_follows_decoded(ahead),
        Some(_) => false,
    }
}

fn by_follows_decoded(ahead: &[u8]) -> bool {
    // A comment left open within reach may hide the `BY` further on: the scanner looks.
    if find(ahead, b"/*").is_some_and(|open| find(&ahead[open + 2..], b"*/").is_none()) {
        return true;
    }
    let normalised = normalise(ahead);
    let rest = &normalised.bytes;
    let at = rest
        .iter()
        .position(|b| !(b.is_ascii_whitespace() || b.is_ascii_control() || *b == b'+'))
        .unwrap_or(rest.len());
    word_is_by(&rest[at..])
}

/// Whether `rest` begins with the word `by` (letters end a word where the scanner's do).
fn word_is_by(rest: &[u8]) -> bool {
    let word_len = rest
        .iter()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    rest[..word_len].eq_ignore_ascii_case(b"by")
}

/// Trigger confirmation of a quote: followed on its line by an operator or an operator word
/// (`admin'<<'`, `x' like binary`, `1'-'`). Other quote entries need a logic word, `UNION`, `;` or a
/// comment, which are triggers of their own. What the scanner reads after a quote ends with its
/// line, and a quote that closes one opened before it on the line is no entry (`quote_entry`): an
/// ASCII quote is confirmed only where the scanner could enter, read on the raw text and counting
/// as possible wherever normalising could change the answer.
pub(crate) fn operator_follows_quote(bytes: &[u8], end: usize) -> bool {
    let quote = end - 1;
    let ascii_quote = matches!(bytes[quote], b'\'' | b'"');
    // Spaces, and closing parentheses (`judge` reads past them: `x') INTO OUTFILE`); a line break
    // ends what the scanner reads.
    let at = skip_spaces(bytes, end, |b| {
        matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c | b')')
    });
    let Some(&next) = bytes.get(at) else {
        return false;
    };
    let follows = match next {
        // A line comment or `/*` after a quote is the truncation of `admin'--`: the quote must be
        // glued to a value (a closing `"...end." -- Karl` is not).
        b'-' if bytes.get(at + 1) == Some(&b'-')
            && !bytes.get(at + 2).is_some_and(u8::is_ascii_alphabetic) =>
        {
            !ascii_quote || quote_is_glued(bytes, quote)
        }
        b'/' if bytes.get(at + 1) == Some(&b'*') => !ascii_quote || quote_is_glued(bytes, quote),
        b'<' | b'>' | b'/' | b'*' | b'-' | b'+' | b'|' | b'^' | b'&' | b'%' | b'=' | b'!'
        | b'~' => true,
        b if b.is_ascii_alphabetic() => {
            lowered::<9>(word_at(bytes, at)).is_some_and(|(word, len)| {
                // The words `judge` reads right after a quote (see `FIXED_CLASSES` and
                // `classify_word`).
                matches!(
                    &word[..len],
                    b"like"
                        | b"rlike"
                        | b"regexp"
                        | b"ilike"
                        | b"glob"
                        | b"match"
                        | b"div"
                        | b"mod"
                        | b"sounds"
                        | b"is"
                        | b"in"
                        | b"between"
                        | b"or"
                        | b"and"
                        | b"xor"
                        | b"union"
                        | b"intersect"
                        | b"except"
                        | b"minus"
                        | b"order"
                        | b"group"
                        | b"having"
                        | b"exec"
                        | b"execute"
                        | b"waitfor"
                        | b"limit"
                        | b"offset"
                        | b"fetch"
                        | b"into"
                )
            })
        }
        // A Unicode space or letter folds to ASCII for the scanner.
        b => b >= 0x80,
    };
    follows && (!ascii_quote || quote_may_enter(bytes, quote, scanner_window_start(bytes, quote)))
}

/// The first byte `quote_breaks_out` may read for the quote at `quote` (the line starts there or later).
pub(crate) fn validator_start(quote: usize) -> usize {
    quote.saturating_sub(VALIDATOR_BEFORE_BYTES)
}

/// Where the scanner's window around a trigger at `at` begins, as `compile::windows` places it for
/// `sqli_syntax` (reach `STATEMENT` back, widened to white space, at most twice as far). A window
/// merged with an earlier one starts before it; that one was opened by a trigger of its own.
fn scanner_window_start(bytes: &[u8], at: usize) -> usize {
    let (reach, _) = super::STATEMENT;
    let lowest = at.saturating_sub(2 * reach);
    let before = at.saturating_sub(reach);
    bytes[lowest..before]
        .iter()
        .rposition(u8::is_ascii_whitespace)
        .map_or(lowest, |i| lowest + i + 1)
}

/// Whether the ASCII quote at `quote` can be an entry of the scanner when it reads from `from` (or
/// from the start of the quote's line, if later): not the closing one of a pair (an even number of
/// the same quotes before it, apostrophes inside words not counted, as `quotes_with_counts`), or
/// escaped (`\"`). Whatever could make the scanner count differently makes it possible: bytes
/// past ASCII (quotes that fold to ASCII), `*` (a comment the scanner strips), an escape that may
/// decode to a quote or a line break (`%27`, `&#10;`, `\x27`).
pub(crate) fn quote_may_enter(bytes: &[u8], quote: usize, from: usize) -> bool {
    if quote > 0 && bytes[quote - 1] == b'\\' {
        return true;
    }
    let kind = bytes[quote];
    let from = from.min(quote);
    // What counts is the quote's line: from the last line break before it on.
    let line = memchr::memrchr(b'\n', &bytes[from..quote]).map_or(from, |at| from + at + 1);
    // One pass that compiles to wide compares: the quotes of the same kind, and whether a byte
    // could begin a comment, an escape, an entity or a fold (`*`, `%`, `&`, `\\`, past ASCII).
    // Only then is each such byte read with the one after it (`%27`, `&#39;`, `\x27`): any of
    // them makes entry possible; otherwise the quotes decide.
    let (mut unusual, mut quotes) = (false, 0usize);
    for block in bytes[line..quote].chunks(240) {
        let (mut odd, mut same) = (0u8, 0u8);
        for &b in block {
            odd |= u8::from(matches!(b, b'*' | b'%' | b'&' | b'\\') || b >= 0x80);
            same += u8::from(b == kind);
        }
        unusual |= odd != 0;
        quotes += usize::from(same);
    }
    if unusual && may_read_differently(&bytes[line..=quote]) {
        return true;
    }
    if kind == b'"' || quotes == 0 {
        return quotes.is_multiple_of(2);
    }
    // Apostrophes inside words (`it's`) pair with nothing.
    (line..quote)
        .filter(|&at| bytes[at] == kind && counted_quote(bytes, at))
        .count()
        .is_multiple_of(2)
}

/// Whether a byte of `bytes` but the last (read with the one after it) could make the scanner read
/// the line differently: a comment's `*`, an escape (`%27`, `%u0027`, `\x27`), an entity (`&#39;`,
/// `&apos;`), a byte past ASCII. One pass of wide compares.
fn may_read_differently(bytes: &[u8]) -> bool {
    let (Some(last), Some(nexts)) = (bytes.len().checked_sub(1), bytes.get(1..)) else {
        return false;
    };
    bytes[..last]
        .chunks(240)
        .zip(nexts.chunks(240))
        .any(|(block, next_block)| {
            let mut found = 0u8;
            for (&b, &next) in block.iter().zip(next_block) {
                let escape = (b == b'%')
                    & (next.is_ascii_hexdigit() | (next == b'u') | (next == b'U'))
                    | (b == b'&') & ((next == b'#') | next.is_ascii_alphabetic())
                    | (b == b'\\') & ((next == b'x') | (next == b'X'));
                found |= u8::from(escape | (b == b'*') | (b >= 0x80));
            }
            found != 0
        })
}

/// Whether the quote at `quote` is glued to what stands before it, as `quote_entry` reads a
/// `GluedQuote`: a value, a closing bracket, an escape or the start of its line. Bytes a
/// normalised text may read differently (past ASCII, the ends of comments and entities) count.
fn quote_is_glued(bytes: &[u8], quote: usize) -> bool {
    let before = bytes[..quote]
        .iter()
        .rev()
        .find(|b| !matches!(b, b' ' | b'\t'))
        .is_none_or(|b| *b == b'\n');
    before
        || quote.checked_sub(1).is_some_and(|i| {
            let b = bytes[i];
            b.is_ascii_alphanumeric()
                || b >= 0x80
                || matches!(b, b'_' | b'%' | b')' | b']' | b'\\' | b'/' | b';')
        })
}

/// Whether the arguments of a call (the text after its `(`) are SQL: a number, a variable, a
/// function, a subquery or an expression, closed or continued by an operator; not "8 hours)".
pub(crate) fn arguments_are_sql(after_paren: &str) -> bool {
    let normalised = normalise(after_paren.as_bytes());
    let tokens = tokenise(&normalised.bytes, 0, normalised.bytes.len(), 2);
    match tokens.as_slice() {
        [] => true,
        [first, ..]
            if matches!(
                first.kind,
                Kind::Func(_) | Kind::Select | Kind::Var { .. } | Kind::LParen | Kind::Case
            ) =>
        {
            true
        }
        [first] => matches!(first.kind, Kind::Num),
        [first, second, ..] => {
            matches!(first.kind, Kind::Num | Kind::Str { .. })
                && matches!(
                    second.kind,
                    Kind::RParen | Kind::Arith | Kind::Comma | Kind::Cmp | Kind::Comment
                )
        }
    }
}

/// Whether `decoded` (a text after URL or HTML decoding) holds an injection by the token judgement,
/// or a quote that ends a value followed by a condition or statement keyword (`&apos; OR`, a
/// fragment cut short). A quotation (`"exact phrase" OR "other"` in a search URL) is neither.
pub(crate) fn judges_decoded(decoded: &str) -> bool {
    let bytes = decoded.as_bytes();
    !scan(bytes).is_empty()
        || quotes_with_counts(bytes)
            .into_iter()
            .any(|(at, same_before)| {
                matches!(
                    quote_entry(bytes, at, same_before),
                    Some(Entry::GluedQuote | Entry::Quote { opens: false })
                ) && tokenise(bytes, at + 1, bytes.len(), 1)
                    .first()
                    .is_some_and(|t| {
                        matches!(
                            t.kind,
                            Kind::Logic | Kind::Union | Kind::Select | Kind::OrderBy | Kind::Semi
                        )
                    })
            })
}

/// Whether the condition at `text[at..end]` follows a prose word and runs on into more text, as in
/// "x or 1 = 1 holds" and "p or 1 = 1 and p and 0 = 0" (a condition about logic, not after a value).
pub(crate) fn between_words(text: &str, at: usize, end: usize) -> bool {
    // At most 40 characters back, and not past the start of the line.
    let back = text[..at]
        .char_indices()
        .rev()
        .nth(40)
        .map_or(0, |(i, _)| i);
    let from = text[back..at].rfind('\n').map_or(back, |i| back + i + 1);
    let before = normalise(&text.as_bytes()[from..at]);
    let before_tokens = tokenise(&before.bytes, 0, before.bytes.len(), usize::MAX);
    let after = &text[end..];
    let to = after.char_indices().nth(40).map_or(after.len(), |(i, _)| i);
    let after = normalise(&after.as_bytes()[..to]);
    let after_tokens = tokenise(&after.bytes, 0, after.bytes.len(), 2);
    // A word after `AS` or `)` is an alias (`) AS x WHERE 1=1`), not prose.
    let prose_before = match before_tokens.as_slice() {
        [.., previous, last] => {
            matches!(last.kind, Kind::Word(Word::Plain | Word::Keyword))
                && !matches!(previous.kind, Kind::RParen)
                && !(previous.kind == Kind::Word(Word::Keyword)
                    && previous.end - previous.start == 2)
        }
        [last] => matches!(last.kind, Kind::Word(Word::Plain | Word::Keyword)),
        [] => false,
    };
    // "p or 1 = 1 and p": a further condition over a prose word is logic too.
    let injection_ends = match after_tokens.as_slice() {
        [] => true,
        [first, rest @ ..] => match first.kind {
            Kind::Break
            | Kind::Fence
            | Kind::Comment
            | Kind::Semi
            | Kind::RParen
            | Kind::Str { .. } => true,
            Kind::Logic => !rest
                .first()
                .is_some_and(|t| matches!(t.kind, Kind::Word(_))),
            _ => false,
        },
    };
    prose_before && !injection_ends
}

/// Whether `&&` or `||` occurs in `window` (most windows hold neither byte: one search each).
fn doubled_logic(window: &[u8]) -> bool {
    (window.contains(&b'&') || window.contains(&b'|'))
        && window.windows(2).any(|w| w == b"&&" || w == b"||")
}

/// Whether a condition word (`and`, `or`, `xor`, `not`, `having`, `&&`, `||`) stands as a word in the
/// `reach` bytes before `at` on the same line.
fn condition_word_before(bytes: &[u8], at: usize, reach: usize) -> bool {
    condition_word_where(bytes, at, reach, |_| true)
}

/// Whether a condition stands in the `reach` bytes before `at` on the same line: `&&`, `||`, or a
/// condition word followed by what a condition starts with (`OR TRUE`, `and 1`, `where sleep(`),
/// not "and play games" or "why not?".
fn condition_before(bytes: &[u8], at: usize, reach: usize) -> bool {
    condition_word_where(bytes, at, reach, |word_end| {
        condition_can_follow(bytes, word_end)
    })
}

/// `&&` or `||` in the `reach` bytes before `at` on the same line, or a condition word there for
/// which `accept(offset of the word's end)` holds.
fn condition_word_where(
    bytes: &[u8],
    at: usize,
    reach: usize,
    accept: impl Fn(usize) -> bool,
) -> bool {
    const WORDS: &[&[u8]] = &[b"and", b"or", b"xor", b"not", b"having", b"when", b"where"];
    let from = at.saturating_sub(reach);
    let line_from = bytes[from..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(from, |i| from + i + 1);
    let window = &bytes[line_from..at];
    if doubled_logic(window) {
        return true;
    }
    let mut idx = 0;
    while idx < window.len() {
        if !window[idx].is_ascii_alphabetic() {
            idx += 1;
            continue;
        }
        let end = window[idx..]
            .iter()
            .position(|b| !b.is_ascii_alphabetic())
            .map_or(window.len(), |len| idx + len);
        let word = &window[idx..end];
        if WORDS.iter().any(|w| word.eq_ignore_ascii_case(w)) && accept(line_from + end) {
            return true;
        }
        idx = end;
    }
    false
}

/// Whether the word right before `at` (spaces allowed) is a function this detector classifies.
fn known_function_before(bytes: &[u8], at: usize) -> bool {
    let mut end = at;
    while end > 0 && bytes[end - 1] == b' ' {
        end -= 1;
    }
    // A name longer than 40 bytes is no known function: 41 are read at most.
    let lowest = end.saturating_sub(41);
    let mut start = end;
    while start > lowest
        && (bytes[start - 1].is_ascii_alphanumeric()
            || matches!(bytes[start - 1], b'_' | b'.' | b'$'))
    {
        start -= 1;
    }
    if start == end || end - start > 40 {
        return false;
    }
    let mut lower = [0u8; 40];
    let lower = &mut lower[..end - start];
    lower.copy_from_slice(&bytes[start..end]);
    lower.make_ascii_lowercase();
    let Ok(name) = std::str::from_utf8(lower) else {
        return false;
    };
    REVEAL_FUNCTIONS.contains(&name)
        || PROBE_FUNCTIONS.contains(&name)
        || DELAY_FUNCTIONS.contains(&name)
        || ERROR_FUNCTIONS.contains(&name)
        || name == "exists"
}

/// Confirms an occurrence of one of `sqli_syntax`'s triggers, by what the trigger is.
pub(crate) fn trigger_confirms(bytes: &[u8], end: usize) -> bool {
    let Some(&last) = end.checked_sub(1).and_then(|i| bytes.get(i)) else {
        return false;
    };
    let ends_with = |suffix: &[u8]| bytes[..end].ends_with(suffix);
    match last {
        b';' if ends_with(b"&quot;") || ends_with(b"&apos;") => true,
        b';' => value_before(bytes, end - 1) && statement_follows(bytes, end),
        b'\'' | b'"' => operator_follows_quote(bytes, end),
        b'%' => hex_pair(bytes, end).is_some() || matches!(bytes.get(end), Some(b'u' | b'U')),
        b'x' | b'X' if ends_with(b"\\x") || ends_with(b"\\X") => hex_pair(bytes, end).is_some(),
        // A comparison shortly after a condition word (`1 and 1=1`, `' or a<>b`).
        b'=' | b'<' | b'>' => condition_word_before(bytes, end - 1, 64),
        // `or !0`, `and !(...)`: a negation glued to a value, right after the condition word.
        b'!' => {
            bytes.get(end).is_some_and(|b| {
                b.is_ascii_digit() || matches!(b, b'(' | b'=' | b'\'' | b'"' | b'@' | b'!' | b'~')
            }) && condition_word_before(bytes, end - 1, 12)
        }
        // A call or a group right after a condition word (`and sleep(5)`, `or (1=1`), a function
        // this detector knows (`ascii(`, `extractvalue(`), or `(SELECT`.
        b'(' => {
            condition_word_before(bytes, end - 1, 24) || known_function_before(bytes, end - 1) || {
                // `(select`, `((  select`: look a few bytes ahead only.
                let ahead = &bytes[end..(end + 16).min(bytes.len())];
                let at = ahead
                    .iter()
                    .position(|b| *b != b'(' && *b != b' ')
                    .map_or(ahead.len(), |len| len);
                ahead.len() >= at + 6 && ahead[at..at + 6].eq_ignore_ascii_case(b"select")
            }
        }
        // A line comment counts after a quote or a number (`admin'--`, `x') #`, `' LIMIT 1;--`) or
        // after a condition on its line (`42 OR TRUE -- -`): where the scanner reads one (see
        // `truncation` and `condition`). A dash or a hashtag in other prose opens no window. `/*`
        // may split a keyword (`u/**/nion`): it always counts.
        b'#' if ends_with(b"&#") => true,
        b'-' | b'#' => {
            let start = end - if last == b'#' { 1 } else { 2 };
            comment_after_value(bytes, start) || condition_before(bytes, start, 128)
        }
        b'*' | b'&' | b'|' => true,
        // Typographic and full-width quotes end in a continuation byte.
        b if b >= 0x80 => operator_follows_quote(bytes, end),
        _ => {
            // The letters before: at most 64 (a longer word is neither a keyword nor a doubled
            // one), so that a long run of letters is not read again from each trigger in it.
            let lowest = end.saturating_sub(64);
            let mut start = end;
            while start > lowest && bytes[start - 1].is_ascii_alphabetic() {
                start -= 1;
            }
            // A trigger word continued by more letters (`liked`, `ordered`) is another word, unless
            // the whole word is a doubled keyword (`UNIunionON`).
            if bytes.get(end).is_some_and(u8::is_ascii_alphabetic) {
                let full_end = bytes[end..]
                    .iter()
                    .take(16)
                    .position(|b| !b.is_ascii_alphabetic())
                    .map_or((end + 16).min(bytes.len()), |len| end + len);
                // At most 16 letters after the trigger and the trigger itself: ASCII letters only.
                let mut lower = [0u8; 64];
                let full = &bytes[start..full_end];
                let Some(lower) = lower.get_mut(..full.len()) else {
                    return false;
                };
                lower.copy_from_slice(full);
                lower.make_ascii_lowercase();
                return undoubled(lower).is_some();
            }
            let word = &bytes[start..end];
            let is = |keyword: &[u8]| word.eq_ignore_ascii_case(keyword);
            if is(b"order") || is(b"group") {
                by_follows(bytes, end)
            } else if word.len() >= 5 && word[word.len() - 5..].eq_ignore_ascii_case(b"union") {
                // `union`, and `UNIunion` of `UNIunionON`.
                true
            } else if is(b"having") {
                condition_can_follow(bytes, end)
            } else if is(b"like") || is(b"between") || is(b"regexp") {
                // A comparison needs its right side: a value, not "like a house".
                condition_word_before(bytes, start, 96) && condition_can_follow(bytes, end)
            } else {
                false
            }
        }
    }
}

/// Whether the comment at `start` follows a quote or a number, with only closing parentheses, `;`,
/// operators and spaces between (`admin'--`, `root');#`, `x'+#`, `LIMIT 1;--`). Quotes are ASCII,
/// backquotes and the typographic and full-width ones (any byte past ASCII).
fn comment_after_value(bytes: &[u8], start: usize) -> bool {
    bytes[..start]
        .iter()
        .rev()
        .take(64)
        .find(|b| {
            !matches!(
                b,
                b' ' | b'\t' | b')' | b';' | b'+' | b'-' | b'*' | b'/' | b'%' | b'|' | b'&' | b'^'
            )
        })
        .is_some_and(|b| {
            matches!(b, b'\'' | b'"' | b'`' | b'\\') || b.is_ascii_digit() || *b >= 0x80
        })
}

/// Words a second statement starts with, after `;`.
pub(crate) const STATEMENT_STARTS: &[&[u8]] = &[
    b"select",
    b"insert",
    b"update",
    b"delete",
    b"drop",
    b"create",
    b"alter",
    b"truncate",
    b"exec",
    b"execute",
    b"declare",
    b"shutdown",
    b"waitfor",
    b"use",
    b"grant",
    b"revoke",
    b"copy",
    b"set",
    b"begin",
    b"if",
    b"while",
    b"load",
    b"call",
    b"merge",
    b"replace",
    b"backup",
    b"restore",
    b"kill",
    b"dbcc",
    b"rename",
    b"attach",
    b"pragma",
    b"handler",
];

/// Whether what stands before the `;` at `semicolon` can make it an entry of the scanner
/// (`judge_entries`, `judge_quote`): a value (a number, `TRUE`/`NULL`, a `@variable`), a closing
/// parenthesis or a quote. A word of prose (`tracking link; if it does not show`) cannot. Anything
/// but a letter before it counts: punctuation, digits, comments and escapes the scanner reads
/// otherwise.
fn value_before(bytes: &[u8], semicolon: usize) -> bool {
    let mut end = semicolon;
    while end > 0 && matches!(bytes[end - 1], b' ' | b'\t' | b'\r') {
        end -= 1;
    }
    if !end
        .checked_sub(1)
        .is_some_and(|last| bytes[last].is_ascii_alphabetic())
    {
        return end > 0;
    }
    let mut start = end;
    while start > 0
        && (bytes[start - 1].is_ascii_alphanumeric()
            || matches!(bytes[start - 1], b'_' | b'$' | b'.'))
    {
        start -= 1;
    }
    let word = &bytes[start..end];
    // `0x1F`, `@x`, `@@version`, `@t.col`, `TRUE` (a number to the scanner).
    word[0].is_ascii_digit()
        || (start > 0 && bytes[start - 1] == b'@')
        || [b"true".as_slice(), b"false", b"null", b"unknown"]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w))
}

/// The offset at or after `from` past the bytes `skip` accepts and `\n`, `\t`, `\r` written out
/// in a code string (a space to the scanner: `"2);\ndrop table t"`).
#[inline(always)]
fn skip_spaces(bytes: &[u8], from: usize, skip: impl Fn(u8) -> bool) -> usize {
    let mut at = from;
    loop {
        match bytes.get(at..) {
            Some([b, ..]) if skip(*b) => at += 1,
            Some([b'\\', b'n' | b't' | b'r', ..]) => at += 2,
            _ => return at,
        }
    }
}

/// Trigger confirmation of `;`: a statement verb follows (a second statement).
pub(crate) fn statement_follows(bytes: &[u8], end: usize) -> bool {
    let at = skip_spaces(bytes, end, |b| {
        matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
    });
    at < bytes.len() && {
        let word = word_at(bytes, at);
        STATEMENT_STARTS
            .iter()
            .any(|s| word.eq_ignore_ascii_case(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_bytes_are_letters_digits_underscore_dollar_and_every_byte_past_ascii() {
        let words: Vec<u8> = (0..=255u8).filter(|b| is_word_byte(*b)).collect();
        assert_eq!(words.len(), 2 * 26 + 10 + 2 + 128);
        for b in words {
            assert!(
                b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80,
                "{b:#04x}"
            );
        }
    }

    #[test]
    fn quotes_are_counted_per_line_as_a_byte_by_byte_reading_counts_them() {
        // Every quote in order, with the quotes of its kind counted before it on its line.
        fn one_by_one(bytes: &[u8]) -> Vec<(usize, usize)> {
            let (mut single, mut double) = (0, 0);
            let mut quotes = Vec::new();
            for (at, byte) in bytes.iter().enumerate() {
                match byte {
                    b'\n' => (single, double) = (0, 0),
                    b'\'' => {
                        quotes.push((at, single));
                        single += usize::from(counted_quote(bytes, at));
                    }
                    b'"' => {
                        quotes.push((at, double));
                        double += 1;
                    }
                    _ => {}
                }
            }
            quotes
        }
        for text in [
            "",
            "no quotes at all, but a long line that is read in wide blocks of many bytes",
            "it's \"quoted\" and 'single'\nO'Brien said \"hi\" ''",
            "admin' OR '1'='1' -- \n\"a\"\"b\" 'x''y' \n'",
            &"' \" \n".repeat(40),
        ] {
            let found = quotes_with_counts(text.as_bytes());
            assert_eq!(found, one_by_one(text.as_bytes()), "{text:?}");
            assert_eq!(found.len(), text.matches(['\'', '"']).count());
        }
    }

    /// A trigger word inside a long run of letters: the letters more than 64 before the trigger's
    /// end do not change its confirmation (what the bounded read relies on).
    #[test]
    fn letters_far_before_a_trigger_word_do_not_change_its_confirmation() {
        for word in [
            "like",
            "union",
            "having",
            "order",
            "group",
            "regexp",
            "between",
            "UNIunionON",
        ] {
            for suffix in ["", " 1", " by 1", " 'a'", "(1)", " x"] {
                for repeats in [1, 2, 17, 40] {
                    let text = format!("a {}{suffix}", word.repeat(repeats));
                    let bytes = text.as_bytes();
                    for end in 66..=bytes.len() {
                        // The same text with everything more than 64 bytes before `end` cut off.
                        let cut = format!(" {}", &text[end - 64..]);
                        assert_eq!(
                            trigger_confirms(bytes, end),
                            trigger_confirms(cut.as_bytes(), 65),
                            "{text:?} at {end}"
                        );
                    }
                }
            }
        }
    }

    /// `quote_may_enter` read byte by byte, as it was before its one-pass common case.
    fn quote_may_enter_by_bytes(bytes: &[u8], quote: usize, from: usize) -> bool {
        if quote > 0 && bytes[quote - 1] == b'\\' {
            return true;
        }
        let kind = bytes[quote];
        let mut same = 0usize;
        for at in (from.min(quote)..quote).rev() {
            let next = bytes.get(at + 1).copied().unwrap_or(0);
            match bytes[at] {
                b'\n' => break,
                b'*' => return true,
                b'%' if next.is_ascii_hexdigit() || matches!(next, b'u' | b'U') => return true,
                b'&' if next == b'#' || next.is_ascii_alphabetic() => return true,
                b'\\' if matches!(next, b'x' | b'X') => return true,
                b if b >= 0x80 => return true,
                b if b == kind && counted_quote(bytes, at) => same += 1,
                _ => {}
            }
        }
        same.is_multiple_of(2)
    }

    /// Texts of quotes, escapes, entities, comments, line breaks, letters and bytes past ASCII, in
    /// every mix a small generator reaches: the one-pass reading agrees with the byte-by-byte one
    /// for every quote and every start, including starts past the quote.
    #[test]
    fn quote_entry_reads_the_same_in_one_pass() {
        const PIECES: &[&str] = &[
            "\"", "'", "a", "b2", " ", "\n", "*", "%", "%2", "%u", "%g", "&", "&#", "&q", "&1",
            "\\", "\\x", "\\y", "é", "it's", "=", ":", ",",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % bound as u64).expect("small")
        };
        let mut checked = 0;
        for _ in 0..3_000 {
            let len = 1 + next(40);
            let text: String = (0..len).map(|_| PIECES[next(PIECES.len())]).collect();
            let bytes = text.as_bytes();
            for quote in (0..bytes.len()).filter(|&at| matches!(bytes[at], b'\'' | b'"')) {
                for from in [0, quote / 2, quote.saturating_sub(3), quote, quote + 5] {
                    assert_eq!(
                        quote_may_enter(bytes, quote, from),
                        quote_may_enter_by_bytes(bytes, quote, from),
                        "{text:?} quote {quote} from {from}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    #[test]
    fn entities_decode_by_name_and_number_and_nothing_else_does() {
        let entity = |text: &str| html_entity(text.as_bytes(), 0);
        assert_eq!(entity("&apos;x"), Some((b'\'', 6)));
        assert_eq!(entity("&QUOT;"), Some((b'"', 6)));
        assert_eq!(entity("&NewLine;"), Some((b' ', 9)));
        assert_eq!(entity("&#39;"), Some((b'\'', 5)));
        assert_eq!(entity("&#x27"), Some((b'\'', 5)));
        for text in [
            "&", "&\"", "&&", "& ", "&a", "&ap", "&#", "&#xZZ", "&#233;", "&copy;",
        ] {
            assert_eq!(entity(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_quote_judged_in_place_is_judged_as_after_normalising() {
        const PARTS: &[&str] = &[
            "' or 1=1 --",
            "admin'--",
            "it's",
            "\"yes\" or \"no\"",
            "x') union select 1,2",
            "O'Brien and ",
            " and 1=1",
            "'",
            "\"",
            "1' AND '1'='1",
            " name = 'bob' ",
            "\tid=5",
            "%27 or 1",
            "/* c */",
            "a+b",
            "\n",
            "') or ('a'='a",
            " WAITFOR DELAY '0:0:5'",
            "SELECT * FROM t",
            "1+or+1=1",
            "+1 415 555 2671",
            "a/b */ c",
            "/*!50000 union*/",
            "x'+'y",
        ];
        let (mut texts, mut both) = (0, [0usize; 2]);
        for a in PARTS {
            for b in PARTS {
                for c in PARTS {
                    let text = format!("{a}{b}{c}");
                    for (at, _) in text.match_indices(['\'', '"']) {
                        let in_place = breaks_out(&text, at, true);
                        assert_eq!(in_place, breaks_out(&text, at, false), "{text:?} at {at}");
                        both[usize::from(in_place)] += 1;
                    }
                    texts += 1;
                }
            }
        }
        assert_eq!(texts, PARTS.len().pow(3));
        // Both answers occur: the comparison is not between two constant answers.
        assert!(both[0] > 1000 && both[1] > 1000, "{both:?}");
    }

    fn normal(text: &str) -> String {
        String::from_utf8_lossy(&normalise(text.as_bytes()).bytes).into_owned()
    }

    #[test]
    fn a_keyword_doubled_at_any_position_is_read_as_itself() {
        for keyword in DOUBLED {
            for at in 0..=keyword.len() {
                let doubled = format!("{}{keyword}{}", &keyword[..at], &keyword[at..]);
                assert_eq!(undoubled(doubled.as_bytes()), Some(*keyword), "{doubled}");
            }
        }
        for word in [
            "",
            "union",
            "unionx",
            "unionunio",
            "ununionionx",
            "selectselec",
            "fromfrmo",
            "sleeps",
            "fromage",
            "deleteddeleted",
            "überunion",
        ] {
            assert_eq!(undoubled(word.as_bytes()), None, "{word}");
        }
    }

    /// `trigger_confirms` at the end of the `nth` occurrence of `trigger` in `text`.
    fn confirms_at(text: &str, trigger: &str, nth: usize) -> bool {
        let (at, _) = text
            .match_indices(trigger)
            .nth(nth)
            .expect("the trigger in the text");
        trigger_confirms(text.as_bytes(), at + trigger.len())
    }

    fn syntax_matches(text: &str) -> bool {
        let engine =
            crate::Engine::compile(&crate::system_policies(), crate::CompileOptions::default())
                .expect("the catalogue compiles");
        engine
            .evaluate(text)
            .matches
            .iter()
            .any(|m| &*m.policy_id == "sys_sqli_syntax")
    }

    #[test]
    fn quotes_comments_and_comparisons_wake_the_scanner_only_where_it_can_match() {
        // (text, trigger, which occurrence): attack forms the scanner reports, with the trigger
        // that opens their window.
        for (text, trigger, nth) in [
            ("admin'--", "'", 0),
            ("admin' -- x", "'", 0),
            ("root\"/**/or/**/1=1", "\"", 0),
            ("x' like binary 'x", "'", 0),
            ("abc'<<'1", "'", 0),
            ("guest' INTO OUTFILE '/var/www/x.php'", "'", 0),
            ("1') INTO OUTFILE '/var/www/x.php'", "'", 0),
            ("x' EXEC master..xp_cmdshell 'dir'", "'", 0),
            ("id=1\\' OR 1=1", "'", 0),
            ("42 OR TRUE -- -", "--", 0),
            ("1 and 1 --", "--", 0),
            ("1 or not false--", "--", 0),
            ("1 and @@version like '5%'", "like", 0),
            ("1 and user() like 'root%'", "like", 0),
            ("1; DROP TABLE users", ";", 0),
            ("x'; drop table t--", ";", 0),
            ("id=5); delete from accounts", ";", 0),
            ("@a ; exec xp_cmdshell 'dir'", ";", 0),
            ("id=@t.name; drop table users", ";", 0),
        ] {
            assert!(confirms_at(text, trigger, nth), "confirms: {text:?}");
            assert!(syntax_matches(text), "reported: {text:?}");
        }
        // Prose twins: quotations closed on their line or before a line break, dashes and "like"
        // in sentences.
        for (text, trigger, nth) in [
            ("\"What's a shortage?\"\nIn Poland, the answer was", "\"", 1),
            ("He said \"no\" and left", "\"", 1),
            ("\"The end.\" -- Karl Marx", "\"", 1),
            ("the end of it.\"\n\t\t-- Dave Parnas", "\"", 0),
            ("the end of it.\" -- Dave Parnas", "\"", 0),
            ("I don't or won't", "'", 0),
            ("Why not? -- What? -- Why not?", "--", 0),
            ("and play games -- but not with pleasure", "--", 0),
            ("and i actually like debian", "like", 0),
            ("creeping like slug", "like", 0),
            ("sales up 12% and the 'reset' is done", "'", 1),
            ("a tracking link; if it does not show, reply here", ";", 0),
            ("Never face facts; if you do, you'll never get up", ";", 0),
            ("the table was set; drop me a line", ";", 0),
        ] {
            assert!(!confirms_at(text, trigger, nth), "stays quiet: {text:?}");
            assert!(!syntax_matches(text), "not reported: {text:?}");
        }
        // Deep into one long line, the quotes are counted where the scanner's window starts.
        let filler = "the quarterly numbers look fine and nothing needs a change ".repeat(12);
        let attack = format!("{filler}guest' INTO OUTFILE '/var/www/x.php'");
        assert!(confirms_at(&attack, "'", 0), "confirms: {attack:?}");
        assert!(syntax_matches(&attack), "reported: {attack:?}");
        let prose = format!("{filler}then the 'reset' is done");
        assert!(!confirms_at(&prose, "'", 1), "stays quiet: {prose:?}");
        // An escape before the quote may decode to another quote: the quote counts.
        assert!(confirms_at("a%27b 'x' is", "'", 1));
    }

    #[test]
    fn order_and_group_wake_the_scanner_only_before_by() {
        let confirms = |text: &str| {
            let end = text
                .to_ascii_lowercase()
                .find("order")
                .or_else(|| text.to_ascii_lowercase().find("group"))
                .expect("a trigger")
                + 5;
            trigger_confirms(text.as_bytes(), end)
        };
        for text in [
            "1 ORDER BY 3--",
            "x' order by 1#",
            "order\tby 2",
            "ORDER\nBY 5",
            "ORDER+BY+1",
            "order%20by%201",
            "order%2520by 1",
            "ORDER/**/BY 1",
            "ORDER/*comment*/BY 1",
            "ORDER/*!50000BY*/ 1",
            "GROUP BY x HAVING 1=1",
            "group\u{a0}by 1",
            "order\u{3000}by 1",
            "ORDER&#32;BY 1",
            "ORDER BY",
            "ORDER /* a comment that is never closed and may hide BY",
        ] {
            assert!(confirms(text), "{text:?}");
        }
        for text in [
            "whether the order can be sent by express",
            "in order to arrive by Friday",
            "the group met by the lake",
            "order bypass",
            "ORDER BYTES",
            "order",
            "order 66 by",
        ] {
            assert!(!confirms(text), "{text:?}");
        }
    }

    #[test]
    fn normalisation() {
        assert_eq!(normal("%27%20OR%201%3D1"), "' OR 1=1");
        assert_eq!(normal("%2527"), "'");
        assert_eq!(normal("&#39; or &quot;a&quot;"), "' or \"a\"");
        assert_eq!(normal("uni/**/on sel/*x*/ect"), "union select");
        assert_eq!(normal("1/**/or/**/1"), "1 or 1");
        assert_eq!(normal("/*!50000union*/ /*!select*/"), " union   select ");
        assert_eq!(normal("1\t\x0bor\u{a0}1"), "1  or 1");
        assert_eq!(
            normal("\u{2019} or \u{2018}a\u{2019}=\u{2019}a"),
            "' or 'a'='a"
        );
        assert_eq!(normal("1+or+1=1"), "1 or 1=1");
        assert_eq!(normal("'a'+'b'"), "'a'+'b'");
        assert_eq!(normal("%u0027"), "'");
        let n = normalise(b"a%27b");
        assert_eq!(n.origin, vec![0, 1, 4, 5]);
        // Comments that do not join a keyword separate tokens; `\n` in a code string is a space.
        assert_eq!(normal("and/**/char_length"), "and char_length");
        assert_eq!(normal("ORD/*!*/ER BY"), "ORDER BY");
        assert_eq!(normal("1\\nunion"), "1 union");
        assert_eq!(normal("1%a0or"), "1 or");
    }

    fn hits(text: &str) -> bool {
        !scan(text.as_bytes()).is_empty()
    }

    #[test]
    fn techniques() {
        for payload in [
            "1 and ascii(substring(version(),1,1))>52",
            "1 or 1=(select 1 from dual)",
            "1 AND (SELECT TOP 1 name FROM sysobjects)>0",
            "1)) or ((1=1",
            "1 or not false--",
            "' or 'a'='a",
            "admin'<<'1",
            "x' like binary 'x",
            "1 and 5421=dbms_pipe.receive_message(chr(71),5)",
            "1 and (select 1 from(select count(*),concat(version(),floor(rand(0)*2))x from information_schema.tables group by x)a)",
            "1 /*!50000union*/ /*!select*/ 1,2",
            "1 uni/**/on sel/**/ect null",
            "1UNIunionON SELSELECTECT 1",
            "-1%0aunion%0aselect%0a1",
            "1' order by 3-- -",
            "1; exec master..xp_cmdshell 'dir'",
            "'; use master;--",
            "1' having 1=1--",
            "%27%20or%201%3d1--",
            "1 and @@version like '5%'",
            "1 or current_user='sa'",
            // Blind inference without quotes, over functions of the database.
            "5 or length(database())=8",
            "1 OR SUBSTRING(@@version,1,1)=5",
            // Subqueries compared to constants, with TOP, casts and concatenation.
            "3 or 1=(select top 1 name from sys.tables)",
            "1 and 1=convert(int,(select top 1 table_name from information_schema.tables))",
            "1 div (select ord(left(user(),1)))",
            // Tautologies from functions and negation, closing parentheses first.
            "2 or !0",
            "1 or isnull(1/0)",
            "PI() AND COS(PI())=-1",
            // Error-based double queries.
            "x' group by concat(version(),floor(rand(0)*2)) having min(0)#",
            "1 having min(0)",
            // Unusual operators after a quote, typographic quotes.
            "x'/'1",
            "\u{2019} or \u{2019}1\u{2019}=\u{2019}1",
            // Comments splitting keywords, glued and misspelled UNION, separators.
            "1 uni/**/on all sel/**/ect 1,2",
            "2 AND/**/CHAR_LENGTH(USER())=15",
            "1union select 1",
            "1 UNIunionON SELselectECT 1",
            "x'uniUNIONon ALL SEselectLECT NULL,NULL",
            "1\tor\t1=1",
            "1::REAL union select * from foo",
            // Stacked statements, probing, file access.
            "1'; use master--",
            "t'exec master..xp_cmdshell 'dir'--",
            "1' group by 1,2,3#",
            "5 into outfile '/tmp/x'",
            "10');copy (select * from admin) to '/tmp/admin.csv'",
            // Templates of less common databases.
            "1 and 123=(select count(*) from rdb$database)",
            "1 and (select 1 from sysibm.sysdummy1)=1",
            // Encoded forms and a payload that runs into a prompt's prose.
            "&#39; or 1=1--",
            "%2527%2520or%25201%253d1--",
            "Check availability for room sysadmin'--; next week",
            "The filter value should be x\u{2019}) or 6053 in (6053,6079) - apply it to the report.",
        ] {
            assert!(hits(payload), "{payload:?}");
        }
    }

    #[test]
    fn prose_stays_quiet() {
        for text in [
            "He said \"yes\" or \"no\" and left.",
            "\"Come here,\" she said, \"or I will go.\"",
            "The students' and teachers' rooms are upstairs.",
            "In Boolean algebra x or 1 = 1 holds for every x.",
            "1 or 1 = 1 is always true in that logic",
            "The union of two sets contains every element.",
            "What does ORDER BY 2 do in SQL?",
            "SELECT a FROM t WHERE id = 5 ORDER BY 2",
            "SELECT a FROM t WHERE form = 'enter' UNION SELECT b FROM u",
            "Use '-' as the separator",
            "I don't know, and you don't either.",
            "SET @x = 1; EXEC dbo.refresh_totals @x;",
            "Rate it 1 or 2 out of 5.",
            "Use 'AND' and 'OR' in your search query for better results.",
            "In C, `a == 1 || b == 2` is evaluated left to right.",
            "Our motto: \"work hard\" and \"be kind\" -- always.",
            "\"In the face of entropy, keep writing good code.\"  -- Karl",
            "query += \" AND country = $1\"",
            "if (argc == 1 || strcmp(argv[1], \"Y\") == 0) { run(); }",
            "True and parse('out') is False",
            "The identity laws are p or 0 = p and p and 1 = p.",
            "SELECT a\nFROM t\nGROUP BY 1\nHAVING COUNT(*) > 5",
            "DECLARE @n INT = 0;\nSET NOCOUNT ON;\nSELECT @Id OR ParentId = @Id",
            "What's the balance of my account? I'd like 2 or 3 statements.",
            "Set my username to something nice; update my address too.",
        ] {
            assert!(!hits(text), "{text:?}");
        }
    }

    #[test]
    fn a_word_is_lowered_only_when_it_fits() {
        assert_eq!(lowered::<9>(b"UNION"), Some((*b"union\0\0\0\0", 5)));
        assert_eq!(lowered::<9>(b"PROCEDURE"), Some((*b"procedure", 9)));
        assert_eq!(lowered::<9>(b"Procedures"), None);
        assert_eq!(lowered::<9>(b""), Some(([0; 9], 0)));
        // The confirmations look words up case-insensitively, whatever the case.
        for quoted in ["x' LiKe 'a", "x' Like 'a", "x' like 'a"] {
            assert!(operator_follows_quote(quoted.as_bytes(), 2), "{quoted}");
        }
        assert!(!operator_follows_quote(b"x' likes 'a", 2));
        assert!(!operator_follows_quote(b"x' intersection", 2));
    }
}
